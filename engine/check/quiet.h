/* SPDX-License-Identifier: Apache-2.0 */
/* The quiet-hours step of the check (quiet.c): after every other reason
 * allowed a message, hold a marketing one outside the recipient's hours. */
#pragma once
#include "engine.h"

typedef struct sg__quiet_ctx {
	sg_engine *e;
	sg_quiet *out;       /* n entries or NULL */
	sg_category cat;     /* resolved */
	bool active;         /* cat is covered and rules are loaded */
	bool locked;         /* holds e->reg_lock for reading (the set) */
	int64_t at_s;
	char sender_cc[3];
	const char *from_key; /* the sender's key, for the country of numbers with no place */
} sg__quiet_ctx;

/* Before the recipients: resolve the category (the option, else the
 * sender's campaign usecase, else the policy) and take the set. */
int sg__quiet_prepare(sg__quiet_ctx *q, sg_engine *e, const sg_check_opts *opts, const char *from_key,
		      const char cc[3], sg_quiet *out, size_t n);
/* For recipient i once its verdict allows (not for the exempt purposes). */
void sg__quiet_apply(sg__quiet_ctx *q, size_t i, const char *to_key, sg_verdict *v);
void sg__quiet_finish(sg__quiet_ctx *q);

/* cap.c: the frequency-cap step, after quiet hours, for the verdicts of a
 * marketing SG_PURPOSE_MESSAGE check (outside any read transaction: it
 * reads the send ledger). */
int sg__cap_apply(sg_engine *e, const char *from_key, const char cc[3], const char *const *to, size_t n,
		  const sg_check_opts *opts, sg_verdict *out, sg_quiet *quiet);

/* check.c, with the quiet-hours and cap steps (opts NULL: neither). */
int sg__check_run(sg_engine *e, const char *from, const char *const *to, size_t n, sg_purpose purpose,
		  sg_verdict *out, const sg_check_opts *opts, sg_quiet *quiet);
