/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check's harness (harness.h): options, the generated data and query
 * pool, the store built with sg_record, the timing rounds and the report.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "harness.h"

/* ---- options ---- */

bench_opts opt = {
	.pairs = 1000000,
	.record_batch = 10000,
	.senders = 1000,
	.rounds = 30,
	.round_q = 100000,
	.seed = 0x5709ea7e,
	.seconds = 5,
};

bench_json J;

void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

/* ---- the data ---- */

key16 *senders;
key16 *rcpts;
uint64_t nrcpts;
uint32_t *pair_r;
uint16_t *pair_s;
bench_hash known;

query *pool;
size_t pool_n;

static void make_number(bench_rng *r, char out[16])
{
	unsigned npa, nxx;
	do
		npa = 200 + (unsigned)bench_below(r, 800);
	while (npa % 100 == 11);
	do
		nxx = 200 + (unsigned)bench_below(r, 800);
	while (nxx % 100 == 11);
	snprintf(out, 16, "+1%03u%03u%04u", npa, nxx, (unsigned)bench_below(r, 10000));
}

/* Bigger senders get more opt-outs: P(index < x) = sqrt(x / S). */
unsigned pick_sender(bench_rng *r)
{
	double u = bench_unit(r);
	unsigned s = (unsigned)(u * u * opt.senders);
	return s < opt.senders ? s : opt.senders - 1;
}

/* How many senders one recipient opted out of. */
static unsigned pick_k(bench_rng *r)
{
	double u = bench_unit(r);
	if (u < 0.70)
		return 1;
	if (u < 0.90)
		return 2;
	if (u < 0.96)
		return 3;
	return 4 + (unsigned)bench_below(r, 5);
}

/* A number with no record (not a recorded recipient). */
void fresh_number(bench_rng *r, char out[16])
{
	do
		make_number(r, out);
	while (bench_hash_get(&known, out));
}

void generate(void)
{
	bench_rng r = {opt.seed};
	senders = bench_xcalloc(opt.senders, sizeof(*senders));
	bench_hash sset;
	bench_hash_init(&sset, opt.senders);
	for (unsigned i = 0; i < opt.senders; i++) {
		do
			make_number(&r, senders[i].s);
		while (!bench_hash_put(&sset, senders[i].s, i));
	}
	bench_hash_free(&sset);

	rcpts = bench_xcalloc(opt.pairs, sizeof(*rcpts));
	pair_r = bench_xcalloc(opt.pairs, sizeof(*pair_r));
	pair_s = bench_xcalloc(opt.pairs, sizeof(*pair_s));
	bench_hash_init(&known, opt.pairs);
	uint64_t np = 0;
	while (np < opt.pairs) {
		char num[16];
		do
			make_number(&r, num);
		while (!bench_hash_put(&known, num, (uint32_t)nrcpts));
		memcpy(rcpts[nrcpts].s, num, 16);
		unsigned k = pick_k(&r), chosen[8];
		if (k > opt.pairs - np)
			k = (unsigned)(opt.pairs - np);
		for (unsigned j = 0; j < k; j++) {
			unsigned s;
			bool dup;
			do {
				s = pick_sender(&r);
				dup = false;
				for (unsigned m = 0; m < j; m++)
					dup |= chosen[m] == s;
			} while (dup);
			chosen[j] = s;
			pair_r[np] = (uint32_t)nrcpts;
			pair_s[np] = (uint16_t)s;
			np++;
		}
		nrcpts++;
	}

	/* The query pool: 5 % recorded pairs, 95 % pairs with no record (a
	 * sender of the same skew, a recipient nobody recorded), shuffled. */
	pool_n = opt.round_q * (opt.quick ? 4 : 10);
	pool = bench_xcalloc(pool_n, sizeof(*pool));
	size_t ndeny = pool_n / 20;
	for (size_t i = 0; i < pool_n; i++) {
		query *q = &pool[i];
		if (i < ndeny) {
			uint64_t p = bench_below(&r, opt.pairs);
			memcpy(q->from, senders[pair_s[p]].s, 16);
			memcpy(q->to, rcpts[pair_r[p]].s, 15);
			q->deny = 1;
		} else {
			memcpy(q->from, senders[pick_sender(&r)].s, 16);
			char num[16];
			fresh_number(&r, num);
			memcpy(q->to, num, 15);
			q->deny = 0;
		}
	}
	for (size_t i = pool_n - 1; i > 0; i--) {
		size_t j = bench_below(&r, i + 1);
		query t = pool[i];
		pool[i] = pool[j];
		pool[j] = t;
	}
}

