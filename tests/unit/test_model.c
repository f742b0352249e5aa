/* SPDX-License-Identifier: Apache-2.0 */
/* The intent model (engine/keywords/model.c, keywords/intent.model): its
 * file's errors name the file and line; a model made here by hand answers
 * what the rules leave, and only where it may (a trigger word or the
 * file's higher "untriggered" threshold; where a guard matched an opt-in
 * or help at "guarded", never an opt-out; not one Latin word); its answers carry their probability; the
 * feature hashes the shipped model was trained on do not drift; and the
 * shipped model never reads a real word as a keyword. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "internal.h"
#include "keywords/kw_internal.h"
#include "testutil.h"

/* A language xx whose only pattern never matches, with "please" as its
 * trigger, a guard on "not zzgo" triggered by "not" and one on "oops". */
static const char rules[] = "# the rules of a test language\n"
			    "exact opt_out xx.stop HALTE\n\n"
			    "# a phrase that never matches: its trigger lets the model read a text\n"
			    "phrase opt_out xx.never please ^please never ever$\n\n"
			    "# a guard: \"not zzgo\" is no request\n"
			    "guard none xx.g.not not \\bnot zzgo\\b\n\n"
			    "# a guard that blanks \"oops\" (as \"I sent STOP by mistake\" is)\n"
			    "guard none xx.g.oops oops \\boops\\b\n";

typedef struct hashes {
	uint32_t h[64];
	size_t n;
} hashes;

static void collect(uint32_t h, void *arg)
{
	hashes *a = arg;
	if (a->n < 64)
		a->h[a->n++] = h;
}

/* The 65536-bucket indexes of a text's features but the word count (every
 * text has one), added to b[0..*n) in ascending order, each once; k[] (if
 * given) receives kind for each bucket added. */
static void add_buckets(const hashes *h, int kind, uint32_t *b, int *k, size_t *n)
{
	for (size_t i = 0; i + 1 < h->n; i++) {
		uint32_t v = h->h[i] & 65535;
		size_t at = *n;
		while (at > 0 && b[at - 1] > v)
			at--;
		if (at > 0 && b[at - 1] == v)
			continue;
		memmove(b + at + 1, b + at, (*n - at) * sizeof(*b));
		b[at] = v;
		if (k) {
			memmove(k + at + 1, k + at, (*n - at) * sizeof(*k));
			k[at] = kind;
		}
		(*n)++;
	}
}

static void model_file_errors(void **state)
{
	(void)state;
	static const struct { const char *text, *why; } bad[] = {
		{"stopgate-model 2\n", "intent.model:1: the first line must be: stopgate-model 1"},
		{"# c\nstopgate-model 1\nw 1 0 0 0 0 -\n", "intent.model:3: a weight before the buckets"},
		{"stopgate-model 1\nbuckets 100\n", "intent.model:2: buckets: a power of two"},
		{"stopgate-model 1\nbuckets 64\nlangs xx\nw 3 0 1 0 0 -\nw 2 0 1 0 0 -\n", "intent.model:5: bucket out of order"},
		{"stopgate-model 1\nbuckets 64\nlangs xx\nw 64 0 1 0 0 -\n", "intent.model:4: bucket index missing or past"},
		{"stopgate-model 1\nbuckets 64\nlangs xx\nw 1 0 40000 0 0 -\n", "intent.model:4: want four weights"},
		{"stopgate-model 1\nbuckets 64\nlangs xx\nw 1 0 1 0 0 7\n", "intent.model:4: language: an index"},
		{"stopgate-model 1\nthreshold 1 0.6 1.5 0.6\n", "intent.model:2: threshold: four probabilities"},
		{"stopgate-model 1\nscale 2\n", "intent.model:2: scale: a number between 0 and 1"},
		{"stopgate-model 1\nuntriggered 1.5\n", "intent.model:2: untriggered: one probability"},
		{"stopgate-model 1\nuntriggered 0.7 0.8\n", "intent.model:2: untriggered: one probability"},
		{"stopgate-model 1\nguarded 0\n", "intent.model:2: guarded: one probability"},
		{"stopgate-model 1\nfrobnicate 1\n", "intent.model:2: unknown line"},
		{"stopgate-model 1\nbuckets 64\nlangs xx\n", "intent.model:0: missing one of the buckets"},
	};
	char *dir = tu_mkdtemp(), err[512];
	tu_write_file(dir, "xx.kw", rules);
	sg__kw_set *s = NULL;
	for (size_t i = 0; i < SG_ARRAY_SIZE(bad); i++) {
		tu_write_file(dir, "intent.model", bad[i].text);
		int rc = sg__kw_load(dir, &s, err, sizeof(err));
		if (rc != SG_EKEYWORDS || !strstr(err, bad[i].why) || !strstr(err, "scripts/train-model.py"))
			fail_msg("case %zu: rc %d err \"%s\", want \"%s\"", i, rc, err, bad[i].why);
	}
	tu_rmdir(dir);
}

