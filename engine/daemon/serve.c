/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate serve: options, start-up checks, signals, orderly shutdown.
 *
 * Shutdown order (SIGTERM/SIGINT): close the listener; close idle
 * connections; let busy ones finish (their last answer says Connection:
 * close); when the last connection is gone, stop the writer (it commits
 * everything queued first); when the writer's handle is closed, close the
 * signal handles and the deadline timer; uv_run returns, uv_loop_close()
 * must then return 0. A second signal, or the deadline, closes every
 * connection at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/cmdline.h"
#include "daemon.h"
#include "internal.h"
#include "keywords/kw.h"
#include "notify.h"
#include "quiet/quiet.h"
#include "serve.h"
#include "fleet/fleet.h"
#include "wh.h"

#define SHUTDOWN_GRACE_MS 30000
#define RETENTION_FIRST_MS 60000          /* first retention run after start */
#define RETENTION_PERIOD_MS 3600000       /* then hourly */
#define READERS_PERIOD_MS 60000           /* free reader slots of dead processes */
#define LEDGER_PERIOD_MS 10000            /* seal the sends recorded since the last seal */
#define LEDGER_PRUNE_EVERY 360            /* ... and every hour, send retention */

typedef struct daemon_state {
	sg__server srv;
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t deadline;
	uv_timer_t retention;   /* config retention.redactBodiesAfterDays */
	uv_timer_t readers;     /* sg_engine_check_readers() every minute */
	uv_timer_t ledger;      /* sg_sends_seal, and sg_sends_prune (retention.sendsAfterDays) */
	sg__wjob ledger_job;
	bool ledger_pending;
	unsigned ledger_ticks;
	int64_t ledger_prune_before_us; /* 0: seal only this time */
	uint64_t ledger_sealed, ledger_pruned;
	sg__wjob retention_job;
	bool retention_pending;
	int64_t retention_before_us;
	uint64_t retention_count;
	bool stopping;
	sg__wjob reload_job;
	int exit_code;
} daemon_state;

static const char usage[] =
	"usage: stopgate serve [options]\n"
	"\n"
	"Run the HTTP API (pre-send check, inbound feed, consent, audit, provider\n"
	"webhooks) on one event loop (more with --http-threads), with one writer\n"
	"thread committing events in durable group commits.\n"
	"\n"
	"  --data DIR          data directory (default ./var; env STOPGATE_DATA)\n"
	"  --listen ADDR:PORT  listen address (default 127.0.0.1:8080; [::1]:8080 for IPv6)\n"
	"  --http-threads N    HTTP event loops on the listen port (default 0: one per CPU, at most 16)\n"
	"  --config FILE       JSON configuration file\n"
	"  --log-level LEVEL   error, warn, info (default: a line per request) or debug\n"
	"  --log-format F      text (default), logfmt, or json (one object per line)\n"
	"  --keywords DIR      keyword rules (default: the installed set)\n"
	"  --country CC        default country for national numbers\n"
	"  --replicate URLS    a fleet node: nats://H1:P1,nats://H2:P2,... (docs/fleet.md)\n"
	"  --node NAME         this node's name in the fleet (with --replicate)\n"
	"  --help              this text\n"
	"\n"
	"The bearer token comes from the config (\"token\") or STOPGATE_TOKEN, never\n"
	"from the command line; a read-only one (\"auditorToken\", STOPGATE_AUDITOR_TOKEN)\n"
	"may read everything and change nothing. Without a token only loopback\n"
	"addresses are allowed. The compliance console is at /console/.\n"
	"Signals: TERM/INT stop gracefully, HUP reloads keywords and campaigns.\n";

static daemon_state *state_of(uv_handle_t *h)
{
	return h->data;
}

static void close_cb_noop(uv_handle_t *h)
{
	(void)h;
}

