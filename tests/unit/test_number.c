/* SPDX-License-Identifier: Apache-2.0 */
/* Number normalization: the golden table tests/data/numbers.tsv, plus
 * channels, extensions, country rules, hostile input and buffer limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

/* Normalize a NUL-terminated string. */
static int norm(const char *in, const char *cc, sg_field field, char out[SG_KEY_MAX])
{
	return sg_number_normalize(in, strlen(in), cc, field, out, NULL);
}

/* Expect a key (or, with expected NULL, any error). */
#define check(in, cc, field, expected) check_at(in, strlen(in), cc, field, expected, __LINE__)

static void check_at(const char *in, size_t len, const char *cc, sg_field field,
		     const char *expected, int line)
{
	char out[SG_KEY_MAX];
	memset(out, 'Z', sizeof(out));
	int r = sg_number_normalize(in, len, cc, field, out, NULL);
	if (expected) {
		if (r != 0 || strcmp(out, expected) != 0) {
			print_error("line %d: \"%.*s\" (%s, field %d): got %d \"%s\", want \"%s\"\n",
				    line, (int)len, in, cc ? cc : "-", (int)field, r,
				    r == 0 ? out : "", expected);
			fail();
		}
	} else {
		if (r >= 0) {
			print_error("line %d: \"%.*s\" (%s, field %d): got \"%s\", want an error\n",
				    line, (int)len, in, cc ? cc : "-", (int)field, out);
			fail();
		}
		/* out-parameters are untouched on failure */
		for (size_t i = 0; i < sizeof(out); i++)
			assert_int_equal(out[i], 'Z');
	}
}

static sg_field field_parse(const char *s)
{
	if (strcmp(s, "address") == 0)
		return SG_FIELD_ADDRESS;
	if (strcmp(s, "number") == 0)
		return SG_FIELD_NUMBER;
	assert_string_equal(s, "any");
	return SG_FIELD_ANY;
}

/* Every row of the golden table, and the idempotence of each key. */
static void golden_table(void **state)
{
	(void)state;
	const char *dir = getenv("SG_TEST_DATA");
	assert_non_null(dir);
	char path[4096];
	assert_true(snprintf(path, sizeof(path), "%s/numbers.tsv", dir) < (int)sizeof(path));
	FILE *f = fopen(path, "re");
	if (!f) {
		print_error("cannot open %s\n", path);
		fail();
	}

	char line[8192];
	int lineno = 0, rows = 0, failed = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (lineno == 1) {
			assert_true(strncmp(line, "input\tdefault_country\texpected\tfield", 36) == 0);
			continue;
		}
		if (n == 0)
			continue;
		char *col[5] = { line, NULL, NULL, NULL, NULL };
		for (int c = 1; c < 5; c++) {
			char *tab = strchr(col[c - 1], '\t');
			if (!tab)
				break;
			*tab = '\0';
			col[c] = tab + 1;
		}
		if (!col[3]) {
			print_error("numbers.tsv:%d: fewer than 4 columns\n", lineno);
			failed++;
			continue;
		}
		rows++;
		const char *cc = col[1][0] ? col[1] : NULL;
		sg_field field = field_parse(col[3]);
		bool want_error = strcmp(col[2], "ERROR") == 0;
		char out[SG_KEY_MAX];
		sg_channel ch;
		int r = sg_number_normalize(col[0], strlen(col[0]), cc, field, out, &ch);
		bool ok = want_error ? r < 0 : (r == 0 && strcmp(out, col[2]) == 0);
		if (!ok) {
			print_error("numbers.tsv:%d FAILED: input \"%s\" country \"%s\" field %s: "
				    "got %s%s%s (%d), want %s  [%s]\n",
				    lineno, col[0], col[1], col[3], r == 0 ? "\"" : "",
				    r == 0 ? out : sg_strerror(r), r == 0 ? "\"" : "", r, col[2],
				    col[4] ? col[4] : "");
			failed++;
			continue;
		}
		if (r == 0) {
			char again[SG_KEY_MAX];
			r = sg_number_normalize(out, strlen(out), cc, field, again, NULL);
			if (r != 0 || strcmp(again, out) != 0) {
				print_error("numbers.tsv:%d: key \"%s\" is not stable (%d \"%s\")\n",
					    lineno, out, r, r == 0 ? again : "");
				failed++;
			}
		}
	}
	fclose(f);
	print_message("numbers.tsv: %d rows, %d failed\n", rows, failed);
	assert_true(rows >= 36);
	assert_int_equal(failed, 0);
}

