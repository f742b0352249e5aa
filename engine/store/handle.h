/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consent store as the rest of the library sees it: the handle, opening
 * and closing, read snapshots, and the reads the check makes. No <lmdb.h>
 * here (only engine/store/ includes it, through store/store.h); a read
 * snapshot is an opaque sg__txn.
 */
#pragma once
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"
#include "store/filter.h"

/* One read (or write) transaction: LMDB's MDB_txn, opaque outside the store. */
typedef struct MDB_txn sg__txn;

typedef struct sg__store {
	struct MDB_env *env;
	unsigned int meta, events, bodies, byrcpt, recipients, senders, campaigns, dedup;
	unsigned int reviews;       /* the review queue's index, store/review.h */
	bool reviews_absent;        /* a reader met a store no writer has indexed yet */
	unsigned int sends, sendrcpt, sendseals; /* the send ledger (store/sends.h) */
	bool no_sends;              /* read-only open of a store without the ledger yet */
	bool rdonly;
	size_t map_size;
	pthread_rwlock_t map_lock;  /* RW engines only, see store/store.h */
	pthread_key_t txn_key;      /* this thread's cached read txn */
	bool txn_key_made;
	pthread_mutex_t txns_mutex; /* guards the list of every cached read txn */
	struct sg__rtxn *txns;
	int lock_fd;                /* exclusive writer lock, -1 when read-only */
	pthread_key_t scache_key;   /* this thread's cache of resolved sender scopes (registry.c) */
	bool scache_key_made;
	struct sg__scache *scaches; /* every thread's, under txns_mutex */
	sg__filter filter;          /* negative-lookup filter over recipient keys */
	bool filter_open;
	bool fresh;                 /* this open created the store */
} sg__store;

/* Internal only: the map is full (never escapes sg__store_write, which
 * grows the map and retries). */
#define SG__EMAPFULL (-EFBIG)

/* Translate an LMDB (or errno) code; nothing else compares against MDB_*. */
int sg__store_err(int rc);

/* Open the store in dir. Without create, a directory with no store is
 * SG_ENOSTORE; with it (read-write only) a new store is made, but never over
 * the remains of one (SG_ETRUNCATED). data.mdb is checked against its LMDB
 * meta pages before it is mapped (SG_ETRUNCATED when it is shorter). */
int sg__store_open(sg__store *st, const char *dir, bool rdonly, bool defer_sync, bool create,
		   size_t initial_map, size_t filter_capacity);

/* Force data and meta pages to disk (mdb_env_sync). */
int sg__store_sync(sg__store *st);
void sg__store_close(sg__store *st);

/* A read snapshot for this thread: sg__rd_begin() renews the cached txn
 * (taking map_lock for reading in RW engines); sg__rd_end() resets it. */
int sg__rd_begin(sg__store *st, sg__txn **ret);
void sg__rd_end(sg__store *st, sg__txn *txn);
/* The check's variant: the txn stays live after sg__rd_end_keep() and the
 * next sg__rd_begin_keep() of the thread reuses it while no commit has
 * happened since (no renew, reset or named-database lookup); any commit
 * makes the next call take a new snapshot, and the writer resets kept
 * txns after each commit (store.c). Read-only engines renew every time. */
int sg__rd_begin_keep(sg__store *st, sg__txn **ret);
void sg__rd_end_keep(sg__store *st, sg__txn *txn);

/* mdb_reader_check(): free slots of dead reader processes. */
int sg__store_check_readers(sg__store *st, int *dead);

/* The recipient record of key (consent per scope, flags) decoded into out,
 * read in txn: SG_ENOTFOUND when there is none. No allocation. */
struct sg__rcpt;
int sg__rcpt_read(sg__store *st, sg__txn *txn, const char *key, struct sg__rcpt *out);
/* The same for the check (check_read.c): key of len bytes, the value's
 * cache lines requested before it is decoded. */
int sg__rcpt_read_check(sg__store *st, sg__txn *txn, const char *key, size_t len, struct sg__rcpt *out);
