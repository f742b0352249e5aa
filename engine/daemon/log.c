/* SPDX-License-Identifier: Apache-2.0 */
/* Structured one-line logs to stderr; see log.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "internal.h"
#include "log.h"

static sg__log_level threshold = SG_LOG_INFO;
static sg__log_format format = SG__LOG_TEXT;

void sg__log_set_format(sg__log_format f)
{
	format = f;
}

void sg__log_set_level(sg__log_level level)
{
	threshold = level;
}

bool sg__log_enabled(sg__log_level level)
{
	return level <= threshold;
}

static const char *const level_names[] = {
	[SG_LOG_ERROR] = "error", [SG_LOG_WARN] = "warn", [SG_LOG_INFO] = "info", [SG_LOG_DEBUG] = "debug",
};

static void vlog(sg__log_level level, const char *group, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

void sg__log(sg__log_level level, const char *group, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, group, fmt, ap);
	va_end(ap);
}

/* Where the fixed message ends: before the first " key=" (a lowercase
 * word and '='), as every line is "message key=value ...". */
static size_t message_end(const char *m, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (m[i] != ' ')
			continue;
		size_t j = i + 1;
		while (j < len && ((m[j] >= 'a' && m[j] <= 'z') || m[j] == '_' || (m[j] >= '0' && m[j] <= '9')))
			j++;
		if (j > i + 1 && j < len && m[j] == '=')
			return i;
	}
	return len;
}

static void json_str(sg__buf *b, const char *s, size_t len)
{
	sg__buf_addc(b, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			sg__buf_addc(b, '\\');
			sg__buf_addc(b, (char)c);
		} else if (c < 0x20) {
			sg__buf_printf(b, "\\u%04x", c);
		} else {
			sg__buf_addc(b, (char)c);
		}
	}
	sg__buf_addc(b, '"');
}

/* The key=value pairs after the message, as JSON members: a value in
 * quotes (sg__log_quote's \" and \\ undone, \xHH kept as text) is a string,
 * a bare integer a number, anything else a string. */
static void json_pairs(sg__buf *b, const char *p, const char *end)
{
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		const char *k = p;
		while (p < end && *p != '=' && *p != ' ')
			p++;
		if (p >= end || *p != '=' || p == k) { /* not a pair: keep it as text */
			const char *t = k;
			while (p < end && *p != ' ')
				p++;
			if (p > t) {
				sg__buf_adds(b, ",\"text\":");
				json_str(b, t, (size_t)(p - t));
			}
			continue;
		}
		size_t klen = (size_t)(p - k);
		p++;
		sg__buf_addc(b, ',');
		json_str(b, k, klen);
		sg__buf_addc(b, ':');
		if (p < end && *p == '"') {
			sg__buf v = SG__BUF_INIT;
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\'))
					p++;
				sg__buf_addc(&v, *p);
			}
			if (p < end)
				p++;
			json_str(b, v.p ? v.p : "", v.len);
			sg__buf_free(&v);
		} else {
			const char *v = p;
			bool num = p < end && (*p == '-' || (*p >= '0' && *p <= '9'));
			for (; p < end && *p != ' '; p++)
				if (!((*p >= '0' && *p <= '9') || (p == v && *p == '-')))
					num = false;
			if (num && p - v <= 18 && !(p - v == 1 && *v == '-'))
				sg__buf_add(b, v, (size_t)(p - v));
			else
				json_str(b, v, (size_t)(p - v));
		}
	}
}

