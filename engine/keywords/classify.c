/* SPDX-License-Identifier: Apache-2.0 */
/* The matcher, the hot path of the keyword engine. In order:
 *  1. validate (UTF-8, length) and fold the text (fold.c);
 *  2. exact: look the whole folded text up in a hash of keywords, then the
 *     text without separators ("S.T.O.P", "stop-all"), then the campaign's
 *     own keywords;
 *  3. prefilter: hash each word of the text against the trigger words and
 *     stems the pattern rules declare; a text with no trigger word (most
 *     conversation) ends here as none without running any pattern;
 *  4. the triggered guards blank the spans they match ("stop by", "don't
 *     stop"), then the triggered phrase rules and probable rules run, first
 *     match wins (opt_out rules before help before opt_in).
 * The set is immutable; the only per-thread state is the pcre2 match data. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keywords/kw_internal.h"

/* One pcre2_match_data per thread. A block made by pcre2_match_data_create()
 * serves every pattern of every set, so it is cached per thread for the
 * thread's lifetime and freed by the key destructor when the thread exits. */
static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static bool md_key_ok;
static __thread pcre2_match_data *md_cache;

static void md_destroy(void *md)
{
	pcre2_match_data_free(md);
	md_cache = NULL;
}

static void md_key_init(void)
{
	md_key_ok = pthread_key_create(&md_key, md_destroy) == 0;
}

static pcre2_match_data *thread_md(void)
{
	if (md_cache)
		return md_cache;
	pthread_once(&md_once, md_key_init);
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (md && md_key_ok && pthread_setspecific(md_key, md) == 0)
		md_cache = md;
	return md; /* without a key it is used once and freed by the caller */
}

typedef struct kw_hit {
	const kw_rule *rule; /* NULL for campaign keywords */
	sg_intent intent;
	sg_confidence conf;
	bool typo;           /* a typo of rule's keyword (typo.c) */
	bool model;          /* the intent model's answer (model.c): rule is NULL */
	bool guarded;        /* a guard blanked part of the text */
	bool triggered;      /* a word of the text is a trigger of some pattern rule */
	bool guards_left;    /* triggered guards did not run (no phrase was triggered) */
	uint8_t lang;        /* the model's language */
	double prob;         /* the model's probability of intent */
} kw_hit;

static int match(const kw_rule *r, const char *s, size_t n, size_t start, pcre2_match_data *md)
{
	if (r->jit) /* skips the UTF-8 check: folded text is valid UTF-8 */
		return pcre2_jit_match(r->code, (PCRE2_SPTR)s, n, start, 0, md, NULL);
	return pcre2_match(r->code, (PCRE2_SPTR)s, n, start, PCRE2_NO_UTF_CHECK, md, NULL);
}

/* Blank every span the guard matches. Whole characters are replaced, so
 * the text stays valid UTF-8. A match that passed (*MARK:all) blanks the
 * whole text: "stop the emails, texts are fine" is no request at all, and
 * the guard need not scan it as ^.*texts are fine.*$ (much slower). */
static bool guard(const kw_rule *r, char *s, size_t n, pcre2_match_data *md)
{
	size_t start = 0;
	bool blanked = false;
	while (start <= n && match(r, s, n, start, md) > 0) {
		PCRE2_SPTR mark = pcre2_get_mark(md);
		if (mark && !strcmp((const char *)mark, "all")) {
			memset(s, ' ', n);
			return true;
		}
		const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		if (ov[1] < ov[0] || ov[1] > n)
			break;
		memset(s + ov[0], ' ', ov[1] - ov[0]);
		blanked |= ov[1] > ov[0];
		start = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
		while (start < n && ((unsigned char)s[start] & 0xC0) == 0x80)
			start++;
	}
	return blanked;
}

static void or_bits(uint64_t *bits, const sg__kw_set *s, uint32_t val)
{
	const uint64_t *b = s->bits + (size_t)val * s->nwords;
	for (size_t w = 0; w < s->nwords; w++)
		bits[w] |= b[w];
}

/* In a run of non-ASCII letters, stems also match at every character after
 * the first: Chinese and Japanese put no space between words, so "不要再发短信"
 * holds the stem "短信*". */