static sg_classification classify(const sg__kw_set *s, const char *text)
{
	sg_classification out;
	assert_int_equal(sg__kw_classify(s, NULL, text, strlen(text), &out), 0);
	return out;
}

static void model_answers_where_it_may(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp(), err[512];
	tu_write_file(dir, "xx.kw", rules);
	sg__kw_set *s;
	assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), 0);
	char before[SG_KWVERSION_MAX];
	sg__strlcpy(before, sg__kw_version(s), sizeof(before));
	sg__kw_free(s);
	/* A model whose only knowledge is that the word zzgo (its unigram and
	 * pieces) is an opt-out: the features of the one-word text "zzgo". */
	hashes z = {0};
	sg__kw_features("zzgo", 4, collect, &z);
	assert_int_equal(z.n, 1 + 3 + 1); /* the word, <zzg zzgo zgo>, the word count */
	uint32_t idx[8];
	size_t n = 0;
	add_buckets(&z, 0, idx, NULL, &n);
	char model[1024];
	int len = snprintf(model, sizeof(model),
			   "# by hand\nstopgate-model 1\nbuckets 65536\nscale 0.001\nlangs xx\n"
			   "bias 2 0 -3 -3\nthreshold 1 0.6 0.8 0.6\n");
	for (size_t i = 0; i < n; i++)
		len += snprintf(model + len, sizeof(model) - (size_t)len, "w %u -500 1500 0 0 0\n", idx[i]);
	tu_write_file(dir, "intent.model", model);
	assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), 0);
	assert_string_not_equal(sg__kw_version(s), before); /* the model is part of the set's version */

	sg_classification r = classify(s, "please zzgo now");
	assert_int_equal(r.intent, SG_INTENT_OPT_OUT);
	assert_int_equal(r.confidence, SG_CONF_PROBABLE);
	assert_string_equal(r.lang, "xx");
	assert_int_equal(strncmp(r.rule, "xx.model.", 9), 0);
	int pct = atoi(r.rule + 9);
	assert_true(pct >= 60 && pct <= 99);
	double score = sg__kw_score(s, &r); /* no calibration file: the model's own probability */
	assert_true(score > pct / 100.0 && score < (pct + 1) / 100.0);
	assert_non_null(strstr(r.reply, "unsubscribed"));

	/* where the model may not answer */
	assert_int_equal(classify(s, "zzgo now").intent, SG_INTENT_NONE);       /* no trigger word */
	assert_int_equal(classify(s, "zzgo").intent, SG_INTENT_NONE);           /* one Latin word */
	assert_int_equal(classify(s, "zzgo zzgo").intent, SG_INTENT_NONE);      /* said again */
	assert_int_equal(classify(s, "please not zzgo").intent, SG_INTENT_NONE); /* a guard matched */
	/* the guard's own trigger, no phrase to run: the guards run when the
	 * model would answer, and keep it off */
	assert_int_equal(classify(s, "not zzgo please").intent, SG_INTENT_NONE);
	assert_int_equal(classify(s, "not zzgo today").intent, SG_INTENT_NONE);
	assert_int_equal(classify(s, "zzgo not today").intent, SG_INTENT_OPT_OUT);
	/* the rules first: an exact keyword is the rule's */
	assert_string_equal(classify(s, "HALTE").rule, "xx.stop");
	/* the same with and without the prefilter (every rule run) */
	sg__kw_set_prefilter(s, false);
	assert_int_equal(classify(s, "please zzgo now").intent, SG_INTENT_OPT_OUT);
	assert_int_equal(classify(s, "not zzgo today").intent, SG_INTENT_NONE);
	sg__kw_set_prefilter(s, true);
	/* tests can switch it off: the rules alone */
	sg__kw_set_model(s, false);
	assert_int_equal(classify(s, "please zzgo now").intent, SG_INTENT_NONE);
	sg__kw_set_model(s, true);
	sg__kw_free(s);

	/* a threshold of 1 turns an intent off */
	len = snprintf(model, sizeof(model),
		       "stopgate-model 1\nbuckets 65536\nscale 0.001\nlangs xx\nbias 2 0 -3 -3\nthreshold 1 1 1 1\n");
	for (size_t i = 0; i < n; i++)
		len += snprintf(model + len, sizeof(model) - (size_t)len, "w %u -500 1500 0 0 0\n", idx[i]);
	tu_write_file(dir, "intent.model", model);
	assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), 0);
	assert_int_equal(classify(s, "please zzgo now").intent, SG_INTENT_NONE);
	sg__kw_free(s);

	/* "untriggered U": texts without a trigger word too, when the intent
	 * reaches U (here p(opt_out) is 0.997: e^6 against e^0 + 2e^-3) */
	static const struct { const char *u; sg_intent want; } untrig[] = {
		{"0.9", SG_INTENT_OPT_OUT}, {"0.999", SG_INTENT_NONE}, {"0.3", SG_INTENT_OPT_OUT}};
	for (size_t k = 0; k < SG_ARRAY_SIZE(untrig); k++) {
		len = snprintf(model, sizeof(model),
			       "stopgate-model 1\nbuckets 65536\nscale 0.001\nlangs xx\nbias 2 0 -3 -3\n"
			       "threshold 1 0.6 0.8 0.6\nuntriggered %s\n", untrig[k].u);
		for (size_t i = 0; i < n; i++)
			len += snprintf(model + len, sizeof(model) - (size_t)len, "w %u -500 1500 0 0 0\n", idx[i]);
		tu_write_file(dir, "intent.model", model);
		assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), 0);
		r = classify(s, "zzgo now");
		assert_int_equal(r.intent, untrig[k].want);
		if (r.intent)
			assert_int_equal(strncmp(r.rule, "xx.model.", 9), 0);
		/* a trigger word: the intent's own threshold, whatever U is */
		assert_int_equal(classify(s, "please zzgo now").intent, SG_INTENT_OPT_OUT);
		/* still the rules' own: one Latin word, said again, a guard */
		assert_int_equal(classify(s, "zzgo").intent, SG_INTENT_NONE);
		assert_int_equal(classify(s, "zzgo zzgo").intent, SG_INTENT_NONE);
		assert_int_equal(classify(s, "please not zzgo").intent, SG_INTENT_NONE);
		sg__kw_free(s);
	}

	/* "guarded G": where a guard matched, an opt-in or help at G, never an
	 * opt-out. The word zzin is an opt-in to this model. */
	hashes zi = {0};
	sg__kw_features("zzin", 4, collect, &zi);
	for (int with = 0; with < 2; with++) {
		len = snprintf(model, sizeof(model),
			       "stopgate-model 1\nbuckets 65536\nscale 0.001\nlangs xx\nbias 2 0 -3 -3\n"
			       "threshold 1 0.6 0.8 0.6\n%s", with ? "guarded 0.9\n" : "");
		/* the buckets of both words, in order; zzgo's weights where they share one */
		uint32_t all[16];
		int kind[16];
		size_t na = 0;
		add_buckets(&z, 0, all, kind, &na);
		add_buckets(&zi, 1, all, kind, &na);
		for (size_t i = 0; i < na; i++)
			len += snprintf(model + len, sizeof(model) - (size_t)len, "w %u -500 %s 0 0\n", all[i],
					kind[i] ? "0 1500" : "1500 0");
		tu_write_file(dir, "intent.model", model);
		assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), 0);
		sg_intent want = with ? SG_INTENT_OPT_IN : SG_INTENT_NONE;
		assert_int_equal(classify(s, "please oops zzin").intent, want); /* the guard ran with the phrase */
		assert_int_equal(classify(s, "oops zzin").intent, want);        /* the guard ran for the model */
		assert_int_equal(classify(s, "please zzin").intent, SG_INTENT_OPT_IN); /* no guard */
		/* never an opt-out where a guard matched */
		assert_int_equal(classify(s, "please oops zzgo").intent, SG_INTENT_NONE);
		assert_int_equal(classify(s, "oops zzgo").intent, SG_INTENT_NONE);
		assert_int_equal(classify(s, "please zzgo").intent, SG_INTENT_OPT_OUT);
		sg__kw_free(s);
	}
	tu_rmdir(dir);
}

