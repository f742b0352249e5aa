/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A long-lived process on one store for the integrity tests: an embedded
 * gateway's read-only engine, or a writer (run under crashshim.so to be
 * killed at a chosen step). Reads one command per line on stdin, answers
 * one line on stdout:
 *   store_helper reader DIR            open SG_OPEN_RDONLY
 *   store_helper writer DIR CAPACITY   open read-write (and create), with a
 *                                      filter sized for CAPACITY recipients
 * Commands:
 *   check FROM TO    -> "allow" | "deny REASON" | "error TEXT"
 *   optout FROM TO   -> "ok SEQ" (only once the opt-out is durable) | "error TEXT"
 *   filter           -> "mapped" | "none": is a negative-lookup filter in use
 *   quit             -> closes the engine, exits 0
 * It prints "ready" once open, or "error TEXT" and exits 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "stopgate.h"

#ifndef SG_OPEN_CREATE
#define SG_OPEN_CREATE 0 /* a tree from before SG_OPEN_CREATE: writers always create */
#endif

static void say(const char *fmt, const char *a, long long b)
{
	if (a)
		printf(fmt, a);
	else
		printf(fmt, b);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "reader") && strcmp(argv[1], "writer"))) {
		fprintf(stderr, "usage: store_helper reader|writer DIR [CAPACITY]\n");
		return 2;
	}
	bool writer = !strcmp(argv[1], "writer");
	sg_options o;
	sg_options_default(&o);
	o.data_dir = argv[2];
	o.flags = writer ? SG_OPEN_CREATE : SG_OPEN_RDONLY;
	o.keywords_dir = "none"; /* opt-outs and checks only: no rules to load per process */
	o.quiet_hours_dir = "none";
	o.default_country = "US";
	if (writer && argc > 3)
		o.filter_capacity = strtoul(argv[3], NULL, 10);
	sg_engine *e;
	int rc = sg_engine_open(&o, &e);
	if (rc) {
		say("error %s\n", sg_strerror(rc), 0);
		return 2;
	}
	say("ready\n", NULL, 0);
	char line[512], from[128], to[128];
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "quit", 4))
			break;
		if (!strncmp(line, "filter", 6)) {
			say("%s\n", atomic_load(&e->store.filter.map) ? "mapped" : "none", 0);
		} else if (sscanf(line, "check %127s %127s", from, to) == 2) {
			sg_verdict v;
			rc = sg_check(e, from, to, SG_PURPOSE_MESSAGE, &v);
			if (rc)
				say("error %s\n", sg_strerror(rc), 0);
			else if (v.allow)
				say("allow\n", NULL, 0);
			else
				say("deny %s\n", sg_reason_name(v.reason), 0);
		} else if (sscanf(line, "optout %127s %127s", from, to) == 2) {
			sg_event_in ev = {.size = sizeof(sg_event_in), .action = SG_ACTION_OPT_OUT, .source = SG_SOURCE_OPERATOR, .sender = from,
					  .recipient = to};
			sg_event_out out;
			rc = sg_record(e, &ev, 1, &out);
			if (rc || out.status)
				say("error %s\n", sg_strerror(rc ? rc : out.status), 0);
			else
				say("ok %lld\n", NULL, (long long)out.seq);
		} else {
			say("error unknown command\n", NULL, 0);
		}
	}
	sg_engine_close(e);
	return 0;
}
