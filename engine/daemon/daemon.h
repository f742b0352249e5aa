/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's shared state and the helpers API handlers share. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "writer.h"

struct sg__conn;

/* One per event loop. The main loop's is owned by serve.c for the whole
 * run; with httpThreads > 1 each HTTP loop (http_loops.c) has its own, on
 * its own thread. Its loop's thread only, except the engine (thread-safe,
 * see stopgate.h), the writer (its own locking), cfg (read-only) and the
 * metrics (single writer, read by GET /metrics on the main loop). */
struct sg__server {
	uv_loop_t *loop;
	sg__server *main;          /* the main loop's: every handler but checks runs there */
	struct sg__loops *loops;   /* the HTTP loops (http_loops.c), or NULL: the main loop serves HTTP */
	unsigned index;            /* which HTTP loop (0 for the main loop) */
	unsigned *conn_total;      /* open connections on every loop (atomic; limits.maxConnections) */
	unsigned conn_count;       /* the main loop's: what conn_total points to */
	uv_timer_t sweep;          /* every connection's deadline, checked on a tick (http_conn.c) */
	bool sweeping;             /* sweep initialised and not closed */
	sg_engine *engine;
	const sg__config *cfg;
	sg__writer *writer;
	struct sg__fleet *fleet; /* --replicate: writes go through the stream (engine/fleet/) */
	sg__metrics metrics;
	struct {                   /* POST /v1/sends waiting for the next batch (api_sends.c; main loop) */
		struct sends_req *head, *tail;
		unsigned waiting;
		bool busy;             /* a batch is with the writer */
		uint64_t batches, requests; /* for /metrics */
	} sends;

	uv_poll_t listener;      /* the listening socket, accepted by hand (http_accept.c) */
	uv_timer_t accept_pause; /* out of descriptors: accepting resumes when it fires */
	uv_os_sock_t listen_fd;
	bool listening;          /* listener initialised and not yet closed */
	bool accept_paused;
	bool draining;           /* shutting down: accept nothing, close when answered */
	bool reloading;          /* a SIGHUP reload is waiting for the writer */
	struct sg__conn *conns;  /* every open connection (doubly linked) */
	unsigned nconns;
	unsigned long next_req_id;   /* the main loop's count every loop's ids (atomic) */
	unsigned long next_conn_id;
	void (*on_drained)(sg__server *srv); /* draining and the last connection is gone */
	char read_buf[64 * 1024];    /* shared: reads are parsed before the next one */
	bool read_buf_busy;
	char date[40];               /* cached "Date: ..." value */
	int64_t date_sec;
};

/* See http.h, "the HTTP loops". */
static inline bool sg__req_on_main(const sg__req *req)
{
	return !req->srv->main || req->srv->main == req->srv;
}

/* A fleet node's claiming check (api_check_fleet.c): v is the verdict for
 * the one pair; cb(req, rc, ctx) once decided. */
void sg__check_fleet_claim(sg__req *req, const char *from, const char *to, sg_purpose purpose, sg_verdict *v,
			   void (*cb)(sg__req *req, int rc, void *ctx), void *ctx);

/* ---- helpers for handlers (api_util.c) ---- */

/* Parse a JSON request body. On failure answers 400 with the position and
 * returns NULL; otherwise the caller owns the result (cJSON_Delete). */
cJSON *sg__parse_body_json(sg__req *req);

/* A string member, or NULL when absent/null. When present with another type,
 * answers 422 and sets *answered. */
const char *sg__json_str(sg__req *req, const cJSON *obj, const char *name, bool *answered);

/* Normalize a number field; on failure answers 422 naming the field and
 * returns the error. country may be NULL (engine default). */
int sg__normalize(sg__req *req, const char *field_name, const char *in, const char *country,
		  sg_field field, char out[SG_KEY_MAX]);

/* Answer a failed writer submission (503 + Retry-After for -EAGAIN). */
void sg__respond_submit_error(sg__req *req, int rc);
/* Answer a library error: 422 for input errors, 503 for a full/locked
 * store, 500 otherwise. */
void sg__respond_engine_error(sg__req *req, int rc, const char *what);

