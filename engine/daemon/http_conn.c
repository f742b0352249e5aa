/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/1.1 connections: accepting, parsing (http-parser), limits,
 * timeouts, pipelining back-pressure, lingering close. See http.h and
 * http_internal.h (lifetime rules). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_internal.h"
#include "internal.h"

static const char *const CONTINUE_100 = "HTTP/1.1 100 Continue\r\n\r\n";
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void sweep_stop(sg__server *srv);

static unsigned *conn_total(sg__server *srv)
{
	return srv->conn_total ? srv->conn_total : &srv->conn_count;
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
		sg__req_free(r);
	}
	free(c->held);
	sg__req_free(c->spare);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	__atomic_fetch_sub(conn_total(srv), 1, __ATOMIC_RELAXED);
	SG__MSET(srv->metrics.connections_open, srv->nconns);
	sg__debug("http", "closed conn=%lu peer=%s", c->id, c->peer);
	free(c);
	if (srv->nconns == 0)
		sweep_stop(srv);
	if (srv->draining && srv->nconns == 0)
		sg__http_drained(srv);
}

static void on_handle_close(uv_handle_t *h)
{
	sg__conn *c = h->data;
	c->refs--;
	conn_maybe_free(c);
}

void sg__conn_close(sg__conn *c)
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
		if (r->away) {
			/* on the main loop: its state is not ours to read; it
			 * comes back (http_loops.c) and is dropped then */
			r->dead = true;
			*pp = r->next;
			r->next = NULL;
		} else if (r->state == SG__REQ_HANDLING) {
			r->orphan = true;
			*pp = r->next;
			r->next = NULL;
		} else {
			*pp = r->next;
			sg__req_free(r);
		}
		c->nreqs--;
	}
	c->tail = NULL;
	c->cur = NULL;
	c->tkind = T_NONE;
	uv_close((uv_handle_t *)&c->tcp, on_handle_close);
}

static void on_timeout(sg__conn *c);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
void sg__conn_stop_reading(sg__conn *c);

/* ---- deadlines ----
 * A connection has at most one deadline (header, body, idle, write or
 * linger). Setting it is two stores: no timer is started or stopped per
 * request. One timer per loop (srv->sweep), running while the loop has
 * connections, looks at every connection each tick and fires the ones
 * past due; a deadline fires at most a tick late, and the tick is a tenth
 * of the shortest configured timeout (10 ms to 250 ms). */

static uint64_t sweep_tick_ms(const sg__limits *lim)
{
	unsigned m = lim->header_timeout_ms;
	if (lim->body_timeout_ms < m)
		m = lim->body_timeout_ms;
	if (lim->idle_timeout_ms < m)
		m = lim->idle_timeout_ms;
	m /= 10;
	return m < 10 ? 10 : m > 250 ? 250 : m;
}

static void on_sweep(uv_timer_t *t)
{
	sg__server *srv = t->data;
	uint64_t now = uv_now(srv->loop);
	/* on_timeout closes connections (freed later, from their close
	 * callbacks) but never frees one now: next stays valid */
	for (sg__conn *c = srv->conns, *next; c; c = next) {
		next = c->next;
		if (c->tkind != T_NONE && !c->closing && c->deadline <= now)
			on_timeout(c);
	}
}

static void sweep_start(sg__server *srv)
{
	if (!srv->sweeping) {
		if (uv_timer_init(srv->loop, &srv->sweep))
			return;
		srv->sweep.data = srv;
		srv->sweeping = true;
		uv_unref((uv_handle_t *)&srv->sweep); /* connections keep the loop alive, not it */
	}
	if (!uv_is_active((uv_handle_t *)&srv->sweep)) {
		uint64_t tick = sweep_tick_ms(&srv->cfg->limits);
		uv_timer_start(&srv->sweep, on_sweep, tick, tick);
	}
}

static void sweep_stop(sg__server *srv)
{
	if (srv->sweeping)
		uv_timer_stop(&srv->sweep);
}

void sg__http_sweep_close(sg__server *srv)
{
	if (srv->sweeping) {
		srv->sweeping = false;
		uv_close((uv_handle_t *)&srv->sweep, NULL);
	}
}

static void arm(sg__conn *c, enum timer_kind kind, unsigned ms)
{
	c->tkind = kind;
	c->deadline = uv_now(c->srv->loop) + (ms ? ms : 1);
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
			sg__conn_close(c);
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
	sg__conn_stop_reading(c);
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown)) {
		sg__conn_close(c);
		return;
	}
	c->refs++;
	/* A peer that reads nothing could hold the shutdown forever. */
	arm(c, T_LINGER, c->srv->cfg->limits.idle_timeout_ms);
}

