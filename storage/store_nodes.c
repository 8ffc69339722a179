#include "store_nodes.h"

#include "store_pg_int.h"

#include <string.h>

static floe_rc
read_attempts(store_pg *pg, const char *id, floe_arena *arena, store_nodes *out, floe_err *err)
{
    const char *params[] = {id};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT node_id, attempt, phase, error_kind, error_code, message,"
                               " worker, (extract(epoch from started_at) * 1000000)::bigint,"
                               " (extract(epoch from finished_at) * 1000000)::bigint, stdout_uri,"
                               " stderr_uri FROM node_attempts WHERE execution_id = $1"
                               " ORDER BY node_id COLLATE \"C\", attempt",
                               1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    out->att = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*out->att));
    if (out->att == NULL)
        rc = FLOE_ENOMEM;
    /* Both results are in node id order: one merge pass groups the attempts by node. */
    size_t k = 0, w = 0;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        const char *node = PQgetvalue(r, i, 0);
        while (k < out->n && strcmp(out->nodes[k].node_id, node) < 0)
            k++;
        if (k == out->n || strcmp(out->nodes[k].node_id, node) != 0)
            continue; /* an attempt of a node not recorded: not shown */
        store_run_attempt *a = &out->att[w];
        memset(a, 0, sizeof(*a));
        a->node_id = out->nodes[k].node_id;
        a->attempt = (uint32_t)store_pg_int64(r, i, 1);
        a->phase = store_pg_str(r, i, 2, arena, &rc);
        a->error_kind = store_pg_str(r, i, 3, arena, &rc);
        a->error_code = store_pg_str(r, i, 4, arena, &rc);
        a->message = store_pg_str(r, i, 5, arena, &rc);
        a->worker = store_pg_str(r, i, 6, arena, &rc);
        a->started_us = store_pg_int64(r, i, 7);
        a->finished_us = store_pg_int64(r, i, 8);
        a->stdout_uri = store_pg_str(r, i, 9, arena, &rc);
        a->stderr_uri = store_pg_str(r, i, 10, arena, &rc);
        if (out->count[k]++ == 0)
            out->first[k] = w;
        w++;
    }
    PQclear(r);
    return rc == FLOE_OK ? FLOE_OK : floe_err_sys(err, rc, "out of memory reading attempts");
}

floe_rc
store_nodes_get(store_pg *pg, const char *id, floe_arena *arena, store_nodes *out, floe_err *err)
{
    memset(out, 0, sizeof(*out));
    const char *params[] = {id};
    PGresult *r;
    /* COLLATE "C": the order strcmp sees, for the merge with the attempts. */
    floe_rc rc = store_pg_exec(pg,
                               "SELECT node_id, phase, attempts, error_kind, error_code, error,"
                               " outputs FROM node_executions WHERE execution_id = $1"
                               " ORDER BY node_id COLLATE \"C\"",
                               1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    size_t rows = (size_t)PQntuples(r);
    out->nodes = floe_arena_alloc(arena, (rows + 1) * sizeof(*out->nodes));
    out->first = floe_arena_alloc(arena, (rows + 1) * sizeof(size_t));
    out->count = floe_arena_alloc(arena, (rows + 1) * sizeof(size_t));
    if (out->nodes == NULL || out->first == NULL || out->count == NULL)
        rc = FLOE_ENOMEM;
    for (size_t i = 0; rc == FLOE_OK && i < rows; i++) {
        store_run_node *nd = &out->nodes[i];
        memset(nd, 0, sizeof(*nd));
        out->first[i] = out->count[i] = 0;
        nd->node_id = store_pg_str(r, (int)i, 0, arena, &rc);
        nd->phase = store_pg_str(r, (int)i, 1, arena, &rc);
        nd->attempts = (uint32_t)store_pg_int64(r, (int)i, 2);
        nd->error_kind = store_pg_str(r, (int)i, 3, arena, &rc);
        nd->error_code = store_pg_str(r, (int)i, 4, arena, &rc);
        nd->error = store_pg_str(r, (int)i, 5, arena, &rc);
        nd->outputs = store_pg_bytea(r, (int)i, 6, arena, &nd->outputs_len, &rc);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory reading nodes");
    out->n = rows;
    return read_attempts(pg, id, arena, out, err);
}
