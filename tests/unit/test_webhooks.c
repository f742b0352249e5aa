/* SPDX-License-Identifier: Apache-2.0 */
/* engine/webhooks: form decoding, every signature vector of
 * tests/data/webhooks/VECTORS.md, every fixture parsed, status-code classes,
 * malformed input. Fixtures are read from $SG_TEST_DATA/webhooks/. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "internal.h"
#include "webhooks/webhook.h"

/* ---- helpers ----------------------------------------------------------- */

typedef struct hdrs {
	const char *kv[8][2];
} hdrs;

static const char *hdr_get(void *ctx, const char *name)
{
	hdrs *h = ctx;
	for (int i = 0; i < 8 && h->kv[i][0]; i++)
		if (strcasecmp(h->kv[i][0], name) == 0)
			return h->kv[i][1];
	return NULL;
}

static char *fixture(const char *name, size_t *len)
{
	const char *dir = getenv("SG_TEST_DATA");
	char path[512];
	snprintf(path, sizeof(path), "%s/webhooks/%s", dir ? dir : "tests/data", name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *buf = malloc(8192);
	assert_non_null(buf);
	*len = fread(buf, 1, 8191, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static sg__wh_request post(const char *url, const char *ctype, const char *body, size_t len, hdrs *h)
{
	return (sg__wh_request){.method = "POST", .public_url = url, .content_type = ctype,
				.body = body, .body_len = len, .header = hdr_get, .header_ctx = h};
}

static sg__wh_request get(const char *url, hdrs *h)
{
	const char *q = strchr(url, '?');
	return (sg__wh_request){.method = "GET", .public_url = url, .query = q ? q + 1 : NULL,
				.query_len = q ? strlen(q + 1) : 0, .header = hdr_get, .header_ctx = h};
}

#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"

/* Parse a fixture with one provider; exactly one message expected. */
static sg__wh_message parse1(sg__wh_provider prov, const char *name, sg__wh_parsed *p)
{
	size_t len;
	char *body = fixture(name, &len);
	const char *detail = NULL;
	hdrs h = {{{NULL}}};
	sg__wh_request r = post("https://example.com/hook", strstr(name, ".json") ? JSON : FORM,
				body, len, &h);
	int rc = sg__wh_parse(prov, &r, p, &detail);
	if (rc)
		fail_msg("%s: %d %s", name, rc, detail);
	free(body);
	assert_int_equal(p->n, 1);
	return p->msgs[0];
}

/* ---- form decoding ------------------------------------------------------ */

static void form_decode(void **state)
{
	(void)state;
	sg__wh_form f;
	const char in[] = "a=1&b=&c&a=2&&d=%2B+x%41&e=%zz&=v&f=%4&g=%00z";
	assert_int_equal(sg__wh_form_decode(in, strlen(in), &f), 0);
	assert_int_equal(f.n, 9);
	assert_string_equal(f.pairs[0].key, "a");
	assert_string_equal(f.pairs[0].val, "1");
	assert_string_equal(f.pairs[1].key, "b");
	assert_int_equal(f.pairs[1].val_len, 0);
	assert_string_equal(f.pairs[2].key, "c"); /* no '=': empty value */
	assert_int_equal(f.pairs[2].val_len, 0);
	assert_string_equal(f.pairs[3].val, "2"); /* repeated key kept */
	assert_string_equal(f.pairs[4].val, "+ xA");
	assert_string_equal(f.pairs[5].val, "%zz"); /* malformed: literal */
	assert_int_equal(f.pairs[6].key_len, 0);
	assert_string_equal(f.pairs[7].val, "%4");
	assert_int_equal(f.pairs[8].val_len, 2);
	assert_memory_equal(f.pairs[8].val, "\0z", 2);
	assert_int_equal(f.bad_escapes, 2);
	assert_string_equal(sg__wh_form_get(&f, "a", NULL), "1");
	assert_null(sg__wh_form_get(&f, "A", NULL));
	sg__wh_form_sort(&f);
	assert_int_equal(f.pairs[0].key_len, 0);
	assert_string_equal(f.pairs[1].val, "1");
	assert_string_equal(f.pairs[2].val, "2");
	sg__wh_form_free(&f);
	sg__wh_form_free(&f); /* zeroed: no-op */

	assert_int_equal(sg__wh_form_decode("", 0, &f), 0);
	assert_int_equal(f.n, 0);
	sg__wh_form_free(&f);
	assert_int_equal(sg__wh_form_decode(NULL, 0, &f), 0);
	sg__wh_form_free(&f);
	assert_int_equal(sg__wh_form_decode("%", 1, &f), 0);
	assert_string_equal(f.pairs[0].key, "%");
	assert_int_equal(f.bad_escapes, 1);
	sg__wh_form_free(&f);
	/* Not NUL-terminated input: only len bytes are read. */
	assert_int_equal(sg__wh_form_decode("k=v%41XYZ", 5, &f), 0);
	assert_string_equal(f.pairs[0].val, "v%4");
	sg__wh_form_free(&f);
}

/* ---- Twilio ------------------------------------------------------------- */

static int twilio_verify(const char *url, const char *body, const char *token, const char *sig)
{
	hdrs h = {{{"X-Twilio-Signature", sig}}};
	sg__wh_provider_cfg cfg = {.secret = token};
	sg__wh_request r = body ? post(url, FORM, body, strlen(body), &h) : get(url, &h);
	return sg__wh_verify_twilio(&r, &cfg);
}

static void twilio_signature(void **state)
{
	(void)state;
	const char *u = "https://mycompany.com/myapp.php?foo=1&bar=2";
	const char *u443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
	const char *params = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
			     "From=%2B14158675309&To=%2B18005551212";
	const char *params2 = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&"
			      "From=%2B12349013030&To=%2B18005551212";
	/* Both signatures are accepted for both URL forms (port quirk). */
	assert_int_equal(twilio_verify(u, params, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), 0);
	assert_int_equal(twilio_verify(u, params, "12345", "kvajT1Ptam85bY51eRf/AJRuM3w="), 0);
	assert_int_equal(twilio_verify(u443, params, "12345", "kvajT1Ptam85bY51eRf/AJRuM3w="), 0);
	assert_int_equal(twilio_verify(u443, params, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), 0);
	assert_int_equal(twilio_verify(u, params2, "12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="), 0);
	/* Wrong key, tampered body, another URL, non-default port. */
	assert_int_equal(twilio_verify(u, params, "12346", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), SG_EBADSIG);
	assert_int_equal(twilio_verify(u, params2, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), SG_EBADSIG);
	assert_int_equal(twilio_verify("https://mycompany.com/myapp.php?foo=1&bar=3", params, "12345",
				       "RSOYDt4T1cUTdK1PDd93/VVr8B8="), SG_EBADSIG);
	assert_int_equal(twilio_verify("https://mycompany.com:8443/myapp.php?foo=1&bar=2", params,
				       "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), SG_EBADSIG);
	assert_int_equal(twilio_verify(u, params, "12345", ""), SG_EBADSIG);
	assert_int_equal(twilio_verify(u, params, "12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8"), SG_EBADSIG);

	size_t len;
	char *basic = fixture("twilio-inbound-basic.form", &len);
	assert_int_equal(twilio_verify("https://example.com/c/t/8eb23e93-5ecb-45ba-b726-3b064e0c56ab/receive",
				       basic, "6789", "sAYRME4u7MHti2sU4rFUW4qFzl4="), 0);
	free(basic);

	char *stop = fixture("twilio-stop-optouttype.form", &len);
	const char *su = "https://optout.example.com/v1/webhooks/twilio/inbound";
	const char *su443 = "https://optout.example.com:443/v1/webhooks/twilio/inbound";
	const char *tok = "test_auth_token_0123456789abcdef";
	assert_int_equal(twilio_verify(su, stop, tok, "mrLxKjlzF4a8mfr+oh5NmTg98Ws="), 0);
	assert_int_equal(twilio_verify(su, stop, tok, "eP3ZGjgMS/3eNYPygcKSoIgMk+o="), 0);
	assert_int_equal(twilio_verify(su443, stop, tok, "mrLxKjlzF4a8mfr+oh5NmTg98Ws="), 0);
	assert_int_equal(twilio_verify(su443, stop, tok, "eP3ZGjgMS/3eNYPygcKSoIgMk+o="), 0);
	/* The empty-values-dropped signature must not verify. */
	assert_int_equal(twilio_verify(su, stop, tok, "2pkbh9O8dHmD7s20P39pTZqWfC8="), SG_EBADSIG);
	assert_int_equal(twilio_verify(su, stop, "wrong", "mrLxKjlzF4a8mfr+oh5NmTg98Ws="), SG_EBADSIG);
	char *t = strstr(stop, "Body=STOP");
	t[5] = 'Q'; /* tampered body */
	assert_int_equal(twilio_verify(su, stop, tok, "mrLxKjlzF4a8mfr+oh5NmTg98Ws="), SG_EBADSIG);
	t[5] = 'S';
	/* Webhooks Rule variant: HMAC-SHA256 over the same string. */
	hdrs h = {{{"X-Twilio-Signature", "8XBf5t4ERRCbowC8rFBw891bLFkkplz1pFxGZCTXIBg="}}};
	sg__wh_provider_cfg c256 = {.secret = tok, .alg = SG__WH_ALG_HMAC_SHA256};
	sg__wh_request r = post(su, FORM, stop, len, &h);
	assert_int_equal(sg__wh_verify_twilio(&r, &c256), 0);
	c256.alg = SG__WH_ALG_MD5HASH;
	assert_int_equal(sg__wh_verify_twilio(&r, &c256), SG_ECONFIG);
	/* No header at all; no secret configured. */
	hdrs none = {{{NULL}}};
	sg__wh_provider_cfg cfg = {.secret = tok};
	r = post(su, FORM, stop, len, &none);
	assert_int_equal(sg__wh_verify_twilio(&r, &cfg), SG_EBADSIG);
	sg__wh_provider_cfg open = {.allow_unsigned = false};
	assert_int_equal(sg__wh_verify_twilio(&r, &open), SG_EBADSIG);
	assert_int_equal(sg__wh_verify_twilio(&r, NULL), SG_EBADSIG);
	open.allow_unsigned = true;
	assert_int_equal(sg__wh_verify_twilio(&r, &open), 0);
	free(stop);

	/* GET signs the URL only (computed with Python hmac, as the other
	 * vectors). A repeated key is refused although Twilio's scheme signs
	 * each value (the signature is right): the parser reads one value. */
	assert_int_equal(twilio_verify("https://optout.example.com/v1/webhooks/twilio?From=%2B14155552671"
				       "&Body=STOP&MessageSid=SMx", NULL, "12345",
				       "Cu7FDe0Dl8RVLBxr2e8FZ4s2Jrs="), 0);
	assert_int_equal(twilio_verify("https://example.com/t",
				       "MessageSid=SM1&From=%2B1415&MediaUrl=b&MediaUrl=a&MediaUrl=b&Body=",
				       "12345", "MupM4AneaG0ITvpn9nYAcixJJtc="), SG_EBADSIG);
}

static void twilio_parse(void **state)
{
	(void)state;
	sg__wh_parsed p;
	sg__wh_message m = parse1(SG__WH_TWILIO, "twilio-inbound-basic.form", &p);
	assert_int_equal(m.kind, SG__WH_INBOUND);
	assert_string_equal(m.from, "+14133881111");
	assert_string_equal(m.to, "+12028831111");
	assert_string_equal(m.handset, "+14133881111");
	assert_string_equal(m.our_number, "+12028831111");
	assert_string_equal(m.from_country, "US");
	assert_int_equal(m.text_len, 3);
	assert_memory_equal(m.text, "Msg", 3);
	assert_string_equal(m.msg_id, "SMe287d7109a5a925f182f0e07fe5b223b");
	assert_string_equal(m.account, "acctid");
	assert_string_equal(m.dedup_key, "twilio:acctid:in:SMe287d7109a5a925f182f0e07fe5b223b");
	assert_int_equal(m.provider_intent, SG_INTENT_NONE);
	assert_int_equal(m.event_time_us, 0);
	sg__wh_parsed_free(&p);
	sg__wh_parsed_free(&p);

	m = parse1(SG__WH_TWILIO, "twilio-inbound-shortcode.form", &p);
	assert_string_equal(m.to, "384387");
	assert_string_equal(m.to_country, "US");
	assert_string_equal(m.text, "John Cruz");
	assert_string_equal(m.msg_id, "SMbbf29aeb9d380ce2a1c0ae4635ff9dab");
	sg__wh_parsed_free(&p);

	m = parse1(SG__WH_TWILIO, "twilio-stop-optouttype.form", &p);
	assert_string_equal(m.from, "+14155552671");
	assert_string_equal(m.to, "+14155550100");
	assert_string_equal(m.group, "MG0123456789abcdef0123456789abcdef");
	assert_string_equal(m.text, "STOP");
	assert_string_equal(m.hint, "STOP");
	assert_int_equal(m.provider_intent, SG_INTENT_OPT_OUT);
	sg__wh_parsed_free(&p);

	m = parse1(SG__WH_TWILIO, "twilio-status-21610.form", &p);
	assert_int_equal(m.kind, SG__WH_STATUS);
	assert_string_equal(m.handset, "+12028831111");
	assert_string_equal(m.our_number, "");
	assert_string_equal(m.status, "failed");
	assert_string_equal(m.status_code, "21610");
	assert_int_equal(m.code_class, SG__WH_CODE_OPT_OUT);
	assert_string_equal(m.dedup_key, "twilio::status:SMe287d7109a5a925f182f0e07fe5b223b:failed:21610");
	sg__wh_parsed_free(&p);

	/* GET delivery: the same fields from the query. */
	hdrs h = {{{NULL}}};
	sg__wh_request r = get("https://x.example/t?MessageSid=SM9&From=%2B15551234567&To=%2B15557654321"
			       "&Body=stop+please&OptOutType=", &h);
	const char *detail;
	assert_int_equal(sg__wh_parse_twilio(&r, &p, &detail), 0);
	assert_string_equal(p.msgs[0].text, "stop please");
	assert_int_equal(p.msgs[0].provider_intent, SG_INTENT_NONE);
	sg__wh_parsed_free(&p);
}

/* ---- Telnyx ------------------------------------------------------------- */

#define TELNYX_KEY "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
#define TELNYX_SIG1 "ytYFl80lQxs4wcUScYH8XQsouJUzQgjMfp6BPGNagEkoGWPs02yMZR/nH5gsZHE0EUxJ3cdGkRHMvnF8lAKeBg=="
#define TELNYX_SIG2 "NsWOVEomEANXcF2a1AStUxoMkZx7e9kNyx4FXE0YhZ0D83yJrWuKyW9e50xqKybC5ArYmerqbywoqjyUHWIoDA=="

static int telnyx_verify(const char *body, size_t len, const char *ts, const char *sig,
			 const char *key, int64_t now)
{
	hdrs h = {{{"telnyx-timestamp", ts}, {"Telnyx-Signature-Ed25519", sig}}};
	sg__wh_provider_cfg cfg = {.public_key = key};
	sg__wh_request r = post("https://example.com/hooks", JSON, body, len, &h);
	r.now_s = now;
	return sg__wh_verify_telnyx(&r, &cfg);
}

static void telnyx_signature(void **state)
{
	(void)state;
	size_t len, len2;
	char *b1 = fixture("telnyx-stop-signed.json", &len);
	char *b2 = fixture("telnyx-stop-signed-attempt2.json", &len2);
	assert_int_equal(len, 437);
	const char *ts = "1548267002";
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1, TELNYX_KEY, 1548267002), 0);
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1, TELNYX_KEY, 1548267302), 0);
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1, TELNYX_KEY, 1548266702), 0);
	/* Stale (301 s later) and too far in the future. */
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1, TELNYX_KEY, 1548267303), SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1, TELNYX_KEY, 1548266701), SG_EBADSIG);
	/* The same key as DER SPKI. */
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1,
				       "MCowBQYDK2VwAyEAA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
				       1548267002), 0);
	/* Retry: its own timestamp and signature. */
	assert_int_equal(telnyx_verify(b2, len2, "1548267062", TELNYX_SIG2, TELNYX_KEY, 1548267062), 0);
	assert_int_equal(telnyx_verify(b2, len2, ts, TELNYX_SIG1, TELNYX_KEY, 1548267002), SG_EBADSIG);
	/* Body with a trailing newline, wrong key, timestamp changed. */
	b1[len] = '\n';
	assert_int_equal(telnyx_verify(b1, len + 1, ts, TELNYX_SIG1, TELNYX_KEY, 1548267002), SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1,
				       "cSZR9FC6BbY4mLme9fe6RWMujiUn9/cVzWcexAJMxR4=", 1548267002),
			 SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, "1548267003", TELNYX_SIG1, TELNYX_KEY, 1548267002),
			 SG_EBADSIG);
	/* Malformed header values and keys. */
	assert_int_equal(telnyx_verify(b1, len, ts, NULL, TELNYX_KEY, 1548267002), SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, NULL, TELNYX_SIG1, TELNYX_KEY, 1548267002), SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, "15482670O2", TELNYX_SIG1, TELNYX_KEY, 1548267002),
			 SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, ts, "ytYFl80lQxs4wcUScYH8XQ==", TELNYX_KEY, 1548267002),
			 SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, ts, "!!!!", TELNYX_KEY, 1548267002), SG_EBADSIG);
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1, "A6EHv/POEL4d", 1548267002), SG_ECONFIG);
	assert_int_equal(telnyx_verify(b1, len, ts, TELNYX_SIG1, "not base64", 1548267002), SG_ECONFIG);
	free(b1);
	free(b2);
}

