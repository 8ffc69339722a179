#include "store_migrate.h"

#include "floe_digest.h"
#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant shared by every Floe replica: serialises concurrent start-ups. */
#define MIGRATE_LOCK_KEY "7419283001"

static floe_rc
migrate_in_tx(store_pg *pg, unsigned *applied, floe_err *err)
{
    PGresult *r;
    const char *lock_params[] = {MIGRATE_LOCK_KEY};
    floe_rc rc = store_pg_exec(pg, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock_params, NULL,
                               NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    PQclear(r);
    rc = store_pg_exec(pg,
                       "CREATE TABLE IF NOT EXISTS floe_schema_migrations ("
                       " version integer PRIMARY KEY, name text NOT NULL,"
                       " checksum text NOT NULL,"
                       " applied_at timestamptz NOT NULL DEFAULT now())",
                       0, NULL, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    PQclear(r);
    rc = store_pg_exec(pg,
                       "SELECT version, name, checksum FROM floe_schema_migrations"
                       " ORDER BY version",
                       0, NULL, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        long version = strtol(PQgetvalue(r, i, 0), NULL, 10);
        if (version < 1 || (unsigned long)version > store_migrations_n) {
            rc = floe_err_sys(err, FLOE_ESTATE,
                              "schema: the database has migration %ld (%s), newer than this "
                              "binary knows (%u): upgrade floe-scheduler",
                              version, PQgetvalue(r, i, 1), store_migrations_n);
            break;
        }
        const store_migration *m = &store_migrations[version - 1];
        char sum[FLOE_SHA256_HEX_LEN + 1];
        floe_sha256_hex(m->sql, m->len, sum);
        if (strcmp(sum, PQgetvalue(r, i, 2)) != 0) {
            rc = floe_err_sys(err, FLOE_ESTATE,
                              "schema: migration %s changed after it was applied (checksum "
                              "differs): add a new migration instead",
                              m->name);
            break;
        }
    }
    PQclear(r);
    if (rc != FLOE_OK)
        return rc;
    for (unsigned v = (unsigned)rows + 1; v <= store_migrations_n; v++) {
        const store_migration *m = &store_migrations[v - 1];
        /* Simple-query protocol: a migration may hold several statements. */
        PGresult *x = PQexec(pg->conn, m->sql);
        if (x == NULL || PQresultStatus(x) != PGRES_COMMAND_OK) {
            rc = floe_err_sys(err, FLOE_EIO, "schema: migration %s failed: %s", m->name,
                              x != NULL ? PQresultErrorMessage(x) : PQerrorMessage(pg->conn));
            PQclear(x);
            return rc;
        }
        PQclear(x);
        char version[16], sum[FLOE_SHA256_HEX_LEN + 1];
        snprintf(version, sizeof(version), "%u", v);
        floe_sha256_hex(m->sql, m->len, sum);
        const char *params[] = {version, m->name, sum};
        rc = store_pg_exec(pg,
                           "INSERT INTO floe_schema_migrations (version, name, checksum)"
                           " VALUES ($1, $2, $3)",
                           3, params, NULL, NULL, &r, err);
        if (rc != FLOE_OK)
            return rc;
        PQclear(r);
        if (applied != NULL)
            (*applied)++;
    }
    return FLOE_OK;
}

floe_rc
store_migrate_apply(store_pg *pg, unsigned *applied, floe_err *err)
{
    if (applied != NULL)
        *applied = 0;
    floe_rc rc = store_pg_begin(pg, err);
    if (rc != FLOE_OK)
        return rc;
    rc = migrate_in_tx(pg, applied, err);
    if (rc == FLOE_OK)
        rc = store_pg_commit(pg, err);
    if (rc != FLOE_OK) {
        store_pg_rollback(pg);
        if (applied != NULL)
            *applied = 0;
    }
    return rc;
}
