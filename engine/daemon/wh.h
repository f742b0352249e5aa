/* SPDX-License-Identifier: Apache-2.0 */
/* Provider webhooks in the daemon (issue 5).
 *
 *   wh_config.c     the "providers" settings and their STOPGATE_* environment
 *                   overrides: parsed and checked once at start
 *   wh_concat.c     the table that reassembles Vonage concatenated SMS
 *   api_webhooks.c  /v1/webhooks/<provider>[/...]: verify, parse, record,
 *                   answer in the provider's terms (wh_answer.c)
 *
 * Loop thread only. The settings and the table are process-wide (the daemon
 * runs one server per process): sg__webhooks_init() before listening,
 * sg__webhooks_free() after the loop ended.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "daemon.h"
#include "webhooks/webhook.h"

/* ---- settings (wh_config.c) ---- */

/* One provider's settings. */
typedef struct sg__wh_settings {
	/* What sg__wh_verify() gets; its strings point into memory owned here
	 * (wiped and freed by sg__webhooks_free). allow_unsigned is set only
	 * when no credentials are configured and allowUnsignedWebhooks is on. */
	sg__wh_provider_cfg cfg;
	bool has_credentials;
	char country[3];        /* default country of our numbers ("" none) */
	bool reply_with_twiml;  /* twilio: carry replies as <Message> (never for STOP) */
} sg__wh_settings;

#define SG__WH_CONCAT_TIMEOUT_S 120 /* default providers.vonage.concatTimeoutSeconds */

/* Read cfg->providers and the environment (STOPGATE_TWILIO_AUTH_TOKEN, ...),
 * check every key, log what each provider accepts (unsigned ones loudly).
 * Returns 0, or -1 after logging why the daemon cannot start. */
int sg__webhooks_init(const sg__config *cfg);
/* Free the settings (secrets wiped) and the concat table. Idempotent. */
void sg__webhooks_free(void);
/* The settings of p (never NULL for a valid p). */
const sg__wh_settings *sg__webhooks_settings(sg__wh_provider p);
/* Unix seconds for signature timestamp windows: the real clock, or
 * STOPGATE_TEST_CLOCK (tests only; logged as a warning at start). */
int64_t sg__webhooks_now_s(void);
/* How long the parts of a Vonage concatenated message wait for the rest. */
int64_t sg__webhooks_concat_timeout_us(void);

/* ---- Vonage concatenated SMS (wh_concat.c) ---- */

/* One message being reassembled from parts keyed by (handset, our number,
 * concat-ref). Bounded table (SG__CONCAT_MAX messages); memory only. */
typedef struct sg__concat sg__concat;
#define SG__CONCAT_MAX 1024
#define SG__CONCAT_MAX_PARTS 32

enum {
	SG__CONCAT_PENDING = 1,  /* part stored, more to come */
	SG__CONCAT_COMPLETE = 2, /* *ret holds every part: record it, then sg__concat_done */
	SG__CONCAT_DUP = 3,      /* this part is already held (or is being recorded) */
	SG__CONCAT_ALONE = 4,    /* cannot be held (too many parts, fields too long): record the part alone */
	SG__CONCAT_RECORDED = 5, /* the message was recorded: recorded_key gets its dedup key, so
				  * that the repeat answers what the message answered */
};

/* Add the part m (concat_total > 1). Returns one of the values above or
 * -EAGAIN when the table is full of messages being recorded, -ENOMEM. */
int sg__concat_add(const sg__wh_message *m, int64_t now_us, sg__concat **ret,
		   char recorded_key[SG__WH_DEDUP_MAX]);
/* Take one message whose parts waited past the timeout (or, when the table
 * is full, the oldest waiting one) to be recorded with the parts it has;
 * NULL when none. The caller records it, then calls sg__concat_done. */
sg__concat *sg__concat_take_expired(int64_t now_us);

/* A held message, as one inbound message; valid until sg__concat_done. */
typedef struct sg__concat_view {
	const char *handset, *our_number, *account, *ref;
	const char *msg_id, *dedup_key; /* of the lowest part held */
	const char *text;               /* parts held, joined in part order */
	size_t text_len;
	int64_t event_time_us;          /* of the lowest part held */
	unsigned have, total;
} sg__concat_view;
int sg__concat_view_of(sg__concat *c, sg__concat_view *v); /* 0 or -ENOMEM */
/* Recorded (ok): kept as a tombstone until the timeout so that late
 * repeats of a part are duplicates. Not recorded: waits again and is taken
 * by a later sg__concat_take_expired. */
void sg__concat_done(sg__concat *c, bool ok);
/* Messages still waiting (for logs and tests). */
unsigned sg__concat_pending(void);
void sg__concat_free_all(void);

/* ---- one webhook request (api_webhooks.c, wh_answer.c) ---- */

typedef enum sg__wh_item_kind {
	SG__WHI_INBOUND = 1, /* recorded through sg__inbound_process */
	SG__WHI_STATUS,      /* a status callback: opt-out / not-SMS-capable signal, else ignored */
	SG__WHI_IGNORED,     /* event type we do not use */
	SG__WHI_PART,        /* a Vonage part held for reassembly (or a repeat of one) */
	SG__WHI_INVALID,     /* an element of a batch that cannot be read (logged, not recorded) */
} sg__wh_item_kind;

struct sg__wh_call;

/* One message of a request and what became of it. */
typedef struct sg__wh_item {
	struct sg__wh_call *call;
	sg__wh_item_kind kind;
	const sg__wh_message *m;   /* NULL for a timed-out Vonage message carried along */
	sg__concat *concat;        /* reassembled Vonage message, until sg__concat_done */
	sg__concat_view cv;        /* of concat; after it is done only msg_id and ref, copied below */
	char cv_msg_id[128], cv_ref[64];
	int part_state;            /* SG__WHI_PART: SG__CONCAT_PENDING or SG__CONCAT_DUP */
	char same_as[SG__WH_DEDUP_MAX]; /* a repeated part of a recorded message: its dedup key */

	int status;                /* 0, or why it was not recorded */
	const char *error;         /* short name of status */
	bool fatal;                /* our failure: the whole answer is 5xx so that it is retried */
	bool recorded;             /* a status signal was recorded (or was a duplicate) */
	sg_intent intent;
	sg_confidence confidence;
	sg_action action;
	bool has_reply;
	char reply[SG_REPLY_MAX];
	bool duplicate, quarantined;
	bool no_number;            /* inbound without our number: 4xx; an opt-out in it is
				    * recorded under the quarantine sender "raw:" */
	bool provider_acted;       /* the provider's own hint decided (Twilio OptOutType, ...) */
	uint64_t seq;
	sg_scope_kind scope;       /* status signals: where it was recorded */
	char sender[SG_KEY_MAX], recipient[SG_KEY_MAX];

	sg_decision *decision;     /* a status signal's, until it is recorded */
	char rule[64];             /* the provider's hint as a rule ("OptOutType:STOP") */
} sg__wh_item;

typedef struct sg__wh_call {
	sg__req *req;
	sg__wh_provider provider;
	const char *name;
	const sg__wh_settings *set;
	sg__buf url;
	sg__wh_request wreq;
	sg__wh_parsed parsed;
	sg__wh_item *items;
	size_t n;
	char why[256];             /* why verify refused (engine/webhooks fills it) */
	size_t pending;            /* callbacks outstanding, +1 while starting */
} sg__wh_call;

/* Answer the request from its items (wh_answer.c): 5xx when an item failed
 * on our side, else 200 TwiML (Twilio) or JSON. Does not free the call. */
void sg__wh_answer(sg__wh_call *call);
