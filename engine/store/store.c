/* SPDX-License-Identifier: Apache-2.0 */
/* The LMDB environment: opening, the writer lock, cached read txns, map
 * growth and the durable write helper. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>

#include "internal.h"
#include "store/store.h"
#include "store/review.h"

/* store/handle.h spells LMDB's handle types by their struct tags and
 * MDB_dbi as unsigned int, to keep <lmdb.h> inside engine/store/. */
_Static_assert(_Generic((MDB_dbi)0, unsigned int: 1, default: 0), "MDB_dbi is not unsigned int");

/* 2: events and recipient records may be stored compact (event_value.h,
 * consent.h format 3), which versions of stopgate that wrote 1 do not
 * read: they refuse a store of version 2 (SG_EVERSION) instead. A writer
 * that opens a store of version 1 moves it to 2 before it writes. */
#define STORE_VERSION 2u
#define STORE_VERSION_MIN 1u
#define DEFAULT_MAP (64u << 20)
/* Read-only engines map a window this large so they never need to remap
 * while the writer grows the file (address space only, no memory). */
#define READER_MAP ((size_t)1 << 40)
#define MAX_DBS 16

/* One cached read txn of one thread. kept: the check's txn left live
 * after its call (sg__rd_end_keep), see sg__rd_begin_keep. */
enum { RTXN_RESET = 0, RTXN_KEPT = 1, RTXN_RELEASING = 2 };
typedef struct sg__rtxn {
	MDB_txn *txn;
	struct sg__rtxn *next;
	_Atomic int kept;
} sg__rtxn;

int sg__store_err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return SG_ENOTFOUND;
	case MDB_MAP_FULL:
		return SG__EMAPFULL; /* grown and retried by sg__store_write() */
	case MDB_CORRUPTED:     /* a page is not what its parent says */
	case MDB_PAGE_NOTFOUND: /* a page number past the end of the file */
	case MDB_INVALID:       /* not an LMDB file */
	case MDB_INCOMPATIBLE:  /* a database with flags stopgate never sets */
		return SG_ECORRUPT;
	case MDB_VERSION_MISMATCH:
		return SG_EVERSION;
	case MDB_READERS_FULL:
	case MDB_MAP_RESIZED:
		return -EAGAIN; /* try again (after freeing dead readers' slots) */
	case MDB_BAD_VALSIZE:
		return SG_ETOOLONG; /* a key longer than LMDB allows */
	case MDB_KEYEXIST:
	case MDB_PANIC:
	case MDB_DBS_FULL:
	case MDB_TLS_FULL:
	case MDB_TXN_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
	case MDB_BAD_RSLOT:
	case MDB_BAD_TXN:
	case MDB_BAD_DBI:
		return SG_ESTORE;
	default:
		if (rc > 0 && rc < 4096)
			return -rc; /* an errno from the system */
		if ((rc >= SG_ERROR_MIN && rc < SG__ERROR_END) || (rc < 0 && rc > -4096))
			return rc; /* already ours: translating twice changes nothing */
		return SG_ESTORE;
	}
}