static void channels(void **state)
{
	(void)state;
	char out[SG_KEY_MAX];
	sg_channel ch = (sg_channel)99;
	static const struct {
		const char *in;
		sg_channel ch;
	} cases[] = {
		{ "+14155552671", SG_CHANNEL_SMS },
		{ "whatsapp:+14155552671", SG_CHANNEL_WHATSAPP },
		{ "WhatsApp: +1 415 555 2671", SG_CHANNEL_WHATSAPP },
		{ "tel:+14155552671", SG_CHANNEL_SMS },
		{ "TEL:+1-415-555-2671", SG_CHANNEL_SMS },
		{ "sms:+14155552671", SG_CHANNEL_SMS },
		{ "rcs:+14155552671", SG_CHANNEL_RCS },
		{ "RCS:4155552671", SG_CHANNEL_RCS },
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(cases); i++) {
		ch = (sg_channel)99;
		assert_int_equal(sg_number_normalize(cases[i].in, strlen(cases[i].in), "US",
						     SG_FIELD_ADDRESS, out, &ch), 0);
		assert_string_equal(out, "+14155552671");
		assert_int_equal(ch, cases[i].ch);
	}
	/* the channel is untouched on failure */
	ch = (sg_channel)99;
	assert_true(sg_number_normalize("whatsapp:", 9, "US", SG_FIELD_ADDRESS, out, &ch) < 0);
	assert_int_equal(ch, 99);
	/* one scheme only; unknown schemes are not numbers */
	check("tel:sms:+14155552671", "US", SG_FIELD_ANY, NULL);
	check("mailto:+14155552671", "US", SG_FIELD_ANY, NULL);
	check("whatsapp:MyBrand", "GB", SG_FIELD_ADDRESS, "aid:mybrand");
	check("whatsapp:72345", "US", SG_FIELD_ADDRESS, "sc:US:72345");
}

static void extensions(void **state)
{
	(void)state;
	check("+1 415 555 2671 x12", "US", SG_FIELD_ANY, "+14155552671");
	check("+1 415 555 2671x12", "US", SG_FIELD_ANY, "+14155552671");
	check("+1 415 555 2671 X 12", "US", SG_FIELD_ANY, "+14155552671");
	check("+1 415 555 2671 #12", "US", SG_FIELD_ANY, "+14155552671");
	check("+1 415 555 2671 ext12", "US", SG_FIELD_ANY, "+14155552671");
	check("+1 415 555 2671 EXT. 1234", "US", SG_FIELD_ANY, "+14155552671");
	check("tel:+1-415-555-2671;ext=12", "US", SG_FIELD_ANY, "+14155552671");
	check("(415) 555-2671 ext 9", "US", SG_FIELD_ANY, "+14155552671");
	check("4155552671x12", "US", SG_FIELD_ADDRESS, "+14155552671");
	check("1-800-FLOWERS ext 5", "US", SG_FIELD_NUMBER, "+18003569377");
	/* a marker without digits is not an extension; letters are an error */
	check("+1 415 555 2671 ext", "US", SG_FIELD_ANY, NULL);
	check("+1 415 555 2671#", "US", SG_FIELD_ANY, "+14155552671");
	/* an x after a letter is part of a sender ID */
	check("Max123", "GB", SG_FIELD_ADDRESS, "aid:max123");
	check("AB12x34", "GB", SG_FIELD_ADDRESS, "aid:ab12x34");
	/* short codes and sender IDs have no extensions */
	check("72345 x1", "US", SG_FIELD_ADDRESS, NULL);
	check("MyBrand x12", "GB", SG_FIELD_ADDRESS, NULL);
	/* nothing before the marker */
	check("x12", "US", SG_FIELD_ANY, NULL);
	check("ext. 12", "US", SG_FIELD_ANY, NULL);
}

