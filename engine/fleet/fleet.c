/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node on NATS JetStream; see fleet.h and docs/fleet.md.
 *
 * Threads: the loop (submit, done callbacks), the publisher (outbox,
 * publish, PubAck), the applier (ordered consumer, sg_record_logged), and
 * libnats's own. Everything shared is under mu: the submit queue, the
 * in-flight table the ack handler fills, the waiters for an applied
 * sequence, the done list, the applied results ring and the counters. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "fleet/codec.h"
#include "fleet/fleet.h"
#include "fleet/heads.h"
#include "store/fleet_outbox.h"
#include "internal.h"

#define RING 16384                 /* applied results kept for waiters (stream messages) */
#define RING_EVENTS 4
#define APPLY_BATCH 256
#define RETRY_MS 1000              /* republish unacknowledged outbox rows this often */
#define HEADS_MS 2000              /* publish and compare chain heads this often */
#define DUP_WINDOW_NS ((int64_t)48 * 3600 * 1000000000)

typedef struct fjob {
	sg__wjob *job;
	sg__buf msg;
	char subject[96];
	char msg_id[512];
	uint64_t outbox_id;
	int64_t t0;
	bool barrier; /* no events: finished once the stream's last sequence is applied */
	/* set by the ack handler, under mu */
	bool acked, failed, dup;
	uint64_t seq;
	struct fjob *next;
} fjob;

/* An outbox row without a PubAck yet (published again until it has one). */
typedef struct row {
	uint64_t id;
	char subject[96];
	char msg_id[512];
	uint8_t *data;
	size_t len;
	struct row *next;
} row;

/* An acknowledged outbox row, kept on disk until outboxKeepMs old: a FIFO. */
typedef struct acked_row {
	uint64_t id;
	int64_t acked_us;
} acked_row;

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
	uv_thread_t pub_thread, apply_thread;
	uv_mutex_t mu;
	uv_cond_t cond;
	natsConnection *nc;
	jsCtx *js;
	sg__outbox *outbox;
	sg__heads *heads; /* applier thread only */
	char subj_all[96];
	unsigned max_queue;
	/* under mu */
	fjob *qhead, *qtail;
	unsigned qlen;
	fjob *inflight; /* published, PubAck awaited */
	fjob *waiting;  /* acknowledged, applied seq awaited */
	fjob *dhead, *dtail;
	result *ring;
	uint64_t applied, stream_last;
	int64_t contact_ms; /* last time the stream answered or delivered */
	uint64_t published, publish_timeouts, republished, applied_msgs;
	bool diverged;
	char diverged_reason[160];
	bool stopping, pub_exited, apply_exited, broken;
	char broken_reason[160];
	/* publisher thread only */
	row *rows;
	acked_row *acked;       /* circular: acked[(ahead + i) % acap], i < alen */
	size_t ahead, alen, acap;
	/* loop thread only */
	bool stop_called;
	void (*close_cb)(void *);
	void *close_arg;
};

bool sg__fleet_available(void)
{
	return true;
}

static int64_t now_ms(void)
{
	return sg_now_us() / 1000;
}

static void fjob_free(fjob *j)
{
	sg__buf_free(&j->msg);
	free(j);
}

static bool refresh_stream_last(sg__fleet *f, uint64_t *last);

/* mu held: finish j with its status already set. */
static void post_done_locked(sg__fleet *f, fjob *j)
{
	j->next = NULL;
	if (f->dtail)
		f->dtail->next = j;
	else
		f->dhead = j;
	f->dtail = j;
}

typedef struct by_key {
	const char *key;
	uint64_t seq;
} by_key;

static int find_key(const sg_event *ev, void *ctx)
{
	by_key *k = ctx;
	if (ev->dedup_key && !strcmp(ev->dedup_key, k->key))
		k->seq = ev->seq; /* the last one with that key */
	return 0;
}

/* mu held: out[] from the applied result of j->seq. */
static void complete_locked(sg__fleet *f, fjob *j)
{
	sg__wjob *w = j->job;
	const result *r = &f->ring[j->seq % RING];
	for (size_t i = 0; i < w->nevents; i++) {
		const sg_event_in *ev = &w->events[i];
		if (r->seq == j->seq && i < r->n) {
			w->out[i] = r->out[i];
		} else {
			/* older than the ring (a late retry): held, not new; the
			 * event the first delivery recorded, found by its key */
			w->out[i] = (sg_event_out){.duplicate = true};
			by_key k = {.key = ev->dedup_key};
			if (ev->dedup_key && ev->recipient &&
			    sg_events_for_recipient(f->engine, ev->recipient, find_key, &k) == 0)
				w->out[i].seq = k.seq;
		}
		if (j->dup && w->out[i].status == 0)
			w->out[i].duplicate = true; /* a retry: answered as the first delivery */
	}
	w->status = 0;
	w->commit_us = sg_now_us() - j->t0;
	post_done_locked(f, j);
}

