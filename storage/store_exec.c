#include "store_exec.h"
#include "store_auth.h"

#include "store_pg_int.h"

#include "floe_mem.h"

#include <stdio.h>
#include <string.h>

#define INSERT_COLUMNS                                                                             \
    "INSERT INTO executions (id, project, domain, workflow_name, workflow_version,"                \
    " launch_plan_name, launch_plan_version, inputs, requested_by, source_execution,"              \
    " recover, no_cache, overwrite_cache, scheduled_at, labels"
#define INSERT_VALUES                                                                              \
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"                             \
    " CASE WHEN $14::bigint = 0 THEN NULL ELSE to_timestamp($14::bigint / 1e6) END,"               \
    " COALESCE($15::jsonb, '{}'::jsonb)"
#define INSERT_EXEC INSERT_COLUMNS ")" INSERT_VALUES ")"
/* Recorded RUNNING under epoch EP (a parameter) when the lease holds it, as the engine's
 * start would have moved it (store_run.c's START_QUEUED, the same fence); else QUEUED. The
 * fence is asked once (a CTE read three times), not once a column. */
#define LEASE_CTE(EP) "lease AS MATERIALIZED (SELECT floe_fence_holds(" EP "::bigint) AS h)"
#define HOLDS "(SELECT h FROM lease)"
#define INSERT_EXEC_STARTED(EP)                                                                    \
    INSERT_COLUMNS                                                                                 \
    ", phase, epoch, started_at)" INSERT_VALUES ", CASE WHEN " HOLDS                               \
    " THEN 'RUNNING' ELSE 'QUEUED' END, CASE WHEN " HOLDS " THEN " EP                              \
    "::bigint ELSE 0 END, CASE WHEN " HOLDS " THEN now() END) RETURNING phase"
/* A data-modifying WITH runs whether or not the statement reads it, in the statement's
 * transaction: both rows or neither. */
#define AUDIT_CTE                                                                                  \
    "audited AS (INSERT INTO audit_log (" STORE_AUDIT_COLUMNS ") VALUES ($16, $17, $18, $19,"      \
    " $20, $21::integer, $22, $23))"

/* $1-$9 of both inserts: the execution's identity, inputs and requester. */
static void
exec_params(const store_exec *ex, const char **p)
{
    const char *v[9] = {ex->id,
                        ex->project,
                        ex->domain,
                        ex->workflow_name,
                        ex->workflow_version,
                        ex->launch_plan_name,
                        ex->launch_plan_version,
                        (const char *)ex->inputs,
                        ex->requested_by != NULL ? ex->requested_by : ""};
    memcpy(p, v, sizeof(v));
}

/* The epoch is the parameter after the others: $24 after an audit row's, else $16. */
static const char *
insert_sql(const store_exec *ex)
{
    if (ex->start_epoch == 0)
        return ex->audit != NULL ? "WITH " AUDIT_CTE " " INSERT_EXEC : INSERT_EXEC;
    return ex->audit != NULL ? "WITH " AUDIT_CTE
                               ", " LEASE_CTE("$24") " " INSERT_EXEC_STARTED("$24")
                             : "WITH " LEASE_CTE("$16") " " INSERT_EXEC_STARTED("$16");
}

/* One insert's parameters, kept while its statement is out. */
typedef struct insert_args {
    const char *params[24];
    int lens[24];
    int fmts[24];
    int n;
    char scheduled[24], epoch[24], status[16];
} insert_args;

static store_pg_call
insert_call(const store_exec *ex, insert_args *a)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->scheduled, sizeof(a->scheduled), "%lld", (long long)ex->scheduled_us);
    snprintf(a->epoch, sizeof(a->epoch), "%llu", (unsigned long long)ex->start_epoch);
    exec_params(ex, a->params);
    a->params[9] = ex->source_execution;
    a->params[10] = ex->recover ? "true" : "false";
    a->params[11] = ex->no_cache ? "true" : "false";
    a->params[12] = ex->overwrite_cache ? "true" : "false";
    a->params[13] = a->scheduled;
    a->params[14] = ex->labels;
    a->lens[7] = (int)ex->inputs_len;
    a->fmts[7] = 1;
    a->n = 15;
    if (ex->audit != NULL) {
        store_audit_params(ex->audit, a->status, a->params + 15);
        a->n = 23;
    }
    if (ex->start_epoch != 0)
        a->params[a->n++] = a->epoch;
    return (store_pg_call){insert_sql(ex), a->n, a->params, a->lens, a->fmts};
}

