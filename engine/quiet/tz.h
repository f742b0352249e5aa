/* SPDX-License-Identifier: Apache-2.0 */
/* Time zones from the system tzdata (TZif files, RFC 8536), read once at
 * load: a zone becomes one sorted table of UTC offsets, extended from the
 * file's POSIX rule (its footer) to 2100, so that nothing on the check's
 * path reads a file, the environment or the C library's zone state.
 * Also the civil-calendar helpers the quiet-hours rules use. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sg__tz {
	char name[64];
	size_t n;     /* transitions */
	int64_t *at;  /* UTC seconds of transition i, ascending */
	int32_t *off; /* seconds east of UTC from at[i] on */
	int32_t off0; /* before at[0] */
} sg__tz;

/* Load dir/name (dir NULL: /usr/share/zoneinfo, or $SG_ZONEINFO). On
 * failure err says what and *tz is left empty. */
int sg__tz_load(const char *dir, const char *name, sg__tz *tz, char *err, size_t errlen);
void sg__tz_free(sg__tz *tz);
/* The zone's offset at UTC second t. */
int32_t sg__tz_offset(const sg__tz *tz, int64_t t);
/* The first UTC second at which the zone's wall clock reads local or later
 * (local: seconds of a wall-clock date and time counted as if it were UTC).
 * In a spring-forward gap that is the transition itself; in a fall-back
 * overlap, the earlier of the two readings. */
int64_t sg__tz_utc_of_local(const sg__tz *tz, int64_t local);

/* Civil calendar (proleptic Gregorian): days since 1970-01-01. */
int64_t sg__days_from_civil(int y, int m, int d);
void sg__civil_from_days(int64_t days, int *y, int *m, int *d);
/* 0 = Sunday ... 6 = Saturday. */
int sg__weekday(int64_t days);
