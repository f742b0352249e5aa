/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The write path: sg_record() applies a batch of consent events in one
 * durable LMDB transaction (group commit) — dedup, event-time ordering,
 * consent state, the hash-chained event log and the per-recipient index.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

#include "engine.h"
#include "store/store.h"
#include "internal.h"
#include "store/consent.h"
#include "store/event.h"
#include "store/event_value.h"
#include "store/review.h"
#include "store/log.h"


/* How far ahead of our clock a provider's event time may be (clock skew). */
#define SG__EVENT_TIME_SKEW_US (300 * (int64_t)1000000)

#define REGISTRY_EVENT(a) ((a) == SG_ACTION_CAMPAIGN || (a) == SG_ACTION_SENDER)
/* Recorded in the log only, with no consent state: a redaction, a seal of
 * the send ledger. */
#define LOG_ONLY(a) ((a) == SG_ACTION_REDACT || (a) == SG_ACTION_SENDS)

static bool valid_key(const char *k)
{
	if (!k || !k[0] || strlen(k) >= SG_KEY_MAX)
		return false;
	return k[0] == '+' || !strncmp(k, "sc:", 3) || !strncmp(k, "aid:", 4) || !strncmp(k, "raw:", 4);
}

static int validate(const sg_event_in *ev)
{
	if (ev->action < 0 || ev->action >= SG__ACTION_END)
		return -EINVAL;
	if (ev->override != SG_OVERRIDE_NONE &&
	    (ev->override != SG_OVERRIDE_CONSUMER_REQUEST || ev->action != SG_ACTION_OPT_IN))
		return -EINVAL; /* an override explains an opt-in, nothing else */
	if (ev->action != 0 && (ev->source < SG_SOURCE_KEYWORD || ev->source >= SG__SOURCE_END))
		return -EINVAL;
	if (LOG_ONLY(ev->action) && (ev->recipient || (ev->scope && ev->scope != SG_SCOPE_GLOBAL)))
		return -EINVAL; /* a redaction or a seal concerns no one person: scope global */
	if (REGISTRY_EVENT(ev->action) &&
	    (ev->recipient || !ev->body || !ev->body_len || ev->dedup_key ||
	     (ev->action == SG_ACTION_SENDER && !valid_key(ev->sender))))
		return -EINVAL; /* a registry change: its record in the body, no recipient */
	if (ev->action != 0 && !LOG_ONLY(ev->action) && !REGISTRY_EVENT(ev->action) &&
	    !valid_key(ev->recipient))
		return SG_ENUMBER;
	if (ev->sender && ev->sender[0] && !valid_key(ev->sender))
		return SG_ENUMBER;
	if (ev->scope < SG_SCOPE_DEFAULT || ev->scope > SG_SCOPE_GLOBAL)
		return -EINVAL;
	if (ev->scope == SG_SCOPE_DEFAULT && ev->action != 0 && !LOG_ONLY(ev->action) &&
	    !REGISTRY_EVENT(ev->action) && !(ev->sender && ev->sender[0]))
		return -EINVAL; /* no sender: the scope must be named */
	const char *strs[] = {ev->scope_id, ev->provider, ev->provider_msg_id, ev->dedup_key,
			      ev->rule, ev->reply, ev->note};
	for (size_t i = 0; i < SG_ARRAY_SIZE(strs); i++)
		if (strs[i] && strlen(strs[i]) > SG__EVENT_STR_MAX)
			return SG_ETOOLONG;
	if (ev->scope_id && strlen(ev->scope_id) >= SG_KEY_MAX)
		return SG_ETOOLONG;
	if (ev->dedup_key && strlen(ev->dedup_key) > 500)
		return SG_ETOOLONG; /* LMDB's key limit is 511 bytes */
	if (ev->body_len > 64 * 1024)
		return SG_ETOOLONG;
	return 0;
}

