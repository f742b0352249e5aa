/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stopgate import optouts LOG.csv: opt-outs and opt-ins read back from a
 * provider's message log export.
 *
 * A log lists every message, ours and theirs, so its From and To swap with
 * the direction: in an inbound row From is the handset and To is our
 * number. Only inbound rows whose text the classifier reads as an opt-out
 * (or an opt-in) become events, with the handset as recipient and our
 * number as sender, each at the row's time and applied in time order, so a
 * START after a STOP wins and a STOP after a START wins. Everything else is
 * counted by reason. Columns and layouts: import_layouts.c.
 *
 * What is ambiguous is refused before anything is written: a log without a
 * direction column unless --from says which side is ours, a direction value
 * that is neither inbound nor outbound, a row where --from stands on the
 * handset's side, a log without a text or time column. With --from, rows
 * to another of our numbers are skipped (other_number).
 *
 * Importing the same log again records nothing: a row that already has an
 * event (the same provider message id for this recipient, or, without an
 * id, an imported event with the same sender, action, time and body hash)
 * counts as "already"; within the file a dedup key does the same.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/import_logs.h"
#include "internal.h"
#include "store/event.h"

#define LOG_BATCH 1000
#define SHOW_REJECTED 10

typedef struct cand {
	int64_t time_us;
	unsigned long line;
	sg_action action;
	char sender[SG_KEY_MAX], recipient[SG_KEY_MAX];
	char rule[64];
	char *text, *id;
	size_t text_len;
	char dedup[96];
} cand;

typedef struct run {
	const char *path;
	long rows, outbound, not_keyword, other_number;
	long bad_row, bad_number, bad_time, bad_text, store_rejected;
	long added, opt_outs, opt_ins, reviews, already, superseded;
	long to_from;    /* rows to or from --from */
	int shown;
	cand *c;
	size_t n, cap;
} run;

static void reject(run *r, long *counter, unsigned long line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void reject(run *r, long *counter, unsigned long line, const char *fmt, ...)
{
	(*counter)++;
	if (r->shown++ >= SHOW_REJECTED)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "stopgate import: %s:%lu: ", r->path, line);
	vfprintf(stderr, fmt, ap);
	fputs(" (row not imported)\n", stderr);
	va_end(ap);
}

static bool key_of(const char *in, const char *country, sg_field field, char out[SG_KEY_MAX])
{
	return sg_number_normalize(in, strlen(in), country, field, out, NULL) == 0;
}

