/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP/1.1 layer of the daemon and the API route handlers use.
 *
 * http_conn.c accepts connections, parses requests with nodejs
 * http-parser and enforces the limits (header/body size, timeouts,
 * pipelining); http_answer.c writes answers strictly in request order,
 * whatever order handlers answer in.
 * router.c maps a request to one sg__route (404/405/401/415 are decided
 * there, before the body is read) and calls its handler once the whole
 * request is in.
 *
 * A handler is `void handler(sg__req *req)`. It must answer exactly once,
 * with one of the sg__respond* functions, either before it returns or
 * later from any loop-thread callback (e.g. when the writer committed; see
 * writer.h). Until it answers, the request and its buffers stay valid even
 * if the client goes away (the answer is then discarded). Everything here
 * runs on the loop thread only.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <http_parser.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "buf.h"
#include "metrics.h"

typedef struct sg__server sg__server;
typedef struct sg__conn sg__conn;
typedef struct sg__req sg__req;
typedef struct sg__route sg__route;

typedef void (*sg__handler)(sg__req *req);

/* Methods a route accepts (a bit mask). */
enum {
	SG__M_GET = 1u << 0,
	SG__M_POST = 1u << 1,
	SG__M_PUT = 1u << 2,
	SG__M_DELETE = 1u << 3,
};

/* Route flags. */
enum {
	SG__ROUTE_PREFIX = 1u << 0, /* path is a prefix; req->arg holds the rest (non-empty) */
	SG__ROUTE_PUBLIC = 1u << 1, /* no bearer token: /healthz, webhooks (own signatures) */
	SG__ROUTE_BATCH = 1u << 2,  /* body limit is limits.max_batch_body_bytes */
	SG__ROUTE_JSON = 1u << 3,   /* POST/PUT bodies must be application/json (else 415) */
	SG__ROUTE_READ = 1u << 4,   /* POST only reads (batch check): the auditor token may */
	SG__ROUTE_SENDS = 1u << 5,  /* body limit is limits.max_sends_body_bytes (POST /v1/sends) */
};

struct sg__route {
	const char *path;    /* "/v1/check", or "/v1/webhooks/" with SG__ROUTE_PREFIX */
	const char *name;    /* metrics label: "check", "webhooks", ... */
	unsigned methods;    /* SG__M_* */
	unsigned flags;      /* SG__ROUTE_* */
	sg__handler handler;
};

typedef struct sg__header {
	const char *name;  /* as received (compare case-insensitively) */
	const char *value; /* leading/trailing blanks removed by http-parser */
} sg__header;

/* Produce the next piece of a streamed body into out (raw bytes: the HTTP
 * layer adds chunked framing). Return 1 when more will follow, 0 when done
 * (out may hold a final piece), negative on failure (the response is cut off
 * and the connection closed, so the client sees an incomplete body). Called
 * again only after the previous piece was written to the socket. */
typedef int (*sg__stream_fn)(sg__req *req, sg__buf *out, void *ctx);

enum sg__req_state {
	SG__REQ_READING = 0, /* being parsed */
	SG__REQ_HANDLING,    /* handed to its handler, no answer yet */
	SG__REQ_READY,       /* answer built, waiting for its turn to be written */
	SG__REQ_STREAMING,   /* streamed answer, written piece by piece */
};

struct sg__req {
	/* ---- for handlers (read-only) ---- */
	sg__server *srv;
	unsigned long id;          /* request number, for logs */
	enum http_method method;
	const char *path;          /* as received (percent-encoded), without the query */
	const char *query;         /* after '?', "" when none */
	const char *arg;           /* SG__ROUTE_PREFIX: the path after the prefix */
	const char *body;          /* raw body, NUL-terminated (the NUL is not counted) */
	size_t body_len;
	const sg__header *headers;
	size_t nheaders;
	const sg__route *route;    /* NULL when none matched */
	int64_t start_us;          /* when the first byte arrived (sg_now_us) */
	void *user;                /* free for the handler */

