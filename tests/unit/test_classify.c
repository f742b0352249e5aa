/* SPDX-License-Identifier: Apache-2.0 */
/* The keyword engine: folding, every default keyword of every language,
 * the examples of issue 3, campaign keywords (and their lazy build racing
 * across threads), invalid UTF-8, the 1,600-character limit, replies per
 * language, load errors (and the reason kept for the CLI), typo tolerance
 * and the issue 13 languages (scripts without spaces, Vietnamese, Arabic and
 * Cyrillic folding). The corpus figures are in test_corpus.c. */
#include <errno.h>
#include <pthread.h>
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

static sg__kw_set *set;

static const char *kw_dir(void)
{
	const char *d = getenv("SG_KEYWORDS");
	return d && *d ? d : SG_KEYWORDS_DIR_SOURCE;
}

static int setup(void **state)
{
	(void)state;
	char err[512];
	int rc = sg__kw_load(kw_dir(), &set, err, sizeof(err));
	if (rc)
		fprintf(stderr, "keywords do not load: %s\n", err);
	return rc;
}

static int teardown(void **state)
{
	(void)state;
	sg__kw_free(set);
	return 0;
}

static sg_classification run_c(sg__campaign *c, const char *text, size_t len)
{
	sg_classification out;
	int rc = sg__kw_classify(set, c, text, len, &out);
	if (rc)
		fail_msg("classify(\"%s\") = %d", text, rc);
	/* the invariants every result keeps */
	assert_int_equal(out.intent != SG_INTENT_NONE, out.rule[0] != '\0');
	assert_int_equal(out.intent != SG_INTENT_NONE, out.confidence != SG_CONF_NONE);
	assert_int_equal(out.intent != SG_INTENT_NONE, out.reply[0] != '\0');
	return out;
}

static sg_classification run(const char *text)
{
	return run_c(NULL, text, strlen(text));
}

static void expect(const char *text, sg_intent intent, sg_confidence conf, const char *rule)
{
	sg_classification r = run(text);
	if (r.intent != intent || (conf && r.confidence != conf) || (rule && strcmp(r.rule, rule)))
		fail_msg("\"%s\": got intent %d conf %d rule %s, want %d %d %s", text, r.intent,
			 r.confidence, r.rule, intent, conf, rule ? rule : "*");
}

static void folding(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"Stop.", "stop"}, {" STOP ", "stop"}, {"\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0", "stop"},
		{"stop!!!", "stop"}, {"\"Stop\"", "stop"}, {"STOP \xf0\x9f\x9b\x91", "stop stop"}, /* the stop sign is the word */
		{"\xf0\x9f\x9b\x91\xf0\x9f\x9b\x91", "stopstop"}, {"STOP \xf0\x9f\x98\x82", "stop"},
		{"ARR\xc3\x8aT", "arret"}, {"Stra\xc3\x9f" "e", "strasse"}, {"\xc3\x86gir", "aegir"},
		{"Don\xe2\x80\x99t   text me\xe2\x80\xa6", "don't text me"}, {"wrong number...STOP", "wrong number. stop"},
		{"opt-out", "opt-out"}, {"10:30 or 3.5", "10:30 or 3.5"}, {"stop,please", "stop, please"},
		{"E\xcc\x81t\xc3\xa9", "ete"}, {"S\xe2\x80\x8bTOP", "stop"}, {"\xf0\x9d\x90\x92\xf0\x9d\x90\x93", "st"},
		{"\xe2\x93\x88\xe2\x93\xa3", "st"}, {"\xd0\xa1\xd0\xa2\xd0\x9e\xd0\x9f", "\xd1\x81\xd1\x82\xd0\xbe\xd0\xbf"},
		{"\xc5\x81\xc3\xb3" "d\xc5\xba", "lodz"}, {"(stop) [now]", "stop now"}, {"a,b,c", "a, b, c"},
		{"\xf0\x9f\x91\x8d", ""}, {"", ""}, {"x\xc2\xa0\xc2\xa0y", "x y"},
		/* the punctuation of other scripts: Arabic comma and question mark, Urdu full stop, danda */
		{"\xd8\xaa\xd9\x88\xd9\x82\xd9\x81\xd8\x9f", "\xd8\xaa\xd9\x88\xd9\x82\xd9\x81"}, {"\xd9\x85\xd8\xb4\x20\xd9\x85\xd9\x87\xd8\xaa\xd9\x85\xd8\x8c\xd8\xb4\xd9\x83\xd8\xb1\xd8\xa7", "\xd9\x85\xd8\xb4\x20\xd9\x85\xd9\x87\xd8\xaa\xd9\x85\x2c\x20\xd8\xb4\xda\xa9\xd8\xb1\xd8\xa7"}, {"\xe0\xa4\xac\xe0\xa4\x82\xe0\xa4\xa6\x20\xe0\xa4\x95\xe0\xa4\xb0\xe0\xa5\x8b\xe0\xa5\xa4\x20\xe0\xa4\xa7\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xaf\xe0\xa4\xb5\xe0\xa4\xbe\xe0\xa4\xa6", "\xe0\xa4\xac\xe0\xa4\x82\xe0\xa4\xa6\x20\xe0\xa4\x95\xe0\xa4\xb0\xe0\xa5\x8b\x2e\x20\xe0\xa4\xa7\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xaf\xe0\xa4\xb5\xe0\xa4\xbe\xe0\xa4\xa6"}, {"\xd8\xa8\xd9\x86\xd8\xaf\x20\xda\xa9\xd8\xb1\xdb\x8c\xda\xba\xdb\x94", "\xd8\xa8\xd9\x86\xd8\xaf\x20\xda\xa9\xd8\xb1\xdb\x8c\xda\xba"},
	};
	char out[64];
	for (size_t i = 0; i < SG_ARRAY_SIZE(cases); i++) {
		sg__kw_fold(cases[i][0], strlen(cases[i][0]), out);
		assert_string_equal(out, cases[i][1]);
	}
	sg__kw_fold("ST\0OP", 5, out); /* NUL is a character: a separator */
	assert_string_equal(out, "st op");
	/* the issue's normalization cases are exact opt-outs */
	const char *issue[] = {"Stop.", " STOP ", "\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0", "stop!!!",
			       "\"Stop\"", "STOP \xf0\x9f\x9b\x91", "S.T.O.P", "stop\n", "\tSTOP\r\n"};
	for (size_t i = 0; i < SG_ARRAY_SIZE(issue); i++)
		expect(issue[i], SG_INTENT_OPT_OUT, SG_CONF_EXACT, "en.stop");
	sg_classification r = run_c(NULL, "STOP\0", 5);
	assert_int_equal(r.intent, SG_INTENT_OPT_OUT);
}

