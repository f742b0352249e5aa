/* SPDX-License-Identifier: Apache-2.0 */
/* A registered campaign as the engine holds it in memory (parsed from the
 * TCR JSON stored in LMDB). Owned by the engine's registry cache. */
#pragma once
#include <stdbool.h>
#include "stopgate.h"

typedef struct sg__campaign {
	char id[64];
	char brand_id[64];
	char brand_name[128];     /* brandName / displayName / brand: program name in replies */
	char status[24];          /* "ACTIVE", "EXPIRED", ... */
	char usecase[48];
	bool active;              /* status == ACTIVE (or absent) */
	bool subscriber_optin;    /* TCR subscriberOptin: the campaign requires opt-in */
	bool subscriber_optout;
	bool subscriber_help;
	/* Comma-separated keyword lists exactly as imported (TCR format); NULL if absent. */
	char *optin_keywords, *optout_keywords, *help_keywords;
	/* Reply texts; NULL if absent (a default is then built). */
	char *optin_message, *optout_message, *help_message;
	char *help_contact;       /* helpContact: phone, email or URL for replies */
	char *message_frequency;  /* messageFrequency, e.g. "Up to 4 msgs/month" */
	/* stopgate policy overrides ("stopgate": {...}); *_set false = engine policy */
	sg_scope_kind optout_scope;
	bool probable_set;
	sg_probable_mode probable;
	unsigned max_per_day;     /* "maxPerDay": marketing sends per rolling 24 h, 0: none */
	/* Compiled campaign keywords, owned by the keyword engine
	 * (sg__kw_campaign_free releases it). */
	void *kw_private;
} sg__campaign;
