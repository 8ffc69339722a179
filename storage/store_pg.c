#include "store_pg_int.h"

#include "floe_mem.h"
#include "floe_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
pg_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "relation already exists, skipping") are expected */
}

/* libpq's messages span lines ("...unexpectedly\n\tThis probably means..."): one line
 * each in our logs and records. */
static floe_rc
pg_flatten(floe_err *err, floe_rc rc)
{
    if (err == NULL)
        return rc;
    size_t n = strlen(err->msg);
    for (size_t i = 0; i < n; i++)
        if (err->msg[i] == '\n' || err->msg[i] == '\t')
            err->msg[i] = ' ';
    while (n > 0 && err->msg[n - 1] == ' ')
        err->msg[--n] = '\0';
    return rc;
}

static floe_rc
pg_open(store_pg *pg, floe_err *err)
{
    /* Server-side bounds travel as startup options; the client-side ones (keepalives,
     * tcp_user_timeout) detect a peer that vanished without a FIN. */
    char options[160], user_timeout[24];
    int64_t t = pg->timeout_ms;
    int64_t idle_tx = t * 2 > 10000 ? t * 2 : 10000;
    snprintf(options, sizeof(options),
             "-c statement_timeout=%lld -c lock_timeout=%lld "
             "-c idle_in_transaction_session_timeout=%lld",
             (long long)t, (long long)t, (long long)idle_tx);
    snprintf(user_timeout, sizeof(user_timeout), "%lld", (long long)(t > 10000 ? t : 10000));
    const char *keys[] = {"dbname",
                          "application_name",
                          "connect_timeout",
                          "options",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          NULL};
    const char *vals[] = {pg->url, pg->application, "5", options, "1", "10", "5",
                          "3",     user_timeout,    NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1 /* expand dbname as a URI/conninfo */);
    if (pg->conn == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "postgres: out of memory");
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        floe_rc rc = pg_flatten(err, floe_err_sys(err, FLOE_EIO, "postgres: cannot connect: %s",
                                                  PQerrorMessage(pg->conn)));
        PQfinish(pg->conn);
        pg->conn = NULL;
        return rc;
    }
    PQsetNoticeProcessor(pg->conn, pg_notice, NULL);
    return FLOE_OK;
}

store_pg *
store_pg_connect(const char *url, const char *application, int64_t timeout_ms, floe_err *err)
{
    store_pg *pg = floe_calloc(1, sizeof(*pg));
    if (pg == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "postgres: out of memory");
        return NULL;
    }
    pg->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    pg->url = floe_strdup(url);
    pg->application = floe_strdup(application);
    if (pg->url == NULL || pg->application == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "postgres: out of memory");
        goto fail;
    }
    if (pg_open(pg, err) != FLOE_OK)
        goto fail;
    return pg;
fail:
    floe_free(pg->url);
    floe_free(pg->application);
    floe_free(pg);
    return NULL;
}

static void
stmts_forget(store_pg *pg)
{
    for (size_t i = 0; i < pg->n_stmts; i++)
        floe_free(pg->stmts[i].sql);
    pg->n_stmts = 0;
}

void
store_pg_close(store_pg *pg)
{
    if (pg == NULL)
        return;
    stmts_forget(pg);
    if (pg->conn != NULL)
        PQfinish(pg->conn);
    floe_free(pg->url);
    floe_free(pg->application);
    floe_free(pg);
}

floe_rc
store_pg_ensure(store_pg *pg, floe_err *err)
{
    if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK)
        return FLOE_OK;
    if (pg->conn != NULL) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
    stmts_forget(pg); /* they lived on the old connection */
    return pg_open(pg, err);
}

static uint64_t
sql_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The name of sql's prepared statement on pg's connection, preparing it at first use;
 * false when it cannot be (cache full, out of memory, or PostgreSQL refused: then the
 * unprepared execution reports the error with its context). */
static bool
stmt_name(store_pg *pg, const char *sql, int n, char name[24])
{
    uint64_t h = sql_hash(sql);
    size_t i = 0;
    while (i < pg->n_stmts && (pg->stmts[i].hash != h || strcmp(pg->stmts[i].sql, sql) != 0))
        i++;
    snprintf(name, 24, "floe_%zu", i);
    if (i < pg->n_stmts)
        return true;
    if (pg->n_stmts == STORE_PG_STMTS_MAX || PQtransactionStatus(pg->conn) == PQTRANS_INERROR)
        return false;
    char *copy = floe_strdup(sql);
    if (copy == NULL)
        return false;
    PGresult *r = PQprepare(pg->conn, name, sql, n, NULL);
    bool ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        floe_free(copy);
        return false;
    }
    pg->stmts[pg->n_stmts++] = (store_pg_stmt){copy, h};
    return true;
}

