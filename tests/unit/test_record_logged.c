/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sg_record_logged (issue 15, the fleet): decided but unsequenced events,
 * applied in the order of an external log by every node, give every node
 * the same seq numbers, hash chain and consent state, whatever the
 * batching; the log position is stored with them, so a re-delivered entry
 * has no second effect; an event without its time is refused (the store
 * reads no clock), and de-duplication follows the events' times, not the
 * wall clock, so a node replaying an old log decides as the nodes that
 * applied it live.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"

#define OURS "+14155550100"
#define THEM "+14155552671"
#define OTHER "+14155552672"
#define C1 "{\"campaignId\":\"C1\",\"brandId\":\"B1\",\"status\":\"ACTIVE\"}"
#define SENDER1 "{\"sender\":\"" OURS "\",\"campaign\":\"C1\",\"group\":\"\"}"
#define HOUR (3600 * (int64_t)1000000)
#define T0 ((int64_t)1700000000 * 1000000) /* 2023: far older than the de-dup window */

#define NLOG 9

/* The log: one entry per element, as nodes published them. */
static void make_log(sg_event_in log[NLOG])
{
	const sg_event_in base = {.size = sizeof(sg_event_in), .sender = OURS, .recipient = THEM};
	for (int i = 0; i < NLOG; i++) {
		log[i] = base;
		log[i].time_us = T0 + i * 1000000;
	}
	log[0] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_CAMPAIGN,
			       .source = SG_SOURCE_OPERATOR, .scope = SG_SCOPE_CAMPAIGN, .rule = "campaign_put",
			       .body = C1, .body_len = strlen(C1), .time_us = T0};
	log[1] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_SENDER,
			       .source = SG_SOURCE_OPERATOR, .sender = OURS, .scope = SG_SCOPE_SENDER,
			       .rule = "sender_put", .body = SENDER1, .body_len = strlen(SENDER1),
			       .time_us = T0 + 1000000};
	log[2].action = SG_ACTION_OPT_OUT; /* a keyword STOP: the campaign scope, resolved at apply */
	log[2].source = SG_SOURCE_KEYWORD;
	log[2].dedup_key = "inbound:twilio:SM1";
	log[2].body = "STOP";
	log[2].body_len = 4;
	log[3] = log[2]; /* the same webhook, published by another node: a duplicate */
	log[3].time_us = T0 + 3000000;
	log[4].action = SG_ACTION_OPT_IN; /* an API opt-in over their own STOP: refused */
	log[4].source = SG_SOURCE_API;
	log[5].action = SG_ACTION_OPT_OUT;
	log[5].source = SG_SOURCE_KEYWORD;
	log[5].recipient = OTHER;
	log[5].dedup_key = "inbound:twilio:SM2";
	log[6].action = SG_ACTION_OPT_IN; /* their own START lifts it */
	log[6].source = SG_SOURCE_KEYWORD;
	log[6].recipient = OTHER;
	log[6].dedup_key = "inbound:twilio:SM3";
	log[7].action = SG_ACTION_HELP;
	log[7].source = SG_SOURCE_KEYWORD;
	log[7].dedup_key = "inbound:twilio:SM4";
	log[8].action = SG_ACTION_OPT_OUT; /* the STOP again, 47 h later: still within the window */
	log[8].source = SG_SOURCE_KEYWORD;
	log[8].dedup_key = "inbound:twilio:SM1";
	log[8].time_us = T0 + 47 * HOUR;
}

static void same_state(sg_engine *a, sg_engine *b)
{
	uint64_t sa, sb, pa, pb;
	uint8_t ha[32], hb[32];
	assert_int_equal(sg_head(a, &sa, ha), 0);
	assert_int_equal(sg_head(b, &sb, hb), 0);
	assert_int_equal(sa, sb);
	assert_memory_equal(ha, hb, 32);
	assert_int_equal(sg_log_position(a, &pa), 0);
	assert_int_equal(sg_log_position(b, &pb), 0);
	assert_int_equal(pa, pb);
	sg_stats xa, xb;
	assert_int_equal(sg_stats_get(a, &xa), 0);
	assert_int_equal(sg_stats_get(b, &xb), 0);
	assert_int_equal(xa.opted_out, xb.opted_out);
	assert_int_equal(xa.recipients, xb.recipients);
	assert_int_equal(xa.campaigns, xb.campaigns);
	sg_verify_result va, vb;
	assert_int_equal(sg_verify(a, &va), 0);
	assert_int_equal(sg_verify(b, &vb), 0);
	assert_true(va.ok);
	assert_true(vb.ok);
}

