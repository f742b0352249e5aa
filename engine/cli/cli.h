/* SPDX-License-Identifier: Apache-2.0 */
/* The stopgate command line: output helpers and the subcommands (the
 * option parser is engine/config/cmdline.h, shared with the daemon). */
#pragma once
#include <stdbool.h>
#include <cjson/cJSON.h>
#include "stopgate.h"
#include "config/cmdline.h"

/* Exit codes: 0 ok / allow, 1 deny (check), 2 error. */
enum { CLI_OK = 0, CLI_DENY = 1, CLI_ERROR = 2 };

/* Open the engine from the parsed config; prints the error. Never creates
 * a store (a missing one is SG_ENOSTORE, with the way to make one). */
int cli_open(sg__cmdline *c, bool rdonly, sg_engine **ret);
/* The same for a command that never checks (export, verify, review, ...):
 * without the quiet-hours rules. */
int cli_open_store(sg__cmdline *c, bool rdonly, sg_engine **ret);
/* Print what an open of the store in dir that failed with rc means. */
void cli_open_error(const char *dir, int rc);

/* Print an error "stopgate SUBCMD: message" to stderr; returns CLI_ERROR. */
int cli_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How to fix a number that did not normalize with rc ("" when nothing to add). */
const char *cli_number_hint(int rc);
/* After a check answered invalid_number: say on stderr which of FROM and TO
 * did not parse and how to write it. */
void cli_explain_invalid(const char *sub, const sg__cmdline *c, const char *from, const char *to);

/* Print JSON (one line) and free it. */
void cli_print_json(cJSON *json);

/* JSON of a verdict, shared by check and proof. */
cJSON *cli_verdict_json(const sg_verdict *v);

int cmd_check(int argc, char **argv);
int cmd_consent(int argc, char **argv, sg_action action); /* optout / optin */
int cmd_import(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_head(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_export(int argc, char **argv);  /* export audit / optouts */
int cmd_proof(int argc, char **argv);
int cmd_redact(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_review(int argc, char **argv);  /* review list / show / resolve */
int cmd_violations(int argc, char **argv); /* the send ledger's violations report */
