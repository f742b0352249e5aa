/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check: the pre-send check, in process, side by side with its floors
 * and the usual alternative, on the same keys in the same run.
 *
 *  1. A store with N recorded opt-out pairs (many senders, opt-outs spread
 *     over recipients), recorded with sg_record in durable batches.
 *  2. A precomputed query pool, 95 % pairs with no record and 5 % opted-out
 *     pairs, in random order; every method reads the same pool.
 *  3. sg_check with 1 and 2 threads and from a read-only second process;
 *     raw LMDB mdb_get on a plain env holding the same recipient records
 *     (read txn renewed and reset per lookup, as the engine does); an
 *     in-memory open-addressing hash table; SQLite (WITHOUT ROWID, prepared
 *     statement, WAL) when built with it.
 *  4. sg_check_batch (one sender, 10,000 recipients per call), sg_classify
 *     on a realistic mix, and a breakdown of the check's parts.
 *
 * Every answer is verified against the generated truth before anything is
 * timed (an opted-out pair must deny); no timing is ever asserted. Figures
 * go to stderr as text and to --json FILE as one flat JSON object.
 */
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <sys/mman.h>

#include <lmdb.h>

#include "bench_common.h"
#include "stopgate.h"
#include "store/filter.h" /* the breakdown probes the filter directly */

#ifdef BENCH_HAVE_SQLITE
#include <sqlite3.h>
#define BENCH_SQLITE 1
#else
#define BENCH_SQLITE 0
#endif

/* ---- options ---- */

static struct {
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
} opt = {
	.pairs = 1000000,
	.record_batch = 10000,
	.senders = 1000,
	.rounds = 30,
	.round_q = 100000,
	.seed = 0x5709ea7e,
	.seconds = 5,
};

static bench_json J;

static void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

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

static key16 *senders;        /* opt.senders */
static key16 *rcpts;          /* recipients with a record */
static uint64_t nrcpts;
static uint32_t *pair_r;      /* pair i: rcpts[pair_r[i]] opted out of senders[pair_s[i]] */
static uint16_t *pair_s;
static bench_hash known;      /* recipient key -> index: the in-memory floor */

static query *pool;           /* the 95/5 query pool */
static size_t pool_n;

static void make_number(bench_rng *r, char out[16])
{
	unsigned npa, nxx;
	do
		npa = 200 + (unsigned)bench_below(r, 800);
	while (npa % 100 == 11);
	do
		nxx = 200 + (unsigned)bench_below(r, 800);
	while (nxx % 100 == 11);
	snprintf(out, 16, "+1%03u%03u%04u", npa, nxx, (unsigned)bench_below(r, 10000));
}

/* Bigger senders get more opt-outs: P(index < x) = sqrt(x / S). */
static unsigned pick_sender(bench_rng *r)
{
	double u = bench_unit(r);
	unsigned s = (unsigned)(u * u * opt.senders);
	return s < opt.senders ? s : opt.senders - 1;
}

/* How many senders one recipient opted out of. */
static unsigned pick_k(bench_rng *r)
{
	double u = bench_unit(r);
	if (u < 0.70)
		return 1;
	if (u < 0.90)
		return 2;
	if (u < 0.96)
		return 3;
	return 4 + (unsigned)bench_below(r, 5);
}

/* A number with no record (not a recorded recipient). */
static void fresh_number(bench_rng *r, char out[16])
{
	do
		make_number(r, out);
	while (bench_hash_get(&known, out));
}

static void generate(void)
{
	bench_rng r = {opt.seed};
	senders = bench_xcalloc(opt.senders, sizeof(*senders));
	bench_hash sset;
	bench_hash_init(&sset, opt.senders);
	for (unsigned i = 0; i < opt.senders; i++) {
		do
			make_number(&r, senders[i].s);
		while (!bench_hash_put(&sset, senders[i].s, i));
	}
	bench_hash_free(&sset);

	rcpts = bench_xcalloc(opt.pairs, sizeof(*rcpts));
	pair_r = bench_xcalloc(opt.pairs, sizeof(*pair_r));
	pair_s = bench_xcalloc(opt.pairs, sizeof(*pair_s));
	bench_hash_init(&known, opt.pairs);
	uint64_t np = 0;
	while (np < opt.pairs) {
		char num[16];
		do
			make_number(&r, num);
		while (!bench_hash_put(&known, num, (uint32_t)nrcpts));
		memcpy(rcpts[nrcpts].s, num, 16);
		unsigned k = pick_k(&r), chosen[8];
		if (k > opt.pairs - np)
			k = (unsigned)(opt.pairs - np);
		for (unsigned j = 0; j < k; j++) {
			unsigned s;
			bool dup;
			do {
				s = pick_sender(&r);
				dup = false;
				for (unsigned m = 0; m < j; m++)
					dup |= chosen[m] == s;
			} while (dup);
			chosen[j] = s;
			pair_r[np] = (uint32_t)nrcpts;
			pair_s[np] = (uint16_t)s;
			np++;
		}
		nrcpts++;
	}

	/* The query pool: 5 % recorded pairs, 95 % pairs with no record (a
	 * sender of the same skew, a recipient nobody recorded), shuffled. */
	pool_n = opt.round_q * (opt.quick ? 4 : 10);
	pool = bench_xcalloc(pool_n, sizeof(*pool));
	size_t ndeny = pool_n / 20;
	for (size_t i = 0; i < pool_n; i++) {
		query *q = &pool[i];
		if (i < ndeny) {
			uint64_t p = bench_below(&r, opt.pairs);
			memcpy(q->from, senders[pair_s[p]].s, 16);
			memcpy(q->to, rcpts[pair_r[p]].s, 15);
			q->deny = 1;
		} else {
			memcpy(q->from, senders[pick_sender(&r)].s, 16);
			char num[16];
			fresh_number(&r, num);
			memcpy(q->to, num, 15);
			q->deny = 0;
		}
	}
	for (size_t i = pool_n - 1; i > 0; i--) {
		size_t j = bench_below(&r, i + 1);
		query t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
}

/* ---- the store ---- */

static char store_dir[4096], raw_dir[4096], sqlite_path[4096];

static void engine_opts(sg_options *o, bool rdonly)
{
	sg_options_default(o);
	o->data_dir = store_dir;
	o->keywords_dir = opt.keywords;
	o->flags = rdonly ? SG_OPEN_RDONLY : SG_OPEN_CREATE;
	o->filter_capacity = opt.pairs * 2;
	o->initial_map_size = (size_t)opt.pairs * 1024 < ((size_t)1 << 26) ? 0 : (size_t)opt.pairs * 1024;
}

static sg_engine *open_engine(bool rdonly)
{
	sg_options o;
	engine_opts(&o, rdonly);
	sg_engine *e;
	int rc = sg_engine_open(&o, &e);
	if (rc)
		bench_die("sg_engine_open(%s, %s): %s", store_dir, rdonly ? "rdonly" : "rw", sg_strerror(rc));
	return e;
}

static double dir_mb(const char *dir)
{
	double total = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	char path[8192];
	while ((de = readdir(d))) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			total += (double)st.st_blocks * 512;
	}
	closedir(d);
	return total / (1024.0 * 1024.0);
}

/* Record every pair, in random order, in durable sg_record batches. */
static double build_secs;

