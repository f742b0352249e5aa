/* SPDX-License-Identifier: Apache-2.0 */
/* GET /v1/audit?since=&until=&after_seq=&format=jsonl|csv: the event log,
 * streamed with chunked transfer encoding in constant memory. Each piece is
 * one sg_events_read() of up to AUDIT_CHUNK events (one short read snapshot
 * per loop iteration, none held across iterations), resumed by sequence
 * number after the socket took the previous piece.
 *
 * since/until filter on the time stopgate recorded the event (RFC 3339 or
 * a date; since inclusive, until exclusive). CSV follows RFC 4180; a cell
 * starting with = + - @ gets a leading single quote so a spreadsheet shows
 * it as text (phone numbers therefore read '+14155550100).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

#define AUDIT_CHUNK 512

typedef struct audit {
	sg_engine *engine;
	uint64_t next_seq;
	int64_t since_us, until_us; /* 0: unbounded */
	bool csv;
	bool started;
	size_t read; /* events seen in the current piece */
	sg__buf *out;
	uint64_t sent;
} audit;

static int on_event(const sg_event *ev, void *ctx)
{
	audit *a = ctx;
	a->read++;
	if (a->since_us && ev->time_us < a->since_us)
		return 0;
	if (a->until_us && ev->time_us >= a->until_us)
		return 0;
	if (a->csv) {
		sg__event_csv(a->out, ev);
	} else {
		sg__event_json(a->out, ev);
		sg__buf_addc(a->out, '\n');
	}
	a->sent++;
	return sg__buf_failed(a->out) ? -ENOMEM : 0;
}

static int produce(sg__req *req, sg__buf *out, void *ctx)
{
	audit *a = ctx;
	(void)req;
	if (!a->started) {
		a->started = true;
		if (a->csv)
			sg__event_csv_header(out);
	}
	a->out = out;
	a->read = 0;
	uint64_t next = a->next_seq;
	int rc = sg_events_read(a->engine, a->next_seq, AUDIT_CHUNK, on_event, a, &next);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return -EIO;
	a->next_seq = next;
	return a->read < AUDIT_CHUNK ? 0 : 1;
}

void sg__api_audit(sg__req *req)
{
	audit *a = calloc(1, sizeof(*a));
	if (!a) {
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	a->engine = req->srv->engine;
	a->next_seq = 1;
	if (sg__time_param(req, "since", &a->since_us) || sg__time_param(req, "until", &a->until_us)) {
		free(a);
		return;
	}
	char v[32];
	int rc = sg__req_query(req, "after_seq", v, sizeof(v));
	if (rc >= 0 && v[0]) {
		char *end;
		unsigned long long s = strtoull(v, &end, 10);
		if (*end || v[0] == '-' || s == ~0ULL) {
			free(a);
			sg__respond_error(req, 422, "invalid_field", "after_seq: a sequence number");
			return;
		}
		a->next_seq = s + 1;
	} else if (rc < 0 && rc != -ENOENT) {
		free(a);
		sg__respond_error(req, 422, "invalid_field", "after_seq: a sequence number");
		return;
	}
	rc = sg__req_query(req, "format", v, sizeof(v));
	if (rc >= 0 && strcmp(v, "csv") == 0) {
		a->csv = true;
	} else if (rc >= 0 && strcmp(v, "jsonl") != 0 && v[0]) {
		free(a);
		sg__respond_error(req, 422, "invalid_field", "format: jsonl or csv");
		return;
	}
	if (a->csv)
		sg__resp_header(req, "Content-Disposition", "attachment; filename=\"stopgate-audit.csv\"");
	sg__respond_stream(req, 200, a->csv ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson",
			   produce, a, free);
}