/* ---- the ack handler (a libnats thread) ---- */

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	sg__fleet *f = closure;
	const char *idv = NULL;
	if (natsMsgHeader_Get(msg, "Sg-Outbox", &idv) == NATS_OK && idv) {
		uint64_t id = strtoull(idv, NULL, 10);
		uv_mutex_lock(&f->mu);
		for (fjob *j = f->inflight; j; j = j->next)
			if (j->outbox_id == id) {
				if (pa) {
					j->acked = true;
					j->seq = pa->Sequence;
					j->dup = pa->Duplicate;
				} else {
					j->failed = true;
					(void)pae;
				}
				break;
			}
		uv_mutex_unlock(&f->mu);
	}
	natsMsg_Destroy(msg);
}

/* ---- the publisher thread ---- */

static natsStatus publish_async(sg__fleet *f, const char *subject, const char *msg_id, uint64_t id,
				const uint8_t *data, size_t len)
{
	natsMsg *m = NULL;
	char idv[24];
	snprintf(idv, sizeof(idv), "%" PRIu64, id);
	natsStatus s = natsMsg_Create(&m, subject, NULL, (const char *)data, (int)len);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(m, "Sg-Outbox", idv);
	if (s == NATS_OK) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MsgId = msg_id;
		po.MaxWait = f->cfg.publish_timeout_ms;
		s = js_PublishMsgAsync(f->js, &m, &po);
	}
	natsMsg_Destroy(m); /* a no-op once the library took it */
	return s;
}

static void note_acked(sg__fleet *f, uint64_t id, int64_t now)
{
	if (f->alen == f->acap) {
		size_t cap = f->acap ? 2 * f->acap : 1024;
		acked_row *a = malloc(cap * sizeof(*a));
		if (!a)
			return; /* the row stays on disk; republished (a duplicate) on the next start */
		for (size_t i = 0; i < f->alen; i++)
			a[i] = f->acked[(f->ahead + i) % f->acap];
		free(f->acked);
		f->acked = a;
		f->acap = cap;
		f->ahead = 0;
	}
	f->acked[(f->ahead + f->alen++) % f->acap] = (acked_row){id, now};
}

/* A row without a PubAck: kept in memory to be published again. */
static void keep_row(sg__fleet *f, const fjob *j)
{
	row *r = calloc(1, sizeof(*r));
	if (!r || !(r->data = malloc(j->msg.len ? j->msg.len : 1))) {
		free(r);
		return; /* it stays in the outbox; republished on the next start */
	}
	r->id = j->outbox_id;
	memcpy(r->subject, j->subject, sizeof(r->subject));
	memcpy(r->msg_id, j->msg_id, sizeof(r->msg_id));
	memcpy(r->data, j->msg.p, j->msg.len);
	r->len = j->msg.len;
	row **pp = &f->rows; /* oldest first */
	while (*pp)
		pp = &(*pp)->next;
	*pp = r;
}

/* Republish rows without a PubAck (one at a time, synchronously, oldest
 * first), and delete acknowledged rows older than outboxKeepMs. Returns
 * true when rows are left and the servers answer (call again soon). */
static bool tend_rows(sg__fleet *f)
{
	int64_t now = sg_now_us();
	bool failed = false;
	/* a slice at a time (a restart may bring many rows): new writes wait
	 * for the publisher meanwhile */
	while (f->rows && sg_now_us() - now < 200000) {
		row *r = f->rows;
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MsgId = r->msg_id;
		po.MaxWait = f->cfg.publish_timeout_ms;
		natsMsg *m = NULL;
		jsPubAck *pa = NULL;
		char idv[24];
		snprintf(idv, sizeof(idv), "%" PRIu64, r->id);
		natsStatus s = natsMsg_Create(&m, r->subject, NULL, (const char *)r->data, (int)r->len);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Sg-Outbox", idv);
		if (s == NATS_OK)
			s = js_PublishMsg(&pa, f->js, m, &po, NULL);
		natsMsg_Destroy(m);
		if (s != NATS_OK) {
			jsPubAck_Destroy(pa);
			failed = true;
			break; /* still no servers: try again later */
		}
		sg__info("fleet", "outbox row published again id=%" PRIu64 " seq=%" PRIu64 " duplicate=%s", r->id,
			 pa->Sequence, pa->Duplicate ? "true" : "false");
		jsPubAck_Destroy(pa);
		uv_mutex_lock(&f->mu);
		f->republished++;
		uv_mutex_unlock(&f->mu);
		note_acked(f, r->id, now);
		f->rows = r->next;
		free(r->data);
		free(r);
	}
	bool more = f->rows && !failed;
	size_t n = 0;
	int64_t keep = (int64_t)f->cfg.outbox_keep_ms * 1000;
	while (n < f->alen && now - f->acked[(f->ahead + n) % f->acap].acked_us > keep)
		n++;
	if (!n)
		return more;
	uint64_t *ids = malloc(n * sizeof(*ids));
	if (!ids)
		return more;
	for (size_t i = 0; i < n; i++)
		ids[i] = f->acked[(f->ahead + i) % f->acap].id;
	int rc = sg__outbox_del(f->outbox, ids, n);
	free(ids);
	if (rc) {
		sg__warn("fleet", "outbox cleanup failed error=\"%s\"", sg_strerror(rc));
		return more; /* kept: tried again next time */
	}
	f->ahead = (f->ahead + n) % f->acap;
	f->alen -= n;
	return more;
}

/* Read barriers (consistency=leader): the stream's last sequence now, then
 * wait for the applier to pass it. */
