/* SPDX-License-Identifier: Apache-2.0 */
/* Provider webhook settings: the config's "providers" object plus
 * environment overrides for the secrets, checked once at start so that a
 * bad key stops the daemon with a clear message instead of failing every
 * webhook later. Secrets are never logged; they are wiped when freed.
 *
 *   "providers": {
 *     "twilio":    {"authToken": "...", "replyWithTwiml": false,
 *                   "signingKeys": {"<key name>": "<secret>", ...}},
 *     "telnyx":    {"publicKey": "<base64 Ed25519>", "maxSkewSeconds": 300},
 *     "bandwidth": {"username": "...", "password": "..."},
 *     "plivo":     {"authToken": "..."},   (V3 signatures only)
 *     "vonage":    {"signatureSecret": "...", "signatureMethod": "md5hash",
 *                   "maxSkewSeconds": 300, "concatTimeoutSeconds": 120},
 *     "sinch":     {"signingSecret": "...", "maxSkewSeconds": 300,
 *                   "username": "...", "password": "..."},
 *     "aws-sns":   {"certificates": {"<SigningCertURL>": "-----BEGIN CERTIFICATE-----...", ...},
 *                   "topicArn": "arn:...", "maxSkewSeconds": 3600}
 *                  ("certificate": one PEM for any SigningCertURL, the older form)
 *   }
 * and "country" in any of them: the default country of our numbers when
 * the provider sends bare digits or short codes (Plivo, Vonage, Sinch).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "config/provider_settings.h"
#include "wh.h"

static const struct {
	const char *name;
	sg__wh_alg alg;
} vonage_methods[] = {
	{"md5hash", SG__WH_ALG_MD5HASH}, {"md5", SG__WH_ALG_HMAC_MD5},
	{"sha1", SG__WH_ALG_HMAC_SHA1},  {"sha256", SG__WH_ALG_HMAC_SHA256},
	{"sha512", SG__WH_ALG_HMAC_SHA512},
};

static struct {
	sg__wh_settings p[SG__WH_PROVIDER_MAX];
	char *str[SG__WH_PROVIDER_MAX][SG__WH_S_NSTR];
	/* aws-sns certificates / twilio signing keys: name-value pairs (URL
	 * and PEM, key name and secret), strings owned, values wiped when freed */
	sg__wh_cert *certs;
	size_t ncerts;
	sg__wh_named_key *keys;
	size_t nkeys;
	int64_t test_clock_s;
	int64_t concat_timeout_us;
} wh = {.concat_timeout_us = SG__WH_CONCAT_TIMEOUT_S * 1000000LL};

