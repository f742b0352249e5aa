/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Quiet hours in the check. The category of a check is the caller's, else
 * the sender's campaign TCR usecase, else the policy's default_category
 * (default none, so a deployment that names no category and registers no
 * campaign sees no change). Only after every other reason allowed does a
 * marketing message meet the rules of the recipient's place; the one
 * opt-out confirmation and HELP replies are exempt (the caller does not
 * apply this step to them). The windows are precomputed (engine/quiet/):
 * one binary search per recipient on the common path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "check/quiet.h"
#include "internal.h"
#include "quiet/quiet.h"

static const char *const cat_names[] = {
	[SG_CATEGORY_MARKETING] = "marketing",
	[SG_CATEGORY_INFORMATIONAL] = "informational",
	[SG_CATEGORY_TRANSACTIONAL] = "transactional",
	[SG_CATEGORY_CONVERSATIONAL] = "conversational",
};

const char *sg_category_name(sg_category c)
{
	return c > SG_CATEGORY_DEFAULT && c <= SG_CATEGORY_CONVERSATIONAL ? cat_names[c] : NULL;
}

int sg_category_parse(const char *name, sg_category *ret)
{
	if (!name)
		return -EINVAL;
	for (int c = SG_CATEGORY_MARKETING; c <= SG_CATEGORY_CONVERSATIONAL; c++)
		if (!strcmp(name, cat_names[c])) {
			*ret = (sg_category)c;
			return 0;
		}
	if (!strcmp(name, "default") || !strcmp(name, "none")) {
		*ret = SG_CATEGORY_DEFAULT;
		return 0;
	}
	return -EINVAL;
}

/* TCR use cases (campaign registry, "usecase"). Mixed and ambiguous ones
 * count as marketing: they may carry it. */
static const struct {
	const char *usecase;
	sg_category cat;
} usecases[] = {
	{"MARKETING", SG_CATEGORY_MARKETING},
	{"MIXED", SG_CATEGORY_MARKETING},
	{"LOW_VOLUME", SG_CATEGORY_MARKETING},
	{"LOW_VOLUME_MIXED", SG_CATEGORY_MARKETING},
	{"SWEEPSTAKE", SG_CATEGORY_MARKETING},
	{"AGENTS_FRANCHISES", SG_CATEGORY_MARKETING},
	{"SOLE_PROPRIETOR", SG_CATEGORY_MARKETING},
	{"TRIAL", SG_CATEGORY_MARKETING},
	{"2FA", SG_CATEGORY_TRANSACTIONAL},
	{"ACCOUNT_NOTIFICATION", SG_CATEGORY_TRANSACTIONAL},
	{"DELIVERY_NOTIFICATION", SG_CATEGORY_TRANSACTIONAL},
	{"FRAUD_ALERT", SG_CATEGORY_TRANSACTIONAL},
	{"SECURITY_ALERT", SG_CATEGORY_TRANSACTIONAL},
	{"MACHINE_TO_MACHINE", SG_CATEGORY_TRANSACTIONAL},
	{"CUSTOMER_CARE", SG_CATEGORY_CONVERSATIONAL},
	{"UCAAS_LOW", SG_CATEGORY_CONVERSATIONAL},
	{"UCAAS_HIGH", SG_CATEGORY_CONVERSATIONAL},
	{"PROXY", SG_CATEGORY_CONVERSATIONAL},
	{"PUBLIC_SERVICE_ANNOUNCEMENT", SG_CATEGORY_INFORMATIONAL},
	{"POLLING_VOTING", SG_CATEGORY_INFORMATIONAL},
	{"EMERGENCY", SG_CATEGORY_INFORMATIONAL},
	{"CARRIER_EXEMPT", SG_CATEGORY_INFORMATIONAL},
	{"CHARITY", SG_CATEGORY_INFORMATIONAL},
	{"POLITICAL", SG_CATEGORY_INFORMATIONAL},
	{"HIGHER_EDUCATION", SG_CATEGORY_INFORMATIONAL},
	{"K12_EDUCATION", SG_CATEGORY_INFORMATIONAL},
	{"SOCIAL", SG_CATEGORY_INFORMATIONAL},
};

sg_category sg_category_of_usecase(const char *u)
{
	if (!u)
		return SG_CATEGORY_DEFAULT;
	for (size_t i = 0; i < SG_ARRAY_SIZE(usecases); i++)
		if (!strcasecmp(u, usecases[i].usecase))
			return usecases[i].cat;
	return SG_CATEGORY_DEFAULT;
}

void sg_check_opts_init(sg_check_opts *o, size_t size)
{
	if (size < sizeof(size_t))
		return;
	memset(o, 0, size); /* every default is zero; a newer caller's tail too */
	memcpy(o, &size, sizeof(size));
}