/* The keywords issue 3 names, with their language. */
static void issue_keywords(void **state)
{
	(void)state;
	static const struct { const char *text, *lang; sg_intent intent; } k[] = {
		{"STOP", "en", SG_INTENT_OPT_OUT}, {"STOPALL", "en", SG_INTENT_OPT_OUT},
		{"STOP ALL", "en", SG_INTENT_OPT_OUT}, {"UNSUBSCRIBE", "en", SG_INTENT_OPT_OUT},
		{"UNSUB", "en", SG_INTENT_OPT_OUT}, {"CANCEL", "en", SG_INTENT_OPT_OUT},
		{"END", "en", SG_INTENT_OPT_OUT}, {"QUIT", "en", SG_INTENT_OPT_OUT},
		{"REVOKE", "en", SG_INTENT_OPT_OUT}, {"OPTOUT", "en", SG_INTENT_OPT_OUT},
		{"OPT OUT", "en", SG_INTENT_OPT_OUT}, {"OPT-OUT", "en", SG_INTENT_OPT_OUT},
		{"START", "en", SG_INTENT_OPT_IN}, {"UNSTOP", "en", SG_INTENT_OPT_IN},
		{"YES", "en", SG_INTENT_OPT_IN}, {"HELP", "en", SG_INTENT_HELP}, {"INFO", "en", SG_INTENT_HELP},
		{"PARAR", "es", SG_INTENT_OPT_OUT}, {"DETENER", "es", SG_INTENT_OPT_OUT},
		{"CANCELAR", "es", SG_INTENT_OPT_OUT}, {"BAJA", "es", SG_INTENT_OPT_OUT},
		{"ARRET", "fr", SG_INTENT_OPT_OUT}, {"ARR\xc3\x8aT", "fr", SG_INTENT_OPT_OUT},
		{"HALT", "de", SG_INTENT_OPT_OUT}, {"STOPP", "de", SG_INTENT_OPT_OUT},
		{"SAIR", "pt", SG_INTENT_OPT_OUT}, {"FERMA", "it", SG_INTENT_OPT_OUT},
		{"AYUDA", "es", SG_INTENT_HELP}, {"AIDE", "fr", SG_INTENT_HELP}, {"HILFE", "de", SG_INTENT_HELP},
		{"AJUDA", "pt", SG_INTENT_HELP}, {"AIUTO", "it", SG_INTENT_HELP},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(k); i++) {
		sg_classification r = run(k[i].text);
		if (r.intent != k[i].intent || r.confidence != SG_CONF_EXACT || strcmp(r.lang, k[i].lang))
			fail_msg("%s: intent %d conf %d lang %s", k[i].text, r.intent, r.confidence, r.lang);
	}
}

/* Every exact keyword of every data file, as written, lowercased and
 * decorated, classifies as its rule says. */