static void barriers(sg__fleet *f, fjob *list)
{
	uint64_t last = 0;
	bool ok = refresh_stream_last(f, &last);
	uv_mutex_lock(&f->mu);
	for (fjob *j = list, *next; j; j = next) {
		next = j->next;
		if (!ok) {
			j->job->status = -EAGAIN; /* the stream does not answer: 503 */
			post_done_locked(f, j);
		} else if ((j->seq = last) <= f->applied) {
			complete_locked(f, j);
		} else {
			j->next = f->waiting;
			f->waiting = j;
		}
	}
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}

static void publish_batch(sg__fleet *f, fjob *list)
{
	fjob *bar = NULL;
	for (fjob **pp = &list; *pp;) {
		fjob *j = *pp;
		if (j->barrier) {
			*pp = j->next;
			j->next = bar;
			bar = j;
		} else {
			pp = &j->next;
		}
	}
	if (bar)
		barriers(f, bar);
	if (!list)
		return;
	size_t n = 0;
	for (fjob *j = list; j; j = j->next)
		n++;
	sg__outbox_row *rows = calloc(n, sizeof(*rows));
	int rc = rows ? 0 : -ENOMEM;
	size_t i = 0;
	for (fjob *j = list; j && rows; j = j->next, i++)
		rows[i] = (sg__outbox_row){.subject = j->subject, .msg_id = j->msg_id,
					   .data = (const uint8_t *)j->msg.p, .len = j->msg.len};
	if (!rc)
		rc = sg__outbox_put(f->outbox, f->cfg.node, rows, n);
	if (rc) {
		sg__err("fleet", "outbox write failed events=%zu error=\"%s\"", n, sg_strerror(rc));
		free(rows);
		uv_mutex_lock(&f->mu);
		for (fjob *j = list, *next; j; j = next) {
			next = j->next;
			j->job->status = rc;
			post_done_locked(f, j);
		}
		uv_mutex_unlock(&f->mu);
		uv_async_send(&f->async);
		return;
	}
	i = 0;
	for (fjob *j = list; j; j = j->next, i++) {
		j->outbox_id = rows[i].id;
		sg__strlcpy(j->msg_id, rows[i].msg_id, sizeof(j->msg_id));
	}
	free(rows);
	/* In flight before publishing: the ack may come at once. Only this
	 * batch is ever in flight (publish_batch waits for it); a late ack of
	 * an earlier, timed-out batch finds nothing and is ignored. */
	uv_mutex_lock(&f->mu);
	f->inflight = list;
	uv_mutex_unlock(&f->mu);
	for (fjob *j = list; j; j = j->next) {
		natsStatus s = publish_async(f, j->subject, j->msg_id, j->outbox_id, (const uint8_t *)j->msg.p,
					     j->msg.len);
		if (s != NATS_OK) {
			uv_mutex_lock(&f->mu);
			j->failed = true;
			uv_mutex_unlock(&f->mu);
		}
	}
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = f->cfg.publish_timeout_ms;
	natsStatus cs = js_PublishAsyncComplete(f->js, &po);
	if (cs != NATS_OK && cs != NATS_TIMEOUT)
		sg__warn("fleet", "publish failed error=\"%s\"", natsStatus_GetText(cs));
	unsigned lost = 0;
	int64_t now = sg_now_us();
	uv_mutex_lock(&f->mu);
	f->inflight = NULL;
	for (fjob *j = list; j; j = j->next)
		j->acked ? f->published++ : f->publish_timeouts++;
	for (fjob *j = list, *next; j; j = next) {
		next = j->next;
		/* the row: kept until old once acknowledged, else for republishing */
		if (j->acked)
			note_acked(f, j->outbox_id, now);
		else
			keep_row(f, j);
		if (j->acked) {
			if (j->seq <= f->applied) {
				complete_locked(f, j);
			} else {
				j->next = f->waiting;
				f->waiting = j;
			}
		} else {
			lost++;
			j->job->status = -EAGAIN; /* 503 + Retry-After; the row stays and is republished */
			post_done_locked(f, j);
		}
	}
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
	if (lost)
		sg__warn("fleet", "no PubAck in time events=%u timeout_ms=%u", lost, f->cfg.publish_timeout_ms);
}

static void pub_main(void *arg)
{
	sg__fleet *f = arg;
	int64_t last_tend = 0;
	bool more = false; /* outbox rows left to republish: no idle wait */
	for (;;) {
		uv_mutex_lock(&f->mu);
		if (!f->qhead && !f->stopping && !more)
			uv_cond_timedwait(&f->cond, &f->mu, (uint64_t)RETRY_MS * 1000000);
		fjob *list = f->qhead;
		f->qhead = f->qtail = NULL;
		f->qlen = 0;
		bool stop = f->stopping;
		uv_mutex_unlock(&f->mu);
		if (list && stop) {
			uv_mutex_lock(&f->mu);
			for (fjob *j = list, *next; j; j = next) {
				next = j->next;
				j->job->status = -ESHUTDOWN;
				post_done_locked(f, j);
			}
			uv_mutex_unlock(&f->mu);
			uv_async_send(&f->async);
			list = NULL;
		}
		if (stop)
			break;
		if (list)
			publish_batch(f, list);
		if (more || now_ms() - last_tend >= RETRY_MS) {
			last_tend = now_ms();
			more = tend_rows(f);
		}
	}
	uv_mutex_lock(&f->mu);
	f->pub_exited = true;
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}

