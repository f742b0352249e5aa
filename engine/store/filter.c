/* SPDX-License-Identifier: Apache-2.0 */
/* The shared negative-lookup filter (see filter.h for its invariants). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "store/consent.h"
#include "store/event.h"
#include "store/filter.h"
#include "store/store.h"

#define FILTER_VERSION 5u /* 5: a 128-byte header (registry version, saved state), pair keys in the recipient's block */
#define REPROBE_EVERY 4096 /* checks between two looks for a usable filter */
#define REVALIDATE_EVERY 1024 /* a thread's probes between two looks at the files */
#define BITS_PER_KEY 12          /* ~0.5 % false positives with 8 probes per 512-bit block */
#define MIN_CAPACITY (1u << 20)
uint64_t sg__filter_sync_max = 1u << 17;
uint64_t sg__filter_build_chunk = 65536; /* keys per read txn of a background build */
unsigned sg__filter_build_pause_us;      /* tests: a pause between two chunks */

_Static_assert(sizeof(sg__filter_hdr) == 128, "the header is two cache lines");

static inline uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ull;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dull;
	x ^= x >> 33;
	return x;
}

uint64_t sg__filter_hash(const char *key, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, key + i, 8);
		h = mix(h ^ w);
	}
	uint64_t tail = 0;
	memcpy(&tail, key + i, len - i);
	return mix(h ^ tail ^ ((uint64_t)(len - i) << 56));
}

uint64_t sg__filter_pair_hash(unsigned kind, const char *id, const char *rcpt)
{
	size_t rl = strlen(rcpt);
	return sg__filter_pair_hash_of(kind, id, rcpt, rl, sg__filter_hash(rcpt, rl));
}

uint64_t sg__filter_pair_hash_of(unsigned kind, const char *id, const char *rcpt, size_t rl, uint64_t rcpt_hash)
{
	char buf[2 + 2 * SG_KEY_MAX];
	size_t il = kind == SG_SCOPE_GLOBAL || kind == SG__PAIR_FLAG ? 0 : strlen(id);
	if (il >= SG_KEY_MAX || rl >= SG_KEY_MAX)
		return 0; /* never a stored key: a probe of it answers "maybe" through LMDB */
	buf[0] = (char)kind;
	memcpy(buf + 1, id, il);
	buf[1 + il] = '\0';
	memcpy(buf + 2 + il, rcpt, rl);
	/* The block is the recipient's (the high half of its hash picks it):
	 * a check that found the recipient's bits set probes its pair keys in
	 * the cache line it already has. */
	uint64_t h = (rcpt_hash & 0xffffffff00000000ull) |
		     (sg__filter_hash(buf, 2 + il + rl) & 0xffffffffull);
	return h ? h : 1;
}

/* The pair keys of one record of recipient key (rcpt): every consent
 * entry's (scope, id) and the not-SMS-capable flag. */
static size_t record_pairs(const sg__rcpt *r, const char *rcpt, uint64_t *out)
{
	size_t n = 0;
	if (r->not_sms_capable)
		out[n++] = sg__filter_pair_hash(SG__PAIR_FLAG, "", rcpt);
	for (unsigned i = 0; i < r->count; i++)
		if (r->entries[i].type == SG__ENTRY_CONSENT)
			out[n++] = sg__filter_pair_hash(r->entries[i].scope, r->entries[i].id, rcpt);
	return n;
}

/* The block of a key and the 8 bit positions inside its 512 bits. */
static inline uint64_t *block_of(const sg__filter_map *m, uint64_t h)
{
	return m->blocks + ((h >> 32) & (m->hdr->nblocks - 1)) * 8;
}

static inline void positions(uint64_t h, unsigned pos[8])
{
	uint64_t a = mix(h), b = mix(h ^ 0x5851f42d4c957f2dull);
	for (int i = 0; i < 4; i++) {
		pos[i] = (unsigned)(a >> (16 * i)) & 511;
		pos[i + 4] = (unsigned)(b >> (16 * i)) & 511;
	}
}

