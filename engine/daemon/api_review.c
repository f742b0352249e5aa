/* SPDX-License-Identifier: Apache-2.0 */
/* The review queue over HTTP (the library's sg_reviews_pending and
 * sg_review_prepare; docs/api.md, "The review queue"):
 *
 *   GET  /v1/review?limit=N&after=SEQ
 *        -> 200 {"items":[{"event","at","from","to","body","intent",
 *                "confidence","rule","score","campaign"}],"next":SEQ|null}
 *   POST /v1/review/{event}  {"decision":"opt_out"|"opt_in"|"none","by","note"}
 *        -> 200 {"event":NEWSEQ,"resolved":SEQ,"decision":...}
 *           404 no such review event, 409 already resolved, 400 bad body
 *
 * Both need the bearer token (the router's check, as every non-public
 * route). The resolution is recorded through the writer (group commit) and
 * answered once durable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200 /* bodies are up to 32 KiB each: bounds one answer */

/* ---- GET: the pending reviews ---- */

typedef struct listing {
	sg__buf *b;
	bool first;
	sg_engine *e;
} listing;

static int on_review(const sg_event *ev, void *ctx)
{
	listing *l = ctx;
	sg__buf *b = l->b;
	bool f = true;
	sg__buf_adds(b, l->first ? "{" : ",{");
	l->first = false;
	sg__buf_json_key(b, &f, "event");
	sg__buf_printf(b, "%" PRIu64, ev->seq);
	sg__buf_json_key(b, &f, "at");
	sg__time_json(b, ev->event_time_us);
	/* the message came from the handset (the recipient of our texts) to our number */
	sg__buf_json_key(b, &f, "from");
	sg__buf_json_cstr(b, ev->recipient);
	sg__buf_json_key(b, &f, "to");
	sg__buf_json_cstr(b, ev->sender);
	sg__buf_json_key(b, &f, "body");
	if (ev->body)
		sg__buf_json_str(b, ev->body, ev->body_len);
	else
		sg__buf_adds(b, "null"); /* redacted */
	/* a probable opt-out or opt-in (engine/policy/policy.c) */
	sg__buf_json_key(b, &f, "intent");
	sg__buf_json_cstr(b, sg_intent_name(sg__review_proposed(ev)));
	sg__buf_json_key(b, &f, "confidence");
	sg__buf_json_cstr(b, sg_confidence_name(SG_CONF_PROBABLE));
	sg__buf_json_key(b, &f, "rule");
	sg__buf_json_cstr(b, ev->rule);
	sg__buf_json_key(b, &f, "score"); /* the rule's calibrated precision */
	sg__buf_printf(b, "%.3f", sg__review_score(l->e, ev));
	sg__buf_json_key(b, &f, "campaign");
	sg__buf_json_cstr(b, ev->campaign);
	sg__buf_addc(b, '}');
	return sg__buf_failed(b) ? -ENOMEM : 0;
}

/* A decimal number query parameter: 0 and *ret, 1 when absent, -1 when
 * answered (400). */
static int number_param(sg__req *req, const char *name, uint64_t min, uint64_t max, uint64_t *ret)
{
	char v[32];
	int rc = sg__req_query(req, name, v, sizeof(v));
	if (rc == -ENOENT || (rc >= 0 && !v[0]))
		return 1;
	char *end = NULL;
	unsigned long long n = rc >= 0 && v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
	if (rc < 0 || !end || *end || n < min || n > max) {
		sg__respond_error(req, 400, "invalid_field", "query parameter %s: a whole number from %" PRIu64
				  " to %" PRIu64, name, min, max);
		return -1;
	}
	*ret = n;
	return 0;
}

void sg__api_review_list(sg__req *req)
{
	uint64_t limit = LIST_DEFAULT, after = 0, next = 0;
	if (number_param(req, "limit", 1, LIST_MAX, &limit) < 0 ||
	    number_param(req, "after", 0, UINT64_MAX - 1, &after) < 0)
		return;
	sg__buf b = SG__BUF_INIT;
	listing l = {.b = &b, .first = true, .e = req->srv->engine};
	sg__buf_adds(&b, "{\"items\":[");
	int rc = sg_reviews_pending(req->srv->engine, after, (size_t)limit, on_review, &l, &next);
	if (rc) {
		sg__buf_free(&b);
		sg__respond_engine_error(req, rc, "review queue");
		return;
	}
	sg__buf_adds(&b, "],\"next\":");
	if (next)
		sg__buf_printf(&b, "%" PRIu64, next);
	else
		sg__buf_adds(&b, "null");
	sg__buf_adds(&b, "}\n");
	sg__respond_buf(req, 200, "application/json", &b);
}

/* ---- POST: resolve one ---- */

typedef struct resolving {
	sg_review_request *rr;
	uint64_t review;
	sg_review_decision decision;
} resolving;

