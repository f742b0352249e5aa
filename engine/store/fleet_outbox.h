/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node's local durable outbox: every stream message it publishes
 * is written here too, so a request acknowledged after its PubAck survives
 * the servers losing unsynced data (rows are kept outboxKeepMs past their
 * PubAck), and a message whose PubAck never came is published again after
 * a restart. A small LMDB environment of its own (DATA/fleet-outbox),
 * outside the consent store: the store stays a pure view of the stream.
 *
 * The writer (engine/fleet/durable.c) writes in parallel with the publish:
 * a message may be in the stream before its row is durable, and a node may
 * crash in between. Its id must then never be handed out again (the
 * stream's de-duplication would take a later message with the same
 * Nats-Msg-Id "NODE:o<id>" for this one): ids come from a reservation that
 * is on disk before any id of it is handed out, and a reopened outbox
 * starts above every id reserved before. */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct sg__outbox sg__outbox;

typedef struct sg__outbox_row {
	uint64_t id;
	const char *subject;
	const char *msg_id;
	const uint8_t *data;
	size_t len;
} sg__outbox_row;

/* Ids handed out per synced reservation (a restart skips what is left). */
#define SG__OUTBOX_RESERVE 65536u

/* Open (created when absent) and reserve ids above every earlier one (one
 * synced transaction). */
int sg__outbox_open(const char *data_dir, sg__outbox **ret);
void sg__outbox_close(sg__outbox *ob);
/* n new ids, *first .. *first + n - 1, each above every id handed out
 * before, in this run or an earlier one; a synced transaction when the
 * reservation runs out. One thread at a time. */
int sg__outbox_ids(sg__outbox *ob, size_t n, uint64_t *first);
/* The Nats-Msg-Id of a message without a de-dup key: "NODE:o<id>". */
void sg__outbox_own_id(const char *node, uint64_t id, char *buf, size_t len);
/* Store n rows (ids from sg__outbox_ids, ascending, none stored before)
 * and delete the rows del[0..ndel) (absent ones are no error) in one
 * transaction. Its data are synced, its meta page not: the rows are
 * durable once a LATER sg__outbox_put or sg__outbox_sync has returned 0
 * (LMDB's MDB_NOMETASYNC: one flush per group under load, not two). */
int sg__outbox_put(sg__outbox *ob, const sg__outbox_row *rows, size_t n, const uint64_t *del, size_t ndel);
/* Make every put that has returned durable. */
int sg__outbox_sync(sg__outbox *ob);
/* Delete rows (not synced: a row deleted again after a crash is published
 * again, a duplicate the stream drops). */
int sg__outbox_del(sg__outbox *ob, const uint64_t *ids, size_t n);
/* Every stored row, oldest first; pointers valid inside cb only. */
int sg__outbox_foreach(sg__outbox *ob, int (*cb)(const sg__outbox_row *row, void *ctx), void *ctx);