static void unmap(sg__filter_map *m)
{
	if (!m)
		return;
	if (m->lock_id)
		munmap((void *)m->lock_id, sizeof(uint64_t));
	if (m->hdr)
		munmap(m->hdr, m->len);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

static int map_file(const char *path, bool writable, sg__filter_map **ret)
{
	sg__filter_map *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	struct stat st;
	if (m->fd < 0 || fstat(m->fd, &st) < 0 || (size_t)st.st_size < sizeof(sg__filter_hdr)) {
		int err = m->fd < 0 ? -errno : SG_ECORRUPT;
		unmap(m);
		return err;
	}
	m->len = (size_t)st.st_size;
	/* The writer reads every page at once (the checksum): populated in
	 * one call rather than one fault per page. */
	void *p = mmap(NULL, m->len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED | (writable ? MAP_POPULATE : 0),
		       m->fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;
		unmap(m);
		return err;
	}
	m->hdr = p;
	m->blocks = (uint64_t *)((char *)p + sizeof(sg__filter_hdr));
	uint64_t nb = m->hdr->nblocks;
	if (m->hdr->magic != SG__FILTER_MAGIC || m->hdr->version != FILTER_VERSION || !nb || (nb & (nb - 1)) ||
	    m->len != sizeof(sg__filter_hdr) + nb * 64) {
		unmap(m);
		return SG_ECORRUPT;
	}
	*ret = m;
	return 0;
}

static void set_bits(sg__filter_map *m, uint64_t h)
{
	uint64_t *blk = block_of(m, h);
	unsigned pos[8];
	positions(h, pos);
	for (int i = 0; i < 8; i++)
		__atomic_fetch_or(&blk[pos[i] >> 6], 1ull << (pos[i] & 63), __ATOMIC_RELEASE);
}

static bool has_bits(const sg__filter_map *m, uint64_t h)
{
	const uint64_t *blk = block_of(m, h);
	unsigned pos[8];
	positions(h, pos);
	for (int i = 0; i < 8; i++)
		if (!(__atomic_load_n(&blk[pos[i] >> 6], __ATOMIC_RELAXED) & (1ull << (pos[i] & 63))))
			return false;
	return true;
}

void sg__filter_prefetch(sg__filter *f, uint64_t h)
{
	sg__filter_map *m = atomic_load_explicit(&f->map, memory_order_acquire);
	if (m)
		__builtin_prefetch(block_of(m, h));
}

/* The id of the live writer, or 0 when no writer holds the lock (or it has
 * not finished building its filter yet). */
static uint64_t live_writer_id(const sg__filter *f)
{
	int fd = open(f->lock_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	uint64_t id = 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN); /* we got it: nobody writes */
	} else if (errno == EWOULDBLOCK && pread(fd, &id, sizeof(id), 0) != sizeof(id)) {
		id = 0;
	}
	close(fd);
	return id;
}

/* The writer id in writer.lock, mapped: a reader compares it with the
 * filter's stamp before every probe (one load, no system call). */
