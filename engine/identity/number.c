/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical keys for phone numbers, short codes and alphanumeric sender IDs
 * (webhooks.md section 9). One function for inbound webhooks and the
 * pre-send check, so both sides produce the same key for one handset.
 *
 * Pipeline of sg_number_normalize():
 *   0. fast path: "+<digits>" in ASCII goes straight to step 6
 *   1. decode UTF-8 and fold to ASCII: full-width forms, Unicode spaces,
 *      dashes and a few decimal-digit scripts; format characters deleted;
 *      anything else non-ASCII, and control characters, are errors
 *   2. canonical keys as input ("sc:US:72345", "aid:mybrand") are checked
 *      and returned as they are, so normalization is idempotent
 *   3. strip a channel scheme (tel:, sms:, whatsapp:, rcs:)
 *   4. drop a trailing extension (ext, ext., x, #, ;ext=)
 *   5. letters: sender ID (address fields), keypad vanity letters
 *      (number fields, digits first) or an error
 *   6. digits: E.164 with '+', else national rules of the default country
 *
 * Length checks are "possible length" checks on the national significant
 * number (NSN) for the markets in the table below, and the general E.164
 * rule (7..15 digits) elsewhere; no range validity (range metadata ages).
 * The lengths cover mobile and geographic numbers, which is what SMS
 * reaches; they are kept tight because rule 7 (retry an impossible national
 * number of 11+ digits as international) depends on it.
 *
 * No allocation, no mutable static state: thread-safe.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Longest input looked at; longer input is not a number (caps the work). */
#define NUM_INPUT_MAX 256
/* Longest sender ID (GSM allows 11; some providers pass longer ones). */
#define AID_MAX 64
/* Most digits a dialled number can have: a 4-digit international prefix
 * (or "00" and a 2-digit Brazilian carrier code) plus 15 E.164 digits. */
#define DIGITS_MAX 20

enum {
	F_TRUNK0 = 1 << 0,    /* national format adds a trunk prefix "0"; an NSN never starts with 0 */
	F_ZERO_OK = 1 << 1,   /* the NSN itself may start with 0 (Italy) */
	F_NANP = 1 << 2,      /* North American Numbering Plan: area code starts with 2-9 */
	F_MX_MOBILE1 = 1 << 3, /* "+52 1" + 10 digits is the pre-2019 mobile form of "+52" + 10 */
	F_CARRIER2 = 1 << 4,  /* a 2-digit carrier code follows the IDD and the trunk prefix (Brazil) */
};

struct country {
	char iso[3];
	char cc[4];       /* country calling code, digits */
	char idd[5];      /* international dialling prefix */
	uint8_t nsn_min;  /* possible NSN lengths */
	uint8_t nsn_max;
	uint8_t bare_max; /* longest NSN accepted when written without a leading 0; 0: nsn_max */
	uint8_t flags;
};

/*
 * Served markets, one row per calling code (what sg_number_country()
 * reports). Calling codes are a prefix code (no code is the prefix of
 * another), so matching them against the start of an international number
 * is unambiguous.
 *
 * bare_max: in countries whose national numbers of 11+ digits are always
 * written with a leading 0 (trunk prefix, or an Italian landline), 11+ bare
 * digits are an international number that lost its '+' (providers send
 * E.164 without '+'), so rule 7 applies to them.
 */
static const struct country countries[] = {
	{ "US", "1", "011", 10, 10, 0, F_NANP },
	{ "GB", "44", "00", 9, 10, 0, F_TRUNK0 },
	{ "FR", "33", "00", 9, 9, 0, F_TRUNK0 },
	{ "DE", "49", "00", 5, 13, 10, F_TRUNK0 },
	{ "ES", "34", "00", 9, 9, 0, 0 },
	{ "IT", "39", "00", 6, 11, 10, F_ZERO_OK },
	{ "PT", "351", "00", 9, 9, 0, 0 },
	{ "MX", "52", "00", 10, 10, 0, F_MX_MOBILE1 },
	{ "BR", "55", "00", 10, 11, 0, F_TRUNK0 | F_CARRIER2 },
	{ "AU", "61", "0011", 9, 10, 0, F_TRUNK0 },
	{ "IN", "91", "00", 10, 10, 0, F_TRUNK0 },
	{ "RW", "250", "00", 9, 9, 0, F_TRUNK0 },
	{ "KE", "254", "000", 7, 10, 0, F_TRUNK0 },
	{ "IE", "353", "00", 7, 10, 0, F_TRUNK0 },
	{ "NL", "31", "00", 9, 9, 0, F_TRUNK0 },
	{ "BE", "32", "00", 8, 9, 0, F_TRUNK0 },
	{ "CH", "41", "00", 9, 9, 0, F_TRUNK0 },
	{ "AT", "43", "00", 5, 13, 10, F_TRUNK0 },
};

/* Countries that share a calling code and its plan with a row above. */
static const struct {
	char iso[3];
	char as[3];
} aliases[] = {
	/* Crown dependencies: the GB plan. */
	{ "GG", "GB" }, { "JE", "GB" }, { "IM", "GB" },
	/* The other NANP members. */
	{ "CA", "US" }, { "PR", "US" }, { "VI", "US" }, { "GU", "US" }, { "AS", "US" },
	{ "MP", "US" }, { "AG", "US" }, { "AI", "US" }, { "BB", "US" }, { "BM", "US" },
	{ "BS", "US" }, { "DM", "US" }, { "DO", "US" }, { "GD", "US" }, { "JM", "US" },
	{ "KN", "US" }, { "KY", "US" }, { "LC", "US" }, { "MS", "US" }, { "SX", "US" },
	{ "TC", "US" }, { "TT", "US" }, { "VC", "US" }, { "VG", "US" },
};

/* ---- small character helpers (locale-free) ----------------------------- */

static inline bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline int to_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

static inline int to_upper(int c)
{
	return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

/* Does s[0..n) start with the lowercase ASCII prefix p, ignoring case? */
static bool has_prefix_ci(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++)
		if (to_lower((unsigned char)s[i]) != p[i])
			return false;
	return true;
}

/* Does s[0..n) end with the lowercase ASCII suffix p, ignoring case? */
static bool has_suffix_ci(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);
	if (n < k)
		return false;
	return has_prefix_ci(s + n - k, k, p);
}

