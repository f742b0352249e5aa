/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compliance audit: hash-chain verification against direct tampering with
 * the LMDB file (edited byte, deleted, swapped, truncated, bodies), the
 * export formats (JSONL parsed back, hostile CSV parsed back, times,
 * filters), redaction, the suppression list. Real LMDB, temp dirs.
 */
#include <errno.h>
#include <lmdb.h>
#include <cjson/cJSON.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"
#include "internal.h"
#include "export/csv.h"
#include "export/export.h"
#include "store/event.h"
#include "store/event_value.h"

#define SENDER "+14155550100"
#define NEVENTS 10

/* ---- helpers ---- */

static void rcpt_key(int i, char out[SG_KEY_MAX])
{
	snprintf(out, SG_KEY_MAX, "+1415555%04d", 2000 + i);
}

/* NEVENTS opt-outs; odd ones carry a body. */
static void fill(sg_engine *e)
{
	char to[NEVENTS][SG_KEY_MAX];
	sg_event_in ev[NEVENTS];
	sg_event_out out[NEVENTS];
	for (int i = 0; i < NEVENTS; i++) {
		rcpt_key(i, to[i]);
		ev[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = SENDER,
				      .recipient = to[i], .provider = "twilio", .rule = "en.stop"};
		if (i % 2) {
			ev[i].body = "STOP";
			ev[i].body_len = 4;
		}
	}
	assert_int_equal(sg_record(e, ev, NEVENTS, out), 0);
	for (int i = 0; i < NEVENTS; i++)
		assert_int_equal(out[i].status, 0);
}

typedef struct lm {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, events, bodies;
} lm;

