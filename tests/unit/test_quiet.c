/* SPDX-License-Identifier: Apache-2.0 */
/* Quiet hours: every jurisdiction of quiet-hours/, DST in several zones, a
 * split area code, a non-geographic number, Sunday and holiday rules,
 * next_allowed_at across a weekend, categories and the exemptions. Every
 * instant is fixed (the `at` of sg_check_ex), so no test depends on the
 * clock; the rules are the shipped ones of the source tree. */
#include <errno.h>
#include <time.h>
#include <sys/stat.h>
#include "testutil.h"
#include "internal.h"
#include "quiet/quiet.h"

#define NY_SENDER "+12125550100"
#define CA_SENDER "+14165550100"

typedef struct fixture {
	char *dir;
	sg_engine *e;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->dir = tu_mkdtemp();
	sg_policy pol;
	sg_policy_default(&pol);
	pol.default_category = SG_CATEGORY_MARKETING;
	f->e = tu_open(f->dir, 0, &pol);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	sg_engine_close(f->e);
	tu_rmdir(f->dir);
	free(f);
	return 0;
}

static int64_t at(const char *rfc3339)
{
	int64_t us;
	assert_int_equal(sg_time_parse(rfc3339, &us), 0);
	return us;
}

static void check_at(sg_engine *e, const char *from, const char *to, const char *when, sg_purpose purpose,
		     sg_category cat, sg_verdict *v, sg_quiet *q)
{
	sg_check_opts o;
	sg_check_opts_default(&o);
	o.purpose = purpose;
	o.category = cat;
	o.at_us = at(when);
	assert_int_equal(sg_check_ex(e, from, &to, 1, &o, v, q), 0);
}

/* One expectation: to, instant, allowed?, next_allowed ("" none), rule file prefix, region. */
typedef struct expect {
	const char *what, *from, *to, *when;
	bool allow;
	const char *next, *rule, *region, *tz;
} expect;

static void run(sg_engine *e, const expect *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sg_verdict v;
		sg_quiet q;
		check_at(e, x[i].from ? x[i].from : NY_SENDER, x[i].to, x[i].when, SG_PURPOSE_MESSAGE,
			 SG_CATEGORY_MARKETING, &v, &q);
		char next[32] = "";
		if (q.next_allowed_us)
			sg_time_format(q.next_allowed_us, next);
		if (v.allow != x[i].allow || (x[i].next && strncmp(next, x[i].next, strlen(x[i].next))) ||
		    (x[i].rule && strncmp(q.rule, x[i].rule, strlen(x[i].rule))) ||
		    (x[i].region && strcmp(q.region, x[i].region)) || (x[i].tz && strcmp(q.tz, x[i].tz)))
			fail_msg("%s: %s at %s: allow=%d reason=%s next=%s rule=%s region=%s tz=%s", x[i].what, x[i].to,
				 x[i].when, v.allow, sg_reason_name(v.reason) ? sg_reason_name(v.reason) : "-", next,
				 q.rule, q.region, q.tz);
		if (!v.allow)
			assert_int_equal(v.reason, SG_REASON_QUIET_HOURS);
		assert_true(q.evaluated || !x[i].region);
	}
}

