/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stored forms of an event (engine/store/event_value.h): the compact
 * form decodes back to exactly the event whose canonical encoding was
 * hashed, and stores written in the full form (before 0.2), in the compact
 * form, or in both (an old store a new version writes to) open, check,
 * verify, read and export identically. Real LMDB, temp dirs.
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

#define SCRATCH (SG__EVENT_ENC_MAX + 64)
#define T0_RCPT 1764633600000000LL

static char long_text[SG__EVENT_STR_MAX + 1];

/* Events that exercise every branch of the compact encoder. */
static size_t sample_events(sg_event *ev, size_t max)
{
	memset(long_text, 'x', SG__EVENT_STR_MAX);
	long_text[SG__EVENT_STR_MAX] = '\0';
	const sg_event base = {.seq = 7, .time_us = 1764633600123456, .event_time_us = 1764633600123456,
			       .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .scope = SG_SCOPE_SENDER,
			       .scope_id = "+14155550100", .sender = "+14155550100", .recipient = "+14155552671",
			       .provider = "twilio", .rule = "en.stop", .body_len = 4};
	sg_event v[] = {base, base, base, base, base, base, base, base, base, base, base, base};
	/* 1: every string, text that looks like numbers but is not, keywords (format 3) */
	v[1].scope = SG_SCOPE_CAMPAIGN, v[1].scope_id = "C1", v[1].campaign = "C1", v[1].brand = "+",
	v[1].provider_msg_id = "+123abc", v[1].reply = "Acme: you're out \xF0\x9F\x98\x80", v[1].note = "+0",
	v[1].dedup_key = "twilio:SM1", v[1].keywords = "kw-0123456789abcdef", v[1].rule = "=cmd|' /C calc'!A0";
	/* 2: no strings at all, no body, times far apart and negative */
	v[2] = (sg_event){.seq = 1, .time_us = -5, .event_time_us = INT64_MAX, .action = SG_ACTION_REDACT,
			  .source = SG_SOURCE_OPERATOR, .scope = SG_SCOPE_GLOBAL};
	/* 3: an event time before the record time; odd and even digit counts;
	 * a 30-digit and a 31-digit "number" (the latter stored as text) */
	v[3].event_time_us = v[3].time_us - 86400000000LL, v[3].recipient = "+4930123456",
	v[3].sender = "+123456789012345678901234567890", v[3].scope_id = "+1234567890123456789012345678901";
	/* 4: the longest strings */
	v[4].note = long_text, v[4].reply = long_text, v[4].rule = long_text;
	/* 5: a body length with the empty digest (a replayed event whose body
	 * was redacted before it reached us) */
	v[5].body_len = 11;
	/* 6: no body but a digest other than the empty string's */
	v[6].body_len = 0;
	/* 7: leading zeros, a lone digit */
	v[7].recipient = "+0001", v[7].sender = "+7", v[7].scope_id = "+7";
	/* 8: short codes and alphanumeric keys */
	v[8].recipient = "sc:US:12345", v[8].sender = "aid:ACME", v[8].scope_id = "aid:ACME";
	/* 9: raw keys, unknown action bytes kept as they are */
	v[9].recipient = "raw:abc", v[9].action = 200, v[9].source = 201, v[9].scope = 202;
	/* 10, 11: bodies kept inline, the shortest and the longest, with a NUL byte */
	v[10].body = "STOP", v[10].body_len = 4;
	v[11].body = "0123456789abcdef\0123456789abcde", v[11].body_len = SG__EVENT_INLINE_MAX;
	size_t n = SG_ARRAY_SIZE(v) < max ? SG_ARRAY_SIZE(v) : max;
	for (size_t i = 0; i < n; i++) {
		if (i == 2 || i == 5)
			sg__sha256("", 0, v[i].body_sha256);
		else if (v[i].body)
			sg__sha256(v[i].body, v[i].body_len, v[i].body_sha256);
		else
			for (int b = 0; b < 32; b++)
				v[i].body_sha256[b] = (uint8_t)(i * 31 + b);
		for (int b = 0; b < 32; b++)
			v[i].hash[b] = (uint8_t)(0xF0 - b - i);
		ev[i] = v[i];
	}
	return n;
}

static void expect_same_str(const char *a, const char *b)
{
	if (!a || !a[0] || !b || !b[0]) {
		assert_true((!a || !a[0]) && (!b || !b[0])); /* NULL and "" encode alike */
		return;
	}
	assert_string_equal(a, b);
}

