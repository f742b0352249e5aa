/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node's applier thread (fleet/node.h): an ordered consumer
 * from the store's stream position + 1, batches applied in stream order
 * with sg_record_logged(), waiters finished from the applied results; the
 * stream's last sequence and the chain heads on a timer. */
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

/* The opt-outs of one stream message, hashed (the overlay, node.h). */
static void optout_keys(const natsMsg *m, keys *k)
{
	sg_event_in ev[SG__FLEET_MSG_MAX_EVENTS];
	size_t n = 0;
	*k = (keys){0};
	if (sg__fleet_decode((const uint8_t *)natsMsg_GetData((natsMsg *)m), (size_t)natsMsg_GetDataLength((natsMsg *)m),
			     ev, SG__FLEET_MSG_MAX_EVENTS, &n))
		return; /* the applier finds it bad and stops */
	for (size_t i = 0; i < n; i++)
		if (ev[i].action == SG_ACTION_OPT_OUT && ev[i].recipient && ev[i].recipient[0] && k->n < MAX_KEYS)
			k->h[k->n++] = sg__fleet_key_hash(ev[i].recipient);
}

/* mu held: one delivered message out of the overlay. */
static void q_release(sg__fleet *f, qmsg *q)
{
	if (q->oo.n) {
		f->noptouts--;
		for (unsigned i = 0; i < q->oo.n; i++)
			f->optouts[q->oo.h[i] % HOLD_SLOTS]--;
	}
}

/* The delivery callback (a libnats thread, in stream order): the message's
 * opt-outs deny at once (sg__fleet_gate), before the applier commits it;
 * then it is queued for the applier. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	(void)nc, (void)sub;
	subctx *sc = closure;
	sg__fleet *f = sc->f;
	qmsg *q = calloc(1, sizeof(*q));
	if (!q) {
		natsMsg_Destroy(m);
		uv_mutex_lock(&f->mu);
		f->lost_delivery = true; /* the applier subscribes again from its position */
		uv_mutex_unlock(&f->mu);
		return;
	}
	q->m = m;
	optout_keys(m, &q->oo);
	uv_mutex_lock(&f->mu);
	while (f->aq_len >= AQ_MAX && sc->gen == f->sub_gen && !f->stopping)
		uv_cond_timedwait(&f->aspace, &f->mu, 100 * 1000000ull); /* the applier is behind */
	if (sc->gen != f->sub_gen || f->stopping) {
		uv_mutex_unlock(&f->mu); /* an old subscription's message */
		natsMsg_Destroy(m);
		free(q);
		return;
	}
	if (q->oo.n) {
		f->noptouts++;
		for (unsigned i = 0; i < q->oo.n; i++)
			f->optouts[q->oo.h[i] % HOLD_SLOTS]++;
	}
	if (f->aq_tail)
		f->aq_tail->next = q;
	else
		f->aq_head = q;
	f->aq_tail = q;
	f->aq_len++;
	uv_cond_signal(&f->acond);
	uv_mutex_unlock(&f->mu);
}

/* Drop the queued messages; messages of the current subscription that
 * come later are dropped too (the applier subscribes again or stops). */
static void q_drain(sg__fleet *f)
{
	uv_mutex_lock(&f->mu);
	qmsg *q = f->aq_head;
	f->aq_head = f->aq_tail = NULL;
	f->aq_len = 0;
	for (qmsg *x = q; x; x = x->next)
		q_release(f, x);
	f->sub_gen++;
	f->lost_delivery = false;
	uv_cond_broadcast(&f->aspace);
	uv_mutex_unlock(&f->mu);
	while (q) {
		qmsg *next = q->next;
		natsMsg_Destroy(q->m);
		free(q);
		q = next;
	}
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
	subctx *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	uv_mutex_lock(&f->mu);
	sc->f = f;
	sc->gen = f->sub_gen;
	sc->next = f->subctxs; /* freed once libnats is closed (a callback may still hold it) */
	f->subctxs = sc;
	uv_mutex_unlock(&f->mu);
	natsSubscription *sub = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_Subscribe(&sub, f->js, f->subj_all, on_msg, sc, NULL, &so, &jerr);
	if (s != NATS_OK) {
		sg__warn("fleet", "cannot subscribe to the stream error=\"%s\" jserr=%d", natsStatus_GetText(s), (int)jerr);
		return NULL;
	}
	/* the callback takes every message at once; the applier's queue is bounded (AQ_MAX) */
	natsSubscription_SetPendingLimits(sub, 1 << 20, 1 << 30);
	return sub;
}

