/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stopgate import campaigns|senders|optouts FILE
 *
 * Opt-out lists from other platforms are recognised by their header row
 * (case and punctuation ignored): the number column is one of phone,
 * phonenumber, number, msisdn, recipient, to, optedoutnumber, e164,
 * mobile; an optional sender column one of from, sender, originationnumber,
 * sendernumber, messagingservice; an optional time column one of
 * optedouttimestamp, optedoutat, timestamp, date, createdat (RFC 3339, a
 * date, or UNIX epoch seconds / milliseconds as AWS returns them); an
 * optional keyword column (keyword, rule) kept as the event's rule; and
 * the columns scope and scope_id, which `stopgate export optouts` writes,
 * give each row its own scope unless --scope is given. Without a
 * recognised header the first column is the number (a plain list).
 * Layouts known to work: AWS End User Messaging describe-opted-out-numbers
 * (OptedOutNumber, OptedOutTimestamp), Telnyx GET /messaging_optouts
 * (from, to, keyword, created_at), stopgate export optouts. With --from, a
 * row whose sender column names another number is rejected (--from is
 * never silently ignored).
 *
 * A header with a direction or a message text column is a message log
 * (Twilio, Telnyx, Plivo, Bandwidth exports): import_logs.c reads it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/import_logs.h"
#include "export/csv.h"
#include "internal.h"

#define IMPORT_BATCH 10000 /* events per durable transaction (one fsync) */

static const char import_usage[] =
	"usage: stopgate import campaigns FILE.json\n"
	"       stopgate import senders FILE.csv        (number,campaignId[,group])\n"
	"       stopgate import optouts [--from SENDER] [--scope S] FILE.csv\n"
	"\n"
	"campaigns: a TCR campaign object, an array of them, or {\"campaigns\": [...]}.\n"
	"optouts: a plain list of numbers, or a platform export with a header row\n"
	"(the accepted columns: docs/compliance.md, \"Importing opt-outs from\n"
	"elsewhere\"). Each opt-out is an event with source \"import\" and the file\n"
	"name as its note; importing the same file again adds nothing. Rows are\n"
	"recorded sorted by number, each number's rows in file order. The scope is\n"
	"--scope (default: the policy's for --from; 'global' needs no --from).\n"
	"A message log (Twilio, Telnyx, Plivo, Bandwidth: a Direction or a Body/text\n"
	"column) imports only the inbound texts the classifier reads as opt-out or\n"
	"opt-in, in time order; --from then keeps only the rows to that number of ours.\n"
	"Exit 0 when every row was imported, 1 when rows were left out (each is named\n"
	"on stderr; fix them and import again: nothing is added twice), 2 on an error.\n";

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		char *grown = cap < (64u << 20) ? realloc(buf, cap * 2 + 1) : NULL;
		if (!grown) {
			free(buf);
			buf = NULL;
			errno = EFBIG;
			break;
		}
		buf = grown;
		cap *= 2;
	}
	if (buf && ferror(f)) { /* e.g. a directory */
		int err = errno ? errno : EIO;
		free(buf);
		buf = NULL;
		errno = err;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = n;
	}
	return buf;
}

static int import_campaigns(sg_engine *e, const char *path)
{
	size_t len;
	char *text = read_file(path, &len);
	if (!text)
		return cli_error("import", "%s: %s", path, strerror(errno));
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0, line = 1, col = 1;
	for (size_t i = 0; i < at; i++) {
		if (text[i] == '\n')
			line++, col = 1;
		else
			col++;
	}
	free(text);
	if (!root)
		return cli_error("import", "%s: not valid JSON at line %zu, column %zu (byte %zu)", path, line, col, at);
	cJSON *list = root;
	if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "campaigns"))
		list = cJSON_GetObjectItemCaseSensitive(root, "campaigns");
	int count = 0, rc = 0;
	cJSON *one = NULL;
	if (cJSON_IsObject(list) && list == root) {
		one = list;
	} else if (!cJSON_IsArray(list)) {
		cJSON_Delete(root);
		return cli_error("import", "%s: expected a campaign object or an array", path);
	}
	for (cJSON *it = one ? one : list->child; it; it = one ? NULL : it->next) {
		char *s = cJSON_PrintUnformatted(it);
		const char *detail = NULL;
		rc = s ? sg_campaign_put_json(e, s, strlen(s), &detail) : -ENOMEM;
		free(s);
		if (rc) {
			cli_error("import", "%s: campaign #%d: %s%s%s", path, count + 1, sg_strerror(rc),
				  detail ? ": " : "", detail ? detail : "");
			break;
		}
		count++;
	}
	cJSON_Delete(root);
	if (rc)
		return CLI_ERROR;
	printf("{\"imported\":%d,\"kind\":\"campaigns\"}\n", count);
	return CLI_OK;
}

