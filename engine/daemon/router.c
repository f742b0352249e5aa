/* SPDX-License-Identifier: Apache-2.0 */
/* The route table, the bearer tokens and the early checks (404, 405, 401,
 * 403, 415, body limits) decided from the headers alone; see http.h.
 *
 * Two tokens: the operator token ("token") may do everything; the auditor
 * token ("auditorToken") may only read: GET, and POST on routes flagged
 * SG__ROUTE_READ. Anything else with it is 403 read_only_token, decided
 * here before the body is read, so no handler can forget it.
 *
 * Adding an endpoint: write `void handler(sg__req *req)` and add one line
 * to `routes` below. Provider webhooks are one prefix route; the provider
 * is req->arg (see api_webhooks.c).
 */
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "internal.h"

static const sg__route routes[] = {
	{"/v1/check", "check", SG__M_GET | SG__M_POST, SG__ROUTE_BATCH | SG__ROUTE_JSON | SG__ROUTE_READ,
	 sg__api_check},
	{"/v1/inbound", "inbound", SG__M_POST, SG__ROUTE_JSON, sg__api_inbound},
	{"/v1/consent", "consent", SG__M_GET | SG__M_POST, SG__ROUTE_JSON, sg__api_consent},
	{"/v1/audit", "audit", SG__M_GET, 0, sg__api_audit},
	{"/v1/review", "review", SG__M_GET, 0, sg__api_review_list},
	{"/v1/review/", "review", SG__M_POST, SG__ROUTE_PREFIX | SG__ROUTE_JSON, sg__api_review_resolve},
	{"/v1/campaigns/", "campaigns", SG__M_PUT, SG__ROUTE_PREFIX | SG__ROUTE_JSON, sg__api_campaign_put},
	{"/v1/senders/", "senders", SG__M_PUT, SG__ROUTE_PREFIX | SG__ROUTE_JSON, sg__api_sender_put},
	{"/v1/webhooks/", "webhooks", SG__M_GET | SG__M_POST, SG__ROUTE_PREFIX | SG__ROUTE_PUBLIC,
	 sg__api_webhooks},
	{"/v1/recipients/", "recipients", SG__M_GET, SG__ROUTE_PREFIX, sg__api_recipient_get},
	{"/v1/verify", "verify", SG__M_GET, 0, sg__api_verify},
	{"/v1/optouts", "optouts", SG__M_GET, 0, sg__api_optouts},
	{"/v1/sends", "sends", SG__M_POST, SG__ROUTE_SENDS | SG__ROUTE_JSON, sg__api_sends},
	{"/v1/violations", "violations", SG__M_GET, 0, sg__api_violations},
	{"/console", "console", SG__M_GET, SG__ROUTE_PUBLIC, sg__console_file},
	{"/console/", "console", SG__M_GET, SG__ROUTE_PUBLIC, sg__console_file},
	{"/console/", "console", SG__M_GET, SG__ROUTE_PREFIX | SG__ROUTE_PUBLIC, sg__console_file},
	{"/healthz", "healthz", SG__M_GET, SG__ROUTE_PUBLIC, sg__api_healthz},
	{"/metrics", "metrics", SG__M_GET, 0, sg__api_metrics},
};

static unsigned method_bit(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return SG__M_GET;
	case HTTP_POST: return SG__M_POST;
	case HTTP_PUT: return SG__M_PUT;
	case HTTP_DELETE: return SG__M_DELETE;
	default: return 0;
	}
}

static void allow_list(unsigned methods, char *out, size_t len)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{SG__M_GET, "GET"}, {SG__M_POST, "POST"}, {SG__M_PUT, "PUT"}, {SG__M_DELETE, "DELETE"},
	};
	out[0] = '\0';
	for (size_t i = 0; i < SG_ARRAY_SIZE(names); i++) {
		if (!(methods & names[i].bit))
			continue;
		if (out[0])
			strncat(out, ", ", len - strlen(out) - 1);
		strncat(out, names[i].name, len - strlen(out) - 1);
	}
}

