/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry changes as events of the consent log.
 *
 * sg_campaign_put_json() and sg_sender_put() do not write the registry
 * databases themselves: they record an SG_ACTION_CAMPAIGN or
 * SG_ACTION_SENDER event whose body is the new registry record as JSON,
 * and applying that event (sg__registry_apply, from the log's write
 * transaction) writes it. So the registry is part of the history the
 * hash chain covers, and a store that applies another's log with
 * sg_apply() ends with the same registry and resolves the same scopes.
 *
 * A change that changes nothing (the same campaign JSON again, a number
 * attached where it already is) records nothing: a periodic registry sync
 * does not grow the log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "engine.h"
#include "store/store.h"
#include "internal.h"
#include "buf.h"

#define ID_MAX 64 /* campaign and group ids: under 64 bytes */

/* campaigns value: u8 format(1) u8 flags(1 active, 2 subscriberOptin)
 * u8 optout scope, u8 brand length, brand, TCR JSON text (registry.c). */
static uint8_t *campaign_value(const sg__campaign *c, const char *json, size_t len, size_t *n)
{
	size_t blen = strlen(c->brand_id);
	*n = 4 + blen + len;
	uint8_t *buf = malloc(*n);
	if (!buf)
		return NULL;
	buf[0] = 1;
	buf[1] = (c->active ? 1 : 0) | (c->subscriber_optin ? 2 : 0);
	buf[2] = (uint8_t)c->optout_scope;
	buf[3] = (uint8_t)blen;
	memcpy(buf + 4, c->brand_id, blen);
	memcpy(buf + 4 + blen, json, len);
	return buf;
}

static int bump_generation(sg__store *st, MDB_txn *txn)
{
	uint64_t gen;
	int rc = sg__meta_get_u64(st, txn, "reggen", &gen);
	return rc ? rc : sg__meta_put_u64(st, txn, "reggen", gen + 1);
}

static int apply_campaign(sg_engine *e, MDB_txn *txn, const sg_event_in *ev, sg__registry_change *out)
{
	sg__campaign c;
	const char *detail = NULL;
	if (sg__campaign_from_json(ev->body, ev->body_len, &c, &detail)) {
		out->status = SG_EJSON;
		return 0;
	}
	sg__strlcpy(out->campaign, c.id, sizeof(out->campaign));
	sg__strlcpy(out->brand, c.brand_id, sizeof(out->brand));
	size_t n;
	uint8_t *val = campaign_value(&c, ev->body, ev->body_len, &n);
	sg__campaign_free_fields(&c);
	if (!val)
		return -ENOMEM;
	MDB_val k = sg__val(out->campaign, strlen(out->campaign)), old;
	int rc = mdb_get(txn, e->store.campaigns, &k, &old);
	if (rc && rc != MDB_NOTFOUND) {
		free(val);
		return sg__store_err(rc);
	}
	out->changed = rc == MDB_NOTFOUND || old.mv_size != n || memcmp(old.mv_data, val, n);
	rc = 0;
	if (out->changed) {
		MDB_val v = sg__val(val, n);
		rc = sg__store_err(mdb_put(txn, e->store.campaigns, &k, &v, 0));
		if (!rc)
			rc = bump_generation(&e->store, txn);
	}
	free(val);
	return rc;
}

/* The body of a sender event: {"sender":..,"campaign":..,"group":..}. */
static bool sender_body(const sg_event_in *ev, char campaign[ID_MAX], char group[ID_MAX])
{
	cJSON *root = sg__json_parse_all(ev->body, ev->body_len);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "sender");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "campaign");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "group");
	bool ok = cJSON_IsObject(root) && cJSON_IsString(s) && cJSON_IsString(c) && cJSON_IsString(g) &&
		  !strcmp(s->valuestring, ev->sender) && strlen(c->valuestring) < ID_MAX &&
		  strlen(g->valuestring) < ID_MAX;
	if (ok) {
		sg__strlcpy(campaign, c->valuestring, ID_MAX);
		sg__strlcpy(group, g->valuestring, ID_MAX);
	}
	cJSON_Delete(root);
	return ok;
}

