/* SPDX-License-Identifier: Apache-2.0 */
/* Keywords that count only with their marks ("marked" lines): folding drops
 * Vietnamese tone and vowel marks, so "DỪNG" (stop) and "Đúng" (right, a
 * common confirmation) are both "dung". A marked keyword is looked up by its
 * folded form and then holds only when the message's letters, lowercased
 * but with their marks, are the keyword's: "Dừng", "DỪNG!", "dừng 😡" are
 * STOP; "Đúng", "đúng rồi" and the unmarked "dung" are not (without marks it
 * could be either: no guess). Letters are compared in precomposed form
 * (what phone keyboards send); a text with combining marks is no match. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keywords/kw_internal.h"

static uint32_t decode(const unsigned char *s, size_t len, size_t i, size_t *n)
{
	unsigned char c = s[i];
	if (c < 0x80 || i + 1 >= len) {
		*n = 1;
		return c;
	}
	if (c < 0xE0) {
		*n = 2;
		return (uint32_t)(c & 0x1F) << 6 | (s[i + 1] & 0x3F);
	}
	if (c < 0xF0 || i + 3 >= len) {
		*n = i + 2 < len ? 3 : 2;
		return *n == 3 ? (uint32_t)(c & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F)
			       : 0xFFFD;
	}
	*n = 4;
	return (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3F) << 12 | (uint32_t)(s[i + 2] & 0x3F) << 6 |
	       (s[i + 3] & 0x3F);
}

/* The lowercase of a Latin letter with or without marks; 0 for anything
 * that is not such a letter (spaces, punctuation, emoji, other scripts). */
static uint32_t latin_lower(uint32_t cp)
{
	if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
		return cp;
	if (cp >= 'A' && cp <= 'Z')
		return cp + 0x20;
	if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
		return cp + 0x20;
	if (cp >= 0xDF && cp <= 0xFF && cp != 0xF7)
		return cp;
	if (cp >= 0x100 && cp <= 0x17F) /* Latin Extended-A: capitals even (Ă Đ Ĩ Ũ ...) */
		return cp | 1;
	if (cp == 0x1A0 || cp == 0x1AF) /* Ơ Ư */
		return cp + 1;
	if (cp == 0x1A1 || cp == 0x1B0)
		return cp;
	if (cp >= 0x1EA0 && cp <= 0x1EF9) /* Vietnamese: capitals even */
		return cp | 1;
	return 0;
}

size_t sg__kw_marks(const char *text, size_t len, uint32_t *out, size_t max)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = 0;
	for (size_t i = 0, k; i < len; i += k) {
		uint32_t cp = decode(s, len, i, &k), lo = latin_lower(cp);
		if (cp >= 0x300 && cp <= 0x36F)
			return 0; /* combining marks: not compared */
		if (!lo)
			continue;
		if (n == max)
			return 0;
		out[n++] = lo;
	}
	return n;
}

int sg__kw_marked_add(sg__kw_set *s, const char *keyword, const char *folded, size_t fl, uint32_t rule,
		      char *err, size_t errlen)
{
	kw_rule *r = &s->rules[rule];
	uint32_t m[KW_MARKED_MAX];
	size_t n = sg__kw_marks(keyword, strlen(keyword), m, KW_MARKED_MAX);
	if (!n) {
		snprintf(err, errlen, "rule %s: a marked keyword is 1-%d Latin letters, precomposed", r->id,
			 KW_MARKED_MAX);
		return SG_EKEYWORDS;
	}
	r->marks = malloc(n * sizeof(*m));
	if (!r->marks)
		return -ENOMEM;
	memcpy(r->marks, m, n * sizeof(*m));
	r->nmarks = (uint8_t)n;
	uint32_t old;
	int rc = sg__kw_table_put(&s->marked, folded, fl, rule, &old);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		snprintf(err, errlen, "rule %s: its keyword folds like that of rule %s (\"%.*s\"); one marked keyword "
			 "per folded form", r->id, s->rules[old].id, (int)fl, folded);
		return SG_EKEYWORDS;
	}
	return 0;
}

const kw_rule *sg__kw_marked(const sg__kw_set *s, const char *text, size_t len, const char *f, size_t fl)
{
	const uint32_t *v = sg__kw_table_get(&s->marked, f, fl, sg__kw_hash(f, fl));
	if (!v)
		return NULL;
	const kw_rule *r = &s->rules[*v];
	uint32_t m[KW_MARKED_MAX];
	size_t n = sg__kw_marks(text, len, m, KW_MARKED_MAX);
	return n == r->nmarks && !memcmp(m, r->marks, n * sizeof(*m)) ? r : NULL;
}
