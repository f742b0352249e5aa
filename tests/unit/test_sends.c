/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The send ledger (issue 17) on real LMDB: sends recorded and read back,
 * de-duplicated by provider message id, sealed into the consent log and
 * verified (a changed or removed send fails sg_verify), pruned with the
 * seals still verifying, the violations report (sends after an opt-out,
 * less the one confirmation) and the Florida frequency cap.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <lmdb.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"

#define OURS "+14155550100"
#define THEM "+14155552671"
#define FLORIDA "+13055550123"
#define MIN_US (60 * (int64_t)1000000)
#define HOUR_US (60 * MIN_US)
#define DAY_US (24 * HOUR_US)

static sg_send_out send1(sg_engine *e, const char *id, const char *from, const char *to, int64_t at,
			 const char *campaign, sg_send_category cat, sg_send_source src)
{
	sg_send_in s = {.size = sizeof s, .id = id, .sender = from, .recipient = to, .at_us = at,
			.campaign = campaign, .category = cat, .source = src};
	sg_send_out o;
	assert_int_equal(sg_sends_record(e, &s, 1, &o), 0);
	return o;
}

typedef struct got {
	size_t n;
	sg_send s[64];
	char from[64][SG_KEY_MAX], to[64][SG_KEY_MAX], camp[64][64];
} got;

static int collect(const sg_send *s, void *ctx)
{
	got *g = ctx;
	if (g->n == 64)
		return 1;
	g->s[g->n] = *s;
	snprintf(g->from[g->n], SG_KEY_MAX, "%s", s->sender);
	snprintf(g->to[g->n], SG_KEY_MAX, "%s", s->recipient);
	snprintf(g->camp[g->n], 64, "%s", s->campaign);
	g->n++;
	return 0;
}

