/* SPDX-License-Identifier: Apache-2.0 */
/* Reads that walk a whole table, run on libuv's thread pool so the loop
 * keeps answering checks meanwhile (the engine may be shared by threads,
 * stopgate.h):
 *
 *   GET /v1/verify   walk the whole event log and check the hash chain:
 *                    {"ok", "count", "bad_seq", "reason", "head_seq",
 *                     "head_hash"} (as `stopgate verify`); 200 either way,
 *                    "ok" tells. One at a time: a second one while the
 *                    first runs is 503 busy.
 *
 * and, streamed on the loop in constant memory like GET /v1/audit:
 *
 *   GET /v1/optouts?campaign=ID&format=csv|jsonl
 *                    the suppression list (as `stopgate export optouts`),
 *                    CSV by default; each piece is a few short snapshots
 *                    of a few hundred recipients (sg__optouts_step).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "export/export.h"
#include "internal.h"
#include "store/suppression.h"

/* ---- GET /v1/verify ---- */

typedef struct verify_job {
	uv_work_t work;
	sg__req *req;
	sg_engine *engine;
	int rc;
	sg_verify_result res;
	uint64_t head_seq;
	uint8_t head_hash[32];
} verify_job;

static bool verify_running; /* loop thread only */

static void verify_work(uv_work_t *w)
{
	verify_job *j = w->data;
	j->rc = sg_head(j->engine, &j->head_seq, j->head_hash);
	if (!j->rc)
		j->rc = sg_verify(j->engine, &j->res);
}

static void verify_done(uv_work_t *w, int status)
{
	verify_job *j = w->data;
	sg__req *req = j->req;
	verify_running = false;
	if (status) {
		sg__respond_error(req, 500, "internal", "the verification did not run: %s", uv_strerror(status));
	} else if (j->rc) {
		sg__respond_engine_error(req, j->rc, "verify");
	} else {
		char hex[65];
		sg__buf b = SG__BUF_INIT;
		bool first = true;
		sg__buf_addc(&b, '{');
		sg__buf_json_key(&b, &first, "ok");
		sg__buf_adds(&b, j->res.ok ? "true" : "false");
		sg__buf_json_key(&b, &first, "count");
		sg__buf_printf(&b, "%llu", (unsigned long long)j->res.count);
		sg__buf_json_key(&b, &first, "bad_seq");
		if (j->res.ok)
			sg__buf_adds(&b, "null");
		else
			sg__buf_printf(&b, "%llu", (unsigned long long)j->res.bad_seq);
		sg__buf_json_key(&b, &first, "reason");
		sg__buf_json_cstr(&b, j->res.ok ? NULL : j->res.reason);
		/* the head read just before the walk: what the walk covered at least */
		sg__buf_json_key(&b, &first, "head_seq");
		sg__buf_printf(&b, "%llu", (unsigned long long)j->head_seq);
		sg__buf_json_key(&b, &first, "head_hash");
		sg_hex32(j->res.ok ? j->res.head_hash : j->head_hash, hex);
		sg__buf_json_cstr(&b, hex);
		sg__buf_adds(&b, "}\n");
		if (!j->res.ok)
			sg__warn("api", "hash chain broken id=%lu bad_seq=%llu reason=\"%s\"", req->id,
				 (unsigned long long)j->res.bad_seq, j->res.reason);
		sg__respond_buf(req, 200, "application/json", &b);
	}
	free(j);
}

void sg__api_verify(sg__req *req)
{
	if (verify_running) {
		sg__resp_header(req, "Retry-After", "5");
		sg__respond_error(req, 503, "busy", "a chain verification is already running; retry when it ends");
		return;
	}
	verify_job *j = calloc(1, sizeof(*j));
	if (!j) {
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	j->req = req;
	j->engine = req->srv->engine;
	j->work.data = j;
	int rc = uv_queue_work(req->srv->loop, &j->work, verify_work, verify_done);
	if (rc) {
		free(j);
		sg__respond_error(req, 500, "internal", "cannot start the verification: %s", uv_strerror(rc));
		return;
	}
	verify_running = true;
}

/* ---- GET /v1/optouts ---- */

typedef struct optouts {
	sg__optouts_iter *it;
	sg__export_format fmt;
	bool started;
	sg__buf *out;
} optouts;

static void optouts_free(void *ctx)
{
	optouts *o = ctx;
	sg__optouts_close(o->it);
	free(o);
}

static int on_optout(const char *rcpt, const sg_scope_state *st, void *ctx)
{
	optouts *o = ctx;
	if (!sg__buf_reserve(o->out, SG__EXPORT_OPTOUT_MAX))
		return -ENOMEM;
	o->out->len += sg__export_optout(o->out->p + o->out->len, rcpt, st, o->fmt);
	return 0;
}

/* One piece: a step or a few (a few hundred recipients each), up to 64 KiB. */
static int optouts_produce(sg__req *req, sg__buf *out, void *ctx)
{
	optouts *o = ctx;
	(void)req;
	o->out = out;
	if (!o->started) {
		o->started = true;
		if (o->fmt == SG__EXPORT_CSV)
			sg__buf_adds(out, sg__export_optouts_header);
	}
	bool done = false;
	for (int i = 0; i < 4 && !done && out->len < 64 * 1024; i++) {
		int rc = sg__optouts_step(o->it, on_optout, o, &done);
		if (rc)
			return rc < 0 ? rc : -EIO;
	}
	return sg__buf_failed(out) ? -ENOMEM : done ? 0 : 1;
}

void sg__api_optouts(sg__req *req)
{
	sg__export_format fmt = SG__EXPORT_CSV;
	char v[16], campaign[128];
	int rc = sg__req_query(req, "format", v, sizeof(v));
	if ((rc >= 0 && v[0] && sg__export_format_parse(v, &fmt)) || (rc < 0 && rc != -ENOENT)) {
		sg__respond_error(req, 422, "invalid_field", "format: csv or jsonl");
		return;
	}
	rc = sg__req_query(req, "campaign", campaign, sizeof(campaign));
	if (rc < 0 && rc != -ENOENT) {
		sg__respond_error(req, 422, "invalid_field", "campaign: a campaign id of at most 127 bytes");
		return;
	}
	optouts *o = calloc(1, sizeof(*o));
	if (!o) {
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	o->fmt = fmt;
	rc = sg__optouts_open(req->srv->engine, rc >= 0 && campaign[0] ? campaign : NULL, &o->it);
	if (rc) {
		free(o);
		sg__respond_engine_error(req, rc, "suppression list");
		return;
	}
	bool csv = fmt == SG__EXPORT_CSV;
	sg__resp_header(req, "Content-Disposition", csv ? "attachment; filename=\"stopgate-optouts.csv\""
						 : "attachment; filename=\"stopgate-optouts.jsonl\"");
	sg__respond_stream(req, 200, csv ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson",
			   optouts_produce, o, optouts_free);
}
