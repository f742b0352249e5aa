/* SPDX-License-Identifier: Apache-2.0 */
/* application/x-www-form-urlencoded decoding, for bodies and query strings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "webhook.h"

/* Decode in[0..len) into dst (never longer than the input); NUL-terminates.
 * Returns the decoded length. */
static size_t unescape(const char *in, size_t len, char *dst, size_t *bad)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '+') {
			dst[o++] = ' ';
		} else if (c == '%') {
			int byte = sg__pct_byte(in, len, i);
			if (byte < 0) {
				dst[o++] = '%';
				(*bad)++;
			} else {
				dst[o++] = (char)byte;
				i += 2;
			}
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return o;
}

int sg__wh_form_decode(const char *in, size_t len, sg__wh_form *out)
{
	sg__wh_form f = {0};
	size_t segs = 1;

	if (!in)
		len = 0;
	for (size_t i = 0; i < len; i++)
		segs += in[i] == '&';
	/* Every segment decodes to at most its own length plus two NULs. */
	f.buf_ = malloc(len + 2 * segs + 1);
	f.pairs = calloc(segs, sizeof(*f.pairs));
	if (!f.buf_ || !f.pairs) {
		free(f.buf_);
		free(f.pairs);
		return -ENOMEM;
	}
	char *w = f.buf_;
	size_t start = 0;
	while (start <= len) {
		const char *amp = len > start ? memchr(in + start, '&', len - start) : NULL;
		size_t end = amp ? (size_t)(amp - in) : len;
		if (end > start) {
			const char *seg = in + start;
			size_t slen = end - start;
			const char *eq = memchr(seg, '=', slen);
			size_t klen = eq ? (size_t)(eq - seg) : slen;
			sg__wh_pair *pr = &f.pairs[f.n++];
			pr->key = w;
			pr->key_len = unescape(seg, klen, w, &f.bad_escapes);
			w += pr->key_len + 1;
			pr->val = w;
			pr->val_len = eq ? unescape(eq + 1, slen - klen - 1, w, &f.bad_escapes)
					 : (*w = '\0', 0);
			w += pr->val_len + 1;
		}
		if (!amp)
			break;
		start = end + 1;
	}
	*out = f;
	return 0;
}

void sg__wh_form_free(sg__wh_form *f)
{
	if (!f)
		return;
	free(f->pairs);
	free(f->buf_);
	memset(f, 0, sizeof(*f));
}

const char *sg__wh_form_get(const sg__wh_form *f, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < f->n; i++) {
		if (f->pairs[i].key_len == klen && memcmp(f->pairs[i].key, key, klen) == 0) {
			if (len)
				*len = f->pairs[i].val_len;
			return f->pairs[i].val;
		}
	}
	return NULL;
}

static int bytecmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int pair_cmp(const void *x, const void *y)
{
	const sg__wh_pair *a = x, *b = y;
	int c = bytecmp(a->key, a->key_len, b->key, b->key_len);
	return c ? c : bytecmp(a->val, a->val_len, b->val, b->val_len);
}

void sg__wh_form_sort(sg__wh_form *f)
{
	if (f->n > 1)
		qsort(f->pairs, f->n, sizeof(*f->pairs), pair_cmp);
}

static int idx_cmp(const void *x, const void *y, void *ctx)
{
	const sg__wh_pair *p = ctx;
	const sg__wh_pair *a = &p[*(const size_t *)x], *b = &p[*(const size_t *)y];
	return bytecmp(a->key, a->key_len, b->key, b->key_len);
}

const sg__wh_pair *sg__wh_form_repeated(const sg__wh_form *f, const sg__wh_form *other)
{
	size_t n = f->n + (other ? other->n : 0);
	if (n < 2)
		return NULL;
	if (n <= 16) { /* the usual callback: no allocation */
		for (size_t i = 0; i < n; i++) {
			const sg__wh_pair *a = i < f->n ? &f->pairs[i] : &other->pairs[i - f->n];
			for (size_t j = i + 1; j < n; j++) {
				const sg__wh_pair *b = j < f->n ? &f->pairs[j] : &other->pairs[j - f->n];
				if (!bytecmp(a->key, a->key_len, b->key, b->key_len))
					return a;
			}
		}
		return NULL;
	}
	/* Large forms: sort a copy of the pairs by key and compare neighbours. */
	sg__wh_pair *all = malloc(n * sizeof(*all));
	size_t *idx = malloc(n * sizeof(*idx));
	const sg__wh_pair *found = NULL;
	if (!all || !idx) {
		free(all);
		free(idx);
		return f->n ? &f->pairs[0] : NULL; /* out of memory: refuse (fail closed) */
	}
	memcpy(all, f->pairs, f->n * sizeof(*all));
	if (other && other->n)
		memcpy(all + f->n, other->pairs, other->n * sizeof(*all));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), idx_cmp, all);
	for (size_t i = 1; i < n && !found; i++) {
		const sg__wh_pair *a = &all[idx[i - 1]], *b = &all[idx[i]];
		if (!bytecmp(a->key, a->key_len, b->key, b->key_len))
			found = idx[i - 1] < f->n ? &f->pairs[idx[i - 1]] : &other->pairs[idx[i - 1] - f->n];
	}
	free(all);
	free(idx);
	return found;
}
