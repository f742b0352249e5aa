/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the check keeps between calls (issue 14): each thread's resolved
 * sender scopes (registry.c, checked against the registry version) and
 * its read txn (store.c, sg__rd_begin_keep: reused only while it is the
 * newest snapshot). Neither may hide a change: a registry change (a
 * sender moved to another campaign or brand, a new campaign) and a
 * recorded opt-out or opt-in are seen by the very next check, on the
 * thread that checked before and on another one, and every field of the
 * verdict is the one a thread that never checked before reports. A kept txn survives the
 * map's growth (the writer resets it first).
 */
#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include <pthread.h>

#include "testutil.h"

#define OURS "+14155550100"
#define OTHER "+14155550199"
#define THEM "+14155552671"
#define KNOWN "+14155552672" /* has a record, none of it ours */

static void put_campaign(sg_engine *e, const char *id, const char *brand)
{
	char json[256];
	snprintf(json, sizeof(json), "{\"campaignId\":\"%s\",\"brandId\":\"%s\",\"status\":\"ACTIVE\"}", id, brand);
	const char *detail = NULL;
	assert_int_equal(sg_campaign_put_json(e, json, strlen(json), &detail), 0);
}

static sg_verdict check(sg_engine *e, const char *from, const char *to)
{
	sg_verdict v;
	assert_int_equal(sg_check(e, from, to, SG_PURPOSE_MESSAGE, &v), 0);
	return v;
}

static void assert_opted_out(sg_verdict v, sg_scope_kind scope, const char *id, uint64_t seq)
{
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	assert_int_equal(v.scope, scope);
	assert_string_equal(v.scope_id, id);
	assert_int_equal(v.seq, seq);
	assert_true(v.since_us > 0);
}

static void assert_allowed(sg_verdict v)
{
	assert_true(v.allow);
	assert_int_equal(v.reason, SG_REASON_NONE);
	assert_int_equal(v.seq, 0);
}

/* The same verdict from a thread that never checked before (no cached
 * scopes, no kept txn: both are per thread): every field. */
typedef struct fresh_arg {
	sg_engine *e;
	const char *from, *to;
	sg_verdict v;
	int rc;
} fresh_arg;

static void *fresh_main(void *arg)
{
	fresh_arg *a = arg;
	a->rc = sg_check(a->e, a->from, a->to, SG_PURPOSE_MESSAGE, &a->v);
	return NULL;
}

/* Every field alike (not the bytes: scope_id past its NUL is not written). */
static void assert_same_verdict(sg_verdict f, sg_verdict v)
{
	assert_int_equal(f.allow, v.allow);
	assert_int_equal(f.reason, v.reason);
	assert_int_equal(f.scope, v.scope);
	assert_string_equal(f.scope_id, v.scope_id);
	assert_int_equal(f.since_us, v.since_us);
	assert_int_equal(f.seq, v.seq);
	assert_int_equal(f.confirmation, v.confirmation);
}

static void assert_same_as_fresh(sg_engine *e, const char *from, const char *to, sg_verdict v)
{
	fresh_arg a = {.e = e, .from = from, .to = to};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fresh_main, &a), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	assert_same_verdict(a.v, v);
}

/* Campaigns C1 (brand B1) and C2 (brand B2); OURS in C1; THEM opted out
 * of brand B2 and campaign C3 through OTHER; KNOWN opted out of OTHER
 * only (a recipient with a record, none of it OURS's). */
typedef struct world {
	char *dir;
	sg_engine *e;
	uint64_t brand_seq, c3_seq;
} world;

static void make_world(world *w)
{
	w->dir = tu_mkdtemp();
	w->e = tu_open(w->dir, 0, NULL);
	put_campaign(w->e, "C1", "B1");
	put_campaign(w->e, "C2", "B2");
	assert_int_equal(sg_sender_put(w->e, OURS, "C1", NULL), 0);
	w->brand_seq = tu_record(w->e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OTHER, THEM, SG_SCOPE_BRAND, "B2").seq;
	w->c3_seq = tu_record(w->e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OTHER, THEM, SG_SCOPE_CAMPAIGN, "C3").seq;
	tu_record(w->e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OTHER, KNOWN, SG_SCOPE_SENDER, NULL);
	assert_true(w->brand_seq > 0 && w->c3_seq > w->brand_seq);
}

