/* SPDX-License-Identifier: Apache-2.0 */
/* The classifier against tests/data/corpus/\*.tsv (one message a line:
 * expected intent TAB text; \n \t \\ escapes; # comments). Prints
 * precision and recall per file and intent. Fails when
 *  - any line of must.tsv (the examples of issue 3) is wrong;
 *  - a file's opt_out precision or recall falls under FLOOR;
 *  - the prefilter changes any result, i.e. a rule's trigger list misses a
 *    text its pattern matches.
 * Usage: test_corpus [FILE.tsv...]; default: every file of the corpus. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "internal.h"
#include "keywords/kw_internal.h"

#define FLOOR 0.95 /* opt_out precision and recall, per file */
#define MAX_FILES 64

static const char *const names[] = {"none", "opt_out", "opt_in", "help"};
static char *files[MAX_FILES];
static size_t nfiles;

typedef struct counts {
	unsigned lines, wrong, drift;
	unsigned tp[4], fp[4], fn[4];
} counts;

static double ratio(unsigned a, unsigned b)
{
	return b ? (double)a / b : 1.0;
}

static size_t unescape(char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\\' && (s[i + 1] == 'n' || s[i + 1] == 't' || s[i + 1] == '\\')) {
			i++;
			s[o++] = s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : '\\';
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = '\0';
	return o;
}

static void run_file(sg__kw_set *set, const char *path, counts *c)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	unsigned no = 0;
	if (!f)
		fail_msg("cannot open %s", path);
	while (fgets(line, sizeof(line), f)) {
		no++;
		line[strcspn(line, "\r\n")] = '\0';
		char *tab = strchr(line, '\t');
		if (!line[0] || line[0] == '#')
			continue;
		int want = -1;
		for (int i = 0; tab && i < 4; i++)
			if ((size_t)(tab - line) == strlen(names[i]) && !strncmp(line, names[i], strlen(names[i])))
				want = i;
		if (want < 0)
			fail_msg("%s:%u: expected INTENT<TAB>TEXT", path, no);
		size_t len = unescape(tab + 1);
		sg_classification r, raw;
		sg__kw_set_prefilter(set, true);
		int rc = sg__kw_classify(set, NULL, tab + 1, len, &r);
		sg__kw_set_prefilter(set, false);
		rc |= sg__kw_classify(set, NULL, tab + 1, len, &raw);
		sg__kw_set_prefilter(set, true);
		if (rc)
			fail_msg("%s:%u: classify failed: %d", path, no, rc);
		if (r.intent != raw.intent || strcmp(r.rule, raw.rule)) {
			c->drift++;
			printf("PREFILTER %s:%u: %s with triggers, %s (%s) without: a trigger is missing\n", path,
			       no, r.rule[0] ? r.rule : "none", raw.rule, names[raw.intent]);
		}
		c->lines++;
		if ((int)r.intent == want) {
			c->tp[want]++;
		} else {
			c->wrong++;
			c->fp[r.intent]++;
			c->fn[want]++;
			printf("WRONG %s:%u: want %s, got %s %s: %s\n", path, no, names[want], names[r.intent],
			       r.rule, tab + 1);
		}
	}
	fclose(f);
}

static void print_row(const char *name, const counts *c)
{
	printf("%-14s %5u %5u", name, c->lines, c->wrong);
	for (int i = 1; i < 4; i++)
		printf("   %5.3f %5.3f", ratio(c->tp[i], c->tp[i] + c->fp[i]), ratio(c->tp[i], c->tp[i] + c->fn[i]));
	printf("\n");
}

static void corpus(void **state)
{
	sg__kw_set *set = *state;
	counts total = {0};
	bool failed = false;
	printf("%-14s %5s %5s   %-11s   %-11s   %-11s\n", "file", "lines", "wrong", "opt_out P R",
	       "opt_in P R", "help P R");
	for (size_t i = 0; i < nfiles; i++) {
		counts c = {0};
		run_file(set, files[i], &c);
		const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
		print_row(base, &c);
		double p = ratio(c.tp[1], c.tp[1] + c.fp[1]), r = ratio(c.tp[1], c.tp[1] + c.fn[1]);
		if ((!strcmp(base, "must.tsv") && c.wrong) || p < FLOOR || r < FLOOR || c.drift) {
			printf("FAIL %s: %u wrong, %u prefilter drifts, opt_out P %.3f R %.3f (floor %.2f)\n",
			       base, c.wrong, c.drift, p, r, FLOOR);
			failed = true;
		}
		total.lines += c.lines;
		total.wrong += c.wrong;
		for (int k = 0; k < 4; k++) {
			total.tp[k] += c.tp[k];
			total.fp[k] += c.fp[k];
			total.fn[k] += c.fn[k];
		}
	}
	print_row("total", &total);
	assert_false(failed);
	assert_true(total.lines > 0);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_files(void)
{
	const char *data = getenv("SG_TEST_DATA");
	char dir[4096];
	if (data && *data)
		snprintf(dir, sizeof(dir), "%s/corpus", data);
	else
		snprintf(dir, sizeof(dir), "%s/../tests/data/corpus", SG_KEYWORDS_DIR_SOURCE);
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *de; nfiles < MAX_FILES && (de = readdir(d));) {
		size_t n = strlen(de->d_name);
		if (n > 4 && !strcmp(de->d_name + n - 4, ".tsv") && de->d_name[0] != '.') {
			char path[8192];
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			files[nfiles++] = strdup(path);
		}
	}
	closedir(d);
	qsort(files, nfiles, sizeof(*files), by_name);
}

static int setup(void **state)
{
	const char *dir = getenv("SG_KEYWORDS");
	char err[512];
	sg__kw_set *set;
	int rc = sg__kw_load(dir && *dir ? dir : SG_KEYWORDS_DIR_SOURCE, &set, err, sizeof(err));
	if (rc)
		fprintf(stderr, "keywords do not load: %s\n", err);
	*state = set;
	return rc;
}

static int teardown(void **state)
{
	sg__kw_free(*state);
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc && nfiles < MAX_FILES; i++)
		files[nfiles++] = strdup(argv[i]);
	if (!nfiles)
		find_files();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(corpus, setup, teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	return rc;
}