static void every_data_keyword(void **state)
{
	(void)state;
	static const char *const langs[] = {"en", "es", "fr", "de", "pt", "it", "zh", "zh-hant", "vi",
					    "ko", "tl", "ru", "ht", "ar", "hi", "ja", "pl", "ur", "fa",
					    "bn", "pa", "gu", "uk"};
	size_t checked = 0;
	for (size_t l = 0; l < SG_ARRAY_SIZE(langs); l++) {
		char path[4096], line[1024];
		snprintf(path, sizeof(path), "%s/%s.kw", kw_dir(), langs[l]);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		size_t here = 0;
		while (fgets(line, sizeof(line), f)) {
			char intent[16], id[64], kw[256], deco[300];
			if (sscanf(line, "exact %15s %63s %255[^\n]", intent, id, kw) != 3)
				continue;
			for (char *e = kw + strlen(kw); e > kw && (e[-1] == ' ' || e[-1] == '\t');)
				*--e = '\0';
			snprintf(deco, sizeof(deco), " \xe2\x80\x9c%s\xe2\x80\x9d!! \xf0\x9f\x99\x8f", kw);
			const char *variants[] = {kw, deco};
			for (size_t v = 0; v < 2; v++) {
				sg_classification r = run(variants[v]);
				const char *want = !strcmp(intent, "opt_out") ? "opt_out" :
						   !strcmp(intent, "opt_in") ? "opt_in" : "help";
				static const char *const names[] = {"none", "opt_out", "opt_in", "help"};
				if (strcmp(names[r.intent], want) || r.confidence != SG_CONF_EXACT)
					fail_msg("%s (%s): got %s/%d rule %s", variants[v], id, names[r.intent],
						 r.confidence, r.rule);
				/* a keyword shared across languages is named by the first file */
				if (strcmp(r.rule, id) && strncmp(r.rule, "en.", 3) && strcmp(langs[l], "en") <= 0)
					fail_msg("%s: rule %s, want %s", variants[v], r.rule, id);
			}
			here++;
		}
		fclose(f);
		if (here < 4)
			fail_msg("%s: only %zu exact keywords", langs[l], here);
		checked += here;
	}
	assert_true(checked > 250);
}

static void issue_examples(void **state)
{
	(void)state;
	static const char *const out[] = {
		"stop please", "Please stop", "STOP texting me", "Stop sending me messages", "unsubscribe me",
		"remove me from your list", "take me off this list", "do not text me", "don't text me anymore",
		"no more texts", "leave me alone", "lose my number", "I want to opt out", "wrong number, stop",
	};
	static const char *const none[] = {
		"Can you stop by the office tomorrow?", "Don't stop!", "What time does it end?",
		"I need to cancel my appointment for Tuesday", "Stopped at the store, running late",
		"That was helpful, thanks", "Start time is 9?", "Yes please book me in",
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(out); i++)
		expect(out[i], SG_INTENT_OPT_OUT, SG_CONF_PHRASE, NULL);
	for (size_t i = 0; i < SG_ARRAY_SIZE(none); i++)
		expect(none[i], SG_INTENT_NONE, SG_CONF_NONE, NULL);
}

static void probable_and_guards(void **state)
{
	(void)state;
	expect("STOP 12345", SG_INTENT_OPT_OUT, SG_CONF_PROBABLE, "en.keyword_in_text");
	expect("Cancel all", SG_INTENT_OPT_OUT, SG_CONF_PROBABLE, "en.weak_keyword_first");
	expect("ok so STOP with the deals already", SG_INTENT_OPT_OUT, SG_CONF_PROBABLE, "en.keyword_in_text");
	/* a guard blanks its span only: the request after it still counts */
	expect("I need to cancel my appointment. Also stop texting me", SG_INTENT_OPT_OUT, SG_CONF_PHRASE,
	       "en.stop_messages");
	expect("I'll stop by later", SG_INTENT_NONE, SG_CONF_NONE, NULL);
	expect("you won't stop texting me", SG_INTENT_OPT_OUT, SG_CONF_PHRASE, "en.stop_messages");
	expect("Baja 12345", SG_INTENT_OPT_OUT, SG_CONF_PROBABLE, "es.keyword_first");
	expect("Basta cos\xc3\xac, grazie", SG_INTENT_NONE, SG_CONF_NONE, NULL);
	expect("", SG_INTENT_NONE, SG_CONF_NONE, NULL);
	expect("\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d", SG_INTENT_NONE, SG_CONF_NONE, NULL);
}

static void campaign_keywords(void **state)
{
	(void)state;
	sg__campaign c = {.brand_name = "Acme Rewards"};
	c.optout_keywords = "ALTO,PAUSE, Stop All ,,";
	c.optin_keywords = "JOIN2,BEGIN,INFO";
	c.help_keywords = "ASSIST,STOP,START";
	sg_classification r = run_c(&c, "pause!", 6);
	assert_int_equal(r.intent, SG_INTENT_OPT_OUT);
	assert_string_equal(r.rule, "campaign.opt_out");
	assert_string_equal(r.lang, "");
	assert_non_null(c.kw_private);
	r = run_c(&c, "A.S.S.I.S.T", 11);
	assert_string_equal(r.rule, "campaign.help");
	r = run_c(&c, "begin", 5);
	assert_string_equal(r.rule, "campaign.opt_in");
	r = run_c(&c, "INFO", 4); /* not protected: the campaign redefines it */
	assert_int_equal(r.intent, SG_INTENT_OPT_IN);
	r = run_c(&c, "ALTO", 4); /* same meaning as a default: the default rule names it */
	assert_string_equal(r.rule, "es.alto");
	r = run_c(&c, "STOP", 4); /* STOP, START, HELP cannot be taken over */
	assert_string_equal(r.rule, "en.stop");
	r = run_c(&c, "start", 5);
	assert_string_equal(r.rule, "en.start");
	r = run_c(&c, "pause please", 12);
	assert_int_equal(r.intent, SG_INTENT_NONE);
	sg__kw_campaign_free(&c);
	assert_null(c.kw_private);
	sg__kw_campaign_free(&c);
	sg__kw_campaign_free(NULL);
	sg__campaign empty = {.id = "C0"};
	r = run_c(&empty, "pause", 5);
	assert_int_equal(r.intent, SG_INTENT_NONE);
	sg__kw_campaign_free(&empty);
}