static void build_store(void)
{
	const size_t BATCH = opt.record_batch;
	bench_rng r = {opt.seed ^ 0xb111d};
	uint32_t *order = bench_xcalloc(opt.pairs, sizeof(*order));
	for (uint64_t i = 0; i < opt.pairs; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = opt.pairs - 1; i > 0; i--) {
		uint64_t j = bench_below(&r, i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	sg_engine *e = open_engine(false);
	sg_event_in *ev = bench_xcalloc(BATCH, sizeof(*ev));
	sg_event_out *out = bench_xcalloc(BATCH, sizeof(*out));
	int64_t t0 = bench_now_ns(), last = t0;
	for (uint64_t done = 0; done < opt.pairs;) {
		size_t n = opt.pairs - done < BATCH ? (size_t)(opt.pairs - done) : BATCH;
		for (size_t i = 0; i < n; i++) {
			uint32_t p = order[done + i];
			ev[i] = (sg_event_in){
				.action = SG_ACTION_OPT_OUT,
				.source = SG_SOURCE_KEYWORD,
				.sender = senders[pair_s[p]].s,
				.recipient = rcpts[pair_r[p]].s,
				.scope = SG_SCOPE_DEFAULT,
				.provider = "bench",
				.rule = "en.stop",
				.body = "STOP",
				.body_len = 4,
			};
		}
		int rc = sg_record(e, ev, n, out);
		if (rc)
			bench_die("sg_record: %s", sg_strerror(rc));
		for (size_t i = 0; i < n; i++)
			if (out[i].status || !out[i].applied)
				bench_die("sg_record event %zu: status %s applied %d", i, sg_strerror(out[i].status),
					  out[i].applied);
		done += n;
		int64_t now = bench_now_ns();
		if (now - last > 5000000000ll) {
			note("  recorded %llu / %llu pairs (%.0f/s)\n", (unsigned long long)done,
			     (unsigned long long)opt.pairs, (double)done * 1e9 / (double)(now - t0));
			last = now;
		}
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	build_secs = secs;
	sg_stats st;
	if (sg_stats_get(e, &st) == 0) {
		bench_json_num(&J, "store.recipients", (double)st.recipients);
		bench_json_num(&J, "store.opted_out_pairs", (double)st.opted_out);
		bench_json_num(&J, "store.events", (double)st.events);
		if (st.recipients != nrcpts || st.opted_out != opt.pairs)
			bench_die("store holds %llu recipients / %llu pairs; expected %llu / %llu",
				  (unsigned long long)st.recipients, (unsigned long long)st.opted_out,
				  (unsigned long long)nrcpts, (unsigned long long)opt.pairs);
	}
	sg_engine_close(e);
	free(ev);
	free(out);
	free(order);
	bench_json_num(&J, "store.pairs", (double)opt.pairs);
	bench_json_num(&J, "store.senders", opt.senders);
	bench_json_num(&J, "store.build_s", secs);
	bench_json_num(&J, "store.record_batch", (double)BATCH);
	bench_json_num(&J, "store.build_pairs_per_s", (double)opt.pairs / secs);
	bench_json_num(&J, "store.disk_mb", dir_mb(store_dir));
	note("  store: %llu pairs over %llu recipients and %u senders, recorded in %.1f s (%.0f pairs/s), %.0f MiB\n",
	     (unsigned long long)opt.pairs, (unsigned long long)nrcpts, opt.senders, secs,
	     (double)opt.pairs / secs, dir_mb(store_dir));
}

/* ---- the raw LMDB floor: a plain env holding the same recipient records ---- */

static void lmdb_check(int rc, const char *what)
{
	if (rc)
		bench_die("%s: %s", what, mdb_strerror(rc));
}

static void build_raw_env(void)
{
	MDB_env *src, *dst;
	MDB_txn *stx, *dtx;
	MDB_dbi sdbi, ddbi;
	lmdb_check(mdb_env_create(&src), "mdb_env_create");
	lmdb_check(mdb_env_set_maxdbs(src, 16), "set_maxdbs");
	lmdb_check(mdb_env_set_mapsize(src, (size_t)1 << 40), "set_mapsize");
	lmdb_check(mdb_env_open(src, store_dir, MDB_RDONLY | MDB_NOTLS, 0600), "open store env");
	lmdb_check(mdb_txn_begin(src, NULL, MDB_RDONLY, &stx), "txn");
	lmdb_check(mdb_dbi_open(stx, "recipients", 0, &sdbi), "open recipients");

	mkdir(raw_dir, 0700);
	lmdb_check(mdb_env_create(&dst), "mdb_env_create");
	lmdb_check(mdb_env_set_mapsize(dst, (size_t)1 << 38), "set_mapsize");
	/* Built without fsync: it is a bench copy, read afterwards like any env. */
	lmdb_check(mdb_env_open(dst, raw_dir, MDB_NOSYNC, 0600), "open raw env");
	lmdb_check(mdb_txn_begin(dst, NULL, 0, &dtx), "txn");
	lmdb_check(mdb_dbi_open(dtx, NULL, 0, &ddbi), "dbi");
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;
	lmdb_check(mdb_cursor_open(stx, sdbi, &cur), "cursor");
	int rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		/* Appended in key order: fully packed pages, the tightest floor. */
		lmdb_check(mdb_put(dtx, ddbi, &k, &v, MDB_APPEND), "put");
		n++;
	}
	if (rc != MDB_NOTFOUND)
		lmdb_check(rc, "cursor walk");
	mdb_cursor_close(cur);
	lmdb_check(mdb_txn_commit(dtx), "commit");
	mdb_env_sync(dst, 1);
	mdb_txn_abort(stx);
	mdb_env_close(src);
	mdb_env_close(dst);
	if (n != nrcpts)
		bench_die("raw env holds %llu records, expected %llu", (unsigned long long)n,
			  (unsigned long long)nrcpts);
	bench_json_num(&J, "floor_lmdb.disk_mb", dir_mb(raw_dir));
}

typedef struct raw_ctx {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *txn; /* one per thread: renewed and reset per lookup */
} raw_ctx;

static void raw_open(raw_ctx *c)
{
	lmdb_check(mdb_env_create(&c->env), "mdb_env_create");
	lmdb_check(mdb_env_set_mapsize(c->env, (size_t)1 << 40), "set_mapsize");
	lmdb_check(mdb_env_open(c->env, raw_dir, MDB_RDONLY | MDB_NOTLS, 0600), "open raw env");
	lmdb_check(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->txn), "txn");
	lmdb_check(mdb_dbi_open(c->txn, NULL, 0, &c->dbi), "dbi");
	mdb_txn_reset(c->txn);
}

static void raw_close(raw_ctx *c)
{
	mdb_txn_abort(c->txn);
	mdb_env_close(c->env);
}

static inline int raw_lookup(raw_ctx *c, const char *key)
{
	if (mdb_txn_renew(c->txn))
		bench_die("mdb_txn_renew");
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key}, v;
	int rc = mdb_get(c->txn, c->dbi, &k, &v);
	mdb_txn_reset(c->txn);
	if (rc && rc != MDB_NOTFOUND)
		bench_die("mdb_get: %s", mdb_strerror(rc));
	return rc == 0;
}

/* ---- SQLite, the embedded store most people would reach for ---- */

#ifdef BENCH_HAVE_SQLITE
typedef struct sql_ctx {
	sqlite3 *db;
	sqlite3_stmt *get;
} sql_ctx;

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		bench_die("sqlite: %s: %s", sql, err ? err : "?");
}

static int cmp_pair(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	int c = strcmp(rcpts[pair_r[x]].s, rcpts[pair_r[y]].s);
	return c ? c : strcmp(senders[pair_s[x]].s, senders[pair_s[y]].s);
}

