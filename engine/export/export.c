/* SPDX-License-Identifier: Apache-2.0 */
/* The audit export formats: JSONL and RFC 4180 CSV (see export.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "internal.h"

static const char hexdigits[] = "0123456789abcdef";

int sg__export_format_parse(const char *name, sg__export_format *ret)
{
	if (name && (!strcmp(name, "jsonl") || !strcmp(name, "json") || !strcmp(name, "ndjson"))) {
		*ret = SG__EXPORT_JSONL;
		return 0;
	}
	if (name && !strcmp(name, "csv")) {
		*ret = SG__EXPORT_CSV;
		return 0;
	}
	return -EINVAL;
}

/* ---- small writers: p is the output cursor ---- */

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}
#define PUTS(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_2(char *p, unsigned v)
{
	*p++ = (char)('0' + v / 10);
	*p++ = (char)('0' + v % 10);
	return p;
}

/* RFC 3339 UTC with microseconds, as sg_time_format() but without libc
 * (this runs twice per exported event). Civil date from days since
 * 1970-01-01 by the era arithmetic of the proleptic Gregorian calendar. */
static char *put_time(char *p, int64_t us)
{
	int64_t secs = us / 1000000, frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	int64_t days = secs / 86400, sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;                                   /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);             /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                  /* [0, 11], from March */
	int64_t y = yoe + era * 400 + (mp >= 10);
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	if (y < 0 || y > 9999)
		y = y < 0 ? 0 : 9999; /* not a time stopgate records; keep the width */
	p = put_2(p, (unsigned)(y / 100));
	p = put_2(p, (unsigned)(y % 100));
	*p++ = '-';
	p = put_2(p, m);
	*p++ = '-';
	p = put_2(p, d);
	*p++ = 'T';
	p = put_2(p, (unsigned)(sod / 3600));
	*p++ = ':';
	p = put_2(p, (unsigned)(sod / 60 % 60));
	*p++ = ':';
	p = put_2(p, (unsigned)(sod % 60));
	*p++ = '.';
	for (int div = 100000; div; div /= 10)
		*p++ = (char)('0' + frac / div % 10);
	*p++ = 'Z';
	return p;
}

static char *put_hex32(char *p, const uint8_t h[32])
{
	for (int i = 0; i < 32; i++) {
		*p++ = hexdigits[h[i] >> 4];
		*p++ = hexdigits[h[i] & 15];
	}
	return p;
}

#define REPLACEMENT "\xEF\xBF\xBD"

/* ---- JSON ---- */

static char *json_str(char *p, const char *str, size_t len)
{
	*p++ = '"';
	p = sg__json_escape(p, str, len, 0);
	*p++ = '"';
	return p;
}

static char *json_cstr(char *p, const char *s)
{
	return s ? json_str(p, s, strlen(s)) : PUTS(p, "null");
}

/* ---- CSV ---- */

