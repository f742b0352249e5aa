/* SPDX-License-Identifier: Apache-2.0 */
/* One quiet-hours rule file (format: quiet-hours/README.md). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quiet/quiet.h"

static const char *const wdays[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const char *const months[12] = {"jan", "feb", "mar", "apr", "may", "jun",
				       "jul", "aug", "sep", "oct", "nov", "dec"};

typedef struct parser {
	const char *base;
	unsigned line;
	char *err;
	size_t errlen;
} parser;

static int fail(parser *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", p->base, p->line, msg);
	return SG_ECONFIG;
}

static int lookup(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && !strncasecmp(names[i], s, len))
			return i;
	return -1;
}

/* Next whitespace-separated word of *s: start and length; 0 at the end. */
static size_t word(const char **s, const char **start)
{
	const char *p = *s;
	while (*p == ' ' || *p == '\t')
		p++;
	*start = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	*s = p;
	return (size_t)(p - *start);
}

static const char *rest(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool parse_date(const char *s, size_t len, int64_t *day)
{
	int y, m, d, n = 0;
	if (len != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
		return false;
	if (m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	*day = sg__days_from_civil(y, m, d);
	int yy, mm, dd;
	sg__civil_from_days(*day, &yy, &mm, &dd);
	return yy == y && mm == m && dd == d;
}

static bool parse_hhmm(const char *s, size_t len, int *min)
{
	if (len != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
	    !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return false;
	int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
	if (h > 24 || m > 59 || (h == 24 && m))
		return false;
	*min = h * 60 + m;
	return true;
}

/* "mon", "mon-fri", "sat-sun", "all" into a day mask. */
static bool parse_days(const char *s, size_t len, unsigned *mask)
{
	if (len == 3 && !strncasecmp(s, "all", 3)) {
		*mask = 0x7f;
		return true;
	}
	const char *dash = memchr(s, '-', len);
	int a = lookup(wdays, 7, s, dash ? (size_t)(dash - s) : len);
	int b = dash ? lookup(wdays, 7, dash + 1, len - (size_t)(dash - s) - 1) : a;
	if (a < 0 || b < 0)
		return false;
	*mask = 0;
	for (int d = a;; d = (d + 1) % 7) {
		*mask |= 1u << d;
		if (d == b)
			break;
	}
	return true;
}

static int parse_holiday(parser *p, sg__qh_rule *r, const char *s)
{
	sg__qh_holiday h = {0};
	const char *w;
	size_t n = word(&s, &w);
	int64_t d1, d2;
	int mm, dd, k = 0;
	if (n >= 6 && !strncasecmp(w, "easter", 6)) {
		h.kind = QH_EASTER;
		char *end;
		h.offset = n > 6 ? (int)strtol(w + 6, &end, 10) : 0;
		if (n > 6 && (end != w + n || h.offset < -60 || h.offset > 60))
			return fail(p, "holiday \"%.*s\": easter, easter+N or easter-N (days)", (int)n, w);
	} else if (n == 5 && sscanf(w, "%2d-%2d%n", &mm, &dd, &k) == 2 && k == 5) {
		if (mm < 1 || mm > 12 || dd < 1 || dd > 31)
			return fail(p, "holiday \"%.*s\": not a month and day (MM-DD)", (int)n, w);
		h.kind = QH_FIXED;
		h.month = mm;
		h.day = dd;
	} else if (n >= 10 && parse_date(w, 10, &d1)) {
		h.kind = QH_DATE;
		h.from_day = h.to_day = d1;
		if (n > 10) {
			if (n != 22 || w[10] != '.' || w[11] != '.' || !parse_date(w + 12, 10, &d2) || d2 < d1)
				return fail(p, "holiday \"%.*s\": YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD", (int)n, w);
			h.to_day = d2;
		}
	} else if ((n == 1 && w[0] >= '1' && w[0] <= '4') || (n == 4 && !strncasecmp(w, "last", 4))) {
		h.kind = QH_NTH;
		h.nth = n == 1 ? w[0] - '0' : -1;
		n = word(&s, &w);
		if ((h.wday = lookup(wdays, 7, w, n)) < 0)
			return fail(p, "holiday: a weekday (mon..sun) after \"%s\"", h.nth < 0 ? "last" : "N");
		n = word(&s, &w);
		int m = lookup(months, 12, w, n);
		if (m < 0)
			return fail(p, "holiday: a month (jan..dec) after the weekday");
		h.month = m + 1;
	} else {
		return fail(p, "holiday \"%.*s\": MM-DD, YYYY-MM-DD[..YYYY-MM-DD], N|last WEEKDAY MONTH or "
			       "easter[+-N], then the name", (int)n, w);
	}
	const char *name = rest(s);
	if (!name[0])
		return fail(p, "holiday: the holiday's name is missing");
	sg__strlcpy(h.name, name, sizeof(h.name));
	sg__qh_holiday *nh = realloc(r->holidays, (r->nholidays + 1) * sizeof(*nh));
	if (!nh)
		return -ENOMEM;
	r->holidays = nh;
	r->holidays[r->nholidays++] = h;
	return 0;
}

static int parse_line(parser *p, sg__qh_rule *r, char *line, unsigned *days_set, unsigned *seen)
{
	const char *s = line, *w;
	size_t n = word(&s, &w);
	if (!n)
		return 0;
	static const char *const directives[] = {"jurisdiction", "statute", "categories", "hours",
						 "holiday", "observed", "effective", "also-zone"};
	int d = lookup(directives, SG_ARRAY_SIZE(directives), w, n);
	if (d < 0)
		return fail(p, "unknown directive \"%.*s\" (jurisdiction, statute, categories, hours, holiday, "
			       "observed, effective, also-zone)", (int)n, w);
	if (d != 3 && d != 4 && (*seen & (1u << d)))
		return fail(p, "%s given twice", directives[d]);
	*seen |= 1u << d;
	const char *arg = rest(s);
	switch (d) {
	case 0: { /* jurisdiction CC or CC-SUB */
		size_t len = strlen(arg);
		bool ok = (len == 2 || (len >= 4 && len <= 6 && arg[2] == '-'));
		for (size_t i = 0; ok && i < len; i++)
			ok = i == 2 ? arg[i] == '-' : (isupper((unsigned char)arg[i]) || (i > 2 && isdigit((unsigned char)arg[i])));
		if (!ok)
			return fail(p, "jurisdiction \"%s\": an ISO 3166 country (US) or subdivision (US-FL)", arg);
		sg__strlcpy(r->jurisdiction, arg, sizeof(r->jurisdiction));
		return 0;
	}
	case 1:
		if (!arg[0])
			return fail(p, "statute: cite the law this file follows");
		if (sg__strlcpy(r->statute, arg, sizeof(r->statute)) >= sizeof(r->statute))
			return fail(p, "statute: longer than %zu characters", sizeof(r->statute) - 1);
		return 0;
	case 2: /* categories marketing[,informational...] */
		for (const char *c = arg; *c;) {
			const char *e = c + strcspn(c, ", \t");
			char name[32];
			sg_category cat;
			if ((size_t)(e - c) >= sizeof(name))
				return fail(p, "categories: unknown category \"%.*s\"", (int)(e - c), c);
			memcpy(name, c, (size_t)(e - c));
			name[e - c] = '\0';
			if (sg_category_parse(name, &cat) || cat == SG_CATEGORY_DEFAULT)
				return fail(p, "categories: unknown category \"%s\" (marketing, informational, "
					       "transactional, conversational)", name);
			r->categories |= 1u << cat;
			c = e + strspn(e, ", \t");
		}
		if (!r->categories)
			return fail(p, "categories: name at least one (marketing, ...)");
		return 0;
	case 3: { /* hours DAYS HH:MM-HH:MM | none */
		unsigned mask;
		n = word(&s, &w);
		if (!n || !parse_days(w, n, &mask))
			return fail(p, "hours: days first (mon, mon-fri, sat-sun, all), got \"%.*s\"", (int)n, w);
		n = word(&s, &w);
		int open = -1, close = -1;
		if (n == 4 && !strncasecmp(w, "none", 4)) {
			open = close = -1;
		} else if (n != 11 || w[5] != '-' || !parse_hhmm(w, 5, &open) || !parse_hhmm(w + 6, 5, &close) ||
			   close <= open) {
			return fail(p, "hours: HH:MM-HH:MM (local time, end after start) or none, got \"%.*s\"",
				    (int)n, w);
		}
		if (*rest(s))
			return fail(p, "hours: unexpected \"%s\"", rest(s));
		for (int i = 0; i < 7; i++)
			if (mask & (1u << i)) {
				r->open[i] = (int16_t)open;
				r->close[i] = (int16_t)close;
			}
		*days_set |= mask;
		return 0;
	}
	case 4:
		return parse_holiday(p, r, arg);
	case 5:
		if (strcasecmp(arg, "sunday-monday"))
			return fail(p, "observed: only sunday-monday (a holiday on a Sunday is also kept on the "
				       "Monday after)");
		r->observed_monday = true;
		return 0;
	case 6:
		if (!parse_date(arg, strlen(arg), &r->effective_day))
			return fail(p, "effective: a date, YYYY-MM-DD");
		return 0;
	default:
		if (!arg[0] || sg__strlcpy(r->also_zone, arg, sizeof(r->also_zone)) >= sizeof(r->also_zone))
			return fail(p, "also-zone: one IANA zone name");
		return 0;
	}
}

int sg__qh_rule_parse(const char *path, const char *base, sg__qh_rule *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->effective_day = INT64_MIN;
	parser p = {.base = base, .err = err, .errlen = errlen};
	sg__strlcpy(r->file, base, sizeof(r->file));
	FILE *f = fopen(path, "re");
	if (!f) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", base, strerror(e));
		return -e;
	}
	char line[512];
	unsigned days_set = 0, seen = 0;
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		p.line++;
		size_t len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			rc = fail(&p, "line longer than %zu bytes", sizeof(line) - 2);
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		len = strlen(line);
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
			       line[len - 1] == '\t'))
			line[--len] = '\0';
		rc = parse_line(&p, r, line, &days_set, &seen);
	}
	fclose(f);
	if (!rc) {
		p.line++; /* errors about the whole file point past its end */
		if (!r->jurisdiction[0])
			rc = fail(&p, "no jurisdiction line (e.g. jurisdiction US-FL)");
		else if (!r->statute[0])
			rc = fail(&p, "no statute line: cite the law");
		else if (!r->categories)
			rc = fail(&p, "no categories line (e.g. categories marketing)");
		else if (days_set != 0x7f)
			rc = fail(&p, "hours do not cover every weekday (give each day hours or none)");
	}
	if (rc)
		sg__qh_rule_free(r);
	return rc;
}