static void close_process_handles(daemon_state *d)
{
	uv_close((uv_handle_t *)&d->sigterm, close_cb_noop);
	uv_close((uv_handle_t *)&d->sigint, close_cb_noop);
	uv_close((uv_handle_t *)&d->sighup, close_cb_noop);
	/* Closing the last handle of a signal restores its default action: a
	 * second TERM now would kill the process while it closes the engine
	 * (saving the filter). Everything is committed; let it finish. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	uv_close((uv_handle_t *)&d->deadline, close_cb_noop);
	uv_close((uv_handle_t *)&d->retention, close_cb_noop);
	uv_close((uv_handle_t *)&d->readers, close_cb_noop);
	uv_close((uv_handle_t *)&d->ledger, close_cb_noop);
}

static void on_writer_closed(void *arg)
{
	daemon_state *d = arg;
	d->srv.writer = NULL;
	close_process_handles(d);
}

static void ledger_submit(daemon_state *d, int64_t prune_before_us);
static void on_fleet_closed(void *arg)
{
	daemon_state *d = arg;
	d->srv.fleet = NULL;
	sg__writer_stop(d->srv.writer, on_writer_closed, d);
}

static void on_drained(sg__server *srv)
{
	daemon_state *d = (daemon_state *)srv; /* srv is the first member */
	srv->on_drained = NULL;
	if (srv->loops) {
		/* the main loop has no connection of its own: now the HTTP loops */
		sg__loops_drain(srv, on_drained);
		return;
	}
	sg__info("daemon", "connections closed; committing what is queued");
	uv_timer_stop(&d->deadline);
	if (!srv->fleet)
		ledger_submit(d, 0); /* the last sends get their seal (a fleet node keeps no ledger) */
	if (srv->fleet)
		sg__fleet_stop(srv->fleet, on_fleet_closed, d); /* then the writer */
	else
		sg__writer_stop(srv->writer, on_writer_closed, d);
}

static unsigned conn_count(const sg__server *srv)
{
	return srv->conn_total ? __atomic_load_n(srv->conn_total, __ATOMIC_RELAXED) : srv->nconns;
}

static void close_all(sg__server *srv)
{
	sg__http_close_all(srv);
	sg__loops_close_all(srv);
}

static void on_deadline(uv_timer_t *t)
{
	daemon_state *d = state_of((uv_handle_t *)t);
	sg__warn("daemon", "shutdown deadline reached; closing connections connections=%u",
		 conn_count(&d->srv));
	close_all(&d->srv);
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
	daemon_state *d = state_of((uv_handle_t *)s);
	uv_timer_stop(&d->retention);
	uv_timer_stop(&d->readers);
	uv_timer_stop(&d->ledger);
	if (d->stopping) {
		sg__warn("daemon", "second signal: closing connections now signal=%d", signum);
		close_all(&d->srv);
		return;
	}
	d->stopping = true;
	sg__notify("STOPPING=1");
	sg__info("daemon", "stopping signal=%s connections=%u", signum == SIGTERM ? "TERM" : "INT",
		 conn_count(&d->srv));
	uv_timer_start(&d->deadline, on_deadline, SHUTDOWN_GRACE_MS, 0);
	sg__http_drain(&d->srv); /* may call on_drained at once */
}

/* The writer reached the barrier and waits: the engine is ours alone. */
static void on_reload_barrier(sg__wjob *job)
{
	daemon_state *d = job->ctx;
	int64_t t0 = sg_now_us();
	int rc = sg_engine_reload(d->srv.engine);
	if (rc == SG_EKEYWORDS && sg__kw_last_error()[0])
		sg__err("daemon", "reload failed; previous keywords and campaigns stay error=\"%s\" where=\"%s\"",
			sg_strerror(rc), sg__kw_last_error());
	else if (rc == SG_EQUIETHOURS)
		sg__err("daemon", "reload failed; previous keywords, quiet-hours rules and campaigns stay "
			"error=\"%s\" where=\"%s\"", sg_strerror(rc), sg__qh_last_error());
	else if (rc)
		sg__err("daemon", "reload failed; previous keywords and campaigns stay error=\"%s\"",
			sg_strerror(rc));
	else
		sg__info("daemon", "reloaded keywords and campaigns (and quiet-hours rules) us=%lld",
			 (long long)(sg_now_us() - t0));
	d->srv.reloading = false;
	sg__writer_release(d->srv.writer);
	sg__notify("READY=1");
}

static void on_hup(uv_signal_t *s, int signum)
{
	daemon_state *d = state_of((uv_handle_t *)s);
	(void)signum;
	if (d->srv.reloading || d->stopping || !d->srv.writer)
		return;
	memset(&d->reload_job, 0, sizeof(d->reload_job));
	d->reload_job.run = SG__WJOB_BARRIER;
	d->reload_job.done = on_reload_barrier;
	d->reload_job.ctx = d;
	int rc = sg__writer_submit(d->srv.writer, &d->reload_job);
	if (rc)
		sg__err("daemon", "reload not started error=\"%s\"", sg_strerror(rc));
	else {
		d->srv.reloading = true;
		sg__notify("RELOADING=1");
	}
}