/* The shipped model was trained on these hashes (scripts/train-model.py
 * reads them from the engine): a change of the features or of their hash
 * makes every weight point at the wrong bucket, so it must come with a
 * retrained model and a new expected list here. */
static void features_do_not_drift(void **state)
{
	(void)state;
	static const uint32_t want[] = {286622989u, 3889308095u, 521019006u, 2304736089u, 3967912156u, 1264136391u, 2763544062u, 385198530u, 2208048499u, 2633566673u, 812390859u, 545391826u, 3386292143u, 3158569523u, 3140899051u};
	hashes h = {0};
	assert_int_equal(sg__kw_features("stop texting me", 15, collect, &h), SG_ARRAY_SIZE(want));
	assert_int_equal(h.n, SG_ARRAY_SIZE(want));
	for (size_t i = 0; i < h.n; i++)
		if (h.h[i] != want[i])
			fail_msg("feature %zu of \"stop texting me\" is %u, was %u: retrain keywords/intent.model "
				 "(scripts/train-model.py) and update this list", i, h.h[i], want[i]);
	/* CJK: neighbouring characters, in a run of any length */
	hashes c = {0};
	sg__kw_features("\xe4\xb8\x8d\xe8\xa6\x81\xe5\x86\x8d\xe5\x8f\x91", 12, collect, &c); /* 不要再发 */
	assert_int_equal(c.n, 1 + 3 + 3 + 1); /* the run, its pieces, its pairs, the count */
}

