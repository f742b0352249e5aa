/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stopgate violations [--since T] [--until T] [--format jsonl|csv]
 *
 * Every recorded send the check would have denied at its send time
 * (sg_violations), one line each, as GET /v1/violations writes them.
 * Exit 0 when there is none, 1 when there are, 2 on an error: an audit
 * script can use it as a test. Opens the store read-only (runs beside a
 * daemon).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "export/export.h"
#include "internal.h"

#define FLUSH_AT (256 * 1024)

static const char violations_usage[] =
	"usage: stopgate violations [--since T] [--until T] [--format jsonl|csv]\n"
	"\n"
	"Every recorded send (POST /v1/sends, provider status callbacks) that the check\n"
	"would have denied when it was sent: the recipient had opted out at a scope\n"
	"enclosing the sender (the one allowed confirmation excepted), the campaign was\n"
	"not ACTIVE, or a frequency cap was exceeded. Each line names the send and the\n"
	"event that made it a violation. --since (inclusive) and --until (exclusive) are\n"
	"on the send's time (RFC 3339 or a date). Default format jsonl.\n"
	"Exit status: 0 none, 1 violations found, 2 error.\n";

typedef struct vsink {
	sg__buf buf;
	sg__export_format fmt;
	uint64_t n;
} vsink;

static int flush(vsink *s)
{
	if (s->buf.len && fwrite(s->buf.p, 1, s->buf.len, stdout) != s->buf.len)
		return -EIO;
	s->buf.len = 0;
	return 0;
}

static int on_violation(const sg_violation *v, void *ctx)
{
	vsink *s = ctx;
	s->n++;
	if (sg__exbuf_violation(&s->buf, v, s->fmt))
		return -ENOMEM;
	return s->buf.len >= FLUSH_AT ? flush(s) : 0;
}

int cmd_violations(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {
		{"since", true, NULL}, {"until", true, NULL}, {"format", true, NULL}, {NULL, false, NULL}};
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, violations_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	vsink s = {.fmt = SG__EXPORT_JSONL};
	int64_t since = 0, until = 0;
	const char *fmt = sg__cmdline_value(&c, "format"), *sv = sg__cmdline_value(&c, "since"),
		   *uv = sg__cmdline_value(&c, "until");
	sg_engine *e = NULL;
	if (c.npositional) {
		fputs(violations_usage, stderr);
		rc = CLI_ERROR;
	} else if (fmt && sg__export_format_parse(fmt, &s.fmt)) {
		rc = cli_error("violations", "--format: jsonl or csv");
	} else if ((sv && sg_time_parse(sv, &since)) || (uv && sg_time_parse(uv, &until))) {
		rc = cli_error("violations", "--since / --until: an RFC 3339 time or a date (YYYY-MM-DD)");
	} else if (cli_open(&c, true, &e)) {
		rc = CLI_ERROR;
	} else if (sg__exbuf_violation_header(&s.buf, s.fmt)) {
		rc = cli_error("violations", "out of memory");
	} else {
		int r = sg_violations(e, since, until, on_violation, &s);
		if (!r)
			r = flush(&s);
		if (r)
			rc = cli_error("violations", "%s", sg_strerror(r));
		else if (fflush(stdout))
			rc = cli_error("violations", "write failed: %s", strerror(errno));
		else
			rc = s.n ? CLI_DENY : CLI_OK;
	}
	sg_engine_close(e);
	sg__buf_free(&s.buf);
	sg__config_free(&c.cfg);
	return rc;
}
