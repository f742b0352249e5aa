/* SPDX-License-Identifier: Apache-2.0 */
/* Answers: building them (sg__respond*), and writing them strictly in
 * request order, whole or streamed in chunked pieces. See http.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"
#include "internal.h"

static const char *http_date(sg__server *srv)
{
	int64_t now = sg_now_us() / 1000000;
	if (now != srv->date_sec) {
		static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
		static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
						   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
		time_t t = (time_t)now;
		struct tm tm;
		gmtime_r(&t, &tm);
		char tmp[96];
		snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
			 tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		sg__strlcpy(srv->date, tmp, sizeof(srv->date));
		srv->date_sec = now;
	}
	return srv->date;
}

/* ---- requests ---- */

void sg__req_free(sg__req *r)
{
	if (!r)
		return;
	if (r->stream_free)
		r->stream_free(r->stream_ctx);
	sg__buf_free(&r->url);
	sg__buf_free(&r->hbuf);
	sg__buf_free(&r->bodybuf);
	sg__buf_free(&r->extra);
	sg__buf_free(&r->out_head);
	sg__buf_free(&r->out_body);
	free(r->hoff);
	free(r->hdrs);
	free(r);
}

#define SPARE_BUF_MAX 16384 /* a spare request keeps buffers up to this size */

static void keep_buf(sg__buf *b)
{
	if (b->cap > SPARE_BUF_MAX)
		sg__buf_free(b);
	else
		sg__buf_clear(b);
}

void sg__req_recycle(sg__conn *c, sg__req *r)
{
	if (!c || c->spare || c->closing) {
		sg__req_free(r);
		return;
	}
	if (r->stream_free)
		r->stream_free(r->stream_ctx);
	sg__req k = {0};
	k.url = r->url, k.hbuf = r->hbuf, k.bodybuf = r->bodybuf, k.extra = r->extra;
	k.out_head = r->out_head, k.out_body = r->out_body;
	keep_buf(&k.url), keep_buf(&k.hbuf), keep_buf(&k.bodybuf), keep_buf(&k.extra);
	keep_buf(&k.out_head), keep_buf(&k.out_body);
	k.hoff = r->hoff, k.hoff_cap = r->hoff_cap, k.hdrs = r->hdrs, k.hdrs_cap = r->hdrs_cap;
	*r = k;
	c->spare = r;
}

