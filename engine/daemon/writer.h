/* SPDX-License-Identifier: Apache-2.0 */
/* The single writer: one thread owns every write to the store, so the loop
 * never blocks on LMDB's writer lock or on fsync.
 *
 * The loop submits jobs; the writer takes everything pending at once, and
 * records all consecutive event jobs with ONE sg_record() call (one durable
 * LMDB transaction: group commit). Other writes (registry updates, the
 * claiming confirmation check) run as `run` jobs, in submission order
 * between the batches. When a job is finished its `done` callback runs on
 * the loop thread (through a uv_async_t), so a request is answered only
 * after the transaction holding its event is durable.
 *
 * The queue is bounded (limits.writer_queue jobs): sg__writer_submit()
 * returns -EAGAIN when full, which handlers turn into 503 + Retry-After.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "stopgate.h"

typedef struct sg__writer sg__writer;
typedef struct sg__wjob sg__wjob;

struct sg__wjob {
	/* ---- set by the submitter ---- */
	/* Event job (run == NULL): events to record and room for their results.
	 * Both arrays are owned by the submitter and must stay valid until done. */
	const sg_event_in *events;
	size_t nevents;
	sg_event_out *out;
	/* Run job: called on the writer thread; its return value becomes status.
	 * It may call any sg_* function (it is the only writer). */
	int (*run)(sg__wjob *job, sg_engine *engine);
	/* Called on the loop thread when finished (required). May free the job. */
	void (*done)(sg__wjob *job);
	void *ctx;

	/* ---- set by the writer ---- */
	int status;        /* sg_record()'s return for the batch, or run()'s */
	int64_t commit_us; /* how long the transaction holding it took */

	/* ---- private ---- */
	sg__wjob *next;
};

/* A barrier job stops the writer thread after it is reported done, until
 * sg__writer_release(): the loop may then use the engine exclusively (e.g.
 * sg_engine_reload). */
#define SG__WJOB_BARRIER ((int (*)(sg__wjob *, sg_engine *))1)

/* Commit statistics for /metrics. */
#define SG__COMMIT_SIZE_BUCKETS 8
#define SG__COMMIT_LAT_BUCKETS 10
typedef struct sg__writer_stats {
	unsigned queued;            /* jobs waiting (not yet taken) */
	uint64_t batches;           /* sg_record calls */
	uint64_t events;            /* events recorded */
	uint64_t failed_batches;
	uint64_t size_count[SG__COMMIT_SIZE_BUCKETS + 1]; /* cumulative-free counts per bucket, last = +Inf */
	uint64_t lat_count[SG__COMMIT_LAT_BUCKETS + 1];
	double lat_sum_s;
	uint64_t size_sum;
	uint64_t rejected;          /* submissions refused with -EAGAIN */
	int last_status;            /* of the last sg_record (0 = ok) */
} sg__writer_stats;
extern const double sg__commit_size_bounds[SG__COMMIT_SIZE_BUCKETS];
extern const double sg__commit_lat_bounds[SG__COMMIT_LAT_BUCKETS];

/* Start the thread. max_queue: the bound. */
int sg__writer_start(uv_loop_t *loop, sg_engine *engine, unsigned max_queue, sg__writer **ret);
/* Queue a job. -EAGAIN: queue full; -ESHUTDOWN: writer stopping. On error
 * the job is untouched and done will not be called. */
int sg__writer_submit(sg__writer *w, sg__wjob *job);
/* Let the writer go on after a barrier job was reported done. */
void sg__writer_release(sg__writer *w);
/* Finish every queued job (their done callbacks run on the next loop
 * iterations), then end the thread; close_cb runs when the writer's handle
 * is closed and its memory freed. Call once. */
void sg__writer_stop(sg__writer *w, void (*close_cb)(void *arg), void *arg);
void sg__writer_get_stats(sg__writer *w, sg__writer_stats *out);
