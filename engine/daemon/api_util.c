/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the API handlers: JSON bodies, numbers, errors, event
 * and verdict formatting, and the bridge to the writer. See daemon.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "fleet/fleet.h"
#include "export/export.h"
#include "internal.h"

/* Is there a \u0000 escape in this JSON text? (A backslash preceded by an
 * odd number of backslashes is itself escaped.) cJSON would silently cut
 * the string there: "STOP\u0000..." must not become "STOP". */
static bool has_nul_escape(const char *p, size_t n)
{
	for (const char *q = p; (q = memmem(q, n - (size_t)(q - p), "\\u0000", 6)); q++) {
		size_t k = 0;
		while (q - k > p && q[-(ptrdiff_t)k - 1] == '\\')
			k++;
		if (k % 2 == 0)
			return true;
	}
	return false;
}

cJSON *sg__parse_body_json(sg__req *req)
{
	const char *end = NULL;
	if (req->body_len == 0) {
		sg__respond_error(req, 400, "bad_json", "empty body; expected a JSON object");
		return NULL;
	}
	const char *nul = memchr(req->body, '\0', req->body_len);
	if (nul) {
		sg__respond_error(req, 400, "bad_json", "NUL byte at byte %zu (not allowed in JSON)",
				  (size_t)(nul - req->body));
		return NULL;
	}
	if (has_nul_escape(req->body, req->body_len)) {
		sg__respond_error(req, 422, "invalid_field", "strings must not contain \\u0000");
		return NULL;
	}
	cJSON *json = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
	if (!json) {
		size_t pos = end && end >= req->body && end <= req->body + req->body_len
				     ? (size_t)(end - req->body) : 0;
		size_t line = 1, col = 1;
		for (size_t i = 0; i < pos; i++) {
			if (req->body[i] == '\n')
				line++, col = 1;
			else
				col++;
		}
		sg__respond_error(req, 400, "bad_json", "invalid JSON at byte %zu (line %zu, column %zu)",
				  pos, line, col);
		return NULL;
	}
	/* RFC 8259: whitespace may follow the value (jq | curl --json @-, Go's
	 * json.Encoder and most files end in a newline); cJSON does not skip
	 * it, so skip it here. Anything else after the value is an error. */
	while (end && (size_t)(end - req->body) < req->body_len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	if (end && (size_t)(end - req->body) < req->body_len) {
		size_t pos = (size_t)(end - req->body);
		cJSON_Delete(json);
		sg__respond_error(req, 400, "bad_json", "unexpected data after the JSON value at byte %zu",
				  pos);
		return NULL;
	}
	if (!cJSON_IsObject(json)) {
		cJSON_Delete(json);
		sg__respond_error(req, 400, "bad_json", "expected a JSON object");
		return NULL;
	}
	return json;
}

const char *sg__json_str(sg__req *req, const cJSON *obj, const char *name, bool *answered)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!it || cJSON_IsNull(it))
		return NULL;
	if (!cJSON_IsString(it)) {
		if (!*answered)
			sg__respond_error(req, 422, "invalid_field", "%s: must be a string", name);
		*answered = true;
		return NULL;
	}
	return it->valuestring;
}

int sg__normalize(sg__req *req, const char *field_name, const char *in, const char *country,
		  sg_field field, char out[SG_KEY_MAX])
{
	if (!country || !country[0])
		country = sg_engine_default_country(req->srv->engine);
	int rc = sg_number_normalize(in, strlen(in), country, field, out, NULL);
	if (rc) {
		char q[96];
		sg__log_quote(in, strlen(in), q, sizeof(q));
		sg__respond_error(req, 422, "invalid_number", "%s: %s: %s", field_name, sg_strerror(rc), q);
	}
	return rc;
}

void sg__respond_submit_error(sg__req *req, int rc)
{
	if (rc == -EAGAIN) {
		sg__resp_header(req, "Retry-After", "1");
		sg__respond_error(req, 503, "busy", "the writer queue is full; retry shortly");
	} else if (rc == -ENOTSUP) {
		sg__respond_error(req, 409, "fleet_unsupported",
				  "this write is not carried by the fleet's stream yet; see docs/fleet.md");
	} else if (rc == -ESHUTDOWN) {
		sg__resp_header(req, "Retry-After", "5");
		sg__respond_error(req, 503, "shutting_down", "the daemon is stopping");
	} else {
		sg__respond_error(req, 500, "internal", "%s", sg_strerror(rc));
	}
}

