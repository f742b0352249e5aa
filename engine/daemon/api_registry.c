/* SPDX-License-Identifier: Apache-2.0 */
/* PUT /v1/campaigns/{campaignId} (body: the TCR campaign JSON, whose
 * campaignId must match the path) and PUT /v1/senders/{number} (body:
 * {"campaignId", "group"}). Both are writes, so they run on the writer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"
#include "engine.h" /* sg__campaign_from_json: a fleet node checks before publishing */

/* ---- campaigns ---- */

typedef struct campaign_put {
	const char *json;
	size_t len;
	const char *detail; /* static, from sg_campaign_put_json */
	char id[128];
} campaign_put;

static int campaign_run(sg_engine *engine, void *ctx)
{
	campaign_put *cp = ctx;
	return sg_campaign_put_json(engine, cp->json, cp->len, &cp->detail);
}

static void campaign_done(sg__req *req, int rc, void *ctx)
{
	campaign_put *cp = ctx;
	if (rc == SG_EJSON) {
		sg__respond_error(req, 422, "invalid_campaign", "%s", cp->detail ? cp->detail : sg_strerror(rc));
	} else if (rc) {
		sg__respond_engine_error(req, rc, "campaign");
	} else {
		sg__info("api", "campaign stored id=%lu campaign=%s", req->id, cp->id);
		char *stored = NULL;
		sg__buf b = SG__BUF_INIT;
		sg__buf_adds(&b, "{\"campaignId\":");
		sg__buf_json_cstr(&b, cp->id);
		sg__buf_adds(&b, ",\"stored\":true,\"campaign\":");
		if (sg_campaign_get_json(req->srv->engine, cp->id, &stored) == 0 && stored)
			sg__buf_adds(&b, stored);
		else
			sg__buf_adds(&b, "null");
		free(stored);
		sg__buf_adds(&b, "}\n");
		sg__respond_buf(req, 200, "application/json", &b);
	}
	free(cp);
}

/* A fleet node: the registry change is an event of the stream, applied by
 * every node (docs/fleet.md); checked here first for the answer's detail. */
static void campaign_recorded(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	campaign_done(req, status ? status : n ? out[0].status : 0, ctx);
}

static int campaign_fleet(sg__req *req, campaign_put *cp)
{
	sg__campaign c;
	int rc = sg__campaign_from_json(cp->json, cp->len, &c, &cp->detail);
	if (rc) {
		campaign_done(req, rc, cp);
		return 0;
	}
	sg__campaign_free_fields(&c);
	sg_event_in ev = {.size = sizeof(ev), .action = SG_ACTION_CAMPAIGN, .source = SG_SOURCE_OPERATOR,
			  .scope = SG_SCOPE_CAMPAIGN, .rule = "campaign_put", .body = cp->json, .body_len = cp->len};
	return sg__submit_events(req, &ev, 1, campaign_recorded, cp);
}

