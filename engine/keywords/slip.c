/* SPDX-License-Identifier: Apache-2.0 */
/* Slips in other scripts: a whole-message keyword of Arabic, Persian, Urdu,
 * Cyrillic, Indic, Korean, ... written with one letter dropped ("انصرف" for
 * "انصراف", "відпишіт" for "відпишіть"), one letter doubled ("стопп") or a
 * letter held down ("الغاااء"), or in Arabic or Cyrillic script one letter
 * written as its twin: the same shape with other dots, or the same sound
 * ("لغو عضوبت", "الاشتراق", "اشتراگ", "отпищите", "отпешите"), or in
 * Hangul one syllable with one of its letters (jamo) slipped, of keywords
 * of 4+ syllables ("수신겨부", "수신거뷰", "수신것부" for "수신거부"). typo.c covers a-z with keyboard maps; here
 * there are none, so only these edits, only for keywords of 5+ letters
 * (dropped) or 4+ (doubled), only in a text with no ASCII but single spaces
 * (a keyword of several words may lose a letter too: "الغاء الاشترك"), never
 * a real word, and never when the edit reaches keywords of two intents.
 * The dropped and twin forms are built once at load (s->dropped: form -> rule, or
 * KW_SLIP_AMBIGUOUS when two intents share it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keywords/kw_internal.h"

#define KW_SLIP_AMBIGUOUS UINT32_MAX
#define KW_SLIP_MAX 48 /* letters */

static size_t seq_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
}

/* Letter offsets of t (at[n] = tl); 0 when t holds ASCII other than a
 * single space between letters, or is too long. */
static size_t letters(const char *t, size_t tl, size_t at[KW_SLIP_MAX + 1])
{
	size_t n = 0;
	for (size_t i = 0; i < tl;) {
		unsigned char c = (unsigned char)t[i];
		if (c < 0x80 && (c != ' ' || !i || i + 1 == tl || t[i - 1] == ' '))
			return 0;
		if (n == KW_SLIP_MAX)
			return 0;
		at[n++] = i;
		i += seq_len(c);
	}
	at[n] = tl;
	return n;
}

/* Twins: in Arabic script (folded spelling) letters that differ only by
 * their dots, or that Persian and Urdu speakers write for the same sound. */
static const char *const twins[][2] = {
	{"ک", "گ"}, {"ک", "ق"}, {"ق", "غ"}, {"ی", "ب"}, {"ب", "ت"}, {"ت", "ث"}, {"ب", "ن"},
	{"ر", "ز"}, {"د", "ذ"}, {"س", "ش"}, {"ص", "ض"}, {"ط", "ظ"}, {"ع", "غ"}, {"ح", "خ"},
	{"ج", "چ"}, {"ه", "ة"}, {"ت", "ط"}, {"س", "ص"}, {"ز", "ذ"},
	/* one dot or two on one body, and neighbouring keys of the Arabic layout */
	{"ف", "ق"},
	/* Cyrillic: letters of one sound or one shape, and Russian letters in
	 * Ukrainian words and back */
	{"ш", "щ"}, {"е", "и"}, {"и", "і"}, {"е", "є"}, {"г", "ґ"}, {"ь", "ъ"}, {"и", "ы"},
	{"і", "ї"},
};

static int put(sg__kw_set *s, const char *q, size_t ql, uint32_t rule)
{
	if (sg__kw_table_get(&s->exact, q, ql, sg__kw_hash(q, ql)))
		return 0; /* a keyword itself */
	uint32_t old;
	int rc = sg__kw_table_put(&s->dropped, q, ql, rule, &old);
	if (rc < 0)
		return rc;
	if (rc == 0 && old != KW_SLIP_AMBIGUOUS && s->rules[old].intent != s->rules[rule].intent) {
		/* two intents: no guess (the table has no update; write the slot) */
		uint32_t *v = (uint32_t *)sg__kw_table_get(&s->dropped, q, ql, sg__kw_hash(q, ql));
		*v = KW_SLIP_AMBIGUOUS;
	}
	return 0;
}

/* k with its letter at [a, b) replaced by twin w. */
static int put_twin(sg__kw_set *s, const char *k, size_t kl, size_t a, size_t b, const char *w, uint32_t rule)
{
	char q[4 * KW_SLIP_MAX + 4];
	size_t wl = strlen(w);
	if (kl - (b - a) + wl > sizeof(q))
		return 0;
	memcpy(q, k, a);
	memcpy(q + a, w, wl);
	memcpy(q + a + wl, k + b, kl - b);
	return put(s, q, a + wl + kl - b, rule);
}

/* A Hangul syllable's index (0..11171), or -1. */
static int hangul(const char *p, size_t n)
{
	if (n != 3)
		return -1;
	const unsigned char *u = (const unsigned char *)p;
	uint32_t cp = (uint32_t)(u[0] & 0x0F) << 12 | (uint32_t)(u[1] & 0x3F) << 6 | (u[2] & 0x3F);
	return cp >= 0xAC00 && cp <= 0xD7A3 ? (int)(cp - 0xAC00) : -1;
}

/* Syllables a and b differ in exactly one of initial, vowel, final. */
static bool one_jamo(int a, int b)
{
	int d = (a / 588 != b / 588) + (a % 588 / 28 != b % 588 / 28) + (a % 28 != b % 28);
	return d == 1;
}

/* Is keyword k (kl bytes) all Hangul syllables, 4 or more? */
static bool hangul_word(const char *k, size_t kl)
{
	if (kl % 3 || kl < 12 || kl > 3 * KW_SLIP_MAX)
		return false;
	for (size_t i = 0; i < kl; i += 3)
		if (hangul(k + i, 3) < 0)
			return false;
	return true;
}