void sg__respond_engine_error(sg__req *req, int rc, const char *what)
{
	switch (rc) {
	case SG_ENUMBER:
	case SG_ENOCOUNTRY:
		sg__respond_error(req, 422, "invalid_number", "%s: %s", what, sg_strerror(rc));
		break;
	case SG_EUTF8:
	case SG_ETOOLONG:
	case SG_EJSON:
	case -EINVAL:
		sg__respond_error(req, 422, "invalid_field", "%s: %s", what, sg_strerror(rc));
		break;
	case SG_ENOTFOUND:
		sg__respond_error(req, 404, "not_found", "%s: %s", what, sg_strerror(rc));
		break;
	case SG_ECONSENT:
		sg__respond_error(req, 409, "recipient_opted_out",
				  "%s: %s; send \"override\": \"consumer_request\" with a \"note\"", what,
				  sg_strerror(rc));
		break;
	case SG_EFORBIDDEN:
		sg__respond_error(req, 403, "forbidden_by_policy", "%s: %s", what, sg_strerror(rc));
		break;
	case -ENOSPC:
	case -EAGAIN:
	case SG_ELOCKED:
		sg__resp_header(req, "Retry-After", "5");
		sg__respond_error(req, 503, "store_unavailable", "%s: %s", what, sg_strerror(rc));
		break;
	default:
		sg__err("api", "store error id=%lu what=%s error=\"%s\"", req->id, what, sg_strerror(rc));
		sg__respond_error(req, 500, "store_error", "%s: %s", what, sg_strerror(rc));
		break;
	}
}

void sg__time_json(sg__buf *b, int64_t us)
{
	if (!us) {
		sg__buf_adds(b, "null");
		return;
	}
	char t[32];
	sg_time_format(us, t);
	sg__buf_json_cstr(b, t);
}

int sg__time_param(sg__req *req, const char *name, int64_t *ret)
{
	char v[64];
	int rc = sg__req_query(req, name, v, sizeof(v));
	if (rc == -ENOENT || (rc >= 0 && v[0] == '\0'))
		return 0;
	if (rc < 0 || sg_time_parse(v, ret)) {
		sg__respond_error(req, 422, "invalid_field", "%s: an RFC 3339 time or a date (YYYY-MM-DD)", name);
		return -1;
	}
	return 0;
}

const char *sg__state_name(sg_state s)
{
	return s == SG_STATE_OPTED_OUT ? "opted_out" : s == SG_STATE_OPTED_IN ? "opted_in" : "none";
}

void sg__seq_json(sg__buf *b, uint64_t seq)
{
	if (seq)
		sg__buf_printf(b, "%llu", (unsigned long long)seq);
	else
		sg__buf_adds(b, "null");
}

void sg__not_sms_capable_json(sg__buf *b, const sg_recipient_flag *flag)
{
	if (!flag || !flag->not_sms_capable) {
		sg__buf_adds(b, "null");
		return;
	}
	bool f = true;
	sg__buf_addc(b, '{');
	sg__buf_json_key(b, &f, "code");
	sg__buf_json_cstr(b, flag->code);
	sg__buf_json_key(b, &f, "provider");
	sg__buf_json_cstr(b, flag->provider);
	sg__buf_json_key(b, &f, "since");
	sg__time_json(b, flag->since_us);
	sg__buf_json_key(b, &f, "seq");
	sg__seq_json(b, flag->seq);
	sg__buf_addc(b, '}');
}

/* Events are formatted by the same code as `stopgate export audit`
 * (engine/export/export.c), so the API and the CLI export agree field for field. */
static void export_event(sg__buf *b, const sg_event *ev, sg__export_format fmt, bool strip_eol)
{
	size_t bound = sg__export_bound(ev, fmt);
	if (!sg__buf_reserve(b, bound))
		return;
	size_t n = sg__export_event(b->p + b->len, ev, fmt);
	if (strip_eol && n && b->p[b->len + n - 1] == '\n')
		n--;
	b->len += n;
	b->p[b->len] = '\0';
}

void sg__event_json(sg__buf *b, const sg_event *ev)
{
	export_event(b, ev, SG__EXPORT_JSONL, true);
}