static int apply_sender(sg_engine *e, MDB_txn *txn, const sg_event_in *ev, sg__registry_change *out)
{
	char campaign[ID_MAX], group[ID_MAX];
	if (!sender_body(ev, campaign, group)) {
		out->status = SG_EJSON;
		return 0;
	}
	sg__strlcpy(out->campaign, campaign, sizeof(out->campaign));
	sg__strlcpy(out->group, group, sizeof(out->group));
	/* senders value: campaign NUL group NUL (registry.c) */
	size_t cl = strlen(campaign), gl = strlen(group), n = cl + gl + 2;
	char val[2 * ID_MAX];
	memcpy(val, campaign, cl + 1);
	memcpy(val + cl + 1, group, gl + 1);
	MDB_val k = sg__val(ev->sender, strlen(ev->sender)), old;
	int rc = mdb_get(txn, e->store.senders, &k, &old);
	if (rc && rc != MDB_NOTFOUND)
		return sg__store_err(rc);
	bool detach = !cl && !gl, had = rc == 0;
	out->changed = detach ? had : !had || old.mv_size != n || memcmp(old.mv_data, val, n);
	if (!out->changed)
		return 0;
	if (detach)
		return sg__store_err(mdb_del(txn, e->store.senders, &k, NULL));
	MDB_val v = sg__val(val, n);
	return sg__store_err(mdb_put(txn, e->store.senders, &k, &v, 0));
}

int sg__registry_apply(sg_engine *e, MDB_txn *txn, const sg_event_in *ev, sg__registry_change *out)
{
	memset(out, 0, sizeof(*out));
	if (!ev->body || !ev->body_len) {
		out->status = -EINVAL;
		return 0;
	}
	return ev->action == SG_ACTION_CAMPAIGN ? apply_campaign(e, txn, ev, out) : apply_sender(e, txn, ev, out);
}

static int record_change(sg_engine *e, sg_event_in *ev)
{
	sg_event_out out;
	int rc = sg_record(e, ev, 1, &out);
	return rc ? rc : out.status;
}

int sg_campaign_put_json(sg_engine *e, const char *json, size_t len, const char **err_detail)
{
	if (e->rdonly)
		return SG_ERDONLY;
	sg__campaign c;
	int rc = sg__campaign_from_json(json, len, &c, err_detail); /* the caller's answer: what, where */
	if (rc)
		return rc;
	sg__campaign_free_fields(&c);
	/* Stored as given (it parsed): the body of the event is the record. */
	sg_event_in ev = {.size = sizeof(ev), .action = SG_ACTION_CAMPAIGN, .source = SG_SOURCE_OPERATOR,
			  .scope = SG_SCOPE_CAMPAIGN, .rule = "campaign_put", .body = json, .body_len = len};
	return record_change(e, &ev);
}

int sg_sender_put(sg_engine *e, const char *sender, const char *campaign_id, const char *group)
{
	if (e->rdonly)
		return SG_ERDONLY;
	char key[SG_KEY_MAX];
	int rc = sg_number_normalize(sender, strlen(sender), e->default_country, SG_FIELD_ADDRESS, key, NULL);
	if (rc)
		return rc;
	campaign_id = campaign_id ? campaign_id : "";
	group = group ? group : "";
	if (strlen(campaign_id) >= ID_MAX || strlen(group) >= ID_MAX)
		return SG_ETOOLONG;
	if (sg__utf8_count(campaign_id, strlen(campaign_id)) < 0 || sg__utf8_count(group, strlen(group)) < 0)
		return SG_EUTF8; /* the record is JSON: ids are text */
	sg__buf b = SG__BUF_INIT;
	sg__buf_adds(&b, "{\"sender\":");
	sg__buf_json_cstr(&b, key);
	sg__buf_adds(&b, ",\"campaign\":");
	sg__buf_json_cstr(&b, campaign_id);
	sg__buf_adds(&b, ",\"group\":");
	sg__buf_json_cstr(&b, group);
	sg__buf_addc(&b, '}');
	if ((rc = sg__buf_err(&b))) {
		sg__buf_free(&b);
		return rc;
	}
	bool detach = !campaign_id[0] && !group[0];
	sg_event_in ev = {.size = sizeof(ev), .action = SG_ACTION_SENDER, .source = SG_SOURCE_OPERATOR,
			  .sender = key, .scope = SG_SCOPE_SENDER, .rule = detach ? "sender_detach" : "sender_put",
			  .body = b.p, .body_len = b.len};
	rc = record_change(e, &ev);
	sg__buf_free(&b);
	return rc;
}

/* ---- stores from before registry events ---- */

