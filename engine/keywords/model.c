/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The intent model (keywords/intent.model, written by scripts/train-model.py
 * from the evaluation corpora): a linear classifier over hashed features of
 * the folded text, for what the rules do not cover. Rules are exact about
 * the wordings they were written from; a revocation worded some other way
 * ("quit blowing up my phone") shares parts with the ones seen: words, word
 * pairs, pieces of words. The model scores those parts for each intent:
 *
 *     p(intent) = softmax(bias + scale * sum of the weights of the features)
 *
 * and a text the rules call none is the model's intent when that
 * probability reaches the intent's threshold (SG_CONF_PROBABLE, rule
 * "<lang>.model.<percent>"). Features (sg__kw_features), each hashed to a
 * bucket: every word, every pair of neighbouring words, every four-letter
 * piece of a word of 4+ letters (with its edges, "<sto", "top>"), every
 * pair of neighbouring CJK or Hangul characters, and the word count.
 * A bucket also names the language its features were most seen in, which
 * picks the reply's language for a model answer. The file is optional.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "keywords/kw_internal.h"
#include "internal.h"

#define MODEL_FILE "intent.model"
#define MODEL_MAX_BYTES (64u << 20)
#define MODEL_MAX_BUCKETS (1u << 24)

typedef struct kw_model_entry {
	int16_t w[4];             /* intents none opt_out opt_in help, times scale */
	uint8_t lang;             /* index into langs + 1, 0 for none */
} kw_model_entry;

struct kw_model {
	uint32_t mask;            /* buckets - 1 */
	uint64_t *present;        /* bit per bucket: it has an entry */
	uint32_t *rank;           /* entries before each 64-bucket word of present */
	kw_model_entry *e;        /* the entries, in bucket order */
	size_t n, cap;
	int64_t last;             /* the last bucket loaded: lines come in bucket order */
	uint8_t langmap[KW_MAX_LANGS]; /* model language index -> set->langs index */
	size_t nlangs;
	float scale, bias[4], threshold[4];
	float untriggered;        /* what an intent needs in a text with no trigger word (> 1: no answer) */
	float guarded;            /* what an opt-in or help needs where a guard matched (> 1: no answer) */
	double logit_gap[4];      /* ln(t / (1 - t)) of each threshold t, less a margin */
};

/* Bits set in w, without a library call where the compiler targets CPUs
 * with no popcount instruction (Debian's baseline x86-64). */
static inline uint32_t popcount64(uint64_t w)
{
	w -= (w >> 1) & 0x5555555555555555ULL;
	w = (w & 0x3333333333333333ULL) + ((w >> 2) & 0x3333333333333333ULL);
	w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (uint32_t)((w * 0x0101010101010101ULL) >> 56);
}

static inline uint32_t fmix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* A feature's hash: eight bytes at a time (little-endian, whatever the
 * machine), mixed, then the length: the same value on every platform, as
 * the trained model needs. */
static inline uint64_t le64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint32_t le32(const char *p)
{
	return (uint32_t)(unsigned char)p[0] | (uint32_t)(unsigned char)p[1] << 8 |
	       (uint32_t)(unsigned char)p[2] << 16 | (uint32_t)(unsigned char)p[3] << 24;
}

static inline uint32_t fnv_end(uint64_t h, size_t n)
{
	h ^= n;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return fmix((uint32_t)(h >> 32) ^ (uint32_t)h);
}

/* s[0, avail) may be read (avail >= n): a last chunk of fewer than eight
 * bytes is one load, masked, where eight bytes are there to read. */
static inline uint32_t fnv(uint32_t seed, const char *s, size_t n, size_t avail)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL * (seed + 1);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		h = (h ^ le64(s + i)) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	if (i < n) {
		uint64_t chunk = 0;
		if (avail - i >= 8) {
			chunk = le64(s + i) & (~0ULL >> (64 - 8 * (n - i)));
		} else {
			for (size_t k = 0; i + k < n; k++)
				chunk |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
		}
		h = (h ^ chunk) * 0xff51afd7ed558ccdULL;
		h ^= h >> 29;
	}
	return fnv_end(h, n);
}