sg__req *sg__req_new(sg__conn *c)
{
	sg__req *r = c->spare;
	c->spare = NULL;
	if (!r && !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->srv = c->srv;
	r->conn = c;
	sg__server *ids = c->srv->main ? c->srv->main : c->srv; /* one sequence for every loop */
	r->id = __atomic_add_fetch(&ids->next_req_id, 1, __ATOMIC_RELAXED);
	r->start_us = sg_now_us();
	r->path = r->query = r->arg = r->body = "";
	r->keep_alive = true;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	c->nreqs++;
	return r;
}

/* Drop the head of the queue. */
void sg__req_pop(sg__conn *c)
{
	sg__req *r = c->head;
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	c->nreqs--;
	sg__req_recycle(c, r);
}

/* Build the status line and headers (all but Connection, added when the
 * answer is written since it depends on what follows it). */
static void build_head(sg__req *r, int status, const char *ctype, size_t len, bool chunked)
{
	/* no printf: every answer comes through here */
	sg__buf *h = &r->out_head;
	sg__buf_clear(h);
	sg__buf_adds(h, "HTTP/1.1 ");
	sg__buf_addu(h, (unsigned)status);
	sg__buf_addc(h, ' ');
	sg__buf_adds(h, sg__http_reason(status));
	sg__buf_adds(h, "\r\nServer: stopgate/" SG_VERSION "\r\nDate: ");
	sg__buf_adds(h, http_date(r->srv));
	if (ctype) {
		sg__buf_adds(h, "\r\nContent-Type: ");
		sg__buf_adds(h, ctype);
	}
	if (chunked) {
		sg__buf_adds(h, "\r\nTransfer-Encoding: chunked");
	} else {
		sg__buf_adds(h, "\r\nContent-Length: ");
		sg__buf_addu(h, len);
	}
	sg__buf_adds(h, "\r\nCache-Control: no-store\r\n");
	if (r->extra.len)
		sg__buf_add(h, r->extra.p, r->extra.len);
}

/* One line per request at info level (logFormat decides text, logfmt or
 * JSON): our request id, the caller's X-Request-Id when it sent one, and
 * what was answered how fast. Refusals (4xx, 503) go through the rate
 * limiter per endpoint and status, so a flood of bad requests cannot flood
 * the log; other 5xx are warnings, always logged. */
static void note_answer(sg__req *r, int status)
{
	r->status = status;
	const char *endpoint = r->route ? r->route->name : "other";
	sg__metrics_request(&r->srv->metrics, endpoint, status);
	sg__log_level level = status >= 500 && status != 503 ? SG_LOG_WARN : SG_LOG_INFO;
	if (!sg__log_enabled(level))
		return;
	char path[160], rid[80] = "";
	sg__log_quote(r->path, strlen(r->path), path, sizeof(path));
	const char *theirs = sg__req_header(r, "X-Request-Id");
	if (theirs) {
		char q[72];
		snprintf(rid, sizeof(rid), " rid=%s", sg__log_quote(theirs, strlen(theirs), q, sizeof(q)));
	}
	long long us = (long long)(sg_now_us() - r->start_us);
	if (status < 400 || level == SG_LOG_WARN) {
		sg__log(level, "http", "request id=%lu%s method=%s path=%s endpoint=%s status=%d us=%lld peer=%s",
			r->id, rid, http_method_str(r->method), path, endpoint, status, us, r->conn->peer);
	} else {
		char key[48];
		snprintf(key, sizeof(key), "refused:%s:%d", endpoint, status);
		sg__log_limited(level, "http", key,
				"request refused id=%lu%s method=%s path=%s endpoint=%s status=%d us=%lld peer=%s",
				r->id, rid, http_method_str(r->method), path, endpoint, status, us, r->conn->peer);
	}
}

/* A handler answered a request it held (or the request is dropped because
 * its connection is gone): release the hold and continue in order. */
static void release_hold(sg__req *r)
{
	sg__conn *c = r->conn;
	if (r->srv != c->srv) {
		sg__req_came_back(r); /* answered on the main loop: home it goes */
		return;
	}
	if (r->orphan) {
		sg__req_free(r);
		c->refs--;
		sg__conn_after_io(c);
		return;
	}
	c->refs--;
	sg__conn_flush(c);
	sg__conn_after_io(c);
}

static bool answer_allowed(sg__req *r)
{
	/* Exactly once; READING is allowed for errors the HTTP layer raises. */
	if (r->state == SG__REQ_READY || r->state == SG__REQ_STREAMING) {
		sg__err("http", "request answered twice id=%lu", r->id);
		return false;
	}
	return true;
}

void sg__respond_buf(sg__req *r, int status, const char *ctype, sg__buf *body)
{
	if (!answer_allowed(r)) {
		sg__buf_free(body);
		return;
	}
	bool held = r->state == SG__REQ_HANDLING;
	if (r->orphan) {
		sg__buf_free(body);
		release_hold(r);
		return;
	}
	if (body != &r->out_body) {
		sg__buf_free(&r->out_body);
		r->out_body = *body;
		*body = (sg__buf)SG__BUF_INIT;
	}
	if (sg__buf_failed(&r->out_body)) {
		sg__buf_free(&r->out_body);
		status = 500;
		ctype = "application/json";
		sg__buf_adds(&r->out_body, "{\"error\":\"out_of_memory\",\"detail\":null}\n");
	}
	build_head(r, status, ctype, r->out_body.len, false);
	note_answer(r, status);
	r->state = SG__REQ_READY;
	/* Answered while READING (errors of the HTTP layer): the caller flushes. */
	if (held)
		release_hold(r);
}

void sg__respond(sg__req *r, int status, const char *ctype, const void *body, size_t len)
{
	sg__buf b = SG__BUF_INIT;
	sg__buf_add(&b, body, len);
	sg__respond_buf(r, status, ctype, &b);
}

void sg__respond_json(sg__req *r, int status, cJSON *json)
{
	char *text = json ? cJSON_PrintUnformatted(json) : NULL;
	cJSON_Delete(json);
	if (!text) {
		sg__respond_error(r, 500, "out_of_memory", NULL);
		return;
	}
	sg__buf b = SG__BUF_INIT;
	sg__buf_adds(&b, text);
	sg__buf_addc(&b, '\n');
	free(text);
	sg__respond_buf(r, status, "application/json", &b);
}

void sg__respond_error(sg__req *r, int status, const char *error, const char *fmt, ...)
{
	sg__buf b = SG__BUF_INIT;
	sg__buf_adds(&b, "{\"error\":");
	sg__buf_json_cstr(&b, error);
	sg__buf_adds(&b, ",\"detail\":");
	if (fmt) {
		char detail[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
		sg__buf_json_cstr(&b, detail);
	} else {
		sg__buf_adds(&b, "null");
	}
	sg__buf_adds(&b, "}\n");
	if (status >= 500)
		sg__warn("http", "answer id=%lu status=%d error=%s", r->id, status, error);
	sg__respond_buf(r, status, "application/json", &b);
}

void sg__respond_stream(sg__req *r, int status, const char *ctype, sg__stream_fn fn, void *ctx,
			void (*free_ctx)(void *ctx))
{
	if (!answer_allowed(r)) {
		if (free_ctx)
			free_ctx(ctx);
		return;
	}
	bool held = r->state == SG__REQ_HANDLING;
	r->stream = fn;
	r->stream_ctx = ctx;
	r->stream_free = free_ctx;
	if (!r->orphan) {
		build_head(r, status, ctype, 0, true);
		note_answer(r, status);
		r->state = SG__REQ_STREAMING;
	}
	if (held)
		release_hold(r);
}

void sg__resp_header(sg__req *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))
		return;
	sg__buf_printf(&r->extra, "%s: %s\r\n", name, value);
}
/* ---- writing ---- */

