#include "store_catalog.h"

#include "store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US(col) "(extract(epoch from " col ") * 1000000)::bigint"
#define ENTRY_COLUMNS                                                                              \
    "cache_key, project, domain, task_name, task_version, cache_version, outputs,"                 \
    " execution_id, node_id, attempt, hits, " US("created_at") ", " US("expires_at") ", " US(      \
        "last_hit_at")

static floe_rc
row_entry(PGresult *r, int row, floe_arena *a, store_catalog_entry *e)
{
    floe_rc rc = FLOE_OK;
    memset(e, 0, sizeof(*e));
    e->cache_key = store_pg_str(r, row, 0, a, &rc);
    e->project = store_pg_str(r, row, 1, a, &rc);
    e->domain = store_pg_str(r, row, 2, a, &rc);
    e->task_name = store_pg_str(r, row, 3, a, &rc);
    e->task_version = store_pg_str(r, row, 4, a, &rc);
    e->cache_version = store_pg_str(r, row, 5, a, &rc);
    e->outputs = store_pg_bytea(r, row, 6, a, &e->outputs_len, &rc);
    e->execution_id = store_pg_str(r, row, 7, a, &rc);
    e->node_id = store_pg_str(r, row, 8, a, &rc);
    e->attempt = (uint32_t)store_pg_int64(r, row, 9);
    e->hits = store_pg_int64(r, row, 10);
    e->created_us = store_pg_int64(r, row, 11);
    e->expires_us = store_pg_int64(r, row, 12);
    e->last_hit_us = store_pg_int64(r, row, 13);
    return rc;
}

floe_rc
store_catalog_lookup(store_pg *pg, const char *cache_key, floe_arena *arena,
                     store_catalog_entry *out, floe_err *err)
{
    const char *params[] = {cache_key};
    PGresult *r;
    floe_rc rc =
        store_pg_exec(pg,
                      "UPDATE catalog SET hits = hits + 1, last_hit_at = now()"
                      " WHERE cache_key = $1 AND (expires_at IS NULL OR expires_at > now())"
                      " RETURNING " ENTRY_COLUMNS,
                      1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    if (PQntuples(r) == 0)
        rc = FLOE_ENOTFOUND;
    else if (row_entry(r, 0, arena, out) != FLOE_OK)
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    PQclear(r);
    return rc;
}

floe_rc
store_catalog_record(store_pg *pg, uint64_t epoch, const store_catalog_entry *e, bool overwrite,
                     floe_err *err)
{
    char attempt[16], ttl[24];
    snprintf(attempt, sizeof(attempt), "%" PRIu32, e->attempt);
    snprintf(ttl, sizeof(ttl), "%" PRIu64, e->ttl_s);
    const char *params[] = {e->cache_key,
                            e->project,
                            e->domain,
                            e->task_name,
                            e->task_version,
                            e->cache_version,
                            (const char *)e->outputs,
                            e->execution_id,
                            e->node_id,
                            attempt,
                            ttl,
                            overwrite ? "true" : "false"};
    int lens[12] = {0}, fmts[12] = {0};
    lens[6] = (int)e->outputs_len;
    fmts[6] = 1;
    store_pg_call call = {
        "INSERT INTO catalog AS c (cache_key, project, domain, task_name, task_version,"
        " cache_version, outputs, execution_id, node_id, attempt, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
        " CASE WHEN $11::bigint = 0 THEN NULL ELSE now() + make_interval(secs => $11::bigint) END)"
        " ON CONFLICT (cache_key) DO UPDATE SET task_version = EXCLUDED.task_version,"
        " outputs = EXCLUDED.outputs, execution_id = EXCLUDED.execution_id,"
        " node_id = EXCLUDED.node_id, attempt = EXCLUDED.attempt, hits = 0,"
        " created_at = now(), expires_at = EXCLUDED.expires_at, last_hit_at = NULL"
        " WHERE $12::boolean OR c.expires_at <= now()",
        12, params, lens, fmts};
    PGresult *r;
    size_t failed;
    floe_rc rc = store_pg_pipeline_fenced(pg, epoch, &call, 1, &r, &failed, err);
    if (rc == FLOE_OK)
        PQclear(r);
    return rc;
}

floe_rc
store_catalog_list(store_pg *pg, const char *project, const char *domain, const char *task_name,
                   size_t limit, floe_arena *arena, store_catalog_entry **out, size_t *n,
                   floe_err *err)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > STORE_CATALOG_LIST_MAX)
        limit = STORE_CATALOG_LIST_MAX;
    char lim[16];
    snprintf(lim, sizeof(lim), "%zu", limit);
    const char *params[] = {project, domain, task_name, lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT " ENTRY_COLUMNS " FROM catalog"
                               " WHERE project = $1 AND domain = $2"
                               " AND ($3::text IS NULL OR task_name = $3)"
                               " ORDER BY created_at DESC, cache_key LIMIT $4::int",
                               4, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_catalog_entry *v = rows > 0 ? floe_arena_alloc(arena, (size_t)rows * sizeof(*v)) : NULL;
    if (rows > 0 && v == NULL)
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    for (int i = 0; i < rows && rc == FLOE_OK; i++)
        if (row_entry(r, i, arena, &v[i]) != FLOE_OK)
            rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    PQclear(r);
    if (rc == FLOE_OK) {
        *out = v;
        *n = (size_t)rows;
    }
    return rc;
}

floe_rc
store_catalog_delete(store_pg *pg, uint64_t epoch, const char *project, const char *domain,
                     const char *task_name, const char *cache_key, int64_t *deleted, floe_err *err)
{
    *deleted = 0;
    if (cache_key == NULL && task_name == NULL)
        return floe_err_user(err, FLOE_EINVAL, "name a cache key or a task");
    const char *params[] = {project, domain, task_name, cache_key};
    store_pg_call call = {"DELETE FROM catalog WHERE project = $1 AND domain = $2"
                          " AND ($3::text IS NULL OR task_name = $3)"
                          " AND ($4::text IS NULL OR cache_key = $4)",
                          4, params, NULL, NULL};
    PGresult *r;
    size_t failed;
    floe_rc rc = epoch != 0 ? store_pg_pipeline_fenced(pg, epoch, &call, 1, &r, &failed, err)
                            : store_pg_exec(pg, call.sql, call.n, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return FLOE_OK;
}
