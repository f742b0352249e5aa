/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: sg_number_normalize(), sg_number_country() and
 * sg_number_quarantine(). The whole input is one raw number; it is
 * normalized under several default countries and every field. Invariants
 * (abort() when broken):
 *  - a key is NUL-terminated inside SG_KEY_MAX, never written past it, and
 *    the output buffer is untouched on failure;
 *  - a key is "+" and 7..15 digits, "sc:CC:" and a short code, or (address
 *    fields only) "aid:" and lowercase letters and digits;
 *  - normalizing a key again gives the same key (idempotence);
 *  - surrounding spaces change nothing (and so the "+<digits>" fast path
 *    agrees with the general path);
 *  - the quarantine key is "raw:" and valid UTF-8 without control characters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* none, served markets, an alias (CA: NANP), one without rules (JP) and a
 * malformed one (-EINVAL whenever a national number needs it) */
static const char *const countries[] = {
	NULL, "US", "GB", "FR", "DE", "IT", "ES", "BR", "AU", "KE", "MX", "CA", "JP", "USA",
};

static const sg_field fields[] = { SG_FIELD_ANY, SG_FIELD_ADDRESS, SG_FIELD_NUMBER };

/* The output buffer and a guard zone behind it. */
struct outbuf {
	char key[SG_KEY_MAX];
	char guard[16];
};

static void die(const char *what, const uint8_t *in, size_t len, const char *key)
{
	fprintf(stderr, "fuzz_number: %s; key \"%s\"; input (%zu bytes):", what, key ? key : "",
		len);
	for (size_t i = 0; i < len && i < 300; i++)
		fprintf(stderr, " %02x", in[i]);
	fprintf(stderr, "\n");
	abort();
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Is key a well-formed key that `field` may produce? */
static bool key_ok(const char *key, sg_field field)
{
	size_t n = strlen(key);
	if (key[0] == '+')
		return n >= 8 && n <= 16 && key[1] != '0' && all_digits(key + 1, n - 1);
	if (strncmp(key, "sc:", 3) == 0)
		return n >= 9 && n <= 12 && key[3] >= 'A' && key[3] <= 'Z' && key[4] >= 'A' &&
		       key[4] <= 'Z' && key[5] == ':' && key[6] != '0' && all_digits(key + 6, n - 6);
	if (strncmp(key, "aid:", 4) == 0) {
		bool letter = false;
		if (field != SG_FIELD_ADDRESS || n < 7 || n > 4 + 64)
			return false;
		for (size_t i = 4; i < n; i++) {
			if (key[i] >= 'a' && key[i] <= 'z')
				letter = true;
			else if (key[i] < '0' || key[i] > '9')
				return false;
		}
		return letter;
	}
	return false;
}

static int normalize(const char *in, size_t len, const char *cc, sg_field field, struct outbuf *o,
		     const uint8_t *data, size_t size)
{
	memset(o, 0x5a, sizeof(*o));
	sg_channel ch = (sg_channel)77;
	int r = sg_number_normalize(in, len, cc, field, o->key, &ch);
	for (size_t i = 0; i < sizeof(o->guard); i++)
		if (o->guard[i] != 0x5a)
			die("wrote past SG_KEY_MAX", data, size, NULL);
	if (r != 0) {
		if (r > 0)
			die("positive return", data, size, NULL);
		for (size_t i = 0; i < sizeof(o->key); i++)
			if (o->key[i] != 0x5a)
				die("output written on failure", data, size, NULL);
		if (ch != (sg_channel)77)
			die("channel written on failure", data, size, NULL);
		return r;
	}
	if (!memchr(o->key, '\0', sizeof(o->key)))
		die("key not NUL-terminated", data, size, NULL);
	if (ch != SG_CHANNEL_SMS && ch != SG_CHANNEL_WHATSAPP && ch != SG_CHANNEL_RCS)
		die("bad channel", data, size, o->key);
	if (!key_ok(o->key, field))
		die("malformed key", data, size, o->key);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct outbuf o, again, spaced;
	char cc[3];

	/* " " input " " for the trim check, when it stays within the limit */
	char padded[260];
	bool pad = size + 2 <= 256;
	if (pad) {
		padded[0] = ' ';
		memcpy(padded + 1, data, size);
		padded[size + 1] = ' ';
	}

	for (size_t c = 0; c < SG_ARRAY_SIZE(countries); c++) {
		for (size_t f = 0; f < SG_ARRAY_SIZE(fields); f++) {
			int r = normalize(in, size, countries[c], fields[f], &o, data, size);
			if (pad) {
				int rs = normalize(padded, size + 2, countries[c], fields[f], &spaced,
						   data, size);
				if (rs != r || (r == 0 && strcmp(o.key, spaced.key) != 0))
					die("surrounding spaces change the result", data, size,
					    r == 0 ? o.key : NULL);
			}
			if (r != 0)
				continue;
			int r2 = normalize(o.key, strlen(o.key), countries[c], fields[f], &again, data,
					   size);
			if (r2 != 0 || strcmp(o.key, again.key) != 0)
				die("not idempotent", data, size, o.key);
			memset(cc, 0x5a, sizeof(cc));
			r2 = sg_number_country(o.key, cc);
			if (r2 == 0 && (strlen(cc) != 2 || cc[0] < 'A' || cc[0] > 'Z'))
				die("bad country", data, size, o.key);
			if (r2 != 0 && r2 != SG_ENOCOUNTRY)
				die("bad sg_number_country return", data, size, o.key);
			if (strncmp(o.key, "sc:", 3) == 0 && r2 != 0)
				die("short code without country", data, size, o.key);
		}
	}

	struct outbuf q;
	memset(&q, 0x5a, sizeof(q));
	sg_number_quarantine(in, size, q.key);
	for (size_t i = 0; i < sizeof(q.guard); i++)
		if (q.guard[i] != 0x5a)
			die("quarantine wrote past SG_KEY_MAX", data, size, NULL);
	const char *end = memchr(q.key, '\0', sizeof(q.key));
	if (!end || strncmp(q.key, "raw:", 4) != 0)
		die("bad quarantine key", data, size, NULL);
	size_t qn = (size_t)(end - q.key);
	if (sg__utf8_count(q.key, qn) < 0)
		die("quarantine key is not UTF-8", data, size, q.key);
	for (size_t i = 0; i < qn; i++)
		if ((unsigned char)q.key[i] < 0x20 || q.key[i] == 0x7f)
			die("control character in quarantine key", data, size, q.key);
	return 0;
}
