/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay a fuzz corpus without libFuzzer: link one fuzz_<name>.c with this
 * file and pass files or directories of files. Each file is one input to
 * LLVMFuzzerTestOneInput(). Used by `meson test --suite fuzz` so the corpus
 * (including every crash input ever found) runs on every build.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are skipped with a warning: a corpus file, not a
 * disk image. libFuzzer's default -max_len is far smaller. */
#define REPLAY_MAX_INPUT (16u << 20)

static int replay_file(const char *path, unsigned long *count)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		fprintf(stderr, "replay: %s: not a regular file\n", path);
		return -1;
	}
	if ((uintmax_t)st.st_size > REPLAY_MAX_INPUT) {
		close(fd);
		fprintf(stderr, "replay: %s: larger than %u bytes, skipped\n", path, REPLAY_MAX_INPUT);
		return 0;
	}
	size_t size = (size_t)st.st_size;
	/* An exact-size heap copy, so ASAN sees reads past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		fprintf(stderr, "replay: %s: out of memory\n", path);
		return -1;
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "replay: %s: %s\n", path, r < 0 ? strerror(errno) : "short read");
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	LLVMFuzzerTestOneInput(buf, size);
	free(buf);
	(*count)++;
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file directly in dir, in name order (reproducible runs). */
static int replay_dir(const char *dir, unsigned long *count)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue; /* ".", "..", hidden files such as .gitkeep */
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			char **p = realloc(names, ncap * sizeof(*names));
			if (!p) {
				ret = -1;
				break;
			}
			names = p;
			cap = ncap;
		}
		size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
		names[n] = malloc(len);
		if (!names[n]) {
			ret = -1;
			break;
		}
		snprintf(names[n], len, "%s/%s", dir, e->d_name);
		n++;
	}
	closedir(d);
	if (ret == 0) {
		qsort(names, n, sizeof(*names), compare_names);
		for (size_t i = 0; i < n; i++) {
			struct stat st;
			if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
				continue;
			if (replay_file(names[i], count) < 0)
				ret = -1;
		}
	} else {
		fprintf(stderr, "replay: %s: out of memory\n", dir);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			ret = 1;
			continue;
		}
		if ((S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : replay_file(argv[i], &count)) < 0)
			ret = 1;
	}
	printf("replayed %lu inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "replay: no inputs found\n");
		ret = 1;
	}
	return ret;
}