static void vlog(sg__log_level level, const char *group, const char *fmt, va_list ap)
{
	if (!sg__log_enabled(level))
		return;
	char ts[32], msg[2048];
	sg_time_format(sg_now_us(), ts);
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1; /* truncated: still one line */
	for (size_t i = 0; i < len; i++)
		if (msg[i] == '\n' || msg[i] == '\r')
			msg[i] = ' ';
	sg__buf b = SG__BUF_INIT;
	if (format == SG__LOG_TEXT) {
		sg__buf_printf(&b, "%s %-5s [%-6.6s] ", ts, level_names[level], group);
		sg__buf_add(&b, msg, len);
	} else {
		size_t me = message_end(msg, len);
		if (format == SG__LOG_JSON) {
			sg__buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"group\":", ts, level_names[level]);
			json_str(&b, group, strlen(group));
			sg__buf_adds(&b, ",\"msg\":");
			json_str(&b, msg, me);
			json_pairs(&b, msg + me, msg + len);
			sg__buf_addc(&b, '}');
		} else { /* logfmt */
			sg__buf_printf(&b, "time=%s level=%s group=%s msg=", ts, level_names[level], group);
			json_str(&b, msg, me); /* a quoted logfmt value: \" and \\ escaped */
			sg__buf_add(&b, msg + me, len - me);
		}
	}
	sg__buf_addc(&b, '\n');
	/* One write per line so threads do not interleave inside a line. */
	if (b.p)
		fwrite(b.p, 1, b.len, stderr);
	sg__buf_free(&b);
}

/* ---- rate limiting --------------------------------------------------------- */

/* One token bucket per key; the least recently used key is evicted (after
 * its count of suppressed lines is logged) when the table is full. */
#define LIMIT_SLOTS 64

static struct limit_slot {
	char key[48];
	double tokens;
	int64_t last_us;      /* last refill */
	uint64_t suppressed;  /* since the last line logged for this key */
	int64_t since_us;     /* first suppressed line */
} slots[LIMIT_SLOTS];
static pthread_mutex_t limit_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void say_suppressed(const struct limit_slot *s, int64_t now)
{
	sg__log(SG_LOG_WARN, "log", "suppressed %llu similar lines in the last %llds key=%s",
		(unsigned long long)s->suppressed, (long long)((now - s->since_us) / 1000000 + 1), s->key);
}

void sg__log_limited(sg__log_level level, const char *group, const char *key, const char *fmt, ...)
{
	if (!sg__log_enabled(level))
		return;
	int64_t now = mono_us();
	struct limit_slot *s = NULL, *lru = &slots[0];
	bool allowed, first_suppressed = false;
	uint64_t had = 0;
	struct limit_slot copy;

	pthread_mutex_lock(&limit_mu);
	for (size_t i = 0; i < LIMIT_SLOTS && !s; i++) {
		if (slots[i].key[0] && strncmp(slots[i].key, key, sizeof(slots[i].key) - 1) == 0)
			s = &slots[i];
		else if (!slots[i].key[0] || slots[i].last_us < lru->last_us)
			lru = !lru->key[0] ? lru : &slots[i];
	}
	if (!s) {
		s = lru;
		if (s->key[0] && s->suppressed) {
			copy = *s;
			pthread_mutex_unlock(&limit_mu);
			say_suppressed(&copy, now);
			pthread_mutex_lock(&limit_mu);
		}
		memset(s, 0, sizeof(*s));
		snprintf(s->key, sizeof(s->key), "%s", key);
		s->tokens = SG__LOG_BURST;
		s->last_us = now;
	}
	s->tokens += (double)(now - s->last_us) / (SG__LOG_REFILL_S * 1e6);
	if (s->tokens > SG__LOG_BURST)
		s->tokens = SG__LOG_BURST;
	s->last_us = now;
	allowed = s->tokens >= 1;
	if (allowed) {
		s->tokens -= 1;
		had = s->suppressed;
		copy = *s;
		s->suppressed = 0;
	} else {
		first_suppressed = s->suppressed++ == 0;
		if (first_suppressed)
			s->since_us = now;
	}
	pthread_mutex_unlock(&limit_mu);

	if (had)
		say_suppressed(&copy, now);
	if (allowed) {
		va_list ap;
		va_start(ap, fmt);
		vlog(level, group, fmt, ap);
		va_end(ap);
	} else if (first_suppressed) {
		sg__log(SG_LOG_WARN, "log", "too many similar lines: suppressing them for a while (at most "
			"%d per %d s) key=%s", SG__LOG_BURST, SG__LOG_BURST * SG__LOG_REFILL_S, key);
	}
}

const char *sg__log_quote(const char *in, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (o + 6 >= outlen)
			break;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}
