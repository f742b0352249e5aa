/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate: the executable's entry point, dispatching to the daemon
 * (engine/daemon/, stopgate serve) or a CLI subcommand (engine/cli/); the
 * two share only engine/config/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "daemon/serve.h"

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
	"  violations              recorded sends the check would have denied (JSONL or CSV)\n"
	"  init                    create a new, empty store in the data directory\n"
	"  backup DIR              consistent, verified copy of the store into a new directory\n"
	"  review list|show|resolve  probable revocations held for review, and their decisions\n"
	"\n"
	"Common options: --data DIR (default ./var), --config FILE, --country CC,\n"
	"--keywords DIR, --help. 'stopgate COMMAND --help' describes each command.\n";

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
		return sg__serve_main(argc - 1, argv + 1);
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
	if (!strcmp(cmd, "review"))
		return cmd_review(sub_argc, sub_argv);
	if (!strcmp(cmd, "violations"))
		return cmd_violations(sub_argc, sub_argv);
	fprintf(stderr, "stopgate: unknown command '%s'\n\n%s", cmd, usage);
	return CLI_ERROR;
}