/* The race is on each campaign's first classification (its keyword table
 * is built then); the later ones check the built table's answers. */
static void *racer(void *arg)
{
	for (int i = 0; i < 250; i++) {
		sg_classification r;
		if (sg__kw_classify(set, arg, i % 2 ? "PAUSE" : "stop texting me please", i % 2 ? 5 : 22, &r) ||
		    r.intent != SG_INTENT_OPT_OUT)
			return (void *)1;
	}
	return NULL;
}

static void campaign_lazy_build_race(void **state)
{
	(void)state;
	for (int round = 0; round < 20; round++) {
		sg__campaign c = {.optout_keywords = "PAUSE"};
		pthread_t t[8];
		for (int i = 0; i < 8; i++)
			assert_int_equal(pthread_create(&t[i], NULL, racer, &c), 0);
		for (int i = 0; i < 8; i++) {
			void *ret;
			pthread_join(t[i], &ret);
			assert_null(ret);
		}
		sg__kw_campaign_free(&c);
	}
}

static void invalid_input(void **state)
{
	(void)state;
	static const struct { const char *s; size_t n; } bad[] = {
		{"\xff", 1}, {"STOP\xc0\xaf", 6}, {"\xe2\x82", 2}, {"\xed\xa0\x80", 3}, {"\xf4\x90\x80\x80", 4},
		{"stop\x80", 5},
	};
	sg_classification out = {.intent = 42};
	for (size_t i = 0; i < SG_ARRAY_SIZE(bad); i++)
		assert_int_equal(sg__kw_classify(set, NULL, bad[i].s, bad[i].n, &out), SG_EUTF8);
	assert_int_equal(out.intent, 42); /* untouched on failure */
	assert_int_equal(sg__kw_classify(set, NULL, NULL, 3, &out), -EINVAL);
	assert_int_equal(sg__kw_classify(NULL, NULL, "x", 1, &out), -EINVAL);
	assert_int_equal(sg__kw_classify(set, NULL, NULL, 0, &out), 0);
	assert_int_equal(out.intent, SG_INTENT_NONE);
	char nuls[64] = {0};
	assert_int_equal(sg__kw_classify(set, NULL, nuls, sizeof(nuls), &out), 0);
	assert_int_equal(out.intent, SG_INTENT_NONE);
}

/* Issue 11 item 8: a text of any length is classified, never refused for
 * its length (an MMS or joined parts may end in "please stop texting me"). */
static void long_texts_are_classified(void **state)
{
	(void)state;
	enum { BIG = SG_TEXT_MAX_CHARS * 4 * 5 };
	static char buf[BIG + 64];
	sg_classification out;
	memset(buf, 'a', SG_TEXT_MAX_CHARS + 1);
	assert_int_equal(sg__kw_classify(set, NULL, buf, SG_TEXT_MAX_CHARS + 1, &out), 0);
	assert_int_equal(out.intent, SG_INTENT_NONE);
	/* a plain-language opt-out at the end, in the middle, and straddling
	 * every possible window edge of a long text of words */
	static const char ask[] = " Please stop texting me.";
	for (size_t i = 0; i + 5 <= BIG; i += 5)
		memcpy(buf + i, "word ", 5);
	memcpy(buf + BIG - sizeof(ask) + 1, ask, sizeof(ask) - 1);
	out = run_c(NULL, buf, BIG);
	assert_int_equal(out.intent, SG_INTENT_OPT_OUT);
	for (size_t at = SG_TEXT_MAX_CHARS * 4 - 30; at < SG_TEXT_MAX_CHARS * 4 * 2; at += 7) {
		for (size_t i = 0; i + 5 <= BIG; i += 5)
			memcpy(buf + i, "word ", 5);
		memcpy(buf + at, ask, sizeof(ask) - 1);
		out = run_c(NULL, buf, BIG);
		if (out.intent != SG_INTENT_OPT_OUT)
			fail_msg("opt-out at byte %zu of %d not found", at, BIG);
	}
	/* multi-byte characters: windows never cut one (the text stays valid) */
	for (int i = 0; i < SG_TEXT_MAX_CHARS * 3; i++)
		memcpy(buf + 4 * i, "\xf0\x9f\x9b\x91", 4);
	memcpy(buf + 4 * SG_TEXT_MAX_CHARS * 3, ask, sizeof(ask) - 1);
	out = run_c(NULL, buf, 4 * SG_TEXT_MAX_CHARS * 3 + sizeof(ask) - 1);
	assert_int_equal(out.intent, SG_INTENT_OPT_OUT);
	for (int i = 0; i < SG_TEXT_MAX_CHARS; i++) /* folding that grows: "a,a,a" -> "a, a, a" */
		buf[i] = i % 2 ? ',' : 'a';
	assert_int_equal(sg__kw_classify(set, NULL, buf, SG_TEXT_MAX_CHARS, &out), 0);
	memset(buf, ' ', SG_TEXT_MAX_CHARS); /* 1,600 characters that fold to "stop" */
	memcpy(buf + 700, "STOP", 4);
	out = run_c(NULL, buf, SG_TEXT_MAX_CHARS);
	assert_string_equal(out.rule, "en.stop");
	/* broken encoding: refused as such, and readable once repaired */
	static const char broken[] = "Stop texting me \xff\xfe now";
	assert_int_equal(sg__kw_classify(set, NULL, broken, sizeof(broken) - 1, &out), SG_EUTF8);
	char fixed[3 * sizeof(broken) + 1];
	size_t n = sg_utf8_repair(broken, sizeof(broken) - 1, fixed);
	assert_int_equal(n, sizeof(broken) - 1 - 2 + 6);
	assert_true(sg__utf8_count(fixed, n) > 0);
	out = run_c(NULL, fixed, n);
	assert_int_equal(out.intent, SG_INTENT_OPT_OUT);
}

