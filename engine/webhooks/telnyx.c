/* SPDX-License-Identifier: Apache-2.0 */
/* Telnyx Messaging API v2: message.received, message.sent/finalized and the
 * Ed25519 signature (reference/webhooks.md §2). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "wh_internal.h"

/* The payload id ("never a body hash": meta.attempt changes per retry). */
static const cJSON *payload_id(const cJSON *data, const cJSON *payload)
{
	const cJSON *id = sg__wh_jget(payload, "id");
	return id && !cJSON_IsNull(id) ? id : sg__wh_jget(data, "id");
}

/* The first error code, preferring one that means something for consent. */
static const cJSON *error_code(sg__wh_provider prov, const cJSON *errors, sg__wh_parsed *p,
			       bool *bad)
{
	const cJSON *first = NULL, *e;
	const cJSON *list = cJSON_IsArray(errors) ? errors : NULL;
	cJSON_ArrayForEach(e, list)
	{
		const cJSON *code = sg__wh_jget(e, "code");
		if (!code)
			continue;
		const char *s = sg__wh_jtext(p, code, bad);
		if (s && sg__wh_code_classify(prov, s) == SG__WH_CODE_OPT_OUT)
			return code;
		if (!first || (s && sg__wh_code_classify(prov, s) == SG__WH_CODE_NOT_SMS_CAPABLE))
			first = code;
	}
	return first;
}

static int fill(sg__wh_parsed *p, sg__wh_message *m, const cJSON *root, const char **detail)
{
	const cJSON *data = sg__wh_jget(root, "data");
	const cJSON *payload = sg__wh_jget(data, "payload");
	const cJSON *type = sg__wh_jget(data, "event_type");
	bool bad = false;

	if (!cJSON_IsObject(data) || !cJSON_IsString(type)) {
		*detail = "no data.event_type";
		return SG_EJSON;
	}
	m->event_type = sg__wh_jtext(p, type, &bad);
	if (!m->event_type)
		return -ENOMEM;
	if (strcmp(type->valuestring, "message.received") == 0)
		m->kind = SG__WH_INBOUND;
	else if (strcmp(type->valuestring, "message.sent") == 0 ||
		 strcmp(type->valuestring, "message.finalized") == 0)
		m->kind = SG__WH_STATUS;
	else
		return 0; /* IGNORED */
	if (!cJSON_IsObject(payload)) {
		*detail = "no data.payload";
		return SG_EJSON;
	}

	const cJSON *to = cJSON_GetArrayItem(sg__wh_jget(payload, "to"), 0);
	const char *profile = sg__wh_jtext(p, sg__wh_jget(payload, "messaging_profile_id"), &bad);
	m->msg_id = sg__wh_jtext(p, payload_id(data, payload), &bad);
	m->from = sg__wh_jtext(p, sg__wh_jget(sg__wh_jget(payload, "from"), "phone_number"), &bad);
	m->to = sg__wh_jtext(p, sg__wh_jget(to, "phone_number"), &bad);
	m->account = m->group = profile;
	m->event_time_us = sg__wh_time(cJSON_GetStringValue(sg__wh_jget(data, "occurred_at")));
	if (!m->event_time_us)
		m->event_time_us =
			sg__wh_time(cJSON_GetStringValue(sg__wh_jget(payload, "received_at")));
	m->num_media = (unsigned)cJSON_GetArraySize(sg__wh_jget(payload, "media"));
	if (m->kind == SG__WH_INBOUND) {
		const cJSON *text = sg__wh_jget(payload, "text");
		m->hint = sg__wh_jtext(p, sg__wh_jget(payload, "autoresponse_type"), &bad);
		m->text = sg__wh_jtext(p, text, &bad);
		m->text_len = m->text ? strlen(m->text) : 0;
	} else {
		const cJSON *errors = sg__wh_jget(payload, "errors");
		m->status = sg__wh_jtext(p, sg__wh_jget(to, "status"), &bad);
		m->status_code = sg__wh_jtext(p, error_code(SG__WH_TELNYX, errors, p, &bad), &bad);
	}
	if (!profile || !m->msg_id || !m->from || !m->to || !m->hint || !m->text || !m->status ||
	    !m->status_code)
		return -ENOMEM;
	if (bad) {
		*detail = "a Telnyx field has the wrong type";
		return SG_EJSON;
	}
	if (!*m->msg_id) {
		*detail = "no data.payload.id";
		return -EINVAL;
	}
	if (!*(m->kind == SG__WH_INBOUND ? m->from : m->to)) {
		*detail = m->kind == SG__WH_INBOUND ? "no payload.from.phone_number"
						    : "no payload.to[0].phone_number";
		return -EINVAL;
	}
	return 0;
}

int sg__wh_parse_telnyx(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	return sg__wh_parse_one_json(req, SG__WH_TELNYX, fill, out, err_detail);
}

/* ---- Ed25519 over "timestamp|body" -------------------------------------- */

/* DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410). */
static const unsigned char spki_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
					      0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

static int public_key(const char *b64, unsigned char pub[32])
{
	unsigned char raw[64];
	size_t n;
	if (sg__wh_b64_decode(b64, strlen(b64), raw, sizeof(raw), &n))
		return SG_ECONFIG;
	if (n == 32) {
		memcpy(pub, raw, 32);
		return 0;
	}
	if (n == 44 && memcmp(raw, spki_prefix, sizeof(spki_prefix)) == 0) {
		memcpy(pub, raw + 12, 32);
		return 0;
	}
	return SG_ECONFIG;
}

int sg__wh_verify_telnyx(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	unsigned char pub[32], sig[64];
	size_t siglen;

	if (!cfg || !cfg->public_key || !*cfg->public_key)
		return sg__wh_unsigned(cfg);
	int rc = public_key(cfg->public_key, pub);
	if (rc)
		return rc;
	const char *sig64 = sg__wh_header(req, "telnyx-signature-ed25519");
	const char *ts = sg__wh_header(req, "telnyx-timestamp");
	if (!sig64 || !ts) {
		sg__wh_say(req, "no telnyx-signature-ed25519 or telnyx-timestamp header");
		return SG_EBADSIG;
	}
	if (!sg__wh_fresh(cfg, req->now_s, ts)) {
		sg__wh_say(req, "telnyx-timestamp \"%.24s\" is not Unix seconds within the window (maxSkewSeconds) "
			   "of this host's clock: a replay, or a clock off", ts);
		return SG_EBADSIG;
	}
	if (sg__wh_b64_decode(sig64, strlen(sig64), sig, sizeof(sig), &siglen) || siglen != 64) {
		sg__wh_say(req, "telnyx-signature-ed25519 is not a base64 Ed25519 signature (64 bytes)");
		return SG_EBADSIG;
	}

	sg__buf msg = {0};
	sg__buf_adds(&msg, ts);
	sg__buf_add(&msg, "|", 1);
	sg__buf_add(&msg, req->body, req->body_len);
	rc = sg__buf_err(&msg) ? sg__buf_err(&msg) : sg__wh_ed25519_verify(pub, sig, msg.p, msg.len);
	sg__buf_free(&msg);
	if (rc == SG_EBADSIG)
		sg__wh_say(req, "the Ed25519 signature does not verify with the configured publicKey over "
			   "timestamp|body: is publicKey the one of this Telnyx account (Mission Control, Keys)?");
	return rc;
}