/* ---- the applier thread ---- */

static void set_broken(sg__fleet *f, const char *why)
{
	uv_mutex_lock(&f->mu);
	if (!f->broken)
		sg__err("fleet", "applier stopped: the store no longer follows the stream reason=\"%s\"", why);
	f->broken = true;
	sg__strlcpy(f->broken_reason, why, sizeof(f->broken_reason));
	uv_mutex_unlock(&f->mu);
}

static natsSubscription *subscribe(sg__fleet *f, uint64_t pos)
{
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = f->cfg.stream;
	so.Ordered = true;
	if (pos) {
		so.Config.DeliverPolicy = js_DeliverByStartSequence;
		so.Config.OptStartSeq = pos + 1;
	}
	natsSubscription *sub = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_SubscribeSync(&sub, f->js, f->subj_all, NULL, &so, &jerr);
	if (s != NATS_OK) {
		sg__warn("fleet", "cannot subscribe to the stream error=\"%s\" jserr=%d", natsStatus_GetText(s), (int)jerr);
		return NULL;
	}
	/* consent traffic in bursts: a generous pending limit */
	natsSubscription_SetPendingLimits(sub, 1 << 20, 1 << 30);
	return sub;
}

/* The stream's last sequence now (0 and false when it does not answer). */
static bool refresh_stream_last(sg__fleet *f, uint64_t *last)
{
	jsStreamInfo *si = NULL;
	jsOptions o;
	jsOptions_Init(&o);
	o.Wait = 1000;
	if (js_GetStreamInfo(&si, f->js, f->cfg.stream, &o, NULL) != NATS_OK || !si)
		return false;
	uv_mutex_lock(&f->mu);
	if (f->stream_last < si->State.LastSeq)
		f->stream_last = si->State.LastSeq;
	f->contact_ms = now_ms();
	if (last)
		*last = si->State.LastSeq;
	uv_mutex_unlock(&f->mu);
	jsStreamInfo_Destroy(si);
	return true;
}

typedef struct batch {
	natsMsg *msg[APPLY_BATCH];
	uint64_t seq[APPLY_BATCH];
	unsigned first[APPLY_BATCH], count[APPLY_BATCH];
	size_t nmsg, nev;
	sg_event_in ev[APPLY_BATCH * SG__FLEET_MSG_MAX_EVENTS];
	sg_event_out out[APPLY_BATCH * SG__FLEET_MSG_MAX_EVENTS];
} batch;

static void batch_clear(batch *b)
{
	for (size_t i = 0; i < b->nmsg; i++)
		natsMsg_Destroy(b->msg[i]);
	b->nmsg = b->nev = 0;
}

/* Add one message; false when it is not ours (the applier stops). */
static bool batch_add(sg__fleet *f, batch *b, natsMsg *m, uint64_t seq)
{
	size_t n = 0;
	int rc = sg__fleet_decode((const uint8_t *)natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
				  &b->ev[b->nev], SG__FLEET_MSG_MAX_EVENTS, &n);
	if (rc) {
		char why[128];
		snprintf(why, sizeof(why), "stream message %" PRIu64 " is not a stopgate event message", seq);
		set_broken(f, why);
		natsMsg_Destroy(m);
		return false;
	}
	b->msg[b->nmsg] = m;
	b->seq[b->nmsg] = seq;
	b->first[b->nmsg] = (unsigned)b->nev;
	b->count[b->nmsg] = (unsigned)n;
	b->nmsg++;
	b->nev += n;
	return true;
}

/* Apply the batch in one transaction; returns 0 or the error (the batch
 * is then applied again later: nothing of it was written). */
static int batch_apply(sg__fleet *f, batch *b)
{
	uint64_t last = b->seq[b->nmsg - 1];
	int rc = sg_record_logged(f->engine, last, b->ev, b->nev, b->out);
	if (rc == -EINVAL) {
		/* an event without its time: every node refuses it alike, and
		 * skipping it could drop an opt-out: stop, fail closed */
		char why[128];
		snprintf(why, sizeof(why), "stream messages %" PRIu64 "..%" PRIu64 " hold an event without its time",
			 b->seq[0], last);
		set_broken(f, why);
		return 0;
	}
	if (rc == -EALREADY) {
		/* applied before (a re-delivery): nothing to do */
		rc = 0;
		for (size_t i = 0; i < b->nev; i++)
			b->out[i] = (sg_event_out){.duplicate = true};
	}
	if (rc)
		return rc;
	uv_mutex_lock(&f->mu);
	for (size_t i = 0; i < b->nmsg; i++) {
		result *r = &f->ring[b->seq[i] % RING];
		r->seq = b->seq[i];
		r->n = b->count[i] < RING_EVENTS ? b->count[i] : RING_EVENTS;
		memcpy(r->out, &b->out[b->first[i]], r->n * sizeof(r->out[0]));
	}
	f->applied = last;
	f->applied_msgs += b->nmsg;
	f->contact_ms = now_ms();
	if (f->stream_last < last)
		f->stream_last = last;
	for (fjob **pp = &f->waiting; *pp;) {
		fjob *j = *pp;
		if (j->seq <= last) {
			*pp = j->next;
			complete_locked(f, j);
		} else {
			pp = &j->next;
		}
	}
	bool any = f->dhead != NULL;
	uv_mutex_unlock(&f->mu);
	if (any)
		uv_async_send(&f->async);
	return 0;
}

