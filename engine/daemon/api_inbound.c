/* SPDX-License-Identifier: Apache-2.0 */
/* POST /v1/inbound and the inbound path shared with provider webhooks
 * (sg__inbound_process, see daemon.h): the library decides what the
 * message means and what to record (sg_decide_inbound, engine/policy/policy.c);
 * this file records it through the writer and answers only once durable.
 *
 * A duplicate answers what the first delivery answered: the intent and the
 * reply are read back from the recorded event, not recomputed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

typedef struct inbound {
	sg__req *req;
	sg__inbound_cb cb;
	void *ctx;
	sg__inbound_result res;
	sg_decision *d;
	char stored_reply[SG_REPLY_MAX];
} inbound;

static sg_intent intent_of_action(sg_action a)
{
	switch (a) {
	case SG_ACTION_OPT_OUT:
	case SG_ACTION_REVIEW:
		return SG_INTENT_OPT_OUT;
	case SG_ACTION_OPT_IN:
		return SG_INTENT_OPT_IN;
	case SG_ACTION_HELP:
		return SG_INTENT_HELP;
	default:
		return SG_INTENT_NONE;
	}
}

static int read_original(const sg_event *ev, void *ctx)
{
	inbound *in = ctx;
	in->res.action = ev->action;
	in->res.intent = intent_of_action(ev->action);
	if (ev->reply && ev->reply[0]) {
		sg__strlcpy(in->stored_reply, ev->reply, sizeof(in->stored_reply));
		in->res.reply = in->stored_reply;
	} else {
		in->res.reply = NULL;
	}
	return 0; /* read with max 1 (a positive return would read as a store error) */
}

static void finish(inbound *in)
{
	sg__metrics *m = &in->req->srv->metrics;
	if (!in->res.status) {
		if ((unsigned)in->res.intent < SG_ARRAY_SIZE(m->intents))
			m->intents[in->res.intent]++;
		if (in->res.duplicate)
			m->inbound_duplicates++;
	}
	in->cb(in->req, &in->res, in->ctx);
	sg_decision_free(in->d);
	free(in);
}

static void recorded(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	inbound *in = ctx;
	for (size_t i = 0; i < n && !status; i++)
		status = out[i].status;
	if (status) {
		in->res.status = status;
		in->res.error = "record_failed";
		in->res.action = 0;
		in->res.reply = NULL;
		finish(in);
		return;
	}
	in->res.seq = out[0].seq;
	in->res.duplicate = out[0].duplicate;
	in->res.applied = !out[0].duplicate && out[0].applied;
	if (out[0].duplicate) {
		/* Answer as the first time: what was recorded then. */
		sg_intent now = in->res.intent;
		in->res.action = 0;
		in->res.intent = SG_INTENT_NONE;
		in->res.reply = NULL;
		if (out[0].seq) {
			uint64_t next;
			int rc = sg_events_read(req->srv->engine, out[0].seq, 1, read_original, in, &next);
			if (rc < 0) {
				in->res.status = rc;
				in->res.error = "store_error";
			}
		}
		if (in->res.intent != now)
			in->res.confidence = SG_CONF_NONE;
	} else if (in->res.action == SG_ACTION_NONE) {
		in->res.seq = 0; /* only a de-duplication marker */
	}
	finish(in);
}

void sg__inbound_process(sg__req *req, const sg_inbound_msg *msg, sg__inbound_cb cb, void *ctx)
{
	inbound *in = calloc(1, sizeof(*in));
	if (!in) {
		sg__inbound_result res = {.status = -ENOMEM, .error = "out_of_memory"};
		cb(req, &res, ctx);
		return;
	}
	in->req = req;
	in->cb = cb;
	in->ctx = ctx;
	sg__inbound_result *res = &in->res;
	int rc = sg_decide_inbound(req->srv->engine, msg, &in->d);
	if (rc) {
		res->status = rc;
		res->error = rc == SG_ENUMBER || rc == SG_ENOCOUNTRY ? "invalid_number"
			     : rc == -ENOMEM ? "out_of_memory" : "classify_failed";
		finish(in);
		return;
	}
	const sg_decision *d = in->d;
	res->intent = sg_decision_intent(d);
	res->confidence = sg_decision_confidence(d);
	res->action = sg_decision_action(d);
	res->reply = sg_decision_reply(d);
	res->quarantined = sg_decision_quarantined(d);
	res->no_our_number = sg_decision_no_our_number(d);
	sg__strlcpy(res->sender, sg_decision_sender(d), sizeof(res->sender));
	sg__strlcpy(res->recipient, sg_decision_recipient(d), sizeof(res->recipient));
	size_t n;
	const sg_event_in *ev = sg_decision_events(d, &n);
	if (n == 0) {
		finish(in); /* nothing to record, nothing to de-duplicate */
		return;
	}
	rc = sg__submit_events(req, ev, n, recorded, in);
	if (rc) {
		res->status = rc;
		res->error = rc == -EAGAIN ? "busy" : "shutting_down";
		res->action = 0;
		finish(in);
	}
}

