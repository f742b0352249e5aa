/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Provider webhooks: parse and authenticate inbound-message and status
 * callbacks from SMS providers (not installed; library-internal).
 *
 * Pure library code: no I/O, no clock, no globals. The HTTP layer fills an
 * sg__wh_request with what it received and calls, in this order,
 *
 *     sg__wh_verify(provider, &req, &cfg)     -> 0 or SG_EBADSIG (answer 403)
 *     sg__wh_parse(provider, &req, &parsed, &detail)
 *     ... normalize, classify, record each parsed.msgs[i] ...
 *     sg__wh_parsed_free(&parsed)
 *
 * Numbers are returned raw, exactly as the provider sent them; the caller
 * normalizes them with sg_number_normalize(), taking the default country of
 * the handset from our number (or from_country / to_country when given).
 *
 * Thread-safety: every function is reentrant; a request and its result may
 * be used from one thread at a time.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"

/* ---- providers --------------------------------------------------------- */

typedef enum sg__wh_provider {
	SG__WH_TWILIO = 1,
	SG__WH_TELNYX = 2,
	SG__WH_BANDWIDTH = 3,
	SG__WH_PLIVO = 4,
	SG__WH_VONAGE = 5,
	SG__WH_SINCH = 6,
	SG__WH_AWS_SNS = 7,
	SG__WH_PROVIDER_MAX
} sg__wh_provider;

/* "twilio", "telnyx", "bandwidth", "plivo", "vonage", "sinch", "aws-sns";
 * NULL for an unknown value. The names are the dedup-key prefixes. */
const char *sg__wh_provider_name(sg__wh_provider p);
/* The inverse; -EINVAL for an unknown name. */
int sg__wh_provider_parse(const char *name, sg__wh_provider *ret);

/* ---- the request, as the HTTP layer received it ------------------------ */

typedef struct sg__wh_request {
	const char *method;        /* "GET" / "POST"; NULL means POST */
	/* The URL the provider called, rebuilt from the configured public base
	 * URL: scheme, host, optional port, path and the query exactly as
	 * received, e.g. "https://optout.example.com/v1/webhooks/twilio?x=1".
	 * Signed by Twilio (whole) and Plivo (scheme://host/path + query). */
	const char *public_url;
	const char *query;         /* raw query string without '?', or NULL */
	size_t query_len;
	const char *content_type;  /* Content-Type header value, or NULL */
	const char *body;          /* raw body bytes (may be NULL when body_len is 0) */
	size_t body_len;
	/* Case-insensitive header lookup: the value (NUL-terminated) or NULL
	 * when absent. May be NULL: no headers at all. */
	const char *(*header)(void *ctx, const char *name);
	void *header_ctx;
	int64_t now_s;             /* current Unix time, for timestamp windows */
	/* Optional (may be NULL): sg__wh_verify writes here, NUL-terminated,
	 * why it refused a request ("parameter \"text\" is repeated",
	 * "unknown SigningCertURL https://..."), for the log. Never a secret. */
	char *why;
	size_t why_cap;
} sg__wh_request;

/* ---- the parse result --------------------------------------------------- */

typedef enum sg__wh_kind {
	SG__WH_INBOUND = 1, /* a message from a handset to one of our numbers */
	SG__WH_STATUS = 2,  /* a status callback / delivery report of our outbound message */
	SG__WH_IGNORED = 3, /* an event type we do not use, or a URL check: answer 2xx */
	SG__WH_INVALID = 4, /* one element of a batch (Bandwidth array) that cannot be
			     * read: `invalid` says why; the others are recorded */
} sg__wh_kind;

/* What a status code means for consent (reference/compliance.md §8). */
typedef enum sg__wh_code_class {
	SG__WH_CODE_NONE = 0,            /* no error code (or a success code) */
	SG__WH_CODE_OPT_OUT = 1,         /* recipient opted out: record an opt-out (provider_signal) */
	SG__WH_CODE_NOT_SMS_CAPABLE = 2, /* landline / unreachable: flag, never an opt-out */
	SG__WH_CODE_CAMPAIGN_BLOCK = 3,  /* campaign-level block (Bandwidth 4773, Sinch 60): consent untouched */
	SG__WH_CODE_OTHER = 4,           /* any other error code: consent untouched */
} sg__wh_code_class;

