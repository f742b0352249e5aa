/* SPDX-License-Identifier: Apache-2.0 */
/* GET /v1/check and POST /v1/check (batch): the pre-send gate.
 *
 * Ordinary checks run right here on the loop thread that received them
 * (with httpThreads, on every HTTP loop): sg_check is a lock-free LMDB
 * read and the engine is shared by threads. The two purposes that may claim the one-time
 * confirmation allowance (optout_confirm, help_reply) write, so they go
 * through the writer like every other write.
 *
 * An unparseable number is a verdict (allow false, reason invalid_number),
 * not an error, so that one bad recipient does not fail a batch.
 *
 * Quiet hours (sg_check_ex): `category` and `at` (RFC 3339) as query
 * parameters or body fields; the answer gains category, region, tz and, for
 * quiet_hours, next_allowed_at and rule whenever a category applies.
 *
 * Frequency caps are the library's too (sg_check_ex, after quiet hours): a
 * marketing message whose recipient and subject ("campaign", default the
 * sender's) reached their cap is denied "frequency_cap" with
 * "next_allowed_at" and "rule".
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"
#include "fleet/fleet.h"

#define BATCH_MAX 10000

static int parse_purpose(const char *s, sg_purpose *ret)
{
	static const struct { const char *name; sg_purpose p; } names[] = {
		{"message", SG_PURPOSE_MESSAGE},
		{"optout_confirm", SG_PURPOSE_OPTOUT_CONFIRM},
		{"help_reply", SG_PURPOSE_HELP_REPLY},
		{"optin_confirm", SG_PURPOSE_OPTIN_CONFIRM},
	};
	for (size_t i = 0; i < SG_ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*ret = names[i].p;
			return 0;
		}
	}
	return -EINVAL;
}

/* consistency: "" / "local" (the default: this node's applied state) or
 * "leader" (a fleet node applies the stream's last sequence first; a single
 * node is always current). Answers 422 and returns false otherwise. */
static bool parse_consistency(sg__req *req, const char *s, bool *leader)
{
	if (!s[0] || !strcmp(s, "local") || !strcmp(s, "leader")) {
		*leader = !strcmp(s, "leader");
		return true;
	}
	sg__respond_error(req, 422, "invalid_field", "consistency: local or leader");
	return false;
}

static bool claims(sg_purpose p)
{
	return p == SG_PURPOSE_OPTOUT_CONFIRM || p == SG_PURPOSE_HELP_REPLY;
}

#define FIELD_MAX 256

typedef struct check {
	sg_check_opts opts;
	sg_quiet *quiet;        /* n entries */
	sg_quiet one_quiet[1];
	const char *campaign;   /* the cap's subject; NULL: the sender's */
	char qcampaign[64];
	sg_purpose purpose;
	bool leader;            /* consistency=leader: a fleet node first applies the stream's last sequence */
	bool batch;
	cJSON *json;            /* batch: owns from and the to strings */
	const char *from;
	const char **to;
	size_t n;
	sg_verdict *out;        /* n verdicts */
	char qfrom[FIELD_MAX];  /* GET: decoded query values */
	char qto[FIELD_MAX];
	const char *one_to[1];
	sg_verdict one_out[1];
	bool on_stack;          /* a GET answered at once: check_free leaves it */
} check;

static void check_free(check *c)
{
	if (!c)
		return;
	cJSON_Delete(c->json);
	if (c->to != c->one_to)
		free((void *)c->to);
	if (c->out != c->one_out)
		free(c->out);
	if (c->quiet != c->one_quiet)
		free(c->quiet);
	if (!c->on_stack)
		free(c);
}

/* A GET's check that must outlive the handler (it waits for the writer or
 * the stream): a heap copy, its inner pointers moved along. NULL: no memory. */
static check *check_keep(check *c)
{
	if (!c->on_stack)
		return c;
	check *k = malloc(sizeof(*k));
	if (!k)
		return NULL;
	*k = *c;
	k->on_stack = false;
	k->from = k->qfrom;
	k->one_to[0] = k->qto;
	k->to = k->one_to;
	k->out = k->one_out;
	k->quiet = k->one_quiet;
	if (c->campaign)
		k->campaign = k->qcampaign;
	return k;
}