static void replies(void **state)
{
	(void)state;
	sg_classification r = run("STOP");
	assert_string_equal(r.reply, "This program: You are unsubscribed and will receive no more messages.");
	r = run("HELP");
	assert_string_equal(r.reply, "This program: Msg frequency varies. Msg&data rates may apply. "
				     "Reply STOP to opt out.");
	r = run("START");
	assert_non_null(strstr(r.reply, "Msg&data rates may apply. Reply HELP for help, STOP to opt out."));
	assert_string_equal(run("Hello there").reply, "");
	static const struct { const char *text, *lang, *needle; } per_lang[] = {
		{"AYUDA", "es", "Este programa: Frecuencia de mensajes variable. Pueden aplicarse tarifas"},
		{"BAJA", "es", "Te has dado de baja y no recibir\xc3\xa1s m\xc3\xa1s mensajes."},
		{"ARR\xc3\x8aT", "fr", "Ce programme : vous \xc3\xaates d\xc3\xa9sabonn\xc3\xa9(e)"},
		{"AIDE", "fr", "R\xc3\xa9pondez STOP pour vous d\xc3\xa9sabonner."},
		{"HILFE", "de", "Dieses Programm: Nachrichtenh\xc3\xa4ufigkeit variiert."},
		{"STOPP", "de", "keine weiteren Nachrichten"},
		{"AJUDA", "pt", "Tarifas de mensagens e dados podem ser aplicadas."},
		{"SAIR", "pt", "n\xc3\xa3o receber\xc3\xa1 mais mensagens"},
		{"AIUTO", "it", "Questo programma: Frequenza dei messaggi variabile."},
		{"BASTA", "es", "Te has dado de baja"}, /* es loads before it */
		{"S\xc3\x8c", "es", "Te has suscrito."},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(per_lang); i++) {
		r = run(per_lang[i].text);
		assert_string_equal(r.lang, per_lang[i].lang);
		if (!strstr(r.reply, per_lang[i].needle))
			fail_msg("%s: reply \"%s\" lacks \"%s\"", per_lang[i].text, r.reply, per_lang[i].needle);
	}
	sg__campaign c = {.brand_name = "Acme", .help_contact = "help@acme.example",
			  .message_frequency = "Up to 4 msgs/month.", .optout_keywords = "PAUSE"};
	r = run_c(&c, "help", 4);
	assert_string_equal(r.reply, "Acme: Up to 4 msgs/month. Msg&data rates may apply. Help: help@acme.example. "
				     "Reply STOP to opt out.");
	r = run_c(&c, "Arr\xc3\xaat", 6);
	assert_string_equal(r.reply, "Acme : vous \xc3\xaates d\xc3\xa9sabonn\xc3\xa9(e) et ne recevrez plus de "
				     "messages. Aide : help@acme.example.");
	r = run_c(&c, "PAUSE", 5); /* campaign keyword: default language */
	assert_string_equal(r.reply, "Acme: You are unsubscribed and will receive no more messages. "
				     "Help: help@acme.example.");
	c.optout_message = "Acme: unsubscribed. No more msgs. Help: 800-555-0100";
	c.help_message = "  ";
	r = run_c(&c, "stop texting me", 15);
	assert_string_equal(r.reply, c.optout_message);
	r = run_c(&c, "HELP", 4); /* a blank message counts as none */
	assert_non_null(strstr(r.reply, "Acme: Up to 4 msgs/month."));
	sg__kw_campaign_free(&c);
	char longbrand[300];
	memset(longbrand, 'x', sizeof(longbrand) - 1);
	longbrand[sizeof(longbrand) - 1] = '\0';
	sg__campaign big = {.help_contact = longbrand, .message_frequency = longbrand};
	memset(big.brand_name, 'B', sizeof(big.brand_name) - 1);
	r = run_c(&big, "HELP", 4);
	assert_true(strlen(r.reply) < SG_REPLY_MAX);
	sg__kw_campaign_free(&big);
}

/* Issue 13's languages: scripts without spaces match inside a run of
 * letters (stems at every character), Vietnamese, Arabic-script and
 * Cyrillic spellings fold together, the reply is the rule's language. */
