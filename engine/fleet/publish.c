/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node's publisher thread (fleet/node.h): each group of writes
 * gets its outbox ids and is queued for the outbox writer (durable.c) and
 * published at once with Nats-Msg-Id, pipelined (PIPELINE_MAX in flight),
 * one unacknowledged message per recipient at a time; the PubAck handler
 * (a libnats thread); rows without a PubAck published again; read
 * barriers. The outbox commit and the publish, PubAck and apply run side
 * by side; a write is answered once all of them are done (node.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "fleet/codec.h"
#include "fleet/node.h"
#include "internal.h"

/* ---- the recipients held by unacknowledged messages ---- */

uint64_t sg__fleet_key_hash(const char *key)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const unsigned char *c = (const unsigned char *)key; *c; c++)
		h = (h ^ *c) * 1099511628211ull;
	return h;
}

void sg__fleet_keys(const sg_event_in *ev, size_t n, keys *k)
{
	*k = (keys){0};
	for (size_t i = 0; i < n; i++) {
		if (ev[i].action == SG_ACTION_CAMPAIGN || ev[i].action == SG_ACTION_SENDER || !ev[i].recipient ||
		    !ev[i].recipient[0] || k->n == MAX_KEYS) {
			k->global = true; /* the registry, or no recipient: in order with everything */
			continue;
		}
		k->h[k->n++] = sg__fleet_key_hash(ev[i].recipient);
	}
}

void sg__fleet_hold(sg__fleet *f, const keys *k)
{
	f->held_total++;
	if (k->global)
		f->global_holds++;
	for (unsigned i = 0; i < k->n; i++)
		f->holds[k->h[i] % HOLD_SLOTS]++;
}

void sg__fleet_release(sg__fleet *f, const keys *k)
{
	f->held_total--;
	if (k->global)
		f->global_holds--;
	for (unsigned i = 0; i < k->n; i++)
		f->holds[k->h[i] % HOLD_SLOTS]--;
}

/* Whether an earlier unacknowledged message holds one of k's recipients. */
static bool held(const sg__fleet *f, const keys *k)
{
	if (f->global_holds || (k->global && f->held_total))
		return true;
	for (unsigned i = 0; i < k->n; i++)
		if (f->holds[k->h[i] % HOLD_SLOTS])
			return true;
	return false;
}

/* ---- the ack handler (a libnats thread) ---- */

/* mu held: j out of the in-flight list (prev: the one before it, or NULL). */
static void inflight_unlink(sg__fleet *f, fjob *prev, fjob *j)
{
	if (prev)
		prev->next = j->next;
	else
		f->inflight = j->next;
	if (f->inflight_tail == j)
		f->inflight_tail = prev;
	j->next = NULL;
	f->ninflight--;
}

void sg__fleet_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	(void)js;
	(void)pae;
	sg__fleet *f = closure;
	const char *idv = NULL;
	bool post = false;
	if (natsMsgHeader_Get(msg, "Sg-Outbox", &idv) == NATS_OK && idv) {
		uint64_t id = strtoull(idv, NULL, 10);
		int64_t now = sg_now_us();
		uv_mutex_lock(&f->mu);
		fjob *prev = NULL, *j = f->inflight;
		while (j && j->outbox_id != id) {
			prev = j;
			j = j->next;
		}
		/* not found: stopped, or timed out before (its row is published again) */
		if (j) {
			inflight_unlink(f, prev, j);
			if (pa && f->nrel == f->relcap) {
				size_t cap = f->relcap ? 2 * f->relcap : 256;
				released *r = realloc(f->rel, cap * sizeof(*r));
				if (r) {
					f->rel = r;
					f->relcap = cap;
				} else {
					pa = NULL; /* as if no ack came: published again (a duplicate) */
				}
			}
			if (pa) {
				f->rel[f->nrel++] = (released){j->outbox_id, now, j->keys};
				f->npipe--;
				f->published++;
				j->acked = true;
				j->seq = pa->Sequence;
				j->dup = pa->Duplicate;
				/* answered once the applier passed it and its outbox row
				 * is durable, as soon as both are */
				if (sg__fleet_ready(f, j)) {
					sg__fleet_finish(f, j);
					post = true;
				} else {
					j->next = f->waiting;
					f->waiting = j;
				}
			} else {
				j->failed = true;
				j->next = f->failed;
				f->failed = j;
			}
			/* the publisher: at once when jobs wait for a recipient this
			 * releases, or on a failure; otherwise at its next wake */
			if (!pa || f->pend_held)
				uv_cond_signal(&f->cond);
		}
		uv_mutex_unlock(&f->mu);
	}
	natsMsg_Destroy(msg);
	if (post)
		uv_async_send(&f->async);
}

