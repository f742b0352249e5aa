/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a durable commit costs (issue 14), in process on real LMDB:
 *   1. import: --pairs opt-outs recorded by sg_record in batches of --batch
 *      (keys in random order, as bench_check builds its store); the bytes
 *      the process caused to be written (/proc/self/io write_bytes, from
 *      before the open to after the close) over the final data.mdb size:
 *      the write amplification of an import;
 *   2. bytes per pair by tree (mdb_stat of every named database: entries,
 *      depth, pages) and LMDB's free pages;
 *   3. the store reopened as the daemon opens it (SG_OPEN_DEFER_SYNC), in
 *      interleaved rounds on the same disk:
 *        - the disk's fdatasync latency: a 4 KiB pwrite into a file beside
 *          data.mdb, then fdatasync;
 *        - one connection: sg_record of one inbound STOP (body, dedup key)
 *          then sg_sync, which is what the daemon's writer does when its
 *          queue is empty after a commit; its latency and ratio to the
 *          fdatasync latency of the same round;
 *        - a loaded group commit: sg_record of --group such events with
 *          no sg_sync (the next commit's sync makes it durable);
 *      with the syncs (fdatasync, fsync, msync) and page writes each makes,
 *      counted by wrapping those calls in this executable (LMDB and the
 *      library call them through the PLT; export_dynamic in meson.build),
 *      and one traced commit of each kind: every call, its file, its size.
 * Nothing is asserted about time; a failed call stops the run.
 *
 *   bench_commit [--pairs N] [--batch B] [--group G] [--rounds R] [--per K]
 *                [--dir DIR] [--json FILE] [--sorted] [--quick]
 *   --sorted  import the recipients in key order (what a sorted bulk load
 *             would do) instead of a random order
 * BENCH_PREALLOC_MB=M (an experiment): write M MB of zeros past data.mdb's
 * end before the commit rounds, so that no commit makes the file longer
 * (a commit that does makes its fdatasync write the inode too).
 */
#undef _FILE_OFFSET_BITS /* pwrite and pwrite64 are both wrapped below */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_common.h"
#include "stopgate.h"

/* ---- counted calls ---- */

typedef struct counts {
	uint64_t fdatasync, fsync, msync;
	uint64_t dsync;        /* writes to a file opened O_DSYNC (LMDB's meta fd): a sync each */
	uint64_t page_writes;  /* 4 KiB units written by writes of at least a page */
	uint64_t small_writes; /* writes under a page (LMDB's meta pages) */
	uint64_t bytes;
} counts;

static _Atomic uint64_t c_fdatasync, c_fsync, c_msync, c_dsync, c_pages, c_small, c_bytes;
static _Atomic int tracing; /* print every counted call */

static void snap(counts *c)
{
	c->fdatasync = atomic_load(&c_fdatasync);
	c->fsync = atomic_load(&c_fsync);
	c->msync = atomic_load(&c_msync);
	c->dsync = atomic_load(&c_dsync);
	c->page_writes = atomic_load(&c_pages);
	c->small_writes = atomic_load(&c_small);
	c->bytes = atomic_load(&c_bytes);
}

static counts diff(const counts *a, const counts *b)
{
	counts d = {b->fdatasync - a->fdatasync, b->fsync - a->fsync, b->msync - a->msync, b->dsync - a->dsync,
		    b->page_writes - a->page_writes, b->small_writes - a->small_writes, b->bytes - a->bytes};
	return d;
}

static void trace_call(const char *name, int fd, size_t len)
{
	if (!atomic_load(&tracing))
		return;
	char link[64], path[512] = "?";
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = fd >= 0 ? readlink(link, path, sizeof(path) - 1) : -1;
	path[n > 0 ? n : 1] = '\0';
	const char *base = strrchr(path, '/');
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	fprintf(stderr, "    %-9s %-12s %7zu bytes%s\n", name, base ? base + 1 : path, len,
		fl >= 0 && (fl & O_DSYNC) ? " (O_DSYNC: a sync)" : "");
}

static void count_write(int fd, size_t len)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
	if (fl >= 0 && (fl & O_DSYNC))
		atomic_fetch_add(&c_dsync, 1);
	if (!len)
		return;
	atomic_fetch_add(&c_bytes, len);
	if (len >= 4096)
		atomic_fetch_add(&c_pages, len / 4096);
	else
		atomic_fetch_add(&c_small, 1);
}

