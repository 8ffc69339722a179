/*
 * sched_reconcile — finds executions that PostgreSQL says are QUEUED or RUNNING and Redis
 * does not know (review H4, M10). Redis acknowledges a write before its AOF reaches the
 * disk (appendfsync everysec), and the engine acknowledges the event once Redis answered:
 * a Redis that loses its last second forgets executions whose requests Kafka will never
 * hand out again, and they would stay RUNNING for ever. An API replica that dies between
 * recording a launch and publishing it leaves it QUEUED for ever the same way. The leader
 * pages through such executions older than engine.reconcile_every, asks Redis whether
 * their state exists, and requests each orphan again from its row; the engine creates
 * its state and runs it (a request seen twice changes nothing; nodes that had run run
 * again: tasks are at-least-once).
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
