/*
 * wrk_dirs — attempt directories reused from one attempt to the next when the task that
 * had one is known gone (see wrk_dirs.c for why).
 */
#ifndef WRK_DIRS_H
#define WRK_DIRS_H

#include "floe_err.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct wrk_dirs wrk_dirs;

/* Room for cap idle directories (the worker's concurrency: no more are ever out). */
wrk_dirs *wrk_dirs_new(size_t cap);
/* Removes the idle directories. NULL is a no-op. */
void wrk_dirs_free(wrk_dirs *d);
/* An idle directory into dir: false when there is none (make a new one). */
bool wrk_dirs_take(wrk_dirs *d, char *dir, size_t size);
/* dir, reset, for the next attempt: false when there is no room (remove it). */
bool wrk_dirs_give(wrk_dirs *d, const char *dir);
/* Empties dir back to what a new attempt directory holds: inputs/, outputs/ and tmp/
 * empty, stdout and stderr empty. Only for a directory no process can reach any more.
 * An error leaves it half emptied: remove it. */
floe_rc wrk_dirs_reset(const char *dir);

#endif