static void telnyx_parse(void **state)
{
	(void)state;
	sg__wh_parsed p1, p2;
	sg__wh_message m = parse1(SG__WH_TELNYX, "telnyx-inbound-official.json", &p1);
	assert_int_equal(m.kind, SG__WH_INBOUND);
	assert_string_equal(m.event_type, "message.received");
	assert_string_equal(m.from, "+18665550001");
	assert_string_equal(m.to, "+18445550001");
	assert_string_equal(m.text, "Hello, World!");
	assert_string_equal(m.msg_id, "7ee4241c-f127-47e5-9c34-3aac291f8058");
	assert_string_equal(m.group, "0f512bda-ae1e-4597-8e11-e5f5686b97d3");
	int64_t us;
	assert_int_equal(sg_time_parse("2019-01-23T18:10:02.574Z", &us), 0);
	assert_int_equal(m.event_time_us, us);
	sg__wh_parsed_free(&p1);

	m = parse1(SG__WH_TELNYX, "telnyx-inbound-capture.json", &p1);
	assert_string_equal(m.from, "+18578698297");
	assert_string_equal(m.to, "+17179379708");
	assert_string_equal(m.group, "");
	assert_string_equal(m.text, "Test for full JSON");
	assert_string_equal(m.msg_id, "1fa55452-5cc6-4ce7-9cb0-8612fa4ddc15");
	assert_string_equal(m.hint, ""); /* autoresponse_type: null */
	assert_int_equal(m.provider_intent, SG_INTENT_NONE);
	assert_int_equal(sg_time_parse("2025-05-15T18:47:41.038+00:00", &us), 0);
	assert_int_equal(m.event_time_us, us);
	sg__wh_parsed_free(&p1);

	/* A retry: different body (meta.attempt), same dedup key. */
	m = parse1(SG__WH_TELNYX, "telnyx-stop-signed.json", &p1);
	sg__wh_message m2 = parse1(SG__WH_TELNYX, "telnyx-stop-signed-attempt2.json", &p2);
	assert_string_equal(m.text, "STOP");
	assert_string_equal(m.from, "+18665550001");
	assert_string_equal(m.to, "+18445550001");
	assert_string_equal(m.dedup_key, "telnyx::in:7ee4241c-f127-47e5-9c34-3aac291f8058");
	assert_string_equal(m.dedup_key, m2.dedup_key);
	assert_int_equal(m.event_time_us, m2.event_time_us);
	sg__wh_parsed_free(&p1);
	sg__wh_parsed_free(&p2);
}