/* Append one event as a JSON object (no newline). */
void sg__event_json(sg__buf *b, const sg_event *ev);
/* The CSV header line and one event as a CSV record (with CRLF). */
void sg__event_csv_header(sg__buf *b);
void sg__event_csv(sg__buf *b, const sg_event *ev);
/* Append a verdict's JSON members (no braces). */
void sg__verdict_json(sg__buf *b, bool *first, const sg_verdict *v);
void sg__time_json(sg__buf *b, int64_t us); /* RFC 3339 string, or null for 0 */
void sg__seq_json(sg__buf *b, uint64_t seq); /* a number, or null for 0 */
/* The query parameter name as a time (RFC 3339 or a date) into *ret, left
 * alone when absent or empty; answers 422 and returns -1 when bad. */
int sg__time_param(sg__req *req, const char *name, int64_t *ret);
const char *sg__state_name(sg_state s);      /* "opted_out", "opted_in", "none" */
/* The recipient's not-SMS-capable flag ({code, provider, since, seq}), or
 * null when flag is NULL or not set (GET /v1/consent, /v1/recipients). */
void sg__not_sms_capable_json(sg__buf *b, const sg_recipient_flag *flag);

/* ---- handlers ---- */
void sg__api_check(sg__req *req);
void sg__api_inbound(sg__req *req);
void sg__api_consent(sg__req *req);
void sg__api_audit(sg__req *req);
void sg__api_review_list(sg__req *req);    /* api_review.c */
void sg__api_review_resolve(sg__req *req);
void sg__api_campaign_put(sg__req *req);
void sg__api_sender_put(sg__req *req);
void sg__api_healthz(sg__req *req);
void sg__api_metrics(sg__req *req);
void sg__api_webhooks(sg__req *req);
void sg__api_recipient_get(sg__req *req); /* api_recipients.c */
void sg__api_verify(sg__req *req);        /* api_reports.c */
void sg__api_optouts(sg__req *req);
void sg__api_sends(sg__req *req);         /* api_sends.c */
void sg__api_violations(sg__req *req);    /* api_violations.c */
void sg__console_file(sg__req *req);      /* console.c */

/* ---- hooks for provider webhooks (api_inbound.c, api_util.c) ---- */

typedef struct sg__inbound_result {
	int status;                /* 0, or why nothing could be recorded */
	const char *error;         /* with status: short error name for the answer */
	sg_intent intent;
	sg_confidence confidence;
	sg_action action;          /* what was recorded; 0 when nothing */
	const char *reply;         /* reply to send back, or NULL */
	uint64_t seq;              /* recorded event (the original one for duplicates), or 0 */
	bool duplicate;
	bool applied;              /* this delivery changed the consent state (false for a duplicate,
				    * and for a message older than the state recorded) */
	bool quarantined;          /* the handset number did not parse: kept as raw: */
	bool no_our_number;        /* the message named no number of ours: an opt-out in it
				    * was kept under the quarantine sender "raw:" */
	char sender[SG_KEY_MAX];   /* our number, canonical */
	char recipient[SG_KEY_MAX]; /* the handset, canonical (or raw:) */
} sg__inbound_result;

/* Called on the loop thread once the event is durable (or on failure);
 * res and its strings are valid only during the call. The callback must
 * answer req. */
typedef void (*sg__inbound_cb)(sg__req *req, const sg__inbound_result *res, void *ctx);

/* The library decides (sg_decide_inbound: the consent policy), the writer
 * records durably, then cb is called — possibly before returning. Never
 * answers req itself. A full writer queue reports status -EAGAIN (answer
 * 503 so that providers retry). The strings of msg must stay valid until
 * cb. */
void sg__inbound_process(sg__req *req, const sg_inbound_msg *msg, sg__inbound_cb cb, void *ctx);

/* Record events of a request durably (through the writer, group commit),
 * then call cb on the loop thread with the batch status and one result per
 * event. The event array is copied; the strings it points to must stay
 * valid until cb. Returns 0, or -EAGAIN / -ESHUTDOWN / -ENOMEM without
 * calling cb. */
typedef void (*sg__events_cb)(sg__req *req, int status, const sg_event_out *out, size_t n,
			      void *ctx);
int sg__submit_events(sg__req *req, const sg_event_in *events, size_t n, sg__events_cb cb,
		      void *ctx);

/* Run fn(engine, ctx) on the writer thread (for other writes), then
 * cb(req, status, ctx) on the loop thread. Same returns as above. */
int sg__submit_run(sg__req *req, int (*fn)(sg_engine *engine, void *ctx),
		   void (*cb)(sg__req *req, int status, void *ctx), void *ctx);
