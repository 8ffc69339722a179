/*
 * floe_pool — a few threads for blocking work (PostgreSQL calls, compiling a large spec,
 * health probes) so the event loop never blocks. A job's work function runs on a pool
 * thread with that thread's context (e.g. its own database connection); its done function
 * then runs on the loop thread, where the result is used (e.g. the HTTP reply sent).
 * Threads exchange jobs, not shared structures: a job belongs to the pool thread while
 * its work runs and to the loop thread before and after.
 */
#ifndef FLOE_POOL_H
#define FLOE_POOL_H

#include "floe_err.h"

#include <stdbool.h>
#include <stddef.h>

struct event_base;
typedef struct floe_pool floe_pool;

typedef void (*floe_pool_work_fn)(void *thread_ctx, void *job);
typedef void (*floe_pool_done_fn)(void *job);
/* Work for several jobs of one kind at once (jobs[0..n), n >= 1), e.g. one statement and
 * one commit for all of them. */
typedef void (*floe_pool_batch_fn)(void *thread_ctx, void **jobs, size_t n);

/* Work for one job that may go on to a batch: true queues the job for the batch (as
 * floe_pool_submit_batch would, without a trip through the loop thread), false sends it
 * to its done function. */
typedef bool (*floe_pool_step_fn)(void *thread_ctx, void *job);

/* The most jobs one batch takes. */
#define FLOE_POOL_BATCH_MAX 64

typedef struct floe_pool_config {
    unsigned threads;
    unsigned queue_max;              /* jobs waiting; beyond, submit says FLOE_EAGAIN */
    void *(*thread_init)(void *arg); /* per-thread context, on the thread; may be NULL */
    void (*thread_fini)(void *ctx);  /* on the thread, when it stops */
    void *arg;
    const char *name; /* threads named "<name>-<n>" (top -H, perf), the name cut to fit the
                       * kernel's 15 bytes; may be NULL */
} floe_pool_config;

/* Starts the threads. Done functions run on base's loop. NULL with err on failure. */
floe_pool *floe_pool_new(struct event_base *base, const floe_pool_config *pc, floe_err *err);

/* Queues job. work(ctx, job) runs on a thread, then done(job) on the loop thread.
 * FLOE_EAGAIN when the queue is full, FLOE_ESTATE when stopping, FLOE_ENOMEM. On error
 * nothing is queued and the job still belongs to the caller. */
floe_rc floe_pool_submit(floe_pool *pool, floe_pool_work_fn work, floe_pool_done_fn done,
                         void *job);

/* As floe_pool_submit, for a job whose work can be done together with others queued with
 * the same batch function: a thread taking it also takes the others waiting then (in
 * submission order, at most FLOE_POOL_BATCH_MAX) and runs batch once for all; done still
 * runs once per job. At most one batch of a function runs at a time: jobs submitted
 * meanwhile wait for it (other work goes to the other threads) and form the next batch.
 * Nothing waits for a batch to fill, so a lone job costs what it did alone. */
floe_rc floe_pool_submit_batch(floe_pool *pool, floe_pool_batch_fn batch, floe_pool_done_fn done,
                               void *job);

/* A job in two steps: step(ctx, job) on a thread, then, when it returns true, batch with
 * the others queued for it (as floe_pool_submit_batch), done(job) on the loop thread
 * after whichever step was the last. The job reaches its batch from the thread that did
 * the first step, which takes it itself when nothing is ahead: two thread wake-ups fewer
 * than a done function that submits the batch (e.g. a launch validated, then recorded
 * with the launches validated meanwhile). Errors as floe_pool_submit. */
floe_rc floe_pool_submit_then_batch(floe_pool *pool, floe_pool_step_fn step,
                                    floe_pool_batch_fn batch, floe_pool_done_fn done, void *job);

/* Jobs queued or running. */
unsigned floe_pool_pending(floe_pool *pool);

/* Runs every queued job to the end, calls the done functions not yet called (on the
 * calling thread, which must be the loop thread), stops the threads and frees the pool.
 * NULL is a no-op. */
void floe_pool_free(floe_pool *pool);

#endif