static void fields_and_letters(void **state)
{
	(void)state;
	/* letters are an error in plain number fields */
	check("1-800-FLOWERS", "US", SG_FIELD_ANY, NULL);
	/* an address may be a sender ID, never vanity-mapped */
	check("1-800-FLOWERS", "US", SG_FIELD_ADDRESS, NULL);
	check("1800FLOWERS", "US", SG_FIELD_ADDRESS, "aid:1800flowers");
	check("+1800FLOWERS", "US", SG_FIELD_ADDRESS, NULL);
	check("My Brand", "GB", SG_FIELD_ADDRESS, NULL);
	check("ab", "GB", SG_FIELD_ADDRESS, NULL);
	check("abc", "GB", SG_FIELD_ADDRESS, "aid:abc");
	check("ＭｙＢｒａｎｄ", "GB", SG_FIELD_ADDRESS, "aid:mybrand");
	check("MyBrand", NULL, SG_FIELD_ADDRESS, "aid:mybrand");
	check("MyBrand", "GB", SG_FIELD_ANY, NULL);
	/* vanity in number fields: digits first, keypad letters */
	check("+1-800-FLOWERS", "US", SG_FIELD_NUMBER, "+18003569377");
	check("1 (800) flowers", "US", SG_FIELD_NUMBER, "+18003569377");
	check("FLOWERS-800", "US", SG_FIELD_NUMBER, NULL);
	/* all-digit input never becomes a sender ID */
	check("12345678", "US", SG_FIELD_ADDRESS, NULL);
	check("4155552671", NULL, SG_FIELD_ADDRESS, NULL);
	/* 64 characters is the longest sender ID accepted */
	char id[80];
	memset(id, 'a', 64);
	id[64] = '\0';
	char want[80] = "aid:";
	memcpy(want + 4, id, 65);
	check(id, "GB", SG_FIELD_ADDRESS, want);
	id[64] = 'b';
	id[65] = '\0';
	check(id, "GB", SG_FIELD_ADDRESS, NULL);
}

static void error_codes(void **state)
{
	(void)state;
	char out[SG_KEY_MAX];
	assert_int_equal(norm("4155552671", NULL, SG_FIELD_ANY, out), SG_ENOCOUNTRY);
	assert_int_equal(norm("4155552671", "", SG_FIELD_ANY, out), SG_ENOCOUNTRY);
	assert_int_equal(norm("72345", NULL, SG_FIELD_ADDRESS, out), SG_ENOCOUNTRY);
	assert_int_equal(norm("07911123456", NULL, SG_FIELD_ANY, out), SG_ENOCOUNTRY);
	assert_int_equal(norm("hello world", "US", SG_FIELD_ANY, out), SG_ENUMBER);
	assert_int_equal(norm("12", "US", SG_FIELD_ANY, out), SG_ENUMBER);
	assert_int_equal(norm("---", "US", SG_FIELD_ANY, out), SG_ENUMBER);
	assert_int_equal(norm("   ", "US", SG_FIELD_ANY, out), SG_ENUMBER);
	assert_int_equal(sg_number_normalize("", 0, "US", SG_FIELD_ANY, out, NULL), SG_ENUMBER);
	assert_int_equal(sg_number_normalize(NULL, 5, "US", SG_FIELD_ANY, out, NULL), SG_ENUMBER);
	/* a malformed default country is a caller bug */
	assert_int_equal(norm("4155552671", "USA", SG_FIELD_ANY, out), -EINVAL);
	assert_int_equal(norm("4155552671", "1", SG_FIELD_ANY, out), -EINVAL);
	assert_int_equal(norm("4155552671", "U", SG_FIELD_ANY, out), -EINVAL);
	assert_int_equal(norm("+14155552671", "US", (sg_field)7, out), -EINVAL);
	assert_int_equal(norm("+14155552671", "US", SG_FIELD_ANY, NULL), -EINVAL);
	/* ... but not needed for an international number */
	assert_int_equal(norm("+14155552671", "USA", SG_FIELD_ANY, out), 0);
	assert_int_equal(norm("whatsapp:+14155552671", "USA", SG_FIELD_ANY, out), 0);
}