/* fnv() of four bytes, given as their little-endian value */
static inline uint32_t fnv4(uint32_t seed, uint32_t v)
{
	uint64_t h = ((0x9e3779b97f4a7c15ULL * (seed + 1)) ^ v) * 0xff51afd7ed558ccdULL;
	return fnv_end(h ^ (h >> 29), 4);
}

static inline bool featbyte(unsigned char c)
{
	return kw_wordbyte(c) || c == '\'';
}

static inline size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Han, kana, Hangul and the like: U+2E80 and up, three bytes or more. */
static inline bool wide(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	return n >= 3 && (c > 0xe2 || (c == 0xe2 && (unsigned char)s[1] >= 0xba));
}

enum { F_WORD = 1, F_PAIR, F_PIECE, F_WIDE, F_COUNT };

/* The walk over the features, inlined into each caller of this file so
 * that the callback is too (the score adds four weights per feature). */
static inline __attribute__((always_inline)) size_t walk(const char *f, size_t fl,
							 void (*cb)(uint32_t h, void *arg), void *arg)
{
	size_t nwords = 0, nfeat = 0;
	uint32_t prev = 0;
	for (size_t i = 0; i < fl;) {
		if (!featbyte((unsigned char)f[i])) {
			i++;
			continue;
		}
		size_t b = i;
		unsigned char high = 0;
		while (i < fl && featbyte((unsigned char)f[i]))
			high |= (unsigned char)f[i++];
		uint32_t hw = fnv(F_WORD, f + b, i - b, fl - b);
		cb(hw, arg);
		nfeat++;
		if (nwords++)
			cb(fmix(prev * 31u + hw + F_PAIR), arg), nfeat++;
		prev = hw;
		/* pieces of a word of 4 to 32 characters: its four-character
		 * windows with the edges '<' and '>' around it */
		if (!(high & 0x80)) { /* ASCII: every piece is four bytes of the word or its edges */
			size_t nc = i - b;
			if (nc >= 4 && nc <= 32) {
				cb(fnv4(F_PIECE, '<' | le32(f + b) << 8), arg);
				for (size_t j = 1; j + 2 < nc; j++)
					cb(fnv4(F_PIECE, le32(f + b + j - 1)), arg);
				cb(fnv4(F_PIECE, le32(f + i - 4) >> 8 | (uint32_t)'>' << 24), arg);
				nfeat += nc - 1;
			}
			continue; /* no CJK or Hangul */
		}
		size_t at[34], nc = 0;
		for (size_t p = b; p < i && nc <= 32; p += utf8_len((unsigned char)f[p]))
			at[nc++] = p;
		if (nc >= 4 && nc <= 32) {
			char piece[4 * 4 + 2 + 8]; /* and room for fnv()'s last load */
			at[nc] = i;
			for (size_t j = 0; j + 2 <= nc; j++) { /* padded characters j .. j + 3 */
				size_t first = j ? j - 1 : 0, last = j + 2 < nc ? j + 2 : nc - 1, k = 0;
				if (j == 0)
					piece[k++] = '<';
				for (size_t c = at[first]; c < at[last + 1]; c++)
					piece[k++] = f[c]; /* 3 to 16 bytes: no memcpy() call */
				if (j + 2 == nc)
					piece[k++] = '>';
				cb(fnv(F_PIECE, piece, k, sizeof(piece)), arg);
				nfeat++;
			}
		}
		/* neighbouring CJK or Hangul characters, in a run of any length */
		for (size_t p = b, q; p < i; p = q) {
			q = p + utf8_len((unsigned char)f[p]);
			if (q >= i || !wide(f + p, q - p))
				continue;
			size_t r = q + utf8_len((unsigned char)f[q]);
			if (r <= i && wide(f + q, r - q))
				cb(fnv(F_WIDE, f + p, r - p, fl - p), arg), nfeat++;
		}
	}
	char count = (char)('0' + (nwords > 8 ? 8 : nwords));
	cb(fnv(F_COUNT, &count, 1, 1), arg);
	return nfeat + 1;
}

