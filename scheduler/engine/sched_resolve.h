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

#endif