static void country_rules(void **state)
{
	(void)state;
	/* NANP: any member country, area codes start with 2-9 */
	check("4155552671", "CA", SG_FIELD_ANY, "+14155552671");
	check("4155552671", "ca", SG_FIELD_ANY, "+14155552671");
	check("1 415 555 2671", "JM", SG_FIELD_ANY, "+14155552671");
	check("+10155552671", "US", SG_FIELD_ANY, NULL);
	check("+11155552671", "US", SG_FIELD_ANY, NULL);
	check("1155552671", "US", SG_FIELD_ANY, NULL);
	check("001 415 555 2671", "US", SG_FIELD_ANY, NULL);
	/* GB: trunk 0, "(0)" after the calling code, 00 */
	check("020 7946 0958", "GB", SG_FIELD_ANY, "+442079460958");
	check("+44 (0)20 7946 0958", "US", SG_FIELD_ANY, "+442079460958");
	check("(+44) 7911 123456", "US", SG_FIELD_ANY, "+447911123456");
	check("+4407911123456", NULL, SG_FIELD_ANY, "+447911123456");
	check("+44 00 7911 123456", "GB", SG_FIELD_ANY, NULL);
	check("0800 1111", "GB", SG_FIELD_ANY, NULL);
	check("7911123456", "JE", SG_FIELD_ANY, "+447911123456");
	/* FR, DE, NL, BE, CH, AT, IE, IN, RW: trunk 0 */
	check("06 12 34 56 78", "FR", SG_FIELD_ANY, "+33612345678");
	check("0151 12345678", "DE", SG_FIELD_ANY, "+4915112345678");
	check("+49 (0)151 12345678", NULL, SG_FIELD_ANY, "+4915112345678");
	check("030 1234567", "DE", SG_FIELD_ANY, "+49301234567");
	check("06 12345678", "NL", SG_FIELD_ANY, "+31612345678");
	check("0470 12 34 56", "BE", SG_FIELD_ANY, "+32470123456");
	check("02 123 45 67", "BE", SG_FIELD_ANY, "+3221234567");
	check("079 123 45 67", "CH", SG_FIELD_ANY, "+41791234567");
	check("0664 1234567", "AT", SG_FIELD_ANY, "+436641234567");
	check("087 123 4567", "IE", SG_FIELD_ANY, "+353871234567");
	check("098765 43210", "IN", SG_FIELD_ANY, "+919876543210");
	check("9876543210", "IN", SG_FIELD_ANY, "+919876543210");
	/* 11+ bare digits in a trunk-0 country: an international number */
	check("15112345678", "DE", SG_FIELD_ANY, "+15112345678");
	check("447911123456", "DE", SG_FIELD_ANY, "+447911123456");
	/* IT and ES, PT: no trunk prefix; Italian numbers keep their 0 */
	check("06 1234 5678", "IT", SG_FIELD_ANY, "+390612345678");
	check("+39 06 1234 5678", NULL, SG_FIELD_ANY, "+390612345678");
	check("312 345 6789", "IT", SG_FIELD_ANY, "+393123456789");
	check("612 34 56 78", "ES", SG_FIELD_ANY, "+34612345678");
	check("0612345678", "ES", SG_FIELD_ANY, NULL);
	check("+34 0612345678", NULL, SG_FIELD_ANY, NULL);
	check("912 345 678", "PT", SG_FIELD_ANY, "+351912345678");
	check("00351912345678", "ES", SG_FIELD_ANY, "+351912345678");
	/* MX: 10 digits; the old mobile "1" after +52 is dropped */
	check("55 1234 5678", "MX", SG_FIELD_ANY, "+525512345678");
	check("+52 1 55 1234 5678", NULL, SG_FIELD_ANY, "+525512345678");
	check("whatsapp:+5215512345678", NULL, SG_FIELD_ADDRESS, "+525512345678");
	/* BR: area code written without trunk; 0 + carrier; 00 + carrier */
	check("(11) 91234-5678", "BR", SG_FIELD_ANY, "+5511912345678");
	check("(11) 3123-4567", "BR", SG_FIELD_ANY, "+551131234567");
	check("011 91234-5678", "BR", SG_FIELD_ANY, "+5511912345678");
	check("0 15 11 91234 5678", "BR", SG_FIELD_ANY, "+5511912345678");
	check("00 21 1 415 555 2671", "BR", SG_FIELD_ANY, "+14155552671");
	/* AU: 0011; KE: 000 */
	check("0412 345 678", "AU", SG_FIELD_ANY, "+61412345678");
	check("0011 44 7911 123456", "AU", SG_FIELD_ANY, "+447911123456");
	check("0712 345678", "KE", SG_FIELD_ANY, "+254712345678");
	check("000 1 415 555 2671", "KE", SG_FIELD_ANY, "+14155552671");
	/* a valid ISO code without rules: short codes and lost '+' only */
	check("72345", "JP", SG_FIELD_ADDRESS, "sc:JP:72345");
	check("819012345678", "JP", SG_FIELD_ANY, "+819012345678");
	char out[SG_KEY_MAX];
	assert_int_equal(norm("09012345678", "JP", SG_FIELD_ANY, out), SG_ENOCOUNTRY);
	/* E.164 outside the table: general 7..15 digits */
	check("+81 90 1234 5678", NULL, SG_FIELD_ANY, "+819012345678");
	check("+7 912 345 67 89", NULL, SG_FIELD_ANY, "+79123456789");
	check("+123456", NULL, SG_FIELD_ANY, NULL);
	check("+8190123456789012", NULL, SG_FIELD_ANY, NULL);
	check("+0123456789", NULL, SG_FIELD_ANY, NULL);
	check("+1 415 555 2671 +1", NULL, SG_FIELD_ANY, NULL);
	check("1+4155552671", "US", SG_FIELD_ANY, NULL);
	check("++14155552671", "US", SG_FIELD_ANY, NULL);
}