/* PostgreSQL would refuse a text parameter that is not UTF-8 with 22021 after a round
 * trip; say which parameter. (libpq sends a text parameter up to its NUL, whatever lens
 * says.) */
static floe_rc
params_check(int n, const char *const *params, const int *formats, floe_err *err)
{
    for (int i = 0; i < n; i++) {
        if (params[i] != NULL && (formats == NULL || formats[i] == 0) &&
            !floe_utf8_valid(params[i], strlen(params[i])))
            return floe_err_user(err, FLOE_EINVAL, "postgres: parameter $%d is not valid UTF-8",
                                 i + 1);
    }
    return FLOE_OK;
}

/* r (not NULL) as a result code: FLOE_OK keeps it, anything else clears it with err saying
 * what PostgreSQL said, classified. */
static floe_rc
result_rc(store_pg *pg, PGresult *r, floe_err *err)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return FLOE_OK;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (msg == NULL)
        msg = PQerrorMessage(pg->conn);
    floe_rc rc;
    if (state != NULL && strcmp(state, "23505") == 0)
        rc = floe_err_user(err, FLOE_ECONFLICT, "postgres: %s", msg);
    else if (state != NULL && strcmp(state, STORE_PG_FENCED) == 0)
        rc = floe_err_sys(err, FLOE_EFENCED, "postgres: %s", msg);
    else if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        rc = floe_err_sys(err, FLOE_EAGAIN, "postgres: %s", msg);
    else if (state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                               strncmp(state, "54", 2) == 0))
        rc = floe_err_user(err, FLOE_EINVAL, "postgres: %s (SQLSTATE %s)", msg, state);
    else
        rc = floe_err_sys(err, FLOE_EIO, "postgres: %s%s%s", msg, state ? " SQLSTATE " : "",
                          state ? state : "");
    PQclear(r);
    return pg_flatten(err, rc);
}

floe_rc
store_pg_exec(store_pg *pg, const char *sql, int n, const char *const *params, const int *lens,
              const int *formats, PGresult **res, floe_err *err)
{
    *res = NULL;
    floe_rc rc = params_check(n, params, formats, err);
    if (rc == FLOE_OK)
        rc = store_pg_ensure(pg, err);
    if (rc != FLOE_OK)
        return rc;
    char name[24];
    PGresult *r = n > 0 && stmt_name(pg, sql, n, name)
                      ? PQexecPrepared(pg->conn, name, n, params, lens, formats, 0)
                      : PQexecParams(pg->conn, sql, n, NULL, params, lens, formats, 0);
    if (r == NULL)
        return pg_flatten(err,
                          floe_err_sys(err, FLOE_EIO, "postgres: %s", PQerrorMessage(pg->conn)));
    rc = result_rc(pg, r, err);
    if (rc == FLOE_OK)
        *res = r;
    return rc;
}

/* --- pipelines ------------------------------------------------------------------------ */

static bool
pipe_send(store_pg *pg, const char *sql, int n, const char *const *params, const int *lens,
          const int *formats, bool prepared)
{
    char name[24];
    if (prepared && n > 0 && stmt_name(pg, sql, n, name))
        return PQsendQueryPrepared(pg->conn, name, n, params, lens, formats, 0) == 1;
    return PQsendQueryParams(pg->conn, sql, n, NULL, params, lens, formats, 0) == 1;
}

/* Reads one statement's results (a result, then NULL): the result, or NULL when libpq
 * gave none. Extra results (there are none for one statement) are dropped. */
static PGresult *
pipe_take(store_pg *pg)
{
    PGresult *r = PQgetResult(pg->conn), *more;
    while (r != NULL && (more = PQgetResult(pg->conn)) != NULL)
        PQclear(more);
    return r;
}

/* What the pipeline's statements gave, in order: BEGIN, each call, COMMIT. The first
 * failure decides rc and *failed (what came after it was skipped, PGRES_PIPELINE_ABORTED). */
