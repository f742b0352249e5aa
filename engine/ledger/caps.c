/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Frequency caps: marketing contacts per rolling 24 h on one subject (the
 * campaign). The state rules are data: Florida (FTSA §501.059), Oklahoma
 * (OTSA) and Maryland (Stop the Spam Calls Act) allow 3 per 24 h on the
 * same subject. A recipient's state is read from the NANP area code of the
 * number (ported and travelling numbers keep theirs; a stored region would
 * be better, see docs/compliance.md). The campaign's own
 * "stopgate": {"maxPerDay": n} applies everywhere; the stricter wins.
 *
 * The window: a send at t counts against a new one at T when T - t < 24 h.
 * A send whose category is unspecified counts, and is capped, as marketing
 * (fail closed): label transactional sends "informational".
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "engine.h"
#include "internal.h"
#include "ledger/ledger.h"

#define DAY_US (24 * 3600 * (int64_t)1000000)

typedef struct cap_rule {
	const char *state;
	unsigned limit;
	unsigned short npa[24];
} cap_rule;

/* Area codes in service per state (NANPA), 0-terminated. */
static const cap_rule rules[] = {
	{"FL", 3, {239, 305, 321, 324, 352, 386, 407, 448, 561, 645, 656, 689, 727, 728, 754, 772, 786, 813, 850,
		   863, 904, 941, 954, 0}},
	{"OK", 3, {405, 539, 572, 580, 918, 0}},
	{"MD", 3, {227, 240, 301, 410, 443, 667, 0}},
};