/* Open the closed engine's data directory with liblmdb itself. */
static void lm_open(lm *l, const char *dir)
{
	assert_int_equal(mdb_env_create(&l->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(l->env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(l->env, (size_t)1 << 30), 0);
	assert_int_equal(mdb_env_open(l->env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(l->env, NULL, 0, &l->txn), 0);
	assert_int_equal(mdb_dbi_open(l->txn, "meta", 0, &l->meta), 0);
	assert_int_equal(mdb_dbi_open(l->txn, "events", 0, &l->events), 0);
	assert_int_equal(mdb_dbi_open(l->txn, "bodies", 0, &l->bodies), 0);
}

static void lm_close(lm *l)
{
	assert_int_equal(mdb_txn_commit(l->txn), 0);
	mdb_env_close(l->env);
}

static MDB_val seq_key(uint8_t buf[8], uint64_t seq)
{
	for (int i = 7; i >= 0; i--, seq >>= 8)
		buf[i] = (uint8_t)seq;
	return (MDB_val){.mv_size = 8, .mv_data = buf};
}

/* A private copy of the events value of seq (caller frees). */
static uint8_t *lm_get(lm *l, MDB_dbi dbi, uint64_t seq, size_t *len)
{
	uint8_t kb[8];
	MDB_val k = seq_key(kb, seq), v;
	assert_int_equal(mdb_get(l->txn, dbi, &k, &v), 0);
	uint8_t *copy = malloc(v.mv_size);
	memcpy(copy, v.mv_data, v.mv_size);
	*len = v.mv_size;
	return copy;
}

static void lm_put(lm *l, MDB_dbi dbi, uint64_t seq, const void *data, size_t len)
{
	uint8_t kb[8];
	MDB_val k = seq_key(kb, seq), v = {.mv_size = len, .mv_data = (void *)data};
	assert_int_equal(mdb_put(l->txn, dbi, &k, &v, 0), 0);
}

static void lm_del(lm *l, MDB_dbi dbi, uint64_t seq)
{
	uint8_t kb[8];
	MDB_val k = seq_key(kb, seq);
	assert_int_equal(mdb_del(l->txn, dbi, &k, NULL), 0);
}

/* The stored form tampered() writes: full (the layout of stores before
 * 0.2, which the tampering below edits) or compact (event_value.h). */
static bool full_form = true;

/* Build a store of NEVENTS, tamper with it via fn, return verify's result. */
static sg_verify_result tampered(void (*fn)(lm *l), uint8_t published_head[32])
{
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	uint64_t seq;
	uint8_t head[32];
	sg__store_old_forms = full_form;
	fill(e);
	sg__store_old_forms = false;
	assert_int_equal(sg_head(e, &seq, head), 0);
	if (published_head)
		memcpy(published_head, head, 32);
	sg_engine_close(e);
	if (fn) {
		lm l;
		lm_open(&l, dir);
		fn(&l);
		lm_close(&l);
	}
	e = tu_open(dir, 0, NULL);
	sg_verify_result r;
	assert_int_equal(sg_verify(e, &r), 0);
	sg_engine_close(e);
	tu_rmdir(dir);
	return r;
}

/* ---- chain verification ---- */

static void chain_intact(void **state)
{
	(void)state;
	uint8_t head[32];
	sg_verify_result r = tampered(NULL, head);
	assert_true(r.ok);
	assert_int_equal(r.count, NEVENTS);
	assert_memory_equal(r.head_hash, head, 32);
}

/* Event 5 is the opt-out of +14155552004; events 2, 4, 6, 8, 10 have bodies. */
static void edit_byte(lm *l)
{
	size_t n;
	uint8_t *v = lm_get(l, l->events, 5, &n);
	uint8_t *digits = memmem(v + 64, n - 64, "+14155552004", 12);
	assert_non_null(digits);
	digits[11] = '9'; /* the recipient, inside the canonical encoding */
	lm_put(l, l->events, 5, v, n);
	free(v);
}

static void edit_recipient_and_rehash(lm *l)
{
	/* A careful forger also fixes the event's own hash: the next link breaks. */
	size_t n;
	uint8_t *v = lm_get(l, l->events, 5, &n);
	uint8_t *digits = memmem(v + 64, n - 64, "+14155552004", 12);
	assert_non_null(digits);
	digits[11] = '9';
	sg__event_hash(v + 32, n - 32, v);
	lm_put(l, l->events, 5, v, n);
	free(v);
}

static void delete_event(lm *l)
{
	lm_del(l, l->events, 5);
}

static void swap_events(lm *l)
{
	size_t n4, n5;
	uint8_t *a = lm_get(l, l->events, 4, &n4), *b = lm_get(l, l->events, 5, &n5);
	lm_put(l, l->events, 4, b, n5);
	lm_put(l, l->events, 5, a, n4);
	free(a);
	free(b);
}

static void truncate_tail(lm *l)
{
	lm_del(l, l->events, NEVENTS);
	lm_del(l, l->events, NEVENTS - 1);
}

static void truncate_tail_and_meta(lm *l)
{
	size_t n;
	uint8_t *v = lm_get(l, l->events, NEVENTS - 2, &n), seq[8];
	truncate_tail(l);
	if (full_form) /* (the compact form keeps this short body inline: it went with the event) */
		lm_del(l, l->bodies, NEVENTS); /* a thorough forger leaves no trace */
	MDB_val hk = {.mv_size = 4, .mv_data = "head"}, hv = {.mv_size = 32, .mv_data = v};
	MDB_val sk = {.mv_size = 3, .mv_data = "seq"}, sv = seq_key(seq, NEVENTS - 2);
	assert_int_equal(mdb_put(l->txn, l->meta, &hk, &hv, 0), 0);
	assert_int_equal(mdb_put(l->txn, l->meta, &sk, &sv, 0), 0);
	free(v);
}

static void edit_body(lm *l)
{
	lm_put(l, l->bodies, 4, "STOQ", 4);
}

static void remove_body(lm *l)
{
	lm_del(l, l->bodies, 4);
}

static void add_body(lm *l)
{
	lm_put(l, l->bodies, 3, "STOP", 4); /* event 3 had no body */
}

static void orphan_body(lm *l)
{
	lm_put(l, l->bodies, NEVENTS + 5, "STOP", 4);
}

static void chain_tampering_detected(void **state)
{
	(void)state;
	struct {
		void (*fn)(lm *l);
		uint64_t bad_seq;
		const char *reason;
	} cases[] = {
		{edit_byte, 5, "does not match its hash"},
		{edit_recipient_and_rehash, 6, "previous-hash link"},
		{delete_event, 5, "missing"},
		{swap_events, 4, "sequence differs"},
		{truncate_tail, NEVENTS - 1, "truncated tail"},
		{edit_body, 4, "body does not match"},
		{add_body, 3, "body does not match"},
		{orphan_body, NEVENTS + 5, "body without its event"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sg_verify_result r = tampered(cases[i].fn, NULL);
		if (r.ok || r.bad_seq != cases[i].bad_seq || !strstr(r.reason, cases[i].reason))
			fail_msg("case %zu: ok=%d bad_seq=%llu reason=%s", i, r.ok, (unsigned long long)r.bad_seq,
				 r.reason);
	}
}

/* What redaction does to a body kept inline in a compact value: the value
 * rewritten with the body's length and digest only. */
static void remove_inline_body(lm *l)
{
	size_t n;
	uint8_t *v = lm_get(l, l->events, 4, &n), *nv = malloc(SG__EVENT_VALUE_MAX);
	char *scratch = malloc(SG__EVENT_ENC_MAX + 64);
	sg_event ev;
	assert_true(sg__event_value_inline(v, n));
	assert_int_equal(sg__event_value_decode(4, v, n, NULL, &ev, scratch, SG__EVENT_ENC_MAX + 64), 0);
	assert_int_equal(ev.body_len, 4);
	ev.body = NULL;
	long vn = sg__event_value_encode(&ev, ev.hash, nv, SG__EVENT_VALUE_MAX);
	assert_true(vn > 0);
	assert_false(sg__event_value_inline(nv, (size_t)vn));
	lm_put(l, l->events, 4, nv, (size_t)vn);
	free(v);
	free(nv);
	free(scratch);
}

static void chain_limits_and_redaction(void **state)
{
	(void)state;
	for (int form = 0; form < 2; form++) {
		full_form = form == 0;
		/* Removing a body is what redaction does: the chain still verifies. */
		sg_verify_result r = tampered(full_form ? remove_body : remove_inline_body, NULL);
		assert_true(r.ok);
		/* Cutting the tail and rewriting the recorded head verifies on its own;
		 * only a head published earlier (stopgate head) exposes it. */
		uint8_t published[32];
		r = tampered(truncate_tail_and_meta, published);
		assert_true(r.ok);
		assert_int_equal(r.count, NEVENTS - 2);
		assert_memory_not_equal(r.head_hash, published, 32);
	}
	full_form = true;
}

/* ---- the same tampering on the compact form (event_value.h) ---- */

static void chain_intact_compact(void **state)
{
	(void)state;
	uint8_t head[32];
	full_form = false;
	sg_verify_result r = tampered(NULL, head);
	full_form = true;
	assert_true(r.ok);
	assert_int_equal(r.count, NEVENTS);
	assert_memory_equal(r.head_hash, head, 32);
}

/* The recipient +14155552004 of event 5 as the compact form packs it:
 * eleven digits, two to a byte, the last nibble zero. */
static uint8_t *compact_recipient(uint8_t *v, size_t n)
{
	static const uint8_t packed[6] = {0x14, 0x15, 0x55, 0x52, 0x00, 0x40};
	assert_true(sg__event_value_is_compact(v, n));
	uint8_t *at = memmem(v + 32, n - 32, packed, sizeof(packed));
	assert_non_null(at);
	return at;
}

static void edit_byte_compact(lm *l)
{
	size_t n;
	uint8_t *v = lm_get(l, l->events, 5, &n);
	compact_recipient(v, n)[5] = 0x90; /* the last digit 4 -> 9 */
	lm_put(l, l->events, 5, v, n);
	free(v);
}

static void edit_recipient_and_rehash_compact(lm *l)
{
	/* The forger rebuilds the canonical encoding and fixes event 5's own
	 * hash: event 6, hashed after the old one, no longer matches. */
	size_t n, n4;
	uint8_t *v = lm_get(l, l->events, 5, &n), *prev = lm_get(l, l->events, 4, &n4);
	compact_recipient(v, n)[5] = 0x90;
	sg_event ev;
	char *scratch = malloc(SG__EVENT_ENC_MAX + 64);
	uint8_t *canon = malloc(32 + SG__EVENT_ENC_MAX), *nv = malloc(SG__EVENT_VALUE_MAX);
	assert_int_equal(sg__event_value_decode(5, v, n, prev, &ev, scratch, SG__EVENT_ENC_MAX + 64), 0);
	assert_string_equal(ev.recipient, "+14155552009");
	long cn = sg__event_encode(&ev, canon + 32, SG__EVENT_ENC_MAX);
	assert_true(cn > 0);
	memcpy(canon, prev, 32);
	uint8_t hash[32];
	sg__event_hash(canon, 32 + (size_t)cn, hash);
	long vn = sg__event_value_encode(&ev, hash, nv, SG__EVENT_VALUE_MAX);
	assert_int_equal(vn, (long)n);
	lm_put(l, l->events, 5, nv, (size_t)vn);
	free(v);
	free(prev);
	free(scratch);
	free(canon);
	free(nv);
}

/* The compact form keeps "STOP" inline: event 4's body in its value. */
static void edit_inline_body(lm *l)
{
	size_t n;
	uint8_t *v = lm_get(l, l->events, 4, &n);
	assert_true(sg__event_value_inline(v, n));
	uint8_t *body = memmem(v + 32, n - 32, "STOP", 4);
	assert_non_null(body);
	body[3] = 'Q';
	lm_put(l, l->events, 4, v, n);
	free(v);
}

/* A byte of the compact layout itself (its version): the value no longer decodes. */
static void break_compact_layout(lm *l)
{
	size_t n;
	uint8_t *v = lm_get(l, l->events, 5, &n);
	assert_true(sg__event_value_is_compact(v, n));
	v[32] = 0x7E;
	lm_put(l, l->events, 5, v, n);
	free(v);
}

static void chain_tampering_detected_compact(void **state)
{
	(void)state;
	struct {
		void (*fn)(lm *l);
		uint64_t bad_seq;
		const char *reason;
	} cases[] = {
		{edit_byte_compact, 5, "does not match its hash"},
		{break_compact_layout, 5, "does not match its hash (the stored event does not decode)"},
		{edit_recipient_and_rehash_compact, 6, "does not match its hash"},
		{delete_event, 5, "missing"},
		{swap_events, 4, "sequence differs"},
		{truncate_tail, NEVENTS - 1, "truncated tail"},
		{edit_inline_body, 4, "does not match its hash"}, /* the digest is the inline body's */
		{edit_body, 4, "stored twice"}, /* a second copy in the bodies DB */
		{add_body, 3, "body does not match"},
		{orphan_body, NEVENTS + 5, "body without its event"},
	};
	full_form = false;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sg_verify_result r = tampered(cases[i].fn, NULL);
		if (r.ok || r.bad_seq != cases[i].bad_seq || !strstr(r.reason, cases[i].reason))
			fail_msg("case %zu: ok=%d bad_seq=%llu reason=%s", i, r.ok, (unsigned long long)r.bad_seq,
				 r.reason);
	}
	full_form = true;
}

/* ---- export formats ---- */

static const char hostile_body[] = "He said \"STOP\", now\r\nplease\t=1+1 \xF0\x9F\x98\x80 caf\xC3\xA9";

static sg_event hostile_event(void)
{
	sg_event ev = {
		.seq = 42, .time_us = 1709164800123456, .event_time_us = 1709164799000001,
		.action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .scope = SG_SCOPE_CAMPAIGN,
		.scope_id = "C1", .sender = "+14155550100", .recipient = "+14155552671", .campaign = "C1",
		.brand = "-2+3", .provider = "@SUM(A1)", .provider_msg_id = "+123abc", .rule = "=cmd|' /C calc'!A0",
		.reply = "Acme, Inc: you're out", .note = "\tnote, \"quoted\"", .body = hostile_body,
		.body_len = sizeof(hostile_body) - 1, .dedup_key = "=dedup", .keywords = "kw-0123456789abcdef",
	};
	for (int i = 0; i < 32; i++) {
		ev.body_sha256[i] = (uint8_t)i;
		ev.prev_hash[i] = (uint8_t)(0xA0 + i);
		ev.hash[i] = (uint8_t)(0xF0 - i);
	}
	return ev;
}

static char *format(const sg_event *ev, sg__export_format fmt)
{
	char *buf = malloc(sg__export_bound(ev, fmt));
	size_t n = sg__export_event(buf, ev, fmt);
	assert_int_equal(strlen(buf), n);
	assert_true(n < sg__export_bound(ev, fmt));
	return buf;
}

static void expect_str(const cJSON *o, const char *name, const char *want)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	assert_non_null(it);
	if (!want) {
		assert_true(cJSON_IsNull(it));
		return;
	}
	assert_true(cJSON_IsString(it));
	assert_string_equal(it->valuestring, want);
}

static void jsonl_round_trip(void **state)
{
	(void)state;
	sg_event ev = hostile_event();
	char *line = format(&ev, SG__EXPORT_JSONL), hex[65];
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_null(strchr(line, '\r'));
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1); /* one line */
	cJSON *o = cJSON_Parse(line);
	assert_non_null(o);
	assert_int_equal(cJSON_GetObjectItem(o, "seq")->valuedouble, 42);
	expect_str(o, "time", "2024-02-29T00:00:00.123456Z");
	expect_str(o, "event_time", "2024-02-28T23:59:59.000001Z");
	expect_str(o, "action", "opt_out");
	expect_str(o, "source", "keyword");
	expect_str(o, "scope", "campaign");
	const char *names[] = {"scope_id", "sender", "recipient", "campaign", "brand", "provider",
			       "provider_msg_id", "rule", "reply", "note", "body"};
	const char *vals[] = {ev.scope_id, ev.sender, ev.recipient, ev.campaign, ev.brand, ev.provider,
			      ev.provider_msg_id, ev.rule, ev.reply, ev.note, ev.body};
	for (size_t i = 0; i < SG_ARRAY_SIZE(names); i++)
		expect_str(o, names[i], vals[i]); /* JSON is not neutralised: exact text */
	assert_int_equal(cJSON_GetObjectItem(o, "body_len")->valuedouble, ev.body_len);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "body_redacted")));
	sg_hex32(ev.body_sha256, hex);
	expect_str(o, "body_sha256", hex);
	sg_hex32(ev.prev_hash, hex);
	expect_str(o, "prev_hash", hex);
	sg_hex32(ev.hash, hex);
	expect_str(o, "hash", hex);
	cJSON_Delete(o);
	free(line);

	/* absent strings are null; a redacted body is null with the marker;
	 * NUL and invalid UTF-8 stay representable */
	static const char odd[] = "a\0b\xFF" "c";
	sg_event bare = {.seq = 1, .action = SG_ACTION_REDACT, .source = SG_SOURCE_OPERATOR,
			 .scope = SG_SCOPE_GLOBAL, .body_len = 9};
	line = format(&bare, SG__EXPORT_JSONL);
	o = cJSON_Parse(line);
	assert_non_null(o);
	expect_str(o, "recipient", NULL);
	expect_str(o, "body", NULL);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "body_redacted")));
	cJSON_Delete(o);
	free(line);
	bare.body = odd;
	bare.body_len = sizeof(odd) - 1;
	line = format(&bare, SG__EXPORT_JSONL);
	assert_non_null(strstr(line, "\"body\":\"a\\u0000b\xEF\xBF\xBD" "c\""));
	free(line);
}

