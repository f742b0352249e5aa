/* SPDX-License-Identifier: Apache-2.0 */
/* The consent store: every event kind, durability across reopen, map
 * growth, dedup, event-time ordering and the hash chain. Real LMDB, temp
 * dirs. Tests with several processes are in test_processes.c. */
#include <errno.h>

#include "testutil.h"

typedef struct collected {
	int count;
	sg_event last;
	char scope_id[96], sender[96], recipient[96], provider[32], msg_id[64], rule[64], note[64];
	char body[256];
	uint64_t seqs[64];
} collected;

static int collect(const sg_event *ev, void *ctx)
{
	collected *c = ctx;
	if (c->count < 64)
		c->seqs[c->count] = ev->seq;
	c->count++;
	c->last = *ev;
#define KEEP(f, src) snprintf(c->f, sizeof(c->f), "%s", (src) ? (src) : "")
	KEEP(scope_id, ev->scope_id);
	KEEP(sender, ev->sender);
	KEEP(recipient, ev->recipient);
	KEEP(provider, ev->provider);
	KEEP(msg_id, ev->provider_msg_id);
	KEEP(rule, ev->rule);
	KEEP(note, ev->note);
#undef KEEP
	snprintf(c->body, sizeof(c->body), "%.*s", ev->body ? (int)ev->body_len : 0, ev->body ? ev->body : "");
	return 0;
}

