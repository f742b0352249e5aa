/* SPDX-License-Identifier: Apache-2.0 */
/* The classification's calibrated score (engine/keywords/calib.c): a rule's
 * precision from keywords/calibration.tsv shrunk toward its tier's prior,
 * the prior without the file, and a broken file refused with file:line. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "keywords/kw_internal.h"
#include "testutil.h"
#include "keywords/kw.h"

static void remove_file(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static double score_of(const sg__kw_set *s, const char *text)
{
	sg_classification c;
	assert_int_equal(sg__kw_classify(s, NULL, text, strlen(text), &c), 0);
	return sg__kw_score(s, &c);
}

static void scores_from_the_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/sg-calib-XXXXXX", err[512];
	assert_non_null(mkdtemp(dir));
	tu_write_file(dir, "xx.kw", "# keywords\nexact opt_out xx.stop HALTE\nexact opt_out xx.rare ARRET\n\n"
				 "# a keyword in a text\nprobable opt_out xx.maybe halte \\bhalte\\b\n");
	sg__kw_set *s = NULL;
	/* no calibration.tsv: every score is its tier's prior */
	if (sg__kw_load(dir, &s, err, sizeof(err)))
		fail_msg("load: %s", err);
	assert_true(fabs(score_of(s, "HALTE") - 0.98) < 1e-9);
	assert_true(fabs(score_of(s, "je dis halte la") - 0.6) < 1e-9);
	assert_true(fabs(score_of(s, "bonjour") - 0.9) < 1e-9);
	sg__kw_free(s);

	/* with it: (right + 5 prior) / (total + 5) */
	tu_write_file(dir, "calibration.tsv", "# counts\nxx.stop\topt_out\t95\t95\nxx.maybe\topt_out\t10\t40\n"
					   "-\tnone\t80\t100\n");
	assert_int_equal(sg__kw_load(dir, &s, err, sizeof(err)), 0);
	assert_true(fabs(score_of(s, "HALTE") - (95 + 5 * 0.98) / 100.0) < 1e-9);
	assert_true(fabs(score_of(s, "je dis halte la") - (10 + 5 * 0.6) / 45.0) < 1e-9);
	assert_true(fabs(score_of(s, "bonjour") - (80 + 5 * 0.9) / 105.0) < 1e-9);
	assert_true(fabs(score_of(s, "ARRET") - 0.98) < 1e-9); /* not in the file: the prior */
	assert_true(score_of(s, "je dis halte la") < score_of(s, "HALTE"));
	sg__kw_free(s);

	static const struct { const char *text; const char *why; } bad[] = {
		{"xx.stop\topt_out\t95\n", "want: rule TAB intent TAB right TAB total"},
		{"xx.stop\topt_out\t96\t95\n", "right > total"},
		{"xx.stop\topt_out\t0\t0\n", "total 0"},
		{"xx.stop\topt_out\t1\t2\nxx.stop\topt_out\t1\t2\n", "listed twice"},
		{"# fine\nxx.stop opt_out 1 2\n", "want: rule TAB"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_write_file(dir, "calibration.tsv", bad[i].text);
		int rc = sg__kw_load(dir, &s, err, sizeof(err));
		if (rc != SG_EKEYWORDS || !strstr(err, bad[i].why) || !strstr(err, "calibration.tsv:") ||
		    !strstr(sg__kw_last_error(), "scripts/calibrate.py"))
			fail_msg("case %zu: rc %d err \"%s\", want \"%s\"", i, rc, err, bad[i].why);
	}
	assert_true(strstr(err, "calibration.tsv:2:") != NULL); /* the line named */
	remove_file(dir, "calibration.tsv");
	remove_file(dir, "xx.kw");
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scores_from_the_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