static void csv_hostile_round_trip(void **state)
{
	(void)state;
	char header[SG__EXPORT_HEADER_MAX];
	sg__export_header(header, SG__EXPORT_CSV);
	assert_string_equal(header, "seq,time,event_time,action,source,scope,scope_id,sender,recipient,campaign,"
				    "brand,provider,provider_msg_id,rule,body,body_len,body_redacted,reply,note,"
				    "body_sha256,prev_hash,hash,dedup_key,keywords\r\n");
	sg_event ev = hostile_event();
	char *rec = format(&ev, SG__EXPORT_CSV);
	size_t hl = strlen(header), rl = strlen(rec);
	char *doc = malloc(hl + rl + 1);
	memcpy(doc, header, hl);
	memcpy(doc + hl, rec, rl + 1);
	sg__csv *csv = malloc(sizeof(*csv));
	sg__csv_init_mem(csv, doc, hl + rl);
	assert_int_equal(sg__csv_next(csv), 1);
	assert_int_equal(csv->nfields, 24);
	assert_int_equal(sg__csv_next(csv), 1);
	assert_int_equal(csv->nfields, 24);
	char **f = csv->fields;
	assert_string_equal(f[0], "42");
	assert_string_equal(f[1], "2024-02-29T00:00:00.123456Z");
	assert_string_equal(f[7], "+14155550100"); /* E.164: not neutralised, importable */
	assert_string_equal(f[8], "+14155552671");
	assert_string_equal(f[10], "'-2+3");        /* formula-leading cells: text */
	assert_string_equal(f[11], "'@SUM(A1)");
	assert_string_equal(f[12], "'+123abc");
	assert_string_equal(f[13], "'=cmd|' /C calc'!A0");
	assert_string_equal(f[14], hostile_body); /* commas, quotes, CRLF, UTF-8 intact */
	char len[16];
	snprintf(len, sizeof(len), "%zu", sizeof(hostile_body) - 1);
	assert_string_equal(f[15], len);
	assert_string_equal(f[16], "false");
	assert_string_equal(f[17], "Acme, Inc: you're out");
	assert_string_equal(f[18], "'\tnote, \"quoted\"");
	assert_int_equal(strlen(f[21]), 64);
	assert_string_equal(f[22], "'=dedup");    /* the de-duplication key, neutralised too */
	assert_string_equal(f[23], "kw-0123456789abcdef");
	assert_int_equal(sg__csv_next(csv), 0);
	free(csv);
	free(doc);
	free(rec);
}