static void every_jurisdiction(void **state)
{
	fixture *f = *state;
	static const expect x[] = {
		/* 2026-12-02 is a Wednesday; EST = UTC-5, CST = UTC-6, PST = UTC-8 */
		{"federal 8-21, 20:30 EST", NULL, "+12125551234", "2026-12-02T01:30:00Z", true, NULL, NULL, "US-NY",
		 "America/New_York"},
		{"federal, 21:30 EST", NULL, "+12125551234", "2026-12-02T02:30:00Z", false, "2026-12-02T13:00:00",
		 "us.qh (47 CFR 64.1200(c)(1)", "US-NY", NULL},
		{"federal, 07:59 EST", NULL, "+12125551234", "2026-12-02T12:59:00Z", false, "2026-12-02T13:00:00",
		 "us.qh", NULL, NULL},
		{"federal, 08:00 EST", NULL, "+12125551234", "2026-12-02T13:00:00Z", true, NULL, NULL, NULL, NULL},
		{"Florida 8-20, 20:30 EST", NULL, "+13055551234", "2026-12-02T01:30:00Z", false, "2026-12-02T13:00:00",
		 "us-fl.qh (Fla. Stat. 501.059", "US-FL", NULL},
		{"Florida, 19:59 EST", NULL, "+13055551234", "2026-12-02T00:59:00Z", true, NULL, NULL, NULL, NULL},
		{"Oklahoma 8-20, 20:30 CST", NULL, "+14055551234", "2026-12-03T02:30:00Z", false, "2026-12-03T14:00:00",
		 "us-ok.qh", "US-OK", NULL},
		{"Maryland 8-20, 20:30 EST", NULL, "+14105551234", "2026-12-03T01:30:00Z", false, "2026-12-03T13:00:00",
		 "us-md.qh", "US-MD", NULL},
		{"Maryland before 2024-01-01: federal only", NULL, "+14105551234", "2023-12-02T01:30:00Z", true, NULL,
		 NULL, "US-MD", NULL},
		{"Washington 8-20, 20:30 PST", NULL, "+12065551234", "2026-12-03T04:30:00Z", false,
		 "2026-12-03T16:00:00", "us-wa.qh", "US-WA", NULL},
		{"Connecticut 9-20, 08:30 EST", NULL, "+12035551234", "2026-12-02T13:30:00Z", false,
		 "2026-12-02T14:00:00", "us-ct.qh", "US-CT", NULL},
		{"Connecticut, 20:30 EST", NULL, "+12035551234", "2026-12-03T01:30:00Z", false, "2026-12-03T14:00:00",
		 "us-ct.qh", NULL, NULL},
		{"New Jersey: the stricter 20:00", NULL, "+12015551234", "2026-12-03T01:30:00Z", false,
		 "2026-12-03T13:00:00", "us-nj.qh", "US-NJ", NULL},
		{"Virginia 8-21, 20:30 EST", NULL, "+17035551234", "2026-12-03T01:30:00Z", true, NULL, NULL, "US-VA",
		 NULL},
		{"Virginia, 21:30 EST", NULL, "+17035551234", "2026-12-03T02:30:00Z", false, "2026-12-03T13:00:00",
		 "us-va.qh", NULL, NULL},
		{"Texas weekday 9-21, 08:30 CST", NULL, "+12145551234", "2026-12-02T14:30:00Z", false,
		 "2026-12-02T15:00:00", "us-tx.qh", "US-TX", NULL},
		{"Texas Saturday 09:30 CST", NULL, "+12145551234", "2026-12-05T15:30:00Z", true, NULL, NULL, NULL, NULL},
		{"Texas Sunday 11:30 CST: noon", NULL, "+12145551234", "2026-12-06T17:30:00Z", false,
		 "2026-12-06T18:00:00", "us-tx.qh", NULL, NULL},
		{"Alabama Sunday: none", NULL, "+12055551234", "2026-12-06T18:00:00Z", false, "2026-12-07T14:00:00",
		 "us-al.qh", "US-AL", NULL},
		{"Alabama Saturday 20:30 CST: across the weekend to Monday 08:00", NULL, "+12055551234",
		 "2026-12-06T02:30:00Z", false, "2026-12-07T14:00:00", "us-al.qh", NULL, NULL},
		{"Alabama Christmas (Friday)", NULL, "+12055551234", "2026-12-25T18:00:00Z", false,
		 "2026-12-26T14:00:00", "us-al.qh", NULL, NULL},
		{"Alabama July 4 2027 is a Sunday: kept Monday the 5th", NULL, "+12055551234", "2027-07-05T18:00:00Z",
		 false, "2027-07-06T13:00:00", "us-al.qh", NULL, NULL},
		{"Alabama Tuesday 2027-07-06", NULL, "+12055551234", "2027-07-06T18:00:00Z", true, NULL, NULL, NULL,
		 NULL},
		{"Louisiana Sunday", NULL, "+15045551234", "2026-12-06T18:00:00Z", false, "2026-12-07T14:00:00",
		 "us-la.qh", "US-LA", NULL},
		{"Louisiana Good Friday 2027-03-26", NULL, "+15045551234", "2027-03-26T18:00:00Z", false,
		 "2027-03-27T13:00:00", "us-la.qh", NULL, NULL},
		{"Louisiana Mardi Gras 2027-02-09", NULL, "+15045551234", "2027-02-09T18:00:00Z", false,
		 "2027-02-10T14:00:00", "us-la.qh", NULL, NULL},
		{"Mississippi Sunday", NULL, "+16015551234", "2026-12-06T18:00:00Z", false, "2026-12-07T14:00:00",
		 "us-ms.qh", "US-MS", NULL},
		{"Mississippi in CST, winter 08:30", NULL, "+16015551234", "2026-12-02T14:30:00Z", true, NULL, NULL,
		 NULL, NULL},
		{"Mississippi in CST, summer 08:30 CDT = 07:30 CST", NULL, "+16015551234", "2027-07-01T13:30:00Z",
		 false, "2027-07-01T14:00:00", "us-ms.qh", NULL, NULL},
		{"Canada weekday 9-21:30, 21:00 EST", NULL, "+14165551234", "2026-12-02T02:00:00Z", true, NULL, NULL,
		 "CA-ON", NULL},
		{"Canada weekday 21:45 EST", NULL, "+14165551234", "2026-12-02T02:45:00Z", false, "2026-12-02T14:00:00",
		 "ca.qh (CRTC", NULL, NULL},
		{"Canada Saturday 18:30: Sunday 10:00", NULL, "+14165551234", "2026-12-05T23:30:00Z", false,
		 "2026-12-06T15:00:00", "ca.qh", NULL, NULL},
		{"Canada from a Canadian sender, same rule", CA_SENDER, "+16045551234", "2026-12-02T16:30:00Z", false,
		 "2026-12-02T17:00:00", "ca.qh", "CA-BC", "America/Vancouver"},
		{"Jamaica: no rule", NULL, "+18765551234", "2026-12-02T08:00:00Z", true, NULL, NULL, NULL, NULL},
		{"United Kingdom: no rule", NULL, "+447700900123", "2026-12-02T03:00:00Z", true, NULL, NULL, NULL, NULL},
	};
	run(f->e, x, SG_ARRAY_SIZE(x));
}

