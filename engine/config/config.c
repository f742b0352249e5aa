/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON configuration file: parse, validate, apply over defaults. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "internal.h"
#include "config/provider_settings.h"
#include "webhooks/webhook.h"

#define CONFIG_MAX_BYTES (1 << 20)

void sg__config_init(sg__config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	sg__strlcpy(cfg->data_dir, "./var", sizeof(cfg->data_dir));
	sg__strlcpy(cfg->listen, "127.0.0.1:8080", sizeof(cfg->listen));
	sg_policy_default(&cfg->policy);
	sg__replication_init(&cfg->replication);
	cfg->log_level = SG_LOG_INFO;
	cfg->http_threads = 0; /* one HTTP loop per online CPU (engine/daemon/http_loops.c) */
	cfg->sends_after_days = 1461; /* 4 years: the TCPA limitation period */
	cfg->limits = (sg__limits){
		.max_header_bytes = 16 * 1024,
		.max_body_bytes = 64 * 1024,
		.max_batch_body_bytes = 1024 * 1024,
		.max_sends_body_bytes = 8 * 1024 * 1024,
		.max_connections = 4096,
		.header_timeout_ms = 10000,
		.body_timeout_ms = 10000,
		.idle_timeout_ms = 60000,
		.max_pipelined = 64,
		.writer_queue = 8192,
	};
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- unknown keys ------------------------------------------------------ */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Levenshtein distance, ignoring case; names longer than 63 bytes are
 * never near anything. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (la > 63 || lb > 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (lower((unsigned char)a[i - 1]) != lower((unsigned char)b[j - 1]));
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *sg__config_nearest(const char *key, const char *const *known, size_t n)
{
	size_t len = strlen(key), limit = len / 3 > 2 ? len / 3 : 2, best = SIZE_MAX;
	const char *found = NULL;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(key, known[i]);
		if (d <= limit && d < best) {
			best = d;
			found = known[i];
		}
	}
	return found;
}

/* Every member of obj must be one of known[], once. where: "" for the top
 * level, else "policy" etc. */
static int check_names(const cJSON *obj, const char *where, const char *noun, const char *const *known, size_t n,
		       char *err, size_t errlen)
{
	const char *sep = where[0] ? ": " : "";
	for (const cJSON *it = obj->child; it; it = it->next) {
		for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
			if (!strcmp(prev->string, it->string))
				return fail(err, errlen, SG_ECONFIG, "%s%s\"%.60s\" appears twice (keep one)", where,
					    sep, it->string);
		size_t i = 0;
		while (i < n && strcmp(known[i], it->string))
			i++;
		if (i < n)
			continue;
		const char *near = sg__config_nearest(it->string, known, n);
		if (near)
			return fail(err, errlen, SG_ECONFIG, "%s%sunknown %s \"%.60s\" (did you mean \"%s\"?)", where,
				    sep, noun, it->string, near);
		char list[256] = "";
		size_t used = 0;
		for (size_t k = 0; k < n && used < sizeof(list); k++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "", known[k]);
		return fail(err, errlen, SG_ECONFIG, "%s%sunknown %s \"%.60s\" (known: %s)", where, sep, noun,
			    it->string, list);
	}
	return 0;
}

static int check_keys(const cJSON *obj, const char *where, const char *const *known, size_t n, char *err,
		      size_t errlen)
{
	return check_names(obj, where, "key", known, n, err, errlen);
}

/* Name the section in a message written by get_bool / get_uint. */
static int in_section(int rc, const char *section, char *err, size_t errlen)
{
	if (rc && err && errlen && strncmp(err, section, strlen(section))) {
		char inner[384];
		sg__strlcpy(inner, err, sizeof(inner));
		snprintf(err, errlen, "%s.%s", section, inner);
	}
	return rc;
}

static const char *const top_keys[] = {
	"data", "keywords", "defaultCountry", "listen", "token", "auditorToken", "publicBaseUrl",
	"logLevel", "logFormat", "allowUnsignedWebhooks", "policy", "limits", "retention", "providers",
	"quietHours", "replication", "httpThreads",
};
static const char *const policy_keys[] = {
	"optoutScope", "probable", "requireRegistered", "requireOptin", "allowInactiveCampaigns",
	"forbidOptinOverride", "confirmWindowSeconds", "dedupHours", "defaultCategory", "quietHoursUnknown",
};
static const char *const limits_keys[] = {
	"maxHeaderBytes", "maxBodyBytes", "maxBatchBodyBytes", "maxSendsBodyBytes", "maxConnections", "headerTimeoutMs",
	"bodyTimeoutMs", "idleTimeoutMs", "maxPipelined", "writerQueue",
};
static const char *const retention_keys[] = {"redactBodiesAfterDays", "sendsAfterDays"};

/* "providers": the provider names here, their settings as the daemon's
 * table lists them (engine/daemon/wh_config.c checks the values). */
static int check_providers(const cJSON *prov, char *err, size_t errlen)
{
	const char *names[SG__WH_PROVIDER_MAX];
	size_t nnames = 0;
	for (int p = 1; p < SG__WH_PROVIDER_MAX; p++)
		names[nnames++] = sg__wh_provider_name((sg__wh_provider)p);
	int rc = check_names(prov, "providers", "provider", names, nnames, err, errlen);
	for (const cJSON *it = prov->child; it && !rc; it = it->next) {
		sg__wh_provider p;
		char where[64];
		const char *keys[64];
		if (sg__wh_provider_parse(it->string, &p))
			return fail(err, errlen, SG_ECONFIG, "providers: unknown provider \"%.40s\"", it->string);
		snprintf(where, sizeof(where), "providers.%s", it->string);
		if (!cJSON_IsObject(it))
			return fail(err, errlen, SG_ECONFIG, "%s: must be an object", where);
		size_t n = sg__wh_setting_keys(p, keys, SG_ARRAY_SIZE(keys));
		rc = check_names(it, where, "setting", keys, n, err, errlen);
	}
	return rc;
}

static int get_string(const cJSON *root, const char *name, char *out, size_t size, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, name);
	if (!it)
		return 0;
	if (!cJSON_IsString(it))
		return fail(err, errlen, SG_ECONFIG, "%s: must be a string", name);
	if (strlen(it->valuestring) >= size)
		return fail(err, errlen, SG_ECONFIG, "%s: longer than %zu bytes", name, size - 1);
	sg__strlcpy(out, it->valuestring, size);
	return 0;
}

