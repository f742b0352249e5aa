/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the API handlers: JSON bodies, numbers, errors, event
 * and verdict formatting, and the bridge to the writer. See daemon.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

cJSON *sg__parse_body_json(sg__req *req)
{
	const char *end = NULL;
	if (req->body_len == 0) {
		sg__respond_error(req, 400, "bad_json", "empty body; expected a JSON object");
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
	if (end && (size_t)(end - req->body) < req->body_len) {
		/* trailing bytes after the value (whitespace is consumed by cJSON) */
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

static const char *name_or_null(const char *s)
{
	return s && s[0] ? s : NULL;
}

void sg__event_json(sg__buf *b, const sg_event *ev)
{
	char hex[65];
	bool first = true;
	sg__buf_addc(b, '{');
	sg__buf_json_key(b, &first, "seq");
	sg__buf_printf(b, "%llu", (unsigned long long)ev->seq);
	sg__buf_json_key(b, &first, "time");
	sg__time_json(b, ev->time_us);
	sg__buf_json_key(b, &first, "event_time");
	sg__time_json(b, ev->event_time_us);
	sg__buf_json_key(b, &first, "action");
	sg__buf_json_cstr(b, sg_action_name(ev->action));
	sg__buf_json_key(b, &first, "source");
	sg__buf_json_cstr(b, sg_source_name(ev->source));
	sg__buf_json_key(b, &first, "scope");
	sg__buf_json_cstr(b, sg_scope_name(ev->scope));
	sg__buf_json_key(b, &first, "scope_id");
	sg__buf_json_cstr(b, ev->scope_id);
	static const char *const keys[] = {"sender", "recipient", "campaign", "brand", "provider",
					   "provider_msg_id", "rule", "reply", "note"};
	const char *vals[] = {ev->sender, ev->recipient, ev->campaign, ev->brand, ev->provider,
			      ev->provider_msg_id, ev->rule, ev->reply, ev->note};
	for (size_t i = 0; i < SG_ARRAY_SIZE(keys); i++) {
		sg__buf_json_key(b, &first, keys[i]);
		sg__buf_json_cstr(b, name_or_null(vals[i]));
	}
	sg__buf_json_key(b, &first, "body");
	if (ev->body)
		sg__buf_json_str(b, ev->body, ev->body_len);
	else
		sg__buf_adds(b, "null");
	sg__buf_json_key(b, &first, "body_sha256");
	sg_hex32(ev->body_sha256, hex);
	sg__buf_json_cstr(b, hex);
	sg__buf_json_key(b, &first, "prev_hash");
	sg_hex32(ev->prev_hash, hex);
	sg__buf_json_cstr(b, hex);
	sg__buf_json_key(b, &first, "hash");
	sg_hex32(ev->hash, hex);
	sg__buf_json_cstr(b, hex);
	sg__buf_addc(b, '}');
}

static const char csv_columns[] =
	"seq,time,event_time,action,source,scope,scope_id,sender,recipient,campaign,brand,provider,"
	"provider_msg_id,rule,reply,note,body,body_sha256,prev_hash,hash\r\n";

void sg__event_csv_header(sg__buf *b)
{
	sg__buf_adds(b, csv_columns);
}

static void cell(sg__buf *b, const char *s, bool last)
{
	if (s)
		sg__buf_csv_cell(b, s, strlen(s));
	if (!last)
		sg__buf_addc(b, ',');
}

void sg__event_csv(sg__buf *b, const sg_event *ev)
{
	char t1[32] = "", t2[32] = "", hex[65];
	if (ev->time_us)
		sg_time_format(ev->time_us, t1);
	if (ev->event_time_us)
		sg_time_format(ev->event_time_us, t2);
	sg__buf_printf(b, "%llu,", (unsigned long long)ev->seq);
	cell(b, t1, false);
	cell(b, t2, false);
	cell(b, sg_action_name(ev->action), false);
	cell(b, sg_source_name(ev->source), false);
	cell(b, sg_scope_name(ev->scope), false);
	cell(b, ev->scope_id, false);
	cell(b, ev->sender, false);
	cell(b, ev->recipient, false);
	cell(b, ev->campaign, false);
	cell(b, ev->brand, false);
	cell(b, ev->provider, false);
	cell(b, ev->provider_msg_id, false);
	cell(b, ev->rule, false);
	cell(b, ev->reply, false);
	cell(b, ev->note, false);
	if (ev->body)
		sg__buf_csv_cell(b, ev->body, ev->body_len);
	sg__buf_addc(b, ',');
	sg_hex32(ev->body_sha256, hex);
	cell(b, hex, false);
	sg_hex32(ev->prev_hash, hex);
	cell(b, hex, false);
	sg_hex32(ev->hash, hex);
	cell(b, hex, true);
	sg__buf_adds(b, "\r\n");
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
		sg__buf_printf(b, "%llu", (unsigned long long)v->seq);
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
	int rc = sg__writer_submit(req->srv->writer, &ej->job);
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
