/* SPDX-License-Identifier: Apache-2.0 */
/* Open-addressing hash table for the keyword engine: built once at load,
 * read-only afterwards (so any number of threads may read it). FNV-1a is
 * used because the matcher extends a word's hash byte by byte and probes
 * every prefix for stems ("text*"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keywords/kw_internal.h"

const uint8_t sg__kw_class[256] = {['0' ... '9'] = 1, ['a' ... 'z'] = 1, [0x80 ... 0xFF] = 2};

uint64_t sg__kw_hash(const char *s, size_t n)
{
	uint64_t h = KW_HASH_INIT;
	for (size_t i = 0; i < n; i++)
		h = kw_hash_step(h, (unsigned char)s[i]);
	return h;
}

static int grow(kw_table *t)
{
	size_t cap = t->mask ? (t->mask + 1) * 2 : 16;
	kw_entry *slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; t->mask && i <= t->mask; i++) {
		if (!t->slot[i].key)
			continue;
		size_t j = kw_slot_of(t->slot[i].hash, cap - 1);
		while (slot[j].key)
			j = (j + 1) & (cap - 1);
		slot[j] = t->slot[i];
	}
	free(t->slot);
	t->slot = slot;
	t->mask = cap - 1;
	return 0;
}

int sg__kw_table_put(kw_table *t, const char *key, size_t len, uint32_t val, uint32_t *old)
{
	uint64_t h = sg__kw_hash(key, len);
	const uint32_t *have = sg__kw_table_get(t, key, len, h);
	if (have) {
		if (old)
			*old = *have;
		return 0;
	}
	if (len >= UINT32_MAX / 2 || t->keys_len + len >= UINT32_MAX / 2)
		return -ENOMEM;
	if ((t->count + 1) * 2 > (t->mask ? t->mask + 1 : 0) && grow(t) < 0)
		return -ENOMEM;
	if (t->keys_len + len > t->keys_cap) {
		size_t cap = (t->keys_cap + len) * 2;
		char *keys = realloc(t->keys, cap);
		if (!keys)
			return -ENOMEM;
		t->keys = keys;
		t->keys_cap = cap;
	}
	memcpy(t->keys + t->keys_len, key, len);
	size_t i = kw_slot_of(h, t->mask);
	while (t->slot[i].key)
		i = (i + 1) & t->mask;
	t->slot[i] = (kw_entry){.hash = h, .key = (uint32_t)t->keys_len + 1, .len = (uint32_t)len,
				.val = val};
	t->keys_len += len;
	if (!t->count || len < t->minlen)
		t->minlen = len;
	if (len > t->maxlen)
		t->maxlen = len;
	t->count++;
	return 1;
}

void sg__kw_table_free(kw_table *t)
{
	free(t->slot);
	free(t->keys);
	memset(t, 0, sizeof(*t));
}