static int append_event(record_ctx *c, MDB_txn *txn, const sg_event_in *ev, const sg__scopes *sc,
			sg_scope_kind scope, const char *scope_id, uint64_t seq, uint8_t head[32])
{
	sg_event e = {
		.seq = seq,
		.time_us = c->now_us,
		.event_time_us = ev->event_time_us ? ev->event_time_us : c->now_us,
		.action = ev->action,
		.source = ev->source,
		.scope = scope,
		.scope_id = scope_id,
		.sender = ev->sender,
		.recipient = ev->recipient,
		.campaign = sc->campaign,
		.brand = sc->brand,
		.provider = ev->provider,
		.provider_msg_id = ev->provider_msg_id,
		.rule = ev->rule,
		.reply = ev->reply,
		.note = ev->note,
		.dedup_key = ev->dedup_key,
		.keywords = ev->keywords,
		.body_len = ev->body_len,
	};
	if (!ev->body && ev->body_len && c->cur)
		memcpy(e.body_sha256, c->cur->body_sha256, 32); /* replayed after its body was redacted */
	else
		sg__sha256(ev->body ? ev->body : "", ev->body ? ev->body_len : 0, e.body_sha256);
	long n = sg__event_encode(&e, c->enc + 64, SG__EVENT_ENC_MAX);
	if (n < 0)
		return (int)n;
	memcpy(c->enc + 32, head, 32);
	sg__event_hash(c->enc + 32, 32 + (size_t)n, c->enc);
	memcpy(head, c->enc, 32);

	uint8_t key[8];
	sg__be64_put(key, seq);
	/* Stored compact (event_value.h); the full form for tests of old stores. */
	MDB_val k = sg__val(key, 8), v = sg__val(c->enc, 64 + (size_t)n);
	/* A short message body inline (not a registry record: retention never
	 * removes those, and they are long). */
	bool inline_body = !sg__store_old_forms && ev->body && ev->body_len && ev->body_len <= SG__EVENT_INLINE_MAX &&
			   !REGISTRY_EVENT(ev->action);
	if (!sg__store_old_forms) {
		uint8_t *cv = c->enc + 64 + SG__EVENT_ENC_MAX;
		e.body = inline_body ? ev->body : NULL;
		long cn = sg__event_value_encode(&e, c->enc, cv, SG__EVENT_VALUE_MAX);
		if (cn < 0)
			return (int)cn;
		v = sg__val(cv, (size_t)cn);
	}
	int rc = mdb_put(txn, c->e->store.events, &k, &v, MDB_APPEND);
	if (!rc && ev->body && ev->body_len && !inline_body) {
		MDB_val b = sg__val(ev->body, ev->body_len);
		rc = mdb_put(txn, c->e->store.bodies, &k, &b, MDB_APPEND);
	}
	if (!rc && ev->recipient) {
		MDB_val rk = sg__val(ev->recipient, strlen(ev->recipient)), rv = sg__val(key, 8);
		rc = mdb_put(txn, c->e->store.byrcpt, &rk, &rv, 0);
	}
	return sg__store_err(rc);
}

/* A registry change: applied to the registry in this txn, then logged
 * (nothing when it changes nothing). The event shows what it set: the
 * campaign and brand, the sender's group as the scope id of a group. */
static int record_registry(record_ctx *c, MDB_txn *txn, const sg_event_in *ev, sg_event_out *o, uint64_t *seq,
			   uint8_t head[32])
{
	sg__registry_change ch;
	int rc = sg__registry_apply(c->e, txn, ev, &ch);
	if (rc || (o->status = ch.status))
		return rc;
	if (!ch.changed && !(ev->rule && !strcmp(ev->rule, SG__RULE_REGISTRY_MIGRATED))) {
		o->duplicate = true;
		return 0;
	}
	sg__scopes shown = {0};
	sg__strlcpy(shown.campaign, ch.campaign, sizeof(shown.campaign));
	sg__strlcpy(shown.brand, ch.brand, sizeof(shown.brand));
	bool campaign = ev->action == SG_ACTION_CAMPAIGN;
	sg_scope_kind scope = campaign ? SG_SCOPE_CAMPAIGN : ch.group[0] ? SG_SCOPE_GROUP : SG_SCOPE_SENDER;
	const char *scope_id = campaign ? ch.campaign : ch.group[0] ? ch.group : ev->sender;
	(*seq)++;
	if ((rc = append_event(c, txn, ev, &shown, scope, scope_id, *seq, head)))
		return rc;
	o->seq = *seq;
	o->applied = true;
	c->registry_changed = true;
	return 0;
}