static void build_sqlite(void)
{
	sqlite3 *db;
	if (sqlite3_open(sqlite_path, &db) != SQLITE_OK)
		bench_die("sqlite3_open: %s", sqlite3_errmsg(db));
	sql_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144;");
	sql_exec(db, "CREATE TABLE optout (recipient TEXT NOT NULL, sender TEXT NOT NULL, since INTEGER NOT NULL,"
		     " PRIMARY KEY (recipient, sender)) WITHOUT ROWID");
	uint64_t *order = bench_xcalloc(opt.pairs, sizeof(*order));
	for (uint64_t i = 0; i < opt.pairs; i++)
		order[i] = i;
	qsort(order, opt.pairs, sizeof(*order), cmp_pair);
	sqlite3_stmt *ins;
	if (sqlite3_prepare_v2(db, "INSERT INTO optout VALUES (?1, ?2, ?3)", -1, &ins, NULL) != SQLITE_OK)
		bench_die("sqlite prepare: %s", sqlite3_errmsg(db));
	int64_t t0 = bench_now_ns();
	sql_exec(db, "BEGIN");
	for (uint64_t i = 0; i < opt.pairs; i++) {
		uint64_t p = order[i];
		sqlite3_bind_text(ins, 1, rcpts[pair_r[p]].s, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, senders[pair_s[p]].s, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, 1700000000000000ll + (int64_t)p);
		if (sqlite3_step(ins) != SQLITE_DONE)
			bench_die("sqlite insert: %s", sqlite3_errmsg(db));
		sqlite3_reset(ins);
	}
	sql_exec(db, "COMMIT");
	sqlite3_finalize(ins);
	sql_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	free(order);
	bench_json_num(&J, "sqlite.build_s", (double)(bench_now_ns() - t0) / 1e9);
	struct stat st;
	if (stat(sqlite_path, &st) == 0)
		bench_json_num(&J, "sqlite.disk_mb", (double)st.st_size / (1024.0 * 1024.0));
}

static void sql_open(sql_ctx *c)
{
	if (sqlite3_open_v2(sqlite_path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		bench_die("sqlite3_open: %s", sqlite3_errmsg(c->db));
	/* Its best ordinary setup: WAL (set at build), memory-mapped reads. */
	sql_exec(c->db, "PRAGMA mmap_size=2147418112");
	if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM optout WHERE recipient = ?1 AND sender = ?2", -1, &c->get,
			       NULL) != SQLITE_OK)
		bench_die("sqlite prepare: %s", sqlite3_errmsg(c->db));
}

static void sql_close(sql_ctx *c)
{
	sqlite3_finalize(c->get);
	sqlite3_close(c->db);
}

static inline int sql_lookup(sql_ctx *c, const char *from, const char *to)
{
	sqlite3_bind_text(c->get, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(c->get, 2, from, -1, SQLITE_STATIC);
	int rc = sqlite3_step(c->get);
	sqlite3_reset(c->get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		bench_die("sqlite step: %s", sqlite3_errmsg(c->db));
	return rc == SQLITE_ROW;
}
#endif

/* A copy of the hash floor in transparent huge pages (2 MiB): the same
 * probe without the TLB misses that 4 KiB pages cost on a random lookup
 * (dearer still under a hypervisor's nested paging). Shown beside the
 * 4 KiB table; the lower of the two is the floor the ratio uses. */
static bench_hash known_thp;
static bool thp_ok;

static void make_thp_copy(void)
{
	size_t bytes = (size_t)(known.mask + 1) * sizeof(bench_slot);
	size_t huge = (size_t)2 << 20, len = (bytes + huge - 1) / huge * huge;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	madvise(p, len, MADV_HUGEPAGE);
	memcpy(p, known.slots, bytes);
	known_thp = known;
	known_thp.slots = p;
	thp_ok = true;
	/* how much of it the kernel actually backed with huge pages */
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	double anon_huge_kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "AnonHugePages:", 14))
			anon_huge_kb = atof(line + 14);
	if (f)
		fclose(f);
	bench_json_num(&J, "floor_hash_thp.huge_share", anon_huge_kb * 1024.0 / (double)len);
}

/* ---- the measured operations ----
 * Each returns 1 for "denied / found", so every loop's sum is checked
 * against the pool's truth (and cannot be optimised away). */

typedef struct check_ctx {
	sg_engine *e;
} check_ctx;

static inline int op_check(void *vc, const query *q)
{
	check_ctx *c = vc;
	sg_verdict v;
	int rc = sg_check(c->e, q->from, q->to, SG_PURPOSE_MESSAGE, &v);
	if (rc)
		bench_die("sg_check: %s", sg_strerror(rc));
	return !v.allow;
}

static inline int op_raw(void *vc, const query *q)
{
	return raw_lookup(vc, q->to);
}

static inline int op_hash(void *vc, const query *q)
{
	return bench_hash_get(vc, q->to) != NULL;
}

#ifdef BENCH_HAVE_SQLITE
static inline int op_sql(void *vc, const query *q)
{
	return sql_lookup(vc, q->from, q->to);
}
#endif

/* Loops with the operation inlined: one plain, one timing every call. */
#define RUNNERS(name, op)                                                                     \
	__attribute__((unused)) static size_t name##_run(void *ctx, const query *q, size_t n)                       \
	{                                                                                     \
		size_t hits = 0;                                                              \
		for (size_t i = 0; i < n; i++)                                                \
			hits += (size_t)op(ctx, &q[i]);                                       \
		return hits;                                                                  \
	}                                                                                     \
	__attribute__((unused)) static size_t name##_timed(void *ctx, const query *q, size_t n, uint64_t *ticks)    \
	{                                                                                     \
		size_t hits = 0;                                                              \
		for (size_t i = 0; i < n; i++) {                                              \
			uint64_t t0 = bench_ticks();                                          \
			hits += (size_t)op(ctx, &q[i]);                                       \
			ticks[i] = bench_ticks() - t0;                                        \
		}                                                                             \
		return hits;                                                                  \
	}

RUNNERS(check, op_check)
RUNNERS(raw, op_raw)
RUNNERS(hash, op_hash)
#ifdef BENCH_HAVE_SQLITE
RUNNERS(sql, op_sql)
#endif

typedef size_t (*run_fn)(void *ctx, const query *q, size_t n);
typedef size_t (*timed_fn)(void *ctx, const query *q, size_t n, uint64_t *ticks);

/* Expected hits in pool[off .. off+n). */
static size_t truth(const query *q, size_t n)
{
	size_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += q[i].deny;
	return t;
}

typedef struct meas {
	double med, p99, best;      /* ns per op over rounds */
	double per_s;               /* ops per second (all threads) */
	double call_p50, call_p99, call_p999; /* single-call latency, ns */
	double ops;
	int ok;
} meas;

typedef struct round_args {
	run_fn run;
	void *ctx;
	const query *q;   /* the pool used */
	size_t qn;
	size_t start;     /* first slice */
	unsigned rounds;
	size_t per_round;
	double *ns;       /* per round */
	pthread_barrier_t *bar;
	int64_t t_begin, t_end;
	size_t bad;
} round_args;

static void *round_thread(void *arg)
{
	round_args *a = arg;
	size_t slices = a->qn / a->per_round;
	/* warm-up: one slice, not counted */
	a->run(a->ctx, a->q + (a->start % slices) * a->per_round, a->per_round);
	if (a->bar)
		pthread_barrier_wait(a->bar);
	a->t_begin = bench_now_ns();
	for (unsigned r = 0; r < a->rounds; r++) {
		const query *q = a->q + ((a->start + 1 + r) % slices) * a->per_round;
		int64_t t0 = bench_now_ns();
		size_t hits = a->run(a->ctx, q, a->per_round);
		int64_t t1 = bench_now_ns();
		a->ns[r] = (double)(t1 - t0) / (double)a->per_round;
		if (hits != truth(q, a->per_round))
			a->bad++;
	}
	a->t_end = bench_now_ns();
	return NULL;
}