/* ---- Bandwidth, Plivo, Vonage, Sinch, SNS fixtures ---------------------- */

static void other_fixtures(void **state)
{
	(void)state;
	sg__wh_parsed p;
	int64_t us;
	sg__wh_message m = parse1(SG__WH_BANDWIDTH, "bandwidth-inbound.json", &p);
	assert_int_equal(m.kind, SG__WH_INBOUND);
	assert_string_equal(m.from, "+12065551234");
	assert_string_equal(m.to, "+12345678902");
	assert_string_equal(m.text, "hello world");
	assert_string_equal(m.msg_id, "14762070468292kw2fuqty55yp2b2");
	assert_string_equal(m.account, "93de2206-9669-4e07-948d-329f4b722ee2");
	assert_int_equal(m.num_media, 1);
	assert_int_equal(sg_time_parse("2016-09-14T18:20:16Z", &us), 0);
	assert_int_equal(m.event_time_us, us);
	sg__wh_parsed_free(&p);

	m = parse1(SG__WH_PLIVO, "plivo-inbound-1.form", &p);
	assert_string_equal(m.from, "60124361111");
	assert_string_equal(m.to, "2020");
	assert_string_equal(m.text, "Hello");
	assert_string_equal(m.msg_id, "abc1234");
	assert_string_equal(m.dedup_key, "plivo::in:abc1234");
	sg__wh_parsed_free(&p);
	m = parse1(SG__WH_PLIVO, "plivo-inbound-2.form", &p);
	assert_string_equal(m.from, "4795961111");
	assert_string_equal(m.to, "4759440448");
	assert_string_equal(m.text, "Msg");
	assert_string_equal(m.msg_id, "7a242edc-2f57-11e7-98c9-06ab0bf64327");
	sg__wh_parsed_free(&p);

	m = parse1(SG__WH_VONAGE, "vonage-inbound.form", &p);
	assert_int_equal(m.kind, SG__WH_INBOUND);
	assert_string_equal(m.from, "2349067554729");
	assert_string_equal(m.to, "2020");
	assert_string_equal(m.text, "Join");
	assert_string_equal(m.msg_id, "external1");
	assert_int_equal(m.concat_total, 0);
	sg__wh_parsed_free(&p);

	m = parse1(SG__WH_SINCH, "sinch-inbound.json", &p);
	assert_string_equal(m.from, "12067799294");
	assert_string_equal(m.to, "18444651185");
	assert_string_equal(m.text, "Hello World");
	assert_string_equal(m.msg_id, "OzQ5UqIOdoY8");
	assert_int_equal(sg_time_parse("2016-03-30T19:33:06.643Z", &us), 0);
	assert_int_equal(m.event_time_us, us);
	sg__wh_parsed_free(&p);

	m = parse1(SG__WH_AWS_SNS, "aws-sns-inbound.json", &p);
	assert_int_equal(m.kind, SG__WH_INBOUND);
	assert_string_equal(m.from, "+14255550182");
	assert_string_equal(m.to, "+12125550101");
	assert_string_equal(m.text, "STOP");
	assert_string_equal(m.msg_id, "cae173d2-66b9-564c-8309-21f858e9fb84");
	assert_int_equal(m.provider_intent, SG_INTENT_NONE); /* messageKeyword is ours, not a hint */
	assert_int_equal(sg_time_parse("2012-05-02T00:54:06.655Z", &us), 0);
	assert_int_equal(m.event_time_us, us);
	sg__wh_parsed_free(&p);
}

static void bandwidth_array(void **state)
{
	(void)state;
	const char *body =
		"[{\"type\":\"message-received\",\"time\":\"2024-01-01T00:00:00Z\",\"to\":\"+15550000001\","
		"\"message\":{\"id\":\"m1\",\"time\":\"2024-01-01T00:00:01.5Z\",\"to\":[\"+15550000001\",\"+15550000002\"],"
		"\"from\":\"+15551110000\",\"text\":\"STOP\",\"owner\":\"+15550000002\",\"applicationId\":\"app\"}},"
		"{\"type\":\"message-failed\",\"time\":\"2024-01-01T00:00:02Z\",\"to\":\"+15552220000\","
		"\"errorCode\":4775,\"description\":\"destination-rejected-due-to-user-opt-out\","
		"\"message\":{\"id\":\"m2\",\"to\":[\"+15552220000\"],\"from\":\"+15550000001\",\"applicationId\":\"app\"}},"
		"{\"type\":\"message-failed\",\"to\":\"+15552220001\",\"errorCode\":\"4720\","
		"\"message\":{\"id\":\"m3\",\"from\":\"+15550000001\"}},"
		"{\"type\":\"something-new\",\"message\":{}}]";
	hdrs h = {{{NULL}}};
	sg__wh_request r = post("https://example.com/bw", JSON, body, strlen(body), &h);
	sg__wh_parsed p;
	const char *detail;
	assert_int_equal(sg__wh_parse_bandwidth(&r, &p, &detail), 0);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.msgs[0].kind, SG__WH_INBOUND);
	assert_string_equal(p.msgs[0].our_number, "+15550000002"); /* the owner */
	assert_string_equal(p.msgs[0].handset, "+15551110000");
	assert_int_equal(p.msgs[0].event_time_us, 1704067201500000LL);
	assert_int_equal(p.msgs[1].kind, SG__WH_STATUS);
	assert_string_equal(p.msgs[1].handset, "+15552220000");
	assert_string_equal(p.msgs[1].our_number, "+15550000001");
	assert_string_equal(p.msgs[1].status_code, "4775");
	assert_int_equal(p.msgs[1].code_class, SG__WH_CODE_OPT_OUT);
	assert_int_equal(p.msgs[1].event_time_us, 1704067202000000LL); /* element time */
	assert_string_equal(p.msgs[1].dedup_key, "bandwidth:app:status:m2:message-failed:4775");
	assert_int_equal(p.msgs[2].code_class, SG__WH_CODE_NOT_SMS_CAPABLE);
	assert_int_equal(p.msgs[3].kind, SG__WH_IGNORED);
	assert_string_equal(p.msgs[3].event_type, "something-new");
	assert_string_equal(p.msgs[3].dedup_key, "");
	sg__wh_parsed_free(&p);

	r = post("https://example.com/bw", JSON, "[]", 2, &h);
	assert_int_equal(sg__wh_parse_bandwidth(&r, &p, &detail), 0);
	assert_int_equal(p.n, 0);
	sg__wh_parsed_free(&p);
}

/* ---- Plivo, Vonage, Bandwidth signatures --------------------------------- */

static int plivo_verify(const char *url, const char *body, const char *v3, const char *nonce,
			bool v2, bool legacy)
{
	hdrs h = {{{v2 ? "X-Plivo-Signature-V2" : "X-Plivo-Signature-V3", v3},
		   {v2 ? "X-Plivo-Signature-V2-Nonce" : "X-Plivo-Signature-V3-Nonce", nonce}}};
	sg__wh_provider_cfg cfg = {.secret = "MY_AUTH_TOKEN"};
	(void)legacy;
	sg__wh_request r = body ? post(url, FORM, body, strlen(body), &h) : get(url, &h);
	return sg__wh_verify_plivo(&r, &cfg);
}