/* ---- countries --------------------------------------------------------- */

static const struct country *country_by_iso(const char cc[2])
{
	for (size_t i = 0; i < SG_ARRAY_SIZE(aliases); i++) {
		if (aliases[i].iso[0] == cc[0] && aliases[i].iso[1] == cc[1]) {
			cc = aliases[i].as;
			break;
		}
	}
	for (size_t i = 0; i < SG_ARRAY_SIZE(countries); i++)
		if (countries[i].iso[0] == cc[0] && countries[i].iso[1] == cc[1])
			return &countries[i];
	return NULL;
}

/* The table row whose calling code starts the digits d[0..n), or NULL. */
static const struct country *country_by_digits(const char *d, size_t n)
{
	for (size_t i = 0; i < SG_ARRAY_SIZE(countries); i++) {
		size_t k = strlen(countries[i].cc);
		if (k <= n && memcmp(d, countries[i].cc, k) == 0)
			return &countries[i];
	}
	return NULL;
}

/* The default country as the normalizer sees it. */
struct dflt {
	bool given;                /* a valid ISO code was passed */
	char iso[3];               /* uppercase */
	const struct country *c;   /* its table row, NULL when not a served market */
};

/* NULL and "" mean none; otherwise exactly two ASCII letters. */
static int parse_country(const char *s, struct dflt *d)
{
	memset(d, 0, sizeof(*d));
	if (!s || !s[0])
		return 0;
	if (!is_alpha((unsigned char)s[0]) || !is_alpha((unsigned char)s[1]) || s[2] != '\0')
		return -EINVAL;
	d->given = true;
	d->iso[0] = (char)to_upper((unsigned char)s[0]);
	d->iso[1] = (char)to_upper((unsigned char)s[1]);
	d->iso[2] = '\0';
	d->c = country_by_iso(d->iso);
	return 0;
}

