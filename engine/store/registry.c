/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sender registry and TCR campaigns.
 *   senders:   key -> campaign id NUL group NUL
 *   campaigns: id  -> u8 format(1) u8 flags(1 active, 2 subscriberOptin)
 *                     u8 optout scope, u8 brand length, brand, TCR JSON text
 * The summary before the JSON lets the check read what it needs without
 * parsing JSON.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#include "engine.h"
#include "store/store.h"
#include "internal.h"

static void copy_json_str(const cJSON *obj, const char *name, char *out, size_t size)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsString(it))
		sg__strlcpy(out, it->valuestring, size);
}

static char *dup_json_str(const cJSON *obj, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(it) && it->valuestring[0] ? strdup(it->valuestring) : NULL;
}

static bool json_bool(const cJSON *obj, const char *name, bool def)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsBool(it))
		return cJSON_IsTrue(it);
	if (cJSON_IsString(it))
		return !strcasecmp(it->valuestring, "true") || !strcmp(it->valuestring, "1");
	return def;
}

void sg__campaign_free_fields(sg__campaign *c)
{
	if (!c)
		return;
	sg__kw_campaign_free(c);
	char **fields[] = {&c->optin_keywords, &c->optout_keywords, &c->help_keywords, &c->optin_message,
			   &c->optout_message, &c->help_message, &c->help_contact, &c->message_frequency};
	for (size_t i = 0; i < SG_ARRAY_SIZE(fields); i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
}

struct cJSON *sg__json_parse_all(const char *text, size_t len)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root && end)
		while (end < text + len && strchr(" \t\r\n", *end) && *end)
			end++;
	if (root && end != text + len) {
		cJSON_Delete(root); /* a second value or garbage after the first */
		return NULL;
	}
	return root;
}

