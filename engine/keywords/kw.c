/* SPDX-License-Identifier: Apache-2.0 */
/* Loading a keyword set: every *.kw file of a directory (format in
 * keywords/README.md). Keywords are folded into hash tables, patterns are
 * compiled and JIT-ed once here and shared read-only by every thread. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "internal.h"
#include "keywords/kw_internal.h"

#define KW_FILE_MAX (1u << 20)

static __thread char last_error[512];

const char *sg__kw_last_error(void)
{
	return last_error;
}

typedef struct loader {
	sg__kw_set *set;
	kw_table ids;     /* rule ids seen so far */
	const char *path; /* file being read */
	unsigned line;
	bool commented;   /* the current paragraph has a '#' comment */
	bool marked;      /* the exact rule being parsed is a "marked" line */
	EVP_MD_CTX *digest; /* the set's version: over every file read */
	char *err;
	size_t errlen;
} loader;

static int fail(loader *ld, int rc, const char *fmt, ...)
{
	if (ld->err && ld->errlen) {
		char msg[256];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		const char *where = ld->path ? ld->path : "keywords";
		if (ld->line)
			snprintf(ld->err, ld->errlen, "%s:%u: %s", where, ld->line, msg);
		else
			snprintf(ld->err, ld->errlen, "%s: %s", where, msg);
	}
	return rc;
}

/* pcre2 codes, translated in one place. */
static int kw_err(int pcre2_rc)
{
	return pcre2_rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : SG_EKEYWORDS;
}

static char *token(char **p)
{
	char *s = *p + strspn(*p, " \t");
	if (!*s)
		return NULL;
	char *e = s + strcspn(s, " \t");
	if (*e)
		*e++ = '\0';
	*p = e;
	return s;
}

static char *rest(char *p)
{
	return p + strspn(p, " \t");
}

static const char *const intent_names[] = {"none", "opt_out", "opt_in", "help"};

static int parse_intent(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, intent_names[i]))
			return i;
	return -1;
}

/* Fold a trigger list into "word,stem*,..." form, or NULL when invalid. */
static char *norm_triggers(const char *list)
{
	size_t len = strlen(list);
	char *out = malloc(len * 3 / 2 + 2), *tok = malloc(len * 3 / 2 + 2);
	size_t o = 0;
	if (!out || !tok)
		goto bad;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		bool stem = n && p[n - 1] == '*';
		size_t f = sg__kw_fold(p, n - stem, tok);
		if (!f || memchr(p, '*', n - stem))
			goto bad;
		for (size_t i = 0; i < f; i++)
			if (kw_wordclass((unsigned char)tok[i]) != kw_wordclass((unsigned char)tok[0]))
				goto bad; /* one word per trigger (no separator, no mixed scripts) */
		if (stem && f < 3)
			goto bad;
		if (o)
			out[o++] = ',';
		memcpy(out + o, tok, f); /* out holds len + 1: a word never folds longer */
		o += f;
		if (stem)
			out[o++] = '*';
		out[o] = '\0';
		p += n + (p[n] == ',');
	}
	free(tok);
	tok = NULL; /* an empty list goes on to bad: */
	if (o)
		return out;
bad:
	free(out);
	free(tok);
	return NULL;
}

static int add_exact(loader *ld, kw_table *t, const char *key, size_t len, uint32_t idx)
{
	const kw_rule *r = &ld->set->rules[idx];
	uint32_t old;
	int rc = sg__kw_table_put(t, key, len, idx, &old);
	if (rc < 0)
		return rc;
	if (rc == 0 && ld->set->rules[old].intent != r->intent)
		return fail(ld, SG_EKEYWORDS, "keyword \"%.*s\" of rule %s is already %s (rule %s)",
			    (int)len, key, r->id, intent_names[ld->set->rules[old].intent],
			    ld->set->rules[old].id);
	return 0;
}

