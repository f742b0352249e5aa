/* SPDX-License-Identifier: Apache-2.0 */
/* /v1/webhooks/<provider>[/anything]: provider webhooks (issue 5).
 *
 * The route is public (no bearer token: providers sign their requests) and
 * takes GET and POST with any content type. Per request:
 *
 *   verify the signature with the provider's settings (wh_config.c)
 *       bad or missing -> 403, nothing recorded; no credentials configured
 *       -> 403 unless allowUnsignedWebhooks; HTTP Basic missing or wrong
 *       (Bandwidth, Sinch with a username) -> 401 with WWW-Authenticate:
 *       Basic, the challenge Bandwidth waits for before it sends them.
 *       A repeated form key, a key in both query and body, a repeated JSON
 *       key or data after the JSON value is refused (403 / 400): the signed
 *       material and the fields read could differ.
 *   parse (engine/webhooks) into provider-neutral messages; malformed -> 400
 *       (a Bandwidth array: each unreadable element is logged and answered
 *       "invalid", the others are recorded; 400 only when none is readable)
 *   each message, all started at once, answered when the last is durable:
 *     INBOUND  -> sg__inbound_process (the POST /v1/inbound path), with our
 *                 number normalized here first (the provider's country for
 *                 it, else providers.<p>.country, else the engine default),
 *                 the provider's hint, event time and dedup key. When the
 *                 provider's hint decided (it blocked or unblocked the
 *                 handset itself) and it names a sender group (Messaging
 *                 Service, messaging profile, powerpack), the same action is
 *                 also recorded at scope group/<that id>, as the provider
 *                 applies it to the whole group.
 *     STATUS   -> opt-out code: an opt-out (source provider_signal, rule =
 *                 the code) for the sender, or at GLOBAL scope when the
 *                 callback does not say which of our numbers sent (Twilio
 *                 21610 callbacks carry no From): a lost opt-out is the worst
 *                 failure, an over-broad one is visible in the log and can
 *                 be narrowed by an operator. Not-SMS-capable code: the
 *                 recipient flag, never an opt-out. Other codes: ignored.
 *     IGNORED  -> nothing
 *     Vonage parts -> reassembled first (wh_concat.c)
 *     INBOUND without our number (no To / owner / destinationNumber) ->
 *                 an opt-out in it recorded under the quarantine sender
 *                 "raw:", anything else not recorded; answered 400 (a
 *                 retry can never succeed)
 *   answer (wh_answer.c): 5xx when we failed (providers retry), 400 when
 *   nothing of the request can ever be recorded properly, else 200.
 *   Every line a client can trigger is rate-limited (sg__log_limited).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "wh.h"

#define FLUSH_MAX 8 /* timed-out Vonage messages one request carries along */

/* "webhk:<provider>:<reason>", the rate-limit key of a log line. */
static const char *lkey(const sg__wh_call *call, const char *reason, char out[48])
{
	snprintf(out, 48, "webhk:%s:%s", call->name, reason);
	return out;
}

static void call_free(sg__wh_call *call)
{
	sg__wh_parsed_free(&call->parsed);
	sg__buf_free(&call->url);
	free(call->items);
	free(call);
}

static void item_done(sg__wh_call *call)
{
	if (--call->pending)
		return;
	sg__wh_answer(call);
	call_free(call);
}

/* Hand a reassembled message back to the table; keep what the answer shows. */
static void release_concat(sg__wh_item *it, bool ok)
{
	if (!it->concat)
		return;
	sg__strlcpy(it->cv_msg_id, it->cv.msg_id ? it->cv.msg_id : "", sizeof(it->cv_msg_id));
	sg__strlcpy(it->cv_ref, it->cv.ref ? it->cv.ref : "", sizeof(it->cv_ref));
	it->cv.msg_id = it->cv_msg_id;
	it->cv.ref = it->cv_ref;
	it->cv.handset = it->cv.our_number = it->cv.account = it->cv.dedup_key = it->cv.text = NULL;
	sg__concat_done(it->concat, ok);
	it->concat = NULL;
}

static void fail_item(sg__wh_item *it, int rc, const char *error)
{
	it->status = rc;
	it->error = error;
	/* Input we can never record is answered 200 (a retry would not help);
	 * everything else is ours and answered 5xx so that it is retried. */
	it->fatal = !(rc == SG_EUTF8 || rc == SG_ETOOLONG || rc == -EINVAL || rc == SG_ENUMBER ||
		      rc == SG_ENOCOUNTRY);
}

