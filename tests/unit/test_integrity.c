/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consent integrity at the library's edge (issue 11): the check fails
 * closed, a repeated STOP keeps the first opt-out time, a known inactive
 * campaign is denied by default, and an API/operator opt-in cannot undo a
 * person's own STOP without an explicit override. Real LMDB throughout;
 * the corrupted record is written with LMDB itself, as a damaged disk or
 * a foreign writer would leave it.
 */
#include <lmdb.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"

#define OURS "+14155550100"
#define THEM "+14155552671"

static const char campaign_expired[] =
	"{\"campaignId\":\"CEXP\",\"brandId\":\"B1\",\"status\":\"EXPIRED\"}";
static const char campaign_suspended[] =
	"{\"campaignId\":\"CSUS\",\"brandId\":\"B1\",\"status\":\"SUSPENDED\"}";
static const char campaign_active[] =
	"{\"campaignId\":\"CACT\",\"brandId\":\"B1\",\"status\":\"ACTIVE\"}";

/* Overwrite one recipient record with bytes stopgate never wrote. */
static void corrupt_record(const char *dir, const char *key)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_NOTLS, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "recipients", 0, &dbi), 0);
	MDB_val k = {strlen(key), (void *)key}, v = {3, (void *)"\x7f\x7f\x7f"};
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Item 15: a store error part way through a batch leaves every undecided
 * verdict denied, even for a caller that ignores the return code. */
static void batch_fails_closed_on_a_store_error(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, "+14155552001", 0, NULL);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, "+14155552002", 0, NULL);
	sg_engine_close(e);
	corrupt_record(dir, "+14155552002");

	e = tu_open(dir, SG_OPEN_RDONLY, NULL);
	const char *to[] = {"+14155552001", "+14155559999", "+14155552002", "+14155558888", "+14155557777"};
	sg_verdict out[5];
	memset(out, 0x5a, sizeof(out)); /* whatever the caller's memory held */
	int rc = sg_check_batch(e, OURS, to, 5, SG_PURPOSE_MESSAGE, out);
	assert_int_equal(rc, SG_ECORRUPT);
	assert_false(out[0].allow); /* decided before the error: opted out */
	assert_int_equal(out[0].reason, SG_REASON_OPTED_OUT);
	assert_true(out[1].allow); /* decided before the error: no record */
	for (int i = 2; i < 5; i++) {
		assert_false(out[i].allow);
		assert_false(out[i].confirmation);
		assert_int_equal(out[i].reason, SG_REASON_CHECK_FAILED);
		assert_string_equal(sg_reason_name(out[i].reason), "check_failed");
	}
	/* the single check too */
	sg_verdict v;
	memset(&v, 0x5a, sizeof(v));
	assert_int_equal(sg_check(e, OURS, "+14155552002", SG_PURPOSE_MESSAGE, &v), SG_ECORRUPT);
	assert_false(v.allow);
	sg_engine_close(e);
	tu_rmdir(dir);
}

typedef struct seen {
	int n;
	sg_scope_state st;
} seen;

static int on_scope(const sg_scope_state *st, void *ctx)
{
	seen *s = ctx;
	s->st = *st;
	s->n++;
	return 0;
}

static int on_optout(const char *rcpt, const sg_scope_state *st, void *ctx)
{
	(void)rcpt;
	return on_scope(st, ctx);
}

/* Item 17: a repeated STOP keeps the first opt-out of the period as
 * "since" (check, scope state, suppression list) and reports the latest
 * apart; an opt-in ends the period, and the next STOP starts a new one. */
