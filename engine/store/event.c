/* SPDX-License-Identifier: Apache-2.0 */
/* Canonical event encoding and the SHA-256 hash chain. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "internal.h"
#include "store/event.h"
#include "store/event_value.h"
#include "store/store.h"

/* SHA-256 fetched once: SHA256() looks the algorithm up on every call in
 * OpenSSL 3, which costs more than hashing a short body (every compact
 * event with an inline body hashes it when read, event_value.h). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

void sg__sha256(const void *data, size_t len, uint8_t out[32])
{
	pthread_once(&sha256_once, sha256_fetch);
	unsigned n = 32;
	if (!sha256_md || !EVP_Digest(data, len, out, &n, sha256_md, NULL))
		SHA256(data, len, out); /* the slow way, never a wrong digest */
}

void sg__event_hash(const uint8_t *prev_and_canon, size_t len, uint8_t out[32])
{
	SHA256(prev_and_canon, len, out);
}

typedef struct writer {
	uint8_t *p, *end;
	int err;
} writer;

static void put(writer *w, const void *src, size_t n)
{
	if (w->err)
		return;
	if ((size_t)(w->end - w->p) < n) {
		w->err = SG_ETOOLONG;
		return;
	}
	if (n) /* src may be NULL for an absent string */
		memcpy(w->p, src, n);
	w->p += n;
}

static void put_u64(writer *w, uint64_t v)
{
	uint8_t b[8];
	sg__be64_put(b, v);
	put(w, b, 8);
}

static void put_str(writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > SG__EVENT_STR_MAX) {
		w->err = SG_ETOOLONG;
		return;
	}
	uint8_t b[2] = {(uint8_t)(n >> 8), (uint8_t)n};
	put(w, b, 2);
	put(w, s, n);
}

long sg__event_encode(const sg_event *ev, uint8_t *buf, size_t size)
{
	writer w = {buf, buf + size, 0};
	bool kw = ev->keywords && ev->keywords[0];
	uint8_t format = kw ? SG__EVENT_FORMAT : SG__EVENT_FORMAT_V2;
	put(&w, &format, 1);
	put_u64(&w, ev->seq);
	put_u64(&w, (uint64_t)ev->time_us);
	put_u64(&w, (uint64_t)ev->event_time_us);
	uint8_t kinds[3] = {(uint8_t)ev->action, (uint8_t)ev->source, (uint8_t)ev->scope};
	put(&w, kinds, 3);
	const char *strs[] = {ev->scope_id, ev->sender,		 ev->recipient, ev->campaign,
			      ev->brand,    ev->provider,	 ev->provider_msg_id, ev->rule,
			      ev->reply,    ev->note,		 ev->dedup_key,	  ev->keywords};
	for (size_t i = 0; i < (size_t)SG__EVENT_NSTRS(format); i++)
		put_str(&w, strs[i]);
	uint32_t bl = (uint32_t)ev->body_len;
	uint8_t blb[4] = {(uint8_t)(bl >> 24), (uint8_t)(bl >> 16), (uint8_t)(bl >> 8), (uint8_t)bl};
	put(&w, blb, 4);
	put(&w, ev->body_sha256, 32);
	if (w.err)
		return w.err;
	return (long)(w.p - buf);
}

typedef struct reader {
	const uint8_t *p, *end;
	char *out, *out_end;
	int err;
} reader;

static const uint8_t *take(reader *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = SG_ECORRUPT;
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += n;
	return at;
}

static uint64_t take_u64(reader *r)
{
	const uint8_t *b = take(r, 8);
	return b ? sg__be64_get(b) : 0;
}

static const char *take_str(reader *r)
{
	const uint8_t *l = take(r, 2);
	if (!l)
		return "";
	size_t n = ((size_t)l[0] << 8) | l[1];
	const uint8_t *s = take(r, n);
	if (!s || (size_t)(r->out_end - r->out) < n + 1) {
		r->err = SG_ECORRUPT;
		return "";
	}
	char *dst = r->out;
	memcpy(dst, s, n);
	dst[n] = '\0';
	r->out += n + 1;
	return n ? dst : NULL;
}

int sg__event_decode(const void *val, size_t len, sg_event *ev, char *scratch, size_t scratch_size)
{
	if (sg__event_value_is_compact(val, len)) /* event_value.h: no seq, no prev_hash stored */
		return sg__event_value_decode(0, val, len, NULL, ev, scratch, scratch_size);
	memset(ev, 0, sizeof(*ev));
	if (len < 64 + 1)
		return SG_ECORRUPT;
	const uint8_t *v = val;
	memcpy(ev->hash, v, 32);
	memcpy(ev->prev_hash, v + 32, 32);
	reader r = {v + 64, v + len, scratch, scratch + scratch_size, 0};
	const uint8_t *format = take(&r, 1);
	if (!format || !SG__EVENT_FORMAT_OK(*format))
		return SG_ECORRUPT;
	size_t nstrs = SG__EVENT_NSTRS(*format);
	ev->seq = take_u64(&r);
	ev->time_us = (int64_t)take_u64(&r);
	ev->event_time_us = (int64_t)take_u64(&r);
	const uint8_t *k = take(&r, 3);
	if (!k)
		return SG_ECORRUPT;
	ev->action = k[0];
	ev->source = k[1];
	ev->scope = k[2];
	const char **strs[] = {&ev->scope_id, &ev->sender, &ev->recipient, &ev->campaign,
			       &ev->brand,    &ev->provider, &ev->provider_msg_id, &ev->rule,
			       &ev->reply,    &ev->note,   &ev->dedup_key, &ev->keywords};
	for (size_t i = 0; i < nstrs; i++)
		*strs[i] = take_str(&r);
	const uint8_t *bl = take(&r, 4);
	const uint8_t *digest = take(&r, 32);
	if (r.err || r.p != r.end)
		return SG_ECORRUPT;
	ev->body_len = ((size_t)bl[0] << 24) | ((size_t)bl[1] << 16) | ((size_t)bl[2] << 8) | bl[3];
	memcpy(ev->body_sha256, digest, 32);
	return 0;
}

int sg__event_peek_value(const void *val, size_t len, sg__event_peek *out)
{
	const uint8_t *v = val, *end = v + len, *p = v + 64;
	if (len < 64 + 1 + 24 + 3 || !SG__EVENT_FORMAT_OK(*p))
		return SG_ECORRUPT;
	int nstrs = SG__EVENT_NSTRS(*p);
	out->hash = v;
	out->prev_hash = v + 32;
	out->seq = sg__be64_get(p + 1);
	p += 1 + 24 + 3;
	for (int i = 0; i < nstrs; i++) { /* the strings: u16 length + bytes */
		if (end - p < 2)
			return SG_ECORRUPT;
		size_t n = ((size_t)p[0] << 8) | p[1];
		if ((size_t)(end - p - 2) < n)
			return SG_ECORRUPT;
		p += 2 + n;
	}
	if (end - p != 4 + 32)
		return SG_ECORRUPT;
	out->body_len = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
	out->body_sha256 = p + 4;
	return 0;
}
