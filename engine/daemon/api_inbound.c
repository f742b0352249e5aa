/* SPDX-License-Identifier: Apache-2.0 */
/* POST /v1/inbound and the inbound path shared with provider webhooks
 * (sg__inbound_process, see daemon.h):
 *
 *   normalize (our number first: its country is the handset's default)
 *   -> classify with the sender's campaign keywords
 *   -> policy (a probable revocation opts out, or is held for review)
 *   -> record through the writer, de-duplicated on inbound:<provider>:<id>
 *   -> answer only once durable.
 *
 * Nothing a sender can put in a message makes it be dropped: a text of any
 * length is classified whole (only the stored copy is capped, at
 * SG_BODY_STORE_MAX, and the event's note says so), broken UTF-8 is read
 * with U+FFFD in place of the bad bytes, and a provider id of any length
 * is kept (cut to ID_STORED bytes in the event, its SHA-256 in the
 * de-duplication key when the key would be too long).
 *
 * A duplicate answers what the first delivery answered: the intent and the
 * reply are read back from the recorded event, not recomputed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"
#include "store/event.h" /* sg__sha256 */

#define ID_STORED 1024 /* bytes of a provider id kept in the event */
#define DEDUP_MAX 320  /* a longer de-duplication key is replaced by its hash */

typedef struct inbound {
	sg__req *req;
	sg__inbound_cb cb;
	void *ctx;
	sg__inbound_result res;
	sg_classification cls;
	sg_event_in ev;
	char provider[40];      /* copies: the caller's may be short-lived */
	char id[ID_STORED + 1];
	char dedup[DEDUP_MAX];
	char note[160];
	char stored_reply[SG_REPLY_MAX];
	char *repaired;         /* the text with broken UTF-8 replaced, or NULL */
} inbound;

/* Copy `prefix` + key into out, or prefix + "sha256:" + the key's hash when
 * it does not fit: a long id de-duplicates as exactly as a short one. */
static void dedup_key(char *out, size_t size, const char *prefix, const char *key)
{
	int n = snprintf(out, size, "%s%s", prefix, key);
	if (n >= 0 && (size_t)n < size)
		return;
	uint8_t h[32];
	char hex[65];
	sg__sha256(key, strlen(key), h);
	sg_hex32(h, hex);
	snprintf(out, size, "%ssha256:%s", prefix, hex);
}