static void dst_and_split_area_codes(void **state)
{
	fixture *f = *state;
	static const expect x[] = {
		/* spring forward 2027-03-14 (US), fall back 2026-11-01 */
		{"New York spring forward: 08:30 EDT", NULL, "+12125551234", "2027-03-14T12:30:00Z", true, NULL, NULL,
		 NULL, NULL},
		{"New York spring forward: 07:30 EDT", NULL, "+12125551234", "2027-03-14T11:30:00Z", false,
		 "2027-03-14T12:00:00", "us.qh", NULL, NULL},
		{"New York day before: 07:30 EST", NULL, "+12125551234", "2027-03-13T12:30:00Z", false,
		 "2027-03-13T13:00:00", NULL, NULL, NULL},
		{"New York fall back: 07:30 EST", NULL, "+12125551234", "2026-11-01T12:30:00Z", false,
		 "2026-11-01T13:00:00", "us.qh", NULL, NULL},
		{"New York day before fall back: 08:30 EDT", NULL, "+12125551234", "2026-10-31T12:30:00Z", true, NULL,
		 NULL, NULL, NULL},
		{"San Francisco spring forward: 07:30 PDT", NULL, "+14155551234", "2027-03-14T14:30:00Z", false,
		 "2027-03-14T15:00:00", "us.qh", "US-CA", NULL},
		{"San Francisco fall back evening: 20:30 PST", NULL, "+14155551234", "2026-11-02T04:30:00Z", true, NULL,
		 NULL, NULL, NULL},
		{"Chicago fall back: 21:30 CST", NULL, "+13125551234", "2026-11-02T03:30:00Z", false,
		 "2026-11-02T14:00:00", "us.qh", "US-IL", NULL},
		{"Arizona 602 (Phoenix, no DST, and Denver): 08:30 MDT = 07:30 MST", NULL, "+16025551234",
		 "2027-07-01T14:30:00Z", false, "2027-07-01T15:00:00", "us.qh", "US-AZ", "America/Denver,America/Phoenix"},
		{"Toronto spring forward Saturday 2027-03-13 17:30 EST", NULL, "+14165551234", "2027-03-13T22:30:00Z",
		 true, NULL, NULL, NULL, NULL},
		{"Toronto spring forward Sunday 09:30 EDT", NULL, "+14165551234", "2027-03-14T13:30:00Z", false,
		 "2027-03-14T14:00:00", "ca.qh", NULL, NULL},
		/* 850: a listed Pensacola exchange is Central; an unlisted one gets both zones */
		{"850-200 (Central) 07:30 CST", NULL, "+18502001234", "2026-12-02T13:30:00Z", false,
		 "2026-12-02T14:00:00", "us-fl.qh", "US-FL", "America/Chicago"},
		{"850-200 (Central) 19:30 CST", NULL, "+18502001234", "2026-12-03T01:30:00Z", true, NULL, NULL, NULL,
		 NULL},
		{"850-222 (unlisted): both zones, 19:30 CST = 20:30 EST", NULL, "+18502221234", "2026-12-03T01:30:00Z",
		 false, "2026-12-03T14:00:00", "us-fl.qh", "US-FL", "America/Chicago,America/New_York"},
		{"850-222 (unlisted): 08:30 EST = 07:30 CST", NULL, "+18502221234", "2026-12-02T13:30:00Z", false,
		 "2026-12-02T14:00:00", "us-fl.qh", NULL, NULL},
		{"850-222 (unlisted): 09:00 EST = 08:00 CST", NULL, "+18502221234", "2026-12-02T14:00:00Z", true, NULL,
		 NULL, NULL, NULL},
	};
	run(f->e, x, SG_ARRAY_SIZE(x));
}

