/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stopgate proof FROM TO: one JSON document an auditor can read for one
 * pair — the verdict now, every enclosing scope's state, the recipient
 * flag, every event of the recipient with its hashes, the head of the log
 * when the proof was made and the chain verification.
 * stopgate redact [--before T]: retention of message bodies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "export/export.h"
#include "internal.h"

static const char proof_usage[] =
	"usage: stopgate proof [--no-verify] FROM TO\n"
	"\n"
	"Prints one JSON document for the pair: the normalized keys, the current\n"
	"verdict, the state at every enclosing scope (sender, group, campaign, brand,\n"
	"global) and at any other scope, the not-SMS-capable flag, every event of the\n"
	"recipient up to the head (with hashes), the head sequence and hash, and the\n"
	"result of verifying the whole chain (skipped with --no-verify).\n"
	"Exit status: 0, 1 when the chain does not verify, 2 on error.\n";

static const char redact_usage[] =
	"usage: stopgate redact [--before T]\n"
	"\n"
	"Removes the message bodies of events recorded before T (RFC 3339 or a date;\n"
	"default: now minus retention.redactBodiesAfterDays of the config, nothing when\n"
	"that is 0). Consent facts and each body's digest stay, so 'verify' still\n"
	"succeeds; the redaction is itself recorded as an event. Needs the writer\n"
	"lock (stop the daemon, or run it from the daemon host's maintenance window).\n";

static void add_time(cJSON *o, const char *name, int64_t us)
{
	char t[32];
	if (!us) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	sg_time_format(us, t);
	cJSON_AddStringToObject(o, name, t);
}

static void add_hex(cJSON *o, const char *name, const uint8_t h[32])
{
	char hex[65];
	sg_hex32(h, hex);
	cJSON_AddStringToObject(o, name, hex);
}

static const char *state_name(sg_state s)
{
	return s == SG_STATE_OPTED_OUT ? "opted_out" : s == SG_STATE_OPTED_IN ? "opted_in" : "none";
}

typedef struct proof {
	const char *ids[SG_SCOPE_GLOBAL + 1]; /* enclosing scope ids by kind; NULL: absent */
	cJSON *enclosing[SG_SCOPE_GLOBAL + 1];
	cJSON *other;
	cJSON *events;
	cJSON *sends;        /* the sends to the pair since the opt-out */
	int64_t out_since;   /* the earliest enclosing opt-out in force, 0: none */
	uint64_t head;
	int err;
} proof;

static cJSON *scope_json(sg_scope_kind kind, const char *id, const sg_scope_state *st)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", sg_scope_name(kind));
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "state", state_name(st ? st->state : SG_STATE_NONE));
	add_time(o, "since", st ? st->since_us : 0);
	add_time(o, "event_time", st ? st->event_time_us : 0);
	if (st) {
		cJSON_AddNumberToObject(o, "event", (double)st->seq);
		cJSON_AddStringToObject(o, "source", sg_source_name(st->source));
	} else {
		cJSON_AddNullToObject(o, "event");
		cJSON_AddNullToObject(o, "source");
	}
	return o;
}

static int on_scope(const sg_scope_state *st, void *ctx)
{
	proof *p = ctx;
	unsigned k = (unsigned)st->scope;
	if (k <= SG_SCOPE_GLOBAL && p->ids[k] && !strcmp(p->ids[k], st->scope_id)) {
		cJSON_Delete(p->enclosing[k]);
		p->enclosing[k] = scope_json(st->scope, st->scope_id, st);
		if (st->state == SG_STATE_OPTED_OUT && (!p->out_since || st->since_us < p->out_since))
			p->out_since = st->since_us;
	} else {
		cJSON_AddItemToArray(p->other, scope_json(st->scope, st->scope_id, st));
	}
	return 0;
}

static int on_send(const sg_send *s, void *ctx)
{
	proof *p = ctx;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	cJSON_AddNumberToObject(o, "ordinal", (double)s->ordinal);
	add_time(o, "at", s->at_us);
	if (s->campaign[0])
		cJSON_AddStringToObject(o, "campaign", s->campaign);
	else
		cJSON_AddNullToObject(o, "campaign");
	cJSON_AddStringToObject(o, "category", sg_send_category_name(s->category));
	cJSON_AddStringToObject(o, "source", s->source == SG_SEND_STATUS ? "status_callback" : "reported");
	cJSON_AddItemToArray(p->sends, o);
	return 0;
}