/* ---- UTF-8 decoding and folding ---------------------------------------- */

/* Decode one code point from s[0..n), n >= 1. Returns its length in bytes
 * or -1 for invalid UTF-8 (overlong, surrogate, > U+10FFFF, truncated). */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t v = sg__utf8_decode(s, n, &len);
	if (!len)
		return -1;
	*cp = v;
	return (int)len;
}

#define FOLD_DROP 0   /* delete the character */
#define FOLD_BAD (-1) /* not allowed in a number or sender ID */

/* Format characters (Unicode Cf and the soft hyphen): invisible, deleted
 * wherever they appear (bidi marks from copy-paste, BOMs, ZWSP). */
static bool is_format(uint32_t cp)
{
	return cp == 0x00AD || (cp >= 0x0600 && cp <= 0x0605) || cp == 0x061C || cp == 0x06DD ||
	       cp == 0x070F || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF ||
	       (cp >= 0xFFF9 && cp <= 0xFFFB) || cp == 0xE0001 || (cp >= 0xE0020 && cp <= 0xE007F);
}

/*
 * Map one code point to the ASCII character the rest of the pipeline sees.
 * A targeted subset of NFKC: full-width ASCII (U+FF01..U+FF5E, including
 * U+FF0B '+'), small form variants, Unicode spaces; plus dashes to '-' and
 * the decimal digits of the Arabic-Indic, Extended Arabic-Indic and
 * Devanagari scripts to ASCII digits (as phone-number parsers do).
 * ASCII control characters other than whitespace are FOLD_BAD.
 */
static int fold(uint32_t cp)
{
	if (cp < 0x80) {
		if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f')
			return ' ';
		if (cp < 0x20 || cp == 0x7F)
			return FOLD_BAD;
		return (int)cp;
	}
	if (cp >= 0xFF01 && cp <= 0xFF5E)
		return (int)(cp - 0xFF01 + 0x21);
	if (is_format(cp))
		return FOLD_DROP;
	if (cp == 0x00A0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000)
		return ' ';
	if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xFE58 || cp == 0xFE63)
		return '-';
	if (cp >= 0x0660 && cp <= 0x0669)
		return (int)('0' + (cp - 0x0660));
	if (cp >= 0x06F0 && cp <= 0x06F9)
		return (int)('0' + (cp - 0x06F0));
	if (cp >= 0x0966 && cp <= 0x096F)
		return (int)('0' + (cp - 0x0966));
	if (cp >= 0xFE50 && cp <= 0xFE6B) {
		/* small form variants that NFKC maps to ASCII; 0 = none */
		static const char small[] = {
			',', 0, '.', 0, ';', ':', '?', '!', 0, '(', ')', '{', '}', 0,
			0, '#', '&', '*', '+', 0, '<', '>', '=', 0, '\\', '$', '%', '@',
		};
		char c = small[cp - 0xFE50];
		return c ? c : FOLD_BAD;
	}
	return FOLD_BAD;
}

/* ---- building keys ----------------------------------------------------- */

/* A key under construction; copied to the caller's buffer only on success. */
struct key {
	char s[SG_KEY_MAX];
	size_t n;
};

static void key_put(struct key *k, const char *s, size_t n)
{
	sg__require(k->n + n < sizeof(k->s));
	memcpy(k->s + k->n, s, n);
	k->n += n;
	k->s[k->n] = '\0';
}

static void key_puts(struct key *k, const char *s)
{
	key_put(k, s, strlen(s));
}

