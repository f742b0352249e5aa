/* SPDX-License-Identifier: Apache-2.0 */
/* A fleet node's outbox writer thread (fleet/node.h): the outbox's group
 * commit, run while the same messages are being published and applied.
 *
 * The publisher gives each new message its outbox id (sg__outbox_ids),
 * queues its row here and publishes it at once; this thread writes what is
 * queued as one transaction. A put syncs its data but not LMDB's meta page
 * (fleet_outbox.h), so its rows are durable once the next put, or a sync
 * when nothing more is queued, has returned: under load one flush per
 * group. A job is answered only once its row is durable (sg__fleet_ready).
 * Acknowledged rows older than outboxKeepMs, which the publisher hands
 * over, are deleted in the same transactions (no flush of their own).
 *
 * Crash points of one write W (message M, outbox row R) on this node:
 *  - before M is published: W was not answered; if R is durable it is
 *    published on the next start (the provider's retry and the republish
 *    are one event: Nats-Msg-Id);
 *  - M published, R not durable yet (before or after the PubAck, before or
 *    after this node applied M): W was not answered. M may be in the
 *    stream; every node applies it from there, this one after its restart
 *    (from its stored position + 1). The provider's retry, at any node,
 *    gets a duplicate PubAck naming M's sequence and is answered from M's
 *    applied result. R's id is never handed out again (the reservation in
 *    fleet_outbox.c), so no later message is taken for a duplicate of M;
 *  - R durable, before the PubAck or before this node applied M: not
 *    answered; R is published again on the next start (a duplicate when M
 *    is in the stream);
 *  - after the answer: M is held by a quorum of servers (in their memory
 *    on 2.9), applied here, and R is durable and kept outboxKeepMs past
 *    the PubAck, published again on a restart within that time. An
 *    acknowledged write is on this node's disk before it is acknowledged.
 * The stored consent state itself is not what makes a write durable: the
 * store is a view of the stream, rebuilt from it after a crash. */
#include <errno.h>
#include <stdlib.h>

#include "daemon/log.h"
#include "fleet/node.h"
#include "internal.h"

#define OB_GROUP_MAX 4096 /* rows per transaction, at most */

/* mu held: the jobs of list (fjob.obnext) are written (rc 0) or not;
 * answers what is ready now. Orphans go onto *dead (freed without mu). */
static bool settle(sg__fleet *f, fjob *list, int rc, fjob **dead)
{
	for (fjob *j = list, *next; j; j = next) {
		next = j->obnext;
		j->obnext = NULL;
		j->ob_pending = false;
		j->ob_rc = rc;
		f->ob_unsynced--;
		if (j->outbox_id > f->ob_settled)
			f->ob_settled = j->outbox_id;
		if (j->orphan) {
			j->obnext = *dead;
			*dead = j;
		}
	}
	return sg__fleet_finish_ready(f);
}

/* One transaction: the rows of list and the deletions taken. */
static int write_rows(sg__fleet *f, fjob *list, size_t n, const uint64_t *del, size_t ndel)
{
	sg__outbox_row *rows = malloc((n ? n : 1) * sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	size_t i = 0;
	for (fjob *j = list; j; j = j->obnext, i++)
		rows[i] = (sg__outbox_row){.id = j->outbox_id, .subject = j->subject, .msg_id = j->msg_id,
					   .data = (const uint8_t *)j->msg.p, .len = j->msg.len};
	int rc = sg__outbox_put(f->outbox, rows, n, del, ndel);
	free(rows);
	return rc;
}

void sg__fleet_ob_main(void *arg)
{
	sg__fleet *f = arg;
	name_thread("sg-fleet-outbox");
	fjob *unsynced = NULL; /* the last put's jobs: durable once the next put or a sync returns */
	uint64_t *del = NULL;  /* rows to delete, taken from f->ob_del (buffers swapped) */
	size_t ndel = 0, delcap = 0;
	for (;;) {
		uv_mutex_lock(&f->mu);
		while (!f->ob_head && !unsynced && !f->ob_ndel && !(f->stopping && f->pub_exited))
			uv_cond_wait(&f->obcond, &f->mu);
		uint64_t *b = del; /* the publisher's deletions: buffers swapped */
		size_t bcap = delcap;
		del = f->ob_del;
		ndel = f->ob_ndel;
		delcap = f->ob_delcap;
		f->ob_del = b;
		f->ob_delcap = bcap;
		f->ob_ndel = 0;
		fjob *list = f->ob_head, *last = NULL;
		size_t n = 0;
		for (fjob *j = list; j && n < OB_GROUP_MAX; j = j->obnext, n++)
			last = j;
		if (last) {
			f->ob_head = last->obnext;
			if (!f->ob_head)
				f->ob_tail = NULL;
			last->obnext = NULL;
		}
		bool stop = !list && !unsynced && f->stopping && f->pub_exited;
		uv_mutex_unlock(&f->mu);
		if (stop)
			break; /* deletions left over: the rows are published again, duplicates */
		int rc = 0, src = 0;
		fjob *durable = NULL, *failed = NULL;
		if (list || ndel) {
			rc = write_rows(f, list, n, del, ndel);
			if (rc && ndel)
				sg__warn("fleet", "outbox cleanup failed rows=%zu error=\"%s\"", ndel, sg_strerror(rc));
			if (!rc && ndel) {
				uv_mutex_lock(&f->mu);
				f->ob_deleted += ndel; /* committed; durable with the next flush */
				uv_mutex_unlock(&f->mu);
			}
			/* on failure the rows stay: published again on a restart, duplicates */
		}
		if (list) {
			if (rc) {
				sg__err("fleet", "outbox write failed events=%zu error=\"%s\"", n, sg_strerror(rc));
				failed = list;
				/* the earlier put's meta page: synced on its own */
				if (unsynced && (src = sg__outbox_sync(f->outbox)))
					sg__err("fleet", "outbox sync failed error=\"%s\"", sg_strerror(src));
				durable = unsynced;
				unsynced = NULL;
			} else {
				durable = unsynced; /* this put's data sync carried its meta page */
				unsynced = list;
			}
		} else if (unsynced) {
			/* no new rows queued: sync now rather than wait for a put */
			if ((src = sg__outbox_sync(f->outbox)))
				sg__err("fleet", "outbox sync failed error=\"%s\"", sg_strerror(src));
			durable = unsynced;
			unsynced = NULL;
		}
		fjob *dead = NULL;
		uv_mutex_lock(&f->mu);
		bool any = settle(f, durable, src, &dead);
		any |= settle(f, failed, rc, &dead);
		uv_mutex_unlock(&f->mu);
		while (dead) {
			fjob *next = dead->obnext;
			fjob_free(dead);
			dead = next;
		}
		if (any)
			uv_async_send(&f->async);
	}
	free(del);
	uv_mutex_lock(&f->mu);
	f->ob_exited = true;
	uv_mutex_unlock(&f->mu);
	uv_async_send(&f->async);
}
