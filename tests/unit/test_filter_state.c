/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The filter's saved state and the registry version it carries (issue 14):
 *  - a sender's scopes cached by a check (in this process or a read-only
 *    one) follow every registry change at once;
 *  - a writer takes over the filter saved by a clean close only when it is
 *    this store's, exactly (txn id and checksum): never after commits it
 *    did not see, nor with lost bits;
 *  - a filter rebuilt in the background while the writer records misses no
 *    opt-out, and LMDB answers meanwhile;
 *  - the pair keys ((scope, id, recipient) and the not-SMS-capable flag)
 *    decide for a known recipient and another sender at every level, in
 *    the writer, a reader, a file taken over and a rebuilt one.
 * Real LMDB in temp dirs, real processes (fork).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stopgate.h"
#include "engine.h"
#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"

#define S_OURS "+14155550100"
#define S_OTHER "+14155550199"

static void rcpt(int i, char out[32])
{
	snprintf(out, 32, "+1415556%04d", i);
}

static sg_engine *open_reader(const char *dir)
{
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.flags = SG_OPEN_RDONLY;
	o.keywords_dir = tu_keywords();
	o.default_country = "US";
	sg_engine *r;
	return sg_engine_open(&o, &r) ? NULL : r;
}

static bool denied(sg_engine *e, const char *from, const char *to)
{
	sg_verdict v;
	return sg_check(e, from, to, SG_PURPOSE_MESSAGE, &v) == 0 && !v.allow && v.reason == SG_REASON_OPTED_OUT;
}

static bool allowed(sg_engine *e, const char *from, const char *to)
{
	sg_verdict v;
	return sg_check(e, from, to, SG_PURPOSE_MESSAGE, &v) == 0 && v.allow;
}

/* ---- the registry version ---- */

/* A read-only process checks S_OURS -> to (cached scopes: allowed while
 * the sender is not in campaign C1), tells the parent, waits for it to
 * register the sender, and must then deny at once. */
static int cached_reader(const char *dir, int ready_fd, int go_fd, const char *to)
{
	sg_engine *r = open_reader(dir);
	if (!r)
		return 10;
	uint64_t wid, ver;
	for (int i = 0; i < 100; i++)
		if (!allowed(r, S_OURS, to))
			return 11;
	if (!sg__filter_reg_version(&r->store.filter, &wid, &ver))
		return 12; /* the cache was not in use: the test would prove nothing */
	if (write(ready_fd, "r", 1) != 1)
		return 13;
	char c;
	if (read(go_fd, &c, 1) != 1)
		return 14;
	for (int i = 0; i < 100; i++)
		if (!denied(r, S_OURS, to))
			return 15;
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		return 16;
	for (int i = 0; i < 100; i++) /* deregistered again */
		if (!allowed(r, S_OURS, to))
			return 17;
	sg_engine_close(r);
	return 0;
}

