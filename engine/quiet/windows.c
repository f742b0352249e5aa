/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The quiet-hours set: rule files, zones and the places of numbers, built
 * into profiles. A profile is one (region, zones, rules) combination, e.g.
 * US-FL in America/Chicago and America/New_York under us.qh and us-fl.qh;
 * every NANP prefix and every country with rules points at one. For each
 * category a profile holds the UTC intervals in which every one of its
 * rules allows sending in every one of its zones (the intersection),
 * precomputed over a horizon of about four years around the load time, so
 * the check does one binary search. Instants outside the horizon, and the
 * "which rule decided" detail of a denial, are computed on demand.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "quiet/quiet.h"

#define DAY 86400
#define SEARCH_DAYS 400 /* how far an on-demand next_allowed looks */
#define UNKNOWN (-1)    /* npa[]: no place known (toll-free, 5XX, unassigned) */
#define NO_RULES (-2)   /* a place no rule covers (e.g. Jamaica) */
#define REFINED (1u << 30)
#define NPA_PROFILE(v) ((int32_t)((v) & ~REFINED) - 3)

typedef struct ivlist {
	int64_t (*iv)[2]; /* [start, end) UTC seconds, sorted, disjoint */
	size_t n, cap;
} ivlist;

/* One UTC day of the horizon: the first allowed interval that ends after
 * the day begins, inline (seconds from the set's base; end 0: none left),
 * and its index, so that the common lookup reads one 16-byte entry. */
typedef struct day_entry {
	uint32_t start, end;
	uint32_t index;
	uint32_t pad;
} day_entry;

typedef struct profile {
	char region[8];
	char tz[96];
	uint64_t rules;      /* bit i: rules[i] applies */
	uint16_t *zones;
	size_t nzones;
	ivlist iv[SG__QH_CATEGORIES];
	uint8_t *opener[SG__QH_CATEGORIES]; /* per interval: the rule whose window opens it */
	day_entry *day[SG__QH_CATEGORIES];  /* per UTC day of the horizon (see day_entry) */
	bool covered[SG__QH_CATEGORIES]; /* some rule covers the category */
} profile;

typedef struct prefix {
	uint32_t key; /* the digits after +1 padded to 7, times 10, plus their count:
		       * sorted, each NPA's prefixes are contiguous */
	int32_t profile;
} prefix;

typedef struct country {
	char cc[3];
	int32_t profile; /* every rule of the country, every zone of zone.tab */
} country;

struct sg__qh_set {
	/* what every check reads, together at the front */
	int64_t base, end;   /* the precomputed horizon, UTC seconds */
	size_t nprofiles;
	profile *profiles;
	/* hot[profile * SG__QH_CATEGORIES + category]: the day table, NULL when
	 * no rule covers the category; a dense copy, so the check's lookup
	 * touches the small tables and one day entry, not the profile. */
	const day_entry **hot;
	uint32_t npa_packed[1000]; /* npa + 3, | REFINED: what the lookup reads (one table) */
	/* the rest: loading, exchanges, denials */
	sg__qh_rule *rules;
	int *also;           /* zone index of rules[i].also_zone, or -1 */
	size_t nrules;
	sg__tz *zones;
	size_t nzones;
	int32_t npa[1000];   /* profile of NPA, UNKNOWN or NO_RULES */
	char npa_cc[1000][3]; /* the NPA's country ("US", "CA", "JM"), "" unknown */
	bool npa_refined[1000]; /* has longer prefixes */
	prefix *pre;
	size_t npre;
	uint16_t pre_lo[1000], pre_hi[1000]; /* each NPA's range of pre[] */
	country *countries;
	size_t ncountries;
};

/* ---- interval lists ---- */

static int iv_push(ivlist *l, int64_t a, int64_t b)
{
	if (b <= a)
		return 0;
	if (l->n && l->iv[l->n - 1][1] >= a) { /* touching or overlapping */
		if (b > l->iv[l->n - 1][1])
			l->iv[l->n - 1][1] = b;
		return 0;
	}
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		void *p = realloc(l->iv, nc * sizeof(*l->iv));
		if (!p)
			return -ENOMEM;
		l->iv = p;
		l->cap = nc;
	}
	l->iv[l->n][0] = a;
	l->iv[l->n++][1] = b;
	return 0;
}

static void iv_free(ivlist *l)
{
	free(l->iv);
	memset(l, 0, sizeof(*l));
}