#define REAL(name) \
	static __typeof__(&name) real_##name; \
	if (!real_##name) \
		real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

int fdatasync(int fd)
{
	REAL(fdatasync);
	atomic_fetch_add(&c_fdatasync, 1);
	trace_call("fdatasync", fd, 0);
	return real_fdatasync(fd);
}

int fsync(int fd)
{
	REAL(fsync);
	atomic_fetch_add(&c_fsync, 1);
	trace_call("fsync", fd, 0);
	return real_fsync(fd);
}

int msync(void *addr, size_t len, int flags)
{
	REAL(msync);
	atomic_fetch_add(&c_msync, 1);
	trace_call("msync", -1, len);
	return real_msync(addr, len, flags);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	REAL(pwrite);
	count_write(fd, len);
	trace_call("pwrite", fd, len);
	return real_pwrite(fd, buf, len, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	REAL(pwrite64);
	count_write(fd, len);
	trace_call("pwrite64", fd, len);
	return real_pwrite64(fd, buf, len, off);
}

ssize_t writev(int fd, const struct iovec *iov, int n)
{
	REAL(writev);
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	count_write(fd, 0);
	for (int i = 0; i < n; i++)
		count_write(-1, iov[i].iov_len);
	trace_call("writev", fd, len);
	return real_writev(fd, iov, n);
}

/* ---- helpers ---- */

static uint64_t io_write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	unsigned long long v = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "write_bytes: %llu", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static off_t file_size(const char *dir, const char *name)
{
	char p[8448];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	struct stat sb;
	return stat(p, &sb) == 0 ? sb.st_size : 0;
}

/* quiet hours "none": a commit's cost, not the rules' load */
static sg_engine *open_dir(const char *dir, unsigned flags)
{
	return bench_open(dir, flags, "none");
}

#define NSENDERS 100
static char senders[NSENDERS][16];

static void recipient_of(uint64_t i, char out[16])
{
	/* distinct NANP numbers: +1 (201..) 555 xxxx spread over area codes */
	snprintf(out, 16, "+1%03u%07u", 201 + (unsigned)(i / 10000000u) % 700, (unsigned)(i % 10000000u));
}

/* ---- 1: the import ---- */

static void import(const char *dir, uint64_t pairs, size_t batch, bool sorted, bench_json *J, double *wa_out)
{
	uint32_t *order = bench_xcalloc(pairs, sizeof(*order));
	for (uint64_t i = 0; i < pairs; i++)
		order[i] = (uint32_t)i;
	bench_rng r = {42};
	for (uint64_t i = pairs - 1; i > 0 && !sorted; i--) {
		uint64_t j = bench_below(&r, i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	char(*rcpt)[16] = bench_xcalloc(batch, 16);
	sg_event_in *ev = bench_xcalloc(batch, sizeof(*ev));
	sg_event_out *out = bench_xcalloc(batch, sizeof(*out));
	uint64_t w0 = io_write_bytes();
	counts c0, c1;
	snap(&c0);
	int64_t t0 = bench_now_ns();
	sg_engine *e = open_dir(dir, SG_OPEN_CREATE);
	uint64_t commits = 0;
	for (uint64_t done = 0; done < pairs;) {
		size_t n = pairs - done < batch ? (size_t)(pairs - done) : batch;
		for (size_t i = 0; i < n; i++) {
			uint32_t p = order[done + i];
			recipient_of(p, rcpt[i]);
			ev[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT,
					      .source = SG_SOURCE_KEYWORD, .sender = senders[p % NSENDERS],
					      .recipient = rcpt[i], .provider = "bench", .rule = "en.stop",
					      .body = "STOP", .body_len = 4};
		}
		int rc = sg_record(e, ev, n, out);
		if (rc)
			bench_die("sg_record: %s", sg_strerror(rc));
		for (size_t i = 0; i < n; i++)
			if (out[i].status || !out[i].applied)
				bench_die("import event %zu: %s", i, sg_strerror(out[i].status));
		done += n;
		commits++;
	}
	sg_engine_close(e);
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	snap(&c1);
	uint64_t written = io_write_bytes() - w0;
	counts d = diff(&c0, &c1);
	off_t size = file_size(dir, "data.mdb");
	double wa = size ? (double)written / (double)size : 0;
	*wa_out = wa;
	printf("import: %llu pairs (recipients in %s order) in %llu commits of %zu, %.2f s (%.0f pairs/s)\n",
	       (unsigned long long)pairs, sorted ? "key" : "random", (unsigned long long)commits, batch, secs,
	       (double)pairs / secs);
	printf("  written (/proc/self/io write_bytes) %.1f MB, data.mdb %.1f MB, filter.bits %.1f MB\n",
	       (double)written / 1e6, (double)size / 1e6, (double)file_size(dir, "filter.bits") / 1e6);
	printf("  LMDB's own page writes (pwrite/writev) %.1f MB: %.2f x the store (the kernel accounts whole\n"
	       "  folios in write_bytes, so write_bytes can exceed what was handed to it)\n",
	       (double)d.bytes / 1e6, size ? (double)d.bytes / (double)size : 0);
	printf("  write amplification %.2f x (goal <= 3 x)   store bytes per pair %.0f (goal <= 100)\n", wa,
	       (double)size / (double)pairs);
	printf("  per commit (open and close included): %.2f fdatasync, %.2f O_DSYNC writes, %.2f fsync, "
	       "%.2f msync, %.0f page writes (%.2f per event)\n",
	       (double)d.fdatasync / commits, (double)d.dsync / commits, (double)d.fsync / commits,
	       (double)d.msync / commits,
	       (double)d.page_writes / commits, (double)d.page_writes / (double)pairs);
	bench_json_num(J, "import.pairs", (double)pairs);
	bench_json_num(J, "import.seconds", secs);
	bench_json_num(J, "import.bytes_written", (double)written);
	bench_json_num(J, "import.store_bytes", (double)size);
	bench_json_num(J, "import.write_amplification", wa);
	bench_json_num(J, "import.lmdb_bytes_written", (double)d.bytes);
	bench_json_num(J, "import.lmdb_write_amplification", size ? (double)d.bytes / (double)size : 0);
	bench_json_num(J, "import.sorted", sorted);
	bench_json_num(J, "import.bytes_per_pair", (double)size / (double)pairs);
	bench_json_num(J, "import.page_writes_per_event", (double)d.page_writes / (double)pairs);
	free(order);
	free(rcpt);
	free(ev);
	free(out);
}

/* ---- 2: bytes per pair by tree ---- */

static void trees(const char *dir, uint64_t pairs, bench_json *J)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi main;
	MDB_cursor *cur;
	MDB_val k, v;
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 64) ||
	    mdb_env_open(env, dir, MDB_RDONLY | MDB_NOTLS, 0600) || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
	    mdb_dbi_open(txn, NULL, 0, &main) || mdb_cursor_open(txn, main, &cur))
		bench_die("mdb_stat of %s failed", dir);
	MDB_envinfo info;
	MDB_stat ms;
	mdb_env_info(env, &info);
	mdb_env_stat(env, &ms);
	size_t used = 0, psize = ms.ms_psize;
	printf("trees (mdb_stat, %llu pairs, page %zu):\n", (unsigned long long)pairs, psize);
	printf("  %-11s %10s %5s %9s %9s %9s %10s\n", "tree", "entries", "depth", "branch", "leaf", "overflow",
	       "bytes/pair");
	while (!mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
		char name[64];
		if (k.mv_size >= sizeof(name))
			continue;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = '\0';
		MDB_dbi dbi;
		if (mdb_dbi_open(txn, name, 0, &dbi) || mdb_stat(txn, dbi, &ms))
			continue;
		size_t pages = ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages;
		used += pages;
		printf("  %-11s %10zu %5u %9zu %9zu %9zu %10.1f\n", name, ms.ms_entries, ms.ms_depth,
		       ms.ms_branch_pages, ms.ms_leaf_pages, ms.ms_overflow_pages,
		       (double)(pages * psize) / (double)pairs);
		char key[96];
		snprintf(key, sizeof(key), "tree.%s.bytes_per_pair", name);
		bench_json_num(J, key, (double)(pages * psize) / (double)pairs);
		snprintf(key, sizeof(key), "tree.%s.depth", name);
		bench_json_num(J, key, ms.ms_depth);
	}
	size_t total = info.me_last_pgno + 1;
	printf("  %-11s %10s %5s %9s %9s %9s %10.1f\n", "free/meta", "", "", "", "", "",
	       (double)((total - used) * psize) / (double)pairs);
	bench_json_num(J, "tree.free_bytes_per_pair", (double)((total - used) * psize) / (double)pairs);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	mdb_env_close(env);
}

/* ---- 3: commit latency and costs, interleaved rounds ---- */

typedef struct inbound {
	sg_event_in *ev;
	sg_event_out *out;
	char (*rcpt)[16];
	char (*id)[32];
	uint64_t next, pairs;
	bench_rng r;
} inbound;

/* n inbound STOPs from recipients of the store (random), each a new message id */
static void fill(inbound *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t p = bench_below(&b->r, b->pairs);
		recipient_of(p, b->rcpt[i]);
		snprintf(b->id[i], 32, "bench:m%llu", (unsigned long long)b->next++);
		b->ev[i] = (sg_event_in){.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT,
					 .source = SG_SOURCE_KEYWORD, .sender = senders[(p + 1) % NSENDERS],
					 .recipient = b->rcpt[i], .provider = "bench",
					 .provider_msg_id = b->id[i] + 6, .dedup_key = b->id[i], .rule = "en.stop",
					 .body = "STOP please", .body_len = 11,
					 .reply = "You are unsubscribed and will receive no more messages."};
	}
}

