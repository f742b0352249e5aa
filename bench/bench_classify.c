/* SPDX-License-Identifier: Apache-2.0 */
/* Classifications per second on one core for a realistic inbound mix:
 * about 90 % ordinary conversation (some of it with keyword-like words:
 * "stop by", "cancel my appointment") and 10 % opt-outs, opt-ins and HELPs
 * (exact, phrases, probables, typos; the 23 languages of keywords/). Target: >= 1,000,000/s.
 * Usage: bench_classify [--seconds S] [--keywords DIR] [--once]
 * --once: classify the mix once with the intent model (one_pass()) and once
 * without (rules_pass()), and time nothing: for an instruction count, which
 * a shared machine does not disturb:
 *   valgrind --tool=callgrind --toggle-collect=one_pass bench_classify --once
 * (instructions / 1000 = per message; --toggle-collect=rules_pass for the
 * rules alone, hits_pass for every message a keyword or phrase). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <malloc.h>

#include "config.h"
#include "internal.h"
#include "keywords/kw_internal.h"

static const char *const conversation[] = {
	"Ok thanks", "See you at 3", "What time do you open tomorrow?", "Is my order ready for pickup?",
	"Can I reschedule to Friday?", "Running 10 min late, sorry!", "Sounds good \xf0\x9f\x91\x8d",
	"Great, see you then", "Where do I park when I get there?", "How much is the cleaning for a 2 bedroom?",
	"Can you send me the invoice again? I can't find the email", "Yes that works for me",
	"No thanks, I'm good for now", "Call me when you get a chance", "Thank you so much!!",
	"Who is this?", "Is this Dr. Smith's office?", "I'll be there at 5:30",
	"Can we move it to next week? Something came up at work", "Got it, thanks for the reminder",
	"Do you have anything available Saturday morning?", "Perfect", "k",
	"My package says delivered but I don't see it anywhere, can you check?",
	"Hi! I wanted to ask whether the 20% discount also applies to items already on sale",
	"Can I bring my dog to the appointment?", "Thanks, have a great weekend!",
	"The link in your last message doesn't open on my phone",
	"\xc2\xbf" "A qu\xc3\xa9 hora abren ma\xc3\xb1" "ana?", "Gracias, nos vemos el martes",
	"Merci, \xc3\xa0 demain", "Danke, bis Montag", "Obrigado pela ajuda", "Grazie, a domani",
	"lol ok", "\xf0\x9f\x98\x82\xf0\x9f\x98\x82", "12345", "Can I pay by card when I arrive?",
	/* conversation with keyword-like words: these reach the patterns */
	"I'll stop by later", "Can you stop by the office tomorrow?", "I need to cancel my appointment for Tuesday",
	"By the end of the day please", "Can you text me the address?", "Don't stop!",
	"Stopped at the store, running late", "That was helpful, thanks", "Start time is 9?",
	"Yes please book me in", "No more than 4 people", "Please leave it at the front door",
	"I had to quit my job, can we talk about a payment plan?",
};

static const char *const keywords[] = {
	"STOP", "Stop.", "stop please", "STOP texting me", "unsubscribe me", "remove me from your list",
	"do not text me", "no more texts", "wrong number, stop", "STOP 12345", "UNSUBSCRIBE",
	"\xef\xbc\xb3\xef\xbc\xb4\xef\xbc\xaf\xef\xbc\xb0", "HELP", "START", "YES", "Baja", "ARR\xc3\x8aT",
	"Keine SMS mehr", "Pare de me enviar mensagens", "Non scrivetemi pi\xc3\xb9",
	/* issue 13: other languages, typos, phrases without a keyword */
	"\xe9\x80\x80\xe8\xae\xa2", "\xe8\xaf\xb7\xe4\xb8\x8d\xe8\xa6\x81\xe5\x86\x8d\xe5\x8f\x91\xe7\x9f\xad\xe4\xbf\xa1",
	"\xd1\x81\xd1\x82\xd0\xbe\xd0\xbf", "H\xe1\xbb\xa6Y", "tigil na po", "Stpo", "unsubscibe",
	"go away", "not interested anymore", "I never signed up for this", "what is this? HELP",
};

#define MIX 1000
#define ROUNDS 5

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* CPU time of this thread: the rate per core, whatever else the machine
 * runs (wall time would count the time the thread waits for a core). */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Classify msgs over and over for about `seconds`; returns msgs/s. */
