/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the daemon's request path, bytes in to answers out. The
 * input is what one client sends on one connection; it reaches the real
 * connection code through sg__http_open_fd() and a socketpair, so it goes
 * through http-parser, the limits, pipelining back-pressure, the router
 * and bearer token, every API handler (the JSON bodies of /v1/inbound,
 * /v1/consent, batch /v1/check, the registry PUTs, ...), the writer thread
 * (durable commits into a scratch store) and the ordered answers.
 *
 * Input: one flags byte, then the client's bytes (at most 128 KiB).
 *   bits 0-1  how the bytes are cut into writes (each parsed on its own):
 *             whole; one byte at a time for the first 256 then the rest;
 *             after every '\n'; pieces of ((flags >> 4) + 1) bytes
 *   bit 2     a bearer token is configured ("fuzz-token-1")
 * Provider webhooks accept unsigned requests (no credentials configured,
 * allowUnsignedWebhooks), since the fuzzer cannot sign: their parsing,
 * Vonage reassembly and recording in the daemon are fuzzed; the signature
 * checks are the webhook target's.
 * Then the client half-closes and reads everything until the daemon
 * closes. Invariants (abort() when broken):
 *  - the connection is closed and freed within 3 s of the client's EOF
 *    (every timeout is 30 s, so no answer waited for a timer);
 *  - the output is a sequence of complete HTTP/1.1 answers (optional
 *    100 Continue first; framing by Content-Length or chunked; only a
 *    chunked stream may be cut off, and only at the very end);
 *  - every whole application/json answer is valid JSON, and every 4xx/5xx
 *    one is an object with a string "error";
 *  - with a token configured and neither token (operator or auditor) nor a
 *    webhook path in the input, the only 2xx answers are /healthz's and the
 *    console's static files (they hold no data; the only answers with a
 *    Content-Security-Policy).
 * The store is scratch (under $TMPDIR or /dev/shm) and starts afresh every
 * 256 inputs, so /v1/audit streams stay short. SG_FUZZ_VERBOSE=1 prints
 * the answers (to see what a corpus file does).
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "config.h"
#include "daemon/daemon.h"
#include "daemon/wh.h"
#include "internal.h"

#define FUZZ_MAX_INPUT (128u * 1024)
#define MAX_OUTPUT (16u << 20)
#define RESET_EVERY 256
#define TOKEN "fuzz-token-1"
#define AUDITOR_TOKEN "fuzz-auditor-1" /* read-only */

static struct {
	bool ready;
	uv_loop_t loop;
	sg__server srv;
	sg__config cfg[2]; /* [0] no token, [1] TOKEN */
	char dir[256];
	unsigned inputs;
	bool writer_closed;
} F;

