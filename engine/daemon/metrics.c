/* SPDX-License-Identifier: Apache-2.0 */
/* Request counters; see metrics.h. */
#include <string.h>

#include "metrics.h"

void sg__metrics_request(sg__metrics *m, const char *endpoint, int status)
{
	unsigned n = __atomic_load_n(&m->nreq, __ATOMIC_RELAXED); /* we are its only writer */
	for (unsigned i = 0; i < n; i++) {
		if (m->req[i].status == status && m->req[i].endpoint == endpoint) {
			SG__MINC(m->req[i].count);
			return;
		}
	}
	if (n < SG__METRIC_PAIRS) {
		m->req[n].endpoint = endpoint;
		m->req[n].status = status;
		SG__MSET(m->req[n].count, 1);
		__atomic_store_n(&m->nreq, n + 1, __ATOMIC_RELEASE); /* the entry first, then its index */
	}
}

void sg__metrics_add(sg__metrics *dst, const sg__metrics *src)
{
	unsigned n = __atomic_load_n(&src->nreq, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++) {
		uint64_t count = SG__MGET(src->req[i].count);
		unsigned j = 0;
		while (j < dst->nreq && (dst->req[j].status != src->req[i].status ||
					 dst->req[j].endpoint != src->req[i].endpoint))
			j++;
		if (j == dst->nreq) {
			if (j == SG__METRIC_PAIRS)
				continue;
			dst->req[j].endpoint = src->req[i].endpoint;
			dst->req[j].status = src->req[i].status;
			dst->req[j].count = 0;
			dst->nreq++;
		}
		dst->req[j].count += count;
	}
	for (size_t r = 0; r < sizeof(dst->verdicts) / sizeof(dst->verdicts[0]); r++)
		dst->verdicts[r] += SG__MGET(src->verdicts[r]);
	for (size_t i = 0; i < sizeof(dst->intents) / sizeof(dst->intents[0]); i++)
		dst->intents[i] += SG__MGET(src->intents[i]);
	dst->inbound_duplicates += SG__MGET(src->inbound_duplicates);
	dst->connections_accepted += SG__MGET(src->connections_accepted);
	dst->connections_refused += SG__MGET(src->connections_refused);
	dst->connections_open += SG__MGET(src->connections_open);
	dst->timeouts += SG__MGET(src->timeouts);
	dst->limit_errors += SG__MGET(src->limit_errors);
}
