/* SPDX-License-Identifier: Apache-2.0 */
/* Opening and closing an engine; options and policy defaults. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "internal.h"

/* The first published sizes: a caller struct is at least this big. When a
 * field is added, these stay as they are; a new field goes at the end and
 * must make sizeof grow (no field in what was tail padding), or an older
 * caller could not be told from a newer one. */
#define POLICY_SIZE_V1 (offsetof(sg_policy, dedup_ttl_us) + sizeof(int64_t))
#define OPTIONS_SIZE_V1 (offsetof(sg_options, filter_capacity) + sizeof(size_t))
_Static_assert(sizeof(sg_policy) > POLICY_SIZE_V1, "a new policy field must grow the struct");
_Static_assert(sizeof(sg_options) > OPTIONS_SIZE_V1, "a new option must grow the struct");

/* Defaults into a caller's struct of `size` bytes: what both know copied,
 * the caller's tail (fields of a newer header) zero, size = the caller's. */
static void struct_out(void *dst, size_t size, const void *full, size_t full_size)
{
	memset(dst, 0, size);
	memcpy(dst, full, size < full_size ? size : full_size);
	memcpy(dst, &size, sizeof(size));
}

void sg_policy_init(sg_policy *p, size_t size)
{
	if (size < sizeof(size_t))
		return; /* not even room for size: nothing to write */
	sg_policy d;
	memset(&d, 0, sizeof(d));
	d.optout_scope = SG_SCOPE_DEFAULT;
	d.probable = SG_PROBABLE_OPT_OUT;
	d.confirm_window_us = 5 * 60 * (int64_t)1000000;
	d.dedup_ttl_us = 48 * 3600 * (int64_t)1000000;
	struct_out(p, size, &d, sizeof(d));
}

void sg_options_init(sg_options *o, size_t size)
{
	if (size < sizeof(size_t))
		return;
	sg_options d;
	memset(&d, 0, sizeof(d));
	struct_out(o, size, &d, sizeof(d));
}

/* The keyword set: the one named ("none": none, ""), else the installed
 * one, else the source tree's (an uninstalled build run from its checkout). */
static const char *keywords_dir(const sg_options *o)
{
	if (o->keywords_dir && !strcmp(o->keywords_dir, "none"))
		return "";
	if (o->keywords_dir && o->keywords_dir[0])
		return o->keywords_dir;
	if (access(SG_KEYWORDS_DIR_INSTALLED, R_OK) == 0)
		return SG_KEYWORDS_DIR_INSTALLED;
	return SG_KEYWORDS_DIR_SOURCE;
}

/* The quiet-hours rules: the ones named ("" or "none": none), else the
 * installed ones, else the source tree's. */
static const char *quiet_dir(const sg_options *o)
{
	if (o->quiet_hours_dir)
		return !strcmp(o->quiet_hours_dir, "none") ? "" : o->quiet_hours_dir;
	if (access(SG_QUIET_DIR_INSTALLED, R_OK) == 0)
		return SG_QUIET_DIR_INSTALLED;
	if (access(SG_QUIET_DIR_SOURCE, R_OK) == 0)
		return SG_QUIET_DIR_SOURCE;
	return "";
}

