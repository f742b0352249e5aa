/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, "batch": sg_check_batch for one sender, 10,000 recipients per
 * call, against the same recipients checked one sg_check at a time.
 */
#include "harness.h"

#define BATCH_N 10000

void bench_batch(sg_engine *e, double single_ns)
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