static void die(const char *what, const uint8_t *in, size_t len)
{
	fprintf(stderr, "fuzz_http: %s; input (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 400; i++)
		fprintf(stderr, " %02x", in[i]);
	fputc('\n', stderr);
	abort();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void writer_closed(void *arg)
{
	(void)arg;
	F.writer_closed = true;
}

static void store_close(void)
{
	if (F.srv.writer) {
		F.writer_closed = false;
		sg__writer_stop(F.srv.writer, writer_closed, NULL);
		while (!F.writer_closed)
			uv_run(&F.loop, UV_RUN_ONCE);
		F.srv.writer = NULL;
	}
	sg_engine_close(F.srv.engine);
	F.srv.engine = NULL;
	nftw(F.dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void store_open(void)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !tmp[0])
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(F.dir, sizeof(F.dir), "%s/sg-fuzz-http-XXXXXX", tmp);
	if (!mkdtemp(F.dir)) {
		perror("fuzz_http: mkdtemp");
		abort();
	}
	for (int i = 0; i < 2; i++)
		snprintf(F.cfg[i].data_dir, sizeof(F.cfg[i].data_dir), "%s/data", F.dir);
	sg_options o;
	sg__config_engine_options(&F.cfg[0], &o);
	o.filter_capacity = 1024;
	o.flags |= SG_OPEN_CREATE;
	o.initial_map_size = 1u << 20; /* small: the map grows under the fuzzer */
	int rc = sg_engine_open(&o, &F.srv.engine);
	if (!rc)
		rc = sg__writer_start(&F.loop, F.srv.engine, F.cfg[0].limits.writer_queue, &F.srv.writer);
	if (rc) {
		fprintf(stderr, "fuzz_http: cannot open the scratch store %s: %d\n", F.dir, rc);
		abort();
	}
}

static void teardown(void)
{
	if (!F.ready)
		return;
	store_close();
	sg__webhooks_free();
	uv_run(&F.loop, UV_RUN_NOWAIT);
	uv_loop_close(&F.loop);
	for (int i = 0; i < 2; i++)
		sg__config_free(&F.cfg[i]);
	F.ready = false;
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	sg__log_set_level(SG_LOG_ERROR);
	/* OpenSSL sets itself up on the first thread that hashes and keeps
	 * state for that thread: let it be this one, not the writer, which
	 * ends at every store reset. */
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	if (uv_loop_init(&F.loop))
		abort();
	const char *kw = getenv("SG_KEYWORDS");
	for (int i = 0; i < 2; i++) {
		sg__config *c = &F.cfg[i];
		sg__config_init(c);
		sg__strlcpy(c->keywords_dir, kw && kw[0] ? kw : SG_KEYWORDS_DIR_SOURCE, sizeof(c->keywords_dir));
		sg__strlcpy(c->public_base_url, "https://fuzz.example", sizeof(c->public_base_url));
		c->limits = (sg__limits){
			.max_header_bytes = 2048,
			.max_body_bytes = 4096,
			.max_batch_body_bytes = 16384,
			.max_connections = 16,
			.header_timeout_ms = 30000,
			.body_timeout_ms = 30000,
			.idle_timeout_ms = 30000,
			.max_pipelined = 4,
			.writer_queue = 64,
		};
	}
	sg__strlcpy(F.cfg[1].token, TOKEN, sizeof(F.cfg[1].token));
	sg__strlcpy(F.cfg[1].auditor_token, AUDITOR_TOKEN, sizeof(F.cfg[1].auditor_token));
	static const char providers[] = "{\"providers\": {\"plivo\": {\"country\": \"US\"}, "
		"\"vonage\": {\"country\": \"US\", \"concatTimeoutSeconds\": 5}, "
		"\"sinch\": {\"country\": \"US\"}}, \"allowUnsignedWebhooks\": true}";
	char err[256];
	if (sg__config_parse(&F.cfg[0], providers, sizeof(providers) - 1, err, sizeof(err)) ||
	    sg__webhooks_init(&F.cfg[0])) {
		fprintf(stderr, "fuzz_http: provider settings: %s\n", err);
		abort();
	}
	http_parser_set_max_header_size((uint32_t)F.cfg[0].limits.max_header_bytes + 4096);
	F.srv.loop = &F.loop;
	F.srv.cfg = &F.cfg[0];
	store_open();
	F.ready = true;
	atexit(teardown);
}

/* ---- the client's end ---- */

typedef struct peer {
	uv_pipe_t pipe;
	sg__buf out;
	unsigned writes;
	bool eof, closed;
} peer;

static char overflow[65536]; /* output past MAX_OUTPUT is read and dropped */

static void peer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	peer *p = h->data;
	(void)suggested;
	if (p->out.len < MAX_OUTPUT && sg__buf_reserve(&p->out, 65536))
		*buf = uv_buf_init(p->out.p + p->out.len, 65536);
	else
		*buf = uv_buf_init(overflow, sizeof(overflow));
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	peer *p = s->data;
	if (n > 0 && buf->base == overflow)
		p->out.len = MAX_OUTPUT; /* too much to check */
	else if (n > 0)
		p->out.len += (size_t)n;
	else if (n < 0)
		p->eof = true; /* EOF, or a reset: either way the daemon is done */
	if (p->eof)
		uv_read_stop(s);
}

static void peer_written(uv_write_t *w, int status)
{
	peer *p = w->data;
	(void)status;
	p->writes--;
	free(w);
}

static void peer_shut(uv_shutdown_t *s, int status)
{
	(void)status;
	free(s);
}

static void peer_closed(uv_handle_t *h)
{
	((peer *)h->data)->closed = true;
}

static void peer_send(peer *p, const uint8_t *data, size_t len)
{
	uv_write_t *w = malloc(sizeof(*w));
	if (!w)
		abort();
	w->data = p;
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	p->writes++;
	if (uv_write(w, (uv_stream_t *)&p->pipe, &b, 1, peer_written)) {
		p->writes--;
		free(w);
		return;
	}
	while (p->writes && !p->eof)
		uv_run(&F.loop, UV_RUN_ONCE);
	uv_run(&F.loop, UV_RUN_NOWAIT); /* the daemon reads this piece alone */
}

/* ---- checking the answers ---- */

static const char *find(const char *p, const char *end, const char *needle)
{
	return memmem(p, (size_t)(end - p), needle, strlen(needle));
}

/* The value of a header inside [h, end), or NULL. */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen)
{
	size_t n = strlen(name);
	for (const char *line = h; line < end;) {
		const char *eol = find(line, end, "\r\n");
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > n && line[n] == ':' && strncasecmp(line, name, n) == 0) {
			const char *v = line + n + 1;
			while (v < eol && *v == ' ')
				v++;
			*vlen = (size_t)(eol - v);
			return v;
		}
		line = eol + 2;
	}
	return NULL;
}

static void check_body(int status, bool json, const char *body, size_t len, bool token_less,
		       const uint8_t *in, size_t inlen)
{
	if (token_less && status >= 200 && status < 300 && (len < 10 || memcmp(body, "{\"status\":", 10)))
		die("a 2xx answer other than /healthz without the token", in, inlen);
	if (!json)
		return;
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!j)
		die("an application/json answer is not JSON", in, inlen);
	if (status >= 400 && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")))
		die("an error answer without a string \"error\"", in, inlen);
	cJSON_Delete(j);
}