size_t sg__kw_features(const char *f, size_t fl, void (*cb)(uint32_t h, void *arg), void *arg)
{
	return walk(f, fl, cb, arg);
}

/* ---- the model file ---- */

static int bad(char *err, size_t errlen, const char *path, unsigned line, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s:%u: %s (regenerate it: scripts/train-model.py)", path, line, what);
	return SG_EKEYWORDS;
}

void sg__kw_model_free(kw_model *m)
{
	if (!m)
		return;
	free(m->present);
	free(m->rank);
	free(m->e);
	free(m);
}

static int parse_intent_floats(char *p, float out[4], bool probabilities)
{
	for (int k = 0; k < 4; k++) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || !isfinite(v) || (probabilities && (v <= 0 || v > 1)))
			return -1;
		out[k] = (float)v;
		p = end;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	return *p ? -1 : 0;
}

/* One "w INDEX W0 W1 W2 W3 LANG" line. */
static const char *parse_weights(kw_model *m, char *p)
{
	char *end;
	errno = 0;
	unsigned long idx = strtoul(p, &end, 10);
	if (end == p || errno || idx > m->mask)
		return "bucket index missing or past the buckets";
	if ((int64_t)idx <= m->last)
		return "bucket out of order (the w lines go by ascending bucket, each once)";
	m->last = (int64_t)idx;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 4096;
		kw_model_entry *nv = realloc(m->e, nc * sizeof(*nv));
		if (!nv)
			return "out of memory";
		m->e = nv;
		m->cap = nc;
	}
	kw_model_entry *en = &m->e[m->n];
	p = end;
	for (int k = 0; k < 4; k++) {
		long v = strtol(p, &end, 10);
		if (end == p || v < -32767 || v > 32767)
			return "want four weights from -32767 to 32767";
		en->w[k] = (int16_t)v;
		p = end;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '-' && !p[1])
		en->lang = 0;
	else {
		unsigned long l = strtoul(p, &end, 10);
		if (end == p || *end || l >= m->nlangs)
			return "language: an index into the langs line, or -";
		en->lang = (uint8_t)(l + 1);
	}
	m->present[idx >> 6] |= 1ULL << (idx & 63);
	m->n++;
	return NULL;
}

/* One probability above 0, at most 1, and nothing after it. */
static bool parse_probability(const char *p, float *out)
{
	char *end;
	float v = strtof(p, &end);
	if (end == p || *end || !(v > 0 && v <= 1))
		return false;
	*out = v;
	return true;
}

/* The header lines: "buckets N", "scale S", "langs CODE...", "bias B0..B3",
 * "threshold T0..T3": T1..T3 the probability an intent needs; T0 the
 * probability of none at which a rule's opt-out phrase is overruled (1:
 * never); and, optional, "untriggered U": the probability an intent needs
 * in a text without any trigger word (at least its own threshold; without
 * the line the model does not answer such texts); "guarded G": the
 * probability an opt-in or a help request needs in a text a guard matched
 * (never an opt-out there; without the line, no answer there). */