static void answer_resolved_before(sg__req *req, sg_engine *e, uint64_t review)
{
	uint64_t by_seq = 0;
	if (sg_review_state(e, review, &by_seq) == 0 && by_seq)
		sg__respond_error(req, 409, "already_resolved",
				  "review event %" PRIu64 " was resolved by event %" PRIu64 "; a review is resolved "
				  "once (GET /v1/audit?after_seq=%" PRIu64 " shows that resolution)",
				  review, by_seq, by_seq - 1);
	else
		sg__respond_error(req, 409, "already_resolved", "review event %" PRIu64 " was already resolved",
				  review);
}

static void resolved(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	resolving *r = ctx;
	(void)n;
	int rc = status ? status : out[0].status;
	if (rc == SG_ERESOLVED) {
		answer_resolved_before(req, req->srv->engine, r->review); /* another came first */
	} else if (rc == SG_ENOTFOUND) {
		sg__respond_error(req, 404, "not_found", "event %" PRIu64 " is no review event", r->review);
	} else if (rc) {
		sg__respond_engine_error(req, rc, "review resolution");
	} else {
		sg__buf b = SG__BUF_INIT;
		bool first = true;
		sg__buf_addc(&b, '{');
		sg__buf_json_key(&b, &first, "event");
		sg__buf_printf(&b, "%" PRIu64, out[0].seq);
		sg__buf_json_key(&b, &first, "resolved");
		sg__buf_printf(&b, "%" PRIu64, r->review);
		sg__buf_json_key(&b, &first, "decision");
		sg__buf_json_cstr(&b, sg_review_decision_name(r->decision));
		sg__buf_adds(&b, "}\n");
		sg__respond_buf(req, 200, "application/json", &b);
	}
	sg_review_request_free(r->rr);
	free(r);
}

/* A required string member; answers 400 naming it and returns NULL. */
static const char *required(sg__req *req, const cJSON *json, const char *name, const char *how)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, name);
	if (cJSON_IsString(m) && m->valuestring)
		return m->valuestring;
	sg__respond_error(req, 400, m ? "invalid_field" : "missing_field", "%s: %s, %s", name,
			  m ? "must be a string" : "required", how);
	return NULL;
}

void sg__api_review_resolve(sg__req *req)
{
	const char *arg = req->arg;
	char *end = NULL;
	unsigned long long seq = arg[0] >= '1' && arg[0] <= '9' ? strtoull(arg, &end, 10) : 0;
	if (!seq || !end || *end || seq == ~0ULL) {
		sg__respond_error(req, 404, "not_found", "/v1/review/%.40s: no such review event (the path "
				  "ends with the event number GET /v1/review lists)", arg);
		return;
	}
	cJSON *json = sg__parse_body_json(req); /* answers 400 unless a JSON object */
	if (!json)
		return;
	const char *dname, *by = NULL, *note = NULL;
	sg_review_decision decision = SG_REVIEW_NONE;
	if (!(dname = required(req, json, "decision", "\"opt_out\", \"opt_in\" or \"none\"")) ||
	    !(by = required(req, json, "by", "who decided")) || !(note = required(req, json, "note", "why"))) {
		cJSON_Delete(json);
		return;
	}
	if (sg_review_decision_parse(dname, &decision)) {
		cJSON_Delete(json);
		sg__respond_error(req, 400, "invalid_field", "decision: \"opt_out\" (a revocation: record the "
				  "opt-out), \"opt_in\" (a request to be texted: record the opt-in) or \"none\" "
				  "(consent unchanged)");
		return;
	}
	sg_engine *e = req->srv->engine;
	sg_review_request *rr = NULL;
	const char *detail = NULL;
	int rc = sg_review_prepare(e, seq, decision, by, note, &rr, &detail);
	cJSON_Delete(json); /* the request holds its own copies */
	if (rc == SG_ENOTFOUND) {
		sg__respond_error(req, 404, "not_found", "event %llu is no review event (GET /v1/review lists "
				  "the pending ones)", seq);
		return;
	}
	if (rc == SG_ERESOLVED) {
		answer_resolved_before(req, e, seq);
		return;
	}
	if (rc == -EINVAL || rc == SG_ETOOLONG || rc == SG_EUTF8) {
		sg__respond_error(req, 400, "invalid_field", "%s", detail ? detail : sg_strerror(rc));
		return;
	}
	if (rc) {
		sg__respond_engine_error(req, rc, "review");
		return;
	}
	resolving *r = calloc(1, sizeof(*r));
	if (!r) {
		sg_review_request_free(rr);
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	*r = (resolving){.rr = rr, .review = seq, .decision = decision};
	if ((rc = sg__submit_events(req, sg_review_request_event(rr), 1, resolved, r))) {
		sg__respond_submit_error(req, rc);
		sg_review_request_free(rr);
		free(r);
	}
}
