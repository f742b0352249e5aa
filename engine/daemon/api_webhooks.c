/* SPDX-License-Identifier: Apache-2.0 */
/* /v1/webhooks/<provider>: the hook for provider webhooks (issue 5).
 *
 * The route is public (no bearer token: providers sign their requests) and
 * accepts GET and POST with any content type. To add a provider, write a
 * handler `void fn(sg__req *req)` and add it to `providers` below. A handler
 * has the raw body (req->body, req->body_len), the headers
 * (sg__req_header), the query (req->query, sg__req_query), the signed URL
 * (sg__req_public_url), req->srv->cfg (providers, allow_unsigned_webhooks)
 * and may:
 *   - verify the signature and answer 403 (sg__respond_error);
 *   - feed inbound messages to sg__inbound_process() (same path as
 *     POST /v1/inbound: classify, policy, de-dup, durable record; pass the
 *     parser's dedup_key, provider_intent and handset_country), and answer
 *     in the provider's terms from its callback (one call per message: a
 *     Bandwidth array answers once every callback came back);
 *   - record status-callback signals with sg__submit_events();
 *   - answer 503 + Retry-After when a submission returns -EAGAIN
 *     (sg__respond_submit_error) so that the provider retries.
 * Every handler answers exactly once (see http.h).
 */
#include <string.h>

#include "daemon.h"
#include "internal.h"

typedef struct provider_route {
	const char *name;
	sg__handler handler;
} provider_route;

static const provider_route providers[] = {
	/* {"twilio", sg__webhook_twilio}, ... (issue 5) */
	{NULL, NULL},
};

void sg__api_webhooks(sg__req *req)
{
	for (const provider_route *p = providers; p->name; p++) {
		if (strcmp(p->name, req->arg) == 0) {
			p->handler(req);
			return;
		}
	}
	char q[64];
	sg__log_quote(req->arg, strlen(req->arg), q, sizeof(q));
	sg__respond_error(req, 404, "unknown_provider", "no webhook handler for provider %s", q);
}