/* A store written by a version before registry changes were events has
 * campaigns and senders the log does not hold. On the first read-write
 * open, each is recorded once (rule "registry_migrated", logged although
 * the registry already holds it), so that a replica applying the log has
 * the whole registry; meta "reglog" then says it is done. A crash before
 * the flag is written records them again on the next open: more events,
 * nothing lost. */
#define MIGRATE_BATCH 256

typedef struct pending {
	char key[SG_KEY_MAX + 64];
	sg_action action;
	sg__buf body;
} pending;

typedef struct pending_list {
	pending *items;
	size_t n, cap;
} pending_list;

static pending *pending_add(pending_list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		pending *p = realloc(l->items, cap * sizeof(*p));
		if (!p)
			return NULL;
		l->items = p;
		l->cap = cap;
	}
	pending *p = &l->items[l->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

static int collect_db(MDB_txn *txn, MDB_dbi dbi, sg_action action, pending_list *l)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return sg__store_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *b = v.mv_data;
		if (k.mv_size >= SG_KEY_MAX) {
			rc = MDB_CORRUPTED;
			break;
		}
		pending *p = pending_add(l);
		if (!p) {
			rc = -ENOMEM;
			break;
		}
		p->action = action;
		memcpy(p->key, k.mv_data, k.mv_size);
		if (action == SG_ACTION_CAMPAIGN) {
			if (v.mv_size < 4 || v.mv_size < 4u + b[3]) {
				rc = MDB_CORRUPTED;
				break;
			}
			sg__buf_add(&p->body, b + 4 + b[3], v.mv_size - 4 - b[3]);
		} else {
			const char *campaign = v.mv_data;
			size_t cl = strnlen(campaign, v.mv_size);
			const char *group = cl < v.mv_size ? campaign + cl + 1 : "";
			sg__buf_adds(&p->body, "{\"sender\":");
			sg__buf_json_cstr(&p->body, p->key);
			sg__buf_adds(&p->body, ",\"campaign\":");
			sg__buf_json_str(&p->body, campaign, cl);
			sg__buf_adds(&p->body, ",\"group\":");
			sg__buf_json_str(&p->body, group, cl < v.mv_size ? strnlen(group, v.mv_size - cl - 1) : 0);
			sg__buf_addc(&p->body, '}');
		}
		if (sg__buf_failed(&p->body)) {
			rc = -ENOMEM;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc < 0 && rc > -4096 ? rc : sg__store_err(rc);
}

static int flag_txn(MDB_txn *txn, void *arg)
{
	sg_engine *e = arg;
	return sg__meta_put_u64(&e->store, txn, "reglog", 1);
}

static int record_pending(sg_engine *e, pending_list *l)
{
	sg_event_in ev[MIGRATE_BATCH];
	sg_event_out out[MIGRATE_BATCH];
	for (size_t i = 0; i < l->n;) {
		size_t k = 0;
		for (; k < MIGRATE_BATCH && i + k < l->n; k++) {
			pending *p = &l->items[i + k];
			ev[k] = (sg_event_in){.size = sizeof(ev[k]), .action = p->action, .source = SG_SOURCE_OPERATOR,
					      .sender = p->action == SG_ACTION_SENDER ? p->key : NULL,
					      .scope = p->action == SG_ACTION_CAMPAIGN ? SG_SCOPE_CAMPAIGN : SG_SCOPE_SENDER,
					      .rule = SG__RULE_REGISTRY_MIGRATED, .body = p->body.p, .body_len = p->body.len};
		}
		int rc = sg_record(e, ev, k, out);
		if (rc)
			return rc;
		/* A record this version cannot read back (e.g. a sender id that
		 * is not a key) stays in the registry unlogged, as before. */
		i += k;
	}
	return 0;
}

int sg__registry_log_migrate(sg_engine *e)
{
	MDB_txn *txn;
	uint64_t done = 0;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	pending_list l = {0};
	rc = sg__meta_get_u64(&e->store, txn, "reglog", &done);
	if (!rc && !done && !(rc = collect_db(txn, e->store.campaigns, SG_ACTION_CAMPAIGN, &l)))
		rc = collect_db(txn, e->store.senders, SG_ACTION_SENDER, &l);
	sg__rd_end(&e->store, txn);
	if (!rc && !done && l.n)
		rc = record_pending(e, &l);
	if (!rc && !done)
		rc = sg__store_write(&e->store, flag_txn, e);
	for (size_t i = 0; i < l.n; i++)
		sg__buf_free(&l.items[i].body);
	free(l.items);
	return rc;
}