int sg__campaign_from_json(const char *json, size_t len, sg__campaign *c, const char **detail)
{
	const char *dummy;
	if (!detail)
		detail = &dummy;
	memset(c, 0, sizeof(*c));
	cJSON *root = sg__json_parse_all(json, len);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		*detail = "campaign must be one JSON object (nothing after it)";
		return SG_EJSON;
	}
	int rc = 0;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "campaignId");
	if (!cJSON_IsString(id) || !id->valuestring[0] || strlen(id->valuestring) >= sizeof(c->id)) {
		*detail = "campaignId: required string of at most 63 characters";
		rc = SG_EJSON;
		goto out;
	}
	sg__strlcpy(c->id, id->valuestring, sizeof(c->id));
	/* Every TCR field stopgate reads must have the right type: a
	 * registry that silently ignores "status": 42 hides mistakes. */
	static const char *const strings[] = {"brandId", "brand", "displayName", "brandName", "status",
		"usecase", "optinKeywords", "optoutKeywords", "helpKeywords", "optinMessage", "optoutMessage",
		"stopMessage", "helpMessage", "helpContact", "messageFrequency"};
	static const char *const booleans[] = {"subscriberOptin", "subscriberOptout", "subscriberHelp"};
	for (size_t i = 0; i < SG_ARRAY_SIZE(strings); i++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, strings[i]);
		if (it && !cJSON_IsString(it) && !cJSON_IsNull(it)) {
			*detail = "a TCR text field (brandId, status, usecase, *Keywords, *Message, ...) is not a string";
			rc = SG_EJSON;
			goto out;
		}
	}
	for (size_t i = 0; i < SG_ARRAY_SIZE(booleans); i++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, booleans[i]);
		if (it && !cJSON_IsBool(it) && !cJSON_IsString(it) && !cJSON_IsNull(it)) {
			*detail = "subscriberOptin/Optout/Help must be true or false";
			rc = SG_EJSON;
			goto out;
		}
	}
	copy_json_str(root, "brandId", c->brand_id, sizeof(c->brand_id));
	copy_json_str(root, "brand", c->brand_name, sizeof(c->brand_name));
	copy_json_str(root, "displayName", c->brand_name, sizeof(c->brand_name));
	copy_json_str(root, "brandName", c->brand_name, sizeof(c->brand_name));
	copy_json_str(root, "status", c->status, sizeof(c->status));
	copy_json_str(root, "usecase", c->usecase, sizeof(c->usecase));
	c->active = !c->status[0] || !strcasecmp(c->status, "ACTIVE");
	c->subscriber_optin = json_bool(root, "subscriberOptin", false);
	c->subscriber_optout = json_bool(root, "subscriberOptout", true);
	c->subscriber_help = json_bool(root, "subscriberHelp", true);
	c->optin_keywords = dup_json_str(root, "optinKeywords");
	c->optout_keywords = dup_json_str(root, "optoutKeywords");
	c->help_keywords = dup_json_str(root, "helpKeywords");
	c->optin_message = dup_json_str(root, "optinMessage");
	c->optout_message = dup_json_str(root, "optoutMessage");
	if (!c->optout_message)
		c->optout_message = dup_json_str(root, "stopMessage"); /* Sinch spelling */
	c->help_message = dup_json_str(root, "helpMessage");
	c->help_contact = dup_json_str(root, "helpContact");
	c->message_frequency = dup_json_str(root, "messageFrequency");
	const cJSON *own = cJSON_GetObjectItemCaseSensitive(root, "stopgate");
	if (own && !cJSON_IsObject(own) && !cJSON_IsNull(own)) {
		*detail = "stopgate: must be an object {\"optoutScope\", \"probable\"}";
		rc = SG_EJSON;
		goto out;
	}
	/* stopgate's own settings: a misspelt one must not silently turn a
	 * policy off (TCR's fields may grow; ours are known). */
	for (const cJSON *it = cJSON_IsObject(own) ? own->child : NULL; it; it = it->next) {
		if (strcmp(it->string, "optoutScope") && strcmp(it->string, "probable") &&
		    strcmp(it->string, "maxPerDay")) {
			*detail = "stopgate: unknown setting (the known ones are optoutScope, probable and maxPerDay)";
			rc = SG_EJSON;
			goto out;
		}
	}
	if (cJSON_IsObject(own)) {
		const cJSON *scope = cJSON_GetObjectItemCaseSensitive(own, "optoutScope");
		if (scope && (!cJSON_IsString(scope) ||
			      sg_scope_parse(scope->valuestring, &c->optout_scope) ||
			      c->optout_scope == SG_SCOPE_GLOBAL)) {
			*detail = "stopgate.optoutScope: one of sender, group, campaign, brand";
			rc = SG_EJSON;
			goto out;
		}
		const cJSON *prob = cJSON_GetObjectItemCaseSensitive(own, "probable");
		if (prob) {
			if (cJSON_IsString(prob) && !strcmp(prob->valuestring, "review"))
				c->probable = SG_PROBABLE_REVIEW;
			else if (cJSON_IsString(prob) && !strcmp(prob->valuestring, "opt_out"))
				c->probable = SG_PROBABLE_OPT_OUT;
			else {
				*detail = "stopgate.probable: \"opt_out\" or \"review\"";
				rc = SG_EJSON;
				goto out;
			}
			c->probable_set = true;
		}
		const cJSON *cap = cJSON_GetObjectItemCaseSensitive(own, "maxPerDay");
		if (cap && !cJSON_IsNull(cap)) {
			if (!cJSON_IsNumber(cap) || cap->valuedouble < 1 || cap->valuedouble > 1000 ||
			    cap->valuedouble != (double)(int)cap->valuedouble) {
				*detail = "stopgate.maxPerDay: a whole number of marketing sends per rolling 24 h, 1 to 1000";
				rc = SG_EJSON;
				goto out;
			}
			c->max_per_day = (unsigned)cap->valueint;
		}
	}
	const char *too_long = NULL;
	if (c->optin_keywords && strlen(c->optin_keywords) > 255)
		too_long = "optinKeywords: at most 255 characters";
	if (c->optout_keywords && strlen(c->optout_keywords) > 255)
		too_long = "optoutKeywords: at most 255 characters";
	if (c->help_keywords && strlen(c->help_keywords) > 255)
		too_long = "helpKeywords: at most 255 characters";
	if (too_long) {
		*detail = too_long;
		rc = SG_EJSON;
	}
out:
	cJSON_Delete(root);
	if (rc)
		sg__campaign_free_fields(c);
	return rc;
}

static int campaign_raw(sg_engine *e, MDB_txn *txn, const char *id, MDB_val *v)
{
	MDB_val k = sg__val(id, strlen(id));
	int rc = mdb_get(txn, e->store.campaigns, &k, v);
	if (rc)
		return sg__store_err(rc);
	const uint8_t *b = v->mv_data;
	if (v->mv_size < 4 || b[0] != 1 || v->mv_size < 4u + b[3])
		return SG_ECORRUPT;
	return 0;
}

int sg_campaign_get_json(sg_engine *e, const char *campaign_id, char **ret)
{
	MDB_txn *txn;
	MDB_val v;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	rc = campaign_raw(e, txn, campaign_id, &v);
	if (!rc) {
		const uint8_t *b = v.mv_data;
		size_t off = 4u + b[3];
		char *s = malloc(v.mv_size - off + 1);
		if (!s) {
			rc = -ENOMEM;
		} else {
			memcpy(s, b + off, v.mv_size - off);
			s[v.mv_size - off] = '\0';
			*ret = s;
		}
	}
	sg__rd_end(&e->store, txn);
	return rc;
}

