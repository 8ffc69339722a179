/*
 * store_run — nodes and attempts go in as one INSERT each, from parallel arrays
 * (unnest), so a 10,000-node execution is three statements, not 20,000. The arrays are
 * parameters in PostgreSQL's array-literal syntax with every element quoted and escaped:
 * values never become SQL.
 */
#include "store_run.h"

#include "floe_envelope.h"
#include "floe_mem.h"
#include "store_pg_int.h"
#include "store_registry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FENCE "(SELECT epoch FROM floe_leader WHERE name = 'scheduler') = $2::bigint"

/* --- Start ----------------------------------------------------------------------------- */

/* A QUEUED row moved to RUNNING under this epoch's lease ($1 id, $2 epoch). */
#define START_QUEUED                                                                               \
    "UPDATE executions SET phase = 'RUNNING', epoch = $2::bigint,"                                 \
    " started_at = coalesce(started_at, now()), updated_at = now()"                                \
    " WHERE id = $1 AND phase = 'QUEUED' AND " FENCE " RETURNING phase"

floe_rc
store_run_start(store_pg *pg, uint64_t epoch, const store_exec *ex, char *phase, floe_err *err)
{
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {ex->id, ep};
    PGresult *r;
    /* The common case in one statement (issue 25: a start was four round trips): the row
     * the API recorded, QUEUED, under this epoch's lease. Anything else takes the long
     * way below, which says why. */
    floe_rc rc = store_pg_exec(pg, START_QUEUED, 2, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    bool started = PQntuples(r) == 1;
    PQclear(r);
    if (started) {
        snprintf(phase, 16, "RUNNING");
        return FLOE_OK;
    }
    rc = store_pg_exec(pg, "SELECT phase FROM executions WHERE id = $1", 1, params, NULL, NULL, &r,
                       err);
    if (rc != FLOE_OK)
        return rc;
    bool exists = PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        if ((rc = store_project_ensure(pg, ex->project, err)) != FLOE_OK)
            return rc;
        rc = store_exec_insert(pg, ex, err);
        if (rc != FLOE_OK && rc != FLOE_ECONFLICT)
            return rc;
    }
    rc = store_pg_exec(pg, START_QUEUED, 2, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    PQclear(r);
    rc = store_pg_exec(pg, "SELECT e.phase, " FENCE " FROM executions e WHERE id = $1", 2, params,
                       NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return floe_err_sys(err, FLOE_ENOTFOUND, "execution %s: no row", ex->id);
    }
    snprintf(phase, 16, "%s", PQgetvalue(r, 0, 0));
    bool current = store_pg_bool(r, 0, 1);
    PQclear(r);
    if (!current)
        return floe_err_sys(err, FLOE_EFENCED, "epoch %" PRIu64 " no longer holds the lease",
                            epoch);
    return FLOE_OK;
}

/* --- Finish ---------------------------------------------------------------------------- */

static floe_rc
finish_nodes(store_pg *pg, const store_run_result *res, floe_err *err)
{
    store_pg_arr ids = {0}, ph = {0}, att = {0}, out = {0}, ek = {0}, ec = {0}, em = {0};
    for (size_t i = 0; i < res->n_nodes; i++) {
        const store_run_node *n = &res->nodes[i];
        store_pg_arr_add(&ids, n->node_id);
        store_pg_arr_add(&ph, n->phase);
        store_pg_arr_add_int(&att, n->attempts);
        store_pg_arr_add_hex(&out, n->outputs, n->outputs_len);
        store_pg_arr_add(&ek, n->error_kind);
        store_pg_arr_add(&ec, n->error_code);
        store_pg_arr_add(&em, n->error);
    }
    const char *params[] = {res->exec_id,           store_pg_arr_end(&ids), store_pg_arr_end(&ph),
                            store_pg_arr_end(&att), store_pg_arr_end(&out), store_pg_arr_end(&ek),
                            store_pg_arr_end(&ec),  store_pg_arr_end(&em)};
    floe_rc rc = FLOE_OK;
    for (int i = 1; i < 8; i++)
        if (params[i] == NULL)
            rc = floe_err_sys(err, FLOE_ENOMEM, "finish: out of memory");
    PGresult *r;
    if (rc == FLOE_OK)
        rc = store_pg_exec(
            pg,
            "INSERT INTO node_executions (execution_id, node_id, phase, attempts, outputs,"
            " error_kind, error_code, error)"
            " SELECT $1, n, p, a, decode(o, 'hex'), k, c, m FROM unnest($2::text[], $3::text[],"
            " $4::int[], $5::text[], $6::text[], $7::text[], $8::text[]) AS t(n, p, a, o, k, c, m)"
            " ON CONFLICT (execution_id, node_id) DO UPDATE SET phase = excluded.phase,"
            " attempts = excluded.attempts, outputs = excluded.outputs,"
            " error_kind = excluded.error_kind, error_code = excluded.error_code,"
            " error = excluded.error",
            8, params, NULL, NULL, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    store_pg_arr *all[] = {&ids, &ph, &att, &out, &ek, &ec, &em};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        floe_buf_deinit(&all[i]->buf);
    return rc;
}

static floe_rc
finish_attempts(store_pg *pg, const store_run_result *res, floe_err *err)
{
    store_pg_arr ids = {0}, at = {0}, ph = {0}, ek = {0}, ec = {0}, msg = {0}, wk = {0}, st = {0},
                 fin = {0}, so = {0}, se = {0};
    for (size_t i = 0; i < res->n_attempts; i++) {
        const store_run_attempt *a = &res->attempts[i];
        store_pg_arr_add(&ids, a->node_id);
        store_pg_arr_add_int(&at, a->attempt);
        store_pg_arr_add(&ph, a->phase);
        store_pg_arr_add(&ek, a->error_kind);
        store_pg_arr_add(&ec, a->error_code);
        store_pg_arr_add(&msg, a->message);
        store_pg_arr_add(&wk, a->worker);
        store_pg_arr_add_int(&st, a->started_us);
        store_pg_arr_add_int(&fin, a->finished_us);
        store_pg_arr_add(&so, a->stdout_uri);
        store_pg_arr_add(&se, a->stderr_uri);
    }
    const char *params[] = {res->exec_id,           store_pg_arr_end(&ids), store_pg_arr_end(&at),
                            store_pg_arr_end(&ph),  store_pg_arr_end(&ek),  store_pg_arr_end(&ec),
                            store_pg_arr_end(&msg), store_pg_arr_end(&wk),  store_pg_arr_end(&st),
                            store_pg_arr_end(&fin), store_pg_arr_end(&so),  store_pg_arr_end(&se)};
    floe_rc rc = FLOE_OK;
    for (int i = 1; i < 12; i++)
        if (params[i] == NULL)
            rc = floe_err_sys(err, FLOE_ENOMEM, "finish: out of memory");
    PGresult *r;
    if (rc == FLOE_OK)
        rc = store_pg_exec(
            pg,
            "INSERT INTO node_attempts (execution_id, node_id, attempt, phase, error_kind,"
            " error_code, message, worker, started_at, finished_at, stdout_uri, stderr_uri)"
            " SELECT $1, n, a, p, k, c, m, w,"
            " CASE WHEN s = 0 THEN NULL ELSE to_timestamp(s / 1e6) END,"
            " CASE WHEN f = 0 THEN NULL ELSE to_timestamp(f / 1e6) END, o, e"
            " FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],"
            " $8::text[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])"
            " AS t(n, a, p, k, c, m, w, s, f, o, e)"
            " ON CONFLICT (execution_id, node_id, attempt) DO NOTHING",
            12, params, NULL, NULL, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    store_pg_arr *all[] = {&ids, &at, &ph, &ek, &ec, &msg, &wk, &st, &fin, &so, &se};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        floe_buf_deinit(&all[i]->buf);
    return rc;
}

floe_rc
store_run_finish(store_pg *pg, uint64_t epoch, const store_run_result *res,
                 store_run_parent *parent, floe_err *err)
{
    if (parent != NULL)
        memset(parent, 0, sizeof(*parent));
    char ep[24], st[24], fin[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    snprintf(st, sizeof(st), "%" PRId64, res->started_us);
    snprintf(fin, sizeof(fin), "%" PRId64, res->finished_us);
    const char *params[] = {res->exec_id, ep, res->phase, (const char *)res->outputs,
                            res->error,   st, fin};
    int lens[7] = {0, 0, 0, (int)res->outputs_len, 0, 0, 0};
    int fmts[7] = {0, 0, 0, 1, 0, 0, 0};
    floe_rc rc = store_pg_begin(pg, err);
    if (rc != FLOE_OK)
        return rc;
    PGresult *r;
    rc = store_pg_exec(pg,
                       "UPDATE executions SET phase = $3, outputs = $4, error = $5,"
                       " epoch = $2::bigint, updated_at = now(),"
                       " started_at = coalesce(started_at, CASE WHEN $6::bigint = 0 THEN NULL"
                       "   ELSE to_timestamp($6::bigint / 1e6) END),"
                       " finished_at = CASE WHEN $7::bigint = 0 THEN now()"
                       "   ELSE to_timestamp($7::bigint / 1e6) END"
                       " WHERE id = $1 AND " FENCE
                       " RETURNING parent_execution, parent_node, parent_attempt",
                       7, params, lens, fmts, &r, err);
    if (rc != FLOE_OK)
        goto fail;
    bool updated = PQntuples(r) == 1;
    if (updated && parent != NULL && !PQgetisnull(r, 0, 0) && !PQgetisnull(r, 0, 1)) {
        snprintf(parent->execution, sizeof(parent->execution), "%s", PQgetvalue(r, 0, 0));
        snprintf(parent->node, sizeof(parent->node), "%s", PQgetvalue(r, 0, 1));
        parent->attempt = (uint32_t)strtoul(PQgetvalue(r, 0, 2), NULL, 10);
    }
    PQclear(r);
    if (!updated) {
        rc = store_pg_exec(pg, "SELECT " FENCE ", (SELECT count(*) FROM executions WHERE id = $1)",
                           2, params, NULL, NULL, &r, err);
        if (rc != FLOE_OK)
            goto fail;
        bool current = store_pg_bool(r, 0, 0);
        PQclear(r);
        rc = current ? floe_err_sys(err, FLOE_ENOTFOUND, "execution %s: no row", res->exec_id)
                     : floe_err_sys(err, FLOE_EFENCED,
                                    "epoch %" PRIu64 " no longer holds the lease", epoch);
        goto fail;
    }
    if ((rc = finish_nodes(pg, res, err)) != FLOE_OK ||
        (rc = finish_attempts(pg, res, err)) != FLOE_OK)
        goto fail;
    for (size_t i = 0; i < res->n_pubs; i++) {
        const store_run_pub *p = &res->pubs[i];
        const char *pp[] = {p->event_id, p->dataset, (const char *)p->payload, res->exec_id};
        int plens[4] = {0, 0, (int)p->len, 0}, pfmts[4] = {0, 0, 1, 0};
        if ((rc = store_pg_exec(pg,
                                "INSERT INTO data_outbox (event_id, dataset, payload, execution_id)"
                                " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
                                4, pp, plens, pfmts, &r, err)) != FLOE_OK)
            goto fail;
        PQclear(r);
    }
    return store_pg_commit(pg, err);
fail:
    store_pg_rollback(pg);
    return rc;
}

/* --- Recover --------------------------------------------------------------------------- */

floe_rc
store_run_recoverable(store_pg *pg, const store_exec *ex, floe_arena *arena, store_run_node **out,
                      size_t *n, floe_err *err)
{
    *out = NULL;
    *n = 0;
    const char *params[] = {ex->source_execution, ex->project, ex->domain, ex->workflow_name,
                            ex->workflow_version};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "SELECT n.node_id, n.phase, n.outputs FROM node_executions n JOIN executions e"
        " ON e.id = n.execution_id WHERE e.id = $1 AND e.project = $2 AND e.domain = $3"
        " AND e.workflow_name = $4 AND e.workflow_version = $5"
        " AND n.phase IN ('SUCCEEDED', 'CACHED', 'RECOVERED') AND n.outputs IS NOT NULL",
        5, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_run_node *v = rows > 0 ? floe_arena_alloc(arena, (size_t)rows * sizeof(*v)) : NULL;
    if (rows > 0 && v == NULL)
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    for (int i = 0; i < rows && rc == FLOE_OK; i++) {
        memset(&v[i], 0, sizeof(v[i]));
        v[i].node_id = store_pg_str(r, i, 0, arena, &rc);
        v[i].phase = store_pg_str(r, i, 1, arena, &rc);
        v[i].outputs = store_pg_bytea(r, i, 2, arena, &v[i].outputs_len, &rc);
        if (rc != FLOE_OK)
            floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    }
    PQclear(r);
    if (rc == FLOE_OK) {
        *out = v;
        *n = (size_t)rows;
    }
    return rc;
}
