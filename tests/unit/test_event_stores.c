/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stores written in the full form of events and the old recipient
 * records (before 0.2), in the compact forms, or in both (an old store a
 * new version writes to) open, check, verify, read, export, redact and
 * replicate identically (engine/store/event_value.h, consent.h). Real LMDB,
 * temp dirs; read-only engines, so not under valgrind (tests/meson.build).
 */
#include <errno.h>
#include <lmdb.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"
#include "internal.h"
#include "export/export.h"
#include "store/consent.h"
#include "store/event.h"
#include "store/event_value.h"

#include "event_compare.h"

#define T0_RCPT 1764633600000000LL

/* ---- the same history in full, compact and mixed stores ---- */

#define NEV 40
#define T0 1764633600000000LL

/* Event i of the history: opt-outs and opt-ins of a few senders, some
 * with bodies and de-dup keys, each at a fixed time. */
static void history_event(int i, sg_event_in *ev, char *to, char *key)
{
	/* the second half reaches 7 of the 13: in the mixed store 6 records stay in the old format */
	snprintf(to, SG_KEY_MAX, "+1415555%04d", 2000 + (i < NEV / 2 ? i % 13 : i % 7));
	snprintf(key, 64, "twilio:SM%d", i);
	static const char *const senders[] = {"+14155550100", "+14155550101", "+14155550102"};
	*ev = (sg_event_in){.size = sizeof(sg_event_in), .action = i % 5 == 4 ? SG_ACTION_OPT_IN : SG_ACTION_OPT_OUT,
			    .source = SG_SOURCE_KEYWORD, .sender = senders[i % 3],
			    .recipient = to, .provider = "twilio", .rule = i % 5 == 4 ? NULL : "en.stop",
			    .time_us = T0 + i * 1000000LL, .event_time_us = i % 2 ? T0 + i * 1000000LL - 2500 : 0,
			    .dedup_key = i % 3 ? key : NULL, .keywords = i % 7 == 0 ? "kw-0123456789abcdef" : NULL};
	if (i % 2) { /* short bodies inline, a long one in the bodies DB */
		ev->body = i % 4 == 1 ? "STOP" : "please stop sending me these, I never signed up";
		ev->body_len = strlen(ev->body);
	}
	if (ev->action == SG_ACTION_OPT_IN)
		ev->note = "web form";
}

/* A store of the history: events [0, full_upto) in the full form, the rest compact. */
static char *history_store(int full_upto)
{
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	for (int i = 0; i < NEV; i++) {
		char to[SG_KEY_MAX], key[64];
		sg_event_in ev;
		sg_event_out out;
		history_event(i, &ev, to, key);
		sg__store_old_forms = i < full_upto;
		assert_int_equal(sg_record(e, &ev, 1, &out), 0);
		assert_int_equal(out.status, 0);
		if (i == full_upto - 1) { /* an old store, closed and reopened by a new version */
			sg_engine_close(e);
			e = tu_open(dir, 0, NULL);
		}
	}
	sg__store_old_forms = false;
	sg_engine_close(e);
	return dir;
}

typedef struct collected {
	sg_event ev[NEV + 1];
	char *exports[NEV + 1];
	char text[NEV + 1][1024];
	uint8_t body[NEV + 1][64];
	size_t n;
} collected;

/* Copy an event (its strings into the collection) and its JSONL export. */
static int collect(const sg_event *ev, void *ctx)
{
	collected *c = ctx;
	assert_true(c->n < NEV + 1);
	sg_event *d = &c->ev[c->n];
	*d = *ev;
	char *p = c->text[c->n];
	const char **strs[] = {&d->scope_id, &d->sender, &d->recipient, &d->campaign, &d->brand, &d->provider,
			       &d->provider_msg_id, &d->rule, &d->reply, &d->note, &d->dedup_key, &d->keywords};
	for (size_t i = 0; i < SG_ARRAY_SIZE(strs); i++) {
		if (!*strs[i])
			continue;
		size_t l = strlen(*strs[i]) + 1;
		assert_true(p + l <= c->text[c->n] + sizeof(c->text[0]));
		memcpy(p, *strs[i], l);
		*strs[i] = p;
		p += l;
	}
	if (ev->body) {
		assert_true(ev->body_len <= sizeof(c->body[0]));
		memcpy(c->body[c->n], ev->body, ev->body_len);
		d->body = (const char *)c->body[c->n];
	}
	c->exports[c->n] = malloc(sg__export_bound(ev, SG__EXPORT_JSONL));
	sg__export_event(c->exports[c->n], ev, SG__EXPORT_JSONL);
	c->n++;
	return 0;
}

