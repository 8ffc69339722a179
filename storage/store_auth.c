/*
 * store_auth — tokens, grants and the audit log in PostgreSQL. See the header.
 */
#include "store_auth.h"

#include "floe_text.h"
#include "store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(STORE_AUTH_GRANTS_MAX == 64, "the LIMIT in store_auth_lookup");

#define US(col) "COALESCE((extract(epoch from " col ") * 1000000)::bigint, 0)"

static const char *const role_names[] = {"none", "viewer", "launcher", "maintainer", "admin"};

const char *
store_role_name(store_role r)
{
    return r >= STORE_ROLE_NONE && r <= STORE_ROLE_ADMIN ? role_names[r] : "none";
}

store_role
store_role_parse(const char *s)
{
    for (int r = STORE_ROLE_VIEWER; s != NULL && r <= STORE_ROLE_ADMIN; r++)
        if (strcmp(s, role_names[r]) == 0)
            return (store_role)r;
    return STORE_ROLE_NONE;
}

static floe_rc
run(store_pg *pg, const char *sql, int n, const char *const *params, const int *lens,
    const int *formats, floe_err *err)
{
    PGresult *r;
    floe_rc rc = store_pg_exec(pg, sql, n, params, lens, formats, &r, err);
    if (rc == FLOE_OK)
        PQclear(r);
    return rc;
}

floe_rc
store_auth_lookup(store_pg *pg, const uint8_t hash[32], store_principal *p,
                  store_token_state *state, floe_err *err)
{
    const char *params[] = {(const char *)hash};
    int lens[] = {32}, formats[] = {1};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "SELECT t.id, t.name, " US(
            "t.expires_at") ", t.revoked_at IS NOT NULL,"
                            " t.expires_at IS NOT NULL AND t.expires_at <= now(), g.project, g.role"
                            " FROM auth_tokens t LEFT JOIN auth_grants g ON g.principal = 'token:' "
                            "|| t.id"
                            " WHERE t.hash = $1 ORDER BY g.project LIMIT 64",
        1, params, lens, formats, &r, err);
    if (rc != FLOE_OK)
        return rc;
    memset(p, 0, sizeof(*p));
    int rows = PQntuples(r);
    if (rows == 0) {
        PQclear(r);
        *state = STORE_TOKEN_UNKNOWN;
        return FLOE_OK;
    }
    snprintf(p->id, sizeof(p->id), "token:%.*s", STORE_AUTH_ID_MAX, PQgetvalue(r, 0, 0));
    floe_text_copy(p->name, sizeof(p->name), PQgetvalue(r, 0, 1), strlen(PQgetvalue(r, 0, 1)));
    p->expires_us = store_pg_int64(r, 0, 2);
    *state = store_pg_bool(r, 0, 3)   ? STORE_TOKEN_REVOKED
             : store_pg_bool(r, 0, 4) ? STORE_TOKEN_EXPIRED
                                      : STORE_TOKEN_VALID;
    for (int i = 0; i < rows && p->n_grants < STORE_AUTH_GRANTS_MAX; i++) {
        if (PQgetisnull(r, i, 5))
            continue;
        store_grant *g = &p->grants[p->n_grants];
        snprintf(g->project, sizeof(g->project), "%s", PQgetvalue(r, i, 5));
        if ((g->role = store_role_parse(PQgetvalue(r, i, 6))) != STORE_ROLE_NONE)
            p->n_grants++;
    }
    char id[STORE_AUTH_ID_MAX + 1];
    snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (*state != STORE_TOKEN_VALID)
        return FLOE_OK;
    const char *up[] = {id};
    floe_err uerr = {0}; /* when it was last used is worth no refusal */
    run(pg,
        "UPDATE auth_tokens SET last_used_at = now() WHERE id = $1"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')",
        1, up, NULL, NULL, &uerr);
    return FLOE_OK;
}

