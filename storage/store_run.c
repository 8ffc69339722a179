/*
 * store_run — nodes and attempts go in from parallel arrays (unnest), with the
 * execution's row in one statement, so a 10,000-node execution is one statement, not 20,000. The
 * arrays are parameters in PostgreSQL's array-literal syntax with every element quoted and escaped:
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

#define FENCE STORE_PG_FENCE_HOLDS("$2")

/* --- Start ----------------------------------------------------------------------------- */

/* A start's commit does not wait for the WAL to reach the disk (issue 25: with launches
 * through the API one at a time, the fsync of each start cost `many` a third of its
 * throughput). Nothing depends on it surviving a crash of PostgreSQL: the row it moves was
 * committed QUEUED (the API's launch, or store_run_record_many) and stays so if this one
 * is lost; a QUEUED row whose state is in Redis is left alone by the reconcile sweep, and
 * the finish writes the phase, started_at and the epoch whatever the row said. The next
 * synchronous commit on the server, or the WAL writer within wal_writer_delay, flushes it.
 * set_config(..., true) holds for this statement's transaction only. */
#define ASYNC_COMMIT " FROM (SELECT set_config('synchronous_commit', 'off', true)) sc"

/* A QUEUED row moved to RUNNING under this epoch's lease ($1 id, $2 epoch); one already
 * RUNNING under it (recorded so by this replica's API, store_exec's start_epoch, then
 * sent through the bus) is this term's to start as it is: the long way below would say
 * RUNNING after three more statements. */
#define STARTABLE "(phase = 'QUEUED' OR (phase = 'RUNNING' AND epoch = $2::bigint))"
#define START_QUEUED                                                                               \
    "UPDATE executions SET phase = 'RUNNING', epoch = $2::bigint,"                                 \
    " started_at = coalesce(started_at, now()), updated_at = now()" ASYNC_COMMIT                   \
    " WHERE id = $1 AND " STARTABLE " AND " FENCE " RETURNING phase"

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

/* The common case for several executions in one statement and one commit (issue 25:
 * concurrent launches share the commit); $1 the ids, $2 the epoch. */
#define START_QUEUED_MANY                                                                          \
    "UPDATE executions SET phase = 'RUNNING', epoch = $2::bigint,"                                 \
    " started_at = coalesce(started_at, now()), updated_at = now()" ASYNC_COMMIT                   \
    " WHERE id = ANY($1::text[]) AND " STARTABLE " AND " FENCE " RETURNING id"

floe_rc
store_run_start_many(store_pg *pg, uint64_t epoch, const char *const *ids, size_t n, bool *started,
                     floe_err *err)
{
    memset(started, 0, n * sizeof(*started));
    store_pg_arr arr = {0};
    for (size_t i = 0; i < n; i++)
        store_pg_arr_add(&arr, ids[i]);
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {store_pg_arr_end(&arr), ep};
    floe_rc rc = FLOE_OK;
    PGresult *r = NULL;
    if (params[0] == NULL)
        rc = floe_err_sys(err, FLOE_ENOMEM, "start: out of memory");
    else
        rc = store_pg_exec(pg, START_QUEUED_MANY, 2, params, NULL, NULL, &r, err);
    floe_buf_deinit(&arr.buf);
    if (rc != FLOE_OK)
        return rc;
    /* Ids are unique within a batch (one start per execution in flight): a returned id
     * marks the first equal entry not yet marked. */
    for (int row = 0; row < PQntuples(r); row++) {
        const char *id = PQgetvalue(r, row, 0);
        for (size_t i = 0; i < n; i++)
            if (!started[i] && strcmp(ids[i], id) == 0) {
                started[i] = true;
                break;
            }
    }
    PQclear(r);
    return FLOE_OK;
}