static void on_write(uv_write_t *w, int status)
{
	write_req *wr = (write_req *)w;
	sg__conn *c = wr->c;
	for (size_t i = 0; i < wr->nbufs; i++)
		free(wr->bufs[i]);
	c->writes--;
	c->refs--;
	if (wr->stream_req)
		wr->stream_req->stream_writing = false;
	free(wr);
	if (status < 0 && !c->closing) {
		sg__debug("http", "write failed conn=%lu error=%s", c->id, uv_strerror(status));
		sg__conn_close(c);
	}
	if (!c->closing)
		sg__conn_flush(c);
	sg__conn_after_io(c);
}

/* Write up to three owned buffers (NULL entries skipped). */
static int conn_write_skip(sg__conn *c, size_t skip, char *b0, size_t l0, char *b1, size_t l1, char *b2,
			   size_t l2, sg__req *stream_req);

int sg__conn_write(sg__conn *c, char *b0, size_t l0, char *b1, size_t l1, char *b2, size_t l2,
		   sg__req *stream_req)
{
	return conn_write_skip(c, 0, b0, l0, b1, l1, b2, l2, stream_req);
}

/* The same, without the first skip bytes (already written). */
static int conn_write_skip(sg__conn *c, size_t skip, char *b0, size_t l0, char *b1, size_t l1, char *b2,
			   size_t l2, sg__req *stream_req)
{
	write_req *wr = calloc(1, sizeof(*wr));
	if (!wr) {
		free(b0), free(b1), free(b2);
		return -ENOMEM;
	}
	uv_buf_t bufs[3];
	unsigned n = 0;
	char *ps[3] = {b0, b1, b2};
	size_t ls[3] = {l0, l1, l2};
	for (int i = 0; i < 3; i++) {
		if (!ps[i])
			continue;
		wr->bufs[wr->nbufs++] = ps[i];
		size_t off = skip < ls[i] ? skip : ls[i];
		skip -= off;
		if (ls[i] > off)
			bufs[n++] = uv_buf_init(ps[i] + off, (unsigned)(ls[i] - off));
	}
	wr->c = c;
	wr->stream_req = stream_req;
	if (stream_req)
		stream_req->stream_writing = true;
	c->writes++;
	c->refs++;
	int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, n, on_write);
	if (rc) {
		/* Failed synchronously: complete it ourselves. */
		on_write(&wr->w, rc);
		return rc;
	}
	return 0;
}