static int on_event(const sg_event *ev, void *ctx)
{
	proof *p = ctx;
	if (ev->seq > p->head)
		return 0; /* recorded after the head this proof names */
	char *line = malloc(sg__export_bound(ev, SG__EXPORT_JSONL));
	if (!line)
		return -ENOMEM;
	/* The export's own JSON, parsed back so the document prints as one
	 * readable tree; the same fields as `stopgate export audit`. */
	size_t n = sg__export_event(line, ev, SG__EXPORT_JSONL);
	cJSON *item = cJSON_ParseWithLengthOpts(line, n, NULL, 0);
	free(line);
	if (!item)
		return -ENOMEM;
	cJSON_AddItemToArray(p->events, item);
	return 0;
}

static int build(sg__cmdline *c, sg_engine *e, cJSON *doc, bool *chain_ok)
{
	const char *from = c->positional[0], *to = c->positional[1], *dc = sg_engine_default_country(e);
	char fkey[SG_KEY_MAX], tkey[SG_KEY_MAX], cc[3], hex[65];
	uint8_t head_hash[32];
	proof p = {.other = cJSON_CreateArray(), .events = cJSON_CreateArray()};
	sg_sender_info info;
	sg_verdict v;
	sg_recipient_flag flag;
	int rc = sg_number_normalize(from, strlen(from), dc && dc[0] ? dc : NULL, SG_FIELD_ADDRESS, fkey, NULL);
	if (rc) {
		cJSON_Delete(p.other);
		cJSON_Delete(p.events);
		return cli_error("proof", "FROM '%s': %s%s", from, sg_strerror(rc), cli_number_hint(rc));
	}
	if (!sg_number_country(fkey, cc))
		dc = cc;
	rc = sg_number_normalize(to, strlen(to), dc && dc[0] ? dc : NULL, SG_FIELD_ANY, tkey, NULL);
	if (rc) {
		cJSON_Delete(p.other);
		cJSON_Delete(p.events);
		return cli_error("proof", "TO '%s': %s%s", to, sg_strerror(rc), cli_number_hint(rc));
	}
	/* The head first: everything below is as of this point or later, and
	 * events after it are left out. */
	if ((rc = sg_head(e, &p.head, head_hash)) || (rc = sg_check(e, from, to, SG_PURPOSE_MESSAGE, &v)))
		goto fail;
	rc = sg_sender_get(e, fkey, &info);
	if (rc == SG_ENOTFOUND)
		memset(&info, 0, sizeof(info));
	else if (rc)
		goto fail;
	p.ids[SG_SCOPE_SENDER] = fkey;
	p.ids[SG_SCOPE_GROUP] = info.group[0] ? info.group : NULL;
	p.ids[SG_SCOPE_CAMPAIGN] = info.campaign_id[0] ? info.campaign_id : NULL;
	p.ids[SG_SCOPE_BRAND] = info.brand_id[0] ? info.brand_id : NULL;
	p.ids[SG_SCOPE_GLOBAL] = "";
	for (int k = SG_SCOPE_SENDER; k <= SG_SCOPE_GLOBAL; k++)
		if (p.ids[k])
			p.enclosing[k] = scope_json((sg_scope_kind)k, p.ids[k], NULL);
	if ((rc = sg_consent_scopes(e, tkey, on_scope, &p)) || (rc = sg_recipient_flag_get(e, tkey, &flag)) ||
	    (rc = sg_events_for_recipient(e, tkey, on_event, &p)))
		goto fail;
	p.sends = cJSON_CreateArray();
	if (p.out_since && (rc = sg_sends_for_pair(e, fkey, tkey, p.out_since, on_send, &p))) {
		cJSON_Delete(p.sends);
		goto fail;
	}

	cJSON *pair = cJSON_AddObjectToObject(doc, "pair");
	cJSON_AddStringToObject(pair, "from", from);
	cJSON_AddStringToObject(pair, "from_key", fkey);
	cJSON_AddStringToObject(pair, "to", to);
	cJSON_AddStringToObject(pair, "to_key", tkey);
	add_time(doc, "generated_at", sg_now_us());
	cJSON *head = cJSON_AddObjectToObject(doc, "head");
	cJSON_AddNumberToObject(head, "seq", (double)p.head);
	add_hex(head, "hash", head_hash);
	cJSON_AddItemToObject(doc, "verdict", cli_verdict_json(&v));
	cJSON *snd = cJSON_AddObjectToObject(doc, "sender");
	cJSON_AddBoolToObject(snd, "registered", info.campaign_id[0] != '\0');
	cJSON_AddBoolToObject(snd, "campaign_active", info.campaign_active);
	cJSON *enc = cJSON_AddArrayToObject(doc, "enclosing_scopes");
	for (int k = SG_SCOPE_SENDER; k <= SG_SCOPE_GLOBAL; k++)
		if (p.enclosing[k])
			cJSON_AddItemToArray(enc, p.enclosing[k]);
	cJSON_AddItemToObject(doc, "other_scopes", p.other);
	cJSON *fl = cJSON_AddObjectToObject(doc, "recipient_flag");
	cJSON_AddBoolToObject(fl, "not_sms_capable", flag.not_sms_capable);
	if (flag.not_sms_capable) {
		cJSON_AddStringToObject(fl, "code", flag.code);
		cJSON_AddStringToObject(fl, "provider", flag.provider);
		add_time(fl, "since", flag.since_us);
		cJSON_AddNumberToObject(fl, "event", (double)flag.seq);
	}
	cJSON_AddItemToObject(doc, "events", p.events);
	cJSON_AddItemToObject(doc, "sends_after_optout", p.sends);
	if (!sg__cmdline_set(c, "no-verify")) {
		sg_verify_result r;
		if ((rc = sg_verify(e, &r)))
			return cli_error("proof", "verify: %s", sg_strerror(rc));
		cJSON *vo = cJSON_AddObjectToObject(doc, "verify");
		cJSON_AddBoolToObject(vo, "ok", r.ok);
		cJSON_AddNumberToObject(vo, "count", (double)r.count);
		sg_hex32(r.head_hash, hex);
		cJSON_AddStringToObject(vo, "head", hex);
		if (!r.ok) {
			cJSON_AddNumberToObject(vo, "bad_seq", (double)r.bad_seq);
			cJSON_AddStringToObject(vo, "reason", r.reason);
		}
		*chain_ok = r.ok;
	}
	return 0;
fail:
	for (int k = 0; k <= SG_SCOPE_GLOBAL; k++)
		cJSON_Delete(p.enclosing[k]);
	cJSON_Delete(p.other);
	cJSON_Delete(p.events);
	return cli_error("proof", "%s", sg_strerror(rc));
}

