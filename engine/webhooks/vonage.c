/* SPDX-License-Identifier: Apache-2.0 */
/* Vonage SMS API: inbound messages (GET, form or JSON), delivery receipts and
 * the signed `sig` parameter (reference/webhooks.md §5). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wh_internal.h"

/* A flat JSON object as form pairs (strings, numbers, booleans, null as ""). */
static int json_params(const sg__wh_request *req, sg__wh_form *out, const char **detail)
{
	cJSON *root = NULL;
	sg__wh_parsed strings = {0};
	int rc = sg__wh_json_parse(req, &root, detail);
	if (rc)
		return rc;
	if (!cJSON_IsObject(root)) {
		*detail = "a Vonage JSON callback is an object";
		cJSON_Delete(root);
		return SG_EJSON;
	}
	/* Render values first, then copy keys and values into one buffer. */
	size_t n = (size_t)cJSON_GetArraySize(root), total = 0, i = 0;
	const char **vals = calloc(n ? n : 1, sizeof(*vals));
	const cJSON *it, *obj = vals ? root : NULL;
	rc = vals ? 0 : -ENOMEM;
	cJSON_ArrayForEach(it, obj)
	{
		bool bad = false;
		vals[i] = cJSON_IsBool(it) ? (cJSON_IsTrue(it) ? "true" : "false")
					   : sg__wh_jtext(&strings, it, &bad);
		if (!vals[i])
			rc = -ENOMEM;
		else if (!bad && it->string)
			total += strlen(it->string) + strlen(vals[i]) + 2;
		else
			vals[i] = NULL; /* nested objects and arrays carry nothing we use */
		i++;
	}
	sg__wh_form f = {0};
	if (!rc) {
		f.pairs = calloc(n ? n : 1, sizeof(*f.pairs));
		f.buf_ = malloc(total + 1);
		rc = f.pairs && f.buf_ ? 0 : -ENOMEM;
	}
	char *w = f.buf_;
	i = 0;
	obj = rc ? NULL : root;
	cJSON_ArrayForEach(it, obj)
	{
		if (vals[i]) {
			sg__wh_pair *pr = &f.pairs[f.n++];
			pr->key_len = strlen(it->string);
			pr->key = memcpy(w, it->string, pr->key_len + 1);
			w += pr->key_len + 1;
			pr->val_len = strlen(vals[i]);
			pr->val = memcpy(w, vals[i], pr->val_len + 1);
			w += pr->val_len + 1;
		}
		i++;
	}
	free(vals);
	sg__wh_parsed_free(&strings);
	cJSON_Delete(root);
	if (rc) {
		sg__wh_form_free(&f);
		*detail = "out of memory";
		return rc;
	}
	*out = f;
	return 0;
}

static int params(const sg__wh_request *req, sg__wh_form *out, const char **detail)
{
	if (!sg__wh_is_get(req) && req->body_len && sg__wh_is_json(req))
		return json_params(req, out, detail);
	return sg__wh_params(req, true, out, detail);
}

static int fill(sg__wh_parsed *p, sg__wh_message *m, const sg__wh_form *f, const char **detail)
{
	int rc = 0;
	const char *msisdn = sg__wh_fdup(p, f, "msisdn", true, &rc);
	const char *to = sg__wh_fdup(p, f, "to", true, &rc);
	bool is_dlr = sg__wh_form_get(f, "err-code", NULL) || sg__wh_form_get(f, "status", NULL);
	m->msg_id = sg__wh_fdup(p, f, "messageId", true, &rc);
	m->account = sg__wh_fdup(p, f, "api-key", true, &rc);
	m->event_time_us = sg__wh_time(sg__wh_fdup(p, f, "message-timestamp", false, &rc));
	if (rc)
		goto bad_field;
	if (!*msisdn && !*to) {
		m->event_type = "url-check"; /* IGNORED: answer 200 */
		return 0;
	}
	m->kind = is_dlr ? SG__WH_STATUS : SG__WH_INBOUND;
	m->event_type = is_dlr ? "status" : "inbound";
	if (is_dlr) {
		/* A receipt's msisdn is the handset we sent to; `to` is our sender. */
		m->to = msisdn;
		m->from = to;
		m->status = sg__wh_fdup(p, f, "status", true, &rc);
		m->status_code = sg__wh_fdup(p, f, "err-code", true, &rc);
	} else {
		m->from = msisdn;
		m->to = to;
		m->text = sg__wh_fdup(p, f, "text", false, &rc);
		sg__wh_form_get(f, "text", &m->text_len);
		m->concat_ref = sg__wh_fdup(p, f, "concat-ref", true, &rc);
		m->concat_part = (unsigned)strtoul(sg__wh_fdup(p, f, "concat-part", false, &rc), NULL, 10);
		m->concat_total = (unsigned)strtoul(sg__wh_fdup(p, f, "concat-total", false, &rc), NULL, 10);
	}
	if (rc)
		goto bad_field;
	if (!*m->msg_id || !*msisdn) {
		*detail = !*m->msg_id ? "no messageId" : "no msisdn";
		return -EINVAL;
	}
	return 0;
bad_field:
	*detail = rc == -EINVAL ? "NUL byte in a Vonage id or number" : "out of memory";
	return rc;
}

