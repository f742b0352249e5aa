/* SPDX-License-Identifier: Apache-2.0 */
/* Counters for GET /metrics. Each HTTP loop has its own set, written by
 * that loop's thread only (single writer: relaxed atomic stores, no locked
 * instruction); GET /metrics, on the main loop, sums every loop's set with
 * relaxed atomic loads (sg__metrics_add). The writer keeps its own commit
 * statistics, see writer.h. */
#pragma once
#include <stdint.h>

#include "buf.h"
#include "stopgate.h"

#define SG__METRIC_PAIRS 256

typedef struct sg__metrics {
	/* requests by endpoint and status: a small table of (name, status) */
	struct {
		const char *endpoint; /* static string (route name) */
		int status;
		uint64_t count;
	} req[SG__METRIC_PAIRS];
	unsigned nreq;
	uint64_t verdicts[SG_REASON_FREQUENCY_CAP + 1]; /* by sg_reason; [0] = allowed */
	uint64_t intents[4];      /* inbound by sg_intent */
	uint64_t inbound_duplicates;
	uint64_t connections_accepted, connections_refused;
	unsigned connections_open;
	uint64_t timeouts;
	uint64_t limit_errors;    /* 413, 431 */
} sg__metrics;

/* Single-writer counter updates and cross-thread reads. */
#define SG__MGET(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define SG__MSET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define SG__MINC(x) SG__MSET(x, SG__MGET(x) + 1)

void sg__metrics_request(sg__metrics *m, const char *endpoint, int status);
static inline void sg__metrics_verdict(sg__metrics *m, const sg_verdict *v)
{
	unsigned r = v->allow ? 0 : (unsigned)v->reason;
	if (r < sizeof(m->verdicts) / sizeof(m->verdicts[0]))
		SG__MINC(m->verdicts[r]);
}
/* Add src (another loop's set, read while it runs) into dst (a local copy). */
void sg__metrics_add(sg__metrics *dst, const sg__metrics *src);
