/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate init / backup: making a store, and a verified copy of one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "internal.h"

static const char init_usage[] =
	"usage: stopgate init [--data DIR]\n\n"
	"Creates a new, empty consent store in DIR (made 0700 when missing). Only\n"
	"init and serve create stores: every other command refuses a directory\n"
	"without one. A directory that holds what is left of a store (lock.mdb,\n"
	"filter.bits or writer.lock without data.mdb, or an emptied data.mdb) is\n"
	"refused: restore it from a backup instead.\n";

int cmd_init(int argc, char **argv)
{
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, NULL, init_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	if (c.npositional) {
		fputs(init_usage, stderr);
		sg__config_free(&c.cfg);
		return CLI_ERROR;
	}
	sg_options opts;
	sg__config_engine_options(&c.cfg, &opts);
	opts.flags |= SG_OPEN_CREATE;
	sg_engine *e;
	rc = sg_engine_open(&opts, &e);
	if (rc) {
		cli_open_error(c.cfg.data_dir, rc);
		sg__config_free(&c.cfg);
		return CLI_ERROR;
	}
	bool fresh = sg__engine_created(e);
	sg_engine_close(e);
	if (fresh)
		printf("created an empty consent store in %s\n", c.cfg.data_dir);
	else
		printf("%s already holds a consent store: nothing changed\n", c.cfg.data_dir);
	sg__config_free(&c.cfg);
	return CLI_OK;
}

static const char backup_usage[] =
	"usage: stopgate backup [--data DIR] [--compact] TARGET\n\n"
	"Copies the store into TARGET, a new or empty directory (made 0700), as\n"
	"TARGET/data.mdb (0600): one consistent snapshot, taken read-only, so it\n"
	"runs beside a daemon. --compact leaves out free pages. The copy is then\n"
	"opened read-only, its hash chain verified, and its head compared with the\n"
	"source's log at that point. Prints {\"backup\",\"seq\",\"head\",\"events\",\"compact\"}.\n\n"
	"Restore: stop the daemon (and every process using the store), move the\n"
	"damaged directory aside, move TARGET into its place, run stopgate verify,\n"
	"then start the daemon.\n";

typedef struct hash_at {
	uint64_t seq;
	uint8_t hash[32];
	bool found;
} hash_at;

static int keep_hash(const sg_event *ev, void *ctx)
{
	hash_at *h = ctx;
	if (ev->seq != h->seq)
		return 1;
	memcpy(h->hash, ev->hash, 32);
	h->found = true;
	return 1;
}

/* The copy in target verifies and its head is an event of the source's
 * chain no older than the head seen before the copy. */
static int verify_copy(sg_engine *src, const sg__cmdline *c, const char *target, uint64_t seq0, uint64_t *seq,
		       uint8_t head[32], uint64_t *events)
{
	sg_options opts;
	sg__config_engine_options(&c->cfg, &opts);
	opts.data_dir = target;
	opts.flags = SG_OPEN_RDONLY;
	sg_engine *copy;
	int rc = sg_engine_open(&opts, &copy);
	if (rc)
		return cli_error("backup", "the copy in %s does not open: %s", target, sg_strerror(rc));
	sg_verify_result r;
	rc = sg_verify(copy, &r);
	if (!rc)
		rc = sg_head(copy, seq, head);
	sg_engine_close(copy);
	if (rc)
		return cli_error("backup", "the copy in %s cannot be read: %s", target, sg_strerror(rc));
	if (!r.ok)
		return cli_error("backup", "the copy in %s does not verify: broken at event %llu: %s", target,
				 (unsigned long long)r.bad_seq, r.reason);
	*events = r.count;
	hash_at h = {0};
	if (*seq) {
		h.seq = *seq;
		rc = sg_events_read(src, *seq, 1, keep_hash, &h, NULL);
		if (rc < 0)
			return cli_error("backup", "cannot read the source's event %llu: %s", (unsigned long long)*seq,
					 sg_strerror(rc));
	}
	if (*seq < seq0 || (*seq && (!h.found || memcmp(h.hash, head, 32))) || r.count != *seq ||
	    memcmp(r.head_hash, head, 32))
		return cli_error("backup", "the copy in %s (head event %llu) is not the source's log at the time "
				 "of the copy (event %llu): do not use it", target, (unsigned long long)*seq,
				 (unsigned long long)seq0);
	return 0;
}

int cmd_backup(int argc, char **argv)
{
	static const sg__cmdline_flag flags[] = {{"compact", false, NULL}, {NULL, false, NULL}};
	sg__cmdline c;
	int rc = sg__cmdline_parse(&c, argc, argv, flags, backup_usage);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_ERROR;
	if (c.npositional != 1) {
		fputs(backup_usage, stderr);
		sg__config_free(&c.cfg);
		return CLI_ERROR;
	}
	const char *target = c.positional[0];
	sg_engine *e;
	if (cli_open(&c, true, &e)) {
		sg__config_free(&c.cfg);
		return CLI_ERROR;
	}
	uint64_t seq0 = 0, seq = 0, events = 0;
	uint8_t head0[32], head[32];
	rc = sg_head(e, &seq0, head0);
	if (rc) {
		rc = cli_error("backup", "cannot read the head of %s: %s", c.cfg.data_dir, sg_strerror(rc));
	} else if ((rc = sg__engine_backup(e, target, sg__cmdline_set(&c, "compact")))) {
		if (rc == -EEXIST)
			rc = cli_error("backup", "%s exists and is not empty: a backup goes to a new or empty "
					"directory (nothing was written)", target);
		else
			rc = cli_error("backup", "cannot copy the store to %s: %s", target, sg_strerror(rc));
	} else if (!(rc = verify_copy(e, &c, target, seq0, &seq, head, &events))) {
		char hex[65];
		sg_hex32(head, hex);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "backup", target);
		cJSON_AddNumberToObject(o, "seq", (double)seq);
		cJSON_AddStringToObject(o, "head", hex);
		cJSON_AddNumberToObject(o, "events", (double)events);
		cJSON_AddBoolToObject(o, "compact", sg__cmdline_set(&c, "compact"));
		cli_print_json(o);
	}
	sg_engine_close(e);
	sg__config_free(&c.cfg);
	return rc ? CLI_ERROR : CLI_OK;
}
