/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The review queue (engine/store/review.c): probable revocations held for
 * review are listed from the index, page by page; a resolution is an event
 * that names the review, the decision, who and why; opt_out records the
 * opt-out at the review's scope, ordered by when the person wrote; a review
 * is resolved once; a resolution that does not repeat its review's person,
 * scope and time is refused; the index survives reopening. Real LMDB,
 * real keyword set.
 */
#include <errno.h>
#include <string.h>

#include "testutil.h"

#define OURS "+14155550100"

static sg_engine *open_review(const char *dir)
{
	sg_policy p;
	sg_policy_default(&p);
	p.probable = SG_PROBABLE_REVIEW;
	return tu_open(dir, 0, &p);
}

/* A probable revocation ("I said stop") from handset, held for review. */
static uint64_t held(sg_engine *e, const char *id, const char *handset, const char *text, int64_t when)
{
	sg_inbound_msg m = {.size = sizeof(m), .provider = "twilio", .id = id, .from = handset, .to = OURS, .body = text,
			    .body_len = strlen(text), .event_time_us = when};
	sg_decision *d;
	sg_event_out out[2];
	assert_int_equal(sg_inbound(e, &m, &d, out), 0);
	assert_int_equal(sg_decision_action(d), SG_ACTION_REVIEW);
	sg_decision_free(d);
	assert_int_equal(out[0].status, 0);
	return out[0].seq;
}

static bool allowed(sg_engine *e, const char *to)
{
	sg_verdict v;
	assert_int_equal(sg_check(e, OURS, to, SG_PURPOSE_MESSAGE, &v), 0);
	return v.allow;
}

typedef struct page {
	uint64_t seq[16];
	char body[16][64];
	size_t n;
} page;

static int on_pending(const sg_event *ev, void *ctx)
{
	page *p = ctx;
	assert_int_equal(ev->action, SG_ACTION_REVIEW);
	assert_true(p->n < 16);
	p->seq[p->n] = ev->seq;
	snprintf(p->body[p->n], sizeof(p->body[0]), "%.*s", ev->body ? (int)ev->body_len : 0, ev->body ? ev->body : "");
	p->n++;
	return 0;
}

static page pending(sg_engine *e, uint64_t after, size_t max, uint64_t *next)
{
	page p = {0};
	assert_int_equal(sg_reviews_pending(e, after, max, on_pending, &p, next), 0);
	return p;
}

typedef struct found {
	uint64_t seq;
	sg_event ev;
	char rule[64], note[2048], recipient[SG_KEY_MAX];
} found;

static int on_one(const sg_event *ev, void *ctx)
{
	found *f = ctx;
	if (ev->seq != f->seq)
		return 0;
	f->ev = *ev;
	snprintf(f->rule, sizeof(f->rule), "%s", ev->rule ? ev->rule : "");
	snprintf(f->note, sizeof(f->note), "%s", ev->note ? ev->note : "");
	snprintf(f->recipient, sizeof(f->recipient), "%s", ev->recipient ? ev->recipient : "");
	f->ev.rule = f->rule;
	f->ev.note = f->note;
	f->ev.recipient = f->recipient;
	return 1;
}

/* f's pointers point into f itself: fill it in place */
static void event_at(sg_engine *e, uint64_t seq, found *f)
{
	memset(f, 0, sizeof(*f));
	f->seq = seq;
	assert_int_equal(sg_events_read(e, seq, 1, on_one, f, NULL), 1);
}