static int map_lock_id(const sg__filter *f, sg__filter_map *m)
{
	int fd = open(f->lock_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	void *p = MAP_FAILED;
	if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(uint64_t))
		p = mmap(NULL, sizeof(uint64_t), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return SG_ECORRUPT;
	m->lock_id = p;
	m->lock_dev = st.st_dev;
	m->lock_ino = st.st_ino;
	return 0;
}

/* A reader's map of the current file, only if the live writer built it. */
static sg__filter_map *attach(const sg__filter *f)
{
	sg__filter_map *m = NULL;
	uint64_t id = live_writer_id(f);
	if (!id || map_file(f->path, false, &m))
		return NULL;
	if (atomic_load(&m->hdr->retired) || m->hdr->writer_id != id || map_lock_id(f, m) ||
	    atomic_load_explicit(m->lock_id, memory_order_acquire) != id) {
		unmap(m);
		return NULL;
	}
	return m;
}

/* A reader's map is in use only while it is the file at DIR/filter.bits,
 * not retired, and stamped with the id in DIR/writer.lock: a new writer
 * writes its id there before it records anything, so a map that missed its
 * retirement (or a file replaced by hand) is dropped at once. */
static bool stale_fast(const sg__filter_map *m)
{
	return atomic_load_explicit(&m->hdr->retired, memory_order_acquire) ||
	       (m->lock_id && atomic_load_explicit(m->lock_id, memory_order_acquire) != m->hdr->writer_id);
}

/* The slower half, every REVALIDATE_EVERY probes of a thread: the files at
 * the two paths are still the ones mapped. */
static bool stale_files(const sg__filter *f, const sg__filter_map *m)
{
	struct stat a, b;
	if (!m->lock_id)
		return false; /* the writer's own map */
	if (stat(f->path, &a) < 0 || fstat(m->fd, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return true;
	return stat(f->lock_path, &a) < 0 || a.st_ino != m->lock_ino || a.st_dev != m->lock_dev;
}

static void reprobe(sg__filter *f)
{
	pthread_mutex_lock(&f->remap_mutex);
	if (!atomic_load_explicit(&f->map, memory_order_acquire))
		atomic_store_explicit(&f->map, attach(f), memory_order_release);
	pthread_mutex_unlock(&f->remap_mutex);
}

bool sg__filter_maybe(sg__filter *f, uint64_t h)
{
	sg__filter_map *m = atomic_load_explicit(&f->map, memory_order_acquire);
	if (!m && !f->writer &&
	    atomic_fetch_add_explicit(&f->probe, 1, memory_order_relaxed) % REPROBE_EVERY == REPROBE_EVERY - 1) {
		reprobe(f);
		m = atomic_load_explicit(&f->map, memory_order_acquire);
	}
	static _Thread_local unsigned since_revalidate;
	if (m && !f->writer && ++since_revalidate >= REVALIDATE_EVERY) {
		since_revalidate = 0;
		if (stale_files(f, m))
			atomic_store_explicit(&m->stale, 1, memory_order_release);
	}
	if (m && !f->writer && (stale_fast(m) || atomic_load_explicit(&m->stale, memory_order_acquire))) {
		/* A newer file replaced this one, or its writer is gone and a
		 * new one started: follow it. */
		pthread_mutex_lock(&f->remap_mutex);
		if (atomic_load_explicit(&f->map, memory_order_acquire) == m) {
			/* no usable file (yet): fall back to LMDB, look again later */
			sg__filter_map *fresh = attach(f);
			if (f->nretired < SG_ARRAY_SIZE(f->retired))
				f->retired[f->nretired++] = m;
			atomic_store_explicit(&f->map, fresh, memory_order_release);
		}
		pthread_mutex_unlock(&f->remap_mutex);
		m = atomic_load_explicit(&f->map, memory_order_acquire);
	}
	if (!m)
		return true;
	const uint64_t *blk = block_of(m, h);
	unsigned pos[8];
	positions(h, pos);
	for (int i = 0; i < 8; i++)
		if (!(__atomic_load_n(&blk[pos[i] >> 6], __ATOMIC_ACQUIRE) & (1ull << (pos[i] & 63))))
			return false;
	return true;
}

/* The checksum of a file's blocks (the saved state proves them whole). */
static uint64_t blocks_sum(const sg__filter_map *m)
{
	const uint64_t *w = m->blocks;
	size_t n = m->hdr->nblocks * 8; /* a multiple of 8 */
	/* four independent lanes: the multiplies overlap, memory bandwidth
	 * is the limit (the file is read once per writer open) */
	uint64_t a = 0x243f6a8885a308d3ull, b = 0x13198a2e03707344ull, c = 0xa4093822299f31d0ull,
		 d = 0x082efa98ec4e6c89ull;
	for (size_t i = 0; i < n; i += 4) {
		a = (a ^ w[i]) * 0x100000001b3ull;
		b = (b ^ w[i + 1]) * 0x100000001b3ull;
		c = (c ^ w[i + 2]) * 0x100000001b3ull;
		d = (d ^ w[i + 3]) * 0x100000001b3ull;
	}
	return mix(a ^ mix(b ^ mix(c ^ mix(d ^ n))));
}

/* A new, empty DIR/filter.bits.new for capacity keys, every block
 * allocated, mapped writable. */
static int create_new(sg__filter *f, uint64_t capacity, sg__filter_map **ret)
{
	char tmp[sizeof(f->path) + 8];
	snprintf(tmp, sizeof(tmp), "%s.new", f->path);
	uint64_t nblocks = 1;
	while (nblocks * 512 < capacity * BITS_PER_KEY)
		nblocks <<= 1;
	size_t len = sizeof(sg__filter_hdr) + nblocks * 64;
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* readable by the group that may read writer.lock (store.c: group access) */
	struct stat lsb;
	if (stat(f->lock_path, &lsb) == 0)
		(void)fchmod(fd, 0600 | (lsb.st_mode & S_IRGRP));
	/* Allocate every block now: setting bits through the shared mapping
	 * must never meet a hole on a full disk (SIGBUS); -ENOSPC here is a
	 * clean error of this commit instead. */
	int frc = posix_fallocate(fd, 0, (off_t)len);
	if (frc) {
		close(fd);
		unlink(tmp);
		return -frc;
	}
	close(fd);
	sg__filter_map *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = open(tmp, O_RDWR | O_CLOEXEC);
	void *p = m->fd >= 0 ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0) : MAP_FAILED;
	if (p == MAP_FAILED) {
		int err = -errno;
		unmap(m);
		unlink(tmp);
		return err;
	}
	m->hdr = p;
	m->len = len;
	m->blocks = (uint64_t *)((char *)p + sizeof(sg__filter_hdr));
	*m->hdr = (sg__filter_hdr){.magic = SG__FILTER_MAGIC, .version = FILTER_VERSION, .nblocks = nblocks,
				   .capacity = capacity, .writer_id = f->writer_id};
	*ret = m;
	return 0;
}

/* Set the bits of every recipient key visible to txn, from *from (a key to
 * resume at, empty for the first) for at most max keys; *from receives the
 * next key to resume at, *done whether the walk reached the end. */
static int fill(sg__filter_map *m, MDB_txn *txn, MDB_dbi recipients, char *from, size_t *from_len, size_t max,
		bool *done)
{
	MDB_cursor *cur;
	MDB_val k = {.mv_size = *from_len, .mv_data = from}, v;
	uint64_t count = 0, pairs_added = 0;
	int rc = mdb_cursor_open(txn, recipients, &cur);
	if (rc)
		return sg__store_err(rc);
	rc = *from_len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	sg__rcpt *r = malloc(sizeof(*r));
	uint64_t pairs[SG__RCPT_MAX_ENTRIES + 1];
	char key[SG_KEY_MAX];
	if (!r)
		rc = ENOMEM;
	for (; !rc && count < max; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), count++) {
		set_bits(m, sg__filter_hash(k.mv_data, k.mv_size));
		if (k.mv_size >= SG_KEY_MAX)
			continue; /* no check can name it (pair keys of it answer "maybe") */
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		size_t np;
		if (sg__rcpt_decode(v.mv_data, v.mv_size, r)) {
			/* A record the check cannot read either: its flag key
			 * sends every check of it to LMDB, which reports it. */
			pairs[0] = sg__filter_pair_hash(SG__PAIR_FLAG, "", key);
			np = 1;
		} else {
			np = record_pairs(r, key, pairs);
		}
		for (size_t i = 0; i < np; i++)
			set_bits(m, pairs[i]);
		pairs_added += np;
	}
	free(r);
	*done = rc == MDB_NOTFOUND;
	if (!rc) {
		if (k.mv_size > 511)
			rc = MDB_BAD_VALSIZE;
		else {
			memcpy(from, k.mv_data, k.mv_size);
			*from_len = k.mv_size;
		}
	}
	mdb_cursor_close(cur);
	atomic_fetch_add(&m->hdr->count, count + pairs_added);
	return rc && rc != MDB_NOTFOUND ? sg__store_err(rc) : 0;
}

static int sync_map(sg__filter_map *m)
{
	return msync(m->hdr, m->len, MS_SYNC) < 0 || fsync(m->fd) < 0 ? -errno : 0;
}

static void drop_new(sg__filter *f, sg__filter_map *m)
{
	char tmp[sizeof(f->path) + 8];
	snprintf(tmp, sizeof(tmp), "%s.new", f->path);
	unmap(m);
	unlink(tmp);
}

/* Build DIR/filter.bits.new for capacity keys holding every recipient
 * visible to txn, durable. Returns the new map (writable); rebuild() puts it
 * in place. */
static int build(sg__filter *f, uint64_t capacity, MDB_txn *txn, MDB_dbi recipients, sg__filter_map **ret)
{
	sg__filter_map *m;
	int rc = create_new(f, capacity, &m);
	if (rc)
		return rc;
	char from[512];
	size_t from_len = 0;
	bool done = false;
	rc = fill(m, txn, recipients, from, &from_len, SIZE_MAX, &done);
	if (!rc)
		rc = sync_map(m);
	if (rc) {
		drop_new(f, m);
		return rc;
	}
	*ret = m;
	return 0;
}

/* Mark a file replaced: every reader that maps it stops using it before its
 * next probe. Durable, so a crash cannot leave it looking current. */
static int retire(sg__filter_map *m)
{
	atomic_store_explicit(&m->hdr->retired, 1, memory_order_release);
	return msync(m->hdr, sizeof(*m->hdr), MS_SYNC) < 0 ? -errno : 0;
}

/* Steps 2-4 below for a complete, synced new file: retire old, rename the
 * new file into place, make it this writer's map (with the registry
 * version readers compare their caches with). */
static int publish(sg__filter *f, sg__filter_map *fresh, sg__filter_map *old)
{
	char tmp[sizeof(f->path) + 8];
	snprintf(tmp, sizeof(tmp), "%s.new", f->path);
	int rc = 0;
	if ((old && (rc = retire(old))) || (rename(tmp, f->path) < 0 && (rc = -errno))) {
		/* The old map may be retired: no reader uses it, and this
		 * writer's next commit must not set bits in it alone. */
		unmap(fresh);
		unlink(tmp);
		return rc;
	}
	pthread_mutex_lock(&f->remap_mutex);
	atomic_store(&fresh->hdr->reg_version, f->reg_version);
	atomic_store(&fresh->hdr->reg_busy, f->reg_busy);
	atomic_store_explicit(&f->map, fresh, memory_order_release);
	pthread_mutex_unlock(&f->remap_mutex);
	if (old) {
		/* Readers of the old file moved over (or to LMDB) at retirement. */
		if (f->nretired < SG_ARRAY_SIZE(f->retired))
			f->retired[f->nretired++] = old;
		else
			unmap(old); /* only this process could still use it: it is the writer's */
	}
	return 0;
}

/* Replace the current map with one built for capacity keys. The order makes
 * every instruction boundary safe for readers (tests/integration/
 * test_integrity_store.py kills the writer at each step):
 *   1. build filter.bits.new, complete and synced (the old file still
 *      answers: it has every committed key, and nothing commits meanwhile);
 *   2. retire the old file (readers of it fall back to LMDB);
 *   3. rename the new file into place (new readers attach to it);
 *   4. later commits set bits in the new file only.
 * A crash before 2 leaves the old file current; between 2 and 3 readers
 * use LMDB; after 3 the new file is complete. A writer that dies at any
 * point is followed by one that writes a new id into writer.lock before it
 * records anything, which ends every reader's use of any earlier file. */
static int rebuild(sg__filter *f, uint64_t capacity, MDB_txn *txn, MDB_dbi recipients)
{
	sg__filter_map *fresh, *old = atomic_load(&f->map);
	int rc = build(f, capacity, txn, recipients, &fresh);
	return rc ? rc : publish(f, fresh, old);
}

/* ---- the background build (a large store whose file disagrees) ----
 * f->building is published (under remap_mutex) before the builder's first
 * read txn, and every commit from then on sets its new keys' bits in it
 * (sg__filter_add); the builder sets the bits of every key its read txns
 * see, in chunks of sg__filter_build_chunk keys, one txn each (so that map growth is
 * never held off for long). A key committed before a chunk's txn is in it;
 * one committed after the publication was added by its commit: nothing is
 * missed. Until the file is complete the writer's checks and every reader
 * use LMDB (the writer's map is NULL; the file in place carries an older
 * writer id). */
static void *builder_main(void *arg)
{
	sg__filter *f = arg;
	sg__filter_map *m = f->building;
	char from[512];
	size_t from_len = 0;
	bool done = false;
	int rc = 0;
	while (!rc && !done) {
		if (atomic_load(&f->builder_stop)) {
			rc = -ECANCELED;
			break;
		}
		MDB_txn *txn;
		pthread_rwlock_rdlock(f->map_lock);
		rc = sg__store_err(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn));
		if (!rc) {
			rc = fill(m, txn, f->recipients, from, &from_len, sg__filter_build_chunk, &done);
			mdb_txn_abort(txn);
		}
		pthread_rwlock_unlock(f->map_lock);
		if (sg__filter_build_pause_us && !done)
			usleep(sg__filter_build_pause_us);
	}
	if (!rc)
		rc = sync_map(m);
	/* Commits go on setting bits in m until it is the map: no commit runs
	 * between these two steps without the lock. */
	pthread_mutex_lock(&f->remap_mutex);
	sg__filter_map *old = f->build_old;
	f->building = NULL;
	f->build_old = NULL;
	pthread_mutex_unlock(&f->remap_mutex);
	if (rc) {
		drop_new(f, m);
		if (old && f->nretired < SG_ARRAY_SIZE(f->retired))
			f->retired[f->nretired++] = old; /* its readers left at the new writer id */
		else
			unmap(old);
	} else {
		rc = publish(f, m, old);
	}
	f->builder_rc = rc;
	return NULL;
}