char *sg__memdup(const char *p, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, p, n);
		d[n] = '\0';
	}
	return d;
}

/* Does this answer end the connection? */
static bool answer_closes(sg__conn *c, sg__req *r)
{
	if (!r->keep_alive || r->force_close)
		return true;
	/* Input ended or draining: the last answer we owe closes it. */
	return (c->close_after || c->srv->draining) && r->next == NULL && c->cur == NULL;
}

static const char *connection_line(sg__conn *c, sg__req *r, bool closes)
{
	if (closes)
		return "Connection: close\r\n\r\n";
	if (c->parser.http_major == 1 && c->parser.http_minor == 0)
		return "Connection: keep-alive\r\n\r\n";
	(void)r;
	return "\r\n";
}

/* Start the answer of the head request: its head plus Connection. */
static sg__buf head_with_connection(sg__conn *c, sg__req *r, bool *closes)
{
	sg__buf h = r->out_head;
	r->out_head = (sg__buf)SG__BUF_INIT;
	*closes = answer_closes(c, r);
	sg__buf_adds(&h, connection_line(c, r, *closes));
	return h;
}

static void conn_final_answer_queued(sg__conn *c, sg__req *last)
{
	/* Nothing after this answer will be answered: drop input. */
	c->close_after = true;
	c->stop_input = true;
	/* Later requests: the handler-held ones become orphans, the rest go. */
	sg__req *r = last->next;
	last->next = NULL;
	c->tail = last;
	while (r) {
		sg__req *next = r->next;
		c->nreqs--;
		if (r == c->cur)
			c->cur = NULL;
		if (r->away) {
			r->dead = true;
			r->next = NULL;
		} else if (r->state == SG__REQ_HANDLING) {
			r->orphan = true;
			r->next = NULL;
		} else {
			sg__req_free(r);
		}
		r = next;
	}
}

#define WRITE_BATCH 16 /* answers gathered into one write */

static size_t body_len(const sg__req *r)
{
	return r->method == HTTP_HEAD ? 0 : r->out_body.len;
}

/* End the head with its Connection line, once; false when out of memory
 * (the connection is closed: the client sees a reset). */
static bool finish_head(sg__conn *c, sg__req *r)
{
	if (r->head_final)
		return true;
	r->head_final = true;
	bool closes = answer_closes(c, r);
	sg__buf_adds(&r->out_head, connection_line(c, r, closes));
	if (closes)
		conn_final_answer_queued(c, r);
	if (sg__buf_failed(&r->out_head)) {
		sg__conn_close(c);
		return false;
	}
	return true;
}

/* Hand the head request's answer to uv_write, without its first skip
 * bytes (written already). False when the connection closed. */
static bool write_rest(sg__conn *c, size_t skip)
{
	sg__req *r = c->head;
	size_t hl, bl;
	char *hp = sg__buf_steal(&r->out_head, &hl);
	char *bp = sg__buf_steal(&r->out_body, &bl);
	if (r->method == HTTP_HEAD) {
		free(bp);
		bp = NULL;
		bl = 0;
	}
	sg__req_pop(c);
	return conn_write_skip(c, skip, hp, hl, bp, bl, NULL, 0, NULL) == 0;
}

/* Nothing is being written: the answers ready at the head of the queue
 * (pipelined requests answered in one read) go out in one write, from the
 * requests' own buffers (kept for the next request, sg__req_recycle): no
 * allocation, no write request, no poll change when the socket takes it
 * all, the common case. What it does not take goes through uv_write.
 * False when the connection closed. */
