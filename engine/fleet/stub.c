/* SPDX-License-Identifier: Apache-2.0 */
/* A build without libnats: no fleet mode (--replicate is refused). */
#include <errno.h>
#include <stdio.h>

#include "fleet/fleet.h"

bool sg__fleet_available(void)
{
	return false;
}

int sg__fleet_start(uv_loop_t *loop, sg_engine *engine, const sg__config *cfg, sg__fleet **ret, char *err,
		    size_t errlen)
{
	(void)loop, (void)engine, (void)cfg, (void)ret;
	snprintf(err, errlen, "replication: this stopgate was built without libnats (install libnats-dev and rebuild)");
	return -ENOTSUP;
}

int sg__fleet_submit(sg__fleet *f, sg__wjob *job)
{
	(void)f, (void)job;
	return -ENOTSUP;
}

bool sg__fleet_health(sg__fleet *f, sg__buf *b)
{
	(void)f, (void)b;
	return false;
}

void sg__fleet_gate(sg__fleet *f, const char *from, const char *const *to, sg_verdict *v, size_t n)
{
	(void)f, (void)from, (void)to, (void)v, (void)n;
}

void sg__fleet_metrics(sg__fleet *f, sg__buf *b)
{
	(void)f, (void)b;
}

void sg__fleet_stop(sg__fleet *f, void (*cb)(void *arg), void *arg)
{
	(void)f;
	if (cb)
		cb(arg);
}