static int get_uint(const cJSON *obj, const char *name, double min, double max, double *out, char *err,
		    size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!it)
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble < min || it->valuedouble > max ||
	    it->valuedouble != (double)(long long)it->valuedouble)
		return fail(err, errlen, SG_ECONFIG, "%s: must be a whole number from %.0f to %.0f", name, min, max);
	*out = it->valuedouble;
	return 0;
}

static int get_bool(const cJSON *obj, const char *name, bool *out, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!it)
		return 0;
	if (!cJSON_IsBool(it))
		return fail(err, errlen, SG_ECONFIG, "%s: must be true or false", name);
	*out = cJSON_IsTrue(it);
	return 0;
}

static int parse_policy(sg__config *cfg, const cJSON *pol, char *err, size_t errlen)
{
	int rc;
	if (!cJSON_IsObject(pol))
		return fail(err, errlen, SG_ECONFIG, "policy: must be an object");
	if ((rc = check_keys(pol, "policy", policy_keys, SG_ARRAY_SIZE(policy_keys), err, errlen)))
		return rc;
	const cJSON *scope = cJSON_GetObjectItemCaseSensitive(pol, "optoutScope");
	if (scope && (!cJSON_IsString(scope) || sg_scope_parse(scope->valuestring, &cfg->policy.optout_scope) ||
		      cfg->policy.optout_scope == SG_SCOPE_GLOBAL))
		return fail(err, errlen, SG_ECONFIG,
			    "policy.optoutScope: one of default, sender, group, campaign, brand");
	const cJSON *cat = cJSON_GetObjectItemCaseSensitive(pol, "defaultCategory");
	if (cat) {
		sg_category c;
		if (!cJSON_IsString(cat) || sg_category_parse(cat->valuestring, &c))
			return fail(err, errlen, SG_ECONFIG, "policy.defaultCategory: \"none\" (the default), "
				    "\"marketing\", \"informational\", \"transactional\" or \"conversational\"");
		cfg->policy.default_category = (int)c;
	}
	const cJSON *unk = cJSON_GetObjectItemCaseSensitive(pol, "quietHoursUnknown");
	if (unk) {
		if (cJSON_IsString(unk) && !strcmp(unk->valuestring, "country"))
			cfg->policy.quiet_unknown = SG_QUIET_UNKNOWN_COUNTRY;
		else if (cJSON_IsString(unk) && !strcmp(unk->valuestring, "skip"))
			cfg->policy.quiet_unknown = SG_QUIET_UNKNOWN_SKIP;
		else
			return fail(err, errlen, SG_ECONFIG, "policy.quietHoursUnknown: \"country\" (the default: "
				    "every rule and zone of the sender's country) or \"skip\"");
	}
	const cJSON *prob = cJSON_GetObjectItemCaseSensitive(pol, "probable");
	if (prob) {
		if (cJSON_IsString(prob) && !strcmp(prob->valuestring, "opt_out"))
			cfg->policy.probable = SG_PROBABLE_OPT_OUT;
		else if (cJSON_IsString(prob) && !strcmp(prob->valuestring, "review"))
			cfg->policy.probable = SG_PROBABLE_REVIEW;
		else
			return fail(err, errlen, SG_ECONFIG, "policy.probable: \"opt_out\" or \"review\"");
	}
	if ((rc = get_bool(pol, "requireRegistered", &cfg->policy.require_registered, err, errlen)) ||
	    (rc = get_bool(pol, "requireOptin", &cfg->policy.require_optin, err, errlen)) ||
	    (rc = get_bool(pol, "allowInactiveCampaigns", &cfg->policy.allow_inactive_campaigns, err, errlen)) ||
	    (rc = get_bool(pol, "forbidOptinOverride", &cfg->policy.forbid_optin_override, err, errlen)))
		return rc;
	double v = (double)(cfg->policy.confirm_window_us / 1000000);
	if ((rc = get_uint(pol, "confirmWindowSeconds", 1, 86400, &v, err, errlen)))
		return rc;
	cfg->policy.confirm_window_us = (int64_t)v * 1000000;
	v = (double)(cfg->policy.dedup_ttl_us / 3600000000LL);
	if ((rc = get_uint(pol, "dedupHours", 48, 24 * 365, &v, err, errlen)))
		return rc;
	cfg->policy.dedup_ttl_us = (int64_t)v * 3600000000LL;
	return 0;
}

