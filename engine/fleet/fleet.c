/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node on NATS JetStream (fleet.h, docs/fleet.md): start-up (the
 * connection, the stream, the outbox read back), submit, the loop side,
 * /healthz and /metrics, stop. The threads: publish.c and apply.c. */
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

bool sg__fleet_available(void)
{
	return true;
}

/* mu held: finish j with its status already set. */
void sg__fleet_post_done(sg__fleet *f, fjob *j)
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
void sg__fleet_complete(sg__fleet *f, fjob *j)
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
	sg__fleet_post_done(f, j);
}

void sg__fleet_finish(sg__fleet *f, fjob *j)
{
	if (j->ob_rc) {
		/* in the stream and applied, but not in the outbox: not durable
		 * as promised, so not acknowledged (the provider's retry is a
		 * duplicate, answered as this delivery) */
		j->job->status = j->ob_rc;
		sg__fleet_post_done(f, j);
	} else {
		sg__fleet_complete(f, j);
	}
}

bool sg__fleet_finish_ready(sg__fleet *f)
{
	bool any = false;
	for (fjob **pp = &f->waiting; *pp;) {
		fjob *j = *pp;
		if (sg__fleet_ready(f, j)) {
			*pp = j->next;
			sg__fleet_finish(f, j);
			any = true;
		} else {
			pp = &j->next;
		}
	}
	return any;
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
	free(f->ob_del);
	free(f->rel);
	free(f->holds);
	jsCtx_Destroy(f->js);
	natsConnection_Destroy(f->nc);
	nats_Close(); /* libnats's own threads and memory: one fleet per process */
	for (subctx *sc = f->subctxs, *next; sc; sc = next) {
		next = sc->next;
		free(sc);
	}
	sg__outbox_close(f->outbox);
	uv_mutex_destroy(&f->mu);
	uv_cond_destroy(&f->cond);
	uv_cond_destroy(&f->obcond);
	uv_cond_destroy(&f->acond);
	uv_cond_destroy(&f->aspace);
	free(f->optouts);
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
	bool exited = f->pub_exited && f->apply_exited && f->house_exited && f->ob_exited && f->stopping;
	uv_mutex_unlock(&f->mu);
	while (list) {
		fjob *next = list->next;
		sg__wjob *w = list->job;
		/* a job answered before its outbox row was written (503, stopping):
		 * the outbox writer still reads the row from it and frees it */
		uv_mutex_lock(&f->mu);
		bool writing = list->ob_pending;
		list->job = NULL;
		list->orphan = writing;
		uv_mutex_unlock(&f->mu);
		if (!writing)
			fjob_free(list);
		w->done(w);
		list = next;
	}
	if (exited && f->stop_called && !uv_is_closing((uv_handle_t *)&f->async)) {
		uv_thread_join(&f->pub_thread);
		uv_thread_join(&f->ob_thread);
		uv_thread_join(&f->apply_thread);
		uv_thread_join(&f->house_thread);
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
	j->deadline_us = j->t0 + (int64_t)f->cfg.publish_timeout_ms * 1000;
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
	sg__fleet_keys(ev, job->nevents, &j->keys);
	snprintf(j->subject, sizeof(j->subject), "%s.%s", f->cfg.stream, registry ? "registry" : "consent");
	sg__strlcpy(j->msg_id, key ? key : "", sizeof(j->msg_id));
	job->status = 0;
	uv_mutex_lock(&f->mu);
	if (f->stopping) {
		rc = -ESHUTDOWN;
	} else if (f->diverged || f->broken) {
		rc = -EAGAIN; /* fail closed: another node answers (503 + Retry-After) */
	} else if (f->qlen + f->npipe >= f->max_queue) {
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

void sg__fleet_gate(sg__fleet *f, const char *from, const char *const *to, sg_verdict *v, size_t n)
{
	uv_mutex_lock(&f->mu);
	bool diverged = f->diverged || f->broken;
	/* stale: deny, unless the operator chose availability (onStale
	 * "allow"): then this node's own state answers, opt-outs still deny */
	bool stale = f->cfg.max_stale_ms && now_ms() - f->contact_ms > (int64_t)f->cfg.max_stale_ms &&
		     !f->cfg.stale_allow;
	bool overlay = f->noptouts > 0;
	uv_mutex_unlock(&f->mu);
	if (!diverged && !stale && overlay && from && to) {
		/* an opt-out delivered, not yet applied: its recipient denies now
		 * (the recipient read as the check reads it) */
		char fk[SG_KEY_MAX], tk[SG_KEY_MAX], cc[3];
		const char *dc = sg_engine_default_country(f->engine);
		if (!sg_number_normalize(from, strlen(from), dc, SG_FIELD_ADDRESS, fk, NULL)) {
			const char *tc = sg_number_country(fk, cc) == 0 ? cc : dc;
			for (size_t i = 0; i < n; i++) {
				if (!v[i].allow || v[i].confirmation || !to[i] ||
				    sg_number_normalize(to[i], strlen(to[i]), tc, SG_FIELD_NUMBER, tk, NULL))
					continue;
				uint64_t h = sg__fleet_key_hash(tk);
				uv_mutex_lock(&f->mu);
				bool held = f->optouts[h % HOLD_SLOTS] > 0;
				uv_mutex_unlock(&f->mu);
				if (held)
					v[i] = (sg_verdict){.allow = false, .reason = SG_REASON_OPTED_OUT};
			}
		}
	}
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
		 rep = f->republished, msgs = f->applied_msgs, unsynced = f->ob_unsynced,
		 deleted = f->ob_deleted;
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
		       "# HELP stopgate_fleet_outbox_unsynced Outbox rows queued or being written, not yet known durable.\n"
		       "# TYPE stopgate_fleet_outbox_unsynced gauge\nstopgate_fleet_outbox_unsynced %" PRIu64 "\n"
		       "# HELP stopgate_fleet_outbox_deleted_total Acknowledged outbox rows deleted (outboxKeepMs old).\n"
		       "# TYPE stopgate_fleet_outbox_deleted_total counter\nstopgate_fleet_outbox_deleted_total %" PRIu64 "\n"
		       "# HELP stopgate_fleet_stale 1 when the node has not heard from the stream for maxStaleMs.\n"
		       "# TYPE stopgate_fleet_stale gauge\nstopgate_fleet_stale %d\n"
		       "# HELP stopgate_fleet_diverged 1 when this node failed closed (replica_diverged).\n"
		       "# TYPE stopgate_fleet_diverged gauge\nstopgate_fleet_diverged %d\n",
		       applied, last, msgs, pub, to, rep, unsynced, deleted, stale ? 1 : 0, diverged ? 1 : 0);
}

void sg__fleet_stop(sg__fleet *f, void (*cb)(void *arg), void *arg)
{
	f->close_cb = cb;
	f->close_arg = arg;
	f->stop_called = true;
	uv_mutex_lock(&f->mu);
	f->stopping = true;
	uv_cond_signal(&f->cond);
	uv_cond_signal(&f->obcond);
	uv_cond_broadcast(&f->acond);
	uv_cond_broadcast(&f->aspace);
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
	/* its recipients held until it is acknowledged (no later write of
	 * theirs overtakes it); a row that does not decode holds everything */
	sg_event_in ev[SG__FLEET_MSG_MAX_EVENTS];
	size_t n = 0;
	if (sg__fleet_decode(x->data, x->len, ev, SG__FLEET_MSG_MAX_EVENTS, &n) == 0)
		sg__fleet_keys(ev, n, &x->keys);
	else
		x->keys = (keys){.global = true};
	sg__fleet_hold(f, &x->keys);
	x->next = f->rows;
	f->rows = x;
	if (x->id > f->ob_settled)
		f->ob_settled = x->id; /* on disk: deleted once acknowledged and outboxKeepMs old */
	return 0;
}

int sg__fleet_start(uv_loop_t *loop, sg_engine *engine, const sg__config *cfg, sg__fleet **ret, char *err,
		    size_t errlen)
{
	sg__fleet *f = calloc(1, sizeof(*f));
	if (!f || !(f->ring = calloc(RING, sizeof(*f->ring))) ||
	    !(f->holds = calloc(HOLD_SLOTS, sizeof(*f->holds))) ||
	    !(f->optouts = calloc(HOLD_SLOTS, sizeof(*f->optouts)))) {
		if (f) {
			free(f->ring);
			free(f->holds);
		}
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
	uv_cond_init(&f->obcond);
	uv_cond_init(&f->acond);
	uv_cond_init(&f->aspace);
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
	jo.PublishAsync.AckHandler = sg__fleet_on_ack;
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
	if ((rc = uv_thread_create(&f->apply_thread, sg__fleet_apply_main, f)) ||
	    (rc = uv_thread_create(&f->ob_thread, sg__fleet_ob_main, f)) ||
	    (rc = uv_thread_create(&f->pub_thread, sg__fleet_pub_main, f)) ||
	    (rc = uv_thread_create(&f->house_thread, sg__fleet_house_main, f))) {
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
	uv_cond_destroy(&f->obcond);
	uv_cond_destroy(&f->acond);
	uv_cond_destroy(&f->aspace);
	free(f->ring);
	free(f->holds);
	free(f->optouts);
	free(f);
	return rc ? rc : -EIO;
}