/* Is the NSN n[0..len) a possible number of country c? bare: written without
 * a leading 0 in national format (the bare_max limit applies). */
static bool nsn_possible(const struct country *c, const char *n, size_t len, bool bare)
{
	size_t max = c->nsn_max;
	if (bare && c->bare_max && c->bare_max < max)
		max = c->bare_max;
	if (len < c->nsn_min || len > max)
		return false;
	if (n[0] == '0' && !(c->flags & F_ZERO_OK))
		return false;
	if ((c->flags & F_NANP) && n[0] < '2')
		return false; /* NANP area codes start with 2-9 */
	return true;
}

/* "+" CC NSN, checking the E.164 total of 7..15 digits. */
static int put_e164(struct key *k, const char *cc, const char *nsn, size_t len)
{
	size_t total = strlen(cc) + len;
	if (total < 7 || total > 15)
		return SG_ENUMBER;
	k->n = 0;
	key_puts(k, "+");
	key_puts(k, cc);
	key_put(k, nsn, len);
	return 0;
}

/*
 * An international number: digits after '+' or after an international
 * prefix. For a served market the NSN must have a possible length; a
 * national trunk 0 written after the calling code ("+44 (0)20 ...") is
 * dropped, as is the pre-2019 Mexican mobile "1". Elsewhere the general
 * E.164 rule +[1-9][0-9]{6,14} applies.
 */
static int intl(struct key *k, const char *d, size_t n)
{
	if (n < 7 || d[0] == '0')
		return SG_ENUMBER;
	const struct country *c = country_by_digits(d, n);
	if (!c) {
		if (n > 15)
			return SG_ENUMBER;
		k->n = 0;
		key_puts(k, "+");
		key_put(k, d, n);
		return 0;
	}
	size_t cclen = strlen(c->cc);
	const char *nsn = d + cclen;
	size_t len = n - cclen;
	if ((c->flags & F_TRUNK0) && len > 0 && nsn[0] == '0') {
		nsn++;
		len--;
	}
	if ((c->flags & F_MX_MOBILE1) && len == 11 && nsn[0] == '1') {
		nsn++;
		len--;
	}
	if (!nsn_possible(c, nsn, len, false))
		return SG_ENUMBER;
	return put_e164(k, c->cc, nsn, len);
}

static bool is_short_code(const char *d, size_t n)
{
	return n >= 3 && n <= 6 && d[0] != '0';
}

static int short_code(struct key *k, const char *iso, const char *d, size_t n)
{
	k->n = 0;
	key_puts(k, "sc:");
	key_put(k, iso, 2);
	key_puts(k, ":");
	key_put(k, d, n);
	return 0;
}

/*
 * Digits written without '+' (webhooks.md section 9, rules 5, 7 and 8).
 * e164_only: an extension was dropped, so only a phone number will do.
 */