/* Run rounds on nthreads threads (each with its own ctx) and summarise. */
static meas measure(run_fn run, void **ctxs, unsigned nthreads, const query *q, size_t qn, size_t per_round,
		    unsigned rounds)
{
	round_args a[8];
	pthread_t th[8];
	pthread_barrier_t bar;
	size_t slices = qn / per_round;
	double *all = bench_xcalloc((size_t)rounds * nthreads, sizeof(double));
	pthread_barrier_init(&bar, NULL, nthreads);
	for (unsigned t = 0; t < nthreads; t++) {
		a[t] = (round_args){.run = run, .ctx = ctxs[t], .q = q, .qn = qn, .start = t * (slices / nthreads),
				    .rounds = rounds, .per_round = per_round, .ns = all + (size_t)t * rounds,
				    .bar = nthreads > 1 ? &bar : NULL};
		if (nthreads == 1)
			round_thread(&a[0]);
		else if (pthread_create(&th[t], NULL, round_thread, &a[t]))
			bench_die("pthread_create");
	}
	if (nthreads > 1)
		for (unsigned t = 0; t < nthreads; t++)
			pthread_join(th[t], NULL);
	pthread_barrier_destroy(&bar);
	meas m = {.ok = 1};
	int64_t begin = a[0].t_begin, end = a[0].t_end;
	for (unsigned t = 0; t < nthreads; t++) {
		if (a[t].bad)
			bench_die("a measured loop answered differently from the truth (%zu rounds)", a[t].bad);
		begin = a[t].t_begin < begin ? a[t].t_begin : begin;
		end = a[t].t_end > end ? a[t].t_end : end;
	}
	size_t n = (size_t)rounds * nthreads;
	m.ops = (double)n * (double)per_round;
	m.per_s = m.ops * 1e9 / (double)(end - begin);
	m.p99 = bench_quantile(all, n, 0.99);
	m.med = bench_quantile(all, n, 0.5);
	m.best = all[0];
	free(all);
	return m;
}

/* One slice with every call timed: the single-call latency distribution. */
static void measure_calls(meas *m, timed_fn timed, void *ctx, const query *q, size_t n)
{
	uint64_t *ticks = bench_xcalloc(n, sizeof(*ticks));
	double *ns = bench_xcalloc(n, sizeof(*ns));
	timed(ctx, q, n < 1000 ? n : 1000, ticks); /* warm */
	timed(ctx, q, n, ticks);
	double k = bench_ns_per_tick();
	for (size_t i = 0; i < n; i++)
		ns[i] = (double)ticks[i] * k;
	m->call_p50 = bench_quantile(ns, n, 0.50);
	m->call_p99 = bench_quantile(ns, n, 0.99);
	m->call_p999 = bench_quantile(ns, n, 0.999);
	free(ticks);
	free(ns);
}

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

static void interleave(method *ms, size_t nm, unsigned rounds)
{
	double *ns = bench_xcalloc(nm * rounds, sizeof(double));
	double *total = bench_xcalloc(nm, sizeof(double));
	for (size_t i = 0; i < nm; i++)
		ms[i].run(ms[i].ctx, pool, ms[i].per_round); /* warm-up */
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t k = 0; k < nm; k++) {
			size_t i = (k + r) % nm;
			method *m = &ms[i];
			size_t slices = pool_n / m->per_round;
			const query *q = pool + ((r + 1) % slices) * m->per_round;
			int64_t t0 = bench_now_ns();
			size_t hits = m->run(m->ctx, q, m->per_round);
			int64_t dt = bench_now_ns() - t0;
			if (hits != truth(q, m->per_round))
				bench_die("%s answered differently from the truth", m->label);
			ns[i * rounds + r] = (double)dt / (double)m->per_round;
			total[i] += (double)dt;
		}
	}
	for (size_t i = 0; i < nm; i++) {
		meas *m = &ms[i].m;
		*m = (meas){.ok = 1};
		m->ops = (double)rounds * (double)ms[i].per_round;
		m->per_s = m->ops * 1e9 / total[i];
		m->p99 = bench_quantile(ns + i * rounds, rounds, 0.99);
		m->med = bench_quantile(ns + i * rounds, rounds, 0.5);
		m->best = ns[i * rounds];
		measure_calls(m, ms[i].timed, ms[i].ctx, pool, ms[i].per_round);
	}
	free(ns);
	free(total);
}

static void report(const char *key, const char *label, const meas *m)
{
	char k[128];
	snprintf(k, sizeof(k), "%s.ns_median", key);
	bench_json_num(&J, k, m->med);
	snprintf(k, sizeof(k), "%s.ns_p99", key);
	bench_json_num(&J, k, m->p99);
	snprintf(k, sizeof(k), "%s.per_s", key);
	bench_json_num(&J, k, m->per_s);
	if (m->call_p50 > 0) {
		snprintf(k, sizeof(k), "%s.call_ns_p50", key);
		bench_json_num(&J, k, m->call_p50);
		snprintf(k, sizeof(k), "%s.call_ns_p99", key);
		bench_json_num(&J, k, m->call_p99);
		snprintf(k, sizeof(k), "%s.call_ns_p999", key);
		bench_json_num(&J, k, m->call_p999);
	}
	note("  %-44s %8.1f ns median  %8.1f ns p99 (rounds)  %11.0f /s", label, m->med, m->p99, m->per_s);
	if (m->call_p50 > 0)
		note("   calls: p50 %.0f p99 %.0f p99.9 %.0f ns", m->call_p50, m->call_p99, m->call_p999);
	note("\n");
}

/* ---- verification: every method answers the truth on the whole pool ---- */

static void verify(sg_engine *e)
{
	check_ctx cc = {e};
	raw_ctx rc;
	raw_open(&rc);
	size_t want = truth(pool, pool_n);
	for (size_t i = 0; i < pool_n; i++) {
		sg_verdict v;
		int err = sg_check(e, pool[i].from, pool[i].to, SG_PURPOSE_MESSAGE, &v);
		if (err)
			bench_die("sg_check: %s", sg_strerror(err));
		if (pool[i].deny && (v.allow || v.reason != SG_REASON_OPTED_OUT || v.scope != SG_SCOPE_SENDER))
			bench_die("ALLOW (or wrong reason) for an opted-out pair: %s -> %s", pool[i].from, pool[i].to);
		if (!pool[i].deny && !v.allow)
			bench_die("deny (%s) for a pair with no record: %s -> %s", sg_reason_name(v.reason),
				  pool[i].from, pool[i].to);
	}
	if (check_run(&cc, pool, pool_n) != want || raw_run(&rc, pool, pool_n) != want ||
	    hash_run(&known, pool, pool_n) != want)
		bench_die("a method disagrees with the truth");
	raw_close(&rc);
	note("  verified: %zu queries (%zu opted out) answered correctly by every method\n", pool_n, want);
}

/* ---- the read-only second process ---- */

static meas ro_process(void)
{
	int fds[2];
	if (pipe(fds))
		bench_die("pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		close(fds[0]);
		sg_engine *e = open_engine(true);
		check_ctx cc = {e};
		void *ctxs[1] = {&cc};
		meas m = measure(check_run, ctxs, 1, pool, pool_n, opt.round_q, opt.rounds);
		measure_calls(&m, check_timed, &cc, pool, opt.round_q);
		sg_engine_close(e);
		ssize_t w = write(fds[1], &m, sizeof(m));
		_exit(w == (ssize_t)sizeof(m) ? 0 : 1);
	}
	close(fds[1]);
	meas m = {0};
	ssize_t r = read(fds[0], &m, sizeof(m));
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (r != (ssize_t)sizeof(m) || !WIFEXITED(status) || WEXITSTATUS(status))
		bench_die("the read-only process failed");
	return m;
}

/* ---- batch check: one sender, 10,000 recipients per call ---- */

#define BATCH_N 10000