static int open_dbs(sg__store *st)
{
	MDB_txn *txn;
	/* "meta" (with its version) is created only in a store this open
	 * creates: it is what marks an LMDB file as a stopgate store. A writer
	 * adds the other databases when missing (a store of an older layout). */
	unsigned meta_flags = st->fresh ? MDB_CREATE : 0, flags = st->rdonly ? 0 : MDB_CREATE;
	int rc = mdb_txn_begin(st->env, NULL, st->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return sg__store_err(rc);
	struct {
		const char *name;
		MDB_dbi *dbi;
		unsigned extra;
	} dbs[] = {
		{"meta", &st->meta, 0},
		{"events", &st->events, 0},
		{"bodies", &st->bodies, 0},
		{"byrcpt", &st->byrcpt, MDB_DUPSORT | MDB_DUPFIXED},
		{"recipients", &st->recipients, 0},
		{"senders", &st->senders, 0},
		{"campaigns", &st->campaigns, 0},
		{"dedup", &st->dedup, 0},
		{"sends", &st->sends, 0},
		{"sendrcpt", &st->sendrcpt, 0},
		{"sendseals", &st->sendseals, 0},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(dbs) && !rc; i++) {
		rc = mdb_dbi_open(txn, dbs[i].name, (i ? flags : meta_flags) | dbs[i].extra, dbs[i].dbi);
		/* A reader of a store no writer of this version opened yet: no
		 * send ledger (reads of it find nothing). */
		if (rc == MDB_NOTFOUND && st->rdonly && dbs[i].dbi == &st->sends) {
			st->no_sends = true;
			rc = 0;
			break;
		}
	}
	if (rc == MDB_NOTFOUND) {
		/* An LMDB file without stopgate's databases: a reader may have met
		 * a store being created; a writer found a file stopgate did not
		 * write (it never turns an existing file into a store). */
		mdb_txn_abort(txn);
		return st->rdonly ? SG_ENOSTORE : SG_ECORRUPT;
	}
	if (!rc) {
		MDB_val k = sg__val("version", 7), v;
		int g = mdb_get(txn, st->meta, &k, &v);
		if (g == MDB_NOTFOUND && st->fresh) {
			uint32_t ver = STORE_VERSION;
			MDB_val nv = sg__val(&ver, sizeof(ver));
			rc = mdb_put(txn, st->meta, &k, &nv, 0);
		} else if (g == MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return st->rdonly ? SG_ENOSTORE : SG_ECORRUPT;
		} else if (g == 0) {
			uint32_t ver;
			if (v.mv_size != sizeof(ver)) {
				rc = MDB_CORRUPTED;
			} else if (memcpy(&ver, v.mv_data, sizeof(ver)), ver < STORE_VERSION_MIN || ver > STORE_VERSION) {
				rc = MDB_VERSION_MISMATCH;
			} else if (ver != STORE_VERSION && !st->rdonly) {
				ver = STORE_VERSION; /* every form of version 1 reads as it is */
				MDB_val nv = sg__val(&ver, sizeof(ver));
				rc = mdb_put(txn, st->meta, &k, &nv, 0);
			}
		} else {
			rc = g;
		}
	}
	if (rc) {
		mdb_txn_abort(txn);
		return sg__store_err(rc);
	}
	/* Commit even a read-only txn: aborting would close the new handles. */
	return sg__store_err(mdb_txn_commit(txn));
}

/* Group access (docs/operations.md, "Install"): when the data directory is
 * readable by its group (0750, e.g. the stopgate group of a packaged
 * install), the writer makes the store's files readable by that group too,
 * and lock.mdb writable by it, since an LMDB reader records itself there:
 * data.mdb, writer.lock and filter.bits 0640, lock.mdb 0660. Otherwise
 * every file is 0600. Set with fchmod(), whatever the umask; a reader
 * changes nothing. */
static mode_t group_read(const char *dir)
{
	struct stat sb;
	return stat(dir, &sb) == 0 && (sb.st_mode & S_IRGRP) ? S_IRGRP : 0;
}

static int take_writer_lock(sg__store *st, const char *dir)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/writer.lock", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	mode_t mode = 0600 | group_read(dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? SG_ELOCKED : -errno;
		close(fd);
		return err;
	}
	st->lock_fd = fd;
	(void)fchmod(fd, mode); /* also when the directory's mode changed since */
	return 0;
}

/* LMDB sizes lock.mdb with ftruncate() and writes its reader slots through
 * a shared mapping: on a full disk, the first write to a slot in a hole
 * would kill the process with SIGBUS. Allocate the blocks beforehand
 * (best effort; the size and contents stay LMDB's). This must run before
 * this process opens the environment: closing any descriptor of lock.mdb
 * drops the process's fcntl() locks on it, which LMDB relies on. */
#define LOCK_FILE_RESERVE (128u << 10) /* > LMDB's size for 1024 readers */
static void reserve_lock_file(const char *dir, bool writer)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/lock.mdb", dir) >= sizeof(path))
		return;
	mode_t mode = group_read(dir) ? 0660 : 0600;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0)
		return;
	if (writer)
		(void)fchmod(fd, mode);
	(void)fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, LOCK_FILE_RESERVE);
	close(fd);
}

/* ---- what the directory holds, before LMDB maps anything --------------- */

/* LMDB's on-disk format (data version 1): pages 0 and 1 are meta pages, each
 * a 16-byte page header and then MDB_meta: magic, version, address, mapsize,
 * two MDB_db (the first one's md_pad holds the page size), last_pg, txnid. */
