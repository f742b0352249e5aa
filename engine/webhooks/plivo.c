/* SPDX-License-Identifier: Apache-2.0 */
/* Plivo: inbound messages, status callbacks and X-Plivo-Signature-V3
 * (reference/webhooks.md §4). The legacy V2 signs no body: refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wh_internal.h"

static int plivo_params(const sg__wh_request *req, sg__wh_form *out, const char **detail)
{
	return sg__wh_params(req, true, out, detail);
}

static int fill(sg__wh_parsed *p, sg__wh_message *m, const sg__wh_form *f, const char **detail)
{
	int rc = 0;
	const char *text_key = sg__wh_form_get(f, "Text", NULL) ? "Text" : "Body";
	bool is_status = sg__wh_form_get(f, "Status", NULL) && !sg__wh_form_get(f, text_key, NULL);
	m->kind = is_status ? SG__WH_STATUS : SG__WH_INBOUND;
	m->event_type = is_status ? "status" : "inbound";
	m->msg_id = sg__wh_fdup(p, f, "MessageUUID", true, &rc);
	m->from = sg__wh_fdup(p, f, "From", true, &rc);
	m->to = sg__wh_fdup(p, f, "To", true, &rc);
	m->group = sg__wh_fdup(p, f, "PowerpackUUID", true, &rc);
	m->num_media = (unsigned)strtoul(sg__wh_fdup(p, f, "MediaCount", false, &rc), NULL, 10);
	if (is_status) {
		m->status = sg__wh_fdup(p, f, "Status", true, &rc);
		m->status_code = sg__wh_fdup(p, f, "ErrorCode", true, &rc);
	} else {
		m->hint = sg__wh_fdup(p, f, "MessageIntent", true, &rc);
		m->text = sg__wh_fdup(p, f, text_key, false, &rc);
		sg__wh_form_get(f, text_key, &m->text_len);
	}
	if (rc) {
		if (rc == -EINVAL)
			*detail = "NUL byte in a Plivo id or number";
		return rc;
	}
	if (!*m->msg_id || !*(is_status ? m->to : m->from)) {
		*detail = !*m->msg_id ? "no MessageUUID" : is_status ? "no To" : "no From";
		return -EINVAL;
	}
	return 0;
}

int sg__wh_parse_plivo(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	return sg__wh_parse_one_form(req, SG__WH_PLIVO, plivo_params, fill, out, err_detail);
}

/* ---- signatures -------------------------------------------------------- */

/* V3 signed URL: base "?" Q ["." P] (see webhooks.md §4 step 3). */
static int v3_base(const sg__wh_request *req, const sg__wh_url *u, sg__buf *b)
{
	sg__wh_form q = {0}, body = {0};
	const char *url = req->public_url;
	int rc = 0;

	sg__buf_add(b, url, u->path_end);
	if (url[u->path_end] == '?')
		rc = sg__wh_form_decode(url + u->path_end + 1, strcspn(url + u->path_end + 1, "#"), &q);
	if (!rc && !sg__wh_is_get(req))
		rc = sg__wh_form_decode(req->body, req->body_len, &body);
	if (rc)
		goto out;
	sg__wh_form_sort(&q);
	sg__wh_form_sort(&body);
	if (q.n || body.n)
		sg__buf_add(b, "?", 1);
	for (size_t i = 0; i < q.n; i++) {
		if (i)
			sg__buf_add(b, "&", 1);
		sg__buf_add(b, q.pairs[i].key, q.pairs[i].key_len);
		sg__buf_add(b, "=", 1);
		sg__buf_add(b, q.pairs[i].val, q.pairs[i].val_len);
	}
	if (q.n && body.n)
		sg__buf_add(b, ".", 1);
	for (size_t i = 0; i < body.n; i++) {
		sg__buf_add(b, body.pairs[i].key, body.pairs[i].key_len);
		sg__buf_add(b, body.pairs[i].val, body.pairs[i].val_len);
	}
	rc = sg__buf_err(b);
out:
	sg__wh_form_free(&q);
	sg__wh_form_free(&body);
	return rc;
}

/* HMAC-SHA256 of msg, base64, against any comma-separated header value. */
static int match_any(const char *token, const sg__buf *msg, const char *header)
{
	unsigned char mac[SG__WH_MD_MAX];
	char want[SG__WH_MD_MAX * 2];
	size_t mlen;
	int rc = sg__wh_hmac("SHA256", token, strlen(token), msg->p, msg->len, mac, &mlen);
	if (rc)
		return rc;
	size_t wlen = sg__wh_b64_encode(mac, mlen, want);
	bool ok = false;
	for (const char *h = header; *h;) {
		size_t n = strcspn(h, ",");
		const char *v = h;
		size_t vlen = n;
		while (vlen && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		ok |= sg__ct_equal(want, wlen, v, vlen);
		h += n + (h[n] == ',');
	}
	return ok ? 0 : SG_EBADSIG;
}

int sg__wh_verify_plivo(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	sg__wh_url u;
	sg__buf b = {0};
	int rc;

	if (!cfg || !cfg->secret || !*cfg->secret)
		return sg__wh_unsigned(cfg);
	if (!req->public_url || !sg__wh_url_split(req->public_url, &u)) {
		sg__wh_say(req, "no publicBaseUrl: Plivo signs the URL it calls, set publicBaseUrl to it");
		return SG_EBADSIG;
	}
	/* A repeated parameter, or one in both the query and the body: the
	 * parser reads one value of it, the signature covers all. */
	sg__wh_form all;
	const char *detail;
	rc = sg__wh_params(req, true, &all, &detail);
	if (rc)
		return rc == -EINVAL ? SG_EBADSIG : rc;
	sg__wh_form_free(&all);
	const char *v3 = sg__wh_header(req, "X-Plivo-Signature-V3");
	const char *v3n = sg__wh_header(req, "X-Plivo-Signature-V3-Nonce");
	/* Only V3: the legacy V2 covers scheme://host/path and a nonce, never
	 * the body, so one captured request would sign any body. */
	if (!v3 || !v3n) {
		sg__wh_say(req, "no X-Plivo-Signature-V3 / -V3-Nonce header%s",
			   sg__wh_header(req, "X-Plivo-Signature-V2") ? " (V2 signatures cover no body and "
									 "are not accepted)" : "");
		return SG_EBADSIG;
	}
	rc = v3_base(req, &u, &b);
	sg__buf_add(&b, ".", 1);
	sg__buf_adds(&b, v3n);
	if (!rc)
		rc = sg__buf_err(&b);
	if (!rc)
		rc = match_any(cfg->secret, &b, v3);
	sg__buf_free(&b);
	if (rc == SG_EBADSIG)
		sg__wh_say(req, "X-Plivo-Signature-V3 does not match this request signed for %s: is the authToken "
			   "the account's, and publicBaseUrl the URL Plivo calls?", req->public_url);
	return rc;
}
