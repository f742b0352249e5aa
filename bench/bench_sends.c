/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The send ledger (issue 17), in process on real LMDB in a temp dir:
 *   1. sends/s recorded with sg_sends_record (durable batches of 10,000),
 *      beside consent events/s with sg_record (durable batches of 10,000)
 *      in the same run, and their ratio;
 *   2. bytes per send on disk: data.mdb's size (and the pages LMDB uses)
 *      over the sends, after the same number of sends to recipients that
 *      each get --per sends (default 4) and, separately, all distinct;
 *   3. what a frequency-cap question adds to the check for a recipient
 *      with no recent sends outside FL/OK/MD (sg_check vs sg_check +
 *      sg_send_cap), interleaved rounds, ns per call, thread CPU time;
 *      and the same for a Florida recipient with no sends (an index read).
 * Nothing is asserted about time; a wrong answer stops the run.
 *
 *   bench_sends [--sends N] [--per K] [--batch B] [--dir DIR]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "stopgate.h"

static size_t BATCH = 10000;

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	return (double)bench_now_ns() / 1e9;
}

static sg_engine *open_dir(const char *dir)
{
	return bench_open(dir, SG_OPEN_CREATE, NULL);
}

static off_t file_size(const char *dir, const char *name)
{
	char p[4096];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &sb) == 0 ? sb.st_size : 0;
}

typedef struct run {
	double wall, cpu;
	double file_bytes, used_bytes;
} run;

/* n sends to n / per recipients; returns the figures. */
static run record_sends(const char *dir, uint64_t n, unsigned per)
{
	sg_engine *e = open_dir(dir);
	sg_send_in *in = bench_xcalloc(BATCH, sizeof(*in));
	sg_send_out *out = bench_xcalloc(BATCH, sizeof(*out));
	char (*to)[16] = bench_xcalloc(BATCH, 16);
	char (*id)[40] = bench_xcalloc(BATCH, 40);
	const char *senders[4] = {"+14155550100", "+14155550101", "+14155550102", "+14155550103"};
	const char *campaigns[4] = {"CABCDE1", "CABCDE2", NULL, "CABCDE4"};
	uint64_t recipients = n / (per ? per : 1);
	int64_t t0 = sg_now_us() - 30 * 86400 * INT64_C(1000000);
	bench_rng rng = {42};
	run r = {0};
	for (uint64_t done = 0; done < n;) {
		size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;
		for (size_t i = 0; i < k; i++) {
			uint64_t g = done + i;
			uint64_t who = per ? bench_below(&rng, recipients) : g;
			snprintf(to[i], 16, "+1%03u%07u", 201 + (unsigned)(who / 10000000 % 700),
				 (unsigned)(who % 10000000));
			/* a Twilio-like id: SM and 32 hex digits */
			snprintf(id[i], 40, "SM%016llx%016llx", (unsigned long long)bench_rand(&rng),
				 (unsigned long long)g);
			in[i] = (sg_send_in){.size = sizeof(sg_send_in), .id = id[i], .sender = senders[g % 4],
					     .recipient = to[i], .at_us = t0 + (int64_t)g * 2000,
					     .campaign = campaigns[g % 4], .category = (sg_send_category)(g % 3)};
		}
		double w = wall_s(), c = cpu_s();
		int rc = sg_sends_record(e, in, k, out);
		r.wall += wall_s() - w;
		r.cpu += cpu_s() - c;
		if (rc)
			bench_die("sg_sends_record: %s", sg_strerror(rc));
		for (size_t i = 0; i < k; i++)
			if (out[i].status || out[i].duplicate)
				bench_die("send %zu: status %d duplicate %d", i, out[i].status, out[i].duplicate);
		done += k;
	}
	uint64_t sealed;
	if (sg_sends_seal(e, &sealed))
		bench_die("seal");
	sg_stats st;
	sg_stats_get(e, &st);
	sg_sends_stats ss;
	sg_sends_stats_get(e, &ss);
	if (ss.sends != n)
		bench_die("ledger holds %llu sends, recorded %llu", (unsigned long long)ss.sends, (unsigned long long)n);
	r.used_bytes = (double)st.map_used;
	sg_verify_result v;
	if (sg_verify(e, &v) || !v.ok)
		bench_die("verify: %s", v.reason);
	sg_engine_close(e);
	r.file_bytes = (double)file_size(dir, "data.mdb");
	free(in);
	free(out);
	free(to);
	free(id);
	return r;
}

static run record_events(const char *dir, uint64_t n)
{
	sg_engine *e = open_dir(dir);
	sg_event_in *in = bench_xcalloc(BATCH, sizeof(*in));
	sg_event_out *out = bench_xcalloc(BATCH, sizeof(*out));
	char (*to)[16] = bench_xcalloc(BATCH, 16);
	run r = {0};
	for (uint64_t done = 0; done < n;) {
		size_t k = n - done < BATCH ? (size_t)(n - done) : BATCH;
		for (size_t i = 0; i < k; i++) {
			snprintf(to[i], 16, "+1212%07u", (unsigned)((done + i) % 10000000));
			in[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT,
					      .source = SG_SOURCE_KEYWORD, .sender = "+14155550100", .recipient = to[i]};
		}
		double w = wall_s(), c = cpu_s();
		int rc = sg_record(e, in, k, out);
		r.wall += wall_s() - w;
		r.cpu += cpu_s() - c;
		if (rc)
			bench_die("sg_record: %s", sg_strerror(rc));
		done += k;
	}
	sg_engine_close(e);
	free(in);
	free(out);
	free(to);
	return r;
}