static void expect_same_event(const sg_event *a, const sg_event *b, bool bodies)
{
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->time_us, b->time_us);
	assert_int_equal(a->event_time_us, b->event_time_us);
	assert_int_equal(a->action, b->action);
	assert_int_equal(a->source, b->source);
	assert_int_equal(a->scope, b->scope);
	const char *sa[] = {a->scope_id, a->sender, a->recipient, a->campaign, a->brand, a->provider,
			    a->provider_msg_id, a->rule, a->reply, a->note, a->dedup_key, a->keywords};
	const char *sb[] = {b->scope_id, b->sender, b->recipient, b->campaign, b->brand, b->provider,
			    b->provider_msg_id, b->rule, b->reply, b->note, b->dedup_key, b->keywords};
	for (size_t i = 0; i < SG_ARRAY_SIZE(sa); i++)
		expect_same_str(sa[i], sb[i]);
	assert_int_equal(a->body_len, b->body_len);
	assert_memory_equal(a->body_sha256, b->body_sha256, 32);
	assert_memory_equal(a->hash, b->hash, 32);
	assert_memory_equal(a->prev_hash, b->prev_hash, 32);
	if (bodies) {
		assert_true(!a->body == !b->body);
		if (a->body)
			assert_memory_equal(a->body, b->body, a->body_len);
	}
}

/* Encode, decode, encode canonically: the bytes hashed come back exactly. */
static void compact_round_trip(void **state)
{
	(void)state;
	sg_event ev[16];
	size_t n = sample_events(ev, 16);
	uint8_t *val = malloc(SG__EVENT_VALUE_MAX), *c1 = malloc(SG__EVENT_ENC_MAX), *c2 = malloc(SG__EVENT_ENC_MAX);
	char *scratch = malloc(SCRATCH);
	uint8_t prev[32];
	for (int b = 0; b < 32; b++)
		prev[b] = (uint8_t)(0xA0 + b);
	for (size_t i = 0; i < n; i++) {
		memcpy(ev[i].prev_hash, prev, 32);
		long vn = sg__event_value_encode(&ev[i], ev[i].hash, val, SG__EVENT_VALUE_MAX);
		assert_true(vn > 32);
		assert_true(sg__event_value_is_compact(val, (size_t)vn));
		sg_event back;
		assert_int_equal(sg__event_value_decode(ev[i].seq, val, (size_t)vn, prev, &back, scratch, SCRATCH), 0);
		expect_same_event(&ev[i], &back, true);
		assert_int_equal(sg__event_value_inline(val, (size_t)vn), ev[i].body != NULL);
		long n1 = sg__event_encode(&ev[i], c1, SG__EVENT_ENC_MAX), n2 = sg__event_encode(&back, c2, SG__EVENT_ENC_MAX);
		assert_true(n1 > 0);
		assert_int_equal(n1, n2);
		assert_memory_equal(c1, c2, (size_t)n1);
		/* the canonical form is never shorter than the compact one's fields */
		assert_true(vn <= 32 + 1 + n1);
		int64_t t;
		int action;
		assert_int_equal(sg__event_value_head(val, (size_t)vn, &t, &action), 0);
		assert_int_equal(t, ev[i].time_us);
		assert_int_equal(action, (uint8_t)ev[i].action);
		/* every shorter prefix is refused, never misread */
		for (long cut = 33; cut < vn && cut < 200; cut++)
			assert_int_not_equal(sg__event_value_decode(ev[i].seq, val, (size_t)cut, prev, &back, scratch, SCRATCH), 0);
	}
	/* a string too long is an error, not a truncation */
	sg_event big = ev[0];
	char *huge = malloc(SG__EVENT_STR_MAX + 2);
	memset(huge, 'y', SG__EVENT_STR_MAX + 1);
	huge[SG__EVENT_STR_MAX + 1] = '\0';
	big.note = huge;
	assert_int_equal(sg__event_value_encode(&big, big.hash, val, SG__EVENT_VALUE_MAX), SG_ETOOLONG);
	free(huge);
	free(val);
	free(c1);
	free(c2);
	free(scratch);
}

