/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node (docs/fleet.md): writes go through one NATS JetStream
 * stream, and every node applies the stream in order into its store.
 *
 * Write path (sg__fleet_submit, loop thread -> publisher thread): the
 * job's decided events get their time, are encoded as one stream message
 * with an outbox id, published with Nats-Msg-Id = the de-dup key and, at
 * the same time, written to the outbox (durable.c: one transaction per
 * group); the job is finished once the PubAck came, this node's applier
 * has applied that stream sequence and the outbox row is durable, with the
 * applied result as its out[] (a duplicate PubAck: the original message's
 * result, marked duplicate). No PubAck in time: status -EAGAIN (503 +
 * Retry-After); the row stays in the outbox and is published again. The
 * crash points: durable.c, docs/fleet.md.
 * Groups are pipelined; a message waits while an earlier one of this node
 * for one of its recipients is unacknowledged (publish.c).
 *
 * Apply path (applier thread): an ordered consumer from the store's own
 * stream position + 1, each batch applied with sg_record_logged(); an
 * opt-out delivered and not yet applied denies at once (sg__fleet_gate). */
#pragma once
#include <stdbool.h>
#include <uv.h>
#include "buf.h"
#include "config/config.h"
#include "daemon/writer.h"
#include "stopgate.h"

typedef struct sg__fleet sg__fleet;

/* Connect, create the stream when absent, republish the outbox, start the
 * threads. On failure err names the setting and the problem. */
int sg__fleet_start(uv_loop_t *loop, sg_engine *engine, const sg__config *cfg, sg__fleet **ret, char *err,
		    size_t errlen);
/* An event job (run == NULL), as for sg__writer_submit: done runs on the
 * loop thread. -EAGAIN: queue full; -ESHUTDOWN: stopping. */
int sg__fleet_submit(sg__fleet *f, sg__wjob *job);
/* The /healthz "replication" object (without a leading comma); false when
 * this node should not be used (the applier stopped on an error). */
bool sg__fleet_health(sg__fleet *f, sg__buf *b);
/* A check on a fleet node that has not heard from the stream for
 * maxStaleMs denies stale_replica; one whose store stopped following the
 * stream, or diverged, denies replica_diverged. Applied to n verdicts (an
 * existing deny other than check_failed / invalid_number keeps its reason).
 * An allowed to[i] with an opt-out delivered by the stream and not yet
 * applied here denies opted_out (the check's raw from and to[]). */
void sg__fleet_gate(sg__fleet *f, const char *from, const char *const *to, sg_verdict *v, size_t n);
/* The fleet's lines of GET /metrics (Prometheus text). */
void sg__fleet_metrics(sg__fleet *f, sg__buf *b);
/* Finish queued jobs (failed with -ESHUTDOWN if unpublished), stop the
 * threads, close; cb(arg) runs on the loop once the handle is closed. */
void sg__fleet_stop(sg__fleet *f, void (*cb)(void *arg), void *arg);
/* Whether this binary was built with fleet support (libnats). */
bool sg__fleet_available(void);