static void plivo_signature(void **state)
{
	(void)state;
	const char *url = "https://example.com/plivo/inbound";
	const char *body = "From=14155552671&To=14155550100&Text=STOP&Type=sms&"
			   "MessageUUID=7a242edc-2f57-11e7-98c9-06ab0bf64327";
	const char *nonce = "12345678901234567890";
	const char *sig = "0r+kwW2Lw2/tuRIil4y2zoJmpKU8WeIEFdof88ygokg=";
	assert_int_equal(plivo_verify(url, body, sig, nonce, false, false), 0);
	assert_int_equal(plivo_verify(url, body, "bm90IGl0, 0r+kwW2Lw2/tuRIil4y2zoJmpKU8WeIEFdof88ygokg=",
				      nonce, false, false), 0);
	assert_int_equal(plivo_verify(url, body, "bm90IGl0,", nonce, false, false), SG_EBADSIG);
	assert_int_equal(plivo_verify(url, body, sig, "12345678901234567891", false, false), SG_EBADSIG);
	assert_int_equal(plivo_verify(url, "From=14155552671&To=14155550100&Text=START&Type=sms&"
				      "MessageUUID=7a242edc-2f57-11e7-98c9-06ab0bf64327", sig, nonce,
				      false, false), SG_EBADSIG);
	assert_int_equal(plivo_verify("https://example.com/plivo/other", body, sig, nonce, false, false),
			 SG_EBADSIG);
	/* Query parameters join the base (computed from webhooks.md §4 with Python). */
	assert_int_equal(plivo_verify("https://example.com/plivo/inbound?b=2&a=1", body,
				      "X2iB7egLMMkkqi7PKUreekeXg2KpaJyZ7WPLEvHCbow=", nonce, false, false), 0);
	assert_int_equal(plivo_verify("https://example.com/plivo/inbound?From=14155552671&Text=STOP",
				      NULL, "KZE+O5imvSqrmgz3kB6uX8qYpXVzEAn7isjkV25GgLo=", "42", false,
				      false), 0);
	/* V2 (signs no body): never accepted, even with the vector's own key. */
	hdrs h = {{{"X-Plivo-Signature-V2", "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc="},
		   {"X-Plivo-Signature-V2-Nonce", "12345"}}};
	sg__wh_provider_cfg cfg = {.secret = "my_auth_token"};
	sg__wh_request r = post("https://answer.url", FORM, body, strlen(body), &h);
	assert_int_equal(sg__wh_verify_plivo(&r, &cfg), SG_EBADSIG);
	assert_int_equal(plivo_verify(url, body, sig, NULL, false, false), SG_EBADSIG);
}

static int vonage_verify(sg__wh_request *r, sg__wh_alg alg, const char *secret, int64_t now)
{
	sg__wh_provider_cfg cfg = {.secret = secret, .alg = alg};
	r->now_s = now;
	return sg__wh_verify_vonage(r, &cfg);
}

static void vonage_signature(void **state)
{
	(void)state;
	static const struct {
		sg__wh_alg alg;
		const char *sig;
	} v[] = {
		{SG__WH_ALG_MD5HASH, "d2e7b1dc968737c5998ad624e02f90b7"},
		{SG__WH_ALG_HMAC_MD5, "DDEBD46008C2D4E93CCE578A332A52D5"},
		{SG__WH_ALG_HMAC_SHA1, "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A"},
		{SG__WH_ALG_HMAC_SHA256, "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330"},
		{SG__WH_ALG_HMAC_SHA512, "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481C"
					 "D3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82"},
	};
	const char *secret = "my_secret_key_for_testing";
	const int64_t ts = 1385047698;
	hdrs h = {{{NULL}}};
	char q[640], json[640], lower[160];
	for (size_t i = 0; i < SG_ARRAY_SIZE(v); i++) {
		snprintf(q, sizeof(q), "msisdn=14843472194&to=13239877404&messageId=020000001B0FE827"
			 "&text=Test+again&type=text&keyword=TEST&message-timestamp=2013-11-21+15%%3A27%%3A30"
			 "&timestamp=1385047698&sig=%s", v[i].sig);
		/* keyword is not in the vector's parameter set: drop it again. */
		char *kw = strstr(q, "&keyword=TEST");
		memmove(kw, kw + 13, strlen(kw + 13) + 1);
		char url[800];
		snprintf(url, sizeof(url), "https://example.com/vonage?%s", q);
		sg__wh_request r = get(url, &h);
		assert_int_equal(vonage_verify(&r, v[i].alg, secret, ts), 0);
		assert_int_equal(vonage_verify(&r, v[i].alg, secret, ts + 300), 0);
		assert_int_equal(vonage_verify(&r, v[i].alg, secret, ts + 301), SG_EBADSIG);
		assert_int_equal(vonage_verify(&r, v[i].alg, "my_secret_key_for_testinG", ts), SG_EBADSIG);
		sg__wh_alg other = v[i].alg == SG__WH_ALG_HMAC_SHA1 ? SG__WH_ALG_HMAC_SHA256
								     : SG__WH_ALG_HMAC_SHA1;
		assert_int_equal(vonage_verify(&r, other, secret, ts), SG_EBADSIG);
		/* Form POST, case-insensitive hex. */
		size_t n = strlen(v[i].sig);
		for (size_t j = 0; j <= n; j++)
			lower[j] = (char)(v[i].sig[j] >= 'A' && v[i].sig[j] <= 'F' ? v[i].sig[j] + 32
										   : v[i].sig[j]);
		char *sigp = strstr(q, "&sig=") + 5;
		memcpy(sigp, lower, n);
		r = post("https://example.com/vonage", FORM, q, strlen(q), &h);
		assert_int_equal(vonage_verify(&r, v[i].alg, secret, ts), 0);
		/* Tampered text. */
		char *t = strstr(q, "Test+again");
		t[0] = 'B';
		assert_int_equal(vonage_verify(&r, v[i].alg, secret, ts), SG_EBADSIG);
		/* JSON POST. */
		snprintf(json, sizeof(json), "{\"msisdn\":\"14843472194\",\"to\":\"13239877404\","
			 "\"messageId\":\"020000001B0FE827\",\"text\":\"Test again\",\"type\":\"text\","
			 "\"message-timestamp\":\"2013-11-21 15:27:30\",\"timestamp\":1385047698,"
			 "\"sig\":\"%s\"}", v[i].sig);
		r = post("https://example.com/vonage", JSON, json, strlen(json), &h);
		assert_int_equal(vonage_verify(&r, v[i].alg, secret, ts), 0);
	}
	/* No sig, no timestamp, no secret configured. */
	const char *nosig = "msisdn=1&to=2&messageId=3&text=x&timestamp=1385047698";
	sg__wh_request r = post("https://example.com/vonage", FORM, nosig, strlen(nosig), &h);
	assert_int_equal(vonage_verify(&r, SG__WH_ALG_MD5HASH, secret, ts), SG_EBADSIG);
	const char *nots = "msisdn=1&to=2&messageId=3&text=x&sig=d2e7b1dc968737c5998ad624e02f90b7";
	r = post("https://example.com/vonage", FORM, nots, strlen(nots), &h);
	assert_int_equal(vonage_verify(&r, SG__WH_ALG_MD5HASH, secret, ts), SG_EBADSIG);
	assert_int_equal(vonage_verify(&r, SG__WH_ALG_MD5HASH, NULL, ts), SG_EBADSIG);
}

static void basic_auth(void **state)
{
	(void)state;
	sg__wh_provider_cfg cfg = {.basic_user = "user", .basic_pass = "pass"};
	static const struct {
		const char *auth;
		int rc;
	} v[] = {
		{"Basic dXNlcjpwYXNz", 0},
		{"basic   dXNlcjpwYXNz ", 0},
		{"Basic dXNlcjpwYXN4", SG_EBADSIG},     /* user:pasx */
		{"Basic dXNlcjpwYXNzeA==", SG_EBADSIG}, /* user:passx */
		{"Basic dXNlcg==", SG_EBADSIG},         /* user */
		{"Bearer dXNlcjpwYXNz", SG_EBADSIG},
		{"BasicdXNlcjpwYXNz", SG_EBADSIG},
		{"Basic dXNlcjpwYXNz=", SG_EBADSIG},
		{"Basic ****", SG_EBADSIG},
		{"", SG_EBADSIG},
		{NULL, SG_EBADSIG},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(v); i++) {
		hdrs h = {{{"Authorization", v[i].auth}}};
		sg__wh_request r = post("https://example.com/bw", JSON, "[]", 2, &h);
		assert_int_equal(sg__wh_verify_bandwidth(&r, &cfg), v[i].rc);
		assert_int_equal(sg__wh_verify(SG__WH_SINCH, &r, &cfg), v[i].rc);
	}
	hdrs none = {{{NULL}}};
	sg__wh_request r = post("https://example.com/bw", JSON, "[]", 2, &none);
	sg__wh_provider_cfg open = {.allow_unsigned = true};
	assert_int_equal(sg__wh_verify_bandwidth(&r, &open), 0);
	open.allow_unsigned = false;
	assert_int_equal(sg__wh_verify_bandwidth(&r, &open), SG_EBADSIG);
}

/* ---- status callbacks and code classes ------------------------------------- */

static const sg__wh_message *parse_body(sg__wh_provider prov, const char *ctype, const char *body,
					sg__wh_parsed *p)
{
	hdrs h = {{{NULL}}};
	const char *detail = NULL;
	sg__wh_request r = post("https://example.com/hook", ctype, body, strlen(body), &h);
	int rc = sg__wh_parse(prov, &r, p, &detail);
	if (rc)
		fail_msg("%s: %d %s", body, rc, detail);
	assert_true(p->n >= 1);
	return &p->msgs[0];
}