static bool inner_stems(const sg__kw_set *s, const char *f, size_t b, size_t e, uint64_t *bits)
{
	const kw_table *ts = &s->trig_stem_wide;
	bool any = false;
	if (!ts->count)
		return false;
	for (size_t c = b + 1; c + ts->minlen <= e; c++) {
		if (((unsigned char)f[c] & 0xC0) == 0x80)
			continue; /* not the start of a character */
		unsigned pfx = kw_pfx(f + c, e - c);
		if (!(s->trig_pfx[pfx / 64] & (1ULL << (pfx % 64))))
			continue;
		uint64_t h = KW_HASH_INIT;
		for (size_t k = c; k < e && k - c < ts->maxlen;) {
			h = kw_hash_step(h, (unsigned char)f[k++]);
			const uint32_t *v;
			if (k - c >= ts->minlen && (v = sg__kw_table_get(ts, f + c, k - c, h))) {
				or_bits(bits, s, *v);
				any = true;
			}
		}
	}
	return any;
}

/* Collect the pattern rules whose triggers occur in the text. */
static bool triggered(const sg__kw_set *s, const char *f, size_t n, uint64_t *bits)
{
	const kw_table *tw = &s->trig_word;
	bool any = false;
	const uint32_t *v;
	for (size_t i = 0; i < n;) {
		while (i < n && !kw_wordbyte((unsigned char)f[i]))
			i++;
		size_t b = i;
		int cls = i < n ? kw_wordclass((unsigned char)f[i]) : 0;
		while (i < n && kw_wordclass((unsigned char)f[i]) == cls)
			i++;
		if (i == b)
			continue;
		if (cls == 2)
			any |= inner_stems(s, f, b, i, bits); /* whatever the word's first bytes */
		unsigned pfx = kw_pfx(f + b, i - b);
		if (!(s->trig_pfx[pfx / 64] & (1ULL << (pfx % 64))))
			continue; /* most words: no trigger starts with these three bytes */
		const kw_table *ts = cls == 2 ? &s->trig_stem_wide : &s->trig_stem;
		uint64_t h = KW_HASH_INIT;
		for (size_t k = b; k < i;) {
			h = kw_hash_step(h, (unsigned char)f[k++]);
			if (k - b >= ts->minlen && k - b <= ts->maxlen &&
			    (v = sg__kw_table_get(ts, f + b, k - b, h))) {
				or_bits(bits, s, *v);
				any = true;
			}
		}
		if ((v = sg__kw_table_get(tw, f + b, i - b, h))) {
			or_bits(bits, s, *v);
			any = true;
		}
	}
	return any;
}

/* Whether a rule past the guards (a phrase or probable) is among the bits. */
static bool beyond_guards(const sg__kw_set *s, const uint64_t *bits)
{
	size_t g = s->nguards;
	for (size_t w = g / 64; w < s->nwords; w++) {
		uint64_t m = w == g / 64 ? ~0ULL << (g % 64) : ~0ULL;
		if (bits[w] & m)
			return true;
	}
	return false;
}

/* The triggered guards, then phrases, then probables. bits receives the
 * triggered rules. With no phrase or probable triggered nothing can match
 * and the guards do not run (hit->guards_left): they only matter then if
 * the intent model would give the text an intent (any_guard). */
static int patterns(const sg__kw_set *s, char *f, size_t fl, kw_hit *hit, uint64_t *bits)
{
	memset(bits, 0, KW_BITSET_WORDS * sizeof(*bits));
	hit->triggered = triggered(s, f, fl, bits);
	if (s->no_prefilter) {
		for (size_t i = 0; i < s->npats; i++)
			bits[i / 64] |= 1ULL << (i % 64);
	} else if (!hit->triggered) {
		return 0;
	} else if (!beyond_guards(s, bits)) {
		hit->guards_left = true;
		return 0;
	}
	pcre2_match_data *md = thread_md();
	if (!md)
		return -ENOMEM;
	for (size_t w = 0; w < s->nwords && !hit->intent; w++) {
		for (uint64_t b = bits[w]; b; b &= b - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(b);
			const kw_rule *r = &s->rules[s->pats[i]];
			if (i < s->nguards) {
				hit->guarded |= guard(r, f, fl, md);
			} else if (match(r, f, fl, 0, md) > 0) {
				*hit = (kw_hit){r, r->intent, i < s->nphrase ? SG_CONF_PHRASE : SG_CONF_PROBABLE};
				break;
			}
		}
	}
	if (md != md_cache)
		pcre2_match_data_free(md);
	return 0;
}

