/* SPDX-License-Identifier: Apache-2.0 */
/* A recipient's consent state in the write path: loading and saving its
 * record, and what each event does to it (newer event time wins per scope;
 * a repeated STOP keeps when the opt-out began; START lifts the person's own
 * opt-outs at every enclosing scope of the sender; an API opt-in over the
 * person's own STOP needs the consumer-request override). */
#include <errno.h>
#include <string.h>

#include "store/log.h"
#include "store/store.h"
#include "store/review.h"
#include "internal.h"

int sg__log_rcpt_load(record_ctx *c, MDB_txn *txn, const char *key)
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

int sg__log_rcpt_save(record_ctx *c, MDB_txn *txn, const char *key)
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
int sg__log_optin_guard(record_ctx *c, const sg_event_in *ev, const sg__scopes *sc, sg_scope_kind scope,
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

/* An opt-in: the scope's state, and the person's own opt-outs at every
 * enclosing level of this sender (a START lifts them; a global block is
 * lifted only by name). Returns 1 if the state changed. */
static int opt_in(record_ctx *c, const sg_event_in *ev, int64_t etime, uint64_t seq, const sg__scopes *sc,
		  sg_scope_kind scope, const char *scope_id, int64_t *delta)
{
	int rc = set_state(c, ev, etime, seq, scope, scope_id, SG_STATE_OPTED_IN, delta);
	if (rc < 0)
		return rc;
	int changed = rc;
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
}

/* Apply one event to c->rcpt; returns 1 if the state changed. */
int sg__log_apply(record_ctx *c, const sg_event_in *ev, const sg__scopes *sc, sg_scope_kind scope,
		 const char *scope_id, uint64_t seq, int64_t *delta)
{
	int64_t etime = ev->event_time_us ? ev->event_time_us : c->now_us;
	int changed = 0;
	switch (ev->action) {
	case SG_ACTION_OPT_OUT:
		return set_state(c, ev, etime, seq, scope, scope_id, SG_STATE_OPTED_OUT, delta);
	case SG_ACTION_OPT_IN:
		return opt_in(c, ev, etime, seq, sc, scope, scope_id, delta);
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
		if (sg__review_rule_decision(ev->rule, &d) || d == SG_REVIEW_NONE)
			return 0;
		if (d == SG_REVIEW_OPT_IN) /* the person's own request, read by a person */
			return opt_in(c, ev, etime, seq, sc, scope, scope_id, delta);
		return set_state(c, ev, etime, seq, scope, scope_id, SG_STATE_OPTED_OUT, delta);
	}
	case SG_ACTION_REVIEW:
	default:
		return 0;
	}
}