/* ---- POST /v1/inbound ---- */

static void inbound_answer(sg__req *req, const sg__inbound_result *res, void *ctx)
{
	cJSON *json = ctx;
	if (!res->status && res->no_our_number) {
		cJSON_Delete(json);
		sg__respond_error(req, 422, "no_our_number", "to: empty; %s",
				  res->seq ? "the opt-out is kept under the quarantine sender raw:" : "nothing recorded");
		return;
	}
	if (res->status) {
		cJSON_Delete(json);
		if (res->status == -EAGAIN || res->status == -ESHUTDOWN)
			sg__respond_submit_error(req, res->status);
		else if (res->status == SG_ENUMBER || res->status == SG_ENOCOUNTRY)
			sg__respond_error(req, 422, "invalid_number", "to: %s (our number: give it in E.164, "
					  "e.g. +14155550100, or set defaultCountry in the config)",
					  sg_strerror(res->status));
		else if (res->status == SG_ETOOLONG || res->status == SG_EUTF8)
			sg__respond_error(req, 422, res->error, "%s: %s",
					  strcmp(res->error, "invalid_field") == 0 ? "id or provider" : "body",
					  sg_strerror(res->status));
		else
			sg__respond_engine_error(req, res->status, "inbound");
		return;
	}
	sg__buf b = SG__BUF_INIT;
	bool first = true;
	sg__buf_addc(&b, '{');
	sg__buf_json_key(&b, &first, "intent");
	sg__buf_json_cstr(&b, sg_intent_name(res->intent));
	sg__buf_json_key(&b, &first, "confidence");
	sg__buf_json_cstr(&b, res->confidence ? sg_confidence_name(res->confidence) : NULL);
	sg__buf_json_key(&b, &first, "action");
	sg__buf_json_cstr(&b, res->action ? sg_action_name(res->action) : NULL);
	sg__buf_json_key(&b, &first, "reply");
	sg__buf_json_cstr(&b, res->reply);
	sg__buf_json_key(&b, &first, "event");
	if (res->seq)
		sg__buf_printf(&b, "%llu", (unsigned long long)res->seq);
	else
		sg__buf_adds(&b, "null");
	sg__buf_json_key(&b, &first, "duplicate");
	sg__buf_adds(&b, res->duplicate ? "true" : "false");
	sg__buf_json_key(&b, &first, "applied");
	sg__buf_adds(&b, res->applied ? "true" : "false");
	sg__buf_json_key(&b, &first, "sender");
	sg__buf_json_cstr(&b, res->sender);
	sg__buf_json_key(&b, &first, "recipient");
	sg__buf_json_cstr(&b, res->recipient);
	sg__buf_json_key(&b, &first, "quarantined");
	sg__buf_adds(&b, res->quarantined ? "true" : "false");
	sg__buf_adds(&b, "}\n");
	cJSON_Delete(json);
	sg__respond_buf(req, 200, "application/json", &b);
}

void sg__api_inbound(sg__req *req)
{
	cJSON *json = sg__parse_body_json(req);
	if (!json)
		return;
	bool answered = false;
	sg_inbound_msg msg = {.size = sizeof(sg_inbound_msg)};
	msg.provider = sg__json_str(req, json, "provider", &answered);
	msg.from = sg__json_str(req, json, "from", &answered);
	msg.to = sg__json_str(req, json, "to", &answered);
	const char *body = sg__json_str(req, json, "body", &answered);
	const char *received = sg__json_str(req, json, "received_at", &answered);
	/* The id may be a JSON string or number. */
	char idnum[32];
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(json, "id");
	if (cJSON_IsString(id)) {
		msg.id = id->valuestring;
	} else if (cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < 9e15) {
		snprintf(idnum, sizeof(idnum), "%.0f", id->valuedouble);
		msg.id = idnum;
	} else if (id && !cJSON_IsNull(id) && !answered) {
		sg__respond_error(req, 422, "invalid_field", "id: must be a string");
		answered = true;
	}
	if (answered) {
		cJSON_Delete(json);
		return;
	}
	const char *missing = !msg.from ? "from" : !msg.to ? "to" : !body ? "body" : NULL;
	if (missing) {
		cJSON_Delete(json);
		sg__respond_error(req, 422, "missing_field", "%s is required", missing);
		return;
	}
	if (msg.provider && (strlen(msg.provider) > 32 || strchr(msg.provider, ':'))) {
		cJSON_Delete(json);
		sg__respond_error(req, 422, "invalid_field", "provider: a short name without ':'");
		return;
	}
	if (received && sg_time_parse(received, &msg.event_time_us)) {
		cJSON_Delete(json);
		sg__respond_error(req, 422, "invalid_field", "received_at: not an RFC 3339 time");
		return;
	}
	msg.body = body;
	msg.body_len = strlen(body);
	sg__inbound_process(req, &msg, inbound_answer, json);
}
