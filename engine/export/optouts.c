/* SPDX-License-Identifier: Apache-2.0 */
/* The suppression list rows, shared by `stopgate export optouts` and the
 * daemon's GET /v1/optouts (see export.h). */
#include <stdio.h>
#include <string.h>

#include "export/export.h"
#include "internal.h"

static char *lit(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

const char sg__export_optouts_header[] =
	"phone_number,scope,scope_id,opted_out_at,recorded_at,source,seq,latest_at,latest_seq\r\n";

size_t sg__export_optout(char *out, const char *rcpt, const sg_scope_state *st, sg__export_format fmt)
{
	char *p = out;
	const char *scope = sg_scope_name(st->scope), *source = sg_source_name(st->source);
	char seq[24], latest_seq[24];
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)st->seq);
	snprintf(latest_seq, sizeof(latest_seq), "%llu", (unsigned long long)st->latest_seq);
	if (fmt == SG__EXPORT_CSV) {
		const char *cells[] = {rcpt, scope, st->scope_id};
		for (size_t i = 0; i < SG_ARRAY_SIZE(cells); i++) {
			p = sg__export_csv_cell(p, cells[i], strlen(cells[i]));
			*p++ = ',';
		}
		p = sg__export_time(p, st->event_time_us);
		*p++ = ',';
		p = sg__export_time(p, st->since_us);
		*p++ = ',';
		p = sg__export_csv_cell(p, source, strlen(source));
		*p++ = ',';
		p = lit(lit(p, seq), ",");
		p = sg__export_time(p, st->latest_us);
		p = lit(lit(lit(p, ","), latest_seq), "\r\n");
	} else {
		p = lit(p, "{\"phone_number\":");
		p = sg__export_json_str(p, rcpt, strlen(rcpt));
		p = lit(lit(lit(p, ",\"scope\":\""), scope), "\",\"scope_id\":");
		p = sg__export_json_str(p, st->scope_id, strlen(st->scope_id));
		p = sg__export_time(lit(p, ",\"opted_out_at\":\""), st->event_time_us);
		p = sg__export_time(lit(p, "\",\"recorded_at\":\""), st->since_us);
		p = lit(lit(lit(p, "\",\"source\":\""), source), "\",\"seq\":");
		p = lit(lit(p, seq), ",\"latest_at\":\"");
		p = sg__export_time(p, st->latest_us);
		p = lit(lit(lit(p, "\",\"latest_seq\":"), latest_seq), "}\n");
	}
	*p = '\0';
	return (size_t)(p - out);
}
