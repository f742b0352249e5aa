/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the RFC 4180 CSV reader behind `stopgate import`
 * (sg__csv_next in engine/export/csv.c). The input is the file. It is read twice,
 * from memory and as a stream (fmemopen), record by record.
 * Invariants (abort() when broken):
 *  - each call returns 1, 0 (end), SG_ETOOLONG or -EINVAL, and the first
 *    non-1 result ends the file;
 *  - a record has 1..SG__CSV_MAX_FIELDS fields, each a NUL-terminated
 *    string inside the record buffer, in order and not overlapping; line
 *    numbers never go backwards; every record consumes input (no endless
 *    loop);
 *  - memory and stream reading give the same records, results and lines;
 *  - a record written back with every field quoted (quotes doubled) reads
 *    back as the same fields.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/csv.h"
#include "internal.h"

static void die(const char *what, const uint8_t *in, size_t len)
{
	fprintf(stderr, "fuzz_csv: %s; input (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 300; i++)
		fprintf(stderr, " %02x", in[i]);
	fputc('\n', stderr);
	abort();
}

static void check_record(const sg__csv *c, const uint8_t *in, size_t len)
{
	if (c->nfields < 1 || c->nfields > SG__CSV_MAX_FIELDS)
		die("field count out of range", in, len);
	const char *end = c->buf + sizeof(c->buf);
	const char *prev_end = c->buf;
	for (int i = 0; i < c->nfields; i++) {
		const char *f = c->fields[i];
		if (f < prev_end || f >= end)
			die("field outside the record buffer or overlapping", in, len);
		const char *nul = memchr(f, '\0', (size_t)(end - f));
		if (!nul)
			die("field not terminated inside the buffer", in, len);
		prev_end = nul + 1;
	}
}

/* Every field quoted, quotes doubled, CRLF: must read back the same. */
static void round_trip(const sg__csv *c, const uint8_t *in, size_t len)
{
	size_t cap = 2 * SG__CSV_MAX_RECORD + 3 * SG__CSV_MAX_FIELDS + 4, n = 0;
	char *text = malloc(cap);
	sg__csv *back = malloc(sizeof(*back));
	if (!text || !back)
		abort();
	for (int i = 0; i < c->nfields; i++) {
		if (i)
			text[n++] = ',';
		text[n++] = '"';
		for (const char *p = c->fields[i]; *p; p++) {
			if (*p == '"')
				text[n++] = '"';
			text[n++] = *p;
		}
		text[n++] = '"';
	}
	text[n++] = '\r';
	text[n++] = '\n';
	sg__csv_init_mem(back, text, n);
	if (sg__csv_next(back) != 1 || back->nfields != c->nfields)
		die("a quoted record does not read back", in, len);
	for (int i = 0; i < c->nfields; i++)
		if (strcmp(back->fields[i], c->fields[i]))
			die("a quoted field reads back differently", in, len);
	if (sg__csv_next(back) != 0)
		die("a quoted record reads back as more than one", in, len);
	free(back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sg__csv *m = malloc(sizeof(*m)), *s = malloc(sizeof(*s));
	if (!m || !s)
		abort();
	FILE *fp = size ? fmemopen((void *)data, size, "r") : NULL;
	sg__csv_init_mem(m, (const char *)data, size);
	if (fp)
		sg__csv_init_file(s, fp);
	unsigned long last_line = 0;
	for (size_t records = 0;; records++) {
		if (records > size + 1)
			die("more records than input bytes", data, size);
		size_t before = m->pos;
		int rc = sg__csv_next(m);
		if (rc != 1 && rc != 0 && rc != SG_ETOOLONG && rc != -EINVAL)
			die("unexpected return code", data, size);
		if (fp) {
			int rs = sg__csv_next(s);
			if (rs != rc || s->line != m->line || (rc == 1 && s->nfields != m->nfields))
				die("memory and stream reading disagree", data, size);
			for (int i = 0; rc == 1 && i < m->nfields; i++)
				if (strcmp(s->fields[i], m->fields[i]))
					die("memory and stream fields differ", data, size);
		}
		if (rc != 1)
			break;
		if (m->pos == before)
			die("a record consumed no input", data, size);
		if (m->line < last_line)
			die("line numbers went backwards", data, size);
		last_line = m->line;
		check_record(m, data, size);
		round_trip(m, data, size);
	}
	if (fp)
		fclose(fp);
	free(m);
	free(s);
	return 0;
}
