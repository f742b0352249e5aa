/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stored forms of an event (engine/store/event_value.h): the compact
 * form decodes back to exactly the event whose canonical encoding was
 * hashed; recipient records of format 3 and of the older formats decode
 * alike. The stores themselves: test_event_stores.c.
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
	/* (split: "\0" then "123": one string "\0123" would be the octal escape \012) */
	v[11].body = "0123456789abcdef\0" "123456789abcde", v[11].body_len = SG__EVENT_INLINE_MAX;
	_Static_assert(sizeof("0123456789abcdef\0" "123456789abcde") == SG__EVENT_INLINE_MAX, "the longest inline body");
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

#include "event_compare.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compact_round_trip),
		cmocka_unit_test(rcpt_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
