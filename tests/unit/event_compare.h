/* SPDX-License-Identifier: Apache-2.0 */
/* Comparing two decoded events field by field (test_event_value.c,
 * test_event_stores.c). Include after testutil.h. */
#pragma once

static inline void expect_same_str(const char *a, const char *b)
{
	if (!a || !a[0] || !b || !b[0]) {
		assert_true((!a || !a[0]) && (!b || !b[0])); /* NULL and "" encode alike */
		return;
	}
	assert_string_equal(a, b);
}

static inline void expect_same_event(const sg_event *a, const sg_event *b, bool bodies)
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