static void status_codes(void **state)
{
	(void)state;
	static const struct {
		sg__wh_provider prov;
		const char *code;
		sg__wh_code_class cls;
	} c[] = {
		{SG__WH_TWILIO, "21610", SG__WH_CODE_OPT_OUT},
		{SG__WH_TWILIO, "30006", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_TWILIO, "21614", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_TWILIO, "21635", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_TWILIO, "21612", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_TWILIO, "30003", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_TWILIO, "30005", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_TWILIO, "30007", SG__WH_CODE_OTHER},
		{SG__WH_TWILIO, "", SG__WH_CODE_NONE},
		{SG__WH_TWILIO, NULL, SG__WH_CODE_NONE},
		{SG__WH_TELNYX, "40300", SG__WH_CODE_OPT_OUT},
		{SG__WH_TELNYX, "40001", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_TELNYX, "21610", SG__WH_CODE_OTHER},
		{SG__WH_BANDWIDTH, "4775", SG__WH_CODE_OPT_OUT},
		{SG__WH_BANDWIDTH, "4482", SG__WH_CODE_OPT_OUT},
		{SG__WH_BANDWIDTH, "4720", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_BANDWIDTH, "4700", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_BANDWIDTH, "4701", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_BANDWIDTH, "4721", SG__WH_CODE_NOT_SMS_CAPABLE},
		{SG__WH_BANDWIDTH, "4773", SG__WH_CODE_CAMPAIGN_BLOCK},
		{SG__WH_PLIVO, "200", SG__WH_CODE_OPT_OUT},
		{SG__WH_VONAGE, "9", SG__WH_CODE_OPT_OUT},
		{SG__WH_VONAGE, "0", SG__WH_CODE_NONE},
		{SG__WH_SINCH, "257", SG__WH_CODE_OPT_OUT},
		{SG__WH_SINCH, "60", SG__WH_CODE_CAMPAIGN_BLOCK},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(c); i++)
		assert_int_equal(sg__wh_code_classify(c[i].prov, c[i].code), c[i].cls);

	sg__wh_parsed p;
	const sg__wh_message *m = parse_body(SG__WH_TWILIO, FORM,
		"MessageSid=SM1&AccountSid=AC1&MessageStatus=undelivered&ErrorCode=30006"
		"&From=%2B15550000001&To=%2B15552220000&SmsStatus=undelivered", &p);
	assert_int_equal(m->kind, SG__WH_STATUS);
	assert_string_equal(m->handset, "+15552220000");
	assert_string_equal(m->our_number, "+15550000001");
	assert_int_equal(m->code_class, SG__WH_CODE_NOT_SMS_CAPABLE);
	assert_string_equal(m->dedup_key, "twilio:AC1:status:SM1:undelivered:30006");
	sg__wh_parsed_free(&p);
	m = parse_body(SG__WH_TWILIO, FORM, "MessageSid=SM1&AccountSid=AC1&MessageStatus=delivered"
		       "&From=%2B15550000001&To=%2B15552220000", &p);
	assert_int_equal(m->code_class, SG__WH_CODE_NONE);
	assert_string_equal(m->dedup_key, "twilio:AC1:status:SM1:delivered:");
	sg__wh_parsed_free(&p);

	m = parse_body(SG__WH_TELNYX, JSON,
		"{\"data\":{\"event_type\":\"message.finalized\",\"id\":\"ev1\",\"occurred_at\":\"2024-01-01T00:00:00Z\","
		"\"payload\":{\"id\":\"msg1\",\"from\":{\"phone_number\":\"+15550000001\"},"
		"\"to\":[{\"phone_number\":\"+15552220000\",\"status\":\"delivery_failed\"}],"
		"\"messaging_profile_id\":\"prof\",\"errors\":[{\"code\":\"10001\"},{\"code\":\"40300\",\"title\":\"opted out\"}]}}}", &p);
	assert_int_equal(m->kind, SG__WH_STATUS);
	assert_string_equal(m->handset, "+15552220000");
	assert_string_equal(m->status_code, "40300");
	assert_int_equal(m->code_class, SG__WH_CODE_OPT_OUT);
	assert_string_equal(m->dedup_key, "telnyx:prof:status:msg1:delivery_failed:40300");
	sg__wh_parsed_free(&p);
	m = parse_body(SG__WH_TELNYX, JSON,
		"{\"data\":{\"event_type\":\"message.finalized\",\"payload\":{\"id\":\"msg2\","
		"\"from\":{\"phone_number\":\"+15550000001\"},\"to\":[{\"phone_number\":\"+15552220000\","
		"\"status\":\"delivery_failed\"}],\"errors\":[{\"code\":40001}]}}}", &p);
	assert_int_equal(m->code_class, SG__WH_CODE_NOT_SMS_CAPABLE);
	sg__wh_parsed_free(&p);

	m = parse_body(SG__WH_PLIVO, FORM, "MessageUUID=u1&Status=failed&ErrorCode=200&From=15550000001"
		       "&To=15552220000", &p);
	assert_int_equal(m->kind, SG__WH_STATUS);
	assert_string_equal(m->handset, "15552220000");
	assert_int_equal(m->code_class, SG__WH_CODE_OPT_OUT);
	sg__wh_parsed_free(&p);

	m = parse_body(SG__WH_VONAGE, FORM, "msisdn=15552220000&to=15550000001&messageId=0A1&status=failed"
		       "&err-code=9&message-timestamp=2020-01-01+12%3A00%3A00&api-key=k1", &p);
	assert_int_equal(m->kind, SG__WH_STATUS);
	assert_string_equal(m->handset, "15552220000"); /* a receipt's msisdn is the recipient */
	assert_string_equal(m->our_number, "15550000001");
	assert_int_equal(m->code_class, SG__WH_CODE_OPT_OUT);
	assert_int_equal(m->event_time_us, 1577880000000000LL);
	assert_string_equal(m->dedup_key, "vonage:k1:status:0A1:failed:9");
	sg__wh_parsed_free(&p);

	m = parse_body(SG__WH_SINCH, JSON, "{\"type\":\"recipient_delivery_report_sms\",\"batch_id\":\"b1\","
		       "\"recipient\":\"15552220000\",\"code\":257,\"status\":\"Failed\",\"at\":\"2024-01-01T00:00:00Z\"}", &p);
	assert_int_equal(m->kind, SG__WH_STATUS);
	assert_string_equal(m->msg_id, "b1/15552220000");
	assert_int_equal(m->code_class, SG__WH_CODE_OPT_OUT);
	sg__wh_parsed_free(&p);
}

/* ---- hints, dedup keys, odd events ------------------------------------------ */

static void hints_and_keys(void **state)
{
	(void)state;
	assert_int_equal(sg__wh_intent_from_hint("STOP"), SG_INTENT_OPT_OUT);
	assert_int_equal(sg__wh_intent_from_hint("optout"), SG_INTENT_OPT_OUT);
	assert_int_equal(sg__wh_intent_from_hint("Start"), SG_INTENT_OPT_IN);
	assert_int_equal(sg__wh_intent_from_hint("optin"), SG_INTENT_OPT_IN);
	assert_int_equal(sg__wh_intent_from_hint("help"), SG_INTENT_HELP);
	assert_int_equal(sg__wh_intent_from_hint(""), SG_INTENT_NONE);
	assert_int_equal(sg__wh_intent_from_hint("STOPALL"), SG_INTENT_NONE);
	assert_int_equal(sg__wh_intent_from_hint(NULL), SG_INTENT_NONE);

	sg__wh_parsed p;
	const sg__wh_message *m = parse_body(SG__WH_PLIVO, FORM, "MessageUUID=a%3Ab%25c&From=1&To=2"
					     "&Text=&MessageIntent=optout&PowerpackUUID=pp", &p);
	assert_string_equal(m->dedup_key, "plivo::in:a%3Ab%25c");
	assert_int_equal(m->provider_intent, SG_INTENT_OPT_OUT);
	assert_string_equal(m->group, "pp");
	sg__wh_parsed_free(&p);

	char body[700] = "From=1&To=2&Body=x&MessageSid=";
	memset(body + strlen(body), 'S', 300);
	m = parse_body(SG__WH_TWILIO, FORM, body, &p);
	assert_int_equal(strlen(m->msg_id), 300);
	assert_int_equal(strncmp(m->dedup_key, "twilio:sha256:", 14), 0);
	assert_int_equal(strlen(m->dedup_key), 14 + 64);
	sg__wh_parsed_free(&p);

	/* Vonage: concatenated part, URL check, JSON POST, GET. */
	m = parse_body(SG__WH_VONAGE, FORM, "msisdn=447700900001&to=447700900000&messageId=p2&text=rt"
		       "&concat=true&concat-ref=08B5&concat-total=3&concat-part=2&type=text", &p);
	assert_int_equal(m->kind, SG__WH_INBOUND);
	assert_string_equal(m->concat_ref, "08B5");
	assert_int_equal(m->concat_part, 2);
	assert_int_equal(m->concat_total, 3);
	sg__wh_parsed_free(&p);
	hdrs h = {{{NULL}}};
	sg__wh_request r = get("https://example.com/vonage", &h);
	const char *detail;
	assert_int_equal(sg__wh_parse_vonage(&r, &p, &detail), 0);
	assert_int_equal(p.msgs[0].kind, SG__WH_IGNORED);
	sg__wh_parsed_free(&p);
	r = get("https://example.com/vonage?msisdn=14155552671&to=12025550100&messageId=g1&text=STOP", &h);
	assert_int_equal(sg__wh_parse_vonage(&r, &p, &detail), 0);
	assert_string_equal(p.msgs[0].text, "STOP");
	sg__wh_parsed_free(&p);
	m = parse_body(SG__WH_VONAGE, "application/json; charset=utf-8",
		       "{\"msisdn\":14155552671,\"to\":\"12025550100\",\"messageId\":\"j1\",\"text\":\"stop\","
		       "\"concat\":false,\"extra\":{\"x\":1}}", &p);
	assert_string_equal(m->from, "14155552671");
	assert_string_equal(m->text, "stop");
	sg__wh_parsed_free(&p);

	/* Ignored event types. */
	m = parse_body(SG__WH_TELNYX, JSON, "{\"data\":{\"event_type\":\"call.initiated\",\"payload\":{}}}", &p);
	assert_int_equal(m->kind, SG__WH_IGNORED);
	assert_string_equal(m->event_type, "call.initiated");
	sg__wh_parsed_free(&p);
	m = parse_body(SG__WH_SINCH, JSON, "{\"type\":\"delivery_report_sms\",\"batch_id\":\"b\"}", &p);
	assert_int_equal(m->kind, SG__WH_IGNORED);
	sg__wh_parsed_free(&p);
	m = parse_body(SG__WH_AWS_SNS, "text/plain; charset=UTF-8",
		       "{\"Type\":\"SubscriptionConfirmation\",\"MessageId\":\"x\",\"Token\":\"t\","
		       "\"TopicArn\":\"arn\",\"Message\":\"m\",\"SubscribeURL\":\"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription\","
		       "\"Timestamp\":\"2012-04-26T20:45:04.751Z\"}", &p);
	assert_int_equal(m->kind, SG__WH_IGNORED);
	assert_string_equal(m->event_type, "SubscriptionConfirmation");
	assert_string_equal(m->confirm_url, "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription");
	sg__wh_parsed_free(&p);
}

