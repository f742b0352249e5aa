/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the two file formats quiet hours read at load, a rule file
 * (sg__qh_rule_parse, engine/quiet/rules.c) and a TZif zone file
 * (sg__tz_load, engine/quiet/tz.c). The first byte picks the format, the
 * rest is the file, written to a private temporary directory.
 * Invariants (abort() when broken):
 *  - a rule either parses (jurisdiction, statute and categories set, every
 *    weekday given, open < close or none) or fails with an error naming
 *    "fuzz.qh:<line>:"; evaluating a parsed rule for 800 days never crashes;
 *  - a zone either fails with a message or loads with ascending
 *    transitions and offsets within +-26 h, and converting local times of
 *    the loaded zone back never goes backwards past a day.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "quiet/quiet.h"

static char dir[64];

static void die(const char *what)
{
	fprintf(stderr, "fuzz_quiet: %s\n", what);
	abort();
}

static void put(const char *name, const uint8_t *in, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(in, 1, len, f) != len || fclose(f))
		die("cannot write the input");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/sg-fuzz-quiet-XXXXXX");
		if (!mkdtemp(dir))
			die("mkdtemp");
	}
	if (size < 1)
		return 0;
	char err[512], path[128];
	if (data[0] & 1) {
		put("fuzz.qh", data + 1, size - 1);
		snprintf(path, sizeof(path), "%s/fuzz.qh", dir);
		sg__qh_rule r;
		int rc = sg__qh_rule_parse(path, "fuzz.qh", &r, err, sizeof(err));
		if (rc) {
			if (strncmp(err, "fuzz.qh:", 8))
				die("an error that does not name the file");
			return 0;
		}
		if (!r.jurisdiction[0] || !r.statute[0] || !r.categories)
			die("a rule without jurisdiction, statute or categories");
		for (int d = 0; d < 7; d++)
			if (r.open[d] >= 0 && r.open[d] >= r.close[d])
				die("open >= close");
		int64_t base = sg__days_from_civil(2026, 1, 1);
		for (int64_t d = base; d < base + 800; d++)
			(void)sg__qh_rule_closed(&r, d, NULL);
		sg__qh_rule_free(&r);
	} else {
		put("Fuzz", data + 1, size - 1);
		sg__tz tz;
		if (sg__tz_load(dir, "Fuzz", &tz, err, sizeof(err))) {
			if (!err[0])
				die("a failed zone load without a message");
			return 0;
		}
		for (size_t i = 0; i < tz.n; i++) {
			if (i && tz.at[i] <= tz.at[i - 1])
				die("transitions not ascending");
			if (tz.off[i] < -26 * 3600 || tz.off[i] > 26 * 3600)
				die("an offset beyond a day");
		}
		for (int64_t t = 1767225600; t < 1767225600 + 400 * 86400LL; t += 86400 * 7) {
			int64_t u = sg__tz_utc_of_local(&tz, t);
			(void)sg__tz_offset(&tz, u);
		}
		sg__tz_free(&tz);
	}
	return 0;
}
