/* SPDX-License-Identifier: Apache-2.0 */
/* A streaming RFC 4180 CSV reader: quoted fields with commas, doubled
 * quotes and newlines; CRLF or LF records; a UTF-8 BOM at the start is
 * skipped. Constant memory per record (bounded). */
#pragma once
#include <stdio.h>
#include <stddef.h>

#define SG__CSV_MAX_FIELDS 32
#define SG__CSV_MAX_RECORD 8192

typedef struct sg__csv {
	const char *data; /* the input, when reading from memory */
	size_t len, pos;
	FILE *fp;         /* or a stream */
	unsigned long line;   /* line where the current record started (1-based) */
	int nfields;
	char *fields[SG__CSV_MAX_FIELDS];
	char buf[SG__CSV_MAX_RECORD];
	int started;
} sg__csv;

void sg__csv_init_mem(sg__csv *c, const char *data, size_t len);
void sg__csv_init_file(sg__csv *c, FILE *fp);

/* Read the next record into c->fields. Returns 1 for a record, 0 at the
 * end, or a negative error: SG_ETOOLONG (record or field count too
 * large), -EINVAL (an unterminated quote or text after a closing quote). */
int sg__csv_next(sg__csv *c);
