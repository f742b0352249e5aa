/* SPDX-License-Identifier: Apache-2.0 */
/* The library's one growable byte buffer (daemon responses, export batches,
 * webhook signature strings and dedup keys), with JSON string escaping.
 * Sticky allocation failure: once an append fails, every later
 * append is a no-op and sg__buf_failed() is true, so callers check once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>

typedef struct sg__buf {
	char *p;     /* NUL-terminated whenever len > 0; owned; NULL when empty */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed: contents are incomplete */
} sg__buf;

#define SG__BUF_INIT {0}

void sg__buf_free(sg__buf *b);
/* Keep the allocation, drop the contents. */
void sg__buf_clear(sg__buf *b);
/* Make room for n more bytes; false on allocation failure. */
bool sg__buf_reserve(sg__buf *b, size_t n);
void sg__buf_add(sg__buf *b, const void *data, size_t len);
void sg__buf_adds(sg__buf *b, const char *s);
void sg__buf_addc(sg__buf *b, char c);
void sg__buf_printf(sg__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An unsigned number in decimal (without printf: the daemon's hot answers). */
void sg__buf_addu(sg__buf *b, uint64_t v);
/* Take the contents (caller frees with free()); b is left empty. */
char *sg__buf_steal(sg__buf *b, size_t *len);
static inline bool sg__buf_failed(const sg__buf *b)
{
	return b->failed;
}
/* The same as an error code: -ENOMEM once an append failed, else 0. */
static inline int sg__buf_err(const sg__buf *b)
{
	return b->failed ? -ENOMEM : 0;
}

/* The one JSON string escaper: s[0..len) as the inside of a string literal
 * into p (room for 6 * len bytes), returning the end. Control characters,
 * quote and backslash are escaped and valid UTF-8 copied; an invalid byte
 * becomes U+FFFD. With SG__JSON_HTML_SAFE (API answers) DEL and the '/' of
 * "</" are escaped too and U+FFFD is written as the escape; without it
 * (the audit export's stable format) they are written as they are. */
#define SG__JSON_HTML_SAFE 0x1u
char *sg__json_escape(char *p, const char *s, size_t len, unsigned flags);

/* A JSON string literal, quotes included. Invalid UTF-8 bytes are written
 * as U+FFFD; control characters, quote and backslash are escaped; "</" is
 * written as "<\/" so the output is safe to embed anywhere. NULL → null. */
void sg__buf_json_str(sg__buf *b, const char *s, size_t len);
static inline void sg__buf_json_cstr(sg__buf *b, const char *s)
{
	sg__buf_json_str(b, s, s ? __builtin_strlen(s) : 0);
}
/* "key": prefix with a leading comma when not first. */
void sg__buf_json_key(sg__buf *b, bool *first, const char *key);
