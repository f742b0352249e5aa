/* SPDX-License-Identifier: Apache-2.0 */
/* sg_classify: the keyword engine with the campaign's own keywords, and
 * the version of the set that answered. */
#include <string.h>

#include "engine.h"
#include "internal.h"

int sg__classify_versioned(sg_engine *e, const char *campaign_id, const char *text, size_t len,
			   sg_classification *out, char kwver[SG_KWVERSION_MAX])
{
	if (!text && len)
		return -EINVAL;
	if (campaign_id && campaign_id[0])
		sg__registry_refresh(e); /* a failed refresh keeps the cached set */
	pthread_rwlock_rdlock(&e->reg_lock);
	sg__campaign *c = campaign_id && campaign_id[0] ? sg__registry_find(e, campaign_id) : NULL;
	int rc = e->kw ? sg__kw_classify(e->kw, c, text ? text : "", len, out) : SG_ENOKEYWORDS;
	if (kwver)
		sg__strlcpy(kwver, sg__kw_version(e->kw), SG_KWVERSION_MAX);
	pthread_rwlock_unlock(&e->reg_lock);
	return rc;
}

int sg_classify(sg_engine *e, const char *campaign_id, const char *text, size_t len, sg_classification *out)
{
	return sg__classify_versioned(e, campaign_id, text, len, out, NULL);
}

double sg_classification_score(sg_engine *e, const sg_classification *c)
{
	if (!e || !c)
		return 0.0;
	pthread_rwlock_rdlock(&e->reg_lock);
	double s = sg__kw_score(e->kw, c);
	pthread_rwlock_unlock(&e->reg_lock);
	return s;
}

sg_intent sg__review_proposed(const sg_event *ev)
{
	/* policy.c notes "proposed=opt_in" on a probable opt-in it holds */
	const char *n = ev && ev->note ? strstr(ev->note, "proposed=opt_in") : NULL;
	return n && (n == ev->note || n[-1] == ' ') && (!n[15] || n[15] == ';') ? SG_INTENT_OPT_IN
										 : SG_INTENT_OPT_OUT;
}

double sg__review_score(sg_engine *e, const sg_event *ev)
{
	sg_classification c = {.intent = sg__review_proposed(ev), .confidence = SG_CONF_PROBABLE};
	sg__strlcpy(c.rule, ev->rule ? ev->rule : "", sizeof(c.rule));
	return (double)(int)(sg_classification_score(e, &c) * 1000 + 0.5) / 1000;
}

void sg_keywords_version(sg_engine *e, char out[SG_KWVERSION_MAX])
{
	pthread_rwlock_rdlock(&e->reg_lock);
	sg__strlcpy(out, sg__kw_version(e->kw), SG_KWVERSION_MAX);
	pthread_rwlock_unlock(&e->reg_lock);
}