static void init(sg__filter *f, const char *dir, bool writer)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->remap_mutex, NULL);
	f->writer = writer;
	f->reg_version = 1;
	snprintf(f->path, sizeof(f->path), "%s/filter.bits", dir);
	snprintf(f->lock_path, sizeof(f->lock_path), "%s/writer.lock", dir);
	if (writer) {
		while (!f->writer_id && getrandom(&f->writer_id, sizeof(f->writer_id), 0) != sizeof(f->writer_id))
			f->writer_id = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	}
}

/* A saved file matches the store it is opened with: the same txn, events,
 * head and recipients, never retired, every block as it was saved. */
static bool matches(const sg__filter_map *m, const sg__filter_stamp *now)
{
	const sg__filter_hdr *h = m->hdr;
	return now && h->saved_txnid && h->saved_txnid == now->txnid && h->saved_seq == now->seq &&
	       h->saved_head == now->head && h->saved_entries == now->entries && !atomic_load(&h->retired) &&
	       atomic_load(&h->count) <= h->capacity && blocks_sum(m) == h->saved_sum;
}

int sg__filter_open_writer(sg__filter *f, const char *dir, MDB_env *env, MDB_dbi recipients, MDB_dbi events,
			   MDB_dbi meta, size_t min_capacity, pthread_rwlock_t *map_lock, const sg__filter_stamp *now)
{
	init(f, dir, true);
	f->env = env;
	f->recipients = recipients;
	f->events = events;
	f->meta = meta;
	f->map_lock = map_lock;
	/* Name this writer in the lock file it holds: readers accept only a
	 * filter stamped with this id, i.e. one this writer built or took
	 * over. A file left by an earlier writer never matches. */
	int lfd = open(f->lock_path, O_WRONLY | O_CLOEXEC);
	if (lfd < 0)
		return -errno;
	ssize_t w = pwrite(lfd, &f->writer_id, sizeof(f->writer_id), 0);
	int werr = w == (ssize_t)sizeof(f->writer_id) ? 0 : w < 0 ? -errno : -EIO;
	close(lfd);
	if (werr)
		return werr;
	/* An older file may be mapped by readers: taken over when its saved
	 * state is this store's, else retired after the rebuild. */
	sg__filter_map *old = NULL;
	if (map_file(f->path, true, &old))
		old = NULL;
	if (old && matches(old, now)) {
		/* Complete for this very commit, and nothing commits before this
		 * writer: take it over. The stamp is cleared first (the file
		 * changes with the next commit; a crash then leaves a txn id
		 * that no longer matches anyway). */
		old->hdr->saved_txnid = 0;
		/* its mode follows writer.lock's now, as a new file's would
		 * (store.c: group access; the directory may have changed) */
		struct stat lsb;
		if (stat(f->lock_path, &lsb) == 0)
			(void)fchmod(old->fd, 0600 | (lsb.st_mode & S_IRGRP));
		atomic_store(&old->hdr->reg_busy, 0);
		atomic_store(&old->hdr->reg_version, f->reg_version);
		atomic_store(&old->hdr->writer_id, f->writer_id); /* readers attach again */
		atomic_store(&f->map, old);
		f->reused = true;
		return 0;
	}
	MDB_txn *txn;
	int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc) {
		unmap(old);
		return sg__store_err(rc);
	}
	MDB_stat ms;
	rc = mdb_stat(txn, recipients, &ms);
	uint64_t floor = min_capacity ? min_capacity : MIN_CAPACITY;
	/* a recipient key and ~1.5 pair keys per recipient, and room to grow */
	uint64_t cap = rc ? floor : ms.ms_entries * 4;
	cap = cap < floor ? floor : cap;
	if (!rc && ms.ms_entries > sg__filter_sync_max) {
		mdb_txn_abort(txn);
		sg__filter_map *fresh;
		if ((rc = create_new(f, cap, &fresh))) {
			unmap(old);
			return rc;
		}
		f->building = fresh;
		f->build_old = old;
		f->build_capacity = cap;
		if (pthread_create(&f->builder, NULL, builder_main, f)) {
			f->building = f->build_old = NULL;
			drop_new(f, fresh);
			unmap(old);
			return -EAGAIN;
		}
		f->builder_running = true;
		return 0;
	}
	atomic_store(&f->map, old);
	if (!rc)
		rc = rebuild(f, cap, txn, recipients);
	mdb_txn_abort(txn);
	return sg__store_err(rc); /* mdb_stat's code, or rebuild's own */
}

