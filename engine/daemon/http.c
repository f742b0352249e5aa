/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 connections: accept, parse (http-parser), limits, timeouts,
 * in-order answers for pipelined requests, lingering close. See http.h.
 *
 * Connection lifetime (libuv handle rules, as in knot-resolver session2):
 * c->refs counts the unclosed handles (tcp, timer), pending uv_write and
 * uv_shutdown requests, and requests handed to a handler that have not
 * answered yet. conn_close() stops reading, closes the timer, then the
 * stream; the struct is freed when refs reaches 0, never earlier, so an
 * answer arriving after the client left finds its request and drops it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon.h"
#include "internal.h"

#define MAX_HEADERS 100
#define LINGER_MS 2000              /* read and drop input after a final answer */
#define LINGER_MAX_BYTES (1u << 20) /* ... at most this much */

enum timer_kind { T_NONE = 0, T_HEADER, T_BODY, T_IDLE, T_WRITE, T_LINGER };

struct sg__conn {
	sg__server *srv;
	sg__conn *prev, *next; /* srv->conns */
	unsigned long id;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	http_parser parser;
	int refs;
	enum timer_kind tkind;
	bool closing;      /* handles are being closed */
	bool reading;      /* uv_read_start is active */
	bool paused;       /* too many requests queued: parser paused, input held */
	bool stop_input;   /* no more requests will be parsed (error, close, EOF) */
	bool close_after;  /* close once everything queued is written */
	bool lingering;    /* final answer sent, draining the peer's input */
	bool in_parse;
	size_t linger_bytes;
	sg__req *cur;      /* request being parsed */
	sg__req *head, *tail;
	unsigned nreqs;    /* queued (all states) */
	char *held;        /* unparsed input kept while paused */
	size_t held_len;
	unsigned writes;   /* pending uv_write */
	char peer[64];
};

typedef struct write_req {
	uv_write_t w;
	sg__conn *c;
	sg__req *stream_req; /* a streamed piece: wake the stream when written */
	char *bufs[3];
	size_t nbufs;
} write_req;

static void conn_close(sg__conn *c);
static void conn_flush(sg__conn *c);
static void conn_after_io(sg__conn *c);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static const char *const CONTINUE_100 = "HTTP/1.1 100 Continue\r\n\r\n";

/* ---- small things ---- */

const char *sg__http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

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

const char *sg__req_peer(const sg__req *req)
{
	return req->conn->peer;
}

