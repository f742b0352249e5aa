/* SPDX-License-Identifier: Apache-2.0 */
/* Accepting connections, and running out of file descriptors. See http.h.
 *
 * Every loop polls its listening socket (uv_poll_t) and accepts by hand
 * rather than through uv_listen: libuv sheds connections it cannot accept
 * (EMFILE) with one reserve descriptor per loop, and when several loops
 * race for the descriptor one of them freed, the loser retries accept()
 * inside libuv without end (100 % CPU, millions of log lines). Here:
 *
 * - The connection limit is kept below the descriptor limit
 *   (sg__http_fd_allowance, at start), so a client beyond it gets the
 *   limit's 503 while descriptors remain.
 * - If the process runs out anyway (descriptors taken by something else,
 *   the limit lowered at run time), the loop that meets EMFILE/ENFILE
 *   sheds what waits in its accept queue with the process's one reserve
 *   descriptor, under a mutex that every loop's accept() takes too, so
 *   that no loop takes the slot another one freed: each waiting connection is accepted into the freed slot, gets the
 *   503 and is closed. When that cannot empty the queue (the slot was
 *   taken meanwhile, or the system is out), the loop stops polling the
 *   socket for ACCEPT_PAUSE_MS and tries again: waiting clients stay in
 *   the kernel's queue, the loop does not spin.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "internal.h"

#define ACCEPT_BATCH 64     /* accepts per wake-up: reads of other connections wait no longer */
#define SHED_BATCH 1024     /* connections shed per wake-up at most */
#define ACCEPT_PAUSE_MS 100 /* out of descriptors and nothing shed: poll again after this */
#define FD_HEADROOM 32      /* descriptors kept beyond the count at start (fleet, files, streams) */
#define FD_PER_LOOP 5       /* epoll, async eventfd, libuv's reserve, listener, one being refused */

static uv_once_t reserve_once = UV_ONCE_INIT;
static uv_mutex_t reserve_mu;
static int reserve_fd = -1; /* under reserve_mu */

static void reserve_init(void)
{
	if (uv_mutex_init(&reserve_mu))
		abort();
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

const char sg__refuse_503[] =
	"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: 69\r\n\r\n"
	"{\"error\":\"too_many_connections\",\"detail\":\"connection limit reached\"}\n";

void sg__http_refuse_fd(sg__server *srv, int fd)
{
	/* best effort: a fresh socket's buffer takes it whole or not at all */
	ssize_t n = send(fd, sg__refuse_503, sizeof(sg__refuse_503) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)n;
	close(fd);
	SG__MINC(srv->metrics.connections_refused);
}

/* ---- running out ---- */

static void on_pause_end(uv_timer_t *t)
{
	sg__server *srv = t->data;
	srv->accept_paused = false;
	uv_once(&reserve_once, reserve_init);
	uv_mutex_lock(&reserve_mu);
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	uv_mutex_unlock(&reserve_mu);
	if (srv->listening && !srv->draining)
		uv_poll_start(&srv->listener, UV_READABLE, sg__http_on_listen);
}

static void pause_accepting(sg__server *srv)
{
	if (srv->accept_paused)
		return;
	srv->accept_paused = true;
	uv_poll_stop(&srv->listener);
	uv_timer_start(&srv->accept_pause, on_pause_end, ACCEPT_PAUSE_MS, 0);
}

/* Out of descriptors: accept what waits into the reserve's slot, refuse
 * it, until the queue is empty. True when it is. */
static bool shed(sg__server *srv, unsigned *count)
{
	bool emptied = false;
	uv_once(&reserve_once, reserve_init);
	uv_mutex_lock(&reserve_mu);
	if (reserve_fd >= 0) {
		close(reserve_fd);
		reserve_fd = -1;
		while (*count < SHED_BATCH) {
			int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				sg__http_refuse_fd(srv, fd);
				++*count;
			} else if (errno != EINTR && errno != ECONNABORTED) {
				emptied = errno == EAGAIN || errno == EWOULDBLOCK;
				break;
			}
		}
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (reserve_fd < 0)
			emptied = false; /* taken meanwhile: pause, take it back then */
	}
	uv_mutex_unlock(&reserve_mu);
	return emptied;
}

