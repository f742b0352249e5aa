/* SPDX-License-Identifier: Apache-2.0 */
/* The pre-send check: every reason, every scope, the confirmation window,
 * START lifting STOP, batch equals single. */
#include "testutil.h"

#define OURS "+14155550100"
#define OTHER "+14155550199"  /* same campaign, other number */
#define THEM "+14155552671"

static const char campaign_active[] =
	"{\"campaignId\":\"CAMP1\",\"brandId\":\"BRAND1\",\"status\":\"ACTIVE\",\"usecase\":\"MARKETING\","
	"\"brandName\":\"Acme\"}";
static const char campaign_optin[] =
	"{\"campaignId\":\"CAMP2\",\"brandId\":\"BRAND1\",\"status\":\"ACTIVE\",\"subscriberOptin\":true}";
static const char campaign_expired[] = "{\"campaignId\":\"CAMP3\",\"brandId\":\"BRAND2\",\"status\":\"EXPIRED\"}";

typedef struct fixture {
	char *dir;
	sg_engine *e;
} fixture;

static sg_engine *open_registered(fixture *f, const sg_policy *pol)
{
	f->dir = tu_mkdtemp();
	f->e = tu_open(f->dir, 0, pol);
	const char *detail = NULL;
	assert_int_equal(sg_campaign_put_json(f->e, campaign_active, strlen(campaign_active), &detail), 0);
	assert_int_equal(sg_campaign_put_json(f->e, campaign_optin, strlen(campaign_optin), &detail), 0);
	assert_int_equal(sg_campaign_put_json(f->e, campaign_expired, strlen(campaign_expired), &detail), 0);
	assert_int_equal(sg_sender_put(f->e, OURS, "CAMP1", "MG-pool-1"), 0);
	assert_int_equal(sg_sender_put(f->e, OTHER, "CAMP1", NULL), 0);
	assert_int_equal(sg_sender_put(f->e, "+14155550300", "CAMP2", NULL), 0);
	assert_int_equal(sg_sender_put(f->e, "+14155550400", "CAMP3", NULL), 0);
	return f->e;
}

static void campaign_fields_are_typed(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	const char *detail = NULL;
	static const char *const bad[] = {
		"{\"campaignId\":\"C1\",\"status\":42}",
		"{\"campaignId\":\"C1\",\"optoutKeywords\":[\"STOP\"]}",
		"{\"campaignId\":\"C1\",\"subscriberOptin\":{}}",
		"{\"campaignId\":7}",
		"[1,2]",
		"{\"campaignId\":\"C1\",\"stopgate\":{\"optoutScope\":\"global\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		detail = NULL;
		assert_int_equal(sg_campaign_put_json(e, bad[i], strlen(bad[i]), &detail), SG_EJSON);
		assert_non_null(detail);
	}
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.campaigns, 0);
	int dead = -1;
	assert_int_equal(sg_engine_check_readers(e, &dead), 0);
	assert_int_equal(dead, 0);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void close_fixture(fixture *f)
{
	sg_engine_close(f->e);
	tu_rmdir(f->dir);
}

static sg_verdict check(sg_engine *e, const char *from, const char *to, sg_purpose p)
{
	sg_verdict v;
	assert_int_equal(sg_check(e, from, to, p, &v), 0);
	return v;
}

static void issue_example_national_number(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", "+14155552671", 0, NULL);
	sg_verdict v = check(e, "+14155550100", "4155552671", 0);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	assert_int_equal(v.scope, SG_SCOPE_SENDER);
	assert_string_equal(v.scope_id, "+14155550100");
	assert_true(v.since_us > 0);
	assert_int_equal(v.seq, 1);
	/* other spellings of the same person are the same key */
	assert_false(check(e, "(415) 555-0100", "+1 (415) 555-2671", 0).allow);
	assert_false(check(e, "tel:+14155550100", "１４１５５５５２６７１", 0).allow);
	/* someone else, or another sender, is allowed */
	assert_true(check(e, "+14155550100", "+14155552672", 0).allow);
	assert_true(check(e, "+14155550101", "+14155552671", 0).allow);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void invalid_numbers(void **state)
{
	(void)state;
	fixture f;
	sg_engine *e = open_registered(&f, NULL);
	sg_verdict v = check(e, OURS, "not a number", 0);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_INVALID_NUMBER);
	v = check(e, "", THEM, 0);
	assert_int_equal(v.reason, SG_REASON_INVALID_NUMBER);
	v = check(e, OURS, "+1415555267", 0); /* too short for +1 */
	assert_int_equal(v.reason, SG_REASON_INVALID_NUMBER);
	close_fixture(&f);
}