static void short_codes(void **state)
{
	(void)state;
	check("72345", "US", SG_FIELD_ANY, "sc:US:72345");
	check("723", "gb", SG_FIELD_ADDRESS, "sc:GB:723");
	check("72", "US", SG_FIELD_ADDRESS, NULL);
	check("7234567", "US", SG_FIELD_ADDRESS, NULL);
	check("07234", "US", SG_FIELD_ADDRESS, NULL);
	check("+72345", "US", SG_FIELD_ADDRESS, NULL);
	/* canonical keys as input are stable whatever the default country */
	check("sc:US:72345", NULL, SG_FIELD_ANY, "sc:US:72345");
	check("sc:US:72345", "GB", SG_FIELD_NUMBER, "sc:US:72345");
	check("SC:us:72345", NULL, SG_FIELD_ADDRESS, "sc:US:72345");
	check("sc:US:0234", NULL, SG_FIELD_ANY, NULL);
	check("sc:US:1234567", NULL, SG_FIELD_ANY, NULL);
	check("sc:USA:72345", NULL, SG_FIELD_ANY, NULL);
	check("sc:U1:72345", NULL, SG_FIELD_ANY, NULL);
	check("sc:US:", NULL, SG_FIELD_ANY, NULL);
	check("aid:mybrand", NULL, SG_FIELD_ADDRESS, "aid:mybrand");
	check("aid:MyBrand", "GB", SG_FIELD_ADDRESS, "aid:mybrand");
	check("aid:mybrand", NULL, SG_FIELD_ANY, NULL);
	check("aid:12345", NULL, SG_FIELD_ADDRESS, NULL);
	check("raw:+14155552671", "US", SG_FIELD_ANY, NULL);
}