static void apply_main(void *arg)
{
	sg__fleet *f = arg;
	batch *b = calloc(1, sizeof(*b));
	uint64_t pos = 0;
	natsSubscription *sub = NULL;
	int64_t last_info = 0, last_heads = 0;
	while (b) {
		uv_mutex_lock(&f->mu);
		bool stop = f->stopping, broken = f->broken;
		uv_mutex_unlock(&f->mu);
		if (stop)
			break;
		if (now_ms() - last_info >= 1000) {
			last_info = now_ms();
			refresh_stream_last(f, NULL);
		}
		if (now_ms() - last_heads >= HEADS_MS) {
			last_heads = now_ms();
			char why[160];
			int hrc = f->heads ? 0 : sg__heads_open(f->js, f->cfg.stream, f->cfg.replicas, &f->heads);
			if (!hrc)
				hrc = sg__heads_tick(f->heads, f->engine, f->cfg.node, why, sizeof(why));
			if (hrc < 0)
				sg__debug("fleet", "chain heads not compared error=\"%s\"", sg_strerror(hrc));
			if (hrc == 1) {
				uv_mutex_lock(&f->mu);
				if (!f->diverged)
					sg__err("fleet", "replica diverged: checks deny and writes are refused reason=\"%s\"",
						why);
				f->diverged = true;
				sg__strlcpy(f->diverged_reason, why, sizeof(f->diverged_reason));
				uv_mutex_unlock(&f->mu);
			}
		}
		if (broken) {
			uv_sleep(200);
			continue;
		}
		if (!sub) {
			if (sg_log_position(f->engine, &pos)) {
				uv_sleep(500);
				continue;
			}
			if (!(sub = subscribe(f, pos))) {
				uv_sleep(500);
				continue;
			}
		}
		natsMsg *m = NULL;
		natsStatus s = natsSubscription_NextMsg(&m, sub, 200);
		if (s == NATS_TIMEOUT)
			continue;
		if (s != NATS_OK) {
			sg__warn("fleet", "stream subscription failed error=\"%s\"; subscribing again", natsStatus_GetText(s));
			natsSubscription_Destroy(sub);
			sub = NULL;
			uv_sleep(200);
			continue;
		}
		/* this message and whatever else is already here, one transaction */
		bool ok = true;
		while (m && ok) {
			jsMsgMetaData *meta = NULL;
			uint64_t seq = 0;
			if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta) {
				seq = meta->Sequence.Stream;
				jsMsgMetaData_Destroy(meta);
			}
			if (!seq || seq <= pos) {
				natsMsg_Destroy(m); /* not a stream message, or applied before */
			} else {
				uint64_t expected = b->nmsg ? b->seq[b->nmsg - 1] + 1 : pos + 1;
				if (seq < expected) {
					natsMsg_Destroy(m); /* in this batch already */
				} else {
					if (seq != expected)
						sg__warn("fleet", "stream sequence gap expected=%" PRIu64 " got=%" PRIu64,
							 expected, seq);
					ok = batch_add(f, b, m, seq);
				}
			}
			m = NULL;
			int pending = 0, bytes = 0;
			if (ok && b->nmsg < APPLY_BATCH && natsSubscription_GetPending(sub, &pending, &bytes) == NATS_OK &&
			    pending > 0 && natsSubscription_NextMsg(&m, sub, 1) != NATS_OK)
				m = NULL;
		}
		if (b->nmsg) {
			int rc;
			while ((rc = batch_apply(f, b))) {
				sg__err("fleet", "applying stream messages failed first=%" PRIu64 " error=\"%s\"", b->seq[0],
					sg_strerror(rc));
				uv_mutex_lock(&f->mu);
				stop = f->stopping;
				uv_mutex_unlock(&f->mu);
				if (stop)
					break;
				uv_sleep(1000); /* e.g. a full disk: the stream keeps it meanwhile */
			}
			if (!rc)
				pos = b->seq[b->nmsg - 1];
			batch_clear(b);
		}
	}
	if (sub)
		natsSubscription_Destroy(sub);
	sg__heads_close(f->heads);
	f->heads = NULL;
	free(b);
	uv_mutex_lock(&f->mu);
	f->apply_exited = true;
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}

/* ---- the loop side ---- */

static void on_closed(uv_handle_t *h)
{
	sg__fleet *f = h->data;
	void (*cb)(void *) = f->close_cb;
	void *arg = f->close_arg;
	for (row *r = f->rows, *next; r; r = next) {
		next = r->next;
		free(r->data);
		free(r);
	}
	free(f->acked);
	jsCtx_Destroy(f->js);
	natsConnection_Destroy(f->nc);
	nats_Close(); /* libnats's own threads and memory: one fleet per process */
	sg__outbox_close(f->outbox);
	uv_mutex_destroy(&f->mu);
	uv_cond_destroy(&f->cond);
	free(f->ring);
	free(f);
	if (cb)
		cb(arg);
}

