/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LD_PRELOAD crash shim for the crash-at-every-step tests: SIGKILLs the
 * process right before or right after the Nth call of one of the calls that
 * change files (rename, pwrite, msync, fsync, ...), as chosen by
 *   SG_CRASH_CALL=name  SG_CRASH_N=n  SG_CRASH_WHEN=before|after
 * With SG_CRASH_TRACE=path every intercepted call appends its name and a
 * newline to path, so a test can list every step of a run and then kill a
 * run at each of them.
 * Narrowing it down (the fleet's crash points, test_fleet.py):
 *   SG_CRASH_PATH=sub   only calls on a file descriptor whose path contains
 *                       sub count (calls without one never do);
 *   SG_CRASH_ARM=file   only calls made while file exists count;
 *   SG_CRASH_STALL=file instead of the SIGKILL, create file and wait there
 *                       for good (the test looks at the process, then kills
 *                       it: a crash at that very point).
 */
/* Both pwrite and pwrite64 are wrapped: keep their own prototypes. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static atomic_uint calls;
static int trace_fd = -2;

/* Write with the system call itself: write() is intercepted too. */
static void trace(const char *name)
{
	if (trace_fd == -2) {
		const char *path = getenv("SG_CRASH_TRACE");
		trace_fd = path && path[0] ? (int)syscall(SYS_open, path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
	}
	if (trace_fd < 0)
		return;
	char line[64];
	int n = snprintf(line, sizeof(line), "%s\n", name);
	syscall(SYS_write, trace_fd, line, (size_t)n);
}

/* SG_CRASH_PATH and SG_CRASH_ARM: may this call (on fd, -1: none) count? */
static bool eligible(int fd)
{
	const char *sub = getenv("SG_CRASH_PATH"), *arm = getenv("SG_CRASH_ARM");
	if (sub && sub[0]) {
		char link[64], path[4096];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = fd < 0 ? -1 : readlink(link, path, sizeof(path) - 1);
		if (n <= 0)
			return false;
		path[n] = '\0';
		if (!strstr(path, sub))
			return false;
	}
	struct stat st;
	return !(arm && arm[0]) || stat(arm, &st) == 0;
}

/* Is this call the chosen one? */
static bool chosen(const char *name, const char *when)
{
	const char *call = getenv("SG_CRASH_CALL"), *w = getenv("SG_CRASH_WHEN"), *n = getenv("SG_CRASH_N");
	if (!call || strcmp(call, name) || !n)
		return false;
	if (strcmp(w && w[0] ? w : "after", when))
		return false;
	return atomic_load(&calls) == strtoul(n, NULL, 10);
}

static void crash(void)
{
	const char *stall = getenv("SG_CRASH_STALL");
	if (stall && stall[0]) {
		int fd = (int)syscall(SYS_open, stall, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			syscall(SYS_close, fd);
		for (;;)
			pause(); /* this thread, until the test kills the process */
	}
	syscall(SYS_kill, getpid(), SIGKILL);
}

static void step(const char *name, const char *when, int fd)
{
	const char *call = getenv("SG_CRASH_CALL");
	bool mine = call && !strcmp(call, name) && eligible(fd);
	if (!strcmp(when, "before")) {
		if (mine)
			atomic_fetch_add(&calls, 1);
		trace(name);
	}
	if (mine && chosen(name, when))
		crash();
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

/* FD: the call's file descriptor, -1 when it has none */
#define WRAP(ret, name, params, args, FD)              \
	ret name params                                \
	{                                              \
		static __typeof__(&name) real;         \
		if (!real)                             \
			real = REAL(name);             \
		step(#name, "before", FD);             \
		ret r = real args;                     \
		step(#name, "after", FD);              \
		return r;                              \
	}

WRAP(int, rename, (const char *a, const char *b), (a, b), -1)
WRAP(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off), fd)
WRAP(ssize_t, pwrite64, (int fd, const void *buf, size_t n, off64_t off), (fd, buf, n, off), fd)
WRAP(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n), fd)
WRAP(ssize_t, writev, (int fd, const struct iovec *iov, int n), (fd, iov, n), fd)
WRAP(int, fsync, (int fd), (fd), fd)
WRAP(int, fdatasync, (int fd), (fd), fd)
WRAP(int, ftruncate, (int fd, off_t len), (fd, len), fd)
WRAP(int, msync, (void *p, size_t n, int flags), (p, n, flags), -1)
WRAP(int, posix_fallocate, (int fd, off_t off, off_t len), (fd, off, len), fd)
WRAP(int, posix_fallocate64, (int fd, off64_t off, off64_t len), (fd, off, len), fd)
WRAP(int, fallocate, (int fd, int mode, off_t off, off_t len), (fd, mode, off, len), fd)
WRAP(int, fallocate64, (int fd, int mode, off64_t off, off64_t len), (fd, mode, off, len), fd)