/*
 * One inbound message or status signal. A request may carry several (a
 * Bandwidth array yields one per element).
 *
 * Every const char * below is non-NULL and NUL-terminated: "" when the
 * provider sent nothing. All point into memory owned by the sg__wh_parsed
 * that holds the message and stay valid until sg__wh_parsed_free().
 *
 * from / to are the message's own sender and recipient, so for INBOUND the
 * handset is `from` and our number is `to`; for STATUS (our outbound
 * message) the handset is `to` and our number is `from`. `handset` and
 * `our_number` alias the right ones for either kind.
 */
typedef struct sg__wh_message {
	sg__wh_kind kind;
	const char *event_type;    /* provider's event type: "message.received",
				    * "message-failed", "mo_text", "Notification";
				    * Twilio/Plivo/Vonage (no type field): "inbound" or "status" */
	const char *from, *to;     /* raw numbers as sent */
	const char *handset;       /* == from (INBOUND) or to (STATUS) */
	const char *our_number;    /* == to (INBOUND) or from (STATUS); may be "" (Twilio
				    * 21610 callbacks carry no From: look up the stored send) */
	const char *from_country;  /* Twilio FromCountry ("US"), else "" */
	const char *to_country;    /* Twilio ToCountry, else "": the country of a short-code `to` */
	const char *account;       /* Twilio AccountSid, Telnyx messaging_profile_id,
				    * Bandwidth applicationId, Vonage api-key, else "" */
	const char *group;         /* sender group: Twilio MessagingServiceSid, Telnyx
				    * messaging_profile_id, Plivo PowerpackUUID, else "" */
	const char *msg_id;        /* provider message id (Telnyx: data.payload.id; Sinch
				    * delivery report: "<batch_id>/<recipient>", as one
				    * batch id covers many recipients) */
	/* De-duplication key, stable across the provider's retries:
	 *   "<provider>:<account>:in:<msg_id>"                    (INBOUND)
	 *   "<provider>:<account>:status:<msg_id>:<status>:<code>" (STATUS)
	 *   ""                                                     (IGNORED)
	 * ':' and '%' and control bytes inside a component are %-escaped; keys
	 * longer than SG__WH_DEDUP_MAX - 1 become "<provider>:sha256:<hex>". */
	const char *dedup_key;
	const char *text;          /* message body (may hold NUL bytes; text_len counts) */
	size_t text_len;
	int64_t event_time_us;     /* provider event time (UTC µs): Telnyx occurred_at,
				    * Bandwidth message.time, Vonage message-timestamp,
				    * Sinch received_at / at, SNS Timestamp; 0 = none given */
	const char *hint;          /* the provider's keyword hint as sent: Twilio OptOutType,
				    * Telnyx autoresponse_type, Plivo MessageIntent */
	sg_intent provider_intent; /* hint mapped; SG_INTENT_NONE when absent or unknown */
	const char *status;        /* STATUS: MessageStatus / to[0].status / event type ... */
	const char *status_code;   /* STATUS: provider error code, e.g. "21610"; "" none */
	sg__wh_code_class code_class;
	/* Vonage concatenated SMS: each part is its own request and its own
	 * message (own msg_id, own dedup key); nothing is reassembled here. A
	 * part has concat_total > 1; the caller joins parts with equal
	 * (handset, our_number, concat_ref) in concat_part order (1-based)
	 * before classifying. Zero / "" for whole messages and all other
	 * providers. */
	const char *concat_ref;
	unsigned concat_part, concat_total;
	unsigned num_media;        /* attached media count when the provider says */
	const char *confirm_url;   /* aws-sns SubscriptionConfirmation (IGNORED): the
				    * SubscribeURL to fetch once to confirm, else "" */
	const char *invalid;       /* INVALID: why (static text), else "" */
	unsigned index;            /* position in the request (0-based) */
} sg__wh_message;

#define SG__WH_DEDUP_MAX 200

/*
 * A parse result. Zero-initialise (or let a parse fill it); the caller frees
 * it with sg__wh_parsed_free(). A parse writes *out only on success.
 */
typedef struct sg__wh_parsed {
	sg__wh_provider provider;
	sg__wh_message *msgs;      /* n messages, in the order of the request */
	size_t n;
	size_t cap_;               /* private */
	struct sg__wh_block *mem_; /* private: owns every string */
} sg__wh_parsed;