static void repeated_stop_keeps_the_first_time(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_in ev = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = OURS,
			  .recipient = THEM, .event_time_us = 1700000000000000};
	sg_event_out o1, o2;
	assert_int_equal(sg_record(e, &ev, 1, &o1), 0);
	sg_verdict v1, v2;
	assert_int_equal(sg_check(e, OURS, THEM, 0, &v1), 0);
	ev.event_time_us = 1700000600000000;
	ev.source = SG_SOURCE_OPERATOR;
	assert_int_equal(sg_record(e, &ev, 1, &o2), 0);
	assert_true(o2.seq > o1.seq);
	assert_int_equal(sg_check(e, OURS, THEM, 0, &v2), 0);
	assert_int_equal(v2.reason, SG_REASON_OPTED_OUT);
	assert_int_equal(v2.since_us, v1.since_us);
	assert_int_equal(v2.seq, o1.seq);

	seen s = {0};
	assert_int_equal(sg_consent_scopes(e, THEM, on_scope, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.st.since_us, v1.since_us);
	assert_int_equal(s.st.seq, o1.seq);
	assert_int_equal(s.st.event_time_us, 1700000000000000);
	assert_int_equal(s.st.source, SG_SOURCE_KEYWORD);
	assert_int_equal(s.st.latest_seq, o2.seq);
	assert_true(s.st.latest_us >= s.st.since_us);

	memset(&s, 0, sizeof(s));
	assert_int_equal(sg_optouts_foreach(e, NULL, on_optout, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.st.since_us, v1.since_us);
	assert_int_equal(s.st.event_time_us, 1700000000000000);
	assert_int_equal(s.st.latest_seq, o2.seq);

	/* an older STOP arriving late changes nothing; a newer START ends the
	 * period; the next STOP begins a new one */
	ev.event_time_us = 1600000000000000;
	sg_event_out o3;
	assert_int_equal(sg_record(e, &ev, 1, &o3), 0);
	assert_false(o3.applied);
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	sg_event_out o4 = tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(sg_consent_scopes(e, THEM, on_scope, &s), 0);
	assert_int_equal(s.st.seq, o4.seq);
	assert_int_equal(s.st.latest_seq, o4.seq); /* no repeat: latest is the first */
	sg_engine_close(e);

	/* the record reads back the same after a reopen */
	e = tu_open(dir, SG_OPEN_RDONLY, NULL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(sg_consent_scopes(e, THEM, on_scope, &s), 0);
	assert_int_equal(s.st.seq, o4.seq);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* Item 18: a sender whose known campaign is EXPIRED or SUSPENDED is denied
 * by default, also for recipients with no record at all; the policy may
 * relax it; an unknown campaign is still only denied with
 * requireRegistered. */
static void inactive_campaign_denied_by_default(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	const char *detail;
	assert_int_equal(sg_campaign_put_json(e, campaign_expired, strlen(campaign_expired), &detail), 0);
	assert_int_equal(sg_campaign_put_json(e, campaign_suspended, strlen(campaign_suspended), &detail), 0);
	assert_int_equal(sg_campaign_put_json(e, campaign_active, strlen(campaign_active), &detail), 0);
	assert_int_equal(sg_sender_put(e, "+14155550201", "CEXP", NULL), 0);
	assert_int_equal(sg_sender_put(e, "+14155550202", "CSUS", NULL), 0);
	assert_int_equal(sg_sender_put(e, "+14155550203", "CACT", NULL), 0);
	assert_int_equal(sg_sender_put(e, "+14155550204", "CUNKNOWN", NULL), 0);
	sg_verdict v;
	const char *batch[] = {THEM, "+14155553333"};
	sg_verdict out[2];
	for (int ro = 0; ro < 2; ro++) {
		sg_engine *c = e;
		if (ro)
			c = tu_open(dir, SG_OPEN_RDONLY, NULL);
		assert_int_equal(sg_check(c, "+14155550201", THEM, 0, &v), 0);
		assert_false(v.allow);
		assert_int_equal(v.reason, SG_REASON_CAMPAIGN_INACTIVE);
		assert_int_equal(sg_check(c, "+14155550202", THEM, 0, &v), 0);
		assert_int_equal(v.reason, SG_REASON_CAMPAIGN_INACTIVE);
		assert_int_equal(sg_check_batch(c, "+14155550202", batch, 2, 0, out), 0);
		assert_false(out[0].allow);
		assert_false(out[1].allow);
		assert_int_equal(sg_check(c, "+14155550203", THEM, 0, &v), 0);
		assert_true(v.allow);
		assert_int_equal(sg_check(c, "+14155550204", THEM, 0, &v), 0);
		assert_true(v.allow); /* unknown: only requireRegistered denies */
		assert_int_equal(sg_check(c, "+14155550299", THEM, 0, &v), 0);
		assert_true(v.allow); /* unregistered sender */
		if (ro)
			sg_engine_close(c);
	}
	sg_engine_close(e);

	sg_policy pol;
	sg_policy_default(&pol);
	pol.allow_inactive_campaigns = true;
	e = tu_open(dir, SG_OPEN_RDONLY, &pol);
	assert_int_equal(sg_check(e, "+14155550201", THEM, 0, &v), 0);
	assert_true(v.allow);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* Item 19: an API or operator opt-in over the person's own STOP is refused
 * without the override and a note, recorded and flagged with them, and
 * refused outright when the policy forbids overrides. The person's own
 * START always works; an operator opt-in over an operator opt-out needs
 * nothing. */
typedef struct last_rule {
	char rule[64];
	char note[64];
	sg_action action;
} last_rule;

static int on_event(const sg_event *ev, void *ctx)
{
	last_rule *l = ctx;
	snprintf(l->rule, sizeof(l->rule), "%s", ev->rule ? ev->rule : "");
	snprintf(l->note, sizeof(l->note), "%s", ev->note ? ev->note : "");
	l->action = ev->action;
	return 0;
}

static void operator_optin_needs_override_after_own_stop(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_verdict v;
	const sg_source own[] = {SG_SOURCE_KEYWORD, SG_SOURCE_PROVIDER_SIGNAL};
	const sg_source paths[] = {SG_SOURCE_API, SG_SOURCE_OPERATOR};
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < 2; j++) {
			char them[16];
			snprintf(them, sizeof(them), "+1415555%04zu", 3000 + i * 10 + j);
			tu_record(e, SG_ACTION_OPT_OUT, own[i], OURS, them, 0, NULL);
			sg_event_in in = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_IN, .source = paths[j], .sender = OURS,
					  .recipient = them};
			sg_event_out o;
			assert_int_equal(sg_record(e, &in, 1, &o), 0);
			assert_int_equal(o.status, SG_ECONSENT);
			assert_int_equal(o.seq, 0);
			assert_int_equal(sg_check(e, OURS, them, 0, &v), 0);
			assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
			/* the override without a note is not enough */
			in.override = SG_OVERRIDE_CONSUMER_REQUEST;
			assert_int_equal(sg_record(e, &in, 1, &o), 0);
			assert_int_equal(o.status, SG_ECONSENT);
			in.note = "asked by phone, ticket 4411";
			assert_int_equal(sg_record(e, &in, 1, &o), 0);
			assert_int_equal(o.status, 0);
			assert_true(o.applied);
			assert_int_equal(sg_check(e, OURS, them, 0, &v), 0);
			assert_true(v.allow);
			last_rule l = {0};
			uint64_t next;
			assert_int_equal(sg_events_read(e, o.seq, 1, on_event, &l, &next), 0);
			assert_int_equal(l.action, SG_ACTION_OPT_IN);
			assert_string_equal(l.rule, "override:consumer_request");
			assert_string_equal(l.note, "asked by phone, ticket 4411");
		}
	/* a campaign-level STOP of the person is lifted by a sender-scope
	 * opt-in too: that needs the override as well */
	const char *detail;
	assert_int_equal(sg_campaign_put_json(e, campaign_active, strlen(campaign_active), &detail), 0);
	assert_int_equal(sg_sender_put(e, "+14155550203", "CACT", NULL), 0);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, "+14155550203", THEM, 0, NULL);
	sg_event_out o = tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_API, "+14155550203", THEM, SG_SCOPE_SENDER, NULL);
	assert_int_equal(o.status, SG_ECONSENT);
	assert_int_equal(sg_check(e, "+14155550203", THEM, 0, &v), 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	/* the person's own START works */
	o = tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, "+14155550203", THEM, 0, NULL);
	assert_int_equal(o.status, 0);
	assert_int_equal(sg_check(e, "+14155550203", THEM, 0, &v), 0);
	assert_true(v.allow);
	/* an operator's own opt-out is the operator's to lift */
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, OURS, "+14155554444", 0, NULL);
	o = tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_API, OURS, "+14155554444", 0, NULL);
	assert_int_equal(o.status, 0);
	/* ... unless the person repeated it themselves */
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, OURS, "+14155554445", 0, NULL);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, "+14155554445", 0, NULL);
	o = tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_API, OURS, "+14155554445", 0, NULL);
	assert_int_equal(o.status, SG_ECONSENT);
	/* an override is only for opt-ins */
	sg_event_in bad = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_API, .sender = OURS,
			   .recipient = THEM, .override = SG_OVERRIDE_CONSUMER_REQUEST, .note = "x"};
	assert_int_equal(sg_record(e, &bad, 1, &o), 0);
	assert_int_equal(o.status, -EINVAL);
	sg_engine_close(e);

	sg_policy pol;
	sg_policy_default(&pol);
	pol.forbid_optin_override = true;
	e = tu_open(dir, 0, &pol);
	sg_event_in in = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_IN, .source = SG_SOURCE_OPERATOR, .sender = OURS,
			  .recipient = "+14155554445", .override = SG_OVERRIDE_CONSUMER_REQUEST, .note = "asked"};
	assert_int_equal(sg_record(e, &in, 1, &o), 0);
	assert_int_equal(o.status, SG_EFORBIDDEN);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* Found beside item 17: an event time in the future (a skewed provider
 * clock, or a forged received_at) made every later STOP look older and be
 * ignored. It now counts as the time it was recorded. */