static int parse_limits(sg__limits *l, const cJSON *obj, char *err, size_t errlen)
{
	if (!cJSON_IsObject(obj))
		return fail(err, errlen, SG_ECONFIG, "limits: must be an object");
	int rc = check_keys(obj, "limits", limits_keys, SG_ARRAY_SIZE(limits_keys), err, errlen);
	if (rc)
		return rc;
	struct {
		const char *name;
		double min, max;
		size_t *sz;
		unsigned *u;
	} fields[] = {
		{"maxHeaderBytes", 1024, 1 << 20, &l->max_header_bytes, NULL},
		{"maxBodyBytes", 1024, 16 << 20, &l->max_body_bytes, NULL},
		{"maxBatchBodyBytes", 1024, 64 << 20, &l->max_batch_body_bytes, NULL},
		{"maxSendsBodyBytes", 1024, 64 << 20, &l->max_sends_body_bytes, NULL},
		{"maxConnections", 1, 1000000, NULL, &l->max_connections},
		{"headerTimeoutMs", 100, 600000, NULL, &l->header_timeout_ms},
		{"bodyTimeoutMs", 100, 600000, NULL, &l->body_timeout_ms},
		{"idleTimeoutMs", 100, 3600000, NULL, &l->idle_timeout_ms},
		{"maxPipelined", 1, 10000, NULL, &l->max_pipelined},
		{"writerQueue", 16, 10000000, NULL, &l->writer_queue},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(fields); i++) {
		double v = fields[i].sz ? (double)*fields[i].sz : (double)*fields[i].u;
		rc = get_uint(obj, fields[i].name, fields[i].min, fields[i].max, &v, err, errlen);
		if (rc)
			return rc;
		if (fields[i].sz)
			*fields[i].sz = (size_t)v;
		else
			*fields[i].u = (unsigned)v;
	}
	return 0;
}

/* Where byte POS of a file is, for an error a person can find in an editor. */
static void line_col(const char *text, size_t pos, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < pos; i++) {
		if (text[i] == '\n')
			++*line, *col = 1;
		else
			++*col;
	}
}