/* Whether r (an insert's RETURNING phase) says ex was recorded started. */
static bool
insert_started(const store_exec *ex, const PGresult *r)
{
    return ex->start_epoch != 0 && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "RUNNING") == 0;
}

static floe_rc
insert_one(store_pg *pg, const store_exec *ex, bool *started, floe_err *err)
{
    insert_args a;
    store_pg_call c = insert_call(ex, &a);
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, c.sql, c.n, c.params, c.lens, c.formats, &r, err);
    if (started != NULL)
        *started = rc == FLOE_OK && insert_started(ex, r);
    if (rc == FLOE_OK)
        PQclear(r);
    else if (rc == FLOE_ECONFLICT)
        floe_err_user(err, FLOE_ECONFLICT, "execution \"%s\" already exists", ex->id);
    return rc;
}

floe_rc
store_exec_insert(store_pg *pg, const store_exec *ex, floe_err *err)
{
    return insert_one(pg, ex, NULL, err);
}

/* All of ex in one transaction sent at once (a pipeline): FLOE_OK with started[] set
 * (when not NULL), or nothing written, err says why and *failed which statement failed (n:
 * the commit or the connection, the same for all; 0 with FLOE_ENOMEM: not tried). */
static floe_rc
insert_pipelined(store_pg *pg, const store_exec *const *ex, size_t n, floe_err *err, size_t *failed,
                 bool *started)
{
    insert_args *a = floe_malloc(n * sizeof(*a));
    store_pg_call *calls = floe_malloc(n * sizeof(*calls));
    PGresult **res = floe_malloc(n * sizeof(*res));
    floe_rc rc = FLOE_ENOMEM;
    *failed = 0;
    if (a != NULL && calls != NULL && res != NULL) {
        for (size_t i = 0; i < n; i++)
            calls[i] = insert_call(ex[i], &a[i]);
        rc = store_pg_pipeline(pg, calls, n, res, failed, err);
        for (size_t i = 0; rc == FLOE_OK && i < n; i++) {
            if (started != NULL)
                started[i] = insert_started(ex[i], res[i]);
            PQclear(res[i]);
        }
    } else {
        floe_err_sys(err, FLOE_ENOMEM, "postgres: out of memory");
    }
    floe_free(res);
    floe_free(calls);
    floe_free(a);
    return rc;
}

void
store_exec_insert_many(store_pg *pg, const store_exec *const *ex, size_t n, floe_err *const *errs,
                       bool *started)
{
    if (n > 1) {
        size_t failed;
        floe_rc rc = insert_pipelined(pg, ex, n, errs[0], &failed, started);
        if (rc == FLOE_OK)
            return;
        if (failed == n) { /* the commit: none or all of them */
            for (size_t k = 0; k < n; k++) {
                *errs[k] = *errs[0];
                if (started != NULL)
                    started[k] = false;
            }
            return;
        }
    }
    /* One of them was refused (or alone): each on its own, so the others are written and
     * the one says why. */
    for (size_t i = 0; i < n; i++) {
        floe_err_clear(errs[i]);
        bool one = false;
        insert_one(pg, ex[i], &one, errs[i]);
        if (started != NULL)
            started[i] = one;
    }
}

#define EXEC_COLUMNS                                                                               \
    "id, project, domain, workflow_name, workflow_version, launch_plan_name,"                      \
    " launch_plan_version, phase, requested_by, source_execution, error, recover, no_cache,"       \
    " overwrite_cache, seq,"                                                                       \
    " (extract(epoch from scheduled_at) * 1000000)::bigint,"                                       \
    " (extract(epoch from created_at) * 1000000)::bigint,"                                         \
    " (extract(epoch from updated_at) * 1000000)::bigint,"                                         \
    " (extract(epoch from started_at) * 1000000)::bigint,"                                         \
    " (extract(epoch from finished_at) * 1000000)::bigint, inputs, outputs, labels::text,"         \
    " parent_execution, parent_node, parent_attempt, nesting"