#define MDB_META_OFF 16u
#define MDB_META_MAGIC 0xBEEFC0DEu
#define MDB_META_DATA_VERSION 1u
#define META_MAGIC_AT (MDB_META_OFF + 0)
#define META_VERSION_AT (MDB_META_OFF + 4)
#define META_PSIZE_AT (MDB_META_OFF + 24)
#define META_LAST_PG_AT (MDB_META_OFF + 120)
#define META_TXNID_AT (MDB_META_OFF + 128)
#define META_BYTES (MDB_META_OFF + 136)

typedef struct meta_info {
	bool valid;
	uint32_t psize;
	uint64_t last_pg, txnid;
} meta_info;

static meta_info parse_meta(const uint8_t *b)
{
	meta_info m = {0};
	uint32_t magic, version;
	memcpy(&magic, b + META_MAGIC_AT, 4);
	memcpy(&version, b + META_VERSION_AT, 4);
	memcpy(&m.psize, b + META_PSIZE_AT, 4);
	memcpy(&m.last_pg, b + META_LAST_PG_AT, 8);
	memcpy(&m.txnid, b + META_TXNID_AT, 8);
	m.valid = magic == MDB_META_MAGIC && version == MDB_META_DATA_VERSION && m.psize >= 512 &&
		  m.psize <= 65536 && !(m.psize & (m.psize - 1)) && m.last_pg >= 1 && m.last_pg < (UINT64_MAX >> 17);
	return m;
}

/* The newest meta page's last page and txn id, and the file's size taken
 * after the pages were read (0, or SG_ETRUNCATED / SG_ECORRUPT / -errno). */
static int read_data_file(int fd, uint64_t *need, uint64_t *txnid, uint64_t *size)
{
	struct stat sb;
	uint8_t b[META_BYTES];
	if (pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return SG_ETRUNCATED; /* emptied (or cut inside the first meta page) */
	meta_info m0 = parse_meta(b), m1 = {0};
	if (!m0.valid)
		return SG_ECORRUPT; /* not an LMDB data file stopgate can read */
	if (pread(fd, b, sizeof(b), m0.psize) != (ssize_t)sizeof(b))
		return SG_ETRUNCATED;
	m1 = parse_meta(b);
	meta_info *cur = m1.valid && m1.psize == m0.psize && m1.txnid > m0.txnid ? &m1 : &m0;
	*need = (cur->last_pg + 1) * (uint64_t)cur->psize;
	*txnid = cur->txnid;
	/* The size after the pages: a writer extends the file with a commit's
	 * pages before it writes the meta page naming them, so a size taken
	 * before the meta pages were read may predate a commit they name. */
	if (fstat(fd, &sb) < 0)
		return -errno;
	*size = (uint64_t)sb.st_size;
	return 0;
}

/* data.mdb against its own meta pages: a file shorter than the last page
 * the newest meta page names was truncated, and mapping it would end every
 * process that reads past the end with SIGBUS. *txnid receives the newest
 * meta page's transaction id (0: no commit ever happened). A writer may be
 * committing meanwhile (a reader opening beside a running daemon): a short
 * reading is trusted only when a second one names the same commit. */
static int check_data_file(const char *path, uint64_t *txnid)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SG_ETRUNCATED : -errno;
	int rc;
	uint64_t need = 0, id = 0, size = 0, prev_id = UINT64_MAX;
	for (int tries = 0; tries < 8; tries++) {
		rc = read_data_file(fd, &need, &id, &size);
		if (!rc && size < need)
			rc = SG_ETRUNCATED;
		if (rc != SG_ETRUNCATED || id == prev_id)
			break;
		prev_id = id; /* short: read again; a commit in between moves the txn id */
	}
	close(fd);
	if (!rc && txnid)
		*txnid = id;
	return rc;
}

/* The size of dir/name, or -1 when it does not exist. */
static off_t file_size(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat sb;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -1;
	return lstat(path, &sb) == 0 ? sb.st_size : -1;
}

/* What only a store that a writer opened leaves behind: the filter files,
 * or writer.lock holding a writer id (written at every writer open, right
 * after data.mdb is made). With any of them and no data.mdb, the store was
 * deleted or moved, and a new empty one in its place would allow every
 * recipient. An empty writer.lock and lock.mdb alone are what a first
 * creation killed before it made data.mdb leaves: nothing to lose there. */