static int parse_rule(loader *ld, uint8_t lang, kw_kind kind, char *p)
{
	sg__kw_set *s = ld->set;
	char *intent_s = token(&p), *id = token(&p);
	char *trig = kind == KW_EXACT ? NULL : token(&p);
	char *text = rest(p);
	int intent = intent_s ? parse_intent(intent_s) : -1;
	if (!id || !*text || (kind != KW_EXACT && !trig))
		return fail(ld, SG_EKEYWORDS, "expected: %s", kind == KW_EXACT ?
			    "exact INTENT ID KEYWORD" : "KIND INTENT ID TRIGGERS PATTERN");
	if (intent < 0 || (kind == KW_GUARD) != (intent == SG_INTENT_NONE))
		return fail(ld, SG_EKEYWORDS, "rule %s: bad intent \"%s\" (guards: none; others: "
			    "opt_out, opt_in or help)", id, intent_s);
	size_t cl = strlen(s->langs[lang].code), il = strlen(id);
	if (il >= KW_ID_MAX || strncmp(id, s->langs[lang].code, cl) || id[cl] != '.' ||
	    !id[cl + 1] || strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789._-") != il)
		return fail(ld, SG_EKEYWORDS, "bad rule id \"%s\": [a-z0-9._-], starting with \"%s.\", "
			    "under %d bytes", id, s->langs[lang].code, KW_ID_MAX);
	if (!ld->commented)
		return fail(ld, SG_EKEYWORDS, "rule %s has no comment: put a '#' line above its "
			    "paragraph", id);
	int rc = sg__kw_table_put(&ld->ids, id, il, 0, NULL);
	if (rc <= 0)
		return rc < 0 ? rc : fail(ld, SG_EKEYWORDS, "duplicate rule id %s", id);
	if (s->nrules == s->rules_cap) {
		size_t cap = s->rules_cap ? s->rules_cap * 2 : 64;
		kw_rule *rules = realloc(s->rules, cap * sizeof(*rules));
		if (!rules)
			return -ENOMEM;
		s->rules = rules;
		s->rules_cap = cap;
	}
	uint32_t idx = (uint32_t)s->nrules;
	kw_rule *r = &s->rules[idx];
	*r = (kw_rule){.intent = (sg_intent)intent, .kind = kind, .lang = lang};
	memcpy(r->id, id, il + 1);
	s->nrules++;
	if (kind == KW_EXACT && ld->marked) { /* marked.c: only with its marks */
		size_t tl = strlen(text);
		char *f = malloc(tl * 3 / 2 + 1), msg[200];
		size_t fl = f ? sg__kw_fold(text, tl, f) : 0;
		rc = !f ? -ENOMEM : !fl ? fail(ld, SG_EKEYWORDS, "rule %s: empty keyword", id)
					: sg__kw_marked_add(s, text, f, fl, idx, msg, sizeof(msg));
		if (rc == SG_EKEYWORDS && fl)
			rc = fail(ld, rc, "%s", msg);
		free(f);
		return rc;
	}
	if (kind == KW_EXACT) {
		size_t tl = strlen(text);
		char *f = malloc(tl * 3 / 2 + 1), *q = malloc(tl * 3 / 2 + 1);
		size_t fl = f && q ? sg__kw_fold(text, tl, f) : 0, ql = fl ? sg__kw_squeeze(f, fl, q) : 0;
		rc = !f || !q ? -ENOMEM : !ql ? fail(ld, SG_EKEYWORDS, "rule %s: empty keyword", id) : 0;
		if (!rc)
			rc = add_exact(ld, &s->exact, f, fl, idx);
		if (!rc)
			rc = add_exact(ld, &s->squeezed, q, ql, idx);
		if (!rc && intent != SG_INTENT_NONE)
			rc = sg__kw_typo_add(s, f, fl, idx);
		if (!rc && intent != SG_INTENT_NONE)
			rc = sg__kw_typo_add(s, q, ql, idx);
		free(f);
		free(q);
		return rc;
	}
	if (s->npats == KW_MAX_PATTERNS)
		return fail(ld, SG_EKEYWORDS, "more than %d pattern rules", KW_MAX_PATTERNS);
	s->npats++;
	r->triggers = norm_triggers(trig);
	if (!r->triggers)
		return fail(ld, SG_EKEYWORDS, "rule %s: bad triggers \"%s\" (comma-separated words, "
			    "stems of 3+ letters end in *)", id, trig);
	int ec;
	PCRE2_SIZE off = sg__kw_unfolded(text, strlen(text));
	if (off != SIZE_MAX) {
		size_t n = 1;
		while (((unsigned char)text[off + n] & 0xC0) == 0x80)
			n++;
		return fail(ld, SG_EKEYWORDS, "rule %s: pattern has \"%.*s\" at offset %zu, which folded text never holds "
			    "(patterns match the folded text: write letters lowercase, without accents, as "
			    "keywords/README.md \"Folding\" says)", id, (int)n, text + off, (size_t)off);
	}
	/* Case-sensitive: the folded text has no capitals (fold.c), and caseless
	 * matching costs a case look-up at every character tried. */
	r->code = pcre2_compile((PCRE2_SPTR)text, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &ec,
				&off, NULL);
	if (!r->code) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		return fail(ld, kw_err(ec), "rule %s: pattern error at offset %zu: %s", id, (size_t)off,
			    (const char *)msg);
	}
	r->jit = pcre2_jit_compile(r->code, PCRE2_JIT_COMPLETE) == 0;
	return 0;
}

