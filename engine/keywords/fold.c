/* SPDX-License-Identifier: Apache-2.0 */
/* Text folding: the one normalization applied both to keyword data at load
 * time and to every message before matching (rules in keywords/README.md):
 *  - NFKC-style compatibility mapping for what people actually type:
 *    full-width forms, mathematical and enclosed letters, super/subscript
 *    digits, curly apostrophes, dashes, ellipsis;
 *  - lowercase; accents stripped for Latin-1 and Latin Extended-A letters
 *    (ARRÊT = ARRET, ß -> ss, Æ -> ae); combining marks and zero-width
 *    characters dropped; the capitals of every other cased script people
 *    text in lowercased (Greek, Cyrillic, Armenian, ...: lower());
 *  - quotes, brackets, symbols, emoji and controls count as spaces, except
 *    the stop sign U+1F6D1, which is the word "stop";
 *  - leading and trailing separators dropped, and each run of separators
 *    between two words collapsed: no punctuation -> " "; a lone joiner
 *    (' - / & @, or . , : between digits) -> itself; else its first
 *    punctuation mark and a space ("stop!!!  now" -> "stop! now").
 * Every mapping is no longer than its input; only a lone mark that gains a
 * space ("a,b" -> "a, b") grows, so len + len / 2 + 1 bytes always suffice. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keywords/kw_internal.h"

enum { C_IGNORE, C_SPACE, C_PUNCT, C_WORD };

/* U+00C0..U+00FF; "" marks the two symbols (multiplication, division). */
static const char latin1[64][3] = {
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "ss",
	"a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
	"d", "n", "o", "o", "o", "o", "o", "", "o", "u", "u", "u", "u", "y", "th", "y",
};

/* U+0100..U+017F base letters; '1' = "ij", '2' = "oe". */
static const char latin_ext_a[] =
	"aaaaaa" "cccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "11" "jj" "kkk"
	"llllllllll" "nnnnnnnnn" "oooooo" "22" "rrrrrr" "ssssssss" "tttttt" "uuuuuuuuuuuu" "ww"
	"yyy" "zzzzzz" "s";
_Static_assert(sizeof(latin_ext_a) == 129, "one letter per code point U+0100..U+017F");

/* U+1EA0..U+1EF9, Vietnamese letters with two marks: their base letter,
 * like every other accented Latin letter ("hủy" = "huy", as most people
 * type it). "dừng" (stop) and "đúng" (right) both become "dung", so a bare
 * "dung" is no exact keyword (see vi.kw). */
static const char viet[] =
	"aaaaaaaaaaaaaaaaaaaaaaaa" "eeeeeeeeeeeeeeee" "iiii" "oooooooooooooooooooooooo"
	"uuuuuuuuuuuuuu" "yyyyyyyy";
_Static_assert(sizeof(viet) == 0x1EF9 - 0x1EA0 + 2, "one letter per code point U+1EA0..U+1EF9");

/* The lowercase of a capital of the other cased scripts (the pairs Unicode
 * gives them), or cp itself: Greek with tonos and final sigma, Cyrillic
 * beyond the Russian alphabet (Ukrainian Ґ, Kazakh, Tatar, ...), Armenian,
 * the regular pairs of Latin Extended-B and Extended Additional, Georgian
 * Mtavruli. With every capital people text in lowercased here, patterns
 * match the folded text case-sensitively (kw.c): caseless matching cost a
 * case table look-up at every character tried. */