static void collected_free(collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->exports[i]);
	c->n = 0;
}

typedef struct seen_store {
	uint64_t seq;
	uint8_t head[32];
	sg_verify_result vr;
	collected all, tail, one;
	sg_verdict verdict[13];
} seen_store;

/* Everything a reader sees of the store in dir (read-only, then
 * read-write), which holds nev events. */
static void look(const char *dir, seen_store *s, uint64_t nev)
{
	for (int pass = 0; pass < 2; pass++) {
		sg_engine *e = tu_open(dir, pass ? 0 : SG_OPEN_RDONLY, NULL);
		assert_int_equal(sg_head(e, &s->seq, s->head), 0);
		assert_int_equal(sg_verify(e, &s->vr), 0);
		assert_true(s->vr.ok);
		assert_int_equal(s->vr.count, nev);
		assert_memory_equal(s->vr.head_hash, s->head, 32);
		collected_free(&s->all);
		collected_free(&s->tail);
		collected_free(&s->one);
		assert_int_equal(sg_events_read(e, 0, NEV + 1, collect, &s->all, NULL), 0);
		assert_int_equal(s->all.n, nev);
		/* from the middle: the first event's previous hash is looked up */
		assert_int_equal(sg_events_read(e, NEV / 2 + 3, NEV, collect, &s->tail, NULL), 0);
		assert_int_equal(sg_events_for_recipient(e, "+14155552005", collect, &s->one), 0);
		for (int i = 0; i < 13; i++) {
			char to[SG_KEY_MAX];
			snprintf(to, sizeof(to), "+1415555%04d", 2000 + i);
			assert_int_equal(sg_check(e, "+14155550100", to, SG_PURPOSE_MESSAGE, &s->verdict[i]), 0);
		}
		sg_engine_close(e);
	}
}

/* The same events up to seq max_seq. */
static void expect_same_collection(const collected *a, const collected *b, uint64_t max_seq)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n && a->ev[i].seq <= max_seq; i++) {
		expect_same_event(&a->ev[i], &b->ev[i], true);
		assert_string_equal(a->exports[i], b->exports[i]);
	}
}

/* How many values of each form the events DB of dir holds, and how many
 * recipient records of format 3 and of the older ones (liblmdb itself). */