/* ---- the publisher thread ---- */

static natsStatus publish_async(sg__fleet *f, const char *subject, const char *msg_id, uint64_t id,
				const uint8_t *data, size_t len, int64_t wait_ms)
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
		po.MaxWait = wait_ms > 0 ? wait_ms : 1;
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

/* A row without a PubAck: kept in memory to be published again, in id
 * order, holding its recipients until then (was_held: they are already,
 * the message was in flight). Without memory the row stays on disk only
 * (published on the next start) and its recipients stay held: later
 * writes for them are refused until then (fail closed). */
static void keep_row(sg__fleet *f, const fjob *j, bool was_held)
{
	if (!was_held)
		sg__fleet_hold(f, &j->keys);
	row *r = calloc(1, sizeof(*r));
	if (!r || !(r->data = malloc(j->msg.len ? j->msg.len : 1))) {
		free(r);
		return;
	}
	r->id = j->outbox_id;
	memcpy(r->subject, j->subject, sizeof(r->subject));
	memcpy(r->msg_id, j->msg_id, sizeof(r->msg_id));
	memcpy(r->data, j->msg.p, j->msg.len);
	r->len = j->msg.len;
	r->keys = j->keys;
	row **pp = &f->rows; /* oldest first */
	while (*pp && (*pp)->id < r->id)
		pp = &(*pp)->next;
	r->next = *pp;
	*pp = r;
}

/* Republish rows without a PubAck (one at a time, synchronously, oldest
 * first: a row's recipients stay held until its PubAck), and delete
 * acknowledged rows older than outboxKeepMs. Returns true when rows are
 * left and the servers answer (call again soon). */
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
		sg__fleet_release(f, &r->keys);
		f->rows = r->next;
		free(r->data);
		free(r);
	}
	bool more = f->rows && !failed;
	size_t n = 0;
	int64_t keep = (int64_t)f->cfg.outbox_keep_ms * 1000;
	uv_mutex_lock(&f->mu);
	uint64_t settled = f->ob_settled; /* a row still being written is not deleted before it is */
	uv_mutex_unlock(&f->mu);
	while (n < f->alen && now - f->acked[(f->ahead + n) % f->acap].acked_us > keep &&
	       f->acked[(f->ahead + n) % f->acap].id <= settled)
		n++;
	if (!n)
		return more;
	/* deleted in the outbox writer's next transaction (durable.c): no
	 * flush of their own, and the publisher does not wait for the disk */
	uv_mutex_lock(&f->mu);
	if (f->ob_ndel + n > f->ob_delcap) {
		size_t cap = f->ob_delcap ? f->ob_delcap : 1024;
		while (cap < f->ob_ndel + n)
			cap *= 2;
		uint64_t *d = realloc(f->ob_del, cap * sizeof(*d));
		if (!d) {
			uv_mutex_unlock(&f->mu);
			return more; /* kept: tried again next time */
		}
		f->ob_del = d;
		f->ob_delcap = cap;
	}
	for (size_t i = 0; i < n; i++)
		f->ob_del[f->ob_ndel++] = f->acked[(f->ahead + i) % f->acap].id;
	uv_cond_signal(&f->obcond);
	uv_mutex_unlock(&f->mu);
	f->ahead = (f->ahead + n) % f->acap;
	f->alen -= n;
	return more;
}

/* Read barriers (consistency=leader): the stream's last sequence now, then
 * wait for the applier to pass it. */
static void barriers(sg__fleet *f, fjob *list)
{
	uint64_t last = 0;
	bool ok = sg__fleet_stream_last(f, &last);
	uv_mutex_lock(&f->mu);
	for (fjob *j = list, *next; j; j = next) {
		next = j->next;
		f->npipe--;
		if (!ok) {
			j->job->status = -EAGAIN; /* the stream does not answer: 503 */
			sg__fleet_post_done(f, j);
		} else if ((j->seq = last) <= f->applied) {
			sg__fleet_finish(f, j);
		} else {
			j->next = f->waiting;
			f->waiting = j;
		}
	}
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}

/* mu held: j failed (status st), the row kept for publishing again. */
static void fail_job(sg__fleet *f, fjob *j, int st)
{
	j->job->status = st;
	sg__fleet_post_done(f, j);
}