/* ---- malformed input ----------------------------------------------------- */

static void malformed(void **state)
{
	(void)state;
	static const struct {
		sg__wh_provider prov;
		const char *ctype, *body;
		int rc;
	} v[] = {
		{SG__WH_TWILIO, FORM, "", -EINVAL},
		{SG__WH_TWILIO, FORM, "From=%2B1555&Body=STOP", -EINVAL},
		{SG__WH_TWILIO, FORM, "MessageSid=SM1&Body=STOP", -EINVAL},
		{SG__WH_TWILIO, FORM, "MessageSid=SM1&From=%2B1%0055&Body=STOP", -EINVAL},
		{SG__WH_TWILIO, FORM, "MessageSid=SM1&MessageStatus=failed&ErrorCode=21610", -EINVAL},
		{SG__WH_TELNYX, JSON, "", SG_EJSON},
		{SG__WH_TELNYX, JSON, "{", SG_EJSON},
		{SG__WH_TELNYX, JSON, "[]", SG_EJSON},
		{SG__WH_TELNYX, JSON, "{\"data\":1}", SG_EJSON},
		{SG__WH_TELNYX, JSON, "{\"data\":{\"event_type\":\"message.received\"}}", SG_EJSON},
		{SG__WH_TELNYX, JSON, "{\"data\":{\"event_type\":\"message.received\",\"payload\":{\"from\":"
				      "{\"phone_number\":\"+1\"},\"text\":\"x\"}}}", -EINVAL},
		{SG__WH_TELNYX, JSON, "{\"data\":{\"event_type\":\"message.received\",\"payload\":{\"id\":\"i\","
				      "\"from\":{\"phone_number\":\"+1\"},\"text\":[1]}}}", SG_EJSON},
		{SG__WH_TELNYX, JSON, "{\"data\":{\"event_type\":\"message.received\",\"payload\":{\"id\":\"i\","
				      "\"text\":\"x\"}}}", -EINVAL},
		{SG__WH_BANDWIDTH, JSON, "3", SG_EJSON},
		{SG__WH_BANDWIDTH, JSON, "[1]", SG_EJSON},
		{SG__WH_BANDWIDTH, JSON, "[{}]", SG_EJSON},
		{SG__WH_BANDWIDTH, JSON, "[{\"type\":\"message-received\"}]", SG_EJSON},
		{SG__WH_BANDWIDTH, JSON, "[{\"type\":\"message-received\",\"message\":{\"from\":\"+1\"}}]", -EINVAL},
		{SG__WH_BANDWIDTH, JSON, "[{\"type\":\"message-received\",\"message\":{\"id\":\"x\",\"from\":{}}}]", SG_EJSON},
		{SG__WH_BANDWIDTH, JSON, "[{\"type\":\"message-received\",\"message\":{\"id\":\"x\",\"from\":\"+1\"}},",
		 SG_EJSON},
		{SG__WH_PLIVO, FORM, "From=1&Text=x", -EINVAL},
		{SG__WH_PLIVO, FORM, "MessageUUID=1&Text=x", -EINVAL},
		{SG__WH_VONAGE, FORM, "msisdn=1&to=2&text=x", -EINVAL},
		{SG__WH_VONAGE, FORM, "to=2&messageId=1&text=x", -EINVAL},
		{SG__WH_VONAGE, JSON, "[\"msisdn\"]", SG_EJSON},
		{SG__WH_VONAGE, JSON, "{\"msisdn\":", SG_EJSON},
		{SG__WH_SINCH, JSON, "{\"type\":\"mo_text\",\"from\":\"1\",\"body\":\"x\"}", -EINVAL},
		{SG__WH_SINCH, JSON, "{\"type\":7}", SG_EJSON},
		{SG__WH_AWS_SNS, JSON, "{\"Type\":\"Notification\"}", SG_EJSON},
		{SG__WH_AWS_SNS, JSON, "{\"Type\":\"Notification\",\"Message\":\"{\\\"originationNumber\\\":\\\"+1\\\"}\"}",
		 -EINVAL},
		{SG__WH_AWS_SNS, JSON, "{}", SG_EJSON},
	};
	hdrs h = {{{NULL}}};
	for (size_t i = 0; i < SG_ARRAY_SIZE(v); i++) {
		sg__wh_parsed p = {0};
		const char *detail = NULL;
		sg__wh_request r = post("https://example.com/x", v[i].ctype, v[i].body, strlen(v[i].body), &h);
		int rc = sg__wh_parse(v[i].prov, &r, &p, &detail);
		if (rc != v[i].rc)
			fail_msg("case %zu (%s): got %d, want %d", i, v[i].body, rc, v[i].rc);
		assert_non_null(detail);
		assert_null(p.msgs); /* untouched */
	}
	/* A notification that is not a two-way SMS payload is ignored, not an error. */
	sg__wh_parsed p;
	const sg__wh_message *m = parse_body(SG__WH_AWS_SNS, JSON, "{\"Type\":\"Notification\",\"Message\":\"hello\"}", &p);
	assert_int_equal(m->kind, SG__WH_IGNORED);
	sg__wh_parsed_free(&p);
	const char *detail;
	sg__wh_request r = post("https://example.com/x", JSON, "{}", 2, &h);
	assert_int_equal(sg__wh_parse((sg__wh_provider)99, &r, &p, &detail), -EINVAL);
	sg__wh_provider prov;
	assert_int_equal(sg__wh_provider_parse("aws-sns", &prov), 0);
	assert_int_equal(prov, SG__WH_AWS_SNS);
	assert_int_equal(sg__wh_provider_parse("Twilio", &prov), -EINVAL);
	assert_null(sg__wh_provider_name(0));
}

/* ---- SNS signatures with a key made here --------------------------------------- */

