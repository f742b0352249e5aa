/* SPDX-License-Identifier: Apache-2.0 */
/* Sinch SMS REST (XMS): mo_* inbound messages and per-recipient delivery
 * reports (reference/webhooks.md §6), and their authentication: the HMAC
 * callback signature (x-sinch-webhook-signature) and/or HTTP Basic. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "wh_internal.h"

static int fill(sg__wh_parsed *p, sg__wh_message *m, const cJSON *root, const char **detail)
{
	const cJSON *type = sg__wh_jget(root, "type");
	const char *t = cJSON_GetStringValue(type);
	bool bad = false;

	if (!t) {
		*detail = "no type in a Sinch callback";
		return SG_EJSON;
	}
	if (!(m->event_type = sg__wh_jtext(p, type, &bad)))
		return -ENOMEM;
	if (strcmp(t, "mo_text") == 0 || strcmp(t, "mo_binary") == 0 || strcmp(t, "mo_media") == 0) {
		const cJSON *body = sg__wh_jget(root, "body");
		m->kind = SG__WH_INBOUND;
		m->msg_id = sg__wh_jtext(p, sg__wh_jget(root, "id"), &bad);
		m->from = sg__wh_jtext(p, sg__wh_jget(root, "from"), &bad);
		m->to = sg__wh_jtext(p, sg__wh_jget(root, "to"), &bad);
		if (strcmp(t, "mo_text") == 0) {
			m->text = sg__wh_jtext(p, body, &bad);
		} else if (strcmp(t, "mo_media") == 0) {
			m->text = sg__wh_jtext(p, sg__wh_jget(body, "message"), &bad);
			m->num_media = (unsigned)cJSON_GetArraySize(sg__wh_jget(body, "media"));
		} /* mo_binary: no text */
		m->text_len = m->text ? strlen(m->text) : 0;
		m->event_time_us = sg__wh_time(cJSON_GetStringValue(sg__wh_jget(root, "received_at")));
	} else if (strcmp(t, "recipient_delivery_report_sms") == 0 ||
		   strcmp(t, "recipient_delivery_report_mms") == 0) {
		/* One batch id covers many recipients: the id is "batch/recipient". */
		const char *batch = sg__wh_jtext(p, sg__wh_jget(root, "batch_id"), &bad);
		m->kind = SG__WH_STATUS;
		m->to = sg__wh_jtext(p, sg__wh_jget(root, "recipient"), &bad);
		m->from = sg__wh_jtext(p, sg__wh_jget(root, "from"), &bad);
		m->status = sg__wh_jtext(p, sg__wh_jget(root, "status"), &bad);
		m->status_code = sg__wh_jtext(p, sg__wh_jget(root, "code"), &bad);
		m->event_time_us = sg__wh_time(cJSON_GetStringValue(sg__wh_jget(root, "at")));
		if (batch && m->to && *batch) {
			sg__buf id = {0};
			sg__buf_adds(&id, batch);
			sg__buf_add(&id, "/", 1);
			sg__buf_adds(&id, m->to);
			m->msg_id = sg__buf_err(&id) ? NULL : sg__wh_dup(p, id.p, id.len);
			sg__buf_free(&id);
		}
	} else {
		return 0; /* IGNORED, e.g. batch-level delivery_report_sms */
	}
	if (!m->msg_id || !m->from || !m->to || !m->text || !m->status || !m->status_code)
		return -ENOMEM;
	if (bad) {
		*detail = "a Sinch field has the wrong type";
		return SG_EJSON;
	}
	if (!*m->msg_id || !*(m->kind == SG__WH_INBOUND ? m->from : m->to)) {
		*detail = !*m->msg_id ? "no id / batch_id" : "no sender / recipient";
		return -EINVAL;
	}
	return 0;
}

int sg__wh_parse_sinch(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	return sg__wh_parse_one_json(req, SG__WH_SINCH, fill, out, err_detail);
}

/* ---- authentication ------------------------------------------------------ */

/*
 * x-sinch-webhook-signature = base64(HMAC(secret, body "." nonce "." timestamp)),
 * with x-sinch-webhook-signature-nonce, -timestamp (Unix seconds, checked
 * against the window) and -algorithm (HmacSHA256, the default, or
 * HmacSHA512). The secret is used as its UTF-8 bytes.
 */
static int check_hmac(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	const char *sig = sg__wh_header(req, "x-sinch-webhook-signature");
	const char *nonce = sg__wh_header(req, "x-sinch-webhook-signature-nonce");
	const char *ts = sg__wh_header(req, "x-sinch-webhook-signature-timestamp");
	const char *alg = sg__wh_header(req, "x-sinch-webhook-signature-algorithm");
	const char *md = !alg || !strcasecmp(alg, "HmacSHA256") ? "SHA256"
			 : !strcasecmp(alg, "HmacSHA512")	   ? "SHA512" : NULL;
	if (!sig || !nonce || !ts) {
		sg__wh_say(req, "no x-sinch-webhook-signature, -nonce or -timestamp header");
		return SG_EBADSIG;
	}
	if (!md) {
		sg__wh_say(req, "x-sinch-webhook-signature-algorithm is neither HmacSHA256 nor HmacSHA512");
		return SG_EBADSIG;
	}
	if (!sg__wh_fresh(cfg, req->now_s, ts)) {
		sg__wh_say(req, "x-sinch-webhook-signature-timestamp is not Unix seconds within the window "
			   "(providers.sinch.maxSkewSeconds)");
		return SG_EBADSIG;
	}
	sg__buf msg = {0};
	sg__buf_add(&msg, req->body, req->body_len);
	sg__buf_add(&msg, ".", 1);
	sg__buf_adds(&msg, nonce);
	sg__buf_add(&msg, ".", 1);
	sg__buf_adds(&msg, ts);
	unsigned char mac[SG__WH_MD_MAX];
	char b64[SG__WH_MD_MAX * 2];
	size_t mlen;
	int rc = sg__buf_err(&msg) ? sg__buf_err(&msg)
			 : sg__wh_hmac(md, cfg->secret, strlen(cfg->secret), msg.p, msg.len, mac, &mlen);
	sg__buf_free(&msg);
	if (rc)
		return rc;
	size_t blen = sg__wh_b64_encode(mac, mlen, b64);
	size_t slen = strlen(sig);
	while (slen && (sig[slen - 1] == ' ' || sig[slen - 1] == '\t'))
		slen--;
	if (!sg__ct_equal(b64, blen, sig, slen)) {
		sg__wh_say(req, "x-sinch-webhook-signature does not match body.nonce.timestamp signed with the "
			   "configured secret");
		return SG_EBADSIG;
	}
	return 0;
}

int sg__wh_verify_sinch(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	bool hmac = cfg && cfg->secret && *cfg->secret;
	bool basic = cfg && cfg->basic_user && *cfg->basic_user;
	if (!hmac && !basic)
		return sg__wh_unsigned(cfg);
	/* Both configured: both are required. */
	if (basic) {
		int rc = sg__wh_basic_check(req, cfg->basic_user, cfg->basic_pass);
		if (rc) {
			sg__wh_say(req, "HTTP Basic credentials missing or wrong");
			return rc;
		}
	}
	return hmac ? check_hmac(req, cfg) : 0;
}