static void bench_batch(sg_engine *e, double single_ns)
{
	bench_rng r = {opt.seed ^ 0xba7c4};
	/* the sender with the most opt-outs: index 0 by the skew */
	const char *from = senders[0].s;
	uint32_t *mine = bench_xcalloc(opt.pairs, sizeof(*mine));
	size_t nmine = 0;
	for (uint64_t p = 0; p < opt.pairs; p++)
		if (pair_s[p] == 0)
			mine[nmine++] = pair_r[p];
	if (!nmine)
		bench_die("sender 0 has no opt-outs");
	enum { CALLS = 16 };
	size_t total = (size_t)CALLS * BATCH_N;
	key16 *keys = bench_xcalloc(total, sizeof(*keys));
	const char **to = bench_xcalloc(total, sizeof(*to));
	uint8_t *deny = bench_xcalloc(total, 1);
	for (size_t i = 0; i < total; i++) {
		if (bench_below(&r, 20) == 0) {
			memcpy(keys[i].s, rcpts[mine[bench_below(&r, nmine)]].s, 16);
			deny[i] = 1;
		} else {
			fresh_number(&r, keys[i].s);
		}
		to[i] = keys[i].s;
	}
	sg_verdict *out = bench_xcalloc(BATCH_N, sizeof(*out));
	unsigned rounds = opt.quick ? 10 : 30;
	double *ns = bench_xcalloc(rounds, sizeof(*ns));
	/* Each round: one batch call, and the same 10,000 recipients checked
	 * one sg_check at a time (same sender), in alternating order, so the
	 * ratio compares like with like under the same load. */
	double *ns1 = bench_xcalloc(rounds, sizeof(*ns1));
	for (unsigned rd = 0; rd <= rounds; rd++) {
		size_t c = rd % CALLS;
		int64_t tb = 0, ts = 0;
		for (int pass = 0; pass < 2; pass++) {
			bool batch_now = (pass == 0) == (rd % 2 == 0);
			int64_t t0 = bench_now_ns();
			if (batch_now) {
				int rc = sg_check_batch(e, from, to + c * BATCH_N, BATCH_N, SG_PURPOSE_MESSAGE, out);
				tb = bench_now_ns() - t0;
				if (rc)
					bench_die("sg_check_batch: %s", sg_strerror(rc));
				for (size_t i = 0; i < BATCH_N; i++)
					if (out[i].allow == deny[c * BATCH_N + i])
						bench_die("sg_check_batch answered wrong for %s", to[c * BATCH_N + i]);
			} else {
				size_t denied = 0, want = 0;
				for (size_t i = 0; i < BATCH_N; i++) {
					sg_verdict v;
					if (sg_check(e, from, to[c * BATCH_N + i], SG_PURPOSE_MESSAGE, &v))
						bench_die("sg_check failed");
					denied += !v.allow;
				}
				ts = bench_now_ns() - t0;
				for (size_t i = 0; i < BATCH_N; i++)
					want += deny[c * BATCH_N + i];
				if (denied != want)
					bench_die("sg_check answered wrong in the batch comparison");
			}
		}
		if (rd) { /* round 0 warms */
			ns[rd - 1] = (double)tb / BATCH_N;
			ns1[rd - 1] = (double)ts / BATCH_N;
		}
	}
	double p99 = bench_quantile(ns, rounds, 0.99), med = bench_quantile(ns, rounds, 0.5);
	double med1 = bench_quantile(ns1, rounds, 0.5);
	bench_json_num(&J, "batch.ns_per_recipient_median", med);
	bench_json_num(&J, "batch.ns_per_recipient_p99", p99);
	bench_json_num(&J, "batch.recipients_per_s", 1e9 / med);
	bench_json_num(&J, "batch.single_same_ns_median", med1);
	bench_json_num(&J, "batch.sender_optouts", (double)nmine);
	note("  %-44s %8.1f ns median  %8.1f ns p99 per recipient\n", "sg_check_batch (1 sender, 10,000 per call)",
	     med, p99);
	note("  %-44s %8.1f ns median per check  (batch / single: %.2f; / the mix's check: %.2f)\n",
	     "sg_check, same sender and recipients, in turn", med1, med / med1, med / single_ns);
	free(ns1);
	free(mine);
	free(keys);
	free(to);
	free(deny);
	free(out);
	free(ns);
}

/* ---- classification: ~90 % ordinary conversation, ~10 % keywords ---- */

static const char *ordinary[] = {
	"ok thanks",
	"Thank you!",
	"See you at 3",
	"What time do you open tomorrow?",
	"Is my order ready for pickup?",
	"Can I reschedule my appointment to Friday afternoon?",
	"yes",
	"Y",
	"No thanks, I already have one",
	"Great, I'll be there in 10 minutes",
	"Who is this?",
	"How much is the delivery fee to 94110?",
	"Sounds good 👍",
	"Perfect, thank you so much for the quick reply",
	"I never got the confirmation email, can you resend it please",
	"Running late, be there by 6:15",
	"Do you have the blue one in a size medium?",
	"lol ok",
	"My code didn't work at checkout, it says expired",
	"Can you call me back at this number? I'm at work until 5",
	"¿Está abierto el domingo?",
	"Merci beaucoup, à demain",
	"Danke, bis morgen",
	"Got it",
	"The package was left at the wrong address, unit 4B not 4D",
	"Please confirm my reservation for 4 people at 7:30 on Saturday",
};

static char *corpus_texts[4096];
static size_t ncorpus_none, ncorpus_kw;
static char *corpus_none[2048], *corpus_kw[2048];

static void load_corpus(void)
{
	if (!opt.corpus)
		return;
	DIR *d = opendir(opt.corpus);
	if (!d)
		return;
	struct dirent *de;
	size_t n = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".tsv") || !strcmp(de->d_name, "holdout.tsv"))
			continue;
		char path[8192], line[4096];
		snprintf(path, sizeof(path), "%s/%s", opt.corpus, de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f) && n < BENCH_ARRAY_SIZE(corpus_texts)) {
			line[strcspn(line, "\r\n")] = '\0';
			char *tab = strchr(line, '\t');
			if (line[0] == '#' || !tab)
				continue;
			*tab = '\0';
			char *text = strdup(tab + 1);
			if (!text)
				continue;
			corpus_texts[n++] = text;
			if (!strcmp(line, "none")) {
				if (ncorpus_none < BENCH_ARRAY_SIZE(corpus_none))
					corpus_none[ncorpus_none++] = text;
			} else if (ncorpus_kw < BENCH_ARRAY_SIZE(corpus_kw)) {
				corpus_kw[ncorpus_kw++] = text;
			}
		}
		fclose(f);
	}
	closedir(d);
}

