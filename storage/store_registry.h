/*
 * store_registry — projects and the immutable, versioned tasks, workflows and launch
 * plans. Synchronous, on a pool thread's connection; every query is parameterised.
 * Returned rows live in the caller's arena.
 */
#ifndef STORE_REGISTRY_H
#define STORE_REGISTRY_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_pg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum store_kind {
    STORE_TASK = 1,
    STORE_WORKFLOW = 2,
    STORE_LAUNCHPLAN = 3,
} store_kind;

typedef struct store_entity {
    store_kind kind;
    const char *project, *domain, *name, *version;
    const char *digest;  /* hex sha256 of spec */
    const uint8_t *spec; /* packed compiled form; NULL in list results */
    size_t spec_len;
    const char *workflow_name; /* launch plans */
    const char *workflow_version;
    bool active; /* launch plans */
    int64_t seq; /* registration order; list cursor */
    int64_t created_us;
} store_entity;

typedef struct store_list_query {
    store_kind kind;
    const char *project, *domain; /* required */
    const char *name;             /* optional: only versions of this name */
    int64_t before_seq;           /* 0: from the newest; else rows with seq < before_seq */
    unsigned limit;               /* 1..1000 */
} store_list_query;

/* Creates the project if it does not exist. */
floe_rc store_project_ensure(store_pg *pg, const char *project, floe_err *err);

/* Inserts e (kind, ids, digest, spec; launch plans: workflow). *created says whether it
 * was new. Same version with the same digest: FLOE_OK, *created false. With another
 * digest: FLOE_ECONFLICT, nothing changed. Run inside a transaction to register several
 * entities all-or-nothing. */
floe_rc store_registry_put(store_pg *pg, const store_entity *e, bool *created, floe_err *err);

/* One version. version NULL: the most recently registered; for a launch plan, its active
 * version when it has one. FLOE_ENOTFOUND when none. */
floe_rc store_registry_get(store_pg *pg, store_kind kind, const char *project, const char *domain,
                           const char *name, const char *version, floe_arena *arena,
                           store_entity *out, floe_err *err);

/* A launch plan version's execution timeout (LaunchPlanSpec.timeout_ms), what a relaunch
 * or a re-request of one of its executions carries again; 0 when it has none or cannot be
 * read. */
uint64_t store_registry_lp_timeout(store_pg *pg, const char *project, const char *domain,
                                   const char *name, const char *version, floe_arena *arena);

/* Newest first. *rows is in arena; *more says whether rows remain after the last. */
floe_rc store_registry_list(store_pg *pg, const store_list_query *q, floe_arena *arena,
                            store_entity **rows, size_t *n, bool *more, floe_err *err);

/* Makes version the one active version of the launch plan (deactivating any other), or,
 * with active false, deactivates it. FLOE_ENOTFOUND when the version does not exist. */
floe_rc store_launchplan_activate(store_pg *pg, const char *project, const char *domain,
                                  const char *name, const char *version, bool active,
                                  floe_err *err);

const char *store_kind_table(store_kind kind);

#endif
