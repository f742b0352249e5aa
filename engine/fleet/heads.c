/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet's chain heads; see heads.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/heads.h"

struct sg__heads {
	kvStore *kv;
};

int sg__heads_open(jsCtx *js, const char *stream, unsigned replicas, sg__heads **ret)
{
	char bucket[96];
	snprintf(bucket, sizeof(bucket), "%s_HEADS", stream);
	kvStore *kv = NULL;
	natsStatus s = js_KeyValue(&kv, js, bucket);
	if (s != NATS_OK) {
		kvConfig kc;
		kvConfig_Init(&kc);
		kc.Bucket = bucket;
		kc.History = 1;
		kc.StorageType = js_FileStorage;
		kc.Replicas = (int)replicas;
		s = js_CreateKeyValue(&kv, js, &kc);
	}
	if (s != NATS_OK)
		return -EAGAIN;
	sg__heads *h = calloc(1, sizeof(*h));
	if (!h) {
		kvStore_Destroy(kv);
		return -ENOMEM;
	}
	h->kv = kv;
	*ret = h;
	return 0;
}

void sg__heads_close(sg__heads *h)
{
	if (!h)
		return;
	kvStore_Destroy(h->kv);
	free(h);
}

typedef struct one_hash {
	uint8_t hash[32];
	bool found;
} one_hash;

static int take_hash(const sg_event *ev, void *ctx)
{
	one_hash *o = ctx;
	memcpy(o->hash, ev->hash, 32);
	o->found = true;
	return 1;
}

int sg__heads_tick(sg__heads *h, sg_engine *e, const char *node, char *why, size_t len)
{
	uint64_t seq = 0;
	uint8_t head[32];
	char hex[65], val[96];
	int rc = sg_head(e, &seq, head);
	if (rc)
		return rc;
	sg_hex32(head, hex);
	snprintf(val, sizeof(val), "%" PRIu64 " %s", seq, hex);
	if (kvStore_PutString(NULL, h->kv, node, val) != NATS_OK)
		return -EAGAIN;
	kvKeysList keys = {0};
	if (kvStore_Keys(&keys, h->kv, NULL) != NATS_OK)
		return -EAGAIN;
	int found = 0;
	for (int i = 0; i < keys.Count && !found; i++) {
		if (!strcmp(keys.Keys[i], node))
			continue;
		kvEntry *en = NULL;
		if (kvStore_Get(&en, h->kv, keys.Keys[i]) != NATS_OK || !en)
			continue;
		uint64_t theirs = 0;
		char their_hex[65] = "";
		const char *v = kvEntry_ValueString(en);
		if (v && sscanf(v, "%" SCNu64 " %64s", &theirs, their_hex) == 2 && theirs && theirs <= seq &&
		    strlen(their_hex) == 64) {
			one_hash mine = {0};
			char mine_hex[65];
			if (sg_events_read(e, theirs, 1, take_hash, &mine, NULL) >= 0 && mine.found) {
				sg_hex32(mine.hash, mine_hex);
				if (strcmp(mine_hex, their_hex)) {
					snprintf(why, len, "node %.40s has another hash at event %" PRIu64 " (%.12s, here %.12s)",
						 keys.Keys[i], theirs, their_hex, mine_hex);
					found = 1;
				}
			}
		}
		kvEntry_Destroy(en);
	}
	kvKeysList_Destroy(&keys);
	return found;
}