/* Whether a triggered guard matches f (which it blanks): the guards that
 * patterns() left. */
static bool any_guard(const sg__kw_set *s, char *f, size_t fl, const uint64_t *bits)
{
	pcre2_match_data *md = thread_md();
	bool any = !md; /* without match data, fail closed: no model answer */
	for (size_t i = 0; md && !any && i < s->nguards; i++)
		if (bits[i / 64] >> (i % 64) & 1)
			any = guard(&s->rules[s->pats[i]], f, fl, md);
	if (md && md != md_cache)
		pcre2_match_data_free(md);
	return any;
}

static const kw_rule *exact(const sg__kw_set *s, const char *f, size_t fl)
{
	const uint32_t *v = NULL;
	if (fl >= s->exact.minlen && fl <= s->exact.maxlen)
		v = sg__kw_table_get(&s->exact, f, fl, sg__kw_hash(f, fl));
	if (!v && fl <= 3 * s->squeezed.maxlen) {
		/* squeezed and hashed in one pass, given up once longer than any
		 * squeezed keyword (most texts with a few words) */
		char q[KW_FOLD_MAX];
		size_t ql = 0;
		uint64_t h = KW_HASH_INIT;
		for (size_t i = 0; i < fl && ql <= s->squeezed.maxlen; i++)
			if (kw_wordbyte((unsigned char)f[i]))
				h = kw_hash_step(h, (unsigned char)(q[ql++] = f[i]));
		if (ql <= s->squeezed.maxlen)
			v = sg__kw_table_get(&s->squeezed, q, ql, h);
	}
	return v ? &s->rules[*v] : NULL;
}

/* A keyword said again and again ("STOP STOP STOP", "停止停止停止"): a text
 * of 2 to 5 times the same word or phrase, separated by single spaces or by
 * nothing (then of 4+ bytes), is that keyword, unless it is an opt-in. */
static const kw_rule *repeated(const sg__kw_set *s, const char *f, size_t fl)
{
	if (fl > 6 * s->exact.maxlen + 5)
		return NULL;
	for (size_t n = 2, sep = 1; n <= 5; sep = !sep, n += sep) {
		if ((fl + sep) % n)
			continue;
		size_t w = (fl + sep) / n - sep; /* each copy, then a space or nothing */
		if (w < s->exact.minlen || w > s->exact.maxlen || (!sep && w < 4))
			continue; /* "jajaja" is laughter, not "ja" */
		bool same = true;
		for (size_t i = 1; same && i < n; i++)
			same = (!sep || f[i * (w + 1) - 1] == ' ') && !memcmp(f, f + i * (w + sep), w);
		const uint32_t *v;
		if (same && (v = sg__kw_table_get(&s->exact, f, w, sg__kw_hash(f, w))) &&
		    s->rules[*v].intent != SG_INTENT_OPT_IN)
			return &s->rules[*v]; /* "ja ja", "yes yes yes" can be sarcasm: no opt-in */
	}
	return NULL;
}

/* A one-word text with a letter held down ("Stopppp", "BAJAAA",
 * "unsubscribeeee"): each run of 3+ equal letters read as one, then as an
 * exact keyword or a typo of one, of 4+ letters. */
static const kw_rule *elongated(const sg__kw_set *s, const char *f, size_t fl)
{
	char q[KW_TYPO_MAX + 2];
	size_t ql = 0;
	bool runs = false;
	if (fl > 4 * KW_TYPO_MAX)
		return NULL;
	for (size_t i = 0; i < fl;) {
		if (kw_wordclass((unsigned char)f[i]) != 1)
			return NULL; /* one ASCII word only */
		size_t j = i;
		while (j < fl && f[j] == f[i])
			j++;
		runs |= j - i >= 3 && f[i] >= 'a';
		size_t keep = j - i >= 3 && f[i] >= 'a' ? 1 : j - i;
		if (ql + keep > KW_TYPO_MAX + 1)
			return NULL;
		memset(q + ql, f[i], keep);
		ql += keep;
		i = j;
	}
	if (!runs || ql < KW_TYPO_MIN)
		return NULL;
	const kw_rule *r = exact(s, q, ql);
	return r ? r : sg__kw_typo(s, q, ql);
}