static int check_run(sg_engine *engine, void *ctx)
{
	check *c = ctx;
	c->opts.purpose = c->purpose;
	c->opts.campaign = c->campaign;
	return sg_check_ex(engine, c->from, c->to, c->n, &c->opts, c->out, c->quiet);
}

static void next_allowed_json(sg__buf *b, bool *first, const check *c, size_t i)
{
	if (c->out[i].reason != SG_REASON_FREQUENCY_CAP)
		return;
	sg__buf_json_key(b, first, "next_allowed_at");
	sg__time_json(b, c->quiet[i].next_allowed_us);
	sg__buf_json_key(b, first, "rule"); /* FL, OK, MD or maxPerDay, as stopgate check says */
	sg__buf_json_cstr(b, c->quiet[i].rule);
}

/* The cap's subject; answers 422 and returns false when bad. */
static bool parse_campaign(sg__req *req, check *c, const char *campaign)
{
	if (campaign && strlen(campaign) >= sizeof(c->qcampaign)) {
		sg__respond_error(req, 422, "invalid_field", "campaign: at most 63 bytes");
		return false;
	}
	if (campaign && campaign[0]) {
		sg__strlcpy(c->qcampaign, campaign, sizeof(c->qcampaign));
		c->campaign = c->qcampaign;
	}
	return true;
}

/* The quiet-hours fields, present once a category applies. */
static void quiet_json(sg__buf *b, bool *first, const sg_verdict *v, const sg_quiet *q)
{
	if (q->category == SG_CATEGORY_DEFAULT)
		return;
	sg__buf_json_key(b, first, "category");
	sg__buf_json_cstr(b, sg_category_name(q->category));
	if (!q->evaluated)
		return;
	sg__buf_json_key(b, first, "region");
	sg__buf_json_cstr(b, q->region);
	sg__buf_json_key(b, first, "tz");
	sg__buf_json_cstr(b, q->tz);
	if (v->reason != SG_REASON_QUIET_HOURS || v->allow)
		return;
	sg__buf_json_key(b, first, "next_allowed_at");
	if (q->next_allowed_us) {
		char t[32];
		sg_time_format(q->next_allowed_us, t);
		t[19] = 'Z'; /* whole seconds */
		t[20] = '\0';
		sg__buf_json_cstr(b, t);
	} else {
		sg__buf_adds(b, "null");
	}
	sg__buf_json_key(b, first, "rule");
	sg__buf_json_cstr(b, q->rule);
}

/* category and at, from the query or the body; false when answered 422. */
static bool parse_quiet(sg__req *req, check *c, const char *category, const char *at)
{
	sg_check_opts_default(&c->opts);
	if (category && category[0] && sg_category_parse(category, &c->opts.category)) {
		sg__respond_error(req, 422, "invalid_field",
				  "category: marketing, informational, transactional, conversational or none");
		return false;
	}
	if (at && at[0] && sg_time_parse(at, &c->opts.at_us)) {
		sg__respond_error(req, 422, "invalid_field", "at: an RFC 3339 instant, e.g. 2026-12-02T01:30:00Z");
		return false;
	}
	return true;
}