static double run(const sg__kw_set *set, sg__campaign *c, const char *const *msgs, const size_t *lens,
		  size_t n, double seconds, unsigned long *hits)
{
	sg_classification out;
	unsigned long done = 0;
	double t0 = now(), t;
	do {
		for (size_t i = 0; i < n; i++) {
			if (sg__kw_classify(set, c, msgs[i], lens[i], &out) != 0) {
				fprintf(stderr, "classify failed on \"%s\"\n", msgs[i]);
				exit(1);
			}
			*hits += out.intent != SG_INTENT_NONE;
		}
		done += n;
		t = now();
	} while (t - t0 < seconds);
	return done / (t - t0);
}

static inline __attribute__((always_inline)) unsigned long pass(const sg__kw_set *set, const char *const *msgs,
								   const size_t *lens, size_t n)
{
	sg_classification out;
	unsigned long hits = 0;
	for (size_t i = 0; i < n; i++)
		if (sg__kw_classify(set, NULL, msgs[i], lens[i], &out) == 0)
			hits += out.intent != SG_INTENT_NONE;
	return hits;
}

/* Not static: callgrind finds them by these names. */
unsigned long one_pass(const sg__kw_set *set, const char *const *msgs, const size_t *lens, size_t n);
unsigned long rules_pass(const sg__kw_set *set, const char *const *msgs, const size_t *lens, size_t n);
unsigned long hits_pass(const sg__kw_set *set, const char *const *msgs, const size_t *lens, size_t n);
__attribute__((noinline)) unsigned long one_pass(const sg__kw_set *set, const char *const *msgs, const size_t *lens,
						 size_t n)
{
	return pass(set, msgs, lens, n);
}

__attribute__((noinline)) unsigned long hits_pass(const sg__kw_set *set, const char *const *msgs, const size_t *lens,
						  size_t n)
{
	return pass(set, msgs, lens, n);
}

__attribute__((noinline)) unsigned long rules_pass(const sg__kw_set *set, const char *const *msgs, const size_t *lens,
						   size_t n)
{
	return pass(set, msgs, lens, n);
}