static void count_forms(const char *dir, int *full, int *compact, int *rold, int *r3)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, v;
	*full = *compact = 0;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "events", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	while (!mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (sg__event_value_is_compact(v.mv_data, v.mv_size))
			(*compact)++;
		else if (v.mv_size > 64 && SG__EVENT_FORMAT_OK(((const uint8_t *)v.mv_data)[64]))
			(*full)++;
	}
	mdb_cursor_close(cur);
	*rold = *r3 = 0;
	assert_int_equal(mdb_dbi_open(txn, "recipients", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	while (!mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		uint8_t f = v.mv_size ? ((const uint8_t *)v.mv_data)[0] : 0;
		*(f == 3 ? r3 : rold) += f >= 1 && f <= 3;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* The three stores alike, hash for hash, up to event max_seq (a later
 * redaction event differs in its own time). */
static void compare_stores(seen_store *s, uint64_t max_seq)
{
	for (int i = 1; i < 3; i++) {
		assert_int_equal(s[i].seq, s[0].seq);
		if (max_seq >= s[0].seq)
			assert_memory_equal(s[i].head, s[0].head, 32);
		expect_same_collection(&s[i].all, &s[0].all, max_seq);
		expect_same_collection(&s[i].tail, &s[0].tail, max_seq);
		expect_same_collection(&s[i].one, &s[0].one, max_seq);
		for (int r = 0; r < 13; r++) {
			assert_int_equal(s[i].verdict[r].allow, s[0].verdict[r].allow);
			assert_int_equal(s[i].verdict[r].reason, s[0].verdict[r].reason);
			assert_int_equal(s[i].verdict[r].seq, s[0].verdict[r].seq);
		}
	}
}

static void forms_read_alike(void **state)
{
	(void)state;
	char *dirs[3] = {history_store(NEV), history_store(0), history_store(NEV / 2)};
	const int want_full[3] = {NEV, 0, NEV / 2};
	for (int i = 0; i < 3; i++) {
		int full, compact, rold, r3;
		count_forms(dirs[i], &full, &compact, &rold, &r3);
		assert_int_equal(full, want_full[i]);
		assert_int_equal(compact, NEV - want_full[i]);
		assert_int_equal(rold + r3, 13); /* every record decodes as one or the other */
		if (i == 0)
			assert_int_equal(r3, 0);
		else if (i == 1)
			assert_int_equal(rold, 0);
		else
			assert_true(rold == 6 && r3 == 7); /* rewritten in format 3 as events reach them */
	}
	seen_store *s = calloc(3, sizeof(*s));
	for (int i = 0; i < 3; i++)
		look(dirs[i], &s[i], NEV);
	compare_stores(s, NEV);
	/* retention: the bodies of the first 25 seconds go, inline or not, the
	 * same in every store; the chain still verifies, hash for hash */
	for (int i = 0; i < 3; i++) {
		sg_engine *e = tu_open(dirs[i], 0, NULL);
		uint64_t removed = 0;
		assert_int_equal(sg_redact(e, T0 + 25 * 1000000LL, &removed), 0);
		assert_int_equal(removed, 12); /* the odd events of 0..24 */
		sg_engine_close(e);
		look(dirs[i], &s[i], NEV + 1);
		size_t with_body = 0;
		for (size_t k = 0; k < s[i].all.n; k++)
			with_body += s[i].all.ev[k].body != NULL;
		assert_int_equal(with_body, 8); /* the odd events of 25..39 */
	}
	compare_stores(s, NEV); /* the first NEV with the same bodies gone */
	/* every prev_hash is the previous event's hash, in every store */
	for (int i = 0; i < 3; i++)
		for (size_t k = 1; k < s[i].all.n; k++)
			assert_memory_equal(s[i].all.ev[k].prev_hash, s[i].all.ev[k - 1].hash, 32);
	assert_int_equal(s[0].tail.ev[0].seq, NEV / 2 + 3);
	assert_true(s[0].one.n >= 3);
	/* the compact store is the smaller one */
	struct stat full, compact;
	char p[4096];
	snprintf(p, sizeof(p), "%s/data.mdb", dirs[0]);
	assert_int_equal(stat(p, &full), 0);
	snprintf(p, sizeof(p), "%s/data.mdb", dirs[1]);
	assert_int_equal(stat(p, &compact), 0);
	assert_true(compact.st_size <= full.st_size);
	/* a replica applying the full store's events (redacted bodies, the
	 * redaction) gets the compact store's chain */
	char *rdir = tu_mkdtemp();
	sg_engine *r = tu_open(rdir, 0, NULL);
	sg_event_out out[NEV + 1];
	assert_int_equal(sg_apply(r, s[0].all.ev, NEV + 1, out), 0);
	for (int i = 0; i < NEV + 1; i++) {
		assert_int_equal(out[i].status, 0);
		assert_false(out[i].duplicate);
	}
	uint64_t rseq;
	uint8_t rhead[32];
	assert_int_equal(sg_head(r, &rseq, rhead), 0);
	assert_int_equal(rseq, NEV + 1);
	assert_memory_equal(rhead, s[0].head, 32);
	sg_engine_close(r);
	tu_rmdir(rdir);
	for (int i = 0; i < 3; i++) {
		collected_free(&s[i].all);
		collected_free(&s[i].tail);
		collected_free(&s[i].one);
		tu_rmdir(dirs[i]);
	}
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forms_read_alike),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
