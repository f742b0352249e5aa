/* SPDX-License-Identifier: Apache-2.0 */
/* Request helpers, JSON access and per-provider dispatch. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wh_internal.h"

static const char *const provider_names[SG__WH_PROVIDER_MAX] = {
	[SG__WH_TWILIO] = "twilio",   [SG__WH_TELNYX] = "telnyx", [SG__WH_BANDWIDTH] = "bandwidth",
	[SG__WH_PLIVO] = "plivo",     [SG__WH_VONAGE] = "vonage", [SG__WH_SINCH] = "sinch",
	[SG__WH_AWS_SNS] = "aws-sns",
};

const char *sg__wh_provider_name(sg__wh_provider p)
{
	return p > 0 && p < SG__WH_PROVIDER_MAX ? provider_names[p] : NULL;
}

int sg__wh_provider_parse(const char *name, sg__wh_provider *ret)
{
	for (int p = 1; name && p < SG__WH_PROVIDER_MAX; p++) {
		if (strcmp(name, provider_names[p]) == 0) {
			*ret = (sg__wh_provider)p;
			return 0;
		}
	}
	return -EINVAL;
}

int sg__wh_parse(sg__wh_provider p, const sg__wh_request *req, sg__wh_parsed *out,
		 const char **err_detail)
{
	static int (*const fn[SG__WH_PROVIDER_MAX])(const sg__wh_request *, sg__wh_parsed *,
						    const char **) = {
		[SG__WH_TWILIO] = sg__wh_parse_twilio,       [SG__WH_TELNYX] = sg__wh_parse_telnyx,
		[SG__WH_BANDWIDTH] = sg__wh_parse_bandwidth, [SG__WH_PLIVO] = sg__wh_parse_plivo,
		[SG__WH_VONAGE] = sg__wh_parse_vonage,       [SG__WH_SINCH] = sg__wh_parse_sinch,
		[SG__WH_AWS_SNS] = sg__wh_parse_aws_sns,
	};
	if (!sg__wh_provider_name(p)) {
		if (err_detail)
			*err_detail = "unknown provider";
		return -EINVAL;
	}
	return fn[p](req, out, err_detail);
}

int sg__wh_verify(sg__wh_provider p, const sg__wh_request *req, const sg__wh_provider_cfg *cfg)
{
	static int (*const fn[SG__WH_PROVIDER_MAX])(const sg__wh_request *,
						    const sg__wh_provider_cfg *) = {
		[SG__WH_TWILIO] = sg__wh_verify_twilio,       [SG__WH_TELNYX] = sg__wh_verify_telnyx,
		[SG__WH_BANDWIDTH] = sg__wh_verify_bandwidth, [SG__WH_PLIVO] = sg__wh_verify_plivo,
		[SG__WH_VONAGE] = sg__wh_verify_vonage,       [SG__WH_SINCH] = sg__wh_verify_sinch,
		[SG__WH_AWS_SNS] = sg__wh_verify_aws_sns,
	};
	if (!sg__wh_provider_name(p))
		return -EINVAL;
	return fn[p](req, cfg);
}

/* ---- request ----------------------------------------------------------- */

const char *sg__wh_header(const sg__wh_request *req, const char *name)
{
	return req->header ? req->header(req->header_ctx, name) : NULL;
}

bool sg__wh_is_get(const sg__wh_request *req)
{
	return req->method && strcasecmp(req->method, "GET") == 0;
}