/* Free everything a parse allocated and zero *p. NULL or zeroed: no-op. */
void sg__wh_parsed_free(sg__wh_parsed *p);

/*
 * Parse one request. On success fills *out (n may be 0, e.g. an empty
 * Bandwidth array) and returns 0. On failure returns a negative code and
 * leaves *out untouched; *err_detail (may be NULL) then points at a static
 * description:
 *   -EINVAL   required field missing (no message id, no sender), wrong
 *             method / content type, NUL byte in an id or number
 *   SG_EJSON  malformed JSON, or a field of the wrong type
 *   -ENOMEM
 * Unknown event types are not errors: they come back as SG__WH_IGNORED.
 *
 * Inputs per provider:
 *   twilio     POST form body, or GET query
 *   telnyx     POST JSON (v2 event envelope)
 *   bandwidth  POST JSON array (an object is taken as a one-element array);
 *              an element that cannot be read becomes an INVALID message
 *              and the others are returned: the parse fails only when the
 *              body is not JSON or every element is invalid
 *   plivo      POST form body, or GET query
 *   vonage     GET query, POST form, or POST JSON (POST with an empty body:
 *              the query); no msisdn/to at all = URL check = IGNORED
 *   sinch      POST JSON (mo_* inbound, recipient_delivery_report_sms)
 *   aws-sns    POST SNS envelope (any content type); Notification is parsed
 *              twice; confirmations come back IGNORED with event_type set
 */
int sg__wh_parse_twilio(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail);
int sg__wh_parse_telnyx(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail);
int sg__wh_parse_bandwidth(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail);
int sg__wh_parse_plivo(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail);
int sg__wh_parse_vonage(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail);
int sg__wh_parse_sinch(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail);
int sg__wh_parse_aws_sns(const sg__wh_request *req, sg__wh_parsed *out, const char **err_detail);
/* Dispatch on provider; -EINVAL for an unknown one. */
int sg__wh_parse(sg__wh_provider p, const sg__wh_request *req, sg__wh_parsed *out,
		 const char **err_detail);

/* Class of a provider status code (compliance.md §8). NULL / "" / "0" -> NONE. */
sg__wh_code_class sg__wh_code_classify(sg__wh_provider p, const char *code);
/* Map a provider keyword hint ("STOP", "optout", "START", "HELP", ...,
 * case-insensitive) to an intent; SG_INTENT_NONE for anything else. */
sg_intent sg__wh_intent_from_hint(const char *hint);

/* ---- authentication ----------------------------------------------------- */

typedef enum sg__wh_alg {
	SG__WH_ALG_DEFAULT = 0,     /* the provider's own: Twilio HMAC-SHA1, Vonage md5hash */
	SG__WH_ALG_MD5HASH = 1,     /* Vonage: md5(params + secret) */
	SG__WH_ALG_HMAC_MD5 = 2,    /* Vonage */
	SG__WH_ALG_HMAC_SHA1 = 3,   /* Vonage; Twilio's default */
	SG__WH_ALG_HMAC_SHA256 = 4, /* Vonage; Twilio Webhooks Rule variant */
	SG__WH_ALG_HMAC_SHA512 = 5, /* Vonage */
} sg__wh_alg;

/*
 * One provider's credentials, owned by the caller.
 *   twilio     secret = Auth Token (alg DEFAULT or HMAC_SHA256)
 *   telnyx     public_key = base64 Ed25519 key: raw 32 bytes, or DER SPKI
 *   bandwidth  basic_user / basic_pass (Application InboundCallbackCreds)
 *   plivo      secret = Auth Token; V3 headers only (V2 signs no body: refused)
 *   vonage     secret = signature secret, alg = account's signature method
 *   sinch      secret = callback signing secret (x-sinch-webhook-signature:
 *              HMAC over body "." nonce "." timestamp), and/or
 *              basic_user / basic_pass when the account uses Basic auth
 *   aws-sns    certs = PEM certificates (or PEM public keys) by the
 *              SigningCertURL they were fetched from (several at once, for
 *              rotation); public_key = one more, for any URL (the old
 *              single-certificate setting); topic_arn = the one topic
 *              accepted
 * Timestamp windows (Telnyx, Vonage, Sinch): |now_s - timestamp| <=
 * max_skew_s, 0 meaning 300 s; aws-sns: the envelope's signed Timestamp,
 * 0 meaning SG__WH_SNS_SKEW_S (a replay inside it is a duplicate by its
 * inboundMessageId).
 */