/* Retention runs on the writer (sg_redact writes), never on the loop. */
static int retention_run(sg__wjob *job, sg_engine *engine)
{
	daemon_state *d = job->ctx;
	return sg_redact(engine, d->retention_before_us, &d->retention_count);
}

static void retention_done(sg__wjob *job)
{
	daemon_state *d = job->ctx;
	d->retention_pending = false;
	if (job->status)
		sg__err("daemon", "retention failed error=\"%s\"", sg_strerror(job->status));
	else if (d->retention_count)
		sg__info("daemon", "retention removed message bodies count=%llu us=%lld",
			 (unsigned long long)d->retention_count, (long long)job->commit_us);
}

static void on_retention(uv_timer_t *t)
{
	daemon_state *d = state_of((uv_handle_t *)t);
	if (d->retention_pending || d->stopping || !d->srv.writer)
		return;
	memset(&d->retention_job, 0, sizeof(d->retention_job));
	d->retention_before_us = sg_now_us() - d->srv.cfg->redact_bodies_after_days * 86400 * INT64_C(1000000);
	d->retention_count = 0;
	d->retention_job.run = retention_run;
	d->retention_job.done = retention_done;
	d->retention_job.ctx = d;
	if (sg__writer_submit(d->srv.writer, &d->retention_job) == 0)
		d->retention_pending = true;
}

/* The send ledger's upkeep runs on the writer: a seal of what was recorded
 * since the last one, and hourly the retention of sends. */
static int ledger_run(sg__wjob *job, sg_engine *engine)
{
	daemon_state *d = job->ctx;
	d->ledger_sealed = d->ledger_pruned = 0;
	int rc = sg_sends_seal(engine, &d->ledger_sealed);
	if (!rc && d->ledger_prune_before_us)
		rc = sg_sends_prune(engine, d->ledger_prune_before_us, &d->ledger_pruned);
	return rc;
}

static void ledger_done(sg__wjob *job)
{
	daemon_state *d = job->ctx;
	d->ledger_pending = false;
	if (job->status)
		sg__err("daemon", "send ledger upkeep failed error=\"%s\"", sg_strerror(job->status));
	else if (d->ledger_pruned)
		sg__info("daemon", "send retention removed sends count=%llu", (unsigned long long)d->ledger_pruned);
	else if (d->ledger_sealed)
		sg__debug("daemon", "send ledger sealed sends=%llu", (unsigned long long)d->ledger_sealed);
}

static void ledger_submit(daemon_state *d, int64_t prune_before_us)
{
	if (d->ledger_pending || !d->srv.writer)
		return;
	memset(&d->ledger_job, 0, sizeof(d->ledger_job));
	d->ledger_prune_before_us = prune_before_us;
	d->ledger_job.run = ledger_run;
	d->ledger_job.done = ledger_done;
	d->ledger_job.ctx = d;
	if (sg__writer_submit(d->srv.writer, &d->ledger_job) == 0)
		d->ledger_pending = true;
}

static void on_ledger(uv_timer_t *t)
{
	daemon_state *d = state_of((uv_handle_t *)t);
	if (d->stopping)
		return;
	int64_t days = d->srv.cfg->sends_after_days;
	ledger_submit(d, days > 0 && d->ledger_ticks++ % LEDGER_PRUNE_EVERY == 0
				 ? sg_now_us() - days * 86400 * INT64_C(1000000)
				 : 0);
}

/* Reader processes (gateways checking in process, CLI commands) that died
 * holding an LMDB reader slot would pin old pages and, in the end, fill the
 * reader table; free their slots (cheap, thread-safe). */
static void on_readers(uv_timer_t *t)
{
	daemon_state *d = state_of((uv_handle_t *)t);
	int dead = 0;
	int rc = sg_engine_check_readers(d->srv.engine, &dead);
	if (rc)
		sg__warn("daemon", "reader check failed error=\"%s\"", sg_strerror(rc));
	else if (dead)
		sg__info("daemon", "freed reader slots of dead processes count=%d", dead);
}

static void walk_open_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	sg__err("daemon", "handle left open type=%s", uv_handle_type_name(uv_handle_get_type(h)));
}

