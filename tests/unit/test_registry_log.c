/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry changes are events of the consent log (issue 12): a campaign put
 * or a sender attached is recorded with its record as the body, applied in
 * the same transaction, verified by the chain, kept by retention, and a
 * change that changes nothing records nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <lmdb.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"

#define OURS "+14155550100"
#define THEM "+14155552671"
#define C1 "{\"campaignId\":\"C1\",\"brandId\":\"B1\",\"status\":\"ACTIVE\"}"

typedef struct seen {
	size_t n;
	sg_action action[32];
	sg_scope_kind scope[32];
	char scope_id[32][64], campaign[32][64], brand[32][64], rule[32][64], body[32][256];
	bool has_body[32];
} seen;

static int collect(const sg_event *ev, void *ctx)
{
	seen *s = ctx;
	if (s->n == 32)
		return 1;
	size_t i = s->n++;
	s->action[i] = ev->action;
	s->scope[i] = ev->scope;
	snprintf(s->scope_id[i], 64, "%s", ev->scope_id ? ev->scope_id : "");
	snprintf(s->campaign[i], 64, "%s", ev->campaign ? ev->campaign : "");
	snprintf(s->brand[i], 64, "%s", ev->brand ? ev->brand : "");
	snprintf(s->rule[i], 64, "%s", ev->rule ? ev->rule : "");
	s->has_body[i] = ev->body != NULL;
	snprintf(s->body[i], 256, "%.*s", (int)(ev->body ? ev->body_len : 0), ev->body ? ev->body : "");
	return 0;
}

static void read_events(sg_engine *e, seen *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(sg_events_read(e, 1, 32, collect, s, NULL), 0);
}

static void changes_are_events(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	const char *detail = NULL;
	assert_int_equal(sg_campaign_put_json(e, C1, strlen(C1), &detail), 0);
	assert_int_equal(sg_campaign_put_json(e, C1, strlen(C1), &detail), 0); /* no change */
	assert_int_equal(sg_sender_put(e, "(415) 555-0100", "C1", "MG1"), 0);
	assert_int_equal(sg_sender_put(e, OURS, "C1", "MG1"), 0);             /* no change */
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, OURS, THEM, 0, NULL);
	assert_int_equal(sg_sender_put(e, OURS, NULL, NULL), 0);              /* detached */
	assert_int_equal(sg_sender_put(e, OURS, "", ""), 0);                  /* already */
	seen s;
	read_events(e, &s);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.action[0], SG_ACTION_CAMPAIGN);
	assert_int_equal(s.scope[0], SG_SCOPE_CAMPAIGN);
	assert_string_equal(s.scope_id[0], "C1");
	assert_string_equal(s.brand[0], "B1");
	assert_string_equal(s.rule[0], "campaign_put");
	assert_string_equal(s.body[0], C1); /* the record as given */
	assert_int_equal(s.action[1], SG_ACTION_SENDER);
	assert_int_equal(s.scope[1], SG_SCOPE_GROUP);
	assert_string_equal(s.scope_id[1], "MG1");
	assert_string_equal(s.campaign[1], "C1");
	assert_string_equal(s.body[1], "{\"sender\":\"+14155550100\",\"campaign\":\"C1\",\"group\":\"MG1\"}");
	/* the opt-out after the registry change resolved the new scopes */
	assert_int_equal(s.action[2], SG_ACTION_OPT_OUT);
	assert_string_equal(s.campaign[2], "C1");
	assert_int_equal(s.action[3], SG_ACTION_SENDER);
	assert_int_equal(s.scope[3], SG_SCOPE_SENDER);
	assert_string_equal(s.rule[3], "sender_detach");
	sg_sender_info info;
	assert_int_equal(sg_sender_get(e, OURS, &info), SG_ENOTFOUND); /* no longer registered */
	sg_verify_result vr;
	assert_int_equal(sg_verify(e, &vr), 0);
	assert_true(vr.ok);
	assert_int_equal(vr.count, 4);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* A registry event is checked like the API call that makes it: an event
 * recorded directly (or replayed) whose record does not parse, or names
 * another sender, changes nothing and records nothing. */
static void bad_records_are_refused(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	const char *bad[] = {"{\"brandId\":\"B1\"}", "not json", "{\"campaignId\":\"C1\"} trailing"};
	for (size_t i = 0; i < 3; i++) {
		sg_event_in ev = {.size = sizeof(ev), .action = SG_ACTION_CAMPAIGN, .source = SG_SOURCE_OPERATOR,
				  .body = bad[i], .body_len = strlen(bad[i])};
		sg_event_out out;
		assert_int_equal(sg_record(e, &ev, 1, &out), 0);
		assert_int_equal(out.status, SG_EJSON);
	}
	const char *other = "{\"sender\":\"+14155550199\",\"campaign\":\"C1\",\"group\":\"\"}";
	sg_event_in ev = {.size = sizeof(ev), .action = SG_ACTION_SENDER, .source = SG_SOURCE_OPERATOR,
			  .sender = OURS, .body = other, .body_len = strlen(other)};
	sg_event_out out;
	assert_int_equal(sg_record(e, &ev, 1, &out), 0);
	assert_int_equal(out.status, SG_EJSON);
	ev.body = NULL; /* no record at all */
	ev.body_len = 0;
	assert_int_equal(sg_record(e, &ev, 1, &out), 0);
	assert_int_equal(out.status, -EINVAL);
	ev.body = other;
	ev.body_len = strlen(other);
	ev.recipient = THEM; /* a registry change concerns no recipient */
	assert_int_equal(sg_record(e, &ev, 1, &out), 0);
	assert_int_equal(out.status, -EINVAL);
	const char *detail = NULL;
	assert_int_equal(sg_campaign_put_json(e, bad[0], strlen(bad[0]), &detail), SG_EJSON);
	assert_non_null(detail);
	uint64_t seq;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &seq, h), 0);
	assert_int_equal(seq, 0);
	sg_sender_info info;
	assert_int_equal(sg_sender_get(e, OURS, &info), SG_ENOTFOUND);
	sg_engine_close(e);
	tu_rmdir(dir);
}

