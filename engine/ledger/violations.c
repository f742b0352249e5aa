/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The violations report: every recorded send the check would have denied
 * when it was sent. Each send is judged by criteria in the check's order;
 * the first that denies names the violation:
 *   opted_out         the recipient's history (sg_events_for_recipient) as
 *                     it stood at the send's time: an opt-out in force at a
 *                     scope enclosing the sender (sender, group, campaign,
 *                     brand, global), less the one allowed confirmation
 *   campaign_inactive the campaign's registry events: known and not ACTIVE
 *                     at the send's time (unless the policy allows it)
 *   frequency_cap     more counted sends in the 24 h up to it than the cap
 *                     (the state's, or the campaign's maxPerDay as its
 *                     registry events had it at the send's time)
 * A new criterion (quiet hours, once the recipient's local time is known)
 * is one more function in `criteria`.
 *
 * The sends are read in ledger order (sg_sends_read, one block at a time);
 * the campaigns' status history is read from the log once, up front.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "engine.h"
#include "internal.h"
#include "ledger/ledger.h"
#include "store/sends.h"

/* ---- the campaigns' status over time ---- */

typedef struct cstat {
	char id[64];
	int64_t time_us;
	uint64_t seq;
	bool active;
	unsigned max_per_day; /* its "stopgate": {"maxPerDay"} then, 0: none */
} cstat;

struct sg__viol_iter {
	sg_engine *e;
	sg_violation_cb cb;
	void *ctx;
	int64_t since_us, until_us;
	cstat *camp;
	size_t ncamp, capcamp;
	int err;
	bool loaded;        /* the campaigns' history is read */
	uint64_t next_seq;  /* loading: the next event */
	uint64_t resume;    /* the sends: the next ordinal */
};
typedef struct sg__viol_iter vctx;

static int on_registry_event(const sg_event *ev, void *arg)
{
	vctx *c = arg;
	if (ev->action != SG_ACTION_CAMPAIGN || !ev->body)
		return 0;
	cJSON *j = cJSON_ParseWithLength(ev->body, ev->body_len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "campaignId");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
	if (cJSON_IsString(id)) {
		if (c->ncamp == c->capcamp) {
			size_t nc = c->capcamp ? c->capcamp * 2 : 16;
			cstat *nv = realloc(c->camp, nc * sizeof(*nv));
			if (!nv) {
				cJSON_Delete(j);
				return -ENOMEM;
			}
			c->camp = nv;
			c->capcamp = nc;
		}
		cstat *s = &c->camp[c->ncamp++];
		sg__strlcpy(s->id, id->valuestring, sizeof(s->id));
		s->time_us = ev->time_us;
		s->seq = ev->seq;
		s->active = !cJSON_IsString(st) || !strcmp(st->valuestring, "ACTIVE");
		const cJSON *own = cJSON_GetObjectItemCaseSensitive(j, "stopgate");
		const cJSON *max = cJSON_GetObjectItemCaseSensitive(own, "maxPerDay");
		s->max_per_day = cJSON_IsNumber(max) && max->valuedouble >= 1 ? (unsigned)max->valuedouble : 0;
	}
	cJSON_Delete(j);
	return 0;
}

/* One piece of the campaigns' history: 4096 events. */
static int load_campaigns_step(vctx *c)
{
	uint64_t from = c->next_seq;
	int rc = sg_events_read(c->e, from, 4096, on_registry_event, c, &c->next_seq);
	if (!rc && c->next_seq == from)
		c->loaded = true;
	return rc;
}

/* ---- consent at a point in time ---- */

enum { SC_SENDER, SC_GROUP, SC_CAMPAIGN, SC_BRAND, SC_GLOBAL, SC_N };
static const sg_scope_kind kinds[SC_N] = {SG_SCOPE_SENDER, SG_SCOPE_GROUP, SG_SCOPE_CAMPAIGN, SG_SCOPE_BRAND,
					  SG_SCOPE_GLOBAL};

typedef struct pstate {
	sg_state state;
	int64_t etime;     /* event time of the event that set it */
	int64_t since_us;  /* recorded time the opt-out began */
	int64_t latest_us; /* recorded time of the latest opt-out that confirmed it */
	uint64_t seq;
} pstate;

typedef struct history {
	const sg_send *send;
	const char *ids[SC_N];
	pstate st[SC_N];
} history;

static int slot_of(const history *h, sg_scope_kind kind, const char *id)
{
	for (int i = 0; i < SC_N; i++)
		if (kinds[i] == kind && (kind == SG_SCOPE_GLOBAL || (h->ids[i][0] && id && !strcmp(h->ids[i], id))))
			return i;
	return -1;
}

static void set(pstate *p, const sg_event *ev, sg_state to)
{
	if (p->seq && ev->event_time_us < p->etime)
		return; /* a newer event already decided this scope */
	if (to == SG_STATE_OPTED_OUT && p->state == SG_STATE_OPTED_OUT) {
		p->latest_us = ev->time_us;
		p->etime = ev->event_time_us;
		return;
	}
	p->state = to;
	p->etime = ev->event_time_us;
	p->since_us = p->latest_us = ev->time_us;
	p->seq = ev->seq;
}

static int on_history(const sg_event *ev, void *arg)
{
	history *h = arg;
	if (ev->time_us > h->send->at_us)
		return 1; /* recorded after the send: the check could not know it */
	if (ev->action != SG_ACTION_OPT_OUT && ev->action != SG_ACTION_OPT_IN)
		return 0;
	sg_state to = ev->action == SG_ACTION_OPT_OUT ? SG_STATE_OPTED_OUT : SG_STATE_OPTED_IN;
	int i = slot_of(h, ev->scope, ev->scope_id);
	if (i >= 0)
		set(&h->st[i], ev, to);
	if (to != SG_STATE_OPTED_IN)
		return 0;
	/* A START lifts the person's opt-outs at the enclosing levels of the
	 * sender it came through (a global block only by name). */
	bool same_sender = ev->sender && !strcmp(ev->sender, h->ids[SC_SENDER]);
	bool same_campaign = ev->campaign && ev->campaign[0] && !strcmp(ev->campaign, h->ids[SC_CAMPAIGN]);
	bool same_brand = ev->brand && ev->brand[0] && !strcmp(ev->brand, h->ids[SC_BRAND]);
	for (int k = SC_SENDER; k < SC_GLOBAL; k++) {
		bool lifts = same_sender || (k == SC_CAMPAIGN && same_campaign) || (k == SC_BRAND && same_brand);
		if (lifts && k != i && h->st[k].state == SG_STATE_OPTED_OUT)
			set(&h->st[k], ev, SG_STATE_OPTED_IN);
	}
	return 0;
}

/* Is s the first send from its sender to its recipient at or after t? */
typedef struct first_ctx {
	uint64_t ordinal;
	int64_t at;
	bool found;
} first_ctx;

static int on_first(const sg_send *s, void *arg)
{
	first_ctx *f = arg;
	if (!f->found || s->at_us < f->at || (s->at_us == f->at && s->ordinal < f->ordinal)) {
		f->found = true;
		f->at = s->at_us;
		f->ordinal = s->ordinal;
	}
	return 0;
}

typedef int (*criterion)(vctx *c, const sg_send *s, const sg_sender_info *info, sg_violation *v);

static int opted_out(vctx *c, const sg_send *s, const sg_sender_info *info, sg_violation *v)
{
	history h = {.send = s,
		     .ids = {s->sender, info->group, s->campaign[0] ? s->campaign : info->campaign_id, info->brand_id, ""}};
	int rc = sg_events_for_recipient(c->e, s->recipient, on_history, &h);
	if (rc < 0)
		return rc;
	int worst = -1;
	for (int i = 0; i < SC_N; i++)
		if (h.st[i].state == SG_STATE_OPTED_OUT && (worst < 0 || h.st[i].since_us < h.st[worst].since_us))
			worst = i;
	if (worst < 0)
		return 0;
	/* The one confirmation: the first send from this sender within the
	 * window after the (latest) opt-out. */
	const pstate *p = &h.st[worst];
	if (s->at_us - p->latest_us <= c->e->policy.confirm_window_us) {
		first_ctx f = {0};
		if ((rc = sg_sends_for_pair(c->e, s->sender, s->recipient, p->latest_us, on_first, &f)))
			return rc;
		if (f.found && f.ordinal == s->ordinal)
			return 0;
	}
	v->reason = SG_REASON_OPTED_OUT;
	v->seq = p->seq;
	v->scope = kinds[worst];
	v->scope_id = h.ids[worst];
	v->since_us = p->since_us;
	/* scope_id points into s or info, which outlive the callback */
	return 1;
}

/* Campaign id as the registry stood at at_us: its last record then, or NULL. */
static const cstat *campaign_at(const vctx *c, const char *id, int64_t at_us)
{
	const cstat *last = NULL;
	for (size_t i = 0; i < c->ncamp; i++)
		if (c->camp[i].time_us <= at_us && !strcmp(c->camp[i].id, id))
			last = &c->camp[i];
	return last;
}

static int campaign_inactive(vctx *c, const sg_send *s, const sg_sender_info *info, sg_violation *v)
{
	const char *id = s->campaign[0] ? s->campaign : info->campaign_id;
	if (!id[0] || c->e->policy.allow_inactive_campaigns)
		return 0;
	const cstat *last = campaign_at(c, id, s->at_us);
	if (!last || last->active)
		return 0;
	v->reason = SG_REASON_CAMPAIGN_INACTIVE;
	v->seq = last->seq;
	v->scope = SG_SCOPE_CAMPAIGN;
	v->scope_id = last->id;
	v->since_us = last->time_us;
	return 1;
}

static int frequency_cap(vctx *c, const sg_send *s, const sg_sender_info *info, sg_violation *v)
{
	(void)info;
	if (!sg__send_counts(s->category))
		return 0;
	/* the campaign's maxPerDay as it stood when the send was made */
	const cstat *then = s->campaign[0] ? campaign_at(c, s->campaign, s->at_us) : NULL;
	unsigned limit = 0, own = then ? then->max_per_day : 0;
	const char *rule = sg__cap_state(s->recipient, &limit);
	if (own && (!limit || own < limit)) {
		limit = own;
		rule = "maxPerDay";
	}
	if (!limit)
		return 0;
	unsigned before;
	int64_t first = 0;
	int rc = sg__cap_count(c->e, s->recipient, s->campaign, s->at_us, s->ordinal, &before, &first, 1);
	if (rc)
		return rc;
	if (before < limit)
		return 0;
	v->reason = SG_REASON_FREQUENCY_CAP;
	v->count = before + 1;
	v->since_us = first;
	v->rule = rule;
	v->scope = SG_SCOPE_CAMPAIGN;
	v->scope_id = s->campaign;
	return 1;
}

static const criterion criteria[] = {opted_out, campaign_inactive, frequency_cap};

static int on_send(const sg_send *s, void *arg)
{
	vctx *c = arg;
	sg_sender_info info = {0};
	int rc = sg_sender_get(c->e, s->sender, &info);
	if (rc && rc != SG_ENOTFOUND)
		return c->err = rc;
	for (size_t i = 0; i < SG_ARRAY_SIZE(criteria); i++) {
		sg_violation v = {.send = s};
		rc = criteria[i](c, s, &info, &v);
		if (rc < 0)
			return c->err = rc;
		if (rc == 1)
			return c->cb(&v, c->ctx);
	}
	return 0;
}

int sg__viol_open(sg_engine *e, int64_t since_us, int64_t until_us, sg_violation_cb cb, void *ctx,
		  sg__viol_iter **ret)
{
	if (!cb)
		return -EINVAL;
	vctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = (vctx){.e = e, .cb = cb, .ctx = ctx, .since_us = since_us, .until_us = until_us, .next_seq = 1};
	*ret = c;
	return 0;
}

int sg__viol_step(sg__viol_iter *c, bool *done)
{
	*done = false;
	if (!c->loaded)
		return load_campaigns_step(c);
	int rc = sg__sends_read_from(c->e, &c->resume, 1, c->since_us, c->until_us, on_send, c);
	if (c->err)
		return c->err;
	*done = rc || !c->resume;
	return rc;
}

void sg__viol_close(sg__viol_iter *c)
{
	if (c)
		free(c->camp);
	free(c);
}

int sg_violations(sg_engine *e, int64_t since_us, int64_t until_us, sg_violation_cb cb, void *ctx)
{
	sg__viol_iter *it = NULL;
	int rc = sg__viol_open(e, since_us, until_us, cb, ctx, &it);
	bool done = false;
	while (!rc && !done)
		rc = sg__viol_step(it, &done);
	sg__viol_close(it);
	return rc;
}
