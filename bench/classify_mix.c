/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, "classify": sg_classify through the engine on ~90 % ordinary
 * conversation, ~10 % keywords (drawn from tests/data/corpus with --corpus).
 */
#include <dirent.h>

#include "harness.h"

static const char *ordinary[] = {
	"ok thanks",
	"Thank you!",
	"See you at 3",
	"What time do you open tomorrow?",
	"Is my order ready for pickup?",
	"Can I reschedule my appointment to Friday afternoon?",
	"yes",
	"Y",
	"No thanks, I already have one",
	"Great, I'll be there in 10 minutes",
	"Who is this?",
	"How much is the delivery fee to 94110?",
	"Sounds good 👍",
	"Perfect, thank you so much for the quick reply",
	"I never got the confirmation email, can you resend it please",
	"Running late, be there by 6:15",
	"Do you have the blue one in a size medium?",
	"lol ok",
	"My code didn't work at checkout, it says expired",
	"Can you call me back at this number? I'm at work until 5",
	"¿Está abierto el domingo?",
	"Merci beaucoup, à demain",
	"Danke, bis morgen",
	"Got it",
	"The package was left at the wrong address, unit 4B not 4D",
	"Please confirm my reservation for 4 people at 7:30 on Saturday",
};

static char *corpus_texts[4096];
static size_t ncorpus_none, ncorpus_kw;
static char *corpus_none[2048], *corpus_kw[2048];

static void load_corpus(void)
{
	if (!opt.corpus)
		return;
	DIR *d = opendir(opt.corpus);
	if (!d)
		return;
	struct dirent *de;
	size_t n = 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".tsv") || !strcmp(de->d_name, "holdout.tsv"))
			continue;
		char path[8192], line[4096];
		snprintf(path, sizeof(path), "%s/%s", opt.corpus, de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f) && n < BENCH_ARRAY_SIZE(corpus_texts)) {
			line[strcspn(line, "\r\n")] = '\0';
			char *tab = strchr(line, '\t');
			if (line[0] == '#' || !tab)
				continue;
			*tab = '\0';
			char *text = strdup(tab + 1);
			if (!text)
				continue;
			corpus_texts[n++] = text;
			if (!strcmp(line, "none")) {
				if (ncorpus_none < BENCH_ARRAY_SIZE(corpus_none))
					corpus_none[ncorpus_none++] = text;
			} else if (ncorpus_kw < BENCH_ARRAY_SIZE(corpus_kw)) {
				corpus_kw[ncorpus_kw++] = text;
			}
		}
		fclose(f);
	}
	closedir(d);
}

void bench_classify_mix(sg_engine *e)
{
	static const char *fallback_kw[] = {"STOP", "stop", "Unsubscribe", "START", "HELP", "Stop texting me",
					    "STOP ALL", "cancel", "info", "quit", "ALTO", "arret"};
	load_corpus();
	bench_rng r = {opt.seed ^ 0xc1a55};
	enum { MSGS = 20000 };
	const char **msg = bench_xcalloc(MSGS, sizeof(*msg));
	size_t *len = bench_xcalloc(MSGS, sizeof(*len));
	for (size_t i = 0; i < MSGS; i++) {
		if (bench_below(&r, 10) == 0) {
			msg[i] = ncorpus_kw ? corpus_kw[bench_below(&r, ncorpus_kw)]
					    : fallback_kw[bench_below(&r, BENCH_ARRAY_SIZE(fallback_kw))];
		} else {
			/* ordinary conversation; a third of it the corpus's hard "none" cases */
			if (ncorpus_none && bench_below(&r, 3) == 0)
				msg[i] = corpus_none[bench_below(&r, ncorpus_none)];
			else
				msg[i] = ordinary[bench_below(&r, BENCH_ARRAY_SIZE(ordinary))];
		}
		len[i] = strlen(msg[i]);
	}
	sg_classification out;
	unsigned rounds = opt.quick ? 5 : 15;
	double *ns = bench_xcalloc(rounds, sizeof(*ns));
	size_t kw_hits = 0;
	for (unsigned rd = 0; rd <= rounds; rd++) {
		int64_t t0 = bench_now_ns();
		size_t hits = 0;
		for (size_t i = 0; i < MSGS; i++) {
			int rc = sg_classify(e, NULL, msg[i], len[i], &out);
			if (rc)
				bench_die("sg_classify(\"%s\"): %s", msg[i], sg_strerror(rc));
			hits += out.intent != SG_INTENT_NONE;
		}
		int64_t t1 = bench_now_ns();
		if (rd)
			ns[rd - 1] = (double)(t1 - t0) / MSGS;
		kw_hits = hits;
	}
	double med = bench_quantile(ns, rounds, 0.5);
	bench_json_num(&J, "classify.ns_median", med);
	bench_json_num(&J, "classify.per_s", 1e9 / med);
	bench_json_num(&J, "classify.keyword_share", (double)kw_hits / MSGS);
	note("  %-44s %8.1f ns median per message  %11.0f messages/s (%.1f %% matched an intent)\n",
	     "sg_classify (90 % ordinary / 10 % keywords)", med, 1e9 / med, 100.0 * (double)kw_hits / MSGS);
	free(msg);
	free(len);
	free(ns);
	for (size_t i = 0; i < BENCH_ARRAY_SIZE(corpus_texts) && corpus_texts[i]; i++)
		free(corpus_texts[i]);
}