void sg__event_csv_header(sg__buf *b)
{
	char h[SG__EXPORT_HEADER_MAX];
	size_t n = sg__export_header(h, SG__EXPORT_CSV);
	sg__buf_add(b, h, n);
}

void sg__event_csv(sg__buf *b, const sg_event *ev)
{
	export_event(b, ev, SG__EXPORT_CSV, false);
}

void sg__verdict_json(sg__buf *b, bool *first, const sg_verdict *v)
{
	/* The same shape as `stopgate check` prints. */
	sg__buf_json_key(b, first, "allow");
	sg__buf_adds(b, v->allow ? "true" : "false");
	sg__buf_json_key(b, first, "reason");
	sg__buf_json_cstr(b, v->allow ? NULL : sg_reason_name(v->reason));
	sg__buf_json_key(b, first, "scope");
	if (v->scope) {
		bool f = true;
		sg__buf_addc(b, '{');
		sg__buf_json_key(b, &f, "kind");
		sg__buf_json_cstr(b, sg_scope_name(v->scope));
		sg__buf_json_key(b, &f, "id");
		sg__buf_json_cstr(b, v->scope_id);
		sg__buf_addc(b, '}');
	} else {
		sg__buf_adds(b, "null");
	}
	sg__buf_json_key(b, first, "since");
	sg__time_json(b, v->since_us);
	sg__buf_json_key(b, first, "event");
	if (v->seq)
		sg__buf_addu(b, v->seq);
	else
		sg__buf_adds(b, "null");
	sg__buf_json_key(b, first, "confirmation");
	sg__buf_adds(b, v->confirmation ? "true" : "false");
}

/* ---- the bridge to the writer ---- */

typedef struct events_job {
	sg__wjob job;
	sg__req *req;
	sg__events_cb cb;
	void *ctx;
	size_t n;
	sg_event_in *ev;
	sg_event_out *out;
} events_job;

static void events_done(sg__wjob *job)
{
	events_job *ej = (events_job *)job;
	ej->cb(ej->req, job->status, ej->out, ej->n, ej->ctx);
	free(ej);
}

int sg__submit_events(sg__req *req, const sg_event_in *events, size_t n, sg__events_cb cb, void *ctx)
{
	events_job *ej = calloc(1, sizeof(*ej) + n * (sizeof(sg_event_in) + sizeof(sg_event_out)));
	if (!ej)
		return -ENOMEM;
	ej->ev = (sg_event_in *)(ej + 1);
	ej->out = (sg_event_out *)(ej->ev + n);
	if (n)
		memcpy(ej->ev, events, n * sizeof(*events));
	ej->req = req;
	ej->cb = cb;
	ej->ctx = ctx;
	ej->n = n;
	ej->job.events = ej->ev;
	ej->job.nevents = n;
	ej->job.out = ej->out;
	ej->job.done = events_done;
	/* A fleet node publishes and answers once applied from the stream. */
	int rc = req->srv->fleet ? sg__fleet_submit(req->srv->fleet, &ej->job)
				 : sg__writer_submit(req->srv->writer, &ej->job);
	if (rc)
		free(ej);
	return rc;
}

typedef struct run_job {
	sg__wjob job;
	sg__req *req;
	int (*fn)(sg_engine *engine, void *ctx);
	void (*cb)(sg__req *req, int status, void *ctx);
	void *ctx;
} run_job;

static int run_run(sg__wjob *job, sg_engine *engine)
{
	run_job *rj = (run_job *)job;
	return rj->fn(engine, rj->ctx);
}

static void run_done(sg__wjob *job)
{
	run_job *rj = (run_job *)job;
	rj->cb(rj->req, job->status, rj->ctx);
	free(rj);
}

int sg__submit_run(sg__req *req, int (*fn)(sg_engine *engine, void *ctx),
		   void (*cb)(sg__req *req, int status, void *ctx), void *ctx)
{
	if (req->srv->fleet)
		return -ENOTSUP; /* a local-only write would fork a fleet node's chain (docs/fleet.md) */
	run_job *rj = calloc(1, sizeof(*rj));
	if (!rj)
		return -ENOMEM;
	rj->req = req;
	rj->fn = fn;
	rj->cb = cb;
	rj->ctx = ctx;
	rj->job.run = run_run;
	rj->job.done = run_done;
	int rc = sg__writer_submit(req->srv->writer, &rj->job);
	if (rc)
		free(rj);
	return rc;
}
