/* SPDX-License-Identifier: Apache-2.0 */
/* /v1/consent:
 *   POST  {"from", "to", "action": "opt_out"|"opt_in", "source", "note",
 *          "scope", "scope_id", "id"} records an operator/API change;
 *   GET   ?from=&to= answers the consent proof of that pair: the verdict,
 *          the state at every enclosing scope, the recipient flag and every
 *          event of the pair.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

#define FIELD_MAX 256

/* ---- POST ---- */

typedef struct consent_post {
	cJSON *json;
	sg_event_in ev;
	char sender[SG_KEY_MAX];
	char recipient[SG_KEY_MAX];
	char dedup[320];
} consent_post;

static void consent_recorded(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	consent_post *cp = ctx;
	(void)n;
	int rc = status ? status : out[0].status;
	if (rc) {
		sg__respond_engine_error(req, rc, "consent");
	} else {
		sg__buf b = SG__BUF_INIT;
		bool first = true;
		sg__buf_addc(&b, '{');
		sg__buf_json_key(&b, &first, "event");
		sg__buf_printf(&b, "%llu", (unsigned long long)out[0].seq);
		sg__buf_json_key(&b, &first, "action");
		sg__buf_json_cstr(&b, sg_action_name(cp->ev.action));
		sg__buf_json_key(&b, &first, "applied");
		sg__buf_adds(&b, out[0].applied ? "true" : "false");
		sg__buf_json_key(&b, &first, "duplicate");
		sg__buf_adds(&b, out[0].duplicate ? "true" : "false");
		sg__buf_json_key(&b, &first, "sender");
		sg__buf_json_cstr(&b, cp->sender[0] ? cp->sender : NULL);
		sg__buf_json_key(&b, &first, "recipient");
		sg__buf_json_cstr(&b, cp->recipient);
		sg__buf_adds(&b, "}\n");
		sg__respond_buf(req, 200, "application/json", &b);
	}
	cJSON_Delete(cp->json);
	free(cp);
}

