/* SPDX-License-Identifier: Apache-2.0 */
/* Names of the enums as they appear in JSON, CSV and the CLI. */
#include <errno.h>
#include <string.h>

#include "internal.h"

static const char *const reasons[] = {
	[SG_REASON_INVALID_NUMBER] = "invalid_number",
	[SG_REASON_SENDER_UNREGISTERED] = "sender_unregistered",
	[SG_REASON_CAMPAIGN_INACTIVE] = "campaign_inactive",
	[SG_REASON_NOT_SMS_CAPABLE] = "recipient_not_sms_capable",
	[SG_REASON_OPTED_OUT] = "opted_out",
	[SG_REASON_NO_CONSENT] = "no_consent",
	[SG_REASON_CLAIM_REQUIRED] = "confirmation_needs_writer",
	[SG_REASON_CHECK_FAILED] = "check_failed",
	[SG_REASON_QUIET_HOURS] = "quiet_hours",
	[SG_REASON_FREQUENCY_CAP] = "frequency_cap",
	[SG_REASON_STALE_REPLICA] = "stale_replica",
	[SG_REASON_REPLICA_DIVERGED] = "replica_diverged",
};
static const char *const scopes[] = {
	[SG_SCOPE_DEFAULT] = "default", [SG_SCOPE_SENDER] = "sender", [SG_SCOPE_GROUP] = "group",
	[SG_SCOPE_CAMPAIGN] = "campaign", [SG_SCOPE_BRAND] = "brand", [SG_SCOPE_GLOBAL] = "global",
};
static const char *const intents[] = {
	[SG_INTENT_NONE] = "none", [SG_INTENT_OPT_OUT] = "opt_out",
	[SG_INTENT_OPT_IN] = "opt_in", [SG_INTENT_HELP] = "help",
};
static const char *const confidences[] = {
	[SG_CONF_NONE] = "none", [SG_CONF_EXACT] = "exact",
	[SG_CONF_PHRASE] = "phrase", [SG_CONF_PROBABLE] = "probable",
};
static const char *const actions[] = {
	[0] = "none",
	[SG_ACTION_OPT_OUT] = "opt_out",
	[SG_ACTION_OPT_IN] = "opt_in",
	[SG_ACTION_HELP] = "help",
	[SG_ACTION_FLAG_NOT_SMS_CAPABLE] = "flag_not_sms_capable",
	[SG_ACTION_CLEAR_NOT_SMS_CAPABLE] = "clear_not_sms_capable",
	[SG_ACTION_REVIEW] = "review",
	[SG_ACTION_REDACT] = "redact",
	[SG_ACTION_CONFIRM_SENT] = "confirmation_sent",
	[SG_ACTION_CAMPAIGN] = "campaign",
	[SG_ACTION_SENDER] = "sender",
	[SG_ACTION_REVIEW_RESOLVED] = "review_resolved",
	[SG_ACTION_SENDS] = "sends",
};
static const char *const sources[] = {
	[0] = "none",
	[SG_SOURCE_KEYWORD] = "keyword",
	[SG_SOURCE_PROVIDER_SIGNAL] = "provider_signal",
	[SG_SOURCE_API] = "api",
	[SG_SOURCE_IMPORT] = "import",
	[SG_SOURCE_OPERATOR] = "operator",
};

#define NAME(table, v) ((unsigned)(v) < SG_ARRAY_SIZE(table) && table[v] ? table[v] : "unknown")

static int parse(const char *const *table, size_t n, const char *name, int first)
{
	for (size_t i = (size_t)first; name && i < n; i++)
		if (table[i] && !strcmp(table[i], name))
			return (int)i;
	return -EINVAL;
}

const char *sg_reason_name(sg_reason r)
{
	return r == SG_REASON_NONE ? NULL : NAME(reasons, r);
}

const char *sg_scope_name(sg_scope_kind s)
{
	return NAME(scopes, s);
}

int sg_scope_parse(const char *name, sg_scope_kind *ret)
{
	int v = parse(scopes, SG_ARRAY_SIZE(scopes), name, 0);
	if (v < 0)
		return v;
	*ret = (sg_scope_kind)v;
	return 0;
}

const char *sg_intent_name(sg_intent i)
{
	return NAME(intents, i);
}

const char *sg_confidence_name(sg_confidence c)
{
	return NAME(confidences, c);
}

const char *sg_action_name(sg_action a)
{
	return NAME(actions, a);
}

int sg_action_parse(const char *name, sg_action *ret)
{
	int v = parse(actions, SG_ARRAY_SIZE(actions), name, 1);
	if (v < 0)
		return v;
	*ret = (sg_action)v;
	return 0;
}

const char *sg_source_name(sg_source s)
{
	return NAME(sources, s);
}

int sg_source_parse(const char *name, sg_source *ret)
{
	int v = parse(sources, SG_ARRAY_SIZE(sources), name, 1);
	if (v < 0)
		return v;
	*ret = (sg_source)v;
	return 0;
}
