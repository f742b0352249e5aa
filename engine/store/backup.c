/* SPDX-License-Identifier: Apache-2.0 */
/* A consistent copy of the store into a new directory (stopgate backup). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "internal.h"
#include "store/store.h"

/* dir must not exist (it is made 0700) or be an empty directory (it is
 * chmod'ed 0700): a backup never mixes with, or overwrites, other files. */
static int prepare_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int rc = 0;
	for (struct dirent *de; (de = readdir(d));)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rc = -EEXIST;
	closedir(d);
	if (!rc && chmod(dir, 0700) < 0)
		rc = -errno;
	return rc;
}

static int sync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

int sg__engine_backup(sg_engine *e, const char *dir, bool compact)
{
	if (!e->store_open || !e->store.env)
		return -EINVAL;
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	int rc = prepare_dir(dir);
	if (rc)
		return rc;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0600) < 0) { /* whatever the umask */
		rc = -errno;
	} else {
		/* One read txn of LMDB's own: a snapshot of one commit, taken
		 * while a daemon keeps writing. */
		if (!e->store.rdonly)
			pthread_rwlock_rdlock(&e->store.map_lock);
		rc = sg__store_err(mdb_env_copyfd2(e->store.env, fd, compact ? MDB_CP_COMPACT : 0));
		if (!e->store.rdonly)
			pthread_rwlock_unlock(&e->store.map_lock);
		if (!rc && fsync(fd) < 0)
			rc = -errno;
	}
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc)
		rc = sync_path(dir);
	if (rc)
		unlink(path);
	return rc;
}