const char *sg__scope_id(const sg__scopes *s, sg_scope_kind kind)
{
	switch (kind) {
	case SG_SCOPE_SENDER:
		return s->sender;
	case SG_SCOPE_GROUP:
		return s->group;
	case SG_SCOPE_CAMPAIGN:
		return s->campaign;
	case SG_SCOPE_BRAND:
		return s->brand;
	case SG_SCOPE_GLOBAL:
	default:
		return "";
	}
}

/* Where a sender's opt-outs are recorded: the campaign's override, else the
 * engine policy; a level the sender does not have falls back to its
 * campaign when registered, else to the sender itself. */
static sg_scope_kind default_scope(const sg__scopes *s, sg_scope_kind want)
{
	sg_scope_kind fallback = s->registered ? SG_SCOPE_CAMPAIGN : SG_SCOPE_SENDER;
	switch (want) {
	case SG_SCOPE_SENDER:
		return SG_SCOPE_SENDER;
	case SG_SCOPE_GROUP:
		return s->group[0] ? SG_SCOPE_GROUP : fallback;
	case SG_SCOPE_BRAND:
		return s->brand[0] ? SG_SCOPE_BRAND : fallback;
	case SG_SCOPE_CAMPAIGN:
	case SG_SCOPE_DEFAULT:
	default:
		return fallback;
	}
}

int sg__scopes_resolve(sg_engine *e, MDB_txn *txn, const char *sender_key, sg__scopes *s)
{
	sg_scope_kind campaign_scope = SG_SCOPE_DEFAULT;
	memset(s, 0, sizeof(*s));
	sg__strlcpy(s->sender, sender_key ? sender_key : "", sizeof(s->sender));
	if (sender_key && sender_key[0]) {
		MDB_val k = sg__val(sender_key, strlen(sender_key)), v;
		int rc = mdb_get(txn, e->store.senders, &k, &v);
		if (rc && rc != MDB_NOTFOUND)
			return sg__store_err(rc);
		if (!rc) {
			const char *p = v.mv_data, *end = p + v.mv_size;
			const char *nul = memchr(p, '\0', v.mv_size);
			if (!nul || nul + 1 >= end || end[-1] != '\0')
				return SG_ECORRUPT;
			sg__strlcpy(s->campaign, p, sizeof(s->campaign));
			sg__strlcpy(s->group, nul + 1, sizeof(s->group));
			s->registered = s->campaign[0] != '\0';
		}
	}
	if (s->registered) {
		MDB_val cv;
		int rc = campaign_raw(e, txn, s->campaign, &cv);
		if (rc && rc != SG_ENOTFOUND)
			return rc;
		if (!rc) {
			const uint8_t *b = cv.mv_data;
			s->campaign_known = true;
			s->campaign_active = b[1] & 1;
			s->subscriber_optin = b[1] & 2;
			campaign_scope = b[2];
			size_t bl = b[3] < sizeof(s->brand) ? b[3] : sizeof(s->brand) - 1;
			memcpy(s->brand, b + 4, bl);
			s->brand[bl] = '\0';
		}
	}
	s->default_scope = default_scope(s, campaign_scope != SG_SCOPE_DEFAULT ? campaign_scope
										: e->policy.optout_scope);
	return 0;
}

/* ---- each thread's cache of resolved sender scopes ----
 * Valid while the registry version in the shared filter header (filter.h)
 * and the writer that keeps it are the ones an entry was resolved under:
 * every write txn (sg__store_write: a registry change may ride in any
 * batch) counts as busy until its commit and then moves the version on,
 * so an entry never outlives a change, and between commits a check needs
 * no LMDB lookup for its sender. */
#define SCACHE_SLOTS 1024 /* ~420 KiB of address space per thread, touched as senders come */

typedef struct sg__scache {
	struct sg__scache *next;
	sg__sender_slot slot[SCACHE_SLOTS];
} sg__scache;

static sg__scache *thread_scache(sg__store *st)
{
	sg__scache *c = pthread_getspecific(st->scache_key);
	if (c)
		return c;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	if (pthread_setspecific(st->scache_key, c)) {
		free(c);
		return NULL;
	}
	pthread_mutex_lock(&st->txns_mutex);
	c->next = st->scaches;
	st->scaches = c;
	pthread_mutex_unlock(&st->txns_mutex);
	return c;
}