static void nodes_agree_whatever_the_batching(void **state)
{
	(void)state;
	char *da = tu_mkdtemp(), *db = tu_mkdtemp();
	sg_engine *a = tu_open(da, 0, NULL), *b = tu_open(db, 0, NULL);
	sg_event_in log[NLOG];
	make_log(log);
	sg_event_out oa[NLOG], ob[NLOG];
	/* a: one entry per call, at log positions 1..NLOG */
	for (int i = 0; i < NLOG; i++)
		assert_int_equal(sg_record_logged(a, (uint64_t)i + 1, &log[i], 1, &oa[i]), 0);
	/* b: the same entries three per transaction */
	for (int i = 0; i < NLOG; i += 3)
		assert_int_equal(sg_record_logged(b, (uint64_t)i + 3, &log[i], 3, &ob[i]), 0);
	for (int i = 0; i < NLOG; i++) {
		assert_int_equal(oa[i].status, ob[i].status);
		assert_int_equal(oa[i].seq, ob[i].seq);
		assert_int_equal(oa[i].duplicate, ob[i].duplicate);
		assert_int_equal(oa[i].applied, ob[i].applied);
	}
	/* what the stream order decided */
	assert_int_equal(oa[2].status, 0);
	assert_false(oa[2].duplicate);
	assert_true(oa[3].duplicate);
	assert_int_equal(oa[3].seq, oa[2].seq);
	assert_int_equal(oa[4].status, SG_ECONSENT);
	assert_true(oa[8].duplicate); /* 47 h later by its own time, though years ago by the clock */
	same_state(a, b);
	uint64_t pos;
	assert_int_equal(sg_log_position(a, &pos), 0);
	assert_int_equal(pos, NLOG);
	/* the STOP was recorded at the campaign the registry entries set up */
	sg_verdict v;
	assert_int_equal(sg_check(a, OURS, THEM, SG_PURPOSE_MESSAGE, &v), 0);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	assert_int_equal(v.scope, SG_SCOPE_CAMPAIGN);
	assert_string_equal(v.scope_id, "C1");
	assert_int_equal(sg_check(b, OURS, OTHER, SG_PURPOSE_MESSAGE, &v), 0);
	assert_true(v.allow);
	sg_engine_close(a);
	sg_engine_close(b);
	tu_rmdir(da);
	tu_rmdir(db);
}

static void a_redelivered_entry_changes_nothing(void **state)
{
	(void)state;
	char *d = tu_mkdtemp();
	sg_engine *e = tu_open(d, 0, NULL);
	sg_event_in log[NLOG];
	make_log(log);
	sg_event_out out[NLOG];
	assert_int_equal(sg_record_logged(e, 10, log, 3, out), 0);
	uint64_t seq, seq2, pos;
	uint8_t h[32], h2[32];
	assert_int_equal(sg_head(e, &seq, h), 0);
	/* the same entry again, and an older one: refused, nothing written */
	assert_int_equal(sg_record_logged(e, 10, &log[5], 1, out), -EALREADY);
	assert_int_equal(out[0].status, -EALREADY);
	assert_int_equal(sg_record_logged(e, 4, &log[5], 1, out), -EALREADY);
	assert_int_equal(sg_head(e, &seq2, h2), 0);
	assert_int_equal(seq, seq2);
	assert_memory_equal(h, h2, 32);
	/* an entry with no events still advances the position */
	assert_int_equal(sg_record_logged(e, 11, NULL, 0, NULL), 0);
	assert_int_equal(sg_log_position(e, &pos), 0);
	assert_int_equal(pos, 11);
	assert_int_equal(sg_record_logged(e, 0, NULL, 0, NULL), -EINVAL);
	sg_engine_close(e);
	/* the position is durable with the events */
	e = tu_open(d, 0, NULL);
	assert_int_equal(sg_log_position(e, &pos), 0);
	assert_int_equal(pos, 11);
	sg_engine_close(e);
	tu_rmdir(d);
}

static void an_event_without_its_time_is_refused(void **state)
{
	(void)state;
	char *d = tu_mkdtemp();
	sg_engine *e = tu_open(d, 0, NULL);
	sg_event_in log[NLOG];
	make_log(log);
	log[6].time_us = 0;
	sg_event_out out[3];
	assert_int_equal(sg_record_logged(e, 1, &log[5], 3, out), -EINVAL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(out[i].status, -EINVAL);
	uint64_t seq, pos;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &seq, h), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(sg_log_position(e, &pos), 0);
	assert_int_equal(pos, 0);
	/* a struct without its size is refused as by sg_record */
	sg_event_in nosize = log[5];
	nosize.size = 0;
	assert_int_equal(sg_record_logged(e, 1, &nosize, 1, out), -EINVAL);
	sg_engine_close(e);
	tu_rmdir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nodes_agree_whatever_the_batching),
		cmocka_unit_test(a_redelivered_entry_changes_nothing),
		cmocka_unit_test(an_event_without_its_time_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