static void times_match_libc(void **state)
{
	(void)state;
	const int64_t samples[] = {0, 1, 951782400000000 /* 2000-02-29 */, 4107542399999999 /* 2100-02-28 */,
				   4107542400000000, 1709164800123456, 253402300799999999 /* 9999-12-31 */,
				   -1 /* 1969-12-31T23:59:59.999999Z */, -86400000000LL * 365};
	for (size_t i = 0; i < SG_ARRAY_SIZE(samples); i++) {
		char want[32], got[SG__EXPORT_TIME_LEN + 1];
		sg_time_format(samples[i], want);
		*sg__export_time(got, samples[i]) = '\0';
		assert_string_equal(got, want);
	}
	for (int64_t us = 1600000000000000; us < 1900000000000000; us += 86399999937LL) {
		char want[32], got[SG__EXPORT_TIME_LEN + 1];
		sg_time_format(us, want);
		*sg__export_time(got, us) = '\0';
		assert_string_equal(got, want);
	}
}

static void filters(void **state)
{
	(void)state;
	sg_event ev = hostile_event();
	sg__export_filter f = {0};
	assert_true(sg__export_match(&f, &ev));
	assert_true(sg__export_match(NULL, &ev));
	f.since_us = ev.time_us;
	assert_true(sg__export_match(&f, &ev));
	f.since_us = ev.time_us + 1;
	assert_false(sg__export_match(&f, &ev));
	f = (sg__export_filter){.until_us = ev.time_us};
	assert_false(sg__export_match(&f, &ev)); /* until is exclusive */
	f.until_us = ev.time_us + 1;
	assert_true(sg__export_match(&f, &ev));
	f = (sg__export_filter){.sender = "+14155550100", .recipient = "+14155552671", .campaign = "C1"};
	assert_true(sg__export_match(&f, &ev));
	f.campaign = "C2";
	assert_false(sg__export_match(&f, &ev));
	f = (sg__export_filter){.recipient = "+14155552672"};
	assert_false(sg__export_match(&f, &ev));
	ev.sender = NULL;
	f = (sg__export_filter){.sender = "+14155550100"};
	assert_false(sg__export_match(&f, &ev));
	uint32_t mask = 0;
	const char *bad = NULL;
	assert_int_equal(sg__export_actions_parse("opt_in,help", &mask, &bad), 0);
	f = (sg__export_filter){.actions = mask};
	assert_false(sg__export_match(&f, &ev));
	assert_int_equal(sg__export_actions_parse("help,opt_out", &mask, &bad), 0);
	f.actions = mask;
	assert_true(sg__export_match(&f, &ev));
	assert_int_equal(sg__export_actions_parse("opt_out,stop", &mask, &bad), -EINVAL);
	assert_string_equal(bad, "stop");
	assert_int_equal(sg__export_actions_parse("opt_out,,help", &mask, &bad), -EINVAL);
}

