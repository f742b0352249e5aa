/* SPDX-License-Identifier: Apache-2.0 */
/* Hashes, HMAC, base64 and Ed25519 for webhook authentication: all libcrypto. */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#include "wh_internal.h"

int sg__wh_hmac(const char *md, const void *key, size_t klen, const void *msg, size_t mlen,
		unsigned char *out, size_t *outlen)
{
	/* EVP_Q_mac does not like a NULL key even when klen is 0. */
	static const unsigned char nokey[1];
	if (!EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, klen ? key : nokey, klen,
		       mlen ? msg : (const void *)nokey, mlen, out, SG__WH_MD_MAX, outlen))
		return -ENOMEM;
	return 0;
}

int sg__wh_digest(const char *md, const void *msg, size_t mlen, unsigned char *out, size_t *outlen)
{
	unsigned int n = 0;
	EVP_MD *m = EVP_MD_fetch(NULL, md, NULL);
	int ok = m && EVP_Digest(msg, mlen, out, &n, m, NULL);
	EVP_MD_free(m);
	if (!ok)
		return -ENOMEM;
	*outlen = n;
	return 0;
}

size_t sg__wh_b64_encode(const unsigned char *in, size_t n, char *out)
{
	/* EVP_EncodeBlock takes an int length; webhook inputs are small. */
	sg__require(n <= 0x10000000);
	return (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int sg__wh_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap, size_t *outlen)
{
	unsigned char tmp[1024];
	size_t pad = 0;

	while (len && is_space(*in))
		in++, len--;
	while (len && is_space(in[len - 1]))
		len--;
	if (len == 0 || len % 4 || len / 4 * 3 > sizeof(tmp))
		return -EINVAL;
	/* EVP_DecodeBlock ignores padding when counting: it returns 3 bytes per
	 * 4 characters, so subtract the '=' ourselves, and refuse '=' anywhere
	 * but in the last two places. */
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	if (pad == 1 && in[len - 2] == '=')
		return -EINVAL;
	if (memchr(in, '=', len - pad))
		return -EINVAL;
	int n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > cap)
		return -EINVAL;
	memcpy(out, tmp, (size_t)n - pad);
	*outlen = (size_t)n - pad;
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

void sg__wh_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

bool sg__wh_ct_equal_nocase(const char *a, size_t alen, const char *b, size_t blen)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	size_t n = alen > blen ? alen : blen;
	unsigned char diff = alen != blen;
	for (size_t i = 0; i < n; i++) {
		unsigned char cx = i < alen ? x[i] : 0;
		unsigned char cy = i < blen ? y[i] : 0;
		/* Branch-free ASCII lowercase: set 0x20 only for 'A'..'Z'. */
		cx |= (unsigned char)((((unsigned)cx - 'A') < 26u) << 5);
		cy |= (unsigned char)((((unsigned)cy - 'A') < 26u) << 5);
		diff |= cx ^ cy;
	}
	return diff == 0;
}

int sg__wh_ed25519_verify(const unsigned char pub[32], const unsigned char sig[64],
			  const void *msg, size_t mlen)
{
	EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	if (!key)
		return SG_ECONFIG;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -ENOMEM;
	if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1)
		rc = EVP_DigestVerify(ctx, sig, 64, msg, mlen) == 1 ? 0 : SG_EBADSIG;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return rc;
}

int sg__wh_basic_check(const sg__wh_request *req, const char *user, const char *pass)
{
	const char *h = sg__wh_header(req, "Authorization");
	unsigned char got[384];
	char want[384];
	size_t got_len;

	if (!h)
		return SG_EBADSIG;
	while (is_space(*h))
		h++;
	if (strncasecmp(h, "Basic", 5) != 0 || !is_space(h[5]))
		return SG_EBADSIG;
	h += 6;
	int n = snprintf(want, sizeof(want), "%s:%s", user ? user : "", pass ? pass : "");
	if (n < 0 || (size_t)n >= sizeof(want))
		return SG_ECONFIG;
	if (sg__wh_b64_decode(h, strlen(h), got, sizeof(got), &got_len))
		return SG_EBADSIG;
	bool ok = sg__ct_equal(got, got_len, want, (size_t)n);
	OPENSSL_cleanse(want, sizeof(want));
	OPENSSL_cleanse(got, sizeof(got));
	return ok ? 0 : SG_EBADSIG;
}
