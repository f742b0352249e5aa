/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared harness of bench_check: options, the generated data (senders,
 * recipients, opt-out pairs) and the 95/5 query pool, the store built with
 * sg_record, the timing rounds (one method alone, several interleaved, every
 * call timed) and the text and JSON report. Each measured method lives in
 * its own file (method_*.c, batch.c, classify_mix.c, breakdown.c); main and
 * the order of the run are in bench_check.c.
 */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "bench_common.h"
#include "stopgate.h"

#ifdef BENCH_HAVE_SQLITE
#include <sqlite3.h>
#define BENCH_SQLITE 1
#else
#define BENCH_SQLITE 0
#endif

/* ---- options (bench_check.c parses them; defaults in harness.c) ---- */

typedef struct bench_opts {
	uint64_t pairs;
	size_t record_batch; /* events per sg_record call while building */
	unsigned senders;
	unsigned rounds;
	size_t round_q;
	const char *dir;  /* work directory (created); removed unless --keep */
	bool keep;
	const char *json;
	const char *wrk_dir;
	const char *corpus;
	const char *keywords;
	bool quick;
	bool reuse;          /* keep a store built earlier with the same sizes and seed */
	const char *profile; /* run one operation in a loop (for perf / callgrind) */
	double seconds;
	uint64_t seed;
} bench_opts;

extern bench_opts opt;
extern bench_json J;

void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the data ---- */

typedef struct key16 {
	char s[16];
} key16;

/* One query: raw inputs as a client would pass them (E.164), laid out
 * contiguously so the harness itself costs a sequential read. */
typedef struct query {
	char from[16];
	char to[15];
	uint8_t deny; /* expected: opted out (1) or no record (0) */
} query;
_Static_assert(sizeof(query) == 32, "two queries per cache line");

extern key16 *senders;   /* opt.senders */
extern key16 *rcpts;     /* recipients with a record */
extern uint64_t nrcpts;
extern uint32_t *pair_r; /* pair i: rcpts[pair_r[i]] opted out of senders[pair_s[i]] */
extern uint16_t *pair_s;
extern bench_hash known; /* recipient key -> index: the in-memory floor */

extern query *pool; /* the 95/5 query pool */
extern size_t pool_n;

unsigned pick_sender(bench_rng *r);
/* A number with no record (not a recorded recipient). */
void fresh_number(bench_rng *r, char out[16]);
void generate(void);
/* A sub-pool of the queries satisfying pred (deny flag), cycled to n. */
query *subpool(int deny, size_t n);
/* Expected hits in q[0 .. n). */
size_t truth(const query *q, size_t n);

/* ---- the store ---- */

extern char store_dir[4096], raw_dir[4096], sqlite_path[4096];
extern double build_secs;

sg_engine *open_engine(bool rdonly);
double dir_mb(const char *dir);
/* Record every pair, in random order, in durable sg_record batches. */
void build_store(void);

/* ---- timing ---- */

typedef size_t (*run_fn)(void *ctx, const query *q, size_t n);
typedef size_t (*timed_fn)(void *ctx, const query *q, size_t n, uint64_t *ticks);

/* Loops with the operation inlined (op is a static inline function of the
 * same file): one plain, one timing every call. Each operation returns 1
 * for "denied / found", so every loop's sum is checked against the pool's
 * truth (and cannot be optimised away). */
#define RUNNERS(name, op)                                                                     \
	size_t name##_run(void *ctx, const query *q, size_t n)                                \
	{                                                                                     \
		size_t hits = 0;                                                              \
		for (size_t i = 0; i < n; i++)                                                \
			hits += (size_t)op(ctx, &q[i]);                                       \
		return hits;                                                                  \
	}                                                                                     \
	size_t name##_timed(void *ctx, const query *q, size_t n, uint64_t *ticks)             \
	{                                                                                     \
		size_t hits = 0;                                                              \
		for (size_t i = 0; i < n; i++) {                                              \
			uint64_t t0 = bench_ticks();                                          \
			hits += (size_t)op(ctx, &q[i]);                                       \
			ticks[i] = bench_ticks() - t0;                                        \
		}                                                                             \
		return hits;                                                                  \
	}
