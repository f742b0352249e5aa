/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stopgate export audit|optouts
 *
 * audit: the event log, every field (engine/export/export.h), streamed in constant
 * memory: sg_events_read() in chunks of EXPORT_CHUNK events, each chunk its
 * own short read snapshot, resumed by sequence number; output leaves in
 * pieces of FLUSH_AT bytes. With --to the recipient index is walked
 * instead of the whole log.
 * optouts: the current suppression list, one row per (scope, recipient).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "export/export.h"
#include "internal.h"

#define EXPORT_CHUNK 4096
#define FLUSH_AT (256 * 1024)

static const char export_usage[] =
	"usage: stopgate export audit [--since T] [--until T] [--from SENDER] [--to RECIPIENT]\n"
	"                             [--campaign ID] [--action A[,A...]] [--format jsonl|csv]\n"
	"                             [--output FILE]\n"
	"       stopgate export optouts [--campaign ID] [--format csv|jsonl] [--output FILE]\n"
	"\n"
	"audit: every field of every event kept by the filters: --since (inclusive) and\n"
	"--until (exclusive) on the time stopgate recorded the event (RFC 3339 or a\n"
	"date), --from / --to numbers (normalized as for check), --campaign, --action\n"
	"(opt_out, opt_in, help, flag_not_sms_capable, clear_not_sms_capable, review,\n"
	"review_resolved, redact, confirmation_sent, campaign, sender). Default format jsonl.\n"
	"optouts: every (scope, recipient) pair opted out now, with the time and source;\n"
	"--campaign keeps the pairs that block that campaign. Default format csv.\n"
	"CSV is RFC 4180; a cell starting with = + - @ is prefixed with ' except a\n"
	"plain +digits phone number. Opens the store read-only (runs beside a daemon).\n";

typedef struct sink {
	FILE *out;
	sg__buf buf;
	sg__export_format fmt;
	sg__export_filter filter;
	uint64_t seen, written;
} sink;

static int sink_flush(sink *s)
{
	if (s->buf.len && fwrite(s->buf.p, 1, s->buf.len, s->out) != s->buf.len)
		return -EIO;
	s->buf.len = 0;
	return 0;
}

static int on_event(const sg_event *ev, void *ctx)
{
	sink *s = ctx;
	s->seen++;
	if (!sg__export_match(&s->filter, ev))
		return 0;
	if (sg__exbuf_event(&s->buf, ev, s->fmt))
		return -ENOMEM;
	s->written++;
	return s->buf.len >= FLUSH_AT ? sink_flush(s) : 0;
}

/* Normalize --from / --to as sg_check() does: the recipient's default
 * country is the sender's. */
static int keys(sg__cmdline *c, char from[SG_KEY_MAX], char to[SG_KEY_MAX], const char **f, const char **t)
{
	const char *dc = c->cfg.default_country[0] ? c->cfg.default_country : NULL;
	const char *fa = sg__cmdline_value(c, "from"), *ta = sg__cmdline_value(c, "to");
	char cc[3];
	*f = *t = NULL;
	if (fa) {
		int rc = sg_number_normalize(fa, strlen(fa), dc, SG_FIELD_ADDRESS, from, NULL);
		if (rc)
			return cli_error("export", "--from '%s': %s", fa, sg_strerror(rc));
		if (!sg_number_country(from, cc))
			dc = cc;
		*f = from;
	}
	if (ta) {
		int rc = sg_number_normalize(ta, strlen(ta), dc, SG_FIELD_ANY, to, NULL);
		if (rc)
			return cli_error("export", "--to '%s': %s", ta, sg_strerror(rc));
		*t = to;
	}
	return 0;
}

static int time_flag(sg__cmdline *c, const char *name, int64_t *ret)
{
	const char *v = sg__cmdline_value(c, name);
	if (v && sg_time_parse(v, ret))
		return cli_error("export", "--%s '%s': expected RFC 3339 or YYYY-MM-DD", name, v);
	return 0;
}

