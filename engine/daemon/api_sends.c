/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POST /v1/sends: the gateway reports what it sent, after it sent it.
 * Body: {"sends": [{"id", "from", "to", "at"?, "campaign"?, "category"?}]},
 * at most SG_SENDS_BATCH_MAX items. Each item is
 * checked on its own: a bad one gets its error in results[i] (what, which
 * field, how to fix) and the rest are recorded. The batch is recorded by
 * the writer in one durable transaction before the answer.
 *
 * Requests that arrive while a batch is being recorded wait on the main
 * loop and are recorded together as the next one (one transaction, one
 * sync for all of them, up to SG_SENDS_BATCH_MAX sends), in arrival order;
 * each still gets only its own results. At most limits.writerQueue requests
 * wait; beyond that 503 + Retry-After.
 *
 * 200 {"recorded", "duplicates", "rejected", "results": [{"ordinal",
 * "duplicate"} | {"error", "field", "detail"}]}; 422 when no item could
 * be recorded (the results say why).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "internal.h"

typedef struct item_err {
	const char *error, *field;
	char detail[160];
} item_err;

typedef struct sends_req {
	sg__req *req;
	struct sends_req *next;  /* the queue, then the batch being recorded */
	cJSON *json;
	size_t n;
	size_t valid;            /* items that parsed */
	sg_send_in *in;
	sg_send_out *out;
	item_err *err;           /* err[i].error set: rejected before recording */
	char (*keys)[2][SG_KEY_MAX];
} sends_req;

static void sends_free(sends_req *s)
{
	if (!s)
		return;
	cJSON_Delete(s->json);
	free(s->in);
	free(s->out);
	free(s->err);
	free(s->keys);
	free(s);
}

static void reject(item_err *e, const char *error, const char *field, const char *detail)
{
	e->error = error;
	e->field = field;
	sg__strlcpy(e->detail, detail, sizeof(e->detail));
}

static const char *str_field(const cJSON *it, const char *name, item_err *e, bool required)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, name);
	if (!v || cJSON_IsNull(v)) {
		if (required) {
			char d[96];
			snprintf(d, sizeof(d), "%s is required (a string)", name);
			reject(e, "missing_field", name, d);
		}
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		char d[96];
		snprintf(d, sizeof(d), "%s must be a string", name);
		reject(e, "invalid_field", name, d);
		return NULL;
	}
	return v->valuestring;
}

/* One item into in[i]; a problem into err[i]. */
static void parse_item(sg_engine *engine, const cJSON *it, sg_send_in *in, item_err *e, char keys[2][SG_KEY_MAX])
{
	*in = (sg_send_in){.size = sizeof(*in)};
	if (!cJSON_IsObject(it)) {
		reject(e, "invalid_item", NULL, "each send is an object {\"id\", \"from\", \"to\", \"at\"}");
		return;
	}
	const char *id = str_field(it, "id", e, false), *from = str_field(it, "from", e, true),
		   *to = str_field(it, "to", e, true), *at = str_field(it, "at", e, false),
		   *campaign = str_field(it, "campaign", e, false), *category = str_field(it, "category", e, false);
	if (e->error)
		return;
	if (id && strlen(id) > SG_SEND_ID_MAX) {
		reject(e, "invalid_field", "id", "id: the provider message id, at most 256 bytes");
		return;
	}
	if (sg_number_normalize(from, strlen(from), sg_engine_default_country(engine), SG_FIELD_ADDRESS, keys[0],
				NULL)) {
		reject(e, "invalid_number", "from",
		       "from: our number, short code or sender ID as sent (E.164 like +14155550100)");
		return;
	}
	char cc[3];
	const char *country = sg_number_country(keys[0], cc) == 0 ? cc : sg_engine_default_country(engine);
	if (sg_number_normalize(to, strlen(to), country, SG_FIELD_NUMBER, keys[1], NULL)) {
		reject(e, "invalid_number", "to", "to: the handset's number (E.164 like +14155552671)");
		return;
	}
	if (at && at[0] && sg_time_parse(at, &in->at_us)) {
		reject(e, "invalid_field", "at", "at: when it was sent, RFC 3339 (2026-12-01T10:00:00Z)");
		return;
	}
	if (category && sg_send_category_parse(category, &in->category)) {
		reject(e, "invalid_field", "category", "category: marketing, informational or unspecified");
		return;
	}
	if (campaign && strlen(campaign) >= 64) {
		reject(e, "invalid_field", "campaign", "campaign: a campaign id, at most 63 bytes");
		return;
	}
	in->id = id && id[0] ? id : NULL;
	in->sender = keys[0];
	in->recipient = keys[1];
	in->campaign = campaign && campaign[0] ? campaign : NULL;
}