void sg__api_campaign_put(sg__req *req)
{
	campaign_put *cp = calloc(1, sizeof(*cp));
	if (!cp) {
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	int n = sg__url_decode(req->arg, strlen(req->arg), false, cp->id, sizeof(cp->id));
	if (n <= 0 || memchr(cp->id, '\0', (size_t)n)) {
		free(cp);
		sg__respond_error(req, 422, "invalid_field", "campaign id in the path: malformed or too long");
		return;
	}
	cJSON *json = sg__parse_body_json(req);
	if (!json) {
		free(cp);
		return;
	}
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(json, "campaignId");
	if (!cJSON_IsString(id)) {
		cJSON_Delete(json);
		free(cp);
		sg__respond_error(req, 422, "missing_field", "campaignId is required (a string)");
		return;
	}
	bool same = strcmp(id->valuestring, cp->id) == 0;
	cJSON_Delete(json);
	if (!same) {
		free(cp);
		sg__respond_error(req, 422, "invalid_field", "campaignId in the body does not match the path");
		return;
	}
	cp->json = req->body; /* valid until answered */
	cp->len = req->body_len;
	int rc = req->srv->fleet ? campaign_fleet(req, cp) : sg__submit_run(req, campaign_run, campaign_done, cp);
	if (rc) {
		free(cp);
		sg__respond_submit_error(req, rc);
	}
}

/* ---- senders ---- */

typedef struct sender_put {
	cJSON *json;
	sg__buf body; /* a fleet node: the event's body */
	char number[128];
	char key[SG_KEY_MAX];
	const char *campaign;
	const char *group;
} sender_put;

static int sender_run(sg_engine *engine, void *ctx)
{
	sender_put *sp = ctx;
	return sg_sender_put(engine, sp->number, sp->campaign, sp->group);
}

static void sender_done(sg__req *req, int rc, void *ctx)
{
	sender_put *sp = ctx;
	if (rc == SG_ENOTFOUND) {
		sg__respond_error(req, 422, "unknown_campaign", "campaign %s is not registered; PUT it first",
				  sp->campaign ? sp->campaign : "");
	} else if (rc) {
		sg__respond_engine_error(req, rc, "sender");
	} else {
		sg__buf b = SG__BUF_INIT;
		bool first = true;
		sg__buf_addc(&b, '{');
		sg__buf_json_key(&b, &first, "sender");
		sg__buf_json_cstr(&b, sp->key);
		sg__buf_json_key(&b, &first, "campaignId");
		sg__buf_json_cstr(&b, sp->campaign && sp->campaign[0] ? sp->campaign : NULL);
		sg__buf_json_key(&b, &first, "group");
		sg__buf_json_cstr(&b, sp->group && sp->group[0] ? sp->group : NULL);
		sg__buf_adds(&b, "}\n");
		sg__respond_buf(req, 200, "application/json", &b);
	}
	cJSON_Delete(sp->json);
	sg__buf_free(&sp->body);
	free(sp);
}

static void sender_recorded(sg__req *req, int status, const sg_event_out *out, size_t n, void *ctx)
{
	sender_done(req, status ? status : n ? out[0].status : 0, ctx);
}

/* A fleet node: the event sg_sender_put records, through the stream. */
static int sender_fleet(sg__req *req, sender_put *sp)
{
	const char *campaign = sp->campaign ? sp->campaign : "", *group = sp->group ? sp->group : "";
	if (sg__utf8_count(campaign, strlen(campaign)) < 0 || sg__utf8_count(group, strlen(group)) < 0)
		return SG_EUTF8;
	sg__buf_adds(&sp->body, "{\"sender\":");
	sg__buf_json_cstr(&sp->body, sp->key);
	sg__buf_adds(&sp->body, ",\"campaign\":");
	sg__buf_json_cstr(&sp->body, campaign);
	sg__buf_adds(&sp->body, ",\"group\":");
	sg__buf_json_cstr(&sp->body, group);
	sg__buf_addc(&sp->body, '}');
	if (sg__buf_err(&sp->body))
		return -ENOMEM;
	bool detach = !campaign[0] && !group[0];
	sg_event_in ev = {.size = sizeof(ev), .action = SG_ACTION_SENDER, .source = SG_SOURCE_OPERATOR,
			  .sender = sp->key, .scope = SG_SCOPE_SENDER, .rule = detach ? "sender_detach" : "sender_put",
			  .body = sp->body.p, .body_len = sp->body.len};
	return sg__submit_events(req, &ev, 1, sender_recorded, sp);
}

void sg__api_sender_put(sg__req *req)
{
	sender_put *sp = calloc(1, sizeof(*sp));
	if (!sp) {
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	int n = sg__url_decode(req->arg, strlen(req->arg), false, sp->number, sizeof(sp->number));
	if (n <= 0 || memchr(sp->number, '\0', (size_t)n)) {
		free(sp);
		sg__respond_error(req, 422, "invalid_number", "number in the path: malformed or too long");
		return;
	}
	if (sg__normalize(req, "number", sp->number, NULL, SG_FIELD_ADDRESS, sp->key)) {
		free(sp);
		return;
	}
	sp->json = sg__parse_body_json(req);
	if (!sp->json) {
		free(sp);
		return;
	}
	bool answered = false;
	sp->campaign = sg__json_str(req, sp->json, "campaignId", &answered);
	sp->group = sg__json_str(req, sp->json, "group", &answered);
	if (answered) {
		cJSON_Delete(sp->json);
		free(sp);
		return;
	}
	if ((sp->campaign && strlen(sp->campaign) >= 64) || (sp->group && strlen(sp->group) >= 64)) {
		cJSON_Delete(sp->json);
		free(sp);
		sg__respond_error(req, 422, "invalid_field", "campaignId and group: at most 63 bytes");
		return;
	}
	int rc = req->srv->fleet ? sender_fleet(req, sp) : sg__submit_run(req, sender_run, sender_done, sp);
	if (rc) {
		cJSON_Delete(sp->json);
		sg__buf_free(&sp->body);
		free(sp);
		sg__respond_submit_error(req, rc);
	}
}
