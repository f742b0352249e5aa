/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP loops (httpThreads > 1): one event loop per thread, each
 * accepting on its own socket bound to the listen address with
 * SO_REUSEPORT, so the kernel spreads connections over them. See http.h.
 *
 * What runs where: a loop parses its connections' requests, applies every
 * limit and timeout, and answers GET/POST /v1/check itself (sg_check is a
 * lock-free LMDB read; the engine is shared by threads, stopgate.h). Every
 * other request, and a check that claims or needs the stream, is handed to
 * the main loop, where the handlers, the writer's answers (group commit),
 * the fleet and the daemon's timers live, exactly as with one loop. The
 * answer, built there, comes back to the request's own loop, which writes
 * it in order with the connection's other answers.
 *
 * Ownership: a worker's sg__server, connections and requests are its
 * thread's. A handed-off request is the main loop's from the moment it is
 * queued until its answer queues it back; meanwhile its own loop reads
 * nothing of it but its own `away` flag, and marks it `dead` when the
 * connection goes (the answer is then dropped). The two queues are under
 * one mutex; a uv_async wakes the other side.
 *
 * Shutdown: sg__loops_drain asks every worker to drain (as sg__http_drain:
 * stop accepting, finish what is in flight). A connection is freed only
 * once every request it handed over came back, so when a worker's last
 * connection is gone nothing of it is away: it closes its handles, its
 * loop ends, it reports, and once all did the main loop joins the threads
 * and goes on (the writer commits what is queued, as before).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_internal.h"
#include "internal.h"

#define DEFAULT_MAX_THREADS 16

typedef struct worker {
	sg__server srv; /* first member: callbacks get the worker from its server */
	sg__loops *g;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t async; /* answers back from the main loop, commands */
	uv_os_sock_t fd;
	uv_sem_t started, go;
	int start_rc;
	bool go_ok;
	/* under g->mu */
	sg__req *back_head, *back_tail;
	bool cmd_drain, cmd_close_all;
	bool gone; /* its async is closed: nothing may be sent to it (libuv aborts) */
} worker;

struct sg__loops {
	sg__server *main;
	unsigned n;
	worker *w;
	int port;
	unsigned conns;   /* every loop's open connections (atomic) */
	uv_async_t async; /* main loop: hand-offs, ended workers */
	uv_mutex_t mu;
	/* under mu */
	sg__req *in_head, *in_tail;
	unsigned ended;
	/* main loop only */
	bool draining, reported;
	void (*on_drained)(sg__server *main);
};

unsigned sg__http_threads(unsigned configured)
{
	if (configured)
		return configured;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > DEFAULT_MAX_THREADS ? DEFAULT_MAX_THREADS : (unsigned)n;
}

int sg__loops_port(const sg__loops *g)
{
	return g->port;
}

/* ---- the worker's side ---- */

static void back_home(sg__req *r)
{
	sg__conn *c = r->conn;
	r->away = false;
	r->srv = c->srv;
	c->refs--; /* the hold taken when it was dispatched */
	if (r->dead) {
		sg__req_free(r);
		sg__conn_after_io(c);
		return;
	}
	sg__conn_flush(c);
	sg__conn_after_io(c);
}

static void worker_drained(sg__server *srv)
{
	worker *w = (worker *)srv;
	srv->on_drained = NULL;
	uv_mutex_lock(&w->g->mu);
	w->gone = true;
	uv_mutex_unlock(&w->g->mu);
	uv_close((uv_handle_t *)&w->async, NULL); /* the last handle: the loop ends */
}

static void worker_async(uv_async_t *a)
{
	worker *w = a->data;
	sg__loops *g = w->g;
	uv_mutex_lock(&g->mu);
	sg__req *list = w->back_head;
	w->back_head = w->back_tail = NULL;
	bool drain = w->cmd_drain, close_all = w->cmd_close_all;
	w->cmd_drain = w->cmd_close_all = false;
	uv_mutex_unlock(&g->mu);
	while (list) {
		sg__req *r = list;
		list = r->hand_next;
		r->hand_next = NULL;
		back_home(r);
	}
	if (close_all)
		sg__http_close_all(&w->srv);
	if (drain && !w->srv.draining)
		sg__http_drain(&w->srv); /* may end the loop (worker_drained) */
}