/* Options to the config; returns 0, 1 for --help, or an exit code. */
static int parse_options(sg__cmdline *c, int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {{"listen", true, NULL}, {"http-threads", true, NULL},
						     {"log-level", true, NULL},
						     {"log-format", true, NULL}, {"replicate", true, NULL}, {"node", true, NULL},
						     {NULL, false, NULL}};
	int rc = sg__cmdline_parse(c, argc, argv, flags, usage);
	if (rc)
		return rc;
	if (c->npositional) {
		fprintf(stderr, "stopgate serve: unexpected argument '%s'\n%s", c->positional[0], usage);
		return -1;
	}
	const char *listen = sg__cmdline_value(c, "listen");
	if (listen) {
		if (strlen(listen) >= sizeof(c->cfg.listen)) {
			fprintf(stderr, "stopgate serve: --listen: address too long\n");
			return -1;
		}
		sg__strlcpy(c->cfg.listen, listen, sizeof(c->cfg.listen));
	}
	const char *threads = sg__cmdline_value(c, "http-threads");
	if (threads) {
		char *end;
		unsigned long v = strtoul(threads, &end, 10);
		if (!threads[0] || *end || threads[0] == '-' || v > SG__HTTP_THREADS_MAX) {
			fprintf(stderr, "stopgate serve: --http-threads: a number from 0 (one per CPU) to %d\n",
				SG__HTTP_THREADS_MAX);
			return -1;
		}
		c->cfg.http_threads = (unsigned)v;
	}
	char rerr[256];
	const char *repl = sg__cmdline_value(c, "replicate"), *node = sg__cmdline_value(c, "node");
	if (repl && sg__replication_servers(&c->cfg.replication, repl, rerr, sizeof(rerr))) {
		fprintf(stderr, "stopgate serve: --replicate: %s\n", rerr);
		return -1;
	}
	if (node) {
		if (strlen(node) >= sizeof(c->cfg.replication.node)) {
			fprintf(stderr, "stopgate serve: --node: name too long\n");
			return -1;
		}
		sg__strlcpy(c->cfg.replication.node, node, sizeof(c->cfg.replication.node));
		if (!c->cfg.replication.nservers) { /* else it would run as a single node, silently */
			fprintf(stderr, "stopgate serve: --node names a fleet node: give the NATS servers with "
					"--replicate nats://H1:P1,... (or replication.servers in the config); "
					"a single node takes no --node\n");
			return -1;
		}
	}
	if (sg__replication_check(&c->cfg.replication, rerr, sizeof(rerr))) {
		fprintf(stderr, "stopgate serve: %s\n", rerr);
		return -1;
	}
	const char *level = sg__cmdline_value(c, "log-level");
	if (level && sg__log_level_parse(level, &c->cfg.log_level)) {
		fprintf(stderr, "stopgate serve: --log-level: error, warn, info or debug\n");
		return -1;
	}
	const char *format = sg__cmdline_value(c, "log-format");
	if (format && sg__log_format_parse(format, &c->cfg.log_format)) {
		fprintf(stderr, "stopgate serve: --log-format: text, logfmt or json\n");
		return -1;
	}
	return 0;
}

