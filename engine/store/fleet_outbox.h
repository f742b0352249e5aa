/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node's local durable outbox: every stream message it is about to
 * publish is written here first (one synced LMDB transaction per group), so
 * a request acknowledged after its PubAck survives the servers losing
 * unsynced data, and a message whose PubAck never came is published again
 * after a restart. A small LMDB environment of its own (DATA/fleet-outbox),
 * outside the consent store: the store stays a pure view of the stream. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct sg__outbox sg__outbox;

typedef struct sg__outbox_row {
	uint64_t id;          /* set by put: never reused (a persistent counter) */
	const char *subject;
	const char *msg_id;   /* "" : put sets "NODE:o<id>" into own_id */
	const uint8_t *data;
	size_t len;
	char own_id[96];
} sg__outbox_row;

int sg__outbox_open(const char *data_dir, sg__outbox **ret);
void sg__outbox_close(sg__outbox *ob);
/* Store n rows durably (one fsync); ids assigned. */
int sg__outbox_put(sg__outbox *ob, const char *node, sg__outbox_row *rows, size_t n);
int sg__outbox_del(sg__outbox *ob, const uint64_t *ids, size_t n);
/* Every stored row, oldest first; pointers valid inside cb only. */
int sg__outbox_foreach(sg__outbox *ob, int (*cb)(const sg__outbox_row *row, void *ctx), void *ctx);