const char *sg__cap_state(const char *recipient_key, unsigned *limit)
{
	if (!recipient_key || strncmp(recipient_key, "+1", 2) || strlen(recipient_key) != 12)
		return NULL;
	const char *d = recipient_key + 2;
	if (d[0] < '2' || d[0] > '9' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9')
		return NULL;
	unsigned npa = (unsigned)(d[0] - '0') * 100 + (unsigned)(d[1] - '0') * 10 + (unsigned)(d[2] - '0');
	for (size_t i = 0; i < SG_ARRAY_SIZE(rules); i++)
		for (size_t j = 0; rules[i].npa[j]; j++)
			if (rules[i].npa[j] == npa) {
				*limit = rules[i].limit;
				return rules[i].state;
			}
	return NULL;
}

unsigned sg__campaign_max_per_day(sg_engine *e, const char *campaign_id)
{
	if (!campaign_id || !campaign_id[0])
		return 0;
	sg__registry_refresh(e); /* a failed refresh keeps the cached set */
	pthread_rwlock_rdlock(&e->reg_lock);
	const sg__campaign *c = sg__registry_find(e, campaign_id);
	unsigned n = c ? c->max_per_day : 0;
	pthread_rwlock_unlock(&e->reg_lock);
	return n;
}

bool sg__send_counts(sg_send_category c)
{
	return c != SG_SEND_INFORMATIONAL;
}

typedef struct counter {
	const char *campaign;
	int64_t at;
	uint64_t before_ordinal; /* count only sends before this one (0: all up to at) */
	unsigned count;
	int64_t times[64];       /* the oldest counted sends, in time order */
} counter;

static int count_one(const sg_send *s, void *ctx)
{
	counter *c = ctx;
	if (!sg__send_counts(s->category) || strcmp(s->campaign, c->campaign))
		return 0;
	if (s->at_us > c->at || (c->before_ordinal && s->at_us == c->at && s->ordinal >= c->before_ordinal))
		return 0;
	if (c->count < SG_ARRAY_SIZE(c->times))
		c->times[c->count] = s->at_us;
	c->count++;
	return 0;
}

int sg__cap_count(sg_engine *e, const char *recipient_key, const char *campaign, int64_t at, uint64_t before_ordinal,
		  unsigned *count, int64_t times[], size_t ntimes)
{
	counter c = {.campaign = campaign ? campaign : "", .at = at, .before_ordinal = before_ordinal};
	int rc = sg_sends_for_pair(e, NULL, recipient_key, at - DAY_US + 1, count_one, &c);
	if (rc)
		return rc;
	*count = c.count;
	size_t kept = c.count < SG_ARRAY_SIZE(c.times) ? c.count : SG_ARRAY_SIZE(c.times);
	for (size_t i = 1; i < kept; i++) /* index order is by second: sort the µs */
		for (size_t j = i; j > 0 && c.times[j - 1] > c.times[j]; j--) {
			int64_t t = c.times[j];
			c.times[j] = c.times[j - 1];
			c.times[j - 1] = t;
		}
	for (size_t i = 0; i < ntimes && i < c.count && i < SG_ARRAY_SIZE(c.times); i++)
		times[i] = c.times[i];
	return 0;
}

int sg_send_cap(sg_engine *e, const char *sender_key, const char *recipient_key, const char *campaign_id,
		sg_send_category category, int64_t at_us, sg_cap_result *out)
{
	if (!recipient_key || !out || category < SG_SEND_UNSPECIFIED || category > SG_SEND_INFORMATIONAL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!sg__send_counts(category))
		return 0;
	unsigned state_limit = 0;
	const char *state = sg__cap_state(recipient_key, &state_limit);
	if (!state) {
		/* no state rule: only a campaign's maxPerDay may cap, and when no
		 * campaign has one there is nothing to look up. A read-write
		 * engine's writer is the only one that changes the registry, so
		 * while its epoch has not moved that answer stands. */
		uint64_t epoch = atomic_load(&e->reg_epoch);
		if (!e->rdonly && atomic_load(&e->no_caps_epoch) == epoch + 1)
			return 0;
		int rrc = sg__registry_refresh(e);
		pthread_rwlock_rdlock(&e->reg_lock);
		size_t capped = e->reg.capped;
		bool loaded = e->reg.loaded;
		pthread_rwlock_unlock(&e->reg_lock);
		if (!rrc && loaded && !e->rdonly)
			atomic_store(&e->no_caps_epoch, capped ? 0 : epoch + 1);
		if (!capped)
			return 0;
	}
	if (!at_us)
		at_us = sg_now_us();
	char campaign[64] = "";
	if (campaign_id) {
		sg__strlcpy(campaign, campaign_id, sizeof(campaign));
	} else if (sender_key) {
		sg_sender_info info;
		int rc = sg_sender_get(e, sender_key, &info);
		if (rc && rc != SG_ENOTFOUND)
			return rc;
		if (!rc)
			sg__strlcpy(campaign, info.campaign_id, sizeof(campaign));
	}
	unsigned own = sg__campaign_max_per_day(e, campaign);
	unsigned limit = state_limit;
	const char *rule = state;
	if (own && (!limit || own < limit)) {
		limit = own;
		rule = "maxPerDay";
	}
	if (!limit)
		return 0; /* no cap: no store read */
	unsigned count;
	int64_t times[64];
	int rc = sg__cap_count(e, recipient_key, campaign, at_us, 0, &count, times, SG_ARRAY_SIZE(times));
	if (rc)
		return rc;
	out->limit = limit;
	out->count = count;
	sg__strlcpy(out->rule, rule, sizeof(out->rule));
	if (count >= limit) {
		out->exceeded = true;
		/* one more is allowed once all but limit - 1 of them left the window */
		size_t k = count - limit;
		out->next_allowed_at_us = (k < SG_ARRAY_SIZE(times) ? times[k] : at_us) + DAY_US;
	}
	return 0;
}

static const char *const categories[] = {
	[SG_SEND_UNSPECIFIED] = "unspecified",
	[SG_SEND_MARKETING] = "marketing",
	[SG_SEND_INFORMATIONAL] = "informational",
};

const char *sg_send_category_name(sg_send_category c)
{
	return (unsigned)c < SG_ARRAY_SIZE(categories) ? categories[c] : "unknown";
}

int sg_send_category_parse(const char *name, sg_send_category *ret)
{
	for (size_t i = 0; name && i < SG_ARRAY_SIZE(categories); i++)
		if (!strcmp(categories[i], name)) {
			*ret = (sg_send_category)i;
			return 0;
		}
	return -EINVAL;
}