static floe_rc
add_grants(store_pg *pg, const char *principal, const char *by, const store_grant *grants, size_t n,
           floe_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *params[] = {principal, grants[i].project, store_role_name(grants[i].role), by};
        floe_rc rc = run(pg,
                         "INSERT INTO auth_grants (principal, project, role, granted_by)"
                         " VALUES ($1, $2, $3, $4) ON CONFLICT (principal, project)"
                         " DO UPDATE SET role = excluded.role, granted_by = excluded.granted_by,"
                         " granted_at = now()",
                         4, params, NULL, NULL, err);
        if (rc != FLOE_OK)
            return rc;
    }
    return FLOE_OK;
}

floe_rc
store_auth_create(store_pg *pg, const char *id, const char *name, const char *owner,
                  const uint8_t hash[32], int64_t expires_us, const store_grant *grants,
                  size_t n_grants, floe_err *err)
{
    char exp[24], principal[STORE_AUTH_ID_MAX + 8];
    snprintf(exp, sizeof(exp), "%" PRId64, expires_us);
    snprintf(principal, sizeof(principal), "token:%s", id);
    const char *params[] = {id, name, owner, (const char *)hash, exp};
    int lens[] = {0, 0, 0, 32, 0}, formats[] = {0, 0, 0, 1, 0};
    floe_rc rc = store_pg_begin(pg, err);
    if (rc == FLOE_OK)
        rc = run(pg,
                 "INSERT INTO auth_tokens (id, name, owner, hash, expires_at) VALUES ($1, $2, $3,"
                 " $4, CASE WHEN $5::bigint = 0 THEN NULL ELSE to_timestamp($5::bigint / 1e6) END)",
                 5, params, lens, formats, err);
    if (rc == FLOE_OK)
        rc = add_grants(pg, principal, owner, grants, n_grants, err);
    if (rc == FLOE_OK)
        rc = store_pg_commit(pg, err);
    if (rc != FLOE_OK)
        store_pg_rollback(pg);
    return rc;
}

floe_rc
store_auth_bootstrap(store_pg *pg, const uint8_t hash[32], floe_err *err)
{
    const char *params[] = {(const char *)hash};
    int lens[] = {32}, formats[] = {1};
    store_grant all = {.project = STORE_AUTH_ALL_PROJECTS, .role = STORE_ROLE_ADMIN};
    floe_rc rc = store_pg_begin(pg, err);
    if (rc == FLOE_OK)
        rc =
            run(pg,
                "INSERT INTO auth_tokens (id, name, owner, hash) VALUES ('bootstrap',"
                " 'the installation''s first admin (api.bootstrap_token_file)', 'installation', $1)"
                " ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, revoked_at = NULL,"
                " created_at = now() WHERE auth_tokens.hash <> excluded.hash",
                1, params, lens, formats, err);
    if (rc == FLOE_OK)
        rc = add_grants(pg, "token:bootstrap", "installation", &all, 1, err);
    if (rc == FLOE_OK)
        rc = store_pg_commit(pg, err);
    if (rc != FLOE_OK)
        store_pg_rollback(pg);
    return rc;
}

floe_rc
store_auth_revoke(store_pg *pg, const char *id, floe_err *err)
{
    const char *params[] = {id};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "UPDATE auth_tokens SET revoked_at = COALESCE(revoked_at, now())"
                               " WHERE id = $1 RETURNING id",
                               1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    bool found = PQntuples(r) == 1;
    PQclear(r);
    return found ? FLOE_OK : floe_err_user(err, FLOE_ENOTFOUND, "no token \"%.40s\"", id);
}

