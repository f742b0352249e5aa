/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the keyword classifier (sg__kw_classify) on arbitrary bytes.
 * Input: one flags byte, then the text. Flag bit 0 adds a campaign whose
 * opt-out keyword list is the text up to its first 0xFF byte (NULs
 * dropped), bit 1 gives that campaign messages and a brand. The keyword
 * set is loaded once from $SG_KEYWORDS (else the source tree). Invariants
 * (abort() when broken):
 *  - the result is 0, or SG_EUTF8 exactly when the text is not valid UTF-8
 *    (a text of any length is classified);
 *  - on success: intent, confidence, rule, reply and lang agree (all set
 *    or all empty; lang empty only for campaign rules), strings are
 *    NUL-terminated inside their buffers and the reply is valid UTF-8;
 *  - classifying again gives the same result, and so does classifying
 *    without the trigger prefilter (a rule's triggers cover its pattern).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "internal.h"
#include "keywords/kw_internal.h"

static sg__kw_set *set;

static void die(const char *what, const uint8_t *in, size_t len)
{
	fprintf(stderr, "fuzz_classify: %s; input (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 300; i++)
		fprintf(stderr, " %02x", in[i]);
	fputc('\n', stderr);
	abort();
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static void check(const sg_classification *r, bool campaign, const uint8_t *in, size_t len)
{
	bool hit = r->intent != SG_INTENT_NONE;
	if ((unsigned)r->intent > SG_INTENT_HELP || (unsigned)r->confidence > SG_CONF_PROBABLE)
		die("enum out of range", in, len);
	if (!terminated(r->lang, sizeof(r->lang)) || !terminated(r->rule, sizeof(r->rule)) ||
	    !terminated(r->reply, sizeof(r->reply)))
		die("unterminated string", in, len);
	if (hit != (r->rule[0] != '\0') || hit != (r->confidence != SG_CONF_NONE) ||
	    hit != (r->reply[0] != '\0'))
		die("rule, confidence and reply disagree with the intent", in, len);
	bool campaign_rule = !strncmp(r->rule, "campaign.", 9);
	if ((campaign_rule && !campaign) || (hit && !campaign_rule) != (r->lang[0] != '\0'))
		die("lang disagrees with the rule", in, len);
	if (sg__utf8_count(r->reply, strlen(r->reply)) < 0)
		die("reply is not UTF-8", in, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!set) {
		const char *dir = getenv("SG_KEYWORDS");
		char err[512];
		if (sg__kw_load(dir && *dir ? dir : SG_KEYWORDS_DIR_SOURCE, &set, err, sizeof(err))) {
			fprintf(stderr, "fuzz_classify: keywords do not load: %s\n", err);
			abort();
		}
	}
	if (!size)
		return 0;
	unsigned flags = data[0];
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	sg__campaign c = {.brand_name = "Fuzz Brand"};
	char *list = NULL;
	if (flags & 1) {
		const uint8_t *sep = memchr(text, 0xFF, len);
		size_t n = sep ? (size_t)(sep - (const uint8_t *)text) : len;
		list = malloc(n + 1);
		if (!list)
			return 0;
		size_t o = 0;
		for (size_t i = 0; i < n; i++)
			if (text[i])
				list[o++] = text[i];
		list[o] = '\0';
		c.optout_keywords = list;
		c.help_keywords = "SUPPORT,STOP";
		if (flags & 2) {
			c.optout_message = "Fuzz Brand: unsubscribed, no more messages.";
			c.help_contact = "help@fuzz.example";
			c.message_frequency = list;
		}
	}
	sg__campaign *cp = flags & 1 ? &c : NULL;
	sg_classification r, again, raw;
	int rc = sg__kw_classify(set, cp, text, len, &r);
	int want = sg__utf8_count(text, len) < 0 ? SG_EUTF8 : 0;
	if (rc != want)
		die("unexpected return code", data, size);
	if (rc == 0) {
		check(&r, cp != NULL, data, size);
		if (sg__kw_classify(set, cp, text, len, &again) || memcmp(&r, &again, sizeof(r)))
			die("not deterministic", data, size);
		sg__kw_set_prefilter(set, false);
		int rc2 = sg__kw_classify(set, cp, text, len, &raw);
		sg__kw_set_prefilter(set, true);
		if (rc2 || raw.intent != r.intent || strcmp(raw.rule, r.rule))
			die("the prefilter changed the result: a rule's triggers are incomplete", data, size);
	}
	sg__kw_campaign_free(&c);
	free(list);
	return 0;
}