static void bench_classify_mix(sg_engine *e)
{
	static const char *fallback_kw[] = {"STOP", "stop", "Unsubscribe", "START", "HELP", "Stop texting me",
					    "STOP ALL", "cancel", "info", "quit", "ALTO", "arret"};
	load_corpus();
	bench_rng r = {opt.seed ^ 0xc1a55};
	enum { MSGS = 20000 };
	const char **msg = bench_xcalloc(MSGS, sizeof(*msg));
	size_t *len = bench_xcalloc(MSGS, sizeof(*len));
	for (size_t i = 0; i < MSGS; i++) {
		if (bench_below(&r, 10) == 0) {
			msg[i] = ncorpus_kw ? corpus_kw[bench_below(&r, ncorpus_kw)]
					    : fallback_kw[bench_below(&r, BENCH_ARRAY_SIZE(fallback_kw))];
		} else {
			/* ordinary conversation; a third of it the corpus's hard "none" cases */
			if (ncorpus_none && bench_below(&r, 3) == 0)
				msg[i] = corpus_none[bench_below(&r, ncorpus_none)];
			else
				msg[i] = ordinary[bench_below(&r, BENCH_ARRAY_SIZE(ordinary))];
		}
		len[i] = strlen(msg[i]);
	}
	sg_classification out;
	unsigned rounds = opt.quick ? 5 : 15;
	double *ns = bench_xcalloc(rounds, sizeof(*ns));
	size_t kw_hits = 0;
	for (unsigned rd = 0; rd <= rounds; rd++) {
		int64_t t0 = bench_now_ns();
		size_t hits = 0;
		for (size_t i = 0; i < MSGS; i++) {
			int rc = sg_classify(e, NULL, msg[i], len[i], &out);
			if (rc)
				bench_die("sg_classify(\"%s\"): %s", msg[i], sg_strerror(rc));
			hits += out.intent != SG_INTENT_NONE;
		}
		int64_t t1 = bench_now_ns();
		if (rd)
			ns[rd - 1] = (double)(t1 - t0) / MSGS;
		kw_hits = hits;
	}
	double med = bench_quantile(ns, rounds, 0.5);
	bench_json_num(&J, "classify.ns_median", med);
	bench_json_num(&J, "classify.per_s", 1e9 / med);
	bench_json_num(&J, "classify.keyword_share", (double)kw_hits / MSGS);
	note("  %-44s %8.1f ns median per message  %11.0f messages/s (%.1f %% matched an intent)\n",
	     "sg_classify (90 % ordinary / 10 % keywords)", med, 1e9 / med, 100.0 * (double)kw_hits / MSGS);
	free(msg);
	free(len);
	free(ns);
	for (size_t i = 0; i < BENCH_ARRAY_SIZE(corpus_texts) && corpus_texts[i]; i++)
		free(corpus_texts[i]);
}

/* ---- where the check's time goes: its parts, timed alone ---- */

static sg__filter bd_filter;
static raw_ctx bd_raw;

static inline int op_norm_from(void *c, const query *q)
{
	(void)c;
	char key[SG_KEY_MAX];
	return sg_number_normalize(q->from, strlen(q->from), "", SG_FIELD_ADDRESS, key, NULL) == 0;
}

static inline int op_norm_both(void *c, const query *q)
{
	(void)c;
	char fkey[SG_KEY_MAX], tkey[SG_KEY_MAX], cc[3];
	if (sg_number_normalize(q->from, strlen(q->from), "", SG_FIELD_ADDRESS, fkey, NULL) ||
	    sg_number_country(fkey, cc))
		return 0;
	return sg_number_normalize(q->to, strlen(q->to), cc, SG_FIELD_ANY, tkey, NULL) == 0;
}

static inline int op_filter(void *c, const query *q)
{
	(void)c;
	return sg__filter_maybe(&bd_filter, sg__filter_hash(q->to, strlen(q->to)));
}

static inline int op_txn(void *c, const query *q)
{
	(void)c;
	(void)q;
	if (mdb_txn_renew(bd_raw.txn))
		bench_die("renew");
	mdb_txn_reset(bd_raw.txn);
	return 1;
}

static inline int op_get_only(void *c, const query *q)
{
	(void)c; /* bd_raw.txn is held open around the loop */
	MDB_val k = {.mv_size = strlen(q->to), .mv_data = (void *)q->to}, v;
	return mdb_get(bd_raw.txn, bd_raw.dbi, &k, &v) == 0;
}

RUNNERS(norm_from, op_norm_from)
RUNNERS(norm_both, op_norm_both)
RUNNERS(filter, op_filter)
RUNNERS(txn, op_txn)
RUNNERS(get_only, op_get_only)

/* A sub-pool of the queries satisfying pred (deny flag), cycled to n. */
static query *subpool(int deny, size_t n)
{
	query *q = bench_xcalloc(n, sizeof(*q));
	size_t k = 0;
	for (size_t i = 0; k < n; i = (i + 1) % pool_n)
		if (pool[i].deny == deny)
			q[k++] = pool[i];
	return q;
}

static double quick_med(run_fn run, void *ctx, const query *q, size_t qn, unsigned rounds)
{
	/* parts that do not answer the truth: measured without the check */
	size_t slices = qn / opt.round_q;
	double *ns = bench_xcalloc(rounds, sizeof(*ns));
	run(ctx, q, opt.round_q);
	for (unsigned r = 0; r < rounds; r++) {
		int64_t t0 = bench_now_ns();
		volatile size_t h = run(ctx, q + (r % slices) * opt.round_q, opt.round_q);
		(void)h;
		ns[r] = (double)(bench_now_ns() - t0) / (double)opt.round_q;
	}
	double m = bench_quantile(ns, rounds, 0.5);
	free(ns);
	return m;
}

static void breakdown(sg_engine *e)
{
	unsigned rounds = opt.quick ? 5 : 11;
	size_t qn = opt.round_q * 2;
	query *miss = subpool(0, qn), *hit = subpool(1, qn);
	/* no record for this pair, but the recipient opted out of another
	 * sender: the filter cannot answer, LMDB must */
	query *other = bench_xcalloc(qn, sizeof(*other));
	bench_rng r = {opt.seed ^ 0x07e4};
	for (size_t i = 0; i < qn; i++) {
		uint64_t p = bench_below(&r, opt.pairs);
		unsigned s;
		bool recorded;
		do {
			s = (unsigned)bench_below(&r, opt.senders);
			recorded = false;
			for (uint64_t j = p; j < opt.pairs && pair_r[j] == pair_r[p]; j++)
				recorded |= pair_s[j] == s;
			for (uint64_t j = p; j-- > 0 && pair_r[j] == pair_r[p];)
				recorded |= pair_s[j] == s;
		} while (recorded);
		memcpy(other[i].from, senders[s].s, 16);
		memcpy(other[i].to, rcpts[pair_r[p]].s, 15);
		other[i].deny = 0;
	}
	check_ctx cc = {e};
	sg__filter_open_reader(&bd_filter, store_dir);
	raw_open(&bd_raw);
	struct {
		const char *key, *label;
		double ns;
	} parts[10];
	size_t np = 0;
#define PART(k, l, v) parts[np++] = (typeof(parts[0])){k, l, v}
	PART("breakdown.check_miss_ns", "check, no-record pairs only (95 % path)",
	     quick_med(check_run, &cc, miss, qn, rounds));
	PART("breakdown.check_hit_ns", "check, opted-out pairs only (5 % path)",
	     quick_med(check_run, &cc, hit, qn, rounds));
	PART("breakdown.check_known_other_ns", "check, recipient known, other sender (filter hit)",
	     quick_med(check_run, &cc, other, qn, rounds));
	PART("breakdown.normalize_from_ns", "  part: normalize the sender", quick_med(norm_from_run, NULL, miss, qn, rounds));
	PART("breakdown.normalize_both_ns", "  part: normalize sender + country + recipient",
	     quick_med(norm_both_run, NULL, miss, qn, rounds));
	PART("breakdown.filter_probe_ns", "  part: filter hash + probe (misses)", quick_med(filter_run, NULL, miss, qn, rounds));
	PART("breakdown.txn_renew_reset_ns", "  part: LMDB read txn renew + reset", quick_med(txn_run, NULL, miss, qn, rounds));
	if (mdb_txn_renew(bd_raw.txn))
		bench_die("renew");
	PART("breakdown.mdb_get_miss_ns", "  part: mdb_get alone, miss (txn held)", quick_med(get_only_run, NULL, miss, qn, rounds));
	PART("breakdown.mdb_get_hit_ns", "  part: mdb_get alone, hit (txn held)", quick_med(get_only_run, NULL, hit, qn, rounds));
	mdb_txn_reset(bd_raw.txn);
#undef PART
	for (size_t i = 0; i < np; i++) {
		bench_json_num(&J, parts[i].key, parts[i].ns);
		note("  %-52s %8.1f ns\n", parts[i].label, parts[i].ns);
	}
	raw_close(&bd_raw);
	sg__filter_close(&bd_filter);
	free(miss);
	free(hit);
	free(other);
}

