/* SPDX-License-Identifier: Apache-2.0 */
/* GET /healthz (liveness and a writable store) and GET /metrics
 * (Prometheus text exposition format 0.0.4). */
#include <string.h>

#include "daemon.h"
#include "fleet/fleet.h"
#include "internal.h"

void sg__api_healthz(sg__req *req)
{
	sg__server *srv = req->srv;
	uint64_t seq = 0;
	uint8_t hash[32];
	int rc = sg_head(srv->engine, &seq, hash);
	sg__writer_stats ws = {0};
	if (srv->writer)
		sg__writer_get_stats(srv->writer, &ws);
	bool writable = !sg_engine_readonly(srv->engine) && srv->writer && ws.last_status == 0;
	bool ok = rc == 0 && writable && !srv->draining;
	sg__buf repl = SG__BUF_INIT;
	if (srv->fleet && !sg__fleet_health(srv->fleet, &repl))
		ok = false; /* the store stopped following the stream: fail closed */
	sg__buf b = SG__BUF_INIT;
	sg__buf_printf(&b,
		       "{\"status\":\"%s\",\"store\":\"%s\",\"writable\":%s,\"draining\":%s,"
		       "\"events\":%llu,\"writer_queue\":%u,\"version\":\"" SG_VERSION "\"%s%s}\n",
		       ok ? "ok" : "unavailable", rc == 0 ? "ok" : sg_strerror(rc),
		       writable ? "true" : "false", srv->draining ? "true" : "false",
		       (unsigned long long)seq, ws.queued, repl.len ? "," : "", repl.len ? repl.p : "");
	sg__buf_free(&repl);
	if (!ok)
		sg__resp_header(req, "Retry-After", "5");
	sg__respond_buf(req, ok ? 200 : 503, "application/json", &b);
}

