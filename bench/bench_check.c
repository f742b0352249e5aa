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
 *
 * This file holds main (options, the order of the run), the verification,
 * --profile and the wrk input files. The shared harness (data, query pool,
 * store, timing rounds, report) is harness.c; each measured method has its
 * own file: method_stopgate.c, method_lmdb.c, method_hash.c,
 * method_sqlite.c, batch.c, classify_mix.c, breakdown.c.
 */
#include <ftw.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "engine.h" /* sg__filter_wait: time only once the filter is in use */

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

static int profile(sg_engine **ep)
{
	sg_engine *e = *ep;
	size_t qn = opt.round_q * 2;
	query *q = pool;
	size_t n = pool_n;
	check_ctx cc = {e};
	raw_ctx rc;
	run_fn run = NULL;
	void *ctx = NULL;
	if (!strcmp(opt.profile, "mixes")) { /* only the mixes table, printed */
		bench_mixes(e);
		return 0;
	}
	if (!strcmp(opt.profile, "start")) { /* only the start times, printed */
		*ep = bench_start(e);
		return 0;
	}
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
		breakdown_filter_open();
		run = filter_run, q = subpool(0, qn), n = qn;
	} else {
		bench_die("--profile: check, check_miss, check_hit, raw, hash, normalize, normalize_from, filter, mixes or start");
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
		 (unsigned long long)opt.pairs, opt.senders, (unsigned long long)opt.seed, BENCH_SQLITE && !opt.profile,
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
		if (!opt.profile) /* --profile never reads it (a 10 M build is long enough) */
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
	if (sg__filter_wait(&e->store.filter)) /* a rebuild in the background (a store of an older layout) */
		bench_die("the filter build failed");
	if (opt.profile) {
		write_wrk_files();
		int prc = profile(&e);
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

	note("== start: opening the store read-write (warm cache)\n");
	e = bench_start(e);
	note("== check / raw mdb_get per query mix (thread CPU time, alternating rounds)\n");
	bench_mixes(e);
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
