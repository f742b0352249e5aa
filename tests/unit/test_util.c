/* SPDX-License-Identifier: Apache-2.0 */
/* Time parsing/formatting, UTF-8 validation, constant-time compare, errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

static void time_round_trip(void **state)
{
	(void)state;
	int64_t us;
	char buf[32];
	assert_int_equal(sg_time_parse("2026-11-27T16:09:33.123456Z", &us), 0);
	sg_time_format(us, buf);
	assert_string_equal(buf, "2026-11-27T16:09:33.123456Z");
	assert_int_equal(sg_time_parse("1970-01-01T00:00:00Z", &us), 0);
	assert_int_equal(us, 0);
	assert_int_equal(sg_time_parse("2019-01-23T18:10:02.574+00:00", &us), 0);
	sg_time_format(us, buf);
	assert_string_equal(buf, "2019-01-23T18:10:02.574000Z");
	assert_int_equal(sg_time_parse("2013-11-21 15:27:30", &us), 0);
	assert_int_equal(us / 1000000, 1385047650);
	assert_int_equal(sg_time_parse("2020-01-01T01:00:00+01:00", &us), 0);
	sg_time_format(us, buf);
	assert_string_equal(buf, "2020-01-01T00:00:00.000000Z");
	assert_int_equal(sg_time_parse("2024-02-29", &us), 0);
	assert_int_not_equal(sg_time_parse("2024-13-01", &us), 0);
	assert_int_not_equal(sg_time_parse("2024-01-01T25:00:00Z", &us), 0);
	assert_int_not_equal(sg_time_parse("yesterday", &us), 0);
	assert_int_not_equal(sg_time_parse("2024-01-01Tjunk", &us), 0);
	sg_time_format(-1, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
}

static void utf8_validation(void **state)
{
	(void)state;
	assert_int_equal(sg__utf8_count("STOP", 4), 4);
	assert_int_equal(sg__utf8_count("ARR\xc3\x8aT", 6), 5);
	assert_int_equal(sg__utf8_count("\xf0\x9f\x9b\x91", 4), 1);
	assert_int_equal(sg__utf8_count("\xc0\xaf", 2), -1);         /* overlong '/' */
	assert_int_equal(sg__utf8_count("\xed\xa0\x80", 3), -1);     /* surrogate */
	assert_int_equal(sg__utf8_count("\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
	assert_int_equal(sg__utf8_count("\xe2\x82", 2), -1);         /* truncated */
	assert_int_equal(sg__utf8_count("\xff", 1), -1);
}

static void constant_time_equal(void **state)
{
	(void)state;
	assert_true(sg__ct_equal("secret", 6, "secret", 6));
	assert_false(sg__ct_equal("secret", 6, "secreT", 6));
	assert_false(sg__ct_equal("secret", 6, "secret!", 7));
	assert_false(sg__ct_equal("", 0, "a", 1));
	assert_true(sg__ct_equal("", 0, "", 0));
}

static void error_strings(void **state)
{
	(void)state;
	for (int e = SG_ERROR_MIN; e < SG__ERROR_END; e++)
		assert_string_not_equal(sg_strerror(e), "unknown error");
	assert_string_equal(sg_strerror(0), "success");
	assert_non_null(sg_strerror(-2));
	assert_string_equal(sg_strerror(12345), "unknown error");
}

/* The shared decoders (issue 12: one UTF-8 decoder, one percent decoder). */
static void shared_decoders(void **state)
{
	(void)state;
	size_t n;
	assert_int_equal(sg__utf8_decode((const unsigned char *)"A", 1, &n), 'A');
	assert_int_equal(n, 1);
	assert_int_equal(sg__utf8_decode((const unsigned char *)"\xc3\xa9", 2, &n), 0xE9);
	assert_int_equal(n, 2);
	assert_int_equal(sg__utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &n), 0x20AC);
	assert_int_equal(n, 3);
	assert_int_equal(sg__utf8_decode((const unsigned char *)"\xf0\x9f\x9b\x91", 4, &n), 0x1F6D1);
	assert_int_equal(n, 4);
	sg__utf8_decode((const unsigned char *)"\xc0\x80", 2, &n); /* overlong */
	assert_int_equal(n, 0);
	sg__utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &n); /* surrogate */
	assert_int_equal(n, 0);
	sg__utf8_decode((const unsigned char *)"\xe2\x82", 2, &n); /* truncated */
	assert_int_equal(n, 0);

	assert_int_equal(sg__pct_byte("%41", 3, 0), 'A');
	assert_int_equal(sg__pct_byte("%2f", 3, 0), '/');
	assert_int_equal(sg__pct_byte("%4", 2, 0), -1);
	assert_int_equal(sg__pct_byte("%4g", 3, 0), -1);
	assert_int_equal(sg__pct_byte("x%41", 3, 1), -1); /* len cuts the escape */
}

/* Versioned caller structs (issue 12): older callers get defaults for the
 * fields they lack, newer ones are accepted only with the unknown tail zero. */
typedef struct v2 {
	size_t size;
	int64_t a;
	int64_t b; /* the field a "v2" library added */
} v2;

static void versioned_struct_in(void **state)
{
	(void)state;
	struct {
		size_t size;
		int64_t a;
	} old = {sizeof(old), 7};
	v2 dst = {0, 1, 42};
	assert_int_equal(sg__struct_in(&dst, sizeof(dst), &old, sizeof(old)), 0);
	assert_int_equal(dst.a, 7);
	assert_int_equal(dst.b, 42); /* the default stays */
	assert_int_equal(dst.size, sizeof(v2));

	struct {
		size_t size;
		int64_t a, b, c;
	} newer = {sizeof(newer), 3, 4, 0};
	dst = (v2){0, 1, 42};
	assert_int_equal(sg__struct_in(&dst, sizeof(dst), &newer, sizeof(old)), 0);
	assert_int_equal(dst.a, 3);
	assert_int_equal(dst.b, 4);
	newer.c = 5; /* a field this library does not know, set: refused */
	assert_int_equal(sg__struct_in(&dst, sizeof(dst), &newer, sizeof(old)), -EINVAL);

	old.size = 0; /* filled by hand without sg_*_default() */
	assert_int_equal(sg__struct_in(&dst, sizeof(dst), &old, sizeof(old)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_round_trip),
		cmocka_unit_test(utf8_validation),
		cmocka_unit_test(constant_time_equal),
		cmocka_unit_test(error_strings),
		cmocka_unit_test(versioned_struct_in),
		cmocka_unit_test(shared_decoders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