/* One data row; 0 (counted), or CLI_ERROR when the file is refused. */
static int read_row(run *r, sg_engine *e, const import_layout *L, const sg__csv *csv, const char *from_key,
		    const char *dc)
{
	char ours[SG_KEY_MAX], other[SG_KEY_MAX];
	const char *const *f = (const char *const *)csv->fields;
	if (csv->nfields <= L->last) {
		reject(r, &r->bad_row, csv->line, "%d columns, the header has at least %d", csv->nfields, L->last + 1);
		return 0;
	}
	int dir = IMPORT_DIR_UNKNOWN;
	if (L->dir >= 0) {
		dir = import_direction(f[L->dir]);
		if (dir == IMPORT_DIR_UNKNOWN)
			return cli_error("import", "%s:%lu: direction \"%.40s\" is neither inbound (inbound, in) nor "
					 "outbound (outbound, outbound-api, outbound-reply, out); nothing was imported",
					 r->path, csv->line, f[L->dir]);
	} else if (key_of(f[L->to], dc, SG_FIELD_ADDRESS, ours) && !strcmp(ours, from_key)) {
		dir = IMPORT_DIR_IN;
		r->to_from++;
	} else if (key_of(f[L->from], dc, SG_FIELD_ADDRESS, ours) && !strcmp(ours, from_key)) {
		dir = IMPORT_DIR_OUT;
		r->to_from++;
	} else {
		r->other_number++;
		return 0;
	}
	if (dir == IMPORT_DIR_OUT) {
		if (from_key && L->dir >= 0 && key_of(f[L->to], dc, SG_FIELD_ADDRESS, other) &&
		    !strcmp(other, from_key))
			return cli_error("import", "%s:%lu: an outbound row sent TO --from %s: the file and --from "
					 "disagree on which number is ours; nothing was imported", r->path, csv->line,
					 from_key);
		r->outbound++;
		return 0;
	}
	if (!key_of(f[L->to], dc, SG_FIELD_ADDRESS, ours)) {
		reject(r, &r->bad_number, csv->line, "our number (To) \"%.40s\" is not a number", f[L->to]);
		return 0;
	}
	if (from_key && !strcmp(ours, from_key))
		r->to_from++;
	if (from_key && strcmp(ours, from_key)) {
		if (key_of(f[L->from], dc, SG_FIELD_ADDRESS, other) && !strcmp(other, from_key))
			return cli_error("import", "%s:%lu: an inbound row FROM --from %s: the file and --from "
					 "disagree on which number is ours; nothing was imported", r->path, csv->line,
					 from_key);
		r->other_number++;
		return 0;
	}
	/* The library's policy reads the row as it reads any inbound message
	 * (the campaign's keywords, its "probable" setting, the policy's). */
	const char *text = f[L->text];
	sg_inbound_msg msg = {.size = sizeof(sg_inbound_msg), .from = f[L->from], .to = ours, .body = text, .body_len = strlen(text),
			      .source = SG_SOURCE_IMPORT};
	sg_decision *d;
	int rc = sg_decide_inbound(e, &msg, &d);
	if (rc)
		return cli_error("import", "%s:%lu: %s", r->path, csv->line, sg_strerror(rc));
	sg_action action = sg_decision_action(d);
	bool bad_handset = sg_decision_quarantined(d);
	size_t nev;
	const sg_event_in *ev = sg_decision_events(d, &nev);
	char rule[64];
	sg__strlcpy(rule, nev && ev[0].rule ? ev[0].rule : "", sizeof(rule));
	sg__strlcpy(other, sg_decision_recipient(d), sizeof(other));
	sg_decision_free(d);
	if (action != SG_ACTION_OPT_OUT && action != SG_ACTION_OPT_IN && action != SG_ACTION_REVIEW) {
		r->not_keyword++;
		return 0;
	}
	if (bad_handset) {
		reject(r, &r->bad_number, csv->line, "handset (From) \"%.40s\" is not a phone number", f[L->from]);
		return 0;
	}
	int64_t t;
	if (!f[L->time][0] || import_parse_time(f[L->time], &t)) {
		reject(r, &r->bad_time, csv->line, "time \"%.40s\" is not RFC 3339, RFC 2822 or epoch seconds",
		       f[L->time]);
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		cand *grown = realloc(r->c, cap * sizeof(*grown));
		if (!grown)
			return cli_error("import", "out of memory");
		r->c = grown;
		r->cap = cap;
	}
	cand *c = &r->c[r->n];
	memset(c, 0, sizeof(*c));
	c->time_us = t;
	c->line = csv->line;
	c->action = action;
	sg__strlcpy(c->sender, ours, sizeof(c->sender));
	sg__strlcpy(c->recipient, other, sizeof(c->recipient));
	sg__strlcpy(c->rule, rule, sizeof(c->rule));
	c->text_len = strlen(text);
	c->text = strdup(text);
	const char *id = L->id >= 0 && f[L->id][0] && strlen(f[L->id]) <= 200 ? f[L->id] : NULL;
	c->id = id ? strdup(id) : NULL;
	if (!c->text || (id && !c->id))
		return cli_error("import", "out of memory");
	/* The de-duplication key: the provider's id, else a hash of the row's meaning. */
	uint8_t md[32];
	char hex[65];
	size_t len = (c->id ? strlen(c->id) : 0) + strlen(c->sender) + strlen(c->recipient) + c->text_len + 64;
	char *buf = malloc(len);
	if (!buf)
		return cli_error("import", "out of memory");
	int n = snprintf(buf, len, "%s|%s|%s|%lld|%d|", c->id ? c->id : "", c->sender, c->recipient, (long long)t,
			 (int)c->action);
	sg__require(n > 0 && (size_t)n + c->text_len <= len);
	memcpy(buf + n, text, c->text_len);
	sg__sha256(buf, (size_t)n + c->text_len, md);
	free(buf);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(c->dedup, sizeof(c->dedup), "import:log:%s", hex);
	r->n++;
	return 0;
}