static void every_event_kind_round_trips(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	static const char body[] = "STOP";
	sg_event_in ev = {
		.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		.recipient = "+14155552671", .provider = "twilio", .provider_msg_id = "SM123",
		.dedup_key = "inbound:twilio:SM123", .rule = "en.stop", .body = body, .body_len = 4,
		.reply = "Acme: you're unsubscribed.", .note = "n1", .event_time_us = 1700000000000000,
	};
	sg_event_out out;
	assert_int_equal(sg_record(e, &ev, 1, &out), 0);
	assert_int_equal(out.status, 0);
	assert_int_equal(out.seq, 1);
	assert_true(out.applied);

	const sg_action kinds[] = {SG_ACTION_OPT_IN, SG_ACTION_HELP, SG_ACTION_FLAG_NOT_SMS_CAPABLE,
				   SG_ACTION_CLEAR_NOT_SMS_CAPABLE, SG_ACTION_REVIEW};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		sg_event_out o = tu_record(e, kinds[i], SG_SOURCE_API, "+14155550100", "+14155552671", 0, NULL);
		assert_int_equal(o.status, 0);
		assert_int_equal(o.seq, i + 2);
	}
	collected c = {0};
	uint64_t next;
	assert_int_equal(sg_events_read(e, 1, 1, collect, &c, &next), 0);
	assert_int_equal(c.count, 1);
	assert_int_equal(next, 2);
	assert_int_equal(c.last.action, SG_ACTION_OPT_OUT);
	assert_int_equal(c.last.source, SG_SOURCE_KEYWORD);
	assert_int_equal(c.last.scope, SG_SCOPE_SENDER); /* unregistered sender: the sender itself */
	assert_string_equal(c.scope_id, "+14155550100");
	assert_string_equal(c.sender, "+14155550100");
	assert_string_equal(c.recipient, "+14155552671");
	assert_string_equal(c.provider, "twilio");
	assert_string_equal(c.msg_id, "SM123");
	assert_string_equal(c.rule, "en.stop");
	assert_string_equal(c.note, "n1");
	assert_string_equal(c.body, "STOP");
	assert_int_equal(c.last.event_time_us, 1700000000000000);
	assert_true(c.last.time_us > 1700000000000000);

	memset(&c, 0, sizeof(c));
	assert_int_equal(sg_events_read(e, 0, 100, collect, &c, &next), 0);
	assert_int_equal(c.count, 6);
	assert_int_equal(c.last.action, SG_ACTION_REVIEW);
	for (int i = 0; i < 6; i++)
		assert_int_equal(c.seqs[i], i + 1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(sg_events_for_recipient(e, "+14155552671", collect, &c), 0);
	assert_int_equal(c.count, 6);
	memset(&c, 0, sizeof(c));
	assert_int_equal(sg_events_for_recipient(e, "+19999999999", collect, &c), 0);
	assert_int_equal(c.count, 0);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void durable_across_reopen_and_verified(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	for (int i = 0; i < 50; i++) {
		char to[32];
		snprintf(to, sizeof(to), "+1415555%04d", i);
		tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", to, 0, NULL);
	}
	uint64_t seq1;
	uint8_t head1[32];
	assert_int_equal(sg_head(e, &seq1, head1), 0);
	assert_int_equal(seq1, 50);
	sg_engine_close(e);

	e = tu_open(dir, 0, NULL);
	uint64_t seq2;
	uint8_t head2[32];
	assert_int_equal(sg_head(e, &seq2, head2), 0);
	assert_int_equal(seq2, 50);
	assert_memory_equal(head1, head2, 32);
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.events, 50);
	assert_int_equal(st.opted_out, 50);
	assert_int_equal(st.recipients, 50);
	sg_verify_result vr;
	assert_int_equal(sg_verify(e, &vr), 0);
	assert_true(vr.ok);
	assert_int_equal(vr.count, 50);
	assert_memory_equal(vr.head_hash, head1, 32);
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+14155550007", 0, &v), 0);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void map_grows_past_initial_size(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.keywords_dir = tu_keywords();
	o.initial_map_size = 256 * 1024; /* tiny: forces several growths */
	o.flags = SG_OPEN_CREATE;
	sg_engine *e;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	static char body[4000];
	memset(body, 'x', sizeof(body));
	sg_event_in evs[100];
	sg_event_out outs[100];
	char tos[100][32];
	for (int round = 0; round < 10; round++) {
		for (int i = 0; i < 100; i++) {
			snprintf(tos[i], sizeof(tos[i]), "+1212555%04d", round * 100 + i);
			evs[i] = (sg_event_in){.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD,
					       .sender = "+14155550100", .recipient = tos[i],
					       .body = body, .body_len = sizeof(body)};
		}
		assert_int_equal(sg_record(e, evs, 100, outs), 0);
		for (int i = 0; i < 100; i++)
			assert_int_equal(outs[i].status, 0);
	}
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.events, 1000);
	assert_true(st.map_size > 4 * 1024 * 1024); /* 4 MB of bodies did not fit in 256 KiB */
	assert_true(st.map_used > 4 * 1024 * 1024);
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+12125550999", 0, &v), 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void dedup_and_batch_semantics(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_in evs[4] = {
		{.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		 .recipient = "+14155552671", .dedup_key = "inbound:telnyx:abc"},
		/* same key again in the same batch: a duplicate */
		{.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		 .recipient = "+14155552671", .dedup_key = "inbound:telnyx:abc"},
		/* invalid: bad recipient key; only this one fails */
		{.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
		 .recipient = "4155552671"},
		/* a dedup marker only */
		{.action = SG_ACTION_NONE, .dedup_key = "inbound:telnyx:def"},
	};
	sg_event_out out[4];
	assert_int_equal(sg_record(e, evs, 4, out), 0);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[0].seq, 1);
	assert_false(out[0].duplicate);
	assert_int_equal(out[1].status, 0);
	assert_true(out[1].duplicate);
	assert_int_equal(out[1].seq, 1);
	assert_int_equal(out[2].status, SG_ENUMBER);
	assert_int_equal(out[3].status, 0);
	assert_int_equal(out[3].seq, 0);
	/* a later batch sees both keys */
	assert_int_equal(sg_record(e, &evs[3], 1, out), 0);
	assert_true(out[0].duplicate);
	assert_int_equal(sg_record(e, &evs[0], 1, out), 0);
	assert_true(out[0].duplicate);
	uint64_t seq;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &seq, h), 0);
	assert_int_equal(seq, 1); /* nothing but the first event was logged */
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.dedup_keys, 2);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void older_event_does_not_override_newer(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	/* STOP at t=2000 arrives first, then a START stamped t=1000 (out of order). */
	sg_event_in stop = {.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = "+14155550100",
			    .recipient = "+14155552671", .event_time_us = 2000000000000000};
	sg_event_in start = stop;
	start.action = SG_ACTION_OPT_IN;
	start.event_time_us = 1000000000000000;
	sg_event_out o;
	assert_int_equal(sg_record(e, &stop, 1, &o), 0);
	assert_true(o.applied);
	assert_int_equal(sg_record(e, &start, 1, &o), 0);
	assert_int_equal(o.status, 0);
	assert_false(o.applied); /* logged, but the newer STOP stands */
	assert_int_equal(o.seq, 2);
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+14155552671", 0, &v), 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	start.event_time_us = 3000000000000000;
	assert_int_equal(sg_record(e, &start, 1, &o), 0);
	assert_true(o.applied);
	assert_int_equal(sg_check(e, "+14155550100", "+14155552671", 0, &v), 0);
	assert_true(v.allow);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void import_is_idempotent(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_in ev = {.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_IMPORT, .sender = NULL,
			  .recipient = "+14155552671", .scope = SG_SCOPE_GLOBAL, .scope_id = "",
			  .note = "list.csv"};
	sg_event_out o;
	assert_int_equal(sg_record(e, &ev, 1, &o), 0);
	assert_false(o.duplicate);
	assert_int_equal(o.seq, 1);
	assert_int_equal(sg_record(e, &ev, 1, &o), 0);
	assert_true(o.duplicate);
	assert_int_equal(o.seq, 1);
	uint64_t seq;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &seq, h), 0);
	assert_int_equal(seq, 1);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* SG_OPEN_DEFER_SYNC: writes behave the same, sg_sync() makes them durable,
 * and they are there after a reopen (in the plain mode too). */
static void deferred_sync_mode(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.keywords_dir = tu_keywords();
	o.flags = SG_OPEN_DEFER_SYNC | SG_OPEN_CREATE;
	sg_engine *e;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	for (int i = 0; i < 20; i++) {
		char to[32];
		snprintf(to, sizeof(to), "+1415555%04d", i);
		sg_event_out out = tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, "+14155550100", to, 0, NULL);
		assert_int_equal(out.seq, (uint64_t)i + 1);
	}
	assert_int_equal(sg_sync(e), 0);
	sg_engine_close(e);
	o.flags = 0;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	assert_int_equal(sg_sync(e), 0); /* harmless in the plain mode */
	sg_verify_result vr;
	assert_int_equal(sg_verify(e, &vr), 0);
	assert_true(vr.ok);
	assert_int_equal(vr.count, 20);
	sg_engine_close(e);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_event_kind_round_trips),
		cmocka_unit_test(durable_across_reopen_and_verified),
		cmocka_unit_test(map_grows_past_initial_size),
		cmocka_unit_test(dedup_and_batch_semantics),
		cmocka_unit_test(older_event_does_not_override_newer),
		cmocka_unit_test(import_is_idempotent),
		cmocka_unit_test(deferred_sync_mode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
