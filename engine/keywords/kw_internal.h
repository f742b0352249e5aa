/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the keyword engine, shared by its files only:
 *   fold.c      text normalization (folding) applied to rules and messages
 *   table.c     the open-addressing hash tables (exact keywords, triggers)
 *   kw.c        loading keywords/\*.kw, compiling and JIT-ing the patterns
 *   classify.c  the matcher (hot path)
 *   campaign.c  per-campaign keywords, built lazily into campaign->kw_private
 *   reply.c     reply texts (campaign messages or per-language templates)
 *   typo.c      keyboard-aware typo tolerance for whole-message keywords
 *   model.c     the intent model (keywords/intent.model) for what rules miss
 * The data format is documented in keywords/README.md. */
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "keywords/kw.h"

#define KW_MAX_PATTERNS 2048 /* pattern rules per set: the trigger bitset (256 bytes) lives on the stack */
#define KW_BITSET_WORDS (KW_MAX_PATTERNS / 64)
#define KW_MAX_LANGS 32
#define KW_ID_MAX 64 /* == sizeof(sg_classification.rule) */
/* Folding a text of n bytes yields at most n + n / 2 bytes (see fold.c), so
 * this holds the folded form of any text classify accepts, plus the NUL. */
#define KW_FOLD_MAX (SG_TEXT_MAX_CHARS * 4 * 3 / 2 + 1)
#define KW_PAD 64 /* zeroed bytes after a pcre2 subject (see classify.c) */

typedef enum kw_kind {
	KW_EXACT = 0,    /* the whole folded text is the keyword */
	KW_GUARD = 1,    /* pcre2: matched spans are blanked before phrase/probable rules run */
	KW_PHRASE = 2,   /* pcre2: a clear request, SG_CONF_PHRASE */
	KW_PROBABLE = 3, /* pcre2: a keyword in a longer text, SG_CONF_PROBABLE */
} kw_kind;

typedef struct kw_rule {
	char id[KW_ID_MAX];
	sg_intent intent;
	kw_kind kind;
	uint8_t lang;       /* index into set->langs */
	bool jit;           /* code was JIT-compiled: use pcre2_jit_match */
	pcre2_code *code;   /* NULL for KW_EXACT; immutable, shared by all threads */
	char *triggers;     /* pattern rules: comma-separated trigger words, as loaded */
	uint32_t *marks;    /* marked keywords: the letters with their marks (marked.c) */
	uint8_t nmarks;
} kw_rule;

enum { KW_REPLY_HELP, KW_REPLY_OPT_OUT, KW_REPLY_OPT_IN, KW_REPLY_N };

typedef struct kw_lang {
	char code[8];             /* file name without ".kw" */
	char *program;            /* program name used when the campaign has no brand */
	char *reply[KW_REPLY_N];  /* templates, NULL when the file has none */
} kw_lang;

/* Open addressing, FNV-1a keys, linear probing. Keys live in one arena. */
typedef struct kw_entry {
	uint64_t hash;
	uint32_t key;  /* offset into keys + 1; 0 marks an empty slot */
	uint32_t len;
	uint32_t val;
} kw_entry;

typedef struct kw_table {
	kw_entry *slot;
	size_t mask, count; /* capacity - 1 (0 with no slots), entries */
	char *keys;
	size_t keys_len, keys_cap;
	size_t minlen, maxlen; /* key lengths, for cheap rejection */
} kw_table;

#define KW_HASH_INIT 0xcbf29ce484222325ULL
static inline uint64_t kw_hash_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * 0x100000001b3ULL;
}
uint64_t sg__kw_hash(const char *s, size_t n);
/* Insert key -> val. Returns 1 when inserted, 0 when the key was there
 * (*old receives its value), -ENOMEM. */
int sg__kw_table_put(kw_table *t, const char *key, size_t len, uint32_t val, uint32_t *old);
/* The value of key (h = sg__kw_hash(key, len)), or NULL. Inline: the
 * matcher looks up every word of a text and every prefix of some, and most
 * look-ups end at the first slot (the table is at most half full). */
static inline size_t kw_slot_of(uint64_t h, size_t mask)
{
	return (size_t)(h ^ (h >> 29) ^ (h >> 47)) & mask;
}
static inline const uint32_t *sg__kw_table_get(const kw_table *t, const char *key, size_t len, uint64_t h)
{
	if (len < t->minlen || len > t->maxlen || !t->count)
		return NULL;
	for (size_t i = kw_slot_of(h, t->mask);; i = (i + 1) & t->mask) {
		const kw_entry *e = &t->slot[i];
		if (!e->key)
			return NULL;
		if (e->hash == h && e->len == len && !memcmp(t->keys + e->key - 1, key, len))
			return &e->val;
	}
}
void sg__kw_table_free(kw_table *t);

