#include "store_lineage.h"

#include "store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>

static floe_rc
run(store_pg *pg, const char *sql, int n, const char *const *params, floe_err *err)
{
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, sql, n, params, NULL, NULL, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    return rc;
}

static floe_rc
write_record(store_pg *pg, const store_lin_record *rec, floe_err *err)
{
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%" PRIu32, rec->attempt);
    const char *np[] = {rec->execution_id, rec->node_id,          attempt,           rec->project,
                        rec->domain,       rec->task_name,        rec->task_version, rec->phase,
                        rec->cache_key,    rec->source_execution, rec->source_node};
    floe_rc rc = run(pg,
                     "INSERT INTO lineage_nodes (execution_id, node_id, attempt, project, domain,"
                     " task_name, task_version, phase, cache_key, source_execution, source_node)"
                     " VALUES ($1, $2, $3::int, $4, $5, $6, $7, $8, $9, $10, $11)"
                     " ON CONFLICT (execution_id, node_id) DO NOTHING",
                     11, np, err);
    for (size_t i = 0; i < rec->n_artifacts && rc == FLOE_OK; i++) {
        const store_lin_artifact *a = &rec->artifacts[i];
        char size[24];
        snprintf(size, sizeof(size), "%" PRId64, a->size);
        const char *ap[] = {
            rec->execution_id, a->node_id,  a->role,     a->name,
            a->type,           a->uri,      a->digest,   a->size >= 0 ? size : NULL,
            a->value,          a->src_exec, a->src_node, a->link_by_digest ? "true" : "false"};
        /* The derived-from link resolves by natural key, so records can arrive in any
         * order; a later record of the same artifact fills a link still missing. */
        rc = run(pg,
                 "INSERT INTO artifacts AS x (execution_id, node_id, role, name, type, uri,"
                 " digest, size, value, derived_from) SELECT $1, $2, $3, $4, $5, $6, $7,"
                 " $8::bigint, $9, CASE WHEN $10::text IS NOT NULL THEN (SELECT id FROM"
                 " artifacts WHERE execution_id = $10 AND node_id = $11 AND role = 'output'"
                 " AND name = $4) WHEN $12::boolean THEN (SELECT id FROM artifacts WHERE"
                 " digest = $7 AND role = 'output' AND execution_id <> $1 ORDER BY digest,"
                 " id DESC LIMIT 1) END"
                 " ON CONFLICT (execution_id, node_id, role, name) DO UPDATE SET"
                 " derived_from = coalesce(x.derived_from, EXCLUDED.derived_from)"
                 " WHERE x.derived_from IS NULL AND EXCLUDED.derived_from IS NOT NULL",
                 12, ap, err);
    }
    for (size_t i = 0; i < rec->n_uses && rc == FLOE_OK; i++) {
        const store_lin_use *u = &rec->uses[i];
        if (u->artifact >= rec->n_artifacts)
            continue;
        const store_lin_artifact *a = &rec->artifacts[u->artifact];
        const char *up[] = {rec->execution_id, rec->node_id, u->input,
                            a->node_id,        a->role,      a->name};
        rc = run(pg,
                 "INSERT INTO lineage_uses (execution_id, node_id, input, artifact)"
                 " SELECT $1, $2, $3, id FROM artifacts WHERE execution_id = $1"
                 " AND node_id = $4 AND role = $5 AND name = $6"
                 " ON CONFLICT (execution_id, node_id, input) DO NOTHING",
                 6, up, err);
    }
    return rc;
}

floe_rc
store_lineage_write(store_pg *pg, const store_lin_record *recs, size_t n, floe_err *err)
{
    if (n == 0)
        return FLOE_OK;
    floe_rc rc = store_pg_begin(pg, err);
    for (size_t i = 0; i < n && rc == FLOE_OK; i++)
        rc = write_record(pg, &recs[i], err);
    if (rc == FLOE_OK)
        return store_pg_commit(pg, err);
    store_pg_rollback(pg);
    return rc;
}