void sg__scache_free_all(sg__store *st)
{
	for (sg__scache *c = st->scaches, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	st->scaches = NULL;
}

sg__sender_slot *sg__sender_slot_of(sg_engine *e, const char *raw)
{
	size_t len = strlen(raw);
	if (!len || len >= sizeof(((sg__sender_slot *)0)->raw))
		return NULL;
	sg__scache *c = thread_scache(&e->store);
	if (!c)
		return NULL;
	sg__sender_slot *slot = &c->slot[sg__filter_hash(raw, len) % SCACHE_SLOTS];
	/* Every line of it at once: the check reads the text, the key, the
	 * version and the scopes, and their misses then overlap. */
	for (size_t off = 0; off < sizeof(*slot); off += 64)
		__builtin_prefetch((const char *)slot + off);
	return slot;
}

int sg__scopes_cached(sg_engine *e, sg__txn **txn, sg__sender_slot *slot, const char *sender_key, sg__scopes *own,
		      const sg__scopes **out)
{
	uint64_t wid = 0, ver = 0;
	/* The version is read before the txn that resolves: an entry is never
	 * older than the version it is filed under. */
	bool tok = slot && !*txn && sg__filter_reg_version(&e->store.filter, &wid, &ver);
	if (tok && slot->version == ver && slot->writer_id == wid) {
		*out = &slot->scopes;
		return 0;
	}
	int rc = *txn ? 0 : sg__rd_begin_keep(&e->store, txn); /* ended by the check */
	sg__scopes *into = tok ? &slot->scopes : own;
	if (slot)
		slot->version = 0; /* until resolved */
	if (!rc)
		rc = sg__scopes_resolve(e, *txn, sender_key, into);
	if (rc)
		return rc;
	if (tok) {
		slot->writer_id = wid;
		slot->version = ver;
	}
	*out = into;
	return 0;
}

int sg_sender_get(sg_engine *e, const char *sender_key, sg_sender_info *out)
{
	MDB_txn *txn;
	sg__scopes s;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	rc = sg__scopes_resolve(e, txn, sender_key, &s);
	sg__rd_end(&e->store, txn);
	if (rc)
		return rc;
	if (!s.registered && !s.group[0])
		return SG_ENOTFOUND;
	memset(out, 0, sizeof(*out));
	sg__strlcpy(out->key, sender_key, sizeof(out->key));
	sg__strlcpy(out->campaign_id, s.campaign, sizeof(out->campaign_id));
	sg__strlcpy(out->group, s.group, sizeof(out->group));
	sg__strlcpy(out->brand_id, s.brand, sizeof(out->brand_id));
	out->campaign_known = s.campaign_known;
	out->campaign_active = s.campaign_active;
	out->subscriber_optin = s.subscriber_optin;
	return 0;
}

/* ---- the in-memory campaign cache used by classification ---- */

void sg__registry_clear(sg__registry *reg)
{
	for (size_t i = 0; i < reg->count; i++) {
		sg__campaign_free_fields(reg->items[i]);
		free(reg->items[i]);
	}
	free(reg->items);
	memset(reg, 0, sizeof(*reg));
}

static int registry_load(sg_engine *e, MDB_txn *txn, sg__registry *reg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, e->store.campaigns, &cur);
	if (rc)
		return sg__store_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *b = v.mv_data;
		if (v.mv_size < 4 || v.mv_size < 4u + b[3]) {
			rc = MDB_CORRUPTED;
			break;
		}
		sg__campaign *c = malloc(sizeof(*c));
		sg__campaign **items = realloc(reg->items, (reg->count + 1) * sizeof(*items));
		if (!c || !items) {
			free(c);
			if (items)
				reg->items = items;
			mdb_cursor_close(cur);
			return -ENOMEM;
		}
		reg->items = items;
		size_t off = 4u + b[3];
		if (sg__campaign_from_json((const char *)b + off, v.mv_size - off, c, NULL)) {
			free(c); /* stored text always parsed once; skip rather than fail */
			continue;
		}
		reg->items[reg->count++] = c;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : sg__store_err(rc);
}

int sg__registry_refresh(sg_engine *e)
{
	MDB_txn *txn;
	uint64_t gen = 0;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	rc = sg__meta_get_u64(&e->store, txn, "reggen", &gen);
	pthread_rwlock_rdlock(&e->reg_lock);
	bool stale = !e->reg.loaded || gen != e->reg.gen;
	pthread_rwlock_unlock(&e->reg_lock);
	if (!rc && stale) {
		sg__registry fresh = {0};
		rc = registry_load(e, txn, &fresh);
		if (!rc) {
			pthread_rwlock_wrlock(&e->reg_lock);
			sg__registry old = e->reg;
			e->reg = fresh;
			e->reg.gen = gen;
			e->reg.loaded = true;
			e->reg.capped = 0;
			for (size_t i = 0; i < fresh.count; i++)
				e->reg.capped += fresh.items[i]->max_per_day > 0;
			pthread_rwlock_unlock(&e->reg_lock);
			sg__registry_clear(&old);
		} else {
			sg__registry_clear(&fresh);
		}
	}
	sg__rd_end(&e->store, txn);
	return rc;
}

sg__campaign *sg__registry_find(sg_engine *e, const char *campaign_id)
{
	for (size_t i = 0; i < e->reg.count; i++)
		if (!strcmp(e->reg.items[i]->id, campaign_id))
			return e->reg.items[i];
	return NULL;
}