#define RUNNERS_DECL(name)                                                                    \
	size_t name##_run(void *ctx, const query *q, size_t n);                               \
	size_t name##_timed(void *ctx, const query *q, size_t n, uint64_t *ticks);

typedef struct meas {
	double med, p99, best;      /* ns per op over rounds */
	double per_s;               /* ops per second (all threads) */
	double call_p50, call_p99, call_p999; /* single-call latency, ns */
	double ops;
	int ok;
} meas;

/* Run rounds on nthreads threads (each with its own ctx) and summarise. */
meas measure(run_fn run, void **ctxs, unsigned nthreads, const query *q, size_t qn, size_t per_round,
	     unsigned rounds);
/* One slice with every call timed: the single-call latency distribution. */
void measure_calls(meas *m, timed_fn timed, void *ctx, const query *q, size_t n);

/* Several methods timed round by round in turn (the starting method
 * rotating), so that on a shared, noisy machine every method sees the same
 * load and their ratios stay meaningful even when the absolute figures
 * move. Each method reads its own slice of the same pool per round. */
typedef struct method {
	const char *key, *label;
	run_fn run;
	timed_fn timed;
	void *ctx;
	size_t per_round;
	meas m;
} method;

void interleave(method *ms, size_t nm, unsigned rounds);
/* Median of rounds over q (for parts that do not answer the truth). */
double quick_med(run_fn run, void *ctx, const query *q, size_t qn, unsigned rounds);
/* One line of text and the KEY.* JSON figures. */
void report(const char *key, const char *label, const meas *m);
/* The 1-minute load average: the machine is shared, so every figure
 * comes with it. */
double loadavg(void);

/* ---- the measured methods (one file each) ---- */

/* method_stopgate.c: sg_check in process */
typedef struct check_ctx {
	sg_engine *e;
} check_ctx;
RUNNERS_DECL(check)
/* sg_check from a forked read-only second process */
meas ro_process(void);

/* method_lmdb.c: raw LMDB mdb_get on a plain env with the same records */
typedef struct raw_ctx {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn; /* one per thread: renewed and reset per lookup */
} raw_ctx;
void lmdb_check(int rc, const char *what);
void build_raw_env(void);
void raw_open(raw_ctx *c);
void raw_close(raw_ctx *c);
RUNNERS_DECL(raw)

/* method_hash.c: the in-memory hash table, 4 KiB pages and huge pages */
extern bench_hash known_thp;
extern bool thp_ok;
void make_thp_copy(void);
RUNNERS_DECL(hash)

/* method_sqlite.c: SQLite WITHOUT ROWID, WAL, mmap (when built with it) */
#ifdef BENCH_HAVE_SQLITE
typedef struct sql_ctx {
	sqlite3 *db;
	sqlite3_stmt *get;
} sql_ctx;
void build_sqlite(void);
void sql_open(sql_ctx *c);
void sql_close(sql_ctx *c);
RUNNERS_DECL(sql)
#endif

/* batch.c: sg_check_batch, one sender, 10,000 recipients per call */
void bench_batch(sg_engine *e, double single_ns);

/* classify_mix.c: sg_classify on ~90 % ordinary conversation */
void bench_classify_mix(sg_engine *e);

/* start.c: opening the store, with and without a saved filter; returns
 * the engine reopened */
sg_engine *bench_start(sg_engine *e);

/* mixes.c: sg_check / raw mdb_get per query mix, in thread CPU time */
void bench_mixes(sg_engine *e);
query *other_sender_pool(size_t n);

/* breakdown.c: where the check's time goes, its parts timed alone */
void breakdown(sg_engine *e);
/* the parts, also run by --profile */
RUNNERS_DECL(norm_from)
RUNNERS_DECL(norm_both)
RUNNERS_DECL(filter)
void breakdown_filter_open(void);