int sg__wh_parse_vonage(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	return sg__wh_parse_one_form(req, SG__WH_VONAGE, params, fill, out, err_detail);
}

/* ---- sig --------------------------------------------------------------- */

/* "&key=value" per key (sorted, sig left out), '&' and '=' in values -> '_'.
 * Every key is unique here: params() refuses a repeated one, which Vonage's
 * scheme cannot sign unambiguously (the signer and the parser would read
 * different values of it). */
static void signed_string(sg__wh_form *f, sg__buf *b)
{
	sg__wh_form_sort(f);
	for (size_t i = 0; i < f->n; i++) {
		const sg__wh_pair *a = &f->pairs[i];
		if (a->key_len == 3 && memcmp(a->key, "sig", 3) == 0)
			continue;
		sg__buf_add(b, "&", 1);
		sg__buf_add(b, a->key, a->key_len);
		sg__buf_add(b, "=", 1);
		for (size_t j = 0; j < a->val_len; j++)
			sg__buf_add(b, a->val[j] == '&' || a->val[j] == '=' ? "_" : &a->val[j], 1);
	}
}

int sg__wh_verify_vonage(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	static const char *const md_names[] = {
		[SG__WH_ALG_DEFAULT] = "MD5",     [SG__WH_ALG_MD5HASH] = "MD5",
		[SG__WH_ALG_HMAC_MD5] = "MD5",    [SG__WH_ALG_HMAC_SHA1] = "SHA1",
		[SG__WH_ALG_HMAC_SHA256] = "SHA256", [SG__WH_ALG_HMAC_SHA512] = "SHA512",
	};
	const char *detail;
	sg__wh_form f;
	sg__buf s = {0};

	if (!cfg || !cfg->secret || !*cfg->secret)
		return sg__wh_unsigned(cfg);
	if ((unsigned)cfg->alg >= SG_ARRAY_SIZE(md_names))
		return SG_ECONFIG;
	int rc = params(req, &f, &detail);
	if (rc)
		return rc == -ENOMEM ? rc : SG_EBADSIG;
	size_t siglen;
	const char *sig = sg__wh_form_get(&f, "sig", &siglen);
	const char *ts = sg__wh_form_get(&f, "timestamp", NULL);
	if (!sig || !sg__wh_fresh(cfg, req->now_s, ts)) {
		if (!sig)
			sg__wh_say(req, "no sig parameter (signed SMS is off for this account, or not this request)");
		else
			sg__wh_say(req, "timestamp \"%.24s\" is not Unix seconds within the window (maxSkewSeconds) of "
				   "this host's clock: a replay, or a clock off", ts ? ts : "");
		sg__wh_form_free(&f);
		return SG_EBADSIG;
	}
	signed_string(&f, &s);
	unsigned char md[SG__WH_MD_MAX];
	char hex[2 * SG__WH_MD_MAX + 1];
	size_t mlen = 0;
	const char *name = md_names[cfg->alg];
	rc = sg__buf_err(&s);
	if (!rc && (cfg->alg == SG__WH_ALG_DEFAULT || cfg->alg == SG__WH_ALG_MD5HASH)) {
		sg__buf_adds(&s, cfg->secret);
		rc = sg__buf_err(&s) ? sg__buf_err(&s) : sg__wh_digest(name, s.p, s.len, md, &mlen);
	} else if (!rc) {
		rc = sg__wh_hmac(name, cfg->secret, strlen(cfg->secret), s.p, s.len, md, &mlen);
	}
	if (!rc) {
		sg__wh_hex(md, mlen, hex);
		rc = sg__wh_ct_equal_nocase(hex, 2 * mlen, sig, siglen) ? 0 : SG_EBADSIG;
		if (rc)
			sg__wh_say(req, "sig does not match the parameters signed with the configured secret "
				   "(signatureMethod %s): is it the account's signature secret and method?", name);
	}
	sg__buf_free(&s);
	sg__wh_form_free(&f);
	return rc;
}