static const sg__route *find(const char *path, const char **arg)
{
	for (size_t i = 0; i < SG_ARRAY_SIZE(routes); i++) {
		const sg__route *rt = &routes[i];
		size_t n = strlen(rt->path);
		if (rt->flags & SG__ROUTE_PREFIX) {
			/* the prefix plus one non-empty segment; webhooks also take
			 * a sub-path (/v1/webhooks/twilio/inbound): providers are
			 * given whole URLs, and Twilio and Plivo sign them */
			if (strncmp(path, rt->path, n) == 0 && path[n] &&
			    (!strchr(path + n, '/') || rt->handler == sg__api_webhooks)) {
				*arg = path + n;
				return rt;
			}
		} else if (strcmp(path, rt->path) == 0) {
			*arg = "";
			return rt;
		}
	}
	return NULL;
}

static void early(sg__req *req, int status, const char *error, const char *detail)
{
	req->early_status = status;
	sg__strlcpy(req->early_error, error, sizeof(req->early_error));
	sg__strlcpy(req->early_detail, detail, sizeof(req->early_detail));
}

enum role { ROLE_NONE = 0, ROLE_AUDITOR, ROLE_OPERATOR };

/* Who the bearer token says the caller is. Without an operator token
 * everyone is the operator (loopback only, serve.c); sg__config_check_tokens
 * refuses an auditor token without one. Both comparisons always run, in
 * constant time. */
static enum role token_role(const sg__req *req)
{
	const char *token = req->srv->cfg->token, *auditor = req->srv->cfg->auditor_token;
	size_t tlen = strlen(token), alen = strlen(auditor);
	if (tlen == 0)
		return ROLE_OPERATOR;
	const char *h = sg__req_header(req, "authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return ROLE_NONE;
	h += 7;
	while (*h == ' ')
		h++;
	size_t hlen = strlen(h);
	bool op = sg__ct_equal(h, hlen, token, tlen);
	bool au = alen && sg__ct_equal(h, hlen, auditor, alen);
	return op ? ROLE_OPERATOR : au ? ROLE_AUDITOR : ROLE_NONE;
}

static bool read_only(const sg__req *req, const sg__route *rt)
{
	return req->method == HTTP_GET || (req->method == HTTP_POST && (rt->flags & SG__ROUTE_READ));
}

void sg__router_prepare(sg__req *req)
{
	const sg__limits *lim = &req->srv->cfg->limits;
	const char *arg = "";
	const sg__route *rt = find(req->path, &arg);
	req->route = rt;
	req->arg = arg;
	req->body_limit = rt && (rt->flags & SG__ROUTE_SENDS)   ? lim->max_sends_body_bytes
			  : rt && (rt->flags & SG__ROUTE_BATCH) ? lim->max_batch_body_bytes
								: lim->max_body_bytes;
	if (!rt) {
		early(req, 404, "not_found", "no such endpoint");
		return;
	}
	if (!(rt->methods & method_bit(req->method))) {
		char allow[32];
		allow_list(rt->methods, allow, sizeof(allow));
		sg__strlcpy(req->early_allow, allow, sizeof(req->early_allow));
		char d[96];
		snprintf(d, sizeof(d), "%s is not allowed here; use %s", http_method_str(req->method), allow);
		early(req, 405, "method_not_allowed", d);
		return;
	}
	if (!(rt->flags & SG__ROUTE_PUBLIC)) {
		enum role role = token_role(req);
		if (role == ROLE_NONE) {
			early(req, 401, "unauthorized", "missing or wrong bearer token");
			return;
		}
		if (role == ROLE_AUDITOR && !read_only(req, rt)) {
			early(req, 403, "read_only_token",
			      "the auditor token may read but not change anything; use the operator token");
			return;
		}
	}
	if ((rt->flags & SG__ROUTE_JSON) && (req->method == HTTP_POST || req->method == HTTP_PUT) &&
	    !sg__req_content_type_is(req, "application/json")) {
		early(req, 415, "unsupported_media_type", "send the body as Content-Type: application/json");
		return;
	}
}

static void run_handler(sg__req *req)
{
	req->route->handler(req);
}

void sg__router_dispatch(sg__req *req)
{
	if (req->early_status) {
		if (req->early_status == 401)
			sg__resp_header(req, "WWW-Authenticate", "Bearer realm=\"stopgate\"");
		if (req->early_allow[0])
			sg__resp_header(req, "Allow", req->early_allow);
		sg__respond_error(req, req->early_status, req->early_error, "%s", req->early_detail);
		return;
	}
	/* An HTTP loop answers checks itself; the rest runs on the main loop
	 * (http_loops.c). */
	if (req->route->handler != sg__api_check && !sg__req_on_main(req)) {
		sg__req_handoff(req, run_handler);
		return;
	}
	req->route->handler(req);
}