const char *sg__req_header(const sg__req *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

bool sg__req_content_type_is(const sg__req *req, const char *media_type)
{
	const char *ct = sg__req_header(req, "content-type");
	if (!ct)
		return false;
	size_t n = strlen(media_type);
	if (strncasecmp(ct, media_type, n) != 0)
		return false;
	return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sg__url_decode(const char *in, size_t len, bool plus_space, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		if (ch == '%') {
			int hi = i + 2 < len + 0 ? hexval(in[i + 1]) : -1;
			int lo = i + 2 < len + 0 ? hexval(in[i + 2]) : -1;
			if (i + 2 >= len + 0 || hi < 0 || lo < 0)
				return -EINVAL;
			ch = (char)(hi * 16 + lo);
			i += 2;
		} else if (ch == '+' && plus_space) {
			ch = ' ';
		}
		if (o + 1 >= outlen)
			return -E2BIG;
		out[o++] = ch;
	}
	if (outlen == 0)
		return -E2BIG;
	out[o] = '\0';
	return (int)o;
}

int sg__req_query(const sg__req *req, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = req->query;
	while (*p) {
		const char *end = strchr(p, '&');
		size_t plen = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;
		if (klen == nlen && memcmp(p, name, nlen) == 0) {
			const char *v = eq ? eq + 1 : p + plen;
			return sg__url_decode(v, (size_t)(p + plen - v), true, out, outlen);
		}
		if (!end)
			break;
		p = end + 1;
	}
	return -ENOENT;
}

/* ---- requests ---- */

static void req_free(sg__req *r)
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

static sg__req *req_new(sg__conn *c)
{
	sg__req *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->srv = c->srv;
	r->conn = c;
	r->id = ++c->srv->next_req_id;
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
static void req_pop(sg__conn *c)
{
	sg__req *r = c->head;
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	c->nreqs--;
	req_free(r);
}

/* Build the status line and headers (all but Connection, added when the
 * answer is written since it depends on what follows it). */
static void build_head(sg__req *r, int status, const char *ctype, size_t len, bool chunked)
{
	sg__buf *h = &r->out_head;
	sg__buf_clear(h);
	sg__buf_printf(h, "HTTP/1.1 %d %s\r\nServer: stopgate/" SG_VERSION "\r\nDate: %s\r\n",
		       status, sg__http_reason(status), http_date(r->srv));
	if (ctype)
		sg__buf_printf(h, "Content-Type: %s\r\n", ctype);
	if (chunked)
		sg__buf_adds(h, "Transfer-Encoding: chunked\r\n");
	else
		sg__buf_printf(h, "Content-Length: %zu\r\n", len);
	sg__buf_adds(h, "Cache-Control: no-store\r\n");
	if (r->extra.len)
		sg__buf_add(h, r->extra.p, r->extra.len);
}

static void note_answer(sg__req *r, int status)
{
	r->status = status;
	sg__metrics_request(&r->srv->metrics, r->route ? r->route->name : "other", status);
	if (sg__log_enabled(SG_LOG_DEBUG)) {
		char path[160];
		sg__log_quote(r->path, strlen(r->path), path, sizeof(path));
		sg__debug("http", "request id=%lu peer=%s method=%s path=%s status=%d us=%lld", r->id,
			  r->conn->peer, http_method_str(r->method), path, status,
			  (long long)(sg_now_us() - r->start_us));
	}
}

/* A handler answered a request it held (or the request is dropped because
 * its connection is gone): release the hold and continue in order. */
static void release_hold(sg__req *r)
{
	sg__conn *c = r->conn;
	if (r->orphan) {
		req_free(r);
		c->refs--;
		conn_after_io(c);
		return;
	}
	c->refs--;
	conn_flush(c);
	conn_after_io(c);
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
	sg__buf_free(&r->out_body);
	r->out_body = *body;
	*body = (sg__buf)SG__BUF_INIT;
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
		conn_close(c);
	}
	if (!c->closing)
		conn_flush(c);
	conn_after_io(c);
}

/* Write up to three owned buffers (NULL entries skipped). */
static int conn_write(sg__conn *c, char *b0, size_t l0, char *b1, size_t l1, char *b2, size_t l2,
		      sg__req *stream_req)
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
		if (ls[i])
			bufs[n++] = uv_buf_init(ps[i], (unsigned)ls[i]);
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

static char *dup_mem(const char *p, size_t n)
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

/* Start the answer of the head request: its head plus Connection. */
static sg__buf head_with_connection(sg__conn *c, sg__req *r, bool *closes)
{
	sg__buf h = r->out_head;
	r->out_head = (sg__buf)SG__BUF_INIT;
	*closes = answer_closes(c, r);
	if (*closes)
		sg__buf_adds(&h, "Connection: close\r\n\r\n");
	else if (r->conn->parser.http_major == 1 && r->conn->parser.http_minor == 0)
		sg__buf_adds(&h, "Connection: keep-alive\r\n\r\n");
	else
		sg__buf_adds(&h, "\r\n");
	return h;
}

static void conn_final_answer_queued(sg__conn *c)
{
	/* Nothing after this answer will be answered: drop input. */
	c->close_after = true;
	c->stop_input = true;
	/* Later requests: the handler-held ones become orphans, the rest go. */
	sg__req *r = c->head ? c->head->next : NULL;
	c->head->next = NULL;
	c->tail = c->head;
	while (r) {
		sg__req *next = r->next;
		c->nreqs--;
		if (r == c->cur)
			c->cur = NULL;
		if (r->state == SG__REQ_HANDLING) {
			r->orphan = true;
			r->next = NULL;
		} else {
			req_free(r);
		}
		r = next;
	}
}

static void conn_flush(sg__conn *c)
{
	while (c->head && !c->closing) {
		sg__req *r = c->head;
		if (r->state == SG__REQ_READY) {
			bool closes;
			sg__buf h = head_with_connection(c, r, &closes);
			if (closes)
				conn_final_answer_queued(c);
			size_t hl, bl;
			char *hp = sg__buf_steal(&h, &hl);
			char *bp = sg__buf_steal(&r->out_body, &bl);
			if (r->method == HTTP_HEAD) {
				free(bp);
				bp = NULL;
				bl = 0;
			}
			req_pop(c);
			if (conn_write(c, hp, hl, bp, bl, NULL, 0, NULL))
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
				conn_final_answer_queued(c);
			hp = sg__buf_steal(&h, &hl);
		}
		sg__buf piece = SG__BUF_INIT;
		int more = r->stream_done ? 0 : r->stream(r, &piece, r->stream_ctx);
		if (more < 0 || sg__buf_failed(&piece)) {
			sg__warn("http", "stream failed id=%lu error=\"%s\"", r->id,
				 more < 0 ? sg_strerror(more) : "out of memory");
			sg__buf_free(&piece);
			free(hp);
			conn_close(c); /* the client sees a truncated chunked body */
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
			conn_close(c);
			return;
		}
		size_t fl, pl;
		char *fp = sg__buf_steal(&frame, &fl);
		char *pp = sg__buf_steal(&piece, &pl);
		if (!more) {
			req_pop(c);
			if (conn_write(c, hp, hl, fp, fl, pp, pl, NULL))
				return;
			continue;
		}
		if (conn_write(c, hp, hl, fp, fl, pp, pl, r))
			return;
		return; /* next piece when this one is written */
	}
}

/* ---- closing ---- */

static void conn_maybe_free(sg__conn *c)
{
	if (c->refs > 0 || !c->closing)
		return;
	sg__server *srv = c->srv;
	while (c->head) {
		sg__req *r = c->head;
		c->head = r->next;
		req_free(r);
	}
	free(c->held);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	srv->metrics.connections_open = srv->nconns;
	sg__debug("http", "closed conn=%lu peer=%s", c->id, c->peer);
	free(c);
	if (srv->draining && srv->nconns == 0 && srv->on_drained)
		srv->on_drained(srv);
}

static void on_handle_close(uv_handle_t *h)
{
	sg__conn *c = h->data;
	c->refs--;
	conn_maybe_free(c);
}

static void conn_close(sg__conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->stop_input = true;
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
	/* Requests a handler still holds become orphans; the rest go now. */
	sg__req **pp = &c->head;
	while (*pp) {
		sg__req *r = *pp;
		if (r->state == SG__REQ_HANDLING) {
			r->orphan = true;
			*pp = r->next;
			r->next = NULL;
		} else {
			*pp = r->next;
			req_free(r);
		}
		c->nreqs--;
	}
	c->tail = NULL;
	c->cur = NULL;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_handle_close);
	uv_close((uv_handle_t *)&c->tcp, on_handle_close);
}