static void unicode(void **state)
{
	(void)state;
	/* full-width, small plus, Unicode spaces and dashes, format characters */
	check("＋１ ４１５ ５５５ ２６７１", NULL, SG_FIELD_ANY, "+14155552671");
	check("\xef\xb9\xa2" "14155552671", NULL, SG_FIELD_ANY, "+14155552671");
	check("+1\xe2\x80\x91" "415\xe2\x80\x93" "555\xe2\x80\x94" "2671", NULL, SG_FIELD_ANY,
	      "+14155552671");
	check("\xe3\x80\x80+1\xe2\x80\xaf" "4155552671", NULL, SG_FIELD_ANY, "+14155552671");
	check("\xef\xbb\xbf+14155552671", NULL, SG_FIELD_ANY, "+14155552671");
	check("\xe2\x81\xa6+14155552671\xe2\x81\xa9", NULL, SG_FIELD_ANY, "+14155552671");
	check("+1415\xe2\x80\x8b" "5552671", NULL, SG_FIELD_ANY, "+14155552671");
	check("+1415\xc2\xad" "5552671", NULL, SG_FIELD_ANY, "+14155552671");
	check("\xe2\x80\x8f+14155552671", NULL, SG_FIELD_ANY, "+14155552671");
	/* Arabic-Indic and Devanagari digits */
	check("+\xd9\xa1\xd9\xa4\xd9\xa1\xd9\xa5\xd9\xa5\xd9\xa5\xd9\xa5\xd9\xa2\xd9\xa6\xd9\xa7\xd9\xa1",
	      NULL, SG_FIELD_ANY, "+14155552671");
	check("\xe0\xa5\xaf\xe0\xa5\xae\xe0\xa5\xad\xe0\xa5\xac\xe0\xa5\xab\xe0\xa5\xaa\xe0\xa5\xa9"
	      "\xe0\xa5\xa8\xe0\xa5\xa7\xe0\xa5\xa6",
	      "IN", SG_FIELD_ANY, "+919876543210");
	/* other non-ASCII is not a number */
	check("+14155552671 \xe2\x98\x8e", NULL, SG_FIELD_ANY, NULL);
	check("+1415555267\xc2\xb9", NULL, SG_FIELD_ANY, NULL);
	check("Caf\xc3\xa9", "FR", SG_FIELD_ADDRESS, NULL);
	/* whitespace controls are spaces; other controls are errors */
	check("\t+14155552671\r\n", NULL, SG_FIELD_ANY, "+14155552671");
	check("+1415\x01" "5552671", NULL, SG_FIELD_ANY, NULL);
	check("+1415\x7f" "5552671", NULL, SG_FIELD_ANY, NULL);
	check("+1415\xc2\x85" "5552671", NULL, SG_FIELD_ANY, NULL);
}

static void invalid_utf8(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"\xff+14155552671",
		"+14155552671\xff",
		"+1415\x80" "5552671",
		"\xc0\xab" "14155552671",                 /* overlong '+' */
		"\xe0\x80\xab" "14155552671",             /* overlong '+' */
		"\xf0\x80\x80\xab" "14155552671",         /* overlong '+' */
		"+14155552671\xed\xa0\x80",               /* surrogate */
		"+14155552671\xf4\x90\x80\x80",           /* > U+10FFFF */
		"+14155552671\xe2\x80",                   /* truncated */
		"\xef\xbc",                               /* truncated full-width */
		"\xf8\x88\x80\x80\x80",
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(bad); i++) {
		check(bad[i], "US", SG_FIELD_ANY, NULL);
		check(bad[i], "US", SG_FIELD_ADDRESS, NULL);
	}
}

static void nul_bytes(void **state)
{
	(void)state;
	static const char a[] = "+1415\0" "5552671";
	check_at(a, sizeof(a) - 1, "US", SG_FIELD_ANY, NULL, __LINE__);
	static const char b[] = "+14155552671\0";
	check_at(b, sizeof(b) - 1, "US", SG_FIELD_ANY, NULL, __LINE__);
	static const char c[] = "\0+14155552671";
	check_at(c, sizeof(c) - 1, "US", SG_FIELD_ANY, NULL, __LINE__);
	static const char d[] = "MyBr\0and";
	check_at(d, sizeof(d) - 1, "GB", SG_FIELD_ADDRESS, NULL, __LINE__);
	/* len counts, not the NUL: a prefix of a longer buffer */
	check_at("+14155552671999", 12, "US", SG_FIELD_ANY, "+14155552671", __LINE__);
	check_at("4155552671999", 10, "US", SG_FIELD_ANY, "+14155552671", __LINE__);
}