static void end_world(world *w)
{
	sg_engine_close(w->e);
	tu_rmdir(w->dir);
}

/* ---- one thread ---- */

static void registry_change_seen_by_the_next_check(void **state)
{
	(void)state;
	world w;
	make_world(&w);
	/* cached: OURS is C1/B1, nothing of THEM's record concerns it */
	for (int i = 0; i < 3; i++) {
		assert_allowed(check(w.e, OURS, THEM));
		assert_allowed(check(w.e, OURS, KNOWN));
	}
	/* moved to C2 (brand B2): the brand opt-out applies at once */
	assert_int_equal(sg_sender_put(w.e, OURS, "C2", NULL), 0);
	sg_verdict v = check(w.e, OURS, THEM);
	assert_opted_out(v, SG_SCOPE_BRAND, "B2", w.brand_seq);
	assert_same_as_fresh(w.e, OURS, THEM, v);
	/* a new campaign C3 (brand B3), the sender moved into it: the
	 * campaign opt-out recorded before it existed applies */
	put_campaign(w.e, "C3", "B3");
	assert_opted_out(check(w.e, OURS, THEM), SG_SCOPE_BRAND, "B2", w.brand_seq); /* still C2 */
	assert_int_equal(sg_sender_put(w.e, OURS, "C3", NULL), 0);
	v = check(w.e, OURS, THEM);
	assert_opted_out(v, SG_SCOPE_CAMPAIGN, "C3", w.c3_seq);
	assert_same_as_fresh(w.e, OURS, THEM, v);
	/* C3's brand changed to B2: both opt-outs enclose it now, the later wins */
	put_campaign(w.e, "C3", "B2");
	assert_opted_out(check(w.e, OURS, THEM), SG_SCOPE_CAMPAIGN, "C3", w.c3_seq);
	/* back to C1: allowed again at once */
	assert_int_equal(sg_sender_put(w.e, OURS, "C1", NULL), 0);
	v = check(w.e, OURS, THEM);
	assert_allowed(v);
	assert_same_as_fresh(w.e, OURS, THEM, v);
	end_world(&w);
}

static void opt_out_and_in_seen_by_the_next_check(void **state)
{
	(void)state;
	world w;
	make_world(&w);
	/* KNOWN has a record: the check opens (and keeps) a read txn */
	for (int i = 0; i < 3; i++)
		assert_allowed(check(w.e, OURS, KNOWN));
	uint64_t seq = tu_record(w.e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, KNOWN, SG_SCOPE_CAMPAIGN, "C1").seq;
	sg_verdict v = check(w.e, OURS, KNOWN);
	assert_opted_out(v, SG_SCOPE_CAMPAIGN, "C1", seq);
	assert_same_as_fresh(w.e, OURS, KNOWN, v);
	/* no commit since: the kept snapshot answers, the same */
	sg_verdict again = check(w.e, OURS, KNOWN);
	assert_same_verdict(again, v);
	tu_record(w.e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, OURS, KNOWN, SG_SCOPE_CAMPAIGN, "C1");
	v = check(w.e, OURS, KNOWN);
	assert_allowed(v);
	assert_same_as_fresh(w.e, OURS, KNOWN, v);
	end_world(&w);
}

/* ---- another thread ---- */

/* A checking thread that keeps its cache and txn between steps: each
 * step it checks (from, to) and hands the verdict back. */
typedef struct checker {
	sg_engine *e;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int step, done;   /* step asked by the test, done by the thread */
	const char *from, *to;
	sg_verdict v;
	int rc;
	bool quit;
} checker;

static void *checker_main(void *arg)
{
	checker *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->step == c->done && !c->quit)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->quit)
			break;
		pthread_mutex_unlock(&c->mu);
		sg_verdict v;
		int rc = sg_check(c->e, c->from, c->to, SG_PURPOSE_MESSAGE, &v);
		pthread_mutex_lock(&c->mu);
		c->v = v;
		c->rc = rc;
		c->done = c->step;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static sg_verdict remote_check(checker *c, const char *from, const char *to)
{
	pthread_mutex_lock(&c->mu);
	c->from = from;
	c->to = to;
	c->step++;
	pthread_cond_broadcast(&c->cv);
	while (c->done != c->step)
		pthread_cond_wait(&c->cv, &c->mu);
	sg_verdict v = c->v;
	int rc = c->rc;
	pthread_mutex_unlock(&c->mu);
	assert_int_equal(rc, 0);
	return v;
}