/* ---- files for the HTTP benchmarks (wrk Lua scripts read them) ---- */

static void write_wrk_files(void)
{
	if (!opt.wrk_dir)
		return;
	char path[8192];
	snprintf(path, sizeof(path), "%s/check_paths.txt", opt.wrk_dir);
	FILE *f = fopen(path, "w");
	if (!f)
		bench_die("%s: %s", path, strerror(errno));
	size_t n = pool_n < 100000 ? pool_n : 100000;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "/v1/check?from=%%2B%s&to=%%2B%s\n", pool[i].from + 1, pool[i].to + 1);
	fclose(f);
	/* inbound: "our number" (a sender), the handset (a third recorded
	 * recipients, two thirds new) */
	snprintf(path, sizeof(path), "%s/inbound_pairs.txt", opt.wrk_dir);
	f = fopen(path, "w");
	if (!f)
		bench_die("%s: %s", path, strerror(errno));
	bench_rng r = {opt.seed ^ 0x1b0};
	for (size_t i = 0; i < 50000; i++) {
		char num[16];
		if (bench_below(&r, 3) == 0)
			memcpy(num, rcpts[bench_below(&r, nrcpts)].s, 16);
		else
			fresh_number(&r, num);
		fprintf(f, "%s %s\n", senders[pick_sender(&r)].s, num);
	}
	fclose(f);
}

/* ---- --profile OP: one operation in a loop, nothing else timed ---- */

static int profile(sg_engine *e)
{
	size_t qn = opt.round_q * 2;
	query *q = pool;
	size_t n = pool_n;
	check_ctx cc = {e};
	raw_ctx rc;
	run_fn run = NULL;
	void *ctx = NULL;
	if (!strcmp(opt.profile, "check")) {
		run = check_run, ctx = &cc;
	} else if (!strcmp(opt.profile, "check_miss")) {
		run = check_run, ctx = &cc, q = subpool(0, qn), n = qn;
	} else if (!strcmp(opt.profile, "check_hit")) {
		run = check_run, ctx = &cc, q = subpool(1, qn), n = qn;
	} else if (!strcmp(opt.profile, "raw")) {
		raw_open(&rc);
		run = raw_run, ctx = &rc;
	} else if (!strcmp(opt.profile, "hash")) {
		run = hash_run, ctx = &known;
	} else if (!strcmp(opt.profile, "normalize")) {
		run = norm_both_run;
	} else if (!strcmp(opt.profile, "normalize_from")) {
		run = norm_from_run;
	} else if (!strcmp(opt.profile, "filter")) {
		sg__filter_open_reader(&bd_filter, store_dir);
		run = filter_run, q = subpool(0, qn), n = qn;
	} else {
		bench_die("--profile: check, check_miss, check_hit, raw, hash, normalize, normalize_from or filter");
	}
	note("== profiling %s for %.1f s (pid %d)\n", opt.profile, opt.seconds, (int)getpid());
	int64_t t0 = bench_now_ns(), end = t0 + (int64_t)(opt.seconds * 1e9);
	double ops = 0;
	size_t slices = n / opt.round_q, r = 0;
	do {
		volatile size_t h = run(ctx, q + (r++ % slices) * opt.round_q, opt.round_q);
		(void)h;
		ops += (double)opt.round_q;
	} while (bench_now_ns() < end);
	note("  %.0f ops, %.1f ns per op\n", ops, (double)(bench_now_ns() - t0) / ops);
	return 0;
}

/* The 1-minute load average: the machine is shared, so every figure
 * comes with it. */
static double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