/* The shipped rules and model: a real word that looks like a keyword is no
 * keyword, alone or said again; the model's answers name it. */
static void shipped_model(void **state)
{
	(void)state;
	char err[512];
	sg__kw_set *s;
	assert_int_equal(sg__kw_load(tu_keywords_full(), &s, err, sizeof(err)), 0);
	if (!s->model) {
		sg__kw_free(s);
		skip();
	}
	static const char *const real[] = {
		"quilt", "canal", "ending", "cancer", "startle", "hell", "stops", "stoop", "stomp", "shop",
		"spot", "post", "step", "atop", "stopwatch", "helm", "hello", "star", "staff", "endless",
		"candle", "Fine", "sari", "dung", "Đúng", "yes yes yes", "ok ok", "quiet", "quite",
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(real); i++) {
		sg_classification r = classify(s, real[i]);
		if (strstr(r.rule, ".model."))
			fail_msg("\"%s\": the model answered %s (%s)", real[i], sg_intent_name(r.intent), r.rule);
	}
	/* whatever it answers, an answer is a probable named after the model */
	static const char *const texts[] = {"please quit blowing up my phone with these",
					    "i am so done with all of your messages",
					    "who keeps sending me this stuff and what is it"};
	for (size_t i = 0; i < SG_ARRAY_SIZE(texts); i++) {
		sg_classification r = classify(s, texts[i]);
		if (strstr(r.rule, ".model.")) {
			assert_int_equal(r.confidence, SG_CONF_PROBABLE);
			assert_true(r.lang[0] != '\0');
			assert_true(r.reply[0] != '\0');
		}
	}
	sg__kw_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(model_file_errors),
		cmocka_unit_test(model_answers_where_it_may),
		cmocka_unit_test(features_do_not_drift),
		cmocka_unit_test(shipped_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