static int run(daemon_state *d, sg__config *cfg)
{
	sg__server *srv = &d->srv;
	uv_loop_t loop;
	int rc = uv_loop_init(&loop);
	if (rc) {
		sg__err("daemon", "cannot start the event loop error=%s", uv_strerror(rc));
		return 2;
	}
	srv->loop = &loop;
	srv->cfg = cfg;
	srv->on_drained = on_drained;
	d->exit_code = 0;

	/* Every process handle is initialised before anything can fail, so
	 * the failure path closes the same set as a normal shutdown. */
	uv_signal_init(&loop, &d->sigterm);
	uv_signal_init(&loop, &d->sigint);
	uv_signal_init(&loop, &d->sighup);
	uv_timer_init(&loop, &d->deadline);
	uv_timer_init(&loop, &d->retention);
	uv_timer_init(&loop, &d->readers);
	uv_timer_init(&loop, &d->ledger);
	d->sigterm.data = d->sigint.data = d->sighup.data = d->deadline.data = d->retention.data = d;
	d->readers.data = d->ledger.data = d;

	rc = sg__writer_start(&loop, srv->engine, cfg->limits.writer_queue, &srv->writer);
	if (rc) {
		sg__err("daemon", "cannot start the writer thread error=%s", uv_strerror(rc));
		d->exit_code = 2;
		srv->writer = NULL;
		close_process_handles(d);
		goto out;
	}
	if (cfg->replication.nservers) {
		char ferr[512];
		rc = sg__fleet_start(&loop, srv->engine, cfg, &srv->fleet, ferr, sizeof(ferr));
		if (rc) {
			sg__err("daemon", "cannot join the fleet error=\"%s\"", ferr);
			srv->fleet = NULL;
			d->exit_code = 2;
			d->stopping = true;
			sg__writer_stop(srv->writer, on_writer_closed, d); /* closes the handles */
			goto out;
		}
	}
	unsigned nloops = sg__http_threads(cfg->http_threads);
	if (srv->fleet && nloops > 1) {
		if (cfg->http_threads > 1)
			sg__warn("daemon", "a fleet node serves HTTP on one event loop (its stream lives there); "
				 "httpThreads ignored");
		nloops = 1;
	}
	/* Connections beyond what the descriptors allow would meet EMFILE in
	 * accept(): the limit answers 503 before that (http_accept.c). */
	unsigned long nofile;
	unsigned in_use, room = sg__http_fd_allowance(nloops, &nofile, &in_use);
	if (room < cfg->limits.max_connections) {
		unsigned was = cfg->limits.max_connections;
		cfg->limits.max_connections = room ? room : 1;
		sg__warn("daemon", "maxConnections lowered to what the file descriptor limit allows max_connections=%u "
			 "configured=%u nofile=%lu open=%u http_threads=%u hint=\"raise the limit (ulimit -n, systemd "
			 "LimitNOFILE=) to about maxConnections + %u\"", cfg->limits.max_connections, was, nofile,
			 in_use, nloops, (unsigned)(nofile - room));
	}
	rc = nloops > 1 ? sg__loops_start(srv, nloops, cfg->listen) : sg__http_listen(srv, cfg->listen);
	if (rc) {
		if (rc == UV_EADDRINUSE)
			sg__err("daemon", "cannot listen addr=%s error=\"%s\" hint=\"another process listens on that "
				"port: stop it, or choose another port with --listen 127.0.0.1:PORT (or listen "
				"in the config; scripts/run.sh passes its arguments to serve)\"",
				cfg->listen, uv_strerror(rc));
		else
			sg__err("daemon", "cannot listen addr=%s error=\"%s\"", cfg->listen, uv_strerror(rc));
		d->exit_code = 2;
		d->stopping = true;
		sg__http_drain(srv); /* closes the listener; no connections: stops the writer */
		goto out;
	}
	uv_signal_start(&d->sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_stop_signal, SIGINT);
	uv_signal_start(&d->sighup, on_hup, SIGHUP);
	uv_timer_start(&d->readers, on_readers, READERS_PERIOD_MS, READERS_PERIOD_MS);
	if (!srv->fleet)
		uv_timer_start(&d->ledger, on_ledger, LEDGER_PERIOD_MS, LEDGER_PERIOD_MS);
	if (cfg->redact_bodies_after_days > 0 && srv->fleet) {
		sg__warn("daemon", "retention is not run by a fleet node (a local redaction would fork the log; "
			 "docs/fleet.md)");
	} else if (cfg->redact_bodies_after_days > 0) {
		uv_timer_start(&d->retention, on_retention, RETENTION_FIRST_MS, RETENTION_PERIOD_MS);
		sg__info("daemon", "retention: message bodies older than %lld days are removed hourly",
			 (long long)cfg->redact_bodies_after_days);
	}
	sg__info("daemon", "listening addr=%s port=%d http_threads=%u data=%s token=%s auditor_token=%s "
		 "version=" SG_VERSION, cfg->listen, sg__http_bound_port(srv), nloops, cfg->data_dir,
		 cfg->token[0] ? "set" : "none",
		 cfg->auditor_token[0] ? "set" : "none");
	sg__notify("READY=1\nSTATUS=listening");
out:
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(&loop);
	if (rc) {
		uv_walk(&loop, walk_open_handle, NULL);
		sg__err("daemon", "event loop did not close cleanly error=%s", uv_strerror(rc));
		return 2;
	}
	return d->exit_code;
}

