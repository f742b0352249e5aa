/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, "start": opening the store read-write (what `stopgate serve`
 * does first) on the prepared store, warm cache. With the filter saved by
 * the last clean close the open takes it over (its checksum and the
 * store's txn id, seq, head and recipient count agree); without it (the
 * file removed) the open returns at once and the filter is rebuilt in the
 * background while LMDB answers: the time until it is in use is shown too.
 */
#include <unistd.h>

#include "harness.h"
#include "engine.h" /* the engine's filter: took over / wait for the build */

static double ms_since(int64_t t0)
{
	return (double)(bench_now_ns() - t0) / 1e6;
}

sg_engine *bench_start(sg_engine *e)
{
	sg_engine_close(e); /* a clean close saves the filter */
	double saved[5], fresh_open = 0, fresh_ready = 0;
	unsigned n = opt.quick ? 3 : 5;
	bool reused = true;
	for (unsigned i = 0; i < n; i++) {
		int64_t t0 = bench_now_ns();
		e = open_engine(false);
		saved[i] = ms_since(t0);
		reused &= e->store.filter.reused;
		sg_engine_close(e);
	}
	char path[8192];
	snprintf(path, sizeof(path), "%s/filter.bits", store_dir);
	if (unlink(path))
		bench_die("%s: %s", path, strerror(errno));
	int64_t t0 = bench_now_ns();
	e = open_engine(false);
	fresh_open = ms_since(t0);
	if (sg__filter_wait(&e->store.filter))
		bench_die("the background filter build failed");
	fresh_ready = ms_since(t0);
	sg_engine_close(e); /* saved again for what follows */
	double med = bench_quantile(saved, n, 0.5);
	double goal = opt.pairs >= 10000000 ? 1000 : 100;
	bench_json_num(&J, "start.saved_ms", med);
	bench_json_num(&J, "start.saved_reused", reused);
	bench_json_num(&J, "start.rebuild_open_ms", fresh_open);
	bench_json_num(&J, "start.rebuild_ready_ms", fresh_ready);
	bench_json_num(&J, "start.goal_ms", goal);
	note("  open, saved filter taken over         %8.2f ms median of %u (%s; goal <= %.0f ms: %s)\n", med, n,
	     reused ? "taken over every time" : "NOT taken over", goal, reused && med <= goal ? "met" : "NOT met");
	note("  open, no saved filter (rebuilt)       %8.2f ms to return, %.0f ms until the filter is in use\n",
	     fresh_open, fresh_ready);
	e = open_engine(false);
	if (!e->store.filter.reused || sg__filter_wait(&e->store.filter))
		bench_die("the filter saved after the rebuild was not taken over");
	return e;
}
