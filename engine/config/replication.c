/* SPDX-License-Identifier: Apache-2.0 */
/* The "replication" section of the config file and the --replicate list
 * (docs/fleet.md). Errors name the key: "replication.servers: ...". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "internal.h"

static const char *const keys[] = {"servers", "stream", "replicas", "node", "maxStaleMs", "onStale",
				   "publishTimeoutMs", "outboxKeepMs"};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		int n = snprintf(err, errlen, "replication.");
		va_list ap;
		va_start(ap, fmt);
		if (n > 0 && (size_t)n < errlen)
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return SG_ECONFIG;
}

void sg__replication_init(sg__replication *r)
{
	memset(r, 0, sizeof(*r));
	sg__strlcpy(r->stream, "STOPGATE", sizeof(r->stream));
	r->replicas = 3;
	r->max_stale_ms = 5000;
	r->publish_timeout_ms = 5000;
	r->outbox_keep_ms = 120000;
}

static int add_server(sg__replication *r, const char *s, size_t len, char *err, size_t errlen)
{
	if (r->nservers == SG__REPL_MAX_SERVERS)
		return fail(err, errlen, "servers: at most %d servers", SG__REPL_MAX_SERVERS);
	if (len < 8 || len >= sizeof(r->servers[0]) || strncmp(s, "nats://", 7) || !memchr(s + 7, ':', len - 7) ||
	    memchr(s, ' ', len))
		return fail(err, errlen, "servers: \"%.*s\" is not nats://HOST:PORT", (int)(len > 80 ? 80 : len), s);
	memcpy(r->servers[r->nservers], s, len);
	r->servers[r->nservers++][len] = '\0';
	return 0;
}

int sg__replication_servers(sg__replication *r, const char *list, char *err, size_t errlen)
{
	r->nservers = 0;
	for (const char *p = list; *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		int rc = add_server(r, p, len, err, errlen);
		if (rc)
			return rc;
		p += len + (c ? 1 : 0);
	}
	return r->nservers ? 0 : fail(err, errlen, "servers: empty (nats://H1:P1,nats://H2:P2,...)");
}

static int get_uint(const cJSON *o, const char *key, unsigned min, unsigned max, unsigned *out, char *err,
		    size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
	    v->valuedouble != (double)(unsigned)v->valuedouble)
		return fail(err, errlen, "%s: a whole number from %u to %u", key, min, max);
	*out = (unsigned)v->valuedouble;
	return 0;
}

static int get_str(const cJSON *o, const char *key, char *out, size_t len, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= len)
		return fail(err, errlen, "%s: a non-empty string of at most %zu bytes", key, len - 1);
	sg__strlcpy(out, v->valuestring, len);
	return 0;
}

int sg__replication_parse(sg__replication *r, const cJSON *obj, char *err, size_t errlen)
{
	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "must be an object");
	for (const cJSON *it = obj->child; it; it = it->next) {
		bool known = false;
		for (size_t i = 0; i < SG_ARRAY_SIZE(keys) && !known; i++)
			known = !strcmp(it->string, keys[i]);
		if (!known) {
			const char *near = sg__config_nearest(it->string, keys, SG_ARRAY_SIZE(keys));
			return fail(err, errlen, "%.60s: unknown key%s%s%s", it->string, near ? " (did you mean " : "",
				    near ? near : "", near ? "?)" : "");
		}
	}
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(obj, "servers");
	if (sv) {
		if (!cJSON_IsArray(sv))
			return fail(err, errlen, "servers: an array of \"nats://HOST:PORT\"");
		r->nservers = 0;
		for (const cJSON *it = sv->child; it; it = it->next) {
			if (!cJSON_IsString(it))
				return fail(err, errlen, "servers: an array of \"nats://HOST:PORT\"");
			int rc = add_server(r, it->valuestring, strlen(it->valuestring), err, errlen);
			if (rc)
				return rc;
		}
	}
	int rc;
	if ((rc = get_str(obj, "stream", r->stream, sizeof(r->stream), err, errlen)) ||
	    (rc = get_str(obj, "node", r->node, sizeof(r->node), err, errlen)) ||
	    (rc = get_uint(obj, "replicas", 1, 5, &r->replicas, err, errlen)) ||
	    (rc = get_uint(obj, "maxStaleMs", 0, 86400000, &r->max_stale_ms, err, errlen)) ||
	    (rc = get_uint(obj, "publishTimeoutMs", 100, 600000, &r->publish_timeout_ms, err, errlen)) ||
	    (rc = get_uint(obj, "outboxKeepMs", 0, 86400000, &r->outbox_keep_ms, err, errlen)))
		return rc;
	char on_stale[16] = "deny";
	if ((rc = get_str(obj, "onStale", on_stale, sizeof(on_stale), err, errlen)))
		return rc;
	if (strcmp(on_stale, "deny") && strcmp(on_stale, "allow"))
		return fail(err, errlen, "onStale: \"deny\" (the default: checks deny stale_replica) or \"allow\" "
			    "(checks answer from this node's state, which may miss opt-outs taken elsewhere)");
	r->stale_allow = !strcmp(on_stale, "allow");
	return 0;
}

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		      *s == '_'))
			return false;
	return true;
}

int sg__replication_check(const sg__replication *r, char *err, size_t errlen)
{
	if (!r->nservers)
		return 0;
	if (!r->node[0])
		return fail(err, errlen, "node: required with servers (--node NAME: this node's name, unique in the fleet)");
	if (!name_ok(r->node))
		return fail(err, errlen, "node: letters, digits, '-' and '_' only");
	if (!name_ok(r->stream))
		return fail(err, errlen, "stream: letters, digits, '-' and '_' only (a JetStream stream name)");
	return 0;
}