/* Retention removes message bodies, never a registry record. */
static void retention_keeps_the_registry_records(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	const char *detail = NULL;
	assert_int_equal(sg_campaign_put_json(e, C1, strlen(C1), &detail), 0);
	assert_int_equal(sg_sender_put(e, OURS, "C1", NULL), 0);
	sg_event_in stop = {.size = sizeof(stop), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD,
			    .sender = OURS, .recipient = THEM, .body = "STOP", .body_len = 4};
	sg_event_out out;
	assert_int_equal(sg_record(e, &stop, 1, &out), 0);
	assert_int_equal(out.status, 0);
	struct timespec ts = {0, 2000000};
	nanosleep(&ts, NULL);
	uint64_t removed = 0;
	assert_int_equal(sg_redact(e, sg_now_us(), &removed), 0);
	assert_int_equal(removed, 1); /* the STOP's body only */
	seen s;
	read_events(e, &s);
	assert_int_equal(s.n, 4);
	assert_true(s.has_body[0] && s.has_body[1]);
	assert_false(s.has_body[2]);
	assert_int_equal(s.action[3], SG_ACTION_REDACT);
	sg_verify_result vr;
	assert_int_equal(sg_verify(e, &vr), 0);
	assert_true(vr.ok);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static int apply_to(const sg_event *ev, void *ctx)
{
	sg_event_out o;
	assert_int_equal(sg_apply(ctx, ev, 1, &o), 0);
	assert_int_equal(o.status, 0);
	assert_false(o.duplicate);
	return 0;
}

/* A store from before registry events: its registry written straight
 * into the databases (as 0.1 did), no event for it, no "reglog" flag. */
static void write_old_registry(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, campaigns, senders;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
	assert_int_equal(mdb_dbi_open(txn, "campaigns", 0, &campaigns), 0);
	assert_int_equal(mdb_dbi_open(txn, "senders", 0, &senders), 0);
	MDB_val k = {6, "reglog"};
	assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
	char val[128] = {1, 1, 0, 2, 'B', '1'};
	memcpy(val + 6, C1, strlen(C1));
	k = (MDB_val){2, "C1"};
	MDB_val v = {6 + strlen(C1), val};
	assert_int_equal(mdb_put(txn, campaigns, &k, &v, 0), 0);
	k = (MDB_val){strlen(OURS), OURS};
	v = (MDB_val){7, "C1\0MG1\0"};
	assert_int_equal(mdb_put(txn, senders, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void an_old_registry_is_logged_once(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp(), *replica = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	sg_engine_close(e);
	write_old_registry(dir);
	e = tu_open(dir, 0, NULL); /* the first read-write open logs it */
	seen s;
	read_events(e, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.action[0], SG_ACTION_CAMPAIGN);
	assert_string_equal(s.rule[0], "registry_migrated");
	assert_string_equal(s.body[0], C1);
	assert_int_equal(s.action[1], SG_ACTION_SENDER);
	assert_string_equal(s.scope_id[1], "MG1");
	assert_string_equal(s.body[1], "{\"sender\":\"+14155550100\",\"campaign\":\"C1\",\"group\":\"MG1\"}");
	sg_engine_close(e);
	e = tu_open(dir, 0, NULL); /* once */
	read_events(e, &s);
	assert_int_equal(s.n, 2);
	/* a replica that applies the log has the registry */
	sg_engine *r = tu_open(replica, 0, NULL);
	assert_int_equal(sg_events_read(e, 1, 100, apply_to, r, NULL), 0);
	sg_sender_info info;
	assert_int_equal(sg_sender_get(r, OURS, &info), 0);
	assert_string_equal(info.campaign_id, "C1");
	assert_string_equal(info.group, "MG1");
	assert_string_equal(info.brand_id, "B1");
	assert_true(info.campaign_active);
	sg_engine_close(r);
	sg_engine_close(e);
	tu_rmdir(dir);
	tu_rmdir(replica);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(changes_are_events),
		cmocka_unit_test(bad_records_are_refused),
		cmocka_unit_test(retention_keeps_the_registry_records),
		cmocka_unit_test(an_old_registry_is_logged_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
