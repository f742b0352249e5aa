/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The negative-lookup filter: a blocked Bloom filter over every recipient
 * key that has a record, in a file (DIR/filter.bits) mapped shared by the
 * writer and every reader process. A clear probe proves the recipient has
 * no record, so the check answers without opening a read transaction.
 *
 * Coherence (no false negatives, ever):
 *  - Bits are only ever set. The writer sets a recipient's bits and
 *    msync()s them BEFORE the LMDB commit that creates the record, so a
 *    check that starts after the commit sees them, in any process, and a
 *    crash or power loss can only leave extra bits (false positives).
 *  - When the filter fills up, the writer builds a larger file from the
 *    recipients DB, renames it over the old one, and only then sets the
 *    old file's `retired` flag; later commits set bits in the new file only.
 *    Readers test `retired` before every probe and remap when it is set.
 *  - A writer rebuilds the filter at open, so a file left by an older
 *    version or damaged on disk never hides a record.
 *  - Readers that find no valid file fall back to LMDB lookups.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <lmdb.h>
#include <pthread.h>

#define SG__FILTER_MAGIC 0x53474246u /* "SGBF" */

typedef struct sg__filter_hdr {
	uint32_t magic;
	uint32_t version;
	uint64_t nblocks;         /* 64-byte blocks, a power of two */
	uint64_t capacity;        /* keys before the writer grows it */
	_Atomic uint64_t count;   /* keys added (upper bound: re-adds count) */
	_Atomic uint32_t retired; /* set once a newer file replaced this one */
	uint32_t pad[7];
} sg__filter_hdr;

typedef struct sg__filter_map {
	sg__filter_hdr *hdr;
	uint64_t *blocks;  /* nblocks * 8 words */
	size_t len;
	int fd;
} sg__filter_map;

typedef struct sg__filter {
	char path[4096];
	bool writer;
	_Atomic(sg__filter_map *) map; /* NULL: no usable filter, use LMDB */
	pthread_mutex_t remap_mutex;
	/* old maps are kept until close: a reader may still be probing one */
	sg__filter_map *retired[64];
	unsigned nretired;
} sg__filter;

uint64_t sg__filter_hash(const char *key, size_t len);

/* Reader/writer open. A writer (re)builds the file from the recipients DB
 * with txn; a reader maps what is there (or nothing). */
int sg__filter_open_writer(sg__filter *f, const char *dir, MDB_env *env, MDB_dbi recipients,
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
int sg__filter_add(sg__filter *f, const uint64_t *hashes, size_t n, MDB_env *env, MDB_dbi recipients,
		   MDB_txn *pending);