static void on_timeout(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void stop_reading(sg__conn *c);

static void arm(sg__conn *c, enum timer_kind kind, unsigned ms)
{
	c->tkind = kind;
	uv_timer_start(&c->timer, on_timeout, ms ? ms : 1, 0);
}

static void on_shutdown(uv_shutdown_t *s, int status)
{
	sg__conn *c = s->data;
	(void)status;
	c->refs--;
	if (!c->closing) {
		/* FIN sent: read and drop what the peer still sends for a moment,
		 * so that unread input does not turn our close into a reset that
		 * destroys the answer before the client reads it. */
		if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
			c->reading = true;
		if (c->reading)
			arm(c, T_LINGER, LINGER_MS);
		else
			conn_close(c);
	}
	conn_maybe_free(c);
}

/* Everything owed is written and the connection must end: send FIN, then
 * linger (see on_shutdown). */
static void conn_finish(sg__conn *c)
{
	if (c->closing || c->lingering)
		return;
	c->lingering = true;
	c->stop_input = true;
	stop_reading(c);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown)) {
		conn_close(c);
		return;
	}
	c->refs++;
	/* A peer that reads nothing could hold the shutdown forever. */
	arm(c, T_LINGER, c->srv->cfg->limits.idle_timeout_ms);
}

/* ---- timers and flow control ---- */

static void conn_resume(sg__conn *c);