static const char *parse_header(kw_model *m, const sg__kw_set *s, char *key, char *p, unsigned *seen)
{
	if (!strcmp(key, "buckets")) {
		unsigned long n = strtoul(p, NULL, 10);
		if (n < 64 || n > MODEL_MAX_BUCKETS || (n & (n - 1)))
			return "buckets: a power of two from 64 to 16777216";
		if (m->present)
			return "buckets given twice";
		m->mask = (uint32_t)(n - 1);
		m->present = calloc(n / 64, sizeof(uint64_t));
		m->rank = calloc(n / 64, sizeof(uint32_t));
		if (!m->present || !m->rank)
			return "out of memory";
		*seen |= 1;
	} else if (!strcmp(key, "scale")) {
		m->scale = strtof(p, NULL);
		if (!(m->scale > 0 && m->scale < 1))
			return "scale: a number between 0 and 1";
		*seen |= 2;
	} else if (!strcmp(key, "langs")) {
		for (char *save, *code = strtok_r(p, " \t", &save); code; code = strtok_r(NULL, " \t", &save)) {
			size_t l = 0;
			while (l < s->nlangs && strcmp(s->langs[l].code, code))
				l++;
			if (m->nlangs == KW_MAX_LANGS)
				return "too many languages";
			/* a language without a .kw file replies in the default one */
			m->langmap[m->nlangs++] = (uint8_t)(l < s->nlangs ? l : 0xff);
		}
		*seen |= 4;
	} else if (!strcmp(key, "bias")) {
		if (parse_intent_floats(p, m->bias, false))
			return "bias: four numbers (none opt_out opt_in help)";
		*seen |= 8;
	} else if (!strcmp(key, "threshold")) {
		if (parse_intent_floats(p, m->threshold, true))
			return "threshold: four probabilities above 0, at most 1 (veto opt_out opt_in help)";
		*seen |= 16;
	} else if (!strcmp(key, "untriggered")) {
		if (!parse_probability(p, &m->untriggered))
			return "untriggered: one probability above 0, at most 1";
	} else if (!strcmp(key, "guarded")) {
		if (!parse_probability(p, &m->guarded))
			return "guarded: one probability above 0, at most 1";
	} else {
		return "unknown line (want stopgate-model, buckets, scale, langs, bias, threshold, untriggered, guarded or w)";
	}
	return NULL;
}

int sg__kw_model_load(sg__kw_set *s, const char *dir, EVP_MD_CTX *digest, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/" MODEL_FILE, dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : bad(err, errlen, path, 0, strerror(errno));
	kw_model *m = calloc(1, sizeof(*m));
	if (m) {
		m->last = -1;
		m->untriggered = m->guarded = 2; /* no answer there, unless the file says */
	}
	char *line = NULL;
	size_t cap = 0, total = 0;
	unsigned no = 0, seen = 0;
	const char *why = m ? NULL : "out of memory";
	bool magic = false;
	for (ssize_t n; !why && (n = getline(&line, &cap, f)) >= 0;) {
		no++;
		total += (size_t)n;
		if (total > MODEL_MAX_BYTES)
			why = "file larger than 64 MiB";
		else if (!EVP_DigestUpdate(digest, line, (size_t)n))
			why = "out of memory";
		while (n > 0 && strchr("\r\n \t", line[n - 1]))
			line[--n] = '\0';
		if (why || !n || line[0] == '#')
			continue;
		char *p = line + strcspn(line, " \t");
		if (*p)
			*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!magic) {
			if (strcmp(line, "stopgate-model") || strcmp(p, "1"))
				why = "the first line must be: stopgate-model 1";
			magic = true;
		} else if (!strcmp(line, "w")) {
			why = (seen & 5) != 5 ? "a weight before the buckets and langs lines" : parse_weights(m, p);
		} else {
			why = parse_header(m, s, line, p, &seen);
		}
	}
	free(line);
	bool rerr = ferror(f);
	fclose(f);
	if (!why && rerr)
		why = "read error";
	if (!why && seen != 31)
		why = "missing one of the buckets, scale, langs, bias, threshold lines", no = 0;
	if (why) {
		sg__kw_model_free(m);
		return bad(err, errlen, path, no, why);
	}
	for (int k = 1; k < 4; k++) /* t = 1: never; 1e-9 below the exact gap: rounding */
		m->logit_gap[k] = m->threshold[k] >= 1 ? INFINITY : log(m->threshold[k] / (1 - m->threshold[k])) - 1e-9;
	for (uint32_t w = 0, seen_n = 0; w <= m->mask / 64; w++) {
		m->rank[w] = seen_n;
		seen_n += (uint32_t)popcount64(m->present[w]);
	}
	s->model = m;
	return 0;
}

/* ---- scoring ---- */

typedef struct score_acc {
	const kw_model *m;
	int32_t sum[4];
} score_acc;

static inline const kw_model_entry *entry(const kw_model *m, uint32_t h)
{
	uint32_t i = h & m->mask;
	uint64_t word = m->present[i >> 6], bit = 1ULL << (i & 63);
	if (!(word & bit))
		return NULL;
	return &m->e[m->rank[i >> 6] + popcount64(word & (bit - 1))];
}

