/* SPDX-License-Identifier: Apache-2.0 */
/* The settings each provider accepts under "providers" in the config file:
 * the one table the config checks (engine/config/config.c, unknown keys)
 * and the daemon reads credentials with (engine/daemon/wh_config.c). */
#pragma once
#include <stddef.h>
#include "webhooks/webhook.h"

typedef enum sg__wh_slot {
	/* strings owned per provider */
	SG__WH_S_SECRET, SG__WH_S_PUBKEY, SG__WH_S_USER, SG__WH_S_PASS, SG__WH_S_TOPIC, SG__WH_S_NSTR,
	SG__WH_S_COUNTRY = SG__WH_S_NSTR, SG__WH_S_TWIML, SG__WH_S_REMOVED, SG__WH_S_SKEW, SG__WH_S_METHOD,
	SG__WH_S_CONCAT, SG__WH_S_CERTS, SG__WH_S_KEYS,
} sg__wh_slot;

typedef struct sg__wh_setting {
	sg__wh_provider p; /* 0: every provider */
	const char *key;
	sg__wh_slot slot;
	const char *env; /* environment override, or NULL */
} sg__wh_setting;

#define SG__WH_SETTINGS_MAX 32 /* at least sg__wh_setting_count */
extern const sg__wh_setting sg__wh_setting_table[];
extern const size_t sg__wh_setting_count;

/* The setting names provider p accepts: writes up to max into keys,
 * returns how many. */
size_t sg__wh_setting_keys(int p, const char **keys, size_t max);