static int national(struct key *k, const char *d, size_t n, const char *country, bool e164_only)
{
	struct dflt dc;
	int r = parse_country(country, &dc);
	if (r < 0)
		return r;
	if (n < 3)
		return SG_ENUMBER;
	if (is_short_code(d, n)) {
		if (e164_only)
			return SG_ENUMBER;
		if (!dc.given)
			return SG_ENOCOUNTRY;
		return short_code(k, dc.iso, d, n);
	}
	const struct country *c = dc.c;
	if (!c) {
		/* No rules for this country (or none given): only an
		 * international number that lost its '+' can be keyed. */
		if (n >= 11 && d[0] != '0')
			return intl(k, d, n);
		return SG_ENOCOUNTRY;
	}

	/* international prefix: "00", "011" (NANP), "0011" (AU), "000" (KE);
	 * Brazil dials "00" and a 2-digit carrier code */
	size_t idd = strlen(c->idd);
	if (n > idd && memcmp(d, c->idd, idd) == 0) {
		if (c->flags & F_CARRIER2)
			idd += 2;
		if (n <= idd)
			return SG_ENUMBER;
		return intl(k, d + idd, n - idd);
	}

	if (c->flags & F_NANP) {
		if (n == 10 && nsn_possible(c, d, n, true))
			return put_e164(k, c->cc, d, n);
		if (n == 11 && d[0] == '1')
			return intl(k, d, n);
	} else if (d[0] == '0' && (c->flags & F_TRUNK0)) {
		const char *nsn = d + 1;
		size_t len = n - 1;
		/* Brazil: 0 + carrier code + area code + number */
		if ((c->flags & F_CARRIER2) && len > c->nsn_max && len - 2 >= c->nsn_min &&
		    len - 2 <= c->nsn_max) {
			nsn += 2;
			len -= 2;
		}
		if (nsn_possible(c, nsn, len, false))
			return put_e164(k, c->cc, nsn, len);
		return SG_ENUMBER; /* starts with 0: never retried as international */
	} else if (nsn_possible(c, d, n, d[0] != '0')) {
		return put_e164(k, c->cc, d, n);
	}
	/* Rule 7: not possible here, 11+ digits, not starting with 0. */
	if (n >= 11 && d[0] != '0')
		return intl(k, d, n);
	return SG_ENUMBER;
}

/* ---- text-level steps -------------------------------------------------- */

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && (*s)[0] == ' ') {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && (*s)[*n - 1] == ' ')
		(*n)--;
}

/*
 * Length of s without a trailing extension ("ext. 12", "x12", "#12",
 * ";ext=12"), or n when there is none. The marker must not follow a letter
 * (so "Max123" keeps its x) and what precedes it must look like a number:
 * at least one digit and, except in number-only fields (vanity), no letters.
 */
static size_t drop_extension(const char *s, size_t n, sg_field field)
{
	size_t i = n;
	while (i > 0 && is_digit((unsigned char)s[i - 1]))
		i--;
	if (i == n)
		return n;
	while (i > 0 && s[i - 1] == ' ')
		i--;
	size_t mk;
	if (has_suffix_ci(s, i, ";ext="))
		mk = 5;
	else if (has_suffix_ci(s, i, "ext."))
		mk = 4;
	else if (has_suffix_ci(s, i, "ext"))
		mk = 3;
	else if (i > 0 && (s[i - 1] == 'x' || s[i - 1] == 'X' || s[i - 1] == '#'))
		mk = 1;
	else
		return n;
	size_t p = i - mk;
	if (p == 0 || is_alpha((unsigned char)s[p - 1]))
		return n;
	bool digit = false;
	for (size_t j = 0; j < p; j++) {
		if (is_digit((unsigned char)s[j]))
			digit = true;
		else if (is_alpha((unsigned char)s[j]) && field != SG_FIELD_NUMBER)
			return n;
	}
	if (!digit)
		return n;
	while (p > 0 && s[p - 1] == ' ')
		p--;
	return p;
}

/* Keypad letter to digit (ITU E.161). */
static char keypad(int c)
{
	static const char map[] = "22233344455566677778889999";
	return map[to_lower(c) - 'a'];
}

/* s[0..n) is a sender ID: 3..AID_MAX letters and digits, at least one letter. */
static bool is_sender_id(const char *s, size_t n)
{
	bool letter = false;
	if (n < 3 || n > AID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_alpha(c))
			letter = true;
		else if (!is_digit(c))
			return false;
	}
	return letter;
}

static int sender_id(struct key *k, const char *s, size_t n)
{
	k->n = 0;
	key_puts(k, "aid:");
	for (size_t i = 0; i < n; i++) {
		char c = (char)to_lower((unsigned char)s[i]);
		key_put(k, &c, 1);
	}
	return 0;
}

/* A canonical key given as input: "sc:CC:digits", "aid:id" (address fields
 * only). Returns 1 when s is not in key form. */