/* ---- timers and flow control ---- */

static void conn_resume(sg__conn *c);

/* Re-evaluate what the connection waits for after any I/O. */
void sg__conn_after_io(sg__conn *c)
{
	if (c->closing) {
		conn_maybe_free(c);
		return;
	}
	if (c->in_parse || c->lingering)
		return;
	const sg__limits *lim = &c->srv->cfg->limits;
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
			sg__conn_close(c); /* idle while draining: done */
			return;
		}
		arm(c, T_IDLE, lim->idle_timeout_ms);
	} else {
		/* waiting for a handler (the writer): not the client's fault */
		c->tkind = T_NONE;
	}
}

static void on_timeout(sg__conn *c)
{
	if (c->closing)
		return;
	enum timer_kind kind = c->tkind;
	c->tkind = T_NONE;
	switch (kind) {
	case T_HEADER:
	case T_BODY:
		SG__MINC(c->srv->metrics.timeouts);
		if (c->cur && c->cur->state == SG__REQ_READING) {
			sg__req *r = c->cur;
			c->cur = NULL;
			c->stop_input = true;
			if (c->reading)
				uv_read_stop((uv_stream_t *)&c->tcp);
			c->reading = false;
			r->force_close = true;
			sg__log_limited(SG_LOG_INFO, "http", kind == T_HEADER ? "http:timeout:headers" : "http:timeout:body",
					"timeout conn=%lu peer=%s waiting_for=%s", c->id, c->peer,
					kind == T_HEADER ? "headers" : "body");
			sg__respond_error(r, 408, "request_timeout",
					  kind == T_HEADER ? "headers not received within %u ms"
							   : "body not received within %u ms",
					  kind == T_HEADER ? c->srv->cfg->limits.header_timeout_ms
							   : c->srv->cfg->limits.body_timeout_ms);
			sg__conn_flush(c);
			sg__conn_after_io(c);
		} else {
			sg__conn_close(c);
		}
		break;
	case T_WRITE:
		sg__log_limited(SG_LOG_INFO, "http", "http:not_reading", "client not reading conn=%lu peer=%s", c->id,
				c->peer);
		sg__conn_close(c);
		break;
	case T_IDLE:
	case T_LINGER:
	case T_NONE:
		sg__conn_close(c);
		break;
	}
}
/* ---- parsing ---- */

static int fail_request(sg__conn *c, int status, const char *error, const char *detail)
{
	sg__req *r = c->cur;
	if (!r) {
		r = sg__req_new(c);
		if (!r) {
			sg__conn_close(c);
			return -1;
		}
	}
	c->cur = NULL;
	c->stop_input = true;
	r->force_close = true;
	if (status == 413 || status == 431)
		SG__MINC(c->srv->metrics.limit_errors);
	char key[48];
	snprintf(key, sizeof(key), "http:bad_request:%d", status);
	sg__log_limited(SG_LOG_INFO, "http", key, "bad request conn=%lu peer=%s status=%d error=%s", c->id, c->peer,
			status, error);
	if (r->state == SG__REQ_READING)
		sg__respond_error(r, status, error, "%s", detail);
	return -1;
}

