/*
 * sched_lp — launch plans that launch themselves (docs/launchplans.md), run by the leader
 * beside the engine: schedules (cron or fixed rate, catch-up, concurrency), reactive
 * triggers on DataPublished, and the dataset outbox of finished executions.
 *
 * The loop side (sched_lp.c) owns the tick timer, the queue of DataPublished events and
 * the publishing of ExecutionRequested / DataPublished; the decisions run on the engine's
 * pool (sched_lp_work.c) against PostgreSQL, where every firing is recorded under a
 * unique key before anything is published. A firing is launched by inserting its
 * execution row in the same transaction that marks it LAUNCHED; its ExecutionRequested is
 * then published and re-published until acknowledged, and the engine treats a duplicate
 * request as a no-op. So an instant or a set of events starts one execution, whatever
 * fails in between.
 */
#ifndef SCHED_LP_H
#define SCHED_LP_H

#include "floe_arena.h"
#include "floe_config.h"
#include "floe_envelope.h"
#include "floe_spec.pb-c.h"
#include "store_pg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The engine feature (sched_engine_hooks.features) that runs launch plans on the leader. */
extern const struct eng_feature eng_lp_feature;

/* What a tick found to publish: ExecutionRequested of launched firings, DataPublished of
 * finished executions (packed, in the job's arena). */
typedef struct lp_msg {
    const char *key; /* execution id or dataset */
    const char *id;  /* execution id or event id, reported back once acknowledged */
    Floe__MessageType type;
    const uint8_t *payload;
    size_t len;
} lp_msg;

typedef struct lp_tick_job {
    /* in */
    uint64_t epoch;
    const floe_config *cfg;
    int64_t now_s;
    bool republish_all;       /* first tick of a term: everything not acknowledged */
    bool collect;             /* nothing of ours in flight: gather what to (re)publish */
    bool prune;               /* run the retention (launchplan.prune_every has passed) */
    bool reconcile;           /* look for forgotten executions (sched_reconcile) */
    int64_t reconcile_cursor; /* in and out */
    unsigned reconciled;      /* out: orphans requested again */
    const char **acked_req, **acked_data; /* acknowledged since the last tick */
    size_t n_acked_req, n_acked_data;
    /* out */
    floe_arena *arena;
    lp_msg *msgs;
    size_t n_msgs, cap_msgs;
    unsigned launched, skipped, recorded, missed;
    int64_t pruned; /* rows deleted by the retention */
    floe_rc rc;
    floe_err err;
} lp_tick_job;

/* A DataPublished to match against the active triggers. */
typedef struct lp_event {
    const Floe__DataPublished *m;
    const char *envelope_id;
    int64_t time_us; /* envelope time */
    const void *tag; /* the caller's, for telling which events were refused */
} lp_event;

typedef struct lp_data_job {
    uint64_t epoch;
    const lp_event *events;
    size_t n;
    floe_arena *arena;
    unsigned matched, fired, duplicates;
    unsigned refused_publish, refused_trigger; /* a dataset's owner said no (store_dataset.h) */
    uint8_t *bad; /* per event, when the batch was refused for one's content (malloc'd) */
    floe_rc rc;
    floe_err err;
} lp_data_job;

/* Pool side (sched_lp_work.c). */
void lp_tick_work(store_pg *pg, lp_tick_job *j);
void lp_data_work(store_pg *pg, lp_data_job *j);

/* Canonical partition key: "k=v" pairs sorted by key, '/'-joined, with '%', '/' and '='
 * in keys and values percent-encoded. Returns false when it does not fit. */
bool lp_partition_key(const Floe__DataPublished *m, char *buf, size_t size);
/* Whether event m is of the trigger dataset td (name equal, each partition pattern
 * matching the event's value with fnmatch). sched_lp_match.c. */
bool lp_dataset_matches(const Floe__TriggerDataset *td, const Floe__DataPublished *m);

#endif