/* Length of the UTF-8 sequence that starts with byte c (valid text). */
static size_t seq_len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
}

/* A one-word text in another script with two neighbouring letters swapped
 * ("стпо", "сотп" for "стоп"): no keyboard map there, so only the swap,
 * only in a word of 4+ letters with no space, punctuation or ASCII, never a
 * real word, and the keyword of one intent. */
static const kw_rule *swapped(const sg__kw_set *s, const char *f, size_t fl)
{
	size_t at[KW_TYPO_MAX + 1], n = 0;
	if (fl < 8 || fl > s->exact.maxlen)
		return NULL;
	for (size_t i = 0; i < fl; i += seq_len((unsigned char)f[i])) {
		if ((unsigned char)f[i] < 0x80 || n == KW_TYPO_MAX)
			return NULL; /* ASCII has typo.c; spaces make it a sentence */
		at[n++] = i;
	}
	at[n] = fl;
	if (n < 4 || sg__kw_table_get(&s->real, f, fl, sg__kw_hash(f, fl)))
		return NULL;
	const kw_rule *found = NULL;
	char q[4 * KW_TYPO_MAX];
	for (size_t k = 0; k + 1 < n; k++) {
		size_t a = at[k + 1] - at[k], b = at[k + 2] - at[k + 1];
		if (a == b && !memcmp(f + at[k], f + at[k + 1], a))
			continue;
		memcpy(q, f, fl);
		memcpy(q + at[k], f + at[k + 1], b);
		memcpy(q + at[k] + b, f + at[k], a);
		const uint32_t *v = sg__kw_table_get(&s->exact, q, fl, sg__kw_hash(q, fl));
		if (!v)
			continue;
		const kw_rule *r = &s->rules[*v];
		if (found && found->intent != r->intent)
			return NULL;
		if (!found)
			found = r;
	}
	return found;
}

/* A slipped keyword (typo.c, elongated, swapped, slip.c) of the whole text. */
static const kw_rule *slipped(const sg__kw_set *s, const char *f, size_t fl)
{
	const kw_rule *r = sg__kw_typo(s, f, fl);
	if (!r)
		r = elongated(s, f, fl);
	if (!r)
		r = swapped(s, f, fl);
	if (!r)
		r = sg__kw_slip(s, f, fl);
	return r;
}

/* Is f[b, e) a word of a "polite" line? */
static bool polite_word(const sg__kw_set *s, const char *f, size_t b, size_t e)
{
	const kw_table *t = &s->polite;
	return e - b >= t->minlen && e - b <= t->maxlen &&
	       sg__kw_table_get(t, f + b, e - b, sg__kw_hash(f + b, e - b));
}

static bool sep(char c)
{
	return c == ' ' || c == '.' || c == ',' || c == '!' || c == '?' || c == ';' || c == ':';
}

/* A slipped keyword with polite words only before or after it ("stpo po",
 * "pls unsubscibe", "stpo souple"): the same keyword. Still a whole-message
 * keyword, not one inside a sentence: every other word must be polite. */
static const kw_rule *polite_slip(const sg__kw_set *s, const char *f, size_t fl)
{
	size_t b = 0, e = fl;
	bool cut = false;
	if (fl > 48 || !memchr(f, ' ', fl))
		return NULL; /* a keyword and a few polite words, no more; one word is no such text */
	for (;;) { /* leading polite words */
		size_t w = b;
		while (w < e && !sep(f[w]))
			w++;
		if (w == e || !polite_word(s, f, b, w))
			break;
		while (w < e && sep(f[w]))
			w++;
		b = w;
		cut = true;
	}
	for (;;) { /* trailing ones */
		size_t w = e;
		while (w > b && sep(f[w - 1]))
			w--;
		size_t t = w;
		while (t > b && !sep(f[t - 1]))
			t--;
		if (t == b || !polite_word(s, f, t, w))
			break;
		while (t > b && sep(f[t - 1]))
			t--;
		e = t;
		cut = true;
	}
	if (!cut || e == b || exact(s, f + b, e - b))
		return NULL; /* a keyword itself: the phrase rules read its politeness */
	return slipped(s, f + b, e - b);
}