int sg__serve_main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	sg__cmdline c;
	int rc = parse_options(&c, argc > 0 ? argc - 1 : 0, argc > 0 ? argv + 1 : argv);
	if (rc) {
		sg__config_free(&c.cfg);
		return rc == 1 ? 0 : 2;
	}
	sg__config *cfg = &c.cfg;
	sg__log_set_level(cfg->log_level);
	sg__log_set_format((sg__log_format)cfg->log_format);
	/* http-parser's own bound (a process global) above ours, so that ours
	 * answers 431 first. */
	http_parser_set_max_header_size((uint32_t)cfg->limits.max_header_bytes + 4096);
	if (!sg__addr_valid(cfg->listen)) {
		sg__err("daemon", "cannot listen: not an address, expected IP:PORT or [IPv6]:PORT addr=%s",
			cfg->listen);
		sg__config_free(cfg);
		return 2;
	}
	if (!cfg->token[0] && !sg__addr_is_loopback(cfg->listen)) {
		sg__err("daemon", "refusing to listen on a non-loopback address without a token addr=%s "
			"hint=\"set token in the config or STOPGATE_TOKEN\"", cfg->listen);
		sg__config_free(cfg);
		return 2;
	}
	char terr[256];
	if (sg__config_check_tokens(cfg, terr, sizeof(terr))) {
		sg__err("daemon", "bad token settings error=\"%s\"", terr);
		sg__config_free(cfg);
		return 2;
	}
	if (sg__webhooks_init(cfg)) { /* provider credentials: a bad key stops us here */
		sg__config_free(cfg);
		return 2;
	}
	sg_options opts;
	sg__config_engine_options(cfg, &opts);
	if (opts.keywords_dir && !strcmp(opts.keywords_dir, "none")) {
		sg__err("daemon", "the daemon classifies inbound messages: it needs keyword rules (keywords "
			"\"none\" is for engines that only check) keywords=none");
		sg__config_free(cfg);
		return 2;
	}
	/* The writer thread acknowledges a commit only once a later sync covers
	 * it (writer.c), so commits may skip LMDB's separate meta-page sync. */
	opts.flags |= SG_OPEN_DEFER_SYNC;
	opts.flags |= SG_OPEN_CREATE; /* the daemon makes the store on its first start */
	daemon_state *d = calloc(1, sizeof(*d));
	if (!d) {
		sg__config_free(cfg);
		return 2;
	}
	rc = sg_engine_open(&opts, &d->srv.engine);
	if (rc) {
		if (rc == SG_ELOCKED)
			sg__err("daemon", "data directory is in use by another stopgate (is a daemon already "
				"running?) data=%s", cfg->data_dir);
		else
			sg__err("daemon", "cannot open the data directory data=%s error=\"%s\"", cfg->data_dir,
				sg_strerror(rc));
		free(d);
		sg__config_free(cfg);
		return 2;
	}
	if (sg__engine_created(d->srv.engine))
		sg__warn("daemon", "created a new, empty consent store data=%s hint=\"if opt-outs were expected here, "
			 "stop and check --data, STOPGATE_DATA or \"data\" in the config\"", cfg->data_dir);
	struct stat dst;
	/* Group read (0750) is the documented way for gateways to open the
	 * store read-only (docs/operations.md, "Install"); other users or a
	 * group that may write are not. */
	if (stat(cfg->data_dir, &dst) == 0 && (dst.st_mode & 027))
		sg__warn("daemon", "the data directory is open to other users (consent records are personal "
			 "data) data=%s mode=%03o hint=\"chmod 700, or 750 for a group of read-only gateways\"",
			 cfg->data_dir, (unsigned)(dst.st_mode & 0777));
	if (cfg->path[0] && (cfg->token[0] || cfg->providers) && stat(cfg->path, &dst) == 0 && (dst.st_mode & 077))
		sg__warn("daemon", "the config file is open to other users while a token or provider settings "
			 "are in use config=%s mode=%03o hint=\"keep secrets in a 0600 file or the environment\"", cfg->path,
			 (unsigned)(dst.st_mode & 0777));
	if (cfg->allow_unsigned_webhooks)
		sg__warn("daemon", "unsigned provider webhooks are ACCEPTED (allowUnsignedWebhooks)");
	uint64_t logpos = 0;
	if (!cfg->replication.nservers && sg_log_position(d->srv.engine, &logpos) == 0 && logpos)
		sg__warn("daemon", "this store is a fleet node's copy of a stream (position %llu), started without "
			 "--replicate: writes here are not in the stream and fork it (docs/fleet.md)",
			 (unsigned long long)logpos);
	int code = run(d, cfg);
	sg__webhooks_free();
	sg_engine_close(d->srv.engine);
	sg__info("daemon", "stopped code=%d", code);
	free(d);
	sg__config_free(cfg);
	return code;
}
