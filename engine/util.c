/* SPDX-License-Identifier: Apache-2.0 */
/* Errors, names of enums, time and hex formatting shared by every module. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

_Noreturn void sg__require_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "stopgate: internal invariant failed: %s (%s:%d)\n", expr, file, line);
	abort();
}

const char *sg_strerror(int err)
{
	static const char *const own[] = {
		[SG_ENUMBER - SG_ERROR_MIN] = "not a usable phone number or sender ID",
		[SG_ENOCOUNTRY - SG_ERROR_MIN] = "national number without a default country",
		[SG_EUTF8 - SG_ERROR_MIN] = "invalid UTF-8",
		[SG_ETOOLONG - SG_ERROR_MIN] = "input too long",
		[SG_ESTORE - SG_ERROR_MIN] = "consent store error",
		[SG_ECORRUPT - SG_ERROR_MIN] = "consent store holds data stopgate did not write",
		[SG_ERDONLY - SG_ERROR_MIN] = "engine is open read-only",
		[SG_ELOCKED - SG_ERROR_MIN] = "data directory is in use by another writer (is a daemon running?)",
		[SG_ENOTFOUND - SG_ERROR_MIN] = "not found",
		[SG_EJSON - SG_ERROR_MIN] = "malformed JSON or a field of the wrong type",
		[SG_ECONFIG - SG_ERROR_MIN] = "invalid configuration",
		[SG_EKEYWORDS - SG_ERROR_MIN] = "keyword rules do not load",
		[SG_EBADSIG - SG_ERROR_MIN] = "webhook signature missing or invalid",
		[SG_ECHAIN - SG_ERROR_MIN] = "event log hash chain does not verify",
		[SG_EVERSION - SG_ERROR_MIN] = "data directory written by an incompatible version",
		[SG_ECONSENT - SG_ERROR_MIN] = "the recipient opted out themselves: an operator or API opt-in "
						"needs override consumer_request and a note saying how they asked",
		[SG_EFORBIDDEN - SG_ERROR_MIN] = "the policy forbids this change (forbidOptinOverride)",
		[SG_ENOSTORE - SG_ERROR_MIN] = "no consent store in the data directory (create one with "
					       "'stopgate init --data DIR' or by starting 'stopgate serve')",
		[SG_ETRUNCATED - SG_ERROR_MIN] = "data.mdb is missing, empty or truncated (shorter than its "
						 "LMDB meta page says): restore the directory from a backup "
						 "('stopgate backup'); no new store is created over it",
		[SG_ERESOLVED - SG_ERROR_MIN] = "the review event was already resolved",
		[SG_EQUIETHOURS - SG_ERROR_MIN] = "quiet-hours rules do not load",
		[SG_ENOKEYWORDS - SG_ERROR_MIN] = "opened without keyword rules (keywords \"none\"): this engine "
						  "checks and records but does not classify messages",
	};
	_Static_assert(SG_ARRAY_SIZE(own) == SG__ERROR_END - SG_ERROR_MIN,
		       "SG__ERROR_END is not one past the last code with a description");
	if (err == 0)
		return "success";
	if (err >= SG_ERROR_MIN && err < SG__ERROR_END && own[err - SG_ERROR_MIN])
		return own[err - SG_ERROR_MIN];
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

const char *sg_version(void)
{
	return SG_VERSION;
}

int sg__struct_in(void *dst, size_t dst_size, const void *src, size_t min_size)
{
	size_t src_size;
	memcpy(&src_size, src, sizeof(src_size));
	if (src_size < min_size)
		return -EINVAL; /* not set: filled without sg_*_default() */
	const unsigned char *tail = (const unsigned char *)src;
	for (size_t i = dst_size; i < src_size; i++)
		if (tail[i])
			return -EINVAL; /* a newer caller sets a field this library does not have */
	memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
	memcpy(dst, &dst_size, sizeof(dst_size));
	return 0;
}

size_t sg__strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);
	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