/* Whether the model may give an intent to a text the rules call none. To a
 * text with a trigger word of some pattern rule (the rules' own vocabulary
 * of requests: "text", "stop", "msg", "退订", ...) at its thresholds; to one
 * without, only when the model file says "untriggered" (at that higher
 * threshold: sg__kw_model_intent). On the third held-out corpus, with a
 * model trained on 4,000 messages, its answers to texts without one were
 * right only two times in three; trained on 70,000 messages, on three sets
 * of blind text it had not learnt they found 0.6 to 1.2 points more
 * opt-outs and 1 to 3 more of opt-ins and help requests, for 0 to 0.06
 * points more false opt-outs (keywords/README.md, "Eighth session"), at
 * 17 % more instructions on the bench mix. Where a guard matched (the rules
 * read a part of it as no request: "don't stop", "texts are fine"), never
 * an opt-out, and an
 * opt-in or help only when the file says "guarded" ("I sent STOP by
 * mistake, keep them coming": the guard blanks the STOP, the model reads
 * the rest; a probable opt-in is held for review anyway); nor to one word of
 * Latin letters, also said again and again, which the keyword and typo
 * rules decide (a real word is no keyword, whatever it resembles: "quilt",
 * "canal", "ending", "dung" for Đúng; "yes yes yes" is no opt-in); nor to
 * one real word of another script ("real" lines). */
static bool model_may_fill(const sg__kw_set *s, const kw_hit *hit, const char *f, size_t fl)
{
	if ((hit->guarded && !sg__kw_model_guarded(s)) || (!hit->triggered && !sg__kw_model_untriggered(s)))
		return false;
	/* one Latin word, or one said again and again ("yes yes yes") */
	size_t w = 0;
	while (w < fl && f[w] != ' ')
		w++;
	bool latin = w > 0;
	for (size_t i = 0; i < fl && latin; i++) {
		unsigned char c = (unsigned char)f[i];
		latin = (c < 0x80 && kw_wordbyte(c)) || c == '\'' || c == ' ';
		if (latin && c == ' ')
			latin = i + 1 + w <= fl && !memcmp(f + i + 1, f, w) && (i + 1 + w == fl || f[i + 1 + w] == ' ');
	}
	if (latin)
		return false;
	bool one_word = !memchr(f, ' ', fl);
	bool markable = s->marked.count && fl >= s->marked.minlen && fl <= s->marked.maxlen;
	if (!one_word && !markable)
		return true;
	uint64_t h = sg__kw_hash(f, fl);
	return !(one_word && sg__kw_table_get(&s->real, f, fl, h)) && !(markable && sg__kw_table_get(&s->marked, f, fl, h));
}

