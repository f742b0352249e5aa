/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check never answers allow for an opted-out pair, whatever the
 * negative-lookup filter does: a writer records opt-outs in batches while
 * reader processes (and a reader thread in the writer's own process) check
 * every recipient the writer has already acknowledged. The filter starts
 * tiny so that it grows (and is replaced under the readers) many times.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define TU_CHECK_ONLY /* no test here classifies (testutil.h) */
#include "testutil.h"

#define TOTAL 3000
#define READERS 2

typedef struct shared {
	_Atomic uint64_t acked; /* recipients 1..acked are durably opted out */
	_Atomic int done;
	_Atomic uint64_t checks, misses_seen;
} shared;

static void recipient(uint64_t i, char out[32])
{
	snprintf(out, 32, "+1212%07llu", (unsigned long long)i);
}

/* Returns the number of wrong answers. */
static long read_loop(sg_engine *e, shared *sh, unsigned seed)
{
	long wrong = 0;
	char to[32];
	while (!atomic_load(&sh->done)) {
		uint64_t a = atomic_load_explicit(&sh->acked, memory_order_acquire);
		if (!a)
			continue;
		uint64_t j = 1 + (uint64_t)rand_r(&seed) % a;
		recipient(j, to);
		sg_verdict v;
		if (sg_check(e, "+14155550100", to, SG_PURPOSE_MESSAGE, &v) || v.allow ||
		    v.reason != SG_REASON_OPTED_OUT) {
			fprintf(stderr, "recipient %llu acknowledged but allowed\n", (unsigned long long)j);
			wrong++;
		}
		/* and one never written: must be allowed (false positives fall back to LMDB) */
		recipient(5000000 + (uint64_t)rand_r(&seed) % 1000000, to);
		if (sg_check(e, "+14155550100", to, SG_PURPOSE_MESSAGE, &v) || !v.allow)
			wrong++;
		atomic_fetch_add(&sh->checks, 2);
	}
	return wrong;
}

typedef struct thread_arg {
	sg_engine *e;
	shared *sh;
	long wrong;
} thread_arg;

static void *reader_thread(void *p)
{
	thread_arg *t = p;
	t->wrong = read_loop(t->e, t->sh, 42);
	return NULL;
}

static void writers_race_readers(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	sg_options o;
	sg_options_default(&o);
	o.data_dir = dir;
	o.keywords_dir = tu_keywords();
	o.filter_capacity = 64; /* grows ~6 times during the test */
	o.flags = SG_OPEN_CREATE;
	sg_engine *w;
	assert_int_equal(sg_engine_open(&o, &w), 0);
	shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	memset(sh, 0, sizeof(*sh));

	pid_t kids[READERS];
	for (int k = 0; k < READERS; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			sg_options ro = o;
			ro.flags = SG_OPEN_RDONLY;
			sg_engine *r;
			int orc = sg_engine_open(&ro, &r);
			if (orc) {
				fprintf(stderr, "reader %d: sg_engine_open: %s (%d)\n", k, sg_strerror(orc), orc);
				_exit(100);
			}
			long wrong = read_loop(r, sh, 1000u + (unsigned)k);
			sg_engine_close(r);
			_exit(wrong ? 1 : 0);
		}
	}
	thread_arg t = {w, sh, 0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_thread, &t), 0);

	sg_event_in evs[10];
	sg_event_out outs[10];
	char tos[10][32];
	uint64_t next = 1;
	unsigned seed = 7;
	while (next <= TOTAL) {
		size_t n = 1 + (size_t)rand_r(&seed) % 10;
		for (size_t i = 0; i < n; i++) {
			recipient(next + i, tos[i]);
			evs[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_KEYWORD,
					       .sender = "+14155550100", .recipient = tos[i]};
		}
		assert_int_equal(sg_record(w, evs, n, outs), 0);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(outs[i].status, 0);
		next += n;
		atomic_store_explicit(&sh->acked, next - 1, memory_order_release);
	}
	atomic_store(&sh->done, 1);
	pthread_join(th, NULL);
	assert_int_equal(t.wrong, 0);
	for (int k = 0; k < READERS; k++) {
		int status;
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	print_message("race: %llu checks against %d acknowledged opt-outs, none wrong\n",
		      (unsigned long long)atomic_load(&sh->checks), TOTAL);
	assert_true(atomic_load(&sh->checks) > 1000);
	sg_stats st;
	assert_int_equal(sg_stats_get(w, &st), 0);
	assert_int_equal(st.opted_out, TOTAL);
	/* the filter really was replaced under the readers: sized for >= TOTAL keys */
	char path[512];
	struct stat fs;
	snprintf(path, sizeof(path), "%s/filter.bits", dir);
	assert_int_equal(stat(path, &fs), 0);
	assert_true(fs.st_size >= TOTAL * 12 / 8);
	munmap(sh, sizeof(*sh));
	sg_engine_close(w);
	tu_rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writers_race_readers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