/* The country to read a bare number with: the first of these that is set. */
static const char *country_of(const sg__wh_call *call, const char *hint, const char *key, char cc[3])
{
	if (hint && hint[0])
		return hint;
	if (key && key[0] && sg_number_country(key, cc) == 0)
		return cc;
	if (call->set->country[0])
		return call->set->country;
	return sg_engine_default_country(call->req->srv->engine);
}


/* ---- inbound ---- */

static void inbound_recorded(sg__req *req, const sg__inbound_result *res, void *ctx)
{
	sg__wh_item *it = ctx;
	char k[48];
	(void)req;
	if (res->status == SG_ENUMBER || res->status == SG_ENOCOUNTRY) {
		/* Handsets that do not parse are quarantined, so this is our own
		 * number: a setting to fix (the provider's country), and a 500
		 * makes the provider deliver it again once it is fixed. */
		char q[64];
		const char *ours = it->concat ? it->cv.our_number : it->m->our_number;
		sg__log_limited(SG_LOG_ERROR, "webhk", lkey(it->call, "our_number_bad", k),
			"our number did not parse: nothing recorded, answered 500 so the provider "
			"retries provider=%s to=%s hint=\"set providers.%s.country\"", it->call->name,
			sg__log_quote(ours, strlen(ours), q, sizeof(q)), it->call->name);
		it->status = res->status;
		it->error = "our_number_unknown";
		it->fatal = true;
	} else if (res->status) {
		fail_item(it, res->status, res->error ? res->error : "record_failed");
	} else {
		it->intent = res->intent;
		it->confidence = res->confidence;
		it->action = res->action;
		it->seq = res->seq;
		it->duplicate = res->duplicate;
		it->quarantined = res->quarantined;
		it->has_reply = res->reply != NULL;
		if (res->reply)
			sg__strlcpy(it->reply, res->reply, sizeof(it->reply));
		sg__strlcpy(it->sender, res->sender, sizeof(it->sender));
		sg__strlcpy(it->recipient, res->recipient, sizeof(it->recipient));
		if (res->quarantined)
			sg__log_limited(SG_LOG_WARN, "webhk", lkey(it->call, "handset_raw", k),
				 "handset number did not parse: recorded under its raw: key "
				 "provider=%s action=%s", it->call->name,
				 res->action ? sg_action_name(res->action) : "none");
		if (res->no_our_number) {
			/* It can never be recorded properly, so a retry would not
			 * help: 4xx. An opt-out in it is kept (the policy put it
			 * under the quarantine sender raw:). */
			it->no_number = true;
			it->status = -EINVAL;
			it->error = "no_our_number";
			it->fatal = false;
			sg__log_limited(SG_LOG_WARN, "webhk", lkey(it->call, "no_our_number", k),
					"inbound webhook without our number (To): answered 400%s provider=%s",
					res->action == SG_ACTION_OPT_OUT
						? "; the opt-out is recorded under the quarantine sender raw:"
						: ", nothing recorded",
					it->call->name);
		}
	}
	release_concat(it, !it->fatal);
	item_done(it->call);
}

static void start_inbound(sg__wh_item *it)
{
	sg__wh_call *call = it->call;
	const sg__wh_message *m = it->m;
	sg_inbound_msg msg = {.size = sizeof(sg_inbound_msg), .provider = call->name};
	char cc[3];
	if (it->concat) {
		msg.id = it->cv.msg_id;
		msg.from = it->cv.handset;
		msg.body = it->cv.text;
		msg.body_len = it->cv.text_len;
		msg.event_time_us = it->cv.event_time_us;
		msg.dedup_key = it->cv.dedup_key;
		msg.to = it->cv.our_number;
		msg.to_country = country_of(call, NULL, NULL, cc);
	} else {
		msg.id = m->msg_id;
		msg.from = m->handset;
		msg.body = m->text;
		msg.body_len = m->text_len;
		msg.event_time_us = m->event_time_us;
		msg.dedup_key = it->same_as[0] ? it->same_as : m->dedup_key;
		msg.handset_country = m->from_country;
		msg.to = m->our_number;
		msg.to_country = country_of(call, m->to_country, NULL, cc);
		if (m->provider_intent != SG_INTENT_NONE) {
			it->provider_acted = true;
			msg.provider_intent = m->provider_intent;
			snprintf(it->rule, sizeof(it->rule), "%s:%s",
				 call->provider == SG__WH_TWILIO ? "OptOutType"
				 : call->provider == SG__WH_TELNYX ? "autoresponse_type" : "MessageIntent",
				 m->hint);
			msg.provider_rule = it->rule;
			msg.provider_group = m->group;
		}
	}
	if ((!msg.to || !msg.to[0]) && !(msg.handset_country && msg.handset_country[0]))
		msg.handset_country = msg.to_country; /* no number of ours to take it from */
	call->pending++;
	sg__inbound_process(call->req, &msg, inbound_recorded, it);
}

