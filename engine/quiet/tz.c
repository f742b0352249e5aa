/* SPDX-License-Identifier: Apache-2.0 */
/* TZif reader (RFC 8536, versions 1-4) and calendar helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "quiet/tz.h"

#define TZ_FILE_MAX (1 << 20)
#define RULE_LAST_YEAR 2100

int64_t sg__days_from_civil(int y, int m, int d)
{
	/* H. Hinnant's days_from_civil. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void sg__civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int sg__weekday(int64_t days)
{
	int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */
	return (int)(w < 0 ? w + 7 : w);
}

static int64_t be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* ---- the POSIX TZ rule of the footer ("EST5EDT,M3.2.0,M11.1.0") ---- */

typedef struct posix_rule {
	int32_t std, dst; /* seconds east of UTC */
	bool has_dst;
	int mon[2], week[2], wday[2];
	int32_t time[2]; /* local seconds after midnight of the change */
} posix_rule;

static const char *skip_name(const char *p)
{
	if (*p == '<') {
		const char *e = strchr(p, '>');
		return e ? e + 1 : NULL;
	}
	const char *s = p;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds. */
static const char *parse_hms(const char *p, int32_t *ret)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (*p < '0' || *p > '9')
		return NULL;
	int32_t v[3] = {0, 0, 0};
	for (int i = 0; i < 3; i++) {
		if (*p < '0' || *p > '9')
			return NULL;
		while (*p >= '0' && *p <= '9') {
			v[i] = v[i] * 10 + (*p++ - '0');
			if (v[i] > 999)
				return NULL; /* POSIX allows 167 hours at most */
		}
		if (*p != ':')
			break;
		p++;
	}
	*ret = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
	return p;
}

static const char *parse_mdate(const char *p, posix_rule *r, int i)
{
	if (*p != 'M')
		return NULL; /* Jn and n forms: no zone of the NANP uses them */
	char *end;
	r->mon[i] = (int)strtol(p + 1, &end, 10);
	if (*end != '.')
		return NULL;
	r->week[i] = (int)strtol(end + 1, &end, 10);
	if (*end != '.')
		return NULL;
	r->wday[i] = (int)strtol(end + 1, &end, 10);
	p = end;
	r->time[i] = 7200;
	if (*p == '/' && !(p = parse_hms(p + 1, &r->time[i])))
		return NULL;
	if (r->mon[i] < 1 || r->mon[i] > 12 || r->week[i] < 1 || r->week[i] > 5 || r->wday[i] < 0 || r->wday[i] > 6)
		return NULL;
	return p;
}

static bool parse_posix(const char *p, posix_rule *r)
{
	memset(r, 0, sizeof(*r));
	int32_t v;
	if (!(p = skip_name(p)) || !(p = parse_hms(p, &v)))
		return false;
	r->std = -v;
	if (r->std < -26 * 3600 || r->std > 26 * 3600)
		return false;
	if (!*p)
		return true;
	if (!(p = skip_name(p)))
		return false;
	r->has_dst = true;
	r->dst = r->std + 3600;
	if (*p && *p != ',') {
		if (!(p = parse_hms(p, &v)))
			return false;
		r->dst = -v;
	}
	if (*p++ != ',' || !(p = parse_mdate(p, r, 0)) || *p++ != ',' || !(p = parse_mdate(p, r, 1)))
		return false;
	return *p == '\0' && r->dst >= -26 * 3600 && r->dst <= 26 * 3600;
}

/* Day (since epoch) of the week-th wday of mon in year y (week 5 = last). */
static int64_t mdate_day(int y, int mon, int week, int wday)
{
	int64_t first = sg__days_from_civil(y, mon, 1);
	int64_t d = first + (wday - sg__weekday(first) + 7) % 7 + 7 * (week - 1);
	int ny = mon == 12 ? y + 1 : y, nm = mon == 12 ? 1 : mon + 1;
	int64_t next = sg__days_from_civil(ny, nm, 1);
	while (d >= next)
		d -= 7;
	return d;
}