/* out = a ∩ b */
static int iv_intersect(const ivlist *a, const ivlist *b, ivlist *out)
{
	size_t i = 0, j = 0;
	while (i < a->n && j < b->n) {
		int64_t lo = a->iv[i][0] > b->iv[j][0] ? a->iv[i][0] : b->iv[j][0];
		int64_t hi = a->iv[i][1] < b->iv[j][1] ? a->iv[i][1] : b->iv[j][1];
		int rc = iv_push(out, lo, hi);
		if (rc)
			return rc;
		if (a->iv[i][1] < b->iv[j][1])
			i++;
		else
			j++;
	}
	return 0;
}

/* Index of the interval containing t, or -(index of the next one) - 1. */
static ptrdiff_t iv_find(const ivlist *l, int64_t t)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (l->iv[mid][0] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && t < l->iv[lo - 1][1])
		return (ptrdiff_t)lo - 1;
	return -(ptrdiff_t)lo - 1;
}

/* The allowed intervals of one rule in one zone over [from, to). */
/* The days a rule is closed (holidays), one byte per day from day0: the
 * rule's part of a pair, computed once per rule at load. */
typedef struct closed_days {
	const uint8_t *day;
	int64_t day0;
	size_t n;
} closed_days;

static bool rule_closed(const sg__qh_rule *r, const closed_days *cd, int64_t d)
{
	if (cd && d >= cd->day0 && (uint64_t)(d - cd->day0) < cd->n)
		return cd->day[d - cd->day0];
	return sg__qh_rule_closed(r, d, NULL);
}

static int pair_intervals(const sg__qh_rule *r, const closed_days *cd, const sg__tz *tz, int64_t from, int64_t to,
			  ivlist *out)
{
	int64_t d0 = from / DAY - 2, d1 = to / DAY + 2;
	for (int64_t d = d0; d <= d1; d++) {
		int64_t a, b;
		if (d < r->effective_day) {
			a = d * DAY;
			b = (d + 1) * DAY; /* not yet in force: the whole local day */
		} else {
			int wd = sg__weekday(d);
			if (r->open[wd] < 0 || rule_closed(r, cd, d))
				continue;
			a = d * DAY + r->open[wd] * 60;
			b = d * DAY + r->close[wd] * 60;
		}
		a = sg__tz_utc_of_local(tz, a);
		b = sg__tz_utc_of_local(tz, b);
		if (a < from)
			a = from;
		if (b > to)
			b = to;
		int rc = iv_push(out, a, b);
		if (rc)
			return rc;
	}
	return 0;
}

static bool covers(const sg__qh_rule *r, sg_category cat)
{
	return r->categories & (1u << cat);
}

/* The rule whose own window opens at each interval of l (the one that
 * decides a denial before it): the first (rule, zone) pair with an
 * interval starting there. pairs[k] belongs to rules[rule_of[k]]. */
static int openers(const ivlist *l, const ivlist *pairs, const uint8_t *rule_of, size_t npairs, uint8_t **ret)
{
	uint8_t *o = malloc(l->n + 1);
	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		o[i] = 0xff;
		for (size_t k = 0; k < npairs && o[i] == 0xff; k++) {
			ptrdiff_t f = iv_find(&pairs[k], l->iv[i][0]);
			if (f >= 0 && pairs[k].iv[f][0] == l->iv[i][0])
				o[i] = rule_of[k];
		}
	}
	*ret = o;
	return 0;
}

/* The (rule, zone) pairs' intervals over the whole horizon, computed once
 * at load: the profiles share a few dozen pairs, and each pair is the same
 * for every category (precompute() would otherwise redo each one per
 * profile and category, most of the load time). */
typedef struct pair_memo {
	ivlist *iv;  /* [rule * nzones + zone] */
	bool *done;
	uint8_t *closed; /* [rule * ndays + day - day0]: closed_days of each rule */
	int64_t day0;
	size_t ndays;
} pair_memo;

/* one = the allowed intervals of rule i in zone zi over [from, to): the
 * memo's copy when memo is set (from, to are then the horizon). */