/* ---- main ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static char tmp_dir[64];

static void remove_tmp_dir(void)
{
	if (tmp_dir[0])
		nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void usage(void)
{
	fputs("usage: bench_check [--pairs N] [--senders N] [--rounds N] [--round-size N] [--quick]\n"
	      "                   [--dir DIR] [--keep] [--json FILE] [--wrk-dir DIR]\n"
	      "                   [--keywords DIR] [--corpus DIR] [--seed N]\n"
	      "                   [--record-batch N] [--reuse] [--profile OP [--seconds S]]\n"
	      "Builds a store of N opt-out pairs in DIR/store (default: a new temp dir),\n"
	      "times sg_check against its floors and prints the figures; --json writes\n"
	      "them as one JSON object. --keep leaves DIR for the HTTP benchmarks.\n"
	      "--reuse keeps and reuses a store that DIR holds for the same sizes and\n"
	      "seed. --profile runs one of check, check_miss, check_hit, raw, hash,\n"
	      "normalize in a loop for perf or callgrind, and times nothing else.\n",
	      stderr);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"pairs", 1, 0, 'n'}, {"senders", 1, 0, 's'}, {"rounds", 1, 0, 'r'}, {"round-size", 1, 0, 'q'},
		{"quick", 0, 0, 'Q'}, {"dir", 1, 0, 'd'},     {"keep", 0, 0, 'k'},   {"json", 1, 0, 'j'},
		{"wrk-dir", 1, 0, 'w'}, {"keywords", 1, 0, 'K'}, {"corpus", 1, 0, 'c'}, {"seed", 1, 0, 'S'},
		{"record-batch", 1, 0, 'B'}, {"reuse", 0, 0, 'R'}, {"profile", 1, 0, 'P'}, {"seconds", 1, 0, 'T'},
		{"help", 0, 0, 'h'},  {0, 0, 0, 0},
	};
	bool rounds_set = false, q_set = false, pairs_set = false;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': opt.pairs = strtoull(optarg, NULL, 10); pairs_set = true; break;
		case 's': opt.senders = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': opt.rounds = (unsigned)strtoul(optarg, NULL, 10); rounds_set = true; break;
		case 'q': opt.round_q = strtoull(optarg, NULL, 10); q_set = true; break;
		case 'Q': opt.quick = true; break;
		case 'd': opt.dir = optarg; break;
		case 'k': opt.keep = true; break;
		case 'j': opt.json = optarg; break;
		case 'w': opt.wrk_dir = optarg; break;
		case 'K': opt.keywords = optarg; break;
		case 'c': opt.corpus = optarg; break;
		case 'S': opt.seed = strtoull(optarg, NULL, 0); break;
		case 'B': opt.record_batch = strtoull(optarg, NULL, 10); break;
		case 'R': opt.reuse = true; opt.keep = true; break;
		case 'P': opt.profile = optarg; break;
		case 'T': opt.seconds = atof(optarg); break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (opt.quick) {
		if (!pairs_set)
			opt.pairs = 100000;
		if (!rounds_set)
			opt.rounds = 10;
		if (!q_set)
			opt.round_q = 50000;
	}
	if (opt.pairs < 1000 || opt.pairs > 100000000 || opt.record_batch < 1 || opt.record_batch > 1000000 || opt.senders < 2 || opt.senders > 65535 || !opt.rounds ||
	    opt.round_q < 1000)
		bench_die("bad sizes (pairs 1000..1e8, senders 2..65535, round-size >= 1000)");

	char tmpl[] = "/tmp/sg-bench-XXXXXX";
	const char *dir = opt.dir;
	if (!dir) {
		dir = mkdtemp(tmpl);
		if (!dir)
			bench_die("mkdtemp: %s", strerror(errno));
		if (!opt.keep) { /* also when a failure ends the run early */
			snprintf(tmp_dir, sizeof(tmp_dir), "%s", dir);
			atexit(remove_tmp_dir);
		}
	} else if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		bench_die("%s: %s", dir, strerror(errno));
	}
	snprintf(store_dir, sizeof(store_dir), "%s/store", dir);
	snprintf(raw_dir, sizeof(raw_dir), "%s/raw", dir);
	snprintf(sqlite_path, sizeof(sqlite_path), "%s/sqlite.db", dir);
	FILE *jf = NULL;
	if (opt.json && !(jf = fopen(opt.json, "w")))
		bench_die("%s: %s", opt.json, strerror(errno));
	J = (bench_json){.f = jf, .first = true};

	bench_json_num(&J, "machine.loadavg_start", loadavg());
	bench_json_num(&J, "machine.cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
	note("== generating %llu opt-out pairs over %u senders (seed %#llx)\n", (unsigned long long)opt.pairs,
	     opt.senders, (unsigned long long)opt.seed);
	generate();
	/* The generated keys must already be canonical, or the floors would
	 * look up other keys than the check. */
	for (uint64_t i = 0; i < nrcpts; i += 1 + nrcpts / 100000) {
		char k[SG_KEY_MAX];
		if (sg_number_normalize(rcpts[i].s, strlen(rcpts[i].s), "US", SG_FIELD_ANY, k, NULL) ||
		    strcmp(k, rcpts[i].s))
			bench_die("generated key %s is not canonical", rcpts[i].s);
	}
	char params[8192], want[256], have[256] = "";
	snprintf(params, sizeof(params), "%s/params", dir);
	snprintf(want, sizeof(want), "pairs=%llu senders=%u seed=%llu sqlite=%d batch=%zu\n",
		 (unsigned long long)opt.pairs, opt.senders, (unsigned long long)opt.seed, BENCH_SQLITE,
		 opt.record_batch);
	FILE *pf = opt.reuse ? fopen(params, "r") : NULL;
	if (pf) {
		if (!fgets(have, sizeof(have), pf))
			have[0] = '\0';
		fclose(pf);
	}
	if (strcmp(have, want)) {
		unlink(params);
		nftw(store_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		nftw(raw_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		unlink(sqlite_path);
		note("== building the store with sg_record (batches of %zu, durable)\n", opt.record_batch);
		build_store();
		note("== building the floors on the same keys\n");
		build_raw_env();
#ifdef BENCH_HAVE_SQLITE
		build_sqlite();
#endif
		if (opt.reuse && (pf = fopen(params, "w"))) {
			fputs(want, pf);
			fprintf(pf, "%.3f %.1f %.1f\n", build_secs, (double)nrcpts, dir_mb(store_dir));
			fclose(pf);
		}
	} else {
		double secs = 0, nr = 0, mb = 0;
		if ((pf = fopen(params, "r"))) {
			char line[256];
			if (fgets(line, sizeof(line), pf) && fgets(line, sizeof(line), pf))
				sscanf(line, "%lf %lf %lf", &secs, &nr, &mb);
			fclose(pf);
		}
		note("== reusing the store, raw env and SQLite file in %s (built in %.1f s)\n", dir, secs);
		bench_json_num(&J, "store.pairs", (double)opt.pairs);
		bench_json_num(&J, "store.senders", opt.senders);
		bench_json_num(&J, "store.recipients", nr);
		bench_json_num(&J, "store.build_s", secs);
		bench_json_num(&J, "store.build_pairs_per_s", secs > 0 ? (double)opt.pairs / secs : 0);
		bench_json_num(&J, "store.record_batch", (double)opt.record_batch);
		bench_json_num(&J, "store.disk_mb", mb);
		bench_json_num(&J, "store.reused", 1);
	}
	bench_json_num(&J, "sqlite.available", BENCH_SQLITE);
	if (!BENCH_SQLITE)
		note("  SQLite: not built in (libsqlite3-dev absent): skipped\n");
	sg_engine *e = open_engine(false);
	if (opt.profile) {
		write_wrk_files();
		int prc = profile(e);
		sg_engine_close(e);
		return prc;
	}
	verify(e);
	bench_json_num(&J, "pool.queries", (double)pool_n);
	bench_json_num(&J, "pool.opted_out_share", (double)truth(pool, pool_n) / (double)pool_n);
	bench_json_num(&J, "rounds", opt.rounds);
	bench_json_num(&J, "round_size", (double)opt.round_q);

	note("== check, in process (%u rounds of %zu queries; 95 %% no record / 5 %% opted out)\n", opt.rounds,
	     opt.round_q);
	check_ctx cc = {e};
	/* one env (LMDB allows one per process), one read txn per thread */
	raw_ctx rc0, rc1;
	raw_open(&rc0);
	rc1 = rc0;
	lmdb_check(mdb_txn_begin(rc0.env, NULL, MDB_RDONLY, &rc1.txn), "txn");
	mdb_txn_reset(rc1.txn);
#ifdef BENCH_HAVE_SQLITE
	sql_ctx sc;
	sql_open(&sc);
	if (sql_run(&sc, pool, pool_n) != truth(pool, pool_n))
		bench_die("SQLite disagrees with the truth");
#endif
	method ms[] = {
		{"check.t1", "sg_check, 1 thread", check_run, check_timed, &cc, opt.round_q},
		{"floor_lmdb.t1", "floor: raw mdb_get (txn renew/reset each)", raw_run, raw_timed, &rc0, opt.round_q},
		{"floor_hash.t1", "floor: in-memory hash table (4 KiB pages)", hash_run, hash_timed, &known, opt.round_q},
		{"floor_hash_thp.t1", "floor: in-memory hash table (huge pages)", hash_run, hash_timed, &known_thp,
		 opt.round_q},
#ifdef BENCH_HAVE_SQLITE
		/* a tenth of the queries per round: it is that much slower */
		{"sqlite.t1", "SQLite (WITHOUT ROWID, prepared, WAL, mmap)", sql_run, sql_timed, &sc,
		 opt.round_q / 10},
#endif
	};
	note("  (1 thread: the methods timed in turn, round by round)\n");
	make_thp_copy();
	size_t nms = BENCH_ARRAY_SIZE(ms);
	if (!thp_ok) { /* no huge-page copy: drop that row */
		memmove(&ms[3], &ms[4], (nms - 4) * sizeof(ms[0]));
		nms--;
	}
	interleave(ms, nms, opt.rounds);
	for (size_t i = 0; i < nms; i++)
		report(ms[i].key, ms[i].label, &ms[i].m);
	meas m1 = ms[0].m;
#ifdef BENCH_HAVE_SQLITE
	sql_close(&sc);
#endif

	void *c1[2] = {&cc, &cc};
	meas m2 = measure(check_run, c1, 2, pool, pool_n, opt.round_q, opt.rounds);
	report("check.t2", "sg_check, 2 threads (per s: both)", &m2);
	void *rcs[2] = {&rc0, &rc1};
	meas mraw2 = measure(raw_run, rcs, 2, pool, pool_n, opt.round_q, opt.rounds);
	report("floor_lmdb.t2", "floor: raw mdb_get, 2 threads", &mraw2);
	mdb_txn_abort(rc1.txn);
	raw_close(&rc0);
	meas mro = ro_process();
	report("check.ro_process", "sg_check, read-only second process", &mro);

	note("== batch check\n");
	bench_batch(e, m1.med);
	note("== classification\n");
	bench_classify_mix(e);
	note("== where the check's time goes (medians of %u rounds)\n", opt.quick ? 5 : 11);
	breakdown(e);
	sg_engine_close(e);

	write_wrk_files();
	bench_json_num(&J, "machine.loadavg_end", loadavg());
	bench_json_end(&J);
	if (jf)
		fclose(jf);
	if (!opt.keep)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	bench_hash_free(&known);
	free(senders);
	free(rcpts);
	free(pair_r);
	free(pair_s);
	free(pool);
	return 0;
}