static int parse_line(loader *ld, uint8_t lang, char *p)
{
	static const char *const kinds[] = {"exact", "guard", "phrase", "probable"};
	kw_lang *l = &ld->set->langs[lang];
	char *word = token(&p);
	if (!word) {
		ld->commented = false; /* a blank line ends a paragraph */
		return 0;
	}
	if (word[0] == '#') {
		ld->commented = true;
		return 0;
	}
	ld->marked = !strcmp(word, "marked");
	if (ld->marked)
		return parse_rule(ld, lang, KW_EXACT, p);
	for (int k = 0; k < 4; k++)
		if (!strcmp(word, kinds[k]))
			return parse_rule(ld, lang, (kw_kind)k, p);
	bool polite = !strcmp(word, "polite"); /* words around a slipped keyword */
	if (polite || !strcmp(word, "real")) { /* real words that are never read as typos */
		char w[KW_TYPO_MAX * 3 + 2];
		for (char *t; (t = token(&p));) {
			size_t tl = strlen(t);
			if (tl > KW_TYPO_MAX * 2)
				return fail(ld, SG_EKEYWORDS, "%s: word \"%s\" too long", word, t);
			size_t wl = sg__kw_fold(t, tl, w);
			if (polite && memchr(w, ' ', wl))
				return fail(ld, SG_EKEYWORDS, "polite: \"%s\" is more than one word", t);
			int rc = wl ? sg__kw_table_put(polite ? &ld->set->polite : &ld->set->real, w, wl, 0, NULL)
				    : 0;
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (!strcmp(word, "program")) {
		if (l->program || !*rest(p))
			return fail(ld, SG_EKEYWORDS, "program: given twice or empty");
		return (l->program = strdup(rest(p))) ? 0 : -ENOMEM;
	}
	if (!strcmp(word, "reply")) {
		char *which = token(&p), *tpl = rest(p);
		int intent = which ? parse_intent(which) : -1;
		int slot = intent == SG_INTENT_HELP ? KW_REPLY_HELP : intent == SG_INTENT_OPT_OUT ?
			   KW_REPLY_OPT_OUT : intent == SG_INTENT_OPT_IN ? KW_REPLY_OPT_IN : -1;
		const char *why = sg__kw_template_check(tpl);
		if (slot < 0 || l->reply[slot] || why)
			return fail(ld, SG_EKEYWORDS, "reply %s: %s", which ? which : "",
				    slot < 0 ? "expected help, opt_out or opt_in" :
				    l->reply[slot] ? "given twice" : why);
		return (l->reply[slot] = strdup(tpl)) ? 0 : -ENOMEM;
	}
	return fail(ld, SG_EKEYWORDS, "unknown directive \"%s\"", word);
}

static int load_file(loader *ld, const char *dir, const char *name)
{
	sg__kw_set *s = ld->set;
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	ld->path = path;
	ld->line = 0;
	ld->commented = false;
	uint8_t lang = (uint8_t)s->nlangs++;
	sg__strlcpy(s->langs[lang].code, name, strlen(name) - 2); /* drop ".kw" */
	FILE *f = fopen(path, "rbe");
	if (!f)
		return fail(ld, -errno, "%s", strerror(errno));
	char *buf = malloc(KW_FILE_MAX + 1);
	size_t n = buf ? fread(buf, 1, KW_FILE_MAX + 1, f) : 0;
	int rc = !buf ? -ENOMEM : ferror(f) ? fail(ld, -EIO, "read error") :
		 n > KW_FILE_MAX ? fail(ld, SG_EKEYWORDS, "larger than %u bytes", KW_FILE_MAX) : 0;
	fclose(f);
	if (!rc && memchr(buf, '\0', n))
		rc = fail(ld, SG_EKEYWORDS, "NUL byte in file");
	if (!rc && (!EVP_DigestUpdate(ld->digest, name, strlen(name) + 1) || !EVP_DigestUpdate(ld->digest, buf, n)))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n;) {
		size_t e = i;
		while (e < n && buf[e] != '\n')
			e++;
		buf[e] = '\0';
		for (size_t t = e; t > i && strchr(" \t\r", buf[t - 1]); t--)
			buf[t - 1] = '\0'; /* trailing whitespace is not part of a pattern */
		ld->line++;
		rc = sg__utf8_count(buf + i, strlen(buf + i)) < 0 ? fail(ld, SG_EKEYWORDS, "invalid UTF-8")
								    : parse_line(ld, lang, buf + i);
		i = e + 1;
	}
	free(buf);
	if (!rc)
		ld->path = NULL; /* path is this frame's: a later message names no file */
	return rc;
}

/* Put pattern rules in match order and build the trigger tables. */
static int finalize(loader *ld)
{
	static const sg_intent order[] = {SG_INTENT_NONE, SG_INTENT_OPT_OUT, SG_INTENT_HELP,
					  SG_INTENT_OPT_IN};
	sg__kw_set *s = ld->set;
	size_t n = 0;
	for (kw_kind k = KW_GUARD; k <= KW_PROBABLE; k++) {
		for (size_t o = 0; o < SG_ARRAY_SIZE(order); o++)
			for (size_t i = 0; i < s->nrules; i++)
				if (s->rules[i].kind == k && s->rules[i].intent == order[o])
					s->pats[n++] = (uint32_t)i;
		if (k == KW_GUARD)
			s->nguards = n;
		else if (k == KW_PHRASE)
			s->nphrase = n;
	}
	s->nwords = (s->npats + 63) / 64;
	for (size_t i = 0; i < s->npats; i++) {
		for (char *p = s->rules[s->pats[i]].triggers; *p;) {
			size_t len = strcspn(p, ",");
			bool stem = p[len - 1] == '*';
			kw_table *t = !stem ? &s->trig_word : kw_wordclass((unsigned char)p[0]) == 2 ?
				      &s->trig_stem_wide : &s->trig_stem;
			uint32_t val = (uint32_t)s->nbits;
			unsigned pfx = kw_pfx(p, len - stem);
			s->trig_pfx[pfx / 64] |= 1ULL << (pfx % 64);
			int rc = sg__kw_table_put(t, p, len - stem, val, &val);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				if (s->nbits == s->bits_cap) { /* doubling: thousands of triggers */
					size_t cap = s->bits_cap ? s->bits_cap * 2 : 256;
					uint64_t *bits = realloc(s->bits, cap * s->nwords * sizeof(*bits));
					if (!bits)
						return -ENOMEM;
					s->bits = bits;
					s->bits_cap = cap;
				}
				memset(s->bits + s->nbits++ * s->nwords, 0, s->nwords * sizeof(*s->bits));
			}
			s->bits[val * s->nwords + i / 64] |= 1ULL << (i % 64);
			p += len + (p[len] == ',');
		}
	}
	sg__kw_typo_init(s);
	int rc = sg__kw_slip_init(s);
	if (rc < 0)
		return rc;
	for (size_t l = 0; l < s->nlangs; l++)
		if (!strcmp(s->langs[l].code, "en"))
			s->default_lang = (uint8_t)l;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	bool ex = !strcmp(x, "en.kw"), ey = !strcmp(y, "en.kw");
	return ex != ey ? ey - ex : strcmp(x, y); /* English first: it wins shared keywords */
}