static int pair_get(const sg__qh_set *s, pair_memo *memo, size_t i, size_t zi, int64_t from, int64_t to,
		    ivlist *one)
{
	one->n = 0;
	if (!memo)
		return pair_intervals(&s->rules[i], NULL, &s->zones[zi], from, to, one);
	size_t k = i * s->nzones + zi;
	if (!memo->done[k]) {
		closed_days cd = {memo->closed + i * memo->ndays, memo->day0, memo->ndays};
		int rc = pair_intervals(&s->rules[i], &cd, &s->zones[zi], from, to, &memo->iv[k]);
		if (rc)
			return rc;
		memo->done[k] = true;
	}
	const ivlist *m = &memo->iv[k];
	if (m->n > one->cap) {
		void *q = realloc(one->iv, m->n * sizeof(*one->iv));
		if (!q)
			return -ENOMEM;
		one->iv = q;
		one->cap = m->n;
	}
	if (m->n)
		memcpy(one->iv, m->iv, m->n * sizeof(*one->iv));
	one->n = m->n;
	return 0;
}

/* The intersection of every (rule, zone) pair of profile p for cat;
 * opener (may be NULL) receives openers() of it; memo (may be NULL) holds
 * the pairs over the horizon [from, to). */
static int profile_intervals(const sg__qh_set *s, const profile *p, sg_category cat, int64_t from, int64_t to,
			     ivlist *out, uint8_t **opener, pair_memo *memo)
{
	ivlist acc = {0}, one = {0}, tmp = {0};
	ivlist *pairs = NULL;
	uint8_t *rule_of = NULL;
	size_t npairs = 0;
	bool first = true;
	int rc = 0;
	if (opener) {
		size_t max = s->nrules * (p->nzones + 1);
		pairs = calloc(max ? max : 1, sizeof(*pairs));
		rule_of = calloc(max ? max : 1, 1);
		if (!pairs || !rule_of) {
			free(pairs);
			free(rule_of);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < s->nrules && !rc; i++) {
		if (!(p->rules & (1ull << i)) || !covers(&s->rules[i], cat))
			continue;
		for (size_t z = 0; z <= p->nzones && !rc; z++) {
			size_t zi;
			if (z < p->nzones)
				zi = p->zones[z];
			else if (s->also[i] >= 0)
				zi = (size_t)s->also[i];
			else
				break;
			if ((rc = pair_get(s, memo, i, zi, from, to, &one)))
				break;
			if (pairs) { /* keep a copy for openers() */
				ivlist *c = &pairs[npairs];
				c->iv = malloc((one.n ? one.n : 1) * sizeof(*c->iv));
				if (!c->iv) {
					rc = -ENOMEM;
					break;
				}
				memcpy(c->iv, one.iv, one.n * sizeof(*c->iv));
				c->n = c->cap = one.n;
				rule_of[npairs++] = (uint8_t)i;
			}
			if (first) {
				ivlist t = acc;
				acc = one;
				one = t;
				first = false;
				continue;
			}
			tmp.n = 0;
			if ((rc = iv_intersect(&acc, &one, &tmp)))
				break;
			ivlist t = acc;
			acc = tmp;
			tmp = t;
		}
	}
	iv_free(&one);
	iv_free(&tmp);
	if (!rc && opener)
		rc = openers(&acc, pairs, rule_of, npairs, opener);
	for (size_t k = 0; k < npairs; k++)
		iv_free(&pairs[k]);
	free(pairs);
	free(rule_of);
	if (rc) {
		iv_free(&acc);
		return rc;
	}
	*out = acc;
	return 0;
}

/* ---- loading ---- */

static int zone_index(sg__qh_set *s, const char *name, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->nzones; i++)
		if (!strcmp(s->zones[i].name, name))
			return (int)i;
	if (s->nzones >= 4096) {
		snprintf(err, errlen, "more than 4096 zones");
		return SG_ECONFIG;
	}
	sg__tz *nz = realloc(s->zones, (s->nzones + 1) * sizeof(*nz));
	if (!nz)
		return -ENOMEM;
	s->zones = nz;
	int rc = sg__tz_load(NULL, name, &s->zones[s->nzones], err, errlen);
	if (rc)
		return rc == -ENOMEM ? rc : SG_ECONFIG;
	return (int)s->nzones++;
}

static bool region_in(const char *jur, const char *region)
{
	size_t jl = strlen(jur);
	if (!strcmp(jur, region))
		return true;
	/* a country-wide rule covers its subdivisions */
	return jl == 2 && !strncmp(jur, region, 2) && region[2] == '-';
}