floe_rc
store_run_record_many(store_pg *pg, const store_exec *const *ex, size_t n, bool *recorded,
                      floe_err *err)
{
    memset(recorded, 0, n * sizeof(*recorded));
    store_pg_arr arr = {0};
    for (size_t i = 0; i < n; i++)
        store_pg_arr_add(&arr, ex[i]->id);
    const char *params[] = {store_pg_arr_end(&arr)};
    PGresult *r = NULL;
    floe_rc rc = params[0] == NULL
                     ? floe_err_sys(err, FLOE_ENOMEM, "record: out of memory")
                     : store_pg_exec(pg, "SELECT id FROM executions WHERE id = ANY($1::text[])", 1,
                                     params, NULL, NULL, &r, err);
    floe_buf_deinit(&arr.buf);
    if (rc != FLOE_OK)
        return rc;
    bool *absent = recorded; /* absent first, recorded once committed */
    for (size_t i = 0; i < n; i++)
        absent[i] = true;
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(ex[i]->id, PQgetvalue(r, row, 0)) == 0)
                absent[i] = false;
    PQclear(r);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += absent[i];
    if (m == 0)
        return FLOE_OK;
    if ((rc = store_pg_begin(pg, err)) != FLOE_OK)
        goto none;
    for (size_t i = 0; i < n && rc == FLOE_OK; i++) {
        if (!absent[i])
            continue;
        bool seen = false; /* each project ensured once */
        for (size_t k = 0; k < i && !seen; k++)
            seen = absent[k] && strcmp(ex[k]->project, ex[i]->project) == 0;
        if (!seen)
            rc = store_project_ensure(pg, ex[i]->project, err);
        if (rc == FLOE_OK)
            rc = store_exec_insert(pg, ex[i], err);
    }
    if (rc == FLOE_OK && (rc = store_pg_commit(pg, err)) == FLOE_OK)
        return FLOE_OK;
    store_pg_rollback(pg);
none:
    memset(recorded, 0, n * sizeof(*recorded));
    return rc;
}

/* --- Finish ---------------------------------------------------------------------------- */

enum { NODE_COLS = 7, ATTEMPT_COLS = 11 };

static void
nodes_arrays(const store_run_result *res, store_pg_arr a[NODE_COLS])
{
    for (size_t i = 0; i < res->n_nodes; i++) {
        const store_run_node *n = &res->nodes[i];
        store_pg_arr_add(&a[0], n->node_id);
        store_pg_arr_add(&a[1], n->phase);
        store_pg_arr_add_int(&a[2], n->attempts);
        store_pg_arr_add_hex(&a[3], n->outputs, n->outputs_len);
        store_pg_arr_add(&a[4], n->error_kind);
        store_pg_arr_add(&a[5], n->error_code);
        store_pg_arr_add(&a[6], n->error);
    }
}

static void
attempts_arrays(const store_run_result *res, store_pg_arr a[ATTEMPT_COLS])
{
    for (size_t i = 0; i < res->n_attempts; i++) {
        const store_run_attempt *t = &res->attempts[i];
        store_pg_arr_add(&a[0], t->node_id);
        store_pg_arr_add_int(&a[1], t->attempt);
        store_pg_arr_add(&a[2], t->phase);
        store_pg_arr_add(&a[3], t->error_kind);
        store_pg_arr_add(&a[4], t->error_code);
        store_pg_arr_add(&a[5], t->message);
        store_pg_arr_add(&a[6], t->worker);
        store_pg_arr_add_int(&a[7], t->started_us);
        store_pg_arr_add_int(&a[8], t->finished_us);
        store_pg_arr_add(&a[9], t->stdout_uri);
        store_pg_arr_add(&a[10], t->stderr_uri);
    }
}

/* A terminal execution's row, its nodes' and its attempts' in one fenced statement (issue
 * 25: a finish was five round trips and a transaction), for one execution or several (one
 * commit for the finishes that queued together): the node and attempt rows go in from
 * parallel arrays, only for the executions whose fenced UPDATE took (a data-modifying WITH
 * runs whether or not it is read, in the statement's snapshot). $1 the epoch; $2-$7 the
 * executions' arrays; $8-$15 the nodes', $16-$27 the attempts', each led by its
 * execution's id. */
