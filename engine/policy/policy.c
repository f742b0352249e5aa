/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consent policy: from what arrived (an inbound message, a provider's
 * status signal) and the registry, decide what is recorded — the action,
 * the source, the scope, the rule, the reply, the de-duplication key and
 * the note. The daemon, the CLI and an embedding gateway all call this;
 * none of them decides consent itself. Recording is sg_record's job.
 *
 *   inbound:  normalize our number, then the handset with our number's
 *             country -> classify the whole text with the sender's campaign
 *             -> the provider's own word counts (its intent, recorded as a
 *             provider signal) -> a probable revocation opts out or is held
 *             for review (the campaign's setting, else the policy's), a
 *             probable opt-in is always held for review -> one
 *             event, and one more at the provider's sender group when the
 *             provider applied the keyword to the whole group.
 *   signal:   an opt-out code is an opt-out (global scope when the callback
 *             names no sender of ours: a lost opt-out is worse than a wide
 *             one), a not-SMS-capable code flags the recipient, other codes
 *             change nothing.
 *
 * Nothing a sender puts in a message makes it be dropped: any length is
 * classified (only the stored copy is capped, SG_BODY_STORE_MAX), broken
 * UTF-8 is read with U+FFFD, an id of any length is kept (cut in the
 * event, hashed into the de-duplication key), and a message that names no
 * number of ours keeps its opt-out under the quarantine sender "raw:".
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"
#include "store/event.h" /* sg__sha256 */

#define ID_STORED 1024 /* bytes of a provider id kept in the event */
#define DEDUP_MAX 320  /* a longer de-duplication key is replaced by its hash */

struct sg_decision {
	size_t nevents;
	sg_event_in events[SG_DECISION_MAX_EVENTS];
	sg_intent intent;
	sg_confidence confidence;
	sg_action action;
	bool quarantined, no_our_number;
	const char *reply;
	sg_classification cls;
	char provider[40];
	char sender[SG_KEY_MAX], recipient[SG_KEY_MAX];
	char id[ID_STORED + 1];
	char dedup[DEDUP_MAX], group_dedup[DEDUP_MAX + 8];
	char group[SG_KEY_MAX];
	char rule[64];
	char note[256], group_note[160];
	char *repaired; /* the text with broken UTF-8 replaced, or NULL */
	char keywords[SG_KWVERSION_MAX]; /* the keyword set that classified the text */
};

/* The first published layouts: a caller's struct is at least this big. */
#define INBOUND_SIZE_V1 (offsetof(sg_inbound_msg, source) + sizeof(sg_source))
#define SIGNAL_SIZE_V1 (offsetof(sg_signal_msg, event_time_us) + sizeof(int64_t))

/* ---- small helpers ---- */