static void registry_changes_reach_cached_scopes(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *w = tu_open(dir, 0, NULL);
	const char *camp = "{\"campaignId\":\"C1\",\"status\":\"ACTIVE\"}";
	const char *detail;
	assert_int_equal(sg_campaign_put_json(w, camp, strlen(camp), &detail), 0);
	char to[32];
	rcpt(1, to);
	/* the recipient opted out of campaign C1 (through another number) */
	assert_int_equal(tu_record(w, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, S_OTHER, to, SG_SCOPE_CAMPAIGN, "C1").status,
			 0);
	for (int i = 0; i < 100; i++)
		assert_true(allowed(w, S_OURS, to)); /* S_OURS is in no campaign yet: cached so */
	int ready[2], go[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(cached_reader(dir, ready[1], go[0], to));
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(sg_sender_put(w, S_OURS, "C1", NULL), 0);
	assert_true(denied(w, S_OURS, to)); /* this process's cache too */
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(sg_sender_put(w, S_OURS, "", ""), 0);
	assert_true(allowed(w, S_OURS, to));
	assert_int_equal(write(go[1], "g", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* a campaign's change reaches the cache as well: C1 suspended is a
	 * campaign_inactive denial for its registered sender */
	assert_int_equal(sg_sender_put(w, S_OURS, "C1", NULL), 0);
	sg_verdict v;
	char fresh[32];
	rcpt(2, fresh);
	assert_int_equal(sg_check(w, S_OURS, fresh, 0, &v), 0);
	assert_true(v.allow);
	const char *susp = "{\"campaignId\":\"C1\",\"status\":\"SUSPENDED\"}";
	assert_int_equal(sg_campaign_put_json(w, susp, strlen(susp), &detail), 0);
	assert_int_equal(sg_check(w, S_OURS, fresh, 0, &v), 0);
	assert_false(v.allow);
	assert_int_equal(v.reason, SG_REASON_CAMPAIGN_INACTIVE);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	sg_engine_close(w);
	tu_rmdir(dir);
}

/* ---- the saved filter ---- */

static void record_range(sg_engine *w, int from, int to)
{
	for (int i = from; i < to; i++) {
		char r[32];
		rcpt(i, r);
		assert_int_equal(tu_record(w, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, S_OURS, r, 0, NULL).status, 0);
	}
}

static void all_denied(sg_engine *e, int n)
{
	for (int i = 0; i < n; i++) {
		char r[32];
		rcpt(i, r);
		assert_true(denied(e, S_OURS, r));
	}
	char none[32];
	rcpt(9999, none);
	assert_true(allowed(e, S_OURS, none));
}

static int reader_denies(const char *dir, int n)
{
	sg_engine *r = open_reader(dir);
	if (!r)
		return 10;
	for (int i = 0; i < n; i++) {
		char to[32];
		rcpt(i, to);
		if (!denied(r, S_OURS, to))
			return 11;
	}
	bool mapped = atomic_load(&r->store.filter.map) != NULL;
	sg_engine_close(r);
	return mapped ? 0 : 12;
}

static int in_child_reader(const char *dir, int n)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(reader_denies(dir, n));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void copy_file(const char *from, const char *to)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	assert_non_null(a);
	assert_non_null(b);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
		assert_int_equal(fwrite(buf, 1, n, b), n);
	fclose(a);
	assert_int_equal(fclose(b), 0);
}

static void saved_filter_taken_over_only_when_current(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char bits[600], old[600];
	snprintf(bits, sizeof(bits), "%s/filter.bits", dir);
	snprintf(old, sizeof(old), "%s/filter.bits.old", dir);
	sg_engine *w = tu_open(dir, 0, NULL);
	assert_false(w->store.filter.reused); /* a new store: built */
	record_range(w, 0, 40);
	sg_engine_close(w);

	/* 1. a clean close: the next writer takes the file over */
	w = tu_open(dir, 0, NULL);
	assert_true(w->store.filter.reused);
	all_denied(w, 40);
	record_range(w, 40, 50); /* into the file taken over */
	all_denied(w, 50);
	assert_int_equal(in_child_reader(dir, 50), 0);
	sg_engine_close(w);

	/* 2. a writer that dies without closing: its commits are not vouched
	 * for, the next open rebuilds */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sg_engine *k = tu_open(dir, 0, NULL);
		record_range(k, 50, 60);
		_exit(k->store.filter.reused ? 0 : 1); /* no close: no save */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	w = tu_open(dir, 0, NULL);
	assert_false(w->store.filter.reused);
	all_denied(w, 60);
	sg_engine_close(w);

	/* 3. an older saved file put back (its stamp names an older commit):
	 * rebuilt, the opt-outs recorded since are denied */
	copy_file(bits, old);
	w = tu_open(dir, 0, NULL);
	assert_true(w->store.filter.reused);
	record_range(w, 60, 70);
	sg_engine_close(w);
	assert_int_equal(rename(old, bits), 0);
	w = tu_open(dir, 0, NULL);
	assert_false(w->store.filter.reused);
	all_denied(w, 70);
	assert_int_equal(in_child_reader(dir, 70), 0);
	sg_engine_close(w);

	/* 4. bits lost under an intact header (its stamp still current): the
	 * checksum refuses it */
	FILE *f = fopen(bits, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	long hdr = (long)sizeof(sg__filter_hdr);
	char *zeros = calloc(1, (size_t)(len - hdr));
	fseek(f, hdr, SEEK_SET);
	assert_int_equal(fwrite(zeros, 1, (size_t)(len - hdr), f), (size_t)(len - hdr));
	fclose(f);
	free(zeros);
	w = tu_open(dir, 0, NULL);
	assert_false(w->store.filter.reused);
	all_denied(w, 70);
	sg_engine_close(w);
	tu_rmdir(dir);
}

/* ---- the background rebuild ---- */

static void background_rebuild_misses_nothing(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *w = tu_open(dir, 0, NULL);
	enum { BEFORE = 600, DURING = 80 };
	sg_event_in evs[BEFORE];
	sg_event_out outs[BEFORE];
	char tos[BEFORE][32];
	for (int i = 0; i < BEFORE; i++) {
		rcpt(i, tos[i]);
		evs[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD, .sender = S_OURS,
				       .recipient = tos[i]};
	}
	assert_int_equal(sg_record(w, evs, BEFORE, outs), 0);
	sg_engine_close(w);
	char bits[600];
	snprintf(bits, sizeof(bits), "%s/filter.bits", dir);
	assert_int_equal(unlink(bits), 0); /* nothing saved: a rebuild */

	uint64_t sync_max = sg__filter_sync_max, chunk = sg__filter_build_chunk;
	sg__filter_sync_max = 0; /* in the background, */
	sg__filter_build_chunk = 8; /* in many read txns, with commits between them */
	sg__filter_build_pause_us = 2000;
	w = tu_open(dir, 0, NULL);
	int during = 0;
	for (int i = BEFORE; i < BEFORE + DURING; i++) {
		if (w->store.filter.building)
			during++;
		record_range(w, i, i + 1);
		char r[32];
		rcpt(i, r);
		assert_true(denied(w, S_OURS, r)); /* LMDB answers meanwhile */
	}
	assert_int_equal(sg__filter_wait(&w->store.filter), 0);
	sg__filter_sync_max = sync_max;
	sg__filter_build_chunk = chunk;
	sg__filter_build_pause_us = 0;
	print_message("background rebuild: %d of %d commits ran during it\n", during, DURING);
	assert_true(during > 0); /* or the test proved nothing about them */
	assert_non_null(atomic_load(&w->store.filter.map));
	all_denied(w, BEFORE + DURING);
	assert_int_equal(in_child_reader(dir, BEFORE + DURING), 0);
	sg_engine_close(w);
	tu_rmdir(dir);
}

/* ---- the pair keys ---- */

/* Each level a record can hold, against a sender that meets it and one
 * that does not; the recipient has other records too, so the recipient
 * filter alone says "maybe" and the pair keys decide. */
typedef struct pair_case {
	const char *to;
	sg_scope_kind scope;
	const char *scope_id;
	const char *meets, *misses; /* senders */
	sg_reason reason;
} pair_case;

#define P_A "+14155550101" /* CA, brand BA, group GA */
#define P_B "+14155550102" /* CB, brand BA */
#define P_C "+14155550103" /* CC, brand BC, group GA */
#define P_D "+14155550104" /* unregistered */

static const pair_case pair_cases[] = {
	{"+14155557001", SG_SCOPE_SENDER, P_A, P_A, P_B, SG_REASON_OPTED_OUT},
	{"+14155557002", SG_SCOPE_GROUP, "GA", P_C, P_B, SG_REASON_OPTED_OUT},
	{"+14155557003", SG_SCOPE_CAMPAIGN, "CB", P_B, P_A, SG_REASON_OPTED_OUT},
	{"+14155557004", SG_SCOPE_BRAND, "BA", P_B, P_C, SG_REASON_OPTED_OUT},
	{"+14155557005", SG_SCOPE_GLOBAL, "any-id", P_D, NULL, SG_REASON_OPTED_OUT},
	{"+14155557006", 0, NULL, P_D, NULL, SG_REASON_NOT_SMS_CAPABLE}, /* the flag */
};

static int pair_verdicts(sg_engine *e)
{
	for (size_t i = 0; i < sizeof(pair_cases) / sizeof(pair_cases[0]); i++) {
		const pair_case *c = &pair_cases[i];
		sg_verdict v;
		if (sg_check(e, c->meets, c->to, 0, &v) || v.allow || v.reason != c->reason)
			return (int)(10 + i);
		if (c->misses && (sg_check(e, c->misses, c->to, 0, &v) || !v.allow))
			return (int)(20 + i);
	}
	return 0;
}

static int pair_reader(const char *dir)
{
	sg_engine *r = open_reader(dir);
	if (!r)
		return 1;
	int rc = pair_verdicts(r);
	if (!rc && !atomic_load(&r->store.filter.map))
		rc = 2;
	sg_engine_close(r);
	return rc;
}

static void pair_keys_decide_for_every_level(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *w = tu_open(dir, 0, NULL);
	const char *detail;
	const char *camps[] = {"{\"campaignId\":\"CA\",\"brandId\":\"BA\"}", "{\"campaignId\":\"CB\",\"brandId\":\"BA\"}",
			       "{\"campaignId\":\"CC\",\"brandId\":\"BC\"}"};
	for (int i = 0; i < 3; i++)
		assert_int_equal(sg_campaign_put_json(w, camps[i], strlen(camps[i]), &detail), 0);
	assert_int_equal(sg_sender_put(w, P_A, "CA", "GA"), 0);
	assert_int_equal(sg_sender_put(w, P_B, "CB", NULL), 0);
	assert_int_equal(sg_sender_put(w, P_C, "CC", "GA"), 0);
	for (size_t i = 0; i < sizeof(pair_cases) / sizeof(pair_cases[0]); i++) {
		const pair_case *c = &pair_cases[i];
		/* another record first: the recipient is known to the filter */
		assert_int_equal(tu_record(w, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, "+14155550199", c->to, 0, NULL).status, 0);
		sg_event_in ev = {.size = sizeof(sg_event_in), .action = c->scope ? SG_ACTION_OPT_OUT : SG_ACTION_FLAG_NOT_SMS_CAPABLE,
				  .source = SG_SOURCE_OPERATOR, .sender = c->scope ? NULL : P_D, .recipient = c->to,
				  .scope = c->scope, .scope_id = c->scope_id, .rule = "21610"};
		sg_event_out out;
		assert_int_equal(sg_record(w, &ev, 1, &out), 0);
		assert_int_equal(out.status, 0);
	}
	assert_int_equal(pair_verdicts(w), 0);
	int ready[2];
	(void)ready;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(pair_reader(dir));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sg_engine_close(w);
	/* taken over, then rebuilt from the store: the same verdicts */
	w = tu_open(dir, 0, NULL);
	assert_true(w->store.filter.reused);
	assert_int_equal(pair_verdicts(w), 0);
	sg_engine_close(w);
	char bits[600];
	snprintf(bits, sizeof(bits), "%s/filter.bits", dir);
	assert_int_equal(unlink(bits), 0);
	w = tu_open(dir, 0, NULL);
	assert_false(w->store.filter.reused);
	assert_int_equal(pair_verdicts(w), 0);
	/* a START at the sender's level lifts it: allowed again (a key that
	 * stays set only sends the check to LMDB) */
	assert_int_equal(tu_record(w, SG_ACTION_OPT_IN, SG_SOURCE_KEYWORD, P_A, pair_cases[0].to, 0, NULL).status, 0);
	assert_true(allowed(w, P_A, pair_cases[0].to));
	sg_engine_close(w);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registry_changes_reach_cached_scopes),
		cmocka_unit_test(saved_filter_taken_over_only_when_current),
		cmocka_unit_test(background_rebuild_misses_nothing),
		cmocka_unit_test(pair_keys_decide_for_every_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
