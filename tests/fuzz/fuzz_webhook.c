/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: every webhook parser and signature check (engine/webhooks).
 * The first byte selects the request shape, the rest is the body (POST) or
 * the query string (GET):
 *   bits 0-2  provider: twilio, telnyx, bandwidth, plivo, vonage, sinch,
 *             aws-sns, twilio
 *   bit 3     GET instead of POST
 *   bit 4     Content-Type application/json instead of a form
 * Invariants (abort() when broken):
 *  - a failed parse returns a known code with a detail and leaves the
 *    result untouched;
 *  - a successful parse gives messages whose strings are all non-NULL,
 *    whose kind is valid (INVALID: Bandwidth elements only, with a reason), whose handset / our_number alias from / to by
 *    kind, whose dedup key is "" exactly for IGNORED, starts with the
 *    provider name and is shorter than SG__WH_DEDUP_MAX, and whose code
 *    class matches sg__wh_code_classify();
 *  - parsing is deterministic (a second parse gives the same dedup keys);
 *  - a signature check with configured credentials returns 0, SG_EBADSIG
 *    or SG_ECONFIG (and no credentials, unsigned not allowed: SG_EBADSIG).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "webhooks/webhook.h"

static const sg__wh_provider providers[8] = {
	SG__WH_TWILIO, SG__WH_TELNYX, SG__WH_BANDWIDTH, SG__WH_PLIVO,
	SG__WH_VONAGE, SG__WH_SINCH,  SG__WH_AWS_SNS,   SG__WH_TWILIO,
};