static int push(sg__tz *tz, size_t *cap, int64_t at, int32_t off)
{
	if (tz->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		int64_t *a = realloc(tz->at, nc * sizeof(*a));
		if (!a)
			return -ENOMEM;
		tz->at = a;
		int32_t *o = realloc(tz->off, nc * sizeof(*o));
		if (!o)
			return -ENOMEM;
		tz->off = o;
		*cap = nc;
	}
	tz->at[tz->n] = at;
	tz->off[tz->n++] = off;
	return 0;
}

/* Transitions the footer rule makes after the file's last one. */
static int extend(sg__tz *tz, size_t *cap, const posix_rule *r)
{
	if (!r->has_dst)
		return 0;
	int64_t last = tz->n ? tz->at[tz->n - 1] : INT64_MIN;
	int y0 = 1970;
	if (tz->n) {
		int m, d;
		sg__civil_from_days(last / 86400, &y0, &m, &d);
	}
	for (int y = y0; y <= RULE_LAST_YEAR; y++) {
		/* DST starts at time[0] standard time; ends at time[1] daylight time. */
		int64_t s = mdate_day(y, r->mon[0], r->week[0], r->wday[0]) * 86400 + r->time[0] - r->std;
		int64_t e = mdate_day(y, r->mon[1], r->week[1], r->wday[1]) * 86400 + r->time[1] - r->dst;
		int64_t a = s < e ? s : e, b = s < e ? e : s;
		int32_t oa = s < e ? r->dst : r->std, ob = s < e ? r->std : r->dst;
		int rc;
		if (a > last) {
			if ((rc = push(tz, cap, a, oa)))
				return rc;
			last = a;
		}
		if (b > last) {
			if ((rc = push(tz, cap, b, ob)))
				return rc;
			last = b;
		}
	}
	return 0;
}

static int parse_tzif(const unsigned char *b, size_t len, sg__tz *tz, char *err, size_t errlen)
{
	size_t cap = 0;
	if (len < 44 || memcmp(b, "TZif", 4)) {
		snprintf(err, errlen, "not a TZif file");
		return -EINVAL;
	}
	int version = b[4] ? b[4] - '0' : 1;
	const unsigned char *h = b;
	int tsize = 4;
	size_t blocklen;
	for (int pass = 0;; pass++) {
		if ((size_t)(h - b) + 44 > len)
			goto bad;
		int64_t isut = be(h + 20, 4), isstd = be(h + 24, 4), leap = be(h + 28, 4), timecnt = be(h + 32, 4),
			typecnt = be(h + 36, 4), charcnt = be(h + 40, 4);
		if (isut < 0 || isstd < 0 || leap < 0 || timecnt < 0 || typecnt < 1 || charcnt < 0 || typecnt > 256)
			goto bad;
		blocklen = (size_t)(timecnt * tsize + timecnt + typecnt * 6 + charcnt + leap * (tsize + 4) + isstd + isut);
		if ((size_t)(h - b) + 44 + blocklen > len)
			goto bad;
		if (version >= 2 && pass == 0) {
			h += 44 + blocklen;
			tsize = 8;
			continue;
		}
		const unsigned char *t = h + 44, *idx = t + timecnt * tsize, *types = idx + timecnt;
		tz->off0 = (int32_t)be(types, 4);
		for (int64_t i = 0; i < typecnt; i++) /* RFC 8536: -2^31 is invalid; none is a day off */
			if (be(types + i * 6, 4) < -26 * 3600 || be(types + i * 6, 4) > 26 * 3600)
				goto bad;
		for (int64_t i = 0; i < timecnt; i++) {
			if (idx[i] >= typecnt || (i && be(t + i * tsize, tsize) <= be(t + (i - 1) * tsize, tsize)))
				goto bad;
			int rc = push(tz, &cap, be(t + i * tsize, tsize), (int32_t)be(types + idx[i] * 6, 4));
			if (rc)
				return rc;
		}
		break;
	}
	if (version >= 2) {
		const char *f = (const char *)h + 44 + blocklen;
		const char *end = (const char *)b + len;
		if (f < end && *f == '\n') {
			const char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
			char rule[128];
			if (nl && (size_t)(nl - f - 1) < sizeof(rule)) {
				memcpy(rule, f + 1, (size_t)(nl - f - 1));
				rule[nl - f - 1] = '\0';
				posix_rule r;
				if (rule[0] && parse_posix(rule, &r)) {
					if (!tz->n && !r.has_dst)
						tz->off0 = r.std;
					int rc = extend(tz, &cap, &r);
					if (rc)
						return rc;
				}
			}
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "truncated or malformed TZif data");
	return -EINVAL;
}

static bool name_ok(const char *name)
{
	if (!name[0] || name[0] == '/' || strlen(name) >= sizeof(((sg__tz *)0)->name))
		return false;
	for (const char *p = name; *p; p++) {
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '/' || *p == '_' || *p == '-' || *p == '+'))
			return false;
		if (p[0] == '.' || (p[0] == '/' && p[1] == '/'))
			return false;
	}
	return true;
}