int sg__kw_load(const char *dir, sg__kw_set **ret, char *err, size_t errlen)
{
	char own[sizeof(last_error)];
	if (!err || !errlen) { /* the reason is kept for sg__kw_last_error() anyway */
		err = own;
		errlen = sizeof(own);
	}
	loader ld = {.path = dir, .err = err, .errlen = errlen};
	char *names[KW_MAX_LANGS];
	size_t nn = 0;
	int rc = 0;
	if (err && errlen)
		err[0] = '\0';
	DIR *d = opendir(dir);
	if (!d)
		return fail(&ld, -errno, "%s", strerror(errno));
	for (struct dirent *de; !rc && (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (len < 4 || len > 10 || strcmp(de->d_name + len - 3, ".kw") ||
		    strspn(de->d_name, "abcdefghijklmnopqrstuvwxyz_-") != len - 3)
			continue; /* not a language file: "xx.kw", "xx-yy.kw" */
		if (nn == KW_MAX_LANGS)
			rc = fail(&ld, SG_EKEYWORDS, "more than %d language files", KW_MAX_LANGS);
		else if ((names[nn] = strdup(de->d_name)))
			nn++;
		else
			rc = -ENOMEM;
	}
	closedir(d);
	if (!rc && !nn)
		rc = fail(&ld, SG_EKEYWORDS, "no *.kw files");
	qsort(names, nn, sizeof(*names), by_name);
	ld.set = calloc(1, sizeof(*ld.set));
	ld.digest = EVP_MD_CTX_new();
	if (!rc && (!ld.set || !ld.digest || !EVP_DigestInit_ex(ld.digest, EVP_sha256(), NULL)))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < nn; i++)
		rc = load_file(&ld, dir, names[i]);
	ld.path = dir; /* load_file's path buffer is gone */
	ld.line = 0;
	if (!rc)
		rc = sg__kw_model_load(ld.set, dir, ld.digest, err, errlen);
	unsigned char md[EVP_MAX_MD_SIZE];
	if (!rc && !EVP_DigestFinal_ex(ld.digest, md, NULL))
		rc = -ENOMEM;
	if (!rc) {
		char hex[65];
		sg_hex32(md, hex);
		snprintf(ld.set->version, sizeof(ld.set->version), "kw-%.16s", hex);
	}
	EVP_MD_CTX_free(ld.digest);
	if (!rc)
		rc = finalize(&ld);
	if (!rc)
		rc = sg__kw_calib_load(ld.set, dir, err, errlen);
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	sg__kw_table_free(&ld.ids);
	if (rc == -ENOMEM && err && errlen && !err[0])
		fail(&ld, rc, "out of memory");
	if (rc) {
		if (err[0])
			sg__strlcpy(last_error, err, sizeof(last_error));
		else
			snprintf(last_error, sizeof(last_error), "%s: %s", dir, sg_strerror(rc));
		sg__kw_free(ld.set);
		return rc;
	}
	last_error[0] = '\0';
	*ret = ld.set;
	return 0;
}

