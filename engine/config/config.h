/* SPDX-License-Identifier: Apache-2.0 */
/* The stopgate configuration file (JSON) and its defaults, shared by the CLI
 * and the daemon. Flags override the file; the file overrides defaults;
 * secrets may also come from the environment (STOPGATE_TOKEN,
 * STOPGATE_AUDITOR_TOKEN; provider
 * secrets such as STOPGATE_TWILIO_AUTH_TOKEN, read and checked by the
 * daemon's engine/daemon/wh_config.c), never from the command line. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "stopgate.h"

typedef enum sg__log_level { SG_LOG_ERROR = 0, SG_LOG_WARN, SG_LOG_INFO, SG_LOG_DEBUG } sg__log_level;

#define SG__HTTP_THREADS_MAX 64 /* httpThreads bound; the default (one per CPU) stops at 16 */

typedef struct sg__limits {
	size_t max_header_bytes;    /* default 16 KiB */
	size_t max_body_bytes;      /* default 64 KiB */
	size_t max_batch_body_bytes; /* POST /v1/check: default 1 MiB */
	size_t max_sends_body_bytes; /* POST /v1/sends (10,000 sends): default 8 MiB */
	unsigned max_connections;   /* default 4096 */
	unsigned header_timeout_ms; /* default 10 s */
	unsigned body_timeout_ms;   /* default 10 s */
	unsigned idle_timeout_ms;   /* keep-alive idle, default 60 s */
	unsigned max_pipelined;     /* requests queued per connection, default 64 */
	unsigned writer_queue;      /* pending write requests before 503, default 8192 */
} sg__limits;

/* "replication" (docs/fleet.md): a fleet node on NATS JetStream; servers
 * empty = a single node (the default). */
#define SG__REPL_MAX_SERVERS 8
typedef struct sg__replication {
	char servers[SG__REPL_MAX_SERVERS][256]; /* "nats://HOST:PORT" */
	unsigned nservers;
	char stream[64];             /* default "STOPGATE" */
	unsigned replicas;           /* default 3 */
	char node[64];               /* this node's name, required with servers */
	unsigned max_stale_ms;       /* default 5000 */
	bool stale_allow;            /* onStale "allow": a stale node answers from its own state */
	unsigned publish_timeout_ms; /* PubAck wait before 503, default 5000 */
	unsigned outbox_keep_ms;     /* outbox rows kept past their PubAck, default 120000 */
} sg__replication;

typedef struct sg__config {
	char data_dir[PATH_MAX];
	char keywords_dir[PATH_MAX];  /* "" = default */
	char quiet_dir[PATH_MAX];     /* quietHours: "" = default, "none" = no quiet hours */
	char default_country[3];      /* "" = none */
	sg_policy policy;
	char listen[256];             /* "127.0.0.1:8080" */
	unsigned http_threads;        /* httpThreads: HTTP event loops (0, the default: one per online CPU, at most 16) */
	char token[256];              /* bearer token, "" = none */
	char auditor_token[256];      /* read-only bearer token ("auditorToken"), "" = none */
	char public_base_url[512];    /* e.g. "https://optout.example.com", used for webhook signatures */
	bool allow_unsigned_webhooks;
	sg__log_level log_level;
	int log_format;               /* logFormat: 0 text (default), 1 logfmt, 2 json (daemon/log.h) */
	sg__limits limits;
	int64_t redact_bodies_after_days; /* retention: 0 = keep */
	int64_t sends_after_days;     /* retention.sendsAfterDays: default 1461 (4 years), 0 = keep */
	cJSON *providers;             /* the "providers" object as parsed (owned), or NULL */
	sg__replication replication;
	char path[PATH_MAX];          /* the file it came from, "" if none */
} sg__config;

/* Defaults: data dir "./var", listen 127.0.0.1:8080, policy defaults. */
void sg__config_init(sg__config *cfg);

/* Read a JSON config file over cfg. On error returns SG_ECONFIG / SG_EJSON /
 * -errno and writes "file: field: problem" into err. */
int sg__config_load(sg__config *cfg, const char *path, char *err, size_t errlen);

/* Same, from a buffer (used by tests and the fuzz target). */
int sg__config_parse(sg__config *cfg, const char *json, size_t len, char *err, size_t errlen);

/* Apply environment overrides (STOPGATE_TOKEN, STOPGATE_AUDITOR_TOKEN,
 * STOPGATE_DATA). */
void sg__config_env(sg__config *cfg);

/* The two tokens together, once the environment is applied: an auditor
 * token needs an operator token (without one every request may write, so a
 * read-only token would mean nothing) and must differ from it. SG_ECONFIG
 * with the problem in err. */
int sg__config_check_tokens(const sg__config *cfg, char *err, size_t errlen);

/* Fill engine options from the config (pointers into cfg). */
void sg__config_engine_options(const sg__config *cfg, sg_options *opts);

void sg__config_free(sg__config *cfg);

/* engine/config/replication.c: the "replication" object over cfg, and the
 * --replicate list ("nats://H1:P1,nats://H2:P2"). SG_ECONFIG with
 * "replication.KEY: problem" in err. */
void sg__replication_init(sg__replication *r);
int sg__replication_parse(sg__replication *r, const cJSON *obj, char *err, size_t errlen);
int sg__replication_servers(sg__replication *r, const char *list, char *err, size_t errlen);
/* With servers: a node name is required, etc. */
int sg__replication_check(const sg__replication *r, char *err, size_t errlen);

/* "error", "warn", "info", "debug" */
int sg__log_level_parse(const char *name, sg__log_level *ret);
/* "text" 0, "logfmt" 1 or "json" 2; -EINVAL otherwise. */
int sg__log_format_parse(const char *name, int *ret);

/* The name in known[0..n) nearest to key by edit distance (case ignored),
 * or NULL when none is close: for "unknown key ... (did you mean ...?)".
 * Used for every section of the file, providers included. */
const char *sg__config_nearest(const char *key, const char *const *known, size_t n);