static void walk_open_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	sg__err("http", "handle left open type=%s", uv_handle_type_name(uv_handle_get_type(h)));
}

static void worker_main(void *arg)
{
	worker *w = arg;
	sg__server *srv = &w->srv;
	int rc = uv_loop_init(&w->loop);
	if (rc) {
		close(w->fd);
		w->start_rc = rc;
		uv_sem_post(&w->started);
		return;
	}
	srv->loop = &w->loop;
	w->async.data = w;
	rc = uv_async_init(&w->loop, &w->async, worker_async);
	bool async_open = rc == 0;
	if (!rc)
		rc = sg__http_accept_on(srv, w->fd); /* closes it on failure */
	else
		close(w->fd);
	w->start_rc = rc;
	uv_sem_post(&w->started);
	uv_sem_wait(&w->go);
	if (rc || !w->go_ok) {
		sg__http_unlisten(srv);
		if (async_open)
			uv_close((uv_handle_t *)&w->async, NULL);
		uv_run(&w->loop, UV_RUN_DEFAULT);
		uv_loop_close(&w->loop);
		return;
	}
	uv_run(&w->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&w->loop)) {
		uv_walk(&w->loop, walk_open_handle, NULL);
		sg__err("http", "an HTTP loop did not close cleanly loop=%u", srv->index);
	}
	sg__loops *g = w->g;
	uv_mutex_lock(&g->mu);
	g->ended++;
	uv_mutex_unlock(&g->mu);
	uv_async_send(&g->async);
}

/* ---- the main loop's side ---- */

static void loops_free(uv_handle_t *h)
{
	sg__loops *g = h->data;
	for (unsigned i = 0; i < g->n; i++) {
		uv_sem_destroy(&g->w[i].started);
		uv_sem_destroy(&g->w[i].go);
	}
	uv_mutex_destroy(&g->mu);
	free(g->w);
	free(g);
}

static void main_async(uv_async_t *a)
{
	sg__loops *g = a->data;
	uv_mutex_lock(&g->mu);
	sg__req *list = g->in_head;
	g->in_head = g->in_tail = NULL;
	unsigned ended = g->ended;
	uv_mutex_unlock(&g->mu);
	while (list) {
		sg__req *r = list;
		list = r->hand_next;
		r->hand_next = NULL;
		r->srv = g->main; /* its handler's engine, writer, metrics and loop */
		r->hand_fn(r);
	}
	if (g->draining && !g->reported && ended == g->n) {
		g->reported = true;
		for (unsigned i = 0; i < g->n; i++)
			uv_thread_join(&g->w[i].thread);
		sg__server *main = g->main;
		main->loops = NULL;
		main->conn_total = NULL;
		void (*cb)(sg__server *) = g->on_drained;
		uv_close((uv_handle_t *)&g->async, loops_free);
		if (cb)
			cb(main);
	}
}

void sg__req_came_back(sg__req *r)
{
	worker *w = (worker *)r->conn->srv;
	sg__loops *g = w->g;
	r->hand_next = NULL;
	uv_mutex_lock(&g->mu);
	if (w->back_tail)
		w->back_tail->hand_next = r;
	else
		w->back_head = r;
	w->back_tail = r;
	uv_mutex_unlock(&g->mu);
	uv_async_send(&w->async);
}

void sg__req_handoff(sg__req *req, void (*fn)(sg__req *req))
{
	sg__server *srv = req->srv;
	if (sg__req_on_main(req)) {
		fn(req);
		return;
	}
	sg__loops *g = srv->loops;
	req->away = true;
	req->hand_fn = fn;
	req->hand_next = NULL;
	uv_mutex_lock(&g->mu);
	if (g->in_tail)
		g->in_tail->hand_next = req;
	else
		g->in_head = req;
	g->in_tail = req;
	uv_mutex_unlock(&g->mu);
	uv_async_send(&g->async);
}

