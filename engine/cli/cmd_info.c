/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate stats / head / verify / classify */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "internal.h"
#include "engine.h"
#include "keywords/kw.h"

static const char stats_usage[] = "usage: stopgate stats [--data DIR]\n\nStore statistics as JSON.\n";
static const char head_usage[] =
	"usage: stopgate head [--data DIR]\n\n"
	"Prints the sequence and hash of the last event: publish or sign it elsewhere\n"
	"to prove later that the log was not rewritten before that point.\n";
static const char verify_usage[] =
	"usage: stopgate verify [--data DIR]\n\n"
	"Walks the whole event log and checks the hash chain. Prints 'ok' with the\n"
	"count and head hash (exit 0), or the first broken link (exit 1).\n";

static int open_simple(int argc, char **argv, const char *usage, sg__cmdline *c, sg_engine **e)
{
	int rc = sg__cmdline_parse(c, argc, argv, NULL, usage);
	if (rc)
		return rc > 0 ? 1 : -1;
	if (c->npositional) {
		fputs(usage, stderr);
		return -1;
	}
	return cli_open_store(c, true, e) ? -1 : 0;
}

int cmd_stats(int argc, char **argv)
{
	sg__cmdline c;
	sg_engine *e;
	int rc = open_simple(argc, argv, stats_usage, &c, &e);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	sg_stats s;
	rc = sg_stats_get(e, &s);
	sg_engine_close(e);
	if (rc)
		return cli_error("stats", "%s", sg_strerror(rc));
	char hex[65];
	sg_hex32(s.head_hash, hex);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "events", (double)s.events);
	cJSON_AddNumberToObject(o, "recipients", (double)s.recipients);
	cJSON_AddNumberToObject(o, "opted_out", (double)s.opted_out);
	cJSON_AddNumberToObject(o, "senders", (double)s.senders);
	cJSON_AddNumberToObject(o, "campaigns", (double)s.campaigns);
	cJSON_AddNumberToObject(o, "dedup_keys", (double)s.dedup_keys);
	cJSON_AddNumberToObject(o, "map_size", (double)s.map_size);
	cJSON_AddNumberToObject(o, "map_used", (double)s.map_used);
	cJSON_AddStringToObject(o, "head", hex);
	cJSON_AddStringToObject(o, "data", c.cfg.data_dir);
	cli_print_json(o);
	sg__config_free(&c.cfg);
	return CLI_OK;
}

int cmd_head(int argc, char **argv)
{
	sg__cmdline c;
	sg_engine *e;
	int rc = open_simple(argc, argv, head_usage, &c, &e);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	uint64_t seq;
	uint8_t hash[32];
	char hex[65];
	rc = sg_head(e, &seq, hash);
	sg_engine_close(e);
	sg__config_free(&c.cfg);
	if (rc)
		return cli_error("head", "%s", sg_strerror(rc));
	sg_hex32(hash, hex);
	printf("{\"seq\":%llu,\"hash\":\"%s\"}\n", (unsigned long long)seq, hex);
	return CLI_OK;
}

int cmd_verify(int argc, char **argv)
{
	sg__cmdline c;
	sg_engine *e;
	int rc = open_simple(argc, argv, verify_usage, &c, &e);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	sg_verify_result r;
	rc = sg_verify(e, &r);
	sg_engine_close(e);
	sg__config_free(&c.cfg);
	if (rc)
		return cli_error("verify", "%s", sg_strerror(rc));
	char hex[65];
	sg_hex32(r.head_hash, hex);
	if (r.ok) {
		printf("ok: %llu events, head %s\n", (unsigned long long)r.count, hex);
		return CLI_OK;
	}
	printf("broken at event %llu: %s (%llu events verified before it)\n", (unsigned long long)r.bad_seq,
	       r.reason, (unsigned long long)r.count);
	return CLI_DENY;
}

static const char classify_usage[] =
	"usage: stopgate classify [--campaign ID] TEXT\n"
	"       stopgate classify [--campaign ID] --stdin\n\n"
	"Prints what an inbound text means as JSON (intent, confidence, lang, rule,\n"
	"reply and score, the calibrated probability that the intent is right).\n"
	"With --stdin, reads one message per line and prints '<intent> TAB <rule id\n"
	"or ->' per line (for corpora); with --features '<intent> TAB <confidence>\n"
	"TAB <feature hashes>' for scripts/train-model.py.\n"
	"Opens the store (read-only) only for --campaign.\n";