/* ns per call of sg_check, and of sg_check + sg_send_cap, interleaved. */
static void check_overhead(const char *dir, const char *label, const char *prefix)
{
	sg_engine *e = open_dir(dir);
	enum { Q = 20000, ROUNDS = 15 };
	char (*to)[16] = bench_xcalloc(Q, 16);
	char (*key)[SG_KEY_MAX] = bench_xcalloc(Q, SG_KEY_MAX);
	for (int i = 0; i < Q; i++) {
		snprintf(to[i], 16, "%s%07d", prefix, 5000000 + i);
		sg_number_normalize(to[i], strlen(to[i]), "US", SG_FIELD_NUMBER, key[i], NULL);
	}
	double base[ROUNDS], with[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		for (int pass = 0; pass < 2; pass++) {
			bool cap = (pass + r) % 2;
			double c = cpu_s();
			for (int i = 0; i < Q; i++) {
				sg_verdict v;
				if (sg_check(e, "+14155550100", to[i], SG_PURPOSE_MESSAGE, &v) || !v.allow)
					bench_die("check of %s denied", to[i]);
				if (cap) {
					sg_cap_result cr;
					if (sg_send_cap(e, "+14155550100", key[i], NULL, SG_SEND_MARKETING, 0, &cr) ||
					    cr.exceeded)
						bench_die("cap of %s", to[i]);
				}
			}
			(cap ? with : base)[r] = (cpu_s() - c) * 1e9 / Q;
		}
	}
	double b = bench_quantile(base, ROUNDS, 0.5), w = bench_quantile(with, ROUNDS, 0.5);
	printf("  %-44s %8.0f ns   + cap %8.0f ns   added %6.0f ns (%.2fx)\n", label, b, w, w - b, w / b);
	sg_engine_close(e);
	free(to);
	free(key);
}

int main(int argc, char **argv)
{
	uint64_t n = 1000000;
	unsigned per = 4;
	const char *base = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sends") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--per") && i + 1 < argc)
			per = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			base = argv[++i];
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			BATCH = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--quick"))
			n = 100000;
		else
			bench_die("usage: bench_sends [--sends N] [--per K] [--batch B] [--dir DIR] [--quick]");
	}
	char tmpl[] = "/tmp/sg-bench-sends-XXXXXX";
	const char *root = base ? base : mkdtemp(tmpl);
	if (!root)
		bench_die("mkdtemp: %s", strerror(errno));
	char d1[4096], d2[4096], d3[4096];
	snprintf(d1, sizeof(d1), "%s/sends", root);
	snprintf(d2, sizeof(d2), "%s/distinct", root);
	snprintf(d3, sizeof(d3), "%s/events", root);

	if (BATCH < 1 || BATCH > SG_SENDS_BATCH_MAX)
		bench_die("--batch: 1 to %d", SG_SENDS_BATCH_MAX);
	printf("send ledger: %llu sends, batches of %zu, durable (fsync per batch)\n", (unsigned long long)n, BATCH);
	run ev = record_events(d3, n / 10);
	run s = record_sends(d1, n, per);
	run u = record_sends(d2, n, 0);
	double ev_rate = (double)(n / 10) / ev.wall, s_rate = (double)n / s.wall;
	printf("  consent events (sg_record)       %10.0f /s wall  %10.0f /s thread CPU\n", ev_rate,
	       (double)(n / 10) / ev.cpu);
	printf("  sends (sg_sends_record, %u/rcpt)  %10.0f /s wall  %10.0f /s thread CPU  (%.1fx events)\n", per,
	       s_rate, (double)n / s.cpu, s_rate / ev_rate);
	printf("  sends (all distinct recipients)  %10.0f /s wall  %10.0f /s thread CPU\n", (double)n / u.wall,
	       (double)n / u.cpu);
	printf("  bytes per send, %u per recipient:  data.mdb %.1f, pages used %.1f\n", per, s.file_bytes / (double)n,
	       s.used_bytes / (double)n);
	printf("  bytes per send, all distinct:     data.mdb %.1f, pages used %.1f\n", u.file_bytes / (double)n,
	       u.used_bytes / (double)n);
	printf("frequency cap on the check path (thread CPU, median of interleaved rounds):\n");
	check_overhead(d1, "no recent sends, outside FL/OK/MD", "+1212");
	check_overhead(d1, "no recent sends, Florida (an index read)", "+1305");
	if (!base) {
		char cmd[4200];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd))
			fprintf(stderr, "bench: could not remove %s\n", root);
	}
	return 0;
}
