/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate check / optout / optin */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "internal.h"

cJSON *cli_verdict_json(const sg_verdict *v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "allow", v->allow);
	const char *reason = sg_reason_name(v->reason);
	if (reason)
		cJSON_AddStringToObject(o, "reason", reason);
	else
		cJSON_AddNullToObject(o, "reason");
	if (v->scope) {
		cJSON *s = cJSON_AddObjectToObject(o, "scope");
		cJSON_AddStringToObject(s, "kind", sg_scope_name(v->scope));
		cJSON_AddStringToObject(s, "id", v->scope_id);
	} else {
		cJSON_AddNullToObject(o, "scope");
	}
	if (v->since_us) {
		char t[32];
		sg_time_format(v->since_us, t);
		cJSON_AddStringToObject(o, "since", t);
		cJSON_AddNumberToObject(o, "event", (double)v->seq);
	} else {
		cJSON_AddNullToObject(o, "since");
	}
	if (v->confirmation)
		cJSON_AddBoolToObject(o, "confirmation", true);
	return o;
}

static int parse_purpose(const char *s, sg_purpose *ret)
{
	static const char *const names[] = {"message", "optout_confirm", "help_reply", "optin_confirm"};
	for (size_t i = 0; i < SG_ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i])) {
			*ret = (sg_purpose)i;
			return 0;
		}
	return -1;
}

static const char check_usage[] =
	"usage: stopgate check [--purpose P] [--category C] [--at TIME] [--campaign ID] [--data DIR]\n"
	"                      [--country CC] FROM TO [TO...]\n"
	"\n"
	"Prints the verdict as JSON: {\"allow\", \"reason\", \"scope\", \"since\"}; with\n"
	"several TOs (one snapshot, up to 1000) one line each, with \"to\" first.\n"
	"Exit status: 0 allow (every TO), 1 deny (some TO), 2 error. Opens the store\n"
	"read-only, so it runs beside a daemon. --purpose: message (default),\n"
	"optout_confirm, help_reply, optin_confirm. --category: marketing,\n"
	"informational, transactional, conversational (default: the campaign's\n"
	"usecase, else policy.defaultCategory); marketing is held outside the\n"
	"recipient's quiet hours (reason quiet_hours, with next_allowed_at, region,\n"
	"tz, rule) and past its frequency cap (reason frequency_cap, with\n"
	"next_allowed_at and rule). --at: the RFC 3339 instant to check for\n"
	"(default now). --campaign: the frequency cap's subject (default the\n"
	"sender's campaign).\n";

#define CHECK_MAX 1000

/* The quiet-hours and cap fields, once a category applies (as GET /v1/check). */
static void quiet_fields(cJSON *o, const sg_verdict *v, const sg_quiet *q)
{
	if (q->category == SG_CATEGORY_DEFAULT)
		return;
	cJSON_AddStringToObject(o, "category", sg_category_name(q->category));
	if (q->evaluated) {
		cJSON_AddStringToObject(o, "region", q->region);
		cJSON_AddStringToObject(o, "tz", q->tz);
	}
	if (v->allow || (v->reason != SG_REASON_QUIET_HOURS && v->reason != SG_REASON_FREQUENCY_CAP) ||
	    (v->reason == SG_REASON_QUIET_HOURS && !q->evaluated))
		return;
	if (q->next_allowed_us) {
		char t[32];
		sg_time_format(q->next_allowed_us, t);
		t[19] = 'Z';
		t[20] = '\0';
		cJSON_AddStringToObject(o, "next_allowed_at", t);
	} else {
		cJSON_AddNullToObject(o, "next_allowed_at");
	}
	cJSON_AddStringToObject(o, "rule", q->rule);
}

int cmd_check(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {{"purpose", true, NULL},
						 {"category", true, NULL},
						 {"at", true, NULL},
						 {"campaign", true, NULL},
						 {NULL, false, NULL}};
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, check_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	if (c.npositional < 2) {
		fputs(check_usage, stderr);
		return CLI_ERROR;
	}
	size_t n = (size_t)c.npositional - 1;
	if (n > CHECK_MAX)
		return cli_error("check", "at most %d recipients at once; got %zu", CHECK_MAX, n);
	sg_purpose purpose = SG_PURPOSE_MESSAGE;
	const char *p = sg__cmdline_value(&c, "purpose");
	if (p && parse_purpose(p, &purpose))
		return cli_error("check", "unknown --purpose '%s' (message, optout_confirm, help_reply or "
				 "optin_confirm)", p);
	sg_check_opts opts;
	sg_check_opts_default(&opts);
	opts.purpose = purpose;
	const char *cat = sg__cmdline_value(&c, "category"), *at = sg__cmdline_value(&c, "at");
	if (cat && sg_category_parse(cat, &opts.category))
		return cli_error("check", "unknown --category '%s' (marketing, informational, transactional, "
			       "conversational)", cat);
	if (at && sg_time_parse(at, &opts.at_us))
		return cli_error("check", "--at '%s': an RFC 3339 instant, e.g. 2026-12-02T01:30:00Z", at);
	opts.campaign = sg__cmdline_value(&c, "campaign");
	if (opts.campaign && (!opts.campaign[0] || strlen(opts.campaign) >= 64))
		return cli_error("check", "--campaign: a campaign id of 1 to 63 bytes");
	sg_verdict one_v, *v = n == 1 ? &one_v : calloc(n, sizeof(*v));
	sg_quiet one_q, *q = n == 1 ? &one_q : calloc(n, sizeof(*q));
	if (!v || !q) {
		if (v != &one_v)
			free(v);
		if (q != &one_q)
			free(q);
		return cli_error("check", "out of memory");
	}
	sg_engine *e;
	if (cli_open(&c, true, &e)) {
		rc = -1;
	} else {
		rc = sg_check_ex(e, c.positional[0], (const char *const *)&c.positional[1], n, &opts, v, q);
		sg_engine_close(e);
		if (rc)
			cli_error("check", "%s", sg_strerror(rc));
	}
	bool all = true;
	for (size_t i = 0; !rc && i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (n > 1)
			cJSON_AddStringToObject(o, "to", c.positional[1 + i]);
		cJSON *verdict = cli_verdict_json(&v[i]), *it;
		while ((it = verdict->child)) /* move the members after "to" */
			cJSON_AddItemToObject(o, it->string, cJSON_DetachItemViaPointer(verdict, it));
		cJSON_Delete(verdict);
		quiet_fields(o, &v[i], &q[i]);
		cli_print_json(o);
		if (v[i].reason == SG_REASON_INVALID_NUMBER)
			cli_explain_invalid("check", &c, c.positional[0], c.positional[1 + i]);
		all = all && v[i].allow;
	}
	if (v != &one_v)
		free(v);
	if (q != &one_q)
		free(q);
	sg__config_free(&c.cfg);
	if (rc)
		return CLI_ERROR;
	return all ? CLI_OK : CLI_DENY;
}

