/* Dataset owners and grants in PostgreSQL (store_dataset.h). */
#include "store_dataset.h"

#include "store_pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

floe_rc
store_dataset_may(store_pg *pg, const char *dataset, const char *project, store_ds_right right,
                  bool claim, char owner[64], bool *allowed, floe_err *err)
{
    PGresult *r;
    floe_rc rc;
    owner[0] = '\0';
    *allowed = false;
    if (claim && project[0] != '\0') {
        const char *p[] = {dataset, project};
        if ((rc = store_pg_exec(pg,
                                "INSERT INTO dataset_owners (dataset, project) VALUES ($1, $2)"
                                " ON CONFLICT (dataset) DO NOTHING",
                                2, p, NULL, NULL, &r, err)) != FLOE_OK)
            return rc;
        PQclear(r);
    }
    const char *p[] = {dataset, project};
    if ((rc = store_pg_exec(
             pg,
             "SELECT o.project, coalesce(g.publish, false), coalesce(g.trigger, false)"
             " FROM dataset_owners o LEFT JOIN dataset_grants g"
             " ON g.dataset = o.dataset AND g.project = $2 WHERE o.dataset = $1",
             2, p, NULL, NULL, &r, err)) != FLOE_OK)
        return rc;
    if (PQntuples(r) == 0) {
        *allowed = true; /* nobody owns it yet */
    } else {
        snprintf(owner, 64, "%s", PQgetvalue(r, 0, 0));
        *allowed = (project[0] != '\0' && strcmp(owner, project) == 0) ||
                   store_pg_bool(r, 0, right == STORE_DS_PUBLISH ? 1 : 2);
    }
    PQclear(r);
    return FLOE_OK;
}

floe_rc
store_dataset_get(store_pg *pg, const char *dataset, char owner[64], floe_arena *arena,
                  store_ds_grant **grants, size_t *n, floe_err *err)
{
    PGresult *r;
    owner[0] = '\0';
    *grants = NULL;
    *n = 0;
    const char *p[] = {dataset};
    floe_rc rc =
        store_pg_exec(pg,
                      "SELECT o.project, g.project, g.publish, g.trigger, g.granted_by,"
                      " (extract(epoch FROM g.granted_at) * 1000000)::bigint"
                      " FROM dataset_owners o LEFT JOIN dataset_grants g ON g.dataset = o.dataset"
                      " WHERE o.dataset = $1 ORDER BY g.project LIMIT 1000",
                      1, p, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    int rows = PQntuples(r);
    if (rows > 0)
        snprintf(owner, 64, "%s", PQgetvalue(r, 0, 0));
    if (rows > 0 && !PQgetisnull(r, 0, 1)) {
        store_ds_grant *g = floe_arena_alloc(arena, (size_t)rows * sizeof(*g));
        if (g == NULL) {
            PQclear(r);
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        }
        for (int i = 0; i < rows; i++) {
            g[i] = (store_ds_grant){
                .project =
                    floe_arena_strndup(arena, PQgetvalue(r, i, 1), (size_t)PQgetlength(r, i, 1)),
                .publish = store_pg_bool(r, i, 2),
                .trigger = store_pg_bool(r, i, 3),
                .granted_by =
                    floe_arena_strndup(arena, PQgetvalue(r, i, 4), (size_t)PQgetlength(r, i, 4)),
                .granted_us = strtoll(PQgetvalue(r, i, 5), NULL, 10),
            };
        }
        *grants = g;
        *n = (size_t)rows;
    }
    PQclear(r);
    return FLOE_OK;
}

floe_rc
store_dataset_grant(store_pg *pg, const char *dataset, const char *project, bool publish,
                    bool trigger, const char *by, floe_err *err)
{
    PGresult *r;
    floe_rc rc;
    const char *p[] = {dataset, project, publish ? "t" : "f", trigger ? "t" : "f", by};
    if (!publish && !trigger)
        rc = store_pg_exec(pg, "DELETE FROM dataset_grants WHERE dataset = $1 AND project = $2", 2,
                           p, NULL, NULL, &r, err);
    else
        rc = store_pg_exec(pg,
                           "INSERT INTO dataset_grants (dataset, project, publish, trigger,"
                           " granted_by) SELECT $1, $2, $3::boolean, $4::boolean, $5"
                           " WHERE EXISTS (SELECT 1 FROM dataset_owners WHERE dataset = $1)"
                           " ON CONFLICT (dataset, project) DO UPDATE SET publish = $3::boolean,"
                           " trigger = $4::boolean, granted_by = $5, granted_at = now()",
                           5, p, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    bool changed = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    if (!changed && (publish || trigger))
        return floe_err_user(err, FLOE_ENOTFOUND,
                             "dataset %s has no owner yet: the first project to publish it owns "
                             "it",
                             dataset);
    return FLOE_OK;
}