static void pending_reviews_are_listed_page_by_page(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_review(dir);
	uint64_t s[5];
	char handset[16], id[8];
	for (int i = 0; i < 5; i++) {
		snprintf(handset, sizeof(handset), "+1415555%04d", 3000 + i);
		snprintf(id, sizeof(id), "r%d", i);
		s[i] = held(e, id, handset, "I said stop", 0);
		tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, OURS, "+14155559999", 0, NULL); /* not a review */
	}
	uint64_t next = 99;
	page p = pending(e, 0, 2, &next);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.seq[0], s[0]);
	assert_int_equal(p.seq[1], s[1]);
	assert_string_equal(p.body[0], "I said stop");
	assert_int_equal(next, s[1]);
	p = pending(e, next, 2, &next);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.seq[0], s[2]);
	assert_int_equal(next, s[3]);
	p = pending(e, next, 2, &next);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.seq[0], s[4]);
	assert_int_equal(next, 0); /* the last page */
	p = pending(e, 0, 16, &next);
	assert_int_equal(p.n, 5);
	assert_int_equal(next, 0);
	/* after the last one: nothing */
	assert_int_equal(pending(e, s[4], 16, &next).n, 0);
	uint64_t res = 99;
	assert_int_equal(sg_review_state(e, s[2], &res), 0);
	assert_int_equal(res, 0);
	assert_int_equal(sg_review_state(e, s[2] + 1, &res), SG_ENOTFOUND); /* an opt-out, no review */
	assert_int_equal(sg_review_state(e, 1000, &res), SG_ENOTFOUND);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void opt_out_records_the_opt_out_where_the_review_held_it(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_review(dir);
	const char *them = "+14155553001", *other = "+14155553002";
	uint64_t r1 = held(e, "a", them, "I said stop", 0), r2 = held(e, "b", other, "I said stop", 0);
	assert_true(allowed(e, them)); /* held: consent unchanged */
	uint64_t seq = 0;
	const char *detail = NULL;
	assert_int_equal(sg_review_resolve(e, r1, SG_REVIEW_OPT_OUT, "Dana Q.", "clear revocation; \"stop\" twice",
					   &seq, &detail), 0);
	assert_true(seq > r2);
	assert_false(allowed(e, them));
	sg_verdict v;
	assert_int_equal(sg_check(e, OURS, them, SG_PURPOSE_MESSAGE, &v), 0);
	assert_int_equal(v.seq, seq);
	/* the resolution event carries the decision, who, why and the review */
	found f, rv;
	event_at(e, seq, &f);
	assert_int_equal(f.ev.action, SG_ACTION_REVIEW_RESOLVED);
	assert_int_equal(f.ev.source, SG_SOURCE_OPERATOR);
	assert_string_equal(f.rule, "review:opt_out");
	assert_string_equal(f.recipient, them);
	event_at(e, r1, &rv);
	assert_int_equal(f.ev.event_time_us, rv.ev.event_time_us); /* when the person wrote */
	sg_review_resolution res;
	assert_int_equal(sg_review_resolution_read(&f.ev, &res), 0);
	assert_int_equal(res.review_seq, r1);
	assert_int_equal(res.decision, SG_REVIEW_OPT_OUT);
	assert_string_equal(res.by, "Dana Q.");
	assert_string_equal(res.note, "clear revocation; \"stop\" twice");
	assert_int_equal(sg_review_resolution_read(&rv.ev, &res), SG_ENOTFOUND);
	/* resolved once: a second resolution is refused, nothing recorded */
	uint64_t head, state_seq;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &head, h), 0);
	assert_int_equal(sg_review_resolve(e, r1, SG_REVIEW_NONE, "Eve", "changed my mind", &seq, NULL), SG_ERESOLVED);
	assert_int_equal(sg_head(e, &state_seq, h), 0);
	assert_int_equal(state_seq, head);
	assert_int_equal(sg_review_state(e, r1, &state_seq), 0);
	assert_int_equal(state_seq, head);
	/* only the other one is pending */
	uint64_t next;
	page p = pending(e, 0, 16, &next);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.seq[0], r2);
	/* the opt-out is the person's own: an API opt-in needs the override */
	sg_event_in in = {.size = sizeof(in), .action = SG_ACTION_OPT_IN, .source = SG_SOURCE_API, .sender = OURS, .recipient = them};
	sg_event_out out;
	assert_int_equal(sg_record(e, &in, 1, &out), 0);
	assert_int_equal(out.status, SG_ECONSENT);
	/* none: consent unchanged, the review resolved all the same */
	assert_int_equal(sg_review_resolve(e, r2, SG_REVIEW_NONE, "Dana Q.", "asked about a bus stop", &seq, NULL), 0);
	assert_true(allowed(e, other));
	event_at(e, seq, &f);
	assert_string_equal(f.rule, "review:none");
	assert_int_equal(pending(e, 0, 16, &next).n, 0);
	/* not a review event, or no event at all */
	assert_int_equal(sg_review_resolve(e, seq, SG_REVIEW_OPT_OUT, "Dana", "x", NULL, NULL), SG_ENOTFOUND);
	assert_int_equal(sg_review_resolve(e, 10000, SG_REVIEW_OPT_OUT, "Dana", "x", NULL, NULL), SG_ENOTFOUND);
	/* the log still verifies */
	sg_verify_result vr;
	assert_int_equal(sg_verify(e, &vr), 0);
	assert_true(vr.ok);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void a_later_start_wins_over_an_older_message_resolved_later(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_review(dir);
	const char *them = "+14155553003";
	int64_t t0 = 1764000000000000;
	uint64_t r = held(e, "a", them, "I said stop", t0);
	sg_inbound_msg m = {.size = sizeof(m), .provider = "twilio", .id = "b", .from = them, .to = OURS, .body = "START",
			    .body_len = 5, .event_time_us = t0 + 60000000};
	sg_decision *d;
	sg_event_out out[2];
	assert_int_equal(sg_inbound(e, &m, &d, out), 0);
	sg_decision_free(d);
	uint64_t seq;
	assert_int_equal(sg_review_resolve(e, r, SG_REVIEW_OPT_OUT, "Dana", "revocation", &seq, NULL), 0);
	assert_true(allowed(e, them)); /* the START came after the message */
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void bad_input_is_refused_with_the_field_named(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_review(dir);
	uint64_t r = held(e, "a", "+14155553004", "I said stop", 0);
	char longby[SG_REVIEW_BY_MAX + 2], longnote[SG_REVIEW_NOTE_MAX + 2];
	memset(longby, 'b', sizeof(longby) - 1);
	longby[sizeof(longby) - 1] = '\0';
	memset(longnote, 'n', sizeof(longnote) - 1);
	longnote[sizeof(longnote) - 1] = '\0';
	struct {
		sg_review_decision d;
		const char *by, *note, *field;
		int rc;
	} bad[] = {
		{SG_REVIEW_OPT_OUT, NULL, "why", "by:", -EINVAL},
		{SG_REVIEW_OPT_OUT, "", "why", "by:", -EINVAL},
		{SG_REVIEW_OPT_OUT, "a;b", "why", "by:", -EINVAL},
		{SG_REVIEW_OPT_OUT, "a\nb", "why", "by:", -EINVAL},
		{SG_REVIEW_OPT_OUT, longby, "why", "by:", SG_ETOOLONG},
		{SG_REVIEW_OPT_OUT, "\xff", "why", "by:", SG_EUTF8},
		{SG_REVIEW_OPT_OUT, "dana", NULL, "note:", -EINVAL},
		{SG_REVIEW_OPT_OUT, "dana", "a\x01", "note:", -EINVAL},
		{SG_REVIEW_OPT_OUT, "dana", longnote, "note:", SG_ETOOLONG},
		{(sg_review_decision)7, "dana", "why", "decision:", -EINVAL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *detail = NULL;
		assert_int_equal(sg_review_resolve(e, r, bad[i].d, bad[i].by, bad[i].note, NULL, &detail), bad[i].rc);
		assert_non_null(detail);
		assert_true(strncmp(detail, bad[i].field, strlen(bad[i].field)) == 0);
	}
	uint64_t next;
	assert_int_equal(pending(e, 0, 16, &next).n, 1); /* nothing was recorded */
	/* a note may hold tabs, newlines, ';' and "why=" */
	assert_int_equal(sg_review_resolve(e, r, SG_REVIEW_NONE, "dana", "a\tb\nc; why=d", NULL, NULL), 0);
	assert_int_equal(sg_review_decision_parse("opt_out", &bad[0].d), 0);
	assert_int_equal(bad[0].d, SG_REVIEW_OPT_OUT);
	assert_int_equal(sg_review_decision_parse("optout", &bad[0].d), -EINVAL);
	assert_string_equal(sg_review_decision_name(SG_REVIEW_NONE), "none");
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* A probable opt-in (the intent model's reading of a plain request to be
 * texted again) is never applied on the guess, whatever the policy: it
 * waits for a person, and their opt_in is the handset's own, lifting its
 * STOP as a START would. */
static void probable_opt_in_waits_for_a_person(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL); /* the default policy: probable opt-outs opt out */
	const char *them = "+14155553011", *text = "i want the texts again please";
	sg_classification c;
	assert_int_equal(sg_classify(e, NULL, text, strlen(text), &c), 0);
	if (c.intent != SG_INTENT_OPT_IN || c.confidence != SG_CONF_PROBABLE)
		fail_msg("\"%s\" is %s %s (%s): pick a probable opt-in of the shipped model", text,
			 sg_intent_name(c.intent), sg_confidence_name(c.confidence), c.rule);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, them, 0, NULL); /* their STOP */
	assert_false(allowed(e, them));
	uint64_t r = held(e, "in1", them, text, 0);
	assert_false(allowed(e, them)); /* held: still opted out */
	uint64_t next;
	page p = pending(e, 0, 16, &next);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.seq[0], r);
	uint64_t seq = 0;
	assert_int_equal(sg_review_resolve(e, r, SG_REVIEW_OPT_IN, "Dana Q.", "asked for the texts again", &seq, NULL), 0);
	assert_true(seq > r);
	assert_true(allowed(e, them));
	assert_int_equal(pending(e, 0, 16, &next).n, 0);
	sg_review_decision d;
	assert_int_equal(sg_review_decision_parse("opt_in", &d), 0);
	assert_int_equal(d, SG_REVIEW_OPT_IN);
	assert_string_equal(sg_review_decision_name(SG_REVIEW_OPT_IN), "opt_in");
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* sg_record is the one door: a resolution that does not match its review
 * (another person, scope or time), names no review, or has a malformed note
 * is refused, as is the second of two prepared concurrently. */
static void forged_and_concurrent_resolutions_are_refused(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_review(dir);
	const char *them = "+14155553005";
	uint64_t r = held(e, "a", them, "I said stop", 0);
	sg_review_request *a, *b;
	assert_int_equal(sg_review_prepare(e, r, SG_REVIEW_OPT_OUT, "ann", "one", &a, NULL), 0);
	assert_int_equal(sg_review_prepare(e, r, SG_REVIEW_NONE, "bob", "two", &b, NULL), 0);
	sg_event_in forged[5];
	for (int i = 0; i < 5; i++)
		forged[i] = *sg_review_request_event(a);
	forged[0].recipient = "+14155553999";
	forged[1].scope = SG_SCOPE_GLOBAL;
	forged[1].scope_id = "";
	forged[2].event_time_us += 1;
	forged[3].note = "review=1; by=ann";
	forged[4].rule = "review:maybe";
	sg_event_out out[5];
	assert_int_equal(sg_record(e, forged, 5, out), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(out[i].status, -EINVAL);
	assert_true(allowed(e, "+14155553999"));
	sg_event_in both[2] = {*sg_review_request_event(a), *sg_review_request_event(b)};
	assert_int_equal(sg_record(e, both, 2, out), 0);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[1].status, SG_ERESOLVED);
	assert_false(allowed(e, them));
	sg_review_request_free(a);
	sg_review_request_free(b);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void the_index_survives_reopening(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_review(dir);
	uint64_t r1 = held(e, "a", "+14155553006", "I said stop", 0), r2 = held(e, "b", "+14155553007", "I said stop", 0);
	uint64_t r3 = held(e, "c", "+14155553008", "I said stop", 0);
	uint64_t res2;
	assert_int_equal(sg_review_resolve(e, r2, SG_REVIEW_OPT_OUT, "dana", "yes", &res2, NULL), 0);
	sg_engine_close(e);
	e = open_review(dir);
	uint64_t next, st;
	page p = pending(e, 0, 16, &next);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.seq[0], r1);
	assert_int_equal(p.seq[1], r3);
	assert_int_equal(sg_review_state(e, r2, &st), 0);
	assert_int_equal(st, res2);
	assert_int_equal(sg_review_resolve(e, r2, SG_REVIEW_NONE, "x", "y", NULL, NULL), SG_ERESOLVED);
	assert_false(allowed(e, "+14155553007"));
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* (Readers, and the index built for a store from before it, are in
 * test_determinism: read-only engines cannot map under valgrind.) */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pending_reviews_are_listed_page_by_page),
		cmocka_unit_test(opt_out_records_the_opt_out_where_the_review_held_it),
		cmocka_unit_test(probable_opt_in_waits_for_a_person),
		cmocka_unit_test(a_later_start_wins_over_an_older_message_resolved_later),
		cmocka_unit_test(bad_input_is_refused_with_the_field_named),
		cmocka_unit_test(forged_and_concurrent_resolutions_are_refused),
		cmocka_unit_test(the_index_survives_reopening),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