static bool is_header_word(const char *f)
{
	for (; *f; f++)
		if (isdigit((unsigned char)*f) || *f == '+')
			return false;
	return true;
}

static int import_senders(sg_engine *e, const char *path)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		return cli_error("import", "%s: %s", path, strerror(errno));
	sg__csv csv;
	sg__csv_init_file(&csv, f);
	int rc, count = 0;
	while ((rc = sg__csv_next(&csv)) == 1) {
		if (csv.nfields == 1 && !csv.fields[0][0])
			continue;
		if (csv.line == 1 && is_header_word(csv.fields[0]))
			continue;
		if (csv.nfields < 2 || csv.nfields > 3) {
			rc = cli_error("import", "%s:%lu: expected number,campaignId[,group]", path, csv.line);
			break;
		}
		rc = sg_sender_put(e, csv.fields[0], csv.fields[1], csv.nfields > 2 ? csv.fields[2] : NULL);
		if (rc) {
			rc = cli_error("import", "%s:%lu: %s: %s", path, csv.line, csv.fields[0], sg_strerror(rc));
			break;
		}
		count++;
	}
	if (rc == 0 && ferror(f)) /* e.g. a directory: reads fail, not an empty file */
		rc = errno ? -errno : -EIO;
	fclose(f);
	if (rc < 0)
		return cli_error("import", "%s:%lu: %s", path, csv.line, rc == -EINVAL ? "malformed CSV" : sg_strerror(rc));
	if (rc)
		return CLI_ERROR;
	printf("{\"imported\":%d,\"kind\":\"senders\"}\n", count);
	return CLI_OK;
}

/* Rows are held (strings in one arena, offsets in the rows) and recorded a
 * chunk at a time, sorted by recipient key with file order kept among the
 * rows of one recipient (a stable sort): each batch then writes one run of
 * keys of the recipients and history trees instead of a page in every part
 * of them (bench/bench_commit --sorted: at 1 M pairs 1.2 x instead of 42 x
 * write amplification, a third smaller store). One recipient's events keep
 * their order, so every consent state is what file order gives; only the
 * event log's order differs. */
#define IMPORT_CHUNK (1u << 20) /* rows sorted together (~70 MB) */
#define NO_STR UINT32_MAX

typedef struct optout_row {
	uint32_t to, from, scope_id, rule; /* arena offsets, NO_STR: none */
	uint32_t ord;                      /* file order within the chunk */
	uint8_t scope;
	int64_t event_time_us;
} optout_row;

typedef struct optout_buf {
	optout_row *rows;
	size_t n, cap;
	char *arena;
	size_t alen, acap;
	const char *note;
	sg_event_in ev[IMPORT_BATCH];
	sg_event_out out[IMPORT_BATCH];
	long added, already, rejected;
} optout_buf;

/* Copy s into the arena: its offset, NO_STR for NULL, or UINT32_MAX - 1
 * when out of memory. */
static uint32_t arena_put(optout_buf *b, const char *s)
{
	if (!s)
		return NO_STR;
	size_t n = strlen(s) + 1;
	if (b->alen + n > b->acap) {
		size_t cap = b->acap ? b->acap * 2 : 1u << 20;
		while (cap < b->alen + n)
			cap *= 2;
		char *a = cap < NO_STR - 1 ? realloc(b->arena, cap) : NULL;
		if (!a)
			return NO_STR - 1;
		b->arena = a;
		b->acap = cap;
	}
	memcpy(b->arena + b->alen, s, n);
	b->alen += n;
	return (uint32_t)(b->alen - n);
}

