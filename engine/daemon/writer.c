/* SPDX-License-Identifier: Apache-2.0 */
/* The writer thread and its group commit; see writer.h.
 *
 * Invariants: the queue (qhead/qtail/qlen) and the done list are touched
 * only under mu. Jobs taken by the thread belong to it until they are on
 * the done list; after that only the loop thread touches them. The scratch
 * arrays ev/out are the thread's alone.
 *
 * Durability: the engine is opened with SG_OPEN_DEFER_SYNC, so a commit is
 * durable once a LATER commit has synced (LMDB's meta page goes to disk with
 * the next data sync) or sg_sync() has run. Finished jobs therefore wait on
 * the `held` chain: a successful event commit posts everything held before
 * it; a round that ends with the queue empty, or without an event commit,
 * calls sg_sync() and posts the rest; so do barriers and shutdown. Under
 * load this is one fsync per batch; idle, it is two as before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"
#include "writer.h"

const double sg__commit_size_bounds[SG__COMMIT_SIZE_BUCKETS] = {1, 2, 4, 8, 16, 64, 256, 1024};
const double sg__commit_lat_bounds[SG__COMMIT_LAT_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01,
							      0.025, 0.05, 0.1, 0.5, 1.0};

struct sg__writer {
	uv_loop_t *loop;
	sg_engine *engine;
	uv_async_t async;
	uv_thread_t thread;
	uv_mutex_t mu;
	uv_cond_t cond;
	unsigned max;
	/* under mu */
	sg__wjob *qhead, *qtail;
	unsigned qlen;
	sg__wjob *dhead, *dtail;
	bool stopping, exited, released;
	sg__writer_stats stats;
	/* writer thread only */
	sg__wjob *held_first, *held_last; /* finished, not yet known durable */
	bool appended;                    /* the last commit appended an event (so it synced) */
	sg_event_in *ev;
	sg_event_out *out;
	size_t cap;
	/* loop thread only */
	bool joined;
	void (*close_cb)(void *arg);
	void *close_arg;
};

static void post_done(sg__writer *w, sg__wjob *first, sg__wjob *last)
{
	if (!first)
		return;
	last->next = NULL;
	uv_mutex_lock(&w->mu);
	if (w->dtail)
		w->dtail->next = first;
	else
		w->dhead = first;
	w->dtail = last;
	uv_mutex_unlock(&w->mu);
	uv_async_send(&w->async);
}

static void hold(sg__writer *w, sg__wjob *first, sg__wjob *last)
{
	if (!first)
		return;
	last->next = NULL;
	if (w->held_last)
		w->held_last->next = first;
	else
		w->held_first = first;
	w->held_last = last;
}

/* Post the held jobs; with sync, make them durable first (a failed sync
 * turns their success into that error: they may not be on disk). */
static void release_held(sg__writer *w, bool sync)
{
	sg__wjob *first = w->held_first, *last = w->held_last;
	if (!first)
		return;
	w->held_first = w->held_last = NULL;
	int rc = sync ? sg_sync(w->engine) : 0;
	if (rc) {
		sg__err("writer", "sync failed error=\"%s\"", sg_strerror(rc));
		for (sg__wjob *j = first; j; j = j->next)
			if (!j->status)
				j->status = rc;
	}
	post_done(w, first, last);
}

static void note_commit(sg__writer *w, size_t n, int64_t us, int rc)
{
	double s = (double)us / 1e6;
	size_t si = 0, li = 0;
	while (si < SG__COMMIT_SIZE_BUCKETS && (double)n > sg__commit_size_bounds[si])
		si++;
	while (li < SG__COMMIT_LAT_BUCKETS && s > sg__commit_lat_bounds[li])
		li++;
	uv_mutex_lock(&w->mu);
	w->stats.batches++;
	w->stats.events += n;
	w->stats.size_sum += n;
	w->stats.size_count[si]++;
	w->stats.lat_count[li]++;
	w->stats.lat_sum_s += s;
	if (rc)
		w->stats.failed_batches++;
	w->stats.last_status = rc;
	uv_mutex_unlock(&w->mu);
}

