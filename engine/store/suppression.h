/* SPDX-License-Identifier: Apache-2.0 */
/* The suppression list in steps (suppression.c; sg_optouts_foreach walks
 * it whole): the daemon streams GET /v1/optouts one step per piece. */
#pragma once
#include <stdbool.h>
#include "stopgate.h"

typedef struct sg__optouts_iter sg__optouts_iter;

/* campaign_id NULL: every pair; else the pairs that block that campaign. */
int sg__optouts_open(sg_engine *e, const char *campaign_id, sg__optouts_iter **ret);
/* The pairs of the next few hundred recipients (one short snapshot, none
 * held while cb runs); *done once the list ended. cb's non-zero return is
 * returned. */
int sg__optouts_step(sg__optouts_iter *it, sg_optout_cb cb, void *ctx, bool *done);
void sg__optouts_close(sg__optouts_iter *it);