static void help(sg__buf *b, const char *name, const char *type, const char *text)
{
	sg__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void histogram(sg__buf *b, const char *name, const double *bounds, size_t nb,
		      const uint64_t *counts, double sum)
{
	uint64_t cum = 0;
	for (size_t i = 0; i < nb; i++) {
		cum += counts[i];
		sg__buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	cum += counts[nb];
	sg__buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
		       (unsigned long long)cum, name, sum, name, (unsigned long long)cum);
}

void sg__api_metrics(sg__req *req)
{
	sg__server *srv = req->srv;
	static sg__metrics sum; /* main loop only; large */
	sg__http_metrics(srv, &sum); /* every HTTP loop's counters */
	const sg__metrics *m = &sum;
	sg__buf b = SG__BUF_INIT;

	help(&b, "stopgate_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
	for (unsigned i = 0; i < m->nreq; i++)
		sg__buf_printf(&b, "stopgate_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
			       m->req[i].endpoint, m->req[i].status, (unsigned long long)m->req[i].count);

	help(&b, "stopgate_check_verdicts_total", "counter", "Check verdicts, by reason (allowed when allowed).");
	for (unsigned r = 0; r < SG_ARRAY_SIZE(m->verdicts); r++) {
		const char *name = r == 0 ? "allowed" : sg_reason_name((sg_reason)r);
		if (!name)
			continue;
		sg__buf_printf(&b, "stopgate_check_verdicts_total{reason=\"%s\"} %llu\n", name,
			       (unsigned long long)m->verdicts[r]);
	}

	help(&b, "stopgate_inbound_intents_total", "counter", "Inbound messages recorded, by intent.");
	for (unsigned i = 0; i < SG_ARRAY_SIZE(m->intents); i++)
		sg__buf_printf(&b, "stopgate_inbound_intents_total{intent=\"%s\"} %llu\n",
			       sg_intent_name((sg_intent)i), (unsigned long long)m->intents[i]);
	help(&b, "stopgate_inbound_duplicates_total", "counter", "Inbound messages recognised as duplicates.");
	sg__buf_printf(&b, "stopgate_inbound_duplicates_total %llu\n", (unsigned long long)m->inbound_duplicates);

	sg__writer_stats ws = {0};
	if (srv->writer)
		sg__writer_get_stats(srv->writer, &ws);
	help(&b, "stopgate_commit_batch_size", "histogram", "Events per durable LMDB transaction (group commit).");
	histogram(&b, "stopgate_commit_batch_size", sg__commit_size_bounds, SG__COMMIT_SIZE_BUCKETS,
		  ws.size_count, (double)ws.size_sum);
	help(&b, "stopgate_commit_latency_seconds", "histogram", "Time of one durable group commit (sg_record).");
	histogram(&b, "stopgate_commit_latency_seconds", sg__commit_lat_bounds, SG__COMMIT_LAT_BUCKETS,
		  ws.lat_count, ws.lat_sum_s);
	help(&b, "stopgate_commit_failures_total", "counter", "Group commits that failed as a whole.");
	sg__buf_printf(&b, "stopgate_commit_failures_total %llu\n", (unsigned long long)ws.failed_batches);
	help(&b, "stopgate_writer_queue_depth", "gauge", "Write jobs waiting for the writer thread.");
	sg__buf_printf(&b, "stopgate_writer_queue_depth %u\n", ws.queued);
	help(&b, "stopgate_writer_rejected_total", "counter", "Writes refused with 503 because the queue was full.");
	sg__buf_printf(&b, "stopgate_writer_rejected_total %llu\n", (unsigned long long)ws.rejected);

	help(&b, "stopgate_sends_requests_total", "counter", "POST /v1/sends requests handed to the writer.");
	sg__buf_printf(&b, "stopgate_sends_requests_total %llu\n", (unsigned long long)srv->sends.requests);
	help(&b, "stopgate_sends_batches_total", "counter",
	     "Transactions that recorded them (requests that waited together share one).");
	sg__buf_printf(&b, "stopgate_sends_batches_total %llu\n", (unsigned long long)srv->sends.batches);

	help(&b, "stopgate_connections_open", "gauge", "Open HTTP connections.");
	sg__buf_printf(&b, "stopgate_connections_open %u\n", m->connections_open);
	help(&b, "stopgate_connections_total", "counter", "Accepted HTTP connections.");
	sg__buf_printf(&b, "stopgate_connections_total %llu\n", (unsigned long long)m->connections_accepted);
	help(&b, "stopgate_connections_refused_total", "counter", "Connections refused at the connection limit.");
	sg__buf_printf(&b, "stopgate_connections_refused_total %llu\n", (unsigned long long)m->connections_refused);
	help(&b, "stopgate_timeouts_total", "counter", "Requests cut off by the header or body timeout (408).");
	sg__buf_printf(&b, "stopgate_timeouts_total %llu\n", (unsigned long long)m->timeouts);
	help(&b, "stopgate_limit_errors_total", "counter", "Requests refused for header or body size (431, 413).");
	sg__buf_printf(&b, "stopgate_limit_errors_total %llu\n", (unsigned long long)m->limit_errors);

	sg_stats st;
	if (sg_stats_get(srv->engine, &st) == 0) {
		help(&b, "stopgate_store_events", "gauge", "Last event sequence number.");
		sg__buf_printf(&b, "stopgate_store_events %llu\n", (unsigned long long)st.events);
		help(&b, "stopgate_store_opted_out", "gauge", "(scope, recipient) pairs currently opted out.");
		sg__buf_printf(&b, "stopgate_store_opted_out %llu\n", (unsigned long long)st.opted_out);
		help(&b, "stopgate_store_map_used_bytes", "gauge", "Bytes of the LMDB map in use.");
		sg__buf_printf(&b, "stopgate_store_map_used_bytes %zu\n", st.map_used);
		help(&b, "stopgate_store_map_size_bytes", "gauge", "Size of the LMDB map.");
		sg__buf_printf(&b, "stopgate_store_map_size_bytes %zu\n", st.map_size);
	}
	uint64_t pending;
	int64_t oldest;
	if (sg_reviews_pending_count(srv->engine, &pending, &oldest) == 0) {
		help(&b, "stopgate_review_pending", "gauge",
		     "Inbound messages waiting in the review queue (GET /v1/review).");
		sg__buf_printf(&b, "stopgate_review_pending %llu\n", (unsigned long long)pending);
		help(&b, "stopgate_review_oldest_pending_age_seconds", "gauge",
		     "Age of the oldest message waiting for review (0: none).");
		int64_t age = oldest ? sg_now_us() - oldest : 0;
		sg__buf_printf(&b, "stopgate_review_oldest_pending_age_seconds %.3f\n",
			       age > 0 ? (double)age / 1e6 : 0.0);
	}
	if (req->srv->fleet)
		sg__fleet_metrics(req->srv->fleet, &b);
	sg__respond_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}