/* The items that parsed, of every request of the batch, recorded in one
 * call; the others keep their error. */
static int sends_run(sg_engine *engine, void *ctx)
{
	size_t m = 0;
	for (sends_req *s = ctx; s; s = s->next)
		m += s->valid;
	sg_send_in *in = malloc((m ? m : 1) * sizeof(*in));
	sg_send_out *tmp = calloc(m ? m : 1, sizeof(*tmp));
	int rc = in && tmp ? 0 : -ENOMEM;
	size_t j = 0;
	for (sends_req *s = ctx; !rc && s; s = s->next)
		for (size_t i = 0; i < s->n; i++)
			if (!s->err[i].error)
				in[j++] = s->in[i];
	if (!rc && m)
		rc = sg_sends_record(engine, in, m, tmp);
	j = 0;
	for (sends_req *s = ctx; !rc && s; s = s->next)
		for (size_t i = 0; i < s->n; i++)
			if (!s->err[i].error)
				s->out[i] = tmp[j++];
	free(in);
	free(tmp);
	return rc;
}

static const char *status_detail(int st, const char **error)
{
	*error = "invalid_item";
	switch (st) {
	case -EINVAL:
		*error = "invalid_field";
		return "at: not after now plus 5 minutes, nor before 1970";
	case SG_ETOOLONG:
		return "a field is too long";
	case SG_ENUMBER:
		*error = "invalid_number";
		return "a number did not normalize";
	default:
		return sg_strerror(st);
	}
}

static void sends_answer(sends_req *s, int rc)
{
	sg__req *req = s->req;
	if (rc) {
		sg__respond_engine_error(req, rc, "sends");
		sends_free(s);
		return;
	}
	size_t recorded = 0, dups = 0, rejected = 0;
	sg__buf b = SG__BUF_INIT;
	sg__buf_adds(&b, "{\"results\":[");
	for (size_t i = 0; i < s->n; i++) {
		bool first = true;
		const item_err *e = &s->err[i];
		const sg_send_out *o = &s->out[i];
		sg__buf_adds(&b, i ? ",{" : "{");
		sg__buf_json_key(&b, &first, "index");
		sg__buf_printf(&b, "%zu", i);
		if (e->error || o->status) {
			const char *error = e->error, *detail = e->detail;
			if (!e->error)
				detail = status_detail(o->status, &error);
			sg__buf_json_key(&b, &first, "error");
			sg__buf_json_cstr(&b, error);
			sg__buf_json_key(&b, &first, "field");
			sg__buf_json_cstr(&b, e->field);
			sg__buf_json_key(&b, &first, "detail");
			sg__buf_json_cstr(&b, detail);
			rejected++;
		} else {
			sg__buf_json_key(&b, &first, "ordinal");
			sg__buf_printf(&b, "%llu", (unsigned long long)o->ordinal);
			sg__buf_json_key(&b, &first, "duplicate");
			sg__buf_adds(&b, o->duplicate ? "true" : "false");
			if (o->duplicate)
				dups++;
			else
				recorded++;
		}
		sg__buf_addc(&b, '}');
	}
	sg__buf_printf(&b, "],\"recorded\":%zu,\"duplicates\":%zu,\"rejected\":%zu}\n", recorded, dups, rejected);
	sg__respond_buf(req, rejected == s->n ? 422 : 200, "application/json", &b);
	sends_free(s);
}

