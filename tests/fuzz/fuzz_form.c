/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: sg__wh_form_decode(), sg__wh_form_get(), sg__wh_form_sort().
 * The whole input is one form body / query string. Invariants (abort() when
 * broken):
 *  - every key and value is NUL-terminated at its length, and no pair is
 *    longer than the input;
 *  - there are no more pairs than '&'-separated segments, and no more
 *    malformed escapes than '%' bytes;
 *  - sg__wh_form_get() finds the first pair of each key;
 *  - after sorting, pairs are in non-decreasing (key, value) byte order and
 *    nothing was lost;
 *  - percent-encoding every pair again and decoding gives the same pairs
 *    with no malformed escapes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks/webhook.h"

static void die(const char *what, const uint8_t *in, size_t len)
{
	fprintf(stderr, "fuzz_form: %s; input (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 300; i++)
		fprintf(stderr, " %02x", in[i]);
	fprintf(stderr, "\n");
	abort();
}

static int bytecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	return c ? c : (alen > blen) - (alen < blen);
}

static void encode(const char *s, size_t n, char **w)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			*(*w)++ = (char)c;
		} else if (c == ' ') {
			*(*w)++ = '+';
		} else {
			*(*w)++ = '%';
			*(*w)++ = hex[c >> 4];
			*(*w)++ = hex[c & 15];
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	sg__wh_form f, g;
	size_t segs = 1, pct = 0;

	for (size_t i = 0; i < size; i++) {
		segs += in[i] == '&';
		pct += in[i] == '%';
	}
	if (sg__wh_form_decode(in, size, &f))
		return 0; /* ENOMEM only */
	if (f.n > segs || f.bad_escapes > pct)
		die("too many pairs or escapes", data, size);
	for (size_t i = 0; i < f.n; i++) {
		const sg__wh_pair *p = &f.pairs[i];
		if (p->key_len + p->val_len > size || p->key[p->key_len] || p->val[p->val_len])
			die("pair not terminated at its length", data, size);
		char key[64];
		if (p->key_len < sizeof(key) && !memchr(p->key, 0, p->key_len)) {
			memcpy(key, p->key, p->key_len + 1);
			size_t vlen;
			const char *v = sg__wh_form_get(&f, key, &vlen);
			size_t j = 0;
			while (bytecmp(f.pairs[j].key, f.pairs[j].key_len, key, p->key_len))
				j++;
			if (v != f.pairs[j].val || vlen != f.pairs[j].val_len)
				die("form_get does not return the first pair", data, size);
		}
	}

	/* Re-encode in input order, decode again: the same pairs. */
	char *enc = malloc(3 * size + f.n * 2 + 1), *w = enc;
	if (!enc) {
		sg__wh_form_free(&f);
		return 0;
	}
	for (size_t i = 0; i < f.n; i++) {
		if (i)
			*w++ = '&';
		encode(f.pairs[i].key, f.pairs[i].key_len, &w);
		*w++ = '=';
		encode(f.pairs[i].val, f.pairs[i].val_len, &w);
	}
	if (sg__wh_form_decode(enc, (size_t)(w - enc), &g) == 0) {
		/* An empty key with an empty value encodes to "=" and survives;
		 * so the pair count must match exactly. */
		if (g.n != f.n || g.bad_escapes)
			die("re-encoding changed the pairs", data, size);
		for (size_t i = 0; i < f.n; i++)
			if (bytecmp(f.pairs[i].key, f.pairs[i].key_len, g.pairs[i].key, g.pairs[i].key_len) ||
			    bytecmp(f.pairs[i].val, f.pairs[i].val_len, g.pairs[i].val, g.pairs[i].val_len))
				die("re-encoding changed a pair", data, size);
		sg__wh_form_free(&g);
	}
	free(enc);

	size_t n = f.n;
	sg__wh_form_sort(&f);
	if (f.n != n)
		die("sort changed the count", data, size);
	for (size_t i = 1; i < f.n; i++) {
		const sg__wh_pair *a = &f.pairs[i - 1], *b = &f.pairs[i];
		int c = bytecmp(a->key, a->key_len, b->key, b->key_len);
		if (c > 0 || (c == 0 && bytecmp(a->val, a->val_len, b->val, b->val_len) > 0))
			die("sort order", data, size);
	}
	sg__wh_form_free(&f);
	return 0;
}