#define FINISH                                                                                     \
    "WITH r AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],"              \
    " $6::bigint[], $7::bigint[]) AS r(id, p, o, m, s, f)),"                                       \
    " done AS (UPDATE executions e SET phase = r.p, outputs = decode(r.o, 'hex'), error = r.m,"    \
    " epoch = $1::bigint, updated_at = now(),"                                                     \
    " started_at = coalesce(e.started_at, CASE WHEN r.s = 0 THEN NULL"                             \
    "   ELSE to_timestamp(r.s / 1e6) END),"                                                        \
    " finished_at = CASE WHEN r.f = 0 THEN now() ELSE to_timestamp(r.f / 1e6) END"                 \
    " FROM r WHERE e.id = r.id AND " STORE_PG_FENCE_HOLDS(                                         \
        "$1") " RETURNING e.id, e.parent_execution, e.parent_node, e.parent_attempt),"             \
              " nodes AS (INSERT INTO node_executions (execution_id, node_id, phase, attempts, "   \
              "outputs,"                                                                           \
              " error_kind, error_code, error)"                                                    \
              " SELECT x, n, p, a, decode(o, 'hex'), k, c, m FROM unnest($8::text[], $9::text[],"  \
              " $10::text[], $11::int[], $12::text[], $13::text[], $14::text[], $15::text[])"      \
              " AS t(x, n, p, a, o, k, c, m) WHERE x IN (SELECT id FROM done)"                     \
              " ON CONFLICT (execution_id, node_id) DO UPDATE SET phase = excluded.phase,"         \
              " attempts = excluded.attempts, outputs = excluded.outputs,"                         \
              " error_kind = excluded.error_kind, error_code = excluded.error_code,"               \
              " error = excluded.error),"                                                          \
              " attempts AS (INSERT INTO node_attempts (execution_id, node_id, attempt, phase, "   \
              "error_kind,"                                                                        \
              " error_code, message, worker, started_at, finished_at, stdout_uri, stderr_uri)"     \
              " SELECT x, n, a, p, k, c, m, w,"                                                    \
              " CASE WHEN s = 0 THEN NULL ELSE to_timestamp(s / 1e6) END,"                         \
              " CASE WHEN f = 0 THEN NULL ELSE to_timestamp(f / 1e6) END, o, e"                    \
              " FROM unnest($16::text[], $17::text[], $18::int[], $19::text[], $20::text[], "      \
              "$21::text[],"                                                                       \
              " $22::text[], $23::text[], $24::bigint[], $25::bigint[], $26::text[], $27::text[])" \
              " AS t(x, n, a, p, k, c, m, w, s, f, o, e) WHERE x IN (SELECT id FROM done)"         \
              " ON CONFLICT (execution_id, node_id, attempt) DO NOTHING)"                          \
              " SELECT id, parent_execution, parent_node, parent_attempt FROM done"

enum { EXEC_COLS = 6, MANY_COLS = EXEC_COLS + 1 + NODE_COLS + 1 + ATTEMPT_COLS };

static void
many_arrays(const store_run_result *const *res, size_t n, store_pg_arr a[MANY_COLS])
{
    store_pg_arr *nodes = a + EXEC_COLS, *atts = nodes + 1 + NODE_COLS;
    for (size_t i = 0; i < n; i++) {
        const store_run_result *r = res[i];
        store_pg_arr_add(&a[0], r->exec_id);
        store_pg_arr_add(&a[1], r->phase);
        store_pg_arr_add_hex(&a[2], r->outputs, r->outputs_len);
        store_pg_arr_add(&a[3], r->error);
        store_pg_arr_add_int(&a[4], r->started_us);
        store_pg_arr_add_int(&a[5], r->finished_us);
        for (size_t k = 0; k < r->n_nodes; k++)
            store_pg_arr_add(&nodes[0], r->exec_id);
        for (size_t k = 0; k < r->n_attempts; k++)
            store_pg_arr_add(&atts[0], r->exec_id);
        nodes_arrays(r, nodes + 1);
        attempts_arrays(r, atts + 1);
    }
}

