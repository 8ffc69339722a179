/*
 * sched_engine — the DAG engine, run by the elected leader only: consumes <prefix>.events,
 * keeps each execution's state in Redis through the scripts of store_state, dispatches
 * ready nodes through the Redis outbox to <prefix>.tasks.<class>, retries, sweeps expired
 * attempt leases, and writes finished executions to PostgreSQL. See docs/engine.md.
 *
 * A leadership term starts with sched_engine_lead(epoch) and ends with
 * sched_engine_stop(): every piece of work of the term stops at once (replies arriving
 * later are dropped), the consumer leaves the group, and nothing more is written. A write
 * refused for a newer epoch calls hooks->on_fenced, which should demote (sched_leader).
 * Threading: the loop thread; PostgreSQL work runs on the engine's own pool.
 */
#ifndef SCHED_ENGINE_H
#define SCHED_ENGINE_H

#include "floe_config.h"
#include "floe_err.h"
#include "floe_metrics.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
typedef struct sched_engine sched_engine;
/* A feature that joins every term (launch plans, lineage): see engine/internal. */
typedef struct eng_feature eng_feature;
extern const eng_feature eng_lineage_feature;

typedef struct sched_engine_hooks {
    void (*on_fenced)(const char *why, void *arg);
    /* Whether this replica still leads by its lease's clock (sched_leader_valid, which
     * demotes it when the renew deadline passed); may be NULL. Asked before the engine acts
     * on an event, a request or its sweep: a leader resumed after a pause past its deadline
     * demotes before it writes, whatever order the loop serves what became ready meanwhile
     * (review M12). */
    bool (*leading)(void *arg);
    /* A term began under epoch (its intake open), or ended (0); may be NULL. */
    void (*on_term)(uint64_t epoch, void *arg);
    void *arg;
    /* The features in force, NULL-terminated, in the order their hooks run (borrowed for
     * the engine's life). The composition root (sched_main.c) lists them: the core never
     * names a feature. */
    const eng_feature *const *features;
} sched_engine_hooks;

sched_engine *sched_engine_new(struct event_base *base, const floe_config *cfg, floe_metrics *m,
                               const sched_engine_hooks *hooks, floe_err *err);
void sched_engine_lead(sched_engine *e, uint64_t epoch);
void sched_engine_stop(sched_engine *e, const char *why);
struct Floe__ExecutionRequested;
/* A request this process's API recorded, taken straight into the engine's intake when it
 * leads here (issue 25): the same handling as one consumed from <prefix>.events, without
 * the trip through Kafka. started: the epoch the API recorded the row RUNNING under (0:
 * QUEUED); the term of that epoch starts it without writing the row. false when there is
 * no live term or its intake is paused (too much in flight): produce it on the bus
 * instead. Copies what it keeps. */
bool sched_engine_request(sched_engine *e, const struct Floe__ExecutionRequested *req,
                          uint64_t started);
/* Stops, then frees. Not from an engine callback. NULL is a no-op. */
void sched_engine_free(sched_engine *e);

#endif
