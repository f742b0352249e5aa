/* SPDX-License-Identifier: Apache-2.0 */
/* Reassembly of Vonage concatenated SMS (webhooks.md §5): each part comes
 * as its own request; the keyword classifier must see the whole text
 * ("please st" + "op texting me").
 *
 * Memory only, bounded: SG__CONCAT_MAX messages of at most
 * SG__CONCAT_MAX_PARTS parts. A message is recorded when its last part
 * arrives, or with the parts it has once it waited longer than the timeout
 * (checked whenever a Vonage request comes in; see api_webhooks.c). Parts
 * are not persisted: a part answered 200 and held here is lost if the
 * daemon stops before the message is recorded, and the parts that arrive
 * after a restart are recorded without it when they time out. That risk is
 * accepted: a concatenated message is longer than one SMS (> 153
 * characters), so it can never be an exact keyword such as STOP, only a
 * longer text that the classifier would treat as a phrase or a probable
 * revocation; persisting parts would need a store of unclassified texts
 * that the consent log deliberately does not have.
 *
 * Table states: WAITING (parts held) and DONE (recorded: a tombstone until
 * the timeout, so a late repeat of a part is a duplicate). A message being
 * recorded is out of the table, owned by the request recording it, until
 * sg__concat_done().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wh.h"

#define FIELD_MAX 64

enum { WAITING = 1, DONE = 2 };

typedef struct part {
	char *text;
	size_t len;
	char *msg_id, *dedup;
	int64_t event_time_us;
} part;

struct sg__concat {
	int state;
	int64_t since_us; /* WAITING: first part's arrival; DONE: when recorded */
	char handset[FIELD_MAX], our[FIELD_MAX], ref[FIELD_MAX], account[FIELD_MAX];
	unsigned total, have;
	part parts[SG__CONCAT_MAX_PARTS];
	char *joined;
	char recorded[SG__WH_DEDUP_MAX]; /* DONE: the dedup key it was recorded with */
};

static sg__concat *table[SG__CONCAT_MAX];

static void drop_parts(sg__concat *c)
{
	for (unsigned i = 0; i < SG__CONCAT_MAX_PARTS; i++) {
		free(c->parts[i].text);
		free(c->parts[i].msg_id);
		free(c->parts[i].dedup);
	}
	memset(c->parts, 0, sizeof(c->parts));
	free(c->joined);
	c->joined = NULL;
}

static void concat_free(sg__concat *c)
{
	if (c) {
		drop_parts(c);
		free(c);
	}
}

/* A free slot, evicting the oldest tombstone if need be; -1 when full of
 * waiting messages. */
static int free_slot(void)
{
	int oldest = -1;
	for (int i = 0; i < SG__CONCAT_MAX; i++) {
		if (!table[i])
			return i;
		if (table[i]->state == DONE && (oldest < 0 || table[i]->since_us < table[oldest]->since_us))
			oldest = i;
	}
	if (oldest >= 0) {
		concat_free(table[oldest]);
		table[oldest] = NULL;
	}
	return oldest;
}

static bool fits(const char *s)
{
	return strlen(s) < FIELD_MAX;
}

int sg__concat_add(const sg__wh_message *m, int64_t now_us, sg__concat **ret,
		   char recorded_key[SG__WH_DEDUP_MAX])
{
	unsigned k = m->concat_part;
	if (m->concat_total > SG__CONCAT_MAX_PARTS || k < 1 || k > m->concat_total || !fits(m->handset) ||
	    !fits(m->our_number) || !fits(m->concat_ref) || !fits(m->account))
		return SG__CONCAT_ALONE;
	sg__concat *c = NULL;
	int slot = -1;
	for (int i = 0; i < SG__CONCAT_MAX && !c; i++) {
		sg__concat *t = table[i];
		if (t && t->total == m->concat_total && !strcmp(t->ref, m->concat_ref) &&
		    !strcmp(t->handset, m->handset) && !strcmp(t->our, m->our_number)) {
			c = t;
			slot = i;
		}
	}
	if (c && c->state == DONE) {
		memcpy(recorded_key, c->recorded, SG__WH_DEDUP_MAX);
		return SG__CONCAT_RECORDED;
	}
	if (c && c->parts[k - 1].msg_id)
		return SG__CONCAT_DUP;
	if (!c) {
		slot = free_slot();
		if (slot < 0)
			return -EAGAIN;
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		c->state = WAITING;
		c->since_us = now_us;
		c->total = m->concat_total;
		sg__strlcpy(c->handset, m->handset, sizeof(c->handset));
		sg__strlcpy(c->our, m->our_number, sizeof(c->our));
		sg__strlcpy(c->ref, m->concat_ref, sizeof(c->ref));
		sg__strlcpy(c->account, m->account, sizeof(c->account));
		table[slot] = c;
	}
	part *p = &c->parts[k - 1];
	p->text = malloc(m->text_len + 1);
	p->msg_id = strdup(m->msg_id);
	p->dedup = strdup(m->dedup_key);
	if (!p->text || !p->msg_id || !p->dedup) {
		free(p->text);
		free(p->msg_id);
		free(p->dedup);
		memset(p, 0, sizeof(*p));
		if (!c->have) {
			table[slot] = NULL;
			concat_free(c);
		}
		return -ENOMEM;
	}
	memcpy(p->text, m->text, m->text_len);
	p->text[m->text_len] = '\0';
	p->len = m->text_len;
	p->event_time_us = m->event_time_us;
	if (++c->have < c->total)
		return SG__CONCAT_PENDING;
	table[slot] = NULL;
	*ret = c;
	return SG__CONCAT_COMPLETE;
}