static void consent_post_handler(sg__req *req)
{
	cJSON *json = sg__parse_body_json(req);
	if (!json)
		return;
	consent_post *cp = calloc(1, sizeof(*cp));
	if (!cp) {
		cJSON_Delete(json);
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	cp->json = json;
	bool answered = false;
	const char *from = sg__json_str(req, json, "from", &answered);
	const char *to = sg__json_str(req, json, "to", &answered);
	const char *action = sg__json_str(req, json, "action", &answered);
	const char *source = sg__json_str(req, json, "source", &answered);
	const char *note = sg__json_str(req, json, "note", &answered);
	const char *scope = sg__json_str(req, json, "scope", &answered);
	const char *scope_id = sg__json_str(req, json, "scope_id", &answered);
	const char *id = sg__json_str(req, json, "id", &answered);
	const char *override = sg__json_str(req, json, "override", &answered);
	if (answered)
		goto fail;
	sg_event_in *ev = &cp->ev;
	ev->size = sizeof(*ev);
	ev->scope = SG_SCOPE_DEFAULT;
	if (scope && sg_scope_parse(scope, &ev->scope)) {
		sg__respond_error(req, 422, "invalid_field",
				  "scope: default, sender, group, campaign, brand or global");
		goto fail;
	}
	const char *missing = !to ? "to" : !action ? "action" : !from && ev->scope != SG_SCOPE_GLOBAL ? "from" : NULL;
	if (missing) {
		sg__respond_error(req, 422, "missing_field", "%s is required", missing);
		goto fail;
	}
	if (strcmp(action, "opt_out") == 0)
		ev->action = SG_ACTION_OPT_OUT;
	else if (strcmp(action, "opt_in") == 0)
		ev->action = SG_ACTION_OPT_IN;
	else {
		sg__respond_error(req, 422, "invalid_field", "action: opt_out or opt_in");
		goto fail;
	}
	ev->source = SG_SOURCE_API;
	if (source && sg_source_parse(source, &ev->source)) {
		sg__respond_error(req, 422, "invalid_field",
				  "source: keyword, provider_signal, api, import or operator");
		goto fail;
	}
	/* A person's own START comes as a message (/v1/inbound, webhooks);
	 * this path may not claim to be one. */
	if (ev->action == SG_ACTION_OPT_IN &&
	    (ev->source == SG_SOURCE_KEYWORD || ev->source == SG_SOURCE_PROVIDER_SIGNAL)) {
		sg__respond_error(req, 422, "invalid_field",
				  "source: an opt-in here is api, operator or import; a recipient's own START "
				  "goes to POST /v1/inbound or a provider webhook");
		goto fail;
	}
	if (override) {
		if (strcmp(override, "consumer_request") || ev->action != SG_ACTION_OPT_IN) {
			sg__respond_error(req, 422, "invalid_field",
					  "override: only \"consumer_request\", and only with action opt_in");
			goto fail;
		}
		ev->override = SG_OVERRIDE_CONSUMER_REQUEST;
	}
	char cc[3];
	const char *country = NULL;
	if (from) {
		if (sg__normalize(req, "from", from, NULL, SG_FIELD_ADDRESS, cp->sender))
			goto fail;
		if (sg_number_country(cp->sender, cc) == 0)
			country = cc;
	}
	if (sg__normalize(req, "to", to, country, SG_FIELD_ANY, cp->recipient))
		goto fail;
	if (id) {
		int n = snprintf(cp->dedup, sizeof(cp->dedup), "consent:%s", id);
		if (n < 0 || (size_t)n >= sizeof(cp->dedup)) {
			sg__respond_error(req, 422, "invalid_field", "id: too long");
			goto fail;
		}
	}
	ev->sender = cp->sender[0] ? cp->sender : NULL;
	ev->recipient = cp->recipient;
	ev->scope_id = scope_id;
	ev->note = note;
	ev->provider = "api";
	ev->dedup_key = cp->dedup[0] ? cp->dedup : NULL;
	int rc = sg__submit_events(req, ev, 1, consent_recorded, cp);
	if (rc) {
		sg__respond_submit_error(req, rc);
		goto fail;
	}
	return;
fail:
	cJSON_Delete(cp->json);
	free(cp);
}

/* ---- GET: the consent proof ---- */

struct proof;
static int on_send_json(const sg_send *s, void *ctx);

typedef struct scope_ref {
	sg_scope_kind kind;
	const char *id;
	sg_state state;
	int64_t since_us, event_time_us;
	uint64_t seq;
	sg_source source;
} scope_ref;

typedef struct proof {
	scope_ref scopes[5];
	size_t nscopes;
	const char *sender;
	sg__buf *b;
	bool first_event;
	size_t events;
} proof;

static bool id_eq(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static int on_scope(const sg_scope_state *st, void *ctx)
{
	proof *p = ctx;
	for (size_t i = 0; i < p->nscopes; i++) {
		scope_ref *s = &p->scopes[i];
		if (s->kind == st->scope && id_eq(s->id, st->scope_id)) {
			s->state = st->state;
			s->since_us = st->since_us;
			s->event_time_us = st->event_time_us;
			s->seq = st->seq;
			s->source = st->source;
		}
	}
	return 0;
}

static bool concerns_pair(const proof *p, const sg_event *ev)
{
	if (ev->sender && strcmp(ev->sender, p->sender) == 0)
		return true;
	if (ev->action == SG_ACTION_FLAG_NOT_SMS_CAPABLE || ev->action == SG_ACTION_CLEAR_NOT_SMS_CAPABLE ||
	    ev->action == SG_ACTION_REDACT)
		return true;
	for (size_t i = 0; i < p->nscopes; i++)
		if (p->scopes[i].kind == ev->scope && id_eq(p->scopes[i].id, ev->scope_id))
			return true;
	return false;
}

static int on_event(const sg_event *ev, void *ctx)
{
	proof *p = ctx;
	if (!concerns_pair(p, ev))
		return 0;
	if (!p->first_event)
		sg__buf_addc(p->b, ',');
	p->first_event = false;
	sg__event_json(p->b, ev);
	p->events++;
	return sg__buf_failed(p->b) ? -ENOMEM : 0;
}

static void consent_get_handler(sg__req *req)
{
	sg_engine *engine = req->srv->engine;
	char from[FIELD_MAX], to[FIELD_MAX];
	int rc1 = sg__req_query(req, "from", from, sizeof(from));
	int rc2 = sg__req_query(req, "to", to, sizeof(to));
	if (rc1 < 0 || rc2 < 0) {
		if (rc1 == -ENOENT || rc2 == -ENOENT)
			sg__respond_error(req, 422, "missing_field", "query parameters from and to are required");
		else
			sg__respond_error(req, 422, "invalid_field", "from/to: malformed or too long");
		return;
	}
	char sender[SG_KEY_MAX], recipient[SG_KEY_MAX], cc[3];
	if (sg__normalize(req, "from", from, NULL, SG_FIELD_ADDRESS, sender))
		return;
	const char *country = sg_number_country(sender, cc) == 0 ? cc : NULL;
	if (sg__normalize(req, "to", to, country, SG_FIELD_ANY, recipient))
		return;

	sg_verdict v;
	int rc = sg_check(engine, from, to, SG_PURPOSE_MESSAGE, &v);
	if (rc) {
		sg__respond_engine_error(req, rc, "check");
		return;
	}
	sg_sender_info info;
	bool registered = sg_sender_get(engine, sender, &info) == 0;
	proof p = {.sender = sender, .first_event = true};
	p.scopes[p.nscopes++] = (scope_ref){.kind = SG_SCOPE_SENDER, .id = sender};
	if (registered && info.group[0])
		p.scopes[p.nscopes++] = (scope_ref){.kind = SG_SCOPE_GROUP, .id = info.group};
	if (registered && info.campaign_id[0])
		p.scopes[p.nscopes++] = (scope_ref){.kind = SG_SCOPE_CAMPAIGN, .id = info.campaign_id};
	if (registered && info.brand_id[0])
		p.scopes[p.nscopes++] = (scope_ref){.kind = SG_SCOPE_BRAND, .id = info.brand_id};
	p.scopes[p.nscopes++] = (scope_ref){.kind = SG_SCOPE_GLOBAL, .id = ""};
	rc = sg_consent_scopes(engine, recipient, on_scope, &p);
	if (rc < 0) {
		sg__respond_engine_error(req, rc, "consent state");
		return;
	}
	sg_recipient_flag flag;
	rc = sg_recipient_flag_get(engine, recipient, &flag);
	if (rc < 0 && rc != SG_ENOTFOUND) {
		sg__respond_engine_error(req, rc, "recipient flag");
		return;
	}
	bool flagged = rc == 0 && flag.not_sms_capable;

	sg__buf b = SG__BUF_INIT;
	bool first = true;
	sg__buf_addc(&b, '{');
	sg__buf_json_key(&b, &first, "sender");
	sg__buf_json_cstr(&b, sender);
	sg__buf_json_key(&b, &first, "recipient");
	sg__buf_json_cstr(&b, recipient);
	sg__buf_json_key(&b, &first, "verdict");
	bool vfirst = true;
	sg__buf_addc(&b, '{');
	sg__verdict_json(&b, &vfirst, &v);
	sg__buf_addc(&b, '}');
	sg__buf_json_key(&b, &first, "scopes");
	sg__buf_addc(&b, '[');
	for (size_t i = 0; i < p.nscopes; i++) {
		const scope_ref *s = &p.scopes[i];
		bool f = true;
		sg__buf_adds(&b, i ? ",{" : "{");
		sg__buf_json_key(&b, &f, "scope");
		sg__buf_json_cstr(&b, sg_scope_name(s->kind));
		sg__buf_json_key(&b, &f, "id");
		sg__buf_json_cstr(&b, s->id);
		sg__buf_json_key(&b, &f, "state");
		sg__buf_json_cstr(&b, sg__state_name(s->state));
		sg__buf_json_key(&b, &f, "since");
		sg__time_json(&b, s->since_us);
		sg__buf_json_key(&b, &f, "event_time");
		sg__time_json(&b, s->event_time_us);
		sg__buf_json_key(&b, &f, "seq");
		sg__seq_json(&b, s->seq);
		sg__buf_json_key(&b, &f, "source");
		sg__buf_json_cstr(&b, s->state ? sg_source_name(s->source) : NULL);
		sg__buf_addc(&b, '}');
	}
	sg__buf_addc(&b, ']');
	sg__buf_json_key(&b, &first, "not_sms_capable");
	sg__not_sms_capable_json(&b, flagged ? &flag : NULL);
	sg__buf_json_key(&b, &first, "events");
	sg__buf_addc(&b, '[');
	p.b = &b;
	rc = sg_events_for_recipient(engine, recipient, on_event, &p);
	if (rc < 0) {
		sg__buf_free(&b);
		sg__respond_engine_error(req, rc, "event history");
		return;
	}
	sg__buf_addc(&b, ']');
	/* The sends to the pair after its opt-out (normally none; the first
	 * may be the one allowed confirmation). */
	int64_t out_since = 0;
	for (size_t i = 0; i < p.nscopes; i++)
		if (p.scopes[i].state == SG_STATE_OPTED_OUT && (!out_since || p.scopes[i].since_us < out_since))
			out_since = p.scopes[i].since_us;
	sg__buf_json_key(&b, &first, "sends_after_optout");
	sg__buf_addc(&b, '[');
	p.first_event = true;
	if (out_since && (rc = sg_sends_for_pair(engine, sender, recipient, out_since, on_send_json, &p)) < 0) {
		sg__buf_free(&b);
		sg__respond_engine_error(req, rc, "send ledger");
		return;
	}
	sg__buf_adds(&b, "]}\n");
	sg__respond_buf(req, 200, "application/json", &b);
}

static int on_send_json(const sg_send *s, void *ctx)
{
	proof *p = ctx;
	bool f = true;
	sg__buf_adds(p->b, p->first_event ? "{" : ",{");
	p->first_event = false;
	sg__buf_json_key(p->b, &f, "ordinal");
	sg__buf_printf(p->b, "%llu", (unsigned long long)s->ordinal);
	sg__buf_json_key(p->b, &f, "at");
	sg__time_json(p->b, s->at_us);
	sg__buf_json_key(p->b, &f, "campaign");
	sg__buf_json_cstr(p->b, s->campaign[0] ? s->campaign : NULL);
	sg__buf_json_key(p->b, &f, "category");
	sg__buf_json_cstr(p->b, sg_send_category_name(s->category));
	sg__buf_json_key(p->b, &f, "source");
	sg__buf_json_cstr(p->b, s->source == SG_SEND_STATUS ? "status_callback" : "reported");
	sg__buf_addc(p->b, '}');
	return sg__buf_failed(p->b) ? -ENOMEM : 0;
}

void sg__api_consent(sg__req *req)
{
	if (req->method == HTTP_GET)
		consent_get_handler(req);
	else
		consent_post_handler(req);
}
