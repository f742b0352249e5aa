/* SPDX-License-Identifier: Apache-2.0 */
/* struct sg_engine: what one open data directory holds in a process. */
#pragma once
#include <limits.h>
#include <pthread.h>
#include "stopgate.h"
#include "campaign.h"
#include "keywords/kw.h"
#include "quiet/quiet.h"
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
	char quiet_dir[PATH_MAX];   /* quiet-hours rules; "" none */
	sg__qh_set *qh;             /* immutable; swapped by reload under reg_lock (write) */
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
	/* the flags first: a check of a recipient with no record reads only
	 * these (one cache line of a cached entry) */
	bool registered;      /* sender has a campaign */
	bool campaign_known;  /* ... that exists in the registry */
	bool campaign_active;
	bool subscriber_optin;
	sg_scope_kind default_scope; /* where this sender's opt-outs go by policy */
	char sender[SG_KEY_MAX];
	char group[64];
	char campaign[64];
	char brand[64];
} sg__scopes;
int sg__scopes_resolve(sg_engine *e, sg__txn *txn, const char *sender_key, sg__scopes *out);
/* This thread's memory of a sender as a caller spelled it (registry.c):
 * its key and country (what sg_number_normalize and sg_number_country make
 * of the text: never stale), and its scopes, valid while the registry
 * version and writer id in the shared filter header are the ones they
 * were resolved under. */
typedef struct sg__sender_slot {
	char raw[32];                /* "": empty */
	char key[SG_KEY_MAX];
	char cc[3];
	uint64_t writer_id, version; /* version 0: scopes not cached */
	sg__scopes scopes;
} sg__sender_slot;
/* The slot for this text (holding it or not: compare raw), NULL when the
 * text is too long to cache or memory is short. */
sg__sender_slot *sg__sender_slot_of(sg_engine *e, const char *raw);
/* The sender's scopes: the slot's while the registry is unchanged (no
 * LMDB access); otherwise resolved in *txn (begun here when NULL, the
 * caller ends it) into the slot when this call began the txn, else into
 * *own. slot may be NULL. */
int sg__scopes_cached(sg_engine *e, sg__txn **txn, sg__sender_slot *slot, const char *sender_key, sg__scopes *own,
		      const sg__scopes **out);
/* The id of one scope level for these scopes ("" when the level is absent;
 * global is always present with id ""). */
const char *sg__scope_id(const sg__scopes *s, sg_scope_kind kind);