static void sns_signature(void **state)
{
	(void)state;
	size_t len;
	char *body = fixture("aws-sns-inbound.json", &len);
	char *sts;
	size_t sts_len;
	assert_int_equal(sg__wh_sns_string_to_sign(body, len, &sts, &sts_len), 0);
	assert_int_equal(strncmp(sts, "Message\n{\"originationNumber\"", 28), 0);
	assert_non_null(strstr(sts, "\nMessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\nTimestamp\n"
				    "2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n"
				    "Type\nNotification\n"));

	EVP_PKEY *key = EVP_RSA_gen(2048);
	assert_non_null(key);
	BIO *bio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
	char *pem_data;
	long pem_len = BIO_get_mem_data(bio, &pem_data);
	char *pem = strndup(pem_data, (size_t)pem_len);
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)sts, sts_len), 1);
	char b64[700];
	EVP_EncodeBlock((unsigned char *)b64, sig, (int)siglen);

	/* Put the real signature and a proper cert URL into the envelope. */
	char signed_body[2048];
	char *ph = strstr(body, "<base64>");
	char *cert = strstr(body, "SimpleNotificationService-<id>.pem");
	assert_true(ph && cert && ph < cert);
	snprintf(signed_body, sizeof(signed_body), "%.*s%s%.*sSimpleNotificationService-abc.pem%s",
		 (int)(ph - body), body, b64, (int)(cert - ph - 8), ph + 8, cert + 34);
	hdrs h = {{{NULL}}};
	sg__wh_provider_cfg cfg = {.public_key = pem, .topic_arn = "arn:aws:sns:us-west-2:123456789012:MyTopic"};
	sg__wh_request r = post("https://example.com/sns", "text/plain", signed_body, strlen(signed_body), &h);
	char why[256] = "";
	r.why = why;
	r.why_cap = sizeof(why);
	r.now_s = 1335920046; /* the envelope's Timestamp */
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), 0);
	/* The signed Timestamp: an hour either way by default, else maxSkewSeconds. */
	r.now_s = 1335920046 + 3600;
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), 0);
	r.now_s = 1335920046 + 3602;
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_EBADSIG);
	assert_non_null(strstr(why, "outside the 3600 s window"));
	r.now_s = 1335920046 - 3602;
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_EBADSIG);
	cfg.max_skew_s = 60;
	r.now_s = 1335920046 + 61;
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_EBADSIG);
	cfg.max_skew_s = 0;
	r.now_s = 1335920046;
	/* A set of certificates by URL: the right one among others verifies; an
	 * unknown URL is named. */
	EVP_PKEY *other = EVP_RSA_gen(2048);
	BIO *obio = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PUBKEY(obio, other), 1);
	char *opem_data;
	long opem_len = BIO_get_mem_data(obio, &opem_data);
	char *opem = strndup(opem_data, (size_t)opem_len);
	const char *url = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-abc.pem";
	sg__wh_cert certs[] = {{"https://sns.us-west-2.amazonaws.com/SimpleNotificationService-old.pem", opem},
			       {url, pem}};
	sg__wh_provider_cfg set = {.certs = certs, .ncerts = 2};
	assert_int_equal(sg__wh_verify_aws_sns(&r, &set), 0);
	set.ncerts = 1;
	why[0] = '\0';
	assert_int_equal(sg__wh_verify_aws_sns(&r, &set), SG_EBADSIG);
	assert_non_null(strstr(why, "unknown SigningCertURL"));
	assert_non_null(strstr(why, url));
	certs[0].url = url;
	certs[0].pem = opem; /* the URL is known, with the wrong certificate (rotated) */
	assert_int_equal(sg__wh_verify_aws_sns(&r, &set), SG_EBADSIG);
	assert_non_null(strstr(why, "does not verify"));
	free(opem);
	BIO_free(obio);
	EVP_PKEY_free(other);
	cfg.topic_arn = "arn:aws:sns:us-west-2:123456789012:Other";
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_EBADSIG);
	cfg.topic_arn = NULL;
	char *stop = strstr(signed_body, "STOP");
	stop[1] = 'O'; /* tampered */
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_EBADSIG);
	stop[1] = 'T';
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), 0);
	/* The fixture's placeholder signature never verifies. */
	r = post("https://example.com/sns", "text/plain", body, len, &h);
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_EBADSIG);
	/* China-region certificate hosts, as AWS accepts; look-alikes refused.
	 * (SigningCertURL is not among the signed fields.) */
	static const struct {
		const char *host;
		int want;
	} hosts[] = {
		{"sns.cn-north-1.amazonaws.com.cn/", 0},      {"sns.us-west-2.amazonaws.com.evil.io/", SG_EBADSIG},
		{"sns.us-west-2.amazonaws.com.cn.evil.io/", SG_EBADSIG}, {"sns.x.amazonaws.com/", SG_EBADSIG},
		{"sns.us-west-2.amazonaws.com@evil.io/", SG_EBADSIG},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(hosts); i++) {
		char moved[2200];
		char *at = strstr(signed_body, "sns.us-west-2.amazonaws.com/");
		snprintf(moved, sizeof(moved), "%.*s%s%s", (int)(at - signed_body), signed_body, hosts[i].host,
			 at + strlen("sns.us-west-2.amazonaws.com/"));
		r = post("https://example.com/sns", "text/plain", moved, strlen(moved), &h);
		r.now_s = 1335920046;
		assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), hosts[i].want);
	}
	/* A duplicated key in the envelope is refused whatever it holds. */
	char dup[2300];
	snprintf(dup, sizeof(dup), "{\"Type\":\"Notification\",%s", signed_body + 1);
	r = post("https://example.com/sns", "text/plain", dup, strlen(dup), &h);
	r.now_s = 1335920046;
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_EBADSIG);
	cfg.public_key = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n";
	r = post("https://example.com/sns", "text/plain", signed_body, strlen(signed_body), &h);
	r.now_s = 1335920046;
	assert_int_equal(sg__wh_verify_aws_sns(&r, &cfg), SG_ECONFIG);

	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	free(pem);
	free(sts);
	free(body);
}


/* ---- issue 11: signed material and parsed fields must agree ------------------ */

/* A captured Vonage callback of any age with timestamp/text/messageId put in
 * front: the old signer read the smallest value of a repeated key and the
 * parser the first, so it verified and parsed as an opt-in. */
static void repeated_keys(void **state)
{
	(void)state;
	hdrs h = {{{NULL}}};
	char why[256] = "";
	const int64_t now = 1485047698;
	const char *forged = "https://example.com/vonage?timestamp=1485047698&text=start&messageId=zz1&"
			     "message-timestamp=2013-11-21+15%3A27%3A30&messageId=020000001B0FE827&msisdn=14843472194"
			     "&text=Test+again&timestamp=1385047698&to=13239877404&type=text"
			     "&sig=d2e7b1dc968737c5998ad624e02f90b7";
	sg__wh_request r = get(forged, &h);
	r.why = why;
	r.why_cap = sizeof(why);
	assert_int_equal(vonage_verify(&r, SG__WH_ALG_MD5HASH, "my_secret_key_for_testing", now), SG_EBADSIG);
	assert_non_null(strstr(why, "is repeated"));
	sg__wh_parsed p = {0};
	const char *detail = NULL;
	assert_int_equal(sg__wh_parse_vonage(&r, &p, &detail), -EINVAL);
	assert_non_null(strstr(detail, "repeated"));
	/* The same as a JSON body. */
	const char *js = "{\"timestamp\":\"1485047698\",\"text\":\"start\",\"messageId\":\"zz2\","
			 "\"message-timestamp\":\"2013-11-21 15:27:30\",\"messageId\":\"020000001B0FE827\","
			 "\"msisdn\":\"14843472194\",\"text\":\"Test again\",\"timestamp\":\"1385047698\","
			 "\"to\":\"13239877404\",\"type\":\"text\",\"sig\":\"d2e7b1dc968737c5998ad624e02f90b7\"}";
	r = post("https://example.com/vonage", JSON, js, strlen(js), &h);
	assert_int_equal(vonage_verify(&r, SG__WH_ALG_MD5HASH, "my_secret_key_for_testing", now), SG_EBADSIG);
	assert_int_equal(sg__wh_parse_vonage(&r, &p, &detail), SG_EJSON);

	/* Twilio and Plivo: repeated keys, and a key in both query and body. */
	const char *bodies[] = {"MessageSid=SM1&From=%2B14155550100&To=%2B14155550101&Body=START&Body=STOP",
				"MessageSid=SM1&From=%2B14155550100&To=%2B14155550101&Body=START"};
	const char *urls[] = {"https://example.com/t", "https://example.com/t?Body=STOP"};
	for (int i = 0; i < 2; i++) {
		r = post(urls[i], FORM, bodies[i], strlen(bodies[i]), &h);
		assert_int_equal(sg__wh_parse_twilio(&r, &p, &detail), -EINVAL);
		assert_int_equal(sg__wh_parse_plivo(&r, &p, &detail), -EINVAL);
		assert_null(p.msgs);
	}
	/* Percent-escaped spellings of one key are the same key. */
	const char *esc = "MessageSid=SM1&From=%2B14155550100&To=%2B14155550101&Body=START&B%6fdy=STOP";
	r = post("https://example.com/t", FORM, esc, strlen(esc), &h);
	assert_int_equal(sg__wh_parse_twilio(&r, &p, &detail), -EINVAL);

	/* JSON: a duplicated key anywhere (also nested, also in arrays) is refused
	 * by every JSON provider; distinct keys at different levels are fine. */
	static const struct {
		sg__wh_provider prov;
		const char *body;
	} dups[] = {
		{SG__WH_TELNYX, "{\"data\":{\"event_type\":\"message.received\",\"payload\":{\"id\":\"x\",\"text\":\"START\","
				"\"from\":{\"phone_number\":\"+1\"},\"text\":\"STOP\"}}}"},
		{SG__WH_TELNYX, "{\"data\":{\"event_type\":\"message.received\",\"payload\":{\"id\":\"x\","
				"\"from\":{\"phone_number\":\"+15550000002\",\"phone_number\":\"+1\"}}}}"},
		{SG__WH_BANDWIDTH, "[{\"type\":\"message-received\",\"message\":{\"id\":\"a\",\"from\":\"+1\","
				   "\"media\":[{\"u\":1,\"u\":2}]}}]"},
		{SG__WH_SINCH, "{\"type\":\"mo_text\",\"id\":\"a\",\"from\":\"1\",\"body\":\"START\",\"body\":\"STOP\"}"},
		{SG__WH_SINCH, "{\"type\":\"mo_text\",\"id\":\"a\",\"from\":\"1\",\"body\":\"x\",\"bod\\u0079\":\"y\"}"},
		{SG__WH_AWS_SNS, "{\"Type\":\"Notification\",\"Type\":\"SubscriptionConfirmation\"}"},
		{SG__WH_AWS_SNS, "{\"Type\":\"Notification\",\"Message\":\"{\\\"originationNumber\\\":\\\"+1\\\","
				 "\\\"inboundMessageId\\\":\\\"a\\\",\\\"messageBody\\\":\\\"START\\\","
				 "\\\"messageBody\\\":\\\"STOP\\\"}\"}"},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(dups); i++) {
		r = post("https://example.com/x", JSON, dups[i].body, strlen(dups[i].body), &h);
		int rc = sg__wh_parse(dups[i].prov, &r, &p, &detail);
		if (rc != SG_EJSON)
			fail_msg("dup case %zu: got %d", i, rc);
		assert_null(p.msgs);
	}
	const char *ok = "{\"type\":\"mo_text\",\"id\":\"a\",\"from\":\"1\",\"to\":\"2\",\"body\":\"x\","
			 "\"x\":{\"id\":1,\"from\":2},\"y\":[{\"id\":1},{\"id\":2}]}\r\n ";
	r = post("https://example.com/x", JSON, ok, strlen(ok), &h);
	assert_int_equal(sg__wh_parse_sinch(&r, &p, &detail), 0); /* trailing whitespace is fine */
	sg__wh_parsed_free(&p);
	/* A second value after the first: the signature covers it, the parser
	 * would not read it. */
	const char *two = "{\"type\":\"mo_text\",\"id\":\"a\",\"from\":\"1\",\"body\":\"START\"}"
			  "{\"type\":\"mo_text\",\"id\":\"a\",\"from\":\"1\",\"body\":\"STOP\"}";
	r = post("https://example.com/x", JSON, two, strlen(two), &h);
	assert_int_equal(sg__wh_parse_sinch(&r, &p, &detail), SG_EJSON);
	assert_string_equal(detail, "data after the JSON value");
}

