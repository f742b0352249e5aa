/* SPDX-License-Identifier: Apache-2.0 */
/* The send ledger above the store: frequency caps (caps.c) and the
 * violations report (violations.c). The ledger's storage is in
 * engine/store/sends*.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"

/* The state whose cap applies to a recipient key ("FL", "OK", "MD") and
 * its limit, or NULL. No allocation, no store read. */
const char *sg__cap_state(const char *recipient_key, unsigned *limit);
/* The campaign's "maxPerDay", 0: none. */
unsigned sg__campaign_max_per_day(sg_engine *e, const char *campaign_id);
/* Does a send of this category count against a cap? */
bool sg__send_counts(sg_send_category c);
/* The counted sends to recipient_key on campaign in the 24 h up to at
 * (before_ordinal != 0: only those before that send); times[] receives
 * the oldest ones' times, sorted. */
int sg__cap_count(sg_engine *e, const char *recipient_key, const char *campaign, int64_t at, uint64_t before_ordinal,
		  unsigned *count, int64_t times[], size_t ntimes);

/* sg_violations in pieces (the daemon streams it): each step reads 4096
 * events of the campaigns' history or one block of sends. A non-zero
 * return of cb ends it with that value. */
typedef struct sg__viol_iter sg__viol_iter;
int sg__viol_open(sg_engine *e, int64_t since_us, int64_t until_us, sg_violation_cb cb, void *ctx,
		  sg__viol_iter **ret);
int sg__viol_step(sg__viol_iter *it, bool *done);
void sg__viol_close(sg__viol_iter *it);