/* The stream's last sequence now (0 and false when it does not answer). */
bool sg__fleet_stream_last(sg__fleet *f, uint64_t *last)
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
	sg__fleet_finish_ready(f); /* those whose outbox row is durable too */
	bool any = f->dhead != NULL;
	uv_mutex_unlock(&f->mu);
	if (any)
		uv_async_send(&f->async);
	return 0;
}

/* ---- the housekeeping thread: requests to the servers that take a round
 * trip or several (the stream's last sequence, the chain heads), kept off
 * the applier so a slow answer never delays applying ---- */

void sg__fleet_house_main(void *arg)
{
	sg__fleet *f = arg;
	name_thread("sg-fleet-house");
	int64_t last_info = 0, last_heads = 0;
	for (;;) {
		uv_mutex_lock(&f->mu);
		bool stop = f->stopping;
		uv_mutex_unlock(&f->mu);
		if (stop)
			break;
		if (now_ms() - last_info >= 1000) {
			last_info = now_ms();
			sg__fleet_stream_last(f, NULL);
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
		uv_sleep(100);
	}
	sg__heads_close(f->heads);
	f->heads = NULL;
	uv_mutex_lock(&f->mu);
	f->house_exited = true;
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}

void sg__fleet_apply_main(void *arg)
{
	sg__fleet *f = arg;
	name_thread("sg-fleet-apply");
	batch *b = calloc(1, sizeof(*b));
	uint64_t pos = 0;
	natsSubscription *sub = NULL;
	while (b) {
		uv_mutex_lock(&f->mu);
		bool stop = f->stopping, broken = f->broken;
		uv_mutex_unlock(&f->mu);
		if (stop)
			break;
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
		uv_mutex_lock(&f->mu);
		if (!f->aq_head && !f->stopping && !f->lost_delivery)
			uv_cond_timedwait(&f->acond, &f->mu, 200 * 1000000ull);
		qmsg *items = f->aq_head, *last = NULL;
		unsigned k = 0;
		for (qmsg *x = items; x && k < APPLY_BATCH; x = x->next, k++)
			last = x;
		if (last) {
			f->aq_head = last->next;
			if (!f->aq_head)
				f->aq_tail = NULL;
			last->next = NULL;
			f->aq_len -= k;
			uv_cond_broadcast(&f->aspace);
		}
		bool lost = f->lost_delivery;
		uv_mutex_unlock(&f->mu);
		if (!items) {
			if (lost || !natsSubscription_IsValid(sub)) {
				sg__warn("fleet", "stream subscription %s; subscribing again",
					 lost ? "lost a message (out of memory)" : "ended");
				q_drain(f); /* first: a callback waiting for room gives up */
				natsSubscription_Destroy(sub);
				sub = NULL;
				uv_sleep(200);
			}
			continue;
		}
		/* these messages, one transaction */
		bool ok = true;
		for (qmsg *x = items; x && ok; x = x->next) {
			natsMsg *m = x->m;
			x->m = NULL;
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
		/* applied (or refused, the node then fails closed): out of the overlay */
		uv_mutex_lock(&f->mu);
		for (qmsg *x = items; x; x = x->next)
			q_release(f, x);
		uv_mutex_unlock(&f->mu);
		while (items) {
			qmsg *next = items->next;
			if (items->m)
				natsMsg_Destroy(items->m);
			free(items);
			items = next;
		}
	}
	q_drain(f);
	if (sub)
		natsSubscription_Destroy(sub);
	free(b);
	uv_mutex_lock(&f->mu);
	f->apply_exited = true;
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}

