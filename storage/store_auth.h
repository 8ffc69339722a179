/*
 * store_auth — who may call the API: tokens (kept as the SHA-256 of the token), the roles
 * granted to them per project, and the audit log of what they did or were refused.
 * Every value is a parameter. Rows returned live in the caller's arena.
 */
#ifndef STORE_AUTH_H
#define STORE_AUTH_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_pg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ordered: a role includes those below it. */
typedef enum store_role {
    STORE_ROLE_NONE = 0,
    STORE_ROLE_VIEWER,     /* read executions, specs, logs, blobs, lineage, the cache */
    STORE_ROLE_LAUNCHER,   /* + launch, relaunch, recover, terminate, publish, put blobs */
    STORE_ROLE_MAINTAINER, /* + register, activate, delete cache entries */
    STORE_ROLE_ADMIN,      /* + tokens and grants, the audit log */
} store_role;

const char *store_role_name(store_role r);
store_role store_role_parse(const char *s); /* NONE when not a role */

#define STORE_AUTH_GRANTS_MAX 64
#define STORE_AUTH_ID_MAX 32
#define STORE_AUTH_NAME_MAX 128
#define STORE_AUTH_PRINCIPAL_MAX 160
#define STORE_AUTH_ALL_PROJECTS "*"

typedef struct store_grant {
    char project[64]; /* a project, or "*" */
    store_role role;
} store_grant;

/* A token as the API knows it once looked up. */
typedef struct store_principal {
    char id[STORE_AUTH_PRINCIPAL_MAX]; /* "token:<id>", "oidc:<sub>" */
    char name[STORE_AUTH_NAME_MAX + 1];
    int64_t expires_us; /* 0: never */
    store_grant grants[STORE_AUTH_GRANTS_MAX];
    size_t n_grants;
} store_principal;

typedef enum store_token_state {
    STORE_TOKEN_VALID = 1,
    STORE_TOKEN_UNKNOWN,
    STORE_TOKEN_REVOKED,
    STORE_TOKEN_EXPIRED,
} store_token_state;

/* The token whose SHA-256 is hash, and its grants; *state says whether it may be used.
 * Marks it used (at most once a minute). */
floe_rc store_auth_lookup(store_pg *pg, const uint8_t hash[32], store_principal *p,
                          store_token_state *state, floe_err *err);

/* A new token (id: [a-z0-9]; expires_us 0: never) with its grants, in one transaction.
 * FLOE_ECONFLICT when the id or the hash exists. */
floe_rc store_auth_create(store_pg *pg, const char *id, const char *name, const char *owner,
                          const uint8_t hash[32], int64_t expires_us, const store_grant *grants,
                          size_t n_grants, floe_err *err);

/* The installation's first admin ("token:bootstrap", admin of "*"): created, or its hash
 * replaced when the file it came from changed; never expires, and a revoked one stays
 * revoked until the hash changes. */
floe_rc store_auth_bootstrap(store_pg *pg, const uint8_t hash[32], floe_err *err);

/* Revokes token id (FLOE_ENOTFOUND when there is none). */
floe_rc store_auth_revoke(store_pg *pg, const char *id, floe_err *err);

typedef struct store_token_row {
    const char *id, *name, *owner;
    const char *grants;                                       /* "project=role,..." */
    int64_t created_us, expires_us, last_used_us, revoked_us; /* 0: none */
} store_token_row;

/* Tokens, newest first, at most limit. */
floe_rc store_auth_list(store_pg *pg, unsigned limit, floe_arena *arena, store_token_row **out,
                        size_t *n, floe_err *err);

typedef struct store_audit {
    int64_t seq, at_us;
    const char *principal, *action, *project, *resource, *outcome; /* outcome: ok|denied|failed */
    int status;
    const char *remote, *detail; /* may be NULL */
} store_audit;

floe_rc store_audit_add(store_pg *pg, const store_audit *a, floe_err *err);
/* The row store_audit_add writes, for a statement that records its audit row itself
 * (store_exec_insert): the columns and their eight parameters from $N on. */
#define STORE_AUDIT_COLUMNS "principal, action, project, resource, outcome, status, remote, detail"
void store_audit_params(const store_audit *a, char status[16], const char *params[8]);

typedef struct store_audit_query {
    const char *project, *principal, *action, *outcome; /* NULL: any */
    int64_t before_seq;                                 /* 0: from the newest */
    unsigned limit;
} store_audit_query;

/* Entries, newest first. */
floe_rc store_audit_list(store_pg *pg, const store_audit_query *q, floe_arena *arena,
                         store_audit **out, size_t *n, floe_err *err);

#endif
