/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The classifier's calibration (keywords/calibration.tsv, written by
 * scripts/calibrate.py from the evaluation corpora): for each rule, how
 * many of the corpus messages it matched carry the intent it gives. The
 * score of a classification is that rule's precision, shrunk toward its
 * confidence tier's prior when the rule matched few messages:
 *
 *     score = (right + K * prior) / (total + K)
 *
 * so a rule seen twice does not claim 100 %, and a rule the corpora never
 * exercised scores its tier's prior. Intent none ("-") scores how often an
 * unmatched message was truly none. The file is optional: without it every
 * score is its tier's prior.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keywords/kw_internal.h"
#include "internal.h"

#define K 5.0

struct kw_calib {
	char rule[64];
	uint32_t right, total;
};

static double prior(sg_confidence c)
{
	switch (c) {
	case SG_CONF_EXACT:
		return 0.98;
	case SG_CONF_PHRASE:
		return 0.9;
	case SG_CONF_PROBABLE:
		return 0.6;
	default:
		return 0.9; /* an unmatched message: most are ordinary texts */
	}
}

static int by_rule(const void *a, const void *b)
{
	return strcmp(((const kw_calib *)a)->rule, ((const kw_calib *)b)->rule);
}

static int bad(char *err, size_t errlen, const char *path, unsigned line, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s:%u: %s (regenerate it: scripts/calibrate.py)", path, line, what);
	return SG_EKEYWORDS;
}

int sg__kw_calib_load(sg__kw_set *s, const char *dir, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/calibration.tsv", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : bad(err, errlen, path, 0, strerror(errno));
	char line[256];
	unsigned no = 0;
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		no++;
		size_t len = strlen(line);
		if (len && line[len - 1] != '\n' && !feof(f)) {
			rc = bad(err, errlen, path, no, "line too long");
			break;
		}
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char rule[128], intent[16];
		unsigned right, total;
		char extra;
		if (sscanf(line, "%127[^\t]\t%15[^\t]\t%u\t%u %c", rule, intent, &right, &total, &extra) != 4) {
			rc = bad(err, errlen, path, no, "want: rule TAB intent TAB right TAB total");
			break;
		}
		if (strlen(rule) >= sizeof(s->calib[0].rule) || right > total || !total) {
			rc = bad(err, errlen, path, no, "rule id over 63 bytes, or right > total, or total 0");
			break;
		}
		if (s->ncalib == s->calib_cap) {
			size_t nc = s->calib_cap ? s->calib_cap * 2 : 256;
			kw_calib *nv = realloc(s->calib, nc * sizeof(*nv));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			s->calib = nv;
			s->calib_cap = nc;
		}
		kw_calib *c = &s->calib[s->ncalib++];
		sg__strlcpy(c->rule, rule, sizeof(c->rule));
		c->right = right;
		c->total = total;
	}
	fclose(f);
	if (rc)
		return rc;
	if (s->ncalib)
		qsort(s->calib, s->ncalib, sizeof(*s->calib), by_rule);
	for (size_t i = 1; i < s->ncalib; i++)
		if (!strcmp(s->calib[i - 1].rule, s->calib[i].rule))
			return bad(err, errlen, path, 0, "a rule is listed twice");
	return 0;
}

double sg__kw_score(const sg__kw_set *s, const sg_classification *c)
{
	kw_calib key;
	sg__strlcpy(key.rule, c->intent == SG_INTENT_NONE || !c->rule[0] ? "-" : c->rule, sizeof(key.rule));
	double p = prior(c->intent == SG_INTENT_NONE ? SG_CONF_NONE : c->confidence);
	/* The model's answers carry its probability ("en.model.87"), the prior;
	 * the held-out count of its answers in that tenth ("model.80") */
	const char *m = c->intent != SG_INTENT_NONE ? strstr(c->rule, ".model.") : NULL;
	if (m && m[7] >= '0' && m[7] <= '9' && m[8] >= '0' && m[8] <= '9' && !m[9]) {
		p = ((m[7] - '0') * 10 + (m[8] - '0') + 0.5) / 100.0;
		snprintf(key.rule, sizeof(key.rule), "model.%c0", m[7]);
	}
	const kw_calib *hit = s && s->ncalib ? bsearch(&key, s->calib, s->ncalib, sizeof(*s->calib), by_rule) : NULL;
	if (!hit)
		return p;
	return ((double)hit->right + K * p) / ((double)hit->total + K);
}

void sg__kw_calib_free(sg__kw_set *s)
{
	free(s->calib);
	s->calib = NULL;
	s->ncalib = s->calib_cap = 0;
}