static int by_time(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

typedef struct seen {
	const cand *c;
	uint8_t body_sha[32];
} seen;

static int seen_cb(const sg_event *ev, void *ctx)
{
	const seen *s = ctx;
	const cand *c = s->c;
	if (ev->action != c->action || !ev->sender || strcmp(ev->sender, c->sender))
		return 0;
	if (c->id)
		return ev->provider_msg_id && !strcmp(ev->provider_msg_id, c->id);
	return ev->source == SG_SOURCE_IMPORT && ev->event_time_us == c->time_us &&
	       !memcmp(ev->body_sha256, s->body_sha, 32);
}

static int record_all(run *r, sg_engine *e, const import_layout *L, sg_scope_kind scope, const char *note)
{
	sg_event_in ev[LOG_BATCH];
	sg_event_out out[LOG_BATCH];
	size_t idx[LOG_BATCH];
	if (r->n)
		qsort(r->c, r->n, sizeof(*r->c), by_time);
	for (size_t i = 0; i < r->n;) {
		size_t k = 0;
		for (; i < r->n && k < LOG_BATCH; i++) {
			cand *c = &r->c[i];
			seen s = {.c = c};
			sg__sha256(c->text, c->text_len, s.body_sha);
			int rc = sg_events_for_recipient(e, c->recipient, seen_cb, &s);
			if (rc < 0)
				return cli_error("import", "%s: %s (nothing of this batch was written)", r->path,
						 sg_strerror(rc));
			if (rc) {
				r->already++;
				continue;
			}
			ev[k] = (sg_event_in){
				.size = sizeof(sg_event_in),
				.action = c->action,
				.source = SG_SOURCE_IMPORT,
				.sender = c->sender,
				.recipient = c->recipient,
				.scope = scope,
				.scope_id = scope == SG_SCOPE_GLOBAL ? "" : NULL,
				.provider = L->provider,
				.provider_msg_id = c->id,
				.dedup_key = c->dedup,
				.rule = c->rule[0] ? c->rule : NULL,
				.body = c->text,
				.body_len = c->text_len,
				.note = note,
				.event_time_us = c->time_us,
			};
			idx[k++] = i;
		}
		if (!k)
			continue;
		int rc = sg_record(e, ev, k, out);
		if (rc)
			return cli_error("import", "%s: %s (nothing of this batch was written)", r->path, sg_strerror(rc));
		for (size_t j = 0; j < k; j++) {
			if (out[j].status) {
				reject(r, &r->store_rejected, r->c[idx[j]].line, "%s", sg_strerror(out[j].status));
			} else if (out[j].duplicate) {
				r->already++;
			} else {
				r->added++;
				r->opt_outs += ev[j].action == SG_ACTION_OPT_OUT;
				r->opt_ins += ev[j].action == SG_ACTION_OPT_IN;
				r->reviews += ev[j].action == SG_ACTION_REVIEW;
				r->superseded += !out[j].applied && ev[j].action != SG_ACTION_REVIEW;
			}
		}
	}
	return 0;
}

static void report(const run *r, const import_layout *L)
{
	cJSON *o = cJSON_CreateObject(), *sk = cJSON_CreateObject(), *rj = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", "optouts");
	cJSON_AddStringToObject(o, "layout", "message_log");
	if (L->provider)
		cJSON_AddStringToObject(o, "provider", L->provider);
	cJSON_AddNumberToObject(o, "rows", (double)r->rows);
	cJSON_AddNumberToObject(o, "added", (double)r->added);
	cJSON_AddNumberToObject(o, "opt_outs", (double)r->opt_outs);
	cJSON_AddNumberToObject(o, "opt_ins", (double)r->opt_ins);
	cJSON_AddNumberToObject(o, "reviews", (double)r->reviews);
	cJSON_AddNumberToObject(o, "superseded", (double)r->superseded);
	cJSON_AddNumberToObject(o, "already", (double)r->already);
	long rejected = r->bad_row + r->bad_number + r->bad_time + r->bad_text + r->store_rejected;
	cJSON_AddNumberToObject(o, "rejected", (double)rejected);
	cJSON_AddNumberToObject(sk, "outbound", (double)r->outbound);
	cJSON_AddNumberToObject(sk, "not_keyword", (double)r->not_keyword);
	cJSON_AddNumberToObject(sk, "other_number", (double)r->other_number);
	cJSON_AddItemToObject(o, "skipped", sk);
	cJSON_AddNumberToObject(rj, "bad_row", (double)r->bad_row);
	cJSON_AddNumberToObject(rj, "bad_number", (double)r->bad_number);
	cJSON_AddNumberToObject(rj, "bad_time", (double)r->bad_time);
	cJSON_AddNumberToObject(rj, "bad_text", (double)r->bad_text);
	cJSON_AddNumberToObject(rj, "refused_by_store", (double)r->store_rejected);
	cJSON_AddItemToObject(o, "rejected_by", rj);
	cli_print_json(o);
	if (r->shown > SHOW_REJECTED)
		fprintf(stderr, "stopgate import: %s: %d more rows not imported (the first %d are listed above)\n",
			r->path, r->shown - SHOW_REJECTED, SHOW_REJECTED);
}

int import_message_log(sg__cmdline *c, sg_engine *e, const char *path, sg__csv *csv, FILE *f, const char *from_key,
		       sg_scope_kind scope)
{
	import_layout L;
	if (import_read_layout(csv, path, from_key, &L))
		return CLI_ERROR;
	char cc[3];
	const char *dc = from_key && sg_number_country(from_key, cc) == 0 ? cc
			 : c->cfg.default_country[0]                       ? c->cfg.default_country
									   : NULL;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	run r = {.path = path};
	int rc;
	while ((rc = sg__csv_next(csv)) == 1) {
		if (csv->nfields == 1 && !csv->fields[0][0])
			continue;
		r.rows++;
		if ((rc = read_row(&r, e, &L, csv, from_key, dc)))
			break;
	}
	if (rc == 0 && ferror(f))
		rc = errno ? -errno : -EIO;
	if (rc < 0)
		rc = cli_error("import", "%s:%lu: %s; nothing was imported", path, csv->line,
			       rc == -EINVAL ? "malformed CSV" : sg_strerror(rc));
	if (!rc)
		rc = record_all(&r, e, &L, scope, base);
	if (!rc)
		report(&r, &L);
	if (!rc && from_key && !r.to_from && r.other_number)
		fprintf(stderr, "stopgate import: %s: warning: no inbound row is to --from %s (%ld rows are to other "
			"numbers): is --from our number in this log?\n", path, from_key, r.other_number);
	for (size_t i = 0; i < r.n; i++) {
		free(r.c[i].text);
		free(r.c[i].id);
	}
	free(r.c);
	if (rc)
		return CLI_ERROR;
	/* an opt-out left out must not look like success to a script */
	long rejected = r.bad_row + r.bad_number + r.bad_time + r.bad_text + r.store_rejected;
	if (rejected)
		fprintf(stderr, "stopgate import: %s: %ld rows not imported (exit 1): fix them and import the file again "
			"(what was imported is not added twice)\n", path, rejected);
	return rejected ? CLI_DENY : CLI_OK;
}