static uint32_t lower(uint32_t cp)
{
	if (cp < 0x180)
		return cp;
	if (cp <= 0x24F) {
		if (cp >= 0x1C4 && cp <= 0x1CC) /* DŽ Dž dž, LJ Lj lj, NJ Nj nj */
			return cp + 2 - (cp - 0x1C4) % 3;
		if (cp == 0x1F1 || cp == 0x1F2)
			return 0x1F3;
		if (cp >= 0x1CD && cp <= 0x1DC)
			return cp & 1 ? cp + 1 : cp;
		if ((cp >= 0x1DE && cp <= 0x1EF) || (cp >= 0x1F8 && cp <= 0x21F) || (cp >= 0x222 && cp <= 0x233) ||
		    (cp >= 0x246 && cp <= 0x24F))
			return cp | 1;
		return cp;
	}
	if (cp >= 0x386 && cp <= 0x38F) { /* Ά Έ Ή Ί Ό Ύ Ώ */
		static const uint16_t tonos[10] = {0x3AC, 0x387, 0x3AD, 0x3AE, 0x3AF, 0x38B, 0x3CC, 0x38D, 0x3CD, 0x3CE};
		return tonos[cp - 0x386];
	}
	if (cp == 0x3C2)
		return 0x3C3; /* final sigma */
	if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) || (cp >= 0x4D0 && cp <= 0x52F))
		return cp | 1;
	if (cp == 0x4C0)
		return 0x4CF;
	if (cp >= 0x4C1 && cp <= 0x4CE)
		return cp & 1 ? cp + 1 : cp;
	if (cp >= 0x531 && cp <= 0x556)
		return cp + 0x30;
	if ((cp >= 0x1C90 && cp <= 0x1CBA) || (cp >= 0x1CBD && cp <= 0x1CBF))
		return cp - 0x1C90 + 0x10D0;
	if ((cp >= 0x1E00 && cp <= 0x1E95) || (cp >= 0x1EFA && cp <= 0x1EFF))
		return cp | 1;
	return cp;
}

static int ascii_class(unsigned c, char *rep)
{
	if (c >= 'A' && c <= 'Z') {
		*rep = (char)(c + 32);
		return C_WORD;
	}
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
		*rep = (char)c;
		return C_WORD;
	}
	switch (c) {
	case '!': case ',': case '-': case '.': case ':': case ';': case '?':
	case '\'': case '&': case '@': case '/':
		*rep = (char)c;
		return C_PUNCT;
	case '`':
		*rep = '\'';
		return C_PUNCT;
	default:
		return C_SPACE; /* whitespace, controls, quotes, brackets, other symbols */
	}
}

static int punct(char *rep, char mark)
{
	rep[0] = mark;
	return C_PUNCT;
}

static int letter(uint32_t base, uint32_t cp, char *rep, size_t *n)
{
	rep[0] = (char)('a' + (cp - base) % 26);
	*n = 1;
	return C_WORD;
}

/* Classify a non-ASCII code point. For C_WORD, n == 0 means "copy the
 * original bytes", else rep[0..n) replaces them; C_PUNCT puts its mark in
 * rep[0]. */
