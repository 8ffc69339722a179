/*
 * Internals shared by the store_* modules that talk SQL: the connection struct and a
 * parameterised exec that classifies errors. Only text parameters and text results,
 * except bytea parameters, which go binary (formats[i] = 1).
 */
#ifndef STORE_PG_INT_H
#define STORE_PG_INT_H

#include "floe_arena.h"
#include "floe_envelope.h"
#include "store_pg.h"

#include <libpq-fe.h>
#include <stdint.h>

/* Statements prepared on the current connection (by their text): every SQL text Floe runs
 * is a constant, so the set is small and fixed; parsing and planning each call was half
 * of PostgreSQL's time per statement. Forgotten when the connection is replaced. */
#define STORE_PG_STMTS_MAX 128

typedef struct store_pg_stmt {
    char *sql;
    uint64_t hash;
} store_pg_stmt;

struct store_pg {
    PGconn *conn;
    char *url;
    char *application;
    int64_t timeout_ms;
    store_pg_stmt stmts[STORE_PG_STMTS_MAX];
    size_t n_stmts;
};

/* Runs sql with n params. On FLOE_OK *res holds the result (PQclear it); commands and
 * queries both succeed here. lens/formats may be NULL for all-text parameters. A
 * statement with parameters is prepared on its connection at first use (see above). */
floe_rc store_pg_exec(store_pg *pg, const char *sql, int n, const char *const *params,
                      const int *lens, const int *formats, PGresult **res, floe_err *err);

/* The leader's fence, in SQL (migration 0011_fence.sql): floe_fence_holds(epoch) answers
 * whether epoch holds the lease, floe_fence(epoch) fails the statement with SQLSTATE
 * STORE_PG_FENCED (FLOE_EFENCED here) when it does not. Either holds the lock a change of
 * leader needs until the transaction ends. In a statement's WHERE, as an uncorrelated
 * subquery, so it runs once, not once a row. */
#define STORE_PG_FENCED "FL001"
#define STORE_PG_FENCE_HOLDS(param) "(SELECT floe_fence_holds(" param "::bigint))"
#define STORE_PG_FENCE(param) "(SELECT floe_fence(" param "::bigint))"

/* One statement of a pipeline: what store_pg_exec takes. */
typedef struct store_pg_call {
    const char *sql;
    int n;
    const char *const *params;
    const int *lens;
    const int *formats;
} store_pg_call;

/* Runs calls[0..n) in one transaction sent at once (libpq's pipeline mode: BEGIN, the
 * statements, COMMIT, one round trip where n + 2 were; issue 25). All or none: on FLOE_OK
 * res[i] holds each statement's result (PQclear them); else nothing was kept, res[] is all
 * NULL, *failed is the index of the statement PostgreSQL refused (n: the commit, or the
 * connection) and err says why, as store_pg_exec would have. */
floe_rc store_pg_pipeline(store_pg *pg, const store_pg_call *calls, size_t n, PGresult **res,
                          size_t *failed, floe_err *err);

/* store_pg_pipeline with the fence first (STORE_PG_FENCE): FLOE_EFENCED, and nothing
 * written, when epoch no longer holds the lease. Up to STORE_PG_FENCED_MAX calls; *failed
 * indexes them as the caller does (n when the fence failed, as for the commit). */
#define STORE_PG_FENCED_MAX 8
floe_rc store_pg_pipeline_fenced(store_pg *pg, uint64_t epoch, const store_pg_call *calls, size_t n,
                                 PGresult **res, size_t *failed, floe_err *err);

/* Column helpers over a text-format result. */
int64_t store_pg_int64(const PGresult *res, int row, int col);
bool store_pg_bool(const PGresult *res, int row, int col);

/* A column copied into arena: NULL for SQL NULL; *rc = FLOE_ENOMEM when out of memory
 * (left alone otherwise). */
const char *store_pg_str(PGresult *r, int row, int col, floe_arena *arena, floe_rc *rc);
/* A bytea column (text format), unescaped into arena. */
const uint8_t *store_pg_bytea(PGresult *r, int row, int col, floe_arena *arena, size_t *len,
                              floe_rc *rc);

/* A PostgreSQL array literal under construction, for batched INSERTs from parallel arrays
 * (unnest): every element quoted and escaped, so values never become SQL. */
typedef struct store_pg_arr {
    floe_buf buf;
    bool oom;
    size_t n;
} store_pg_arr;

void store_pg_arr_put(store_pg_arr *a, const void *p, size_t len);
void store_pg_arr_add(store_pg_arr *a, const char *s); /* NULL: SQL NULL */
void store_pg_arr_add_int(store_pg_arr *a, int64_t v);
void store_pg_arr_add_hex(store_pg_arr *a, const uint8_t *p, size_t len); /* bytea as hex */
/* Closes the literal: NULL when out of memory. The caller frees a->buf.data. */
const char *store_pg_arr_end(store_pg_arr *a);

#endif