/* Append "; "-separated facts to a note (cut, never overrun). */
static void note_add(char *note, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_add(char *note, size_t size, const char *fmt, ...)
{
	size_t len = strlen(note);
	if (len + 3 >= size)
		return;
	if (len) {
		memcpy(note + len, "; ", 3);
		len += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(note + len, size - len, fmt, ap);
	va_end(ap);
}

/* prefix + key, or prefix + "sha256:" + the key's hash when that does not
 * fit: a long id de-duplicates as exactly as a short one. */
static void dedup_key(char *out, size_t size, const char *prefix, const char *key)
{
	int n = snprintf(out, size, "%s%s", prefix, key);
	if (n >= 0 && (size_t)n < size)
		return;
	uint8_t h[32];
	char hex[65];
	sg__sha256(key, strlen(key), h);
	sg_hex32(h, hex);
	snprintf(out, size, "%ssha256:%s", prefix, hex);
}

/* Cut s (len bytes) to at most max bytes, not inside a UTF-8 character. */
static size_t cut_at_char(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static sg_decision *decision_new(const char *provider)
{
	sg_decision *d = calloc(1, sizeof(*d));
	if (d)
		sg__strlcpy(d->provider, provider && provider[0] ? provider : "api", sizeof(d->provider));
	return d;
}

/* The campaign's own "probable" setting, else the policy's. Called after
 * sg_classify() with the same campaign, which refreshed the registry. */
static sg_probable_mode probable_mode(sg_engine *e, const char *campaign_id)
{
	sg_probable_mode mode = e->policy.probable;
	if (!campaign_id || !campaign_id[0])
		return mode;
	pthread_rwlock_rdlock(&e->reg_lock);
	const sg__campaign *c = sg__registry_find(e, campaign_id);
	if (c && c->probable_set)
		mode = c->probable;
	pthread_rwlock_unlock(&e->reg_lock);
	return mode;
}

static sg_action action_of(sg_intent intent, sg_confidence conf, sg_probable_mode probable)
{
	switch (intent) {
	case SG_INTENT_OPT_OUT:
		return conf == SG_CONF_PROBABLE && probable == SG_PROBABLE_REVIEW ? SG_ACTION_REVIEW
										  : SG_ACTION_OPT_OUT;
	case SG_INTENT_OPT_IN: /* consent is never granted on a guess: a person decides */
		return conf == SG_CONF_PROBABLE ? SG_ACTION_REVIEW : SG_ACTION_OPT_IN;
	case SG_INTENT_HELP:
		return SG_ACTION_HELP;
	default:
		return SG_ACTION_NONE;
	}
}

/* ---- inbound messages ---- */

/* Classify the whole text, whatever its length or encoding. */
static int classify(sg_engine *e, sg_decision *d, const char *campaign, const sg_inbound_msg *m)
{
	const char *text = m->body ? m->body : "";
	size_t len = m->body ? m->body_len : 0;
	if (sg__utf8_count(text, len) < 0) {
		d->repaired = malloc(3 * len + 1);
		if (!d->repaired)
			return -ENOMEM;
		len = sg_utf8_repair(text, len, d->repaired);
		text = d->repaired;
		note_add(d->note, sizeof(d->note), "invalid_utf8: classified with U+FFFD");
	}
	return sg__classify_versioned(e, campaign, text, len, &d->cls, d->keywords);
}

/* The second event when the provider applied the keyword to its whole
 * sender group (a Twilio Messaging Service, a Telnyx profile, a Plivo
 * Powerpack): the check honours it for every number of that group. */
static void add_group_event(sg_decision *d, const sg_inbound_msg *m)
{
	if (m->provider_intent == SG_INTENT_NONE || !m->provider_group || !m->provider_group[0] ||
	    (d->action != SG_ACTION_OPT_OUT && d->action != SG_ACTION_OPT_IN) ||
	    sg__strlcpy(d->group, m->provider_group, sizeof(d->group)) >= sizeof(d->group))
		return; /* a group id too long for a scope id cannot be a scope */
	const sg_event_in *main = &d->events[0];
	snprintf(d->group_dedup, sizeof(d->group_dedup), "%s:group", main->dedup_key ? main->dedup_key : "");
	snprintf(d->group_note, sizeof(d->group_note), "%s applied %s to its sender group", d->provider,
		 sg_intent_name(m->provider_intent));
	d->events[d->nevents++] = (sg_event_in){
		.size = sizeof(sg_event_in),
		.action = d->action,
		.source = SG_SOURCE_PROVIDER_SIGNAL,
		.sender = main->sender,
		.recipient = main->recipient,
		.scope = SG_SCOPE_GROUP,
		.scope_id = d->group,
		.provider = d->provider,
		.provider_msg_id = main->provider_msg_id,
		.dedup_key = main->dedup_key ? d->group_dedup : NULL,
		.rule = main->rule,
		.note = d->group_note,
		.event_time_us = main->event_time_us,
		.keywords = main->keywords,
	};
}

int sg_decide_inbound(sg_engine *e, const sg_inbound_msg *caller_msg, sg_decision **ret)
{
	sg_inbound_msg msg, *m = &msg;
	if (!e || !caller_msg || sg__struct_in(&msg, sizeof(msg), caller_msg, INBOUND_SIZE_V1))
		return -EINVAL;
	if (!m->from || (!m->body && m->body_len))
		return -EINVAL;
	sg_decision *d = decision_new(m->provider);
	if (!d)
		return -ENOMEM;
	int rc;
	const char *def = sg_engine_default_country(e);

	/* Our number first: its country is the handset's default. */
	if (!m->to || !m->to[0]) {
		d->no_our_number = true;
		sg_number_quarantine("", 0, d->sender); /* "raw:" */
		note_add(d->note, sizeof(d->note), "%s message named no number of ours (To): recorded under "
			 "the quarantine sender", d->provider);
	} else if ((rc = sg_number_normalize(m->to, strlen(m->to), m->to_country && m->to_country[0] ? m->to_country
											 : def,
					     SG_FIELD_ADDRESS, d->sender, NULL))) {
		sg_decision_free(d);
		return rc; /* unusable configuration or input: the caller answers it */
	}
	char cc[3];
	const char *country = m->handset_country && m->handset_country[0] ? m->handset_country
			      : !d->no_our_number && sg_number_country(d->sender, cc) == 0 ? cc : def;
	if (sg_number_normalize(m->from, strlen(m->from), country, SG_FIELD_ANY, d->recipient, NULL)) {
		/* Never lose a STOP: keep it under the quarantine class. */
		sg_number_quarantine(m->from, strlen(m->from), d->recipient);
		d->quarantined = true;
	}
	if (m->id) {
		size_t idlen = strlen(m->id), keep = cut_at_char(m->id, idlen, ID_STORED);
		memcpy(d->id, m->id, keep);
		d->id[keep] = '\0';
		if (keep < idlen)
			note_add(d->note, sizeof(d->note), "provider_id_truncated: %zu of %zu bytes", keep, idlen);
	}

	sg_sender_info info;
	const char *campaign = NULL;
	if (!d->no_our_number && sg_sender_get(e, d->sender, &info) == 0 && info.campaign_id[0])
		campaign = info.campaign_id;
	if ((rc = classify(e, d, d->no_our_number ? NULL : campaign, m))) {
		sg_decision_free(d);
		return rc;
	}
	d->intent = d->cls.intent;
	d->confidence = d->cls.confidence;
	d->reply = d->cls.reply[0] ? d->cls.reply : NULL;
	const char *rule = d->cls.rule[0] ? d->cls.rule : NULL;
	sg_source source = m->source ? m->source : SG_SOURCE_KEYWORD;
	if (m->provider_intent != SG_INTENT_NONE) {
		/* The provider already acted on it: its word is recorded. */
		source = SG_SOURCE_PROVIDER_SIGNAL;
		if (m->provider_intent != d->intent) {
			d->intent = m->provider_intent;
			d->confidence = SG_CONF_EXACT;
			d->reply = NULL;
		}
		if (m->provider_rule) {
			sg__strlcpy(d->rule, m->provider_rule, sizeof(d->rule));
			rule = d->rule;
		}
	}
	d->action = action_of(d->intent, d->confidence, probable_mode(e, campaign));
	if (d->action == SG_ACTION_REVIEW)
		d->reply = NULL; /* consent unchanged: no opt-out confirmation */
	if (d->action == SG_ACTION_REVIEW && d->intent == SG_INTENT_OPT_IN)
		note_add(d->note, sizeof(d->note), "proposed=opt_in");
	if (d->no_our_number && d->action != SG_ACTION_OPT_OUT) {
		/* Without our number only an opt-out is worth keeping. */
		d->action = SG_ACTION_NONE;
		d->reply = NULL;
		*ret = d;
		return 0;
	}

	if (m->dedup_key && m->dedup_key[0]) {
		dedup_key(d->dedup, sizeof(d->dedup), "", m->dedup_key);
	} else if (m->id && m->id[0]) {
		char prefix[64];
		snprintf(prefix, sizeof(prefix), "inbound:%s:", d->provider);
		dedup_key(d->dedup, sizeof(d->dedup), prefix, m->id); /* the whole id */
	} else if (d->action == SG_ACTION_NONE) {
		*ret = d; /* nothing to record, nothing to de-duplicate */
		return 0;
	}
	size_t stored = cut_at_char(m->body ? m->body : "", m->body_len, SG_BODY_STORE_MAX);
	if (stored < m->body_len)
		note_add(d->note, sizeof(d->note), "body_truncated: stored %zu of %zu bytes", stored, m->body_len);
	d->events[d->nevents++] = (sg_event_in){
		.size = sizeof(sg_event_in),
		.action = d->action, /* NONE with a key: a de-duplication marker only */
		.source = source,
		.sender = d->sender,
		.recipient = d->recipient,
		.scope = SG_SCOPE_DEFAULT,
		.provider = d->provider,
		.provider_msg_id = d->id[0] ? d->id : NULL,
		.dedup_key = d->dedup[0] ? d->dedup : NULL,
		.rule = rule,
		.body = m->body,
		.body_len = stored,
		.reply = d->reply,
		.note = d->note[0] ? d->note : NULL,
		.event_time_us = m->event_time_us,
		.keywords = d->keywords[0] ? d->keywords : NULL,
	};
	add_group_event(d, m);
	*ret = d;
	return 0;
}

/* ---- provider status signals ---- */

int sg_decide_signal(sg_engine *e, const sg_signal_msg *caller_msg, sg_decision **ret)
{
	sg_signal_msg msg, *m = &msg;
	if (!e || !caller_msg || sg__struct_in(&msg, sizeof(msg), caller_msg, SIGNAL_SIZE_V1))
		return -EINVAL;
	if (!m->handset)
		return -EINVAL;
	sg_decision *d = decision_new(m->provider);
	if (!d)
		return -ENOMEM;
	*ret = d;
	if (m->kind != SG_SIGNAL_OPT_OUT && m->kind != SG_SIGNAL_NOT_SMS_CAPABLE)
		return 0; /* delivered, queued, other failures: consent untouched */
	const char *def = sg_engine_default_country(e);
	bool known = m->our_number && m->our_number[0] &&
		     sg_number_normalize(m->our_number, strlen(m->our_number),
					 m->country && m->country[0] ? m->country : def, SG_FIELD_ADDRESS, d->sender,
					 NULL) == 0;
	if (!known)
		d->sender[0] = '\0';
	char cc[3];
	const char *country = m->handset_country && m->handset_country[0] ? m->handset_country
			      : known && sg_number_country(d->sender, cc) == 0 ? cc
			      : m->country && m->country[0] ? m->country : def;
	if (sg_number_normalize(m->handset, strlen(m->handset), country, SG_FIELD_ANY, d->recipient, NULL)) {
		sg_number_quarantine(m->handset, strlen(m->handset), d->recipient);
		d->quarantined = true;
	}
	d->action = m->kind == SG_SIGNAL_OPT_OUT ? SG_ACTION_OPT_OUT : SG_ACTION_FLAG_NOT_SMS_CAPABLE;
	const char *code = m->code ? m->code : "", *status = m->status ? m->status : "";
	if (known)
		snprintf(d->note, sizeof(d->note), "%s status %s, code %s", d->provider, status, code);
	else
		snprintf(d->note, sizeof(d->note), "%s status %s, code %s; the callback names no sender: "
			 "recorded at global scope (account %s, group %s)", d->provider, status, code,
			 m->account && m->account[0] ? m->account : "-", m->group && m->group[0] ? m->group : "-");
	if (m->id) {
		size_t idlen = strlen(m->id), keep = cut_at_char(m->id, idlen, ID_STORED);
		memcpy(d->id, m->id, keep);
		d->id[keep] = '\0';
	}
	if (m->dedup_key && m->dedup_key[0])
		dedup_key(d->dedup, sizeof(d->dedup), "", m->dedup_key);
	sg__strlcpy(d->rule, code, sizeof(d->rule));
	d->events[d->nevents++] = (sg_event_in){
		.size = sizeof(sg_event_in),
		.action = d->action,
		.source = SG_SOURCE_PROVIDER_SIGNAL,
		.sender = known ? d->sender : NULL,
		.recipient = d->recipient,
		/* A lost opt-out is worse than an over-broad one, which an
		 * operator sees in the log and can narrow. */
		.scope = known ? SG_SCOPE_DEFAULT : SG_SCOPE_GLOBAL,
		.scope_id = known ? NULL : "",
		.provider = d->provider,
		.provider_msg_id = d->id[0] ? d->id : NULL,
		.dedup_key = d->dedup[0] ? d->dedup : NULL,
		.rule = d->rule[0] ? d->rule : NULL,
		.note = d->note,
		.event_time_us = m->event_time_us,
	};
	return 0;
}

/* ---- the decision ---- */

const sg_event_in *sg_decision_events(const sg_decision *d, size_t *n)
{
	*n = d->nevents;
	return d->events;
}

sg_action sg_decision_action(const sg_decision *d)
{
	return d->action;
}

sg_intent sg_decision_intent(const sg_decision *d)
{
	return d->intent;
}

sg_confidence sg_decision_confidence(const sg_decision *d)
{
	return d->confidence;
}

const char *sg_decision_reply(const sg_decision *d)
{
	return d->reply;
}

const char *sg_decision_sender(const sg_decision *d)
{
	return d->sender;
}

const char *sg_decision_recipient(const sg_decision *d)
{
	return d->recipient;
}

bool sg_decision_quarantined(const sg_decision *d)
{
	return d->quarantined;
}

bool sg_decision_no_our_number(const sg_decision *d)
{
	return d->no_our_number;
}

void sg_decision_free(sg_decision *d)
{
	if (!d)
		return;
	free(d->repaired);
	free(d);
}

int sg_inbound(sg_engine *e, const sg_inbound_msg *m, sg_decision **ret, sg_event_out out[SG_DECISION_MAX_EVENTS])
{
	sg_decision *d;
	int rc = sg_decide_inbound(e, m, &d);
	if (rc)
		return rc;
	memset(out, 0, SG_DECISION_MAX_EVENTS * sizeof(*out));
	if (d->nevents && (rc = sg_record(e, d->events, d->nevents, out))) {
		sg_decision_free(d);
		return rc;
	}
	*ret = d;
	return 0;
}