static void registration_policy(void **state)
{
	(void)state;
	sg_policy pol;
	sg_policy_default(&pol);
	pol.require_registered = true;
	fixture f;
	sg_engine *e = open_registered(&f, &pol);
	assert_true(check(e, OURS, THEM, 0).allow);
	sg_verdict v = check(e, "+14155550999", THEM, 0);
	assert_int_equal(v.reason, SG_REASON_SENDER_UNREGISTERED);
	v = check(e, "+14155550400", THEM, 0);
	assert_int_equal(v.reason, SG_REASON_CAMPAIGN_INACTIVE);
	/* a sender attached to a campaign nobody registered */
	assert_int_equal(sg_sender_put(e, "+14155550500", "NOPE", NULL), 0);
	v = check(e, "+14155550500", THEM, 0);
	assert_int_equal(v.reason, SG_REASON_CAMPAIGN_INACTIVE);
	close_fixture(&f);
	/* without the policy, unregistered senders pass */
	e = open_registered(&f, NULL);
	assert_true(check(e, "+14155550999", THEM, 0).allow);
	close_fixture(&f);
}

static void not_sms_capable_is_not_an_opt_out(void **state)
{
	(void)state;
	fixture f;
	sg_engine *e = open_registered(&f, NULL);
	sg_event_in ev = {.size = sizeof(sg_event_in), .action = SG_ACTION_FLAG_NOT_SMS_CAPABLE, .source = SG_SOURCE_PROVIDER_SIGNAL,
			  .sender = OURS, .recipient = THEM, .provider = "twilio", .rule = "30006"};
	sg_event_out o;
	assert_int_equal(sg_record(e, &ev, 1, &o), 0);
	sg_verdict v = check(e, OURS, THEM, 0);
	assert_int_equal(v.reason, SG_REASON_NOT_SMS_CAPABLE);
	/* every sender is affected: it is a property of the number */
	assert_int_equal(check(e, "+19995550000", THEM, 0).reason, SG_REASON_NOT_SMS_CAPABLE);
	sg_recipient_flag fl;
	assert_int_equal(sg_recipient_flag_get(e, THEM, &fl), 0);
	assert_true(fl.not_sms_capable);
	assert_string_equal(fl.code, "30006");
	sg_stats st;
	assert_int_equal(sg_stats_get(e, &st), 0);
	assert_int_equal(st.opted_out, 0);
	/* an opt-in does not clear it; the clear action does */
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	assert_int_equal(check(e, OURS, THEM, 0).reason, SG_REASON_NOT_SMS_CAPABLE);
	tu_record(e, SG_ACTION_CLEAR_NOT_SMS_CAPABLE, SG_SOURCE_OPERATOR, OURS, THEM, 0, NULL);
	assert_true(check(e, OURS, THEM, 0).allow);
	close_fixture(&f);
}