static int find(const sg__kw_set *s, sg__campaign *c, const char *text, size_t len, char *f, size_t fl,
		kw_hit *hit)
{
	if (!fl)
		return 0;
	const kw_rule *r = exact(s, f, fl);
	if (!r && s->marked.count && fl >= s->marked.minlen && fl <= s->marked.maxlen)
		r = sg__kw_marked(s, text, len, f, fl); /* "DỪNG" with its marks, not "Đúng" */
	if (!r)
		r = repeated(s, f, fl);
	if (c) {
		sg_intent ci;
		int rc = sg__kw_campaign_match(c, f, fl, &ci);
		if (rc < 0)
			return rc;
		/* The campaign's word wins unless a default keyword means the same
		 * (then the default rule names it). STOP, HELP and START cannot be
		 * taken over: campaign.c drops them from other intents' lists. */
		if (ci != SG_INTENT_NONE && (!r || r->intent != ci)) {
			*hit = (kw_hit){NULL, ci, SG_CONF_EXACT};
			return 0;
		}
	}
	if (r) {
		*hit = (kw_hit){r, r->intent, SG_CONF_EXACT};
		return 0;
	}
	/* A one-word text one keyboard slip from a keyword ("Stpo", "unsubscibe"):
	 * as clear as a phrase, reported as the keyword's rule + "~typo". */
	if ((r = slipped(s, f, fl)) || (s->polite.count && (r = polite_slip(s, f, fl)))) {
		*hit = (kw_hit){r, r->intent, SG_CONF_PHRASE, true};
		return 0;
	}
	uint64_t bits[KW_BITSET_WORDS];
	if (!s->model || s->no_model)
		return patterns(s, f, fl, hit, bits);
	/* The model reads the folded text as it was before the guards blanked
	 * parts of it: "don't stop texting" is none because of its "don't stop",
	 * which the model must see (it was trained on the same text). */
	char raw[KW_FOLD_MAX];
	memcpy(raw, f, fl);
	int rc = patterns(s, f, fl, hit, bits);
	if (rc < 0)
		return rc;
	bool fill = hit->intent == SG_INTENT_NONE && model_may_fill(s, hit, raw, fl);
	bool overrule = hit->intent == SG_INTENT_OPT_OUT && hit->conf != SG_CONF_EXACT && sg__kw_model_may_veto(s);
	double p[4];
	sg_intent intent;
	if ((!fill && !overrule) || !sg__kw_model_probs(s, raw, fl, p))
		return 0;
	if (fill && sg__kw_model_intent(s, p, hit->triggered, hit->guarded, &intent)) {
		/* f is raw still: no guard ran; one that matches now leaves only
		 * an opt-in or help at the guarded threshold */
		if (hit->guards_left && any_guard(s, f, fl, bits) &&
		    !sg__kw_model_intent(s, p, true, true, &intent))
			return 0;
		size_t lang = sg__kw_model_lang(s, raw, fl);
		*hit = (kw_hit){.intent = intent, .conf = SG_CONF_PROBABLE, .model = true, .lang = (uint8_t)lang,
				.prob = p[intent == SG_INTENT_OPT_OUT ? 1 : intent == SG_INTENT_OPT_IN ? 2 : 3]};
	} else if (overrule && sg__kw_model_vetoes(s, p)) {
		*hit = (kw_hit){NULL, SG_INTENT_NONE, SG_CONF_NONE};
	}
	return 0;
}

static int classify_one(const sg__kw_set *set, sg__campaign *campaign, const char *text, size_t len,
			kw_hit *hit)
{
	char f[KW_FOLD_MAX + KW_PAD];
	size_t fl = sg__kw_fold(text ? text : "", len, f);
	memset(f + fl, 0, KW_PAD); /* JIT code may read a little past the subject */
	*hit = (kw_hit){NULL, SG_INTENT_NONE, SG_CONF_NONE};
	return find(set, campaign, text ? text : "", len, f, fl, hit);
}

/* Byte offset of the character that starts at or after `at` (UTF-8 valid). */
static size_t char_start(const char *t, size_t len, size_t at)
{
	while (at < len && ((unsigned char)t[at] & 0xc0) == 0x80)
		at++;
	return at;
}

/* Which of two window hits decides a long text: an opt-out wins (a missed
 * one costs the most), then the more certain, then the earlier. */
static bool better(const kw_hit *a, const kw_hit *b)
{
	if (b->intent == SG_INTENT_NONE)
		return false;
	if (a->intent == SG_INTENT_NONE)
		return true;
	if ((b->intent == SG_INTENT_OPT_OUT) != (a->intent == SG_INTENT_OPT_OUT))
		return b->intent == SG_INTENT_OPT_OUT;
	return b->conf < a->conf; /* EXACT < PHRASE < PROBABLE */
}

/* A text past SG_TEXT_MAX_CHARS (MMS, concatenated parts) is read in
 * overlapping windows, so a request anywhere in it, also across a window
 * edge, is found: never dropped for its length. */