int sg__tz_load(const char *dir, const char *name, sg__tz *tz, char *err, size_t errlen)
{
	memset(tz, 0, sizeof(*tz));
	if (!name_ok(name)) {
		snprintf(err, errlen, "\"%s\" is not a zone name (Area/Location, e.g. America/Chicago)", name);
		return -EINVAL;
	}
	if (!dir)
		dir = getenv("SG_ZONEINFO");
	if (!dir || !dir[0])
		dir = "/usr/share/zoneinfo";
	char path[512];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		snprintf(err, errlen, "zone path too long");
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "zone %s: %s: %s (install tzdata)", name, path, strerror(e));
		return -e;
	}
	struct stat st;
	unsigned char *buf = NULL;
	int rc = 0;
	if (fstat(fd, &st) || st.st_size <= 0 || st.st_size > TZ_FILE_MAX) {
		snprintf(err, errlen, "zone %s: %s is not a zone file", name, path);
		rc = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0) {
			snprintf(err, errlen, "zone %s: short read", name);
			rc = -EIO;
			goto out;
		}
		got += (size_t)r;
	}
	char e2[128];
	rc = parse_tzif(buf, got, tz, e2, sizeof(e2));
	if (rc == -EINVAL)
		snprintf(err, errlen, "zone %s: %s: %s", name, path, e2);
	if (!rc)
		sg__strlcpy(tz->name, name, sizeof(tz->name));
out:
	free(buf);
	close(fd);
	if (rc)
		sg__tz_free(tz);
	return rc;
}

void sg__tz_free(sg__tz *tz)
{
	free(tz->at);
	free(tz->off);
	memset(tz, 0, sizeof(*tz));
}

/* Index of the last transition at or before t, or -1. */
static ptrdiff_t seg(const sg__tz *tz, int64_t t)
{
	size_t lo = 0, hi = tz->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (tz->at[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (ptrdiff_t)lo - 1;
}

int32_t sg__tz_offset(const sg__tz *tz, int64_t t)
{
	ptrdiff_t i = seg(tz, t);
	return i < 0 ? tz->off0 : tz->off[i];
}

int64_t sg__tz_utc_of_local(const sg__tz *tz, int64_t local)
{
	/* Walk the segments from a day before: the wall clock within one is
	 * u + off; between two it jumps. */
	int64_t from = local - 2 * 86400;
	ptrdiff_t i = seg(tz, from);
	for (;; i++) {
		int64_t start = i < 0 ? from : (tz->at[i] > from ? tz->at[i] : from);
		int32_t off = i < 0 ? tz->off0 : tz->off[i];
		bool last = (size_t)(i + 1) >= tz->n;
		if (local < start + off)
			return start; /* skipped over by a forward jump */
		if (last || local < tz->at[i + 1] + off)
			return local - off;
	}
}