static void set_str(sg__wh_provider p, sg__wh_slot slot, const char *value)
{
	char *old = wh.str[p][slot];
	if (old) {
		explicit_bzero(old, strlen(old));
		free(old);
	}
	wh.str[p][slot] = value ? strdup(value) : NULL;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* providers.<name>.certificates / signingKeys: an object of strings. */
static int apply_pairs(sg__wh_provider p, const sg__wh_setting *s, const cJSON *v, char *err, size_t errlen)
{
	const char *name = sg__wh_provider_name(p);
	size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
	if (!cJSON_IsObject(v) || n == 0) {
		snprintf(err, errlen, "providers.%s.%s: an object of %s", name, s->key,
			 s->slot == SG__WH_S_CERTS ? "\"<SigningCertURL>\": \"<PEM certificate>\" pairs"
					    : "\"<key name>\": \"<secret>\" pairs");
		return -1;
	}
	char **a = calloc(2 * n, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, v)
	{
		if (!cJSON_IsString(it) || !it->valuestring[0] || !it->string[0]) {
			snprintf(err, errlen, "providers.%s.%s.\"%.60s\": must be a non-empty string", name,
				 s->key, it->string);
			goto fail;
		}
		if (s->slot == SG__WH_S_CERTS && strncmp(it->string, "https://", 8) != 0) {
			snprintf(err, errlen, "providers.%s.certificates: the names are the SigningCertURLs "
				 "(https://sns.<region>.amazonaws.com/...pem), not \"%.60s\"", name, it->string);
			goto fail;
		}
		if (s->slot == SG__WH_S_CERTS && !sg__wh_sns_pem_ok(it->valuestring)) {
			snprintf(err, errlen, "providers.%s.certificates.\"%.100s\": not a readable PEM "
				 "certificate", name, it->string);
			goto fail;
		}
		a[2 * i] = strdup(it->string);
		a[2 * i + 1] = strdup(it->valuestring);
		if (!a[2 * i] || !a[2 * i + 1]) {
			snprintf(err, errlen, "out of memory");
			i++;
			goto fail;
		}
		i++;
	}
	if (s->slot == SG__WH_S_CERTS) {
		wh.certs = calloc(n, sizeof(*wh.certs));
		for (size_t j = 0; wh.certs && j < n; j++)
			wh.certs[j] = (sg__wh_cert){.url = a[2 * j], .pem = a[2 * j + 1]};
		wh.ncerts = wh.certs ? n : 0;
	} else {
		wh.keys = calloc(n, sizeof(*wh.keys));
		for (size_t j = 0; wh.keys && j < n; j++)
			wh.keys[j] = (sg__wh_named_key){.name = a[2 * j], .secret = a[2 * j + 1]};
		wh.nkeys = wh.keys ? n : 0;
	}
	if ((s->slot == SG__WH_S_CERTS && !wh.certs) || (s->slot == SG__WH_S_KEYS && !wh.keys)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	free(a);
	return 0;
fail:
	for (size_t j = 0; j < 2 * i; j++)
		wipe_free(a[j]);
	free(a);
	return -1;
}

/* One member of providers.<name>; 0 or -1 with err written. */
static int apply(sg__wh_provider p, const sg__wh_setting *s, const cJSON *v, char *err, size_t errlen)
{
	const char *name = sg__wh_provider_name(p);
	switch (s->slot) {
	case SG__WH_S_REMOVED:
		snprintf(err, errlen, "providers.plivo.allowV2Signatures: removed: V2 signatures do not cover "
			 "the body, so one captured request would sign any opt-in. Plivo sends a V3 signature "
			 "with every callback: delete the key");
		return -1;
	case SG__WH_S_CERTS:
	case SG__WH_S_KEYS:
		return apply_pairs(p, s, v, err, errlen);
	case SG__WH_S_TWIML:
		if (!cJSON_IsBool(v))
			goto type;
		wh.p[p].reply_with_twiml = cJSON_IsTrue(v);
		return 0;
	case SG__WH_S_SKEW:
	case SG__WH_S_CONCAT: {
		double lo = s->slot == SG__WH_S_SKEW ? 1 : 5, hi = s->slot == SG__WH_S_SKEW ? 86400 : 3600;
		if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
		    v->valuedouble != (double)(long long)v->valuedouble) {
			snprintf(err, errlen, "providers.%s.%s: a whole number of seconds from %.0f to %.0f",
				 name, s->key, lo, hi);
			return -1;
		}
		if (s->slot == SG__WH_S_SKEW)
			wh.p[p].cfg.max_skew_s = (int64_t)v->valuedouble;
		else
			wh.concat_timeout_us = (int64_t)v->valuedouble * 1000000LL;
		return 0;
	}
	default:
		break;
	}
	if (!cJSON_IsString(v))
		goto type;
	const char *str = v->valuestring;
	if (s->slot == SG__WH_S_COUNTRY) {
		if (strlen(str) != 2 || str[0] < 'A' || str[0] > 'Z' || str[1] < 'A' || str[1] > 'Z') {
			snprintf(err, errlen, "providers.%s.country: an ISO 3166 code such as \"US\"", name);
			return -1;
		}
		memcpy(wh.p[p].country, str, 3);
		return 0;
	}
	if (s->slot == SG__WH_S_METHOD) {
		for (size_t i = 0; i < SG_ARRAY_SIZE(vonage_methods); i++)
			if (strcmp(str, vonage_methods[i].name) == 0) {
				wh.p[p].cfg.alg = vonage_methods[i].alg;
				return 0;
			}
		snprintf(err, errlen, "providers.%s.signatureMethod: md5hash, md5, sha1, sha256 or sha512",
			 name);
		return -1;
	}
	if (!str[0]) {
		snprintf(err, errlen, "providers.%s.%s: empty (leave it out instead)", name, s->key);
		return -1;
	}
	set_str(p, s->slot, str);
	return 0;
type:
	snprintf(err, errlen, "providers.%s.%s: must be a %s", name, s->key,
		 s->slot == SG__WH_S_TWIML ? "boolean" : "string");
	return -1;
}

static int parse_providers(const cJSON *providers, char *err, size_t errlen)
{
	const cJSON *obj;
	cJSON_ArrayForEach(obj, providers) {
		sg__wh_provider p;
		if (sg__wh_provider_parse(obj->string, &p)) {
			snprintf(err, errlen, "providers: unknown provider \"%.40s\" (twilio, telnyx, bandwidth, "
				 "plivo, vonage, sinch, aws-sns)", obj->string);
			return -1;
		}
		if (!cJSON_IsObject(obj)) {
			snprintf(err, errlen, "providers.%s: must be an object", obj->string);
			return -1;
		}
		const cJSON *v;
		cJSON_ArrayForEach(v, obj) {
			const sg__wh_setting *s = NULL;
			for (size_t i = 0; i < sg__wh_setting_count && !s; i++)
				if ((!sg__wh_setting_table[i].p || sg__wh_setting_table[i].p == p) && !strcmp(sg__wh_setting_table[i].key, v->string))
					s = &sg__wh_setting_table[i];
			if (!s) {
				const char *keys[SG__WH_SETTINGS_MAX];
				size_t n = sg__wh_setting_keys(p, keys, SG_ARRAY_SIZE(keys));
				const char *near = sg__config_nearest(v->string, keys, n);
				snprintf(err, errlen, "providers.%s: unknown setting \"%.40s\"%s%s%s", obj->string,
					 v->string, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
				return -1;
			}
			if (apply(p, s, v, err, errlen))
				return -1;
		}
	}
	return 0;
}

/* Secrets from the environment override the file (so the file need not
 * hold them). */
static void apply_env(void)
{
	for (size_t i = 0; i < sg__wh_setting_count; i++) {
		const char *v = sg__wh_setting_table[i].env ? getenv(sg__wh_setting_table[i].env) : NULL;
		if (v && v[0])
			set_str(sg__wh_setting_table[i].p, sg__wh_setting_table[i].slot, v);
	}
}

/* Wire the owned strings into the verify config and check them. */
static int finish(const sg__config *cfg, sg__wh_provider p, char *err, size_t errlen)
{
	sg__wh_settings *s = &wh.p[p];
	char **str = wh.str[p];
	const char *name = sg__wh_provider_name(p);
	s->cfg.secret = str[SG__WH_S_SECRET];
	s->cfg.public_key = str[SG__WH_S_PUBKEY];
	s->cfg.basic_user = str[SG__WH_S_USER];
	s->cfg.basic_pass = str[SG__WH_S_PASS];
	s->cfg.topic_arn = str[SG__WH_S_TOPIC];
	if (p == SG__WH_AWS_SNS) {
		s->cfg.certs = wh.certs;
		s->cfg.ncerts = wh.ncerts;
	}
	if (p == SG__WH_TWILIO) {
		s->cfg.keys = wh.keys;
		s->cfg.nkeys = wh.nkeys;
	}
	if (!str[SG__WH_S_USER] != !str[SG__WH_S_PASS]) {
		snprintf(err, errlen, "providers.%s: username and password go together", name);
		return -1;
	}
	s->has_credentials = str[SG__WH_S_SECRET] || str[SG__WH_S_PUBKEY] || str[SG__WH_S_USER] || s->cfg.ncerts ||
			     s->cfg.nkeys;
	s->cfg.allow_unsigned = !s->has_credentials && cfg->allow_unsigned_webhooks;
	if (!s->has_credentials)
		return 0;
	if ((p == SG__WH_TWILIO || p == SG__WH_PLIVO) && !cfg->public_base_url[0]) {
		snprintf(err, errlen, "providers.%s: its signatures cover the URL it calls: set "
			 "publicBaseUrl (e.g. \"https://optout.example.com\")", name);
		return -1;
	}
	if (p == SG__WH_TELNYX) {
		/* A probe: the key is decoded before anything else is looked at. */
		sg__wh_request probe = {.now_s = 0};
		if (sg__wh_verify(p, &probe, &s->cfg) == SG_ECONFIG) {
			snprintf(err, errlen, "providers.telnyx.publicKey: not a base64 Ed25519 public key "
				 "(32 bytes, or DER SubjectPublicKeyInfo)");
			return -1;
		}
	}
	if (p == SG__WH_AWS_SNS && str[SG__WH_S_PUBKEY] && !sg__wh_sns_pem_ok(str[SG__WH_S_PUBKEY])) {
		snprintf(err, errlen, "providers.aws-sns.certificate: not a readable PEM certificate (or use "
			 "\"certificates\": {\"<SigningCertURL>\": \"<PEM>\"} for several at once)");
		return -1;
	}
	if (p == SG__WH_AWS_SNS && str[SG__WH_S_PUBKEY] && s->cfg.ncerts)
		sg__warn("webhk", "providers.aws-sns: both certificate (any URL) and certificates are set; "
			 "both are accepted");
	return 0;
}

static bool url_ok(const char *url)
{
	return (!strncmp(url, "https://", 8) && url[8]) || (!strncmp(url, "http://", 7) && url[7]);
}

static void log_provider(const sg__config *cfg, sg__wh_provider p)
{
	const sg__wh_settings *s = &wh.p[p];
	const char *name = sg__wh_provider_name(p);
	static const char *const auth[SG__WH_PROVIDER_MAX] = {
		[SG__WH_TWILIO] = "hmac-sha1", [SG__WH_TELNYX] = "ed25519",
		[SG__WH_BANDWIDTH] = "basic", [SG__WH_PLIVO] = "hmac-sha256-v3",
		[SG__WH_VONAGE] = "sig", [SG__WH_SINCH] = "basic", [SG__WH_AWS_SNS] = "sns-rsa",
	};
	const char *a = auth[p];
	if (p == SG__WH_SINCH && s->cfg.secret)
		a = s->cfg.basic_user ? "hmac-sha256+basic" : "hmac-sha256";
	if (p == SG__WH_TWILIO && s->cfg.nkeys)
		a = s->cfg.secret ? "hmac-sha1+signing-keys" : "signing-keys";
	if (s->has_credentials)
		sg__info("webhk", "provider ready provider=%s auth=%s url=%s/v1/webhooks/%s", name, a,
			 cfg->public_base_url[0] ? cfg->public_base_url : "", name);
	else if (s->cfg.allow_unsigned)
		sg__warn("webhk", "provider ACCEPTS UNSIGNED requests: anyone who can reach the port can "
			 "record opt-outs and opt-ins provider=%s hint=\"configure its credentials\"", name);
	else
		sg__debug("webhk", "provider refused (no credentials configured) provider=%s", name);
}

int sg__webhooks_init(const sg__config *cfg)
{
	char err[256] = "";
	sg__webhooks_free();
	if (cfg->public_base_url[0] && !url_ok(cfg->public_base_url)) {
		sg__err("webhk", "cannot start: publicBaseUrl must start with https:// (or http://)");
		return -1;
	}
	if (cfg->providers && parse_providers(cfg->providers, err, sizeof(err)))
		goto fail;
	apply_env();
	for (int p = 1; p < SG__WH_PROVIDER_MAX; p++)
		if (finish(cfg, (sg__wh_provider)p, err, sizeof(err)))
			goto fail;
	const char *clock = getenv("STOPGATE_TEST_CLOCK");
	if (clock && clock[0]) {
		char *end;
		long long v = strtoll(clock, &end, 10);
		if (*end || v <= 0) {
			snprintf(err, sizeof(err), "STOPGATE_TEST_CLOCK: Unix seconds");
			goto fail;
		}
		wh.test_clock_s = v;
		sg__warn("webhk", "TEST CLOCK in force for signature timestamps (STOPGATE_TEST_CLOCK); never "
			 "in production now=%lld", v);
	}
	for (int p = 1; p < SG__WH_PROVIDER_MAX; p++)
		log_provider(cfg, (sg__wh_provider)p);
	return 0;
fail:
	sg__err("webhk", "cannot start: bad provider settings error=\"%s\"", err);
	sg__webhooks_free();
	return -1;
}

void sg__webhooks_free(void)
{
	for (int p = 0; p < SG__WH_PROVIDER_MAX; p++)
		for (int i = 0; i < SG__WH_S_NSTR; i++)
			set_str((sg__wh_provider)p, (sg__wh_slot)i, NULL);
	for (size_t i = 0; i < wh.ncerts; i++) {
		wipe_free((char *)wh.certs[i].url);
		wipe_free((char *)wh.certs[i].pem);
	}
	for (size_t i = 0; i < wh.nkeys; i++) {
		wipe_free((char *)wh.keys[i].name);
		wipe_free((char *)wh.keys[i].secret);
	}
	free(wh.certs);
	free(wh.keys);
	wh.certs = NULL;
	wh.keys = NULL;
	wh.ncerts = wh.nkeys = 0;
	memset(wh.p, 0, sizeof(wh.p));
	wh.test_clock_s = 0;
	wh.concat_timeout_us = SG__WH_CONCAT_TIMEOUT_S * 1000000LL;
	sg__concat_free_all();
}

const sg__wh_settings *sg__webhooks_settings(sg__wh_provider p)
{
	return &wh.p[(unsigned)p < SG__WH_PROVIDER_MAX ? p : 0];
}

int64_t sg__webhooks_now_s(void)
{
	return wh.test_clock_s ? wh.test_clock_s : (int64_t)time(NULL);
}

int64_t sg__webhooks_concat_timeout_us(void)
{
	return wh.concat_timeout_us;
}
