/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet's two local parts (issue 15): the stream message codec carries
 * every field of a decided event exactly (absent and empty strings apart, a
 * body with NULs, the times), and refuses every truncated or altered
 * message; the outbox keeps rows across a reopen, never reuses an id (a
 * reused id would make JetStream drop a new message as a duplicate of an
 * old one), and deletes what it is told.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testutil.h"
#include "fleet/codec.h"
#include "store/fleet_outbox.h"

static void same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void codec_round_trip(void **state)
{
	(void)state;
	static const char body[] = {'S', 'T', 0, 'O', 'P'};
	sg_event_in ev[2] = {
		{.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_IN, .source = SG_SOURCE_API,
		 .sender = "+14155550100", .recipient = "+14155552671", .scope = SG_SCOPE_CAMPAIGN, .scope_id = "C1",
		 .provider = "twilio", .provider_msg_id = "SM1", .dedup_key = "inbound:twilio:SM1", .rule = "",
		 .body = body, .body_len = sizeof(body), .reply = "ok", .note = "why", .event_time_us = -5,
		 .override = SG_OVERRIDE_CONSUMER_REQUEST, .time_us = INT64_C(1764640000123456), .keywords = "kw-1"},
		{.size = sizeof(sg_event_in), .action = SG_ACTION_REDACT, .source = SG_SOURCE_OPERATOR,
		 .body = "", .body_len = 0, .time_us = 1},
	};
	sg__buf b = SG__BUF_INIT;
	assert_int_equal(sg__fleet_encode(ev, 2, &b), 0);
	sg_event_in out[SG__FLEET_MSG_MAX_EVENTS];
	size_t n = 0;
	assert_int_equal(sg__fleet_decode((const uint8_t *)b.p, b.len, out, SG__FLEET_MSG_MAX_EVENTS, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(out[i].size, sizeof(sg_event_in));
		assert_int_equal(out[i].action, ev[i].action);
		assert_int_equal(out[i].source, ev[i].source);
		assert_int_equal(out[i].scope, ev[i].scope);
		assert_int_equal(out[i].override, ev[i].override);
		assert_true(out[i].event_time_us == ev[i].event_time_us);
		assert_true(out[i].time_us == ev[i].time_us);
		same_str(out[i].sender, ev[i].sender);
		same_str(out[i].recipient, ev[i].recipient);
		same_str(out[i].scope_id, ev[i].scope_id);
		same_str(out[i].provider, ev[i].provider);
		same_str(out[i].provider_msg_id, ev[i].provider_msg_id);
		same_str(out[i].dedup_key, ev[i].dedup_key);
		same_str(out[i].rule, ev[i].rule);
		same_str(out[i].reply, ev[i].reply);
		same_str(out[i].note, ev[i].note);
		same_str(out[i].keywords, ev[i].keywords);
		assert_int_equal(out[i].body_len, ev[i].body_len);
		assert_non_null(out[i].body);
		assert_memory_equal(out[i].body, ev[i].body, ev[i].body_len);
	}
	/* every shorter message, a longer one, and a string with a NUL inside: refused */
	for (size_t len = 0; len < b.len; len++)
		assert_int_equal(sg__fleet_decode((const uint8_t *)b.p, len, out, SG__FLEET_MSG_MAX_EVENTS, &n), -EBADMSG);
	sg__buf_addc(&b, 'x');
	assert_int_equal(sg__fleet_decode((const uint8_t *)b.p, b.len, out, SG__FLEET_MSG_MAX_EVENTS, &n), -EBADMSG);
	b.len--;
	char *sender = memmem(b.p, b.len, "+14155550100", 12);
	assert_non_null(sender);
	sender[3] = '\0';
	assert_int_equal(sg__fleet_decode((const uint8_t *)b.p, b.len, out, SG__FLEET_MSG_MAX_EVENTS, &n), -EBADMSG);
	sender[3] = '1';
	b.p[0] = 'X';
	assert_int_equal(sg__fleet_decode((const uint8_t *)b.p, b.len, out, SG__FLEET_MSG_MAX_EVENTS, &n), -EBADMSG);
	/* more events than the reader has room for */
	b.p[0] = 'S';
	assert_int_equal(sg__fleet_decode((const uint8_t *)b.p, b.len, out, 1, &n), -EBADMSG);
	sg__buf_free(&b);
}

typedef struct seen {
	size_t n;
	uint64_t id[8];
	char msg_id[8][96];
	char data[8][16];
} seen;

static int collect(const sg__outbox_row *r, void *ctx)
{
	seen *s = ctx;
	if (s->n == 8)
		return -E2BIG;
	s->id[s->n] = r->id;
	snprintf(s->msg_id[s->n], sizeof(s->msg_id[0]), "%s", r->msg_id);
	snprintf(s->data[s->n], sizeof(s->data[0]), "%.*s", (int)r->len, (const char *)r->data);
	s->n++;
	return 0;
}

static void outbox_keeps_rows_and_never_reuses_an_id(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg__outbox *ob;
	assert_int_equal(sg__outbox_open(dir, &ob), 0);
	uint64_t first = 0;
	assert_int_equal(sg__outbox_ids(ob, 2, &first), 0);
	char own[96];
	sg__outbox_own_id("gw-a", first + 1, own, sizeof(own));
	char want[96];
	snprintf(want, sizeof(want), "gw-a:o%llu", (unsigned long long)(first + 1));
	assert_string_equal(own, want); /* no de-dup key: the node's own, unique */
	sg__outbox_row rows[2] = {
		{.id = first, .subject = "STOPGATE.consent", .msg_id = "inbound:twilio:SM1",
		 .data = (const uint8_t *)"one", .len = 3},
		{.id = first + 1, .subject = "STOPGATE.consent", .msg_id = own, .data = (const uint8_t *)"two", .len = 3},
	};
	assert_int_equal(sg__outbox_put(ob, rows, 2, NULL, 0), 0);
	assert_int_equal(sg__outbox_sync(ob), 0);
	/* a row at or below a stored id is refused (ids only grow) */
	assert_int_not_equal(sg__outbox_put(ob, &rows[0], 1, NULL, 0), 0);
	uint64_t one = first;
	assert_int_equal(sg__outbox_del(ob, &one, 1), 0);
	/* two more ids handed out (published) whose rows never reach the disk:
	 * the node crashes before its outbox commit */
	uint64_t lost = 0;
	assert_int_equal(sg__outbox_ids(ob, 2, &lost), 0);
	assert_true(lost > first + 1);
	sg__outbox_close(ob);
	/* reopened: the next id is above every id handed out before, stored or not */
	assert_int_equal(sg__outbox_open(dir, &ob), 0);
	uint64_t id3 = 0;
	assert_int_equal(sg__outbox_ids(ob, 1, &id3), 0);
	assert_true(id3 > lost + 1);
	sg__outbox_row r3 = {.id = id3, .subject = "STOPGATE.registry", .msg_id = "x", .data = (const uint8_t *)"three",
			     .len = 5};
	/* the new row and the deletion of the second one: one transaction */
	uint64_t second = first + 1;
	assert_int_equal(sg__outbox_put(ob, &r3, 1, &second, 1), 0);
	/* more ids than one reservation holds: a new one, still increasing */
	uint64_t prev = id3;
	for (int i = 0; i < 3; i++) {
		uint64_t x = 0;
		assert_int_equal(sg__outbox_ids(ob, SG__OUTBOX_RESERVE / 2 + 1, &x), 0);
		assert_true(x > prev);
		prev = x + SG__OUTBOX_RESERVE / 2;
	}
	sg__outbox_close(ob);
	assert_int_equal(sg__outbox_open(dir, &ob), 0);
	uint64_t id4 = 0;
	assert_int_equal(sg__outbox_ids(ob, 1, &id4), 0);
	assert_true(id4 > prev);
	seen s = {0};
	assert_int_equal(sg__outbox_foreach(ob, collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(s.id[0] == id3);
	assert_string_equal(s.msg_id[0], "x");
	assert_string_equal(s.data[0], "three");
	sg__outbox_close(ob);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(codec_round_trip),
		cmocka_unit_test(outbox_keeps_rows_and_never_reuses_an_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
