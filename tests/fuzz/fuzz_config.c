/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the JSON configuration file (sg__config_parse in
 * engine/cli/config.c) and the listen address checks the daemon applies to
 * it (sg__addr_valid, sg__addr_is_loopback). The input is the file.
 * Invariants (abort() when broken):
 *  - the result is 0, SG_EJSON or SG_ECONFIG; on failure the message is a
 *    non-empty NUL-terminated string;
 *  - on success every string field is NUL-terminated inside its buffer,
 *    defaultCountry is "" or two capital letters, the log level and every
 *    limit are inside their documented ranges, "providers" is absent or
 *    an object, and the engine options point into the config;
 *  - parsing is deterministic and idempotent: parsing the same text again,
 *    into a fresh config or over the result, gives the same config;
 *  - a loopback listen address is a valid one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "daemon/http.h"
#include "internal.h"

static void die(const char *what, const uint8_t *in, size_t len)
{
	fprintf(stderr, "fuzz_config: %s; input (%zu bytes):", what, len);
	for (size_t i = 0; i < len && i < 300; i++)
		fprintf(stderr, " %02x", in[i]);
	fputc('\n', stderr);
	abort();
}

#define TERMINATED(field) (memchr((field), '\0', sizeof(field)) != NULL)

/* The config without its providers pointer, plus the providers as text. */
static bool same(const sg__config *a, const sg__config *b)
{
	sg__config x = *a, y = *b;
	x.providers = y.providers = NULL;
	if (memcmp(&x, &y, sizeof(x)) != 0)
		return false;
	if (!a->providers || !b->providers)
		return a->providers == b->providers;
	char *pa = cJSON_PrintUnformatted(a->providers), *pb = cJSON_PrintUnformatted(b->providers);
	bool eq = pa && pb && strcmp(pa, pb) == 0;
	free(pa);
	free(pb);
	return eq;
}

static void check_ok(const sg__config *c, const uint8_t *in, size_t len)
{
	if (!TERMINATED(c->data_dir) || !TERMINATED(c->keywords_dir) || !TERMINATED(c->default_country) ||
	    !TERMINATED(c->listen) || !TERMINATED(c->token) || !TERMINATED(c->auditor_token) ||
	    !TERMINATED(c->public_base_url) ||
	    !TERMINATED(c->path))
		die("a string field is not terminated", in, len);
	const char *cc = c->default_country;
	if (cc[0] && (strlen(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z'))
		die("defaultCountry accepted but not two capital letters", in, len);
	if (c->log_level < SG_LOG_ERROR || c->log_level > SG_LOG_DEBUG)
		die("log level out of range", in, len);
	const sg__limits *l = &c->limits;
	if (l->max_header_bytes < 1024 || l->max_header_bytes > (1u << 20) || l->max_body_bytes < 1024 ||
	    l->max_body_bytes > (16u << 20) || l->max_batch_body_bytes < 1024 ||
	    l->max_batch_body_bytes > (64u << 20) || l->max_connections < 1 || l->max_connections > 1000000 ||
	    l->header_timeout_ms < 100 || l->header_timeout_ms > 600000 || l->body_timeout_ms < 100 ||
	    l->body_timeout_ms > 600000 || l->idle_timeout_ms < 100 || l->idle_timeout_ms > 3600000 ||
	    l->max_pipelined < 1 || l->max_pipelined > 10000 || l->writer_queue < 16 ||
	    l->writer_queue > 10000000)
		die("a limit outside its documented range", in, len);
	if (c->redact_bodies_after_days < 0 || c->redact_bodies_after_days > 36500)
		die("retention out of range", in, len);
	if (c->policy.confirm_window_us < 1000000 || c->policy.confirm_window_us > 86400 * INT64_C(1000000) ||
	    c->policy.dedup_ttl_us < 48 * INT64_C(3600000000))
		die("policy window out of range", in, len);
	if (c->policy.optout_scope == SG_SCOPE_GLOBAL)
		die("a global default opt-out scope", in, len);
	if (c->providers && !cJSON_IsObject(c->providers))
		die("providers is not an object", in, len);
	char terr[256];
	int trc = sg__config_check_tokens(c, terr, sizeof(terr));
	if (trc && (trc != SG_ECONFIG || !terr[0]))
		die("token check failed without SG_ECONFIG and a message", in, len);
	if (!trc && c->auditor_token[0] &&
	    (!c->token[0] || !strcmp(c->token, c->auditor_token) || strlen(c->auditor_token) < 16))
		die("an auditor token accepted alone, equal to the operator token, or short", in, len);
	sg_options o;
	sg__config_engine_options(c, &o);
	if (o.data_dir != c->data_dir || (o.keywords_dir && o.keywords_dir != c->keywords_dir))
		die("engine options do not point into the config", in, len);
	if (sg__addr_is_loopback(c->listen) && !sg__addr_valid(c->listen))
		die("a loopback address that is not valid", in, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char err[384];
	sg__config a, b;
	sg__config_init(&a);
	sg__config_init(&b);
	memset(err, 0x55, sizeof(err));
	int rc = sg__config_parse(&a, text, size, err, sizeof(err));
	if (rc != 0 && rc != SG_EJSON && rc != SG_ECONFIG)
		die("unexpected return code", data, size);
	if (rc && (!memchr(err, '\0', sizeof(err)) || !err[0]))
		die("failure without a message", data, size);
	char err2[384];
	int rc2 = sg__config_parse(&b, text, size, err2, sizeof(err2));
	if (rc2 != rc || (rc && strcmp(err, err2)))
		die("parsing twice gives different results", data, size);
	if (!rc) {
		check_ok(&a, data, size);
		if (!same(&a, &b))
			die("parsing twice gives different configs", data, size);
		if (sg__config_parse(&b, text, size, err2, sizeof(err2)) || !same(&a, &b))
			die("parsing over the result changes it", data, size);
	}
	/* The listen address checks on any text, not only accepted configs. */
	char addr[300];
	size_t n = size < sizeof(addr) - 1 ? size : sizeof(addr) - 1;
	memcpy(addr, data, n);
	addr[n] = '\0';
	if (sg__addr_is_loopback(addr) && !sg__addr_valid(addr))
		die("a loopback address that is not valid", data, size);
	sg__config_free(&a);
	sg__config_free(&b);
	return 0;
}