static int export_audit(sg__cmdline *c, sg_engine *e, sink *s)
{
	char from[SG_KEY_MAX], to[SG_KEY_MAX];
	const char *bad = NULL, *actions = sg__cmdline_value(c, "action");
	if (keys(c, from, to, &s->filter.sender, &s->filter.recipient) ||
	    time_flag(c, "since", &s->filter.since_us) || time_flag(c, "until", &s->filter.until_us))
		return CLI_ERROR;
	if (actions && sg__export_actions_parse(actions, &s->filter.actions, &bad))
		return cli_error("export", "--action: unknown action at '%s'", bad);
	s->filter.campaign = sg__cmdline_value(c, "campaign");
	if (s->fmt == SG__EXPORT_CSV && sg__exbuf_header(&s->buf, s->fmt))
		return cli_error("export", "out of memory");
	int rc;
	if (s->filter.recipient) {
		rc = sg_events_for_recipient(e, s->filter.recipient, on_event, s);
	} else {
		uint64_t next = 1;
		do {
			uint64_t before = s->seen;
			rc = sg_events_read(e, next, EXPORT_CHUNK, on_event, s, &next);
			if (s->seen - before < EXPORT_CHUNK)
				break;
		} while (!rc);
	}
	if (!rc)
		rc = sink_flush(s);
	if (rc)
		return cli_error("export", "%s", sg_strerror(rc));
	fprintf(stderr, "stopgate export: %llu of %llu events\n", (unsigned long long)s->written,
		(unsigned long long)s->seen);
	return CLI_OK;
}

static int on_optout(const char *rcpt, const sg_scope_state *st, void *ctx)
{
	sink *s = ctx;
	if (!sg__buf_reserve(&s->buf, SG__EXPORT_OPTOUT_MAX))
		return -ENOMEM;
	size_t n = sg__export_optout(s->buf.p + s->buf.len, rcpt, st, s->fmt);
	s->buf.len += n;
	s->written++;
	return s->buf.len >= FLUSH_AT ? sink_flush(s) : 0;
}

static int export_optouts(sg__cmdline *c, sg_engine *e, sink *s)
{
	const char *header = sg__export_optouts_header;
	size_t hlen = strlen(header);
	if (sg__cmdline_set(c, "since") || sg__cmdline_set(c, "until") || sg__cmdline_set(c, "from") ||
	    sg__cmdline_set(c, "to") || sg__cmdline_set(c, "action"))
		return cli_error("export", "optouts takes only --campaign, --format and --output");
	if (s->fmt == SG__EXPORT_CSV && fwrite(header, 1, hlen, s->out) != hlen)
		return cli_error("export", "write failed");
	int rc = sg_optouts_foreach(e, sg__cmdline_value(c, "campaign"), on_optout, s);
	if (!rc)
		rc = sink_flush(s);
	if (rc)
		return cli_error("export", "%s", sg_strerror(rc));
	fprintf(stderr, "stopgate export: %llu opted-out pairs\n", (unsigned long long)s->written);
	return CLI_OK;
}

/* --output: the export holds personal data, so a new file is 0600 (an
 * existing one keeps its mode), and a symbolic link is refused rather than
 * followed (another local user could plant one where the export goes). */
static FILE *open_output(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int err = errno;
		close(fd);
		errno = err;
	}
	return f;
}

int cmd_export(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {
		{"since", true, NULL}, {"until", true, NULL},  {"from", true, NULL},
		{"to", true, NULL},    {"campaign", true, NULL}, {"action", true, NULL},
		{"format", true, NULL}, {"output", true, NULL}, {NULL, false, NULL}};
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, export_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	if (c.npositional != 1 || (strcmp(c.positional[0], "audit") && strcmp(c.positional[0], "optouts"))) {
		fputs(export_usage, stderr);
		sg__config_free(&c.cfg);
		return CLI_ERROR;
	}
	bool audit = !strcmp(c.positional[0], "audit");
	sink s = {.out = stdout, .fmt = audit ? SG__EXPORT_JSONL : SG__EXPORT_CSV};
	const char *fmt = sg__cmdline_value(&c, "format"), *path = sg__cmdline_value(&c, "output");
	sg_engine *e = NULL;
	if (fmt && sg__export_format_parse(fmt, &s.fmt))
		rc = cli_error("export", "--format: jsonl or csv");
	else if (path && !(s.out = open_output(path)))
		rc = cli_error("export", "%s: %s", path, errno == ELOOP ? "is a symbolic link (refused)" : strerror(errno));
	else if (cli_open_store(&c, true, &e))
		rc = CLI_ERROR;
	else
		rc = audit ? export_audit(&c, e, &s) : export_optouts(&c, e, &s);
	sg_engine_close(e);
	if (s.out && s.out != stdout && fclose(s.out) && !rc)
		rc = cli_error("export", "%s: %s", path, strerror(errno));
	else if (s.out == stdout && fflush(stdout) && !rc)
		rc = cli_error("export", "write failed: %s", strerror(errno));
	sg__buf_free(&s.buf);
	sg__config_free(&c.cfg);
	return rc;
}
