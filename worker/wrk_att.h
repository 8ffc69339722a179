/*
 * wrk_att — an attempt as the worker holds it, shared by its life on the loop
 * (wrk_attempt.c) and the results it publishes (wrk_result.c). Private to the worker.
 */
#ifndef WRK_ATT_H
#define WRK_ATT_H

#include "wrk_int.h"

#include "floe_arena.h"
#include "floe_messages.pb-c.h"
#include "plug_exec.h"
#include "store_blob.h"
#include "store_tasklog.h"
#include "wrk_secret.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define ATT_ID_MAX 128

typedef enum att_state {
    ATT_QUEUED = 1,
    ATT_CLAIMING,
    ATT_PREPARING,
    ATT_RUNNING,
    ATT_COLLECTING,
    ATT_PUBLISHING,
    ATT_RELEASING,
    ATT_DONE,
} att_state;

struct wrk_att {
    wrk *w;
    wrk_att *prev, *next;
    att_state state;
    Floe__TaskDispatch *d; /* our own unpacked copy */
    floe_bus_pos pos;
    int kind; /* index in w->exec */
    uint32_t lease_ms;
    char run_id[40];
    char key[2 * ATT_ID_MAX + 16]; /* in w->keys while queued or active */
    char dir[PATH_MAX - 64];
    floe_log_ctx log;
    int64_t arrived_us;  /* the dispatch was read from the bus (before any backlog) */
    int64_t received_us; /* taken from the backlog: the worker's own overhead starts */
    int64_t started_us, run_start_us, run_end_us;
    /* The lease as this worker knows it (CLOCK_MONOTONIC): renewed as of when the last
     * claim or heartbeat that Redis accepted was sent. */
    int64_t lease_sent_mono, lease_ok_mono;
    int fence; /* the running task's entry in the lease fence (wrk_fence.h), or -1 */
    struct event *beat, *timeout, *retry, *ship;
    struct event *started; /* TaskStarted, once the task ran worker.started_after */
    plug_run *run;
    plug_result res;
    bool timed_out, aborted, released, job_out, beat_out, linked, undelivered;
    bool unslotted; /* its task is over and its result published: its slot is free */
    unsigned redis_out, deliveries_out;

    /* written by pool jobs */
    floe_err err;
    bool job_failed;
    char *inputs_json;
    floe_arena *arena;
    Floe__NamedValue **outs;
    store_blob_ref logs[2];
    bool has_log[2];
    char *tail;
    const char *rootfs;            /* an image's unpacked rootfs (wrk_image.c), in arena */
    plug_pod_io *pod_in, *pod_out; /* a pod that moves its data (wrk_pod.c), in arena */
    size_t n_pod_in, n_pod_out;
    wrk_secrets secrets; /* values in arena (wrk_secret.h) */
    bool secret_failed;
    bool dir_kept; /* reset for the next attempt (wrk_dirs.c), not removed */

    /* logs shipped while the task runs (wrk_ship.c): the job's own fields, then the loop's */
    uint64_t shipped[2];
    store_tasklog_entry ship_entry[2];
    bool ship_new[2];
    bool ship_out, shipped_any, collect_waiting;
};

/* Index WRK_NOOP has no plugin: the noop executor (worker.noop) runs nothing and exists to
 * measure Floe's own per-task cost (bus, state, dispatch, claim, events) in bench/. */
#define WRK_KUBE 2 /* index of the kubernetes executor */
#define WRK_NOOP WRK_EXECUTORS
#define WRK_UNKNOWN (WRK_EXECUTORS + 1) /* a name this worker does not know (newer scheduler) */
extern const char *const wrk_att_kinds[WRK_EXECUTORS + 2]; /* by kind: metric labels, names */

/* wrk_attempt.c: the attempt needs nothing more from this worker (it is freed once no
 * request, job or delivery refers to it). */
void wrk_att_finish(wrk_att *att);
/* The task ended: collect its outputs and logs on the pool, then publish (wrk_collect.c). */
void wrk_att_collect(wrk_att *att);
/* Its result is published, its task long over: the slot goes to the next dispatch while
 * the broker acknowledges (the attempt stays active, its lease renewed, until then). */
void wrk_att_unslot(wrk_att *att);
/* A failure before the task ran: publish it while the directory is removed. */
void wrk_att_fail_and_clean(wrk_att *att, floe_err_class cls, const char *code,
                            const char *message);
/* Worker shutdown: the attempt's claim is released for another worker (wrk_attempt.c). */
void wrk_att_release(wrk_att *att);
/* Logs each active attempt and its state (at shutdown: what the grace waits for). */
void wrk_att_log_active(wrk *w);
/* Frees a finished attempt that nothing refers to any more. */
void wrk_att_maybe_free(wrk_att *att);

/* wrk_attempt.c: starts the task (inputs are in place). */
void wrk_att_run(wrk_att *att);
/* wrk_prepare.c: the attempt's directory and inputs, then the run (or its failure). */
void wrk_att_prepare(wrk_att *att);
/* wrk_image.c: whether the task is an oci task given an image, and the unpacking of it,
 * which then runs the task (wrk_att_run) or fails the attempt. */
bool wrk_image_needed(const wrk_att *att);
void wrk_image_resolve(wrk_att *att);

/* wrk_ship.c: ships the running task's logs every worker.log_ship_every; stop before
 * collecting (false: a ship is in flight, and its end calls wrk_att_collect); at the end
 * of an attempt that was followed (or aborted, or released) says where the logs are. */
void wrk_ship_start(wrk_att *att);
bool wrk_ship_stop(wrk_att *att);
void wrk_ship_end(wrk_att *att);

/* wrk_result.c: counts the attempt in floe_worker_attempts_total under result. */
void wrk_res_count(wrk_att *att, const char *result);
/* TaskStarted, untracked (the result that follows matters, this one does not), once the
 * attempt ran worker.started_after (0: at once). */
void wrk_res_started(wrk_att *att);
/* TaskFailed with the error class, code (exit, timeout, output, ...) and message; the
 * attempt finishes once the broker acknowledged it. */
void wrk_res_failure(wrk_att *att, floe_err_class cls, const char *code, const char *message);
/* LineageRecorded, then TaskSucceeded with att->outs; finishes like wrk_res_failure. */
void wrk_res_success(wrk_att *att);

/* wrk_pod.c: a pod that moves its data itself (kubernetes.helper_image), pool threads:
 * the urls before it runs; what it staged into outputs/ after; staged objects deleted. */
floe_rc wrk_pod_prepare(wrk_att *att, floe_err *err);
floe_rc wrk_pod_fetch_outputs(wrk_att *att, floe_err *err);
void wrk_pod_drop_staged(wrk_att *att);

#endif
