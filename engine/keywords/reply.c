/* SPDX-License-Identifier: Apache-2.0 */
/* Reply texts. The campaign's own message for the intent wins; otherwise a
 * template of the keyword's language (keywords/xx.kw "reply" lines), else
 * of the default language, else the built-in English one below, filled
 * with the program name, help contact and message frequency.
 * Template syntax: {brand} {contact} {frequency} are replaced; [A] is kept
 * only when every placeholder in A has a value; [A|B] is A when it can be
 * kept, else B (under the same rule). */
#include <stdbool.h>
#include <string.h>

#include "keywords/kw_internal.h"

/* CTIA content (compliance.md section 4): HELP names the program, the
 * frequency, rates, how to get help and how to opt out; the opt-out
 * confirmation names the program and says no more messages will come, with
 * no marketing; the opt-in confirmation adds rates, HELP and STOP. */
static const char *const builtin[KW_REPLY_N] = {
	[KW_REPLY_HELP] = "{brand}: [{frequency}. |Msg frequency varies. ]Msg&data rates may apply. "
			  "[Help: {contact}. ]Reply STOP to opt out.",
	[KW_REPLY_OPT_OUT] = "{brand}: You are unsubscribed and will receive no more messages."
			     "[ Help: {contact}.]",
	[KW_REPLY_OPT_IN] = "{brand}: You are subscribed. [{frequency}. |Msg frequency varies. ]"
			    "Msg&data rates may apply. Reply HELP for help, STOP to opt out.",
};

typedef struct val {
	const char *s;
	size_t n;
} val;

typedef struct vars {
	val brand, contact, frequency;
} vars;

typedef struct rbuf {
	char *p;
	size_t n, cap; /* cap includes the NUL */
	bool full;     /* a piece was cut: append nothing more */
} rbuf;

/* Append, never splitting a UTF-8 sequence when the buffer fills. */
static void put(rbuf *b, const char *s, size_t n)
{
	size_t room = b->cap - 1 - b->n;
	if (b->full)
		return;
	if (n > room) {
		n = room;
		while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		b->full = true;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static val trimmed(const char *s)
{
	val v = {s ? s : "", s ? strlen(s) : 0};
	while (v.n && strchr(" \t\r\n.", v.s[v.n - 1]))
		v.n--;
	while (v.n && strchr(" \t\r\n", v.s[0]))
		v.s++, v.n--;
	return v;
}

static const val *var(const vars *v, const char *name, size_t n)
{
	if (n == 5 && !memcmp(name, "brand", 5))
		return &v->brand;
	if (n == 7 && !memcmp(name, "contact", 7))
		return &v->contact;
	if (n == 9 && !memcmp(name, "frequency", 9))
		return &v->frequency;
	return NULL;
}

/* Emit [s, e) with placeholders replaced; with only_check, just tell
 * whether every placeholder has a value. */
static bool emit(rbuf *b, const char *s, const char *e, const vars *v, bool only_check)
{
	while (s < e) {
		const char *open = memchr(s, '{', (size_t)(e - s));
		const char *lit_end = open ? open : e;
		if (!only_check)
			put(b, s, (size_t)(lit_end - s));
		if (!open)
			break;
		const char *close = memchr(open, '}', (size_t)(e - open));
		const val *x = close ? var(v, open + 1, (size_t)(close - open - 1)) : NULL;
		if (!x || !x->n) {
			if (only_check)
				return false;
		} else if (!only_check) {
			put(b, x->s, x->n);
		}
		s = close ? close + 1 : e;
	}
	return true;
}

static void render(rbuf *b, const char *t, const vars *v)
{
	while (*t) {
		const char *open = strchr(t, '[');
		const char *end = open ? open : t + strlen(t);
		emit(b, t, end, v, false);
		if (!open)
			return;
		const char *close = strchr(open, ']');
		if (!close)
			return; /* sg__kw_template_check rejects this at load */
		const char *bar = memchr(open, '|', (size_t)(close - open));
		const char *a_end = bar ? bar : close;
		if (emit(b, open + 1, a_end, v, true))
			emit(b, open + 1, a_end, v, false);
		else if (bar && emit(b, bar + 1, close, v, true))
			emit(b, bar + 1, close, v, false);
		t = close + 1;
	}
}

const char *sg__kw_template_check(const char *t)
{
	bool in_opt = false, bar = false;
	if (!*t)
		return "empty template";
	for (; *t; t++) {
		if (*t == '{') {
			const char *close = strchr(t, '}');
			const vars none = {{"", 0}, {"", 0}, {"", 0}};
			if (!close || !var(&none, t + 1, (size_t)(close - t - 1)))
				return "unknown placeholder (use {brand}, {contact}, {frequency})";
			t = close;
		} else if (*t == '}') {
			return "stray '}'";
		} else if (*t == '[') {
			if (in_opt)
				return "nested '['";
			in_opt = true;
			bar = false;
		} else if (*t == ']') {
			if (!in_opt)
				return "stray ']'";
			in_opt = false;
		} else if (*t == '|' && in_opt) {
			if (bar)
				return "more than one '|' in [...]";
			bar = true;
		}
	}
	return in_opt ? "unclosed '['" : NULL;
}

void sg__kw_reply(const sg__kw_set *set, size_t lang, sg_intent intent, const sg__campaign *c,
		  char *out, size_t outlen)
{
	static const int slot_of[] = {-1, KW_REPLY_OPT_OUT, KW_REPLY_OPT_IN, KW_REPLY_HELP};
	rbuf b = {out, 0, outlen, false};
	if (!outlen)
		return;
	out[0] = '\0';
	if ((unsigned)intent >= 4 || slot_of[intent] < 0)
		return;
	int slot = slot_of[intent];
	const char *own = !c ? NULL : intent == SG_INTENT_OPT_OUT ? c->optout_message :
			  intent == SG_INTENT_OPT_IN ? c->optin_message : c->help_message;
	val msg = trimmed(own);
	if (msg.n) {
		put(&b, own, strlen(own)); /* the registered text, verbatim */
		return;
	}
	const kw_lang *l = lang < set->nlangs && set->langs[lang].reply[slot] ? &set->langs[lang] :
			   set->langs[set->default_lang].reply[slot] ? &set->langs[set->default_lang] :
			   NULL;
	vars v = {
		.brand = trimmed(c && c->brand_name[0] ? c->brand_name :
				 l && l->program ? l->program : "This program"),
		.contact = trimmed(c ? c->help_contact : NULL),
		.frequency = trimmed(c ? c->message_frequency : NULL),
	};
	render(&b, l ? l->reply[slot] : builtin[slot], &v);
}