sg__concat *sg__concat_take_expired(int64_t now_us)
{
	int64_t timeout = sg__webhooks_concat_timeout_us();
	int oldest = -1;
	bool full = true;
	for (int i = 0; i < SG__CONCAT_MAX; i++) {
		sg__concat *c = table[i];
		if (!c || c->state == DONE) {
			full = false;
			if (c && now_us - c->since_us >= timeout) {
				concat_free(c);
				table[i] = NULL;
			}
			continue;
		}
		if (now_us - c->since_us >= timeout) {
			table[i] = NULL;
			return c;
		}
		if (oldest < 0 || c->since_us < table[oldest]->since_us)
			oldest = i;
	}
	if (!full || oldest < 0)
		return NULL;
	sg__concat *c = table[oldest]; /* full of waiting messages: the oldest goes now */
	table[oldest] = NULL;
	return c;
}

int sg__concat_view_of(sg__concat *c, sg__concat_view *v)
{
	size_t len = 0;
	const part *first = NULL;
	for (unsigned i = 0; i < c->total; i++) {
		len += c->parts[i].len;
		if (!first && c->parts[i].msg_id)
			first = &c->parts[i];
	}
	if (!first)
		return -EINVAL;
	if (!c->joined) {
		c->joined = malloc(len + 1);
		if (!c->joined)
			return -ENOMEM;
		size_t at = 0;
		for (unsigned i = 0; i < c->total; i++) {
			if (c->parts[i].len)
				memcpy(c->joined + at, c->parts[i].text, c->parts[i].len);
			at += c->parts[i].len;
		}
		c->joined[at] = '\0';
	}
	*v = (sg__concat_view){
		.handset = c->handset, .our_number = c->our, .account = c->account, .ref = c->ref,
		.msg_id = first->msg_id, .dedup_key = first->dedup, .text = c->joined, .text_len = len,
		.event_time_us = first->event_time_us, .have = c->have, .total = c->total,
	};
	return 0;
}

void sg__concat_done(sg__concat *c, bool ok)
{
	int slot = free_slot();
	if (ok) {
		sg__concat_view v;
		if (sg__concat_view_of(c, &v) == 0)
			sg__strlcpy(c->recorded, v.dedup_key, sizeof(c->recorded));
		drop_parts(c);
		c->state = DONE;
		c->since_us = sg_now_us();
	} else {
		/* Waits again and is taken by the next sg__concat_take_expired. */
		c->since_us = sg_now_us() - sg__webhooks_concat_timeout_us();
	}
	if (slot < 0) {
		if (!ok)
			sg__err("webhk", "vonage concatenated message dropped: table full and not recorded "
				"parts=%u/%u", c->have, c->total);
		concat_free(c);
		return;
	}
	table[slot] = c;
}

unsigned sg__concat_pending(void)
{
	unsigned n = 0;
	for (int i = 0; i < SG__CONCAT_MAX; i++)
		n += table[i] && table[i]->state == WAITING;
	return n;
}

void sg__concat_free_all(void)
{
	unsigned lost = sg__concat_pending();
	if (lost)
		sg__warn("webhk", "vonage concatenated messages never completed messages=%u", lost);
	for (int i = 0; i < SG__CONCAT_MAX; i++) {
		concat_free(table[i]);
		table[i] = NULL;
	}
}