/* Resident set size of this process in KiB (Linux), -1 when unknown. */
static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = -1, res = -1;
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = -1;
		fclose(f);
	}
	return res < 0 ? -1 : res * 4;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("SG_KEYWORDS");
	double seconds = 2.0;
	bool once = false;
	/* flags in any order: --once takes no value (instructions.sh passes
	 * "--once --keywords DIR", and a loop stepping by two read DIR as a flag
	 * and measured keywords/ instead) */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--once"))
			once = true;
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--keywords") && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "bench_classify: unknown argument %s\n"
					"usage: bench_classify [--seconds S] [--keywords DIR] [--once]\n", argv[i]);
			return 2;
		}
	}
	char err[512];
	sg__kw_set *set;
	struct mallinfo2 m0 = mallinfo2();
	long rss0 = rss_kib();
	if (sg__kw_load(dir && *dir ? dir : SG_KEYWORDS_DIR_SOURCE, &set, err, sizeof(err))) {
		fprintf(stderr, "keywords do not load: %s\n", err);
		return 1;
	}
	struct mallinfo2 m1 = mallinfo2();
	printf("rules: %zu in %zu languages, %zu patterns; heap %.1f MiB, resident growth %.1f MiB "
	       "(JIT code included)\n", set->nrules, set->nlangs, set->npats,
	       (double)(m1.uordblks - m0.uordblks) / (1 << 20), (double)(rss_kib() - rss0) / 1024);
	static const char *mix[MIX];
	static size_t lens[MIX];
	unsigned seed = 12345, nkw = 0;
	for (size_t i = 0; i < MIX; i++) {
		seed = seed * 1103515245u + 12345u;
		bool kw = (seed >> 16) % 10 == 0;
		nkw += kw;
		mix[i] = kw ? keywords[(seed >> 8) % SG_ARRAY_SIZE(keywords)]
			    : conversation[(seed >> 8) % SG_ARRAY_SIZE(conversation)];
		lens[i] = strlen(mix[i]);
	}
	unsigned long hits = 0;
	if (once) {
		sg_classification warm;
		sg__kw_classify(set, NULL, "stop", 4, &warm); /* per-thread match data */
		hits = one_pass(set, mix, lens, MIX);
		static const char *kw_mix[MIX];
		static size_t kw_mix_lens[MIX];
		for (size_t i = 0; i < MIX; i++) {
			kw_mix[i] = keywords[i % SG_ARRAY_SIZE(keywords)];
			kw_mix_lens[i] = strlen(kw_mix[i]);
		}
		unsigned long kw_hits = hits_pass(set, kw_mix, kw_mix_lens, MIX);
		sg__kw_set_model(set, false);
		unsigned long rules = rules_pass(set, mix, lens, MIX);
		printf("once: %d messages, %lu hits with the intent model, %lu with the rules alone; %d keywords and "
		       "phrases (hits_pass), %lu hits\n", MIX, hits, rules, MIX, kw_hits);
		sg__kw_free(set);
		return 0;
	}
	run(set, NULL, mix, lens, MIX, seconds / 10, &hits); /* warm up */
	/* Rounds, then the median and the best: a shared machine adds noise.
	 * The rules alone (the intent model off) run in rounds interleaved
	 * with the whole classifier's, so both see the same machine. */
	double rates[ROUNDS], rules[ROUNDS], kw_on[ROUNDS], kw_off[ROUNDS];
	size_t kw_lens[SG_ARRAY_SIZE(keywords)];
	for (size_t i = 0; i < SG_ARRAY_SIZE(keywords); i++)
		kw_lens[i] = strlen(keywords[i]);
	hits = 0;
	for (int r = 0; r < ROUNDS; r++) {
		sg__kw_set_model(set, true);
		rates[r] = run(set, NULL, mix, lens, MIX, seconds / ROUNDS, &hits);
		kw_on[r] = run(set, NULL, keywords, kw_lens, SG_ARRAY_SIZE(keywords), seconds / ROUNDS / 2, &hits);
		sg__kw_set_model(set, false);
		rules[r] = run(set, NULL, mix, lens, MIX, seconds / ROUNDS, &hits);
		kw_off[r] = run(set, NULL, keywords, kw_lens, SG_ARRAY_SIZE(keywords), seconds / ROUNDS / 2, &hits);
	}
	sg__kw_set_model(set, true);
	qsort(rates, ROUNDS, sizeof(*rates), by_value);
	qsort(rules, ROUNDS, sizeof(*rules), by_value);
	qsort(kw_on, ROUNDS, sizeof(*kw_on), by_value);
	qsort(kw_off, ROUNDS, sizeof(*kw_off), by_value);
	double rate = rates[ROUNDS / 2];
	printf("classify: %.0f msgs per CPU-second (median of %d rounds, %.0f ns/msg; best %.0f/s), "
	       "%u%% keywords in the mix\n", rate, ROUNDS, 1e9 / rate, rates[ROUNDS - 1], nkw * 100 / MIX);
	printf("intent model: %s; the rules alone, interleaved: %.0f msgs/s (whole/rules %.2f); "
	       "every message a hit: %.0f/s whole, %.0f/s rules alone (%.2f)\n",
	       set->model ? "loaded" : "none (no intent.model)", rules[ROUNDS / 2], rate / rules[ROUNDS / 2],
	       kw_on[ROUNDS / 2], kw_off[ROUNDS / 2], kw_on[ROUNDS / 2] / kw_off[ROUNDS / 2]);
	sg__campaign c = {.optout_keywords = "PAUSE,QUITALL", .optin_keywords = "BEGIN",
			  .help_keywords = "SUPPORT", .brand_name = "Acme"};
	double crate = run(set, &c, mix, lens, MIX, seconds / 2, &hits);
	printf("classify with a campaign: %.0f msgs/s\n", crate);
	size_t conv_lens[SG_ARRAY_SIZE(conversation)];
	for (size_t i = 0; i < SG_ARRAY_SIZE(conversation); i++)
		conv_lens[i] = strlen(conversation[i]);
	printf("conversation only: %.0f msgs/s; keywords only: %.0f msgs/s\n",
	       run(set, NULL, conversation, conv_lens, SG_ARRAY_SIZE(conversation), seconds / 2, &hits),
	       run(set, NULL, keywords, kw_lens, SG_ARRAY_SIZE(keywords), seconds / 2, &hits));
	sg__kw_campaign_free(&c);
	sg__kw_free(set);
	return 0;
}
