/* SPDX-License-Identifier: Apache-2.0 */
/* AWS End User Messaging SMS via SNS: the envelope, the inner two-way SMS
 * payload and SNS RSA signatures (reference/webhooks.md §7). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "wh_internal.h"

static int inner(sg__wh_parsed *p, sg__wh_message *m, const cJSON *env, const char **detail)
{
	const char *msg = cJSON_GetStringValue(sg__wh_jget(env, "Message"));
	bool bad = false;
	if (!msg) {
		*detail = "no Message in an SNS notification";
		return SG_EJSON;
	}
	cJSON *in = NULL;
	const char *why = NULL;
	if (sg__wh_json_text(NULL, msg, strlen(msg), &in, &why) && why && strcmp(why, "malformed JSON") != 0) {
		*detail = "the SNS Message repeats a JSON key or has data after its value";
		return SG_EJSON; /* a payload that could be read two ways */
	}
	if (!cJSON_IsObject(in) || !sg__wh_jget(in, "originationNumber")) {
		cJSON_Delete(in);
		return 0; /* not a two-way SMS payload: something else on the topic */
	}
	m->kind = SG__WH_INBOUND;
	m->from = sg__wh_jtext(p, sg__wh_jget(in, "originationNumber"), &bad);
	m->to = sg__wh_jtext(p, sg__wh_jget(in, "destinationNumber"), &bad);
	m->msg_id = sg__wh_jtext(p, sg__wh_jget(in, "inboundMessageId"), &bad);
	m->text = sg__wh_jtext(p, sg__wh_jget(in, "messageBody"), &bad);
	m->text_len = m->text ? strlen(m->text) : 0;
	cJSON_Delete(in);
	if (!m->from || !m->to || !m->msg_id || !m->text)
		return -ENOMEM;
	if (bad) {
		*detail = "a field of the SNS SMS payload has the wrong type";
		return SG_EJSON;
	}
	if (!*m->msg_id || !*m->from) {
		*detail = !*m->msg_id ? "no inboundMessageId" : "no originationNumber";
		return -EINVAL;
	}
	return 0;
}

int sg__wh_parse_aws_sns(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail)
{
	sg__wh_parsed p = {.provider = SG__WH_AWS_SNS};
	const char *detail = "out of memory";
	cJSON *env = NULL;
	bool bad = false;
	int rc = sg__wh_json_parse(req, &env, &detail);
	if (rc)
		goto fail;
	sg__wh_message *m = sg__wh_add(&p);
	if (!m) {
		rc = -ENOMEM;
		goto fail;
	}
	const cJSON *type = sg__wh_jget(env, "Type");
	if (!cJSON_IsString(type)) {
		rc = SG_EJSON;
		detail = "no Type in the SNS envelope";
		goto fail;
	}
	m->event_type = sg__wh_jtext(&p, type, &bad);
	m->event_time_us = sg__wh_time(cJSON_GetStringValue(sg__wh_jget(env, "Timestamp")));
	if (strcmp(type->valuestring, "Notification") == 0)
		rc = inner(&p, m, env, &detail);
	else if (strcmp(type->valuestring, "SubscriptionConfirmation") == 0)
		m->confirm_url = sg__wh_jtext(&p, sg__wh_jget(env, "SubscribeURL"), &bad);
	if (!rc && (!m->event_type || !m->confirm_url))
		rc = -ENOMEM;
	if (!rc && bad) {
		rc = SG_EJSON;
		detail = "a field of the SNS envelope has the wrong type";
	}
	if (!rc)
		rc = sg__wh_finish(&p, m);
	if (rc)
		goto fail;
	cJSON_Delete(env);
	*out = p;
	return 0;
fail:
	cJSON_Delete(env);
	sg__wh_parsed_free(&p);
	if (err_detail)
		*err_detail = detail;
	return rc;
}

/* ---- signature --------------------------------------------------------- */

