/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate review list|show|resolve: the review queue on the store itself
 * (the library's sg_reviews_pending, sg_review_state, sg_review_resolve).
 * list and show open the store read-only, so they run beside a daemon;
 * resolve writes, so it needs the store to itself (with a daemon running,
 * POST /v1/review/{event} does the same). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "internal.h"

static const char review_usage[] =
	"usage: stopgate review list [--limit N] [--after EVENT]\n"
	"       stopgate review show EVENT\n"
	"       stopgate review resolve EVENT --decision opt_out|opt_in|none --by NAME --note WHY\n"
	"\n"
	"The probable revocations held for review (a campaign's or the policy's\n"
	"probable: review), and every probable opt-in (intent opt_in: consent is\n"
	"never granted on a guess). list prints the pending ones, oldest first, as JSON\n"
	"{\"items\":[...],\"next\":EVENT|null} (pass next as --after for the next\n"
	"page; --limit 1..200, default 50). show prints one review event and, once\n"
	"resolved, its resolution. resolve records the decision as an event:\n"
	"opt_out records the opt-out the review held back (the message was a\n"
	"revocation), opt_in the opt-in (the message asked to be texted, as a\n"
	"START would), none leaves consent as it is; --by (who decided) and --note\n"
	"(why) are required and kept in the audit log. A review is resolved once.\n"
	"list and show open the store read-only (they run beside a daemon);\n"
	"resolve needs the store to itself: with a daemon running, use\n"
	"POST /v1/review/EVENT.\n"
	"Exit status: 0 done, 2 error (an unknown or already resolved event too).\n";

/* A copy of text made valid UTF-8 for JSON; caller frees. */
static char *utf8_copy(const char *text, size_t len)
{
	char *out = malloc(3 * len + 1);
	if (out)
		sg_utf8_repair(text, len, out);
	return out;
}

static void add_str(cJSON *o, const char *name, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

static void add_time(cJSON *o, const char *name, int64_t us)
{
	char t[32];
	sg_time_format(us, t);
	cJSON_AddStringToObject(o, name, t);
}

/* One review event, with the members GET /v1/review gives. */
static cJSON *review_json(sg_engine *e, const sg_event *ev)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "event", (double)ev->seq);
	add_time(o, "at", ev->event_time_us);
	add_str(o, "from", ev->recipient); /* the handset wrote to our number */
	add_str(o, "to", ev->sender);
	char *body = ev->body ? utf8_copy(ev->body, ev->body_len) : NULL;
	add_str(o, "body", body); /* null once redacted */
	free(body);
	add_str(o, "intent", sg_intent_name(sg__review_proposed(ev)));
	add_str(o, "confidence", sg_confidence_name(SG_CONF_PROBABLE));
	add_str(o, "rule", ev->rule);
	cJSON_AddNumberToObject(o, "score", sg__review_score(e, ev));
	add_str(o, "campaign", ev->campaign);
	return o;
}

typedef struct pending {
	sg_engine *e;
	cJSON *items;
} pending;

static int on_pending(const sg_event *ev, void *ctx)
{
	pending *p = ctx;
	cJSON_AddItemToArray(p->items, review_json(p->e, ev));
	return 0;
}

static int parse_seq(const char *s, uint64_t *ret)
{
	char *end = NULL;
	unsigned long long v = s && s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
	if (!end || *end || v == ~0ULL)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int review_error(int rc)
{
	if (rc == -EAGAIN)
		return cli_error("review", "this store has no review index yet (it was written by an older "
			       "stopgate): open it read-write once (start stopgate serve) to build it");
	return cli_error("review", "%s", sg_strerror(rc));
}

static int review_list(sg__cmdline *c)
{
	uint64_t limit = 50, after = 0, next = 0;
	const char *l = sg__cmdline_value(c, "limit"), *a = sg__cmdline_value(c, "after");
	if (l && (parse_seq(l, &limit) || limit < 1 || limit > 200))
		return cli_error("review", "--limit: a whole number from 1 to 200");
	if (a && parse_seq(a, &after))
		return cli_error("review", "--after: an event number (the next of the previous page)");
	sg_engine *e;
	if (cli_open_store(c, true, &e))
		return CLI_ERROR;
	cJSON *doc = cJSON_CreateObject(), *items = cJSON_AddArrayToObject(doc, "items");
	pending p = {e, items};
	int rc = sg_reviews_pending(e, after, (size_t)limit, on_pending, &p, &next);
	sg_engine_close(e);
	if (rc) {
		cJSON_Delete(doc);
		return review_error(rc);
	}
	if (next)
		cJSON_AddNumberToObject(doc, "next", (double)next);
	else
		cJSON_AddNullToObject(doc, "next");
	cli_print_json(doc);
	return CLI_OK;
}

typedef struct shown {
	sg_engine *e;
	uint64_t seq;
	cJSON *json;
	bool resolution;
} shown;

static int on_shown(const sg_event *ev, void *ctx)
{
	shown *s = ctx;
	if (ev->seq != s->seq)
		return 0;
	if (!s->resolution) {
		s->json = ev->action == SG_ACTION_REVIEW ? review_json(s->e, ev) : NULL;
		return 1;
	}
	sg_review_resolution r;
	if (sg_review_resolution_read(ev, &r))
		return SG_ECORRUPT;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "event", (double)ev->seq);
	add_time(o, "at", ev->time_us);
	add_str(o, "decision", sg_review_decision_name(r.decision));
	add_str(o, "by", r.by);
	add_str(o, "note", r.note);
	s->json = o;
	return 1;
}