static void non_geographic_numbers(void **state)
{
	fixture *f = *state;
	static const expect x[] = {
		/* toll-free from a US sender: every US rule in every US zone (Honolulu to New York) */
		{"800 Wednesday 13:00 EST = 08:00 HST: Connecticut's 9 am in Hawaii", NULL, "+18005551234",
		 "2026-12-02T18:00:00Z", false, "2026-12-02T19:00:00", "us-ct.qh", "US", "US:*"},
		{"800 Wednesday 14:30 EST = 09:30 HST", NULL, "+18005551234", "2026-12-02T19:30:00Z", true, NULL, NULL,
		 "US", NULL},
		{"800 Wednesday 20:30 EST", NULL, "+18005551234", "2026-12-03T01:30:00Z", false, "2026-12-03T19:00:00",
		 NULL, NULL, NULL},
		{"800 Sunday: none (Alabama, Louisiana, Mississippi)", NULL, "+18885551234", "2026-12-06T20:00:00Z",
		 false, "2026-12-07T19:00:00", NULL, "US", NULL},
		{"833 from a Canadian sender: Canada's rule in every Canadian zone", CA_SENDER, "+18335551234",
		 "2026-12-02T16:30:00Z", false, "2026-12-02T17:00:00", "ca.qh", "CA", "CA:*"},
	};
	run(f->e, x, SG_ARRAY_SIZE(x));
}