static int classify_long(const sg__kw_set *set, sg__campaign *campaign, const char *text, size_t len,
			 kw_hit *best)
{
	enum { WINDOW = SG_TEXT_MAX_CHARS * 4, STEP = WINDOW * 3 / 4 }; /* bytes; overlap a quarter */
	*best = (kw_hit){NULL, SG_INTENT_NONE, SG_CONF_NONE};
	for (size_t at = 0; at < len;) {
		size_t end = at + WINDOW >= len ? len : at + WINDOW;
		while (end < len && end > at && ((unsigned char)text[end] & 0xc0) == 0x80)
			end--; /* cut before a character, not inside it */
		kw_hit hit;
		int rc = classify_one(set, campaign, text + at, end - at, &hit);
		if (rc < 0)
			return rc;
		if (better(best, &hit))
			*best = hit;
		if (end == len)
			break;
		at = char_start(text, len, at + STEP);
	}
	return 0;
}

/* Characters in text, -1 when it is no valid UTF-8: most texts are ASCII,
 * checked 8 bytes at a time before the full decoder. */
static long char_count(const char *text, size_t len)
{
	size_t i = 0;
	for (uint64_t w; i + 8 <= len; i += 8) {
		memcpy(&w, text + i, 8);
		if (w & 0x8080808080808080ULL)
			break;
	}
	while (i < len && !((unsigned char)text[i] & 0x80))
		i++;
	if (i == len)
		return (long)len;
	long rest = sg__utf8_count(text + i, len - i);
	return rest < 0 ? -1 : (long)i + rest;
}

int sg__kw_classify(const sg__kw_set *set, sg__campaign *campaign, const char *text, size_t len,
		    sg_classification *out)
{
	static const char *const campaign_rule[] = {"", "campaign.opt_out", "campaign.opt_in",
						    "campaign.help"};
	if (!set || !out || (!text && len))
		return -EINVAL;
	long nchars = char_count(text, len);
	if (nchars < 0)
		return SG_EUTF8;
	kw_hit hit;
	int rc = len > (size_t)SG_TEXT_MAX_CHARS * 4 || nchars > SG_TEXT_MAX_CHARS
			 ? classify_long(set, campaign, text, len, &hit)
			 : classify_one(set, campaign, text, len, &hit);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	if (hit.intent == SG_INTENT_NONE)
		return 0;
	out->intent = hit.intent;
	out->confidence = hit.conf;
	size_t lang = hit.rule ? hit.rule->lang : hit.model ? hit.lang : set->default_lang;
	if (hit.model) {
		/* "en.model.87": the model, and how sure it is (sg__kw_score) */
		int pct = (int)(hit.prob * 100);
		snprintf(out->rule, sizeof(out->rule), "%s.model.%02d", set->langs[lang].code, pct > 99 ? 99 : pct);
		sg__strlcpy(out->lang, set->langs[lang].code, sizeof(out->lang));
	} else if (hit.rule) {
		sg__strlcpy(out->lang, set->langs[lang].code, sizeof(out->lang));
		sg__strlcpy(out->rule, hit.rule->id, sizeof(out->rule));
		if (hit.typo) {
			size_t n = strlen(out->rule);
			sg__strlcpy(out->rule + n, "~typo", sizeof(out->rule) - n);
		}
	} else {
		sg__strlcpy(out->rule, campaign_rule[hit.intent], sizeof(out->rule));
	}
	sg__kw_reply(set, lang, hit.intent, campaign, out->reply, sizeof(out->reply));
	return 0;
}

int sg__kw_classify_features(const sg__kw_set *set, const char *text, size_t len,
			     void (*features)(uint32_t h, void *arg), void *arg, sg_classification *out)
{
	if (!set || !out || (!text && len) || !features)
		return -EINVAL;
	if (sg__utf8_count(text, len) < 0)
		return SG_EUTF8;
	char f[KW_FOLD_MAX + KW_PAD];
	size_t cut = len > (size_t)SG_TEXT_MAX_CHARS * 4 ? (size_t)SG_TEXT_MAX_CHARS * 4 : len;
	while (cut < len && cut && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut--;
	size_t fl = sg__kw_fold(text ? text : "", cut, f);
	memset(f + fl, 0, KW_PAD);
	sg__kw_features(f, fl, features, arg); /* as the model reads it: before the guards */
	kw_hit hit = {NULL, SG_INTENT_NONE, SG_CONF_NONE};
	int rc = find(set, NULL, text ? text : "", cut, f, fl, &hit);
	memset(out, 0, sizeof(*out));
	out->intent = hit.intent;
	out->confidence = hit.conf;
	return rc;
}