static void start_checker(checker *c, pthread_t *t, sg_engine *e)
{
	memset(c, 0, sizeof(*c));
	c->e = e;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	assert_int_equal(pthread_create(t, NULL, checker_main, c), 0);
}

static void stop_checker(checker *c, pthread_t t)
{
	pthread_mutex_lock(&c->mu);
	c->quit = true;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(t, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}

static void changes_seen_by_another_thread(void **state)
{
	(void)state;
	world w;
	make_world(&w);
	checker c;
	pthread_t t;
	start_checker(&c, &t, w.e);
	for (int i = 0; i < 3; i++) {
		assert_allowed(remote_check(&c, OURS, THEM));
		assert_allowed(remote_check(&c, OURS, KNOWN));
	}
	/* a registry change made on this thread */
	assert_int_equal(sg_sender_put(w.e, OURS, "C2", NULL), 0);
	assert_opted_out(remote_check(&c, OURS, THEM), SG_SCOPE_BRAND, "B2", w.brand_seq);
	put_campaign(w.e, "C3", "B3");
	assert_int_equal(sg_sender_put(w.e, OURS, "C3", NULL), 0);
	assert_opted_out(remote_check(&c, OURS, THEM), SG_SCOPE_CAMPAIGN, "C3", w.c3_seq);
	/* an opt-out and an opt-in recorded on this thread */
	assert_allowed(remote_check(&c, OURS, KNOWN));
	uint64_t seq = tu_record(w.e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, KNOWN, SG_SCOPE_SENDER, NULL).seq;
	sg_verdict v = remote_check(&c, OURS, KNOWN);
	assert_opted_out(v, SG_SCOPE_SENDER, OURS, seq);
	assert_same_as_fresh(w.e, OURS, KNOWN, v);
	tu_record(w.e, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, OURS, KNOWN, SG_SCOPE_SENDER, NULL);
	assert_allowed(remote_check(&c, OURS, KNOWN));
	/* and this thread's own checks, between, agree */
	assert_allowed(check(w.e, OURS, KNOWN));
	assert_opted_out(check(w.e, OURS, THEM), SG_SCOPE_CAMPAIGN, "C3", w.c3_seq);
	stop_checker(&c, t);
	end_world(&w);
}

/* The map grows (the writer resets every kept txn first) while another
 * thread keeps one: its next checks are right, old and new records. */
static void kept_txn_across_map_growth(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.flags = SG_OPEN_CREATE;
	o.keywords_dir = tu_keywords();
	o.default_country = "US";
	o.initial_map_size = 1u << 20;
	sg_engine *e;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	sg_stats before;
	assert_int_equal(sg_stats_get(e, &before), 0);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, SG_SCOPE_SENDER, NULL);
	checker c;
	pthread_t t;
	start_checker(&c, &t, e);
	assert_false(remote_check(&c, OURS, THEM).allow); /* a kept txn from here on */
	char to[32];
	int i = 0;
	sg_stats now = before;
	for (; i < 20000 && now.map_size == before.map_size; i++) {
		enum { BATCH = 100 };
		sg_event_in ev[BATCH];
		sg_event_out out[BATCH];
		char nums[BATCH][32];
		for (int j = 0; j < BATCH; j++) {
			snprintf(nums[j], sizeof(nums[j]), "+1415%07d", 1000000 + i * BATCH + j);
			ev[j] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT,
					      .source = SG_SOURCE_KEYWORD, .sender = OURS, .recipient = nums[j]};
		}
		assert_int_equal(sg_record(e, ev, BATCH, out), 0);
		assert_int_equal(sg_stats_get(e, &now), 0);
	}
	assert_true(now.map_size > before.map_size); /* it grew */
	assert_false(remote_check(&c, OURS, THEM).allow);
	snprintf(to, sizeof(to), "+1415%07d", 1000000 + (i - 1) * 100 + 99); /* the last recorded */
	assert_false(remote_check(&c, OURS, to).allow);
	assert_true(remote_check(&c, OURS, "+14155559999").allow);
	stop_checker(&c, t);
	sg_engine_close(e);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registry_change_seen_by_the_next_check),
		cmocka_unit_test(opt_out_and_in_seen_by_the_next_check),
		cmocka_unit_test(changes_seen_by_another_thread),
		cmocka_unit_test(kept_txn_across_map_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