static bool has_leftovers(const char *dir)
{
	return file_size(dir, "filter.bits") >= 0 || file_size(dir, "filter.bits.new") >= 0 ||
	       file_size(dir, "writer.lock") > 0;
}

/* A live writer holds writer.lock while data.mdb is absent or empty: it is
 * creating the store (a reader met it a moment early). */
static bool being_created(const char *dir)
{
	char path[PATH_MAX];
	struct stat sb;
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >= sizeof(path) ||
	    (stat(path, &sb) == 0 && sb.st_size > 0))
		return false;
	if ((size_t)snprintf(path, sizeof(path), "%s/writer.lock", dir) >= sizeof(path))
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	if (!held)
		flock(fd, LOCK_UN);
	close(fd);
	return held;
}

/* Before anything is created or mapped: is there a store in dir, and may this
 * open create one? *fresh is set when this open is to create the store. Called
 * by a writer with the writer lock held (so no other writer is creating it). */
static int inspect_dir(const char *dir, bool create, bool leftovers_before_lock, bool *fresh)
{
	char path[PATH_MAX];
	*fresh = false;
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	struct stat sb;
	if (lstat(path, &sb) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (leftovers_before_lock)
			return SG_ETRUNCATED;
		if (!create)
			return SG_ENOSTORE;
		*fresh = true;
		return 0;
	}
	uint64_t txnid = 0;
	int rc = check_data_file(path, &txnid);
	if (rc == SG_ETRUNCATED && sb.st_size == 0 && create && !leftovers_before_lock) {
		/* Empty, and no writer ever finished opening this directory: a
		 * first creation killed before LMDB wrote its meta pages. */
		*fresh = true;
		return 0;
	}
	if (rc)
		return rc;
	/* Meta pages and no commit yet: a creation that died before its first
	 * commit. Nothing can be lost by finishing it. */
	if (txnid == 0 && create)
		*fresh = true;
	return 0;
}

/* What a saved filter is stamped with: the last commit's txn id, the last
 * event's seq, the head hash's first 8 bytes and the recipient count. */
static int read_stamp(sg__store *st, sg__filter_stamp *out)
{
	MDB_txn *txn;
	MDB_stat ms;
	memset(out, 0, sizeof(*out));
	int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return sg__store_err(rc);
	out->txnid = (uint64_t)mdb_txn_id(txn);
	rc = mdb_stat(txn, st->recipients, &ms);
	if (!rc) {
		out->entries = ms.ms_entries;
		rc = sg__meta_get_u64(st, txn, "seq", &out->seq);
	}
	if (!rc) {
		MDB_val k = sg__val("head", 4), v;
		int g = mdb_get(txn, st->meta, &k, &v);
		if (!g && v.mv_size == 32)
			memcpy(&out->head, v.mv_data, 8);
		else if (g != MDB_NOTFOUND)
			rc = g ? g : MDB_CORRUPTED;
	}
	mdb_txn_abort(txn);
	return sg__store_err(rc);
}