static const char consent_usage[] =
	"usage: stopgate optout|optin [--scope S] [--note TEXT] [--override consumer_request]\n"
	"                             [--data DIR] [--country CC] FROM TO\n"
	"\n"
	"Records an operator consent event (source \"operator\") and prints it as\n"
	"JSON. FROM is our sending number; TO the person. --scope: default (the\n"
	"policy's: the campaign when FROM is registered, else FROM itself),\n"
	"sender, group, campaign, brand, or global (FROM may then be \"-\").\n"
	"An optin over an opt-out the person made themselves (they texted STOP)\n"
	"is refused unless --override consumer_request and a --note say how they\n"
	"asked to be texted again; the event is flagged in the audit log.\n";

int cmd_consent(int argc, char **argv, sg_action action)
{
	static const sg__cmdline_flag flags[] = {
		{"scope", true, NULL}, {"note", true, NULL}, {"override", true, NULL}, {NULL, false, NULL}};
	const char *name = action == SG_ACTION_OPT_OUT ? "optout" : "optin";
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, consent_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	if (c.npositional != 2) {
		fputs(consent_usage, stderr);
		return CLI_ERROR;
	}
	sg_scope_kind scope = SG_SCOPE_DEFAULT;
	const char *s = sg__cmdline_value(&c, "scope");
	if (s && sg_scope_parse(s, &scope))
		return cli_error(name, "unknown --scope '%s'", s);
	char from[SG_KEY_MAX] = "", to[SG_KEY_MAX], cc[3] = "";
	const char *dc = c.cfg.default_country[0] ? c.cfg.default_country : NULL;
	bool no_sender = !strcmp(c.positional[0], "-");
	if (no_sender && scope != SG_SCOPE_GLOBAL)
		return cli_error(name, "FROM may be '-' only with --scope global");
	if (!no_sender) {
		rc = sg_number_normalize(c.positional[0], strlen(c.positional[0]), dc, SG_FIELD_ADDRESS, from, NULL);
		if (rc)
			return cli_error(name, "FROM '%s': %s%s", c.positional[0], sg_strerror(rc), cli_number_hint(rc));
		if (sg_number_country(from, cc) == 0)
			dc = cc;
	}
	rc = sg_number_normalize(c.positional[1], strlen(c.positional[1]), dc, SG_FIELD_ANY, to, NULL);
	if (rc)
		return cli_error(name, "TO '%s': %s%s", c.positional[1], sg_strerror(rc), cli_number_hint(rc));
	sg_override override = SG_OVERRIDE_NONE;
	const char *ov = sg__cmdline_value(&c, "override");
	if (ov && (action != SG_ACTION_OPT_IN || strcmp(ov, "consumer_request")))
		return cli_error(name, "--override: only 'consumer_request', and only with optin");
	if (ov)
		override = SG_OVERRIDE_CONSUMER_REQUEST;
	sg_engine *e;
	if ((rc = cli_open(&c, false, &e)) != 0) {
		if (rc == SG_ELOCKED) /* the daemon holds the writer lock: its API records the same event */
			fprintf(stderr, "  (with a daemon running, record it with POST /v1/consent, "
					"{\"action\":\"%s\",\"source\":\"operator\",...}: docs/api.md)\n",
				action == SG_ACTION_OPT_IN ? "opt_in" : "opt_out");
		return CLI_ERROR;
	}
	sg_event_in ev = {.size = sizeof(sg_event_in), 
		.action = action,
		.source = SG_SOURCE_OPERATOR,
		.sender = no_sender ? NULL : from,
		.recipient = to,
		.scope = scope,
		.scope_id = scope == SG_SCOPE_GLOBAL ? "" : NULL,
		.note = sg__cmdline_value(&c, "note"),
		.override = override,
	};
	sg_event_out out;
	rc = sg_record(e, &ev, 1, &out);
	sg_engine_close(e);
	sg__config_free(&c.cfg);
	if (!rc)
		rc = out.status;
	if (rc == SG_ECONSENT)
		return cli_error(name, "%s opted out themselves (they texted STOP); if they asked to be "
			       "texted again, say how: --override consumer_request --note \"...\"", to);
	if (rc)
		return cli_error(name, "%s", sg_strerror(rc));
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "action", sg_action_name(action));
	cJSON_AddStringToObject(o, "from", no_sender ? "" : from);
	cJSON_AddStringToObject(o, "to", to);
	cJSON_AddNumberToObject(o, "event", (double)out.seq);
	cJSON_AddBoolToObject(o, "applied", out.applied);
	cli_print_json(o);
	return CLI_OK;
}
