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
 *  - Start time: a writer's clean close syncs the bits and then stamps the
 *    header with the store's last txn id, event seq, head hash prefix,
 *    recipient count and a checksum of the blocks (synced). The next writer
 *    open takes the file over only when all of them agree with the store
 *    (no commit can have been missed, no bit lost), clearing the stamp and
 *    writing its own id; otherwise it rebuilds: at once for a small store,
 *    in the background for a large one (filter.c), with LMDB answering
 *    every check until the new file is in place.
 *  - The header also carries the registry version (reg_version, reg_busy)
 *    that every process's cache of resolved sender scopes is checked
 *    against: every write txn (sg__store_write) counts as busy from
 *    before the txn until after its commit or abort, then moves the
 *    version on. A reader reads busy,
 *    then the version, then begins the txn it resolves in; an entry is
 *    used only while busy is 0 and the version and writer id are the
 *    ones it was filed under. A writer killed mid-write leaves busy set:
 *    nothing is cached until a new writer (a new id) starts.
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
	_Atomic uint64_t count;   /* keys added (a key whose bits were all set already is not counted) */
	_Atomic uint32_t retired; /* set once a newer file replaced this one */
	uint32_t pad0;
	_Atomic uint64_t writer_id; /* the writer that built (or took over) it (see writer.lock) */
	/* The registry's version, for every process's cache of resolved
	 * sender scopes (registry.c): reg_busy counts registry writes in
	 * progress, reg_version moves on after each one's commit. */
	_Atomic uint64_t reg_version;
	_Atomic uint64_t reg_busy;
	/* The saved state (a writer's clean close): the bits are complete,
	 * and synced, for the store at this LMDB txn id, event seq, head
	 * hash prefix and recipient count; sum is the checksum of the
	 * blocks. saved_txnid 0: nothing saved (rebuild at the next open). */
	uint64_t saved_txnid;
	uint64_t saved_seq;
	uint64_t saved_head;
	uint64_t saved_entries;
	uint64_t saved_sum;
	uint64_t pad[3];
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
	/* writer: a rebuild running in the background (see filter.c) */
	sg__filter_map *building;      /* bits set by commits meanwhile; under remap_mutex */
	pthread_t builder;
	bool builder_running;
	_Atomic int builder_stop;
	int builder_rc;                /* the background build's result */
	struct MDB_env *env;
	unsigned int recipients, events, meta;
	uint64_t build_capacity;
	sg__filter_map *build_old;     /* the file it replaces, retired when done */
	bool reused;                   /* this open took over the saved file */
	pthread_rwlock_t *map_lock;    /* the store's (held for reading around each read txn) */
	uint64_t reg_version, reg_busy; /* writer: the registry version, mirrored into the map */
} sg__filter;

/* The store's state a saved filter is stamped with (store.c reads it). */
typedef struct sg__filter_stamp {
	uint64_t txnid, seq, head, entries;
} sg__filter_stamp;

/* Stores with at most this many recipients rebuild a disagreeing filter
 * at open, before it returns; larger ones in the background. A variable
 * so that tests can make the background path run on a small store. */
extern uint64_t sg__filter_sync_max;
/* Keys per read txn of a background build (a variable for the same reason). */
extern uint64_t sg__filter_build_chunk;
/* Tests only: a pause between two chunks (commits run between them). */
extern unsigned sg__filter_build_pause_us;

uint64_t sg__filter_hash(const char *key, size_t len);

/* A pair key: a consent entry of recipient rcpt at scope kind with id
 * (global: any id), or SG__PAIR_FLAG for the not-SMS-capable flag. A
 * clear probe of every pair key a sender's scopes can meet proves that
 * the recipient's record holds nothing that decides for this sender. */
#define SG__PAIR_FLAG 0xffu
/* In the recipient's block (the high 32 bits are its hash's): probing a
 * recipient's pair keys after the recipient costs no other cache miss.
 * Never 0; 0 only from an id or key too long to be stored (probe: maybe). */
uint64_t sg__filter_pair_hash(unsigned kind, const char *id, const char *rcpt);
/* The same with the recipient key's length and sg__filter_hash given. */
uint64_t sg__filter_pair_hash_of(unsigned kind, const char *id, const char *rcpt, size_t rcpt_len,
				 uint64_t rcpt_hash);

/* LMDB's handles, by their struct tags (MDB_env, MDB_txn, an MDB_dbi is an
 * unsigned int): only engine/store/ includes <lmdb.h>. */
struct MDB_env;
struct MDB_txn;

/* Reader/writer open. A writer (re)builds the file from the recipients DB
 * with txn; a reader maps what is there (or nothing). */
int sg__filter_open_writer(sg__filter *f, const char *dir, struct MDB_env *env, unsigned int recipients,
			   unsigned int events, unsigned int meta, size_t min_capacity, pthread_rwlock_t *map_lock,
			   const sg__filter_stamp *now);
void sg__filter_open_reader(sg__filter *f, const char *dir);
void sg__filter_close(sg__filter *f);

/* Writer, before closing: sync the bits and stamp the file with the
 * store's state, so the next writer open can take it over instead of
 * rebuilding it. */
int sg__filter_save(sg__filter *f, const sg__filter_stamp *now);

/* Writer: wait for a background rebuild (tests, sg_engine_close). */
int sg__filter_wait(sg__filter *f);

/* The registry version readers compare their cached sender scopes with:
 * false when no usable filter is mapped or a registry write is in
 * progress (resolve from LMDB and cache nothing). Read it before the read
 * txn whose answer is cached. */
bool sg__filter_reg_version(sg__filter *f, uint64_t *writer_id, uint64_t *version);
/* Writer: around every write txn (sg__store_write does it: a registry
 * change may ride in any batch): begin before the txn, end after its
 * commit or abort. */
void sg__filter_reg_begin(sg__filter *f);
void sg__filter_reg_end(sg__filter *f);

/* Hint that hash will be probed soon (batch checks overlap cache misses). */
void sg__filter_prefetch(sg__filter *f, uint64_t hash);

/* true: the key may have a record; false: it certainly has none. */
bool sg__filter_maybe(sg__filter *f, uint64_t hash);

/* Writer: add keys — call in the txn, before the commit that creates their
 * records. hashes are the recipient keys the batch created; the pair keys
 * of every record the batch wrote are read back from pending (the events
 * after the committed seq, their recipients' records). Grows the filter
 * when it is over capacity (needs the env to read every recipient). */
int sg__filter_add(sg__filter *f, const uint64_t *hashes, size_t n, struct MDB_env *env,
		   unsigned int recipients, struct MDB_txn *pending);
