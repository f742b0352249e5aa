/* SPDX-License-Identifier: Apache-2.0 */
/* struct sg_engine: what one open data directory holds in a process. */
#pragma once
#include <limits.h>
#include <pthread.h>
#include "stopgate.h"
#include "campaign.h"
#include "keywords/kw.h"
#include "store/handle.h"
/* The store's own files include store/store.h (its LMDB side) themselves;
 * the rest of the library never sees LMDB. */

/* Campaigns parsed for classification, cached in memory and refreshed when
 * the registry generation in the store moves on. Readers hold reg_lock for
 * reading while they use a campaign; a refresh swaps the set under the
 * write lock. */
typedef struct sg__registry {
	sg__campaign **items;
	size_t count;
	uint64_t gen;
	bool loaded;
	size_t capped;  /* campaigns with a maxPerDay: 0 lets sg_send_cap skip the sender */
} sg__registry;

struct sg_engine {
	sg__store store;
	bool store_open;
	bool rdonly;
	sg_policy policy;
	char data_dir[PATH_MAX];
	char keywords_dir[PATH_MAX];
	char default_country[3];
	sg__kw_set *kw;             /* immutable once loaded; swapped by reload */
	pthread_rwlock_t reg_lock;
	sg__registry reg;
	/* Read-write engines: bumped after every commit that changed the
	 * registry. This process is the store's only writer, so while it has
	 * not moved since the cache was refreshed the cache is current and
	 * sg_send_cap reads nothing (store/log.c, ledger/caps.c). */
	_Atomic uint64_t reg_epoch;
	_Atomic uint64_t no_caps_epoch; /* reg_epoch + 1 when the registry then had no
					 * campaign with a maxPerDay; 0: not known */
};

/* Registry cache (registry.c). sg__registry_refresh() reloads the cache if
 * the store's registry generation moved. sg__registry_find() must be called
 * with reg_lock held for reading; the campaign is valid while it is held. */
int sg__registry_refresh(sg_engine *e);
sg__campaign *sg__registry_find(sg_engine *e, const char *campaign_id);
void sg__registry_clear(sg__registry *reg);
int sg__campaign_from_json(const char *json, size_t len, sg__campaign *c, const char **detail);
void sg__campaign_free_fields(sg__campaign *c);

/* The enclosing scopes of a sender, from the registry (registry.c). */
typedef struct sg__scopes {
	char sender[SG_KEY_MAX];
	char group[64];
	char campaign[64];
	char brand[64];
	bool registered;      /* sender has a campaign */
	bool campaign_known;  /* ... that exists in the registry */
	bool campaign_active;
	bool subscriber_optin;
	sg_scope_kind default_scope; /* where this sender's opt-outs go by policy */
} sg__scopes;
int sg__scopes_resolve(sg_engine *e, sg__txn *txn, const char *sender_key, sg__scopes *out);
/* The id of one scope level for these scopes ("" when the level is absent;
 * global is always present with id ""). */
const char *sg__scope_id(const sg__scopes *s, sg_scope_kind kind);
