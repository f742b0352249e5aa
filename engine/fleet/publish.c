/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node's publisher thread (fleet/node.h): each group of writes
 * to the outbox (one synced transaction), published with Nats-Msg-Id, the
 * PubAcks awaited; rows without one published again; read barriers. */
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

/* ---- the ack handler (a libnats thread) ---- */

void sg__fleet_on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
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
	bool ok = sg__fleet_stream_last(f, &last);
	uv_mutex_lock(&f->mu);
	for (fjob *j = list, *next; j; j = next) {
		next = j->next;
		if (!ok) {
			j->job->status = -EAGAIN; /* the stream does not answer: 503 */
			sg__fleet_post_done(f, j);
		} else if ((j->seq = last) <= f->applied) {
			sg__fleet_complete(f, j);
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
			sg__fleet_post_done(f, j);
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
				sg__fleet_complete(f, j);
			} else {
				j->next = f->waiting;
				f->waiting = j;
			}
		} else {
			lost++;
			j->job->status = -EAGAIN; /* 503 + Retry-After; the row stays and is republished */
			sg__fleet_post_done(f, j);
		}
	}
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
	if (lost)
		sg__warn("fleet", "no PubAck in time events=%u timeout_ms=%u", lost, f->cfg.publish_timeout_ms);
}

void sg__fleet_pub_main(void *arg)
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
				sg__fleet_post_done(f, j);
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