const char *sg__kw_version(const sg__kw_set *set)
{
	return set ? set->version : "";
}

void sg__kw_free(sg__kw_set *set)
{
	if (!set)
		return;
	sg__kw_calib_free(set);
	sg__kw_model_free(set->model);
	for (size_t i = 0; i < set->nrules; i++) {
		pcre2_code_free(set->rules[i].code);
		free(set->rules[i].triggers);
		free(set->rules[i].marks);
	}
	free(set->rules);
	sg__kw_table_free(&set->exact);
	sg__kw_table_free(&set->squeezed);
	sg__kw_table_free(&set->trig_word);
	sg__kw_table_free(&set->trig_stem);
	sg__kw_table_free(&set->trig_stem_wide);
	sg__kw_table_free(&set->real);
	sg__kw_table_free(&set->dropped);
	sg__kw_table_free(&set->marked);
	sg__kw_table_free(&set->polite);
	free(set->hangul);
	free(set->typo);
	free(set->bits);
	for (size_t l = 0; l < set->nlangs; l++) {
		free(set->langs[l].program);
		for (int k = 0; k < KW_REPLY_N; k++)
			free(set->langs[l].reply[k]);
	}
	free(set);
}

void sg__kw_set_prefilter(sg__kw_set *set, bool on)
{
	set->no_prefilter = !on;
}

void sg__kw_set_model(sg__kw_set *set, bool on)
{
	set->no_model = !on;
}