/* ---- status callbacks ---- */

static void status_recorded(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	sg__wh_item *it = ctx;
	(void)req;
	for (size_t i = 0; i < n && !status; i++)
		status = out[i].status;
	if (status) {
		sg__err("webhk", "provider signal not recorded provider=%s code=%s error=\"%s\"",
			it->call->name, it->m->status_code, sg_strerror(status));
		fail_item(it, status, "record_failed");
	} else {
		it->recorded = true;
		it->seq = out[0].seq;
		it->duplicate = out[0].duplicate;
	}
	sg_decision_free(it->decision);
	it->decision = NULL;
	item_done(it->call);
}

/* ---- status callbacks as sends (the send ledger) ---- */

/* Does this status say the message went out? Twilio and Plivo "sent" /
 * "delivered", Telnyx to[0].status "sent" / "delivered" (message.sent,
 * message.finalized), Bandwidth "message-delivered", Vonage "delivered" /
 * "accepted", Sinch "Delivered" / "Dispatched". */
static bool status_is_sent(const sg__wh_message *m)
{
	static const char *const sent[] = {"sent", "delivered", "message-delivered", "accepted", "dispatched"};
	for (size_t i = 0; i < SG_ARRAY_SIZE(sent); i++)
		if (!strcasecmp(m->status, sent[i]))
			return true;
	return false;
}

typedef struct status_send {
	sg__wh_item *it;
	sg_send_in in;
	sg_send_out out;
	char id[SG_SEND_ID_MAX + 1];
	char from[SG_KEY_MAX], to[SG_KEY_MAX];
} status_send;

static int status_send_run(sg_engine *engine, void *ctx)
{
	status_send *s = ctx;
	return sg_sends_record(engine, &s->in, 1, &s->out);
}

static void status_send_done(sg__req *req, int rc, void *ctx)
{
	status_send *s = ctx;
	(void)req;
	if (rc || s->out.status) {
		sg__err("webhk", "status callback not recorded as a send provider=%s error=\"%s\"",
			s->it->call->name, sg_strerror(rc ? rc : s->out.status));
		fail_item(s->it, rc ? rc : s->out.status, "record_failed");
	}
	sg__wh_call *call = s->it->call;
	free(s);
	item_done(call);
}

/* A sent or delivered status: the send, de-duplicated with the gateway's
 * own report by message id. Nothing when our number is not named (Twilio's
 * 21610 callbacks) or a number does not parse. */
static void record_status_send(sg__wh_item *it)
{
	sg__wh_call *call = it->call;
	const sg__wh_message *m = it->m;
	char cc[3];
	if (!status_is_sent(m) || !m->our_number[0] || !m->handset[0] || strlen(m->msg_id) > SG_SEND_ID_MAX)
		return;
	status_send *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	sg_engine *engine = call->req->srv->engine;
	if (sg_number_normalize(m->our_number, strlen(m->our_number), country_of(call, NULL, NULL, cc),
				SG_FIELD_ADDRESS, s->from, NULL) ||
	    sg_number_normalize(m->handset, strlen(m->handset), country_of(call, m->to_country, s->from, cc),
				SG_FIELD_NUMBER, s->to, NULL)) {
		free(s);
		return;
	}
	sg__strlcpy(s->id, m->msg_id, sizeof(s->id));
	int64_t now = sg_now_us();
	s->it = it;
	s->in = (sg_send_in){.size = sizeof(s->in), .id = s->id[0] ? s->id : NULL, .sender = s->from,
			     .recipient = s->to, .at_us = m->event_time_us > 0 && m->event_time_us <= now ? m->event_time_us : 0,
			     .source = SG_SEND_STATUS};
	(void)engine;
	if (sg__submit_run(call->req, status_send_run, status_send_done, s)) {
		free(s);
		return;
	}
	call->pending++;
}