static void languages(void **state)
{
	(void)state;
	expect("\xe9\x80\x80\xe8\xae\xa2", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "zh.tuiding"); /* 退订 */
	/* 请不要再发短信给我: the request is in the middle of one run of letters */
	expect("\xe8\xaf\xb7\xe4\xb8\x8d\xe8\xa6\x81\xe5\x86\x8d\xe5\x8f\x91\xe7\x9f\xad\xe4\xbf\xa1"
	       "\xe7\xbb\x99\xe6\x88\x91", SG_INTENT_OPT_OUT, SG_CONF_PHRASE, "zh.no_more");
	/* 你们是谁 (who are you): the stem 是* starts the third character */
	expect("\xe4\xbd\xa0\xe4\xbb\xac\xe6\x98\xaf\xe8\xb0\x81", SG_INTENT_HELP, SG_CONF_PHRASE, "zh.help");
	/* もう送らないでください */
	expect("\xe3\x82\x82\xe3\x81\x86\xe9\x80\x81\xe3\x82\x89\xe3\x81\xaa\xe3\x81\x84\xe3\x81\xa7"
	       "\xe3\x81\x8f\xe3\x81\xa0\xe3\x81\x95\xe3\x81\x84", SG_INTENT_OPT_OUT, SG_CONF_PHRASE, "ja.no_more");
	/* HỦY with precomposed and with combining marks, and as typed without */
	expect("H\xe1\xbb\xa6Y", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "vi.huy");
	expect("HU\xcc\x89Y", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "vi.huy");
	expect("huy", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "vi.huy");
	/* Đúng (right): no opt-out, though it folds like dừng */
	expect("\xc4\x90\xc3\xbang", SG_INTENT_NONE, SG_CONF_NONE, NULL);
	/* إلغاء and الغاء (hamza or not) are one keyword */
	expect("\xd8\xa5\xd9\x84\xd8\xba\xd8\xa7\xd8\xa1", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "ar.ilgha");
	expect("\xd8\xa7\xd9\x84\xd8\xba\xd8\xa7\xd8\xa1", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "ar.ilgha");
	/* СТОП: Cyrillic capitals fold; the reply is Russian */
	sg_classification r = run("\xd0\xa1\xd0\xa2\xd0\x9e\xd0\x9f");
	assert_string_equal(r.rule, "ru.stop");
	assert_string_equal(r.lang, "ru");
	assert_non_null(strstr(r.reply, "\xd0\x92\xd1\x8b \xd0\xbe\xd1\x82\xd0\xbf\xd0\xb8\xd1\x81")); /* Вы отпис */
	expect("tigil na po", SG_INTENT_OPT_OUT, SG_CONF_PHRASE, "tl.polite");
	/* ҐОЛОВНЕ, Ǆ, Ḑ, Ա: capitals beyond Latin-1, Greek and Russian fold too
	 * (patterns match case-sensitively) */
	char f[64];
	assert_int_equal(sg__kw_fold("\xd2\x90\xc7\x84\xe1\xb8\x90\xd4\xb1\xce\x86\xcf\x82", 13, f), 13);
	assert_string_equal(f, "\xd2\x91\xc7\x86\xe1\xb8\x91\xd5\xa1\xce\xac\xcf\x83");
	expect("band karo", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "hi.band_karo_r");
	expect("band practice at 6?", SG_INTENT_NONE, SG_CONF_NONE, NULL);
}

/* Typo tolerance (typo.c): one keyboard slip in a whole-message keyword of
 * 4+ letters, never a real word, never inside a sentence. */