static void record(sg_engine *e, inbound *b, size_t n)
{
	int rc = sg_record(e, b->ev, n, b->out);
	if (rc)
		bench_die("sg_record: %s", sg_strerror(rc));
	for (size_t i = 0; i < n; i++)
		if (b->out[i].status)
			bench_die("inbound event %zu: %s", i, sg_strerror(b->out[i].status));
}

static double cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double probe_cpu; /* thread CPU time of the last probe (us) */

static double probe_fdatasync(int fd, unsigned i)
{
	static char page[4096];
	page[0] = (char)i;
	double c0 = cpu_us();
	int64_t t0 = bench_now_ns();
	if (pwrite(fd, page, sizeof(page), (off_t)(i % 16) * 4096) != (ssize_t)sizeof(page) || fdatasync(fd) < 0)
		bench_die("probe: %s", strerror(errno));
	double us = (double)(bench_now_ns() - t0) / 1e3;
	probe_cpu = cpu_us() - c0;
	return us;
}

static void commits(const char *dir, uint64_t pairs, size_t group, int rounds, int per, bench_json *J,
		    double wa)
{
	char probe_path[8448];
	snprintf(probe_path, sizeof(probe_path), "%s/fdatasync.probe", dir);
	int pfd = open(probe_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pfd < 0)
		bench_die("%s: %s", probe_path, strerror(errno));
	for (unsigned i = 0; i < 16; i++)
		probe_fdatasync(pfd, i); /* allocated and synced: later probes overwrite */

	const char *pre = getenv("BENCH_PREALLOC_MB"); /* experiment: zeros written past the end first */
	if (pre && atoi(pre) > 0) {
		char p[8448];
		snprintf(p, sizeof(p), "%s/data.mdb", dir);
		int fd = open(p, O_WRONLY | O_CLOEXEC);
		off_t end = lseek(fd, 0, SEEK_END);
		static char zero[1 << 16];
		for (long i = 0; i < atoi(pre) * 16L; i++)
			if (pwrite(fd, zero, sizeof(zero), end + i * (off_t)sizeof(zero)) != (ssize_t)sizeof(zero))
				bench_die("prealloc: %s", strerror(errno));
		fdatasync(fd);
		close(fd);
		printf("preallocated %d MB of zeros past data.mdb's end\n", atoi(pre));
	}
	sg_engine *e = open_dir(dir, SG_OPEN_DEFER_SYNC);
	inbound b = {.pairs = pairs, .r = {7}};
	b.ev = bench_xcalloc(group, sizeof(*b.ev));
	b.out = bench_xcalloc(group, sizeof(*b.out));
	b.rcpt = bench_xcalloc(group, 16);
	b.id = bench_xcalloc(group, 32);

	/* warm the caches, then one traced commit of each kind */
	for (int i = 0; i < 20; i++) {
		fill(&b, 1);
		record(e, &b, 1);
		sg_sync(e);
	}
	fprintf(stderr, "trace: one event, one connection (sg_record, then sg_sync as the idle writer does):\n");
	fill(&b, 1);
	atomic_store(&tracing, 1);
	record(e, &b, 1);
	fprintf(stderr, "    -- sg_sync\n");
	sg_sync(e);
	atomic_store(&tracing, 0);
	fill(&b, group);
	counts ga, gz;
	snap(&ga);
	record(e, &b, group);
	snap(&gz);
	counts gd = diff(&ga, &gz);
	fprintf(stderr, "trace: a group commit of %zu events under load (sg_record only): %llu page writes to data.mdb, "
		"%llu fdatasync, %llu fsync, %llu msync, %llu O_DSYNC writes, %llu write of the 120-byte meta page\n",
		group, (unsigned long long)gd.page_writes, (unsigned long long)gd.fdatasync,
		(unsigned long long)gd.fsync, (unsigned long long)gd.msync, (unsigned long long)gd.dsync,
		(unsigned long long)gd.small_writes);
	sg_sync(e);

	size_t nr = (size_t)rounds;
	double *fds = bench_xcalloc(nr, sizeof(double)), *one = bench_xcalloc(nr, sizeof(double));
	double *grp = bench_xcalloc(nr, sizeof(double)), *ratio = bench_xcalloc(nr, sizeof(double));
	double *lat = bench_xcalloc((size_t)per, sizeof(double)), *cpu = bench_xcalloc((size_t)per, sizeof(double));
	double *onecpu = bench_xcalloc(nr, sizeof(double)), *fdcpu = bench_xcalloc(nr, sizeof(double));
	counts one_c = {0}, grp_c = {0};
	unsigned grew1 = 0, grewg = 0; /* commits that made data.mdb longer (an inode write in the sync) */
	unsigned pi = 0;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < per; i++) {
			lat[i] = probe_fdatasync(pfd, pi++);
			cpu[i] = probe_cpu;
		}
		fds[r] = bench_quantile(lat, (size_t)per, 0.5);
		fdcpu[r] = bench_quantile(cpu, (size_t)per, 0.5);
		counts a, z, d;
		for (int i = 0; i < per; i++) {
			fill(&b, 1);
			off_t sz0 = file_size(dir, "data.mdb");
			snap(&a);
			int64_t t0 = bench_now_ns();
			double c0 = cpu_us();
			record(e, &b, 1);
			int rc = sg_sync(e);
			cpu[i] = cpu_us() - c0;
			lat[i] = (double)(bench_now_ns() - t0) / 1e3;
			snap(&z);
			grew1 += file_size(dir, "data.mdb") != sz0;
			if (rc)
				bench_die("sg_sync: %s", sg_strerror(rc));
			d = diff(&a, &z);
			one_c.fdatasync += d.fdatasync, one_c.fsync += d.fsync, one_c.msync += d.msync;
			one_c.dsync += d.dsync;
			one_c.page_writes += d.page_writes, one_c.small_writes += d.small_writes;
		}
		one[r] = bench_quantile(lat, (size_t)per, 0.5);
		onecpu[r] = bench_quantile(cpu, (size_t)per, 0.5);
		ratio[r] = fds[r] > 0 ? one[r] / fds[r] : 0;
		for (int i = 0; i < per; i++) {
			fill(&b, group);
			off_t sz0 = file_size(dir, "data.mdb");
			snap(&a);
			int64_t t0 = bench_now_ns();
			record(e, &b, group);
			lat[i] = (double)(bench_now_ns() - t0) / 1e3;
			snap(&z);
			grewg += file_size(dir, "data.mdb") != sz0;
			d = diff(&a, &z);
			grp_c.fdatasync += d.fdatasync, grp_c.fsync += d.fsync, grp_c.msync += d.msync;
			grp_c.dsync += d.dsync;
			grp_c.page_writes += d.page_writes, grp_c.small_writes += d.small_writes;
		}
		sg_sync(e);
		grp[r] = bench_quantile(lat, (size_t)per, 0.5);
		printf("  round %d: fdatasync %.0f us, one event %.0f us (%.2f x), group of %zu %.0f us\n", r + 1,
		       fds[r], one[r], ratio[r], group, grp[r]);
	}
	sg_engine_close(e);
	close(pfd);
	unlink(probe_path);

	double n1 = (double)rounds * per, ng = n1 * (double)group;
	double f = bench_quantile(fds, nr, 0.5), o = bench_quantile(one, nr, 0.5), g = bench_quantile(grp, nr, 0.5);
	double q = bench_quantile(ratio, nr, 0.5), oc = bench_quantile(onecpu, nr, 0.5);
	double fc = bench_quantile(fdcpu, nr, 0.5);
	double s1 = (double)(one_c.fdatasync + one_c.fsync + one_c.msync + one_c.dsync) / n1;
	double sg = (double)(grp_c.fdatasync + grp_c.fsync + grp_c.msync + grp_c.dsync) / n1;
	printf("commit (median of %d interleaved rounds of %d, store of %llu pairs, SG_OPEN_DEFER_SYNC):\n", rounds,
	       per, (unsigned long long)pairs);
	printf("  %-48s %9s %9s %s\n", "", "measured", "goal", "");
	printf("  %-48s %9.0f %9s\n", "fdatasync latency of the disk (us)", f, "");
	printf("  %-48s %9.0f %9s\n", "  of it CPU time of the thread (us)", fc, "");
	printf("  %-48s %9.0f %9s\n", "one connection: commit + sg_sync (us)", o, "");
	printf("  %-48s %9.0f %9s\n", "  of it CPU time of the thread (us)", oc, "");
	printf("  %-48s %9.2f %9s %s\n", "  ratio to fdatasync (median of rounds)", q, "<= 2", q <= 2 ? "met" : "not met");
	printf("  %-48s %9.2f %9s %s\n", "  syncs per commit", s1, "1", s1 <= 1.0 ? "met" : "not met");
	printf("  %-48s %9.1f\n", "  page writes per event", (double)one_c.page_writes / n1);
	printf("  %-48s %9.2f\n", "  share of commits that grew data.mdb", (double)grew1 / n1);
	printf("  %-48s %9.0f %9s\n", "loaded: group commit of G events (us)", g, "");
	printf("  %-48s %9.2f %9s %s\n", "  syncs per group commit", sg, "1", sg <= 1.0 ? "met" : "not met");
	printf("  %-48s %9.1f\n", "  page writes per group commit", (double)grp_c.page_writes / n1);
	printf("  %-48s %9.2f\n", "  page writes per event", (double)grp_c.page_writes / ng);
	printf("  %-48s %9.2f\n", "  share of commits that grew data.mdb", (double)grewg / n1);
	printf("  %-48s %9.2f %9s %s\n", "import write amplification", wa, "<= 3", wa <= 3 ? "met" : "not met");
	bench_json_num(J, "commit.fdatasync_us", f);
	bench_json_num(J, "commit.one_us", o);
	bench_json_num(J, "commit.one_ratio_fdatasync", q);
	bench_json_num(J, "commit.one_cpu_us", oc);
	bench_json_num(J, "commit.fdatasync_cpu_us", fc);
	bench_json_num(J, "commit.one_syncs", s1);
	bench_json_num(J, "commit.one_page_writes", (double)one_c.page_writes / n1);
	bench_json_num(J, "commit.one_grew_share", (double)grew1 / n1);
	bench_json_num(J, "commit.group_grew_share", (double)grewg / n1);
	bench_json_num(J, "commit.group_size", (double)group);
	bench_json_num(J, "commit.group_us", g);
	bench_json_num(J, "commit.group_syncs", sg);
	bench_json_num(J, "commit.group_page_writes_per_event", (double)grp_c.page_writes / ng);
	free(fds);
	free(one);
	free(grp);
	free(ratio);
	free(lat);
	free(cpu);
	free(onecpu);
	free(fdcpu);
	free(b.ev);
	free(b.out);
	free(b.rcpt);
	free(b.id);
}