static int string_to_sign(const cJSON *env, sg__buf *b)
{
	static const char *const notification[] = {"Message", "MessageId", "Subject", "Timestamp",
						   "TopicArn", "Type", NULL};
	static const char *const confirmation[] = {"Message", "MessageId", "SubscribeURL", "Timestamp",
						   "Token", "TopicArn", "Type", NULL};
	const char *type = cJSON_GetStringValue(sg__wh_jget(env, "Type"));
	if (!type)
		return SG_EJSON;
	const char *const *keys = strcmp(type, "Notification") == 0 ? notification : confirmation;
	for (; *keys; keys++) {
		const cJSON *v = sg__wh_jget(env, *keys);
		if (!v && strcmp(*keys, "Subject") == 0)
			continue;
		if (!cJSON_IsString(v))
			return SG_EJSON;
		sg__buf_adds(b, *keys);
		sg__buf_add(b, "\n", 1);
		sg__buf_adds(b, v->valuestring);
		sg__buf_add(b, "\n", 1);
	}
	return sg__buf_err(b);
}

int sg__wh_sns_string_to_sign(const char *body, size_t len, char **ret, size_t *ret_len)
{
	sg__buf b = {0};
	cJSON *env = cJSON_ParseWithLengthOpts(body, len, NULL, 0);
	int rc = env ? string_to_sign(env, &b) : SG_EJSON;
	cJSON_Delete(env);
	if (rc) {
		sg__buf_free(&b);
		return rc;
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

/* https://sns.<region>.amazonaws.com/<path>.pem, or .amazonaws.com.cn (the
 * China regions), as AWS's own validators accept. */
static bool cert_url_ok(const char *url)
{
	static const char pre[] = "https://sns.", com[] = ".amazonaws.com", cn[] = ".cn";
	if (!url || strncmp(url, pre, sizeof(pre) - 1) != 0)
		return false;
	const char *region = url + sizeof(pre) - 1;
	size_t n = strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-");
	const char *rest = region + n;
	if (n < 3 || strncmp(rest, com, sizeof(com) - 1) != 0)
		return false;
	rest += sizeof(com) - 1;
	if (strncmp(rest, cn, sizeof(cn) - 1) == 0 && rest[sizeof(cn) - 1] == '/')
		rest += sizeof(cn) - 1;
	size_t ulen = strlen(url);
	return rest[0] == '/' && rest[1] && !strpbrk(rest, "?#@\\") && ulen > 4 &&
	       strcmp(url + ulen - 4, ".pem") == 0;
}

static EVP_PKEY *load_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = NULL;
	if (!bio)
		return NULL;
	X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert) {
		key = X509_get_pubkey(cert);
		X509_free(cert);
	} else if (BIO_reset(bio) == 1) {
		key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	}
	BIO_free(bio);
	return key;
}

bool sg__wh_sns_pem_ok(const char *pem)
{
	EVP_PKEY *key = pem ? load_key(pem) : NULL;
	EVP_PKEY_free(key);
	return key != NULL;
}

/* 0 valid, SG_EBADSIG not by this key, SG_ECONFIG unreadable PEM. */
static int verify_with(const char *pem, const char *md, const unsigned char *sig, size_t siglen,
		       const sg__buf *b)
{
	EVP_PKEY *key = load_key(pem);
	if (!key)
		return SG_ECONFIG;
	int rc = SG_EBADSIG;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		rc = -ENOMEM;
	else if (EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, key, NULL) == 1 &&
		 EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)b->p, b->len) == 1)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return rc;
}