static void typos(void **state)
{
	(void)state;
	static const struct { const char *text, *rule; } hit[] = {
		{"Stpo", "en.stop~typo"}, {"sotp", "en.stop~typo"}, {"st0p", "en.stop~typo"},
		{"STOOP!", NULL}, {"Sstop", "en.stop~typo"}, {"stoip", "en.stop~typo"},
		{"unsubscibe", "en.unsubscribe~typo"}, {"unsbuscribe", "en.unsubscribe~typo"},
		{"Unsubscrube", "en.unsubscribe~typo"}, {"cancle", "en.cancel~typo"},
		{"hwlp", "en.help~typo"}, {"abmeldne", "de.abmelden~typo"}, {"Arrte", "fr.arret~typo"},
		/* a letter held down: each run of 3+ read as one */
		{"Stopppp", "en.stop~typo"}, {"STOOOOP", "en.stop~typo"}, {"BAJAAA", "es.baja~typo"},
		{"unsubscribeeee", "en.unsubscribe~typo"}, {"helppp", "en.help~typo"}, {"stooooop", "en.stop~typo"},
		/* other scripts: two neighbouring letters swapped (стпо, сотп) */
		{"\xd1\x81\xd1\x82\xd0\xbf\xd0\xbe", "ru.stop~typo"}, {"\xd1\x81\xd0\xbe\xd1\x82\xd0\xbf", "ru.stop~typo"},
	};
	static const char *const miss[] = {
		"stoop", "atop", "top", "shop", "step", "stp", "stomp", "spot", "post", "hell", "into",
		"stpo by", "please stpo it", "star", "tart", "quiz", "suit", "halt it", "ends", "removed",
		"nooooo", "soooo", "stooooop by", "yesss", "okkkk", "shoppp",
		"\xd1\x81\xd1\x82\xd0\xbf\xd0\xbe \xd0\xb8", /* стпо и: a sentence */
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(hit); i++) {
		sg_classification r = run(hit[i].text);
		if (!hit[i].rule) /* "stoop" is a word even when shouted */
			expect(hit[i].text, SG_INTENT_NONE, SG_CONF_NONE, NULL);
		else if (strcmp(r.rule, hit[i].rule) || r.confidence != SG_CONF_PHRASE)
			fail_msg("\"%s\": rule %s conf %d, want %s phrase", hit[i].text, r.rule, r.confidence,
				 hit[i].rule);
	}
	for (size_t i = 0; i < SG_ARRAY_SIZE(miss); i++) {
		sg_classification r = run(miss[i]);
		if (strstr(r.rule, "~typo"))
			fail_msg("\"%s\" read as a typo: %s", miss[i], r.rule);
	}
	expect("Stopp", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "de.stopp"); /* a keyword, not a typo */
	/* a keyword said again and again is the keyword, never an opt-in */
	expect("STOP STOP STOP", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "en.stop");
	expect("\xe5\x81\x9c\xe6\xad\xa2\xe5\x81\x9c\xe6\xad\xa2\xe5\x81\x9c\xe6\xad\xa2", SG_INTENT_OPT_OUT,
	       SG_CONF_EXACT, "ja.teishi"); /* 停止停止停止 */
	expect("help help", SG_INTENT_HELP, SG_CONF_EXACT, "en.help");
	expect("\xf0\x9f\x9b\x91\xf0\x9f\x9b\x91\xf0\x9f\x9b\x91", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "en.stop");
	expect("jajaja", SG_INTENT_NONE, SG_CONF_NONE, NULL);
	sg_classification r = run("ja ja");
	assert_int_not_equal(r.intent, SG_INTENT_OPT_IN);
	r = run("yes yes yes");
	assert_int_not_equal(r.intent, SG_INTENT_OPT_IN);
}

/* Slips in other scripts (slip.c), marked keywords (marked.c) and polite
 * words around a slipped keyword. */
static void slips_marks_polite(void **state)
{
	(void)state;
	static const struct { const char *text, *rule; } hit[] = {
		{"انصرف", "fa.ensiraf~typo"},           /* a letter dropped (انصراف) */
		{"اقاف", "ar.iqaf~typo"},               /* إيقاف less its yeh */
		{"الغاااء", "ar.ilgha~typo"},           /* a letter held down */
		{"لغو عضوبت", "fa.laghv_ozviat~typo"}, /* ی written as its twin ب */
		{"ايقاق", "ar.iqaf~typo"},              /* ف written as ق, its twin and neighbouring key */
		{"отпищите", "ru.otpishite~typo"},     /* ш written щ */
		{"стопп", "ru.stop~typo"},             /* a letter doubled */
		{"수신겨부", "ko.susin_geobu~typo"},    /* one jamo slipped: 거 -> 겨 */
		{"수신거뷰", "ko.susin_geobu~typo"},
		{"stpo po", "en.stop~typo"},           /* polite words around a slip */
		{"pls unsubscibe", "en.unsubscribe~typo"},
		{"stpo souple", "en.stop~typo"},
	};
	static const char *const miss[] = {
		"수진거뷰",        /* two syllables slipped */
		"انصرف الان یا", /* a sentence */
		"стоп-кран",       /* a word with stop in it */
		"stpo by",         /* not a polite word */
		"please stpo it",
		"Đúng", "đúng rồi", "dung", "DUNG", /* "right", or no marks: no guess */
		"chán", "cut",
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(hit); i++) {
		sg_classification r = run(hit[i].text);
		if (strcmp(r.rule, hit[i].rule) || r.confidence != SG_CONF_PHRASE || r.intent != SG_INTENT_OPT_OUT)
			fail_msg("\"%s\": rule %s conf %d, want %s phrase", hit[i].text, r.rule, r.confidence,
				 hit[i].rule);
	}
	/* the typo rules' scope: no slip inside a sentence (the intent model
	 * reads "please stpo it" as a request of its own: test_model) */
	sg__kw_set_model(set, false);
	for (size_t i = 0; i < SG_ARRAY_SIZE(miss); i++) {
		sg_classification r = run(miss[i]);
		if (r.intent == SG_INTENT_OPT_OUT)
			fail_msg("\"%s\" opted out: %s", miss[i], r.rule);
	}
	sg__kw_set_model(set, true);
	/* "DỪNG" counts with its marks, whatever the case and the emoji */
	expect("Dừng", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "vi.dung_m4");
	expect("DỪNG!", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "vi.dung_m4");
	expect("dừng \xf0\x9f\x98\xa1", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "vi.dung_m4");
	expect("CHẶN", SG_INTENT_OPT_OUT, SG_CONF_EXACT, "vi.chan_m4");
	/* a keyword with politeness is left to the phrase rules, never read as a
	 * typo of another keyword ("abmelden" is one slip from "anmelden") */
	sg_classification r = run("Abmelden bitte");
	assert_int_equal(r.intent, SG_INTENT_OPT_OUT);
	assert_null(strstr(r.rule, "~typo"));
}

