/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit export formats, shared by `stopgate export audit`, `stopgate
 * proof` and the daemon's GET /v1/audit, so that every surface writes the
 * same fields the same way.
 *
 * Fields, in this order (JSON member names = CSV header names):
 *   seq, time, event_time, action, source, scope, scope_id, sender,
 *   recipient, campaign, brand, provider, provider_msg_id, rule, body,
 *   body_len, body_redacted, reply, note, body_sha256, prev_hash, hash
 * A review resolution (action review_resolved) has one more JSON member
 * after hash: "review": {"resolved": the review event's seq, "decision",
 * "by", "note"}, read from its rule and note (stopgate.h, "the review
 * queue"); in CSV the rule and note cells carry the same facts.
 * Times are RFC 3339 UTC with microseconds; hashes lowercase hex. An absent
 * string is JSON null / an empty CSV cell. body is null (empty cell) when the
 * event had none or it was redacted; body_redacted tells which (body_len and
 * body_sha256 still describe the removed text).
 *
 * JSONL: one object per line ("\n"). Invalid UTF-8 bytes become U+FFFD; the
 * body digest proves the original bytes.
 *
 * CSV (RFC 4180): CRLF records; a cell is quoted when it holds a comma, a
 * quote, CR or LF, with quotes doubled; UTF-8, invalid bytes and NUL become
 * U+FFFD. Spreadsheet formula injection: a cell starting with = + - @ TAB or
 * CR gets a leading single quote (') so a spreadsheet shows it as text,
 * EXCEPT a cell that is exactly "+" followed by 1..20 digits (an E.164 key
 * such as +14155552671), which no spreadsheet evaluates as a formula and
 * which must stay importable as a phone number.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"
#include "buf.h"

typedef enum sg__export_format {
	SG__EXPORT_JSONL = 0,
	SG__EXPORT_CSV = 1,
} sg__export_format;

/* "jsonl" / "csv" (also "json" for jsonl); -EINVAL otherwise. */
int sg__export_format_parse(const char *name, sg__export_format *ret);

/* Longest CSV header line, NUL included. */
#define SG__EXPORT_HEADER_MAX 256

/* The CSV header record (with CRLF) into out; "" for JSONL. Returns the
 * length (NUL not counted). */
size_t sg__export_header(char out[SG__EXPORT_HEADER_MAX], sg__export_format fmt);

/* An upper bound of what sg__export_event() writes for ev, NUL included. */
size_t sg__export_bound(const sg_event *ev, sg__export_format fmt);

/* Format ev as one JSONL line or one CSV record, line end included, into
 * out, which holds at least sg__export_bound(ev, fmt) bytes. NUL-terminates;
 * returns the length without the NUL. No allocation. */
size_t sg__export_event(char *out, const sg_event *ev, sg__export_format fmt);

/* The cell and value writers the event formats use, for other exports
 * (the suppression list, proofs) to match them. Each writes at p and
 * returns the new end; the caller provides room: 3 * len + 3 bytes for a
 * CSV cell, 6 * len + 2 for a JSON string, SG__EXPORT_TIME_LEN for a time.
 * A NULL s writes an empty cell / null. */
#define SG__EXPORT_TIME_LEN 27
char *sg__export_csv_cell(char *p, const char *s, size_t len);
char *sg__export_json_str(char *p, const char *s, size_t len);
char *sg__export_time(char *p, int64_t us);

/* For callers that batch lines in an sg__buf (buf.h): append one formatted
 * event / the header. Returns 0 or -ENOMEM. */
int sg__exbuf_event(sg__buf *b, const sg_event *ev, sg__export_format fmt);
int sg__exbuf_header(sg__buf *b, sg__export_format fmt);

/* The suppression list (sg_optouts_foreach): one row per opted-out
 * (scope, recipient) pair. CSV columns (the header, CRLF included):
 *   phone_number,scope,scope_id,opted_out_at,recorded_at,source,seq,latest_at,latest_seq
 * JSONL members: the same names. Writes into out (SG__EXPORT_OPTOUT_MAX
 * bytes hold any row: keys and scope ids are shorter than SG_KEY_MAX),
 * NUL-terminates, returns the length. */
#define SG__EXPORT_OPTOUT_MAX 2048
extern const char sg__export_optouts_header[];
size_t sg__export_optout(char *out, const char *rcpt, const sg_scope_state *st, sg__export_format fmt);

/* Which events an export keeps. Zero-initialised: every event. */
typedef struct sg__export_filter {
	int64_t since_us;      /* keep time_us >= since_us; 0: no lower bound */
	int64_t until_us;      /* keep time_us <  until_us; 0: no upper bound */
	const char *sender;    /* canonical key, or NULL: any */
	const char *recipient; /* canonical key, or NULL: any */
	const char *campaign;  /* campaign id, or NULL: any */
	uint32_t actions;      /* bit (1u << action) per action kept; 0: every action */
} sg__export_filter;

bool sg__export_match(const sg__export_filter *f, const sg_event *ev);

/* Parse a comma-separated list of action names ("opt_out,opt_in") into a
 * filter mask. -EINVAL (and *bad, if not NULL, at the unknown name's start)
 * for an unknown name. */
int sg__export_actions_parse(const char *list, uint32_t *mask, const char **bad);

/* The violations report (export/violations.c): the CSV header (nothing for
 * JSONL) and one violation. 0 or -ENOMEM. */
int sg__exbuf_violation_header(sg__buf *b, sg__export_format fmt);
int sg__exbuf_violation(sg__buf *b, const sg_violation *v, sg__export_format fmt);