#define KW_TYPO_MIN 4  /* keywords shorter than this get no typo tolerance */
#define KW_TYPO_MAX 24

typedef struct kw_typo {
	char key[KW_TYPO_MAX];  /* folded keyword, a-z only */
	uint8_t len;
	uint32_t rule;
} kw_typo;

typedef struct kw_calib kw_calib;
typedef struct kw_model kw_model;

/* calib.c: keywords/calibration.tsv (optional) into s; the score of c. */
int sg__kw_calib_load(sg__kw_set *s, const char *dir, char *err, size_t errlen);
void sg__kw_calib_free(sg__kw_set *s);

struct sg__kw_set {
	char version[SG_KWVERSION_MAX]; /* sg__kw_version() */
	kw_rule *rules;            /* every rule, in load order */
	size_t nrules, rules_cap;
	/* Pattern rules in match order: [0, nguards) guards, [nguards, nphrase)
	 * phrases, [nphrase, npats) probables; within each, opt_out first. */
	uint32_t pats[KW_MAX_PATTERNS];
	size_t npats, nguards, nphrase;
	kw_table exact;            /* folded keyword -> rule index */
	kw_table squeezed;         /* keyword without separators -> rule index */
	kw_table trig_word;        /* trigger word -> bitset index */
	kw_table trig_stem;        /* trigger stem ("text*") -> bitset index */
	kw_table trig_stem_wide;   /* stems of other scripts ("退订*"): other lengths */
	uint64_t trig_pfx[1024];   /* bit kw_pfx(w) set for every trigger word and stem w */
	uint64_t *bits;            /* bitsets of nwords words each, over pats[] positions */
	size_t nbits, nwords, bits_cap; /* rows, words a row, rows allocated */
	kw_lang langs[KW_MAX_LANGS];
	size_t nlangs;
	uint8_t default_lang;      /* "en" when loaded, else the first */
	bool no_prefilter;         /* tests: run every pattern, ignore triggers */
	bool no_model;             /* tests: the rules alone */
	kw_typo *typo;             /* exact keywords that typos may stand for */
	size_t ntypo, typo_cap;
	uint32_t typo_at[KW_TYPO_MAX + 2]; /* typo[] by length: first index of length >= n */
	kw_table real;             /* real words ("real" lines): never typos */
	kw_table polite;           /* polite words around a slipped keyword ("stpo po") */
	kw_table marked;           /* marked keywords, by folded form -> rule index */
	kw_table dropped;          /* other scripts' keywords less a letter (slip.c) */
	uint32_t *hangul;          /* exact slots of Hangul keywords of 4+ syllables (slip.c) */
	size_t nhangul, hangul_cap;
	uint64_t neighbour[36];    /* a-z0-9: bit b set when key b is next to key a */
	kw_calib *calib;           /* calibration.tsv, sorted by rule (calib.c) */
	kw_model *model;           /* intent.model, or NULL (model.c) */
	size_t ncalib, calib_cap;
};

/* The class of a byte of folded text: 1 for a-z and 0-9, 2 for any
 * non-ASCII byte (letters of other scripts), 0 for a separator. A word for
 * the trigger prefilter is a run of one class, so "stopဦ" holds the word
 * "stop", as pcre2's ASCII \b sees it. A table (table.c): the matcher asks
 * it of every byte of every text. */
extern const uint8_t sg__kw_class[256];
static inline int kw_wordclass(unsigned char c)
{
	return sg__kw_class[c];
}

static inline bool kw_wordbyte(unsigned char c)
{
	return kw_wordclass(c) != 0;
}

/* A 16-bit hash of the first three bytes of a word (n >= 1; fewer when the
 * word is shorter): words whose hash no trigger shares skip the table
 * lookups. Stems have 3+ bytes, so a word a stem starts has the stem's. */
static inline unsigned kw_pfx(const char *w, size_t n)
{
	uint32_t h = (unsigned char)w[0];
	h = h << 8 | (n > 1 ? (unsigned char)w[1] : 0);
	h = h << 8 | (n > 2 ? (unsigned char)w[2] : 0);
	return (h * 2654435761u) >> 16;
}

/* Fold len bytes of UTF-8 (validated by the caller; invalid bytes are read
 * as symbols) into out, which needs len + len / 2 + 1 bytes. Returns the folded
 * length; out is NUL-terminated. See keywords/README.md for the rules. */