/* Apply event i of the batch: record it (or not: a duplicate, an invalid
 * or refused event) and advance *seq and head. Returns 0, or a store error
 * that fails the whole batch. Reads no clock: the event's time is c->now_us. */
static int record_one(record_ctx *c, MDB_txn *txn, size_t i, uint64_t *seq, uint8_t head[32], int64_t *delta)
{
	int rc;
	const sg_event_in *ev = &c->in[i];
	sg_event_out *o = &c->out[i];
	memset(o, 0, sizeof(*o));
	if ((o->status = validate(ev)))
		return 0;
	if (ev->dedup_key && ev->dedup_key[0]) {
		rc = sg__dedup_seen(c, txn, ev->dedup_key, &o->seq);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			o->duplicate = true;
			return 0;
		}
		if (ev->action == 0) { /* a dedup marker only */
			if ((rc = sg__dedup_put(c, txn, ev->dedup_key, 0)))
				return rc;
			return 0;
		}
	} else if (ev->action == 0) {
		return 0;
	}
	if (REGISTRY_EVENT(ev->action))
		return record_registry(c, txn, ev, o, seq, head);
	sg__scopes sc;
	if ((rc = sg__scopes_resolve(c->e, txn, ev->sender, &sc)))
		return rc;
	if (LOG_ONLY(ev->action)) {
		/* Only the log records a redaction (sg_redact) or a seal
		 * (sg_sends_seal): no consent state. */
		(*seq)++;
		if ((rc = append_event(c, txn, ev, &sc, SG_SCOPE_GLOBAL, "", *seq, head)))
			return rc;
		o->seq = *seq;
		return 0;
	}
	sg_scope_kind scope = ev->scope ? ev->scope : sc.default_scope;
	const char *scope_id = ev->scope_id ? ev->scope_id : sg__scope_id(&sc, scope);
	if (scope != SG_SCOPE_GLOBAL && !scope_id[0]) {
		o->status = -EINVAL; /* e.g. scope "group" for a sender without one */
		return 0;
	}
	uint64_t reviewed = 0; /* a resolution: the review event it resolves */
	if (ev->action == SG_ACTION_REVIEW_RESOLVED &&
	    ((rc = sg__review_check(&c->e->store, txn, ev, scope, scope_id, &reviewed, &o->status)) || o->status))
		return rc;
	if ((rc = sg__log_rcpt_load(c, txn, ev->recipient)))
		return rc;
	if (ev->source == SG_SOURCE_IMPORT && ev->action == SG_ACTION_OPT_OUT) {
		/* Imports are idempotent: an opt-out already in force at
		 * this scope is not recorded again. */
		sg__entry *en = sg__rcpt_find(c->rcpt, SG__ENTRY_CONSENT, (uint8_t)scope, scope_id);
		if (en && en->state == SG_STATE_OPTED_OUT) {
			o->duplicate = true;
			o->seq = en->seq;
			return 0;
		}
	}
	if ((o->status = sg__log_optin_guard(c, ev, &sc, scope, scope_id)))
		return 0; /* nothing recorded */
	sg_event_in adjusted;
	if (ev->override == SG_OVERRIDE_CONSUMER_REQUEST ||
	    ev->event_time_us > c->now_us + SG__EVENT_TIME_SKEW_US) {
		adjusted = *ev;
		/* The audit log names every override. */
		if (ev->override == SG_OVERRIDE_CONSUMER_REQUEST)
			adjusted.rule = "override:consumer_request";
		/* A claimed event time in the future (a skewed or forged
		 * clock) would make every later STOP look older than it and
		 * be ignored: it counts as now. */
		if (ev->event_time_us > c->now_us + SG__EVENT_TIME_SKEW_US)
			adjusted.event_time_us = c->now_us;
		ev = &adjusted;
	}
	int64_t d = 0;
	int applied = sg__log_apply(c, ev, &sc, scope, scope_id, *seq + 1, &d);
	if (applied < 0) {
		o->status = applied; /* this event only; nothing of it was written */
		return 0;
	}
	if (applied && (rc = sg__log_rcpt_save(c, txn, ev->recipient)))
		return rc;
	*delta += d;
	(*seq)++;
	if ((rc = append_event(c, txn, ev, &sc, scope, scope_id, *seq, head)))
		return rc;
	if (ev->dedup_key && ev->dedup_key[0] && (rc = sg__dedup_put(c, txn, ev->dedup_key, *seq)))
		return rc;
	if ((rc = sg__review_index_note(&c->e->store, txn, ev->action, reviewed, *seq)))
		return rc;
	o->seq = *seq;
	o->applied = applied > 0;
	return 0;
}