static int parse_key(struct key *k, const char *s, size_t n, sg_field field)
{
	if (has_prefix_ci(s, n, "sc:")) {
		if (n < 7 || !is_alpha((unsigned char)s[3]) || !is_alpha((unsigned char)s[4]) ||
		    s[5] != ':')
			return SG_ENUMBER;
		const char *d = s + 6;
		size_t len = n - 6;
		for (size_t i = 0; i < len; i++)
			if (!is_digit((unsigned char)d[i]))
				return SG_ENUMBER;
		if (!is_short_code(d, len))
			return SG_ENUMBER;
		char iso[2] = { (char)to_upper((unsigned char)s[3]), (char)to_upper((unsigned char)s[4]) };
		return short_code(k, iso, d, len);
	}
	if (has_prefix_ci(s, n, "aid:")) {
		if (field != SG_FIELD_ADDRESS || !is_sender_id(s + 4, n - 4))
			return SG_ENUMBER;
		return sender_id(k, s + 4, n - 4);
	}
	if (has_prefix_ci(s, n, "raw:"))
		return SG_ENUMBER; /* quarantine keys are not identities */
	return 1;
}

static const struct {
	const char *prefix;
	sg_channel channel;
} schemes[] = {
	{ "tel:", SG_CHANNEL_SMS },
	{ "sms:", SG_CHANNEL_SMS },
	{ "whatsapp:", SG_CHANNEL_WHATSAPP },
	{ "rcs:", SG_CHANNEL_RCS },
};

/* Steps 2-6 on folded ASCII text. */
static int parse_ascii(struct key *k, const char *s, size_t n, const char *country, sg_field field,
		       sg_channel *ch)
{
	trim(&s, &n);
	if (n == 0)
		return SG_ENUMBER;
	int r = parse_key(k, s, n, field);
	if (r <= 0)
		return r;

	for (size_t i = 0; i < SG_ARRAY_SIZE(schemes); i++) {
		if (has_prefix_ci(s, n, schemes[i].prefix)) {
			size_t len = strlen(schemes[i].prefix);
			s += len;
			n -= len;
			*ch = schemes[i].channel;
			trim(&s, &n);
			break;
		}
	}

	size_t m = drop_extension(s, n, field);
	bool ext = m != n;
	n = m;

	/* A '+' counts only in front, optionally after "(" ("(+44) 20 ..."). */
	size_t lead = 0;
	while (lead < n && (s[lead] == ' ' || s[lead] == '('))
		lead++;
	bool plus = lead < n && s[lead] == '+';

	char d[AID_MAX + 1];
	size_t dn = 0, letters = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (!plus || i != lead)
				return SG_ENUMBER;
		} else if (is_digit(c) || is_alpha(c)) {
			if (dn == AID_MAX)
				return SG_ENUMBER;
			d[dn++] = (char)c;
			letters += is_alpha(c);
		}
	}
	if (dn == 0)
		return SG_ENUMBER;

	if (letters) {
		if (field == SG_FIELD_ADDRESS) {
			/* the whole text must be the ID: no '+', no punctuation */
			if (!is_sender_id(s, n))
				return SG_ENUMBER;
			return sender_id(k, s, n);
		}
		if (field != SG_FIELD_NUMBER || !is_digit((unsigned char)d[0]))
			return SG_ENUMBER;
		for (size_t i = 0; i < dn; i++)
			if (is_alpha((unsigned char)d[i]))
				d[i] = keypad((unsigned char)d[i]);
	}
	if (dn > DIGITS_MAX)
		return SG_ENUMBER;
	if (plus)
		return intl(k, d, dn);
	return national(k, d, dn, country, ext);
}