/* A Bandwidth array: bad elements become INVALID, the valid ones are kept. */
static void bandwidth_mixed(void **state)
{
	(void)state;
	hdrs h = {{{NULL}}};
	const char *body = "[{\"type\":\"message-received\",\"message\":{\"id\":\"a\",\"from\":\"+15550000001\","
			   "\"owner\":\"+15550000009\",\"text\":\"STOP\"}},"
			   "{\"type\":\"message-received\",\"message\":{\"from\":\"+15550000002\",\"text\":\"STOP\"}},"
			   "7,"
			   "{\"type\":\"message-received\",\"message\":{\"id\":\"d\",\"from\":\"+15550000004\","
			   "\"owner\":\"+15550000009\",\"text\":\"STOP\"}}]";
	sg__wh_parsed p = {0};
	const char *detail = NULL;
	sg__wh_request r = post("https://example.com/bw", JSON, body, strlen(body), &h);
	assert_int_equal(sg__wh_parse_bandwidth(&r, &p, &detail), 0);
	assert_int_equal(p.n, 4);
	assert_int_equal(p.msgs[0].kind, SG__WH_INBOUND);
	assert_string_equal(p.msgs[0].msg_id, "a");
	assert_int_equal(p.msgs[1].kind, SG__WH_INVALID);
	assert_string_equal(p.msgs[1].invalid, "no message.id in a Bandwidth callback");
	assert_int_equal(p.msgs[1].index, 1);
	assert_int_equal(p.msgs[2].kind, SG__WH_INVALID);
	assert_int_equal(p.msgs[3].kind, SG__WH_INBOUND);
	assert_string_equal(p.msgs[3].msg_id, "d");
	assert_string_equal(p.msgs[3].from, "+15550000004");
	assert_int_equal(p.msgs[3].index, 3);
	sg__wh_parsed_free(&p);
	/* Nothing readable at all: still an error. */
	const char *bad = "[7,{\"type\":\"message-received\"}]";
	r = post("https://example.com/bw", JSON, bad, strlen(bad), &h);
	assert_int_equal(sg__wh_parse_bandwidth(&r, &p, &detail), SG_EJSON);
	assert_null(p.msgs);
}

/* Sinch HMAC: base64(HMAC-SHA256(secret, body "." nonce "." timestamp)),
 * computed with Python hmac. */
static void sinch_signature(void **state)
{
	(void)state;
	const char *body = "{\"type\":\"mo_text\",\"id\":\"01\",\"from\":\"12065550131\",\"to\":\"12065550100\",\"body\":\"STOP\"}";
	hdrs h = {{{"x-sinch-webhook-signature", "q7cUY9r7kqbbHDkcdKaAqtTuAPc6zj6UMjn8oeppz2E="},
		   {"x-sinch-webhook-signature-nonce", "01FJA8B4A7BM43YGWSG9GBV067"},
		   {"x-sinch-webhook-signature-timestamp", "1634579353"},
		   {"x-sinch-webhook-signature-algorithm", "HmacSHA256"}}};
	sg__wh_provider_cfg cfg = {.secret = "foo_secret1234"};
	sg__wh_request r = post("https://example.com/sinch", JSON, body, strlen(body), &h);
	r.now_s = 1634579353;
	assert_int_equal(sg__wh_verify_sinch(&r, &cfg), 0);
	r.now_s = 1634579353 + 301;
	assert_int_equal(sg__wh_verify_sinch(&r, &cfg), SG_EBADSIG);
	r.now_s = 1634579353;
	cfg.secret = "foo_secret1235";
	assert_int_equal(sg__wh_verify_sinch(&r, &cfg), SG_EBADSIG);
	cfg.secret = "foo_secret1234";
	r.body_len--; /* tampered */
	assert_int_equal(sg__wh_verify_sinch(&r, &cfg), SG_EBADSIG);
	r.body_len++;
	h.kv[3][1] = "HmacMD5";
	assert_int_equal(sg__wh_verify_sinch(&r, &cfg), SG_EBADSIG);
	h.kv[3][1] = "HmacSHA256";
	/* Basic as well: both required. */
	cfg.basic_user = "u";
	cfg.basic_pass = "p";
	assert_int_equal(sg__wh_verify_sinch(&r, &cfg), SG_EBADSIG);
	h.kv[4][0] = "Authorization";
	h.kv[4][1] = "Basic dTpw";
	assert_int_equal(sg__wh_verify_sinch(&r, &cfg), 0);
}

/* Twilio Webhooks Rule keys, and the query forms Twilio's validators try
 * (signatures computed with Python hmac). */
static void twilio_keys_and_escapes(void **state)
{
	(void)state;
	const char *body = "MessageSid=SM1&From=%2B14155550100&To=%2B14155550101&Body=STOP";
	sg__wh_named_key keys[] = {{"k1", "one"}, {"k2", "two"}};
	sg__wh_provider_cfg cfg = {.keys = keys, .nkeys = 2};
	hdrs h = {{{"X-Twilio-Signature", "JJGRNixAuY8welW0kVRiEnUX2qHRHguISlZcDA2fYik="},
		   {"X-Twilio-Webhooks-Signature-Settings", "key=k2,algorithm=HMAC_SHA256"}}};
	sg__wh_request r = post("https://example.com/t", FORM, body, strlen(body), &h);
	assert_int_equal(sg__wh_verify_twilio(&r, &cfg), 0);
	h.kv[1][1] = "key=k1,algorithm=HMAC_SHA256";
	assert_int_equal(sg__wh_verify_twilio(&r, &cfg), SG_EBADSIG);
	h.kv[1][1] = "key=k3,algorithm=HMAC_SHA256";
	char why[256] = "";
	r.why = why;
	r.why_cap = sizeof(why);
	assert_int_equal(sg__wh_verify_twilio(&r, &cfg), SG_EBADSIG);
	assert_non_null(strstr(why, "\"k3\""));
	/* Auth token, URL signed with ' / sent with %27 (and back). */
	sg__wh_provider_cfg tok = {.secret = "12345"};
	hdrs t = {{{"X-Twilio-Signature", "5xLrSTWPBXwNKuQsIx3PiroQxek="}}};
	r = post("https://example.com/t?c=it%27s", FORM, body, strlen(body), &t);
	assert_int_equal(sg__wh_verify_twilio(&r, &tok), 0);
	r = post("https://example.com/t?c=it's", FORM, body, strlen(body), &t);
	assert_int_equal(sg__wh_verify_twilio(&r, &tok), 0);
	r = post("https://example.com:443/t?c=it%27s", FORM, body, strlen(body), &t);
	assert_int_equal(sg__wh_verify_twilio(&r, &tok), 0);
	r = post("https://example.com/t?c=its", FORM, body, strlen(body), &t);
	assert_int_equal(sg__wh_verify_twilio(&r, &tok), SG_EBADSIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(form_decode),      cmocka_unit_test(twilio_signature),
		cmocka_unit_test(twilio_parse),     cmocka_unit_test(telnyx_signature),
		cmocka_unit_test(telnyx_parse),     cmocka_unit_test(other_fixtures),
		cmocka_unit_test(bandwidth_array),  cmocka_unit_test(plivo_signature),
		cmocka_unit_test(vonage_signature), cmocka_unit_test(basic_auth),
		cmocka_unit_test(status_codes),     cmocka_unit_test(hints_and_keys),
		cmocka_unit_test(malformed),        cmocka_unit_test(sns_signature),
		cmocka_unit_test(repeated_keys),    cmocka_unit_test(bandwidth_mixed),
		cmocka_unit_test(sinch_signature),  cmocka_unit_test(twilio_keys_and_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