int sg__wh_verify_aws_sns(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	unsigned char sig[1024];
	size_t siglen;
	sg__buf b = {0};
	const char *detail;
	cJSON *env = NULL;

	if (!cfg || ((!cfg->public_key || !*cfg->public_key) && !cfg->ncerts))
		return sg__wh_unsigned(cfg);
	int rc = sg__wh_json_parse(req, &env, &detail);
	if (rc) {
		if (rc == -ENOMEM)
			return rc;
		if (!req->why || !req->why[0])
			sg__wh_say(req, "SNS envelope: %s", detail);
		return SG_EBADSIG;
	}
	rc = SG_EBADSIG;
	const char *ver = cJSON_GetStringValue(sg__wh_jget(env, "SignatureVersion"));
	const char *sig64 = cJSON_GetStringValue(sg__wh_jget(env, "Signature"));
	const char *topic = cJSON_GetStringValue(sg__wh_jget(env, "TopicArn"));
	const char *url = cJSON_GetStringValue(sg__wh_jget(env, "SigningCertURL"));
	const char *ts = cJSON_GetStringValue(sg__wh_jget(env, "Timestamp"));
	const char *md = ver && strcmp(ver, "1") == 0 ? "SHA1" : ver && strcmp(ver, "2") == 0 ? "SHA256" : NULL;
	int64_t t_us = 0, window = cfg->max_skew_s > 0 ? cfg->max_skew_s : SG__WH_SNS_SKEW_S;
	if (!md || !sig64 || !topic || !url || !ts) {
		sg__wh_say(req, "SNS envelope without SignatureVersion 1 or 2, Signature, TopicArn, "
			   "SigningCertURL or Timestamp");
		goto out;
	}
	if (!cert_url_ok(url)) {
		sg__wh_say(req, "SigningCertURL is not an AWS SNS certificate URL "
			   "(https://sns.<region>.amazonaws.com[.cn]/...pem)");
		goto out;
	}
	if (cfg->topic_arn && strcmp(cfg->topic_arn, topic) != 0) {
		sg__wh_say(req, "TopicArn is not the configured topicArn");
		goto out;
	}
	if (sg_time_parse(ts, &t_us)) {
		sg__wh_say(req, "SNS Timestamp does not parse");
		goto out;
	}
	int64_t age = req->now_s - t_us / 1000000;
	if (age > window || -age > window) {
		sg__wh_say(req, "SNS Timestamp is %lld s from now, outside the %lld s window "
			   "(providers.aws-sns.maxSkewSeconds)", (long long)age, (long long)window);
		goto out;
	}
	if (sg__wh_b64_decode(sig64, strlen(sig64), sig, sizeof(sig), &siglen) || string_to_sign(env, &b)) {
		sg__wh_say(req, "SNS Signature is not base64, or a signed field is missing");
		goto out;
	}
	/* The certificates configured for this URL, then the ones for any URL. */
	bool known = false;
	for (int pass = 0; pass < 2 && rc; pass++) {
		for (size_t i = 0; i < cfg->ncerts && rc; i++) {
			const sg__wh_cert *c = &cfg->certs[i];
			if (pass == 0 ? !c->url || strcmp(c->url, url) != 0 : c->url != NULL)
				continue;
			known = true;
			rc = verify_with(c->pem, md, sig, siglen, &b);
		}
		if (pass == 1 && rc && cfg->public_key && *cfg->public_key) {
			known = true;
			rc = verify_with(cfg->public_key, md, sig, siglen, &b);
		}
	}
	if (rc == SG_EBADSIG) {
		char q[200];
		size_t n = strlen(url) < sizeof(q) - 1 ? strlen(url) : sizeof(q) - 1;
		for (size_t i = 0; i < n; i++)
			q[i] = url[i] > 0x20 && url[i] < 0x7f && url[i] != '"' ? url[i] : '?';
		q[n] = '\0';
		if (!known)
			sg__wh_say(req, "unknown SigningCertURL \"%s\": fetch it and add it to "
				   "providers.aws-sns.certificates", q);
		else
			sg__wh_say(req, "signature does not verify with the certificate%s for SigningCertURL "
				   "\"%s\" (rotated? add the new one to providers.aws-sns.certificates)",
				   cfg->ncerts > 1 ? "s" : "", q);
	}
out:
	sg__buf_free(&b);
	cJSON_Delete(env);
	return rc;
}
