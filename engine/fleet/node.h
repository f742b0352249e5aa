/* SPDX-License-Identifier: Apache-2.0 */
/* The parts of a fleet node (fleet.h) shared by its files: fleet.c (start,
 * stop, submit, the loop side, /healthz and /metrics), publish.c (the
 * publisher thread and the ack handler), durable.c (the outbox writer) and
 * apply.c (the applier thread).
 *
 * Threads: the loop (submit, done callbacks), the publisher (ids, publish,
 * republish), the outbox writer (the outbox's group commit, in parallel
 * with the publish), the applier (ordered consumer, sg_record_logged), the
 * housekeeping thread (stream info, chain heads), and libnats's own (the
 * PubAck handler). Everything shared is under mu: the submit queue, the
 * outbox writer's queue, the in-flight table the ack handler fills, the
 * waiters, the done list, the applied results ring and the counters.
 *
 * A write is answered once three things hold (sg__fleet_ready): its PubAck
 * came (a quorum of servers has it), this node's applier has applied its
 * stream sequence (the answer is the applied result), and its outbox row
 * is durable. The last two are the two syncs of a write; they run at the
 * same time, not one after the other. */
#pragma once
#include <nats/nats.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "fleet/fleet.h"
#include "fleet/heads.h"
#include "store/fleet_outbox.h"

#define RING 16384                 /* applied results kept for waiters (stream messages) */
#define RING_EVENTS 4
#define APPLY_BATCH 256
#define RETRY_MS 1000              /* republish unacknowledged outbox rows this often */
#define PIPELINE_MAX 1024          /* stream messages published, PubAck awaited, at most */
#define HOLD_SLOTS (1u << 17)      /* the recipients held by unacknowledged messages (hashed) */
#define MAX_KEYS 8                 /* = SG__FLEET_MSG_MAX_EVENTS */
#define AQ_MAX 65536               /* delivered messages queued for the applier, at most */
#define HEADS_MS 2000              /* publish and compare chain heads this often */
#define DUP_WINDOW_NS ((int64_t)48 * 3600 * 1000000000)

/* The recipients of one stream message, hashed: while a message of this
 * node is unacknowledged (in flight, or waiting to be published again), no
 * later message of this node for one of its recipients is published, so a
 * failed publish retried later cannot land behind a later event for the
 * same recipient. `global` (registry changes, events without a recipient)
 * waits for every earlier message and holds back every later one. */
typedef struct keys {
	uint64_t h[MAX_KEYS];
	unsigned n;
	bool global;
} keys;

/* A delivered stream message queued for the applier. */
typedef struct qmsg {
	natsMsg *m;
	keys oo; /* its opt-outs' recipients: denied until it is applied */
	struct qmsg *next;
} qmsg;

/* The closure of one subscription: messages of an older one are dropped. */
typedef struct subctx {
	struct sg__fleet *f;
	uint64_t gen;
	struct subctx *next;
} subctx;

typedef struct fjob {
	sg__wjob *job;
	keys keys;
	int64_t deadline_us; /* t0 + publishTimeoutMs: answered 503 when not acknowledged by then */
	sg__buf msg;
	char subject[96];
	char msg_id[512];
	uint64_t outbox_id;
	int64_t t0;
	bool barrier; /* no events: finished once the stream's last sequence is applied */
	/* set by the ack handler, under mu */
	bool acked, failed, dup;
	uint64_t seq;
	/* under mu: the outbox writer (durable.c) */
	bool ob_pending; /* its row queued or written, not yet known durable */
	int ob_rc;       /* the row could not be written: answered with this error */
	bool orphan;     /* answered (503, stopping) while ob_pending: the writer frees it */
	struct fjob *obnext; /* the writer's queue */
	struct fjob *next;
} fjob;

/* An outbox row without a PubAck yet (published again until it has one). */
typedef struct row {
	uint64_t id;
	char subject[96];
	char msg_id[512];
	uint8_t *data;
	size_t len;
	keys keys;
	struct row *next;
} row;

/* An acknowledged outbox row, kept on disk until outboxKeepMs old: a FIFO. */
typedef struct acked_row {
	uint64_t id;
	int64_t acked_us;
} acked_row;

/* An acknowledged message whose recipients the publisher releases. */
typedef struct released {
	uint64_t id;
	int64_t acked_us;
	keys keys;
} released;

typedef struct result {
	uint64_t seq; /* stream sequence this entry holds, 0 = empty */
	unsigned n;
	sg_event_out out[RING_EVENTS];
} result;