/* Find or add the profile (region, zones, rules); returns its index. */
static int32_t profile_get(sg__qh_set *s, const char *region, const char *tzstr, const uint16_t *zones, size_t nz,
			   uint64_t rules, int *rc)
{
	for (size_t i = 0; i < s->nprofiles; i++) {
		profile *p = &s->profiles[i];
		if (p->rules == rules && p->nzones == nz && !strcmp(p->region, region) &&
		    !memcmp(p->zones, zones, nz * sizeof(*zones)))
			return (int32_t)i;
	}
	profile *np = realloc(s->profiles, (s->nprofiles + 1) * sizeof(*np));
	if (!np) {
		*rc = -ENOMEM;
		return -1;
	}
	s->profiles = np;
	profile *p = &s->profiles[s->nprofiles];
	memset(p, 0, sizeof(*p));
	sg__strlcpy(p->region, region, sizeof(p->region));
	sg__strlcpy(p->tz, tzstr, sizeof(p->tz));
	p->rules = rules;
	p->zones = malloc(nz * sizeof(*zones) + 1);
	if (!p->zones) {
		*rc = -ENOMEM;
		return -1;
	}
	memcpy(p->zones, zones, nz * sizeof(*zones));
	p->nzones = nz;
	return (int32_t)s->nprofiles++;
}

static uint64_t rules_of_region(const sg__qh_set *s, const char *region)
{
	uint64_t m = 0;
	for (size_t i = 0; i < s->nrules; i++)
		if (region_in(s->rules[i].jurisdiction, region))
			m |= 1ull << i;
	return m;
}

static uint64_t rules_of_country(const sg__qh_set *s, const char *cc)
{
	uint64_t m = 0;
	for (size_t i = 0; i < s->nrules; i++)
		if (!strncmp(s->rules[i].jurisdiction, cc, 2))
			m |= 1ull << i;
	return m;
}

static int cmp_prefix(const void *a, const void *b)
{
	uint32_t x = ((const prefix *)a)->key, y = ((const prefix *)b)->key;
	return x < y ? -1 : x > y;
}

/* quiet-hours/zones/nanp.tsv */
static int load_nanp(sg__qh_set *s, const char *dir, char *err, size_t errlen)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/zones/nanp.tsv", dir);
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "zones/nanp.tsv: %s", strerror(errno));
		return SG_ECONFIG;
	}
	char line[512], npa_region[1000][8];
	unsigned lineno = 0;
	int rc = 0;
	size_t cap = 0;
	memset(npa_region, 0, sizeof(npa_region));
	while (!rc && fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		char digits[16], region[16], zl[400];
		if (sscanf(line, "%15s %15s %399s", digits, region, zl) != 3 || strspn(digits, "0123456789") != strlen(digits) ||
		    strlen(digits) < 3 || strlen(digits) > 7) {
			snprintf(err, errlen, "zones/nanp.tsv:%u: expected DIGITS REGION ZONE[,ZONE...]", lineno);
			rc = SG_ECONFIG;
			break;
		}
		int npa = (digits[0] - '0') * 100 + (digits[1] - '0') * 10 + (digits[2] - '0');
		if (!strcmp(region, "-"))
			memcpy(region, npa_region[npa], 8);
		else if (strlen(region) < 8)
			memcpy(npa_region[npa], region, strlen(region) + 1);
		if (!region[0] || strlen(region) >= 8) {
			snprintf(err, errlen, "zones/nanp.tsv:%u: region \"%s\" (the NPA's line must come first)", lineno,
				 region);
			rc = SG_ECONFIG;
			break;
		}
		uint16_t zones[16];
		size_t nz = 0;
		for (char *tok = strtok(zl, ","); tok && !rc; tok = strtok(NULL, ",")) {
			if (nz == SG_ARRAY_SIZE(zones)) {
				snprintf(err, errlen, "zones/nanp.tsv:%u: more than 16 zones", lineno);
				rc = SG_ECONFIG;
				break;
			}
			char zerr[300];
			int zi = zone_index(s, tok, zerr, sizeof(zerr));
			if (zi < 0) {
				snprintf(err, errlen, "zones/nanp.tsv:%u: %s", lineno, zerr);
				rc = zi;
				break;
			}
			zones[nz++] = (uint16_t)zi;
		}
		if (rc)
			break;
		/* zones sorted, so equal sets compare equal */
		for (size_t i = 1; i < nz; i++)
			for (size_t j = i; j > 0 && zones[j - 1] > zones[j]; j--) {
				uint16_t t = zones[j];
				zones[j] = zones[j - 1];
				zones[j - 1] = t;
			}
		char tzstr[96];
		{ /* the zone column of the line as written */
			const char *z = line;
			for (int col = 0; col < 2; col++) {
				z += strcspn(z, " \t");
				z += strspn(z, " \t");
			}
			sg__strlcpy(tzstr, z, sizeof(tzstr));
			tzstr[strcspn(tzstr, " \t\r\n")] = '\0';
		}
		uint64_t rules = rules_of_region(s, region);
		int32_t pi = NO_RULES;
		if (rules) {
			pi = profile_get(s, region, tzstr, zones, nz, rules, &rc);
			if (rc)
				break;
		}
		if (strlen(digits) == 3) {
			s->npa[npa] = pi;
			memcpy(s->npa_cc[npa], region, 2);
			continue;
		}
		s->npa_refined[npa] = true;
		if (s->npre == cap) {
			cap = cap ? cap * 2 : 1024;
			prefix *np = realloc(s->pre, cap * sizeof(*np));
			if (!np) {
				rc = -ENOMEM;
				break;
			}
			s->pre = np;
		}
		uint32_t v = (uint32_t)strtoul(digits, NULL, 10);
		for (size_t l = strlen(digits); l < 7; l++)
			v *= 10;
		s->pre[s->npre++] = (prefix){v * 10 + (uint32_t)strlen(digits), pi};
	}
	fclose(f);
	if (!rc && s->npre > UINT16_MAX) {
		snprintf(err, errlen, "zones/nanp.tsv: more than %u exchange lines", UINT16_MAX);
		rc = SG_ECONFIG;
	}
	if (!rc) {
		qsort(s->pre, s->npre, sizeof(*s->pre), cmp_prefix);
		for (size_t i = s->npre; i-- > 0;) {
			int npa = (int)(s->pre[i].key / 100000);
			s->pre_lo[npa] = (uint16_t)i;
			if (!s->pre_hi[npa])
				s->pre_hi[npa] = (uint16_t)(i + 1);
		}
	}
	return rc;
}