static inline __attribute__((always_inline)) void add_feature(uint32_t h, void *arg)
{
	score_acc *a = arg;
	const kw_model_entry *en = entry(a->m, h);
	if (en) {
		a->sum[0] += en->w[0];
		a->sum[1] += en->w[1];
		a->sum[2] += en->w[2];
		a->sum[3] += en->w[3];
	}
}

typedef struct vote_acc {
	const kw_model *m;
	uint16_t votes[KW_MAX_LANGS + 1];
} vote_acc;

static inline __attribute__((always_inline)) void add_vote(uint32_t h, void *arg)
{
	vote_acc *a = arg;
	const kw_model_entry *en = entry(a->m, h);
	if (en && en->lang)
		a->votes[en->lang]++;
}

bool sg__kw_model_probs(const sg__kw_set *s, const char *f, size_t fl, double p[4])
{
	const kw_model *m = s->model;
	if (!m)
		return false;
	score_acc a = {.m = m};
	walk(f, fl, add_feature, &a);
	double max = -INFINITY, sum = 0;
	for (int k = 0; k < 4; k++) {
		p[k] = m->bias[k] + m->scale * a.sum[k];
		if (p[k] > max)
			max = p[k];
	}
	/* Most texts: none far ahead, so no intent can reach its threshold
	 * (p_k >= t needs z_k - z_none >= ln(t / (1 - t))) and no veto is
	 * possible; no exp() for them. */
	if (max == p[0] && m->threshold[0] >= 1) {
		bool near = false;
		for (int k = 1; k < 4; k++)
			near |= p[k] - p[0] >= m->logit_gap[k];
		if (!near) {
			p[0] = 1;
			p[1] = p[2] = p[3] = 0;
			return true;
		}
	}
	for (int k = 0; k < 4; k++)
		sum += (p[k] = exp(p[k] - max));
	for (int k = 0; k < 4; k++)
		p[k] /= sum;
	return true;
}

/* The language the features of f were most seen in (a second walk, made
 * only for a text the model gives an intent). */
size_t sg__kw_model_lang(const sg__kw_set *s, const char *f, size_t fl)
{
	const kw_model *m = s->model;
	vote_acc a = {.m = m};
	walk(f, fl, add_vote, &a);
	size_t top = 0;
	for (size_t l = 1; l <= m->nlangs; l++)
		if (a.votes[l] > a.votes[top])
			top = l;
	return top && m->langmap[top - 1] != 0xff ? m->langmap[top - 1] : s->default_lang;
}

bool sg__kw_model_intent(const sg__kw_set *s, const double p[4], bool triggered, bool guarded, sg_intent *intent)
{
	static const sg_intent of[4] = {SG_INTENT_NONE, SG_INTENT_OPT_OUT, SG_INTENT_OPT_IN, SG_INTENT_HELP};
	const kw_model *m = s->model;
	int best = 1;
	for (int k = 2; k < 4; k++)
		if (p[k] > p[best])
			best = k;
	double need = m->threshold[best];
	if (!triggered && m->untriggered > need)
		need = m->untriggered;
	if (guarded && (best == 1 || m->guarded > 1))
		return false; /* the rules read the text as no opt-out */
	if (guarded && m->guarded > need)
		need = m->guarded;
	if (p[best] < need)
		return false;
	*intent = of[best];
	return true;
}

bool sg__kw_model_untriggered(const sg__kw_set *s)
{
	return s->model && s->model->untriggered <= 1;
}

bool sg__kw_model_guarded(const sg__kw_set *s)
{
	return s->model && s->model->guarded <= 1;
}

bool sg__kw_model_may_veto(const sg__kw_set *s)
{
	return s->model && s->model->threshold[0] < 1;
}

bool sg__kw_model_vetoes(const sg__kw_set *s, const double p[4])
{
	return s->model->threshold[0] < 1 && p[0] >= s->model->threshold[0];
}
