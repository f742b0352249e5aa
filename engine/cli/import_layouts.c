/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layouts of provider message logs for `stopgate import optouts`
 * (import_logs.c reads the rows): header helpers, row times, direction
 * values, and which column is which. Columns are recognised by header
 * (case and punctuation ignored), after the providers' documented fields:
 *
 *   direction  Direction, message_direction: inbound / in / incoming / mo,
 *              outbound / outbound-api / outbound-reply / outbound-call /
 *              out / outgoing / mt (Twilio, Telnyx, Plivo, Bandwidth)
 *   from, to   From/To, from_number/to_number (Plivo), source/destination,
 *              sourceTn/destinationTn (Bandwidth), cli/cld (Telnyx MDR)
 *   text       Body (Twilio), text (Telnyx, Bandwidth), message, content
 *   time       SentDate/date_sent (Twilio), message_time (Plivo),
 *              receiveTime, received_at, sent_at, date_created, created_at
 *              (Telnyx), time (Bandwidth), timestamp, date
 *   id         Sid (Twilio), message_uuid (Plivo), messageId, id, uuid
 *
 * Detail-record exports without the message text (Plivo's and Bandwidth's
 * message lists, Telnyx MDR reports) cannot say who texted STOP and are
 * refused with that reason.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/import_logs.h"
#include "internal.h"

/* ---- header helpers (shared with cmd_import.c) ------------------------- */

void import_squash(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (; *in && n + 1 < size; in++)
		if (isalnum((unsigned char)*in))
			out[n++] = (char)tolower((unsigned char)*in);
	out[n] = '\0';
}

int import_find_column(const sg__csv *header, const char *const *names)
{
	char h[64];
	for (const char *const *n = names; *n; n++)
		for (int i = 0; i < header->nfields; i++) {
			import_squash(header->fields[i], h, sizeof(h));
			if (!strcmp(h, *n))
				return i;
		}
	return -1;
}

/* "Tue, 03 Nov 2026 12:00:00 +0000" (the weekday optional, "GMT"/"UT" for
 * +0000) rewritten as RFC 3339. */
static int rfc2822(const char *s, int64_t *ret_us)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char *comma = strchr(s, ',');
	if (comma)
		s = comma + 1;
	int d, y, h, mi, sec = 0, n = 0;
	char mon[4], zone[8] = "";
	if (sscanf(s, " %2d %3s %4d %2d:%2d%n", &d, mon, &y, &h, &mi, &n) != 5)
		return -EINVAL;
	s += n;
	if (*s == ':' && sscanf(s, ":%2d%n", &sec, &n) == 1)
		s += n;
	if (sscanf(s, " %7s%n", zone, &n) == 1)
		s += n;
	while (*s == ' ')
		s++;
	if (*s)
		return -EINVAL;
	for (int i = 0; mon[i]; i++)
		mon[i] = (char)tolower((unsigned char)mon[i]);
	const char *m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
	if (!m || (m - months) % 3)
		return -EINVAL;
	char iso[40];
	const char *z = !zone[0] || !strcmp(zone, "GMT") || !strcmp(zone, "UT") || !strcmp(zone, "UTC") ? "Z" : zone;
	if ((z[0] == '+' || z[0] == '-') && (strlen(z) != 5 || strspn(z + 1, "0123456789") != 4))
		return -EINVAL;
	snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02d%s", y, (int)((m - months) / 3) + 1, d, h, mi, sec,
		 z);
	return sg_time_parse(iso, ret_us);
}

/* "2026-11-03 12:00:00 +0000" / "... UTC": the zone after a space. */
static int spaced_zone(const char *s, int64_t *ret_us)
{
	char buf[64];
	const char *sp = strrchr(s, ' ');
	if (!sp || sp == s || strlen(s) >= sizeof(buf) - 1 || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	const char *zone = sp + 1;
	size_t head = (size_t)(sp - s);
	memcpy(buf, s, head);
	if (!strcmp(zone, "UTC") || !strcmp(zone, "GMT") || !strcmp(zone, "Z"))
		zone = "Z";
	else if (zone[0] != '+' && zone[0] != '-')
		return -EINVAL;
	snprintf(buf + head, sizeof(buf) - head, "%s", zone);
	return sg_time_parse(buf, ret_us);
}

int import_parse_time(const char *s, int64_t *ret_us)
{
	if (!sg_time_parse(s, ret_us) || !spaced_zone(s, ret_us))
		return 0;
	if (isalpha((unsigned char)s[0]) || strchr(s, ' '))
		return rfc2822(s, ret_us);
	if (!s[0] || strspn(s, "0123456789.") != strlen(s) || strchr(s, '.') != strrchr(s, '.'))
		return -EINVAL; /* no signs, exponents, hex, inf or nan */
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v <= 0 || v >= 1e13 * 1000)
		return -EINVAL;
	size_t digits = strspn(s, "0123456789");
	*ret_us = digits >= 13 ? (int64_t)(v * 1000) : (int64_t)(v * 1e6);
	return 0;
}