/* An AWS SNS signing certificate: the SigningCertURL it was fetched from
 * (NULL: any valid SNS certificate URL) and its PEM. */
typedef struct sg__wh_cert {
	const char *url;
	const char *pem;
} sg__wh_cert;

/* A named signing key (Twilio Webhooks Rule keys). */
typedef struct sg__wh_named_key {
	const char *name;
	const char *secret;
} sg__wh_named_key;

#define SG__WH_SNS_SKEW_S 3600 /* default SNS Timestamp window: SNS retries for up to an hour */

typedef struct sg__wh_provider_cfg {
	const char *secret;
	const char *public_key;
	const char *basic_user, *basic_pass;
	const char *topic_arn;
	sg__wh_alg alg;
	int64_t max_skew_s;
	const sg__wh_cert *certs;     /* aws-sns: the certificates accepted, any number */
	size_t ncerts;
	const sg__wh_named_key *keys; /* twilio: Webhooks Rule signing keys by name */
	size_t nkeys;
	bool allow_unsigned; /* no credentials configured: accept everything (log loudly) */
} sg__wh_provider_cfg;

/*
 * Authenticate one request. Returns 0 when authentic, or when the provider
 * has no credentials configured and allow_unsigned is set. SG_EBADSIG when
 * the signature / credentials are missing, malformed, wrong or stale, or
 * when no credentials are configured and allow_unsigned is false.
 * SG_ECONFIG when the configured key itself is unusable (bad base64, wrong
 * length, unreadable PEM). -ENOMEM. Every comparison is constant-time.
 * Twilio tries public_url as given, with the default port removed and with
 * it added (:443 https, :80 http).
 */
int sg__wh_verify_twilio(const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
int sg__wh_verify_telnyx(const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
int sg__wh_verify_bandwidth(const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
int sg__wh_verify_plivo(const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
int sg__wh_verify_vonage(const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
int sg__wh_verify_sinch(const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
int sg__wh_verify_aws_sns(const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
int sg__wh_verify(sg__wh_provider p, const sg__wh_request *req, const sg__wh_provider_cfg *cfg);
/* The SNS string to sign of an envelope (Notification or confirmation), for
 * tests and diagnostics: *ret (caller frees with free()) and its length.
 * SG_EJSON when a signed field is missing or not a string. */
int sg__wh_sns_string_to_sign(const char *body, size_t len, char **ret, size_t *ret_len);
/* A PEM certificate or public key that the SNS check can use. */
bool sg__wh_sns_pem_ok(const char *pem);

/* ---- application/x-www-form-urlencoded ------------------------------------ */

typedef struct sg__wh_pair {
	const char *key, *val; /* decoded, NUL-terminated (may also hold NULs: use the lengths) */
	size_t key_len, val_len;
} sg__wh_pair;

typedef struct sg__wh_form {
	sg__wh_pair *pairs;  /* in input order; repeated keys and empty values kept */
	size_t n;
	size_t bad_escapes;  /* '%' not followed by two hex digits: kept literally, counted */
	char *buf_;          /* private: owns the strings */
} sg__wh_form;

/*
 * Decode a form body or query string: pairs split on '&' (empty segments
 * skipped), key and value split on the first '=' (none: empty value),
 * '+' -> space, %XX -> byte. A malformed escape is kept as is and counted in
 * bad_escapes (reported, not fatal: a provider's STOP must not be lost over
 * one stray '%'). Returns 0 or -ENOMEM; *out is written only on success.
 */
int sg__wh_form_decode(const char *in, size_t len, sg__wh_form *out);
void sg__wh_form_free(sg__wh_form *f);
/* First value of key (exact, case-sensitive) or NULL; *len (may be NULL) gets its length. */
const char *sg__wh_form_get(const sg__wh_form *f, const char *key, size_t *len);
/* Sort pairs bytewise by key, then by value (the order signatures use). */
void sg__wh_form_sort(sg__wh_form *f);
/* The first pair whose key occurs again in f, or in other (may be NULL);
 * NULL when every key is unique. A repeated key is refused by every
 * provider: a signer and a parser may read different values of it. */
const sg__wh_pair *sg__wh_form_repeated(const sg__wh_form *f, const sg__wh_form *other);