/* ---- redaction ---- */

typedef struct seen {
	int n, with_body, redacted;
	sg_event last;
	char note[128], rule[32];
	bool last_has_rcpt;
} seen;

static int on_ev(const sg_event *ev, void *ctx)
{
	seen *s = ctx;
	s->n++;
	s->with_body += ev->body != NULL;
	s->redacted += !ev->body && ev->body_len > 0;
	s->last = *ev;
	s->last_has_rcpt = ev->recipient != NULL;
	snprintf(s->note, sizeof(s->note), "%s", ev->note ? ev->note : "");
	snprintf(s->rule, sizeof(s->rule), "%s", ev->rule ? ev->rule : "");
	return 0;
}

static void redaction(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	fill(e); /* 5 bodies */
	int64_t cut = sg_now_us();
	while (sg_now_us() == cut)
		;
	sg_event_in late = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = SENDER,
			    .recipient = "+14155559999", .body = "stop", .body_len = 4};
	sg_event_out out;
	assert_int_equal(sg_record(e, &late, 1, &out), 0);

	uint64_t n = 99;
	assert_int_equal(sg_redact(e, sg_now_us() + 60000000, &n), -EINVAL);
	assert_int_equal(sg_redact(e, cut, &n), 0);
	assert_int_equal(n, 5);
	seen s = {0};
	assert_int_equal(sg_events_read(e, 1, 100, on_ev, &s, NULL), 0);
	assert_int_equal(s.n, NEVENTS + 2);
	assert_int_equal(s.with_body, 1);
	assert_int_equal(s.redacted, 5);
	assert_int_equal(s.last.action, SG_ACTION_REDACT);
	assert_false(s.last_has_rcpt);
	assert_string_equal(s.rule, "redact_bodies");
	assert_non_null(strstr(s.note, "bodies=5"));
	sg_verify_result r;
	assert_int_equal(sg_verify(e, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.count, NEVENTS + 2);

	/* consent facts untouched */
	sg_verdict v;
	assert_int_equal(sg_check(e, SENDER, "+14155552001", SG_PURPOSE_MESSAGE, &v), 0);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);

	/* again: nothing to do, no second event */
	assert_int_equal(sg_redact(e, cut, &n), 0);
	assert_int_equal(n, 0);
	uint64_t head;
	uint8_t h[32];
	assert_int_equal(sg_head(e, &head, h), 0);
	assert_int_equal(head, NEVENTS + 2);

	/* a REDACT event names no person */
	sg_event_in bad = {.size = sizeof(sg_event_in), .action = SG_ACTION_REDACT, .source = SG_SOURCE_OPERATOR, .recipient = "+14155552671"};
	assert_int_equal(sg_record(e, &bad, 1, &out), 0);
	assert_int_equal(out.status, -EINVAL);
	sg_engine_close(e);
	tu_rmdir(dir); /* (read-only engines cannot map under valgrind: not tested here) */
}