/* npa[] and npa_refined[] into one word per NPA for the lookup. */
static void pack_npas(sg__qh_set *s)
{
	for (int i = 0; i < 1000; i++)
		s->npa_packed[i] = (uint32_t)(s->npa[i] + 3) | (s->npa_refined[i] ? REFINED : 0);
}

/* The zones of a country from the system's zone.tab. */
static int load_country(sg__qh_set *s, const char *cc, char *err, size_t errlen)
{
	const char *dir = getenv("SG_ZONEINFO");
	char path[512];
	snprintf(path, sizeof(path), "%s/zone.tab", dir && dir[0] ? dir : "/usr/share/zoneinfo");
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s (install tzdata)", path, strerror(errno));
		return SG_ECONFIG;
	}
	uint16_t zones[64];
	size_t nz = 0;
	char line[512];
	int rc = 0;
	while (!rc && fgets(line, sizeof(line), f)) {
		char c[8], coord[32], name[128];
		if (line[0] == '#' || sscanf(line, "%7s %31s %127s", c, coord, name) != 3 || strcmp(c, cc))
			continue;
		if (nz == SG_ARRAY_SIZE(zones))
			break;
		int zi = zone_index(s, name, err, errlen);
		if (zi < 0)
			rc = zi;
		else
			zones[nz++] = (uint16_t)zi;
	}
	fclose(f);
	if (rc)
		return rc;
	if (!nz) {
		snprintf(err, errlen, "%s: no zones for country %s (a rule names jurisdiction %s)", path, cc, cc);
		return SG_ECONFIG;
	}
	country *nc = realloc(s->countries, (s->ncountries + 1) * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	s->countries = nc;
	country *co = &s->countries[s->ncountries++];
	memcpy(co->cc, cc, 3);
	char tzstr[96];
	snprintf(tzstr, sizeof(tzstr), "%s:*", cc);
	co->profile = profile_get(s, cc, tzstr, zones, nz, rules_of_country(s, cc), &rc);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_rules(sg__qh_set *s, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return SG_ECONFIG;
	}
	char *names[SG__QH_RULES_MAX + 1];
	size_t n = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 4 || strcmp(de->d_name + l - 3, ".qh") || de->d_name[0] == '.')
			continue;
		if (n == SG__QH_RULES_MAX) {
			snprintf(err, errlen, "%s: more than %d rule files", dir, SG__QH_RULES_MAX);
			rc = SG_ECONFIG;
			break;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	if (!rc && n) {
		s->rules = calloc(n, sizeof(*s->rules));
		s->also = calloc(n, sizeof(*s->also));
		if (!s->rules || !s->also)
			rc = -ENOMEM;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		char path[4200];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = sg__qh_rule_parse(path, names[i], &s->rules[i], err, errlen);
		if (rc)
			break;
		s->nrules++;
		s->also[i] = -1;
		if (s->rules[i].also_zone[0]) {
			char zerr[300];
			int zi = zone_index(s, s->rules[i].also_zone, zerr, sizeof(zerr));
			if (zi < 0) {
				snprintf(err, errlen, "%s: also-zone: %s", names[i], zerr);
				rc = zi;
			}
			s->also[i] = zi;
		}
		for (size_t j = 0; j < i && !rc; j++)
			if (!strcmp(s->rules[j].jurisdiction, s->rules[i].jurisdiction)) {
				snprintf(err, errlen, "%s: jurisdiction %s is already %s's (one file per jurisdiction)",
					 names[i], s->rules[i].jurisdiction, names[j]);
				rc = SG_ECONFIG;
			}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return rc;
}

static int precompute_with(sg__qh_set *s, pair_memo *memo);

static int precompute(sg__qh_set *s)
{
	size_t n = s->nrules * s->nzones + 1;
	pair_memo memo = {calloc(n, sizeof(ivlist)), calloc(n, sizeof(bool)), NULL, s->base / DAY - 2,
			  (size_t)((s->end - s->base) / DAY) + 5};
	memo.closed = calloc(s->nrules * memo.ndays + 1, 1);
	if (memo.closed)
		for (size_t r = 0; r < s->nrules; r++)
			for (size_t d = 0; d < memo.ndays; d++)
				memo.closed[r * memo.ndays + d] =
					sg__qh_rule_closed(&s->rules[r], memo.day0 + (int64_t)d, NULL);
	int rc = memo.iv && memo.done && memo.closed ? precompute_with(s, &memo) : -ENOMEM;
	if (memo.iv)
		for (size_t k = 0; k < n; k++)
			iv_free(&memo.iv[k]);
	free(memo.iv);
	free(memo.done);
	free(memo.closed);
	return rc;
}

static int precompute_with(sg__qh_set *s, pair_memo *memo)
{
	s->hot = calloc(s->nprofiles * SG__QH_CATEGORIES + 1, sizeof(*s->hot));
	if (!s->hot)
		return -ENOMEM;
	for (size_t i = 0; i < s->nprofiles; i++) {
		profile *p = &s->profiles[i];
		for (int c = 1; c < SG__QH_CATEGORIES; c++) {
			for (size_t r = 0; r < s->nrules; r++)
				if ((p->rules & (1ull << r)) && covers(&s->rules[r], (sg_category)c))
					p->covered[c] = true;
			if (!p->covered[c])
				continue;
			int rc = profile_intervals(s, p, (sg_category)c, s->base, s->end, &p->iv[c], &p->opener[c], memo);
			if (rc)
				return rc;
			size_t ndays = (size_t)((s->end - s->base) / DAY) + 1, k = 0;
			if (!(p->day[c] = calloc(ndays, sizeof(day_entry))))
				return -ENOMEM;
			for (size_t d = 0; d < ndays; d++) {
				int64_t t = s->base + (int64_t)d * DAY;
				while (k < p->iv[c].n && p->iv[c].iv[k][1] <= t)
					k++;
				day_entry *de = &p->day[c][d];
				de->index = (uint32_t)k;
				if (k < p->iv[c].n) {
					de->start = (uint32_t)(p->iv[c].iv[k][0] - s->base);
					de->end = (uint32_t)(p->iv[c].iv[k][1] - s->base);
				}
			}
			s->hot[i * SG__QH_CATEGORIES + (size_t)c] = p->day[c];
		}
	}
	return 0;
}

static __thread char last_error[512];

const char *sg__qh_last_error(void)
{
	return last_error;
}

int sg__qh_load(const char *dir, int64_t now_us, sg__qh_set **ret, char *err, size_t errlen)
{
	last_error[0] = '\0';
	if (!err || !errlen) {
		err = last_error;
		errlen = sizeof(last_error);
	}
	sg__qh_set *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (int i = 0; i < 1000; i++)
		s->npa[i] = UNKNOWN;
	pack_npas(s);
	int rc = 0;
	if (dir && dir[0] && strcmp(dir, "none")) {
		rc = load_rules(s, dir, err, errlen);
		if (!rc && s->nrules)
			rc = load_nanp(s, dir, err, errlen);
		if (!rc)
			pack_npas(s);
		for (size_t i = 0; !rc && i < s->nrules; i++) {
			char cc[3] = {s->rules[i].jurisdiction[0], s->rules[i].jurisdiction[1], 0};
			bool have = false;
			for (size_t j = 0; j < s->ncountries; j++)
				have |= !strcmp(s->countries[j].cc, cc);
			if (!have)
				rc = load_country(s, cc, err, errlen);
		}
	}
	if (!rc) {
		int y, m, d;
		sg__civil_from_days(now_us / 1000000 / DAY, &y, &m, &d);
		s->base = sg__days_from_civil(y - 1, 1, 1) * DAY;
		s->end = sg__days_from_civil(y + 3, 1, 1) * DAY;
		rc = precompute(s);
	}
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		if (err != last_error)
			sg__strlcpy(last_error, err, sizeof(last_error));
		sg__qh_free(s);
		return rc == -ENOMEM ? rc : SG_EQUIETHOURS;
	}
	*ret = s;
	return 0;
}

