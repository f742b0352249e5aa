/* SPDX-License-Identifier: Apache-2.0 */
/* `stopgate import optouts` of a provider message log: its layouts
 * (import_layouts.c, whose header helpers cmd_import.c shares) and the
 * import itself (import_logs.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"
#include "export/csv.h"

/* A header cell reduced to lower-case letters and digits ("Sent Date" ->
 * "sentdate"). */
void import_squash(const char *in, char *out, size_t size);

/* The first column of the header whose squashed name is one of names
 * (NULL-terminated), trying the names in order; -1 if none. */
int import_find_column(const sg__csv *header, const char *const *names);

/* A row's time: RFC 3339 or "YYYY-MM-DD HH:MM[:SS]" (UTC without a zone),
 * RFC 2822 ("Tue, 03 Nov 2026 12:00:00 +0000", as the Twilio API writes
 * it), or UNIX epoch seconds (optionally with a fraction) / milliseconds
 * (13 digits or more). -EINVAL otherwise. */
int import_parse_time(const char *s, int64_t *ret_us);

/* Does this header row describe a message log (a direction column, a
 * message text column, or a column only logs have such as Sid or SentDate)
 * rather than an opt-out list? */
bool import_is_message_log(const sg__csv *header);

enum { IMPORT_DIR_UNKNOWN = 0, IMPORT_DIR_IN = 1, IMPORT_DIR_OUT = 2 };

/* A direction cell: inbound / in / incoming / mo / received, or outbound /
 * outbound-api / outbound-reply / outbound-call / out / outgoing / mt /
 * sent (case and punctuation ignored); anything else is UNKNOWN. */
int import_direction(const char *value);

/* Which column of a message log is which (-1: absent). */
typedef struct import_layout {
	int dir, from, to, text, time, id, last; /* last: the highest of them */
	const char *provider;                    /* as the header tells, or NULL */
} import_layout;

/* Read the header of a message log. A log is refused (an error printed,
 * CLI_ERROR returned) without From/To, text or time columns, or without a
 * direction column when from_key (--from) is NULL. */
int import_read_layout(const sg__csv *header, const char *path, const char *from_key, import_layout *L);

/* Import the rest of csv (its header row just read) as a message log: only
 * inbound texts the classifier reads as opt-out or opt-in, in time order,
 * handset = recipient and our number = sender. from_key: --from as a key
 * (our number: a filter, and the side of a log without a direction
 * column), or NULL. Prints the report; returns CLI_OK or CLI_ERROR. */
int import_message_log(sg__cmdline *c, sg_engine *e, const char *path, sg__csv *csv, FILE *f, const char *from_key,
		       sg_scope_kind scope);