/* A replayed event against this store's log: 0 when it is the next one,
 * 1 when the log already holds it (with the same hash), -EAGAIN when
 * events before it are missing, SG_ECHAIN when the log holds another. */
static int replay_position(record_ctx *c, MDB_txn *txn, const sg_event *rp, uint64_t seq)
{
	if (rp->seq == seq + 1)
		return 0;
	if (rp->seq > seq + 1 || rp->seq == 0)
		return -EAGAIN;
	uint8_t key[8];
	sg__be64_put(key, rp->seq);
	MDB_val k = sg__val(key, 8), v;
	int rc = mdb_get(txn, c->e->store.events, &k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? SG_ECORRUPT : sg__store_err(rc);
	return v.mv_size >= 32 && memcmp(v.mv_data, rp->hash, 32) == 0 ? 1 : SG_ECHAIN;
}

static int record_txn(MDB_txn *txn, void *arg)
{
	record_ctx *c = arg;
	sg__store *st = &c->e->store;
	uint64_t seq, optouts;
	uint8_t head[32] = {0};
	int rc;
	if ((rc = sg__meta_get_u64(st, txn, "seq", &seq)) || (rc = sg__meta_get_u64(st, txn, "optouts", &optouts)))
		return rc;
	MDB_val hk = sg__val("head", 4), hv;
	rc = mdb_get(txn, st->meta, &hk, &hv);
	if (!rc && hv.mv_size == 32)
		memcpy(head, hv.mv_data, 32);
	else if (rc != MDB_NOTFOUND)
		return rc ? sg__store_err(rc) : SG_ECORRUPT;
	if (c->log_pos) {
		uint64_t pos;
		if ((rc = sg__meta_get_u64(st, txn, "logpos", &pos)))
			return rc;
		if (c->log_pos <= pos)
			return -EALREADY; /* applied before: nothing again */
	}
	uint64_t first = seq;
	int64_t delta = 0, latest = c->batch_us;
	c->nnew = 0; /* this function may run again after the map grew */

	for (size_t i = 0; i < c->n; i++) {
		/* Every event carries its own time: the store reads no clock. */
		c->now_us = c->in[i].time_us ? c->in[i].time_us : c->batch_us;
		if (c->now_us > latest)
			latest = c->now_us;
		const sg_event *rp = c->replay ? &c->replay[i] : NULL;
		c->cur = rp;
		if (rp) {
			rc = replay_position(c, txn, rp, seq);
			memset(&c->out[i], 0, sizeof(c->out[i]));
			if (rc == 1) {
				c->out[i].duplicate = true;
				c->out[i].seq = rp->seq;
				continue;
			}
			if (rc == -EAGAIN) {
				c->out[i].status = -EAGAIN; /* apply the missing ones first */
				continue;
			}
			if (rc < 0)
				return rc;
		}
		if ((rc = record_one(c, txn, i, &seq, head, &delta)))
			return rc;
		/* The origin logged this event as rp: so must we, identically. */
		if (rp && (c->out[i].seq != rp->seq || c->out[i].duplicate || memcmp(head, rp->hash, 32)))
			return SG_ECHAIN;
	}
	c->now_us = latest;
	if (seq != first) {
		MDB_val nv = sg__val(head, 32);
		if ((rc = sg__meta_put_u64(st, txn, "seq", seq)) ||
		    (rc = sg__meta_put_u64(st, txn, "optouts", (uint64_t)((int64_t)optouts + delta))) ||
		    (rc = sg__store_err(mdb_put(txn, st->meta, &hk, &nv, 0))))
			return rc;
	}
	if (c->log_pos && (rc = sg__meta_put_u64(st, txn, "logpos", c->log_pos)))
		return rc;
	if ((rc = sg__dedup_sweep(c, txn)))
		return rc;
	if (c->extra && (rc = c->extra(txn, c->extra_ctx, c->out)))
		return rc;
	/* The new recipients' filter bits are durable before the commit that
	 * creates their records (filter.h). */
	return sg__filter_add(&st->filter, c->new_keys, c->nnew, st->env, st->recipients, txn);
}

/* One write transaction for the batch in c (scratch allocated here); on
 * failure every out[] gets the error. */
static int run_batch(record_ctx *c)
{
	c->enc = malloc(64 + SG__EVENT_ENC_MAX + SG__EVENT_VALUE_MAX);
	c->rcpt = malloc(sizeof(*c->rcpt));
	c->new_keys = malloc((c->n ? c->n : 1) * sizeof(*c->new_keys));
	int rc = c->enc && c->rcpt && c->new_keys ? sg__store_write(&c->e->store, record_txn, c) : -ENOMEM;
	if (c->registry_changed)
		atomic_fetch_add(&c->e->reg_epoch, 1); /* committed or not: a refresh decides */
	free(c->enc);
	free(c->rcpt);
	free(c->new_keys);
	if (rc)
		for (size_t i = 0; i < c->n; i++) {
			memset(&c->out[i], 0, sizeof(c->out[i]));
			c->out[i].status = rc;
		}
	return rc;
}

/* The first published layout of sg_event_in: a caller's is at least this
 * big (see the header on `size`). */
#define EVENT_IN_SIZE_V1 (offsetof(sg_event_in, keywords) + sizeof(const char *))

/* The caller's events in this library's layout: walked with the first
 * event's size as the stride, each copied with sg__struct_in (an older
 * caller's missing fields zero). A mismatch fails the whole call: past it
 * the stride would read the wrong bytes. */
static int events_in(const sg_event_in *events, size_t n, sg_event_in *one, sg_event_in **ret)
{
	size_t stride;
	if (!n) {
		*ret = one;
		return 0;
	}
	memcpy(&stride, events, sizeof(stride));
	if (stride < EVENT_IN_SIZE_V1 || stride > SIZE_MAX / n)
		return -EINVAL; /* `size` not set */
	sg_event_in *in = n == 1 ? one : malloc(n * sizeof(*in));
	if (!in)
		return -ENOMEM;
	const unsigned char *p = (const unsigned char *)events;
	for (size_t i = 0; i < n; i++, p += stride) {
		size_t sz;
		memcpy(&sz, p, sizeof(sz));
		int rc = sz == stride ? sg__struct_in(&in[i], sizeof(in[i]), p, EVENT_IN_SIZE_V1) : -EINVAL;
		if (rc) {
			if (in != one)
				free(in);
			return rc;
		}
	}
	*ret = in;
	return 0;
}

int sg_record(sg_engine *e, const sg_event_in *events, size_t n, sg_event_out *out)
{
	if (e->rdonly)
		return SG_ERDONLY;
	sg_event_in one, *in;
	int rc = events_in(events, n, &one, &in);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			out[i] = (sg_event_out){.status = rc};
		return rc;
	}
	record_ctx c = {.e = e, .in = in, .n = n, .out = out, .batch_us = sg_now_us()};
	rc = run_batch(&c);
	if (in != &one)
		free(in);
	return rc;
}