typedef struct feature_list {
	uint32_t *h;
	size_t n, cap;
} feature_list;

static void add_feature(uint32_t h, void *arg)
{
	feature_list *l = arg;
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 256;
		uint32_t *nv = realloc(l->h, nc * sizeof(*nv));
		if (!nv)
			return; /* a shorter list; training only */
		l->h = nv;
		l->cap = nc;
	}
	l->h[l->n++] = h;
}

/* "<intent> TAB <confidence> TAB <feature hashes>": what the rules (and
 * the model, when the keywords directory has one) say, and the model's
 * features of the text, for scripts/train-model.py. */
static void print_features(sg_engine *e, const char *line, size_t n)
{
	feature_list l = {0};
	sg_classification r;
	int rc = sg__kw_classify_features(e->kw, line, n, add_feature, &l, &r);
	if (rc) {
		printf("error\t%s\n", sg_strerror(rc));
	} else {
		printf("%s\t%s\t", sg_intent_name(r.intent), sg_confidence_name(r.confidence));
		for (size_t i = 0; i < l.n; i++)
			printf(i ? " %u" : "%u", l.h[i]);
		putchar('\n');
	}
	free(l.h);
}

static void classification_json(sg_engine *e, const sg_classification *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "intent", sg_intent_name(r->intent));
	cJSON_AddStringToObject(o, "confidence", sg_confidence_name(r->confidence));
	if (r->lang[0])
		cJSON_AddStringToObject(o, "lang", r->lang);
	else
		cJSON_AddNullToObject(o, "lang");
	if (r->rule[0])
		cJSON_AddStringToObject(o, "rule", r->rule);
	else
		cJSON_AddNullToObject(o, "rule");
	if (r->reply[0])
		cJSON_AddStringToObject(o, "reply", r->reply);
	else
		cJSON_AddNullToObject(o, "reply");
	cJSON_AddNumberToObject(o, "score", (double)(int)(sg_classification_score(e, r) * 1000 + 0.5) / 1000);
	cli_print_json(o);
}

int cmd_classify(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {
		{"campaign", true, NULL}, {"stdin", false, NULL}, {"features", false, NULL},
		{NULL, false, NULL}};
	sg__cmdline c;
	sg_engine *e;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, classify_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	bool from_stdin = sg__cmdline_set(&c, "stdin"), features = sg__cmdline_set(&c, "features");
	if ((from_stdin ? c.npositional != 0 : c.npositional != 1) || (features && !from_stdin)) {
		fputs(classify_usage, stderr);
		return CLI_ERROR;
	}
	const char *campaign = sg__cmdline_value(&c, "campaign");
	if (campaign && campaign[0]) {
		if (cli_open_store(&c, true, &e)) /* the campaign's own keywords are in the store */
			return CLI_ERROR;
	} else {
		/* The keyword set alone: no store is opened, none is needed. */
		sg_options opts;
		sg__config_engine_options(&c.cfg, &opts);
		if ((rc = sg__engine_open_keywords_only(&opts, &e))) {
			if (sg__kw_last_error()[0])
				return cli_error("classify", "%s: %s", sg_strerror(rc), sg__kw_last_error());
			return cli_error("classify", "%s", sg_strerror(rc));
		}
	}
	sg_classification r;
	if (!from_stdin) {
		const char *text = c.positional[0];
		rc = sg_classify(e, campaign, text, strlen(text), &r);
		if (!rc)
			classification_json(e, &r);
		else
			cli_error("classify", "%s", sg_strerror(rc));
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = '\0';
			if (features) {
				print_features(e, line, (size_t)n);
				continue;
			}
			int one = sg_classify(e, campaign, line, (size_t)n, &r);
			if (one)
				printf("error\t%s\n", sg_strerror(one));
			else
				printf("%s\t%s\n", sg_intent_name(r.intent), r.rule[0] ? r.rule : "-");
		}
		free(line);
		rc = 0;
	}
	sg_engine_close(e);
	sg__config_free(&c.cfg);
	return rc ? CLI_ERROR : CLI_OK;
}