/* Recipient records: format 3 and the old formats decode to the same record. */
static void expect_same_rcpt(const sg__rcpt *a, const sg__rcpt *b)
{
	assert_int_equal(a->not_sms_capable, b->not_sms_capable);
	assert_int_equal(a->flag_since_us, b->flag_since_us);
	assert_int_equal(a->flag_seq, b->flag_seq);
	assert_string_equal(a->flag_code, b->flag_code);
	assert_string_equal(a->flag_provider, b->flag_provider);
	assert_int_equal(a->count, b->count);
	for (unsigned i = 0; i < a->count; i++) {
		const sg__entry *x = &a->entries[i], *y = &b->entries[i];
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->scope, y->scope);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->source, y->source);
		assert_int_equal(x->claimed, y->claimed);
		assert_int_equal(x->by_recipient, y->by_recipient);
		assert_int_equal(x->since_us, y->since_us);
		assert_int_equal(x->event_time_us, y->event_time_us);
		assert_int_equal(x->seq, y->seq);
		assert_int_equal(x->latest_us, y->latest_us);
		assert_int_equal(x->latest_seq, y->latest_seq);
		assert_int_equal(x->first_event_time_us, y->first_event_time_us);
		assert_string_equal(x->id, y->id);
	}
}

static void rcpt_round_trip(void **state)
{
	(void)state;
	sg__rcpt *r = calloc(1, sizeof(*r)), *back = calloc(1, sizeof(*back));
	uint8_t *buf = malloc(SG__RCPT_ENC_MAX);
	const char *ids[] = {"+14155550100", "", "C1", "+7", "aid:ACME", "+123456789012345678901234567890",
			     "+1234567890123456789012345678901"};
	for (int variant = 0; variant < 3; variant++) {
		memset(r, 0, sizeof(*r));
		if (variant == 1) {
			r->not_sms_capable = true;
			r->flag_since_us = T0_RCPT;
			r->flag_seq = 99;
			strcpy(r->flag_code, "30006");
			strcpy(r->flag_provider, "twilio");
		}
		int n = variant == 2 ? SG__RCPT_MAX_ENTRIES : (int)SG_ARRAY_SIZE(ids);
		for (int i = 0; i < n; i++) {
			sg__entry *e = &r->entries[r->count++];
			e->type = i % 3 ? SG__ENTRY_CONSENT : SG__ENTRY_HELP;
			e->scope = (uint8_t)(1 + i % 5);
			e->state = (uint8_t)(i % 3);
			e->source = (uint8_t)(i % 7);
			e->claimed = i % 2;
			e->by_recipient = i % 4 == 1;
			e->since_us = T0_RCPT + i * 1000003LL;
			e->event_time_us = i % 2 ? e->since_us : e->since_us - 123456789;
			e->seq = (uint64_t)i * 100000 + 1;
			if (i % 3 == 2) {
				e->latest_us = e->since_us + 5000000;
				e->latest_seq = e->seq + 17;
				e->first_event_time_us = e->since_us - 1;
			}
			snprintf(e->id, sizeof(e->id), "%s", variant == 2 ? "+14155550100" : ids[i]);
		}
		for (int old = 0; old < 2; old++) {
			sg__store_old_forms = old;
			long len = sg__rcpt_encode(r, buf, SG__RCPT_ENC_MAX);
			sg__store_old_forms = false;
			assert_true(len > 0);
			assert_int_equal(buf[0] == 3, !old);
			memset(back, 0x5a, sizeof(*back));
			assert_int_equal(sg__rcpt_decode(buf, (size_t)len, back), 0);
			expect_same_rcpt(r, back);
			for (long cut = 0; cut < len && cut < 120; cut++)
				assert_int_not_equal(sg__rcpt_decode(buf, (size_t)cut, back), 0);
		}
	}
	/* one opt-out of one sender, as the bench and most stores hold */
	memset(r, 0, sizeof(*r));
	r->count = 1;
	r->entries[0] = (sg__entry){.type = SG__ENTRY_CONSENT, .scope = SG_SCOPE_SENDER, .state = SG_STATE_OPTED_OUT,
				    .source = SG_SOURCE_KEYWORD, .by_recipient = true, .since_us = T0_RCPT,
				    .event_time_us = T0_RCPT, .seq = 1000000};
	strcpy(r->entries[0].id, "+14155550100");
	assert_true(sg__rcpt_encode(r, buf, SG__RCPT_ENC_MAX) <= 26);
	free(r);
	free(back);
	free(buf);
}

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
		cmocka_unit_test(compact_round_trip),
		cmocka_unit_test(rcpt_round_trip),
		cmocka_unit_test(forms_read_alike),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