static void on_async(uv_async_t *a)
{
	sg__fleet *f = a->data;
	uv_mutex_lock(&f->mu);
	fjob *list = f->dhead;
	f->dhead = f->dtail = NULL;
	bool exited = f->pub_exited && f->apply_exited && f->stopping;
	uv_mutex_unlock(&f->mu);
	while (list) {
		fjob *next = list->next;
		sg__wjob *w = list->job;
		fjob_free(list);
		w->done(w);
		list = next;
	}
	if (exited && f->stop_called && !uv_is_closing((uv_handle_t *)&f->async)) {
		uv_thread_join(&f->pub_thread);
		uv_thread_join(&f->apply_thread);
		/* jobs still waiting for their sequence: stopping, not answered from it */
		uv_mutex_lock(&f->mu);
		fjob *w = f->waiting;
		f->waiting = NULL;
		uv_mutex_unlock(&f->mu);
		while (w) {
			fjob *next = w->next;
			sg__wjob *job = w->job;
			job->status = -ESHUTDOWN;
			fjob_free(w);
			job->done(job);
			w = next;
		}
		sg__info("fleet", "stopped node=%s", f->cfg.node);
		uv_close((uv_handle_t *)&f->async, on_closed);
	}
}

int sg__fleet_submit(sg__fleet *f, sg__wjob *job)
{
	if (!job || !job->done || job->run || job->nevents > SG__FLEET_MSG_MAX_EVENTS)
		return -EINVAL;
	fjob *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->job = job;
	j->t0 = sg_now_us();
	j->barrier = job->nevents == 0;
	/* The time of the events is decided here, once: every node applies it. */
	sg_event_in ev[SG__FLEET_MSG_MAX_EVENTS];
	bool registry = false;
	const char *key = NULL;
	for (size_t i = 0; i < job->nevents; i++) {
		ev[i] = job->events[i];
		if (!ev[i].time_us)
			ev[i].time_us = j->t0;
		registry |= ev[i].action == SG_ACTION_CAMPAIGN || ev[i].action == SG_ACTION_SENDER;
		if (!key && ev[i].dedup_key && ev[i].dedup_key[0])
			key = ev[i].dedup_key;
	}
	int rc = j->barrier ? 0 : sg__fleet_encode(ev, job->nevents, &j->msg);
	if (!rc && key && strlen(key) >= sizeof(j->msg_id))
		rc = SG_ETOOLONG;
	if (rc) {
		fjob_free(j);
		return rc;
	}
	snprintf(j->subject, sizeof(j->subject), "%s.%s", f->cfg.stream, registry ? "registry" : "consent");
	sg__strlcpy(j->msg_id, key ? key : "", sizeof(j->msg_id));
	job->status = 0;
	uv_mutex_lock(&f->mu);
	if (f->stopping) {
		rc = -ESHUTDOWN;
	} else if (f->diverged || f->broken) {
		rc = -EAGAIN; /* fail closed: another node answers (503 + Retry-After) */
	} else if (f->qlen >= f->max_queue) {
		rc = -EAGAIN;
	} else {
		if (f->qtail)
			f->qtail->next = j;
		else
			f->qhead = j;
		f->qtail = j;
		f->qlen++;
		uv_cond_signal(&f->cond);
	}
	uv_mutex_unlock(&f->mu);
	if (rc)
		fjob_free(j);
	return rc;
}

bool sg__fleet_health(sg__fleet *f, sg__buf *b)
{
	uint64_t seq = 0;
	uint8_t head[32] = {0};
	char hex[65];
	int hrc = sg_head(f->engine, &seq, head);
	sg_hex32(head, hex);
	bool connected = natsConnection_Status(f->nc) == NATS_CONN_STATUS_CONNECTED;
	uv_mutex_lock(&f->mu);
	uint64_t applied = f->applied, last = f->stream_last;
	bool broken = f->broken || f->diverged;
	int64_t contact = f->contact_ms;
	char reason[160];
	sg__strlcpy(reason, f->diverged ? f->diverged_reason : f->broken_reason, sizeof(reason));
	uv_mutex_unlock(&f->mu);
	sg__buf_adds(b, "\"replication\":{\"node\":");
	sg__buf_json_cstr(b, f->cfg.node);
	sg__buf_printf(b, ",\"stream\":");
	sg__buf_json_cstr(b, f->cfg.stream);
	sg__buf_printf(b, ",\"applied\":%" PRIu64 ",\"stream_last\":%" PRIu64 ",\"connected\":%s,\"head\":\"%s\","
		       "\"events\":%" PRIu64, applied, last, connected ? "true" : "false", hrc ? "" : hex, seq);
	bool stale = f->cfg.max_stale_ms && now_ms() - contact > (int64_t)f->cfg.max_stale_ms;
	sg__buf_printf(b, ",\"stale\":%s,\"diverged\":%s", stale ? "true" : "false", broken ? "true" : "false");
	if (broken) {
		sg__buf_adds(b, ",\"error\":");
		sg__buf_json_cstr(b, reason);
	}
	sg__buf_addc(b, '}');
	return !broken && hrc == 0;
}