static const char *const dir_cols[] = {"direction", "messagedirection", NULL};
static const char *const from_cols[] = {"from", "fromnumber", "source", "sourcetn", "sourcenumber", "cli", NULL};
static const char *const to_cols[] = {"to", "tonumber", "destination", "destinationtn", "destinationnumber",
				      "cld", NULL};
static const char *const text_cols[] = {"body", "text", "messagebody", "messagetext", "message", "content",
					"messagecontent", NULL};
static const char *const time_cols[] = {"sentdate", "datesent", "messagetime", "receivetime", "receivedat",
					"sentat", "datecreated", "createdat", "time", "timestamp", "date", NULL};
static const char *const id_cols[] = {"sid", "messagesid", "messageuuid", "messageid", "id", "uuid", NULL};

/* Columns only a message log has (an opt-out list never does): a log cut
 * down to From/To must not pass for a list, whose From is our number. */
static const char *const log_only_cols[] = {"sid", "messagesid", "accountsid", "sentdate", "datesent",
					    "numsegments", "segmentcount", "messageuuid", "messagestate",
					    "messagestatus", NULL};

bool import_is_message_log(const sg__csv *header)
{
	return import_find_column(header, dir_cols) >= 0 || import_find_column(header, text_cols) >= 0 ||
	       import_find_column(header, log_only_cols) >= 0;
}

int import_direction(const char *value)
{
	static const char *const in[] = {"inbound", "in", "incoming", "mo", "received", NULL};
	static const char *const out[] = {"outbound", "outboundapi", "outboundreply", "outboundcall", "out",
					  "outgoing", "mt", "sent", NULL};
	char v[32];
	import_squash(value, v, sizeof(v));
	for (int i = 0; in[i]; i++)
		if (!strcmp(v, in[i]))
			return IMPORT_DIR_IN;
	for (int i = 0; out[i]; i++)
		if (!strcmp(v, out[i]))
			return IMPORT_DIR_OUT;
	return IMPORT_DIR_UNKNOWN;
}

static const char *guess_provider(const sg__csv *h)
{
	static const char *const twilio[] = {"sid", "accountsid", "sentdate", NULL};
	static const char *const plivo[] = {"messageuuid", "fromnumber", "messagedirection", NULL};
	static const char *const telnyx[] = {"cli", "cld", "recordtype", NULL};
	static const char *const bandwidth[] = {"sourcetn", "destinationtn", "owner", NULL};
	return import_find_column(h, twilio) >= 0      ? "twilio"
	       : import_find_column(h, plivo) >= 0     ? "plivo"
	       : import_find_column(h, telnyx) >= 0    ? "telnyx"
	       : import_find_column(h, bandwidth) >= 0 ? "bandwidth"
						       : NULL;
}

int import_read_layout(const sg__csv *h, const char *path, const char *from_key, import_layout *L)
{
	*L = (import_layout){
		.dir = import_find_column(h, dir_cols), .from = import_find_column(h, from_cols),
		.to = import_find_column(h, to_cols), .text = import_find_column(h, text_cols),
		.time = import_find_column(h, time_cols), .id = import_find_column(h, id_cols),
		.provider = guess_provider(h),
	};
	if (L->from < 0 || L->to < 0)
		return cli_error("import", "%s: a message log needs a From and a To column (from/to, from_number/"
				 "to_number, source/destination); nothing was imported", path);
	if (L->text < 0)
		return cli_error("import", "%s: this message log has no message text column (Body, text): opt-outs "
				 "are read from what each person texted. Export the log with the message text, or "
				 "import a list of opted-out numbers instead; nothing was imported", path);
	if (L->dir < 0 && !from_key)
		return cli_error("import", "%s: this message log has no direction column, so From and To do not "
				 "say which number is ours: give --from OUR_NUMBER (rows to it are inbound), or "
				 "export the Direction column; nothing was imported", path);
	if (L->time < 0)
		return cli_error("import", "%s: this message log has no time column (SentDate, created_at, "
				 "message_time, time): the order of STOP and START decides consent; nothing was "
				 "imported", path);
	int cols[] = {L->dir, L->from, L->to, L->text, L->time, L->id};
	L->last = 0;
	for (size_t i = 0; i < SG_ARRAY_SIZE(cols); i++)
		if (cols[i] > L->last)
			L->last = cols[i];
	return 0;
}