static void unknown_numbers_by_policy(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_policy pol;
	sg_policy_default(&pol);
	pol.quiet_unknown = SG_QUIET_UNKNOWN_SKIP;
	sg_engine *e = tu_open(dir, 0, &pol);
	static const expect x[] = {
		{"800 with quietHoursUnknown skip: no rule", NULL, "+18005551234", "2026-12-06T20:00:00Z", true, NULL,
		 NULL, NULL, NULL},
		{"a placed number still gets its rules", NULL, "+12055551234", "2026-12-06T20:00:00Z", false,
		 "2026-12-07T14:00:00", "us-al.qh", "US-AL", NULL},
	};
	run(e, x, SG_ARRAY_SIZE(x));
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void categories_and_exemptions(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *e = tu_open(dir, 0, NULL); /* default policy: default_category none */
	const char *d = NULL;
	static const char mkt[] = "{\"campaignId\":\"CMKT\",\"brandId\":\"B1\",\"status\":\"ACTIVE\",\"usecase\":\"MARKETING\"}";
	static const char tfa[] = "{\"campaignId\":\"C2FA\",\"brandId\":\"B1\",\"status\":\"ACTIVE\",\"usecase\":\"2FA\"}";
	assert_int_equal(sg_campaign_put_json(e, mkt, strlen(mkt), &d), 0);
	assert_int_equal(sg_campaign_put_json(e, tfa, strlen(tfa), &d), 0);
	assert_int_equal(sg_sender_put(e, "+12125550111", "CMKT", NULL), 0);
	assert_int_equal(sg_sender_put(e, "+12125550222", "C2FA", NULL), 0);
	const char *night = "2026-12-02T06:00:00Z", *to = "+13055551234"; /* 01:00 in Miami */
	sg_verdict v;
	sg_quiet q;
	/* no category, no campaign, default policy: no change */
	check_at(e, NY_SENDER, to, night, SG_PURPOSE_MESSAGE, SG_CATEGORY_DEFAULT, &v, &q);
	assert_true(v.allow);
	assert_int_equal(q.category, SG_CATEGORY_DEFAULT);
	assert_false(q.evaluated);
	/* the campaign's usecase decides */
	check_at(e, "+12125550111", to, night, SG_PURPOSE_MESSAGE, SG_CATEGORY_DEFAULT, &v, &q);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_QUIET_HOURS);
	assert_int_equal(q.category, SG_CATEGORY_MARKETING);
	check_at(e, "+12125550222", to, night, SG_PURPOSE_MESSAGE, SG_CATEGORY_DEFAULT, &v, &q);
	assert_true(v.allow);
	assert_int_equal(q.category, SG_CATEGORY_TRANSACTIONAL);
	/* the parameter beats the campaign */
	check_at(e, "+12125550111", to, night, SG_PURPOSE_MESSAGE, SG_CATEGORY_TRANSACTIONAL, &v, &q);
	assert_true(v.allow);
	check_at(e, NY_SENDER, to, night, SG_PURPOSE_MESSAGE, SG_CATEGORY_MARKETING, &v, &q);
	assert_false(v.allow);
	/* the old calls never apply quiet hours */
	assert_int_equal(sg_check(e, "+12125550111", to, SG_PURPOSE_MESSAGE, &v), 0);
	assert_true(v.allow);
	/* HELP replies are exempt; the quiet part is still written (zeroed) */
	memset(&q, 0xa5, sizeof(q));
	check_at(e, NY_SENDER, to, night, SG_PURPOSE_HELP_REPLY, SG_CATEGORY_MARKETING, &v, &q);
	assert_true(v.allow);
	assert_false(q.evaluated);
	assert_int_equal(q.next_allowed_us, 0);
	memset(&q, 0xa5, sizeof(q));
	check_at(e, "not a sender", to, night, SG_PURPOSE_MESSAGE, SG_CATEGORY_MARKETING, &v, &q);
	assert_int_equal(v.reason, SG_REASON_INVALID_NUMBER);
	assert_int_equal(q.rule[0], '\0');
	/* opted_out comes first; the one confirmation is exempt */
	tu_record(e, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, NY_SENDER, to, SG_SCOPE_SENDER, NULL);
	check_at(e, NY_SENDER, to, night, SG_PURPOSE_MESSAGE, SG_CATEGORY_MARKETING, &v, &q);
	assert_int_equal(v.reason, SG_REASON_OPTED_OUT);
	assert_int_equal(q.next_allowed_us, 0);
	check_at(e, NY_SENDER, to, night, SG_PURPOSE_OPTOUT_CONFIRM, SG_CATEGORY_MARKETING, &v, &q);
	assert_true(v.allow);
	assert_true(v.confirmation);
	/* a batch: one verdict per recipient, the same answers */
	const char *tos[] = {"+13055551234", "+12125551234", "+18765551234", "not a number"};
	sg_verdict vs[4];
	sg_quiet qs[4];
	sg_check_opts o;
	sg_check_opts_default(&o);
	o.category = SG_CATEGORY_MARKETING;
	o.at_us = at("2026-12-02T01:30:00Z"); /* 20:30 EST */
	assert_int_equal(sg_check_ex(e, NY_SENDER, tos, 4, &o, vs, qs), 0);
	assert_int_equal(vs[0].reason, SG_REASON_OPTED_OUT);
	assert_true(vs[1].allow);
	assert_true(vs[2].allow);
	assert_int_equal(vs[3].reason, SG_REASON_INVALID_NUMBER);
	o.category = (sg_category)9;
	assert_int_equal(sg_check_ex(e, NY_SENDER, tos, 4, &o, vs, qs), -EINVAL);
	assert_false(vs[1].allow);
	sg_engine_close(e);
	tu_rmdir(dir);
}

