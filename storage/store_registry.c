/*
 * SQL for the registry. Table names come from a fixed switch (store_kind_table), never
 * from input; every value is a $n parameter.
 */
#include "store_registry.h"

#include "floe_spec.pb-c.h"
#include "store_pg_int.h"

#include <stdio.h>
#include <string.h>

const char *
store_kind_table(store_kind kind)
{
    switch (kind) {
    case STORE_TASK:
        return "tasks";
    case STORE_WORKFLOW:
        return "workflows";
    case STORE_LAUNCHPLAN:
        return "launch_plans";
    }
    return "tasks";
}

static const char *
kind_word(store_kind kind)
{
    return kind == STORE_TASK ? "task" : kind == STORE_WORKFLOW ? "workflow" : "launch plan";
}

floe_rc
store_project_ensure(store_pg *pg, const char *project, floe_err *err)
{
    PGresult *r;
    const char *params[] = {project};
    floe_rc rc = store_pg_exec(pg, "INSERT INTO projects (name) VALUES ($1) ON CONFLICT DO NOTHING",
                               1, params, NULL, NULL, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    return rc;
}

floe_rc
store_registry_put(store_pg *pg, const store_entity *e, bool *created, floe_err *err)
{
    char sql[512];
    PGresult *r;
    *created = false;
    const char *params[8] = {e->project,       e->domain,          e->name,
                             e->version,       e->digest,          (const char *)e->spec,
                             e->workflow_name, e->workflow_version};
    int lens[8] = {0, 0, 0, 0, 0, (int)e->spec_len, 0, 0};
    int fmts[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    int n = 6;
    if (e->kind == STORE_LAUNCHPLAN) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO launch_plans (project, domain, name, version, digest, spec,"
                 " workflow_name, workflow_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                 " ON CONFLICT DO NOTHING RETURNING seq");
        n = 8;
    } else {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO %s (project, domain, name, version, digest, spec)"
                 " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING seq",
                 store_kind_table(e->kind));
    }
    floe_rc rc = store_pg_exec(pg, sql, n, params, lens, fmts, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int inserted = PQntuples(r);
    PQclear(r);
    if (inserted == 1) {
        *created = true;
        return FLOE_OK;
    }
    snprintf(sql, sizeof(sql),
             "SELECT digest FROM %s WHERE project = $1 AND domain = $2 AND name = $3"
             " AND version = $4",
             store_kind_table(e->kind));
    if ((rc = store_pg_exec(pg, sql, 4, params, NULL, NULL, &r, err)) != FLOE_OK)
        return rc;
    if (PQntuples(r) != 1) { /* deleted in between: registries never delete */
        PQclear(r);
        return floe_err_sys(err, FLOE_EAGAIN, "%s \"%s\" version \"%s\" changed concurrently",
                            kind_word(e->kind), e->name, e->version);
    }
    bool same = strcmp(PQgetvalue(r, 0, 0), e->digest) == 0;
    char theirs[13];
    snprintf(theirs, sizeof(theirs), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (same)
        return FLOE_OK;
    return floe_err_user(err, FLOE_ECONFLICT,
                         "%s \"%s\" version \"%s\" is already registered with different content "
                         "(digest %.12s..., this one %.12s...); versions are immutable: register "
                         "a new version",
                         kind_word(e->kind), e->name, e->version, theirs, e->digest);
}

#define ENTITY_COLUMNS                                                                             \
    "seq, project, domain, name, version, digest, "                                                \
    "(extract(epoch from created_at) * 1000000)::bigint"

static floe_rc
row_to_entity(PGresult *r, int row, store_kind kind, bool with_spec, floe_arena *arena,
              store_entity *e)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->seq = store_pg_int64(r, row, 0);
    const char **strs[] = {&e->project, &e->domain, &e->name, &e->version, &e->digest};
    for (int c = 0; c < 5; c++) {
        *strs[c] = floe_arena_strndup(arena, PQgetvalue(r, row, c + 1),
                                      (size_t)PQgetlength(r, row, c + 1));
        if (*strs[c] == NULL)
            return FLOE_ENOMEM;
    }
    e->created_us = store_pg_int64(r, row, 6);
    int col = 7;
    if (kind == STORE_LAUNCHPLAN) {
        e->workflow_name =
            floe_arena_strndup(arena, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
        e->workflow_version = floe_arena_strndup(arena, PQgetvalue(r, row, col + 1),
                                                 (size_t)PQgetlength(r, row, col + 1));
        e->active = store_pg_bool(r, row, col + 2);
        if (e->workflow_name == NULL || e->workflow_version == NULL)
            return FLOE_ENOMEM;
        col += 3;
    }
    if (with_spec) {
        size_t len = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &len);
        if (raw == NULL)
            return FLOE_ENOMEM;
        uint8_t *copy = floe_arena_alloc(arena, len ? len : 1);
        if (copy != NULL)
            memcpy(copy, raw, len);
        PQfreemem(raw);
        if (copy == NULL)
            return FLOE_ENOMEM;
        e->spec = copy;
        e->spec_len = len;
    }
    return FLOE_OK;
}

floe_rc
store_registry_get(store_pg *pg, store_kind kind, const char *project, const char *domain,
                   const char *name, const char *version, floe_arena *arena, store_entity *out,
                   floe_err *err)
{
    char sql[512];
    const char *lp = kind == STORE_LAUNCHPLAN ? ", workflow_name, workflow_version, active" : "";
    snprintf(sql, sizeof(sql),
             "SELECT " ENTITY_COLUMNS "%s, spec FROM %s WHERE project = $1 AND domain = $2"
             " AND name = $3 %s ORDER BY %s seq DESC LIMIT 1",
             lp, store_kind_table(kind), version != NULL ? "AND version = $4" : "",
             kind == STORE_LAUNCHPLAN ? "active DESC," : "");
    const char *params[] = {project, domain, name, version};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, sql, version != NULL ? 4 : 3, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return floe_err_user(err, FLOE_ENOTFOUND, "%s \"%s\"%s%s%s not found in %s/%s",
                             kind_word(kind), name, version ? " version \"" : "",
                             version ? version : "", version ? "\"" : "", project, domain);
    }
    rc = row_to_entity(r, 0, kind, true, arena, out);
    PQclear(r);
    return rc == FLOE_OK ? FLOE_OK
                         : floe_err_sys(err, rc, "out of memory reading a %s", kind_word(kind));
}

floe_rc
store_registry_list(store_pg *pg, const store_list_query *q, floe_arena *arena, store_entity **rows,
                    size_t *n, bool *more, floe_err *err)
{
    *rows = NULL;
    *n = 0;
    *more = false;
    char sql[640], before[24], limit[16];
    snprintf(before, sizeof(before), "%lld", (long long)(q->before_seq > 0 ? q->before_seq : 0));
    snprintf(limit, sizeof(limit), "%u", q->limit + 1); /* one more: is there a next page? */
    const char *lp = q->kind == STORE_LAUNCHPLAN ? ", workflow_name, workflow_version, active" : "";
    snprintf(sql, sizeof(sql),
             "SELECT " ENTITY_COLUMNS "%s FROM %s WHERE project = $1 AND domain = $2"
             " AND ($3::text IS NULL OR name = $3) AND ($4::bigint = 0 OR seq < $4)"
             " ORDER BY seq DESC LIMIT $5::int",
             lp, store_kind_table(q->kind));
    const char *params[] = {q->project, q->domain, q->name, before, limit};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, sql, 5, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int count = PQntuples(r);
    if ((unsigned)count > q->limit) {
        *more = true;
        count = (int)q->limit;
    }
    store_entity *out = floe_arena_alloc(arena, (size_t)(count ? count : 1) * sizeof(*out));
    if (out == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < count; i++)
        rc = row_to_entity(r, i, q->kind, false, arena, &out[i]);
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory listing %s", store_kind_table(q->kind));
    *rows = out;
    *n = (size_t)count;
    return FLOE_OK;
}

floe_rc
store_launchplan_activate(store_pg *pg, const char *project, const char *domain, const char *name,
                          const char *version, bool active, floe_err *err)
{
    PGresult *r;
    const char *params[] = {project, domain, name, version};
    floe_rc rc = store_pg_begin(pg, err);
    if (rc != FLOE_OK)
        return rc;
    /* Lock the plan's versions so two activations cannot interleave. */
    rc = store_pg_exec(pg,
                       "SELECT version FROM launch_plans WHERE project = $1 AND domain = $2"
                       " AND name = $3 FOR UPDATE",
                       3, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        goto fail;
    PQclear(r);
    if (active) {
        rc = store_pg_exec(pg,
                           "UPDATE launch_plans SET active = false WHERE project = $1 AND"
                           " domain = $2 AND name = $3 AND active AND version <> $4",
                           4, params, NULL, NULL, &r, err);
        if (rc != FLOE_OK)
            goto fail;
        PQclear(r);
    }
    rc = store_pg_exec(pg,
                       active ? "UPDATE launch_plans SET active = true WHERE project = $1 AND"
                                " domain = $2 AND name = $3 AND version = $4"
                              : "UPDATE launch_plans SET active = false WHERE project = $1 AND"
                                " domain = $2 AND name = $3 AND version = $4",
                       4, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        goto fail;
    bool found = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!found) {
        rc = floe_err_user(err, FLOE_ENOTFOUND,
                           "launch plan \"%s\" version \"%s\" not found in %s/%s", name, version,
                           project, domain);
        goto fail;
    }
    return store_pg_commit(pg, err);
fail:
    store_pg_rollback(pg);
    return rc;
}

uint64_t
store_registry_lp_timeout(store_pg *pg, const char *project, const char *domain, const char *name,
                          const char *version, floe_arena *arena)
{
    store_entity e;
    floe_err err;
    if (name == NULL || store_registry_get(pg, STORE_LAUNCHPLAN, project, domain, name, version,
                                           arena, &e, &err) != FLOE_OK)
        return 0;
    Floe__LaunchPlanSpec *lp =
        floe__launch_plan_spec__unpack(floe_arena_pb_allocator(arena), e.spec_len, e.spec);
    return lp != NULL ? lp->timeout_ms : 0;
}
