/* SPDX-License-Identifier: Apache-2.0 */
/* The command line's shared helpers: errors, opening the engine, JSON output. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "internal.h"
#include "keywords/kw.h"
#include "quiet/quiet.h"

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

void cli_open_error(const char *dir, int rc)
{
	if (rc == SG_ENOSTORE)
		fprintf(stderr,
			"stopgate: no consent store in %s (it holds no data.mdb); nothing was checked or recorded.\n"
			"  Is the data directory right? It comes from --data, else STOPGATE_DATA, else \"data\" in\n"
			"  the --config file, else ./var.\n"
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
	else if (rc == SG_EQUIETHOURS)
		fprintf(stderr, "stopgate: quiet-hours rules do not load: %s\n"
			"  Fix that line (format: quiet-hours/README.md) or point \"quietHours\" at a good set.\n",
			sg__qh_last_error());
	else
		fprintf(stderr, "stopgate: cannot open data directory %s: %s\n", dir, sg_strerror(rc));
}

static int open_engine(sg__cmdline *c, bool rdonly, bool checks, sg_engine **ret)
{
	sg_options opts;
	sg__config_engine_options(&c->cfg, &opts);
	if (!checks)
		opts.quiet_hours_dir = "none"; /* ~100 ms and a few MiB of windows it would not read */
	if (rdonly)
		opts.flags |= SG_OPEN_RDONLY;
	/* Never SG_OPEN_CREATE: only init and serve make a store. */
	int rc = sg_engine_open(&opts, ret);
	if (rc)
		cli_open_error(c->cfg.data_dir, rc);
	return rc;
}

int cli_open(sg__cmdline *c, bool rdonly, sg_engine **ret)
{
	return open_engine(c, rdonly, true, ret);
}

int cli_open_store(sg__cmdline *c, bool rdonly, sg_engine **ret)
{
	return open_engine(c, rdonly, false, ret);
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

const char *cli_number_hint(int rc)
{
	if (rc == SG_ENOCOUNTRY)
		return " (write it in E.164 like +14155550100, or name its country with --country CC or "
		       "\"defaultCountry\" in the config)";
	if (rc == SG_ENUMBER)
		return " (a phone number in E.164 like +14155550100, a short code, or an alphanumeric sender ID)";
	return "";
}

void cli_explain_invalid(const char *sub, const sg__cmdline *c, const char *from, const char *to)
{
	char fk[SG_KEY_MAX], tk[SG_KEY_MAX], cc[3];
	const char *dc = c->cfg.default_country[0] ? c->cfg.default_country : NULL;
	int rc = sg_number_normalize(from, strlen(from), dc, SG_FIELD_ADDRESS, fk, NULL);
	if (rc) {
		fprintf(stderr, "stopgate %s: FROM '%s': %s%s\n", sub, from, sg_strerror(rc), cli_number_hint(rc));
		return;
	}
	if (sg_number_country(fk, cc) == 0)
		dc = cc;
	rc = sg_number_normalize(to, strlen(to), dc, SG_FIELD_NUMBER, tk, NULL);
	if (rc)
		fprintf(stderr, "stopgate %s: TO '%s': %s%s\n", sub, to, sg_strerror(rc), cli_number_hint(rc));
}