static floe_rc
pipe_read(store_pg *pg, size_t n, PGresult **res, size_t *failed, floe_err *err)
{
    floe_rc rc = FLOE_OK;
    for (size_t i = 0; i < n + 2; i++) {
        PGresult *r = pipe_take(pg);
        size_t at = i == 0 ? 0 : i - 1 < n ? i - 1 : n; /* BEGIN fails as the first */
        if (r == NULL) {
            if (rc == FLOE_OK) {
                *failed = n; /* the connection, not a statement */
                rc = pg_flatten(
                    err, floe_err_sys(err, FLOE_EIO, "postgres: %s", PQerrorMessage(pg->conn)));
            }
            continue;
        }
        if (rc != FLOE_OK) {
            PQclear(r);
            continue;
        }
        rc = result_rc(pg, r, err);
        if (rc != FLOE_OK)
            *failed = at;
        else if (i >= 1 && i <= n)
            res[i - 1] = r;
        else
            PQclear(r);
    }
    PGresult *sync = PQgetResult(pg->conn); /* PGRES_PIPELINE_SYNC */
    if (sync != NULL && PQresultStatus(sync) != PGRES_PIPELINE_SYNC && rc == FLOE_OK) {
        *failed = n;
        rc = floe_err_sys(err, FLOE_EIO, "postgres: pipeline out of step");
    }
    PQclear(sync);
    return rc;
}

floe_rc
store_pg_pipeline(store_pg *pg, const store_pg_call *calls, size_t n, PGresult **res,
                  size_t *failed, floe_err *err)
{
    for (size_t i = 0; i < n; i++)
        res[i] = NULL;
    *failed = 0;
    floe_rc rc = FLOE_OK;
    for (size_t i = 0; i < n && rc == FLOE_OK; i++) {
        rc = params_check(calls[i].n, calls[i].params, calls[i].formats, err);
        *failed = i;
    }
    if (rc != FLOE_OK)
        return rc;
    *failed = n; /* until a statement's own result says otherwise */
    if ((rc = store_pg_ensure(pg, err)) != FLOE_OK)
        return rc;
    /* Prepared now: PQprepare waits for its answer, which a pipeline cannot. */
    char name[24];
    for (size_t i = 0; i < n; i++)
        if (calls[i].n > 0)
            (void)stmt_name(pg, calls[i].sql, calls[i].n, name);
    if (PQenterPipelineMode(pg->conn) != 1) /* only when not idle: a bug of ours */
        return pg_flatten(err, floe_err_sys(err, FLOE_EIO, "postgres: no pipeline: %s",
                                            PQerrorMessage(pg->conn)));
    bool sent = pipe_send(pg, "BEGIN", 0, NULL, NULL, NULL, false);
    for (size_t i = 0; sent && i < n; i++)
        sent = pipe_send(pg, calls[i].sql, calls[i].n, calls[i].params, calls[i].lens,
                         calls[i].formats, true);
    sent = sent && pipe_send(pg, "COMMIT", 0, NULL, NULL, NULL, false) &&
           PQpipelineSync(pg->conn) == 1;
    if (!sent) {
        /* The connection's state is unknown: the next use opens another. */
        rc = pg_flatten(err, floe_err_sys(err, FLOE_EIO, "postgres: sending a pipeline: %s",
                                          PQerrorMessage(pg->conn)));
        PQfinish(pg->conn);
        pg->conn = NULL;
        return rc;
    }
    rc = pipe_read(pg, n, res, failed, err);
    /* The connection went (terminated, PostgreSQL restarting): no statement's fault. */
    if (rc != FLOE_OK && PQstatus(pg->conn) != CONNECTION_OK)
        *failed = n;
    if (PQexitPipelineMode(pg->conn) != 1) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    } else if (rc != FLOE_OK) {
        store_pg_rollback(pg); /* an explicit BEGIN stays open, failed, past the Sync */
    }
    if (rc != FLOE_OK)
        for (size_t i = 0; i < n; i++) {
            PQclear(res[i]);
            res[i] = NULL;
        }
    return rc;
}