/* A sub-pool of the queries satisfying pred (deny flag), cycled to n. */
query *subpool(int deny, size_t n)
{
	query *q = bench_xcalloc(n, sizeof(*q));
	size_t k = 0;
	for (size_t i = 0; k < n; i = (i + 1) % pool_n)
		if (pool[i].deny == deny)
			q[k++] = pool[i];
	return q;
}

/* Expected hits in pool[off .. off+n). */
size_t truth(const query *q, size_t n)
{
	size_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += q[i].deny;
	return t;
}

/* ---- the store ---- */

char store_dir[4096], raw_dir[4096], sqlite_path[4096];

static void engine_opts(sg_options *o, bool rdonly)
{
	sg_options_default(o);
	o->data_dir = store_dir;
	o->keywords_dir = opt.keywords;
	o->flags = rdonly ? SG_OPEN_RDONLY : SG_OPEN_CREATE;
	o->filter_capacity = opt.pairs * 2;
	o->initial_map_size = (size_t)opt.pairs * 1024 < ((size_t)1 << 26) ? 0 : (size_t)opt.pairs * 1024;
}

sg_engine *open_engine(bool rdonly)
{
	sg_options o;
	engine_opts(&o, rdonly);
	sg_engine *e;
	int rc = sg_engine_open(&o, &e);
	if (rc)
		bench_die("sg_engine_open(%s, %s): %s", store_dir, rdonly ? "rdonly" : "rw", sg_strerror(rc));
	return e;
}

double dir_mb(const char *dir)
{
	double total = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	char path[8192];
	while ((de = readdir(d))) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			total += (double)st.st_blocks * 512;
	}
	closedir(d);
	return total / (1024.0 * 1024.0);
}

/* Record every pair, in random order, in durable sg_record batches. */
double build_secs;