static floe_rc
row_to_exec(PGresult *r, int row, floe_arena *arena, store_exec *ex)
{
    floe_rc rc = FLOE_OK;
    memset(ex, 0, sizeof(*ex));
    ex->id = store_pg_str(r, row, 0, arena, &rc);
    ex->project = store_pg_str(r, row, 1, arena, &rc);
    ex->domain = store_pg_str(r, row, 2, arena, &rc);
    ex->workflow_name = store_pg_str(r, row, 3, arena, &rc);
    ex->workflow_version = store_pg_str(r, row, 4, arena, &rc);
    ex->launch_plan_name = store_pg_str(r, row, 5, arena, &rc);
    ex->launch_plan_version = store_pg_str(r, row, 6, arena, &rc);
    ex->phase = store_pg_str(r, row, 7, arena, &rc);
    ex->requested_by = store_pg_str(r, row, 8, arena, &rc);
    ex->source_execution = store_pg_str(r, row, 9, arena, &rc);
    ex->error = store_pg_str(r, row, 10, arena, &rc);
    ex->recover = store_pg_bool(r, row, 11);
    ex->no_cache = store_pg_bool(r, row, 12);
    ex->overwrite_cache = store_pg_bool(r, row, 13);
    ex->seq = store_pg_int64(r, row, 14);
    ex->scheduled_us = store_pg_int64(r, row, 15);
    ex->created_us = store_pg_int64(r, row, 16);
    ex->updated_us = store_pg_int64(r, row, 17);
    ex->started_us = store_pg_int64(r, row, 18);
    ex->finished_us = store_pg_int64(r, row, 19);
    ex->inputs = store_pg_bytea(r, row, 20, arena, &ex->inputs_len, &rc);
    ex->outputs = store_pg_bytea(r, row, 21, arena, &ex->outputs_len, &rc);
    ex->labels = store_pg_str(r, row, 22, arena, &rc);
    ex->parent_execution = store_pg_str(r, row, 23, arena, &rc);
    ex->parent_node = store_pg_str(r, row, 24, arena, &rc);
    ex->parent_attempt = (uint32_t)store_pg_int64(r, row, 25);
    ex->nesting = (uint32_t)store_pg_int64(r, row, 26);
    return rc;
}

floe_rc
store_exec_get(store_pg *pg, const char *id, floe_arena *arena, store_exec *out, floe_err *err)
{
    const char *params[] = {id};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, "SELECT " EXEC_COLUMNS " FROM executions WHERE id = $1", 1,
                               params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return floe_err_user(err, FLOE_ENOTFOUND, "execution \"%s\" not found", id);
    }
    rc = row_to_exec(r, 0, arena, out);
    PQclear(r);
    return rc == FLOE_OK ? FLOE_OK : floe_err_sys(err, rc, "out of memory reading an execution");
}

/* The first count rows of r (cleared here) as executions in arena. */
static floe_rc
rows_take(PGresult *r, int count, floe_arena *arena, store_exec **rows, size_t *n, floe_err *err)
{
    floe_rc rc = FLOE_OK;
    store_exec *out = floe_arena_alloc(arena, (size_t)(count ? count : 1) * sizeof(*out));
    if (out == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < count; i++)
        rc = row_to_exec(r, i, arena, &out[i]);
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory listing executions");
    *rows = out;
    *n = (size_t)count;
    return FLOE_OK;
}

