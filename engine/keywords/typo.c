/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded typo tolerance for whole-message keywords: a text that is one
 * word, is no keyword itself and no real word of a loaded language (the
 * "real" lines of keywords/\*.kw), and is one edit away from exactly one
 * intent's keywords of 4+ letters is read as that keyword. One edit is
 * Damerau-Levenshtein 1, keyboard-aware:
 *   - two neighbouring letters swapped ("stpo", "unsbuscribe");
 *   - one letter dropped, of keywords of 5+ letters ("unsubscrib");
 *   - one letter added that doubles its neighbour or is next to it on the
 *     keyboard ("stopp", "stoip");
 *   - one letter replaced by a key next to it ("stio", "st0p").
 * Keyboard neighbours are those of QWERTY, QWERTZ or AZERTY (phones too).
 * Never inside sentences: only a text that is a single word gets here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keywords/kw_internal.h"

static const char *const layouts[][4] = {
	{"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"},
	{"1234567890", "qwertzuiop", "asdfghjkl", "yxcvbnm"},
	{"1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"},
};

/* Quarter-key offset of each row (staggered keys). */
static const int row_offset[4] = {0, 2, 3, 5};

static int key_index(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' : c >= '0' && c <= '9' ? 26 + c - '0' : -1;
}

static bool find_key(const char *const rows[4], char c, int *row, int *x)
{
	for (int r = 0; r < 4; r++) {
		const char *p = strchr(rows[r], c);
		if (p) {
			*row = r;
			*x = (int)(p - rows[r]) * 4 + row_offset[r];
			return true;
		}
	}
	return false;
}

static int by_len(const void *a, const void *b)
{
	const kw_typo *x = a, *y = b;
	return x->len != y->len ? x->len - y->len : x->rule < y->rule ? -1 : x->rule > y->rule;
}

void sg__kw_typo_init(sg__kw_set *s)
{
	qsort(s->typo, s->ntypo, sizeof(*s->typo), by_len);
	for (size_t len = 0, i = 0; len <= KW_TYPO_MAX + 1; len++) {
		while (i < s->ntypo && s->typo[i].len < len)
			i++;
		s->typo_at[len] = (uint32_t)i; /* first entry of length >= len */
	}
	memset(s->neighbour, 0, sizeof(s->neighbour));
	for (size_t l = 0; l < SG_ARRAY_SIZE(layouts); l++) {
		for (int a = 0; a < 36; a++) {
			char ca = a < 26 ? (char)('a' + a) : (char)('0' + a - 26);
			int ra, xa, rb, xb;
			if (!find_key(layouts[l], ca, &ra, &xa))
				continue;
			for (int b = 0; b < 36; b++) {
				char cb = b < 26 ? (char)('a' + b) : (char)('0' + b - 26);
				if (a == b || !find_key(layouts[l], cb, &rb, &xb))
					continue;
				int dx = abs(xa - xb), dr = abs(ra - rb);
				if ((dr == 0 && dx == 4) || (dr == 1 && dx < 4))
					s->neighbour[a] |= 1ULL << b;
			}
		}
	}
}

static bool near_key(const sg__kw_set *s, char a, char b)
{
	int ia = key_index(a), ib = key_index(b);
	return ia >= 0 && ib >= 0 && (s->neighbour[ia] >> ib & 1);
}

/* Is message m (ml bytes) keyword k (kl bytes) with exactly one edit? */
static bool one_edit(const sg__kw_set *s, const char *m, size_t ml, const char *k, size_t kl)
{
	size_t i = 0, n = ml < kl ? ml : kl;
	while (i < n && m[i] == k[i])
		i++;
	if (ml == kl) {
		if (i == ml)
			return false;
		if (!memcmp(m + i + 1, k + i + 1, ml - i - 1))
			return near_key(s, k[i], m[i]); /* substitution */
		return i + 1 < ml && m[i] == k[i + 1] && m[i + 1] == k[i] &&
		       !memcmp(m + i + 2, k + i + 2, ml - i - 2); /* transposition */
	}
	if (ml == kl + 1) { /* insertion of m[i] */
		if (memcmp(m + i + 1, k + i, kl - i))
			return false;
		char c = m[i];
		return (i > 0 && (m[i - 1] == c || near_key(s, m[i - 1], c))) ||
		       (i + 1 < ml && (m[i + 1] == c || near_key(s, m[i + 1], c)));
	}
	if (ml + 1 == kl) /* deletion of k[i]; "stp" of "stop" is too near "top", "sop" */
		return kl > KW_TYPO_MIN && !memcmp(m + i, k + i + 1, kl - i - 1);
	return false;
}

int sg__kw_typo_add(sg__kw_set *s, const char *key, size_t len, uint32_t rule)
{
	if (len < KW_TYPO_MIN || len > KW_TYPO_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (key[i] < 'a' || key[i] > 'z')
			return 0; /* letters only: "stop2quit", "opt out" are not typo targets */
	for (size_t i = 0; i < s->ntypo; i++)
		if (s->typo[i].len == len && !memcmp(s->typo[i].key, key, len))
			return 0;
	if (s->ntypo == s->typo_cap) {
		size_t cap = s->typo_cap ? s->typo_cap * 2 : 64;
		kw_typo *t = realloc(s->typo, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		s->typo = t;
		s->typo_cap = cap;
	}
	kw_typo *t = &s->typo[s->ntypo++];
	memset(t, 0, sizeof(*t));
	memcpy(t->key, key, len);
	t->len = (uint8_t)len;
	t->rule = rule;
	return 0;
}

const kw_rule *sg__kw_typo(const sg__kw_set *s, const char *f, size_t fl)
{
	if (fl + 1 < KW_TYPO_MIN || fl > KW_TYPO_MAX + 1 || !s->ntypo)
		return NULL;
	bool letters = false;
	for (size_t i = 0; i < fl; i++) {
		if (kw_wordclass((unsigned char)f[i]) != 1)
			return NULL; /* one ASCII word only: never inside a sentence */
		letters |= f[i] >= 'a';
	}
	if (!letters)
		return NULL;
	const kw_rule *found = NULL;
	/* typo[] is sorted by length: only keywords of fl - 1 .. fl + 1 letters */
	for (size_t i = s->typo_at[fl - 1]; i < s->typo_at[fl + 2 <= KW_TYPO_MAX + 1 ? fl + 2 : KW_TYPO_MAX + 1];
	     i++) {
		const kw_typo *t = &s->typo[i];
		/* one edit keeps f[0] or f[1] where the keyword has it, or swaps them */
		if ((f[0] != t->key[0] && f[1] != t->key[1] && f[0] != t->key[1] && f[1] != t->key[0]) ||
		    !one_edit(s, f, fl, t->key, t->len))
			continue;
		const kw_rule *r = &s->rules[t->rule];
		if (found && found->intent != r->intent)
			return NULL; /* near keywords of two intents: no guess */
		if (!found || t->rule < (uint32_t)(found - s->rules))
			found = r; /* the first loaded names it, as for exact keywords */
	}
	if (found && sg__kw_table_get(&s->real, f, fl, sg__kw_hash(f, fl)))
		return NULL; /* "stoop", "atop", "shop" are words, not typos */
	return found;
}