bool sg__wh_is_json(const sg__wh_request *req)
{
	const char *ct = req->content_type;
	if (!ct)
		return false;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return true;
	return n >= 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

const char *sg__wh_query(const sg__wh_request *req, size_t *len)
{
	if (req->query) {
		*len = req->query_len;
		return req->query;
	}
	const char *q = req->public_url ? strchr(req->public_url, '?') : NULL;
	if (!q) {
		*len = 0;
		return "";
	}
	q++;
	*len = strcspn(q, "#");
	return q;
}

void sg__wh_say(const sg__wh_request *req, const char *fmt, ...)
{
	if (!req->why || !req->why_cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(req->why, req->why_cap, fmt, ap);
	va_end(ap);
}

/* A client-supplied name for a why text: printable ASCII, at most 40. */
static void printable(const char *s, size_t len, char out[48])
{
	size_t o = 0;
	for (size_t i = 0; i < len && o < 40; i++)
		out[o++] = s[i] > 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
	out[o] = '\0';
}

int sg__wh_params(const sg__wh_request *req, bool fallback, sg__wh_form *out, const char **detail)
{
	size_t qlen;
	const char *q = sg__wh_query(req, &qlen);
	bool from_query = sg__wh_is_get(req) || (fallback && req->body_len == 0);
	sg__wh_form f, qf = {0};
	int rc = from_query ? sg__wh_form_decode(q, qlen, &f)
			    : sg__wh_form_decode(req->body, req->body_len, &f);
	if (!rc && !from_query && qlen && (rc = sg__wh_form_decode(q, qlen, &qf)))
		sg__wh_form_free(&f);
	if (rc) {
		*detail = "out of memory";
		return rc;
	}
	const sg__wh_pair *rep = sg__wh_form_repeated(&f, &qf);
	if (rep) {
		char name[48];
		printable(rep->key, rep->key_len, name);
		sg__wh_say(req, "parameter \"%s\" is repeated (or in both the query and the body): refused, "
			   "as the signature and the fields read could differ", name);
		*detail = "a parameter is repeated (or in both the query and the body): refused, as the "
			  "signature and the fields read could differ";
		sg__wh_form_free(&f);
		sg__wh_form_free(&qf);
		return -EINVAL;
	}
	sg__wh_form_free(&qf);
	*out = f;
	return 0;
}

int sg__wh_unsigned(const sg__wh_provider_cfg *cfg)
{
	return cfg && cfg->allow_unsigned ? 0 : SG_EBADSIG;
}

bool sg__wh_fresh(const sg__wh_provider_cfg *cfg, int64_t now_s, const char *ts)
{
	int64_t window = cfg->max_skew_s > 0 ? cfg->max_skew_s : 300;
	int64_t t = 0;
	if (!ts || !*ts || strlen(ts) > 18)
		return false;
	for (const char *c = ts; *c; c++) {
		if (*c < '0' || *c > '9')
			return false;
		t = t * 10 + (*c - '0');
	}
	int64_t d = now_s > t ? now_s - t : t - now_s;
	return d <= window;
}

/* ---- JSON -------------------------------------------------------------- */

int sg__wh_json_text(const sg__wh_request *req, const char *text, size_t len, cJSON **ret,
		     const char **err_detail)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!j) {
		if (err_detail)
			*err_detail = "malformed JSON";
		return SG_EJSON;
	}
	/* Whitespace may follow the value (RFC 8259); anything else is a second
	 * text the signature covers and this parser would not read. */
	while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	const char *detail = "data after the JSON value";
	int rc = end < text + len ? SG_EJSON : sg__wh_json_unique(req, j, &detail);
	if (rc) {
		cJSON_Delete(j);
		if (err_detail)
			*err_detail = detail;
		return rc;
	}
	*ret = j;
	return 0;
}

int sg__wh_json_parse(const sg__wh_request *req, cJSON **ret, const char **err_detail)
{
	if (!req->body || req->body_len == 0) {
		if (err_detail)
			*err_detail = "empty body";
		return SG_EJSON;
	}
	return sg__wh_json_text(req, req->body, req->body_len, ret, err_detail);
}

static int name_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Depth-first over every object and array; cJSON already bounds the depth. */
static const char *first_dup(const cJSON *node, int *nomem)
{
	const cJSON *c;
	size_t n = 0;
	if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
		return NULL;
	cJSON_ArrayForEach(c, node)
	{
		const char *d = first_dup(c, nomem);
		if (d || *nomem)
			return d;
		n++;
	}
	if (!cJSON_IsObject(node) || n < 2)
		return NULL;
	const char *stack[16], **names = n <= 16 ? stack : malloc(n * sizeof(*names));
	const char *found = NULL;
	size_t i = 0;
	if (!names) {
		*nomem = 1;
		return NULL;
	}
	cJSON_ArrayForEach(c, node)
		names[i++] = c->string ? c->string : "";
	qsort(names, n, sizeof(*names), name_cmp);
	for (i = 1; i < n && !found; i++)
		if (!strcmp(names[i - 1], names[i]))
			found = names[i];
	if (names != stack)
		free(names);
	return found;
}

int sg__wh_json_unique(const sg__wh_request *req, const cJSON *root, const char **detail)
{
	int nomem = 0;
	const char *dup = first_dup(root, &nomem);
	if (nomem) {
		*detail = "out of memory";
		return -ENOMEM;
	}
	if (!dup)
		return 0;
	if (req) {
		char name[48];
		printable(dup, strlen(dup), name);
		sg__wh_say(req, "JSON key \"%s\" is repeated in one object: refused, as the signed body "
			   "and the fields read could differ", name);
	}
	*detail = "a JSON object repeats a key: refused, as the signed body and the fields read could differ";
	return SG_EJSON;
}

