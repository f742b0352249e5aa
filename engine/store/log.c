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
#include "store/review.h"

#define DEDUP_SWEEP_PER_BATCH 64

typedef struct record_ctx {
	sg_engine *e;
	const sg_event_in *in;
	size_t n;
	sg_event_out *out;
	const sg_event *replay; /* sg_apply: the recorded events in[] were made from */
	const sg_event *cur;    /* with replay: the one being applied */
	int64_t batch_us;       /* the time of events that carry none (read before the txn) */
	int64_t now_us;         /* the time of the event being applied */
	uint8_t *enc;    /* hash[32] prev[32] canonical, SG__EVENT_ENC_MAX */
	sg__rcpt *rcpt;  /* scratch record, large: heap */
	bool rcpt_new;   /* the loaded recipient had no record */
	uint64_t *new_keys; /* filter hashes of recipients this batch created */
	size_t nnew;
	int (*extra)(MDB_txn *txn, void *ctx, const sg_event_out *out); /* sg__record_with */
	void *extra_ctx;
	bool registry_changed; /* this txn changed the registry (reg_epoch after the commit) */
	uint64_t log_pos;   /* sg_record_logged: the external log's position after this batch */
} record_ctx;

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

/* Dedup: returns 1 (and *seq) when key was seen and has not expired. */
static int dedup_seen(record_ctx *c, MDB_txn *txn, const char *key, uint64_t *seq)
{
	MDB_val k = sg__val(key, strlen(key)), v;
	int rc = mdb_get(txn, c->e->store.dedup, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return sg__store_err(rc);
	if (v.mv_size != 16)
		return SG_ECORRUPT;
	if ((int64_t)sg__be64_get(v.mv_data) <= c->now_us)
		return 0; /* expired: a new event */
	*seq = sg__be64_get((const uint8_t *)v.mv_data + 8);
	return 1;
}

static int dedup_put(record_ctx *c, MDB_txn *txn, const char *key, uint64_t seq)
{
	int64_t ttl = c->e->policy.dedup_ttl_us;
	uint8_t buf[16];
	sg__be64_put(buf, (uint64_t)(c->now_us + ttl));
	sg__be64_put(buf + 8, seq);
	MDB_val k = sg__val(key, strlen(key)), v = sg__val(buf, 16);
	return sg__store_err(mdb_put(txn, c->e->store.dedup, &k, &v, 0));
}

/* Remove a few expired dedup keys, resuming where the last batch stopped. */
static int dedup_sweep(record_ctx *c, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t pos_len = 0;
	char pos[512];
	int rc = mdb_cursor_open(txn, c->e->store.dedup, &cur);
	if (rc)
		return sg__store_err(rc);
	MDB_val mk = sg__val("sweep", 5), mv;
	if (!mdb_get(txn, c->e->store.meta, &mk, &mv) && mv.mv_size < sizeof(pos)) {
		pos_len = mv.mv_size;
		memcpy(pos, mv.mv_data, pos_len);
	}
	k = sg__val(pos, pos_len);
	rc = pos_len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (int i = 0; i < DEDUP_SWEEP_PER_BATCH && !rc; i++) {
		if (v.mv_size == 16 && (int64_t)sg__be64_get(v.mv_data) <= c->now_us)
			rc = mdb_cursor_del(cur, 0);
		if (!rc)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		rc = mdb_del(txn, c->e->store.meta, &mk, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	} else if (!rc && k.mv_size < sizeof(pos)) {
		MDB_val nv = sg__val(k.mv_data, k.mv_size);
		memcpy(pos, k.mv_data, k.mv_size);
		nv.mv_data = pos;
		rc = mdb_put(txn, c->e->store.meta, &mk, &nv, 0);
	}
	mdb_cursor_close(cur);
	return sg__store_err(rc);
}

static int rcpt_load(record_ctx *c, MDB_txn *txn, const char *key)
{
	MDB_val k = sg__val(key, strlen(key)), v;
	int rc = mdb_get(txn, c->e->store.recipients, &k, &v);
	c->rcpt_new = rc == MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND) {
		c->rcpt->not_sms_capable = false;
		c->rcpt->count = 0;
		return 0;
	}
	return rc ? sg__store_err(rc) : sg__rcpt_decode(v.mv_data, v.mv_size, c->rcpt);
}

static int rcpt_save(record_ctx *c, MDB_txn *txn, const char *key)
{
	MDB_val k = sg__val(key, strlen(key));
	if (!c->rcpt->not_sms_capable && c->rcpt->count == 0) {
		int rc = mdb_del(txn, c->e->store.recipients, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : sg__store_err(rc);
	}
	uint8_t *buf = c->enc; /* reuse: the event is encoded after the record is saved */
	long n = sg__rcpt_encode(c->rcpt, buf, SG__EVENT_ENC_MAX + 64);
	if (n < 0)
		return (int)n;
	MDB_val v = sg__val(buf, (size_t)n);
	int rc = sg__store_err(mdb_put(txn, c->e->store.recipients, &k, &v, 0));
	if (!rc && c->rcpt_new) {
		c->new_keys[c->nnew++] = sg__filter_hash(key, strlen(key));
		c->rcpt_new = false;
	}
	return rc;
}

/* Set one consent entry if the event is not older than what it holds.
 * Returns 1 when the state changed, 0 when older, <0 on error. *delta
 * tracks the number of opted-out pairs. */
static int set_state(record_ctx *c, const sg_event_in *ev, int64_t etime, uint64_t seq, sg_scope_kind scope,
		     const char *id, sg_state state, int64_t *delta)
{
	sg__entry *en = sg__rcpt_upsert(c->rcpt, SG__ENTRY_CONSENT, (uint8_t)scope, id);
	if (!en)
		return SG_ETOOLONG;
	if (en->seq && etime < en->event_time_us)
		return 0; /* a newer event already decided this scope */
	if (en->state == SG_STATE_OPTED_OUT && state != SG_STATE_OPTED_OUT)
		(*delta)--;
	if (en->state != SG_STATE_OPTED_OUT && state == SG_STATE_OPTED_OUT)
		(*delta)++;
	int64_t prev_etime = en->event_time_us;
	en->event_time_us = etime;
	en->claimed = 0;
	/* A review resolved as opt_out: the recipient's own words, read by a person. */
	bool own = ev->source == SG_SOURCE_KEYWORD || ev->source == SG_SOURCE_PROVIDER_SIGNAL ||
		   ev->action == SG_ACTION_REVIEW_RESOLVED;
	if (en->seq && en->state == SG_STATE_OPTED_OUT && state == SG_STATE_OPTED_OUT) {
		en->by_recipient |= own;
		if (!en->latest_seq)
			en->first_event_time_us = prev_etime;
		/* A repeated STOP: the opted-out period began with the first one,
		 * which the suppression list and the proof keep showing. */
		en->latest_us = c->now_us;
		en->latest_seq = seq;
		return 1;
	}
	en->state = (uint8_t)state;
	en->source = (uint8_t)ev->source;
	en->since_us = c->now_us;
	en->seq = seq;
	en->latest_us = 0;
	en->latest_seq = 0;
	en->first_event_time_us = 0;
	en->by_recipient = state == SG_STATE_OPTED_OUT && own;
	return 1;
}

/* Would this opt-in lift an opt-out the recipient made themselves? Only
 * the API and operator paths are asked: a START the recipient sent (or an
 * imported message-log row of theirs) always applies. Returns 0 when the
 * event may apply, SG_ECONSENT when it needs the override, SG_EFORBIDDEN
 * when the policy forbids overrides. */
static int optin_guard(record_ctx *c, const sg_event_in *ev, const sg__scopes *sc, sg_scope_kind scope,
		       const char *scope_id)
{
	if (ev->action != SG_ACTION_OPT_IN || (ev->source != SG_SOURCE_API && ev->source != SG_SOURCE_OPERATOR))
		return 0;
	int64_t etime = ev->event_time_us ? ev->event_time_us : c->now_us;
	bool lifts_own = false;
	for (unsigned i = 0; i < c->rcpt->count && !lifts_own; i++) {
		const sg__entry *en = &c->rcpt->entries[i];
		if (en->type != SG__ENTRY_CONSENT || en->state != SG_STATE_OPTED_OUT || !en->by_recipient ||
		    etime < en->event_time_us)
			continue;
		bool target = en->scope == scope && !strcmp(en->id, scope_id);
		bool enclosing = sc->sender[0] && en->scope >= SG_SCOPE_SENDER && en->scope < SG_SCOPE_GLOBAL &&
				 !strcmp(sg__scope_id(sc, en->scope), en->id);
		lifts_own = target || enclosing;
	}
	if (!lifts_own)
		return 0;
	if (c->e->policy.forbid_optin_override)
		return SG_EFORBIDDEN;
	if (ev->override != SG_OVERRIDE_CONSUMER_REQUEST || !ev->note || !ev->note[0])
		return SG_ECONSENT;
	return 0;
}

/* Apply one event to c->rcpt; returns 1 if the state changed. */
static int apply(record_ctx *c, const sg_event_in *ev, const sg__scopes *sc, sg_scope_kind scope,
		 const char *scope_id, uint64_t seq, int64_t *delta)
{
	int64_t etime = ev->event_time_us ? ev->event_time_us : c->now_us;
	int changed = 0, rc;
	switch (ev->action) {
	case SG_ACTION_OPT_OUT:
		return set_state(c, ev, etime, seq, scope, scope_id, SG_STATE_OPTED_OUT, delta);
	case SG_ACTION_OPT_IN:
		rc = set_state(c, ev, etime, seq, scope, scope_id, SG_STATE_OPTED_IN, delta);
		if (rc < 0)
			return rc;
		changed = rc;
		/* START from the person lifts their own opt-outs at every enclosing
		 * level of this sender; a global block is lifted only by name. */
		for (sg_scope_kind k = SG_SCOPE_SENDER; k < SG_SCOPE_GLOBAL && sc->sender[0]; k++) {
			const char *id = sg__scope_id(sc, k);
			sg__entry *en = id[0] ? sg__rcpt_find(c->rcpt, SG__ENTRY_CONSENT, (uint8_t)k, id) : NULL;
			if (en && en->state == SG_STATE_OPTED_OUT && !(k == scope && !strcmp(id, scope_id))) {
				rc = set_state(c, ev, etime, seq, k, id, SG_STATE_OPTED_IN, delta);
				if (rc < 0)
					return rc;
				changed |= rc;
			}
		}
		return changed;
	case SG_ACTION_HELP: {
		sg__entry *en = sg__rcpt_upsert(c->rcpt, SG__ENTRY_HELP, SG_SCOPE_SENDER, sc->sender);
		if (!en)
			return SG_ETOOLONG;
		en->since_us = c->now_us;
		en->event_time_us = etime;
		en->seq = seq;
		en->claimed = 0;
		en->source = (uint8_t)ev->source;
		return 1;
	}
	case SG_ACTION_FLAG_NOT_SMS_CAPABLE:
		c->rcpt->not_sms_capable = true;
		c->rcpt->flag_since_us = c->now_us;
		c->rcpt->flag_seq = seq;
		sg__strlcpy(c->rcpt->flag_code, ev->rule ? ev->rule : "", sizeof(c->rcpt->flag_code));
		sg__strlcpy(c->rcpt->flag_provider, ev->provider ? ev->provider : "",
			    sizeof(c->rcpt->flag_provider));
		return 1;
	case SG_ACTION_CLEAR_NOT_SMS_CAPABLE:
		changed = c->rcpt->not_sms_capable;
		c->rcpt->not_sms_capable = false;
		return changed;
	case SG_ACTION_CONFIRM_SENT: {
		/* Claim the one confirmation / HELP reply: rule names which. */
		bool help = ev->rule && !strcmp(ev->rule, "help_reply");
		sg__entry *en = help ? sg__rcpt_find(c->rcpt, SG__ENTRY_HELP, SG_SCOPE_SENDER, sc->sender)
				     : sg__rcpt_find(c->rcpt, SG__ENTRY_CONSENT, (uint8_t)scope, scope_id);
		int64_t from_us = en && en->latest_us ? en->latest_us : en ? en->since_us : 0;
		if (!en || en->claimed || c->now_us - from_us > c->e->policy.confirm_window_us ||
		    (!help && en->state != SG_STATE_OPTED_OUT))
			return SG_ENOTFOUND;
		en->claimed = 1;
		return 1;
	}
	case SG_ACTION_REVIEW_RESOLVED: { /* checked by sg__review_check() */
		sg_review_decision d;
		if (sg__review_rule_decision(ev->rule, &d) || d != SG_REVIEW_OPT_OUT)
			return 0;
		return set_state(c, ev, etime, seq, scope, scope_id, SG_STATE_OPTED_OUT, delta);
	}
	case SG_ACTION_REVIEW:
	default:
		return 0;
	}
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
	MDB_val k = sg__val(key, 8), v = sg__val(c->enc, 64 + (size_t)n);
	int rc = mdb_put(txn, c->e->store.events, &k, &v, MDB_APPEND);
	if (!rc && ev->body && ev->body_len) {
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
		rc = dedup_seen(c, txn, ev->dedup_key, &o->seq);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			o->duplicate = true;
			return 0;
		}
		if (ev->action == 0) { /* a dedup marker only */
			if ((rc = dedup_put(c, txn, ev->dedup_key, 0)))
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
	if ((rc = rcpt_load(c, txn, ev->recipient)))
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
	if ((o->status = optin_guard(c, ev, &sc, scope, scope_id)))
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
	int applied = apply(c, ev, &sc, scope, scope_id, *seq + 1, &d);
	if (applied < 0) {
		o->status = applied; /* this event only; nothing of it was written */
		return 0;
	}
	if (applied && (rc = rcpt_save(c, txn, ev->recipient)))
		return rc;
	*delta += d;
	(*seq)++;
	if ((rc = append_event(c, txn, ev, &sc, scope, scope_id, *seq, head)))
		return rc;
	if (ev->dedup_key && ev->dedup_key[0] && (rc = dedup_put(c, txn, ev->dedup_key, *seq)))
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
	if ((rc = dedup_sweep(c, txn)))
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
	c->enc = malloc(SG__EVENT_ENC_MAX + 64);
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