int sg__filter_wait(sg__filter *f)
{
	if (!f->builder_running)
		return 0;
	pthread_join(f->builder, NULL);
	f->builder_running = false;
	return f->builder_rc;
}

int sg__filter_save(sg__filter *f, const sg__filter_stamp *now)
{
	if (!f->writer)
		return 0;
	sg__filter_map *m = atomic_load(&f->map);
	if (!m || atomic_load(&m->hdr->retired) || !now || !now->txnid)
		return 0;
	/* The bits first, then the stamp that vouches for them. */
	int rc = sync_map(m);
	if (rc)
		return rc;
	sg__filter_hdr *h = m->hdr;
	h->saved_sum = blocks_sum(m);
	h->saved_seq = now->seq;
	h->saved_head = now->head;
	h->saved_entries = now->entries;
	h->saved_txnid = now->txnid;
	return msync(h, sizeof(*h), MS_SYNC) < 0 ? -errno : 0;
}

void sg__filter_open_reader(sg__filter *f, const char *dir)
{
	init(f, dir, false);
	atomic_store(&f->map, attach(f));
}

void sg__filter_close(sg__filter *f)
{
	if (f->builder_running) {
		atomic_store(&f->builder_stop, 1);
		sg__filter_wait(f);
	}
	unmap(atomic_load(&f->map));
	atomic_store(&f->map, NULL);
	for (unsigned i = 0; i < f->nretired; i++)
		unmap(f->retired[i]);
	f->nretired = 0;
	pthread_mutex_destroy(&f->remap_mutex);
}

