/* SPDX-License-Identifier: Apache-2.0 */
/* GET /v1/violations?since=&until=&format=jsonl|csv: every recorded send
 * the check would have denied at its send time (sg_violations), streamed
 * in pieces: each piece is one step of the report (4096 events of the
 * campaigns' history, or one block of sends), so the loop is never held
 * for long and memory stays constant. since/until filter on the send's
 * time (RFC 3339 or a date; since inclusive, until exclusive). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"
#include "export/export.h"
#include "ledger/ledger.h"

typedef struct viol {
	sg__viol_iter *it;
	sg__export_format fmt;
	bool started;
	sg__buf *out;
} viol;

static void viol_free(void *ctx)
{
	viol *v = ctx;
	sg__viol_close(v->it);
	free(v);
}

static int on_violation(const sg_violation *x, void *ctx)
{
	viol *v = ctx;
	return sg__exbuf_violation(v->out, x, v->fmt);
}

static int produce(sg__req *req, sg__buf *out, void *ctx)
{
	viol *v = ctx;
	(void)req;
	v->out = out;
	if (!v->started) {
		v->started = true;
		if (sg__exbuf_violation_header(out, v->fmt))
			return -ENOMEM;
	}
	bool done = false;
	for (int i = 0; i < 4 && !done && out->len < 64 * 1024; i++) {
		int rc = sg__viol_step(v->it, &done);
		if (rc)
			return rc < 0 ? rc : -EIO;
	}
	return done ? 0 : 1;
}

void sg__api_violations(sg__req *req)
{
	int64_t since = 0, until = 0;
	if (sg__time_param(req, "since", &since) || sg__time_param(req, "until", &until))
		return;
	char f[16];
	sg__export_format fmt = SG__EXPORT_JSONL;
	int rc = sg__req_query(req, "format", f, sizeof(f));
	if ((rc >= 0 && f[0] && sg__export_format_parse(f, &fmt)) || (rc < 0 && rc != -ENOENT)) {
		sg__respond_error(req, 422, "invalid_field", "format: jsonl or csv");
		return;
	}
	viol *v = calloc(1, sizeof(*v));
	if (!v || sg__viol_open(req->srv->engine, since, until, on_violation, v, &v->it)) {
		free(v);
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	v->fmt = fmt;
	bool csv = fmt == SG__EXPORT_CSV;
	if (csv)
		sg__resp_header(req, "Content-Disposition", "attachment; filename=\"stopgate-violations.csv\"");
	sg__respond_stream(req, 200, csv ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson",
			   produce, v, viol_free);
}
