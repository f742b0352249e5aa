/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, method "check": sg_check in process (1 and 2 threads share
 * one engine) and from a forked read-only second process with its own
 * SG_OPEN_RDONLY engine.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static inline int op_check(void *vc, const query *q)
{
	check_ctx *c = vc;
	sg_verdict v;
	int rc = sg_check(c->e, q->from, q->to, SG_PURPOSE_MESSAGE, &v);
	if (rc)
		bench_die("sg_check: %s", sg_strerror(rc));
	return !v.allow;
}

RUNNERS(check, op_check)

/* ---- the read-only second process ---- */

meas ro_process(void)
{
	int fds[2];
	if (pipe(fds))
		bench_die("pipe");
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		close(fds[0]);
		sg_engine *e = open_engine(true);
		check_ctx cc = {e};
		void *ctxs[1] = {&cc};
		meas m = measure(check_run, ctxs, 1, pool, pool_n, opt.round_q, opt.rounds);
		measure_calls(&m, check_timed, &cc, pool, opt.round_q);
		sg_engine_close(e);
		ssize_t w = write(fds[1], &m, sizeof(m));
		_exit(w == (ssize_t)sizeof(m) ? 0 : 1);
	}
	close(fds[1]);
	meas m = {0};
	ssize_t r = read(fds[0], &m, sizeof(m));
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	if (r != (ssize_t)sizeof(m) || !WIFEXITED(status) || WEXITSTATUS(status))
		bench_die("the read-only process failed");
	return m;
}
