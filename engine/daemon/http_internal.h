/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the HTTP layer: the connection object and what its files
 * (http_conn.c, http_answer.c, http_listen.c, http_loops.c, http_util.c)
 * share.
 *
 * Connection lifetime (libuv handle rules, as in knot-resolver session2):
 * c->refs counts the unclosed handle (tcp), pending uv_write and
 * uv_shutdown requests, and requests handed to a handler that have not
 * answered yet (also those handed to the main loop, http_loops.c).
 * sg__conn_close() stops reading, then closes the stream; the struct is
 * freed when refs reaches 0, never earlier, so an answer arriving after
 * the client left finds its request and drops it. Deadlines are fields of
 * the connection, checked by the loop's sweep timer (http_conn.c).
 */
#pragma once
#include <uv.h>

#include "daemon.h"

#define MAX_HEADERS 100
#define LINGER_MS 2000              /* read and drop input after a final answer */
#define LINGER_MAX_BYTES (1u << 20) /* ... at most this much */
/* The kernel's queue of connections not yet accepted, per listening
 * socket (Linux caps it at net.core.somaxconn, 4096 by default). A burst
 * larger than the queue is not refused: the kernel drops the handshake's
 * last packet and the client, already connected, waits for a SYN-ACK
 * retransmitted after 1, 2, 4 ... s before the daemon ever sees it. */
#define LISTEN_BACKLOG 4096

enum timer_kind { T_NONE = 0, T_HEADER, T_BODY, T_IDLE, T_WRITE, T_LINGER };

struct sg__conn {
	sg__server *srv;
	sg__conn *prev, *next; /* srv->conns */
	unsigned long id;
	uv_tcp_t tcp;
	uint64_t deadline; /* loop time (uv_now) when tkind fires */
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
	sg__req *spare;    /* an answered request kept for the next one (its buffers' room) */
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

/* http_conn.c */
void sg__conn_close(sg__conn *c);
void sg__http_sweep_close(sg__server *srv);
/* http_listen.c: draining and the last connection is gone */
void sg__http_drained(sg__server *srv);
/* http_listen.c: n sockets bound to addr with SO_REUSEPORT (after a probe
 * without it, so that a port in use is refused); *port the port bound. */
int sg__http_bind_reuseport(const char *addr, unsigned n, uv_os_sock_t *fds, int *port);
int sg__loops_port(const sg__loops *g);
/* http_loops.c: a request handed to the main loop was answered there (or
 * dropped); runs on its own loop */
void sg__req_came_back(sg__req *r);
/* Re-evaluate what the connection waits for (timers, resuming a paused
 * parser, closing) after any I/O or answer. */
void sg__conn_after_io(sg__conn *c);
void sg__conn_stop_reading(sg__conn *c);
/* A socket accepted on srv's listener (non-blocking): served, or refused
 * (503) at the connection limit; the connection owns fd from then on. */
void sg__conn_accepted(sg__server *srv, int fd, const struct sockaddr_storage *peer);

/* http_accept.c */
/* Poll the listening socket fd (bound, listen() called) and accept on it;
 * srv->listening is set. On failure fd is closed. */
int sg__http_accept_on(sg__server *srv, uv_os_sock_t fd);
/* Stop accepting and close the listening socket (if listening). */
void sg__http_unlisten(sg__server *srv);
void sg__http_on_listen(uv_poll_t *p, int status, int events);
/* Answer an accepted socket the fixed 503 too_many_connections, close it. */
void sg__http_refuse_fd(sg__server *srv, int fd);

/* http_answer.c */
sg__req *sg__req_new(sg__conn *c);
/* Free, or keep as the connection's spare (c may be NULL: free). */
void sg__req_recycle(sg__conn *c, sg__req *r);
void sg__req_free(sg__req *r);
void sg__req_pop(sg__conn *c);
/* Write what is ready at the head of the queue, in order. */
void sg__conn_flush(sg__conn *c);
/* Write up to three owned buffers (NULL entries skipped); a synchronous
 * failure completes the write at once (and closes the connection). */
int sg__conn_write(sg__conn *c, char *b0, size_t l0, char *b1, size_t l1, char *b2, size_t l2,
		   sg__req *stream_req);
char *sg__memdup(const char *p, size_t n);