static bool write_ready(sg__conn *c)
{
	uv_buf_t b[2 * WRITE_BATCH];
	unsigned k = 0, nb = 0;
	for (sg__req *r = c->head; r && k < WRITE_BATCH && !r->away && r->state == SG__REQ_READY; r = r->next) {
		if (!finish_head(c, r)) /* a closing answer ends the queue after it */
			return false;
		b[nb++] = uv_buf_init(r->out_head.p, (unsigned)r->out_head.len);
		if (body_len(r))
			b[nb++] = uv_buf_init(r->out_body.p, (unsigned)body_len(r));
		k++;
	}
	int n = uv_try_write((uv_stream_t *)&c->tcp, b, nb);
	if (n < 0 && n != UV_EAGAIN) {
		sg__debug("http", "write failed conn=%lu error=%s", c->id, uv_strerror(n));
		sg__conn_close(c);
		return false;
	}
	size_t done = n > 0 ? (size_t)n : 0;
	while (k--) {
		size_t len = c->head->out_head.len + body_len(c->head);
		if (done < len)
			return write_rest(c, done); /* the rest stay queued, written after it */
		done -= len;
		sg__req_pop(c);
	}
	return true;
}

void sg__conn_flush(sg__conn *c)
{
	/* While a read is parsed, answers wait (up to a batch) to go out
	 * together when it is done (conn_parse flushes). */
	if (c->in_parse) {
		unsigned batch = c->srv->cfg->limits.max_pipelined;
		if (c->nreqs < (batch < WRITE_BATCH ? batch : WRITE_BATCH))
			return;
	}
	while (c->head && !c->closing) {
		sg__req *r = c->head;
		if (r->away)
			return; /* answered on the main loop; flushed when it is back */
		if (r->state == SG__REQ_READY) {
			if (c->writes == 0 ? !write_ready(c) : !finish_head(c, r) || !write_rest(c, 0))
				return;
			continue;
		}
		if (r->state != SG__REQ_STREAMING || r->stream_writing)
			return;
		/* Streamed answer: head first, then one piece per write. */
		char *hp = NULL;
		size_t hl = 0;
		if (r->out_head.len) {
			bool closes;
			sg__buf h = head_with_connection(c, r, &closes);
			if (closes)
				conn_final_answer_queued(c, c->head);
			hp = sg__buf_steal(&h, &hl);
		}
		sg__buf piece = SG__BUF_INIT;
		int more = r->stream_done ? 0 : r->stream(r, &piece, r->stream_ctx);
		if (more < 0 || sg__buf_failed(&piece)) {
			sg__warn("http", "stream failed id=%lu error=\"%s\"", r->id,
				 more < 0 ? sg_strerror(more) : "out of memory");
			sg__buf_free(&piece);
			free(hp);
			sg__conn_close(c); /* the client sees a truncated chunked body */
			return;
		}
		sg__buf frame = SG__BUF_INIT;
		if (piece.len)
			sg__buf_printf(&frame, "%zx\r\n", piece.len);
		if (piece.len)
			sg__buf_add(&piece, "\r\n", 2);
		if (!more)
			sg__buf_add(&piece, "0\r\n\r\n", 5);
		if (sg__buf_failed(&frame) || sg__buf_failed(&piece)) {
			sg__buf_free(&frame);
			sg__buf_free(&piece);
			free(hp);
			sg__conn_close(c);
			return;
		}
		size_t fl, pl;
		char *fp = sg__buf_steal(&frame, &fl);
		char *pp = sg__buf_steal(&piece, &pl);
		if (!more) {
			sg__req_pop(c);
			if (sg__conn_write(c, hp, hl, fp, fl, pp, pl, NULL))
				return;
			continue;
		}
		if (sg__conn_write(c, hp, hl, fp, fl, pp, pl, r))
			return;
		return; /* next piece when this one is written */
	}
}