floe_rc
store_pg_pipeline_fenced(store_pg *pg, uint64_t epoch, const store_pg_call *calls, size_t n,
                         PGresult **res, size_t *failed, floe_err *err)
{
    if (n > STORE_PG_FENCED_MAX)
        return floe_err_sys(err, FLOE_EINVAL, "postgres: %zu statements in one fenced pipeline", n);
    char ep[24];
    snprintf(ep, sizeof(ep), "%" PRIu64, epoch);
    const char *fp[] = {ep};
    store_pg_call all[STORE_PG_FENCED_MAX + 1] = {
        {"SELECT " STORE_PG_FENCE("$1"), 1, fp, NULL, NULL}};
    PGresult *r[STORE_PG_FENCED_MAX + 1];
    memcpy(&all[1], calls, n * sizeof(*calls));
    size_t at = 0;
    floe_rc rc = store_pg_pipeline(pg, all, n + 1, r, &at, err);
    *failed = at > 0 ? at - 1 : n; /* the fence is none of the caller's statements */
    if (rc != FLOE_OK)
        return rc;
    PQclear(r[0]);
    memcpy(res, &r[1], n * sizeof(*res));
    return FLOE_OK;
}

static floe_rc
pg_simple(store_pg *pg, const char *sql, floe_err *err)
{
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, sql, 0, NULL, NULL, NULL, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    return rc;
}

floe_rc
store_pg_begin(store_pg *pg, floe_err *err)
{
    return pg_simple(pg, "BEGIN", err);
}

floe_rc
store_pg_commit(store_pg *pg, floe_err *err)
{
    return pg_simple(pg, "COMMIT", err);
}

void
store_pg_rollback(store_pg *pg)
{
    if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK &&
        PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
        pg_simple(pg, "ROLLBACK", NULL);
}

floe_rc
store_pg_ping(store_pg *pg, floe_err *err)
{
    return pg_simple(pg, "SELECT 1", err);
}

int64_t
store_pg_int64(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

bool
store_pg_bool(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

const char *
store_pg_str(PGresult *r, int row, int col, floe_arena *arena, floe_rc *rc)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    const char *s =
        floe_arena_strndup(arena, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
    if (s == NULL)
        *rc = FLOE_ENOMEM;
    return s;
}

const uint8_t *
store_pg_bytea(PGresult *r, int row, int col, floe_arena *arena, size_t *len, floe_rc *rc)
{
    *len = 0;
    if (PQgetisnull(r, row, col))
        return NULL;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), len);
    if (raw == NULL) {
        *rc = FLOE_ENOMEM;
        return NULL;
    }
    uint8_t *copy = floe_arena_alloc(arena, *len ? *len : 1);
    if (copy != NULL)
        memcpy(copy, raw, *len);
    else
        *rc = FLOE_ENOMEM;
    PQfreemem(raw);
    return copy;
}

/* --- Array literals -------------------------------------------------------------------- */

void
store_pg_arr_put(store_pg_arr *a, const void *p, size_t len)
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

void
store_pg_arr_add(store_pg_arr *a, const char *s)
{
    store_pg_arr_put(a, a->n++ == 0 ? "{" : ",", 1);
    if (s == NULL) {
        store_pg_arr_put(a, "NULL", 4);
        return;
    }
    store_pg_arr_put(a, "\"", 1);
    /* Runs between the characters to escape in one copy each (a map's 100,000 rows). */
    for (const char *p = s;;) {
        size_t run = strcspn(p, "\"\\");
        store_pg_arr_put(a, p, run);
        p += run;
        if (*p == '\0')
            break;
        store_pg_arr_put(a, "\\", 1);
        store_pg_arr_put(a, p++, 1);
    }
    store_pg_arr_put(a, "\"", 1);
}

void
store_pg_arr_add_int(store_pg_arr *a, int64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRId64, v);
    store_pg_arr_add(a, num);
}

void
store_pg_arr_add_hex(store_pg_arr *a, const uint8_t *p, size_t len)
{
    if (p == NULL) {
        store_pg_arr_add(a, NULL);
        return;
    }
    store_pg_arr_put(a, a->n++ == 0 ? "{" : ",", 1);
    store_pg_arr_put(a, "\"", 1);
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        char two[2] = {hx[p[i] >> 4], hx[p[i] & 15]};
        store_pg_arr_put(a, two, 2);
    }
    store_pg_arr_put(a, "\"", 1);
}

const char *
store_pg_arr_end(store_pg_arr *a)
{
    if (a->n == 0)
        store_pg_arr_put(a, "{", 1);
    store_pg_arr_put(a, "}", 1);
    return a->oom ? NULL : (const char *)a->buf.data;
}
