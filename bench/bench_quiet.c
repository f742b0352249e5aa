/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_quiet: what the quiet-hours step adds to an in-process check.
 *
 * One engine on a fresh store (1,000 opted-out pairs so the filter is not
 * empty), a pool of 8,192 recipients spread over every NANP area code of
 * quiet-hours/zones/nanp.tsv (and some toll-free numbers), one sender.
 * Methods, interleaved round by round on the same pool and timed with the
 * thread's CPU clock (CLOCK_THREAD_CPUTIME_ID):
 *   plain      sg_check (no quiet-hours step at all)
 *   marketing  sg_check_ex, category marketing, a fixed `at`
 *   now        sg_check_ex, category marketing, at = now (reads the clock)
 *   usecase    sg_check_ex, no category: the sender's campaign is looked
 *              up (one LMDB read) to find its usecase
 * Prints ns per check and the difference and ratio to plain; asserts no
 * timing. Usage: bench_quiet [--rounds N] [--checks N] [--npas N (a pool of the
 * first N area codes only: cache-hot)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>

#include "config.h"
#include "bench_common.h"
#include "stopgate.h"

#define POOL 8192

static char pool_keys[POOL][16];
static const char *pool[POOL];

static double thread_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static double run(sg_engine *e, const sg_check_opts *opts, size_t checks, size_t *denied)
{
	sg_verdict v;
	*denied = 0;
	double t0 = thread_ns();
	for (size_t i = 0; i < checks; i++) {
		const char *to = pool[i % POOL];
		if (opts ? sg_check_ex(e, "+12125550100", &to, 1, opts, &v, NULL)
			 : sg_check(e, "+12125550100", to, SG_PURPOSE_MESSAGE, &v)) {
			fprintf(stderr, "bench_quiet: check failed\n");
			exit(1);
		}
		*denied += !v.allow;
	}
	return (thread_ns() - t0) / (double)checks;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t rounds = 101, checks = 8192;
	int use_npas = 0; /* 0: all; N: only the first N area codes (a cache-hot pool) */
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--rounds"))
			rounds = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--checks"))
			checks = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--npas"))
			use_npas = atoi(argv[i + 1]);
	}
	/* NPAs from the shipped data */
	char path[4200];
	snprintf(path, sizeof(path), "%s/zones/nanp.tsv", SG_QUIET_DIR_SOURCE);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 1;
	}
	int npas[1000], nn = 0;
	char line[512];
	while (fgets(line, sizeof(line), f) && nn < 1000)
		if (line[0] >= '2' && line[0] <= '9' && line[3] == '\t')
			npas[nn++] = atoi(line) ;
	fclose(f);
	if (use_npas > 0 && use_npas < nn)
		nn = use_npas;
	srand(42);
	for (int i = 0; i < POOL; i++) {
		int npa = i % 16 == 15 ? 800 : npas[rand() % nn];
		snprintf(pool_keys[i], sizeof(pool_keys[i]), "+1%03d%03d%04d", npa, 200 + rand() % 800, rand() % 10000);
		pool[i] = pool_keys[i];
	}
	char dir[] = "/tmp/sg-bench-quiet-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	sg_options o;
	bench_options(&o, dir, SG_OPEN_CREATE, SG_KEYWORDS_DIR_SOURCE, SG_QUIET_DIR_SOURCE);
	sg_engine *e;
	double t0 = thread_ns();
	int rc = sg_engine_open(&o, &e);
	double open_ms = (thread_ns() - t0) / 1e6;
	if (rc) {
		fprintf(stderr, "bench_quiet: open: %s\n", sg_strerror(rc));
		return 1;
	}
	sg_event_in ev[1000];
	sg_event_out out[1000];
	char keys[1000][16];
	for (int i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "+1415555%04d", i);
		ev[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_API, .sender = "+12125550100",
				      .recipient = keys[i], .scope = SG_SCOPE_SENDER};
	}
	if (sg_record(e, ev, 1000, out))
		return 1;
	sg_check_opts mkt, now;
	sg_check_opts_default(&mkt);
	mkt.category = SG_CATEGORY_MARKETING;
	sg_time_parse("2026-12-02T18:00:00Z", &mkt.at_us); /* 13:00 EST: most allowed, some not */
	now = mkt;
	now.at_us = 0;
	/* Many short rounds, the three methods back to back in each, so that a
	 * busy neighbour slows all three alike; the median per-round
	 * difference to plain is the figure. */
	enum { MAXR = 4096 };
	static double ns[4][MAXR], diff[3][MAXR];
	size_t den[4] = {0};
	if (rounds > MAXR)
		rounds = MAXR;
	run(e, NULL, POOL, &den[0]); /* warm */
	run(e, &mkt, POOL, &den[1]);
	sg_check_opts dflt;
	sg_check_opts_default(&dflt);
	const sg_check_opts *m[4] = {NULL, &mkt, &now, &dflt};
	for (size_t r = 0; r < rounds; r++) {
		double t[4];
		for (int k = 0; k < 4; k++) { /* rotated order per round */
			size_t d, w = (k + r) % 4;
			t[w] = run(e, m[w], checks, &d);
			den[w] += d;
		}
		for (int k = 0; k < 4; k++) {
			ns[k][r] = t[k];
			if (k)
				diff[k - 1][r] = t[k] - t[0];
		}
	}
	for (int k = 0; k < 4; k++)
		qsort(ns[k], rounds, sizeof(double), cmp_double);
	for (int k = 0; k < 3; k++)
		qsort(diff[k], rounds, sizeof(double), cmp_double);
	printf("bench_quiet: engine open with the quiet-hours rules %.1f ms CPU; %zu rounds x %zu checks per method, "
	       "thread CPU time, medians\n", open_ms, rounds, checks);
	static const char *const names[4] = {"sg_check (baseline)", "marketing, fixed at", "marketing, at = now",
					     "no category: usecase"};
	for (int k = 0; k < 4; k++)
		printf("  %-22s %7.1f ns/check  %+6.1f ns vs plain (median of per-round differences, x%.3f)  "
		       "denied %.1f %%\n", names[k], ns[k][rounds / 2], k ? diff[k - 1][rounds / 2] : 0.0,
		       ns[k][rounds / 2] / ns[0][rounds / 2], 100.0 * (double)den[k] / (double)(rounds * checks));
	sg_engine_close(e);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
