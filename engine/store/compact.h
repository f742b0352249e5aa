/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pieces of the compact stored forms (event_value.h, consent.h format
 * 3): LEB128 varints, zigzag differences, and keys and texts as tagged
 * strings:
 *   varint tag; tag & 1: "+" and tag >> 1 decimal digits (1-30), two to a
 *   byte (BCD, high nibble first, a zero pad nibble when odd); else tag >> 1
 *   bytes of text (no NUL).
 * An E.164 key "+14155552671" takes 7 bytes instead of 12 + a length.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "stopgate.h"

/* Tests only: write the forms of before 0.2 (full events, recipient
 * records of format 1 and 2) instead of the compact ones, to build stores
 * of the old layout. */
extern bool sg__store_old_forms;

#define SG__C_MAX_DIGITS 30 /* a longer "+digits" string is stored as text */

typedef struct sg__cout {
	uint8_t *p, *end;
	int err;
} sg__cout;

typedef struct sg__cin {
	const uint8_t *p, *end;
	int err;
} sg__cin;

static inline void sg__c_put(sg__cout *o, const void *src, size_t n)
{
	if (o->err || (size_t)(o->end - o->p) < n) {
		o->err = SG_ETOOLONG;
		return;
	}
	if (n)
		memcpy(o->p, src, n);
	o->p += n;
}

static inline void sg__c_varint(sg__cout *o, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	do {
		b[n] = (uint8_t)(v & 0x7F);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	sg__c_put(o, b, n);
}

/* b - a as a zigzag varint (wrapping: exact for any two values). */
static inline void sg__c_delta(sg__cout *o, int64_t a, int64_t b)
{
	int64_t d = (int64_t)((uint64_t)b - (uint64_t)a);
	sg__c_varint(o, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
}

static inline size_t sg__c_digits(const char *s, size_t n)
{
	if (n < 2 || n - 1 > SG__C_MAX_DIGITS || s[0] != '+')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n - 1;
}

/* s (max bytes at most) as a tagged string. */
static inline void sg__c_string(sg__cout *o, const char *s, size_t max)
{
	size_t n = strlen(s), d = sg__c_digits(s, n);
	if (n > max) {
		o->err = SG_ETOOLONG;
		return;
	}
	if (!d) {
		sg__c_varint(o, (uint64_t)n << 1);
		sg__c_put(o, s, n);
		return;
	}
	uint8_t b[SG__C_MAX_DIGITS / 2] = {0};
	for (size_t i = 0; i < d; i++)
		b[i / 2] |= (uint8_t)((s[1 + i] - '0') << (i % 2 ? 0 : 4));
	sg__c_varint(o, ((uint64_t)d << 1) | 1);
	sg__c_put(o, b, (d + 1) / 2);
}

static inline const uint8_t *sg__c_take(sg__cin *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = SG_ECORRUPT;
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += n;
	return at;
}

static inline uint64_t sg__c_take_varint(sg__cin *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		const uint8_t *b = sg__c_take(r, 1);
		if (!b)
			return 0;
		if (shift == 63 && *b > 1)
			break; /* more than 64 bits */
		v |= (uint64_t)(*b & 0x7F) << shift;
		if (!(*b & 0x80))
			return v;
	}
	r->err = SG_ECORRUPT;
	return 0;
}

/* a + the zigzag difference that follows */
static inline int64_t sg__c_take_delta(sg__cin *r, int64_t a)
{
	uint64_t z = sg__c_take_varint(r);
	int64_t d = (int64_t)((z >> 1) ^ (~(z & 1) + 1));
	return (int64_t)((uint64_t)a + (uint64_t)d);
}

/* A tagged string into dst (room bytes, NUL included); returns its length,
 * 0 with r->err set when it does not decode or fit. Empty strings are
 * valid (length 0). */
static inline size_t sg__c_take_string(sg__cin *r, char *dst, size_t room)
{
	uint64_t tag = sg__c_take_varint(r), n = tag >> 1;
	if (r->err)
		return 0;
	if (tag & 1) {
		const uint8_t *b = n && n <= SG__C_MAX_DIGITS ? sg__c_take(r, (size_t)(n + 1) / 2) : NULL;
		if (!b || n + 2 > room || (n % 2 && (b[n / 2] & 0x0F)))
			goto bad; /* one encoding per string: the pad nibble is zero */
		dst[0] = '+';
		for (size_t i = 0; i < n; i++) {
			unsigned d = i % 2 ? b[i / 2] & 0x0F : b[i / 2] >> 4;
			if (d > 9)
				goto bad;
			dst[1 + i] = (char)('0' + d);
		}
		dst[n + 1] = '\0';
		return (size_t)n + 1;
	}
	const uint8_t *s = n < room ? sg__c_take(r, (size_t)n) : NULL;
	if (!s || memchr(s, '\0', (size_t)n))
		goto bad;
	memcpy(dst, s, (size_t)n);
	dst[n] = '\0';
	return (size_t)n;
bad:
	r->err = SG_ECORRUPT;
	if (room)
		dst[0] = '\0';
	return 0;
}
