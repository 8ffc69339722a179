#include "store_nodes.h"

#include "store_pg_int.h"

#include <string.h>

static floe_rc
read_attempts(store_pg *pg, const char *id, floe_arena *arena, store_node *nodes, size_t n,
              floe_err *err)
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
    store_attempt *all = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*all));
    if (all == NULL)
        rc = FLOE_ENOMEM;
    /* Both results are in node id order: one merge pass hands each node its attempts. */
    size_t k = 0;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        const char *node = PQgetvalue(r, i, 0);
        while (k < n && strcmp(nodes[k].node_id, node) < 0)
            k++;
        if (k == n || strcmp(nodes[k].node_id, node) != 0)
            continue; /* an attempt of a node not recorded: not shown */
        store_attempt *a = &all[i];
        a->attempt = (int)store_pg_int64(r, i, 1);
        a->phase = store_pg_str(r, i, 2, arena, &rc);
        a->error_kind = store_pg_str(r, i, 3, arena, &rc);
        a->error_code = store_pg_str(r, i, 4, arena, &rc);
        a->message = store_pg_str(r, i, 5, arena, &rc);
        a->worker = store_pg_str(r, i, 6, arena, &rc);
        a->started_us = store_pg_int64(r, i, 7);
        a->finished_us = store_pg_int64(r, i, 8);
        a->stdout_uri = store_pg_str(r, i, 9, arena, &rc);
        a->stderr_uri = store_pg_str(r, i, 10, arena, &rc);
        if (nodes[k].att == NULL)
            nodes[k].att = a;
        nodes[k].n_att++;
    }
    PQclear(r);
    return rc == FLOE_OK ? FLOE_OK : floe_err_sys(err, rc, "out of memory reading attempts");
}

floe_rc
store_nodes_get(store_pg *pg, const char *id, floe_arena *arena, store_node **nodes, size_t *n,
                floe_err *err)
{
    *nodes = NULL;
    *n = 0;
    const char *params[] = {id};
    PGresult *r;
    /* COLLATE "C": the same order as strcmp, for the merge with the attempts. */
    floe_rc rc = store_pg_exec(pg,
                               "SELECT node_id, phase, attempts, error_kind, error_code, error,"
                               " outputs FROM node_executions WHERE execution_id = $1"
                               " ORDER BY node_id COLLATE \"C\"",
                               1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_node *out = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*out));
    if (out == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        store_node *nd = &out[i];
        memset(nd, 0, sizeof(*nd));
        nd->node_id = store_pg_str(r, i, 0, arena, &rc);
        nd->phase = store_pg_str(r, i, 1, arena, &rc);
        nd->attempts = (int)store_pg_int64(r, i, 2);
        nd->error_kind = store_pg_str(r, i, 3, arena, &rc);
        nd->error_code = store_pg_str(r, i, 4, arena, &rc);
        nd->error = store_pg_str(r, i, 5, arena, &rc);
        nd->outputs = store_pg_bytea(r, i, 6, arena, &nd->outputs_len, &rc);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory reading nodes");
    if ((rc = read_attempts(pg, id, arena, out, (size_t)rows, err)) != FLOE_OK)
        return rc;
    *nodes = out;
    *n = (size_t)rows;
    return FLOE_OK;
}
