/* SPDX-License-Identifier: Apache-2.0 */
/* Quiet hours: which local times a jurisdiction's law lets a message of a
 * category be sent at, for the number it goes to.
 *
 *   rules.c   the rule files (quiet-hours/NAME.qh): hours per weekday,
 *             holidays, effective date, categories, statute
 *   zones.c   number -> region and zones (quiet-hours/zones/nanp.tsv for
 *             +1, zone.tab for other countries)
 *   windows.c the set: profiles (rules x zones) with their allowed UTC
 *             intervals precomputed over a horizon, and the lookup the
 *             check calls
 * A set is immutable once built; sg_engine_reload() swaps it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "stopgate.h"
#include "quiet/tz.h"

#define SG__QH_RULES_MAX 64
#define SG__QH_CATEGORIES 5 /* sg_category values */

typedef enum qh_holiday_kind {
	QH_FIXED = 1,  /* MM-DD every year */
	QH_DATE = 2,   /* YYYY-MM-DD[..YYYY-MM-DD]: one day or a range */
	QH_NTH = 3,    /* nth (1-4, -1 = last) weekday of a month */
	QH_EASTER = 4, /* Easter Sunday + offset days */
} qh_holiday_kind;

typedef struct sg__qh_holiday {
	qh_holiday_kind kind;
	int month, day, nth, wday, offset;
	int64_t from_day, to_day; /* QH_DATE: days since epoch, inclusive */
	char name[64];
} sg__qh_holiday;

typedef struct sg__qh_rule {
	char file[64];          /* "us-fl.qh" */
	char jurisdiction[8];   /* "US", "US-FL", "CA" */
	char statute[200];
	unsigned categories;    /* bit (1u << sg_category) */
	int16_t open[7], close[7]; /* minutes after local midnight, 0 = Sunday; open < 0: none that day */
	bool observed_monday;   /* a holiday on a Sunday is also kept the next Monday */
	int64_t effective_day;  /* days since epoch the rule applies from; INT64_MIN: always */
	char also_zone[64];     /* also evaluated in this zone ("" none), e.g. Etc/GMT+6 */
	sg__qh_holiday *holidays;
	size_t nholidays;
} sg__qh_rule;

/* Parse one rule file; on error *err holds "file:line: what". */
int sg__qh_rule_parse(const char *path, const char *base, sg__qh_rule *r, char *err, size_t errlen);
void sg__qh_rule_free(sg__qh_rule *r);
/* Whether the rule keeps local day `day` (days since epoch) closed. */
bool sg__qh_rule_closed(const sg__qh_rule *r, int64_t day, const char **why);

typedef struct sg__qh_set sg__qh_set;

/* Load every *.qh of dir and the zone data of dir/zones. NULL dir or a
 * dir without *.qh files: an empty set (no quiet hours). */
int sg__qh_load(const char *dir, int64_t now_us, sg__qh_set **ret, char *err, size_t errlen);
void sg__qh_free(sg__qh_set *set);
/* The reason of this thread's last failed load ("us-fl.qh:12: ..."), "" none. */
const char *sg__qh_last_error(void);
size_t sg__qh_rule_count(const sg__qh_set *set);

/* The country of a sender key for the rules: for +1 the NPA's (CA for
 * +1416...), else cc is left as it is. */
void sg__qh_sender_country(const sg__qh_set *set, const char *key, char cc[3]);

/* What the check needs back. */
typedef struct sg__qh_answer {
	bool quiet;             /* not allowed at `at` */
	int64_t next_allowed_s; /* UTC seconds; 0: none within the search horizon */
	const char *region;     /* static for the set's life */
	const char *zones;      /* "America/Chicago,America/New_York" */
	const sg__qh_rule *rule; /* quiet: the rule that decided (the one whose window opens last) */
} sg__qh_answer;

/* Evaluate quiet hours for recipient key `to` (canonical "+E.164") at UTC
 * second at, for category cat; sender_key (may be NULL) and sender_cc
 * (its country as sg_number_country says) choose the country of a number
 * with no place; skip_unknown: such a number gets no rule at all. No rule applying: *ret->quiet false, region etc.
 * may still be set. Thread-safe, no allocation on the common path. */
void sg__qh_eval(const sg__qh_set *set, const char *to, const char *sender_key, const char *sender_cc,
		 sg_category cat, bool skip_unknown, int64_t at, sg__qh_answer *ret);