floe_rc
store_auth_list(store_pg *pg, unsigned limit, floe_arena *arena, store_token_row **out, size_t *n,
                floe_err *err)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%u", limit);
    const char *params[] = {lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "SELECT t.id, t.name, t.owner, COALESCE((SELECT string_agg(g.project || '=' || g.role, ','"
        " ORDER BY g.project) FROM auth_grants g WHERE g.principal = 'token:' || t.id), ''),"
        " " US("t.created_at") ", " US("t.expires_at") ", " US("t.last_used_at") ", " US(
            "t.revoked_at") " FROM auth_tokens t ORDER BY t.created_at DESC, t.id LIMIT $1::bigint",
        1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_token_row *a = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*a));
    if (a == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        a[i].id = store_pg_str(r, i, 0, arena, &rc);
        a[i].name = store_pg_str(r, i, 1, arena, &rc);
        a[i].owner = store_pg_str(r, i, 2, arena, &rc);
        a[i].grants = store_pg_str(r, i, 3, arena, &rc);
        a[i].created_us = store_pg_int64(r, i, 4);
        a[i].expires_us = store_pg_int64(r, i, 5);
        a[i].last_used_us = store_pg_int64(r, i, 6);
        a[i].revoked_us = store_pg_int64(r, i, 7);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory");
    *out = a;
    *n = (size_t)rows;
    return FLOE_OK;
}

floe_rc
store_audit_add(store_pg *pg, const store_audit *a, floe_err *err)
{
    char status[16];
    const char *params[8];
    store_audit_params(a, status, params);
    return run(pg,
               "INSERT INTO audit_log (" STORE_AUDIT_COLUMNS
               ") VALUES ($1, $2, $3, $4, $5, $6::integer, $7, $8)",
               8, params, NULL, NULL, err);
}

void
store_audit_params(const store_audit *a, char status[16], const char *params[8])
{
    snprintf(status, 16, "%d", a->status);
    const char *p[8] = {a->principal, a->action, a->project, a->resource,
                        a->outcome,   status,    a->remote,  a->detail};
    memcpy(params, p, sizeof(p));
}

floe_rc
store_audit_list(store_pg *pg, const store_audit_query *q, floe_arena *arena, store_audit **out,
                 size_t *n, floe_err *err)
{
    char before[24], lim[24];
    snprintf(before, sizeof(before), "%" PRId64, q->before_seq);
    snprintf(lim, sizeof(lim), "%u", q->limit);
    const char *params[] = {q->project, q->principal, q->action, q->outcome, before, lim};
    PGresult *r;
    floe_rc rc = store_pg_exec(
        pg,
        "SELECT seq, " US(
            "at") ", principal, action, project, resource, outcome, status, remote,"
                  " detail FROM audit_log WHERE ($1::text IS NULL OR project = $1)"
                  " AND ($2::text IS NULL OR principal = $2) AND ($3::text IS NULL OR action = $3)"
                  " AND ($4::text IS NULL OR outcome = $4) AND ($5::bigint = 0 OR seq < $5::bigint)"
                  " ORDER BY seq DESC LIMIT $6::bigint",
        6, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    store_audit *a = floe_arena_alloc(arena, ((size_t)rows + 1) * sizeof(*a));
    if (a == NULL)
        rc = FLOE_ENOMEM;
    for (int i = 0; rc == FLOE_OK && i < rows; i++) {
        a[i].seq = store_pg_int64(r, i, 0);
        a[i].at_us = store_pg_int64(r, i, 1);
        a[i].principal = store_pg_str(r, i, 2, arena, &rc);
        a[i].action = store_pg_str(r, i, 3, arena, &rc);
        a[i].project = store_pg_str(r, i, 4, arena, &rc);
        a[i].resource = store_pg_str(r, i, 5, arena, &rc);
        a[i].outcome = store_pg_str(r, i, 6, arena, &rc);
        a[i].status = (int)store_pg_int64(r, i, 7);
        a[i].remote = store_pg_str(r, i, 8, arena, &rc);
        a[i].detail = store_pg_str(r, i, 9, arena, &rc);
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return floe_err_sys(err, rc, "out of memory");
    *out = a;
    *n = (size_t)rows;
    return FLOE_OK;
}