static void check_answer(sg__req *req, int rc, void *ctx)
{
	check *c = ctx;
	if (rc) {
		sg__respond_engine_error(req, rc, "check");
		check_free(c);
		return;
	}
	if (req->srv->fleet)
		sg__fleet_gate(req->srv->fleet, c->from, c->to, c->out, c->n); /* stale_replica, replica_diverged */
	sg__metrics *m = &req->srv->metrics;
	/* formatted straight into the request's answer buffer (kept from the
	 * connection's previous request): no allocation, no printf */
	sg__buf *out = &req->out_body;
	sg__buf_clear(out);
#define b (*out)
	if (!c->batch) {
		bool first = true;
		sg__buf_addc(&b, '{');
		sg__verdict_json(&b, &first, &c->out[0]);
		quiet_json(&b, &first, &c->out[0], &c->quiet[0]);
		next_allowed_json(&b, &first, c, 0);
		sg__buf_adds(&b, "}\n");
		sg__metrics_verdict(m, &c->out[0]);
	} else {
		sg__buf_reserve(&b, c->n * 160 + 32);
		sg__buf_adds(&b, "{\"results\":[");
		for (size_t i = 0; i < c->n; i++) {
			bool first = true;
			if (i)
				sg__buf_addc(&b, ',');
			sg__buf_addc(&b, '{');
			sg__buf_json_key(&b, &first, "to");
			sg__buf_json_cstr(&b, c->to[i]);
			sg__verdict_json(&b, &first, &c->out[i]);
			quiet_json(&b, &first, &c->out[i], &c->quiet[i]);
			next_allowed_json(&b, &first, c, i);
			sg__buf_addc(&b, '}');
			sg__metrics_verdict(m, &c->out[i]);
		}
		sg__buf_adds(&b, "]}\n");
	}
#undef b
	check_free(c);
	sg__respond_buf(req, 200, "application/json", out);
}

static void dispatch(sg__req *req, check *c);

static void current(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	(void)out, (void)n;
	check *c = ctx;
	if (status) {
		check_free(c);
		sg__resp_header(req, "Retry-After", "1");
		sg__respond_error(req, 503, "stream_unavailable",
				  "consistency=leader: the stream's last sequence could not be read or applied");
		return;
	}
	c->leader = false;
	dispatch(req, c);
}

static void dispatch_on_main(sg__req *req)
{
	dispatch(req, req->user);
}

static void dispatch(sg__req *req, check *c)
{
	if ((claims(c->purpose) || c->leader) && c->on_stack) {
		check *k = check_keep(c);
		if (!k) {
			check_free(c);
			sg__respond_error(req, 500, "out_of_memory", NULL);
			return;
		}
		c = k;
	}
	if (claims(c->purpose) && !sg__req_on_main(req)) {
		/* a claim writes: on the main loop, as every write (http_loops.c) */
		req->user = c;
		sg__req_handoff(req, dispatch_on_main);
		return;
	}
	if (c->leader && req->srv->fleet) {
		int rc = sg__submit_events(req, NULL, 0, current, c); /* a read barrier */
		if (rc) {
			check_free(c);
			sg__respond_submit_error(req, rc);
		}
		return;
	}
	if (claims(c->purpose) && req->srv->fleet) {
		/* a fleet node claims through the stream (api_check_fleet.c); a
		 * batch of several never claims */
		if (c->n == 1)
			sg__check_fleet_claim(req, c->from, c->to[0], c->purpose, &c->out[0], check_answer, c);
		else
			check_answer(req, check_run(req->srv->engine, c), c);
		return;
	}
	if (claims(c->purpose)) {
		int rc = sg__submit_run(req, check_run, check_answer, c);
		if (rc) {
			check_free(c);
			sg__respond_submit_error(req, rc);
		}
		return;
	}
	check_answer(req, check_run(req->srv->engine, c), c);
}

/* A query parameter into out; answers 422 and returns false when missing
 * (required) or malformed. */
static bool query_param(sg__req *req, const char *name, bool required, char *out, size_t len)
{
	int rc = sg__req_query(req, name, out, len);
	if (rc >= 0)
		return true;
	if (rc == -ENOENT && !required) {
		out[0] = '\0';
		return true;
	}
	if (rc == -ENOENT)
		sg__respond_error(req, 422, "missing_field", "query parameter %s is required", name);
	else
		sg__respond_error(req, 422, "invalid_field", "query parameter %s: %s", name,
				  rc == -E2BIG ? "too long" : "bad percent-encoding");
	return false;
}