static int meta_seq(const sg__filter *f, MDB_txn *txn, uint64_t *seq)
{
	MDB_val k = {.mv_size = 3, .mv_data = (void *)"seq"}, v;
	int rc = mdb_get(txn, f->meta, &k, &v);
	*seq = 0;
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return sg__store_err(rc);
	if (v.mv_size != 8)
		return SG_ECORRUPT;
	*seq = sg__be64_get(v.mv_data);
	return 0;
}

/* The pair keys of every record the pending batch wrote: the records of
 * the recipients of its events, those after the last committed seq (read
 * in a txn of its own: nothing commits while the batch's txn is open). A
 * batch that is retried or aborted only sets bits again. */
static int batch_pairs(sg__filter *f, MDB_txn *pending, uint64_t **ret, size_t *nret)
{
	uint64_t from = 0, to = 0;
	MDB_txn *rd;
	*ret = NULL;
	*nret = 0;
	int rc = sg__store_err(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &rd));
	if (rc)
		return rc;
	rc = meta_seq(f, rd, &from);
	mdb_txn_abort(rd);
	if (!rc)
		rc = meta_seq(f, pending, &to);
	if (rc || to <= from)
		return rc;
	sg__rcpt *r = malloc(sizeof(*r));
	char *scratch = malloc(SG__EVENT_ENC_MAX + 256);
	size_t cap = (size_t)(to - from) * 2 + SG__RCPT_MAX_ENTRIES + 1, n = 0;
	uint64_t *keys = malloc(cap * sizeof(*keys));
	if (!r || !scratch || !keys)
		rc = -ENOMEM;
	for (uint64_t seq = from + 1; !rc && seq <= to; seq++) {
		uint8_t kb[8];
		sg__be64_put(kb, seq);
		MDB_val k = {.mv_size = 8, .mv_data = kb}, v;
		sg_event ev;
		if ((rc = sg__store_err(mdb_get(pending, f->events, &k, &v))))
			break; /* every seq of the batch has its event */
		if (v.mv_size + 16 > SG__EVENT_ENC_MAX + 256) {
			rc = SG_ECORRUPT;
			break;
		}
		if ((rc = sg__event_decode(v.mv_data, v.mv_size, &ev, scratch, SG__EVENT_ENC_MAX + 256)))
			break;
		if (!ev.recipient || !ev.recipient[0] || strlen(ev.recipient) >= SG_KEY_MAX)
			continue;
		char rk[SG_KEY_MAX];
		memcpy(rk, ev.recipient, strlen(ev.recipient) + 1);
		MDB_val key = {.mv_size = strlen(rk), .mv_data = rk}, val;
		int g = mdb_get(pending, f->recipients, &key, &val);
		if (g == MDB_NOTFOUND)
			continue; /* no record left: nothing to find */
		if (g) {
			rc = sg__store_err(g);
			break;
		}
		bool bad = sg__rcpt_decode(val.mv_data, val.mv_size, r) != 0;
		if (bad)
			r->count = 0, r->not_sms_capable = true; /* its flag key: LMDB reports it */
		if (n + r->count + 1 > cap) {
			size_t ncap = (n + r->count + 1) * 2;
			uint64_t *grown = realloc(keys, ncap * sizeof(*keys));
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			keys = grown;
			cap = ncap;
		}
		n += record_pairs(r, rk, keys + n);
	}
	free(r);
	free(scratch);
	if (rc) {
		free(keys);
		return rc;
	}
	*ret = keys;
	*nret = n;
	return 0;
}