bool sg__ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	/* Walk the longer length so timing does not reveal where they differ. */
	const unsigned char *x = a, *y = b;
	size_t n = alen > blen ? alen : blen;
	unsigned char diff = alen != blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char cx = i < alen ? x[i] : 0;
		unsigned char cy = i < blen ? y[i] : 0;
		diff |= cx ^ cy;
	}
	return diff == 0;
}

size_t sg__utf8_seq(const unsigned char *s, size_t rem)
{
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return rem >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (rem < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (rem < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
			return 0; /* overlong, > U+10FFFF */
		return 4;
	}
	return 0;
}

uint32_t sg__utf8_decode(const unsigned char *s, size_t rem, size_t *len)
{
	size_t n = sg__utf8_seq(s, rem);
	*len = n;
	if (n <= 1)
		return n ? s[0] : 0;
	uint32_t v = s[0] & (0x7Fu >> n);
	for (size_t i = 1; i < n; i++)
		v = (v << 6) | (s[i] & 0x3Fu);
	return v;
}

int sg__hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sg__pct_byte(const char *in, size_t len, size_t i)
{
	if (i + 2 >= len)
		return -1;
	int hi = sg__hexval((unsigned char)in[i + 1]), lo = sg__hexval((unsigned char)in[i + 2]);
	return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

long sg__utf8_count(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	long count = 0;
	for (size_t i = 0; i < len; count++) {
		size_t n = sg__utf8_seq(s + i, len - i);
		if (!n)
			return -1;
		i += n;
	}
	return count;
}

size_t sg_utf8_repair(const char *text, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t n = sg__utf8_seq(s + i, len - i);
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3); /* U+FFFD for the one byte */
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

void sg_hex32(const uint8_t hash[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[hash[i] >> 4];
		out[2 * i + 1] = digits[hash[i] & 15];
	}
	out[64] = '\0';
}

int64_t sg_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sg_time_format(int64_t us, char out[32])
{
	time_t secs = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	struct tm tm;
	gmtime_r(&secs, &tm);
	int year = tm.tm_year + 1900;
	if (year < 0 || year > 9999) {
		char tmp[96]; /* wide enough for any int fields, so no truncation warning */
		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", year, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
		sg__strlcpy(out, tmp, 32);
		return;
	}
	/* The same text without printf (the daemon's check answers carry it). */
	int f[6] = {year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
	static const char seps[] = "--T::.";
	char *p = out;
	for (int i = 0; i < 6; i++) {
		if (i == 0) {
			*p++ = (char)('0' + f[0] / 1000), *p++ = (char)('0' + f[0] / 100 % 10);
		}
		*p++ = (char)('0' + f[i] / 10 % 10), *p++ = (char)('0' + f[i] % 10);
		*p++ = seps[i];
	}
	for (long d = 100000; d; d /= 10)
		*p++ = (char)('0' + frac / d % 10);
	*p++ = 'Z';
	*p = '\0';
}

static int digits(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*ret = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's formula). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int sg_time_parse(const char *text, int64_t *ret_us)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = text;
	int y, mo, d, h = 0, mi = 0, s = 0;
	int64_t frac_us = 0, offset_s = 0;

	if (!text)
		return -EINVAL;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return -EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &s))
				return -EINVAL;
		}
		if (h > 23 || mi > 59 || s > 60)
			return -EINVAL;
		if (*p == '.' || *p == ',') {
			p++;
			int n = 0;
			int64_t scale = 100000;
			while (*p >= '0' && *p <= '9') {
				if (n < 6)
					frac_us += (*p - '0') * scale;
				scale /= 10;
				p++;
				n++;
			}
			if (n == 0)
				return -EINVAL;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (digits(&p, 2, &oh))
				return -EINVAL;
			if (*p == ':')
				p++;
			if (digits(&p, 2, &om) || oh > 23 || om > 59)
				return -EINVAL;
			offset_s = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0')
		return -EINVAL;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
	*ret_us = secs * 1000000 + frac_us;
	return 0;
}
