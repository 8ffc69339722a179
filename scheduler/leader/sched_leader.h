/*
 * sched_leader — leader election: a lease row in PostgreSQL (store_lease), renewed every
 * third of the lease from a thread of its own (so a slow API query never delays it).
 *
 * The loop side owns the decision. It becomes leader when an acquire succeeds, and stops
 * being leader at once when the renew deadline passes on CLOCK_MONOTONIC (measured from
 * when the last successful renew was *sent*, so it always falls before PostgreSQL's
 * expiry), when a renew is refused, or when the engine reports a fenced write. Every
 * replica runs this; only the leader runs the engine. Threading: loop thread, except the
 * SQL which runs on the lease thread.
 */
#ifndef SCHED_LEADER_H
#define SCHED_LEADER_H

#include "floe_config.h"
#include "floe_err.h"
#include "floe_metrics.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
typedef struct sched_leader sched_leader;

typedef struct sched_leader_callbacks {
    void (*on_elected)(uint64_t epoch, void *arg);
    void (*on_demoted)(uint64_t epoch, const char *why, void *arg);
    void *arg;
} sched_leader_callbacks;

/* holder: this replica's unique name. Starts campaigning at once. */
sched_leader *sched_leader_new(struct event_base *base, const floe_config *cfg, floe_metrics *m,
                               const char *holder, const sched_leader_callbacks *cb, floe_err *err);

/* Stops; gives the lease up when held (so a standby takes over at once). Blocks briefly. */
void sched_leader_free(sched_leader *l);

/* Leader, and the renew deadline has not passed. */
bool sched_leader_valid(sched_leader *l);
uint64_t sched_leader_epoch(const sched_leader *l);

/* The engine saw a write refused for a newer epoch: demote now. */
void sched_leader_fenced(sched_leader *l, const char *why);

#endif