/* ---- suppression list ---- */

typedef struct listed {
	int n;
	char rows[16][2 * SG_KEY_MAX + 16];
	sg_engine *e;
	int checks_denied;
} listed;

static int on_optout(const char *rcpt, const sg_scope_state *st, void *ctx)
{
	listed *l = ctx;
	assert_int_equal(st->state, SG_STATE_OPTED_OUT);
	if (l->n < 16)
		snprintf(l->rows[l->n], sizeof(l->rows[0]), "%s %s %s", rcpt, sg_scope_name(st->scope), st->scope_id);
	l->n++;
	if (l->e) { /* no snapshot is held while the callback runs */
		sg_verdict v;
		assert_int_equal(sg_check(l->e, "+14155550123", rcpt, SG_PURPOSE_MESSAGE, &v), 0);
		l->checks_denied += !v.allow;
	}
	return 0;
}

static int stop_at_three(const char *rcpt, const sg_scope_state *st, void *ctx)
{
	(void)rcpt;
	(void)st;
	return ++*(int *)ctx == 3 ? 7 : 0;
}

static bool has_row(const listed *l, const char *row)
{
	for (int i = 0; i < l->n && i < 16; i++)
		if (!strcmp(l->rows[i], row))
			return true;
	return false;
}

static void suppression_list(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL);
	static const char c1[] = "{\"campaignId\":\"C1\",\"brandId\":\"B1\",\"status\":\"ACTIVE\"}";
	assert_int_equal(sg_campaign_put_json(e, c1, strlen(c1), NULL), 0);
	assert_int_equal(sg_sender_put(e, SENDER, "C1", "G1"), 0);
	struct {
		const char *to;
		sg_scope_kind scope;
		const char *id;
	} outs[] = {
		{"+14155552001", SG_SCOPE_SENDER, SENDER},     {"+14155552002", SG_SCOPE_GLOBAL, ""},
		{"+14155552003", SG_SCOPE_SENDER, "+14155550199"}, {"+14155552004", SG_SCOPE_BRAND, "B1"},
		{"+14155552005", SG_SCOPE_CAMPAIGN, "C2"},     {"+14155552006", SG_SCOPE_GROUP, "G1"},
		{"+14155552007", SG_SCOPE_CAMPAIGN, "C1"},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(outs); i++)
		assert_int_equal(tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_IMPORT, NULL, outs[i].to, outs[i].scope,
					   outs[i].id).status, 0);
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_API, NULL, "+14155552008", SG_SCOPE_CAMPAIGN, "C1");
	tu_record(e, SG_ACTION_OPT_IN, SG_SOURCE_API, NULL, "+14155552008", SG_SCOPE_CAMPAIGN, "C1");

	listed all = {0};
	assert_int_equal(sg_optouts_foreach(e, NULL, on_optout, &all), 0);
	assert_int_equal(all.n, 7);
	assert_true(has_row(&all, "+14155552003 sender +14155550199"));
	listed c = {0};
	assert_int_equal(sg_optouts_foreach(e, "C1", on_optout, &c), 0);
	assert_int_equal(c.n, 5);
	assert_true(has_row(&c, "+14155552001 sender " SENDER));
	assert_true(has_row(&c, "+14155552002 global "));
	assert_true(has_row(&c, "+14155552004 brand B1"));
	assert_true(has_row(&c, "+14155552006 group G1"));
	assert_true(has_row(&c, "+14155552007 campaign C1"));
	listed none = {0};
	assert_int_equal(sg_optouts_foreach(e, "NOPE", on_optout, &none), 0);
	assert_int_equal(none.n, 1); /* global blocks every campaign */
	int calls = 0;
	assert_int_equal(sg_optouts_foreach(e, NULL, stop_at_three, &calls), 7);

	/* more pairs than one snapshot holds, with engine calls from the callback */
	enum { MANY = 2500, B = 500 };
	static char keys[B][SG_KEY_MAX];
	static sg_event_in ev[B];
	static sg_event_out eo[B];
	for (int i = 0; i < MANY; i += B) {
		for (int j = 0; j < B; j++) {
			snprintf(keys[j], SG_KEY_MAX, "+1212555%04d", i + j);
			ev[j] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_IMPORT,
					      .recipient = keys[j], .scope = SG_SCOPE_GLOBAL, .scope_id = ""};
		}
		assert_int_equal(sg_record(e, ev, B, eo), 0);
	}
	listed big = {.e = e};
	assert_int_equal(sg_optouts_foreach(e, NULL, on_optout, &big), 0);
	assert_int_equal(big.n, 7 + MANY);
	assert_int_equal(big.checks_denied, 1 + MANY); /* global pairs deny every sender */
	sg_engine_close(e);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chain_intact),
		cmocka_unit_test(chain_tampering_detected),
		cmocka_unit_test(chain_limits_and_redaction),
		cmocka_unit_test(chain_intact_compact),
		cmocka_unit_test(chain_tampering_detected_compact),
		cmocka_unit_test(jsonl_round_trip),
		cmocka_unit_test(csv_hostile_round_trip),
		cmocka_unit_test(times_match_libc),
		cmocka_unit_test(filters),
		cmocka_unit_test(redaction),
		cmocka_unit_test(suppression_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