static int add_keys(sg__filter *f, const uint64_t *hashes, size_t n, MDB_dbi recipients, MDB_txn *pending);

int sg__filter_add(sg__filter *f, const uint64_t *hashes, size_t n, MDB_env *env, MDB_dbi recipients,
		   MDB_txn *pending)
{
	(void)env;
	uint64_t *pairs;
	size_t np;
	int rc = batch_pairs(f, pending, &pairs, &np);
	if (rc)
		return rc; /* the batch fails: no record without its keys */
	uint64_t *all = malloc((n + np + 1) * sizeof(*all));
	if (!all) {
		free(pairs);
		return -ENOMEM;
	}
	if (n)
		memcpy(all, hashes, n * sizeof(*all));
	if (np)
		memcpy(all + n, pairs, np * sizeof(*all));
	free(pairs);
	rc = add_keys(f, all, n + np, recipients, pending);
	free(all);
	return rc;
}

/* Set the bits of hashes (recipient and pair keys) before the commit. */
static int add_keys(sg__filter *f, const uint64_t *hashes, size_t n, MDB_dbi recipients, MDB_txn *pending)
{
	if (!n)
		return 0;
	pthread_mutex_lock(&f->remap_mutex);
	if (f->building) {
		/* A background build runs: it gets this commit's keys now. */
		for (size_t i = 0; i < n; i++)
			set_bits(f->building, hashes[i]);
		atomic_fetch_add(&f->building->hdr->count, n);
		pthread_mutex_unlock(&f->remap_mutex);
		return 0;
	}
	pthread_mutex_unlock(&f->remap_mutex);
	sg__filter_map *m = atomic_load(&f->map);
	if (!m) {
		/* The background build is publishing its file, or it failed:
		 * then build one here, from every record the pending txn sees
		 * (this batch's new ones included). */
		sg__filter_wait(f);
		if (!(m = atomic_load(&f->map))) {
			uint64_t cap = f->build_capacity ? f->build_capacity : MIN_CAPACITY;
			return rebuild(f, cap, pending, recipients);
		}
	}
	/* Only keys not in the file yet count towards its capacity: a batch
	 * re-keys the records it touches, and re-adds would otherwise fill it
	 * (and make a growth rebuild) on repeated traffic alone. */
	size_t fresh = 0;
	for (size_t i = 0; i < n; i++)
		fresh += !has_bits(m, hashes[i]);
	uint64_t count = atomic_load(&m->hdr->count) + fresh;
	if (atomic_load(&m->hdr->retired)) {
		/* A growth retired this file and failed to put its successor in
		 * place: readers ignore it, so publish a complete one first. */
		return rebuild(f, count > m->hdr->capacity ? count * 4 : m->hdr->capacity, pending, recipients);
	}
	if (count > m->hdr->capacity) {
		/* Full: a new file sized for growth, built from every record the
		 * pending txn sees (which includes this batch's new ones). */
		return rebuild(f, count * 4, pending, recipients);
	}
	for (size_t i = 0; i < n; i++)
		set_bits(m, hashes[i]);
	atomic_store(&m->hdr->count, count);
	return 0; /* not synced: see filter.h, readers trust only a live writer's filter */
}