/* Re-evaluate what the connection waits for after any I/O. */
static void conn_after_io(sg__conn *c)
{
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	if (c->in_parse || c->lingering)
		return;
	const sg_limits *lim = &c->srv->cfg->limits;
	if (c->close_after && c->nreqs == 0 && c->writes == 0) {
		conn_finish(c);
		return;
	}
	if (c->paused && c->nreqs < lim->max_pipelined && !c->stop_input)
		conn_resume(c);
	if (c->closing || c->lingering)
		return;
	if (c->cur)
		return; /* header/body deadline already running */
	if (c->writes > 0) {
		arm(c, T_WRITE, lim->idle_timeout_ms); /* reset on every progress */
	} else if (c->nreqs == 0) {
		if (c->srv->draining) {
			conn_close(c); /* idle while draining: done */
			return;
		}
		arm(c, T_IDLE, lim->idle_timeout_ms);
	} else {
		/* waiting for a handler (the writer): not the client's fault */
		uv_timer_stop(&c->timer);
		c->tkind = T_NONE;
	}
}

static void on_timeout(uv_timer_t *t)
{
	sg__conn *c = t->data;
	if (c->closing)
		return;
	enum timer_kind kind = c->tkind;
	c->tkind = T_NONE;
	switch (kind) {
	case T_HEADER:
	case T_BODY:
		c->srv->metrics.timeouts++;
		if (c->cur && c->cur->state == SG__REQ_READING) {
			sg__req *r = c->cur;
			c->cur = NULL;
			c->stop_input = true;
			if (c->reading)
				uv_read_stop((uv_stream_t *)&c->tcp);
			c->reading = false;
			r->force_close = true;
			sg__info("http", "timeout conn=%lu peer=%s waiting_for=%s", c->id, c->peer,
				 kind == T_HEADER ? "headers" : "body");
			sg__respond_error(r, 408, "request_timeout",
					  kind == T_HEADER ? "headers not received within %u ms"
							   : "body not received within %u ms",
					  kind == T_HEADER ? c->srv->cfg->limits.header_timeout_ms
							   : c->srv->cfg->limits.body_timeout_ms);
			conn_flush(c);
			conn_after_io(c);
		} else {
			conn_close(c);
		}
		break;
	case T_WRITE:
		sg__info("http", "client not reading conn=%lu peer=%s", c->id, c->peer);
		conn_close(c);
		break;
	case T_IDLE:
	case T_LINGER:
	case T_NONE:
		conn_close(c);
		break;
	}
}

/* ---- parsing ---- */

static int fail_request(sg__conn *c, int status, const char *error, const char *detail)
{
	sg__req *r = c->cur;
	if (!r) {
		r = req_new(c);
		if (!r) {
			conn_close(c);
			return -1;
		}
	}
	c->cur = NULL;
	c->stop_input = true;
	r->force_close = true;
	if (status == 413 || status == 431)
		c->srv->metrics.limit_errors++;
	sg__info("http", "bad request conn=%lu peer=%s status=%d error=%s", c->id, c->peer, status,
		 error);
	if (r->state == SG__REQ_READING)
		sg__respond_error(r, status, error, "%s", detail);
	return -1;
}

static int on_message_begin(http_parser *p)
{
	sg__conn *c = p->data;
	if (c->stop_input || c->closing)
		return -1;
	sg__req *r = req_new(c);
	if (!r) {
		conn_close(c);
		return -1;
	}
	c->cur = r;
	arm(c, T_HEADER, c->srv->cfg->limits.header_timeout_ms);
	return 0;
}

