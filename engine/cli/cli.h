/* SPDX-License-Identifier: Apache-2.0 */
/* The stopgate command line: shared option parsing and output helpers. */
#pragma once
#include <stdbool.h>
#include <cjson/cJSON.h>
#include "stopgate.h"
#include "cli/config.h"

#define CLI_MAX_POSITIONAL 8
#define CLI_MAX_FLAGS 16

/* Exit codes: 0 ok / allow, 1 deny (check), 2 error. */
enum { CLI_OK = 0, CLI_DENY = 1, CLI_ERROR = 2 };

/* One subcommand-specific option ("--scope VALUE" or "--stdin"). */
typedef struct cli_flag {
	const char *name;     /* without the dashes */
	bool takes_value;
	const char *value;    /* set when given ("" for a bare flag) */
} cli_flag;

typedef struct cli {
	sg_config cfg;
	const char *positional[CLI_MAX_POSITIONAL];
	int npositional;
	cli_flag flags[CLI_MAX_FLAGS];
	int nflags;
} cli;

/* Parse argv (after the subcommand word): the common options --data,
 * --config, --country, --keywords, --help, then the flags declared in
 * flags[] (a NULL-name terminated list), the rest positional. Prints the
 * usage and returns 1 for --help, prints an error and returns -1 on a bad
 * option, else 0. */
int cli_parse(cli *c, int argc, char **argv, const cli_flag *flags, const char *usage);
const char *cli_flag_value(const cli *c, const char *name);
bool cli_flag_set(const cli *c, const char *name);

/* Open the engine from the parsed config; prints the error. Never creates
 * a store (a missing one is SG_ENOSTORE, with the way to make one). */
int cli_open(cli *c, bool rdonly, sg_engine **ret);
/* Print what an open of the store in dir that failed with rc means. */
void cli_open_error(const char *dir, int rc);

/* Print an error "stopgate SUBCMD: message" to stderr; returns CLI_ERROR. */
int cli_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