static void future_event_time_cannot_shadow_a_later_stop(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_in start = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_IN, .source = SG_SOURCE_KEYWORD, .sender = OURS,
			     .recipient = THEM, .event_time_us = 4102444800000000 /* 2100-01-01 */};
	sg_event_out o;
	assert_int_equal(sg_record(e, &start, 1, &o), 0);
	assert_int_equal(o.status, 0);
	sg_event_out stop = tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	assert_true(stop.applied);
	sg_verdict v;
	assert_int_equal(sg_check(e, OURS, THEM, 0, &v), 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	/* a little skew is tolerated and ordered as given */
	sg_event_in late = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_IN, .source = SG_SOURCE_KEYWORD, .sender = OURS,
			    .recipient = "+14155556000", .event_time_us = sg_now_us() + 60 * 1000000LL};
	assert_int_equal(sg_record(e, &late, 1, &o), 0);
	sg_event_in older = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = OURS,
			     .recipient = "+14155556000", .event_time_us = sg_now_us()};
	assert_int_equal(sg_record(e, &older, 1, &o), 0);
	assert_false(o.applied); /* older than the START by its provider's clock */
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* Beside item 14: a misspelt key in a campaign's own "stopgate" settings
 * was ignored, silently leaving the policy default in force. */
static void campaign_settings_typos_are_refused(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	static const char *const bad[] = {
		"{\"campaignId\":\"C1\",\"stopgate\":{\"probabel\":\"review\"}}",
		"{\"campaignId\":\"C1\",\"stopgate\":{\"optoutscope\":\"brand\"}}",
		"{\"campaignId\":\"C1\",\"stopgate\":\"review\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *detail = NULL;
		assert_int_equal(sg_campaign_put_json(e, bad[i], strlen(bad[i]), &detail), SG_EJSON);
		assert_non_null(detail);
		assert_non_null(strstr(detail, "stopgate"));
	}
	char *got = NULL;
	assert_int_equal(sg_campaign_get_json(e, "C1", &got), SG_ENOTFOUND);
	static const char good[] = "{\"campaignId\":\"C1\",\"stopgate\":{\"probable\":\"review\"},\"newTcrField\":1}";
	const char *detail = NULL;
	assert_int_equal(sg_campaign_put_json(e, good, strlen(good), &detail), 0);
	sg_engine_close(e);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batch_fails_closed_on_a_store_error),
		cmocka_unit_test(repeated_stop_keeps_the_first_time),
		cmocka_unit_test(inactive_campaign_denied_by_default),
		cmocka_unit_test(operator_optin_needs_override_after_own_stop),
		cmocka_unit_test(future_event_time_cannot_shadow_a_later_stop),
		cmocka_unit_test(campaign_settings_typos_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
