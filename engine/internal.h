/* SPDX-License-Identifier: Apache-2.0 */
/* Internal helpers shared across the library (not installed). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "stopgate.h"

/* Always-on invariant check: aborts with a message, even with NDEBUG. */
#define sg__require(x) \
	((x) ? (void)0 : sg__require_fail(#x, __FILE__, __LINE__))
_Noreturn void sg__require_fail(const char *expr, const char *file, int line);

#define SG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* One past the last value of the public enums: internal, so that a new code,
 * action or source in stopgate.h is no ABI change. Update with the enum. */
#define SG__ERROR_END (SG_ENOKEYWORDS + 1)
#define SG__ACTION_END (SG_ACTION_SENDS + 1)
#define SG__REASON_END (SG_REASON_FREQUENCY_CAP + 1)
#define SG__SOURCE_END (SG_SOURCE_OPERATOR + 1)

/* Copy a string into a fixed buffer, truncating; always NUL-terminates.
 * Returns the length of src (>= size means truncated). */
size_t sg__strlcpy(char *dst, const char *src, size_t size);

/* Constant-time comparison of two buffers of possibly different lengths:
 * true when equal. */
bool sg__ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Copy a caller's versioned struct (first member `size_t size`) over dst,
 * which holds the defaults and is dst_size bytes: a smaller caller struct
 * (at least min_size, the first published size) leaves the newer fields at
 * their defaults; a larger one is accepted only when the bytes this library
 * does not know are zero. dst's size is set to dst_size. -EINVAL otherwise. */
int sg__struct_in(void *dst, size_t dst_size, const void *src, size_t min_size);

/* Validate UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns the
 * number of code points, or -1 when invalid. */
long sg__utf8_count(const char *s, size_t len);
/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid; rem > 0. */
size_t sg__utf8_seq(const unsigned char *s, size_t rem);
/* The code point of the valid UTF-8 sequence at s, its length in *len (as
 * sg__utf8_seq(): 0 when invalid, and the result is then 0); rem > 0. */
uint32_t sg__utf8_decode(const unsigned char *s, size_t rem, size_t *len);

/* Percent-encoding (URLs and forms): the value of a hex digit, else -1; the
 * byte "%XX" at in[i] (in[i] == '%') stands for, or -1 when two hex digits
 * do not follow within len. */
int sg__hexval(unsigned char c);
int sg__pct_byte(const char *in, size_t len, size_t i);

/* An engine with the keyword set and no store (the CLI's classify without a
 * campaign): only sg_classify() with no campaign may be called on it. */
int sg__engine_open_keywords_only(const sg_options *opts, sg_engine **ret);

/* true when this engine's open created its store (SG_OPEN_CREATE). */
bool sg__engine_created(const sg_engine *e);

/* Copy the store of e into dir (a new or empty directory, made 0700) as
 * dir/data.mdb (0600): one consistent snapshot, compacted or not, synced.
 * -EEXIST when dir holds anything. */
int sg__engine_backup(sg_engine *e, const char *dir, bool compact);

/* sg_classify, and the version of the keyword set that answered copied to
 * kwver (may be NULL) under the same lock. */
int sg__classify_versioned(sg_engine *e, const char *campaign_id, const char *text, size_t len,
			   sg_classification *out, char kwver[SG_KWVERSION_MAX]);
/* The calibrated score of a review event (a probable opt-out by its rule),
 * rounded to 3 decimals: what GET /v1/review and `stopgate review` show. */
double sg__review_score(sg_engine *e, const sg_event *ev);
/* What a review event's message was read as: SG_INTENT_OPT_IN for a
 * probable opt-in (its note says "proposed=opt_in"), else SG_INTENT_OPT_OUT. */
sg_intent sg__review_proposed(const sg_event *ev);

/* Log the registry a store from before registry events holds, once
 * (store/registry_log.c); called on a read-write open. */
int sg__registry_log_migrate(sg_engine *e);