/* Append "; "-separated facts to the event's note (cut, never overrun). */
static void note_add(inbound *in, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_add(inbound *in, size_t *len, const char *fmt, ...)
{
	if (*len + 3 >= sizeof(in->note))
		return;
	if (*len) {
		memcpy(in->note + *len, "; ", 3);
		*len += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(in->note + *len, sizeof(in->note) - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < sizeof(in->note) - *len ? (size_t)n : sizeof(in->note) - *len - 1;
}

/* Cut s (len bytes) to at most max bytes, not inside a UTF-8 character. */
static size_t cut_at_char(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* The campaign's own "probable" override, else the engine policy. */
static sg_probable_mode probable_mode(sg_engine *engine, const char *campaign_id)
{
	sg_probable_mode mode = sg_engine_policy(engine)->probable;
	char *text = NULL;
	if (!campaign_id || sg_campaign_get_json(engine, campaign_id, &text))
		return mode;
	cJSON *json = cJSON_ParseWithLengthOpts(text, strlen(text), NULL, 0);
	free(text);
	const cJSON *own = cJSON_GetObjectItemCaseSensitive(json, "stopgate");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(own, "probable");
	if (cJSON_IsString(p)) {
		if (strcmp(p->valuestring, "review") == 0)
			mode = SG_PROBABLE_REVIEW;
		else if (strcmp(p->valuestring, "opt_out") == 0)
			mode = SG_PROBABLE_OPT_OUT;
	}
	cJSON_Delete(json);
	return mode;
}

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
	free(in->repaired);
	free(in);
}

static void recorded(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	inbound *in = ctx;
	(void)n;
	if (status || out[0].status) {
		in->res.status = status ? status : out[0].status;
		in->res.error = "record_failed";
		in->res.action = 0;
		in->res.reply = NULL;
		finish(in);
		return;
	}
	in->res.seq = out[0].seq;
	in->res.duplicate = out[0].duplicate;
	if (out[0].duplicate) {
		/* Answer as the first time: what was recorded then. */
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
		if (in->res.intent != in->cls.intent)
			in->res.confidence = SG_CONF_NONE;
	} else if (in->res.action == SG_ACTION_NONE) {
		in->res.seq = 0; /* only a de-duplication marker */
	}
	finish(in);
}

void sg__inbound_process(sg__req *req, const sg__inbound_msg *msg, sg__inbound_cb cb, void *ctx)
{
	sg_engine *engine = req->srv->engine;
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
	if (sg__strlcpy(in->provider, msg->provider && msg->provider[0] ? msg->provider : "api",
			sizeof(in->provider)) >= sizeof(in->provider)) {
		res->status = SG_ETOOLONG; /* our own provider names are short */
		res->error = "invalid_field";
		finish(in);
		return;
	}
	const char *provider = in->provider;
	size_t note_len = 0;
	if (msg->id) {
		size_t idlen = strlen(msg->id);
		size_t keep = cut_at_char(msg->id, idlen, ID_STORED);
		memcpy(in->id, msg->id, keep);
		in->id[keep] = '\0';
		if (keep < idlen)
			note_add(in, &note_len, "provider_id_truncated: %zu of %zu bytes", keep, idlen);
	}

	/* Our number, then the handset with our number's country. */
	int rc = sg_number_normalize(msg->to, strlen(msg->to), sg_engine_default_country(engine),
				     SG_FIELD_ADDRESS, res->sender, NULL);
	if (rc) {
		res->status = rc;
		res->error = "invalid_number";
		finish(in);
		return;
	}
	char cc[3];
	const char *country = msg->handset_country && msg->handset_country[0] ? msg->handset_country
			      : sg_number_country(res->sender, cc) == 0 ? cc
			      : sg_engine_default_country(engine);
	rc = sg_number_normalize(msg->from, strlen(msg->from), country, SG_FIELD_ANY, res->recipient, NULL);
	if (rc) {
		/* Never lose a STOP: keep it under the quarantine class. */
		sg_number_quarantine(msg->from, strlen(msg->from), res->recipient);
		res->quarantined = true;
	}

	sg_sender_info info;
	const char *campaign = NULL;
	if (sg_sender_get(engine, res->sender, &info) == 0 && info.campaign_id[0])
		campaign = info.campaign_id;

	const char *text = msg->body;
	size_t text_len = msg->body_len;
	if (sg__utf8_count(text, text_len) < 0) {
		/* Read what can be read; the bytes as received are what is stored. */
		in->repaired = malloc(3 * text_len + 1);
		if (!in->repaired) {
			res->status = -ENOMEM;
			res->error = "out_of_memory";
			finish(in);
			return;
		}
		text_len = sg_utf8_repair(text, text_len, in->repaired);
		text = in->repaired;
		note_add(in, &note_len, "invalid_utf8: classified with U+FFFD");
	}
	rc = sg_classify(engine, campaign, text, text_len, &in->cls);
	if (rc) {
		res->status = rc;
		res->error = "classify_failed";
		finish(in);
		return;
	}
	size_t stored_len = cut_at_char(msg->body, msg->body_len, SG_BODY_STORE_MAX);
	if (stored_len < msg->body_len)
		note_add(in, &note_len, "body_truncated: stored %zu of %zu bytes", stored_len, msg->body_len);
	res->intent = in->cls.intent;
	res->confidence = in->cls.confidence;
	res->reply = in->cls.reply[0] ? in->cls.reply : NULL;
	const char *rule = in->cls.rule[0] ? in->cls.rule : NULL;
	sg_source source = SG_SOURCE_KEYWORD;
	if (msg->provider_intent != SG_INTENT_NONE) {
		/* The provider already acted on it: its word is recorded. */
		source = SG_SOURCE_PROVIDER_SIGNAL;
		if (msg->provider_intent != res->intent) {
			res->intent = msg->provider_intent;
			res->confidence = SG_CONF_EXACT;
			res->reply = NULL;
		}
		if (msg->provider_rule)
			rule = msg->provider_rule;
	}

	switch (res->intent) {
	case SG_INTENT_OPT_OUT:
		res->action = SG_ACTION_OPT_OUT;
		if (res->confidence == SG_CONF_PROBABLE &&
		    probable_mode(engine, campaign) == SG_PROBABLE_REVIEW) {
			res->action = SG_ACTION_REVIEW;
			res->reply = NULL; /* consent unchanged: no opt-out confirmation */
		}
		break;
	case SG_INTENT_OPT_IN:
		res->action = SG_ACTION_OPT_IN;
		break;
	case SG_INTENT_HELP:
		res->action = SG_ACTION_HELP;
		break;
	default:
		res->action = SG_ACTION_NONE;
		break;
	}

	if (msg->dedup_key && msg->dedup_key[0]) {
		dedup_key(in->dedup, sizeof(in->dedup), "", msg->dedup_key);
	} else if (msg->id && msg->id[0]) {
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "inbound:%s:", provider);
		dedup_key(in->dedup, sizeof(in->dedup), prefix, msg->id); /* the whole id */
	} else if (res->action == SG_ACTION_NONE) {
		finish(in); /* nothing to record, nothing to de-duplicate */
		return;
	}

	in->ev = (sg_event_in){
		.action = res->action,
		.source = source,
		.sender = res->sender,
		.recipient = res->recipient,
		.scope = SG_SCOPE_DEFAULT,
		.provider = provider,
		.provider_msg_id = in->id[0] ? in->id : NULL,
		.dedup_key = in->dedup[0] ? in->dedup : NULL,
		.rule = rule,
		.body = msg->body,
		.body_len = stored_len,
		.reply = res->reply,
		.note = note_len ? in->note : NULL,
		.event_time_us = msg->event_time_us,
	};
	rc = sg__submit_events(req, &in->ev, 1, recorded, in);
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
	if (res->status) {
		cJSON_Delete(json);
		if (res->status == -EAGAIN || res->status == -ESHUTDOWN)
			sg__respond_submit_error(req, res->status);
		else if (res->status == SG_ENUMBER || res->status == SG_ENOCOUNTRY)
			sg__respond_error(req, 422, "invalid_number", "to: %s", sg_strerror(res->status));
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
	sg__inbound_msg msg = {0};
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