static int row_cmp(const void *x, const void *y, void *arena)
{
	const optout_row *a = x, *b = y;
	int c = strcmp((const char *)arena + a->to, (const char *)arena + b->to);
	return c ? c : (a->ord > b->ord) - (a->ord < b->ord);
}

static const char *str_at(const optout_buf *b, uint32_t off)
{
	return off == NO_STR ? NULL : b->arena + off;
}

/* Record the held rows, sorted, in durable batches of IMPORT_BATCH. */
static int flush(sg_engine *e, optout_buf *b, const char *path)
{
	qsort_r(b->rows, b->n, sizeof(*b->rows), row_cmp, b->arena);
	for (size_t first = 0; first < b->n; first += IMPORT_BATCH) {
		size_t n = b->n - first < IMPORT_BATCH ? b->n - first : IMPORT_BATCH;
		for (size_t i = 0; i < n; i++) {
			const optout_row *r = &b->rows[first + i];
			b->ev[i] = (sg_event_in){
				.size = sizeof(sg_event_in),
				.action = SG_ACTION_OPT_OUT,
				.source = SG_SOURCE_IMPORT,
				.sender = str_at(b, r->from),
				.recipient = str_at(b, r->to),
				.scope = (sg_scope_kind)r->scope,
				.scope_id = str_at(b, r->scope_id),
				.note = b->note,
				.rule = str_at(b, r->rule),
				.event_time_us = r->event_time_us,
			};
		}
		int rc = sg_record(e, b->ev, n, b->out);
		if (rc)
			return cli_error("import", "%s: %s (nothing of this batch was written)", path, sg_strerror(rc));
		for (size_t i = 0; i < n; i++) {
			if (b->out[i].status)
				b->rejected++;
			else if (b->out[i].duplicate)
				b->already++;
			else
				b->added++;
		}
	}
	b->n = 0;
	b->alen = 0;
	return 0;
}

/* Hold one row; a full chunk is recorded first. */
static int hold_row(sg_engine *e, optout_buf *b, const char *path, const sg_event_in *ev)
{
	if (b->n == IMPORT_CHUNK || b->alen > (1u << 30)) {
		int rc = flush(e, b, path);
		if (rc)
			return rc;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		optout_row *rows = realloc(b->rows, cap * sizeof(*rows));
		if (!rows)
			return cli_error("import", "out of memory");
		b->rows = rows;
		b->cap = cap;
	}
	optout_row *r = &b->rows[b->n];
	r->to = arena_put(b, ev->recipient);
	r->from = arena_put(b, ev->sender);
	r->scope_id = arena_put(b, ev->scope_id);
	r->rule = arena_put(b, ev->rule);
	if (r->to == NO_STR - 1 || r->from == NO_STR - 1 || r->scope_id == NO_STR - 1 || r->rule == NO_STR - 1)
		return cli_error("import", "out of memory");
	r->ord = (uint32_t)b->n;
	r->scope = (uint8_t)ev->scope;
	r->event_time_us = ev->event_time_us;
	b->n++;
	return 0;
}

