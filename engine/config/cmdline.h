/* SPDX-License-Identifier: Apache-2.0 */
/* The command line every stopgate command shares (CLI subcommands and
 * stopgate serve). */
#pragma once
#include <stdbool.h>
#include "config/config.h"

#define SG__CMDLINE_MAX_POSITIONAL 1024 /* stopgate check FROM TO... */
#define SG__CMDLINE_MAX_FLAGS 16

/* One command-specific option ("--scope VALUE" or "--stdin"). */
typedef struct sg__cmdline_flag {
	const char *name;     /* without the dashes */
	bool takes_value;
	const char *value;    /* set when given ("" for a bare flag) */
} sg__cmdline_flag;

typedef struct sg__cmdline {
	sg__config cfg;
	const char *positional[SG__CMDLINE_MAX_POSITIONAL];
	int npositional;
	sg__cmdline_flag flags[SG__CMDLINE_MAX_FLAGS];
	int nflags;
} sg__cmdline;

/* Parse argv (after the command word): the common options --data,
 * --config, --country, --keywords, --help, then the flags declared in
 * flags[] (a NULL-name terminated list), the rest positional. Prints the
 * usage and returns 1 for --help, prints an error and returns -1 on a bad
 * option, else 0. */
int sg__cmdline_parse(sg__cmdline *c, int argc, char **argv, const sg__cmdline_flag *flags,
		      const char *usage);
const char *sg__cmdline_value(const sg__cmdline *c, const char *name);
bool sg__cmdline_set(const sg__cmdline *c, const char *name);
