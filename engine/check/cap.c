/* SPDX-License-Identifier: Apache-2.0 */
/* The frequency-cap step of the check (sg_check_ex), after quiet hours: an
 * allowed ordinary message (SG_PURPOSE_MESSAGE, not the one confirmation)
 * whose category resolved to marketing — the same rule as quiet hours —
 * and whose recipient and subject (opts->campaign, else the sender's
 * campaign) reached their cap in the 24 h before `at` is denied
 * SG_REASON_FREQUENCY_CAP, with the subject as its scope (the campaign,
 * or the sender when it has none); its sg_quiet tells when the
 * next send is allowed and which cap ("FL", "OK", "MD", "maxPerDay").
 * The send ledger is read only where a cap applies (sg_send_cap): a
 * recipient outside FL, OK and MD costs nothing while no campaign has a
 * maxPerDay. */
#include <string.h>

#include "check/quiet.h"
#include "internal.h"

/* The subject that reached its cap, as the verdict's scope: the campaign
 * named or the sender's, else the sender itself (its sends without one). */
static void set_subject(sg_engine *e, const char *from_key, const char *campaign, sg_verdict *v)
{
	sg_sender_info info;
	if (!campaign && from_key && sg_sender_get(e, from_key, &info) == 0 && info.campaign_id[0])
		campaign = info.campaign_id;
	if (campaign && campaign[0]) {
		v->scope = SG_SCOPE_CAMPAIGN;
		sg__strlcpy(v->scope_id, campaign, sizeof(v->scope_id));
	} else {
		v->scope = SG_SCOPE_SENDER;
		sg__strlcpy(v->scope_id, from_key ? from_key : "", sizeof(v->scope_id));
	}
}

int sg__cap_apply(sg_engine *e, const char *from_key, const char cc[3], const char *const *to, size_t n,
		  const sg_check_opts *opts, sg_verdict *out, sg_quiet *quiet)
{
	for (size_t i = 0; i < n; i++) {
		char key[SG_KEY_MAX];
		const char *t = to[i] ? to[i] : "";
		if (!out[i].allow || out[i].confirmation ||
		    sg_number_normalize(t, strlen(t), cc[0] ? cc : NULL, SG_FIELD_ANY, key, NULL))
			continue;
		sg_cap_result r;
		int rc = sg_send_cap(e, from_key, key, opts->campaign, SG_SEND_MARKETING, opts->at_us, &r);
		if (rc) { /* fail closed: this verdict and the rest undecided */
			for (size_t j = i; j < n; j++) {
				out[j].allow = false;
				out[j].confirmation = false;
				out[j].reason = SG_REASON_CHECK_FAILED;
			}
			return rc;
		}
		if (!r.exceeded)
			continue;
		out[i].allow = false;
		out[i].reason = SG_REASON_FREQUENCY_CAP;
		set_subject(e, from_key, opts->campaign, &out[i]);
		if (quiet) {
			quiet[i].next_allowed_us = r.next_allowed_at_us;
			sg__strlcpy(quiet[i].rule, r.rule, sizeof(quiet[i].rule));
		}
	}
	return 0;
}