size_t sg__kw_fold(const char *in, size_t len, char *out);
/* Copy only the word bytes of folded text into out (len + 1 bytes). */
size_t sg__kw_squeeze(const char *folded, size_t len, char *out);
/* The offset of the first letter of pattern p[0, len) that folding would
 * change (a capital, an accented or compatibility letter, a symbol folded
 * away), which can never match the folded text; SIZE_MAX if there is none.
 * Escapes, verbs and group names are no letters. */
size_t sg__kw_unfolded(const char *p, size_t len);

/* Per-campaign keywords (campaign.c), compiled on first use into
 * c->kw_private. Returns 0 with *intent the keyword's intent, or
 * SG_INTENT_NONE when the folded text is none of them; -ENOMEM. */
int sg__kw_campaign_match(sg__campaign *c, const char *folded, size_t flen, sg_intent *intent);

/* Write the reply for intent into out (SG_REPLY_MAX bytes): the campaign's
 * message when it has one, else the template of language lang. */
void sg__kw_reply(const sg__kw_set *set, size_t lang, sg_intent intent, const sg__campaign *c,
		  char *out, size_t outlen);
/* Check a template's syntax; returns NULL or a static description. */
const char *sg__kw_template_check(const char *tpl);

/* Typo tolerance (typo.c). Fill set->neighbour; register an exact
 * keyword (ignored unless 4+ ASCII letters); the rule a one-word text is a
 * typo of, or NULL. */
void sg__kw_typo_init(sg__kw_set *s);
int sg__kw_typo_add(sg__kw_set *s, const char *key, size_t len, uint32_t rule);
const kw_rule *sg__kw_typo(const sg__kw_set *s, const char *f, size_t fl);

#define KW_MARKED_MAX 32 /* letters of a marked keyword */
/* Marked keywords (marked.c): the lowercase letters of text with their
 * marks (0: none, too many, or combining marks); register one (0, an
 * SG_EKEYWORDS with err set, -ENOMEM); the rule text is, or NULL. */
size_t sg__kw_marks(const char *text, size_t len, uint32_t *out, size_t max);
int sg__kw_marked_add(sg__kw_set *s, const char *keyword, const char *folded, size_t fl, uint32_t rule,
		      char *err, size_t errlen);
const kw_rule *sg__kw_marked(const sg__kw_set *s, const char *text, size_t len, const char *f, size_t fl);

/* Slips in other scripts (slip.c): build s->dropped from the exact
 * keywords (0, -ENOMEM); the rule a text with a letter dropped, doubled or
 * held down stands for, or NULL. */
int sg__kw_slip_init(sg__kw_set *s);
const kw_rule *sg__kw_slip(const sg__kw_set *s, const char *f, size_t fl);

/* The intent model (model.c): load keywords/intent.model when there is one
 * (0, SG_EKEYWORDS with err set, -ENOMEM), hashing its bytes into digest;
 * call cb with every feature hash of folded text (returns how many); the
 * probabilities of none, opt_out, opt_in, help for folded text (false
 * without a model); the language it reads as (s->langs index); the intent
 * the probabilities give, when one reaches its threshold (a higher one in
 * a text without a trigger word; only an opt-in or help, at a higher one
 * still, where a guard matched); whether it answers such texts at all;
 * whether they overrule a rule's opt-out. */
typedef struct evp_md_ctx_st EVP_MD_CTX;
int sg__kw_model_load(sg__kw_set *s, const char *dir, EVP_MD_CTX *digest, char *err, size_t errlen);
void sg__kw_model_free(kw_model *m);
size_t sg__kw_features(const char *f, size_t fl, void (*cb)(uint32_t h, void *arg), void *arg);
bool sg__kw_model_probs(const sg__kw_set *s, const char *f, size_t fl, double p[4]);
size_t sg__kw_model_lang(const sg__kw_set *s, const char *f, size_t fl);
bool sg__kw_model_intent(const sg__kw_set *s, const double p[4], bool triggered, bool guarded, sg_intent *intent);
bool sg__kw_model_untriggered(const sg__kw_set *s);
bool sg__kw_model_guarded(const sg__kw_set *s);
bool sg__kw_model_may_veto(const sg__kw_set *s);
bool sg__kw_model_vetoes(const sg__kw_set *s, const double p[4]);

/* Tests only: with on == false every pattern runs on every text, which
 * shows when a rule's triggers miss a text its pattern matches. */
void sg__kw_set_prefilter(sg__kw_set *set, bool on);
/* Tests only: with on == false the intent model is not consulted. */
void sg__kw_set_model(sg__kw_set *set, bool on);
