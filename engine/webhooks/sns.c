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
	cJSON *in = cJSON_ParseWithLengthOpts(msg, strlen(msg), NULL, 0);
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

static int string_to_sign(const cJSON *env, sg__wh_buf *b)
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
		sg__wh_buf_adds(b, *keys);
		sg__wh_buf_add(b, "\n", 1);
		sg__wh_buf_adds(b, v->valuestring);
		sg__wh_buf_add(b, "\n", 1);
	}
	return b->err;
}

int sg__wh_sns_string_to_sign(const char *body, size_t len, char **ret, size_t *ret_len)
{
	sg__wh_buf b = {0};
	cJSON *env = cJSON_ParseWithLengthOpts(body, len, NULL, 0);
	int rc = env ? string_to_sign(env, &b) : SG_EJSON;
	cJSON_Delete(env);
	if (rc) {
		sg__wh_buf_free(&b);
		return rc;
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

/* https://sns.<region>.amazonaws.com/<anything>.pem */
static bool cert_url_ok(const char *url)
{
	static const char pre[] = "https://sns.", suf[] = ".amazonaws.com/";
	if (!url || strncmp(url, pre, sizeof(pre) - 1) != 0)
		return false;
	const char *region = url + sizeof(pre) - 1;
	size_t n = strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-");
	size_t ulen = strlen(url);
	return n > 0 && strncmp(region + n, suf, sizeof(suf) - 1) == 0 && ulen > 4 &&
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

int sg__wh_verify_aws_sns(const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	unsigned char sig[1024];
	size_t siglen;
	sg__wh_buf b = {0};

	if (!cfg || !cfg->public_key || !*cfg->public_key)
		return sg__wh_unsigned(cfg);
	cJSON *env = cJSON_ParseWithLengthOpts(req->body ? req->body : "", req->body_len, NULL, 0);
	const char *ver = cJSON_GetStringValue(sg__wh_jget(env, "SignatureVersion"));
	const char *sig64 = cJSON_GetStringValue(sg__wh_jget(env, "Signature"));
	const char *topic = cJSON_GetStringValue(sg__wh_jget(env, "TopicArn"));
	const char *md = ver && strcmp(ver, "1") == 0 ? "SHA1" : ver && strcmp(ver, "2") == 0 ? "SHA256" : NULL;
	int rc = SG_EBADSIG;
	if (!env || !md || !sig64 || !topic ||
	    !cert_url_ok(cJSON_GetStringValue(sg__wh_jget(env, "SigningCertURL"))) ||
	    (cfg->topic_arn && strcmp(cfg->topic_arn, topic) != 0) ||
	    sg__wh_b64_decode(sig64, strlen(sig64), sig, sizeof(sig), &siglen) ||
	    string_to_sign(env, &b))
		goto out;
	EVP_PKEY *key = load_key(cfg->public_key);
	if (!key) {
		rc = SG_ECONFIG;
		goto out;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, key, NULL) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)b.p, b.len) == 1)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
out:
	sg__wh_buf_free(&b);
	cJSON_Delete(env);
	return rc;
}