void build_store(void)
{
	const size_t BATCH = opt.record_batch;
	bench_rng r = {opt.seed ^ 0xb111d};
	uint32_t *order = bench_xcalloc(opt.pairs, sizeof(*order));
	for (uint64_t i = 0; i < opt.pairs; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = opt.pairs - 1; i > 0; i--) {
		uint64_t j = bench_below(&r, i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	sg_engine *e = open_engine(false);
	sg_event_in *ev = bench_xcalloc(BATCH, sizeof(*ev));
	sg_event_out *out = bench_xcalloc(BATCH, sizeof(*out));
	int64_t t0 = bench_now_ns(), last = t0;
	for (uint64_t done = 0; done < opt.pairs;) {
		size_t n = opt.pairs - done < BATCH ? (size_t)(opt.pairs - done) : BATCH;
		for (size_t i = 0; i < n; i++) {
			uint32_t p = order[done + i];
			ev[i] = (sg_event_in){
				.size = sizeof(sg_event_in),
				.action = SG_ACTION_OPT_OUT,
				.source = SG_SOURCE_KEYWORD,
				.sender = senders[pair_s[p]].s,
				.recipient = rcpts[pair_r[p]].s,
				.scope = SG_SCOPE_DEFAULT,
				.provider = "bench",
				.rule = "en.stop",
				.body = "STOP",
				.body_len = 4,
			};
		}
		int rc = sg_record(e, ev, n, out);
		if (rc)
			bench_die("sg_record: %s", sg_strerror(rc));
		for (size_t i = 0; i < n; i++)
			if (out[i].status || !out[i].applied)
				bench_die("sg_record event %zu: status %s applied %d", i, sg_strerror(out[i].status),
					  out[i].applied);
		done += n;
		int64_t now = bench_now_ns();
		if (now - last > 5000000000ll) {
			note("  recorded %llu / %llu pairs (%.0f/s)\n", (unsigned long long)done,
			     (unsigned long long)opt.pairs, (double)done * 1e9 / (double)(now - t0));
			last = now;
		}
	}
	double secs = (double)(bench_now_ns() - t0) / 1e9;
	build_secs = secs;
	sg_stats st;
	if (sg_stats_get(e, &st) == 0) {
		bench_json_num(&J, "store.recipients", (double)st.recipients);
		bench_json_num(&J, "store.opted_out_pairs", (double)st.opted_out);
		bench_json_num(&J, "store.events", (double)st.events);
		if (st.recipients != nrcpts || st.opted_out != opt.pairs)
			bench_die("store holds %llu recipients / %llu pairs; expected %llu / %llu",
				  (unsigned long long)st.recipients, (unsigned long long)st.opted_out,
				  (unsigned long long)nrcpts, (unsigned long long)opt.pairs);
	}
	sg_engine_close(e);
	free(ev);
	free(out);
	free(order);
	bench_json_num(&J, "store.pairs", (double)opt.pairs);
	bench_json_num(&J, "store.senders", opt.senders);
	bench_json_num(&J, "store.build_s", secs);
	bench_json_num(&J, "store.record_batch", (double)BATCH);
	bench_json_num(&J, "store.build_pairs_per_s", (double)opt.pairs / secs);
	bench_json_num(&J, "store.disk_mb", dir_mb(store_dir));
	note("  store: %llu pairs over %llu recipients and %u senders, recorded in %.1f s (%.0f pairs/s), %.0f MiB\n",
	     (unsigned long long)opt.pairs, (unsigned long long)nrcpts, opt.senders, secs,
	     (double)opt.pairs / secs, dir_mb(store_dir));
}

/* ---- timing ---- */

typedef struct round_args {
	run_fn run;
	void *ctx;
	const query *q;   /* the pool used */
	size_t qn;
	size_t start;     /* first slice */
	unsigned rounds;
	size_t per_round;
	double *ns;       /* per round */
	pthread_barrier_t *bar;
	int64_t t_begin, t_end;
	size_t bad;
} round_args;

static void *round_thread(void *arg)
{
	round_args *a = arg;
	size_t slices = a->qn / a->per_round;
	/* warm-up: one slice, not counted */
	a->run(a->ctx, a->q + (a->start % slices) * a->per_round, a->per_round);
	if (a->bar)
		pthread_barrier_wait(a->bar);
	a->t_begin = bench_now_ns();
	for (unsigned r = 0; r < a->rounds; r++) {
		const query *q = a->q + ((a->start + 1 + r) % slices) * a->per_round;
		int64_t t0 = bench_now_ns();
		size_t hits = a->run(a->ctx, q, a->per_round);
		int64_t t1 = bench_now_ns();
		a->ns[r] = (double)(t1 - t0) / (double)a->per_round;
		if (hits != truth(q, a->per_round))
			a->bad++;
	}
	a->t_end = bench_now_ns();
	return NULL;
}

/* Run rounds on nthreads threads (each with its own ctx) and summarise. */
meas measure(run_fn run, void **ctxs, unsigned nthreads, const query *q, size_t qn, size_t per_round,
		    unsigned rounds)
{
	round_args a[8];
	pthread_t th[8];
	pthread_barrier_t bar;
	size_t slices = qn / per_round;
	double *all = bench_xcalloc((size_t)rounds * nthreads, sizeof(double));
	pthread_barrier_init(&bar, NULL, nthreads);
	for (unsigned t = 0; t < nthreads; t++) {
		a[t] = (round_args){.run = run, .ctx = ctxs[t], .q = q, .qn = qn, .start = t * (slices / nthreads),
				    .rounds = rounds, .per_round = per_round, .ns = all + (size_t)t * rounds,
				    .bar = nthreads > 1 ? &bar : NULL};
		if (nthreads == 1)
			round_thread(&a[0]);
		else if (pthread_create(&th[t], NULL, round_thread, &a[t]))
			bench_die("pthread_create");
	}
	if (nthreads > 1)
		for (unsigned t = 0; t < nthreads; t++)
			pthread_join(th[t], NULL);
	pthread_barrier_destroy(&bar);
	meas m = {.ok = 1};
	int64_t begin = a[0].t_begin, end = a[0].t_end;
	for (unsigned t = 0; t < nthreads; t++) {
		if (a[t].bad)
			bench_die("a measured loop answered differently from the truth (%zu rounds)", a[t].bad);
		begin = a[t].t_begin < begin ? a[t].t_begin : begin;
		end = a[t].t_end > end ? a[t].t_end : end;
	}
	size_t n = (size_t)rounds * nthreads;
	m.ops = (double)n * (double)per_round;
	m.per_s = m.ops * 1e9 / (double)(end - begin);
	m.p99 = bench_quantile(all, n, 0.99);
	m.med = bench_quantile(all, n, 0.5);
	m.best = all[0];
	free(all);
	return m;
}

/* One slice with every call timed: the single-call latency distribution. */
void measure_calls(meas *m, timed_fn timed, void *ctx, const query *q, size_t n)
{
	uint64_t *ticks = bench_xcalloc(n, sizeof(*ticks));
	double *ns = bench_xcalloc(n, sizeof(*ns));
	timed(ctx, q, n < 1000 ? n : 1000, ticks); /* warm */
	timed(ctx, q, n, ticks);
	double k = bench_ns_per_tick();
	for (size_t i = 0; i < n; i++)
		ns[i] = (double)ticks[i] * k;
	m->call_p50 = bench_quantile(ns, n, 0.50);
	m->call_p99 = bench_quantile(ns, n, 0.99);
	m->call_p999 = bench_quantile(ns, n, 0.999);
	free(ticks);
	free(ns);
}

void interleave(method *ms, size_t nm, unsigned rounds)
{
	double *ns = bench_xcalloc(nm * rounds, sizeof(double));
	double *total = bench_xcalloc(nm, sizeof(double));
	for (size_t i = 0; i < nm; i++)
		ms[i].run(ms[i].ctx, pool, ms[i].per_round); /* warm-up */
	for (unsigned r = 0; r < rounds; r++) {
		for (size_t k = 0; k < nm; k++) {
			size_t i = (k + r) % nm;
			method *m = &ms[i];
			size_t slices = pool_n / m->per_round;
			const query *q = pool + ((r + 1) % slices) * m->per_round;
			int64_t t0 = bench_now_ns();
			size_t hits = m->run(m->ctx, q, m->per_round);
			int64_t dt = bench_now_ns() - t0;
			if (hits != truth(q, m->per_round))
				bench_die("%s answered differently from the truth", m->label);
			ns[i * rounds + r] = (double)dt / (double)m->per_round;
			total[i] += (double)dt;
		}
	}
	for (size_t i = 0; i < nm; i++) {
		meas *m = &ms[i].m;
		*m = (meas){.ok = 1};
		m->ops = (double)rounds * (double)ms[i].per_round;
		m->per_s = m->ops * 1e9 / total[i];
		m->p99 = bench_quantile(ns + i * rounds, rounds, 0.99);
		m->med = bench_quantile(ns + i * rounds, rounds, 0.5);
		m->best = ns[i * rounds];
		measure_calls(m, ms[i].timed, ms[i].ctx, pool, ms[i].per_round);
	}
	free(ns);
	free(total);
}

void report(const char *key, const char *label, const meas *m)
{
	char k[128];
	snprintf(k, sizeof(k), "%s.ns_median", key);
	bench_json_num(&J, k, m->med);
	snprintf(k, sizeof(k), "%s.ns_p99", key);
	bench_json_num(&J, k, m->p99);
	snprintf(k, sizeof(k), "%s.per_s", key);
	bench_json_num(&J, k, m->per_s);
	if (m->call_p50 > 0) {
		snprintf(k, sizeof(k), "%s.call_ns_p50", key);
		bench_json_num(&J, k, m->call_p50);
		snprintf(k, sizeof(k), "%s.call_ns_p99", key);
		bench_json_num(&J, k, m->call_p99);
		snprintf(k, sizeof(k), "%s.call_ns_p999", key);
		bench_json_num(&J, k, m->call_p999);
	}
	note("  %-44s %8.1f ns median  %8.1f ns p99 (rounds)  %11.0f /s", label, m->med, m->p99, m->per_s);
	if (m->call_p50 > 0)
		note("   calls: p50 %.0f p99 %.0f p99.9 %.0f ns", m->call_p50, m->call_p99, m->call_p999);
	note("\n");
}

double quick_med(run_fn run, void *ctx, const query *q, size_t qn, unsigned rounds)
{
	/* parts that do not answer the truth: measured without the check */
	size_t slices = qn / opt.round_q;
	double *ns = bench_xcalloc(rounds, sizeof(*ns));
	run(ctx, q, opt.round_q);
	for (unsigned r = 0; r < rounds; r++) {
		int64_t t0 = bench_now_ns();
		volatile size_t h = run(ctx, q + (r % slices) * opt.round_q, opt.round_q);
		(void)h;
		ns[r] = (double)(bench_now_ns() - t0) / (double)opt.round_q;
	}
	double m = bench_quantile(ns, rounds, 0.5);
	free(ns);
	return m;
}

/* The 1-minute load average: the machine is shared, so every figure
 * comes with it. */
double loadavg(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}