int main(int argc, char **argv)
{
	uint64_t pairs = 100000;
	size_t batch = 10000, group = 64;
	int rounds = 7, per = 30;
	bool sorted = false;
	const char *base = NULL, *json = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
			pairs = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--group") && i + 1 < argc)
			group = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--per") && i + 1 < argc)
			per = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			base = argv[++i];
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--sorted"))
			sorted = true;
		else if (!strcmp(argv[i], "--quick"))
			pairs = 20000, rounds = 3, per = 10;
		else
			bench_die("usage: bench_commit [--pairs N] [--batch B] [--group G] [--rounds R] [--per K] "
				  "[--dir DIR] [--json FILE] [--sorted] [--quick]");
	}
	if (!pairs || !batch || !group || rounds < 1 || per < 1)
		bench_die("--pairs, --batch, --group, --rounds and --per must be positive");
	for (int i = 0; i < NSENDERS; i++)
		snprintf(senders[i], sizeof(senders[i]), "+1212555%04d", i);
	char tmpl[] = "/tmp/sg-bench-commit-XXXXXX", dir[4096];
	const char *root = base ? base : mkdtemp(tmpl);
	if (!root)
		bench_die("mkdtemp: %s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/store", root);
	if (file_size(dir, "data.mdb"))
		bench_die("%s already holds a store (give an empty --dir)", dir);
	bench_json J = {.f = json ? fopen(json, "w") : NULL, .first = true};
	if (json && !J.f)
		bench_die("%s: %s", json, strerror(errno));

	double wa = 0;
	import(dir, pairs, batch, sorted, &J, &wa);
	trees(dir, pairs, &J);
	commits(dir, pairs, group, rounds, per, &J, wa);
	bench_json_end(&J);
	if (J.f)
		fclose(J.f);
	if (!base) {
		char cmd[4300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			fprintf(stderr, "bench: could not remove %s\n", root);
	}
	return 0;
}
