/*
 * sched_resolve — the spec compiler's resolver (spec_env.resolve) over the registry: a
 * task, workflow or launch plan registered in one project and domain. Shared by the API's
 * registrations and the engine's dynamic workflows, so both compile against the same
 * rules. Pool threads (PostgreSQL).
 */
#ifndef SCHED_RESOLVE_H
#define SCHED_RESOLVE_H

#include "spec.h"
#include "store_pg.h"

typedef struct sched_resolve_scope {
    store_pg *pg;
    const char *project, *domain;
} sched_resolve_scope;

/* A spec_resolve_fn whose arg is a sched_resolve_scope. */
floe_rc sched_resolve(void *arg, spec_kind kind, const char *name, const char *version,
                      floe_arena *arena, const uint8_t **data, size_t *len, floe_err *err);

/* The configured resource classes ("a,b,c", the first the default) as spec_env wants
 * them, in a; NULL when out of memory. */
const char **sched_resolve_classes(const char *csv, floe_arena *a, size_t *n);

#endif