int sg__record_with(sg_engine *e, const sg_event_in *events, size_t n, sg_event_out *out,
		    int (*fn)(MDB_txn *txn, void *ctx, const sg_event_out *out), void *ctx)
{
	if (e->rdonly)
		return SG_ERDONLY;
	record_ctx c = {.e = e, .in = events, .n = n, .out = out, .batch_us = sg_now_us(), .extra = fn,
			.extra_ctx = ctx};
	return run_batch(&c);
}

int sg_record_logged(sg_engine *e, uint64_t log_pos, const sg_event_in *events, size_t n, sg_event_out *out)
{
	if (e->rdonly)
		return SG_ERDONLY;
	sg_event_in one, *in = NULL;
	int rc = log_pos ? events_in(events, n, &one, &in) : -EINVAL;
	for (size_t i = 0; !rc && i < n; i++)
		if (in[i].time_us <= 0)
			rc = -EINVAL; /* the time is part of the event: no clock here */
	if (!rc) {
		/* batch_us 0: every event carries its time, and the de-dup
		 * sweep reads the batch's latest event time, not the clock. */
		record_ctx c = {.e = e, .in = in, .n = n, .out = out, .log_pos = log_pos};
		rc = run_batch(&c);
	} else {
		for (size_t i = 0; i < n; i++)
			out[i] = (sg_event_out){.status = rc};
	}
	if (in && in != &one)
		free(in);
	return rc;
}