static void check_get(sg__req *req)
{
	check local;
	memset(&local, 0, offsetof(check, qfrom)); /* the query buffers are written before use */
	memset(&local.one_to, 0, sizeof(local) - offsetof(check, one_to));
	check *c = &local;
	c->on_stack = true;
	char purpose[32], category[32], at[64], campaign[128], consistency[16];
	if (!query_param(req, "from", true, c->qfrom, sizeof(c->qfrom)) ||
	    !query_param(req, "to", true, c->qto, sizeof(c->qto)) ||
	    !query_param(req, "purpose", false, purpose, sizeof(purpose)) ||
	    !query_param(req, "category", false, category, sizeof(category)) ||
	    !query_param(req, "at", false, at, sizeof(at)) || !parse_quiet(req, c, category, at) ||
	    !query_param(req, "campaign", false, campaign, sizeof(campaign)) || !parse_campaign(req, c, campaign) ||
	    !query_param(req, "consistency", false, consistency, sizeof(consistency)) ||
	    !parse_consistency(req, consistency, &c->leader)) {
		check_free(c);
		return;
	}
	if (purpose[0] && parse_purpose(purpose, &c->purpose)) {
		check_free(c);
		sg__respond_error(req, 422, "invalid_field",
				  "purpose: message, optout_confirm, help_reply or optin_confirm");
		return;
	}
	c->from = c->qfrom;
	c->one_to[0] = c->qto;
	c->to = c->one_to;
	c->n = 1;
	c->out = c->one_out;
	c->quiet = c->one_quiet;
	dispatch(req, c);
}

static void check_post(sg__req *req)
{
	cJSON *json = sg__parse_body_json(req);
	if (!json)
		return;
	check *c = calloc(1, sizeof(*c));
	if (!c) {
		cJSON_Delete(json);
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	c->json = json;
	c->batch = true;
	c->to = c->one_to;
	c->out = c->one_out;
	c->quiet = c->one_quiet;
	bool answered = false;
	c->from = sg__json_str(req, json, "from", &answered);
	const char *purpose = sg__json_str(req, json, "purpose", &answered);
	const char *category = sg__json_str(req, json, "category", &answered);
	const char *at = sg__json_str(req, json, "at", &answered);
	const char *campaign = sg__json_str(req, json, "campaign", &answered);
	const char *consistency = sg__json_str(req, json, "consistency", &answered);
	if (answered || !parse_quiet(req, c, category, at) || !parse_campaign(req, c, campaign) ||
	    !parse_consistency(req, consistency ? consistency : "", &c->leader))
		goto fail;
	if (!c->from) {
		sg__respond_error(req, 422, "missing_field", "from is required");
		goto fail;
	}
	if (purpose && parse_purpose(purpose, &c->purpose)) {
		sg__respond_error(req, 422, "invalid_field",
				  "purpose: message, optout_confirm, help_reply or optin_confirm");
		goto fail;
	}
	const cJSON *to = cJSON_GetObjectItemCaseSensitive(json, "to");
	if (!to) {
		sg__respond_error(req, 422, "missing_field", "to is required (an array of numbers)");
		goto fail;
	}
	if (!cJSON_IsArray(to)) {
		sg__respond_error(req, 422, "invalid_field", "to: must be an array of strings");
		goto fail;
	}
	size_t n = (size_t)cJSON_GetArraySize(to);
	if (n > BATCH_MAX) {
		sg__respond_error(req, 422, "too_many_recipients", "at most %d recipients per request; got %zu",
				  BATCH_MAX, n);
		goto fail;
	}
	if (n > 0) {
		c->to = calloc(n, sizeof(*c->to));
		c->out = calloc(n, sizeof(*c->out));
		c->quiet = calloc(n, sizeof(*c->quiet));
		if (!c->to || !c->out || !c->quiet) {
			sg__respond_error(req, 500, "out_of_memory", NULL);
			goto fail;
		}
	}
	size_t i = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, to) {
		if (!cJSON_IsString(it)) {
			sg__respond_error(req, 422, "invalid_field", "to[%zu]: must be a string", i);
			goto fail;
		}
		c->to[i++] = it->valuestring;
	}
	c->n = n;
	if (n == 0) {
		check_answer(req, 0, c);
		return;
	}
	dispatch(req, c);
	return;
fail:
	check_free(c);
}

void sg__api_check(sg__req *req)
{
	if (req->method == HTTP_GET)
		check_get(req);
	else
		check_post(req);
}