static void every_scope_encloses(void **state)
{
	(void)state;
	struct {
		sg_scope_kind scope;
		const char *id;
		bool blocks_other_number; /* OTHER shares the campaign and brand, not the pool */
		bool blocks_other_brand;  /* +14155550400 is brand BRAND2 */
	} cases[] = {
		{SG_SCOPE_SENDER, NULL, false, false},
		{SG_SCOPE_GROUP, NULL, false, false},
		{SG_SCOPE_CAMPAIGN, NULL, true, false},
		{SG_SCOPE_BRAND, NULL, true, false},
		{SG_SCOPE_GLOBAL, "", true, true},
	};
	sg_policy pol;
	sg_policy_default(&pol);
	pol.allow_inactive_campaigns = true; /* +14155550400's campaign CAMP3 is EXPIRED */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fixture f;
		sg_engine *e = open_registered(&f, &pol);
		sg_event_out o = tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR,
					   cases[i].scope == SG_SCOPE_GLOBAL ? NULL : OURS, THEM, cases[i].scope,
					   cases[i].id);
		assert_int_equal(o.status, 0);
		sg_verdict v = check(e, OURS, THEM, 0);
		assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
		assert_int_equal(v.scope, cases[i].scope);
		assert_int_equal(check(e, OTHER, THEM, 0).allow, !cases[i].blocks_other_number);
		assert_int_equal(check(e, "+14155550400", THEM, 0).allow, !cases[i].blocks_other_brand);
		close_fixture(&f);
	}
}

static void default_scope_is_campaign_when_registered(void **state)
{
	(void)state;
	fixture f;
	sg_engine *e = open_registered(&f, NULL);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	sg_verdict v = check(e, OURS, THEM, 0);
	assert_int_equal(v.scope, SG_SCOPE_CAMPAIGN);
	assert_string_equal(v.scope_id, "CAMP1");
	assert_false(check(e, OTHER, THEM, 0).allow); /* same campaign */
	/* START to the other number of the campaign lifts it */
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, OTHER, THEM, 0, NULL);
	assert_true(check(e, OURS, THEM, 0).allow);
	close_fixture(&f);
}

static void start_lifts_every_enclosing_level_but_global(void **state)
{
	(void)state;
	fixture f;
	sg_engine *e = open_registered(&f, NULL);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, SG_SCOPE_SENDER, NULL);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, SG_SCOPE_BRAND, NULL);
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	assert_true(check(e, OURS, THEM, 0).allow);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, NULL, THEM, SG_SCOPE_GLOBAL, "");
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	sg_verdict v = check(e, OURS, THEM, 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	assert_int_equal(v.scope, SG_SCOPE_GLOBAL);
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_OPERATOR, NULL, THEM, SG_SCOPE_GLOBAL, "");
	assert_true(check(e, OURS, THEM, 0).allow);
	close_fixture(&f);
}

static void no_consent_policy(void **state)
{
	(void)state;
	sg_policy pol;
	sg_policy_default(&pol);
	pol.require_optin = true;
	fixture f;
	sg_engine *e = open_registered(&f, &pol);
	/* CAMP2 requires opt-in (subscriberOptin); CAMP1 does not */
	assert_int_equal(check(e, "+14155550300", THEM, 0).reason, SG_REASON_NO_CONSENT);
	assert_true(check(e, OURS, THEM, 0).allow);
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, "+14155550300", THEM, 0, NULL);
	assert_true(check(e, "+14155550300", THEM, 0).allow);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, "+14155550300", THEM, 0, NULL);
	assert_int_equal(check(e, "+14155550300", THEM, 0).reason, SG_REASON_OPTED_OUT);
	close_fixture(&f);
}

static void one_confirmation_within_the_window(void **state)
{
	(void)state;
	fixture f;
	sg_engine *e = open_registered(&f, NULL);
	uint64_t seq, registry_events;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &registry_events, h), 0); /* the registry's changes are events too */
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	assert_false(check(e, OURS, THEM, SG_PURPOSE_MESSAGE).allow);
	sg_verdict v = check(e, OURS, THEM, SG_PURPOSE_OPTOUT_CONFIRM);
	assert_true(v.allow);
	assert_true(v.confirmation);
	/* claimed: the second confirmation is denied */
	v = check(e, OURS, THEM, SG_PURPOSE_OPTOUT_CONFIRM);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	/* the claim is an audit event */
	assert_int_equal(sg_head(e, &seq, h), 0);
	assert_int_equal(seq, registry_events + 2);
	/* HELP after the opt-out: one HELP reply */
	tu_record(e, SG_ACTION_HELP, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	assert_true(check(e, OURS, THEM, SG_PURPOSE_HELP_REPLY).allow);
	assert_false(check(e, OURS, THEM, SG_PURPOSE_HELP_REPLY).allow);
	assert_false(check(e, OURS, THEM, SG_PURPOSE_MESSAGE).allow);
	close_fixture(&f);
}

