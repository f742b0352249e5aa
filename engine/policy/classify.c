/* SPDX-License-Identifier: Apache-2.0 */
/* sg_classify: the keyword engine with the campaign's own keywords. */
#include <string.h>

#include "engine.h"
#include "internal.h"

int sg_classify(sg_engine *e, const char *campaign_id, const char *text, size_t len, sg_classification *out)
{
	if (!text && len)
		return -EINVAL;
	if (campaign_id && campaign_id[0])
		sg__registry_refresh(e); /* a failed refresh keeps the cached set */
	pthread_rwlock_rdlock(&e->reg_lock);
	sg__campaign *c = campaign_id && campaign_id[0] ? sg__registry_find(e, campaign_id) : NULL;
	int rc = sg__kw_classify(e->kw, c, text ? text : "", len, out);
	pthread_rwlock_unlock(&e->reg_lock);
	return rc;
}
