/* SPDX-License-Identifier: Apache-2.0 */
/* The keyword engine: the single place that decides what an inbound text means.
 * Internal interface used by engine.c/classify.c; the public entry point is
 * sg_classify() in include/stopgate.h. */
#pragma once
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include "stopgate.h"
#include "campaign.h"

typedef struct sg__kw_set sg__kw_set;

/* Load every *.kw file of dir (see keywords/README.md), compile and JIT the
 * patterns. On failure returns SG_EKEYWORDS (or -errno) and writes a
 * human-readable reason (file:line: message) into err. */
int sg__kw_load(const char *dir, sg__kw_set **ret, char *err, size_t errlen);
void sg__kw_free(sg__kw_set *set);
/* "kw-" + 16 hex digits of SHA-256 over each file's name, NUL and bytes,
 * in name order: the same rules give the same version on every node. */
const char *sg__kw_version(const sg__kw_set *set);
/* The reason (file:line: message) of the last sg__kw_load that failed in
 * this thread, "" when none has: for front ends that report it (the CLI). */
const char *sg__kw_last_error(void);

/* Classify text (UTF-8, len bytes) with the set and optional campaign (its
 * extra keywords count, its messages are the replies). Fills out completely,
 * including out->reply. Returns 0, SG_EUTF8 or SG_ETOOLONG. Thread-safe:
 * match data is per thread. */
int sg__kw_classify(const sg__kw_set *set, sg__campaign *campaign, const char *text, size_t len,
		    sg_classification *out);

/* Training the intent model (scripts/train-model.py): classify text
 * without a campaign (its first SG_TEXT_MAX_CHARS * 4 bytes) and call
 * features with the hash of every model feature of its folded text. out
 * gets intent and confidence only. */
int sg__kw_classify_features(const sg__kw_set *set, const char *text, size_t len,
			     void (*features)(uint32_t h, void *arg), void *arg, sg_classification *out);

/* Release what sg__kw_classify cached in campaign->kw_private. */
void sg__kw_campaign_free(sg__campaign *campaign);
/* The calibrated score of a classification made with set (calib.c). */
double sg__kw_score(const sg__kw_set *set, const sg_classification *c);
