/* SPDX-License-Identifier: Apache-2.0 */
/* Structured one-line logs to stderr; see log.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "log.h"

static sg__log_level threshold = SG_LOG_INFO;

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

static void vlog(sg__log_level level, const char *group, const char *fmt, va_list ap)
{
	if (!sg__log_enabled(level))
		return;
	char ts[32], line[2048];
	sg_time_format(sg_now_us(), ts);
	int n = snprintf(line, sizeof(line), "%s %-5s [%-6.6s] ", ts, level_names[level], group);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2; /* truncated: still one line */
	}
	line[len++] = '\n';
	/* One write per line so threads do not interleave inside a line. */
	fwrite(line, 1, len, stderr);
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