void sg__qh_free(sg__qh_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrules; i++)
		sg__qh_rule_free(&s->rules[i]);
	free(s->rules);
	free(s->also);
	for (size_t i = 0; i < s->nzones; i++)
		sg__tz_free(&s->zones[i]);
	free(s->zones);
	for (size_t i = 0; i < s->nprofiles; i++) {
		for (int c = 0; c < SG__QH_CATEGORIES; c++) {
			iv_free(&s->profiles[i].iv[c]);
			free(s->profiles[i].opener[c]);
			free(s->profiles[i].day[c]);
		}
		free(s->profiles[i].zones);
	}
	free(s->profiles);
	free(s->pre);
	free(s->hot);
	free(s->countries);
	free(s);
}

size_t sg__qh_rule_count(const sg__qh_set *s)
{
	return s ? s->nrules : 0;
}

/* ---- the check's lookup ---- */

static int32_t country_profile(const sg__qh_set *s, const char *cc)
{
	for (size_t i = 0; cc && i < s->ncountries; i++)
		if (s->countries[i].cc[0] == cc[0] && s->countries[i].cc[1] == cc[1])
			return s->countries[i].profile;
	return -1;
}

/* "+1" and ten digits (a canonical key holds digits only after '+'). */
static bool nanp_key(const char *k)
{
	return k[0] == '+' && k[1] == '1' && strnlen(k, 13) == 12;
}