floe_rc
store_run_finish_many(store_pg *pg, uint64_t epoch, const store_run_result *const *res, size_t n,
                      bool *written, store_run_parent *parents, floe_err *err)
{
    memset(written, 0, n * sizeof(*written));
    memset(parents, 0, n * sizeof(*parents));
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    store_pg_arr arr[MANY_COLS];
    memset(arr, 0, sizeof(arr));
    many_arrays(res, n, arr);
    const char *params[1 + MANY_COLS] = {ep};
    floe_rc rc = FLOE_OK;
    for (int i = 0; i < MANY_COLS; i++)
        if ((params[1 + i] = store_pg_arr_end(&arr[i])) == NULL)
            rc = floe_err_sys(err, FLOE_ENOMEM, "finish: out of memory");
    PGresult *r = NULL;
    if (rc == FLOE_OK)
        rc = store_pg_exec(pg, FINISH, 1 + MANY_COLS, params, NULL, NULL, &r, err);
    for (int i = 0; i < MANY_COLS; i++)
        floe_buf_deinit(&arr[i].buf);
    if (rc != FLOE_OK)
        return rc;
    for (int row = 0; row < PQntuples(r); row++) {
        const char *id = PQgetvalue(r, row, 0);
        size_t i = 0;
        while (i < n && (written[i] || strcmp(res[i]->exec_id, id) != 0))
            i++;
        if (i == n)
            continue;
        written[i] = true;
        if (!PQgetisnull(r, row, 1) && !PQgetisnull(r, row, 2)) {
            snprintf(parents[i].execution, sizeof(parents[i].execution), "%s",
                     PQgetvalue(r, row, 1));
            snprintf(parents[i].node, sizeof(parents[i].node), "%s", PQgetvalue(r, row, 2));
            parents[i].attempt = (uint32_t)strtoul(PQgetvalue(r, row, 3), NULL, 10);
        }
    }
    PQclear(r);
    return FLOE_OK;
}

/* One execution's finish: the same statement; with datasets to publish, in a transaction
 * with their outbox rows. */
static floe_rc
finish_one(store_pg *pg, uint64_t epoch, const store_run_result *res, bool *written,
           store_run_parent *parent, floe_err *err)
{
    floe_rc rc = store_run_finish_many(pg, epoch, &res, 1, written, parent, err);
    for (size_t i = 0; rc == FLOE_OK && *written && i < res->n_pubs; i++) {
        const store_run_pub *p = &res->pubs[i];
        const char *pp[] = {p->event_id, p->dataset, (const char *)p->payload, res->exec_id};
        int plens[4] = {0, 0, (int)p->len, 0}, pfmts[4] = {0, 0, 1, 0};
        PGresult *r;
        if ((rc = store_pg_exec(pg,
                                "INSERT INTO data_outbox (event_id, dataset, payload, execution_id)"
                                " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
                                4, pp, plens, pfmts, &r, err)) == FLOE_OK)
            PQclear(r);
    }
    return rc;
}

floe_rc
store_run_finish(store_pg *pg, uint64_t epoch, const store_run_result *res,
                 store_run_parent *parent, floe_err *err)
{
    store_run_parent none;
    if (parent == NULL)
        parent = &none;
    bool tx = res->n_pubs > 0, written = false;
    floe_rc rc = tx ? store_pg_begin(pg, err) : FLOE_OK;
    if (rc == FLOE_OK) {
        rc = finish_one(pg, epoch, res, &written, parent, err);
        if (tx)
            rc = rc == FLOE_OK && written ? store_pg_commit(pg, err) : (store_pg_rollback(pg), rc);
    }
    if (rc != FLOE_OK || written)
        return rc;
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {res->exec_id, ep};
    PGresult *r;
    if ((rc = store_pg_exec(pg, "SELECT " FENCE ", (SELECT count(*) FROM executions WHERE id = $1)",
                            2, params, NULL, NULL, &r, err)) != FLOE_OK)
        return rc;
    bool current = store_pg_bool(r, 0, 0);
    PQclear(r);
    return current ? floe_err_sys(err, FLOE_ENOTFOUND, "execution %s: no row", res->exec_id)
                   : floe_err_sys(err, FLOE_EFENCED, "epoch %" PRIu64 " no longer holds the lease",
                                  epoch);
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