int sg__config_parse(sg__config *cfg, const char *json, size_t len, char *err, size_t errlen)
{
	const char *end = NULL;
	size_t line, col;
	int rc;
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root) {
		size_t pos = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
		line_col(json, pos, &line, &col);
		return fail(err, errlen, SG_EJSON,
			    "not valid JSON at line %zu, column %zu (byte %zu): a missing comma or quote, "
			    "or a trailing comma, just before it?", line, col, pos);
	}
	/* Only whitespace may follow the object: a second object (two files
	 * pasted together) would otherwise be silently ignored, its policy
	 * with it. */
	size_t pos = end && end >= json && end <= json + len ? (size_t)(end - json) : len;
	while (pos < len && (json[pos] == ' ' || json[pos] == '\t' || json[pos] == '\n' || json[pos] == '\r'))
		pos++;
	if (pos < len) {
		cJSON_Delete(root);
		line_col(json, pos, &line, &col);
		return fail(err, errlen, SG_EJSON,
			    "not valid JSON: text after the configuration object at line %zu, column %zu "
			    "(byte %zu); the file holds one JSON object: merge the settings into it",
			    line, col, pos);
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return fail(err, errlen, SG_ECONFIG, "the top level must be an object");
	}
	char level[16] = "", format[16] = "";
	if ((rc = check_keys(root, "", top_keys, SG_ARRAY_SIZE(top_keys), err, errlen)))
		goto out;
	if ((rc = get_string(root, "data", cfg->data_dir, sizeof(cfg->data_dir), err, errlen)) ||
	    (rc = get_string(root, "keywords", cfg->keywords_dir, sizeof(cfg->keywords_dir), err, errlen)) ||
	    (rc = get_string(root, "quietHours", cfg->quiet_dir, sizeof(cfg->quiet_dir), err, errlen)) ||
	    (rc = get_string(root, "defaultCountry", cfg->default_country, sizeof(cfg->default_country), err,
			     errlen)) ||
	    (rc = get_string(root, "listen", cfg->listen, sizeof(cfg->listen), err, errlen)) ||
	    (rc = get_string(root, "token", cfg->token, sizeof(cfg->token), err, errlen)) ||
	    (rc = get_string(root, "auditorToken", cfg->auditor_token, sizeof(cfg->auditor_token), err,
			     errlen)) ||
	    (rc = get_string(root, "publicBaseUrl", cfg->public_base_url, sizeof(cfg->public_base_url), err,
			     errlen)) ||
	    (rc = get_string(root, "logLevel", level, sizeof(level), err, errlen)) ||
	    (rc = get_string(root, "logFormat", format, sizeof(format), err, errlen)) ||
	    (rc = get_bool(root, "allowUnsignedWebhooks", &cfg->allow_unsigned_webhooks, err, errlen)))
		goto out;
	if (cfg->default_country[0] &&
	    (strlen(cfg->default_country) != 2 || cfg->default_country[0] < 'A' || cfg->default_country[0] > 'Z' ||
	     cfg->default_country[1] < 'A' || cfg->default_country[1] > 'Z')) {
		rc = fail(err, errlen, SG_ECONFIG, "defaultCountry: an ISO 3166 code such as \"US\"");
		goto out;
	}
	if (level[0] && (rc = sg__log_level_parse(level, &cfg->log_level))) {
		rc = fail(err, errlen, SG_ECONFIG, "logLevel: error, warn, info or debug");
		goto out;
	}
	if (format[0] && (rc = sg__log_format_parse(format, &cfg->log_format))) {
		rc = fail(err, errlen, SG_ECONFIG, "logFormat: text, logfmt or json");
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "httpThreads")) {
		double v = 0;
		if ((rc = get_uint(root, "httpThreads", 0, SG__HTTP_THREADS_MAX, &v, err, errlen)))
			goto out;
		cfg->http_threads = (unsigned)v;
	}
	const cJSON *pol = cJSON_GetObjectItemCaseSensitive(root, "policy");
	if (pol && (rc = in_section(parse_policy(cfg, pol, err, errlen), "policy", err, errlen)))
		goto out;
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(root, "limits");
	if (lim && (rc = in_section(parse_limits(&cfg->limits, lim, err, errlen), "limits", err, errlen)))
		goto out;
	const cJSON *ret = cJSON_GetObjectItemCaseSensitive(root, "retention");
	if (ret) {
		double days = (double)cfg->redact_bodies_after_days, sdays = (double)cfg->sends_after_days;
		if (!cJSON_IsObject(ret) ||
		    (rc = check_keys(ret, "retention", retention_keys, SG_ARRAY_SIZE(retention_keys), err, errlen)) ||
		    (rc = in_section(get_uint(ret, "redactBodiesAfterDays", 0, 36500, &days, err, errlen), "retention",
				     err, errlen)) ||
		    (rc = in_section(get_uint(ret, "sendsAfterDays", 0, 36500, &sdays, err, errlen), "retention", err,
				     errlen))) {
			rc = rc ? rc : fail(err, errlen, SG_ECONFIG, "retention: must be an object");
			goto out;
		}
		cfg->redact_bodies_after_days = (int64_t)days;
		cfg->sends_after_days = (int64_t)sdays;
	}
	const cJSON *repl = cJSON_GetObjectItemCaseSensitive(root, "replication");
	if (repl && (rc = sg__replication_parse(&cfg->replication, repl, err, errlen)))
		goto out;
	cJSON *prov = cJSON_DetachItemFromObjectCaseSensitive(root, "providers");
	if (prov && !cJSON_IsObject(prov)) {
		cJSON_Delete(prov);
		rc = fail(err, errlen, SG_ECONFIG, "providers: must be an object");
		goto out;
	}
	if (prov && (rc = check_providers(prov, err, errlen))) {
		cJSON_Delete(prov);
		goto out;
	}
	cJSON_Delete(cfg->providers);
	cfg->providers = prov;
