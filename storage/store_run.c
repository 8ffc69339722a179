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

/* --- Array literals -------------------------------------------------------------------- */

typedef struct arr {
    floe_buf buf;
    bool oom;
    size_t n;
} arr;

static void
arr_put(arr *a, const void *p, size_t len)
{
    if (a->oom)
        return;
    if (a->buf.len + len + 1 > a->buf.cap) {
        size_t cap = a->buf.cap ? a->buf.cap * 2 : 256;
        while (cap < a->buf.len + len + 1)
            cap *= 2;
        uint8_t *d = floe_realloc(a->buf.data, cap);
        if (d == NULL) {
            a->oom = true;
            return;
        }
        a->buf.data = d;
        a->buf.cap = cap;
    }
    memcpy(a->buf.data + a->buf.len, p, len);
    a->buf.len += len;
    a->buf.data[a->buf.len] = '\0';
}

static void
arr_add(arr *a, const char *s)
{
    arr_put(a, a->n++ == 0 ? "{" : ",", 1);
    if (s == NULL) {
        arr_put(a, "NULL", 4);
        return;
    }
    arr_put(a, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            arr_put(a, "\\", 1);
        arr_put(a, p, 1);
    }
    arr_put(a, "\"", 1);
}

static void
arr_add_int(arr *a, int64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRId64, v);
    arr_add(a, num);
}

static void
arr_add_hex(arr *a, const uint8_t *p, size_t len)
{
    if (p == NULL) {
        arr_add(a, NULL);
        return;
    }
    arr_put(a, a->n++ == 0 ? "{" : ",", 1);
    arr_put(a, "\"", 1);
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        char two[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        arr_put(a, two, 2);
    }
    arr_put(a, "\"", 1);
}

static const char *
arr_end(arr *a)
{
    if (a->n == 0)
        arr_put(a, "{", 1);
    arr_put(a, "}", 1);
    return a->oom ? NULL : (const char *)a->buf.data;
}

/* --- Start ----------------------------------------------------------------------------- */

floe_rc
store_run_start(store_pg *pg, uint64_t epoch, const store_exec *ex, char *phase, floe_err *err)
{
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *params[] = {ex->id, ep};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, "SELECT phase FROM executions WHERE id = $1", 1, params, NULL,
                               NULL, &r, err);
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
    rc = store_pg_exec(pg,
                       "UPDATE executions SET phase = 'RUNNING', epoch = $2::bigint,"
                       " started_at = coalesce(started_at, now()), updated_at = now()"
                       " WHERE id = $1 AND phase = 'QUEUED' AND " FENCE " RETURNING phase",
                       2, params, NULL, NULL, &r, err);
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
    arr ids = {0}, ph = {0}, att = {0}, out = {0}, ek = {0}, ec = {0}, em = {0};
    for (size_t i = 0; i < res->n_nodes; i++) {
        const store_run_node *n = &res->nodes[i];
        arr_add(&ids, n->node_id);
        arr_add(&ph, n->phase);
        arr_add_int(&att, n->attempts);
        arr_add_hex(&out, n->outputs, n->outputs_len);
        arr_add(&ek, n->error_kind);
        arr_add(&ec, n->error_code);
        arr_add(&em, n->error);
    }
    const char *params[] = {res->exec_id,  arr_end(&ids), arr_end(&ph), arr_end(&att),
                            arr_end(&out), arr_end(&ek),  arr_end(&ec), arr_end(&em)};
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
    arr *all[] = {&ids, &ph, &att, &out, &ek, &ec, &em};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        floe_buf_deinit(&all[i]->buf);
    return rc;
}

static floe_rc
finish_attempts(store_pg *pg, const store_run_result *res, floe_err *err)
{
    arr ids = {0}, at = {0}, ph = {0}, ek = {0}, ec = {0}, msg = {0}, wk = {0}, st = {0}, fin = {0},
        so = {0}, se = {0};
    for (size_t i = 0; i < res->n_attempts; i++) {
        const store_run_attempt *a = &res->attempts[i];
        arr_add(&ids, a->node_id);
        arr_add_int(&at, a->attempt);
        arr_add(&ph, a->phase);
        arr_add(&ek, a->error_kind);
        arr_add(&ec, a->error_code);
        arr_add(&msg, a->message);
        arr_add(&wk, a->worker);
        arr_add_int(&st, a->started_us);
        arr_add_int(&fin, a->finished_us);
        arr_add(&so, a->stdout_uri);
        arr_add(&se, a->stderr_uri);
    }
    const char *params[] = {res->exec_id, arr_end(&ids), arr_end(&at),  arr_end(&ph),
                            arr_end(&ek), arr_end(&ec),  arr_end(&msg), arr_end(&wk),
                            arr_end(&st), arr_end(&fin), arr_end(&so),  arr_end(&se)};
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
    arr *all[] = {&ids, &at, &ph, &ek, &ec, &msg, &wk, &st, &fin, &so, &se};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        floe_buf_deinit(&all[i]->buf);
    return rc;
}

floe_rc
store_run_finish(store_pg *pg, uint64_t epoch, const store_run_result *res, floe_err *err)
{
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
                       " WHERE id = $1 AND " FENCE,
                       7, params, lens, fmts, &r, err);
    if (rc != FLOE_OK)
        goto fail;
    bool updated = atoi(PQcmdTuples(r)) == 1;
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
    return store_pg_commit(pg, err);
fail:
    store_pg_rollback(pg);
    return rc;
}
