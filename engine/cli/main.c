/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate: the command-line entry point and subcommand dispatch. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/serve.h"
#include "internal.h"
#include "keywords/kw.h"

static const char usage[] =
	"usage: stopgate COMMAND [options]\n"
	"\n"
	"  serve                   run the daemon (HTTP API, webhooks, group commit)\n"
	"  check FROM TO           may FROM text TO now? JSON verdict; exit 0 allow, 1 deny, 2 error\n"
	"  optout FROM TO          record an operator opt-out\n"
	"  optin FROM TO           record an operator opt-in\n"
	"  import campaigns FILE   TCR campaigns (JSON object or array)\n"
	"  import senders FILE     CSV number,campaignId[,group]\n"
	"  import optouts FILE     CSV of opted-out numbers from another platform\n"
	"  classify TEXT           what an inbound text means (JSON); --stdin for many\n"
	"  stats                   store statistics (JSON)\n"
	"  head                    sequence and hash of the last event\n"
	"  verify                  check the event log hash chain\n"
	"  export audit            the event log, every field (JSONL or CSV), with filters\n"
	"  export optouts          the current suppression list (CSV or JSONL)\n"
	"  proof FROM TO           consent proof for one pair (JSON)\n"
	"  redact [--before T]     remove message bodies older than T (retention)\n"
	"  init                    create a new, empty store in the data directory\n"
	"  backup DIR              consistent, verified copy of the store into a new directory\n"
	"\n"
	"Common options: --data DIR (default ./var), --config FILE, --country CC,\n"
	"--keywords DIR, --help. 'stopgate COMMAND --help' describes each command.\n";

int cli_error(const char *sub, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "stopgate %s: ", sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_ERROR;
}

static bool is_common(const char *name)
{
	return !strcmp(name, "data") || !strcmp(name, "config") || !strcmp(name, "country") ||
	       !strcmp(name, "keywords");
}

int cli_parse(cli *c, int argc, char **argv, const cli_flag *flags, const char *usage_text)
{
	const char *data = NULL, *config = NULL, *country = NULL, *keywords = NULL;
	char err[512];
	memset(c, 0, sizeof(*c));
	sg_config_init(&c->cfg);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0 || !strcmp(a, "-")) {
			if (c->npositional == CLI_MAX_POSITIONAL) {
				fprintf(stderr, "stopgate: too many arguments\n%s", usage_text);
				return -1;
			}
			c->positional[c->npositional++] = a;
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		char key[64];
		if (nlen >= sizeof(key)) {
			fprintf(stderr, "stopgate: unknown option %s\n%s", a, usage_text);
			return -1;
		}
		memcpy(key, name, nlen);
		key[nlen] = '\0';
		const cli_flag *decl = NULL;
		for (const cli_flag *f = flags; f && f->name; f++)
			if (!strcmp(f->name, key))
				decl = f;
		bool needs = is_common(key) || (decl && decl->takes_value);
		if (!decl && !is_common(key)) {
			fprintf(stderr, "stopgate: unknown option --%s\n%s", key, usage_text);
			return -1;
		}
		const char *value = "";
		if (needs) {
			if (eq)
				value = eq + 1;
			else if (i + 1 < argc)
				value = argv[++i];
			else {
				fprintf(stderr, "stopgate: --%s needs a value\n", key);
				return -1;
			}
		}
		if (!strcmp(key, "data"))
			data = value;
		else if (!strcmp(key, "config"))
			config = value;
		else if (!strcmp(key, "country"))
			country = value;
		else if (!strcmp(key, "keywords"))
			keywords = value;
		else if (c->nflags < CLI_MAX_FLAGS)
			c->flags[c->nflags++] = (cli_flag){decl->name, decl->takes_value, value};
	}
	if (config && sg_config_load(&c->cfg, config, err, sizeof(err))) {
		fprintf(stderr, "stopgate: config: %s\n", err);
		return -1;
	}
	sg_config_env(&c->cfg);
	if (data)
		sg__strlcpy(c->cfg.data_dir, data, sizeof(c->cfg.data_dir));
	if (keywords)
		sg__strlcpy(c->cfg.keywords_dir, keywords, sizeof(c->cfg.keywords_dir));
	if (country) {
		if (strlen(country) != 2) {
			fprintf(stderr, "stopgate: --country takes an ISO 3166 code such as US\n");
			return -1;
		}
		c->cfg.default_country[0] = (char)(country[0] & ~0x20);
		c->cfg.default_country[1] = (char)(country[1] & ~0x20);
		c->cfg.default_country[2] = '\0';
	}
	return 0;
}

