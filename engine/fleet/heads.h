/* SPDX-License-Identifier: Apache-2.0 */
/* Chain heads of the fleet's nodes in a JetStream key-value bucket
 * (STREAM_HEADS, one key per node: "EVENTS HEX", the node's last event and
 * its hash). A node compares every other node's head with the hash of the
 * same event in its own log: a difference means one of them did not apply
 * the stream as the others did, and both fail closed (docs/fleet.md). */
#pragma once
#include <nats/nats.h>
#include <stddef.h>
#include "stopgate.h"

typedef struct sg__heads sg__heads;

/* Bind to the bucket, creating it when absent. */
int sg__heads_open(jsCtx *js, const char *stream, unsigned replicas, sg__heads **ret);
/* Publish this node's head and compare the others'. Returns 0, 1 (a head
 * differs: why says which node and event), or a negative error (the
 * bucket did not answer: nothing compared). */
int sg__heads_tick(sg__heads *h, sg_engine *engine, const char *node, char *why, size_t len);
void sg__heads_close(sg__heads *h);