static void start_status(sg__wh_item *it)
{
	sg__wh_call *call = it->call;
	char k[48], cc[3];
	const sg__wh_message *m = it->m;
	sg_signal_msg sig = {
		.size = sizeof(sg_signal_msg),
		.provider = call->name,
		.id = m->msg_id[0] ? m->msg_id : NULL,
		.dedup_key = m->dedup_key,
		.our_number = m->our_number,
		.handset = m->handset,
		.country = country_of(call, NULL, NULL, cc),
		.handset_country = m->to_country,
		.kind = m->code_class == SG__WH_CODE_OPT_OUT ? SG_SIGNAL_OPT_OUT
			: m->code_class == SG__WH_CODE_NOT_SMS_CAPABLE ? SG_SIGNAL_NOT_SMS_CAPABLE : SG_SIGNAL_OTHER,
		.code = m->status_code,
		.status = m->status,
		.account = m->account,
		.group = m->group,
		.event_time_us = m->event_time_us,
	};
	int rc = sg_decide_signal(call->req->srv->engine, &sig, &it->decision);
	if (rc) {
		fail_item(it, rc, "out_of_memory");
		return;
	}
	size_t n;
	const sg_event_in *ev = sg_decision_events(it->decision, &n);
	if (n == 0) { /* delivered, queued, other failures: consent untouched */
		sg_decision_free(it->decision);
		it->decision = NULL;
		record_status_send(it);
		return;
	}
	it->action = sg_decision_action(it->decision);
	it->scope = ev[0].scope;
	it->quarantined = sg_decision_quarantined(it->decision);
	if (it->quarantined)
		sg__log_limited(SG_LOG_WARN, "webhk", lkey(call, "recipient_raw", k),
			"recipient number did not parse: signal recorded under its raw: key "
			 "provider=%s code=%s", call->name, m->status_code);
	rc = sg__submit_events(call->req, ev, n, status_recorded, it);
	if (rc) {
		fail_item(it, rc, rc == -EAGAIN ? "busy" : "shutting_down");
		sg_decision_free(it->decision);
		it->decision = NULL;
		return;
	}
	call->pending++;
	if (m->code_class == SG__WH_CODE_OPT_OUT)
		sg__log_limited(SG_LOG_INFO, "webhk", lkey(call, "optout_signal", k),
				"provider opt-out signal provider=%s code=%s scope=%s", call->name,
			 m->status_code, it->scope == SG_SCOPE_GLOBAL ? "global" : "default");
}

/* ---- the request ---- */

static const char *header_of(void *ctx, const char *name)
{
	return sg__req_header(ctx, name);
}

/* Turn the parsed messages into items; Vonage parts go through the
 * reassembly table first. Returns 0 or -ENOMEM. */