static int import_optouts(sg__cmdline *c, sg_engine *e, const char *path)
{
	static const char *const number_cols[] = {"phone", "phonenumber", "number", "msisdn", "recipient", "to",
						  "optedoutnumber", "e164", "mobile", "phone_number", NULL};
	static const char *const sender_cols[] = {"from", "sender", "originationnumber", "sendernumber",
						  "messagingservice", NULL};
	static const char *const time_cols[] = {"optedouttimestamp", "optedoutat", "timestamp", "date",
						"createdat", NULL};
	static const char *const rule_cols[] = {"keyword", "rule", NULL};
	static const char *const scope_cols[] = {"scope", NULL};
	static const char *const scope_id_cols[] = {"scopeid", NULL};
	sg_scope_kind scope = SG_SCOPE_DEFAULT;
	const char *s = sg__cmdline_value(c, "scope"), *from_arg = sg__cmdline_value(c, "from");
	if (s && sg_scope_parse(s, &scope))
		return cli_error("import", "unknown --scope '%s'", s);
	FILE *f = fopen(path, "rbe");
	if (!f)
		return cli_error("import", "%s: %s", path, strerror(errno));
	optout_buf *b = calloc(1, sizeof(*b));
	if (!b) {
		fclose(f);
		return cli_error("import", "out of memory");
	}
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	b->note = base;
	sg_event_in row_ev;
	char row_to[SG_KEY_MAX], row_from[SG_KEY_MAX], row_scope_id[SG_KEY_MAX], row_rule[64];
	const char *dc = c->cfg.default_country[0] ? c->cfg.default_country : NULL;
	char from_key[SG_KEY_MAX] = "", cc[3] = "";
	int rc = 0;
	if (from_arg) {
		rc = sg_number_normalize(from_arg, strlen(from_arg), dc, SG_FIELD_ADDRESS, from_key, NULL);
		if (rc) {
			free(b);
			fclose(f);
			return cli_error("import", "--from '%s': %s", from_arg, sg_strerror(rc));
		}
		if (!sg_number_country(from_key, cc))
			dc = cc;
	}
	sg__csv csv;
	sg__csv_init_file(&csv, f);
	int ncol = 0, scol = -1, tcol = -1, rcol = -1, kcol = -1, icol = -1;
	while ((rc = sg__csv_next(&csv)) == 1) {
		if (csv.nfields == 1 && !csv.fields[0][0])
			continue;
		if (csv.line == 1 && is_header_word(csv.fields[0])) {
			if (import_is_message_log(&csv)) {
				free(b);
				rc = import_message_log(c, e, path, &csv, f, from_key[0] ? from_key : NULL, scope);
				fclose(f);
				return rc;
			}
			ncol = import_find_column(&csv, number_cols);
			scol = import_find_column(&csv, sender_cols);
			tcol = import_find_column(&csv, time_cols);
			rcol = import_find_column(&csv, rule_cols);
			kcol = s ? -1 : import_find_column(&csv, scope_cols); /* --scope wins */
			icol = kcol >= 0 ? import_find_column(&csv, scope_id_cols) : -1;
			if (ncol < 0) {
				rc = cli_error("import", "%s: header has no number column (phone, number, msisdn, ...)", path);
				break;
			}
			continue;
		}
		if (ncol >= csv.nfields) {
			b->rejected++;
			fprintf(stderr, "stopgate import: %s:%lu: no number column\n", path, csv.line);
			continue;
		}
		sg_event_in *ev = &row_ev;
		memset(ev, 0, sizeof(*ev));
		ev->size = sizeof(*ev);
		const char *sender = scol >= 0 && scol < csv.nfields && csv.fields[scol][0] ? csv.fields[scol] : NULL;
		if (sender) {
			if (sg_number_normalize(sender, strlen(sender), dc, SG_FIELD_ADDRESS, row_from, NULL)) {
				b->rejected++;
				fprintf(stderr, "stopgate import: %s:%lu: sender '%s' is not a number\n", path, csv.line, sender);
				continue;
			}
			ev->sender = row_from;
			if (from_key[0] && strcmp(ev->sender, from_key)) {
				/* --from is never ignored: a row of another sender is not guessed at */
				b->rejected++;
				fprintf(stderr, "stopgate import: %s:%lu: sender '%s' is not --from %s (leave out --from to "
					"use each row's sender)\n", path, csv.line, sender, from_key);
				continue;
			}
		} else {
			ev->sender = from_key[0] ? from_key : NULL;
		}
		const char *num = csv.fields[ncol];
		int nrc = sg_number_normalize(num, strlen(num), dc, SG_FIELD_ANY, row_to, NULL);
		if (nrc) {
			b->rejected++;
			fprintf(stderr, "stopgate import: %s:%lu: '%s': %s%s\n", path, csv.line, num, sg_strerror(nrc),
				nrc == SG_ENOCOUNTRY ? " (give the file's country with --country, e.g. --country US, "
						       "or --from one of our numbers)" : "");
			continue;
		}
		sg_scope_kind row_scope = scope;
		const char *row_id = NULL;
		if (kcol >= 0 && (kcol >= csv.nfields || sg_scope_parse(csv.fields[kcol], &row_scope) ||
				  (row_scope != SG_SCOPE_GLOBAL && row_scope != SG_SCOPE_DEFAULT &&
				   (icol < 0 || icol >= csv.nfields || !csv.fields[icol][0])))) {
			b->rejected++;
			fprintf(stderr, "stopgate import: %s:%lu: bad scope / scope_id\n", path, csv.line);
			continue;
		}
		if (kcol >= 0 && row_scope != SG_SCOPE_DEFAULT) {
			row_id = row_scope == SG_SCOPE_GLOBAL ? "" : csv.fields[icol];
			if (strlen(row_id) >= SG_KEY_MAX) {
				b->rejected++;
				fprintf(stderr, "stopgate import: %s:%lu: scope_id too long\n", path, csv.line);
				continue;
			}
			sg__strlcpy(row_scope_id, row_id, SG_KEY_MAX);
			row_id = row_scope_id;
		}
		if (!ev->sender && row_scope != SG_SCOPE_GLOBAL && !row_id) {
			rc = cli_error("import", "%s: no sender column: give --from SENDER or --scope global", path);
			break;
		}
		ev->action = SG_ACTION_OPT_OUT;
		ev->source = SG_SOURCE_IMPORT;
		ev->recipient = row_to;
		ev->scope = row_scope;
		ev->scope_id = row_id ? row_id : row_scope == SG_SCOPE_GLOBAL ? "" : NULL;
		ev->note = base;
		if (rcol >= 0 && rcol < csv.nfields && csv.fields[rcol][0] && strlen(csv.fields[rcol]) < 64) {
			sg__strlcpy(row_rule, csv.fields[rcol], sizeof(row_rule));
			ev->rule = row_rule;
		}
		if (tcol >= 0 && tcol < csv.nfields && csv.fields[tcol][0] &&
		    import_parse_time(csv.fields[tcol], &ev->event_time_us))
			ev->event_time_us = 0;
		if ((rc = hold_row(e, b, path, ev)))
			break;
	}
	if (rc == 0 && ferror(f)) /* e.g. a directory: reads fail, not an empty file */
		rc = errno ? -errno : -EIO;
	if (rc < 0)
		rc = cli_error("import", "%s:%lu: %s", path, csv.line, rc == -EINVAL ? "malformed CSV" : sg_strerror(rc));
	if (!rc)
		rc = flush(e, b, path);
	fclose(f);
	if (!rc)
		printf("{\"kind\":\"optouts\",\"added\":%ld,\"already\":%ld,\"rejected\":%ld}\n", b->added, b->already,
		       b->rejected);
	long rejected = b->rejected;
	free(b->rows);
	free(b->arena);
	free(b);
	if (rc)
		return CLI_ERROR;
	/* an opt-out left out must not look like success to a script */
	if (rejected)
		fprintf(stderr, "stopgate import: %s: %ld rows not imported (exit 1): fix them and import the file again "
			"(what was imported is not added twice)\n", path, rejected);
	return rejected ? CLI_DENY : CLI_OK;
}

int cmd_import(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {{"from", true, NULL}, {"scope", true, NULL}, {NULL, false, NULL}};
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, import_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	if (c.npositional != 2) {
		fputs(import_usage, stderr);
		return CLI_ERROR;
	}
	const char *kind = c.positional[0], *path = c.positional[1];
	if (strcmp(kind, "campaigns") && strcmp(kind, "senders") && strcmp(kind, "optouts"))
		return cli_error("import", "unknown kind '%s' (campaigns, senders, optouts)", kind);
	sg_engine *e;
	if (cli_open(&c, false, &e))
		return CLI_ERROR;
	if (!strcmp(kind, "campaigns"))
		rc = import_campaigns(e, path);
	else if (!strcmp(kind, "senders"))
		rc = import_senders(e, path);
	else
		rc = import_optouts(&c, e, path);
	sg_engine_close(e);
	sg__config_free(&c.cfg);
	return rc;
}
