/* SPDX-License-Identifier: Apache-2.0 */
/* Growable buffer, JSON string and CSV cell escaping; see buf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "internal.h"

void sg__buf_free(sg__buf *b)
{
	free(b->p);
	*b = (sg__buf)SG__BUF_INIT;
}

void sg__buf_addu(sg__buf *b, uint64_t v)
{
	char t[20], *e = t + sizeof(t), *p = e;
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	sg__buf_add(b, p, (size_t)(e - p));
}

void sg__buf_clear(sg__buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->p)
		b->p[0] = '\0';
}

bool sg__buf_reserve(sg__buf *b, size_t n)
{
	if (b->failed)
		return false;
	if (b->cap - b->len > n)
		return true; /* room for n bytes and the NUL */
	size_t need = b->len + n + 1;
	if (need < b->len) {
		b->failed = true;
		return false;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void sg__buf_add(sg__buf *b, const void *data, size_t len)
{
	if (!sg__buf_reserve(b, len))
		return;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void sg__buf_adds(sg__buf *b, const char *s)
{
	sg__buf_add(b, s, strlen(s));
}

void sg__buf_addc(sg__buf *b, char c)
{
	sg__buf_add(b, &c, 1);
}

void sg__buf_printf(sg__buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sg__buf_add(b, small, (size_t)n);
		return;
	}
	if (!sg__buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

char *sg__buf_steal(sg__buf *b, size_t *len)
{
	char *p = b->p;
	if (len)
		*len = b->len;
	*b = (sg__buf)SG__BUF_INIT;
	return p;
}


char *sg__json_escape(char *p, const char *str, size_t len, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	bool safe = flags & SG__JSON_HTML_SAFE;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		if (c >= 0x80) {
			size_t n = sg__utf8_seq(s + i, len - i);
			if (n) {
				memcpy(p, s + i, n);
				p += n;
				i += n;
				continue;
			}
			const char *rep = safe ? "\\ufffd" : "\xEF\xBF\xBD"; /* U+FFFD */
			size_t rn = safe ? 6 : 3;
			memcpy(p, rep, rn);
			p += rn;
			i++;
			continue;
		}
		char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't'
			: safe && c == '/' && i > 0 && s[i - 1] == '<' ? '/' : 0;
		i++;
		if (e) {
			*p++ = '\\';
			*p++ = e;
		} else if (c < 0x20 || (safe && c == 0x7f)) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			*p++ = (char)c;
		}
	}
	return p;
}

void sg__buf_json_str(sg__buf *b, const char *str, size_t len)
{
	if (!str) {
		sg__buf_add(b, "null", 4);
		return;
	}
	if (len > (SIZE_MAX - 2) / 6) {
		b->failed = true;
		return;
	}
	if (!sg__buf_reserve(b, 6 * len + 2))
		return;
	char *p = b->p + b->len;
	*p++ = '"';
	p = sg__json_escape(p, str, len, SG__JSON_HTML_SAFE);
	*p++ = '"';
	b->len = (size_t)(p - b->p);
	b->p[b->len] = '\0';
}

void sg__buf_json_key(sg__buf *b, bool *first, const char *key)
{
	if (!*first)
		sg__buf_addc(b, ',');
	*first = false;
	sg__buf_json_cstr(b, key);
	sg__buf_addc(b, ':');
}
