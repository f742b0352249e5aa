/* SPDX-License-Identifier: Apache-2.0 */
/* Daemon logging: one line per event on stderr,
 *   2026-11-27T16:09:33.123456Z info  [http  ] listening addr=127.0.0.1:8080
 * The message is fixed text; variable parts go in key=value pairs after it.
 * Never pass a secret (token, provider secret, Authorization header). */
#pragma once
#include "config/config.h"

/* Set the threshold (messages above it are dropped). Not thread-safe; set it
 * before starting threads. */
void sg__log_set_level(sg__log_level level);

/* The line format (config logFormat, --log-format): TEXT as above (the
 * default), LOGFMT "time=... level=info group=http msg=\"request\" id=7 ...",
 * JSON {"time":...,"level":...,"group":...,"msg":...,"id":7,...}: the
 * message's key=value pairs become members (bare integers as numbers). Set
 * before starting threads. */
typedef enum sg__log_format { SG__LOG_TEXT = 0, SG__LOG_LOGFMT, SG__LOG_JSON } sg__log_format;
void sg__log_set_format(sg__log_format f);
bool sg__log_enabled(sg__log_level level);

/* group: up to 6 characters ("http", "writer", "store"); fmt: printf format
 * of the whole line after the group, e.g. "listening addr=%s". Values that
 * may contain spaces or come from clients should go through sg__log_quote(). */
void sg__log(sg__log_level level, const char *group, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like sg__log, for lines a client can trigger at will (refused webhooks,
 * bad requests): per key (e.g. "webhk:twilio:bad_signature"; up to 47
 * bytes count) a token bucket of SG__LOG_BURST lines, refilled one per
 * SG__LOG_REFILL_S seconds. The first suppressed line logs that lines are
 * being suppressed; the next one logged says how many were. Thread-safe. */
#define SG__LOG_BURST 10
#define SG__LOG_REFILL_S 6
void sg__log_limited(sg__log_level level, const char *group, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Quote a client-supplied value for a log line: printable ASCII kept,
 * everything else escaped, truncated to fit out. Returns out. */
const char *sg__log_quote(const char *in, size_t len, char *out, size_t outlen);

#define sg__err(group, ...) sg__log(SG_LOG_ERROR, group, __VA_ARGS__)
#define sg__warn(group, ...) sg__log(SG_LOG_WARN, group, __VA_ARGS__)
#define sg__info(group, ...) sg__log(SG_LOG_INFO, group, __VA_ARGS__)
#define sg__debug(group, ...) \
	do { if (sg__log_enabled(SG_LOG_DEBUG)) sg__log(SG_LOG_DEBUG, group, __VA_ARGS__); } while (0)