static void record_and_read(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	int64_t now = sg_now_us();
	sg_send_in in[4] = {
		{.size = sizeof(sg_send_in), .id = "SM1", .sender = OURS, .recipient = THEM, .at_us = now - 3000,
		 .campaign = "C1", .category = SG_SEND_MARKETING},
		{.size = sizeof(sg_send_in), .id = "SM2", .sender = OURS, .recipient = "sc:US:72345", .at_us = now - 5000},
		{.size = sizeof(sg_send_in), .sender = OURS, .recipient = "not a key", .at_us = now},
		{.size = sizeof(sg_send_in), .sender = "aid:brand", .recipient = THEM, .at_us = now + DAY_US},
	};
	sg_send_out out[4];
	assert_int_equal(sg_sends_record(e, in, 4, out), 0);
	assert_int_equal(out[0].status, 0);
	assert_int_equal(out[0].ordinal, 1);
	assert_int_equal(out[1].status, 0);
	assert_int_equal(out[1].ordinal, 2);
	assert_int_equal(out[2].status, SG_ENUMBER);
	assert_int_equal(out[3].status, -EINVAL); /* a day ahead of the clock */

	got g = {0};
	assert_int_equal(sg_sends_read(e, 0, 0, collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.to[0], THEM);
	assert_string_equal(g.from[0], OURS);
	assert_string_equal(g.camp[0], "C1");
	assert_int_equal(g.s[0].at_us, now - 3000);
	assert_int_equal(g.s[0].category, SG_SEND_MARKETING);
	assert_string_equal(g.to[1], "sc:US:72345");
	assert_int_equal(g.s[1].at_us, now - 5000);
	assert_string_equal(g.camp[1], "");

	/* the same message reported again by its status callback: once */
	sg_send_out d = send1(e, "SM1", OURS, THEM, now - 1000, NULL, 0, SG_SEND_STATUS);
	assert_true(d.duplicate);
	assert_int_equal(d.ordinal, 1);
	/* the same id to another recipient is another message */
	d = send1(e, "SM1", OURS, "+14155552672", now - 1000, NULL, 0, SG_SEND_STATUS);
	assert_false(d.duplicate);
	/* within one batch too */
	sg_send_in twice[2] = {
		{.size = sizeof(sg_send_in), .id = "SM9", .sender = OURS, .recipient = THEM, .at_us = now},
		{.size = sizeof(sg_send_in), .id = "SM9", .sender = OURS, .recipient = THEM, .at_us = now,
		 .source = SG_SEND_STATUS},
	};
	assert_int_equal(sg_sends_record(e, twice, 2, out), 0);
	assert_false(out[0].duplicate);
	assert_true(out[1].duplicate);
	assert_int_equal(out[1].ordinal, out[0].ordinal);

	memset(&g, 0, sizeof(g));
	assert_int_equal(sg_sends_for_pair(e, OURS, THEM, 0, collect, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.s[0].ordinal, 1);
	sg_send_in bad = {.sender = OURS, .recipient = THEM};
	assert_int_equal(sg_sends_record(e, &bad, 1, out), -EINVAL); /* size not set */

	sg_sends_stats st;
	assert_int_equal(sg_sends_stats_get(e, &st), 0);
	assert_int_equal(st.sends, 4);
	assert_int_equal(st.next, 5);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* More senders in one batch than the campaign cache holds: each send
 * still gets its own sender's campaign. */
static void many_senders_campaigns(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	enum { NS = 24, N = 64 };
	char from[NS][16], camp[NS][16];
	for (int i = 0; i < NS; i++) {
		snprintf(from[i], 16, "+1415555%04d", 1000 + i);
		snprintf(camp[i], 16, "K%02d", i);
		char json[128];
		snprintf(json, sizeof(json), "{\"campaignId\":\"%s\",\"status\":\"ACTIVE\"}", camp[i]);
		assert_int_equal(sg_campaign_put_json(e, json, strlen(json), NULL), 0);
		assert_int_equal(sg_sender_put(e, from[i], camp[i], NULL), 0);
	}
	sg_send_in in[N];
	sg_send_out out[N];
	for (int i = 0; i < N; i++)
		in[i] = (sg_send_in){.size = sizeof(sg_send_in), .sender = from[(i * 7) % NS], .recipient = THEM};
	assert_int_equal(sg_sends_record(e, in, N, out), 0);
	got g = {0};
	assert_int_equal(sg_sends_read(e, 0, 0, collect, &g), 0);
	assert_int_equal(g.n, N);
	for (int i = 0; i < N; i++) {
		assert_string_equal(g.from[i], from[(i * 7) % NS]);
		assert_string_equal(g.camp[i], camp[(i * 7) % NS]);
	}
	sg_engine_close(e);
	tu_rmdir(dir);
}

static int count_sends_events(const sg_event *ev, void *ctx)
{
	if (ev->action == SG_ACTION_SENDS)
		++*(int *)ctx;
	return 0;
}

/* Record n sends to distinct recipients, at `at`. */
static void many(sg_engine *e, int n, int first, int64_t at)
{
	sg_send_in *in = calloc((size_t)n, sizeof(*in));
	sg_send_out *out = calloc((size_t)n, sizeof(*out));
	char (*to)[16] = calloc((size_t)n, 16);
	char (*id)[16] = calloc((size_t)n, 16);
	for (int i = 0; i < n; i++) {
		snprintf(to[i], 16, "+1212555%04d", (first + i) % 10000);
		snprintf(id[i], 16, "M%d", first + i);
		in[i] = (sg_send_in){.size = sizeof(sg_send_in), .id = id[i], .sender = OURS, .recipient = to[i],
				     .at_us = at + i, .category = SG_SEND_INFORMATIONAL};
	}
	assert_int_equal(sg_sends_record(e, in, (size_t)n, out), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(out[i].status, 0);
	free(in);
	free(out);
	free(to);
	free(id);
}

typedef struct lm {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi sends, sendidx;
} lm;

static void lm_open(lm *l, const char *dir)
{
	assert_int_equal(mdb_env_create(&l->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(l->env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(l->env, (size_t)1 << 30), 0);
	assert_int_equal(mdb_env_open(l->env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(l->env, NULL, 0, &l->txn), 0);
	assert_int_equal(mdb_dbi_open(l->txn, "sends", 0, &l->sends), 0);
}

static void lm_close(lm *l)
{
	assert_int_equal(mdb_txn_commit(l->txn), 0);
	mdb_env_close(l->env);
}

/* A store with 3 sealed blocks and 1 unsealed, closed. */
static char *sealed_store(void)
{
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	int64_t now = sg_now_us();
	many(e, 100, 0, now - 3 * DAY_US);
	uint64_t n = 0;
	assert_int_equal(sg_sends_seal(e, &n), 0);
	assert_int_equal(n, 100);
	many(e, 100, 100, now - 2 * DAY_US);
	many(e, 100, 200, now - HOUR_US);
	assert_int_equal(sg_sends_seal(e, &n), 0);
	assert_int_equal(n, 200);
	assert_int_equal(sg_sends_seal(e, &n), 0);
	assert_int_equal(n, 0); /* nothing waits: no event */
	many(e, 10, 300, now - MIN_US);
	sg_verify_result r;
	assert_int_equal(sg_verify(e, &r), 0);
	if (!r.ok) fprintf(stderr, "verify: %s (seq %llu)\n", r.reason, (unsigned long long)r.bad_seq);
	assert_true(r.ok);
	int seals = 0;
	assert_int_equal(sg_events_read(e, 1, 100, count_sends_events, &seals, NULL), 0);
	assert_int_equal(seals, 2);
	sg_engine_close(e);
	return dir;
}

static sg_verify_result verify_dir(const char *dir)
{
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_verify_result r;
	assert_int_equal(sg_verify(e, &r), 0);
	sg_engine_close(e);
	return r;
}

static void tampering_detected(void **state)
{
	(void)state;
	/* one byte of a sealed send changed (the recipient's number) */
	char *dir = sealed_store();
	lm l;
	lm_open(&l, dir);
	uint8_t kb[8] = {0, 0, 0, 0, 0, 0, 0, 101};
	MDB_val k = {.mv_size = 8, .mv_data = kb}, v;
	assert_int_equal(mdb_get(l.txn, l.sends, &k, &v), 0);
	uint8_t *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	copy[40] ^= 0x02;
	MDB_val nv = {.mv_size = v.mv_size, .mv_data = copy};
	assert_int_equal(mdb_put(l.txn, l.sends, &k, &nv, 0), 0);
	free(copy);
	lm_close(&l);
	sg_verify_result r = verify_dir(dir);
	assert_false(r.ok);
	assert_non_null(strstr(r.reason, "send ledger"));
	tu_rmdir(dir);

	/* a whole block removed */
	dir = sealed_store();
	lm_open(&l, dir);
	assert_int_equal(mdb_del(l.txn, l.sends, &k, NULL), 0);
	lm_close(&l);
	r = verify_dir(dir);
	assert_false(r.ok);
	assert_non_null(strstr(r.reason, "missing"));
	tu_rmdir(dir);

	/* the oldest block removed without a prune */
	dir = sealed_store();
	lm_open(&l, dir);
	kb[7] = 1;
	assert_int_equal(mdb_del(l.txn, l.sends, &k, NULL), 0);
	lm_close(&l);
	r = verify_dir(dir);
	assert_false(r.ok);
	tu_rmdir(dir);

	/* the last sealed block removed (with the unsealed one after it) */
	dir = sealed_store();
	lm_open(&l, dir);
	kb[7] = 201;
	assert_int_equal(mdb_del(l.txn, l.sends, &k, NULL), 0);
	kb[7] = 45; /* 301 */
	kb[6] = 1;
	assert_int_equal(mdb_del(l.txn, l.sends, &k, NULL), 0);
	lm_close(&l);
	r = verify_dir(dir);
	assert_false(r.ok);
	assert_non_null(strstr(r.reason, "missing"));
	tu_rmdir(dir);
}

static void pruning_keeps_verify(void **state)
{
	(void)state;
	char *dir = sealed_store();
	sg_engine *e = tu_open(dir, 0, NULL);
	uint64_t removed = 99;
	/* the first seal's sends are 3 days old, the second's partly an hour */
	assert_int_equal(sg_sends_prune(e, sg_now_us() - 2 * DAY_US - HOUR_US, &removed), 0);
	assert_int_equal(removed, 100);
	sg_sends_stats st;
	assert_int_equal(sg_sends_stats_get(e, &st), 0);
	assert_int_equal(st.first_kept, 101);
	assert_int_equal(st.sends, 210);
	sg_verify_result r;
	assert_int_equal(sg_verify(e, &r), 0);
	assert_true(r.ok);
	got g = {0};
	assert_int_equal(sg_sends_for_pair(e, NULL, "+12125550005", 0, collect, &g), 0);
	assert_int_equal(g.n, 0); /* its index entry went with it */
	/* nothing more is old enough as a whole seal */
	assert_int_equal(sg_sends_prune(e, sg_now_us() - 2 * DAY_US + HOUR_US, &removed), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(sg_sends_prune(e, sg_now_us() + DAY_US, &removed), -EINVAL);
	sg_engine_close(e);
	assert_true(verify_dir(dir).ok);
	tu_rmdir(dir);
}

typedef struct vgot {
	size_t n;
	uint64_t ordinal[16];
	sg_reason reason[16];
	uint64_t seq[16];
	unsigned count[16];
	char rule[16][16];
} vgot;

static int on_violation(const sg_violation *v, void *ctx)
{
	vgot *g = ctx;
	if (g->n == 16)
		return 1;
	g->ordinal[g->n] = v->send->ordinal;
	g->reason[g->n] = v->reason;
	g->seq[g->n] = v->seq;
	g->count[g->n] = v->count;
	snprintf(g->rule[g->n], 16, "%s", v->rule ? v->rule : "");
	g->n++;
	return 0;
}

static void sends_after_optout_are_violations(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	int64_t now = sg_now_us(), stop = now - 2 * HOUR_US;
	uint64_t before = send1(e, "a", OURS, THEM, stop - HOUR_US, NULL, 0, 0).ordinal;
	sg_event_in ev = {.size = sizeof ev, .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = OURS,
			  .recipient = THEM, .time_us = stop, .event_time_us = stop};
	sg_event_out eo;
	assert_int_equal(sg_record(e, &ev, 1, &eo), 0);
	uint64_t confirm = send1(e, "b", OURS, THEM, stop + MIN_US, NULL, 0, 0).ordinal;
	uint64_t late1 = send1(e, "c", OURS, THEM, stop + HOUR_US, NULL, 0, 0).ordinal;
	uint64_t other = send1(e, "d", "+14155550199", THEM, stop + HOUR_US, NULL, 0, 0).ordinal;
	uint64_t late2 = send1(e, "e", OURS, THEM, now - MIN_US, NULL, 0, 0).ordinal;
	/* a START later lifts it for the sends after it */
	ev.action = SG_ACTION_OPT_IN;
	ev.time_us = ev.event_time_us = now - 30 * (int64_t)1000000;
	assert_int_equal(sg_record(e, &ev, 1, &(sg_event_out){0}), 0);
	uint64_t after_start = send1(e, "f", OURS, THEM, now, NULL, 0, 0).ordinal;
	(void)before;
	(void)confirm;
	(void)other;
	(void)after_start;

	vgot g = {0};
	assert_int_equal(sg_violations(e, 0, 0, on_violation, &g), 0);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.ordinal[0], late1);
	assert_int_equal(g.ordinal[1], late2);
	assert_int_equal(g.reason[0], SG_REASON_OPTED_OUT);
	assert_int_equal(g.seq[0], eo.seq);
	/* the time range filters on the send's time */
	memset(&g, 0, sizeof(g));
	assert_int_equal(sg_violations(e, now - 10 * MIN_US, 0, on_violation, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ordinal[0], late2);
	/* the proof's view: the sends to the pair after the opt-out */
	got p = {0};
	assert_int_equal(sg_sends_for_pair(e, OURS, THEM, stop, collect, &p), 0);
	assert_int_equal(p.n, 4);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* An engine on dir where OURS sends for the active campaign C1. */
static sg_engine *open_with_c1(const char *dir)
{
	sg_engine *e = tu_open(dir, 0, NULL);
	const char *c1 = "{\"campaignId\":\"C1\",\"brandId\":\"B1\",\"status\":\"ACTIVE\"}";
	assert_int_equal(sg_campaign_put_json(e, c1, strlen(c1), NULL), 0);
	assert_int_equal(sg_sender_put(e, OURS, "C1", NULL), 0);
	return e;
}

static void florida_cap(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_with_c1(dir);
	int64_t t0 = sg_now_us() - 5 * HOUR_US;
	sg_cap_result cap;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sg_send_cap(e, OURS, FLORIDA, NULL, SG_SEND_MARKETING, t0 + i * HOUR_US, &cap), 0);
		assert_false(cap.exceeded);
		assert_int_equal(cap.limit, 3);
		assert_int_equal(cap.count, (unsigned)i);
		char id[8];
		snprintf(id, sizeof(id), "fl%d", i);
		send1(e, id, OURS, FLORIDA, t0 + i * HOUR_US, NULL, SG_SEND_MARKETING, 0);
	}
	/* informational sends and another subject do not count */
	send1(e, "info", OURS, FLORIDA, t0 + 150 * MIN_US, NULL, SG_SEND_INFORMATIONAL, 0);
	send1(e, "other", OURS, FLORIDA, t0 + 160 * MIN_US, "C2", SG_SEND_MARKETING, 0);
	assert_int_equal(sg_send_cap(e, OURS, FLORIDA, NULL, SG_SEND_MARKETING, t0 + 3 * HOUR_US, &cap), 0);
	assert_true(cap.exceeded);
	assert_int_equal(cap.count, 3);
	assert_string_equal(cap.rule, "FL");
	assert_int_equal(cap.next_allowed_at_us, t0 + DAY_US);
	assert_int_equal(sg_send_cap(e, OURS, FLORIDA, NULL, SG_SEND_INFORMATIONAL, t0 + 3 * HOUR_US, &cap), 0);
	assert_false(cap.exceeded);
	assert_int_equal(sg_send_cap(e, OURS, FLORIDA, "C2", SG_SEND_MARKETING, t0 + 3 * HOUR_US, &cap), 0);
	assert_false(cap.exceeded);
	/* California: no state cap, and no maxPerDay */
	assert_int_equal(sg_send_cap(e, OURS, THEM, NULL, SG_SEND_MARKETING, t0, &cap), 0);
	assert_int_equal(cap.limit, 0);

	/* the 4th send is a violation */
	uint64_t fourth = send1(e, "fl3", OURS, FLORIDA, t0 + 3 * HOUR_US, NULL, SG_SEND_MARKETING, 0).ordinal;
	vgot g = {0};
	assert_int_equal(sg_violations(e, 0, 0, on_violation, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ordinal[0], fourth);
	assert_int_equal(g.reason[0], SG_REASON_FREQUENCY_CAP);
	assert_int_equal(g.count[0], 4);
	assert_string_equal(g.rule[0], "FL");
	assert_string_equal(sg_reason_name(SG_REASON_FREQUENCY_CAP), "frequency_cap");

	/* a campaign's own maxPerDay, stricter, applies everywhere */
	const char *c3 = "{\"campaignId\":\"C3\",\"brandId\":\"B1\",\"status\":\"ACTIVE\",\"stopgate\":{\"maxPerDay\":1}}";
	assert_int_equal(sg_campaign_put_json(e, c3, strlen(c3), NULL), 0);
	send1(e, "c3a", OURS, THEM, t0, "C3", SG_SEND_MARKETING, 0);
	assert_int_equal(sg_send_cap(e, OURS, THEM, "C3", SG_SEND_MARKETING, t0 + HOUR_US, &cap), 0);
	assert_true(cap.exceeded);
	assert_string_equal(cap.rule, "maxPerDay");
	assert_int_equal(cap.next_allowed_at_us, t0 + DAY_US);
	const char *bad = "{\"campaignId\":\"C4\",\"stopgate\":{\"maxPerDay\":0}}";
	const char *detail = NULL;
	assert_int_equal(sg_campaign_put_json(e, bad, strlen(bad), &detail), SG_EJSON);
	assert_non_null(strstr(detail, "maxPerDay"));
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* The violations report judges a send by the campaign's maxPerDay as it
 * stood when the send was made, not as it stands now. */
static void violations_use_the_cap_of_the_time(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	int64_t now = sg_now_us();
	/* two sends an hour before the campaign had a cap: no violation */
	send1(e, "early1", OURS, THEM, now - 2 * HOUR_US, "C5", SG_SEND_MARKETING, 0);
	send1(e, "early2", OURS, THEM, now - HOUR_US, "C5", SG_SEND_MARKETING, 0);
	const char *one = "{\"campaignId\":\"C5\",\"brandId\":\"B1\",\"status\":\"ACTIVE\",\"stopgate\":{\"maxPerDay\":1}}";
	assert_int_equal(sg_campaign_put_json(e, one, strlen(one), NULL), 0);
	/* under the cap of 1: the 2 earlier sends count, so this one is over */
	uint64_t over = send1(e, "late", OURS, THEM, 0, "C5", SG_SEND_MARKETING, 0).ordinal; /* now */
	/* the cap raised afterwards does not excuse it */
	const char *ten = "{\"campaignId\":\"C5\",\"brandId\":\"B1\",\"status\":\"ACTIVE\",\"stopgate\":{\"maxPerDay\":10}}";
	assert_int_equal(sg_campaign_put_json(e, ten, strlen(ten), NULL), 0);
	vgot g = {0};
	assert_int_equal(sg_violations(e, 0, 0, on_violation, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ordinal[0], over);
	assert_int_equal(g.reason[0], SG_REASON_FREQUENCY_CAP);
	assert_int_equal(g.count[0], 3);
	assert_string_equal(g.rule[0], "maxPerDay");
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* The check itself (sg_check_ex) denies a marketing message over a cap,
 * after every other reason and quiet hours; other categories, subjects
 * and the plain sg_check are not capped. */
static void check_denies_over_cap(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = open_with_c1(dir);
	int64_t at;
	assert_int_equal(sg_time_parse("2026-06-10T16:00:00Z", &at), 0); /* noon in Miami */
	int64_t t0 = at - 3 * HOUR_US;
	for (int i = 0; i < 3; i++) {
		char id[8];
		snprintf(id, sizeof(id), "m%d", i);
		send1(e, id, OURS, FLORIDA, t0 + i * HOUR_US, NULL, SG_SEND_MARKETING, 0);
	}
	const char *to[] = {FLORIDA, THEM};
	sg_check_opts o;
	sg_check_opts_default(&o);
	o.category = SG_CATEGORY_MARKETING;
	o.at_us = at;
	sg_verdict v[2];
	sg_quiet q[2];
	assert_int_equal(sg_check_ex(e, OURS, to, 2, &o, v, q), 0);
	assert_false(v[0].allow);
	assert_int_equal(v[0].reason, SG_REASON_FREQUENCY_CAP);
	assert_int_equal(v[0].scope, SG_SCOPE_CAMPAIGN);
	assert_int_equal(q[0].next_allowed_us, t0 + DAY_US);
	assert_string_equal(q[0].rule, "FL");
	assert_true(v[1].allow); /* California: no cap */
	/* a day later the first send has left the window */
	o.at_us = t0 + DAY_US;
	assert_int_equal(sg_check_ex(e, OURS, to, 1, &o, v, q), 0);
	assert_true(v[0].allow);
	o.at_us = at;
	/* informational, another subject, the plain check: not capped */
	o.category = SG_CATEGORY_INFORMATIONAL;
	assert_int_equal(sg_check_ex(e, OURS, to, 1, &o, v, q), 0);
	assert_true(v[0].allow);
	o.category = SG_CATEGORY_MARKETING;
	o.campaign = "C2";
	assert_int_equal(sg_check_ex(e, OURS, to, 1, &o, v, q), 0);
	assert_true(v[0].allow);
	char toolong[80];
	memset(toolong, 'c', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	o.campaign = toolong;
	assert_int_equal(sg_check_ex(e, OURS, to, 1, &o, v, q), -EINVAL);
	assert_false(v[0].allow);
	assert_int_equal(sg_check(e, OURS, FLORIDA, SG_PURPOSE_MESSAGE, &v[0]), 0);
	assert_true(v[0].allow);
	/* an opt-out still comes first */
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, OURS, FLORIDA, 0, NULL);
	o.campaign = NULL;
	assert_int_equal(sg_check_ex(e, OURS, to, 1, &o, v, q), 0);
	assert_int_equal(v[0].reason, SG_REASON_OPTED_OUT);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void inactive_campaign_sends(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	const char *on = "{\"campaignId\":\"C1\",\"brandId\":\"B1\",\"status\":\"ACTIVE\"}";
	const char *off = "{\"campaignId\":\"C1\",\"brandId\":\"B1\",\"status\":\"SUSPENDED\"}";
	assert_int_equal(sg_campaign_put_json(e, on, strlen(on), NULL), 0);
	assert_int_equal(sg_sender_put(e, OURS, "C1", NULL), 0);
	int64_t t = sg_now_us();
	send1(e, "x", OURS, THEM, t - MIN_US, NULL, SG_SEND_INFORMATIONAL, 0);
	assert_int_equal(sg_campaign_put_json(e, off, strlen(off), NULL), 0);
	uint64_t late = send1(e, "y", OURS, THEM, sg_now_us(), NULL, SG_SEND_INFORMATIONAL, 0).ordinal;
	vgot g = {0};
	assert_int_equal(sg_violations(e, 0, 0, on_violation, &g), 0);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.ordinal[0], late);
	assert_int_equal(g.reason[0], SG_REASON_CAMPAIGN_INACTIVE);
	assert_true(g.seq[0] > 0);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* A seal is an event of the log: a store that applies the log records it
 * identically (same head); holding no ledger, its verify says so. */
typedef struct replay {
	sg_engine *dst;
	int bad;
} replay;

static int apply_one(const sg_event *ev, void *ctx)
{
	replay *r = ctx;
	sg_event_out o;
	if (sg_apply(r->dst, ev, 1, &o) || o.status)
		r->bad++;
	return 0;
}

static void seals_replay(void **state)
{
	(void)state;
	char *dir = sealed_store();
	char *dir2 = tu_mkdtemp();
	sg_engine *a = tu_open(dir, 0, NULL), *b = tu_open(dir2, 0, NULL);
	replay r = {.dst = b};
	assert_int_equal(sg_events_read(a, 1, 1000, apply_one, &r, NULL), 0);
	assert_int_equal(r.bad, 0);
	uint64_t sa, sb;
	uint8_t ha[32], hb[32];
	assert_int_equal(sg_head(a, &sa, ha), 0);
	assert_int_equal(sg_head(b, &sb, hb), 0);
	assert_int_equal(sa, sb);
	assert_memory_equal(ha, hb, 32);
	sg_verify_result v;
	assert_int_equal(sg_verify(b, &v), 0);
	assert_false(v.ok);
	assert_non_null(strstr(v.reason, "send ledger"));
	sg_engine_close(a);
	sg_engine_close(b);
	tu_rmdir(dir);
	tu_rmdir(dir2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_and_read),
		cmocka_unit_test(many_senders_campaigns),
		cmocka_unit_test(tampering_detected),
		cmocka_unit_test(pruning_keeps_verify),
		cmocka_unit_test(sends_after_optout_are_violations),
		cmocka_unit_test(florida_cap),
		cmocka_unit_test(check_denies_over_cap),
		cmocka_unit_test(violations_use_the_cap_of_the_time),
		cmocka_unit_test(inactive_campaign_sends),
		cmocka_unit_test(seals_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