static int make_items(sg__wh_call *call)
{
	sg__concat *flush[FLUSH_MAX];
	size_t nflush = 0;
	int64_t now = sg_now_us();
	if (call->provider == SG__WH_VONAGE)
		while (nflush < FLUSH_MAX && (flush[nflush] = sg__concat_take_expired(now)))
			nflush++;
	call->items = calloc(call->parsed.n + nflush + 1, sizeof(*call->items));
	if (!call->items) {
		for (size_t i = 0; i < nflush; i++)
			sg__concat_done(flush[i], false);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nflush; i++) {
		sg__wh_item *it = &call->items[call->n++];
		*it = (sg__wh_item){.call = call, .kind = SG__WHI_INBOUND, .concat = flush[i]};
	}
	for (size_t i = 0; i < call->parsed.n; i++) {
		const sg__wh_message *m = &call->parsed.msgs[i];
		sg__wh_item *it = &call->items[call->n++];
		*it = (sg__wh_item){.call = call, .m = m};
		it->kind = m->kind == SG__WH_INBOUND ? SG__WHI_INBOUND
			   : m->kind == SG__WH_STATUS ? SG__WHI_STATUS
			   : m->kind == SG__WH_INVALID ? SG__WHI_INVALID : SG__WHI_IGNORED;
		if (it->kind == SG__WHI_INVALID) {
			char k[48];
			it->status = -EINVAL;
			it->error = "invalid_element";
			sg__log_limited(SG_LOG_WARN, "webhk", lkey(call, "invalid_element", k),
					"one element of the request cannot be read: not recorded, the others "
					"are provider=%s element=%u why=\"%s\"", call->name, m->index, m->invalid);
			continue;
		}
		if (it->kind != SG__WHI_INBOUND || m->concat_total <= 1)
			continue;
		sg__concat *c = NULL;
		int rc = sg__concat_add(m, now, &c, it->same_as);
		switch (rc) {
		case SG__CONCAT_COMPLETE:
			it->concat = c;
			break;
		case SG__CONCAT_PENDING:
		case SG__CONCAT_DUP:
			it->kind = SG__WHI_PART;
			it->part_state = rc;
			it->duplicate = rc == SG__CONCAT_DUP;
			break;
		case SG__CONCAT_RECORDED: /* a repeat: de-duplicated on the message's key (same_as) */
		case SG__CONCAT_ALONE:    /* recorded on its own */
			break;
		default:
			fail_item(it, rc, rc == -EAGAIN ? "busy" : "out_of_memory");
			break;
		}
	}
	for (size_t i = 0; i < call->n; i++) {
		sg__wh_item *it = &call->items[i];
		if (it->concat && sg__concat_view_of(it->concat, &it->cv)) {
			fail_item(it, -ENOMEM, "out_of_memory");
			release_concat(it, false);
		}
	}
	return 0;
}

/* HTTP Basic is the credential (Bandwidth; Sinch when it has a username):
 * answer the challenge that Bandwidth sends first without credentials. */
static bool basic_challenge(const sg__wh_call *call)
{
	const sg__wh_provider_cfg *cfg = &call->set->cfg;
	if (!cfg->basic_user)
		return false;
	if (call->provider == SG__WH_BANDWIDTH)
		return true;
	return call->provider == SG__WH_SINCH && sg__wh_verify_bandwidth(&call->wreq, cfg) != 0;
}

static void refuse(sg__req *req, sg__wh_call *call, int rc)
{
	char peer[64], k[48], why[300];
	sg__log_quote(sg__req_peer(req), strlen(sg__req_peer(req)), peer, sizeof(peer));
	sg__log_quote(call->why, strlen(call->why), why, sizeof(why));
	if (rc == SG_EBADSIG && !call->set->has_credentials) {
		sg__log_limited(SG_LOG_WARN, "webhk", lkey(call, "not_configured", k),
				"refused: no credentials configured for this provider provider=%s peer=%s",
				call->name, peer);
		sg__respond_error(req, 403, "provider_not_configured",
				  "no credentials are configured for %s (providers.%s in the config), and "
				  "unsigned webhooks are not allowed", call->name, call->name);
	} else if (rc == SG_EBADSIG && basic_challenge(call)) {
		/* Bandwidth sends each callback without credentials first and
		 * sends them only after a 401 with this challenge. */
		bool had = sg__req_header(req, "Authorization") != NULL;
		if (had)
			sg__log_limited(SG_LOG_WARN, "webhk", lkey(call, "bad_credentials", k),
					"refused: wrong HTTP Basic credentials provider=%s peer=%s", call->name,
					peer);
		else
			sg__debug("webhk", "challenged: no credentials yet (answered 401) provider=%s peer=%s",
				  call->name, peer);
		sg__resp_header(req, "WWW-Authenticate", "Basic realm=\"stopgate\", charset=\"UTF-8\"");
		sg__respond_error(req, 401, "unauthorized", "%s webhooks need the configured HTTP Basic "
				  "credentials", call->name);
	} else if (rc == SG_EBADSIG) {
		sg__log_limited(SG_LOG_WARN, "webhk", lkey(call, "bad_signature", k),
				"refused: signature missing, wrong or stale provider=%s peer=%s why=%s", call->name,
				peer, call->why[0] ? why : "\"-\"");
		if (call->why[0])
			sg__respond_error(req, 403, "bad_signature", "the %s signature is refused: %s", call->name,
					  call->why);
		else
			sg__respond_error(req, 403, "bad_signature",
					  "the %s signature is missing, wrong or outside its time window", call->name);
	} else {
		sg__log_limited(SG_LOG_ERROR, "webhk", lkey(call, "verify_error", k),
				"cannot verify provider=%s error=\"%s\"", call->name, sg_strerror(rc));
		sg__respond_error(req, 500, "internal", "cannot verify the signature: %s", sg_strerror(rc));
	}
}

