/* SPDX-License-Identifier: Apache-2.0 */
/* The listening socket, listen addresses, draining and closing every
 * connection at shutdown. See http.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_internal.h"
#include "internal.h"

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

bool sg__addr_valid(const char *addr)
{
	struct sockaddr_storage ss;
	return parse_addr(addr, &ss) == 0;
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

/* A socket bound to ss, SO_REUSEADDR as libuv sets it, and SO_REUSEPORT
 * when asked. */
static int bind_one(const struct sockaddr_storage *ss, bool reuseport, uv_os_sock_t *ret)
{
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int on = 1;
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on))) ||
	    bind(fd, (const struct sockaddr *)ss, len)) {
		int e = -errno;
		close(fd);
		return e;
	}
	*ret = fd;
	return 0;
}

int sg__http_listen(sg__server *srv, const char *addr)
{
	struct sockaddr_storage ss;
	if (parse_addr(addr, &ss))
		return UV_EINVAL;
	uv_os_sock_t fd;
	int rc = bind_one(&ss, false, &fd);
	if (rc)
		return rc;
	if (listen(fd, LISTEN_BACKLOG)) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return sg__http_accept_on(srv, fd); /* closes fd on failure */
}

int sg__http_bind_reuseport(const char *addr, unsigned n, uv_os_sock_t *fds, int *port)
{
	struct sockaddr_storage ss;
	if (parse_addr(addr, &ss))
		return UV_EINVAL;
	/* A probe without SO_REUSEPORT first: a port someone else listens on
	 * (even another stopgate, which sets SO_REUSEPORT too) is refused as
	 * before, and port 0 picks the port every loop then shares. */
	uv_os_sock_t probe;
	int rc = bind_one(&ss, false, &probe);
	if (rc)
		return rc;
	struct sockaddr_storage got;
	socklen_t glen = sizeof(got);
	if (getsockname(probe, (struct sockaddr *)&got, &glen)) {
		rc = -errno;
		close(probe);
		return rc;
	}
	close(probe);
	in_port_t p = got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
						: ((struct sockaddr_in *)&got)->sin_port;
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = p;
	else
		((struct sockaddr_in *)&ss)->sin_port = p;
	*port = ntohs(p);
	for (unsigned i = 0; i < n; i++) {
		rc = bind_one(&ss, true, &fds[i]);
		if (rc) {
			while (i--)
				close(fds[i]);
			return rc;
		}
	}
	return 0;
}

int sg__http_bound_port(sg__server *srv)
{
	if (srv->loops)
		return sg__loops_port(srv->loops);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (!srv->listening || getsockname(srv->listen_fd, (struct sockaddr *)&ss, &len))
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Bytes from the peer waiting in the socket? */
static bool input_pending(sg__conn *c)
{
	uv_os_fd_t fd;
	char b;
	if (uv_fileno((const uv_handle_t *)&c->tcp, &fd))
		return false;
	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

void sg__http_drain(sg__server *srv)
{
	srv->draining = true;
	sg__http_unlisten(srv);
	/* Idle connections go now; busy ones after their last answer. */
	sg__conn *c = srv->conns;
	while (c) {
		sg__conn *next = c->next;
		if (!c->closing && !c->lingering) {
			bool idle = c->nreqs == 0 && !c->cur && c->writes == 0;
			/* An idle connection with input waiting holds a request that
			 * arrived before the signal but is not read yet (with several
			 * loops the drain can come first): it is read and answered
			 * with Connection: close, then the connection goes. */
			if (idle && !input_pending(c)) {
				sg__conn_close(c);
			} else if (!idle && !c->cur) {
				c->stop_input = true;
				c->close_after = true;
				sg__conn_stop_reading(c);
				sg__conn_flush(c);
				sg__conn_after_io(c);
			}
		}
		c = next;
	}
	if (srv->nconns == 0)
		sg__http_drained(srv);
}

void sg__http_drained(sg__server *srv)
{
	sg__http_sweep_close(srv);
	if (srv->on_drained)
		srv->on_drained(srv);
}

void sg__http_close_all(sg__server *srv)
{
	for (sg__conn *c = srv->conns; c; c = c->next)
		sg__conn_close(c);
}