static int32_t place_of(const sg__qh_set *s, const char *to, const char *sender_key, const char *sender_cc,
			bool skip_unknown)
{
	if (to[0] != '+')
		return -1;
	if (nanp_key(to)) {
		int npa = (to[2] - '0') * 100 + (to[3] - '0') * 10 + (to[4] - '0');
		uint32_t packed = s->npa_packed[npa];
		int32_t pi = NPA_PROFILE(packed);
		if (packed & REFINED) {
			/* longest prefix: NPA + 4, 3, 2, 1 digits, searched in the
			 * NPA's own range */
			uint32_t keys[4], v = (uint32_t)npa, scale = 10000;
			for (int l = 0; l < 4; l++) {
				v = v * 10 + (uint32_t)(to[5 + l] - '0');
				scale /= 10;
				keys[l] = v * (scale ? scale : 1) * 10 + (uint32_t)(4 + l);
			}
			for (int l = 3; l >= 0; l--) {
				size_t lo = s->pre_lo[npa], hi = s->pre_hi[npa];
				while (lo < hi) {
					size_t mid = (lo + hi) / 2;
					if (s->pre[mid].key < keys[l])
						lo = mid + 1;
					else
						hi = mid;
				}
				if (lo < s->pre_hi[npa] && s->pre[lo].key == keys[l])
					return s->pre[lo].profile;
			}
			return pi;
		}
		if (pi != UNKNOWN || skip_unknown)
			return pi;
		/* An NPA with no place: toll-free, 5XX, unassigned: the
		 * sender country's every zone and rule, else the US's. */
		char cc[3] = {sender_cc[0], sender_cc[1], 0};
		if (sender_key)
			sg__qh_sender_country(s, sender_key, cc);
		int32_t c = country_profile(s, cc);
		return c >= 0 ? c : country_profile(s, "US");
	}
	char cc[3];
	if (sg_number_country(to, cc))
		return -1;
	return country_profile(s, cc);
}