const cJSON *sg__wh_jget(const cJSON *obj, const char *name)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

const char *sg__wh_jtext(sg__wh_parsed *p, const cJSON *item, bool *bad)
{
	char num[32];
	if (!item || cJSON_IsNull(item))
		return "";
	if (cJSON_IsString(item) && item->valuestring)
		return sg__wh_dup(p, item->valuestring, strlen(item->valuestring));
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		if (d >= -1e15 && d <= 1e15 && d == (double)(int64_t)d)
			snprintf(num, sizeof(num), "%" PRId64, (int64_t)d);
		else
			snprintf(num, sizeof(num), "%.17g", d);
		return sg__wh_dup(p, num, strlen(num));
	}
	*bad = true;
	return "";
}

const char *sg__wh_fdup(sg__wh_parsed *p, const sg__wh_form *f, const char *key, bool strict,
			int *rc)
{
	size_t len;
	const char *v = sg__wh_form_get(f, key, &len);
	if (!v || *rc)
		return "";
	if (strict && !sg__wh_clean(v, len)) {
		*rc = -EINVAL;
		return "";
	}
	const char *d = sg__wh_dup(p, v, len);
	if (!d) {
		*rc = -ENOMEM;
		return "";
	}
	return d;
}

bool sg__wh_url_split(const char *url, sg__wh_url *u)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	if (!sep || sep == url)
		return false;
	memset(u, 0, sizeof(*u));
	u->scheme_len = (size_t)(sep - url);
	u->host_at = u->scheme_len + 3;
	u->auth_end = u->host_at + strcspn(url + u->host_at, "/?#");
	u->path_end = u->auth_end + strcspn(url + u->auth_end, "?#");
	/* A port is the digits after the last ':' past any userinfo '@' and any
	 * IPv6 ']'. */
	size_t from = u->host_at;
	for (size_t i = u->host_at; i < u->auth_end; i++)
		if (url[i] == '@' || url[i] == ']')
			from = i + 1;
	for (size_t i = u->auth_end; i > from; i--) {
		if (url[i - 1] == ':') {
			u->port_colon = i - 1;
			break;
		}
		if (url[i - 1] < '0' || url[i - 1] > '9')
			break;
	}
	if (u->scheme_len == 5 && strncasecmp(url, "https", 5) == 0)
		u->default_port = 443;
	else if (u->scheme_len == 4 && strncasecmp(url, "http", 4) == 0)
		u->default_port = 80;
	return u->auth_end > u->host_at;
}

int sg__wh_parse_one_json(const sg__wh_request *req, sg__wh_provider provider, sg__wh_fill_fn fill,
			  sg__wh_parsed *out, const char **err_detail)
{
	sg__wh_parsed p = {.provider = provider};
	const char *detail = "out of memory";
	cJSON *root = NULL;
	int rc = sg__wh_json_parse(req, &root, &detail);
	if (!rc) {
		sg__wh_message *m = sg__wh_add(&p);
		rc = m ? fill(&p, m, root, &detail) : -ENOMEM;
		if (!rc)
			rc = sg__wh_finish(&p, m);
	}
	cJSON_Delete(root);
	if (rc) {
		sg__wh_parsed_free(&p);
		if (err_detail)
			*err_detail = detail;
		return rc;
	}
	*out = p;
	return 0;
}

int sg__wh_parse_one_form(const sg__wh_request *req, sg__wh_provider provider, sg__wh_params_fn params,
			  sg__wh_form_fill_fn fill, sg__wh_parsed *out, const char **err_detail)
{
	sg__wh_parsed p = {.provider = provider};
	sg__wh_form f;
	const char *detail = "out of memory";
	int rc = params(req, &f, &detail);
	if (!rc) {
		sg__wh_message *m = sg__wh_add(&p);
		rc = m ? fill(&p, m, &f, &detail) : -ENOMEM;
		if (!rc)
			rc = sg__wh_finish(&p, m);
		sg__wh_form_free(&f);
		if (rc)
			sg__wh_parsed_free(&p);
	}
	if (rc) {
		if (err_detail)
			*err_detail = detail;
		return rc;
	}
	*out = p;
	return 0;
}