static bool plain_e164(const char *s, size_t len)
{
	if (len < 2 || len > 21 || s[0] != '+')
		return false;
	for (size_t i = 1; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static char *csv_cell(char *p, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	if (!str)
		return p;
	bool quote = false;
	for (size_t i = 0; i < len && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
	if (quote)
		*p++ = '"';
	if (len && strchr("=+-@\t\r", s[0]) && !plain_e164(str, len))
		*p++ = '\''; /* spreadsheet formula injection: show as text */
	for (size_t i = 0; i < len;) {
		unsigned c = s[i];
		if (c >= 0x80) {
			size_t n = sg__utf8_seq(s + i, len - i);
			p = n ? put(p, str + i, n) : PUTS(p, REPLACEMENT);
			i += n ? n : 1;
			continue;
		}
		if (c == '"')
			*p++ = '"';
		if (c == 0)
			p = PUTS(p, REPLACEMENT);
		else
			*p++ = (char)c;
		i++;
	}
	if (quote)
		*p++ = '"';
	return p;
}

static char *csv_cstr(char *p, const char *s)
{
	return s ? csv_cell(p, s, strlen(s)) : p;
}

/* ---- events ---- */

static const char *const header_names[] = {
	"seq", "time", "event_time", "action", "source", "scope", "scope_id", "sender", "recipient",
	"campaign", "brand", "provider", "provider_msg_id", "rule", "body", "body_len", "body_redacted",
	"reply", "note", "body_sha256", "prev_hash", "hash", "dedup_key", "keywords",
};
enum { NFIELDS = SG_ARRAY_SIZE(header_names) };

size_t sg__export_header(char out[SG__EXPORT_HEADER_MAX], sg__export_format fmt)
{
	char *p = out;
	if (fmt == SG__EXPORT_CSV) {
		for (size_t i = 0; i < NFIELDS; i++) {
			if (i)
				*p++ = ',';
			p = put(p, header_names[i], strlen(header_names[i]));
		}
		p = PUTS(p, "\r\n");
	}
	*p = '\0';
	return (size_t)(p - out);
}

size_t sg__export_bound(const sg_event *ev, sg__export_format fmt)
{
	const char *strs[] = {ev->scope_id, ev->sender, ev->recipient, ev->campaign, ev->brand,
			      ev->provider, ev->provider_msg_id, ev->rule, ev->reply, ev->note,
			      ev->dedup_key, ev->keywords};
	size_t text = ev->body ? ev->body_len : 0;
	for (size_t i = 0; i < SG_ARRAY_SIZE(strs); i++)
		text += strs[i] ? strlen(strs[i]) : 0;
	/* JSON: "\u00XX" is the widest escape (6 bytes per input byte); CSV:
	 * U+FFFD (3 bytes per input byte) plus quotes and the neutralising
	 * quote per cell. Fixed part (under 700 bytes in fact): member names,
	 * enum names, times, hashes, numbers, nulls. */
	size_t fixed = 3 * 64 + 2 * 27 + 3 * 20 + 64 + 2 * SG__EXPORT_HEADER_MAX + 64;
	/* JSON of a review resolution repeats its note's parts in "review" */
	size_t review = ev->action == SG_ACTION_REVIEW_RESOLVED && ev->note ? 6 * strlen(ev->note) + 128 : 0;
	return fixed + (fmt == SG__EXPORT_CSV ? 3 * text + 3 * NFIELDS : 6 * text + review);
}

size_t sg__export_event(char *out, const sg_event *ev, sg__export_format fmt)
{
	const char *scope = ev->scope == SG_SCOPE_DEFAULT ? NULL : sg_scope_name(ev->scope);
	bool redacted = !ev->body && ev->body_len > 0;
	char *p = out;
	if (fmt == SG__EXPORT_CSV) {
		p = put_u64(p, ev->seq);
		*p++ = ',';
		p = put_time(p, ev->time_us);
		*p++ = ',';
		p = put_time(p, ev->event_time_us);
		*p++ = ',';
		const char *mid[] = {sg_action_name(ev->action), sg_source_name(ev->source), scope,
				     ev->scope_id, ev->sender, ev->recipient, ev->campaign, ev->brand,
				     ev->provider, ev->provider_msg_id, ev->rule};
		for (size_t i = 0; i < SG_ARRAY_SIZE(mid); i++) {
			p = csv_cstr(p, mid[i]);
			*p++ = ',';
		}
		p = ev->body ? csv_cell(p, ev->body, ev->body_len) : p;
		*p++ = ',';
		p = put_u64(p, ev->body_len);
		p = redacted ? PUTS(p, ",true,") : PUTS(p, ",false,");
		p = csv_cstr(p, ev->reply);
		*p++ = ',';
		p = csv_cstr(p, ev->note);
		*p++ = ',';
		p = put_hex32(p, ev->body_sha256);
		*p++ = ',';
		p = put_hex32(p, ev->prev_hash);
		*p++ = ',';
		p = put_hex32(p, ev->hash);
		*p++ = ',';
		p = csv_cstr(p, ev->dedup_key);
		*p++ = ',';
		p = csv_cstr(p, ev->keywords);
		p = PUTS(p, "\r\n");
		*p = '\0';
		return (size_t)(p - out);
	}
	p = PUTS(p, "{\"seq\":");
	p = put_u64(p, ev->seq);
	p = PUTS(p, ",\"time\":\"");
	p = put_time(p, ev->time_us);
	p = PUTS(p, "\",\"event_time\":\"");
	p = put_time(p, ev->event_time_us);
	p = PUTS(p, "\",\"action\":");
	p = json_cstr(p, sg_action_name(ev->action));
	p = PUTS(p, ",\"source\":");
	p = json_cstr(p, sg_source_name(ev->source));
	p = PUTS(p, ",\"scope\":");
	p = json_cstr(p, scope);
	p = PUTS(p, ",\"scope_id\":");
	p = json_cstr(p, ev->scope_id);
	p = PUTS(p, ",\"sender\":");
	p = json_cstr(p, ev->sender);
	p = PUTS(p, ",\"recipient\":");
	p = json_cstr(p, ev->recipient);
	p = PUTS(p, ",\"campaign\":");
	p = json_cstr(p, ev->campaign);
	p = PUTS(p, ",\"brand\":");
	p = json_cstr(p, ev->brand);
	p = PUTS(p, ",\"provider\":");
	p = json_cstr(p, ev->provider);
	p = PUTS(p, ",\"provider_msg_id\":");
	p = json_cstr(p, ev->provider_msg_id);
	p = PUTS(p, ",\"rule\":");
	p = json_cstr(p, ev->rule);
	p = PUTS(p, ",\"body\":");
	p = ev->body ? json_str(p, ev->body, ev->body_len) : PUTS(p, "null");
	p = PUTS(p, ",\"body_len\":");
	p = put_u64(p, ev->body_len);
	p = redacted ? PUTS(p, ",\"body_redacted\":true") : PUTS(p, ",\"body_redacted\":false");
	p = PUTS(p, ",\"reply\":");
	p = json_cstr(p, ev->reply);
	p = PUTS(p, ",\"note\":");
	p = json_cstr(p, ev->note);
	p = PUTS(p, ",\"body_sha256\":\"");
	p = put_hex32(p, ev->body_sha256);
	p = PUTS(p, "\",\"prev_hash\":\"");
	p = put_hex32(p, ev->prev_hash);
	p = PUTS(p, "\",\"hash\":\"");
	p = put_hex32(p, ev->hash);
	p = PUTS(p, "\",\"dedup_key\":");
	p = json_cstr(p, ev->dedup_key);
	p = PUTS(p, ",\"keywords\":");
	p = json_cstr(p, ev->keywords);
	sg_review_resolution r;
	if (ev->action == SG_ACTION_REVIEW_RESOLVED && sg_review_resolution_read(ev, &r) == 0) {
		p = PUTS(p, ",\"review\":{\"resolved\":");
		p = put_u64(p, r.review_seq);
		p = PUTS(p, ",\"decision\":");
		p = json_cstr(p, sg_review_decision_name(r.decision));
		p = PUTS(p, ",\"by\":");
		p = json_cstr(p, r.by);
		p = PUTS(p, ",\"note\":");
		p = json_cstr(p, r.note);
		p = PUTS(p, "}}\n");
	} else {
		p = PUTS(p, "}\n");
	}
	*p = '\0';
	return (size_t)(p - out);
}

char *sg__export_csv_cell(char *p, const char *s, size_t len)
{
	return csv_cell(p, s, len);
}

char *sg__export_json_str(char *p, const char *s, size_t len)
{
	return s ? json_str(p, s, len) : PUTS(p, "null");
}

char *sg__export_time(char *p, int64_t us)
{
	return put_time(p, us);
}

/* ---- batching into an sg__buf ---- */

int sg__exbuf_event(sg__buf *b, const sg_event *ev, sg__export_format fmt)
{
	if (!sg__buf_reserve(b, sg__export_bound(ev, fmt)))
		return -ENOMEM;
	b->len += sg__export_event(b->p + b->len, ev, fmt);
	b->p[b->len] = '\0';
	return 0;
}

int sg__exbuf_header(sg__buf *b, sg__export_format fmt)
{
	if (!sg__buf_reserve(b, SG__EXPORT_HEADER_MAX))
		return -ENOMEM;
	b->len += sg__export_header(b->p + b->len, fmt);
	b->p[b->len] = '\0';
	return 0;
}

/* ---- filters ---- */

static bool str_eq(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

bool sg__export_match(const sg__export_filter *f, const sg_event *ev)
{
	if (!f)
		return true;
	if (f->since_us && ev->time_us < f->since_us)
		return false;
	if (f->until_us && ev->time_us >= f->until_us)
		return false;
	if (f->actions && ((unsigned)ev->action >= 32 || !(f->actions & (1u << ev->action))))
		return false;
	return str_eq(f->sender, ev->sender) && str_eq(f->recipient, ev->recipient) &&
	       str_eq(f->campaign, ev->campaign);
}

int sg__export_actions_parse(const char *list, uint32_t *mask, const char **bad)
{
	uint32_t m = 0;
	const char *p = list;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char name[40];
		sg_action a;
		if (n == 0 || n >= sizeof(name)) {
			if (bad)
				*bad = p;
			return -EINVAL;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		if (sg_action_parse(name, &a)) {
			if (bad)
				*bad = p;
			return -EINVAL;
		}
		m |= 1u << a;
		p = end ? end + 1 : NULL;
	}
	*mask = m;
	return 0;
}