/* ---- the registry version ---- */

bool sg__filter_reg_version(sg__filter *f, uint64_t *writer_id, uint64_t *version)
{
	sg__filter_map *m = atomic_load_explicit(&f->map, memory_order_acquire);
	if (!m || (!f->writer && (stale_fast(m) || atomic_load_explicit(&m->stale, memory_order_acquire))))
		return false;
	/* busy before version: a write whose commit is visible either still
	 * counts as busy or has moved the version on (filter.h). */
	if (atomic_load(&m->hdr->reg_busy))
		return false;
	*version = atomic_load(&m->hdr->reg_version);
	*writer_id = atomic_load(&m->hdr->writer_id);
	return true;
}

void sg__filter_reg_begin(sg__filter *f)
{
	if (!f->writer)
		return;
	pthread_mutex_lock(&f->remap_mutex);
	f->reg_busy++;
	sg__filter_map *m = atomic_load(&f->map);
	if (m)
		atomic_store(&m->hdr->reg_busy, f->reg_busy);
	pthread_mutex_unlock(&f->remap_mutex);
}

void sg__filter_reg_end(sg__filter *f)
{
	if (!f->writer)
		return;
	pthread_mutex_lock(&f->remap_mutex);
	f->reg_version++;
	f->reg_busy--;
	sg__filter_map *m = atomic_load(&f->map);
	if (m) {
		atomic_store(&m->hdr->reg_version, f->reg_version);
		atomic_store(&m->hdr->reg_busy, f->reg_busy);
	}
	pthread_mutex_unlock(&f->remap_mutex);
}