static void long_input(void **state)
{
	(void)state;
	/* 256 bytes is the most looked at */
	char buf[300];
	memset(buf, ' ', sizeof(buf));
	memcpy(buf + 256 - 12, "+14155552671", 12);
	check_at(buf, 256, "US", SG_FIELD_ANY, "+14155552671", __LINE__);
	check_at(buf, 257, "US", SG_FIELD_ANY, NULL, __LINE__);

	/* a megabyte of digits is rejected without reading it */
	size_t big = 1 << 20;
	char *p = malloc(big);
	assert_non_null(p);
	memset(p, '1', big);
	check_at(p, big, "US", SG_FIELD_ANY, NULL, __LINE__);
	check_at(p, big, "US", SG_FIELD_ADDRESS, NULL, __LINE__);
	free(p);

	/* too many digits, too many characters */
	check("+1 415 555 2671 1234 5678 9012", "US", SG_FIELD_ANY, NULL);
	check("00000000000000000000000000000000000000000014155552671", "US", SG_FIELD_ANY, NULL);
	check("11111111111111111111111111111111111111111111111111111111111111111", "US",
	      SG_FIELD_ADDRESS, NULL);
}

/* The fast path for "+<digits>" and the general path agree. */
static void fast_path(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"+14155552671", "+1415555267", "+141555526711", "+447911123456", "+4407911123456",
		"+5215512345678", "+390612345678", "+34612345678", "+0123456789", "+1234567",
		"+123456789012345", "+1234567890123456", "+10155552671", "+2507881231", "+250788123123",
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(inputs); i++) {
		char fast[SG_KEY_MAX], slow[SG_KEY_MAX], spaced[64];
		snprintf(spaced, sizeof(spaced), " %s ", inputs[i]);
		int rf = norm(inputs[i], NULL, SG_FIELD_ANY, fast);
		int rs = norm(spaced, NULL, SG_FIELD_ANY, slow);
		assert_int_equal(rf, rs);
		if (rf == 0)
			assert_string_equal(fast, slow);
	}
}

static void country_of_key(void **state)
{
	(void)state;
	static const struct {
		const char *key, *cc;
	} cases[] = {
		{ "+14155552671", "US" },  { "+447911123456", "GB" }, { "+33612345678", "FR" },
		{ "+4915112345678", "DE" }, { "+34612345678", "ES" }, { "+393123456789", "IT" },
		{ "+351912345678", "PT" }, { "+525512345678", "MX" }, { "+5511912345678", "BR" },
		{ "+61412345678", "AU" },  { "+919876543210", "IN" }, { "+250788123123", "RW" },
		{ "+254791541111", "KE" }, { "+353871234567", "IE" }, { "+31612345678", "NL" },
		{ "+32470123456", "BE" },  { "+41791234567", "CH" },  { "+436641234567", "AT" },
		{ "sc:US:72345", "US" },   { "sc:CA:72345", "CA" },   { "sc:JP:72345", "JP" },
	};
	char cc[3];
	for (size_t i = 0; i < SG_ARRAY_SIZE(cases); i++) {
		memset(cc, 'Z', sizeof(cc));
		assert_int_equal(sg_number_country(cases[i].key, cc), 0);
		assert_string_equal(cc, cases[i].cc);
	}
	static const char *const none[] = {
		"+79123456789", "+819012345678", "aid:mybrand", "raw:4155552671", "", "+", "+1",
		"+1415x", "4155552671", "sc:", "sc:U", "sc:U1:123",
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(none); i++) {
		memset(cc, 'Z', sizeof(cc));
		assert_int_equal(sg_number_country(none[i], cc), SG_ENOCOUNTRY);
		assert_memory_equal(cc, "ZZZ", 3);
	}
	assert_int_equal(sg_number_country(NULL, cc), -EINVAL);
	assert_int_equal(sg_number_country("+14155552671", NULL), -EINVAL);

	/* the country of the receiving number is the default for the other party */
	char key[SG_KEY_MAX];
	assert_int_equal(norm("+447911123456", NULL, SG_FIELD_ANY, key), 0);
	assert_int_equal(sg_number_country(key, cc), 0);
	check("07700 900123", cc, SG_FIELD_ANY, "+447700900123");
}

