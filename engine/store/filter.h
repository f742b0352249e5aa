/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The negative-lookup filter: a blocked Bloom filter over every recipient
 * key that has a record, in a file (DIR/filter.bits) mapped shared by the
 * writer and every reader process. A clear probe proves the recipient has
 * no record, so the check answers without opening a read transaction.
 *
 * Coherence (no false negatives, ever):
 *  - Bits are only ever set. The writer sets a new recipient's bits in the
 *    shared mapping BEFORE the LMDB commit that creates the record, so a
 *    check that starts after the commit sees them, in any process.
 *  - The bits are not synced to disk per commit: a writer rebuilds the
 *    filter from the recipients DB when it opens, stamps it with a random
 *    writer id, and writes that id into DIR/writer.lock (whose flock it
 *    holds). A reader uses the filter only while a live writer holds the
 *    lock and the ids match; otherwise it uses LMDB and looks again every
 *    few thousand checks. A power loss, the one event that can lose bits
 *    from the page cache, also ends every reader; after it no filter is
 *    trusted until a writer has rebuilt one. A crashed writer's bits stay
 *    in the page cache, complete.
 *  - Before every probe a reader tests its file's `retired` flag and
 *    compares the file's writer id with the id in writer.lock (mapped, one
 *    load); every 1024 probes of a thread it also checks that the files at
 *    both paths are the inodes it maps. Any mismatch: drop the map, use LMDB.
 *    A new writer writes its id before it records anything, so a file of a
 *    dead writer is never used beside a live one's commits.
 *  - When the filter fills up (and at every writer open), the writer builds
 *    a new file from the recipients DB (filter.bits.new, synced), then sets
 *    the old file's `retired` flag (synced), and only then renames the new
 *    file into place; later commits set bits in the new file only. A writer
 *    killed at any step leaves readers on a complete file or on LMDB.
 *  - Readers that find no usable file fall back to LMDB lookups.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#define SG__FILTER_MAGIC 0x53474246u /* "SGBF" */

typedef struct sg__filter_hdr {
	uint32_t magic;
	uint32_t version;
	uint64_t nblocks;         /* 64-byte blocks, a power of two */
	uint64_t capacity;        /* keys before the writer grows it */
	_Atomic uint64_t count;   /* keys added (upper bound: re-adds count) */
	_Atomic uint32_t retired; /* set once a newer file replaced this one */
	uint32_t pad0;
	uint64_t writer_id;       /* the writer that built it (see writer.lock) */
	uint32_t pad[4];
} sg__filter_hdr;

typedef struct sg__filter_map {
	sg__filter_hdr *hdr;
	uint64_t *blocks;  /* nblocks * 8 words */
	size_t len;
	int fd;
	/* readers: the writer id at the start of DIR/writer.lock, mapped */
	const _Atomic uint64_t *lock_id;
	dev_t lock_dev;
	ino_t lock_ino;
	_Atomic int stale; /* a reader found the files replaced */
} sg__filter_map;

typedef struct sg__filter {
	char path[4096];
	char lock_path[4096];
	bool writer;
	uint64_t writer_id;            /* writer: its id; reader: unused */
	_Atomic uint32_t probe;        /* reader without a filter: checks since the last look */
	_Atomic(sg__filter_map *) map; /* NULL: no usable filter, use LMDB */
	pthread_mutex_t remap_mutex;
	/* old maps are kept until close: a reader may still be probing one */
	sg__filter_map *retired[64];
	unsigned nretired;
} sg__filter;

uint64_t sg__filter_hash(const char *key, size_t len);

/* LMDB's handles, by their struct tags (MDB_env, MDB_txn, an MDB_dbi is an
 * unsigned int): only engine/store/ includes <lmdb.h>. */
struct MDB_env;
struct MDB_txn;

/* Reader/writer open. A writer (re)builds the file from the recipients DB
 * with txn; a reader maps what is there (or nothing). */
int sg__filter_open_writer(sg__filter *f, const char *dir, struct MDB_env *env, unsigned int recipients,
			   size_t min_capacity);
void sg__filter_open_reader(sg__filter *f, const char *dir);
void sg__filter_close(sg__filter *f);

/* Hint that hash will be probed soon (batch checks overlap cache misses). */
void sg__filter_prefetch(sg__filter *f, uint64_t hash);

/* true: the key may have a record; false: it certainly has none. */
bool sg__filter_maybe(sg__filter *f, uint64_t hash);

/* Writer: add keys and make them durable (msync) — call before the commit
 * that creates their records. Grows the filter when it is over capacity
 * (needs the env to read every recipient). */
int sg__filter_add(sg__filter *f, const uint64_t *hashes, size_t n, struct MDB_env *env,
		   unsigned int recipients, struct MDB_txn *pending);
