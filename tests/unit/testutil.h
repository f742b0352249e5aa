/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for the cmocka unit tests: temporary data directories and
 * engines opened on them with the source tree's keyword set. */
#pragma once
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "stopgate.h"

static inline int tu_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh directory under $TMPDIR; the caller removes it with tu_rmdir. */
static inline char *tu_mkdtemp(void)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *path = malloc(strlen(base) + 32);
	assert_non_null(path);
	sprintf(path, "%s/sg-test-XXXXXX", base);
	assert_non_null(mkdtemp(path));
	return path;
}

static inline void tu_rmdir(char *path)
{
	if (path)
		nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

/* Write text to dir/name (a rule file, a model, a calibration). */
static inline void tu_write_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The keyword rules of the source tree (SG_KEYWORDS). */
static inline const char *tu_keywords_full(void)
{
	const char *k = getenv("SG_KEYWORDS");
	return k ? k : SG_KEYWORDS_DIR_SOURCE;
}

/* The keyword rules tests open engines with: the source tree's, or "none"
 * (a check-only engine) in a file that defines TU_CHECK_ONLY because it
 * never classifies — under valgrind each open would otherwise compile
 * every rule (~3 s). Such a file's classifying test uses tu_open_full(). */
static inline const char *tu_keywords(void)
{
#ifdef TU_CHECK_ONLY
	return "none";
#else
	return tu_keywords_full();
#endif
}

/* Open an engine on dir with default options, US default country. */
static inline sg_engine *tu_open(const char *dir, unsigned flags, const sg_policy *policy)
{
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.flags = flags & SG_OPEN_RDONLY ? flags : flags | SG_OPEN_CREATE; /* writers make the store */
	o.keywords_dir = tu_keywords();
	o.default_country = "US";
	if (policy)
		o.policy = policy;
	sg_engine *e = NULL;
	int rc = sg_engine_open(&o, &e);
	if (rc)
		fprintf(stderr, "sg_engine_open(%s): %s\n", dir, sg_strerror(rc));
	assert_int_equal(rc, 0);
	return e;
}

/* A writer on dir (created) with these keyword rules, US default country. */
static inline sg_engine *tu_open_kw(const char *dir, const char *keywords)
{
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.flags = SG_OPEN_CREATE;
	o.keywords_dir = keywords;
	o.default_country = "US";
	sg_engine *e = NULL;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	return e;
}

/* tu_open with the full keyword rules, also in a TU_CHECK_ONLY file. */
static inline sg_engine *tu_open_full(const char *dir)
{
	return tu_open_kw(dir, tu_keywords_full());
}

/* Record one event and return its outcome. */
static inline sg_event_out tu_record(sg_engine *e, sg_action action, sg_source source, const char *from,
				     const char *to, sg_scope_kind scope, const char *scope_id)
{
	sg_event_in ev = {.size = sizeof(sg_event_in), .action = action, .source = source, .sender = from, .recipient = to,
			  .scope = scope, .scope_id = scope_id};
	sg_event_out out;
	assert_int_equal(sg_record(e, &ev, 1, &out), 0);
	return out;
}

/* Open dir with exactly these flags (no create unless asked): the raw
 * result, for tests of opening itself. */
static inline int tu_open_flags(const char *dir, unsigned flags, sg_engine **e)
{
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.flags = flags;
	o.keywords_dir = tu_keywords();
	*e = NULL;
	return sg_engine_open(&o, e);
}

/* Create a store in dir holding n operator opt-outs, and close it. */
static inline void tu_store_with(const char *dir, int n)
{
	sg_engine *e;
	assert_int_equal(tu_open_flags(dir, SG_OPEN_CREATE, &e), 0);
	for (int i = 0; i < n; i++) {
		char to[32];
		snprintf(to, sizeof(to), "+1415555%04d", i);
		tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", to, 0, NULL);
	}
	sg_engine_close(e);
}
