/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One writer, many reader processes. LMDB allows one open of an environment
 * per process, so every read-only engine here lives in a forked child that
 * opens it after the fork (as a gateway process would). Kept out of the
 * valgrind setup: LMDB's process-shared robust mutexes stall under it.
 */
#include <fcntl.h>
#include <lmdb.h>
#include <sys/wait.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"

#ifndef SG_OPEN_CREATE
#define SG_OPEN_CREATE 0 /* (a tree from before the flag: writers always create) */
#endif

/* Run fn(dir) in a child with its own read-only engine; returns its exit code. */
static int in_reader(const char *dir, int (*fn)(sg_engine *r, void *ctx), void *ctx)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sg_options o;
		sg_options_default(&o);
		o.data_dir = dir;
		o.flags = SG_OPEN_RDONLY;
		o.keywords_dir = tu_keywords();
		o.default_country = "US";
		sg_engine *r;
		if (sg_engine_open(&o, &r))
			_exit(100);
		int rc = fn(r, ctx);
		sg_engine_close(r);
		_exit(rc);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int reader_cannot_write(sg_engine *r, void *ctx)
{
	(void)ctx;
	sg_event_in ev = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_API, .sender = "+14155550100",
			  .recipient = "+14155552671"};
	sg_event_out out;
	if (sg_record(r, &ev, 1, &out) != SG_ERDONLY)
		return 1;
	if (sg_campaign_put_json(r, "{\"campaignId\":\"C\"}", 17, NULL) != SG_ERDONLY)
		return 2;
	sg_verdict v;
	if (sg_check(r, "+14155550100", "+14155552671", 0, &v) || v.reason != SG_REASON_OPTED_OUT)
		return 3;
	return 0;
}

