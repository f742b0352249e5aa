/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the provider files of engine/webhooks (not for callers). */
#pragma once
#include <cjson/cJSON.h>
#include "buf.h"
#include "internal.h"
#include "webhook.h"

/* ---- result building (result.c) ---------------------------------------- */

/* Copy len bytes into memory owned by p, NUL-terminated; NULL on ENOMEM. */
const char *sg__wh_dup(sg__wh_parsed *p, const char *s, size_t len);
/* Append a message with every string "" and kind IGNORED; NULL on ENOMEM. */
sg__wh_message *sg__wh_add(sg__wh_parsed *p);
/* Fill handset / our_number and the dedup key from the other fields. */
int sg__wh_finish(sg__wh_parsed *p, sg__wh_message *m);
/* A field that may become a number or id: no NUL bytes allowed. */
bool sg__wh_clean(const char *s, size_t len);
/* Parse an event time with sg_time_parse(); 0 when absent or unparseable. */
int64_t sg__wh_time(const char *text);


/* ---- request helpers (result.c) ----------------------------------------- */

const char *sg__wh_header(const sg__wh_request *req, const char *name);
bool sg__wh_is_get(const sg__wh_request *req);
/* Content type is JSON (application/json or anything +json). */
bool sg__wh_is_json(const sg__wh_request *req);
/* The query part of req: req->query, else what follows '?' in public_url. */
const char *sg__wh_query(const sg__wh_request *req, size_t *len);
/* Parameters of a form provider: GET -> query, else the body (a POST with an
 * empty body falls back to the query when fallback is set). A key repeated
 * in them, or present in both the query and the body of a POST: -EINVAL
 * with *detail (and req->why naming the key). -ENOMEM. */
int sg__wh_params(const sg__wh_request *req, bool fallback, sg__wh_form *out, const char **detail);
/* Write req->why (when the caller gave a buffer), printf-style. */
void sg__wh_say(const sg__wh_request *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* JSON with every object's keys unique (anywhere in the tree): 0, or
 * SG_EJSON with *detail and req->why naming the key (req may be NULL). */
int sg__wh_json_unique(const sg__wh_request *req, const cJSON *root, const char **detail);
/* A form field copied into p: "" when absent. *rc becomes -ENOMEM, or
 * -EINVAL for a NUL byte when strict (ids and numbers); sticky. */
const char *sg__wh_fdup(sg__wh_parsed *p, const sg__wh_form *f, const char *key, bool strict,
			int *rc);
/* Split an absolute URL: scheme length, authority [host_at, auth_end), the
 * port's ':' (or 0 when none). false when url is not scheme://authority. */
typedef struct sg__wh_url {
	size_t scheme_len, host_at, port_colon, auth_end, path_end;
	int default_port; /* 443 for https, 80 for http, 0 otherwise */
} sg__wh_url;
bool sg__wh_url_split(const char *url, sg__wh_url *u);
/* No credentials configured: allow_unsigned decides. */
int sg__wh_unsigned(const sg__wh_provider_cfg *cfg);
/* Check |now - ts| within cfg's window; ts as decimal text. */
bool sg__wh_fresh(const sg__wh_provider_cfg *cfg, int64_t now_s, const char *ts);

/* ---- JSON (result.c) ------------------------------------------------------- */

/* The body as one JSON value (whitespace may follow it, nothing else), every
 * object's keys unique: 0, or SG_EJSON with *err_detail. */
int sg__wh_json_parse(const sg__wh_request *req, cJSON **ret, const char **err_detail);
/* The same for any text (req may be NULL: only for req->why). */
int sg__wh_json_text(const sg__wh_request *req, const char *text, size_t len, cJSON **ret,
		     const char **err_detail);

/* Fills one message from a parsed JSON body; 0 or an error with *detail. */
typedef int (*sg__wh_fill_fn)(sg__wh_parsed *p, sg__wh_message *m, const cJSON *root, const char **detail);

/* The whole parse of a provider whose body is one JSON object holding one
 * message (Telnyx, Sinch): parse, fill, finish; *out untouched on failure. */
int sg__wh_parse_one_json(const sg__wh_request *req, sg__wh_provider provider, sg__wh_fill_fn fill,
			  sg__wh_parsed *out, const char **err_detail);
/* The same for a form provider (Twilio, Plivo, Vonage): params reads the
 * parameters (sg__wh_params() or the provider's own), fill makes the one
 * message from them, then finish; *out untouched on failure. */
typedef int (*sg__wh_params_fn)(const sg__wh_request *req, sg__wh_form *out, const char **detail);
typedef int (*sg__wh_form_fill_fn)(sg__wh_parsed *p, sg__wh_message *m, const sg__wh_form *f,
				   const char **detail);
int sg__wh_parse_one_form(const sg__wh_request *req, sg__wh_provider provider, sg__wh_params_fn params,
			  sg__wh_form_fill_fn fill, sg__wh_parsed *out, const char **err_detail);
/* Object member by exact name, or NULL. */
const cJSON *sg__wh_jget(const cJSON *obj, const char *name);
/* A string or number member copied into p: "" when absent or null, NULL on
 * ENOMEM; *bad is set when present with another type. */
const char *sg__wh_jtext(sg__wh_parsed *p, const cJSON *item, bool *bad);

/* ---- crypto (crypto.c) ------------------------------------------------------ */

#define SG__WH_MD_MAX 64
/* md: "MD5", "SHA1", "SHA256", "SHA512". out >= SG__WH_MD_MAX bytes. */
int sg__wh_hmac(const char *md, const void *key, size_t klen, const void *msg, size_t mlen,
		unsigned char *out, size_t *outlen);
int sg__wh_digest(const char *md, const void *msg, size_t mlen, unsigned char *out, size_t *outlen);
/* Standard base64 with padding; out needs 4 * ceil(n / 3) + 1 bytes. */
size_t sg__wh_b64_encode(const unsigned char *in, size_t n, char *out);
/* Strict standard base64 (padding required, no whitespace inside); surrounding
 * whitespace ignored. Returns -EINVAL when malformed or longer than cap. */
int sg__wh_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen);
/* Lowercase hex; out needs 2n + 1 bytes. */
void sg__wh_hex(const unsigned char *in, size_t n, char *out);
/* Constant-time, ASCII case-insensitive equality. */
bool sg__wh_ct_equal_nocase(const char *a, size_t alen, const char *b, size_t blen);
/* Ed25519 over msg: 0 valid, SG_EBADSIG invalid, SG_ECONFIG bad key. */
int sg__wh_ed25519_verify(const unsigned char pub[32], const unsigned char sig[64],
			  const void *msg, size_t mlen);
/* HTTP Basic against user:pass, constant-time: 0 or SG_EBADSIG. */
int sg__wh_basic_check(const sg__wh_request *req, const char *user, const char *pass);