int cmd_proof(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {{"no-verify", false, NULL}, {NULL, false, NULL}};
	sg__cmdline c;
	sg_engine *e;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, proof_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	if (c.npositional != 2) {
		fputs(proof_usage, stderr);
		sg__config_free(&c.cfg);
		return CLI_ERROR;
	}
	if (cli_open(&c, true, &e)) {
		sg__config_free(&c.cfg);
		return CLI_ERROR;
	}
	cJSON *doc = cJSON_CreateObject();
	bool chain_ok = true;
	rc = build(&c, e, doc, &chain_ok);
	sg_engine_close(e);
	if (!rc) {
		char *s = cJSON_Print(doc);
		if (s)
			puts(s);
		rc = s ? (chain_ok ? CLI_OK : CLI_DENY) : cli_error("proof", "out of memory");
		free(s);
	}
	cJSON_Delete(doc);
	sg__config_free(&c.cfg);
	return rc;
}

int cmd_redact(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {{"before", true, NULL}, {NULL, false, NULL}};
	sg__cmdline c;
	sg_engine *e;
	int64_t before = 0;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, redact_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	const char *b = sg__cmdline_value(&c, "before");
	if (c.npositional) {
		fputs(redact_usage, stderr);
		rc = CLI_ERROR;
	} else if (b && sg_time_parse(b, &before)) {
		rc = cli_error("redact", "--before '%s': expected RFC 3339 or YYYY-MM-DD", b);
	} else if (!b && c.cfg.redact_bodies_after_days <= 0) {
		puts("{\"redacted\":0,\"before\":null,\"policy\":\"keep\"}");
		rc = CLI_OK; /* retention keeps bodies: nothing to do */
	} else if (cli_open(&c, false, &e)) {
		rc = CLI_ERROR;
	} else {
		if (!b)
			before = sg_now_us() - c.cfg.redact_bodies_after_days * 86400 * INT64_C(1000000);
		uint64_t n = 0;
		int r = sg_redact(e, before, &n);
		sg_engine_close(e);
		if (r == -EINVAL) {
			rc = cli_error("redact", "--before must be in the past");
		} else if (r) {
			rc = cli_error("redact", "%s", sg_strerror(r));
		} else {
			char t[32];
			sg_time_format(before, t);
			printf("{\"redacted\":%llu,\"before\":\"%s\"}\n", (unsigned long long)n, t);
			rc = CLI_OK;
		}
	}
	sg__config_free(&c.cfg);
	return rc;
}
