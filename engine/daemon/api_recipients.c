/* SPDX-License-Identifier: Apache-2.0 */
/* GET /v1/recipients/{number}[?country=CC]: everything stopgate holds about
 * one recipient, across every scope (each sender, group, campaign, brand
 * and the global scope) that has a record for it:
 *
 *   {"recipient", "head": {"seq", "hash"},
 *    "scopes": [{"scope", "id", "state", "since", "event_time", "seq",
 *                "source", "latest", "latest_seq",
 *                "event": {"sender", "provider", "provider_msg_id", "rule",
 *                          "body", "body_redacted", "note"}}],
 *    "not_sms_capable": {...} | null,
 *    "events": [every event of the recipient, as GET /v1/audit writes them]}
 *
 * The scopes are read before the events, so the event that began each
 * state (its seq) is always among the events; "event" repeats the fields a
 * person reads first (what they wrote, how it came in). Read on the loop
 * thread in short snapshots, like GET /v1/consent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

typedef struct rscope {
	sg_scope_state st;   /* scope_id points at id */
	char id[SG_KEY_MAX];
	bool found;          /* the event that began it was seen */
	char *sender, *provider, *provider_msg_id, *rule, *note, *body;
	size_t body_len;
	bool redacted;
} rscope;

typedef struct rlookup {
	rscope *scopes;
	size_t n, cap;
	sg__buf *b;
	bool first_event;
} rlookup;

static int on_scope(const sg_scope_state *st, void *ctx)
{
	rlookup *r = ctx;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		rscope *p = realloc(r->scopes, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->scopes = p;
		r->cap = cap;
	}
	rscope *s = &r->scopes[r->n++];
	memset(s, 0, sizeof(*s));
	s->st = *st;
	sg__strlcpy(s->id, st->scope_id ? st->scope_id : "", sizeof(s->id));
	s->st.scope_id = s->id;
	return 0;
}