/* Everything but the store; with_store false leaves the store closed. */
static int engine_open(const sg_options *caller_opts, bool with_store, sg_engine **ret)
{
	if (!caller_opts)
		return -EINVAL;
	sg_options o;
	sg_policy policy;
	sg_options_default(&o);
	sg_policy_default(&policy);
	int rc = sg__struct_in(&o, sizeof(o), caller_opts, OPTIONS_SIZE_V1);
	if (!rc && o.policy)
		rc = sg__struct_in(&policy, sizeof(policy), o.policy, POLICY_SIZE_V1);
	if (rc)
		return rc;
	const sg_options *opts = &o;
	if (with_store && (!opts->data_dir || !opts->data_dir[0]))
		return -EINVAL;
	if (opts->default_country && opts->default_country[0] && strlen(opts->default_country) != 2)
		return SG_ECONFIG;
	if (policy.optout_scope == SG_SCOPE_GLOBAL || policy.optout_scope > SG_SCOPE_GLOBAL)
		return SG_ECONFIG;
	if (policy.default_category < SG_CATEGORY_DEFAULT || policy.default_category > SG_CATEGORY_CONVERSATIONAL ||
	    (policy.quiet_unknown != SG_QUIET_UNKNOWN_COUNTRY && policy.quiet_unknown != SG_QUIET_UNKNOWN_SKIP))
		return SG_ECONFIG;
	sg_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_rwlock_init(&e->reg_lock, NULL);
	e->rdonly = opts->flags & SG_OPEN_RDONLY;
	e->policy = policy;
	if (e->policy.confirm_window_us <= 0)
		e->policy.confirm_window_us = 5 * 60 * (int64_t)1000000;
	if (e->policy.dedup_ttl_us < 48 * 3600 * (int64_t)1000000)
		e->policy.dedup_ttl_us = 48 * 3600 * (int64_t)1000000; /* covers every provider's retries */
	if (with_store && sg__strlcpy(e->data_dir, opts->data_dir, sizeof(e->data_dir)) >= sizeof(e->data_dir)) {
		free(e);
		return -ENAMETOOLONG;
	}
	sg__strlcpy(e->keywords_dir, keywords_dir(opts), sizeof(e->keywords_dir));
	sg__strlcpy(e->quiet_dir, quiet_dir(opts), sizeof(e->quiet_dir));
	if (opts->default_country) {
		e->default_country[0] = (char)(opts->default_country[0] & ~0x20);
		e->default_country[1] = opts->default_country[0] ? (char)(opts->default_country[1] & ~0x20) : 0;
		e->default_country[2] = '\0';
	}
	/* The rules first: a bad file fails before the store is touched, and
	 * a background filter rebuild starts only once the engine is ready. */
	char err[256];
	rc = e->keywords_dir[0] ? sg__kw_load(e->keywords_dir, &e->kw, err, sizeof(err)) : 0;
	if (!rc && with_store)
		rc = sg__qh_load(e->quiet_dir, sg_now_us(), &e->qh, NULL, 0);
	if (!rc && with_store) {
		rc = sg__store_open(&e->store, e->data_dir, e->rdonly, opts->flags & SG_OPEN_DEFER_SYNC,
				    !e->rdonly && (opts->flags & SG_OPEN_CREATE), opts->initial_map_size,
				    opts->filter_capacity);
		e->store_open = true;
	}
	if (!rc && with_store && !e->rdonly)
		rc = sg__registry_log_migrate(e); /* once, for a store from before 0.2 */
	if (rc) {
		sg_engine_close(e);
		return rc;
	}
	*ret = e;
	return 0;
}

int sg_engine_open(const sg_options *opts, sg_engine **ret)
{
	return engine_open(opts, true, ret);
}

bool sg__engine_created(const sg_engine *e)
{
	return e->store_open && e->store.fresh;
}

int sg__engine_open_keywords_only(const sg_options *opts, sg_engine **ret)
{
	return engine_open(opts, false, ret);
}

void sg_engine_close(sg_engine *e)
{
	if (!e)
		return;
	if (e->store_open)
		sg__store_close(&e->store);
	sg__registry_clear(&e->reg);
	sg__kw_free(e->kw);
	sg__qh_free(e->qh);
	pthread_rwlock_destroy(&e->reg_lock);
	free(e);
}

int sg_engine_reload(sg_engine *e)
{
	sg__kw_set *fresh = NULL;
	char err[256];
	int rc = e->keywords_dir[0] ? sg__kw_load(e->keywords_dir, &fresh, err, sizeof(err)) : 0;
	if (rc)
		return rc;
	sg__qh_set *qh = NULL;
	if (e->store_open && (rc = sg__qh_load(e->quiet_dir, sg_now_us(), &qh, NULL, 0))) {
		sg__kw_free(fresh);
		return rc;
	}
	pthread_rwlock_wrlock(&e->reg_lock);
	sg__kw_set *old = e->kw;
	sg__qh_set *old_qh = e->qh;
	e->kw = fresh;
	if (e->store_open)
		e->qh = qh;
	e->reg.loaded = false; /* campaigns are re-read on next use */
	for (size_t i = 0; i < e->reg.count; i++)
		sg__kw_campaign_free(e->reg.items[i]); /* compiled against the old set */
	pthread_rwlock_unlock(&e->reg_lock);
	sg__kw_free(old);
	if (e->store_open)
		sg__qh_free(old_qh);
	return 0;
}

int sg_sync(sg_engine *e)
{
	return sg__store_sync(&e->store);
}

int sg_engine_check_readers(sg_engine *e, int *dead)
{
	return sg__store_check_readers(&e->store, dead);
}

bool sg_engine_readonly(const sg_engine *e)
{
	return e->rdonly;
}

const sg_policy *sg_engine_policy(const sg_engine *e)
{
	return &e->policy;
}

const char *sg_engine_default_country(const sg_engine *e)
{
	return e->default_country;
}