static int count_header(sg__conn *c, size_t len)
{
	sg__req *r = c->cur;
	r->header_bytes += len;
	if (r->header_bytes > c->srv->cfg->limits.max_header_bytes)
		return fail_request(c, 431, "headers_too_large", "request line and headers exceed the limit");
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	sg__conn *c = p->data;
	if (!c->cur || count_header(c, len))
		return -1;
	sg__buf_add(&c->cur->url, at, len);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	sg__conn *c = p->data;
	sg__req *r = c->cur;
	if (!r || count_header(c, len + 4))
		return -1;
	if (r->nhoff == 0 || r->last_was_value) {
		if (r->nhoff / 2 >= MAX_HEADERS)
			return fail_request(c, 431, "headers_too_large", "too many header fields");
		if (r->nhoff + 2 > r->hoff_cap) {
			size_t cap = r->hoff_cap ? r->hoff_cap * 2 : 32;
			size_t *n = realloc(r->hoff, cap * sizeof(*n));
			if (!n)
				return fail_request(c, 503, "out_of_memory", "");
			r->hoff = n;
			r->hoff_cap = cap;
		}
		if (r->nhoff)
			sg__buf_addc(&r->hbuf, '\0'); /* end the previous value */
		r->hoff[r->nhoff++] = r->hbuf.len;
		r->hoff[r->nhoff++] = SIZE_MAX;
		r->last_was_value = false;
	}
	sg__buf_add(&r->hbuf, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	sg__conn *c = p->data;
	sg__req *r = c->cur;
	if (!r || count_header(c, len) || r->nhoff == 0)
		return -1;
	if (!r->last_was_value) {
		sg__buf_addc(&r->hbuf, '\0'); /* end the name */
		r->hoff[r->nhoff - 1] = r->hbuf.len;
		r->last_was_value = true;
	}
	sg__buf_add(&r->hbuf, at, len);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	sg__conn *c = p->data;
	sg__req *r = c->cur;
	if (!r)
		return -1;
	sg__buf_addc(&r->hbuf, '\0');
	sg__buf_addc(&r->url, '\0');
	if (sg__buf_failed(&r->hbuf) || sg__buf_failed(&r->url))
		return fail_request(c, 503, "out_of_memory", "");
	size_t nh = r->nhoff / 2;
	r->hdrs = calloc(nh ? nh : 1, sizeof(*r->hdrs));
	if (!r->hdrs)
		return fail_request(c, 503, "out_of_memory", "");
	for (size_t i = 0; i < nh; i++) {
		size_t vo = r->hoff[2 * i + 1];
		r->hdrs[i].name = r->hbuf.p + r->hoff[2 * i];
		r->hdrs[i].value = vo == SIZE_MAX ? "" : r->hbuf.p + vo;
	}
	r->headers = r->hdrs;
	r->nheaders = nh;
	r->method = (enum http_method)p->method;
	r->keep_alive = http_should_keep_alive(p) != 0;

	/* Request target: origin form only ("/path?query"). */
	char *url = r->url.p;
	if (url[0] != '/')
		return fail_request(c, 400, "bad_request", "request target must be an absolute path");
	char *q = strchr(url, '?');
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	char *frag = strchr(q ? q + 1 : url, '#');
	if (frag)
		*frag = '\0';
	r->path = url;
	if (p->http_major != 1)
		return fail_request(c, 505, "http_version_not_supported", "HTTP/1.x only");

	sg__router_prepare(r);
	if (c->closing)
		return -1;
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->body_limit) {
		char d[96];
		snprintf(d, sizeof(d), "body of %llu bytes exceeds the limit of %zu bytes",
			 (unsigned long long)p->content_length, r->body_limit);
		return fail_request(c, 413, "body_too_large", d);
	}
	const char *expect = sg__req_header(r, "expect");
	if (expect) {
		if (strcasecmp(expect, "100-continue") != 0)
			return fail_request(c, 417, "expectation_failed", "only 100-continue is supported");
		/* Only when nothing is owed before it, so answers stay in order. */
		if (c->head == r && c->writes == 0 && r->early_status == 0 &&
		    ((p->flags & F_CHUNKED) || p->content_length > 0)) {
			char *m = dup_mem(CONTINUE_100, strlen(CONTINUE_100));
			if (m)
				conn_write(c, m, strlen(CONTINUE_100), NULL, 0, NULL, 0, NULL);
		}
	}
	arm(c, T_BODY, c->srv->cfg->limits.body_timeout_ms);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	sg__conn *c = p->data;
	sg__req *r = c->cur;
	if (!r)
		return -1;
	if (r->bodybuf.len + len > r->body_limit) {
		char d[96];
		snprintf(d, sizeof(d), "body exceeds the limit of %zu bytes", r->body_limit);
		return fail_request(c, 413, "body_too_large", d);
	}
	if (r->early_status) {
		r->bodybuf.len += len; /* counted, not kept */
		return 0;
	}
	sg__buf_add(&r->bodybuf, at, len);
	if (sg__buf_failed(&r->bodybuf))
		return fail_request(c, 503, "out_of_memory", "");
	return 0;
}