static void out_of_descriptors(sg__server *srv, int err)
{
	unsigned shed_n = 0;
	bool emptied = err == EMFILE || err == ENFILE ? shed(srv, &shed_n) : false;
	if (emptied)
		sg__log_limited(SG_LOG_WARN, "http", "http:accept",
				"accept failed error=%s loop=%u refused=%u action=\"refused what waited\"",
				uv_strerror(-err), srv->index, shed_n);
	else
		sg__log_limited(SG_LOG_WARN, "http", "http:accept",
				"accept failed error=%s loop=%u refused=%u action=\"paused %d ms\"", uv_strerror(-err),
				srv->index, shed_n, ACCEPT_PAUSE_MS);
	if (!emptied)
		pause_accepting(srv);
}

/* ---- accepting ---- */

void sg__http_on_listen(uv_poll_t *p, int status, int events)
{
	sg__server *srv = p->data;
	(void)events;
	if (status < 0) {
		sg__log_limited(SG_LOG_WARN, "http", "http:accept", "accept failed error=%s loop=%u",
				uv_strerror(status), srv->index);
		pause_accepting(srv);
		return;
	}
	for (unsigned i = 0; i < ACCEPT_BATCH && srv->listening && !srv->draining && !srv->accept_paused; i++) {
		struct sockaddr_storage ss;
		socklen_t slen = sizeof(ss);
		/* under the reserve's lock: no loop takes the slot another one
		 * freed to shed (one uncontended lock per connection) */
		uv_mutex_lock(&reserve_mu);
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int e = errno;
		uv_mutex_unlock(&reserve_mu);
		if (fd >= 0) {
			sg__conn_accepted(srv, fd, &ss);
			continue;
		}
		if (e == EAGAIN || e == EWOULDBLOCK)
			return;
		if (e == EINTR || e == ECONNABORTED || e == EPROTO)
			continue; /* that one is gone; the next may be there */
		if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
			out_of_descriptors(srv, e);
			return;
		}
		sg__log_limited(SG_LOG_WARN, "http", "http:accept", "accept failed error=%s loop=%u",
				uv_strerror(-e), srv->index);
		pause_accepting(srv);
		return;
	}
}

int sg__http_accept_on(sg__server *srv, uv_os_sock_t fd)
{
	uv_once(&reserve_once, reserve_init); /* while descriptors remain */
	int rc = uv_timer_init(srv->loop, &srv->accept_pause);
	if (rc) {
		close(fd);
		return rc;
	}
	srv->accept_pause.data = srv;
	rc = uv_poll_init_socket(srv->loop, &srv->listener, fd);
	if (rc) {
		close(fd);
		uv_close((uv_handle_t *)&srv->accept_pause, NULL);
		return rc;
	}
	srv->listen_fd = fd;
	srv->listening = true;
	srv->accept_paused = false;
	srv->listener.data = srv;
	rc = uv_poll_start(&srv->listener, UV_READABLE, sg__http_on_listen);
	if (rc)
		sg__http_unlisten(srv);
	return rc;
}

void sg__http_unlisten(sg__server *srv)
{
	if (!srv->listening)
		return;
	srv->listening = false;
	uv_close((uv_handle_t *)&srv->listener, NULL); /* out of epoll now: the descriptor may go */
	uv_close((uv_handle_t *)&srv->accept_pause, NULL);
	close(srv->listen_fd);
	srv->listen_fd = -1;
}

/* ---- the connection limit against the descriptor limit ---- */

static unsigned open_descriptors(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		return n ? n - 1 : 0; /* not the directory's own */
	}
	struct rlimit rl;
	unsigned top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (unsigned)rl.rlim_cur : 65536;
	for (unsigned fd = 0; fd < top; fd++)
		if (fcntl((int)fd, F_GETFD) >= 0)
			n++;
	return n;
}

unsigned sg__http_fd_allowance(unsigned nloops, unsigned long *nofile, unsigned *in_use)
{
	struct rlimit rl;
	*in_use = open_descriptors();
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > UINT32_MAX) {
		*nofile = 0;
		return UINT32_MAX;
	}
	*nofile = (unsigned long)rl.rlim_cur;
	unsigned long keep = (unsigned long)*in_use + FD_HEADROOM + (unsigned long)FD_PER_LOOP * (nloops + 1);
	return rl.rlim_cur > keep ? (unsigned)(rl.rlim_cur - keep) : 0;
}