static void confirmation_window_expires(void **state)
{
	(void)state;
	sg_policy pol;
	sg_policy_default(&pol);
	pol.confirm_window_us = 200000; /* 0.2 s */
	fixture f;
	sg_engine *e = open_registered(&f, &pol);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	usleep(300000);
	assert_false(check(e, OURS, THEM, SG_PURPOSE_OPTOUT_CONFIRM).allow);
	close_fixture(&f);
}

static void batch_equals_single(void **state)
{
	(void)state;
	fixture f;
	sg_engine *e = open_registered(&f, NULL);
	char nums[300][32];
	const char *to[300];
	for (int i = 0; i < 300; i++) {
		snprintf(nums[i], sizeof(nums[i]), "+1212555%04d", i);
		to[i] = nums[i];
		if (i % 7 == 0)
			tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, nums[i], 0, NULL);
	}
	nums[5][3] = 'x'; /* one invalid */
	sg_verdict out[300];
	assert_int_equal(sg_check_batch(e, OURS, to, 300, 0, out), 0);
	for (int i = 0; i < 300; i++) {
		sg_verdict one = check(e, OURS, to[i], 0);
		assert_int_equal(out[i].allow, one.allow);
		assert_int_equal(out[i].reason, one.reason);
		if (i == 5)
			assert_int_equal(out[i].reason, SG_REASON_INVALID_NUMBER);
		else
			assert_int_equal(out[i].allow, i % 7 != 0);
	}
	close_fixture(&f);
}

/* keywords_dir "none": an engine that checks and records but does not
 * classify (a gateway's send path); a clear error where it would. */
static void check_only_engine_without_keywords(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open_kw(dir, "none");
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", "+14155552671", 0, NULL);
	sg_verdict v;
	assert_int_equal(sg_check(e, "+14155550100", "+14155552671", SG_PURPOSE_MESSAGE, &v), 0);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	sg_classification c;
	assert_int_equal(sg_classify(e, NULL, "STOP", 4, &c), SG_ENOKEYWORDS);
	assert_non_null(strstr(sg_strerror(SG_ENOKEYWORDS), "without keyword rules"));
	sg_inbound_msg m = {.size = sizeof(m), .id = "m1", .from = "+14155552672", .to = "+14155550100",
			    .body = "STOP", .body_len = 4};
	sg_decision *d = NULL;
	assert_int_equal(sg_inbound(e, &m, &d, NULL), SG_ENOKEYWORDS);
	assert_null(d);
	assert_int_equal(sg_check(e, "+14155550100", "+14155552672", SG_PURPOSE_MESSAGE, &v), 0);
	assert_true(v.allow); /* nothing recorded from the refused message */
	char ver[SG_KWVERSION_MAX];
	sg_keywords_version(e, ver);
	assert_string_equal(ver, "");
	assert_int_equal(sg_engine_reload(e), 0); /* still none */
	assert_int_equal(sg_classify(e, NULL, "STOP", 4, &c), SG_ENOKEYWORDS);
	sg_engine_close(e);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(issue_example_national_number),
		cmocka_unit_test(campaign_fields_are_typed),
		cmocka_unit_test(invalid_numbers),
		cmocka_unit_test(check_only_engine_without_keywords),
		cmocka_unit_test(registration_policy),
		cmocka_unit_test(not_sms_capable_is_not_an_opt_out),
		cmocka_unit_test(every_scope_encloses),
		cmocka_unit_test(default_scope_is_campaign_when_registered),
		cmocka_unit_test(start_lifts_every_enclosing_level_but_global),
		cmocka_unit_test(no_consent_policy),
		cmocka_unit_test(one_confirmation_within_the_window),
		cmocka_unit_test(confirmation_window_expires),
		cmocka_unit_test(batch_equals_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
