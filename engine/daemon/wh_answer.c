/* SPDX-License-Identifier: Apache-2.0 */
/* Answers to provider webhooks, once every message of the request is
 * durable (or failed):
 *
 *   our failure (writer full, store error, our number unknown) -> 5xx, so
 *   that retrying providers retry; what was already recorded is then a
 *   duplicate and changes nothing.
 *   Twilio -> 200 text/xml TwiML: <Response/>, or the reply as <Message>
 *   when providers.twilio.replyWithTwiml is set, never for an opt-out
 *   (Twilio or the carrier already confirms STOP, webhooks.md §1) nor when
 *   Twilio's own opt-out handling acted.
 *   Others -> 200 JSON: the first inbound message's intent, action and reply
 *   at the top, then every message of the request in "messages".
 * Duplicates answer what the first delivery answered (the inbound path
 * reads the recorded intent and reply back).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "wh.h"

static const char *const class_names[] = {
	[SG__WH_CODE_NONE] = "none", [SG__WH_CODE_OPT_OUT] = "opt_out",
	[SG__WH_CODE_NOT_SMS_CAPABLE] = "not_sms_capable", [SG__WH_CODE_CAMPAIGN_BLOCK] = "campaign_block",
	[SG__WH_CODE_OTHER] = "other",
};

static void xml_escape(sg__buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '&')
			sg__buf_adds(b, "&amp;");
		else if (c == '<')
			sg__buf_adds(b, "&lt;");
		else if (c == '>')
			sg__buf_adds(b, "&gt;");
		else if (c == '"')
			sg__buf_adds(b, "&quot;");
		else if (c == '\'')
			sg__buf_adds(b, "&apos;");
		else if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
			sg__buf_addc(b, (char)c); /* other control bytes are not allowed in XML 1.0 */
	}
}

/* The first inbound message this request reported (not a carried one). */
static const sg__wh_item *first_inbound(const sg__wh_call *call)
{
	for (size_t i = 0; i < call->n; i++)
		if (call->items[i].m &&
		    (call->items[i].kind == SG__WHI_INBOUND || call->items[i].kind == SG__WHI_PART))
			return &call->items[i];
	return NULL;
}

static void answer_twiml(sg__wh_call *call)
{
	const sg__wh_item *it = first_inbound(call);
	sg__buf b = SG__BUF_INIT;
	sg__buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
	if (call->set->reply_with_twiml && it && it->kind == SG__WHI_INBOUND && !it->status &&
	    it->has_reply && it->action != SG_ACTION_OPT_OUT && it->action != SG_ACTION_REVIEW &&
	    !it->provider_acted) {
		sg__buf_adds(&b, "<Response><Message>");
		xml_escape(&b, it->reply);
		sg__buf_adds(&b, "</Message></Response>");
	} else {
		sg__buf_adds(&b, "<Response/>");
	}
	sg__respond_buf(call->req, 200, "text/xml", &b);
}

static void key_str(sg__buf *b, bool *first, const char *key, const char *val)
{
	sg__buf_json_key(b, first, key);
	sg__buf_json_cstr(b, val);
}

static void key_bool(sg__buf *b, bool *first, const char *key, bool val)
{
	sg__buf_json_key(b, first, key);
	sg__buf_adds(b, val ? "true" : "false");
}

static void key_seq(sg__buf *b, bool *first, uint64_t seq)
{
	sg__buf_json_key(b, first, "event");
	if (seq)
		sg__buf_printf(b, "%llu", (unsigned long long)seq);
	else
		sg__buf_adds(b, "null");
}

