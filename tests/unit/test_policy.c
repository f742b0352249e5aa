/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consent policy as a library call (engine/policy/policy.c): what an embedding
 * gateway gets without the daemon — the classification, the provider's own
 * word, the campaign's "probable" setting, the sender group, a message
 * without our number, long ids and texts, provider status signals. Real
 * LMDB, real keyword set.
 */
#include <string.h>

#include "testutil.h"

#define OURS "+14155550100"
#define THEM "+14155552671"

static sg_verdict check(sg_engine *e, const char *from, const char *to)
{
	sg_verdict v;
	assert_int_equal(sg_check(e, from, to, SG_PURPOSE_MESSAGE, &v), 0);
	return v;
}

static sg_decision *inbound(sg_engine *e, const sg_inbound_msg *m, sg_event_out out[2])
{
	sg_decision *d = NULL;
	assert_int_equal(sg_inbound(e, m, &d, out), 0);
	assert_non_null(d);
	return d;
}

static void a_stop_is_recorded_and_answered(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_out out[2];
	sg_inbound_msg m = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = "m1", .from = "4155552671", .to = OURS, .body = "Stop", .body_len = 4};
	sg_decision *d = inbound(e, &m, out);
	assert_int_equal(sg_decision_action(d), SG_ACTION_OPT_OUT);
	assert_int_equal(sg_decision_intent(d), SG_INTENT_OPT_OUT);
	assert_non_null(sg_decision_reply(d));
	assert_string_equal(sg_decision_sender(d), OURS);
	assert_string_equal(sg_decision_recipient(d), THEM); /* read with our number's country */
	assert_int_equal(out[0].status, 0);
	assert_true(out[0].seq > 0);
	sg_decision_free(d);
	assert_int_equal(check(e, OURS, THEM).reason, SG_REASON_OPTED_OUT);
	/* the retry is a duplicate */
	d = inbound(e, &m, out);
	assert_true(out[0].duplicate);
	sg_decision_free(d);
	/* ordinary text: a de-duplication marker only, no event */
	sg_inbound_msg hi = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = "m2", .from = THEM, .to = OURS, .body = "thanks!", .body_len = 7};
	d = inbound(e, &hi, out);
	assert_int_equal(sg_decision_action(d), SG_ACTION_NONE);
	assert_int_equal(out[0].seq, 0);
	sg_decision_free(d);
	/* a garbled handset is kept under raw: */
	sg_inbound_msg raw = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = "m3", .from = "+1 (415) ???", .to = OURS, .body = "STOP", .body_len = 4};
	d = inbound(e, &raw, out);
	assert_true(sg_decision_quarantined(d));
	assert_int_equal(strncmp(sg_decision_recipient(d), "raw:", 4), 0);
	assert_int_equal(out[0].status, 0);
	sg_decision_free(d);
	/* our number unusable: an error, nothing recorded */
	sg_inbound_msg bad = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = "m4", .from = THEM, .to = "12", .body = "STOP", .body_len = 4};
	assert_int_equal(sg_decide_inbound(e, &bad, &d), SG_ENUMBER);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void the_provider_word_and_its_sender_group_count(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	assert_int_equal(sg_sender_put(e, "+14155550101", NULL, "MG-pool"), 0);
	sg_event_out out[2];
	/* the classifier reads nothing, the provider says it treated it as STOP
	 * for its whole Messaging Service */
	sg_inbound_msg m = {.size = sizeof(sg_inbound_msg), .provider = "twilio", .id = "SM1", .from = THEM, .to = OURS, .body = "quit it", .body_len = 7,
			    .provider_intent = SG_INTENT_OPT_OUT, .provider_rule = "OptOutType:STOP",
			    .provider_group = "MG-pool", .dedup_key = "twilio:AC1:in:SM1"};
	sg_decision *d = inbound(e, &m, out);
	size_t n;
	const sg_event_in *ev = sg_decision_events(d, &n);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].source, SG_SOURCE_PROVIDER_SIGNAL);
	assert_string_equal(ev[0].rule, "OptOutType:STOP");
	assert_int_equal(ev[1].scope, SG_SCOPE_GROUP);
	assert_string_equal(ev[1].scope_id, "MG-pool");
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[1].status, 0);
	sg_decision_free(d);
	/* another number of the pool is blocked too */
	sg_verdict v = check(e, "+14155550101", THEM);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	assert_int_equal(v.scope, SG_SCOPE_GROUP);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void the_campaign_probable_setting_is_read_from_the_registry(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	static const char camp[] = "{\"campaignId\":\"CR\",\"status\":\"ACTIVE\",\"stopgate\":{\"probable\":\"review\"}}";
	const char *detail;
	assert_int_equal(sg_campaign_put_json(e, camp, strlen(camp), &detail), 0);
	assert_int_equal(sg_sender_put(e, "+14155550102", "CR", NULL), 0);
	/* The classifier says how certain it is; the policy (the campaign's
	 * setting, else the engine's) says what a probable one does. */
	static const char *const texts[] = {"I said stop", "stop it already lol", "ok whatever, stop", "STOP"};
	int probable = 0;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		sg_classification cls;
		assert_int_equal(sg_classify(e, "CR", texts[i], strlen(texts[i]), &cls), 0);
		assert_int_equal(cls.intent, SG_INTENT_OPT_OUT);
		bool prob = cls.confidence == SG_CONF_PROBABLE;
		probable += prob;
		for (int in_campaign = 0; in_campaign < 2; in_campaign++) {
			char id[16], handset[16];
			snprintf(id, sizeof(id), "p%zu-%d", i, in_campaign);
			snprintf(handset, sizeof(handset), "+1415555%04zu", 2700 + i * 2 + (size_t)in_campaign);
			sg_event_out out[2];
			sg_inbound_msg m = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = id, .from = handset,
					    .to = in_campaign ? "+14155550102" : OURS, .body = texts[i],
					    .body_len = strlen(texts[i])};
			sg_decision *d = inbound(e, &m, out);
			sg_action want = prob && in_campaign ? SG_ACTION_REVIEW : SG_ACTION_OPT_OUT;
			assert_int_equal(sg_decision_action(d), want);
			assert_int_equal(out[0].status, 0);
			if (want == SG_ACTION_REVIEW) {
				assert_null(sg_decision_reply(d)); /* consent unchanged: no confirmation */
				assert_true(check(e, m.to, handset).allow);
			} else {
				assert_int_equal(check(e, m.to, handset).reason, SG_REASON_OPTED_OUT);
			}
			sg_decision_free(d);
		}
	}
	assert_true(probable > 0); /* the review branch was taken */
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void nothing_in_a_message_makes_it_be_dropped(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_event_out out[2];
	/* no number of ours: the opt-out is kept under the quarantine sender */
	sg_inbound_msg m = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = "n1", .from = THEM, .to = NULL, .body = "STOP", .body_len = 4};
	sg_decision *d = inbound(e, &m, out);
	assert_true(sg_decision_no_our_number(d));
	assert_string_equal(sg_decision_sender(d), "raw:");
	assert_int_equal(sg_decision_action(d), SG_ACTION_OPT_OUT);
	assert_int_equal(out[0].status, 0);
	assert_true(out[0].seq > 0);
	sg_decision_free(d);
	/* ... and nothing else is */
	m.id = "n2";
	m.body = "see you at 5";
	m.body_len = strlen(m.body);
	d = inbound(e, &m, out);
	size_t n;
	sg_decision_events(d, &n);
	assert_int_equal(n, 0);
	sg_decision_free(d);
	/* a 40,000-byte text ending in a request, with a 3,000-byte id */
	static char big[40000 + 32], id[3001];
	for (size_t i = 0; i + 5 <= 40000; i += 5)
		memcpy(big + i, "word ", 5);
	memcpy(big + 40000, "please stop texting me", 22);
	memset(id, 'x', 3000);
	sg_inbound_msg l = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = id, .from = "+14155552672", .to = OURS, .body = big,
			    .body_len = 40022};
	d = inbound(e, &l, out);
	assert_int_equal(sg_decision_action(d), SG_ACTION_OPT_OUT);
	const sg_event_in *ev = sg_decision_events(d, &n);
	assert_int_equal(ev[0].body_len, SG_BODY_STORE_MAX);
	assert_non_null(strstr(ev[0].note, "body_truncated"));
	assert_non_null(strstr(ev[0].note, "provider_id_truncated"));
	assert_int_equal(strlen(ev[0].provider_msg_id), 1024);
	assert_int_equal(out[0].status, 0);
	sg_decision_free(d);
	d = inbound(e, &l, out);
	assert_true(out[0].duplicate); /* the whole id, hashed, is the key */
	sg_decision_free(d);
	/* broken UTF-8 */
	static const char broken[] = "\xff STOP \xfe";
	sg_inbound_msg b = {.size = sizeof(sg_inbound_msg), .provider = "gw", .id = "u1", .from = "+14155552673", .to = OURS, .body = broken,
			    .body_len = sizeof(broken) - 1};
	d = inbound(e, &b, out);
	assert_int_equal(sg_decision_action(d), SG_ACTION_OPT_OUT);
	sg_decision_free(d);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void provider_signals(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_decision *d;
	sg_event_out out[2];
	size_t n;
	/* 21610 without our number: global, a lost opt-out is worse */
	sg_signal_msg s = {.size = sizeof(sg_signal_msg), .provider = "twilio", .id = "SM9", .dedup_key = "twilio:AC1:st:SM9:21610",
			   .handset = THEM, .kind = SG_SIGNAL_OPT_OUT, .code = "21610", .status = "undelivered",
			   .account = "AC1"};
	assert_int_equal(sg_decide_signal(e, &s, &d), 0);
	const sg_event_in *ev = sg_decision_events(d, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].scope, SG_SCOPE_GLOBAL);
	assert_int_equal(ev[0].source, SG_SOURCE_PROVIDER_SIGNAL);
	assert_string_equal(ev[0].rule, "21610");
	assert_int_equal(sg_record(e, ev, n, out), 0);
	assert_int_equal(out[0].status, 0);
	sg_decision_free(d);
	assert_int_equal(check(e, "+14155550999", THEM).reason, SG_REASON_OPTED_OUT);
	/* a landline flag, with our number */
	sg_signal_msg f = {.size = sizeof(sg_signal_msg), .provider = "twilio", .handset = "+14155552680", .our_number = OURS,
			   .kind = SG_SIGNAL_NOT_SMS_CAPABLE, .code = "30006"};
	assert_int_equal(sg_decide_signal(e, &f, &d), 0);
	ev = sg_decision_events(d, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ev[0].action, SG_ACTION_FLAG_NOT_SMS_CAPABLE);
	assert_int_equal(sg_record(e, ev, n, out), 0);
	sg_decision_free(d);
	assert_int_equal(check(e, OURS, "+14155552680").reason, SG_REASON_NOT_SMS_CAPABLE);
	/* delivered: nothing */
	sg_signal_msg ok = {.size = sizeof(sg_signal_msg), .provider = "twilio", .handset = THEM, .our_number = OURS, .kind = SG_SIGNAL_OTHER};
	assert_int_equal(sg_decide_signal(e, &ok, &d), 0);
	sg_decision_events(d, &n);
	assert_int_equal(n, 0);
	sg_decision_free(d);
	sg_engine_close(e);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_stop_is_recorded_and_answered),
		cmocka_unit_test(the_provider_word_and_its_sender_group_count),
		cmocka_unit_test(the_campaign_probable_setting_is_read_from_the_registry),
		cmocka_unit_test(nothing_in_a_message_makes_it_be_dropped),
		cmocka_unit_test(provider_signals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
