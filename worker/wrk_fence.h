/*
 * wrk_fence — an attempt's lease enforced by the kernel's clock, not by the worker's loop.
 *
 * A worker frozen past its attempts' leases (SIGSTOP, a paused VM or container, a host
 * thrashing in swap) resumes together with its tasks, and by then the engine has retried
 * those attempts on another worker. The loop's own check (on_beat in wrk_attempt.c) runs
 * only after the resumed tasks have run on for a while: long enough for a task to apply
 * an effect beside its retry. Here a POSIX timer, armed at the earliest lease deadline,
 * raises a signal even while the worker is stopped; the signal is pending when the worker
 * resumes, and its handler, the first code the worker runs, SIGKILLs every process group
 * whose lease has run out, stopped or not.
 *
 * One fence per process (a signal handler is process-wide). Every call but the handler's
 * work is made on the worker's loop thread; entries are atomics the handler only reads,
 * apart from marking what it killed.
 */
#ifndef WRK_FENCE_H
#define WRK_FENCE_H

#include "floe_err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define WRK_FENCE_MAX 1024 /* process groups fenced at once: above the worker's slots */

/* Installs the handler and creates the timer. */
floe_rc wrk_fence_init(floe_err *err);
/* Fences process group pgid until deadline_us (floe_mono_us). Returns the entry, or -1
 * when the fence is not initialised or full (the loop's own check still stops the run). */
int wrk_fence_add(pid_t pgid, int64_t deadline_us);
/* A renewed lease: the entry's new deadline. */
void wrk_fence_move(int entry, int64_t deadline_us);
/* Drops the entry (before its run is freed); true when the fence killed its group. */
bool wrk_fence_remove(int entry);

#endif