const char *cli_flag_value(const cli *c, const char *name)
{
	for (int i = 0; i < c->nflags; i++)
		if (!strcmp(c->flags[i].name, name))
			return c->flags[i].value;
	return NULL;
}

bool cli_flag_set(const cli *c, const char *name)
{
	return cli_flag_value(c, name) != NULL;
}

void cli_open_error(const char *dir, int rc)
{
	if (rc == SG_ENOSTORE)
		fprintf(stderr,
			"stopgate: no consent store in %s (it holds no data.mdb); nothing was checked or recorded.\n"
			"  Is the data directory right? It comes from --data, else dataDir in --config, else ./var.\n"
			"  To create a new store: stopgate init --data %s (or start stopgate serve on it).\n",
			dir, dir);
	else if (rc == SG_ETRUNCATED)
		fprintf(stderr,
			"stopgate: the consent store in %s is damaged: %s/data.mdb is missing, empty or truncated\n"
			"  (shorter than its LMDB meta page says). A new store in its place would lose every\n"
			"  opt-out, so none is created. Stop every process using it, restore the directory from\n"
			"  a backup (stopgate backup) and run stopgate verify --data %s.\n",
			dir, dir, dir);
	else if (rc == SG_EKEYWORDS && sg__kw_last_error()[0])
		fprintf(stderr, "stopgate: keyword rules do not load: %s\n"
			"  Fix that line (format: keywords/README.md) or point --keywords at a good set.\n",
			sg__kw_last_error());
	else
		fprintf(stderr, "stopgate: cannot open data directory %s: %s\n", dir, sg_strerror(rc));
}

int cli_open(cli *c, bool rdonly, sg_engine **ret)
{
	sg_options opts;
	sg_config_engine_options(&c->cfg, &opts);
	if (rdonly)
		opts.flags |= SG_OPEN_RDONLY;
	/* Never SG_OPEN_CREATE: only init and serve make a store. */
	int rc = sg_engine_open(&opts, ret);
	if (rc)
		cli_open_error(c->cfg.data_dir, rc);
	return rc;
}

void cli_print_json(cJSON *json)
{
	char *s = cJSON_PrintUnformatted(json);
	if (s) {
		puts(s);
		free(s);
	}
	cJSON_Delete(json);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return CLI_ERROR;
	}
	const char *cmd = argv[1];
	int sub_argc = argc - 2;
	char **sub_argv = argv + 2;
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (!strcmp(cmd, "--version")) {
		puts("stopgate " SG_VERSION);
		return CLI_OK;
	}
	if (!strcmp(cmd, "serve"))
		return sg_serve_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return cmd_check(sub_argc, sub_argv);
	if (!strcmp(cmd, "optout"))
		return cmd_consent(sub_argc, sub_argv, SG_ACTION_OPT_OUT);
	if (!strcmp(cmd, "optin"))
		return cmd_consent(sub_argc, sub_argv, SG_ACTION_OPT_IN);
	if (!strcmp(cmd, "import"))
		return cmd_import(sub_argc, sub_argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(sub_argc, sub_argv);
	if (!strcmp(cmd, "head"))
		return cmd_head(sub_argc, sub_argv);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(sub_argc, sub_argv);
	if (!strcmp(cmd, "classify"))
		return cmd_classify(sub_argc, sub_argv);
	if (!strcmp(cmd, "export"))
		return cmd_export(sub_argc, sub_argv);
	if (!strcmp(cmd, "proof"))
		return cmd_proof(sub_argc, sub_argv);
	if (!strcmp(cmd, "redact"))
		return cmd_redact(sub_argc, sub_argv);
	if (!strcmp(cmd, "init"))
		return cmd_init(sub_argc, sub_argv);
	if (!strcmp(cmd, "backup"))
		return cmd_backup(sub_argc, sub_argv);
	fprintf(stderr, "stopgate: unknown command '%s'\n\n%s", cmd, usage);
	return CLI_ERROR;
}
