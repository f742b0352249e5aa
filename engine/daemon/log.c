/* SPDX-License-Identifier: Apache-2.0 */
/* Structured one-line logs to stderr; see log.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "log.h"

static sg_log_level threshold = SG_LOG_INFO;

void sg__log_set_level(sg_log_level level)
{
	threshold = level;
}

bool sg__log_enabled(sg_log_level level)
{
	return level <= threshold;
}

static const char *const level_names[] = {
	[SG_LOG_ERROR] = "error", [SG_LOG_WARN] = "warn", [SG_LOG_INFO] = "info", [SG_LOG_DEBUG] = "debug",
};

void sg__log(sg_log_level level, const char *group, const char *fmt, ...)
{
	if (!sg__log_enabled(level))
		return;
	char ts[32], line[2048];
	sg_time_format(sg_now_us(), ts);
	int n = snprintf(line, sizeof(line), "%s %-5s [%-6.6s] ", ts, level_names[level], group);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
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