/* Tell every worker still running something, and wake it (under the
 * mutex, so that it cannot be gone in between). */
static void command(sg__loops *g, bool drain, bool close_all)
{
	for (unsigned i = 0; i < g->n; i++) {
		worker *w = &g->w[i];
		uv_mutex_lock(&g->mu);
		if (!w->gone) {
			w->cmd_drain |= drain;
			w->cmd_close_all |= close_all;
			uv_async_send(&w->async);
		}
		uv_mutex_unlock(&g->mu);
	}
}

void sg__loops_drain(sg__server *main, void (*on_drained)(sg__server *main))
{
	sg__loops *g = main->loops;
	if (g->draining)
		return;
	g->draining = true;
	g->on_drained = on_drained;
	command(g, true, false);
}

void sg__loops_close_all(sg__server *main)
{
	if (main->loops)
		command(main->loops, false, true);
}

int sg__loops_start(sg__server *main, unsigned n, const char *addr)
{
	sg__loops *g = calloc(1, sizeof(*g));
	worker *w = calloc(n, sizeof(*w));
	uv_os_sock_t *fds = calloc(n, sizeof(*fds));
	int rc = g && w && fds ? 0 : UV_ENOMEM;
	if (!rc)
		rc = sg__http_bind_reuseport(addr, n, fds, &g->port);
	if (!rc) {
		for (unsigned i = 0; i < n; i++) {
			if (listen(fds[i], LISTEN_BACKLOG)) {
				rc = -errno;
				break;
			}
		}
		if (rc)
			for (unsigned i = 0; i < n; i++)
				close(fds[i]);
	}
	if (!rc && (rc = uv_mutex_init(&g->mu)) != 0)
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
	if (!rc) {
		g->async.data = g;
		if ((rc = uv_async_init(main->loop, &g->async, main_async)) != 0) {
			uv_mutex_destroy(&g->mu);
			for (unsigned i = 0; i < n; i++)
				close(fds[i]);
		}
	}
	if (rc) {
		free(fds);
		free(w);
		free(g);
		return rc;
	}
	g->main = main;
	g->n = n;
	g->w = w;
	for (unsigned i = 0; i < n; i++) {
		worker *k = &w[i];
		k->g = g;
		k->fd = fds[i];
		uv_sem_init(&k->started, 0);
		uv_sem_init(&k->go, 0);
		sg__server *s = &k->srv;
		s->main = main;
		s->loops = g;
		s->index = i;
		s->conn_total = &g->conns;
		s->engine = main->engine;
		s->cfg = main->cfg;
		s->writer = main->writer;
		s->on_drained = worker_drained;
	}
	unsigned made = 0;
	for (unsigned i = 0; i < n && !rc; i++) {
		rc = uv_thread_create(&w[i].thread, worker_main, &w[i]);
		if (rc) {
			for (unsigned j = i; j < n; j++)
				close(fds[j]);
			break;
		}
		made++;
		uv_sem_wait(&w[i].started);
		rc = w[i].start_rc;
		if (rc)
			for (unsigned j = i + 1; j < n; j++)
				close(fds[j]);
	}
	free(fds);
	/* every loop is ready before any runs: on a failure none has served
	 * anything, and each closes its handles and ends without reporting */
	for (unsigned i = 0; i < made; i++) {
		w[i].go_ok = rc == 0;
		uv_sem_post(&w[i].go);
	}
	if (!rc) {
		main->loops = g;
		main->conn_total = &g->conns;
		return 0;
	}
	for (unsigned i = 0; i < made; i++)
		uv_thread_join(&w[i].thread);
	uv_close((uv_handle_t *)&g->async, loops_free);
	return rc;
}

void sg__http_metrics(sg__server *main, sg__metrics *sum)
{
	memset(sum, 0, sizeof(*sum));
	sg__metrics_add(sum, &main->metrics);
	sg__loops *g = main->loops;
	for (unsigned i = 0; g && i < g->n; i++)
		sg__metrics_add(sum, &g->w[i].srv.metrics);
}