floe_rc
store_exec_list(store_pg *pg, const store_exec_query *q, floe_arena *arena, store_exec **rows,
                size_t *n, bool *more, floe_err *err)
{
    *rows = NULL;
    *n = 0;
    *more = false;
    char before[24], limit[16], after_us[24], before_us[24];
    snprintf(before, sizeof(before), "%lld", (long long)(q->before_seq > 0 ? q->before_seq : 0));
    snprintf(limit, sizeof(limit), "%u", q->limit + 1);
    snprintf(after_us, sizeof(after_us), "%lld", (long long)q->created_after_us);
    snprintf(before_us, sizeof(before_us), "%lld", (long long)q->created_before_us);
    const char *params[] = {
        q->project,          q->domain,       q->phase, q->workflow_name, before,   limit,
        q->launch_plan_name, q->requested_by, after_us, before_us,        q->labels};
    PGresult *r;
    floe_rc rc =
        store_pg_exec(pg,
                      "SELECT " EXEC_COLUMNS " FROM executions WHERE project = $1 AND"
                      " domain = $2 AND ($3::text IS NULL OR phase = $3) AND"
                      " ($4::text IS NULL OR workflow_name = $4) AND"
                      " ($7::text IS NULL OR launch_plan_name = $7) AND"
                      " ($8::text IS NULL OR requested_by = $8) AND"
                      " ($11::jsonb IS NULL OR labels @> $11::jsonb) AND"
                      " ($9::bigint = 0 OR created_at >= to_timestamp($9::bigint / 1e6)) AND"
                      " ($10::bigint = 0 OR created_at < to_timestamp($10::bigint / 1e6)) AND"
                      " ($5::bigint = 0 OR seq < $5) ORDER BY seq DESC LIMIT $6::int",
                      11, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int count = PQntuples(r);
    if ((unsigned)count > q->limit) {
        *more = true;
        count = (int)q->limit;
    }
    return rows_take(r, count, arena, rows, n, err);
}

floe_rc
store_exec_running(store_pg *pg, int64_t after_seq, int64_t min_age_ms, unsigned limit,
                   floe_arena *arena, store_exec **rows, size_t *n, floe_err *err)
{
    *rows = NULL;
    *n = 0;
    char after[24], age[24], lim[16];
    snprintf(after, sizeof(after), "%lld", (long long)after_seq);
    snprintf(age, sizeof(age), "%lld", (long long)min_age_ms);
    snprintf(lim, sizeof(lim), "%u", limit);
    const char *params[] = {after, age, lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT " EXEC_COLUMNS " FROM executions WHERE phase IN"
                               " ('QUEUED', 'RUNNING') AND seq > $1::bigint AND"
                               " COALESCE(started_at, created_at) < now() - $2::bigint *"
                               " interval '1 millisecond' ORDER BY seq LIMIT $3::int",
                               3, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    return rows_take(r, PQntuples(r), arena, rows, n, err);
}

/* --- Child executions ------------------------------------------------------------------ */

floe_rc
store_exec_child_insert(store_pg *pg, const store_exec *ex, uint32_t max_nesting, floe_err *err)
{
    char att[16], maxn[16];
    snprintf(att, sizeof(att), "%u", ex->parent_attempt);
    snprintf(maxn, sizeof(maxn), "%u", max_nesting);
    const char *params[13] = {0};
    exec_params(ex, params);
    params[9] = ex->parent_execution;
    params[10] = ex->parent_node;
    params[11] = att;
    params[12] = maxn;
    int lens[13] = {0}, fmts[13] = {0};
    lens[7] = (int)ex->inputs_len;
    fmts[7] = 1;
    PGresult *r;
    /* The parent's row gives the nesting; none at all (a parent recorded nowhere) counts
     * as the top. A child that exists already is left as it is. */
    floe_rc rc = store_pg_exec(
        pg,
        "WITH p AS (SELECT coalesce((SELECT nesting FROM executions WHERE id = $10), 0) + 1 AS n)"
        " INSERT INTO executions (id, project, domain, workflow_name, workflow_version,"
        " launch_plan_name, launch_plan_version, inputs, requested_by, parent_execution,"
        " parent_node, parent_attempt, nesting)"
        " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::int, p.n FROM p"
        " WHERE p.n <= $13::int ON CONFLICT (id) DO NOTHING RETURNING nesting",
        13, params, lens, fmts, &r, err);
    if (rc != FLOE_OK)
        return rc;
    PQclear(r);
    const char *q[] = {ex->id};
    if ((rc = store_pg_exec(pg, "SELECT 1 FROM executions WHERE id = $1", 1, q, NULL, NULL, &r,
                            err)) != FLOE_OK)
        return rc;
    bool exists = PQntuples(r) == 1;
    PQclear(r);
    return exists ? FLOE_OK
                  : floe_err_user(err, FLOE_ETOOBIG,
                                  "child executions nest %u deep at most (spec.max_depth)",
                                  max_nesting);
}

floe_rc
store_exec_children(store_pg *pg, const char *parent, bool live_only, unsigned limit,
                    floe_arena *arena, store_exec **rows, size_t *n, floe_err *err)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%u", limit);
    const char *params[] = {parent, lim, live_only ? "true" : "false"};
    PGresult *r;
    *rows = NULL;
    *n = 0;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT " EXEC_COLUMNS " FROM executions WHERE parent_execution = $1"
                               " AND (NOT $3::boolean OR phase IN ('QUEUED', 'RUNNING'))"
                               " ORDER BY seq LIMIT $2::bigint",
                               3, params, NULL, NULL, &r, err);
    return rc != FLOE_OK ? rc : rows_take(r, PQntuples(r), arena, rows, n, err);
}