/* New jobs: their outbox ids, their rows queued for the outbox writer
 * (durable.c), and queued for publishing in that order. Publishing does
 * not wait for the rows: the answer does (sg__fleet_ready). */
static void take_group(sg__fleet *f, fjob *list)
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
	fjob *t = list;
	for (fjob *j = list; j; j = j->next, n++)
		t = j;
	uint64_t id = 0;
	int rc = sg__outbox_ids(f->outbox, n, &id);
	if (rc) {
		sg__err("fleet", "outbox ids failed events=%zu error=\"%s\"", n, sg_strerror(rc));
		uv_mutex_lock(&f->mu);
		f->npipe -= (unsigned)n;
		for (fjob *j = list, *next; j; j = next) {
			next = j->next;
			fail_job(f, j, rc);
		}
		uv_mutex_unlock(&f->mu);
		uv_async_send(&f->async);
		return;
	}
	for (fjob *j = list; j; j = j->next) {
		j->outbox_id = id++;
		if (!j->msg_id[0]) /* no de-dup key: the node's own, never reused */
			sg__outbox_own_id(f->cfg.node, j->outbox_id, j->msg_id, sizeof(j->msg_id));
		j->ob_pending = true;
		j->obnext = j->next;
	}
	uv_mutex_lock(&f->mu);
	if (f->ob_tail)
		f->ob_tail->obnext = list;
	else
		f->ob_head = list;
	f->ob_tail = t;
	f->ob_unsynced += n;
	uv_cond_signal(&f->obcond);
	uv_mutex_unlock(&f->mu);
	if (f->pend_tail)
		f->pend_tail->next = list;
	else
		f->pend = list;
	f->pend_tail = t;
}

/* Publish the queued jobs whose recipients no earlier unacknowledged
 * message holds, in order, up to PIPELINE_MAX in flight. A held job stays
 * and holds its own recipients for the rest of the pass, so jobs for one
 * recipient leave in their order. */
static void publish_ready(sg__fleet *f)
{
	fjob *kept = NULL, **kp = &kept; /* held jobs, in order */
	fjob *j = f->pend;
	unsigned lost = 0;
	while (j) {
		uv_mutex_lock(&f->mu);
		bool full = f->ninflight >= PIPELINE_MAX;
		uv_mutex_unlock(&f->mu);
		if (full)
			break; /* j and the rest stay as they are */
		fjob *next = j->next;
		j->next = NULL;
		if (held(f, &j->keys)) {
			sg__fleet_hold(f, &j->keys); /* for this pass only */
			*kp = j;
			kp = &j->next;
			j = next;
			continue;
		}
		sg__fleet_hold(f, &j->keys); /* until its PubAck */
		/* in flight before publishing: the ack may come at once */
		uv_mutex_lock(&f->mu);
		if (f->inflight_tail)
			f->inflight_tail->next = j;
		else
			f->inflight = j;
		f->inflight_tail = j;
		f->ninflight++;
		uv_mutex_unlock(&f->mu);
		natsStatus s = publish_async(f, j->subject, j->msg_id, j->outbox_id, (const uint8_t *)j->msg.p,
					     j->msg.len, (j->deadline_us - sg_now_us()) / 1000);
		if (s != NATS_OK) {
			uv_mutex_lock(&f->mu);
			fjob *prev = NULL, *x = f->inflight;
			while (x && x != j) {
				prev = x;
				x = x->next;
			}
			if (x) { /* not taken by the ack handler: failed here */
				inflight_unlink(f, prev, j);
				f->npipe--;
				f->publish_timeouts++;
				keep_row(f, j, true);
				fail_job(f, j, -EAGAIN);
				lost++;
			}
			uv_mutex_unlock(&f->mu);
		}
		j = next;
	}
	/* the pass's holds off again; the held jobs in front of the rest */
	for (fjob *x = kept; x; x = x->next)
		sg__fleet_release(f, &x->keys);
	*kp = j;
	f->pend = kept;
	fjob *t = f->pend;
	while (t && t->next)
		t = t->next;
	f->pend_tail = t;
	uv_mutex_lock(&f->mu);
	f->pend_held = f->pend != NULL;
	uv_mutex_unlock(&f->mu);
	if (lost) {
		uv_async_send(&f->async);
		sg__warn("fleet", "publish failed events=%u", lost);
	}
}

/* Jobs without a PubAck: an error from the servers (the ack handler put
 * them in f->failed), past their deadline in flight (libnats did not
 * answer), or held back until their deadline. 503 + Retry-After; each row
 * is published again in id order. */
