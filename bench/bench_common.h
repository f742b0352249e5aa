/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers shared by the benchmarks: a seeded PRNG, clocks, per-round
 * statistics, a flat JSON writer and the open-addressing hash table used as
 * the in-memory floor. Header-only; every function is static.
 */
#pragma once
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "stopgate.h"

#define BENCH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void bench_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* The options the store benchmarks open with: the store in dir, flags, US
 * numbers, the keyword set of $SG_KEYWORDS (else keywords, NULL: the
 * library's default) and the quiet-hours rules quiet_dir (NULL: default). */
static inline void bench_options(sg_options *o, const char *dir, unsigned flags, const char *keywords,
				 const char *quiet_dir)
{
	sg_options_default(o);
	o->data_dir = dir;
	o->flags = flags;
	o->default_country = "US";
	const char *kw = getenv("SG_KEYWORDS");
	if (kw && kw[0])
		o->keywords_dir = kw;
	else if (keywords)
		o->keywords_dir = keywords;
	if (quiet_dir)
		o->quiet_hours_dir = quiet_dir;
}

/* An engine on dir opened with bench_options(); exits on failure. */
static inline sg_engine *bench_open(const char *dir, unsigned flags, const char *quiet_dir)
{
	sg_options o;
	bench_options(&o, dir, flags, NULL, quiet_dir);
	sg_engine *e;
	int rc = sg_engine_open(&o, &e);
	if (rc)
		bench_die("open %s: %s", dir, sg_strerror(rc));
	return e;
}

static inline void *bench_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		bench_die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

/* ---- PRNG: splitmix64, deterministic from a seed ---- */

typedef struct bench_rng {
	uint64_t s;
} bench_rng;

static inline uint64_t bench_rand(bench_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint64_t bench_below(bench_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)bench_rand(r) * n) >> 64);
}

/* Uniform in [0, 1). */
static inline double bench_unit(bench_rng *r)
{
	return (double)(bench_rand(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- clocks ---- */

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A cheap cycle counter for per-call latencies, calibrated against the
 * monotonic clock; falls back to the clock where there is none. */
static inline uint64_t bench_ticks(void)
{
#if defined(__x86_64__)
	_mm_lfence();
	uint64_t t = __rdtsc();
	_mm_lfence();
	return t;
#else
	return (uint64_t)bench_now_ns();
#endif
}

__attribute__((unused)) static double bench_ns_per_tick(void)
{
	static double cached;
	if (cached > 0)
		return cached;
	int64_t n0 = bench_now_ns();
	uint64_t t0 = bench_ticks();
	while (bench_now_ns() - n0 < 50 * 1000000)
		;
	int64_t n1 = bench_now_ns();
	uint64_t t1 = bench_ticks();
	cached = t1 > t0 ? (double)(n1 - n0) / (double)(t1 - t0) : 1.0;
	return cached;
}

/* ---- statistics over rounds ---- */

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n), nearest rank; sorts v. */
static inline double bench_quantile(double *v, size_t n, double q)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	size_t rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* ---- a flat JSON writer: "section.name": number ---- */

typedef struct bench_json {
	FILE *f;
	bool first;
} bench_json;

static inline void bench_json_num(bench_json *j, const char *key, double v)
{
	if (!j->f)
		return;
	fprintf(j->f, "%s\n  \"%s\": %.6g", j->first ? "{" : ",", key, v);
	j->first = false;
}

static inline void bench_json_str(bench_json *j, const char *key, const char *v)
{
	if (!j->f)
		return;
	fprintf(j->f, "%s\n  \"%s\": \"", j->first ? "{" : ",", key);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', j->f);
		if ((unsigned char)*p >= 0x20)
			fputc(*p, j->f);
	}
	fputc('"', j->f);
	j->first = false;
}

static inline void bench_json_end(bench_json *j)
{
	if (!j->f)
		return;
	fputs(j->first ? "{}\n" : "\n}\n", j->f);
}

/* ---- the in-memory floor: open addressing, linear probing ----
 * Keys up to 19 bytes are stored inline in the slot (no pointer chase), so a
 * lookup is one hash, usually one cache line and one memcmp. */

#define BENCH_HKEY 20

typedef struct bench_slot {
	char key[BENCH_HKEY]; /* NUL-terminated; "" = empty */
	uint32_t val;
} bench_slot;

typedef struct bench_hash {
	bench_slot *slots;
	uint64_t mask;
	uint64_t count;
} bench_hash;

/* A word-at-a-time string hash (multiply-xorshift rounds). */
static inline uint64_t bench_strhash(const char *s, size_t len)
{
	uint64_t h = 0x2545f4914f6cdd1dull ^ (len * 0x9e3779b97f4a7c15ull);
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	uint64_t t = 0;
	memcpy(&t, s + i, len - i);
	h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

static inline void bench_hash_init(bench_hash *t, uint64_t expected)
{
	uint64_t n = 16;
	while (n < expected * 2)
		n <<= 1;
	t->slots = bench_xcalloc(n, sizeof(*t->slots));
	t->mask = n - 1;
	t->count = 0;
}

static inline void bench_hash_free(bench_hash *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Returns the slot holding key, or NULL. */
static inline const bench_slot *bench_hash_get(const bench_hash *t, const char *key)
{
	size_t len = strlen(key);
	uint64_t i = bench_strhash(key, len) & t->mask;
	for (;; i = (i + 1) & t->mask) {
		const bench_slot *s = &t->slots[i];
		if (!s->key[0])
			return NULL;
		if (!memcmp(s->key, key, len + 1))
			return s;
	}
}

/* Insert; returns false when the key was already there (val untouched). */
static inline bool bench_hash_put(bench_hash *t, const char *key, uint32_t val)
{
	size_t len = strlen(key);
	if (!len || len >= BENCH_HKEY)
		bench_die("hash key of %zu bytes", len);
	if ((t->count + 1) * 10 > (t->mask + 1) * 7)
		bench_die("hash table over its sizing");
	uint64_t i = bench_strhash(key, len) & t->mask;
	for (;; i = (i + 1) & t->mask) {
		bench_slot *s = &t->slots[i];
		if (!s->key[0]) {
			memcpy(s->key, key, len + 1);
			s->val = val;
			t->count++;
			return true;
		}
		if (!memcmp(s->key, key, len + 1))
			return false;
	}
}