static int review_show(sg__cmdline *c)
{
	uint64_t seq;
	if (c->npositional != 2 || parse_seq(c->positional[1], &seq)) {
		fputs(review_usage, stderr);
		return CLI_ERROR;
	}
	sg_engine *e;
	if (cli_open_store(c, true, &e))
		return CLI_ERROR;
	uint64_t by_seq = 0;
	shown item = {.e = e, .seq = seq}, res = {.e = e, .resolution = true};
	int rc = sg_review_state(e, seq, &by_seq);
	if (!rc)
		rc = sg_events_read(e, seq, 1, on_shown, &item, NULL);
	if (rc == 1 && by_seq) {
		res.seq = by_seq;
		rc = sg_events_read(e, by_seq, 1, on_shown, &res, NULL);
	}
	sg_engine_close(e);
	if (rc == SG_ENOTFOUND)
		return cli_error("review", "event %" PRIu64 " is no review event (stopgate review list shows the "
			       "pending ones)", seq);
	if (rc != 1 || !item.json || (by_seq && !res.json)) {
		cJSON_Delete(item.json);
		cJSON_Delete(res.json);
		return review_error(rc == 1 || rc == 0 ? SG_ECORRUPT : rc);
	}
	cJSON_AddStringToObject(item.json, "state", by_seq ? "resolved" : "pending");
	if (res.json)
		cJSON_AddItemToObject(item.json, "resolution", res.json);
	else
		cJSON_AddNullToObject(item.json, "resolution");
	cli_print_json(item.json);
	return CLI_OK;
}

static int review_resolve(sg__cmdline *c)
{
	uint64_t seq, new_seq = 0;
	if (c->npositional != 2 || parse_seq(c->positional[1], &seq)) {
		fputs(review_usage, stderr);
		return CLI_ERROR;
	}
	const char *d = sg__cmdline_value(c, "decision"), *by = sg__cmdline_value(c, "by"),
		   *note = sg__cmdline_value(c, "note");
	sg_review_decision decision;
	if (!d || sg_review_decision_parse(d, &decision))
		return cli_error("review", "--decision: opt_out (the message was a revocation: record the "
			       "opt-out), opt_in (it asked to be texted: record the opt-in) or none (consent unchanged)");
	if (!by || !note)
		return cli_error("review", "--by (who decided) and --note (why) are required");
	sg_engine *e;
	if (cli_open_store(c, false, &e)) {
		fprintf(stderr, "  (with a daemon running, resolve with POST /v1/review/%" PRIu64 ")\n", seq);
		return CLI_ERROR;
	}
	const char *detail = NULL;
	int rc = sg_review_resolve(e, seq, decision, by, note, &new_seq, &detail);
	uint64_t by_seq = 0;
	if (rc == SG_ERESOLVED)
		sg_review_state(e, seq, &by_seq);
	sg_engine_close(e);
	if (rc == SG_ENOTFOUND)
		return cli_error("review", "event %" PRIu64 " is no review event (stopgate review list shows the "
			       "pending ones); nothing was recorded", seq);
	if (rc == SG_ERESOLVED)
		return cli_error("review", "review event %" PRIu64 " was already resolved by event %" PRIu64
			       " (stopgate review show %" PRIu64 "); nothing was recorded", seq, by_seq, seq);
	if (rc && detail)
		return cli_error("review", "--%s; nothing was recorded", detail);
	if (rc)
		return review_error(rc);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "event", (double)new_seq);
	cJSON_AddNumberToObject(o, "resolved", (double)seq);
	cJSON_AddStringToObject(o, "decision", sg_review_decision_name(decision));
	cli_print_json(o);
	return CLI_OK;
}

int cmd_review(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {
		{"limit", true, NULL}, {"after", true, NULL}, {"decision", true, NULL},
		{"by", true, NULL},    {"note", true, NULL},  {NULL, false, NULL}};
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, review_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	const char *sub = c.npositional ? c.positional[0] : "";
	if (!strcmp(sub, "list") && c.npositional == 1)
		rc = review_list(&c);
	else if (!strcmp(sub, "show"))
		rc = review_show(&c);
	else if (!strcmp(sub, "resolve"))
		rc = review_resolve(&c);
	else {
		fputs(review_usage, stderr);
		rc = CLI_ERROR;
	}
	sg__config_free(&c.cfg);
	return rc;
}