int sg__store_open(sg__store *st, const char *dir, bool rdonly, bool defer_sync, bool create,
		   size_t initial_map, size_t filter_capacity)
{
	int rc;
	bool fresh = false;
	memset(st, 0, sizeof(*st));
	st->lock_fd = -1;
	st->rdonly = rdonly;
	pthread_mutex_init(&st->txns_mutex, NULL);
	pthread_rwlock_init(&st->map_lock, NULL);
	if (pthread_key_create(&st->txn_key, NULL) != 0)
		return -EAGAIN;
	st->txn_key_made = true;
	if (pthread_key_create(&st->scache_key, NULL) != 0)
		return -EAGAIN;
	st->scache_key_made = true;

	struct stat dsb;
	if (stat(dir, &dsb) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (!create || rdonly)
			return SG_ENOSTORE; /* nothing is created by a mere open */
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
	} else if (!S_ISDIR(dsb.st_mode)) {
		return -ENOTDIR;
	}
	if (rdonly) {
		if ((rc = inspect_dir(dir, false, has_leftovers(dir), &fresh)))
			return rc == SG_ETRUNCATED && being_created(dir) ? SG_ENOSTORE : rc;
	} else {
		/* Leftovers are judged as found, before this open adds writer.lock. */
		bool leftovers = has_leftovers(dir);
		if (!create && file_size(dir, "data.mdb") < 0)
			return leftovers ? SG_ETRUNCATED : SG_ENOSTORE;
		if ((rc = take_writer_lock(st, dir)))
			return rc;
		if ((rc = inspect_dir(dir, create, leftovers, &fresh)))
			return rc;
	}
	st->fresh = fresh;
	if ((rc = mdb_env_create(&st->env)))
		return sg__store_err(rc);
	long page = sysconf(_SC_PAGESIZE);
	size_t map = rdonly ? READER_MAP : (initial_map ? initial_map : DEFAULT_MAP);
	map = (map + (size_t)page - 1) / (size_t)page * (size_t)page;
	st->map_size = map;
	if ((rc = mdb_env_set_mapsize(st->env, map)) || (rc = mdb_env_set_maxdbs(st->env, MAX_DBS)) ||
	    (rc = mdb_env_set_maxreaders(st->env, 1024)))
		return sg__store_err(rc);
	/* Never NOSYNC/MAPASYNC/WRITEMAP; NOMETASYNC only for a caller that
	 * acknowledges a commit after the next sync (SG_OPEN_DEFER_SYNC). */
	unsigned flags = MDB_NOTLS | (rdonly ? MDB_RDONLY : 0) | (defer_sync && !rdonly ? MDB_NOMETASYNC : 0);
	reserve_lock_file(dir, !rdonly);
	mode_t data_mode = 0600 | group_read(dir);
	rc = mdb_env_open(st->env, dir, flags, data_mode);
	if (rc)
		return rc == ENOENT ? SG_ENOSTORE : sg__store_err(rc);
	if (!rdonly) {
		int dfd;
		if (!mdb_env_get_fd(st->env, &dfd))
			(void)fchmod(dfd, data_mode);
	}
	MDB_envinfo info;
	if (!mdb_env_info(st->env, &info) && info.me_mapsize > st->map_size)
		st->map_size = info.me_mapsize; /* the file was grown by an earlier writer */
	int dead = 0;
	mdb_reader_check(st->env, &dead);
	if ((rc = open_dbs(st)) || (rc = sg__review_index_open(st)))
		return rc;
	sg__filter_stamp stamp;
	if (rdonly)
		sg__filter_open_reader(&st->filter, dir);
	else if ((rc = read_stamp(st, &stamp)) ||
		 (rc = sg__filter_open_writer(&st->filter, dir, st->env, st->recipients, st->events, st->meta,
					      filter_capacity, &st->map_lock, &stamp)))
		return rc;
	st->filter_open = true;
	return 0;
}

void sg__store_close(sg__store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&st->txns_mutex);
	for (sg__rtxn *r = st->txns, *next; r; r = next) {
		next = r->next;
		mdb_txn_abort(r->txn);
		free(r);
	}
	st->txns = NULL;
	sg__scache_free_all(st);
	pthread_mutex_unlock(&st->txns_mutex);
	if (st->filter_open && !st->rdonly && st->env) {
		/* Saved for the next writer open (or rebuilt by it when this
		 * fails: nothing depends on it). */
		sg__filter_stamp stamp;
		if (!read_stamp(st, &stamp))
			(void)sg__filter_save(&st->filter, &stamp);
	}
	if (st->filter_open)
		sg__filter_close(&st->filter);
	st->filter_open = false;
	if (st->env)
		mdb_env_close(st->env);
	st->env = NULL;
	if (st->txn_key_made)
		pthread_key_delete(st->txn_key);
	st->txn_key_made = false;
	if (st->scache_key_made)
		pthread_key_delete(st->scache_key);
	st->scache_key_made = false;
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	st->lock_fd = -1;
	pthread_rwlock_destroy(&st->map_lock);
	pthread_mutex_destroy(&st->txns_mutex);
}

/* Take this thread's txn back from the kept state: true when it is still
 * live (the caller decides whether its snapshot will do), false when it
 * is reset. Waits while the writer is releasing it. */