/* Record the event jobs from j up to (not including) the first run job as
 * one transaction. Returns that run job (or NULL). */
static sg__wjob *commit_events(sg__writer *w, sg__wjob *j)
{
	size_t n = 0;
	sg__wjob *k;
	for (k = j; k && !k->run; k = k->next)
		n += k->nevents;
	if (n > w->cap) {
		size_t cap = w->cap ? w->cap : 64;
		while (cap < n)
			cap *= 2;
		sg_event_in *ev = realloc(w->ev, cap * sizeof(*ev));
		if (ev)
			w->ev = ev;
		sg_event_out *out = realloc(w->out, cap * sizeof(*out));
		if (out)
			w->out = out;
		if (!ev || !out) {
			for (k = j; k && !k->run; k = k->next)
				k->status = -ENOMEM;
			return k;
		}
		w->cap = cap;
	}
	size_t i = 0;
	for (k = j; k && !k->run; k = k->next) {
		if (k->nevents)
			memcpy(w->ev + i, k->events, k->nevents * sizeof(*w->ev));
		i += k->nevents;
	}
	int64_t t0 = sg_now_us();
	int rc = n ? sg_record(w->engine, w->ev, n, w->out) : 0;
	int64_t dt = sg_now_us() - t0;
	if (n)
		note_commit(w, n, dt, rc);
	if (rc)
		sg__err("writer", "commit failed events=%zu error=\"%s\"", n, sg_strerror(rc));
	/* LMDB skips the sync of a commit that changed nothing (a batch of
	 * duplicates): only a commit that appended an event is a sync point. */
	w->appended = false;
	for (size_t e = 0; !rc && e < n && !w->appended; e++)
		w->appended = w->out[e].status == 0 && !w->out[e].duplicate && w->out[e].seq > 0;
	i = 0;
	for (k = j; k && !k->run; k = k->next) {
		if (k->nevents)
			memcpy(k->out, w->out + i, k->nevents * sizeof(*w->out));
		i += k->nevents;
		k->status = rc;
		k->commit_us = dt;
	}
	return k;
}

static void wait_release(sg__writer *w)
{
	uv_mutex_lock(&w->mu);
	while (!w->released)
		uv_cond_wait(&w->cond, &w->mu);
	w->released = false;
	uv_mutex_unlock(&w->mu);
}

/* Run a list of jobs in order. Returns whether an event commit succeeded
 * (a sync point for everything held before it). */
static bool process(sg__writer *w, sg__wjob *list)
{
	sg__wjob *j = list;
	bool committed = false;
	while (j) {
		if (!j->run) {
			sg__wjob *first = j, *last = NULL, *stop = commit_events(w, j);
			while (j != stop) {
				last = j;
				j = j->next;
			}
			if (!first->status && w->appended) {
				/* this commit synced data and the meta pages before it */
				committed = true;
				release_held(w, false);
			}
			hold(w, first, last);
			continue;
		}
		sg__wjob *next = j->next;
		if (j->run == SG__WJOB_BARRIER) {
			j->status = 0;
			release_held(w, true);
			post_done(w, j, j);
			wait_release(w);
			j = next;
			continue;
		}
		int64_t t0 = sg_now_us();
		j->status = j->run(j, w->engine);
		j->commit_us = sg_now_us() - t0;
		hold(w, j, j);
		j = next;
	}
	return committed;
}