static int wide_class(uint32_t cp, char rep[4], size_t *n)
{
	*n = 0;
	if (cp <= 0xA0)
		return C_SPACE; /* C1 controls, NBSP */
	if (cp < 0xC0) {
		switch (cp) {
		case 0xAA: rep[0] = 'a'; *n = 1; return C_WORD;
		case 0xBA: rep[0] = 'o'; *n = 1; return C_WORD;
		case 0xB2: rep[0] = '2'; *n = 1; return C_WORD;
		case 0xB3: rep[0] = '3'; *n = 1; return C_WORD;
		case 0xB9: rep[0] = '1'; *n = 1; return C_WORD;
		case 0xB5: return C_WORD; /* micro sign: a letter */
		case 0xAD: return C_IGNORE; /* soft hyphen */
		case 0xB4: return punct(rep, '\''); /* acute accent typed as apostrophe */
		default: return C_SPACE; /* ¡ ¿ « » © ° ... */
		}
	}
	if (cp < 0x100) {
		const char *m = latin1[cp - 0xC0];
		if (!m[0])
			return C_SPACE;
		*n = strlen(m);
		memcpy(rep, m, *n);
		return C_WORD;
	}
	if (cp < 0x180) {
		char b = latin_ext_a[cp - 0x100];
		if (b == '1' || b == '2') {
			memcpy(rep, b == '1' ? "ij" : "oe", 2);
			*n = 2;
		} else {
			rep[0] = b;
			*n = 1;
		}
		return C_WORD;
	}
	if (cp >= 0x218 && cp <= 0x21B) { /* Romanian s/t with comma below */
		rep[0] = cp < 0x21A ? 's' : 't';
		*n = 1;
		return C_WORD;
	}
	if (cp == 0x2BC || cp == 0x2B9)
		return punct(rep, '\'');
	if ((cp >= 0x300 && cp <= 0x36F) || cp == 0x34F)
		return C_IGNORE; /* combining marks */
	if ((cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) || (cp >= 0x410 && cp <= 0x42F)) {
		cp += 0x20; /* Greek and Cyrillic capitals: same UTF-8 length */
		goto encode2;
	}
	if (cp == 0x401 || cp == 0x451) { /* Ё ё are written е as often as not */
		cp = 0x435;
		goto encode2;
	}
	if (cp >= 0x400 && cp <= 0x40F) {
		cp += 0x50;
		goto encode2;
	}
	if (cp == 0x1A0 || cp == 0x1A1 || cp == 0x1AF || cp == 0x1B0) { /* Vietnamese ơ ư */
		rep[0] = cp < 0x1AF ? 'o' : 'u';
		*n = 1;
		return C_WORD;
	}
	uint32_t lo = lower(cp);
	if (lo != cp) {
		cp = lo;
		if (cp < 0x800)
			goto encode2;
		goto encode3;
	}
	switch (cp) { /* punctuation of other scripts: Arabic comma, semicolon, question
		       mark and full stop (also Urdu, Persian); the danda of Devanagari,
		       Bengali, Gurmukhi and Gujarati */
	case 0x60C: return punct(rep, ',');
	case 0x61B: return punct(rep, ';');
	case 0x61F: return punct(rep, '?');
	case 0x6D4: case 0x964: case 0x965: return punct(rep, '.');
	default: break;
	}
	if (cp >= 0x622 && cp <= 0x6CC) { /* Arabic script: one spelling of each letter */
		if (cp == 0x640 || (cp >= 0x64B && cp <= 0x652) || cp == 0x670)
			return C_IGNORE; /* tatweel, short vowels and other marks */
		if (cp == 0x622 || cp == 0x623 || cp == 0x625)
			cp = 0x627; /* alef with hamza or madda: alef */
		else if (cp == 0x64A || cp == 0x649)
			cp = 0x6CC; /* Arabic yeh, alef maqsura: Persian yeh */
		else if (cp == 0x643)
			cp = 0x6A9; /* Arabic kaf: keheh */
		goto encode2;
	}
	if (cp < 0x1680)
		return C_WORD;
	if (cp == 0x1680 || cp == 0x180E)
		return cp == 0x180E ? C_IGNORE : C_SPACE;
	if ((cp >= 0x1AB0 && cp <= 0x1AFF) || (cp >= 0x1DC0 && cp <= 0x1DFF))
		return C_IGNORE;
	if (cp == 0x1E9E) { /* capital sharp s */
		memcpy(rep, "ss", 2);
		*n = 2;
		return C_WORD;
	}
	if (cp >= 0x1EA0 && cp <= 0x1EF9) {
		rep[0] = viet[cp - 0x1EA0];
		*n = 1;
		return C_WORD;
	}
	if (cp < 0x2000)
		return C_WORD;
	if (cp <= 0x206F) { /* general punctuation */
		if (cp <= 0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F)
			return C_SPACE;
		if (cp <= 0x200F || (cp >= 0x202A && cp <= 0x202E) || cp >= 0x2060)
			return C_IGNORE; /* zero-width, bidi controls, invisible operators */
		if (cp <= 0x2015)
			return punct(rep, '-');
		if (cp == 0x2018 || cp == 0x2019 || cp == 0x201B || cp == 0x2032)
			return punct(rep, '\'');
		if (cp == 0x2026)
			return punct(rep, '.');
		return C_SPACE;
	}
	if (cp == 0x2070 || (cp >= 0x2074 && cp <= 0x2079) || (cp >= 0x2080 && cp <= 0x2089)) {
		rep[0] = (char)('0' + (cp == 0x2070 ? 0 : (cp & 0xF)));
		*n = 1;
		return C_WORD;
	}
	if (cp >= 0x20D0 && cp <= 0x20FF)
		return C_IGNORE;
	if (cp == 0x2212)
		return punct(rep, '-');
	if (cp >= 0x249C && cp <= 0x24B5)
		return letter(0x249C, cp, rep, n); /* parenthesized */
	if (cp >= 0x24B6 && cp <= 0x24E9)
		return letter(0x24B6, cp, rep, n); /* circled */
	if (cp <= 0x2BFF || (cp >= 0x2E00 && cp <= 0x2E7F))
		return C_SPACE; /* symbols, arrows, dingbats, supplemental punctuation */
	if (cp >= 0x3000 && cp <= 0x303F) {
		if (cp == 0x3001)
			return punct(rep, ',');
		if (cp == 0x3002)
			return punct(rep, '.');
		return C_SPACE;
	}
	if (cp >= 0xE000 && cp <= 0xF8FF)
		return C_SPACE; /* private use */
	if (cp >= 0xFE00 && cp <= 0xFE0F)
		return C_IGNORE; /* variation selectors */
	if (cp >= 0xFE20 && cp <= 0xFE2F)
		return C_IGNORE;
	if ((cp >= 0xFE10 && cp <= 0xFE1F) || (cp >= 0xFE30 && cp <= 0xFE6F))
		return C_SPACE;
	if (cp == 0xFEFF)
		return C_IGNORE;
	if (cp >= 0xFF01 && cp <= 0xFF5E) { /* full-width ASCII */
		int cls = ascii_class(cp - 0xFEE0, rep);
		if (cls == C_WORD)
			*n = 1;
		return cls;
	}
	if (cp == 0xFF61 || cp == 0xFF64)
		return punct(rep, cp == 0xFF61 ? '.' : ',');
	if ((cp >= 0xFF5F && cp <= 0xFF65) || (cp >= 0xFFF0 && cp <= 0xFFFF))
		return C_SPACE;
	if (cp >= 0x1D400 && cp <= 0x1D6A3) { /* mathematical alphanumerics: 13 alphabets */
		uint32_t k = (cp - 0x1D400) % 52;
		rep[0] = (char)(k < 26 ? 'a' + k : 'a' + k - 26);
		*n = 1;
		return C_WORD;
	}
	if (cp >= 0x1D7CE && cp <= 0x1D7FF) {
		rep[0] = (char)('0' + (cp - 0x1D7CE) % 10);
		*n = 1;
		return C_WORD;
	}
	if (cp >= 0x1F130 && cp <= 0x1F189 && (cp - 0x1F130) % 32 < 26)
		return letter(0x1F130, cp - (cp - 0x1F130) / 32 * 32, rep, n); /* squared, negative */
	if (cp == 0x1F6D1) { /* the octagonal sign: a reply of stop signs means STOP */
		memcpy(rep, "stop", 4);
		*n = 4;
		return C_WORD;
	}
	if (cp >= 0x1F000 && cp <= 0x1FBFF)
		return C_SPACE; /* emoji and pictographs */
	if (cp >= 0xE0000 && cp <= 0xE0FFF)
		return C_IGNORE; /* tags, variation selectors supplement */
	return C_WORD;
encode2:
	rep[0] = (char)(0xC0 | (cp >> 6));
	rep[1] = (char)(0x80 | (cp & 0x3F));
	*n = 2;
	return C_WORD;
encode3:
	rep[0] = (char)(0xE0 | (cp >> 12));
	rep[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
	rep[2] = (char)(0x80 | (cp & 0x3F));
	*n = 3;
	return C_WORD;
}

/* Decode one code point at s[i] (bounds-checked; an invalid byte decodes
 * as U+FFFD of length 1). */
static uint32_t decode(const unsigned char *s, size_t len, size_t i, size_t *n)
{
	unsigned c = s[i];
	size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (c >= 0x80 && c < 0xC0)
		need = 0;
	if (need == 0 || i + need > len) {
		*n = 1;
		return 0xFFFD;
	}
	uint32_t cp = need == 1 ? c : need == 2 ? c & 0x1F : need == 3 ? c & 0x0F : c & 0x07;
	for (size_t k = 1; k < need; k++) {
		if ((s[i + k] & 0xC0) != 0x80) {
			*n = 1;
			return 0xFFFD;
		}
		cp = cp << 6 | (s[i + k] & 0x3F);
	}
	*n = need;
	return cp;
}

static bool isdigit_c(char c)
{
	return c >= '0' && c <= '9';
}

size_t sg__kw_fold(const char *in, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0, run = 0; /* run: separators seen since the last word byte */
	char mark = 0;                 /* first punctuation mark of the run */
	while (i < len) {
		char rep[4];
		size_t n, cn;
		int cls;
		unsigned c = s[i];
		if ((c - 'a' < 26u || c - '0' < 10u || c - 'A' < 26u) && (!run || !o)) {
			/* fast path: a run of ASCII letters and digits, no separator pending */
			do {
				out[o++] = (char)(c - 'A' < 26u ? c + 32 : c);
				c = ++i < len ? s[i] : 0;
			} while (c - 'a' < 26u || c - '0' < 10u || c - 'A' < 26u);
			run = 0;
			mark = 0;
			continue;
		}
		if (c == ' ') { /* the usual separator */
			run++;
			i++;
			continue;
		}
		if (c < 0x80) {
			cls = ascii_class(s[i], rep);
			n = 1;
			cn = 1;
		} else {
			uint32_t cp = decode(s, len, i, &cn);
			cls = wide_class(cp, rep, &n);
		}
		if (cls != C_WORD) {
			if (cls != C_IGNORE) {
				run++;
				if (cls == C_PUNCT && !mark)
					mark = rep[0];
			}
			i += cn;
			continue;
		}
		if (run && o) {
			char first = n ? rep[0] : (char)s[i];
			if (!mark) {
				out[o++] = ' ';
			} else if (run == 1 && (strchr("'-/&@", mark) ||
					       (strchr(".,:", mark) && isdigit_c(out[o - 1]) &&
						isdigit_c(first)))) {
				out[o++] = mark;
			} else {
				out[o++] = mark;
				out[o++] = ' ';
			}
		}
		run = 0;
		mark = 0;
		if (n) {
			memcpy(out + o, rep, n);
			o += n;
		} else {
			memcpy(out + o, s + i, cn);
			o += cn;
		}
		i += cn;
	}
	out[o] = '\0';
	return o;
}

size_t sg__kw_squeeze(const char *folded, size_t len, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++)
		if (kw_wordbyte((unsigned char)folded[i]))
			out[o++] = folded[i];
	out[o] = '\0';
	return o;
}