void sg__fleet_gate(sg__fleet *f, sg_verdict *v, size_t n)
{
	uv_mutex_lock(&f->mu);
	bool diverged = f->diverged || f->broken;
	bool stale = f->cfg.max_stale_ms && now_ms() - f->contact_ms > (int64_t)f->cfg.max_stale_ms;
	uv_mutex_unlock(&f->mu);
	if (!diverged && !stale)
		return;
	for (size_t i = 0; i < n; i++) {
		if (v[i].allow || v[i].reason == SG_REASON_CHECK_FAILED || v[i].reason == SG_REASON_INVALID_NUMBER) {
			v[i].allow = false;
			v[i].confirmation = false;
			v[i].reason = diverged ? SG_REASON_REPLICA_DIVERGED : SG_REASON_STALE_REPLICA;
		}
	}
}

void sg__fleet_metrics(sg__fleet *f, sg__buf *b)
{
	uv_mutex_lock(&f->mu);
	uint64_t applied = f->applied, last = f->stream_last, pub = f->published, to = f->publish_timeouts,
		 rep = f->republished, msgs = f->applied_msgs;
	bool diverged = f->diverged || f->broken;
	bool stale = f->cfg.max_stale_ms && now_ms() - f->contact_ms > (int64_t)f->cfg.max_stale_ms;
	uv_mutex_unlock(&f->mu);
	sg__buf_printf(b,
		       "# HELP stopgate_fleet_applied_seq The last stream sequence this node applied.\n"
		       "# TYPE stopgate_fleet_applied_seq gauge\nstopgate_fleet_applied_seq %" PRIu64 "\n"
		       "# HELP stopgate_fleet_stream_last_seq The stream's last sequence as last seen.\n"
		       "# TYPE stopgate_fleet_stream_last_seq gauge\nstopgate_fleet_stream_last_seq %" PRIu64 "\n"
		       "# HELP stopgate_fleet_applied_messages_total Stream messages applied since start.\n"
		       "# TYPE stopgate_fleet_applied_messages_total counter\n"
		       "stopgate_fleet_applied_messages_total %" PRIu64 "\n"
		       "# HELP stopgate_fleet_published_total Writes of this node acknowledged by the stream.\n"
		       "# TYPE stopgate_fleet_published_total counter\nstopgate_fleet_published_total %" PRIu64 "\n"
		       "# HELP stopgate_fleet_publish_timeouts_total Writes answered 503: no PubAck in time.\n"
		       "# TYPE stopgate_fleet_publish_timeouts_total counter\n"
		       "stopgate_fleet_publish_timeouts_total %" PRIu64 "\n"
		       "# HELP stopgate_fleet_republished_total Outbox rows published again (after a timeout or a restart).\n"
		       "# TYPE stopgate_fleet_republished_total counter\nstopgate_fleet_republished_total %" PRIu64 "\n"
		       "# HELP stopgate_fleet_stale 1 when checks deny stale_replica.\n"
		       "# TYPE stopgate_fleet_stale gauge\nstopgate_fleet_stale %d\n"
		       "# HELP stopgate_fleet_diverged 1 when this node failed closed (replica_diverged).\n"
		       "# TYPE stopgate_fleet_diverged gauge\nstopgate_fleet_diverged %d\n",
		       applied, last, msgs, pub, to, rep, stale ? 1 : 0, diverged ? 1 : 0);
}

void sg__fleet_stop(sg__fleet *f, void (*cb)(void *arg), void *arg)
{
	f->close_cb = cb;
	f->close_arg = arg;
	f->stop_called = true;
	uv_mutex_lock(&f->mu);
	f->stopping = true;
	uv_cond_signal(&f->cond);
	uv_mutex_unlock(&f->mu);
}

/* ---- start-up ---- */

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* The stream: found, or created as docs/fleet.md says. */
static int ensure_stream(sg__fleet *f, char *err, size_t errlen)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = NATS_ERR;
	for (int attempt = 0; attempt < 20; attempt++) {
		s = js_GetStreamInfo(&si, f->js, f->cfg.stream, NULL, &jerr);
		if (s == NATS_OK)
			break;
		if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
			jsStreamConfig sc;
			jsStreamConfig_Init(&sc);
			const char *subjects[] = {f->subj_all};
			sc.Name = f->cfg.stream;
			sc.Subjects = subjects;
			sc.SubjectsLen = 1;
			sc.Storage = js_FileStorage;
			sc.Retention = js_LimitsPolicy;
			sc.Replicas = f->cfg.replicas;
			sc.Duplicates = DUP_WINDOW_NS;
			sc.DenyDelete = true;
			sc.DenyPurge = true;
			jerr = 0;
			s = js_AddStream(&si, f->js, &sc, NULL, &jerr);
			if (s == NATS_OK) {
				sg__info("fleet", "created the stream stream=%s replicas=%u", f->cfg.stream, f->cfg.replicas);
				break;
			}
			sg__warn("fleet", "cannot create the stream yet stream=%s error=\"%s\" jserr=%d", f->cfg.stream,
				 natsStatus_GetText(s), (int)jerr);
		}
		uv_sleep(500); /* no JetStream leader yet, or another node creating it */
	}
	if (s != NATS_OK)
		return fail(err, errlen, SG_ECONFIG,
			    "replication.stream: cannot find or create stream %s on the servers (%s, JetStream error %d): "
			    "are the servers clustered with JetStream enabled, at least replication.replicas (%u) of them?",
			    f->cfg.stream, natsStatus_GetText(s), (int)jerr, f->cfg.replicas);
	if (si->Config && si->Config->Replicas != (int64_t)f->cfg.replicas)
		sg__warn("fleet", "the stream has another replica count than configured stream=%s replicas=%" PRId64
			 " configured=%u (used as it is)", f->cfg.stream, si->Config->Replicas, f->cfg.replicas);
	uv_mutex_lock(&f->mu);
	f->stream_last = si->State.LastSeq;
	uv_mutex_unlock(&f->mu);
	jsStreamInfo_Destroy(si);
	return 0;
}

