/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pre-send check: may this sender text this recipient now?
 * One LMDB lookup of the recipient record answers the common case (no
 * record: allow); only recipients with a record pay for scope resolution.
 * Denials come in the documented order: invalid_number, sender_unregistered
 * (policy) / campaign_inactive (a known campaign that is not ACTIVE, unless
 * the policy allows it), recipient_not_sms_capable, opted_out, no_consent
 * (policy), quiet_hours (check/quiet.c: a marketing message outside the
 * recipient's local hours) and last frequency_cap (check/cap.c: a
 * marketing message over the recipient's cap); those two in sg_check_ex only.
 *
 * Fail closed: every verdict starts as a deny (check_failed) and becomes an
 * allow only once decided, so a store error part way through a batch leaves
 * the undecided rest denied even for a caller that ignores the return code.
 */
#include <errno.h>
#include <string.h>

#include "check/quiet.h"
#include "engine.h"
#include "internal.h"
#include "store/consent.h"

static void verdict_init(sg_verdict *v)
{
	v->allow = false;
	v->reason = SG_REASON_CHECK_FAILED;
	v->scope = SG_SCOPE_DEFAULT;
	v->scope_id[0] = '\0';
	v->since_us = 0;
	v->seq = 0;
	v->confirmation = false;
}

static void deny(sg_verdict *v, sg_reason reason)
{
	v->allow = false;
	v->reason = reason;
}

/* Decided and nothing denied: allow. */
static void allow_undenied(sg_verdict *v)
{
	if (v->reason == SG_REASON_CHECK_FAILED) {
		v->allow = true;
		v->reason = SG_REASON_NONE;
	}
}

/* Scopes of the sender, resolved at most once per call: this thread's
 * cached ones (slot) while the registry is unchanged, else own. */
typedef struct sender_ctx {
	const char *key;
	sg__sender_slot *slot;
	const sg__scopes *sc;
	sg__scopes own;
	bool resolved;
} sender_ctx;

/* From this thread's cache while the registry is unchanged; otherwise in
 * *txn (begun here when there is none yet). */
static int sender_scopes(sg_engine *e, sg__txn **txn, sender_ctx *s)
{
	if (s->resolved)
		return 0;
	int rc = sg__scopes_cached(e, txn, s->slot, s->key, &s->own, &s->sc);
	s->resolved = rc == 0;
	return rc;
}

static bool encloses(const sg__scopes *sc, const sg__entry *en)
{
	if (en->scope == SG_SCOPE_GLOBAL)
		return true;
	const char *id = sg__scope_id(sc, en->scope);
	return id[0] && !strcmp(id, en->id);
}

/* What to claim when a confirmation is let through. */
typedef struct claim {
	bool needed;
	sg_scope_kind scope;
	char id[SG_KEY_MAX];
	bool help;
} claim;

/* The sender's own denials (registration, campaign status), decided once
 * per call: SG_REASON_NONE when the sender may send at all. */
static int sender_gate(sg_engine *e, sg__txn **txn, sender_ctx *s, sg_reason *ret)
{
	const sg_policy *pol = &e->policy;
	int rc = sender_scopes(e, txn, s);
	if (rc)
		return rc;
	const sg__scopes *sc = s->sc;
	*ret = SG_REASON_NONE;
	if (pol->require_registered && !sc->registered)
		*ret = SG_REASON_SENDER_UNREGISTERED;
	/* A known campaign that is not ACTIVE (EXPIRED, SUSPENDED, ...) is
	 * blocked by the carriers: denied unless the policy relaxes it. An
	 * unknown one is denied only when registration is required. */
	else if ((sc->registered && sc->campaign_known && !sc->campaign_active && !pol->allow_inactive_campaigns) ||
		 (pol->require_registered && (!sc->campaign_known || !sc->campaign_active)))
		*ret = SG_REASON_CAMPAIGN_INACTIVE;
	return 0;
}

/* Does a decision need the sender's registry entry even for a recipient
 * with no record? */
static bool sender_needed(const sg_policy *pol)
{
	return pol->require_registered || pol->require_optin || !pol->allow_inactive_campaigns;
}

/* The recipient has a record (or a false positive of the filter): do the
 * pair keys say that none of it concerns this sender? Every consent
 * entry's (scope, id) and the not-SMS-capable flag are keys of the
 * filter (filter.h); a sender meets its own, group, campaign and brand
 * levels and global. All clear: decided as a recipient with no record. */
/* The recipient key to, of len bytes, whose filter hash is th. */
typedef struct rkey {
	const char *to;
	size_t len;
	uint64_t th;
} rkey;

/* 0: a key too long to be stored, never proved absent */
static bool pair_maybe(sg__filter *f, unsigned kind, const char *id, const rkey *k)
{
	uint64_t h = sg__filter_pair_hash_of(kind, id, k->to, k->len, k->th);
	return !h || sg__filter_maybe(f, h);
}

static bool pairs_clear(sg_engine *e, const sg__scopes *sc, const rkey *to)
{
	sg__filter *f = &e->store.filter;
	/* The recipient's own block, in cache already: the level where this
	 * sender's opt-outs go first (the likeliest hit), global and the flag
	 * last. */
	sg_scope_kind first = sc->default_scope;
	const char *fid = sg__scope_id(sc, first);
	if (fid[0] && first != SG_SCOPE_GLOBAL && pair_maybe(f, first, fid, to))
		return false; /* a key that may be there: LMDB decides */
	for (sg_scope_kind k = SG_SCOPE_SENDER; k < SG_SCOPE_GLOBAL; k++) {
		const char *id = sg__scope_id(sc, k);
		if (k != first && id[0] && pair_maybe(f, k, id, to))
			return false;
	}
	return !pair_maybe(f, SG_SCOPE_GLOBAL, "", to) && !pair_maybe(f, SG__PAIR_FLAG, "", to);
}

/* Decide for one normalized recipient key inside a read txn, once the
 * sender's gate has passed. no_record: the filter already knows there is
 * no record for this key. */
static int decide(sg_engine *e, sg__txn *txn, sender_ctx *s, const rkey *to, bool no_record, sg_purpose purpose,
		  int64_t now, sg__rcpt *rcpt, sg_verdict *v, claim *cl)
{
	const sg_policy *pol = &e->policy;
	int rc;
	if (no_record) {
		if (pol->require_optin && s->sc->subscriber_optin)
			deny(v, SG_REASON_NO_CONSENT);
		return 0;
	}
	rc = sg__rcpt_read_check(&e->store, txn, to->to, to->len, rcpt);
	if (rc == SG_ENOTFOUND)
		return decide(e, txn, s, to, true, purpose, now, rcpt, v, cl);
	if (rc)
		return rc;
	if (rcpt->not_sms_capable) {
		deny(v, SG_REASON_NOT_SMS_CAPABLE);
		v->since_us = rcpt->flag_since_us;
		v->seq = rcpt->flag_seq;
		return 0;
	}
	if ((rc = sender_scopes(e, &txn, s)))
		return rc; /* resolved before the txn began (sg_check_batch) */
	const sg__entry *out = NULL, *in = NULL;
	for (unsigned i = 0; i < rcpt->count; i++) {
		const sg__entry *en = &rcpt->entries[i];
		if (en->type != SG__ENTRY_CONSENT || !encloses(s->sc, en))
			continue;
		if (en->state == SG_STATE_OPTED_OUT && (!out || en->since_us > out->since_us))
			out = en;
		if (en->state == SG_STATE_OPTED_IN)
			in = en;
	}
	if (out) {
		deny(v, SG_REASON_OPTED_OUT);
		v->scope = out->scope;
		sg__strlcpy(v->scope_id, out->id, sizeof(v->scope_id));
		v->since_us = out->since_us;
		v->seq = out->seq;
		const sg__entry *grant = NULL;
		if (purpose == SG_PURPOSE_OPTOUT_CONFIRM)
			grant = out;
		else if (purpose == SG_PURPOSE_HELP_REPLY)
			grant = sg__rcpt_find(rcpt, SG__ENTRY_HELP, SG_SCOPE_SENDER, s->sc->sender);
		int64_t from_us = grant ? (grant->latest_us ? grant->latest_us : grant->since_us) : 0;
		if (grant && !grant->claimed && now - from_us <= pol->confirm_window_us && now >= from_us) {
			if (e->rdonly) {
				/* Unclaimed, it could be sent any number of times. */
				v->reason = SG_REASON_CLAIM_REQUIRED;
				return 0;
			}
			v->allow = true;
			v->confirmation = true;
			cl->needed = true;
			cl->scope = out->scope;
			sg__strlcpy(cl->id, out->id, sizeof(cl->id));
			cl->help = purpose == SG_PURPOSE_HELP_REPLY;
		}
		return 0;
	}
	if (pol->require_optin && s->sc->subscriber_optin && !in)
		deny(v, SG_REASON_NO_CONSENT);
	return 0;
}

/* Claim the one confirmation durably; a lost race turns it into a deny. */
static int claim_confirmation(sg_engine *e, const char *from, const char *to, const claim *cl, sg_verdict *v)
{
	sg_event_in ev = {.size = sizeof(sg_event_in), 
		.action = SG_ACTION_CONFIRM_SENT,
		.source = SG_SOURCE_API,
		.sender = from,
		.recipient = to,
		.scope = cl->scope,
		.scope_id = cl->id,
		.rule = cl->help ? "help_reply" : "optout_confirm",
	};
	sg_event_out out;
	int rc = sg_record(e, &ev, 1, &out);
	if (rc)
		return rc;
	if (out.status) {
		v->allow = false;
		v->confirmation = false;
	}
	return 0;
}

/* The sender's key and country, from this thread's slot for the text
 * when it holds it. */
static int normalize_pair(sg_engine *e, const char *from, sg__sender_slot *slot, char fkey[SG_KEY_MAX], char cc[3])
{
	if (slot && !strcmp(slot->raw, from)) {
		memcpy(fkey, slot->key, strlen(slot->key) + 1);
		memcpy(cc, slot->cc, 3);
		return 0;
	}
	int rc = sg_number_normalize(from, strlen(from), e->default_country, SG_FIELD_ADDRESS, fkey, NULL);
	if (rc)
		return rc;
	if (sg_number_country(fkey, cc))
		sg__strlcpy(cc, e->default_country, 3);
	if (slot) { /* the slot is this text's from now on */
		slot->version = 0;
		sg__strlcpy(slot->raw, from, sizeof(slot->raw));
		sg__strlcpy(slot->key, fkey, sizeof(slot->key));
		memcpy(slot->cc, cc, 3);
	}
	return 0;
}

/* Quiet hours never hold the one opt-out confirmation or a HELP reply. */
static bool quiet_exempt(sg_purpose purpose)
{
	return purpose == SG_PURPOSE_OPTOUT_CONFIRM || purpose == SG_PURPOSE_HELP_REPLY;
}

int sg__check_run(sg_engine *e, const char *from, const char *const *to, size_t n, sg_purpose purpose,
		  sg_verdict *out, const sg_check_opts *opts, sg_quiet *quiet)
{
	char fkey[SG_KEY_MAX], tkey[SG_KEY_MAX], cc[3];
	sg__rcpt rcpt; /* ~14 KiB, decoded only for recipients with a record */
	claim cl = {0};
	from = from ? from : "";
	sg__sender_slot *slot = sg__sender_slot_of(e, from);
	bool from_ok = normalize_pair(e, from, slot, fkey, cc) == 0;
	sender_ctx s = {.key = fkey, .slot = from_ok ? slot : NULL};
	sg__txn *txn = NULL;
	int rc = 0;
	/* The filter tells which recipients certainly have no record. Without
	 * registration, campaign-status or opt-in policies such a recipient is
	 * allowed outright, with no LMDB access at all; otherwise the sender's
	 * registry entry decides it (looked up once per call). */
	bool need_sender = sender_needed(&e->policy);
	sg_reason gate = SG_REASON_NONE;
	bool gated = false;

	for (size_t i = 0; i < n; i++)
		verdict_init(&out[i]);
	if (!from_ok) {
		for (size_t i = 0; i < n; i++)
			deny(&out[i], SG_REASON_INVALID_NUMBER);
		return 0;
	}
	int64_t now = purpose == SG_PURPOSE_MESSAGE ? 0 : sg_now_us();
	sg__quiet_ctx qc, *q = NULL;
	if (opts && !quiet_exempt(purpose)) {
		if ((rc = sg__quiet_prepare(&qc, e, opts, fkey, cc, quiet, n)))
			return rc;
		q = &qc;
	}
	/* Recipients go in windows: normalize and hash a window, prefetch its
	 * filter blocks, then probe, so the cache misses overlap. */
	enum { WINDOW = 16 };
	char keys[WINDOW][SG_KEY_MAX];
	uint64_t hashes[WINDOW];
	size_t lens[WINDOW];
	bool valid[WINDOW];
	for (size_t base = 0; base < n && !rc; base += WINDOW) {
		size_t w = n - base < WINDOW ? n - base : WINDOW;
		for (size_t j = 0; j < w; j++) {
			const char *t = to[base + j] ? to[base + j] : "";
			valid[j] = !sg_number_normalize(t, strlen(t), cc[0] ? cc : NULL, SG_FIELD_ANY, keys[j], NULL);
			if (valid[j]) {
				lens[j] = strlen(keys[j]);
				hashes[j] = sg__filter_hash(keys[j], lens[j]);
				sg__filter_prefetch(&e->store.filter, hashes[j]);
			}
		}
		for (size_t j = 0; j < w && !rc; j++) {
			size_t i = base + j;
			if (!valid[j]) {
				deny(&out[i], SG_REASON_INVALID_NUMBER);
				continue;
			}
			bool no_record = !sg__filter_maybe(&e->store.filter, hashes[j]);
			if (no_record && !need_sender) {
				allow_undenied(&out[i]);
				if (q)
					sg__quiet_apply(q, i, keys[j], &out[i]);
				continue;
			}
			/* The sender first (cached: no LMDB), then the txn,
			 * only for a recipient that may have a record. */
			if (!gated) {
				if ((rc = sender_gate(e, &txn, &s, &gate)))
					break;
				gated = true;
			}
			if (gate != SG_REASON_NONE) {
				deny(&out[i], gate);
				continue;
			}
			rkey k = {keys[j], lens[j], hashes[j]};
			if (!no_record && pairs_clear(e, s.sc, &k))
				no_record = true; /* nothing of the record concerns this sender */
			if (!no_record && !txn && (rc = sg__rd_begin_keep(&e->store, &txn)))
				break;
			claim one = {0};
			rc = decide(e, txn, &s, &k, no_record, purpose, now, &rcpt, &out[i], &one);
			if (rc)
				break; /* this one and the rest stay denied (check_failed) */
			allow_undenied(&out[i]);
			if (q)
				sg__quiet_apply(q, i, keys[j], &out[i]);
			if (one.needed && n == 1) {
				cl = one;
				sg__strlcpy(tkey, keys[j], sizeof(tkey));
			} else if (one.needed) {
				/* A batch cannot claim one confirmation per recipient: deny. */
				out[i].allow = false;
				out[i].confirmation = false;
			}
		}
	}
	if (txn)
		sg__rd_end_keep(&e->store, txn);
	sg_category cat = q ? q->cat : SG_CATEGORY_DEFAULT;
	if (q)
		sg__quiet_finish(q);
	if (!rc && cat == SG_CATEGORY_MARKETING && purpose == SG_PURPOSE_MESSAGE)
		rc = sg__cap_apply(e, fkey, cc, to, n, opts, out, quiet);
	if (rc)
		return rc;
	if (cl.needed && !e->rdonly) {
		rc = claim_confirmation(e, fkey, tkey, &cl, &out[0]);
		if (rc) { /* not claimed: not allowed */
			out[0].allow = false;
			out[0].confirmation = false;
		}
	}
	return rc;
}

int sg_check_batch(sg_engine *e, const char *from, const char *const *to, size_t n, sg_purpose purpose,
		   sg_verdict *out)
{
	return sg__check_run(e, from, to, n, purpose, out, NULL, NULL);
}

int sg_check(sg_engine *e, const char *from, const char *to, sg_purpose purpose, sg_verdict *verdict)
{
	return sg_check_batch(e, from, &to, 1, purpose, verdict);
}