static bool claim_kept(sg__rtxn *r)
{
	for (;;) {
		int s = atomic_load_explicit(&r->kept, memory_order_acquire);
		if (s == RTXN_RESET)
			return false;
		if (s == RTXN_KEPT) {
			if (atomic_compare_exchange_weak_explicit(&r->kept, &s, RTXN_RESET, memory_order_acquire,
								  memory_order_relaxed))
				return true;
			continue;
		}
		sched_yield(); /* RTXN_RELEASING: the writer resets it right now */
	}
}

int sg__rd_begin(sg__store *st, MDB_txn **ret)
{
	sg__rtxn *r = pthread_getspecific(st->txn_key);
	int rc;
	if (!st->rdonly)
		pthread_rwlock_rdlock(&st->map_lock);
	if (r && claim_kept(r))
		mdb_txn_reset(r->txn); /* a check left it live: a fresh snapshot here */
	if (r) {
		rc = mdb_txn_renew(r->txn);
		if (rc == MDB_READERS_FULL) {
			int dead;
			mdb_reader_check(st->env, &dead);
			rc = mdb_txn_renew(r->txn);
		}
	} else {
		r = calloc(1, sizeof(*r));
		if (!r) {
			rc = ENOMEM;
			goto out;
		}
		rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &r->txn);
		if (rc == MDB_READERS_FULL) {
			int dead;
			mdb_reader_check(st->env, &dead);
			rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &r->txn);
		}
		if (rc) {
			free(r);
			goto out;
		}
		pthread_setspecific(st->txn_key, r);
		pthread_mutex_lock(&st->txns_mutex);
		r->next = st->txns;
		st->txns = r;
		pthread_mutex_unlock(&st->txns_mutex);
	}
out:
	if (rc) {
		if (!st->rdonly)
			pthread_rwlock_unlock(&st->map_lock);
		return sg__store_err(rc);
	}
	*ret = r->txn;
	return 0;
}

void sg__rd_end(sg__store *st, MDB_txn *txn)
{
	mdb_txn_reset(txn);
	if (!st->rdonly)
		pthread_rwlock_unlock(&st->map_lock);
}

/* The check's read txn (store.h): kept live after the call while nothing
 * commits. Its snapshot is reused only when it is the newest one (the
 * environment's last txn id, read from the meta pages that every commit
 * writes before it returns), so a check never misses an acknowledged
 * write; the writer resets every kept txn after each commit and before a
 * map growth, so an idle thread pins no older snapshot (page reuse).
 * Read-only engines have no writer in the process to release a kept
 * snapshot: they renew and reset as sg__rd_begin does. */
int sg__rd_begin_keep(sg__store *st, MDB_txn **ret)
{
	sg__rtxn *r = st->rdonly ? NULL : pthread_getspecific(st->txn_key);
	if (!r)
		return sg__rd_begin(st, ret);
	pthread_rwlock_rdlock(&st->map_lock);
	if (claim_kept(r)) {
		MDB_envinfo info;
		if (!mdb_env_info(st->env, &info) && info.me_last_txnid == mdb_txn_id(r->txn)) {
			*ret = r->txn;
			return 0;
		}
		mdb_txn_reset(r->txn);
	}
	pthread_rwlock_unlock(&st->map_lock);
	return sg__rd_begin(st, ret);
}

void sg__rd_end_keep(sg__store *st, MDB_txn *txn)
{
	sg__rtxn *r = st->rdonly ? NULL : pthread_getspecific(st->txn_key);
	if (!r || r->txn != txn) {
		sg__rd_end(st, txn);
		return;
	}
	atomic_store_explicit(&r->kept, RTXN_KEPT, memory_order_release);
	pthread_rwlock_unlock(&st->map_lock);
}

/* Reset every kept txn (after a commit, before a map growth): the owner
 * claims its own with the same compare-and-swap, so a txn in use is never
 * touched. */
static void release_kept(sg__store *st)
{
	pthread_mutex_lock(&st->txns_mutex);
	for (sg__rtxn *r = st->txns; r; r = r->next) {
		int s = RTXN_KEPT;
		if (atomic_compare_exchange_strong(&r->kept, &s, RTXN_RELEASING)) {
			mdb_txn_reset(r->txn); /* MDB_NOTLS: any thread may reset it */
			atomic_store_explicit(&r->kept, RTXN_RESET, memory_order_release);
		}
	}
	pthread_mutex_unlock(&st->txns_mutex);
}

