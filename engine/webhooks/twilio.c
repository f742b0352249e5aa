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

static int twilio_params(const sg__wh_request *req, sg__wh_form *out, const char **detail)
{
	return sg__wh_params(req, false, out, detail);
}

static int fill(sg__wh_parsed *p, sg__wh_message *m, const sg__wh_form *f, const char **detail)
{
	int rc = 0;
	const char *status = sg__wh_form_get(f, "MessageStatus", NULL);
	bool is_status = status && strcmp(status, "received") != 0 && strcmp(status, "receiving") != 0;
	const char *sid = "MessageSid";
	if (!sg__wh_form_get(f, sid, NULL))
		sid = sg__wh_form_get(f, "SmsMessageSid", NULL) ? "SmsMessageSid" : "SmsSid";

	m->kind = is_status ? SG__WH_STATUS : SG__WH_INBOUND;
	m->event_type = is_status ? "status" : "inbound";
	m->msg_id = sg__wh_fdup(p, f, sid, true, &rc);
	m->from = sg__wh_fdup(p, f, "From", true, &rc);
	m->to = sg__wh_fdup(p, f, "To", true, &rc);
	m->from_country = sg__wh_fdup(p, f, "FromCountry", true, &rc);
	m->to_country = sg__wh_fdup(p, f, "ToCountry", true, &rc);
	m->account = sg__wh_fdup(p, f, "AccountSid", true, &rc);
	m->group = sg__wh_fdup(p, f, "MessagingServiceSid", true, &rc);
	m->hint = sg__wh_fdup(p, f, "OptOutType", true, &rc);
	m->num_media = to_uint(sg__wh_fdup(p, f, "NumMedia", false, &rc));
	if (is_status) {
		m->status = sg__wh_fdup(p, f, "MessageStatus", true, &rc);
		m->status_code = sg__wh_fdup(p, f, "ErrorCode", true, &rc);
	} else {
		size_t len;
		const char *body = sg__wh_form_get(f, "Body", &len);
		if (body) {
			m->text = sg__wh_dup(p, body, len);
			m->text_len = len;
			if (!m->text)
				rc = -ENOMEM;
		}
	}
	if (rc) {
		if (rc == -EINVAL)
			*detail = "NUL byte in a Twilio id or number";
		return rc;
	}
	if (!*m->msg_id) {
		*detail = "no MessageSid";
		return -EINVAL;
	}
	if (!*(is_status ? m->to : m->from)) {
		*detail = is_status ? "status callback without To" : "message without From";
		return -EINVAL;
	}
	return 0;
}

int sg__wh_parse_twilio(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	return sg__wh_parse_one_form(req, SG__WH_TWILIO, twilio_params, fill, out, err_detail);
}

/* ---- X-Twilio-Signature ------------------------------------------------ */

/* The signed parameter string: sorted decoded pairs, key then value, no
 * separators, empty values kept. A repeated key (or one in both the query
 * and the body) is refused first: the parser reads one value of it. */
static int signed_params(const sg__wh_request *req, sg__buf *b)
{
	sg__wh_form f;
	const char *detail;
	int rc = sg__wh_params(req, false, &f, &detail);
	if (rc)
		return rc == -EINVAL ? SG_EBADSIG : rc;
	if (!sg__wh_is_get(req)) {
		sg__wh_form_sort(&f);
		for (size_t i = 0; i < f.n; i++) {
			sg__buf_add(b, f.pairs[i].key, f.pairs[i].key_len);
			sg__buf_add(b, f.pairs[i].val, f.pairs[i].val_len);
		}
	}
	sg__wh_form_free(&f);
	return sg__buf_err(b);
}

/* Write the port variants of url into v[] (as given, then with the default
 * port removed or added); returns how many. */
static size_t port_variants(const char *url, sg__buf *v)
{
	sg__wh_url u;
	size_t n = 1;
	char port[8];

	sg__buf_adds(&v[0], url);
	if (!sg__wh_url_split(url, &u) || !u.default_port)
		return n;
	snprintf(port, sizeof(port), ":%d", u.default_port);
	if (u.port_colon) {
		size_t plen = u.auth_end - u.port_colon;
		if (plen == strlen(port) && memcmp(url + u.port_colon, port, plen) == 0) {
			sg__buf_add(&v[n], url, u.port_colon);
			sg__buf_adds(&v[n], url + u.auth_end);
			n++;
		}
	} else {
		sg__buf_add(&v[n], url, u.auth_end);
		sg__buf_adds(&v[n], port);
		sg__buf_adds(&v[n], url + u.auth_end);
		n++;
	}
	return n;
}

/* The query forms Twilio's own validators try: as received; with %21 %27
 * %28 %29 %2A unescaped (the legacy querystring form: '!'()*' stay raw);
 * with ' " < > space, controls and non-ASCII escaped (the WHATWG URL
 * form: "'" becomes %27). Each decodes to the same parameters. */
