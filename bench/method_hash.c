/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, method "floor_hash": an in-memory open-addressing hash table
 * over the recorded recipients (the table `known` is built with the data),
 * on 4 KiB pages and copied into transparent huge pages.
 */
#include <sys/mman.h>

#include "harness.h"

/* A copy of the hash floor in transparent huge pages (2 MiB): the same
 * probe without the TLB misses that 4 KiB pages cost on a random lookup
 * (dearer still under a hypervisor's nested paging). Shown beside the
 * 4 KiB table; the lower of the two is the floor the ratio uses. */
bench_hash known_thp;
bool thp_ok;

void make_thp_copy(void)
{
	size_t bytes = (size_t)(known.mask + 1) * sizeof(bench_slot);
	size_t huge = (size_t)2 << 20, len = (bytes + huge - 1) / huge * huge;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	madvise(p, len, MADV_HUGEPAGE);
	memcpy(p, known.slots, bytes);
	known_thp = known;
	known_thp.slots = p;
	thp_ok = true;
	/* how much of it the kernel actually backed with huge pages */
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	double anon_huge_kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "AnonHugePages:", 14))
			anon_huge_kb = atof(line + 14);
	if (f)
		fclose(f);
	bench_json_num(&J, "floor_hash_thp.huge_share", anon_huge_kb * 1024.0 / (double)len);
}

static inline int op_hash(void *vc, const query *q)
{
	return bench_hash_get(vc, q->to) != NULL;
}

RUNNERS(hash, op_hash)