int sg__kw_slip_init(sg__kw_set *s)
{
	const kw_table *t = &s->exact;
	for (size_t e = 0; t->mask && e <= t->mask; e++) {
		if (!t->slot[e].key || !hangul_word(t->keys + t->slot[e].key - 1, t->slot[e].len))
			continue;
		if (s->nhangul == s->hangul_cap) {
			size_t cap = s->hangul_cap ? s->hangul_cap * 2 : 16;
			uint32_t *h = realloc(s->hangul, cap * sizeof(*h));
			if (!h)
				return -ENOMEM;
			s->hangul = h;
			s->hangul_cap = cap;
		}
		s->hangul[s->nhangul++] = (uint32_t)e;
	}
	size_t at[KW_SLIP_MAX + 1];
	char q[4 * KW_SLIP_MAX];
	for (size_t e = 0; t->mask && e <= t->mask; e++) {
		if (!t->slot[e].key)
			continue;
		const char *k = t->keys + t->slot[e].key - 1;
		size_t kl = t->slot[e].len, n = letters(k, kl, at), nl = 0;
		for (size_t i = 0; i < n; i++)
			nl += k[at[i]] != ' ';
		if (nl < 5 || kl > sizeof(q))
			continue;
		uint32_t rule = t->slot[e].val;
		for (size_t i = 0; i < n; i++) {
			if (k[at[i]] == ' ' || (i + 1 < n && at[i + 1] - at[i] == at[i + 2] - at[i + 1] &&
						!memcmp(k + at[i], k + at[i + 1], at[i + 1] - at[i])))
				continue; /* a space, or the first of two equal letters (the second names it) */
			size_t ql = 0;
			memcpy(q, k, at[i]);
			ql = at[i];
			memcpy(q + ql, k + at[i + 1], kl - at[i + 1]);
			ql += kl - at[i + 1];
			int rc = put(s, q, ql, rule);
			if (rc < 0)
				return rc;
		}
		for (size_t i = 0; i < n; i++) {
			size_t ll = at[i + 1] - at[i];
			for (size_t w = 0; w < SG_ARRAY_SIZE(twins); w++)
				for (int side = 0; side < 2; side++) {
					if (strlen(twins[w][side]) != ll || memcmp(k + at[i], twins[w][side], ll))
						continue;
					int rc = put_twin(s, k, kl, at[i], at[i + 1], twins[w][!side], rule);
					if (rc < 0)
						return rc;
				}
		}
	}
	return 0;
}

/* The exact keyword of 4+ letters q is, or NULL. */
static const kw_rule *keyword(const sg__kw_set *s, const char *q, size_t ql, size_t nl)
{
	if (nl < 4)
		return NULL;
	const uint32_t *v = sg__kw_table_get(&s->exact, q, ql, sg__kw_hash(q, ql));
	return v ? &s->rules[*v] : NULL;
}

static bool same(const char *f, const size_t *at, size_t i)
{
	return at[i + 1] - at[i] == at[i + 2] - at[i + 1] && f[at[i]] != ' ' &&
	       !memcmp(f + at[i], f + at[i + 1], at[i + 1] - at[i]);
}

const kw_rule *sg__kw_slip(const sg__kw_set *s, const char *f, size_t fl)
{
	size_t at[KW_SLIP_MAX + 1];
	if (fl < 8 || (unsigned char)f[0] < 0x80)
		return NULL;
	size_t n = letters(f, fl, at);
	if (n < 4 || sg__kw_table_get(&s->real, f, fl, sg__kw_hash(f, fl)))
		return NULL;
	const uint32_t *v = s->dropped.count ? sg__kw_table_get(&s->dropped, f, fl, sg__kw_hash(f, fl)) : NULL;
	if (v)
		return *v == KW_SLIP_AMBIGUOUS ? NULL : &s->rules[*v];
	char q[4 * KW_SLIP_MAX];
	const kw_rule *found = NULL;
	/* Hangul: one syllable with one jamo slipped. */
	if (s->nhangul && hangul_word(f, fl)) {
		for (size_t h = 0; h < s->nhangul; h++) {
			const kw_entry *e = &s->exact.slot[s->hangul[h]];
			const char *k = s->exact.keys + e->key - 1;
			if (e->len != fl)
				continue;
			size_t diff = 0;
			for (size_t i = 0; i < fl && diff < 2; i += 3)
				if (memcmp(f + i, k + i, 3))
					diff += one_jamo(hangul(f + i, 3), hangul(k + i, 3)) ? 1 : 2;
			if (diff != 1)
				continue;
			const kw_rule *r = &s->rules[e->val];
			if (found && found->intent != r->intent)
				return NULL;
			if (!found)
				found = r;
		}
		return found;
	}
	/* A letter held down: each run of 3+ equal letters read as one. */
	size_t ql = 0, nl = 0;
	bool runs = false;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && same(f, at, j))
			j++;
		runs |= j - i >= 2;
		size_t keep = j - i >= 2 ? at[i + 1] - at[i] : at[j + 1] - at[i];
		memcpy(q + ql, f + at[i], keep);
		ql += keep;
		nl += j - i >= 2 ? 1 : j - i + 1;
		i = j + 1;
	}
	if (runs && (found = keyword(s, q, ql, nl)))
		return found;
	/* One letter doubled: each pair of equal letters read as one. */
	for (size_t i = 0; i + 1 < n; i++) {
		if (!same(f, at, i))
			continue;
		memcpy(q, f, at[i]);
		memcpy(q + at[i], f + at[i + 1], fl - at[i + 1]);
		const kw_rule *r = keyword(s, q, fl - (at[i + 1] - at[i]), n - 1);
		if (!r)
			continue;
		if (found && found->intent != r->intent)
			return NULL;
		if (!found)
			found = r;
	}
	return found;
}