/* Steps 1-6 for any input of at most NUM_INPUT_MAX bytes. */
static int parse_utf8(struct key *k, const char *in, size_t len, const char *country,
		      sg_field field, sg_channel *ch)
{
	/* Fold to ASCII. Every code point yields at most one byte. */
	char buf[NUM_INPUT_MAX];
	size_t n = 0;
	const unsigned char *s = (const unsigned char *)in;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int l = utf8_next(s + i, len - i, &cp);
		if (l < 0)
			return SG_ENUMBER;
		i += (size_t)l;
		int c = fold(cp);
		if (c == FOLD_BAD)
			return SG_ENUMBER;
		if (c != FOLD_DROP)
			buf[n++] = (char)c;
	}
	return parse_ascii(k, buf, n, country, field, ch);
}

/* Is in[0..len) "+" and 7..15 ASCII digits? */
static bool is_plus_digits(const char *in, size_t len)
{
	if (len < 8 || len > 16 || in[0] != '+')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_digit((unsigned char)in[i]))
			return false;
	return true;
}

/* ---- public API -------------------------------------------------------- */

int sg_number_normalize(const char *in, size_t len, const char *default_country, sg_field field,
			char out[SG_KEY_MAX], sg_channel *channel)
{
	struct key k = { .n = 0 };
	sg_channel ch = SG_CHANNEL_SMS;
	int r;

	if (!out)
		return -EINVAL;
	if (field != SG_FIELD_ANY && field != SG_FIELD_ADDRESS && field != SG_FIELD_NUMBER)
		return -EINVAL;
	if (!in || len == 0 || len > NUM_INPUT_MAX)
		return SG_ENUMBER;

	/* Fast path for the pre-send check: "+<digits>" in ASCII needs no
	 * folding; the slow path would reach intl() with the same digits. */
	if (is_plus_digits(in, len))
		r = intl(&k, in + 1, len - 1);
	else
		r = parse_utf8(&k, in, len, default_country, field, &ch);
	if (r != 0)
		return r;
	memcpy(out, k.s, k.n + 1);
	if (channel)
		*channel = ch;
	return 0;
}

int sg_number_country(const char *key, char cc[3])
{
	if (!key || !cc)
		return -EINVAL;
	if (key[0] == '+') {
		size_t n = 0;
		while (is_digit((unsigned char)key[1 + n]))
			n++;
		if (key[1 + n] != '\0')
			return SG_ENOCOUNTRY;
		const struct country *c = country_by_digits(key + 1, n);
		if (!c || n <= strlen(c->cc) || n > 15)
			return SG_ENOCOUNTRY;
		memcpy(cc, c->iso, 3);
		return 0;
	}
	if (strncmp(key, "sc:", 3) == 0 && is_alpha((unsigned char)key[3]) &&
	    is_alpha((unsigned char)key[4]) && key[5] == ':') {
		cc[0] = (char)to_upper((unsigned char)key[3]);
		cc[1] = (char)to_upper((unsigned char)key[4]);
		cc[2] = '\0';
		return 0;
	}
	return SG_ENOCOUNTRY;
}

void sg_number_quarantine(const char *in, size_t len, char out[SG_KEY_MAX])
{
	static const char prefix[] = "raw:";
	size_t n = sizeof(prefix) - 1, start;
	const unsigned char *s = (const unsigned char *)in;

	if (!out)
		return;
	memcpy(out, prefix, n);
	start = n;
	if (!in)
		len = 0;
	/* Copy whole code points while they fit; invalid bytes become '?'.
	 * Stops once the buffer is full, so the work is bounded. */
	for (size_t i = 0; i < len && n < SG_KEY_MAX - 1;) {
		uint32_t cp;
		int l = utf8_next(s + i, len - i, &cp);
		if (l < 0) {
			out[n++] = '?';
			i++;
			continue;
		}
		bool keep = !(cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || is_format(cp));
		if (keep && n == start && cp == ' ')
			keep = false; /* leading spaces */
		if (keep) {
			if (n + (size_t)l > SG_KEY_MAX - 1)
				break;
			memcpy(out + n, s + i, (size_t)l);
			n += (size_t)l;
		}
		i += (size_t)l;
	}
	while (n > start && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}