static int on_message_complete(http_parser *p)
{
	sg__conn *c = p->data;
	sg__req *r = c->cur;
	if (!r)
		return -1;
	c->cur = NULL;
	if (r->early_status) {
		sg__buf_free(&r->bodybuf);
	}
	r->body = r->bodybuf.p ? r->bodybuf.p : "";
	r->body_len = r->bodybuf.p ? r->bodybuf.len : 0;
	if (!r->keep_alive || c->srv->draining)
		c->stop_input = true; /* nothing after a Connection: close request */
	r->state = SG__REQ_HANDLING;
	c->refs++; /* held until answered */
	sg__router_dispatch(r);
	if (c->closing)
		return -1;
	if (c->stop_input)
		return -1;
	if (c->nreqs >= c->srv->cfg->limits.max_pipelined)
		http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void stop_reading(sg__conn *c)
{
	if (c->reading)
		uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
}

/* Feed input to the parser. */
static void conn_parse(sg__conn *c, const char *data, size_t len)
{
	c->in_parse = true;
	size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
	c->in_parse = false;
	if (c->closing)
		return;
	enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
	if (e == HPE_PAUSED) {
		/* Too many requests queued: keep the rest, stop reading. */
		if (n < len) {
			c->held = dup_mem(data + n, len - n);
			if (!c->held) {
				conn_close(c);
				return;
			}
			c->held_len = len - n;
		}
		c->paused = true;
		stop_reading(c);
	} else if (c->stop_input) {
		stop_reading(c);
	} else if (e != HPE_OK) {
		if (e == HPE_HEADER_OVERFLOW)
			fail_request(c, 431, "headers_too_large", "request line and headers exceed the limit");
		else
			fail_request(c, 400, "bad_request", http_errno_description(e));
		stop_reading(c);
	} else if (c->parser.upgrade) {
		fail_request(c, 501, "not_implemented", "protocol upgrades are not supported");
		stop_reading(c);
	}
	conn_flush(c);
	conn_after_io(c);
}

static void conn_resume(sg__conn *c)
{
	c->paused = false;
	http_parser_pause(&c->parser, 0);
	char *held = c->held;
	size_t len = c->held_len;
	c->held = NULL;
	c->held_len = 0;
	if (held) {
		conn_parse(c, held, len);
		free(held);
	}
	if (!c->paused && !c->stop_input && !c->closing && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, NULL, on_read) == 0)
			c->reading = true;
		else
			conn_close(c);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	sg__conn *c = h->data;
	(void)suggested;
	if (c->srv->read_buf_busy) {
		*buf = uv_buf_init(NULL, 0); /* UV_ENOBUFS, read again later */
		return;
	}
	c->srv->read_buf_busy = true;
	*buf = uv_buf_init(c->srv->read_buf, sizeof(c->srv->read_buf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	sg__conn *c = s->data;
	if (buf->base == c->srv->read_buf)
		c->srv->read_buf_busy = false;
	if (c->closing || nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			sg__debug("http", "read failed conn=%lu error=%s", c->id, uv_strerror((int)nread));
		if (c->lingering || nread != UV_EOF || (c->nreqs == 0 && !c->cur)) {
			conn_close(c);
			return;
		}
		/* Half-closed: answer what we have, then close. An incomplete
		 * request (always the tail) has no one to answer. */
		stop_reading(c);
		if (c->cur && c->cur == c->tail && c->cur->state == SG__REQ_READING) {
			sg__req *r = c->cur, **pp = &c->head;
			c->cur = NULL;
			while (*pp != r)
				pp = &(*pp)->next;
			*pp = NULL;
			c->tail = c->head;
			while (c->tail && c->tail->next)
				c->tail = c->tail->next;
			c->nreqs--;
			req_free(r);
		}
		c->stop_input = true;
		c->close_after = true;
		conn_flush(c);
		conn_after_io(c);
		return;
	}
	if (c->lingering) {
		c->linger_bytes += (size_t)nread;
		if (c->linger_bytes > LINGER_MAX_BYTES)
			conn_close(c);
		return;
	}
	if (c->stop_input)
		return;
	conn_parse(c, buf->base, (size_t)nread);
}

/* ---- accepting ---- */

static void refuse(sg__server *srv, uv_tcp_t *tcp)
{
	/* Over the connection limit: a fixed 503, best effort, then close. */
	static const char msg[] =
		"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: 76\r\n\r\n"
		"{\"error\":\"too_many_connections\",\"detail\":\"connection limit reached\"}\n";
	uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
	uv_try_write((uv_stream_t *)tcp, &b, 1);
	srv->metrics.connections_refused++;
	uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
}

static void on_connection(uv_stream_t *server, int status)
{
	sg__server *srv = server->data;
	if (status < 0) {
		sg__warn("http", "accept failed error=%s", uv_strerror(status));
		return;
	}
	if (srv->draining)
		return;
	if (srv->nconns >= srv->cfg->limits.max_connections) {
		uv_tcp_t *tcp = malloc(sizeof(*tcp));
		if (!tcp || uv_tcp_init(srv->loop, tcp)) {
			free(tcp);
			return;
		}
		if (uv_accept(server, (uv_stream_t *)tcp) == 0) {
			sg__warn("http", "connection refused reason=limit max=%u", srv->cfg->limits.max_connections);
			refuse(srv, tcp);
		} else {
			uv_close((uv_handle_t *)tcp, (uv_close_cb)free);
		}
		return;
	}
	sg__conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = srv;
	if (uv_tcp_init(srv->loop, &c->tcp)) {
		free(c);
		return;
	}
	c->tcp.data = c;
	c->refs = 1;
	if (uv_timer_init(srv->loop, &c->timer)) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free); /* c is the tcp's container */
		return;
	}
	c->timer.data = c;
	c->refs = 2;
	c->id = ++srv->next_conn_id;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	srv->metrics.connections_accepted++;
	srv->metrics.connections_open = srv->nconns;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage ss;
	int slen = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &slen) == 0) {
		if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else {
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
		conn_close(c);
		return;
	}
	c->reading = true;
	arm(c, T_HEADER, srv->cfg->limits.header_timeout_ms);
	sg__debug("http", "accepted conn=%lu peer=%s", c->id, c->peer);
}

