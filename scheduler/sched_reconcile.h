/*
 * sched_reconcile — finds executions that PostgreSQL says are RUNNING and Redis no longer
 * knows (review H4). Redis acknowledges a write before its AOF reaches the disk
 * (appendfsync everysec), and the engine acknowledges the event once Redis answered: a
 * Redis that loses its last second forgets executions whose requests Kafka will never
 * hand out again, and they would stay RUNNING for ever. The leader pages through RUNNING
 * executions older than engine.reconcile_every, asks Redis whether their state exists,
 * and requests each orphan again from its row; the engine re-creates its state and runs
 * it (nodes that had run run again: tasks are at-least-once).
 *
 * Pool thread only (PostgreSQL, and a short blocking Redis connection).
 */
#ifndef SCHED_RECONCILE_H
#define SCHED_RECONCILE_H

#include "floe_arena.h"
#include "floe_config.h"
#include "store_exec.h"
#include "store_pg.h"

#include <stdint.h>

/* Executions looked at per call: a page of the RUNNING ones. */
#define SCHED_RECONCILE_PAGE 200

/* One page after *cursor (a seq; 0 from the start): *orphans (n) receives the rows whose
 * state Redis lacks, in arena; *cursor the page's last seq, or 0 when the page was the
 * last. *checked counts the executions looked at. */
floe_rc sched_reconcile_scan(store_pg *pg, const floe_config *cfg, int64_t *cursor,
                             floe_arena *arena, store_exec **orphans, size_t *n, unsigned *checked,
                             floe_err *err);

#endif