int sg_log_position(sg_engine *e, uint64_t *pos)
{
	MDB_txn *txn;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	uint64_t p = 0;
	rc = sg__meta_get_u64(&e->store, txn, "logpos", &p);
	sg__rd_end(&e->store, txn);
	if (!rc)
		*pos = p;
	return rc;
}

int sg_apply(sg_engine *e, const sg_event *events, size_t n, sg_event_out *out)
{
	if (e->rdonly)
		return SG_ERDONLY;
	sg_event_in *in = calloc(n ? n : 1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const sg_event *ev = &events[i];
		bool override = ev->rule && !strcmp(ev->rule, "override:consumer_request");
		in[i] = (sg_event_in){
			.size = sizeof(sg_event_in),
			.action = ev->action,
			.source = ev->source,
			.sender = ev->sender,
			.recipient = ev->recipient,
			.scope = LOG_ONLY(ev->action) ? SG_SCOPE_DEFAULT : ev->scope, /* as resolved */
			.scope_id = LOG_ONLY(ev->action) ? NULL : ev->scope_id ? ev->scope_id : "",
			.provider = ev->provider,
			.provider_msg_id = ev->provider_msg_id,
			.dedup_key = ev->dedup_key,
			.rule = ev->rule,
			.body = ev->body,
			.body_len = ev->body_len,
			.reply = ev->reply,
			.note = ev->note,
			.event_time_us = ev->event_time_us,
			.override = override ? SG_OVERRIDE_CONSUMER_REQUEST : SG_OVERRIDE_NONE,
			.time_us = ev->time_us,
			.keywords = ev->keywords,
		};
	}
	record_ctx c = {.e = e, .in = in, .n = n, .out = out, .replay = events, .batch_us = sg_now_us()};
	int rc = run_batch(&c);
	free(in);
	/* A redaction applied here removes what it removed at the origin
	 * (again for a re-delivered one: a crash may have cut it short). */
	for (size_t i = 0; !rc && i < n; i++)
		if (events[i].action == SG_ACTION_REDACT && out[i].status == 0)
			rc = sg__redact_apply(e, &events[i]);
	return rc;
}