	/* ---- private to the http_*.c files and router.c ---- */
	sg__conn *conn;
	sg__req *next;
	enum sg__req_state state;
	bool keep_alive;      /* as the client asked */
	bool force_close;     /* close the connection after this answer */
	bool orphan;          /* the connection is gone: discard the answer */
	bool stream_writing;  /* a streamed piece is being written */
	bool stream_done;
	bool head_final;      /* out_head ends with its Connection line (http_answer.c) */
	/* handed to the main loop (http_loops.c): away is set and cleared by
	 * the request's own loop, which reads nothing else of it meanwhile
	 * but marks it dead when its connection goes */
	bool away;
	bool dead;
	sg__req *hand_next;   /* the hand-off queues */
	void (*hand_fn)(sg__req *req);
	int early_status;     /* router decided an error before the body */
	char early_error[32];
	char early_detail[96];
	char early_allow[32];
	size_t body_limit;
	size_t header_bytes;
	bool last_was_value;
	sg__buf url;          /* the request target */
	sg__buf hbuf;         /* header names and values, NUL-separated */
	sg__buf bodybuf;
	size_t *hoff;         /* per header: name offset, value offset (2 per header) */
	size_t nhoff, hoff_cap;
	sg__header *hdrs;
	size_t hdrs_cap;
	sg__buf extra;        /* extra response header lines set by sg__resp_header */
	sg__buf out_head;     /* status line + headers (without Connection) */
	sg__buf out_body;
	int status;
	sg__stream_fn stream;
	void *stream_ctx;
	void (*stream_free)(void *ctx);
};

/* The value of the first header with this name (case-insensitive), or NULL. */
const char *sg__req_header(const sg__req *req, const char *name);

/* Find a query parameter, percent-decode it into out (NUL-terminated).
 * Returns its length, -ENOENT when absent, -E2BIG when longer than outlen-1,
 * -EINVAL when the encoding is malformed or holds a NUL byte (%00). */
int sg__req_query(const sg__req *req, const char *name, char *out, size_t outlen);

/* Percent-decode in[0..len) into out; same returns as sg__req_query.
 * plus_space: '+' means space (query strings and form bodies). */
int sg__url_decode(const char *in, size_t len, bool plus_space, char *out, size_t outlen);

/* Is the request's Content-Type this media type (parameters ignored)? */
bool sg__req_content_type_is(const sg__req *req, const char *media_type);

/* The URL the client called, rebuilt from the configured public base URL
 * (config "publicBaseUrl", e.g. "https://optout.example.com") plus the path
 * and query exactly as received, into out. Webhook signatures (Twilio,
 * Plivo) cover it. Returns -ENOENT when no public base URL is configured. */
int sg__req_public_url(const sg__req *req, sg__buf *out);

/* The peer address, "ip:port", for logs. */
const char *sg__req_peer(const sg__req *req);

/* Add a response header line before answering (name and value must not
 * contain CR/LF; Content-Length, Connection and Transfer-Encoding are the
 * HTTP layer's). */
void sg__resp_header(sg__req *req, const char *name, const char *value);

/* Answer with a body (copied). content_type may be NULL when len == 0. */
void sg__respond(sg__req *req, int status, const char *content_type, const void *body, size_t len);
/* Same, taking ownership of the buffer (left empty). */
void sg__respond_buf(sg__req *req, int status, const char *content_type, sg__buf *body);
/* Answer with JSON; takes ownership of json (deleted). */
void sg__respond_json(sg__req *req, int status, cJSON *json);
/* Answer {"error": error, "detail": detail}. detail is a printf format
 * (may be NULL). */