static void load_errors(void **state)
{
	(void)state;
	static const struct { const char *text, *why; } bad[] = {
		{"# c\nphrase opt_out xx.a stop (unclosed\n", "xx.kw:2: rule xx.a: pattern error"},
		{"exact opt_out xx.a STOP\n", "xx.kw:1: rule xx.a has no comment"},
		{"# c\nexact opt_out xx.a STOP\nexact opt_out xx.a QUIT\n", "duplicate rule id xx.a"},
		{"# c\nexact opt_out xx.a STOP\nexact help xx.b stop!\n", "is already opt_out"},
		{"# c\nexact opt_out en.a STOP\n", "bad rule id"},
		{"# c\nguard opt_out xx.a stop stop\n", "bad intent"},
		{"# c\nphrase help xx.a St,x* help\n", "bad triggers"},
		{"# c\nexact help xx.a !!!\n", "empty keyword"},
		{"reply help {brand} [{nope}]\n", "unknown placeholder"},
		{"reply help [a [b]]\n", "nested"},
		{"reply maybe hi\n", "expected help, opt_out or opt_in"},
		{"frobnicate\n", "unknown directive"},
		{"# c\nexact help xx.a caf\xc3\n", "invalid UTF-8"},
		{"# c\nmarked opt_out xx.a \xe5\x81\x9c\n", "a marked keyword is"},
		{"# c\nmarked opt_out xx.a D\xe1\xbb\xaaNG\nmarked help xx.b \xc4\x90\xe1\xbb\xaaNG\n", "folds like"},
		{"# c\npolite \xe5\x81\x9c\xe6\xad\xa2\xe2\x80\x83x\n", "more than one word"},
		/* patterns match the folded text: a capital, an accented letter or
		 * a symbol that folding changes could never match */
		{"# c\nphrase opt_out xx.a stop \\bSTOP\\b\n", "pattern has \"S\" at offset 2"},
		{"# c\nphrase opt_out xx.a arret \\barr\xc3\xaat\\b\n", "pattern has \"\xc3\xaa\" at offset 5"},
		{"# c\nphrase opt_out xx.a stop stop[!\xef\xbc\x81]\n", "which folded text never holds"},
		{"# c\nphrase opt_out xx.a stop (?<=x)St\n", "pattern has \"S\" at offset 6"},
	};
	char dir[] = "/tmp/sg-kw-test-XXXXXX", err[512];
	assert_non_null(mkdtemp(dir));
	sg__kw_set *s = NULL;
	assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), SG_EKEYWORDS); /* no files */
	for (size_t i = 0; i < SG_ARRAY_SIZE(bad); i++) {
		tu_write_file(dir, "xx.kw", bad[i].text);
		int rc = sg__kw_load(dir, &s, err, sizeof(err));
		if (rc != SG_EKEYWORDS || !strstr(err, bad[i].why))
			fail_msg("case %zu: rc %d err \"%s\", want \"%s\"", i, rc, err, bad[i].why);
		/* the reason is kept for front ends (the CLI prints it) */
		assert_string_equal(sg__kw_last_error(), err);
		assert_int_equal(sg__kw_load(dir, &s, NULL, 0), SG_EKEYWORDS);
		assert_non_null(strstr(sg__kw_last_error(), "xx.kw:"));
	}
	tu_write_file(dir, "xx.kw", "# A tiny language\nexact opt_out xx.stop HALTE\n\n"
				 "# and a pattern\nphrase opt_out xx.p halte,halt* ^halt\\w+ now$   \n"
				 "# escapes, verbs and group names are no letters\n"
				 "guard none xx.g halt (*MARK:All)\\bhalt\\W+(?<Name>\\S+)\\p{Lu}?\\x{1F6D1}?[[:alpha:]] "
				 "(?#A Comment)(?-U:wait)\n");
	tu_write_file(dir, "README.md", "not a rule file\n");
	assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), 0);
	sg_classification out;
	assert_int_equal(sg__kw_classify(s, NULL, "Halte!", 6, &out), 0);
	assert_string_equal(out.rule, "xx.stop");
	assert_string_equal(out.reply, "This program: You are unsubscribed and will receive no more messages.");
	assert_int_equal(sg__kw_classify(s, NULL, "haltet now", 10, &out), 0);
	assert_string_equal(out.rule, "xx.p");
	sg__kw_free(s);
	char path[512];
	snprintf(path, sizeof(path), "%s/xx.kw", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/README.md", dir);
	unlink(path);
	rmdir(dir);
	assert_int_equal(sg__kw_load("/nonexistent/sg", &s, err, sizeof(err)), -ENOENT);
	sg__kw_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(folding),
		cmocka_unit_test(issue_keywords),
		cmocka_unit_test(every_data_keyword),
		cmocka_unit_test(issue_examples),
		cmocka_unit_test(probable_and_guards),
		cmocka_unit_test(campaign_keywords),
		cmocka_unit_test(campaign_lazy_build_race),
		cmocka_unit_test(invalid_input),
		cmocka_unit_test(long_texts_are_classified),
		cmocka_unit_test(replies),
		cmocka_unit_test(load_errors),
		cmocka_unit_test(typos),
		cmocka_unit_test(slips_marks_polite),
		cmocka_unit_test(languages),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
