/* SPDX-License-Identifier: Apache-2.0 */
/* The settings table of the "providers" config section (see the header). */
#include "config/provider_settings.h"
#include "internal.h"

const sg__wh_setting sg__wh_setting_table[] = {
	{SG__WH_TWILIO, "authToken", SG__WH_S_SECRET, "STOPGATE_TWILIO_AUTH_TOKEN"},
	{SG__WH_TWILIO, "replyWithTwiml", SG__WH_S_TWIML, NULL},
	{SG__WH_TWILIO, "signingKeys", SG__WH_S_KEYS, NULL},
	{SG__WH_TELNYX, "publicKey", SG__WH_S_PUBKEY, "STOPGATE_TELNYX_PUBLIC_KEY"},
	{SG__WH_TELNYX, "maxSkewSeconds", SG__WH_S_SKEW, NULL},
	{SG__WH_BANDWIDTH, "username", SG__WH_S_USER, "STOPGATE_BANDWIDTH_USERNAME"},
	{SG__WH_BANDWIDTH, "password", SG__WH_S_PASS, "STOPGATE_BANDWIDTH_PASSWORD"},
	{SG__WH_PLIVO, "authToken", SG__WH_S_SECRET, "STOPGATE_PLIVO_AUTH_TOKEN"},
	{SG__WH_PLIVO, "allowV2Signatures", SG__WH_S_REMOVED, NULL},
	{SG__WH_VONAGE, "signatureSecret", SG__WH_S_SECRET, "STOPGATE_VONAGE_SIGNATURE_SECRET"},
	{SG__WH_VONAGE, "signatureMethod", SG__WH_S_METHOD, NULL},
	{SG__WH_VONAGE, "maxSkewSeconds", SG__WH_S_SKEW, NULL},
	{SG__WH_VONAGE, "concatTimeoutSeconds", SG__WH_S_CONCAT, NULL},
	{SG__WH_SINCH, "signingSecret", SG__WH_S_SECRET, "STOPGATE_SINCH_SIGNING_SECRET"},
	{SG__WH_SINCH, "maxSkewSeconds", SG__WH_S_SKEW, NULL},
	{SG__WH_SINCH, "username", SG__WH_S_USER, "STOPGATE_SINCH_USERNAME"},
	{SG__WH_SINCH, "password", SG__WH_S_PASS, "STOPGATE_SINCH_PASSWORD"},
	{SG__WH_AWS_SNS, "certificate", SG__WH_S_PUBKEY, "STOPGATE_AWS_SNS_CERTIFICATE"},
	{SG__WH_AWS_SNS, "certificates", SG__WH_S_CERTS, NULL},
	{SG__WH_AWS_SNS, "topicArn", SG__WH_S_TOPIC, NULL},
	{SG__WH_AWS_SNS, "maxSkewSeconds", SG__WH_S_SKEW, NULL},
	{0, "country", SG__WH_S_COUNTRY, NULL},
};
const size_t sg__wh_setting_count = SG_ARRAY_SIZE(sg__wh_setting_table);
_Static_assert(SG_ARRAY_SIZE(sg__wh_setting_table) <= SG__WH_SETTINGS_MAX, "raise SG__WH_SETTINGS_MAX");

size_t sg__wh_setting_keys(int p, const char **keys, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < SG_ARRAY_SIZE(sg__wh_setting_table) && n < max; i++)
		if (!sg__wh_setting_table[i].p || (int)sg__wh_setting_table[i].p == p)
			keys[n++] = sg__wh_setting_table[i].key;
	return n;
}