static void thread_main(void *arg)
{
	sg__writer *w = arg;
	for (;;) {
		uv_mutex_lock(&w->mu);
		while (!w->qhead && !w->stopping)
			uv_cond_wait(&w->cond, &w->mu);
		sg__wjob *list = w->qhead;
		w->qhead = w->qtail = NULL;
		w->qlen = 0;
		w->stats.queued = 0;
		bool stop = !list && w->stopping;
		uv_mutex_unlock(&w->mu);
		if (stop)
			break;
		bool committed = process(w, list);
		uv_mutex_lock(&w->mu);
		bool more = w->qhead != NULL;
		uv_mutex_unlock(&w->mu);
		if (!more || !committed)
			release_held(w, true); /* nothing coming to sync them for us */
	}
	release_held(w, true);
	uv_mutex_lock(&w->mu);
	w->exited = true;
	uv_mutex_unlock(&w->mu);
	uv_async_send(&w->async);
}

static void on_close(uv_handle_t *h)
{
	sg__writer *w = h->data;
	void (*cb)(void *) = w->close_cb;
	void *arg = w->close_arg;
	uv_mutex_destroy(&w->mu);
	uv_cond_destroy(&w->cond);
	free(w->ev);
	free(w->out);
	free(w);
	if (cb)
		cb(arg);
}

static void on_async(uv_async_t *a)
{
	sg__writer *w = a->data;
	uv_mutex_lock(&w->mu);
	sg__wjob *list = w->dhead;
	w->dhead = w->dtail = NULL;
	bool exited = w->exited;
	uv_mutex_unlock(&w->mu);
	while (list) {
		sg__wjob *next = list->next;
		list->next = NULL;
		list->done(list); /* may free list */
		list = next;
	}
	if (exited && !w->joined) {
		w->joined = true;
		uv_thread_join(&w->thread);
		sg__info("writer", "stopped");
		uv_close((uv_handle_t *)&w->async, on_close);
	}
}

int sg__writer_start(uv_loop_t *loop, sg_engine *engine, unsigned max_queue, sg__writer **ret)
{
	sg__writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->engine = engine;
	w->max = max_queue ? max_queue : 1;
	int rc = uv_mutex_init(&w->mu);
	if (rc) {
		free(w);
		return rc;
	}
	rc = uv_cond_init(&w->cond);
	if (rc) {
		uv_mutex_destroy(&w->mu);
		free(w);
		return rc;
	}
	rc = uv_async_init(loop, &w->async, on_async);
	if (rc) {
		uv_cond_destroy(&w->cond);
		uv_mutex_destroy(&w->mu);
		free(w);
		return rc;
	}
	w->async.data = w;
	rc = uv_thread_create(&w->thread, thread_main, w);
	if (rc) {
		w->joined = true;
		uv_close((uv_handle_t *)&w->async, on_close);
		return rc;
	}
	*ret = w;
	return 0;
}

int sg__writer_submit(sg__writer *w, sg__wjob *job)
{
	if (!job || !job->done)
		return -EINVAL;
	int rc = 0;
	job->next = NULL;
	job->status = 0;
	job->commit_us = 0;
	uv_mutex_lock(&w->mu);
	if (w->stopping) {
		rc = -ESHUTDOWN;
	} else if (w->qlen >= w->max) {
		w->stats.rejected++;
		rc = -EAGAIN;
	} else {
		if (w->qtail)
			w->qtail->next = job;
		else
			w->qhead = job;
		w->qtail = job;
		w->qlen++;
		w->stats.queued = w->qlen;
		uv_cond_signal(&w->cond);
	}
	uv_mutex_unlock(&w->mu);
	return rc;
}

void sg__writer_release(sg__writer *w)
{
	uv_mutex_lock(&w->mu);
	w->released = true;
	uv_cond_signal(&w->cond);
	uv_mutex_unlock(&w->mu);
}

void sg__writer_stop(sg__writer *w, void (*close_cb)(void *arg), void *arg)
{
	w->close_cb = close_cb;
	w->close_arg = arg;
	uv_mutex_lock(&w->mu);
	w->stopping = true;
	uv_cond_signal(&w->cond);
	uv_mutex_unlock(&w->mu);
}

void sg__writer_get_stats(sg__writer *w, sg__writer_stats *out)
{
	uv_mutex_lock(&w->mu);
	*out = w->stats;
	uv_mutex_unlock(&w->mu);
}