static void one_writer_many_readers(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *w = tu_open(dir, 0, NULL);
	tu_record(w, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", "+14155552671", 0, NULL);
	/* a second writer process is refused while this one holds the lock */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		sg_options o;
		sg_options_default(&o);
		o.data_dir = dir;
		o.keywords_dir = tu_keywords();
		sg_engine *second = NULL;
		_exit(sg_engine_open(&o, &second) == SG_ELOCKED ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(in_reader(dir, reader_cannot_write, NULL), 0);
	sg_engine_close(w);
	tu_rmdir(dir);
}

/* A read-only engine cannot claim the one confirmation, so it never allows
 * it: an unclaimed allowance could be sent any number of times. */
static int confirm_twice(sg_engine *r, void *ctx)
{
	(void)ctx;
	sg_verdict v;
	for (int i = 0; i < 2; i++)
		if (sg_check(r, "+14155550100", "+14155552671", SG_PURPOSE_OPTOUT_CONFIRM, &v) || v.allow ||
		    v.confirmation || v.reason != SG_REASON_CLAIM_REQUIRED || v.scope != SG_SCOPE_SENDER ||
		    !v.since_us)
			return 1 + i;
	if (sg_check(r, "+14155550100", "+14155552671", SG_PURPOSE_MESSAGE, &v) || v.allow ||
	    v.reason != SG_REASON_OPTED_OUT)
		return 3;
	return 0;
}

static void read_only_engine_never_allows_unclaimed_confirmation(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *w = tu_open(dir, 0, NULL);
	tu_record(w, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, "+14155550100", "+14155552671", 0, NULL);
	assert_int_equal(in_reader(dir, confirm_twice, NULL), 0);
	/* the writer still has its one confirmation to give, once */
	sg_verdict v;
	assert_int_equal(sg_check(w, "+14155550100", "+14155552671", SG_PURPOSE_OPTOUT_CONFIRM, &v), 0);
	assert_true(v.allow);
	assert_true(v.confirmation);
	assert_int_equal(sg_check(w, "+14155550100", "+14155552671", SG_PURPOSE_OPTOUT_CONFIRM, &v), 0);
	assert_false(v.allow);
	sg_engine_close(w);
	tu_rmdir(dir);
}

/* A reader in another process sees an opt-out committed by the writer,
 * with no restart: the child polls its own read-only engine. */
static void second_process_sees_writes(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *w = tu_open(dir, 0, NULL);
	int ready[2], go[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* child: its own read-only engine, opened after the fork */
		sg_options o;
		sg_options_default(&o);
		o.data_dir = dir;
		o.flags = SG_OPEN_RDONLY;
		o.keywords_dir = tu_keywords();
		sg_engine *r;
		if (sg_engine_open(&o, &r))
			_exit(10);
		sg_verdict v;
		if (sg_check(r, "+14155550100", "+14155552671", 0, &v) || !v.allow)
			_exit(11); /* must allow before the opt-out */
		char c = 'r';
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(12);
		if (sg_check(r, "+14155550100", "+14155552671", 0, &v) || v.allow || v.reason != SG_REASON_OPTED_OUT)
			_exit(13); /* committed before 'go': must be seen at once */
		sg_engine_close(r);
		_exit(0);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	tu_record(w, SG_ACTION_OPT_OUT, SG_SOURCE_OPERATOR, "+14155550100", "+14155552671", 0, NULL);
	assert_int_equal(write(go[1], "g", 1), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	sg_engine_close(w);
	tu_rmdir(dir);
}

static int denies_and_allows(sg_engine *r, void *ctx)
{
	(void)ctx;
	sg_verdict v;
	/* enough checks to pass several re-probes of the filter */
	for (int i = 0; i < 20000; i++) {
		if (sg_check(r, "+14155550100", "+14155552671", 0, &v) || v.reason != SG_REASON_OPTED_OUT)
			return 1;
		if (sg_check(r, "+14155550100", "+14155552672", 0, &v) || !v.allow)
			return 2;
	}
	return 0;
}

/* Bits lost from filter.bits (what a power loss can do: they are not synced
 * per commit) never hide a record: with no live writer, readers do not
 * trust the file; a new writer rebuilds it before readers use it again. */
static void lost_filter_bits_never_hide_an_opt_out(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_engine *w = tu_open(dir, 0, NULL);
	tu_record(w, SG_ACTION_OPT_OUT, SG_SOURCE_KEYWORD, "+14155550100", "+14155552671", 0, NULL);
	sg_engine_close(w);
	char path[600];
	snprintf(path, sizeof(path), "%s/filter.bits", dir);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	char *zeros = calloc(1, (size_t)len);
	fseek(f, 64, SEEK_SET); /* keep the header, lose every bit */
	assert_int_equal(fwrite(zeros, 1, (size_t)len - 64, f), (size_t)len - 64);
	fclose(f);
	free(zeros);
	assert_int_equal(in_reader(dir, denies_and_allows, NULL), 0); /* no writer alive */
	w = tu_open(dir, 0, NULL);                                     /* rebuilds the filter */
	assert_int_equal(in_reader(dir, denies_and_allows, NULL), 0);
	sg_engine_close(w);
	tu_rmdir(dir);
}

/* ---- a page of data.mdb damaged under a running read-only engine ---- */

static int count_event(const sg_event *ev, void *ctx)
{
	(void)ev;
	(*(int *)ctx)++;
	return 0;
}

static int count_optout(const char *k, const sg_scope_state *st, void *ctx)
{
	(void)k;
	(void)st;
	(*(int *)ctx)++;
	return 0;
}


/* The root page of one named database, read with LMDB itself: the main
 * database maps the name to its MDB_db record, whose last field is md_root. */
static uint64_t db_root(const char *dir, const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main_dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &main_dbi), 0);
	MDB_val k = {.mv_size = strlen(name), .mv_data = (void *)name}, v;
	assert_int_equal(mdb_get(txn, main_dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, 48);
	uint64_t root;
	memcpy(&root, (char *)v.mv_data + 40, 8);
	mdb_txn_abort(txn);
	mdb_env_close(env);
	return root;
}

/* What the store says when a page of data.mdb is damaged under a running
 * reader (the events tree's root page loses its type): every answer is a
 * code sg_strerror describes, and the store says it is corrupt. */
static void corrupted_pages_are_reported(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	tu_store_with(dir, 400);
	uint64_t root = db_root(dir, "events");
	sg_engine *r;
	assert_int_equal(tu_open_flags(dir, SG_OPEN_RDONLY, &r), 0);
	char p[4096];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	uint16_t flags = 0; /* neither branch nor leaf */
	assert_int_equal(pwrite(fd, &flags, 2, (off_t)root * 4096 + 10), 2);
	close(fd);
	int rcs[8], n = 0, count = 0;
	rcs[n++] = sg_events_read(r, 1, 1000, count_event, &count, NULL);
	rcs[n++] = sg_events_for_recipient(r, "+14155550007", count_event, &count);
	sg_verify_result vr;
	rcs[n++] = sg_verify(r, &vr);
	rcs[n++] = sg_optouts_foreach(r, NULL, count_optout, &count);
	uint64_t seq;
	uint8_t head[32];
	rcs[n++] = sg_head(r, &seq, head);
	sg_verdict v;
	rcs[n++] = sg_check(r, "+14155550100", "+14155550007", 0, &v);
	int corrupt = 0;
	for (int i = 0; i < n; i++) {
		if (rcs[i])
			fprintf(stderr, "call %d: %d %s\n", i, rcs[i], sg_strerror(rcs[i]));
		assert_true(rcs[i] <= 0);
		assert_string_not_equal(sg_strerror(rcs[i]), "unknown error");
		assert_false(rcs[i] >= MDB_KEYEXIST && rcs[i] <= MDB_LAST_ERRCODE);
		corrupt += rcs[i] == SG_ECORRUPT;
	}
	assert_true(corrupt >= 2); /* the walks over events */
	sg_engine_close(r);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_writer_many_readers),
		cmocka_unit_test(read_only_engine_never_allows_unclaimed_confirmation),
		cmocka_unit_test(second_process_sees_writes),
		cmocka_unit_test(lost_filter_bits_never_hide_an_opt_out),
		cmocka_unit_test(corrupted_pages_are_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