static void check_output(const char *p, size_t len, bool token_less, const uint8_t *in, size_t inlen)
{
	const char *end = p + len;
	while (p < end) {
		if (end - p < 16 || memcmp(p, "HTTP/1.1 ", 9) || p[12] != ' ')
			die("output is not an HTTP/1.1 status line", in, inlen);
		int status = atoi(p + 9);
		if (status < 100 || status > 599)
			die("status out of range", in, inlen);
		const char *hend = find(p, end, "\r\n\r\n");
		if (!hend)
			die("answer head cut off", in, inlen);
		const char *h = find(p, hend + 2, "\r\n") + 2;
		const char *body = hend + 4;
		if (status == 100) {
			p = body;
			continue;
		}
		size_t vl;
		const char *ct = header(h, hend, "Content-Type", &vl);
		bool json = ct && vl >= 16 && !strncasecmp(ct, "application/json", 16);
		const char *te = header(h, hend, "Transfer-Encoding", &vl);
		if (te && vl == 7 && !strncasecmp(te, "chunked", 7)) {
			const char *q = body;
			for (;;) {
				const char *eol = find(q, end, "\r\n");
				if (!eol)
					return; /* a stream cut off: only at the very end */
				char *xend;
				unsigned long n = strtoul(q, &xend, 16);
				if (xend != eol)
					die("bad chunk size line", in, inlen);
				if ((size_t)(end - (eol + 2)) < n + 2)
					return;
				q = eol + 2 + n;
				if (q[0] != '\r' || q[1] != '\n')
					die("chunk not followed by CRLF", in, inlen);
				q += 2;
				if (n == 0)
					break;
			}
			if (token_less && status / 100 == 2)
				die("a streamed 2xx answer without the token", in, inlen);
			p = q;
			continue;
		}
		const char *cl = header(h, hend, "Content-Length", &vl);
		if (!cl)
			die("answer without Content-Length or chunked framing", in, inlen);
		size_t n = strtoul(cl, NULL, 10);
		if ((size_t)(end - body) < n)
			die("answer body cut off", in, inlen);
		bool console = header(h, hend, "Content-Security-Policy", &vl) != NULL;
		check_body(status, json, body, n, token_less && !console, in, inlen);
		p = body + n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > FUZZ_MAX_INPUT + 1)
		return 0;
	if (!F.ready)
		setup();
	if (++F.inputs % RESET_EVERY == 0) {
		store_close();
		store_open();
	}
	uint8_t flags = data[0];
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	bool with_token = flags & 4;
	F.srv.cfg = &F.cfg[with_token];
	bool token_less = with_token && !memmem(in, len, TOKEN, strlen(TOKEN)) &&
			  !memmem(in, len, AUDITOR_TOKEN, strlen(AUDITOR_TOKEN)) &&
			  !memmem(in, len, "/v1/webhooks/", 13);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("fuzz_http: socketpair");
		abort();
	}
	if (sg__http_open_fd(&F.srv, sv[0])) {
		close(sv[0]);
		close(sv[1]);
		die("sg__http_open_fd failed", data, size);
	}
	peer p = {.out = SG__BUF_INIT};
	if (uv_pipe_init(&F.loop, &p.pipe, 0) || uv_pipe_open(&p.pipe, sv[1]))
		abort();
	p.pipe.data = &p;
	uv_read_start((uv_stream_t *)&p.pipe, peer_alloc, peer_read);

	size_t piece = (size_t)(flags >> 4) + 1;
	for (size_t off = 0, n; off < len && !p.eof; off += n) {
		switch (flags & 3) {
		case 0: n = len; break;
		case 1: n = off < 256 ? 1 : len - off; break;
		case 2: {
			const uint8_t *nl = memchr(in + off, '\n', len - off);
			n = nl ? (size_t)(nl - (in + off)) + 1 : len - off;
			break;
		}
		default: n = piece < len - off ? piece : len - off; break;
		}
		peer_send(&p, in + off, n);
	}
	uv_shutdown_t *s = malloc(sizeof(*s));
	if (!s || uv_shutdown(s, (uv_stream_t *)&p.pipe, peer_shut))
		free(s);
	int64_t t0 = sg_now_us();
	while (!p.eof || F.srv.nconns > 0) {
		uv_run(&F.loop, UV_RUN_NOWAIT);
		if (!p.eof || F.srv.nconns > 0)
			uv_run(&F.loop, UV_RUN_ONCE);
		if (sg_now_us() - t0 > 3000000)
			die("connection not closed within 3 s of the client's EOF", data, size);
	}
	uv_close((uv_handle_t *)&p.pipe, peer_closed);
	while (!p.closed)
		uv_run(&F.loop, UV_RUN_ONCE);
	if (getenv("SG_FUZZ_VERBOSE"))
		fprintf(stderr, "---- %zu bytes in, %zu out:\n%.*s\n", len, p.out.len,
			(int)(p.out.len < 4096 ? p.out.len : 4096), p.out.p ? p.out.p : "");
	/* Answers to HEAD have a Content-Length but no body: not checked. */
	if (p.out.len < MAX_OUTPUT && !memmem(in, len, "HEAD", 4))
		check_output(p.out.p ? p.out.p : "", p.out.len, token_less, data, size);
	sg__buf_free(&p.out);
	return 0;
}
