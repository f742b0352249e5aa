/* SPDX-License-Identifier: Apache-2.0 */
/* Request counters; see metrics.h. */
#include <string.h>

#include "metrics.h"

void sg__metrics_request(sg__metrics *m, const char *endpoint, int status)
{
	for (unsigned i = 0; i < m->nreq; i++) {
		if (m->req[i].status == status && m->req[i].endpoint == endpoint) {
			m->req[i].count++;
			return;
		}
	}
	if (m->nreq < SG__METRIC_PAIRS) {
		m->req[m->nreq].endpoint = endpoint;
		m->req[m->nreq].status = status;
		m->req[m->nreq].count = 1;
		m->nreq++;
	}
}