int sg__wr_begin(sg__store *st, MDB_txn **ret)
{
	if (st->rdonly)
		return SG_ERDONLY;
	return sg__store_err(mdb_txn_begin(st->env, NULL, 0, ret));
}

/* A commit that failed for lack of space is -ENOSPC to callers (503, the
 * client retries): LMDB reports a page write cut short by a full disk as
 * EIO ("short write, filesystem full?"), a quota as EDQUOT. An EIO on a
 * disk with room left stays -EIO. */
#define FULL_DISK_MARGIN (1u << 20)
static int commit_err(sg__store *st, int rc)
{
	if (rc == -EDQUOT)
		return -ENOSPC;
	int fd;
	struct statvfs vfs;
	if (rc == -EIO && mdb_env_get_fd(st->env, &fd) == 0 && fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < FULL_DISK_MARGIN)
		return -ENOSPC;
	return rc;
}

int sg__wr_commit(sg__store *st, MDB_txn *txn)
{
	return commit_err(st, sg__store_err(mdb_txn_commit(txn)));
}

int sg__store_grow(sg__store *st)
{
	size_t next = st->map_size * 2;
	pthread_rwlock_wrlock(&st->map_lock);
	release_kept(st); /* no snapshot stays live across the remap */
	int rc = mdb_env_set_mapsize(st->env, next);
	if (!rc)
		st->map_size = next;
	pthread_rwlock_unlock(&st->map_lock);
	return sg__store_err(rc);
}

static int store_write(sg__store *st, int (*fn)(MDB_txn *txn, void *ctx), void *ctx);

/* Every write txn, whatever it writes (a registry change may ride in any
 * batch), counts as busy for the sender-scope caches until its commit or
 * abort, then moves the registry version on (filter.h): a cached scope
 * is never used across a commit. */
int sg__store_write(sg__store *st, int (*fn)(MDB_txn *txn, void *ctx), void *ctx)
{
	if (st->rdonly)
		return SG_ERDONLY;
	sg__filter_reg_begin(&st->filter);
	int rc = store_write(st, fn, ctx);
	sg__filter_reg_end(&st->filter);
	release_kept(st); /* kept check txns pin no snapshot older than this commit */
	return rc;
}

static int store_write(sg__store *st, int (*fn)(MDB_txn *txn, void *ctx), void *ctx)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		MDB_txn *txn;
		int rc = sg__wr_begin(st, &txn);
		if (rc)
			return rc;
		rc = fn(txn, ctx);
		if (rc) {
			mdb_txn_abort(txn);
		} else {
			rc = sg__wr_commit(st, txn); /* fsync'd: no NOSYNC flags on this env */
		}
		if (rc != SG__EMAPFULL)
			return rc; /* success, or a real error such as a full disk (-ENOSPC) */
		/* The map is full: grow it with no txn open and redo the whole batch. */
		if ((rc = sg__store_grow(st)))
			return rc;
	}
	return -ENOSPC;
}

int sg__meta_get_u64(sg__store *st, MDB_txn *txn, const char *name, uint64_t *ret)
{
	MDB_val k = sg__val(name, strlen(name)), v;
	int rc = mdb_get(txn, st->meta, &k, &v);
	if (rc == MDB_NOTFOUND) {
		*ret = 0;
		return 0;
	}
	if (rc)
		return sg__store_err(rc);
	if (v.mv_size != 8)
		return SG_ECORRUPT;
	*ret = sg__be64_get(v.mv_data);
	return 0;
}

int sg__meta_put_u64(sg__store *st, MDB_txn *txn, const char *name, uint64_t val)
{
	uint8_t buf[8];
	sg__be64_put(buf, val);
	MDB_val k = sg__val(name, strlen(name)), v = sg__val(buf, 8);
	return sg__store_err(mdb_put(txn, st->meta, &k, &v, 0));
}

int sg__store_check_readers(sg__store *st, int *dead)
{
	int n = 0;
	int rc = sg__store_err(mdb_reader_check(st->env, &n));
	if (!rc && dead)
		*dead = n;
	return rc;
}

int sg__store_sync(sg__store *st)
{
	if (st->rdonly)
		return 0;
	return commit_err(st, sg__store_err(mdb_env_sync(st->env, 1)));
}
