/* SPDX-License-Identifier: Apache-2.0 */
/* A campaign's own keywords (TCR optoutKeywords, optinKeywords,
 * helpKeywords: comma-separated, as imported). They add exact keywords on
 * top of the default set. They are folded like the defaults, built on first
 * use and published into campaign->kw_private with a compare-and-swap: two
 * threads racing both build, one wins, the other frees its copy. No lock,
 * and readers never see a half-built table. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keywords/kw_internal.h"

typedef struct ckey {
	uint32_t off, len;   /* folded keyword in arena */
	uint32_t soff, slen; /* without separators */
	sg_intent intent;
} ckey;

typedef struct kw_campaign {
	size_t n, maxlen; /* keys, longest folded key */
	char *arena;
	ckey keys[];
} kw_campaign;

/* The keywords a campaign can never take away or redefine. */
static bool protected_other(const char *q, size_t n, sg_intent intent)
{
	static const struct { const char *word; sg_intent intent; } fixed[] = {
		{"stop", SG_INTENT_OPT_OUT}, {"help", SG_INTENT_HELP}, {"start", SG_INTENT_OPT_IN}};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (n == strlen(fixed[i].word) && !memcmp(q, fixed[i].word, n))
			return intent != fixed[i].intent;
	return false;
}

static kw_campaign *build(const sg__campaign *c)
{
	const struct { const char *list; sg_intent intent; } lists[] = {
		{c->optout_keywords, SG_INTENT_OPT_OUT},
		{c->optin_keywords, SG_INTENT_OPT_IN},
		{c->help_keywords, SG_INTENT_HELP},
	};
	size_t nkeys = 0, bytes = 1;
	for (size_t l = 0; l < 3; l++) {
		for (const char *p = lists[l].list; p && *p; p++)
			nkeys += *p == ',';
		nkeys += lists[l].list != NULL;
		bytes += lists[l].list ? strlen(lists[l].list) * 3 + 2 : 0; /* folded + squeezed */
	}
	kw_campaign *k = calloc(1, sizeof(*k) + nkeys * sizeof(ckey));
	char *arena = malloc(bytes);
	if (!k || !arena || bytes >= UINT32_MAX) {
		free(k);
		free(arena);
		return NULL;
	}
	k->arena = arena;
	size_t used = 0;
	for (size_t l = 0; l < 3; l++) {
		for (const char *p = lists[l].list; p && *p;) {
			size_t n = strcspn(p, ",");
			size_t fl = sg__kw_fold(p, n, arena + used);
			size_t ql = sg__kw_squeeze(arena + used, fl, arena + used + fl + 1);
			if (ql && !protected_other(arena + used + fl + 1, ql, lists[l].intent)) {
				k->keys[k->n++] = (ckey){(uint32_t)used, (uint32_t)fl,
							 (uint32_t)(used + fl + 1), (uint32_t)ql,
							 lists[l].intent};
				used += fl + ql + 2;
				if (fl > k->maxlen)
					k->maxlen = fl;
			}
			p += n + (p[n] == ',');
		}
	}
	return k;
}

static int lookup(const kw_campaign *k, const char *f, size_t fl, sg_intent *intent)
{
	for (size_t i = 0; i < k->n; i++) {
		if (k->keys[i].len == fl && !memcmp(k->arena + k->keys[i].off, f, fl)) {
			*intent = k->keys[i].intent;
			return 0;
		}
	}
	char *q = malloc(fl + 1);
	if (!q)
		return -ENOMEM;
	size_t ql = sg__kw_squeeze(f, fl, q);
	for (size_t i = 0; i < k->n; i++) {
		if (k->keys[i].slen == ql && !memcmp(k->arena + k->keys[i].soff, q, ql)) {
			*intent = k->keys[i].intent;
			break;
		}
	}
	free(q);
	return 0;
}

int sg__kw_campaign_match(sg__campaign *c, const char *f, size_t fl, sg_intent *intent)
{
	kw_campaign *k = __atomic_load_n(&c->kw_private, __ATOMIC_ACQUIRE);
	if (!k) {
		kw_campaign *built = build(c);
		void *expected = NULL;
		if (!built)
			return -ENOMEM;
		if (__atomic_compare_exchange_n(&c->kw_private, &expected, built, false, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			k = built;
		} else {
			free(built->arena);
			free(built);
			k = expected;
		}
	}
	*intent = SG_INTENT_NONE;
	if (!k->n || fl > 3 * k->maxlen)
		return 0;
	return lookup(k, f, fl, intent);
}

void sg__kw_campaign_free(sg__campaign *campaign)
{
	if (!campaign || !campaign->kw_private)
		return;
	kw_campaign *k = campaign->kw_private;
	free(k->arena);
	free(k);
	campaign->kw_private = NULL;
}