static void sends_flush(sg__server *srv);

static void sends_done(sg__req *req, int rc, void *ctx)
{
	sg__server *srv = req->srv->main ? req->srv->main : req->srv;
	for (sends_req *s = ctx, *next; s; s = next) {
		next = s->next;
		sends_answer(s, rc);
	}
	srv->sends.busy = false;
	sends_flush(srv);
}

/* The waiting requests, oldest first, as one batch to the writer. */
static void sends_flush(sg__server *srv)
{
	if (srv->sends.busy || !srv->sends.head)
		return;
	sends_req *first = srv->sends.head, *last = first;
	size_t items = first->valid;
	unsigned taken = 1;
	while (last->next && items + last->next->valid <= SG_SENDS_BATCH_MAX) {
		last = last->next;
		items += last->valid;
		taken++;
	}
	srv->sends.head = last->next;
	if (!srv->sends.head)
		srv->sends.tail = NULL;
	srv->sends.waiting -= taken;
	last->next = NULL;
	int rc = sg__submit_run(first->req, sends_run, sends_done, first);
	if (!rc) {
		srv->sends.busy = true;
		srv->sends.batches++;
		srv->sends.requests += taken;
		return;
	}
	/* the writer refused (full or stopping): so would it the rest */
	for (sends_req *s = first, *next; s; s = next) {
		next = s->next;
		sg__respond_submit_error(s->req, rc);
		sends_free(s);
	}
	for (sends_req *s = srv->sends.head, *next; s; s = next) {
		next = s->next;
		sg__respond_submit_error(s->req, rc);
		sends_free(s);
	}
	srv->sends.head = srv->sends.tail = NULL;
	srv->sends.waiting = 0;
}

void sg__api_sends(sg__req *req)
{
	cJSON *json = sg__parse_body_json(req);
	if (!json)
		return;
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(json, "sends");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(json);
		sg__respond_error(req, 422, "missing_field", "sends: an array of {\"id\", \"from\", \"to\", \"at\"}");
		return;
	}
	size_t n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0 || n > SG_SENDS_BATCH_MAX) {
		cJSON_Delete(json);
		sg__respond_error(req, 422, "invalid_field", "sends: 1 to %d items per request; split the batch",
				  SG_SENDS_BATCH_MAX);
		return;
	}
	sends_req *s = calloc(1, sizeof(*s));
	if (s) {
		s->json = json;
		s->n = n;
		s->in = calloc(n, sizeof(*s->in));
		s->out = calloc(n, sizeof(*s->out));
		s->err = calloc(n, sizeof(*s->err));
		s->keys = calloc(n, sizeof(*s->keys));
	}
	if (!s || !s->in || !s->out || !s->err || !s->keys) {
		if (!s)
			cJSON_Delete(json);
		sends_free(s);
		sg__respond_error(req, 500, "out_of_memory", NULL);
		return;
	}
	size_t i = 0;
	for (const cJSON *it = arr->child; it; it = it->next, i++) {
		parse_item(req->srv->engine, it, &s->in[i], &s->err[i], s->keys[i]);
		s->valid += !s->err[i].error;
	}
	s->req = req;
	sg__server *srv = req->srv->main ? req->srv->main : req->srv;
	if (srv->fleet || srv->sends.waiting >= srv->cfg->limits.writer_queue) {
		/* a fleet node refuses local-only writes (sg__submit_run says so) */
		int rc = srv->fleet ? -ENOTSUP : -EAGAIN;
		sends_free(s);
		sg__respond_submit_error(req, rc);
		return;
	}
	if (srv->sends.tail)
		srv->sends.tail->next = s;
	else
		srv->sends.head = s;
	srv->sends.tail = s;
	srv->sends.waiting++;
	sends_flush(srv);
}