void sg__qh_rule_free(sg__qh_rule *r)
{
	free(r->holidays);
	r->holidays = NULL;
	r->nholidays = 0;
}

static int64_t easter(int y)
{
	/* Anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
	int a = y % 19, b = y / 100, c = y % 100, d = b / 4, e = b % 4, f = (b + 8) / 25, g = (b - f + 1) / 3;
	int h = (19 * a + b - d - g + 15) % 30, i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
	int m = (a + 11 * h + 22 * l) / 451, month = (h + l - 7 * m + 114) / 31, day = (h + l - 7 * m + 114) % 31 + 1;
	return sg__days_from_civil(y, month, day);
}

static int64_t holiday_day(const sg__qh_holiday *h, int y)
{
	switch (h->kind) {
	case QH_FIXED:
		return sg__days_from_civil(y, h->month, h->day);
	case QH_EASTER:
		return easter(y) + h->offset;
	case QH_NTH: {
		if (h->nth > 0) {
			int64_t first = sg__days_from_civil(y, h->month, 1);
			return first + (h->wday - sg__weekday(first) + 7) % 7 + 7 * (h->nth - 1);
		}
		int ny = h->month == 12 ? y + 1 : y, nm = h->month == 12 ? 1 : h->month + 1;
		int64_t last = sg__days_from_civil(ny, nm, 1) - 1;
		return last - (sg__weekday(last) - h->wday + 7) % 7;
	}
	default:
		return INT64_MIN;
	}
}

bool sg__qh_rule_closed(const sg__qh_rule *r, int64_t day, const char **why)
{
	int y, m, d;
	sg__civil_from_days(day, &y, &m, &d);
	for (size_t i = 0; i < r->nholidays; i++) {
		const sg__qh_holiday *h = &r->holidays[i];
		if (h->kind == QH_DATE) {
			if (day >= h->from_day && day <= h->to_day)
				goto closed;
			continue;
		}
		int64_t hd = holiday_day(h, y);
		if (hd == day)
			goto closed;
		/* Observed on Monday: the holiday of this year or (for 12-31 ->
		 * 01-01 never arises; Sunday + 1 stays in the year but Dec 31). */
		if (r->observed_monday && hd + 1 == day && sg__weekday(hd) == 0)
			goto closed;
		continue;
	closed:
		if (why)
			*why = h->name;
		return true;
	}
	return false;
}