/* The category of the sender's campaign, if it has a known usecase. */
static int campaign_category(sg_engine *e, const char *from_key, sg_category *ret)
{
	*ret = SG_CATEGORY_DEFAULT;
	if (!e->store_open)
		return 0;
	sg__txn *txn;
	sg__scopes sc;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	rc = sg__scopes_resolve(e, txn, from_key, &sc);
	sg__rd_end(&e->store, txn);
	if (rc || !sc.campaign_known)
		return rc;
	sg__registry_refresh(e); /* a failed refresh keeps the cached set */
	pthread_rwlock_rdlock(&e->reg_lock);
	const sg__campaign *c = sg__registry_find(e, sc.campaign);
	if (c)
		*ret = sg_category_of_usecase(c->usecase);
	pthread_rwlock_unlock(&e->reg_lock);
	return 0;
}

int sg__quiet_prepare(sg__quiet_ctx *q, sg_engine *e, const sg_check_opts *opts, const char *from_key,
		      const char cc[3], sg_quiet *out, size_t n)
{
	memset(q, 0, sizeof(*q));
	q->e = e;
	q->out = out; /* zeroed by sg_check_ex */
	memcpy(q->sender_cc, cc, 3);
	sg_category cat = opts->category;
	if (cat == SG_CATEGORY_DEFAULT && from_key) {
		int rc = campaign_category(e, from_key, &cat);
		if (rc)
			return rc;
	}
	if (cat == SG_CATEGORY_DEFAULT)
		cat = (sg_category)e->policy.default_category;
	q->cat = cat;
	for (size_t i = 0; out && i < n; i++)
		out[i].category = cat;
	if (cat == SG_CATEGORY_DEFAULT)
		return 0;
	int64_t at = opts->at_us ? opts->at_us : sg_now_us();
	q->at_s = at >= 0 ? at / 1000000 : -((-at + 999999) / 1000000);
	pthread_rwlock_rdlock(&e->reg_lock);
	q->locked = true;
	q->active = sg__qh_rule_count(e->qh) > 0;
	q->from_key = from_key;
	return 0;
}

void sg__quiet_apply(sg__quiet_ctx *q, size_t i, const char *to_key, sg_verdict *v)
{
	if (!q->active || !v->allow || v->confirmation)
		return;
	sg__qh_answer a;
	sg__qh_eval(q->e->qh, to_key, q->from_key, q->sender_cc, q->cat,
		    q->e->policy.quiet_unknown == SG_QUIET_UNKNOWN_SKIP, q->at_s, &a);
	sg_quiet *o = q->out ? &q->out[i] : NULL;
	if (o) {
		o->evaluated = a.region != NULL;
		if (a.region) {
			sg__strlcpy(o->region, a.region, sizeof(o->region));
			sg__strlcpy(o->tz, a.zones, sizeof(o->tz));
		}
	}
	if (!a.quiet)
		return;
	v->allow = false;
	v->reason = SG_REASON_QUIET_HOURS;
	if (o) {
		o->next_allowed_us = a.next_allowed_s * 1000000;
		if (a.rule) {
			size_t l = sg__strlcpy(o->rule, a.rule->file, sizeof(o->rule));
			if (l + 4 < sizeof(o->rule)) {
				memcpy(o->rule + l, " (", 3);
				l += 2;
				l += sg__strlcpy(o->rule + l, a.rule->statute, sizeof(o->rule) - l - 1);
				if (l < sizeof(o->rule) - 1)
					memcpy(o->rule + l, ")", 2);
			}
		}
	}
}

void sg__quiet_finish(sg__quiet_ctx *q)
{
	if (q->locked)
		pthread_rwlock_unlock(&q->e->reg_lock);
	q->locked = false;
}

int sg_check_ex(sg_engine *e, const char *from, const char *const *to, size_t n, const sg_check_opts *opts,
		sg_verdict *out, sg_quiet *quiet)
{
	sg_check_opts o;
	sg_check_opts_default(&o);
	int rc = opts ? sg__struct_in(&o, sizeof(o), opts, sizeof(o)) : 0;
	if (!rc && (o.category < SG_CATEGORY_DEFAULT || o.category > SG_CATEGORY_CONVERSATIONAL))
		rc = -EINVAL;
	if (!rc && o.campaign && strlen(o.campaign) >= 64)
		rc = -EINVAL; /* longer than any campaign id (sg_sender_info) */
	if (rc) { /* undecided: denied */
		for (size_t i = 0; i < n; i++) {
			memset(&out[i], 0, sizeof(out[i]));
			out[i].reason = SG_REASON_CHECK_FAILED;
		}
		return rc;
	}
	if (quiet) /* also for an invalid sender and the exempt purposes */
		memset(quiet, 0, n * sizeof(*quiet));
	return sg__check_run(e, from, to, n, o.purpose, out, &o, quiet);
}
