#include "store_lineage.h"

#include "store_pg_int.h"

#include "floe_mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SQL_NODE                                                                                   \
    "INSERT INTO lineage_nodes (execution_id, node_id, attempt, project, domain,"                  \
    " task_name, task_version, phase, cache_key, source_execution, source_node)"                   \
    " VALUES ($1, $2, $3::int, $4, $5, $6, $7, $8, $9, $10, $11)"                                  \
    " ON CONFLICT (execution_id, node_id) DO NOTHING"
/* The derived-from link resolves by natural key, so records can arrive in any order; a
 * later record of the same artifact fills a link still missing. */
#define SQL_ARTIFACT                                                                               \
    "INSERT INTO artifacts AS x (execution_id, node_id, role, name, type, uri,"                    \
    " digest, size, value, derived_from) SELECT $1, $2, $3, $4, $5, $6, $7,"                       \
    " $8::bigint, $9, CASE WHEN $10::text IS NOT NULL THEN (SELECT id FROM"                        \
    " artifacts WHERE execution_id = $10 AND node_id = $11 AND role = 'output'"                    \
    " AND name = $4) WHEN $12::boolean THEN (SELECT id FROM artifacts WHERE"                       \
    " digest = $7 AND role = 'output' AND execution_id <> $1 ORDER BY digest,"                     \
    " id DESC LIMIT 1) END"                                                                        \
    " ON CONFLICT (execution_id, node_id, role, name) DO UPDATE SET"                               \
    " derived_from = coalesce(x.derived_from, EXCLUDED.derived_from)"                              \
    " WHERE x.derived_from IS NULL AND EXCLUDED.derived_from IS NOT NULL"
#define SQL_USE                                                                                    \
    "INSERT INTO lineage_uses (execution_id, node_id, input, artifact)"                            \
    " SELECT $1, $2, $3, id FROM artifacts WHERE execution_id = $1"                                \
    " AND node_id = $4 AND role = $5 AND name = $6"                                                \
    " ON CONFLICT (execution_id, node_id, input) DO NOTHING"

/* One statement's parameters, kept while its pipeline is out. */
typedef struct lin_args {
    const char *p[12];
    char num[24];
} lin_args;

/* A pipeline's statements: those of whole records, up to this many unless one record has
 * more (its statements then go alone). What a statement answers is a command tag, so the
 * answers of a pipeline fit in the socket's buffers while it is still being sent. */
#define LIN_PIPE_MAX 256

static size_t
statements(const store_lin_record *rec)
{
    return 1 + rec->n_artifacts + rec->n_uses;
}

/* Appends rec's statements to calls/args at *k: its node, its artifacts, its uses (after
 * the artifacts they name, in the same transaction). */
static void
add_record(const store_lin_record *rec, store_pg_call *calls, lin_args *args, size_t *k)
{
    lin_args *a = &args[*k];
    snprintf(a->num, sizeof(a->num), "%" PRIu32, rec->attempt);
    const char *np[] = {rec->execution_id,     rec->node_id,    a->num,
                        rec->project,          rec->domain,     rec->task_name,
                        rec->task_version,     rec->phase,      rec->cache_key,
                        rec->source_execution, rec->source_node};
    memcpy(a->p, np, sizeof(np));
    calls[(*k)++] = (store_pg_call){SQL_NODE, 11, a->p, NULL, NULL};
    for (size_t i = 0; i < rec->n_artifacts; i++) {
        const store_lin_artifact *x = &rec->artifacts[i];
        a = &args[*k];
        snprintf(a->num, sizeof(a->num), "%" PRId64, x->size);
        const char *ap[] = {
            rec->execution_id, x->node_id,  x->role,     x->name,
            x->type,           x->uri,      x->digest,   x->size >= 0 ? a->num : NULL,
            x->value,          x->src_exec, x->src_node, x->link_by_digest ? "true" : "false"};
        memcpy(a->p, ap, sizeof(ap));
        calls[(*k)++] = (store_pg_call){SQL_ARTIFACT, 12, a->p, NULL, NULL};
    }
    for (size_t i = 0; i < rec->n_uses; i++) {
        const store_lin_use *u = &rec->uses[i];
        if (u->artifact >= rec->n_artifacts)
            continue;
        const store_lin_artifact *x = &rec->artifacts[u->artifact];
        a = &args[*k];
        const char *up[] = {rec->execution_id, rec->node_id, u->input,
                            x->node_id,        x->role,      x->name};
        memcpy(a->p, up, sizeof(up));
        calls[(*k)++] = (store_pg_call){SQL_USE, 6, a->p, NULL, NULL};
    }
}

/* The records' statements go in pipelines of whole records (issue 25: a statement was a
 * round trip, four a map item, and a map of 100,000 items waited on them). Each pipeline
 * is a transaction; a later one failing leaves the earlier ones written, which the
 * caller's retry writes again as they are (every statement is idempotent). */
floe_rc
store_lineage_write(store_pg *pg, const store_lin_record *recs, size_t n, floe_err *err)
{
    size_t most = LIN_PIPE_MAX;
    for (size_t i = 0; i < n; i++)
        if (statements(&recs[i]) > most)
            most = statements(&recs[i]);
    store_pg_call *calls = n > 0 ? floe_malloc(most * sizeof(*calls)) : NULL;
    lin_args *args = n > 0 ? floe_malloc(most * sizeof(*args)) : NULL;
    PGresult **res = n > 0 ? floe_malloc(most * sizeof(*res)) : NULL;
    floe_rc rc = n == 0 || (calls != NULL && args != NULL && res != NULL)
                     ? FLOE_OK
                     : floe_err_sys(err, FLOE_ENOMEM, "postgres: out of memory");
    for (size_t i = 0; i < n && rc == FLOE_OK;) {
        size_t k = 0;
        do
            add_record(&recs[i++], calls, args, &k);
        while (i < n && k + statements(&recs[i]) <= LIN_PIPE_MAX);
        size_t failed;
        rc = store_pg_pipeline(pg, calls, k, res, &failed, err);
        for (size_t q = 0; rc == FLOE_OK && q < k; q++)
            PQclear(res[q]);
    }
    floe_free(res);
    floe_free(args);
    floe_free(calls);
    return rc;
}