static void quarantine(void **state)
{
	(void)state;
	char out[2 * SG_KEY_MAX];

	sg_number_quarantine("4155552671", 10, out);
	assert_string_equal(out, "raw:4155552671");
	sg_number_quarantine(NULL, 0, out);
	assert_string_equal(out, "raw:");
	sg_number_quarantine("", 0, out);
	assert_string_equal(out, "raw:");
	/* format and control characters dropped, outer spaces trimmed */
	static const char marks[] = "\xe2\x80\xaa+1 415\t555\xe2\x80\x8b 2671\xe2\x80\xac\r\n";
	sg_number_quarantine(marks, sizeof(marks) - 1, out);
	assert_string_equal(out, "raw:+1 415555 2671");
	sg_number_quarantine("  a\0b\x7f" "c\xc2\x85 ", 10, out);
	assert_string_equal(out, "raw:abc");
	/* other text is kept as it is; invalid bytes become '?' */
	sg_number_quarantine("Caf\xc3\xa9 \xe2\x98\x8e", 9, out);
	assert_string_equal(out, "raw:Caf\xc3\xa9 \xe2\x98\x8e");
	sg_number_quarantine("a\xff" "b\xe2\x80", 5, out);
	assert_string_equal(out, "raw:a?b??");

	/* truncated to SG_KEY_MAX - 1 bytes; the buffer is never overrun */
	char in[500];
	memset(in, 'x', sizeof(in));
	memset(out, '#', sizeof(out));
	sg_number_quarantine(in, sizeof(in), out);
	assert_int_equal(strlen(out), SG_KEY_MAX - 1);
	assert_memory_equal(out, "raw:xxx", 7);
	for (size_t i = SG_KEY_MAX; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');

	/* never splits a UTF-8 sequence: 2-, 3- and 4-byte characters */
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x98\x8e", "\xf0\x9f\x9b\x91" };
	for (size_t c = 0; c < SG_ARRAY_SIZE(chars); c++) {
		size_t cl = strlen(chars[c]), n = 0;
		for (; n + cl <= sizeof(in); n += cl)
			memcpy(in + n, chars[c], cl);
		memset(out, '#', sizeof(out));
		sg_number_quarantine(in, n, out);
		size_t ol = strlen(out);
		assert_true(ol <= SG_KEY_MAX - 1);
		assert_true(ol > SG_KEY_MAX - 1 - cl);
		assert_true(sg__utf8_count(out, ol) > 0);
		for (size_t i = SG_KEY_MAX; i < sizeof(out); i++)
			assert_int_equal(out[i], '#');
	}
}

/* No key is longer than the buffer, whatever the input. */
static void buffer_limits(void **state)
{
	(void)state;
	static const char *const inputs[] = {
		"+123456789012345",
		"sc:US:999999",
		"aid:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"0011 999 123456789012",
		"00 21 999 123456789012",
		"1-999-ABCDEFGHIJKLMNO",
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(inputs); i++) {
		for (int f = SG_FIELD_ANY; f <= SG_FIELD_NUMBER; f++) {
			char out[2 * SG_KEY_MAX];
			memset(out, '#', sizeof(out));
			int r = norm(inputs[i], "AU", (sg_field)f, out);
			if (r == 0)
				assert_true(strlen(out) < SG_KEY_MAX);
			for (size_t j = SG_KEY_MAX; j < sizeof(out); j++)
				assert_int_equal(out[j], '#');
		}
	}
	check("0011 999 123456789012", "AU", SG_FIELD_ANY, "+999123456789012");
	check("00 21 999 123456789012", "BR", SG_FIELD_ANY, "+999123456789012");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_table),
		cmocka_unit_test(channels),
		cmocka_unit_test(extensions),
		cmocka_unit_test(fields_and_letters),
		cmocka_unit_test(error_codes),
		cmocka_unit_test(country_rules),
		cmocka_unit_test(short_codes),
		cmocka_unit_test(unicode),
		cmocka_unit_test(invalid_utf8),
		cmocka_unit_test(nul_bytes),
		cmocka_unit_test(long_input),
		cmocka_unit_test(fast_path),
		cmocka_unit_test(country_of_key),
		cmocka_unit_test(quarantine),
		cmocka_unit_test(buffer_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