/* Parse "ip:port" / "[ip6]:port" / ":port" (all IPv4) into ss. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':' || (size_t)(end - addr - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr + 1, (size_t)(end - addr - 1));
		host[end - addr - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon || (size_t)(colon - addr) >= sizeof(host))
			return -EINVAL;
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		if (!host[0])
			sg__strlcpy(host, "0.0.0.0", sizeof(host));
		if (strcmp(host, "localhost") == 0)
			sg__strlcpy(host, "127.0.0.1", sizeof(host));
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port < 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -EINVAL;
}

bool sg__addr_is_loopback(const char *addr)
{
	struct sockaddr_storage ss;
	if (parse_addr(addr, &ss))
		return false;
	if (ss.ss_family == AF_INET) {
		const unsigned char *b = (const unsigned char *)&((struct sockaddr_in *)&ss)->sin_addr;
		return b[0] == 127;
	}
	const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a6, lo6, 16) == 0)
		return true;
	return memcmp(a6, v4mapped, 12) == 0 && ((const unsigned char *)a6)[12] == 127;
}

int sg__http_listen(sg__server *srv, const char *addr)
{
	struct sockaddr_storage ss;
	if (parse_addr(addr, &ss))
		return UV_EINVAL;
	int rc = uv_tcp_init(srv->loop, &srv->listener);
	if (rc)
		return rc;
	srv->listening = true;
	srv->listener.data = srv;
	rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
	return rc;
}

int sg__http_bound_port(sg__server *srv)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void sg__http_drain(sg__server *srv)
{
	srv->draining = true;
	if (srv->listening) {
		uv_close((uv_handle_t *)&srv->listener, NULL);
		srv->listening = false;
	}
	/* Idle connections go now; busy ones after their last answer. */
	sg__conn *c = srv->conns;
	while (c) {
		sg__conn *next = c->next;
		if (!c->closing && !c->lingering) {
			if (c->nreqs == 0 && !c->cur && c->writes == 0)
				conn_close(c);
			else if (!c->cur) {
				c->stop_input = true;
				c->close_after = true;
				stop_reading(c);
				conn_flush(c);
				conn_after_io(c);
			}
		}
		c = next;
	}
	if (srv->nconns == 0 && srv->on_drained)
		srv->on_drained(srv);
}

void sg__http_close_all(sg__server *srv)
{
	for (sg__conn *c = srv->conns; c; c = c->next)
		conn_close(c);
}