static int on_message_begin(http_parser *p)
{
	sg__conn *c = p->data;
	if (c->stop_input || c->closing)
		return -1;
	sg__req *r = sg__req_new(c);
	if (!r) {
		sg__conn_close(c);
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
	if (r->hdrs_cap < (nh ? nh : 1)) {
		free(r->hdrs);
		r->hdrs_cap = 0;
		r->hdrs = calloc(nh ? nh : 1, sizeof(*r->hdrs));
		if (!r->hdrs)
			return fail_request(c, 503, "out_of_memory", "");
		r->hdrs_cap = nh ? nh : 1;
	}
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
			char *m = sg__memdup(CONTINUE_100, strlen(CONTINUE_100));
			if (m)
				sg__conn_write(c, m, strlen(CONTINUE_100), NULL, 0, NULL, 0, NULL);
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

void sg__conn_stop_reading(sg__conn *c)
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
			c->held = sg__memdup(data + n, len - n);
			if (!c->held) {
				sg__conn_close(c);
				return;
			}
			c->held_len = len - n;
		}
		c->paused = true;
		sg__conn_stop_reading(c);
	} else if (c->stop_input) {
		sg__conn_stop_reading(c);
	} else if (e != HPE_OK) {
		if (e == HPE_HEADER_OVERFLOW)
			fail_request(c, 431, "headers_too_large", "request line and headers exceed the limit");
		else
			fail_request(c, 400, "bad_request", http_errno_description(e));
		sg__conn_stop_reading(c);
	} else if (c->parser.upgrade) {
		fail_request(c, 501, "not_implemented", "protocol upgrades are not supported");
		sg__conn_stop_reading(c);
	}
	sg__conn_flush(c);
	sg__conn_after_io(c);
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
		if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
			c->reading = true;
		else
			sg__conn_close(c);
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
			sg__conn_close(c);
			return;
		}
		/* Half-closed: answer what we have, then close. An incomplete
		 * request (always the tail) has no one to answer. */
		sg__conn_stop_reading(c);
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
			sg__req_free(r);
		}
		c->stop_input = true;
		c->close_after = true;
		sg__conn_flush(c);
		sg__conn_after_io(c);
		return;
	}
	if (c->lingering) {
		c->linger_bytes += (size_t)nread;
		if (c->linger_bytes > LINGER_MAX_BYTES)
			sg__conn_close(c);
		return;
	}
	if (c->stop_input)
		return;
	conn_parse(c, buf->base, (size_t)nread);
}
/* ---- accepting ---- */

/* A connection object on srv's loop, counted and linked, not reading yet;
 * NULL on failure. reserved: the caller already counted it in conn_total
 * (the accept path reserves its slot atomically against the limit). */

static sg__conn *conn_new(sg__server *srv, bool reserved)
{
	sg__conn *c = calloc(1, sizeof(*c));
	if (!c || uv_tcp_init(srv->loop, &c->tcp)) {
		free(c);
		if (reserved)
			__atomic_fetch_sub(conn_total(srv), 1, __ATOMIC_RELAXED);
		return NULL;
	}
	c->srv = srv;
	c->tcp.data = c;
	c->refs = 1;
	sg__server *ids = srv->main ? srv->main : srv; /* one sequence for every loop */
	c->id = __atomic_add_fetch(&ids->next_conn_id, 1, __ATOMIC_RELAXED);
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	srv->nconns++;
	if (!reserved)
		__atomic_fetch_add(conn_total(srv), 1, __ATOMIC_RELAXED);
	sweep_start(srv);
	SG__MINC(srv->metrics.connections_accepted);
	SG__MSET(srv->metrics.connections_open, srv->nconns);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	return c;
}

/* The stream is connected: note the peer (ss, or asked when NULL), start
 * reading. */
static void conn_start(sg__conn *c, const struct sockaddr_storage *peer)
{
	uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage ss;
	int slen = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "local";
	int port = 0;
	if (peer)
		ss = *peer;
	if (peer || uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &slen) == 0) {
		if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
			port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read)) {
		sg__conn_close(c);
		return;
	}
	c->reading = true;
	arm(c, T_HEADER, c->srv->cfg->limits.header_timeout_ms);
	sg__debug("http", "accepted conn=%lu peer=%s", c->id, c->peer);
}

void sg__conn_accepted(sg__server *srv, int fd, const struct sockaddr_storage *peer)
{
	/* Reserve a slot: every loop counts in the one total, so a check and a
	 * later increment could let two loops both take the last one. */
	if (__atomic_fetch_add(conn_total(srv), 1, __ATOMIC_RELAXED) >= srv->cfg->limits.max_connections) {
		__atomic_fetch_sub(conn_total(srv), 1, __ATOMIC_RELAXED);
		sg__log_limited(SG_LOG_WARN, "http", "http:conn_limit", "connection refused reason=limit max=%u",
				srv->cfg->limits.max_connections);
		sg__http_refuse_fd(srv, fd);
		return;
	}
	sg__conn *c = conn_new(srv, true);
	if (!c) {
		close(fd);
		return;
	}
	if (uv_tcp_open(&c->tcp, fd)) {
		close(fd);
		sg__conn_close(c);
		return;
	}
	conn_start(c, peer);
}

int sg__http_open_fd(sg__server *srv, uv_os_sock_t fd)
{
	sg__conn *c = conn_new(srv, false);
	if (!c)
		return UV_ENOMEM;
	int rc = uv_tcp_open(&c->tcp, fd);
	if (rc) {
		sg__conn_close(c); /* fd not adopted: still the caller's */
		return rc;
	}
	conn_start(c, NULL);
	return 0;
}
