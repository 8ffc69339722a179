/*
 * store_lp — PostgreSQL side of launch plans that launch themselves (docs/launchplans.md):
 * schedule cursors, firings (unique per launch plan and fire key, so an instant or a set
 * of trigger events fires once whatever the failovers), trigger events awaiting their
 * partners, and the outbox of datasets published by finished executions.
 *
 * Writes that decide something are fenced by the leader epoch (FLOE_EFENCED when a newer
 * leader holds the lease). Rows returned live in the caller's arena. Pool threads only.
 */
#ifndef STORE_LP_H
#define STORE_LP_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_exec.h"
#include "store_pg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_lp_key {
    const char *project, *domain, *name;
} store_lp_key;

typedef struct store_lp_active {
    store_lp_key key;
    const char *version;
    const uint8_t *spec; /* packed floe.LaunchPlanSpec */
    size_t spec_len;
    /* Read with the list, so an idle tick is one query whatever the number of plans: the
     * schedule cursor (has_cursor false: never evaluated), and whether any firing of the
     * plan was PENDING. */
    int64_t cursor_s;
    bool has_cursor, pending;
} store_lp_active;

/* Every active launch plan version (at most max), with its cursor and pending flag. */
floe_rc store_lp_active_list(store_pg *pg, size_t max, floe_arena *arena, store_lp_active **out,
                             size_t *n, floe_err *err);

/* --- Schedules ------------------------------------------------------------------------- */

typedef struct store_lp_fire {
    int64_t at_s;      /* the scheduled instant */
    const char *state; /* PENDING or SKIPPED */
    const char *reason;
} store_lp_fire;

/* One fenced transaction: records firings (existing keys are left alone), moves the cursor
 * to cursor_s and adds missed to the plan's count. */
floe_rc store_lp_schedule_record(store_pg *pg, uint64_t epoch, const store_lp_key *k,
                                 const store_lp_fire *f, size_t n, int64_t cursor_s, int64_t missed,
                                 floe_err *err);

/* --- Firings --------------------------------------------------------------------------- */

typedef struct store_lp_firing {
    int64_t id;
    const char *kind; /* schedule | trigger */
    int64_t scheduled_s;
    const char *partition_key;
    const uint8_t *inputs; /* trigger: packed floe.ValueMap; NULL otherwise */
    size_t inputs_len;
} store_lp_firing;

/* Pending firings of a plan, oldest first. */
floe_rc store_lp_pending(store_pg *pg, const store_lp_key *k, unsigned limit, floe_arena *arena,
                         store_lp_firing **out, size_t *n, floe_err *err);
floe_rc store_lp_pending_count(store_pg *pg, const store_lp_key *k, const char *kind,
                               int64_t *count, floe_err *err);
/* A QUEUED or RUNNING execution of the plan (id into buf, empty when none). */
floe_rc store_lp_running(store_pg *pg, const store_lp_key *k, char *buf, size_t size,
                         floe_err *err);
/* Trigger firings launched in the last minute. */
floe_rc store_lp_recent_launches(store_pg *pg, const store_lp_key *k, int64_t *count,
                                 floe_err *err);
/* One fenced transaction: inserts the execution row and marks firing id LAUNCHED with it.
 * FLOE_ECONFLICT when the firing is no longer pending. */
floe_rc store_lp_launch(store_pg *pg, uint64_t epoch, int64_t firing_id, const store_exec *ex,
                        floe_err *err);
floe_rc store_lp_skip(store_pg *pg, uint64_t epoch, int64_t firing_id, const char *reason,
                      floe_err *err);
/* Executions of launched firings whose ExecutionRequested was not acknowledged (all of
 * them, or those launched more than older_s seconds ago). */
floe_rc store_lp_unpublished(store_pg *pg, int older_s, unsigned limit, floe_arena *arena,
                             const char ***ids, size_t *n, floe_err *err);
/* Marks them published; fenced by epoch (FLOE_EFENCED), like the two below. */
floe_rc store_lp_published(store_pg *pg, uint64_t epoch, const char *const *ids, size_t n,
                           floe_err *err);

/* --- Trigger events -------------------------------------------------------------------- */

typedef struct store_lp_event {
    const char *dataset, *partition_key, *event_id;
    const char *uri, *digest;
    int64_t size;
    const char *partition_json;
    const char *producer_execution, *producer_node;
    int64_t published_us;
} store_lp_event;

/* Records ev for plan k; *inserted false when this event id was seen before. */
floe_rc store_lp_event_put(store_pg *pg, const store_lp_key *k, const store_lp_event *ev,
                           bool *inserted, floe_err *err);
/* The oldest event still waiting of each dataset of partition_key. */
floe_rc store_lp_events_waiting(store_pg *pg, const store_lp_key *k, const char *partition_key,
                                floe_arena *arena, store_lp_event **out, size_t *n, floe_err *err);

typedef struct store_lp_tfire {
    const char *fire_key, *partition_key;
    const store_lp_event *events; /* consumed: marked with the firing */
    size_t n_events;
    const uint8_t *inputs;
    size_t inputs_len;
    const char *state, *reason; /* PENDING, or SKIPPED with a reason */
} store_lp_tfire;

/* Records a trigger firing and marks its events; *created false when the key existed. */
floe_rc store_lp_trigger_fire(store_pg *pg, const store_lp_key *k, const store_lp_tfire *f,
                              bool *created, floe_err *err);
/* FLOE_EFENCED unless epoch holds the lease (floe_fence, store_pg_int.h). Inside a
 * transaction, a newer leader cannot take over before it ends. */
floe_rc store_lp_fence(store_pg *pg, uint64_t epoch, floe_err *err);

/* --- Dataset outbox -------------------------------------------------------------------- */

typedef struct store_lp_outbox {
    const char *event_id;
    const uint8_t *payload;
    size_t len;
} store_lp_outbox;

floe_rc store_lp_outbox_unsent(store_pg *pg, unsigned limit, floe_arena *arena,
                               store_lp_outbox **out, size_t *n, floe_err *err);
floe_rc store_lp_outbox_sent(store_pg *pg, uint64_t epoch, const char *const *ids, size_t n,
                             floe_err *err);

/* Retention: deletes up to limit rows of each of the done firings (skipped, or launched and
 * published), the consumed trigger events and the sent outbox rows older than
 * older_than_s; *deleted is how many went. PENDING firings, trigger events still waiting
 * for a partner dataset and unsent rows are kept whatever their age. A replay of an event
 * older than the retention is no longer recognised as a duplicate. */
floe_rc store_lp_prune(store_pg *pg, uint64_t epoch, int64_t older_than_s, unsigned limit,
                       int64_t *deleted, floe_err *err);

/* --- Status (the API) ------------------------------------------------------------------ */

/* {cursor, missed, pending, firings: [...], awaiting: [...], launched_last_minute}; NULL on
 * error. */
json_t *store_lp_status(store_pg *pg, const store_lp_key *k, unsigned n_firings, floe_err *err);

#endif
