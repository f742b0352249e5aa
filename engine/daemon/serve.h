/* SPDX-License-Identifier: Apache-2.0 */
/* stopgate serve: the daemon. */
#pragma once

/* Run the daemon until SIGTERM/SIGINT. argv[0] is "serve"; the options are
 * --data DIR, --listen ADDR:PORT, --config FILE, --log-level LEVEL,
 * --keywords DIR, --country CC, --help. Returns the process exit code:
 * 0 after a clean shutdown, 2 when it could not start. */
int sg__serve_main(int argc, char **argv);