void sg__api_webhooks(sg__req *req)
{
	char name[16];
	size_t len = strcspn(req->arg, "/");
	sg__wh_provider p;
	if (len >= sizeof(name) || (memcpy(name, req->arg, len), name[len] = '\0',
				    sg__wh_provider_parse(name, &p))) {
		char q[64];
		sg__log_quote(req->arg, len, q, sizeof(q));
		sg__buf known = SG__BUF_INIT;
		for (int i = 1; i < SG__WH_PROVIDER_MAX; i++)
			sg__buf_printf(&known, "%s%s", i > 1 ? ", " : "", sg__wh_provider_name((sg__wh_provider)i));
		sg__respond_error(req, 404, "unknown_provider",
				  "no webhook handler for provider %s: /v1/webhooks/PROVIDER with PROVIDER one of %s "
				  "(the generic feed is POST /v1/inbound)", q, known.p ? known.p : "");
		sg__buf_free(&known);
		return;
	}
	sg__wh_call *call = calloc(1, sizeof(*call));
	if (!call) {
		sg__respond_error(req, 500, "internal", "out of memory");
		return;
	}
	call->req = req;
	call->provider = p;
	call->name = sg__wh_provider_name(p);
	call->set = sg__webhooks_settings(p);
	if (sg__req_public_url(req, &call->url) == -ENOMEM) {
		call_free(call);
		sg__respond_error(req, 500, "internal", "out of memory");
		return;
	}
	call->wreq = (sg__wh_request){
		.method = http_method_str(req->method),
		.public_url = call->url.p,
		.query = req->query,
		.query_len = strlen(req->query),
		.content_type = sg__req_header(req, "Content-Type"),
		.body = req->body,
		.body_len = req->body_len,
		.header = header_of,
		.header_ctx = req,
		.now_s = sg__webhooks_now_s(),
		.why = call->why,
		.why_cap = sizeof(call->why),
	};
	int rc = sg__wh_verify(p, &call->wreq, &call->set->cfg);
	if (rc) {
		refuse(req, call, rc);
		call_free(call);
		return;
	}
	const char *detail = "malformed";
	rc = sg__wh_parse(p, &call->wreq, &call->parsed, &detail);
	if (!rc)
		rc = make_items(call);
	if (rc) {
		if (rc == -ENOMEM) {
			sg__respond_error(req, 500, "internal", "out of memory");
		} else {
			char peer[64], k[48], why[300];
			sg__log_quote(sg__req_peer(req), strlen(sg__req_peer(req)), peer, sizeof(peer));
			sg__log_quote(call->why[0] ? call->why : detail, strlen(call->why[0] ? call->why : detail),
				      why, sizeof(why));
			sg__log_limited(SG_LOG_WARN, "webhk", lkey(call, "bad_request", k),
					"refused: malformed webhook, nothing recorded (answered 400) provider=%s "
					"peer=%s why=%s", call->name, peer, why);
			sg__respond_error(req, 400, "bad_request", "%s: %s", call->name, detail);
		}
		call_free(call);
		return;
	}
	call->pending = 1; /* until every item is started */
	for (size_t i = 0; i < call->n; i++) {
		sg__wh_item *it = &call->items[i];
		if (it->status)
			continue;
		if (it->kind == SG__WHI_INBOUND)
			start_inbound(it);
		else if (it->kind == SG__WHI_STATUS)
			start_status(it);
		else if (it->kind == SG__WHI_IGNORED && it->m->confirm_url[0]) {
			char q[256];
			char k[48];
			sg__log_limited(SG_LOG_WARN, "webhk", lkey(call, "confirm", k),
				 "aws-sns subscription waits for confirmation: open SubscribeURL once "
				 "url=%s", sg__log_quote(it->m->confirm_url, strlen(it->m->confirm_url), q,
							sizeof(q)));
		}
	}
	item_done(call);
}