/* Which rule of p denies at t, and when it would allow: the one whose own
 * window opens last explains next_allowed_at. On demand (a denial). */
static const sg__qh_rule *deciding_rule(const sg__qh_set *s, const profile *p, sg_category cat, int64_t t)
{
	const sg__qh_rule *best = NULL;
	int64_t best_next = INT64_MIN;
	for (size_t i = 0; i < s->nrules; i++) {
		if (!(p->rules & (1ull << i)) || !covers(&s->rules[i], cat))
			continue;
		for (size_t z = 0; z <= p->nzones; z++) {
			const sg__tz *tz = z < p->nzones ? &s->zones[p->zones[z]]
							 : (s->also[i] >= 0 ? &s->zones[s->also[i]] : NULL);
			if (!tz)
				break;
			ivlist l = {0};
			if (pair_intervals(&s->rules[i], NULL, tz, t - DAY, t + 15 * DAY, &l)) {
				iv_free(&l);
				return best ? best : &s->rules[i];
			}
			ptrdiff_t k = iv_find(&l, t);
			int64_t next = k >= 0 ? INT64_MIN : (size_t)(-k - 1) < l.n ? l.iv[-k - 1][0] : INT64_MAX;
			iv_free(&l);
			if (k < 0 && next > best_next) {
				best = &s->rules[i];
				best_next = next;
			}
		}
	}
	return best;
}

/* next_allowed from an on-demand computation over [t - 1 day, t + 400 days]. */
static bool slow_eval(const sg__qh_set *s, const profile *p, sg_category cat, int64_t t, int64_t *next)
{
	ivlist l = {0};
	*next = 0;
	if (profile_intervals(s, p, cat, t - DAY, t + SEARCH_DAYS * (int64_t)DAY, &l, NULL, NULL)) {
		iv_free(&l);
		return true; /* cannot tell: quiet (fail closed), no next */
	}
	ptrdiff_t k = iv_find(&l, t);
	bool quiet = k < 0;
	if (quiet && (size_t)(-k - 1) < l.n)
		*next = l.iv[-k - 1][0];
	iv_free(&l);
	return quiet;
}

void sg__qh_sender_country(const sg__qh_set *s, const char *key, char cc[3])
{
	if (s && nanp_key(key)) {
		int npa = (key[2] - '0') * 100 + (key[3] - '0') * 10 + (key[4] - '0');
		if (s->npa_cc[npa][0])
			memcpy(cc, s->npa_cc[npa], 3);
	}
}

void sg__qh_eval(const sg__qh_set *s, const char *to, const char *sender_key, const char *sender_cc,
		 sg_category cat, bool skip_unknown, int64_t t, sg__qh_answer *a)
{
	a->quiet = false;
	a->next_allowed_s = 0;
	a->region = a->zones = NULL;
	a->rule = NULL;
	if (!s || !s->nprofiles || cat <= SG_CATEGORY_DEFAULT || cat >= SG__QH_CATEGORIES)
		return;
	int32_t pi = place_of(s, to, sender_key, sender_cc, skip_unknown);
	if (pi < 0)
		return;
	const profile *p = &s->profiles[pi];
	a->region = p->region;
	a->zones = p->tz;
	if (t >= s->base && t < s->end) {
		const day_entry *days = s->hot[(size_t)pi * SG__QH_CATEGORIES + cat];
		if (!days)
			return; /* no rule covers the category */
		const ivlist *l = &p->iv[cat];
		const day_entry *de = &days[(t - s->base) / DAY];
		uint32_t rel = (uint32_t)(t - s->base);
		size_t nx;
		if (de->end > rel) { /* the common case: one entry decides */
			if (de->start <= rel)
				return; /* inside an allowed interval */
			nx = de->index;
		} else {
			nx = de->index;
			while (nx < l->n && l->iv[nx][1] <= t)
				nx++;
			if (nx < l->n && l->iv[nx][0] <= t)
				return;
		}
		a->quiet = true;
		if (nx < l->n) {
			a->next_allowed_s = l->iv[nx][0];
			uint8_t r = p->opener[cat][nx];
			if (r != 0xff) {
				a->rule = &s->rules[r];
				return;
			}
		} else {
			slow_eval(s, p, cat, t, &a->next_allowed_s);
		}
	} else if (!p->covered[cat] || !(a->quiet = slow_eval(s, p, cat, t, &a->next_allowed_s))) {
		return;
	}
	a->rule = deciding_rule(s, p, cat, t);
}
