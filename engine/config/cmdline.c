/* SPDX-License-Identifier: Apache-2.0 */
/* The command line every stopgate command shares (the CLI's subcommands and
 * stopgate serve): the common options, then the config file and the
 * environment under them. */
#include <stdio.h>
#include <string.h>

#include "config/cmdline.h"
#include "internal.h"

static bool is_common(const char *name)
{
	return !strcmp(name, "data") || !strcmp(name, "config") || !strcmp(name, "country") ||
	       !strcmp(name, "keywords");
}

/* Edit distance (insert, delete, replace, swap two neighbours) of two
 * short names, up to 3 (more is 3). */
static unsigned distance(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);
	if (n > 30 || m > 30)
		return 3;
	unsigned d[32][32];
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			unsigned v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m] < 3 ? d[n][m] : 3;
}

/* The option a mistyped name most likely meant, or NULL. */
static const char *closest(const char *key, const sg__cmdline_flag *flags)
{
	static const char *const common[] = {"data", "config", "country", "keywords", "help"};
	const char *best = NULL;
	unsigned best_d = strlen(key) > 3 ? 3 : 2; /* accept 1, or 2 for longer names */
	for (size_t i = 0; i < SG_ARRAY_SIZE(common); i++) {
		unsigned d = distance(key, common[i]);
		if (d < best_d)
			best = common[i], best_d = d;
	}
	for (const sg__cmdline_flag *f = flags; f && f->name; f++) {
		unsigned d = distance(key, f->name);
		if (d < best_d)
			best = f->name, best_d = d;
	}
	return best;
}

int sg__cmdline_parse(sg__cmdline *c, int argc, char **argv, const sg__cmdline_flag *flags, const char *usage_text)
{
	const char *data = NULL, *config = NULL, *country = NULL, *keywords = NULL;
	char err[512];
	memset(c, 0, sizeof(*c));
	sg__config_init(&c->cfg);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage_text, stdout);
			return 1;
		}
		if (strncmp(a, "--", 2) != 0 || !strcmp(a, "-")) {
			if (c->npositional == SG__CMDLINE_MAX_POSITIONAL) {
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
		const sg__cmdline_flag *decl = NULL;
		for (const sg__cmdline_flag *f = flags; f && f->name; f++)
			if (!strcmp(f->name, key))
				decl = f;
		bool needs = is_common(key) || (decl && decl->takes_value);
		if (!decl && !is_common(key)) {
			const char *guess = closest(key, flags);
			if (guess)
				fprintf(stderr, "stopgate: unknown option --%s (did you mean --%s?)\n%s", key, guess,
					usage_text);
			else
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
		else if (c->nflags < SG__CMDLINE_MAX_FLAGS)
			c->flags[c->nflags++] = (sg__cmdline_flag){decl->name, decl->takes_value, value};
	}
	if (config && sg__config_load(&c->cfg, config, err, sizeof(err))) {
		fprintf(stderr, "stopgate: config: %s\n", err);
		return -1;
	}
	sg__config_env(&c->cfg);
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

const char *sg__cmdline_value(const sg__cmdline *c, const char *name)
{
	for (int i = 0; i < c->nflags; i++)
		if (!strcmp(c->flags[i].name, name))
			return c->flags[i].value;
	return NULL;
}

bool sg__cmdline_set(const sg__cmdline *c, const char *name)
{
	return sg__cmdline_value(c, name) != NULL;
}