static int load_row(const sg__outbox_row *r, void *ctx)
{
	sg__fleet *f = ctx;
	row *x = calloc(1, sizeof(*x));
	if (!x || !(x->data = malloc(r->len ? r->len : 1))) {
		free(x);
		return -ENOMEM;
	}
	x->id = r->id;
	sg__strlcpy(x->subject, r->subject, sizeof(x->subject));
	sg__strlcpy(x->msg_id, r->msg_id, sizeof(x->msg_id));
	memcpy(x->data, r->data, r->len);
	x->len = r->len;
	x->next = f->rows;
	f->rows = x;
	return 0;
}

int sg__fleet_start(uv_loop_t *loop, sg_engine *engine, const sg__config *cfg, sg__fleet **ret, char *err,
		    size_t errlen)
{
	sg__fleet *f = calloc(1, sizeof(*f));
	if (!f || !(f->ring = calloc(RING, sizeof(*f->ring)))) {
		free(f);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	f->loop = loop;
	f->engine = engine;
	f->cfg = cfg->replication;
	f->max_queue = cfg->limits.writer_queue ? cfg->limits.writer_queue : 1;
	snprintf(f->subj_all, sizeof(f->subj_all), "%s.>", f->cfg.stream);
	uv_mutex_init(&f->mu);
	uv_cond_init(&f->cond);
	int rc = sg__outbox_open(cfg->data_dir, &f->outbox);
	if (rc) {
		fail(err, errlen, rc, "cannot open the outbox in %s/fleet-outbox: %s", cfg->data_dir, sg_strerror(rc));
		goto fail_early;
	}
	natsOptions *o = NULL;
	const char *servers[SG__REPL_MAX_SERVERS];
	for (unsigned i = 0; i < f->cfg.nservers; i++)
		servers[i] = f->cfg.servers[i];
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, servers, (int)f->cfg.nservers);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, f->cfg.node);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK)
		s = natsConnection_Connect(&f->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		rc = fail(err, errlen, SG_ECONFIG, "replication.servers: cannot connect to any of %s%s (%s)",
			  f->cfg.servers[0], f->cfg.nservers > 1 ? ", ..." : "", natsStatus_GetText(s));
		goto fail_early;
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = f->cfg.publish_timeout_ms;
	jo.PublishAsync.MaxPending = 8192;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = f;
	if ((s = natsConnection_JetStream(&f->js, f->nc, &jo)) != NATS_OK) {
		rc = fail(err, errlen, SG_ECONFIG, "replication.servers: no JetStream context (%s)", natsStatus_GetText(s));
		goto fail_early;
	}
	if ((rc = ensure_stream(f, err, errlen)))
		goto fail_early;
	if ((rc = sg__outbox_foreach(f->outbox, load_row, f))) {
		fail(err, errlen, rc, "cannot read the outbox in %s/fleet-outbox: %s", cfg->data_dir, sg_strerror(rc));
		goto fail_early;
	}
	unsigned nrows = 0;
	row *oldest_first = NULL;
	while (f->rows) { /* loaded newest first */
		row *r = f->rows;
		f->rows = r->next;
		r->next = oldest_first;
		oldest_first = r;
		nrows++;
	}
	f->rows = oldest_first;
	if (sg_log_position(engine, &f->applied) != 0)
		f->applied = 0;
	f->contact_ms = now_ms();
	if ((rc = uv_async_init(loop, &f->async, on_async))) {
		fail(err, errlen, rc, "uv_async_init: %s", uv_strerror(rc));
		goto fail_early;
	}
	f->async.data = f;
	if ((rc = uv_thread_create(&f->apply_thread, apply_main, f)) ||
	    (rc = uv_thread_create(&f->pub_thread, pub_main, f))) {
		/* not reached in practice; a half-started node is not used */
		fail(err, errlen, rc, "cannot start the fleet threads: %s", uv_strerror(rc));
		abort();
	}
	sg__info("fleet", "node started node=%s stream=%s servers=%u applied=%" PRIu64 " stream_last=%" PRIu64
		 " outbox_rows=%u", f->cfg.node, f->cfg.stream, f->cfg.nservers, f->applied, f->stream_last, nrows);
	*ret = f;
	return 0;
fail_early:
	for (row *r = f->rows, *next; r; r = next) {
		next = r->next;
		free(r->data);
		free(r);
	}
	jsCtx_Destroy(f->js);
	natsConnection_Destroy(f->nc);
	sg__outbox_close(f->outbox);
	uv_mutex_destroy(&f->mu);
	uv_cond_destroy(&f->cond);
	free(f->ring);
	free(f);
	return rc ? rc : -EIO;
}