static size_t query_forms(const char *url, sg__buf *f)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *q = strchr(url, '?');
	sg__buf_adds(&f[0], url);
	if (!q)
		return 1;
	size_t head = (size_t)(q - url) + 1;
	sg__buf_add(&f[1], url, head);
	sg__buf_add(&f[2], url, head);
	for (const char *c = url + head; *c; c++) {
		unsigned char ch = (unsigned char)*c;
		int hi = ch == '%' ? sg__hexval((unsigned char)c[1]) : -1, lo = hi >= 0 ? sg__hexval((unsigned char)c[2]) : -1;
		int dec = hi >= 0 && lo >= 0 ? hi << 4 | lo : -1;
		if (dec == '!' || dec == '\'' || dec == '(' || dec == ')' || dec == '*') {
			char raw = (char)dec;
			sg__buf_add(&f[1], &raw, 1);
			sg__buf_add(&f[2], c, 3);
			c += 2;
			continue;
		}
		sg__buf_add(&f[1], c, 1);
		if (ch <= 0x20 || ch >= 0x7f || ch == '\'' || ch == '"' || ch == '<' || ch == '>') {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			sg__buf_add(&f[2], e, 3);
		} else {
			sg__buf_add(&f[2], c, 1);
		}
	}
	size_t n = 1;
	for (size_t i = 1; i < 3; i++) { /* keep only forms that differ */
		bool same = false;
		for (size_t j = 0; j < n; j++)
			same |= f[i].len == f[j].len && memcmp(f[i].p, f[j].p, f[i].len) == 0;
		if (!same && !sg__buf_err(&f[i])) {
			if (i != n) {
				sg__buf t = f[n];
				f[n] = f[i];
				f[i] = t;
			}
			n++;
		}
	}
	return n;
}

/* The key and hash: a Webhooks Rule signing key named by
 * X-Twilio-Webhooks-Signature-Settings ("key=<name>,algorithm=HMAC_SHA256"),
 * else the Auth Token. */
static int pick_key(const sg__wh_request *req, const sg__wh_provider_cfg *cfg, const char **secret,
		    const char **md)
{
	const char *settings = sg__wh_header(req, "X-Twilio-Webhooks-Signature-Settings");
	if (!settings) {
		*secret = cfg->secret;
		*md = cfg->alg == SG__WH_ALG_DEFAULT || cfg->alg == SG__WH_ALG_HMAC_SHA1 ? "SHA1"
		      : cfg->alg == SG__WH_ALG_HMAC_SHA256 ? "SHA256" : NULL;
		if (!*md)
			return SG_ECONFIG;
		if (!*secret || !**secret) {
			sg__wh_say(req, "no X-Twilio-Webhooks-Signature-Settings header, and no authToken is "
				   "configured");
			return SG_EBADSIG;
		}
		return 0;
	}
	char name[128] = "", alg[32] = "";
	for (const char *h = settings; *h;) {
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		size_t n = strcspn(h, ","), kl = strcspn(h, "=");
		if (kl < n) {
			const char *v = h + kl + 1;
			size_t vl = n - kl - 1;
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (kl == 3 && !strncasecmp(h, "key", 3) && vl < sizeof(name))
				snprintf(name, sizeof(name), "%.*s", (int)vl, v);
			else if (kl == 9 && !strncasecmp(h, "algorithm", 9) && vl < sizeof(alg))
				snprintf(alg, sizeof(alg), "%.*s", (int)vl, v);
		}
		h += n;
	}
	*md = !strcasecmp(alg, "HMAC_SHA256") ? "SHA256" : !strcasecmp(alg, "HMAC_SHA1") ? "SHA1" : NULL;
	*secret = NULL;
	for (size_t i = 0; i < cfg->nkeys && name[0]; i++)
		if (!strcmp(cfg->keys[i].name, name))
			*secret = cfg->keys[i].secret;
	if (!*md || !*secret) {
		for (char *c = name; *c; c++)
			if (*c <= 0x20 || *c >= 0x7f || *c == '"')
				*c = '?';
		if (!*md)
			sg__wh_say(req, "X-Twilio-Webhooks-Signature-Settings names no known algorithm "
				   "(HMAC_SHA256 or HMAC_SHA1)");
		else
			sg__wh_say(req, "X-Twilio-Webhooks-Signature-Settings names signing key \"%s\", which "
				   "is not in providers.twilio.signingKeys", name);
		return SG_EBADSIG;
	}
	return 0;
}

int sg__wh_verify_twilio(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	if (!cfg || ((!cfg->secret || !*cfg->secret) && !cfg->nkeys))
		return sg__wh_unsigned(cfg);
	const char *secret, *md;
	int rc = pick_key(req, cfg, &secret, &md);
	if (rc)
		return rc;
	const char *sig = sg__wh_header(req, "X-Twilio-Signature");
	if (!sig || !req->public_url) {
		sg__wh_say(req, "no X-Twilio-Signature header");
		return SG_EBADSIG;
	}

	sg__buf params = {0}, forms[3] = {{0}}, v[6] = {{0}};
	size_t nf = query_forms(req->public_url, forms), n = 0;
	for (size_t i = 0; i < nf; i++)
		if (!sg__buf_err(&forms[i]))
			n += port_variants(forms[i].p, v + n);
	rc = signed_params(req, &params);
	bool ok = false;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char mac[SG__WH_MD_MAX];
		char b64[SG__WH_MD_MAX * 2];
		size_t mlen;
		sg__buf_add(&v[i], params.p, params.len);
		rc = sg__buf_err(&v[i]);
		if (!rc)
			rc = sg__wh_hmac(md, secret, strlen(secret), v[i].p, v[i].len, mac, &mlen);
		if (!rc) {
			size_t blen = sg__wh_b64_encode(mac, mlen, b64);
			ok |= sg__ct_equal(b64, blen, sig, strlen(sig));
		}
	}
	for (size_t i = 0; i < 3; i++)
		sg__buf_free(&forms[i]);
	for (size_t i = 0; i < 6; i++)
		sg__buf_free(&v[i]);
	sg__buf_free(&params);
	if (rc)
		return rc;
	if (!ok)
		sg__wh_say(req, "X-Twilio-Signature does not match this request signed for %s: is the authToken "
			   "the account's, and publicBaseUrl the URL Twilio calls (scheme, host, port, path)?",
			   req->public_url);
	return ok ? 0 : SG_EBADSIG;
}
