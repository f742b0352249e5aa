/* SPDX-License-Identifier: Apache-2.0 */
/* Twilio Programmable Messaging: inbound messages, status callbacks and
 * X-Twilio-Signature (reference/webhooks.md §1). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wh_internal.h"

static unsigned to_uint(const char *s)
{
	unsigned long v = 0;
	for (; *s >= '0' && *s <= '9' && v < 100000; s++)
		v = v * 10 + (unsigned long)(*s - '0');
	return (unsigned)v;
}

int sg__wh_parse_twilio(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	sg__wh_parsed p = {.provider = SG__WH_TWILIO};
	sg__wh_form f;
	const char *detail = "out of memory";
	int rc = sg__wh_params(req, false, &f, &detail);
	if (rc)
		goto fail_noform;

	sg__wh_message *m = sg__wh_add(&p);
	if (!m) {
		rc = -ENOMEM;
		goto fail;
	}
	const char *status = sg__wh_form_get(&f, "MessageStatus", NULL);
	bool is_status = status && strcmp(status, "received") != 0 && strcmp(status, "receiving") != 0;
	const char *sid = "MessageSid";
	if (!sg__wh_form_get(&f, sid, NULL))
		sid = sg__wh_form_get(&f, "SmsMessageSid", NULL) ? "SmsMessageSid" : "SmsSid";

	m->kind = is_status ? SG__WH_STATUS : SG__WH_INBOUND;
	m->event_type = is_status ? "status" : "inbound";
	m->msg_id = sg__wh_fdup(&p, &f, sid, true, &rc);
	m->from = sg__wh_fdup(&p, &f, "From", true, &rc);
	m->to = sg__wh_fdup(&p, &f, "To", true, &rc);
	m->from_country = sg__wh_fdup(&p, &f, "FromCountry", true, &rc);
	m->to_country = sg__wh_fdup(&p, &f, "ToCountry", true, &rc);
	m->account = sg__wh_fdup(&p, &f, "AccountSid", true, &rc);
	m->group = sg__wh_fdup(&p, &f, "MessagingServiceSid", true, &rc);
	m->hint = sg__wh_fdup(&p, &f, "OptOutType", true, &rc);
	m->num_media = to_uint(sg__wh_fdup(&p, &f, "NumMedia", false, &rc));
	if (is_status) {
		m->status = sg__wh_fdup(&p, &f, "MessageStatus", true, &rc);
		m->status_code = sg__wh_fdup(&p, &f, "ErrorCode", true, &rc);
	} else {
		size_t len;
		const char *body = sg__wh_form_get(&f, "Body", &len);
		if (body) {
			m->text = sg__wh_dup(&p, body, len);
			m->text_len = len;
			if (!m->text)
				rc = -ENOMEM;
		}
	}
	if (rc) {
		detail = rc == -EINVAL ? "NUL byte in a Twilio id or number" : detail;
		goto fail;
	}
	if (!*m->msg_id) {
		rc = -EINVAL;
		detail = "no MessageSid";
		goto fail;
	}
	if (!*(is_status ? m->to : m->from)) {
		rc = -EINVAL;
		detail = is_status ? "status callback without To" : "message without From";
		goto fail;
	}
	rc = sg__wh_finish(&p, m);
	if (rc)
		goto fail;
	sg__wh_form_free(&f);
	*out = p;
	return 0;
fail:
	sg__wh_form_free(&f);
	sg__wh_parsed_free(&p);
fail_noform:
	if (err_detail)
		*err_detail = detail;
	return rc;
}

/* ---- X-Twilio-Signature ------------------------------------------------ */

/* The signed parameter string: sorted decoded pairs, key then value, no
 * separators, empty values kept. A repeated key (or one in both the query
 * and the body) is refused first: the parser reads one value of it. */
static int signed_params(const sg__wh_request *req, sg__wh_buf *b)
{
	sg__wh_form f;
	const char *detail;
	int rc = sg__wh_params(req, false, &f, &detail);
	if (rc)
		return rc == -EINVAL ? SG_EBADSIG : rc;
	if (!sg__wh_is_get(req)) {
		sg__wh_form_sort(&f);
		for (size_t i = 0; i < f.n; i++) {
			sg__wh_buf_add(b, f.pairs[i].key, f.pairs[i].key_len);
			sg__wh_buf_add(b, f.pairs[i].val, f.pairs[i].val_len);
		}
	}
	sg__wh_form_free(&f);
	return b->err;
}

/* Write the URL variants to try into v[] (each "url" + params). */
static size_t url_variants(const char *url, sg__wh_buf v[3])
{
	sg__wh_url u;
	size_t n = 1;
	char port[8];

	sg__wh_buf_adds(&v[0], url);
	if (!sg__wh_url_split(url, &u) || !u.default_port)
		return n;
	snprintf(port, sizeof(port), ":%d", u.default_port);
	if (u.port_colon) {
		size_t plen = u.auth_end - u.port_colon;
		if (plen == strlen(port) && memcmp(url + u.port_colon, port, plen) == 0) {
			sg__wh_buf_add(&v[n], url, u.port_colon);
			sg__wh_buf_adds(&v[n], url + u.auth_end);
			n++;
		}
	} else {
		sg__wh_buf_add(&v[n], url, u.auth_end);
		sg__wh_buf_adds(&v[n], port);
		sg__wh_buf_adds(&v[n], url + u.auth_end);
		n++;
	}
	return n;
}

int sg__wh_verify_twilio(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	if (!cfg || !cfg->secret || !*cfg->secret)
		return sg__wh_unsigned(cfg);
	const char *md = cfg->alg == SG__WH_ALG_DEFAULT || cfg->alg == SG__WH_ALG_HMAC_SHA1 ? "SHA1"
			 : cfg->alg == SG__WH_ALG_HMAC_SHA256			   ? "SHA256"
										   : NULL;
	if (!md)
		return SG_ECONFIG;
	const char *sig = sg__wh_header(req, "X-Twilio-Signature");
	if (!sig || !req->public_url)
		return SG_EBADSIG;

	sg__wh_buf params = {0}, v[3] = {{0}};
	size_t n = url_variants(req->public_url, v);
	int rc = signed_params(req, &params);
	bool ok = false;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char mac[SG__WH_MD_MAX];
		char b64[SG__WH_MD_MAX * 2];
		size_t mlen;
		sg__wh_buf_add(&v[i], params.p, params.len);
		rc = v[i].err;
		if (!rc)
			rc = sg__wh_hmac(md, cfg->secret, strlen(cfg->secret), v[i].p, v[i].len, mac,
					 &mlen);
		if (!rc) {
			size_t blen = sg__wh_b64_encode(mac, mlen, b64);
			ok |= sg__ct_equal(b64, blen, sig, strlen(sig));
		}
	}
	for (size_t i = 0; i < 3; i++)
		sg__wh_buf_free(&v[i]);
	sg__wh_buf_free(&params);
	if (rc)
		return rc;
	return ok ? 0 : SG_EBADSIG;
}
