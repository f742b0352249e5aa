/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, "breakdown": where the check's time goes. The check on each
 * path (no record, opted out, known recipient with another sender) and its
 * parts (normalization, the filter probe, the read txn, mdb_get), timed alone.
 */
#include "harness.h"
#include "store/filter.h" /* the breakdown probes the filter directly */

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

void breakdown_filter_open(void)
{
	sg__filter_open_reader(&bd_filter, store_dir);
}

void breakdown(sg_engine *e)
{
	unsigned rounds = opt.quick ? 5 : 11;
	size_t qn = opt.round_q * 2;
	query *miss = subpool(0, qn), *hit = subpool(1, qn);
	query *other = other_sender_pool(qn);
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