static void names(void **state)
{
	(void)state;
	sg_category c;
	assert_int_equal(sg_category_parse("marketing", &c), 0);
	assert_int_equal(c, SG_CATEGORY_MARKETING);
	assert_int_equal(sg_category_parse("spam", &c), -EINVAL);
	assert_string_equal(sg_category_name(SG_CATEGORY_CONVERSATIONAL), "conversational");
	assert_null(sg_category_name(SG_CATEGORY_DEFAULT));
	assert_int_equal(sg_category_of_usecase("LOW_VOLUME_MIXED"), SG_CATEGORY_MARKETING);
	assert_int_equal(sg_category_of_usecase("sweepstake"), SG_CATEGORY_MARKETING);
	assert_int_equal(sg_category_of_usecase("FRAUD_ALERT"), SG_CATEGORY_TRANSACTIONAL);
	assert_int_equal(sg_category_of_usecase("BOGUS"), SG_CATEGORY_DEFAULT);
	assert_string_equal(sg_reason_name(SG_REASON_QUIET_HOURS), "quiet_hours");
}

/* A copy of the shipped rules with one line broken: the error names file
 * and line; a reload keeps the rules in force. */
static void bad_rule_file(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char qdir[600], cmd[1400];
	snprintf(qdir, sizeof(qdir), "%s/qh", dir);
	snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", SG_QUIET_DIR_SOURCE, qdir);
	assert_int_equal(system(cmd), 0);
	sg_options o;
	sg_options_default(&o);
	char data[600];
	snprintf(data, sizeof(data), "%s/data", dir);
	o.data_dir = data;
	o.flags = SG_OPEN_CREATE;
	o.keywords_dir = tu_keywords();
	o.quiet_hours_dir = qdir;
	sg_policy pol;
	sg_policy_default(&pol);
	pol.default_category = SG_CATEGORY_MARKETING;
	o.policy = &pol;
	sg_engine *e = NULL;
	assert_int_equal(sg_engine_open(&o, &e), 0);
	char path[700];
	snprintf(path, sizeof(path), "%s/us-tx.qh", qdir);
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("hours sun 12:00-25:00\n", f);
	fclose(f);
	assert_int_equal(sg_engine_reload(e), SG_EQUIETHOURS);
	assert_non_null(strstr(sg__qh_last_error(), "us-tx.qh:"));
	assert_non_null(strstr(sg__qh_last_error(), "HH:MM-HH:MM"));
	sg_verdict v;
	sg_quiet q;
	check_at(e, NY_SENDER, "+12145551234", "2026-12-06T17:30:00Z", SG_PURPOSE_MESSAGE, SG_CATEGORY_DEFAULT, &v, &q);
	assert_int_equal(v.reason, SG_REASON_QUIET_HOURS); /* the old rules stay */
	sg_engine_close(e);
	e = NULL;
	assert_int_equal(sg_engine_open(&o, &e), SG_EQUIETHOURS);
	/* a rule file without a statute */
	snprintf(cmd, sizeof(cmd), "printf 'jurisdiction US-ZZ\\ncategories marketing\\nhours all 08:00-20:00\\n' > '%s/us-zz.qh' && rm '%s'", qdir, path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(sg_engine_open(&o, &e), SG_EQUIETHOURS);
	assert_non_null(strstr(sg__qh_last_error(), "us-zz.qh:4: no statute"));
	tu_rmdir(dir);
}

/* The TZif reader and its POSIX-rule extension agree with the C library
 * (localtime_r under TZ, single-threaded here) on every hour of 2026-2027
 * and on sample days up to 2060, in zones with and without DST, half-hour
 * offsets and a zone that changed rules. */
static void tz_matches_the_c_library(void **state)
{
	(void)state;
	static const char *const zones[] = {"America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
					    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu",
					    "America/St_Johns", "America/Indiana/Knox", "America/Adak",
					    "Europe/London", "Australia/Lord_Howe", "Etc/GMT+6"};
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	for (size_t z = 0; z < SG_ARRAY_SIZE(zones); z++) {
		sg__tz tz;
		char err[256];
		assert_int_equal(sg__tz_load(NULL, zones[z], &tz, err, sizeof(err)), 0);
		setenv("TZ", zones[z], 1);
		tzset();
		int64_t from = sg__days_from_civil(2026, 1, 1) * 86400, to = sg__days_from_civil(2028, 1, 1) * 86400;
		for (int64_t t = from; t < to; t += 3600) {
			struct tm tm;
			time_t tt = (time_t)t;
			localtime_r(&tt, &tm);
			if (sg__tz_offset(&tz, t) != tm.tm_gmtoff)
				fail_msg("%s at %lld: %d vs libc %ld", zones[z], (long long)t, sg__tz_offset(&tz, t),
					 tm.tm_gmtoff);
			/* local -> UTC inverts it except in a gap or an overlap */
			int64_t local = t + tm.tm_gmtoff;
			int64_t back = sg__tz_utc_of_local(&tz, local);
			assert_true(back <= t);
		}
		for (int y = 2030; y <= 2060; y += 3)
			for (int m = 1; m <= 12; m++) {
				int64_t t = sg__days_from_civil(y, m, 15) * 86400 + 12 * 3600;
				struct tm tm;
				time_t tt = (time_t)t;
				localtime_r(&tt, &tm);
				if (sg__tz_offset(&tz, t) != tm.tm_gmtoff)
					fail_msg("%s in %d-%02d: %d vs libc %ld", zones[z], y, m, sg__tz_offset(&tz, t),
						 tm.tm_gmtoff);
			}
		sg__tz_free(&tz);
	}
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
	sg__tz tz;
	char err[256];
	assert_int_not_equal(sg__tz_load(NULL, "../etc/passwd", &tz, err, sizeof(err)), 0);
	assert_int_not_equal(sg__tz_load(NULL, "America/Nowhere", &tz, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "America/Nowhere"));
}

/* A far instant (outside the precomputed years) is computed on demand:
 * the POSIX rule of the zone file carries DST on. */
static void far_future_on_demand(void **state)
{
	fixture *f = *state;
	static const expect x[] = {
		{"New York 2045-07-01 07:30 EDT", NULL, "+12125551234", "2045-07-01T11:30:00Z", false,
		 "2045-07-01T12:00:00", "us.qh", NULL, NULL},
		{"New York 2045-07-01 08:30 EDT", NULL, "+12125551234", "2045-07-01T12:30:00Z", true, NULL, NULL, NULL,
		 NULL},
		{"Alabama Christmas 2044 (a Sunday) kept Monday", NULL, "+12055551234", "2044-12-26T18:00:00Z", false,
		 "2044-12-27T14:00:00", "us-al.qh", NULL, NULL},
	};
	run(f->e, x, SG_ARRAY_SIZE(x));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_jurisdiction, setup, teardown),
		cmocka_unit_test_setup_teardown(dst_and_split_area_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(non_geographic_numbers, setup, teardown),
		cmocka_unit_test(categories_and_exemptions),
		cmocka_unit_test(unknown_numbers_by_policy),
		cmocka_unit_test(names),
		cmocka_unit_test(tz_matches_the_c_library),
		cmocka_unit_test_setup_teardown(far_future_on_demand, setup, teardown),
		cmocka_unit_test(bad_rule_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