/* Skip a pattern's escape at p[i] == '\\': its letter, and a {...} or <...>
 * name or code after it (\\p{Han}, \\x{1F6D1}, \\k<name>). */
static size_t skip_escape(const char *p, size_t len, size_t i)
{
	i += 2;
	if (i < len && (p[i] == '{' || p[i] == '<' || p[i] == '\'')) {
		char close = p[i] == '{' ? '}' : p[i] == '<' ? '>' : '\'';
		while (i < len && p[i] != close)
			i++;
		i += i < len;
	}
	return i;
}

size_t sg__kw_unfolded(const char *p, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\\') {
			i = skip_escape(p, len, i);
		} else if (c == '(' && i + 2 < len && (p[i + 1] == '*' || (p[i + 1] == '?' && p[i + 2] == '#'))) {
			while (i < len && p[i] != ')')
				i++; /* a verb and its name, (*MARK:all), or a comment, (?#...) */
		} else if (c == '(' && i + 2 < len && p[i + 1] == '?' &&
			   (p[i + 2] == 'P' || p[i + 2] == '\'' ||
			    (p[i + 2] == '<' && i + 3 < len && p[i + 3] != '=' && p[i + 3] != '!'))) {
			i += 3; /* a group's name: (?<name>, (?P<name>, (?P=name), (?'name' */
			while (i < len && p[i] != '>' && p[i] != '\'' && p[i] != ')')
				i++;
		} else if (c == '(' && i + 2 < len && p[i + 1] == '?' &&
			   ((p[i + 2] >= 'A' && p[i + 2] <= 'Z') || (p[i + 2] >= 'a' && p[i + 2] <= 'z') ||
			    p[i + 2] == '^' || p[i + 2] == '-')) {
			i += 2; /* options: (?i), (?-U:...) */
			while (i < len && p[i] != ')' && p[i] != ':')
				i++;
		} else if (c == '[' && i + 1 < len && p[i + 1] == ':') { /* [:alpha:] */
			while (i < len && !(p[i] == ']' && p[i - 1] == ':'))
				i++;
			i++;
		} else if (c >= 'A' && c <= 'Z') {
			return i;
		} else if (c < 0x80) {
			i++;
		} else {
			size_t n;
			(void)decode((const unsigned char *)p, len, i, &n);
			char f[16];
			/* between two letters, so that folding keeps a mark in place */
			char w[8] = "a";
			memcpy(w + 1, p + i, n);
			w[n + 1] = 'a';
			size_t fl = sg__kw_fold(w, n + 2, f);
			if (fl != n + 2 || memcmp(f, w, n + 2))
				return i;
			i += n;
		}
	}
	return SIZE_MAX;
}
