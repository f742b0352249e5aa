/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet's stream message layout; see codec.h. */
#include <errno.h>
#include <string.h>

#include "fleet/codec.h"

#define MAGIC "SGF1"
#define NO_BODY 0xffffffffu

static void put_u32(sg__buf *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	sg__buf_add(b, x, 4);
}

static void put_i64(sg__buf *b, int64_t s)
{
	uint64_t v = (uint64_t)s;
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (56 - 8 * i));
	sg__buf_add(b, x, 8);
}

static void put_str(sg__buf *b, const char *s)
{
	if (!s) {
		put_u32(b, 0);
		return;
	}
	size_t n = strlen(s) + 1;
	put_u32(b, (uint32_t)n);
	sg__buf_add(b, s, n);
}

int sg__fleet_encode(const sg_event_in *events, size_t n, sg__buf *out)
{
	if (n > SG__FLEET_MSG_MAX_EVENTS)
		return -E2BIG;
	sg__buf_add(out, MAGIC, 4);
	uint8_t count = (uint8_t)n;
	sg__buf_add(out, &count, 1);
	for (size_t i = 0; i < n; i++) {
		const sg_event_in *e = &events[i];
		uint8_t h[4] = {(uint8_t)e->action, (uint8_t)e->source, (uint8_t)e->scope, (uint8_t)e->override};
		sg__buf_add(out, h, 4);
		put_i64(out, e->event_time_us);
		put_i64(out, e->time_us);
		const char *strs[] = {e->sender, e->recipient, e->scope_id, e->provider, e->provider_msg_id,
				      e->dedup_key, e->rule, e->reply, e->note, e->keywords};
		for (size_t s = 0; s < sizeof(strs) / sizeof(strs[0]); s++)
			put_str(out, strs[s]);
		if (!e->body) {
			put_u32(out, NO_BODY);
		} else {
			if (e->body_len >= NO_BODY)
				return -E2BIG;
			put_u32(out, (uint32_t)e->body_len);
			sg__buf_add(out, e->body, e->body_len);
		}
	}
	return sg__buf_err(out);
}

typedef struct rd {
	const uint8_t *p;
	size_t left;
} rd;

static int get(rd *r, void *out, size_t n)
{
	if (r->left < n)
		return -EBADMSG;
	memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return 0;
}

static int get_u32(rd *r, uint32_t *v)
{
	uint8_t x[4];
	int rc = get(r, x, 4);
	*v = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
	return rc;
}

static int get_i64(rd *r, int64_t *s)
{
	uint8_t x[8];
	int rc = get(r, x, 8);
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | x[i];
	*s = (int64_t)v;
	return rc;
}

static int get_str(rd *r, const char **s)
{
	uint32_t n;
	int rc = get_u32(r, &n);
	if (rc)
		return rc;
	if (!n) {
		*s = NULL;
		return 0;
	}
	if (r->left < n || r->p[n - 1] != '\0' || memchr(r->p, '\0', n - 1))
		return -EBADMSG; /* one NUL, at its end */
	*s = (const char *)r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

int sg__fleet_decode(const uint8_t *data, size_t len, sg_event_in *events, size_t max, size_t *n)
{
	rd r = {data, len};
	char magic[4];
	uint8_t count;
	if (get(&r, magic, 4) || memcmp(magic, MAGIC, 4) || get(&r, &count, 1) || count > max)
		return -EBADMSG;
	for (size_t i = 0; i < count; i++) {
		sg_event_in *e = &events[i];
		uint8_t h[4];
		memset(e, 0, sizeof(*e));
		e->size = sizeof(*e);
		if (get(&r, h, 4) || get_i64(&r, &e->event_time_us) || get_i64(&r, &e->time_us))
			return -EBADMSG;
		e->action = (sg_action)h[0];
		e->source = (sg_source)h[1];
		e->scope = (sg_scope_kind)h[2];
		e->override = (sg_override)h[3];
		const char **strs[] = {&e->sender, &e->recipient, &e->scope_id, &e->provider, &e->provider_msg_id,
				       &e->dedup_key, &e->rule, &e->reply, &e->note, &e->keywords};
		for (size_t s = 0; s < sizeof(strs) / sizeof(strs[0]); s++)
			if (get_str(&r, strs[s]))
				return -EBADMSG;
		uint32_t bl;
		if (get_u32(&r, &bl))
			return -EBADMSG;
		if (bl != NO_BODY) {
			if (r.left < bl)
				return -EBADMSG;
			e->body = (const char *)r.p;
			e->body_len = bl;
			r.p += bl;
			r.left -= bl;
		}
	}
	if (r.left)
		return -EBADMSG;
	*n = count;
	return 0;
}