static void die(const char *what, const uint8_t *in, size_t len)
{
	fprintf(stderr, "fuzz_webhook: %s; input (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 300; i++)
		fprintf(stderr, " %02x", in[i]);
	fprintf(stderr, "\n");
	abort();
}

/* Plausible values for every header a check reads. */
static const char *header(void *ctx, const char *name)
{
	(void)ctx;
	if (strcasecmp(name, "telnyx-timestamp") == 0)
		return "1548267002";
	if (strcasecmp(name, "Authorization") == 0)
		return "Basic dXNlcjpwYXNz";
	if (strncasecmp(name, "X-Plivo-Signature-V", 19) == 0 && strstr(name, "Nonce"))
		return "12345";
	if (strcasecmp(name, "telnyx-signature-ed25519") == 0)
		return "ytYFl80lQxs4wcUScYH8XQsouJUzQgjMfp6BPGNagEkoGWPs02yMZR/nH5gsZHE0EUxJ3cdGkRHMvnF8lAKeBg==";
	return "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
}

static void check_message(sg__wh_provider prov, const sg__wh_message *m, const uint8_t *in,
			  size_t len)
{
	const char *s[] = {m->event_type, m->from, m->to, m->handset, m->our_number,
			   m->from_country, m->to_country, m->account, m->group, m->msg_id,
			   m->dedup_key, m->text, m->hint, m->status, m->status_code,
			   m->concat_ref, m->confirm_url, m->invalid};
	for (size_t i = 0; i < SG_ARRAY_SIZE(s); i++)
		if (!s[i])
			die("NULL string in a message", in, len);
	if (m->kind != SG__WH_INBOUND && m->kind != SG__WH_STATUS && m->kind != SG__WH_IGNORED &&
	    m->kind != SG__WH_INVALID)
		die("bad kind", in, len);
	if ((m->kind == SG__WH_INVALID) != (*m->invalid != '\0'))
		die("INVALID without a reason, or a reason on another kind", in, len);
	if (m->kind == SG__WH_INVALID) {
		if (prov != SG__WH_BANDWIDTH || *m->dedup_key)
			die("INVALID outside a Bandwidth array, or with a dedup key", in, len);
		return;
	}
	if (m->kind == SG__WH_IGNORED) {
		if (*m->dedup_key)
			die("IGNORED with a dedup key", in, len);
		return;
	}
	const char *name = sg__wh_provider_name(prov);
	if (strncmp(m->dedup_key, name, strlen(name)) != 0 || m->dedup_key[strlen(name)] != ':' ||
	    strlen(m->dedup_key) >= SG__WH_DEDUP_MAX)
		die("bad dedup key", in, len);
	if (!*m->msg_id)
		die("message without an id", in, len);
	bool inbound = m->kind == SG__WH_INBOUND;
	if (m->handset != (inbound ? m->from : m->to) || m->our_number != (inbound ? m->to : m->from))
		die("handset / our_number do not alias from / to", in, len);
	if (!*m->handset)
		die("message without a handset", in, len);
	if (!inbound && m->code_class != sg__wh_code_classify(prov, m->status_code))
		die("code class", in, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t sel = data[0];
	sg__wh_provider prov = providers[sel & 7];
	bool is_get = sel & 8;
	const char *rest = (const char *)data + 1;
	size_t rlen = size - 1;

	/* public_url for GET carries the query (NUL bytes truncate it; the
	 * query itself is passed with its length). */
	char *url = malloc(rlen + 64);
	if (!url)
		return 0;
	snprintf(url, 64, "https://example.com/hook%s", is_get ? "?" : "");
	size_t ulen = strlen(url);
	if (is_get)
		memcpy(url + ulen, rest, rlen), url[ulen + rlen] = '\0';

	sg__wh_request req = {
		.method = is_get ? "GET" : "POST",
		.public_url = url,
		.query = is_get ? rest : NULL,
		.query_len = is_get ? rlen : 0,
		.content_type = sel & 16 ? "application/json" : "application/x-www-form-urlencoded",
		.body = is_get ? NULL : rest,
		.body_len = is_get ? 0 : rlen,
		.header = header,
		.now_s = 1548267002,
	};

	sg__wh_parsed p, q;
	memset(&p, 0, sizeof(p));
	const char *detail = NULL;
	int rc = sg__wh_parse(prov, &req, &p, &detail);
	if (rc) {
		if (rc != -EINVAL && rc != SG_EJSON && rc != -ENOMEM)
			die("unexpected error code", data, size);
		if (!detail || p.msgs || p.n)
			die("failure without detail, or result touched", data, size);
	} else {
		for (size_t i = 0; i < p.n; i++)
			check_message(prov, &p.msgs[i], data, size);
		if (sg__wh_parse(prov, &req, &q, &detail) == 0) {
			if (q.n != p.n)
				die("non-deterministic parse", data, size);
			for (size_t i = 0; i < p.n; i++)
				if (strcmp(p.msgs[i].dedup_key, q.msgs[i].dedup_key) != 0)
					die("non-deterministic dedup key", data, size);
			sg__wh_parsed_free(&q);
		}
		sg__wh_parsed_free(&p);
	}

	/* why: always NUL-terminated inside its buffer, however long the reason. */
	char why[48];
	memset(why, 'x', sizeof(why));
	why[sizeof(why) - 1] = '\0';
	req.why = why;
	req.why_cap = sizeof(why);
	static const sg__wh_named_key keys[] = {{"k1", "one"}, {"rule-key", "two"}};
	sg__wh_provider_cfg cfg = {
		.keys = keys,
		.nkeys = 2,
		.max_skew_s = sel & 32 ? 60 : 0,
		.secret = "12345",
		.public_key = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
		.basic_user = "user",
		.basic_pass = "pass",
		.alg = (sg__wh_alg)((sel >> 5) % 6),
	};
	if (prov == SG__WH_AWS_SNS)
		cfg.public_key = "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n";
	rc = sg__wh_verify(prov, &req, &cfg);
	if (rc != 0 && rc != SG_EBADSIG && rc != SG_ECONFIG && rc != -ENOMEM)
		die("unexpected verify code", data, size);
	if (!memchr(why, '\0', sizeof(why)))
		die("why not NUL-terminated", data, size);
	sg__wh_provider_cfg none = {0};
	if (sg__wh_verify(prov, &req, &none) != SG_EBADSIG)
		die("unsigned request accepted without allow_unsigned", data, size);
	free(url);
	return 0;
}