static void item_json(sg__buf *b, const sg__wh_item *it)
{
	const sg__wh_message *m = it->m;
	bool first = true;
	sg__buf_addc(b, '{');
	if (it->kind == SG__WHI_IGNORED) {
		key_str(b, &first, "kind", "ignored");
		key_str(b, &first, "event_type", m->event_type);
		sg__buf_addc(b, '}');
		return;
	}
	if (it->kind == SG__WHI_INVALID) {
		key_str(b, &first, "kind", "invalid");
		sg__buf_json_key(b, &first, "element");
		sg__buf_printf(b, "%u", m->index);
		key_str(b, &first, "error", "invalid_element");
		key_str(b, &first, "detail", m->invalid);
		sg__buf_addc(b, '}');
		return;
	}
	bool status = it->kind == SG__WHI_STATUS;
	key_str(b, &first, "kind", status ? "status" : "inbound");
	key_str(b, &first, "id", m ? m->msg_id : it->cv.msg_id);
	if (status) {
		key_str(b, &first, "status", m->status);
		key_str(b, &first, "code", m->status_code[0] ? m->status_code : NULL);
		key_str(b, &first, "class", class_names[m->code_class]);
		key_str(b, &first, "action", it->recorded ? sg_action_name(it->action) : NULL);
		key_str(b, &first, "scope", it->recorded ? (it->scope == SG_SCOPE_GLOBAL ? "global" : "default")
							: NULL);
	} else {
		key_str(b, &first, "intent", sg_intent_name(it->intent));
		key_str(b, &first, "confidence", it->confidence ? sg_confidence_name(it->confidence) : NULL);
		key_str(b, &first, "action", it->action ? sg_action_name(it->action) : NULL);
		key_str(b, &first, "reply", it->has_reply ? it->reply : NULL);
		key_bool(b, &first, "provider_signal", it->provider_acted);
	}
	key_seq(b, &first, it->seq);
	key_bool(b, &first, "duplicate", it->duplicate);
	if (it->kind == SG__WHI_INBOUND || it->recorded) {
		key_str(b, &first, "sender", it->sender[0] ? it->sender : NULL);
		key_str(b, &first, "recipient", it->recipient[0] ? it->recipient : NULL);
		key_bool(b, &first, "quarantined", it->quarantined);
	}
	if (it->kind == SG__WHI_PART || it->concat || it->cv.total) {
		sg__buf_json_key(b, &first, "concat");
		bool f2 = true;
		sg__buf_addc(b, '{');
		key_str(b, &f2, "ref", m ? m->concat_ref : it->cv.ref);
		sg__buf_json_key(b, &f2, "parts");
		sg__buf_printf(b, "%u", it->kind == SG__WHI_PART ? m->concat_part : it->cv.have);
		sg__buf_json_key(b, &f2, "total");
		sg__buf_printf(b, "%u", it->kind == SG__WHI_PART ? m->concat_total : it->cv.total);
		key_str(b, &f2, "state", it->kind == SG__WHI_PART ? (it->part_state == SG__CONCAT_DUP ? "duplicate"
												   : "waiting")
					 : it->cv.have == it->cv.total ? "complete" : "timed_out");
		sg__buf_addc(b, '}');
	}
	if (it->status) {
		key_str(b, &first, "error", it->error);
		key_str(b, &first, "detail", it->no_number ? "the webhook names no number of ours (To); an "
				  "opt-out in it is kept under the quarantine sender raw:" : sg_strerror(it->status));
	}
	sg__buf_addc(b, '}');
}

static void answer_json(sg__wh_call *call)
{
	const sg__wh_item *it = first_inbound(call);
	sg__buf b = SG__BUF_INIT;
	bool first = true;
	sg__buf_addc(&b, '{');
	key_str(&b, &first, "provider", call->name);
	key_str(&b, &first, "intent", sg_intent_name(it ? it->intent : SG_INTENT_NONE));
	key_str(&b, &first, "action", it && it->action ? sg_action_name(it->action) : NULL);
	key_str(&b, &first, "reply", it && it->has_reply ? it->reply : NULL);
	key_bool(&b, &first, "duplicate", it && it->duplicate);
	sg__buf_json_key(&b, &first, "messages");
	sg__buf_addc(&b, '[');
	for (size_t i = 0; i < call->n; i++) {
		if (i)
			sg__buf_addc(&b, ',');
		item_json(&b, &call->items[i]);
	}
	sg__buf_adds(&b, "]}\n");
	sg__respond_buf(call->req, 200, "application/json", &b);
}

void sg__wh_answer(sg__wh_call *call)
{
	sg__req *req = call->req;
	for (size_t i = 0; i < call->n; i++) {
		const sg__wh_item *it = &call->items[i];
		if (!it->fatal)
			continue;
		if (it->status == -EAGAIN || it->status == -ESHUTDOWN)
			sg__respond_submit_error(req, it->status);
		else if (!strcmp(it->error, "our_number_unknown"))
			sg__respond_error(req, 500, "our_number_unknown",
					  "our number in this %s webhook did not parse; set providers.%s.country",
					  call->name, call->name);
		else
			sg__respond_engine_error(req, it->status, call->name);
		return;
	}
	/* Nothing of this request can ever be recorded properly (no number of
	 * ours, unreadable elements): 4xx, as a retry would not help. Else 2xx,
	 * so that what was recorded is not sent again. */
	size_t own = 0, bad = 0;
	const sg__wh_item *last_bad = NULL;
	for (size_t i = 0; i < call->n; i++) {
		const sg__wh_item *it = &call->items[i];
		if (!it->m)
			continue; /* carried along from an earlier request */
		own++;
		if (it->kind == SG__WHI_INVALID || it->no_number) {
			bad++;
			last_bad = it;
		}
	}
	if (own && bad == own) {
		if (last_bad->no_number)
			sg__respond_error(req, 400, "no_our_number",
					  "this %s webhook names no number of ours (To / owner / destination); %s",
					  call->name, last_bad->action == SG_ACTION_OPT_OUT
							      ? "its opt-out is recorded under the quarantine sender raw:"
							      : "nothing was recorded");
		else
			sg__respond_error(req, 400, "bad_request", "%s: %s", call->name, last_bad->m->invalid);
		return;
	}
	if (call->provider == SG__WH_TWILIO)
		answer_twiml(call);
	else
		answer_json(call);
}
