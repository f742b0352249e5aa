/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Tell the service manager our state ("READY=1", "STOPPING=1",
 * "RELOADING=1", "STATUS=..."), when it asked (NOTIFY_SOCKET). Returns 0
 * or -errno; a failure changes nothing else. */
int sg__notify(const char *state);