out:
	cJSON_Delete(root);
	return rc;
}

int sg__log_format_parse(const char *name, int *ret)
{
	static const char *const names[] = {"text", "logfmt", "json"};
	for (int i = 0; i < 3; i++)
		if (strcmp(name, names[i]) == 0) {
			*ret = i;
			return 0;
		}
	return -EINVAL;
}

int sg__log_level_parse(const char *name, sg__log_level *ret)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (size_t i = 0; i < SG_ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i])) {
			*ret = (sg__log_level)i;
			return 0;
		}
	return -EINVAL;
}

int sg__config_load(sg__config *cfg, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
		close(fd);
		return fail(err, errlen, SG_ECONFIG, "%s: not a regular file of at most 1 MiB", path);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return fail(err, errlen, -EIO, "%s: could not read", path);
	}
	char inner[384];
	int rc = sg__config_parse(cfg, buf, (size_t)n, inner, sizeof(inner));
	free(buf);
	if (rc)
		return fail(err, errlen, rc, "%s: %s", path, inner);
	sg__strlcpy(cfg->path, path, sizeof(cfg->path));
	return 0;
}

void sg__config_env(sg__config *cfg)
{
	const char *v = getenv("STOPGATE_TOKEN");
	if (v && v[0])
		sg__strlcpy(cfg->token, v, sizeof(cfg->token));
	v = getenv("STOPGATE_AUDITOR_TOKEN");
	if (v && v[0])
		sg__strlcpy(cfg->auditor_token, v, sizeof(cfg->auditor_token));
	v = getenv("STOPGATE_DATA");
	if (v && v[0])
		sg__strlcpy(cfg->data_dir, v, sizeof(cfg->data_dir));
}

int sg__config_check_tokens(const sg__config *cfg, char *err, size_t errlen)
{
	if (!cfg->auditor_token[0])
		return 0;
	if (!cfg->token[0])
		return fail(err, errlen, SG_ECONFIG,
			    "auditorToken: set only together with token (without an operator token every "
			    "request may change consent, so a read-only token would protect nothing)");
	if (!strcmp(cfg->auditor_token, cfg->token))
		return fail(err, errlen, SG_ECONFIG, "auditorToken: must differ from token");
	if (strlen(cfg->auditor_token) < 16)
		return fail(err, errlen, SG_ECONFIG,
			    "auditorToken: at least 16 characters (e.g. openssl rand -hex 24)");
	return 0;
}

void sg__config_engine_options(const sg__config *cfg, sg_options *opts)
{
	sg_options_default(opts);
	opts->data_dir = cfg->data_dir;
	opts->keywords_dir = cfg->keywords_dir[0] ? cfg->keywords_dir : NULL;
	opts->quiet_hours_dir = cfg->quiet_dir[0] ? cfg->quiet_dir : NULL;
	opts->default_country = cfg->default_country[0] ? cfg->default_country : NULL;
	opts->policy = &cfg->policy;
}

void sg__config_free(sg__config *cfg)
{
	cJSON_Delete(cfg->providers);
	cfg->providers = NULL;
}