struct sg__fleet {
	uv_loop_t *loop;
	sg_engine *engine;
	sg__replication cfg;
	uv_async_t async;
	uv_thread_t pub_thread, apply_thread, house_thread, ob_thread;
	uv_mutex_t mu;
	uv_cond_t cond;          /* the publisher waits on it */
	uv_cond_t obcond;        /* the outbox writer waits on it */
	uv_cond_t acond, aspace; /* the applier's queue: not empty, not full */
	natsConnection *nc;
	jsCtx *js;
	sg__outbox *outbox;
	sg__heads *heads; /* housekeeping thread only */
	char subj_all[96];
	unsigned max_queue;
	/* under mu */
	fjob *qhead, *qtail;
	unsigned qlen;
	fjob *inflight, *inflight_tail; /* published, PubAck awaited, in publish order */
	unsigned ninflight, npipe;      /* npipe: written to the outbox, not yet acknowledged */
	fjob *failed;                   /* no PubAck (an error): for the publisher */
	bool pend_held;                 /* jobs wait for a recipient held by an earlier message */
	released *rel;                  /* acknowledged: for the publisher */
	size_t nrel, relcap;
	fjob *waiting;  /* acknowledged, its applied seq or its durable row awaited */
	fjob *ob_head, *ob_tail; /* rows for the outbox writer, in id order (fjob.obnext) */
	uint64_t ob_settled;     /* every row up to this id written durably, or failed */
	uint64_t ob_unsynced;    /* rows queued or being written, not yet known durable */
	uint64_t *ob_del;        /* acknowledged rows old enough: deleted by the writer's next commit */
	size_t ob_ndel, ob_delcap;
	uint64_t ob_deleted;     /* rows deleted since start (acknowledged, outboxKeepMs old) */
	qmsg *aq_head, *aq_tail; /* delivered, for the applier */
	unsigned aq_len;
	uint64_t sub_gen;
	subctx *subctxs;
	bool lost_delivery;
	/* The overlay: recipients (hashed) of opt-outs delivered but not yet
	 * applied; a check for them denies opted_out meanwhile (fail closed:
	 * the opt-out is in the stream, a quorum has it). */
	uint32_t *optouts;
	unsigned noptouts;
	fjob *dhead, *dtail;
	result *ring;
	uint64_t applied, stream_last;
	int64_t contact_ms; /* last time the stream answered or delivered */
	uint64_t published, publish_timeouts, republished, applied_msgs;
	bool diverged;
	char diverged_reason[160];
	bool stopping, pub_exited, apply_exited, house_exited, ob_exited, broken;
	char broken_reason[160];
	/* publisher thread only */
	fjob *pend, *pend_tail; /* in the outbox, not yet published (a recipient held) */
	uint32_t *holds;        /* HOLD_SLOTS counters: unacknowledged messages per recipient hash */
	unsigned held_total, global_holds;
	row *rows;              /* oldest (lowest id) first */
	acked_row *acked;       /* circular: acked[(ahead + i) % acap], i < alen */
	size_t ahead, alen, acap;
	/* loop thread only */
	bool stop_called;
	void (*close_cb)(void *);
	void *close_arg;
};

/* The thread's name in top -H, perf, /proc (at most 15 characters). */
static inline void name_thread(const char *name)
{
	pthread_setname_np(pthread_self(), name);
}

static inline int64_t now_ms(void)
{
	return sg_now_us() / 1000;
}

static inline void fjob_free(fjob *j)
{
	sg__buf_free(&j->msg);
	free(j);
}

/* The hash of one recipient key (keys, the overlay). */
uint64_t sg__fleet_key_hash(const char *key);
/* The keys of n decoded events (node.h, keys). */
void sg__fleet_keys(const sg_event_in *ev, size_t n, keys *k);
/* Publisher: hold / release the recipients of one unacknowledged message. */
void sg__fleet_hold(sg__fleet *f, const keys *k);
void sg__fleet_release(sg__fleet *f, const keys *k);

/* mu held: finish j with its status already set (posted to the loop). */
void sg__fleet_post_done(sg__fleet *f, fjob *j);
/* mu held: j's out[] from the applied result of j->seq, then posted. */
void sg__fleet_complete(sg__fleet *f, fjob *j);

/* mu held: whether j may be answered from its applied result: its PubAck
 * came (or, a read barrier, the stream's last sequence is known), this
 * node applied that sequence, and its outbox row is durable. */
static inline bool sg__fleet_ready(const sg__fleet *f, const fjob *j)
{
	return (j->acked || j->barrier) && j->seq <= f->applied && !j->ob_pending;
}

/* mu held: answer a ready j (an error when its outbox row failed). */
void sg__fleet_finish(sg__fleet *f, fjob *j);
/* mu held: every waiting job that is ready now answered; true if any. */
bool sg__fleet_finish_ready(sg__fleet *f);
/* The stream's last sequence now (false when the stream does not answer). */
bool sg__fleet_stream_last(sg__fleet *f, uint64_t *last);
void sg__fleet_pub_main(void *arg);
void sg__fleet_apply_main(void *arg);
void sg__fleet_house_main(void *arg);
void sg__fleet_ob_main(void *arg);
void sg__fleet_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure);
