/* SPDX-License-Identifier: Apache-2.0 */
/* The violations report as JSON Lines or CSV (GET /v1/violations and
 * `stopgate violations`), one line per violation, cells as the audit
 * export writes them. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "export/export.h"
#include "internal.h"

#define COLUMNS "ordinal,at,from,to,campaign,category,source,reason,event_seq,scope,scope_id,since,count,rule"

int sg__exbuf_violation_header(sg__buf *b, sg__export_format fmt)
{
	if (fmt == SG__EXPORT_CSV)
		sg__buf_adds(b, COLUMNS "\r\n");
	return sg__buf_err(b);
}

int sg__exbuf_violation(sg__buf *b, const sg_violation *v, sg__export_format fmt)
{
	const sg_send *s = v->send;
	const char *cells[] = {s->sender, s->recipient, s->campaign, sg_send_category_name(s->category),
			       s->source == SG_SEND_STATUS ? "status_callback" : "reported",
			       sg_reason_name(v->reason)};
	const char *names[] = {"from", "to", "campaign", "category", "source", "reason"};
	char tmp[3 * 256 + 64];
	if (!sg__buf_reserve(b, 8 * (6 * SG_KEY_MAX + 16) + 512))
		return -ENOMEM;
	bool csv = fmt == SG__EXPORT_CSV;
	sg__buf_printf(b, csv ? "%" PRIu64 "," : "{\"ordinal\":%" PRIu64 ",\"at\":\"", s->ordinal);
	char *p = sg__export_time(tmp, s->at_us);
	sg__buf_add(b, tmp, (size_t)(p - tmp));
	if (!csv)
		sg__buf_addc(b, '"');
	for (size_t i = 0; i < SG_ARRAY_SIZE(cells); i++) {
		if (csv) {
			sg__buf_addc(b, ',');
			p = sg__export_csv_cell(tmp, cells[i], strlen(cells[i]));
		} else {
			sg__buf_printf(b, ",\"%s\":", names[i]);
			p = sg__export_json_str(tmp, cells[i], strlen(cells[i]));
		}
		sg__buf_add(b, tmp, (size_t)(p - tmp));
	}
	const char *scope_id = v->scope_id ? v->scope_id : "";
	if (csv) {
		sg__buf_printf(b, ",%" PRIu64 ",%s,", v->seq, v->scope ? sg_scope_name(v->scope) : "");
		p = sg__export_csv_cell(tmp, scope_id, strlen(scope_id));
		sg__buf_add(b, tmp, (size_t)(p - tmp));
		sg__buf_addc(b, ',');
		if (v->since_us) {
			p = sg__export_time(tmp, v->since_us);
			sg__buf_add(b, tmp, (size_t)(p - tmp));
		}
		sg__buf_printf(b, ",%u,%s\r\n", v->count, v->rule ? v->rule : "");
	} else {
		sg__buf_printf(b, ",\"event_seq\":%" PRIu64 ",\"scope\":", v->seq);
		p = sg__export_json_str(tmp, v->scope ? sg_scope_name(v->scope) : NULL, v->scope ? strlen(sg_scope_name(v->scope)) : 0);
		sg__buf_add(b, tmp, (size_t)(p - tmp));
		sg__buf_adds(b, ",\"scope_id\":");
		p = sg__export_json_str(tmp, scope_id, strlen(scope_id));
		sg__buf_add(b, tmp, (size_t)(p - tmp));
		sg__buf_adds(b, ",\"since\":");
		if (v->since_us) {
			sg__buf_addc(b, '"');
			p = sg__export_time(tmp, v->since_us);
			sg__buf_add(b, tmp, (size_t)(p - tmp));
			sg__buf_addc(b, '"');
		} else {
			sg__buf_adds(b, "null");
		}
		sg__buf_printf(b, ",\"count\":%u,\"rule\":", v->count);
		p = sg__export_json_str(tmp, v->rule, v->rule ? strlen(v->rule) : 0);
		sg__buf_add(b, tmp, (size_t)(p - tmp));
		sg__buf_adds(b, "}\n");
	}
	return sg__buf_err(b);
}