static char *dup_or_null(const char *p, size_t n)
{
	if (!p)
		return NULL;
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

static int on_event(const sg_event *ev, void *ctx)
{
	rlookup *r = ctx;
	for (size_t i = 0; i < r->n; i++) {
		rscope *s = &r->scopes[i];
		if (s->st.seq != ev->seq || s->found)
			continue;
		s->found = true;
		s->sender = dup_or_null(ev->sender, ev->sender ? strlen(ev->sender) : 0);
		s->provider = dup_or_null(ev->provider, ev->provider ? strlen(ev->provider) : 0);
		s->provider_msg_id =
			dup_or_null(ev->provider_msg_id, ev->provider_msg_id ? strlen(ev->provider_msg_id) : 0);
		s->rule = dup_or_null(ev->rule, ev->rule ? strlen(ev->rule) : 0);
		s->note = dup_or_null(ev->note, ev->note ? strlen(ev->note) : 0);
		s->body = dup_or_null(ev->body, ev->body_len);
		s->body_len = ev->body ? ev->body_len : 0;
		s->redacted = !ev->body && ev->body_len;
	}
	if (!r->first_event)
		sg__buf_addc(r->b, ',');
	r->first_event = false;
	sg__event_json(r->b, ev);
	return sg__buf_failed(r->b) ? -ENOMEM : 0;
}

static void rlookup_free(rlookup *r)
{
	for (size_t i = 0; i < r->n; i++) {
		rscope *s = &r->scopes[i];
		free(s->sender);
		free(s->provider);
		free(s->provider_msg_id);
		free(s->rule);
		free(s->note);
		free(s->body);
	}
	free(r->scopes);
}

static void scope_json(sg__buf *b, const rscope *s)
{
	bool f = true;
	sg__buf_addc(b, '{');
	sg__buf_json_key(b, &f, "scope");
	sg__buf_json_cstr(b, sg_scope_name(s->st.scope));
	sg__buf_json_key(b, &f, "id");
	sg__buf_json_cstr(b, s->id);
	sg__buf_json_key(b, &f, "state");
	sg__buf_json_cstr(b, sg__state_name(s->st.state));
	sg__buf_json_key(b, &f, "since");
	sg__time_json(b, s->st.since_us);
	sg__buf_json_key(b, &f, "event_time");
	sg__time_json(b, s->st.event_time_us);
	sg__buf_json_key(b, &f, "seq");
	sg__seq_json(b, s->st.seq);
	sg__buf_json_key(b, &f, "source");
	sg__buf_json_cstr(b, s->st.state ? sg_source_name(s->st.source) : NULL);
	sg__buf_json_key(b, &f, "latest");
	sg__time_json(b, s->st.latest_us);
	sg__buf_json_key(b, &f, "latest_seq");
	sg__seq_json(b, s->st.latest_seq);
	sg__buf_json_key(b, &f, "event");
	if (s->found) {
		bool g = true;
		sg__buf_addc(b, '{');
		sg__buf_json_key(b, &g, "sender");
		sg__buf_json_cstr(b, s->sender);
		sg__buf_json_key(b, &g, "provider");
		sg__buf_json_cstr(b, s->provider);
		sg__buf_json_key(b, &g, "provider_msg_id");
		sg__buf_json_cstr(b, s->provider_msg_id);
		sg__buf_json_key(b, &g, "rule");
		sg__buf_json_cstr(b, s->rule);
		sg__buf_json_key(b, &g, "body");
		sg__buf_json_str(b, s->body, s->body_len);
		sg__buf_json_key(b, &g, "body_redacted");
		sg__buf_adds(b, s->redacted ? "true" : "false");
		sg__buf_json_key(b, &g, "note");
		sg__buf_json_cstr(b, s->note);
		sg__buf_addc(b, '}');
	} else {
		sg__buf_adds(b, "null");
	}
	sg__buf_addc(b, '}');
}

void sg__api_recipient_get(sg__req *req)
{
	sg_engine *engine = req->srv->engine;
	char raw[256], country[8] = "";
	int rc = sg__url_decode(req->arg, strlen(req->arg), false, raw, sizeof(raw));
	if (rc <= 0) {
		sg__respond_error(req, 422, "invalid_number",
				  "the path must end in a phone number, e.g. /v1/recipients/%%2B14155552671");
		return;
	}
	rc = sg__req_query(req, "country", country, sizeof(country));
	if (rc < 0 && rc != -ENOENT) {
		sg__respond_error(req, 422, "invalid_field", "country: an ISO 3166 code such as US");
		return;
	}
	char recipient[SG_KEY_MAX];
	if (sg__normalize(req, "number", raw, country[0] ? country : NULL, SG_FIELD_ANY, recipient))
		return;

	uint64_t head_seq = 0;
	uint8_t head_hash[32];
	rc = sg_head(engine, &head_seq, head_hash);
	if (rc) {
		sg__respond_engine_error(req, rc, "log head");
		return;
	}
	rlookup r = {.first_event = true};
	rc = sg_consent_scopes(engine, recipient, on_scope, &r);
	if (rc < 0) {
		rlookup_free(&r);
		sg__respond_engine_error(req, rc, "consent state");
		return;
	}
	sg_recipient_flag flag;
	rc = sg_recipient_flag_get(engine, recipient, &flag);
	if (rc < 0 && rc != SG_ENOTFOUND) {
		rlookup_free(&r);
		sg__respond_engine_error(req, rc, "recipient flag");
		return;
	}
	bool flagged = rc == 0 && flag.not_sms_capable;

	sg__buf ev = SG__BUF_INIT;
	r.b = &ev;
	rc = sg_events_for_recipient(engine, recipient, on_event, &r);
	if (rc < 0) {
		sg__buf_free(&ev);
		rlookup_free(&r);
		sg__respond_engine_error(req, rc, "event history");
		return;
	}

	sg__buf b = SG__BUF_INIT;
	bool first = true;
	char hex[65];
	sg_hex32(head_hash, hex);
	sg__buf_addc(&b, '{');
	sg__buf_json_key(&b, &first, "recipient");
	sg__buf_json_cstr(&b, recipient);
	sg__buf_json_key(&b, &first, "head");
	sg__buf_printf(&b, "{\"seq\":%llu,\"hash\":\"%s\"}", (unsigned long long)head_seq, hex);
	sg__buf_json_key(&b, &first, "scopes");
	sg__buf_addc(&b, '[');
	for (size_t i = 0; i < r.n; i++) {
		if (i)
			sg__buf_addc(&b, ',');
		scope_json(&b, &r.scopes[i]);
	}
	sg__buf_addc(&b, ']');
	sg__buf_json_key(&b, &first, "not_sms_capable");
	sg__not_sms_capable_json(&b, flagged ? &flag : NULL);
	sg__buf_json_key(&b, &first, "events");
	sg__buf_addc(&b, '[');
	if (ev.len)
		sg__buf_add(&b, ev.p, ev.len);
	sg__buf_adds(&b, "]}\n");
	bool failed = sg__buf_failed(&ev) || sg__buf_failed(&b);
	sg__buf_free(&ev);
	rlookup_free(&r);
	if (failed) {
		sg__buf_free(&b);
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	sg__respond_buf(req, 200, "application/json", &b);
}