void sg__respond_error(sg__req *req, int status, const char *error, const char *detail_fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Answer with a chunked body produced by fn; free_ctx(ctx) runs once when
 * the stream ends or the connection dies (also if never started). */
void sg__respond_stream(sg__req *req, int status, const char *content_type, sg__stream_fn fn,
			void *ctx, void (*free_ctx)(void *ctx));

/* True until the client is gone; an answer to a dead request is discarded. */
static inline bool sg__req_alive(const sg__req *req)
{
	return !req->orphan;
}

/* Reason phrase of a status code ("Not Found"). */
const char *sg__http_reason(int status);

/* ---- the server side (serve.c) ---- */

/* Listen on "ip:port" or "[ipv6]:port". Returns 0 or a negative uv error. */
int sg__http_listen(sg__server *srv, const char *addr);
/* How many connections the descriptor limit leaves room for (RLIMIT_NOFILE
 * less the descriptors open now, a few per HTTP loop and a headroom);
 * UINT32_MAX when unlimited. *nofile the soft limit (0: unlimited),
 * *in_use the descriptors open now. (http_accept.c) */
unsigned sg__http_fd_allowance(unsigned nloops, unsigned long *nofile, unsigned *in_use);
/* The port actually bound (for listen addresses with port 0). */
int sg__http_bound_port(sg__server *srv);
/* Is this a listen address we can parse ("ip:port", "[ip6]:port")? */
bool sg__addr_valid(const char *addr);
/* Is this listen address on the loopback (127/8, ::1)? */
bool sg__addr_is_loopback(const char *addr);
/* Stop accepting; finish what is in flight. Connections that are idle are
 * closed now, the rest after their last answer (Connection: close).
 * srv->on_drained runs when the last connection is gone. */
void sg__http_drain(sg__server *srv);
/* Close every connection now (shutdown deadline passed). */
void sg__http_close_all(sg__server *srv);
/* Serve an already connected stream socket as if it had been accepted
 * (same parsing, limits, timeouts and answers; no listener and no
 * connection limit). The test seam of tests/fuzz/fuzz_http.c, which feeds
 * requests through a socketpair. Returns 0 (the connection owns fd from
 * then on) or a negative uv error (fd is still the caller's). */
int sg__http_open_fd(sg__server *srv, uv_os_sock_t fd);

/* ---- the HTTP loops (http_loops.c) ----
 * With httpThreads > 1, N loops, one thread each, accept on their own
 * socket bound to the same address (SO_REUSEPORT) and answer checks
 * themselves; every other request is handed to the main loop (its handlers,
 * the writer's answers and the fleet live there) and its answer comes back
 * to the loop that owns the connection. */
typedef struct sg__loops sg__loops;
/* The number of HTTP loops for a configured httpThreads (0 = one per
 * online CPU, at most 16). */
unsigned sg__http_threads(unsigned configured);
/* Bind n sockets to addr with SO_REUSEPORT and start a loop thread on each;
 * main->loops is set. Returns 0 or a negative uv error (nothing left
 * running). */
int sg__loops_start(sg__server *main, unsigned n, const char *addr);
/* Drain every HTTP loop (as sg__http_drain); on_drained(main) runs on the
 * main loop once the last loop has no connection and its thread ended. */
void sg__loops_drain(sg__server *main, void (*on_drained)(sg__server *main));
/* Close every connection of every loop now. */
void sg__loops_close_all(sg__server *main);
/* Run fn(req) on the main loop (now, when this is it). The request is
 * answered there as usual; the answer is written by its own loop. */
void sg__req_handoff(sg__req *req, void (*fn)(sg__req *req));
/* Is req on the main loop (where writes, the fleet and global state are)?
 * (daemon.h) */
/* Every loop's counters and connections, for GET /metrics (main loop). */
void sg__http_metrics(sg__server *main, sg__metrics *sum);

/* Router (router.c), called by http_conn.c. */
/* After the headers: find the route, check token, method, content type;
 * set req->route, req->arg, req->body_limit, req->early_status. */
void sg__router_prepare(sg__req *req);
/* After the body: answer early errors or run the handler. */
void sg__router_dispatch(sg__req *req);