static void expire(sg__fleet *f, bool scan)
{
	int64_t now = sg_now_us();
	unsigned lost = 0;
	uv_mutex_lock(&f->mu);
	fjob *failed = f->failed;
	f->failed = NULL;
	if (scan)
		for (fjob *prev = NULL, *j = f->inflight, *next; j; j = next) {
			next = j->next;
			if (now > j->deadline_us + 500000) {
				inflight_unlink(f, prev, j);
				j->next = failed;
				failed = j;
			} else {
				prev = j;
			}
		}
	for (fjob *j = failed, *next; j; j = next) {
		next = j->next;
		f->npipe--;
		f->publish_timeouts++;
		keep_row(f, j, true);
		fail_job(f, j, -EAGAIN);
		lost++;
	}
	if (scan) {
		fjob *prev = NULL;
		for (fjob *j = f->pend, *next; j; j = next) {
			next = j->next;
			if (now > j->deadline_us) {
				if (prev)
					prev->next = next;
				else
					f->pend = next;
				f->npipe--;
				f->publish_timeouts++;
				keep_row(f, j, false);
				fail_job(f, j, -EAGAIN);
				lost++;
			} else {
				prev = j;
			}
		}
		f->pend_tail = prev;
	}
	uv_mutex_unlock(&f->mu);
	if (lost) {
		uv_async_send(&f->async);
		sg__warn("fleet", "no PubAck in time events=%u timeout_ms=%u", lost, f->cfg.publish_timeout_ms);
	}
}

/* Acknowledged messages: their recipients released, their rows kept
 * until outboxKeepMs old. */
static void take_released(sg__fleet *f, released **buf, size_t *cap)
{
	uv_mutex_lock(&f->mu);
	released *r = f->rel;
	size_t n = f->nrel, rcap = f->relcap;
	f->rel = *buf;
	f->relcap = *cap;
	f->nrel = 0;
	*buf = r;
	*cap = rcap;
	uv_mutex_unlock(&f->mu);
	for (size_t i = 0; i < n; i++) {
		sg__fleet_release(f, &r[i].keys);
		note_acked(f, r[i].id, r[i].acked_us);
	}
}

/* Stopping: every job not yet answered is answered -ESHUTDOWN (its row
 * stays in the outbox and is published on the next start). */
static void shutdown_jobs(sg__fleet *f, fjob *list)
{
	uv_mutex_lock(&f->mu);
	fjob *lists[] = {list, f->inflight, f->failed, f->pend};
	f->inflight = f->inflight_tail = f->failed = NULL;
	f->ninflight = 0;
	f->pend = f->pend_tail = NULL;
	for (size_t k = 0; k < sizeof(lists) / sizeof(lists[0]); k++)
		for (fjob *j = lists[k], *next; j; j = next) {
			next = j->next;
			fail_job(f, j, -ESHUTDOWN);
		}
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}

void sg__fleet_pub_main(void *arg)
{
	sg__fleet *f = arg;
	name_thread("sg-fleet-pub");
	int64_t last_tend = 0, last_scan = 0;
	bool more = false; /* outbox rows left to republish: no idle wait */
	released *rbuf = NULL;
	size_t rcap = 0;
	for (;;) {
		uv_mutex_lock(&f->mu);
		if (!f->qhead && !f->stopping && !more && !(f->nrel && f->pend_held) && !f->failed)
			uv_cond_timedwait(&f->cond, &f->mu,
					  (uint64_t)(f->pend || f->inflight ? 50 : RETRY_MS) * 1000000);
		fjob *list = f->qhead;
		f->npipe += f->qlen;
		f->qhead = f->qtail = NULL;
		f->qlen = 0;
		bool stop = f->stopping;
		uv_mutex_unlock(&f->mu);
		if (stop) {
			shutdown_jobs(f, list);
			break;
		}
		take_released(f, &rbuf, &rcap);
		bool scan = now_ms() - last_scan >= 50;
		if (scan)
			last_scan = now_ms();
		expire(f, scan);
		if (list)
			take_group(f, list);
		if (f->pend)
			publish_ready(f);
		if (more || now_ms() - last_tend >= RETRY_MS) {
			last_tend = now_ms();
			more = tend_rows(f);
		}
	}
	free(rbuf);
	uv_mutex_lock(&f->mu);
	f->pub_exited = true;
	uv_cond_signal(&f->obcond); /* the outbox writer: nothing more comes */
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}
