#include "store_lineage.h"

#include "store_pg_int.h"

#include "floe_mem.h"

#include <stdio.h>
#include <string.h>

/* A batch of records is four statements whatever its size (issue 25: four statements a
 * record, a map of 100,000 items paid PostgreSQL ~160 us an item in them): the nodes, the
 * artifacts, the derived-from links, the uses, each from parallel arrays (unnest), in one
 * pipeline and one transaction. Every statement is idempotent: a record written twice, in
 * one batch or two, ends as written once. */
#define SQL_NODES                                                                                  \
    "INSERT INTO lineage_nodes (execution_id, node_id, attempt, project, domain,"                  \
    " task_name, task_version, phase, cache_key, source_execution, source_node)"                   \
    " SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[],"             \
    " $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])"                   \
    " ON CONFLICT (execution_id, node_id) DO NOTHING"
#define SQL_ARTIFACTS                                                                              \
    "INSERT INTO artifacts (execution_id, node_id, role, name, type, uri, digest, size, value)"    \
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"            \
    " $6::text[], $7::text[], $8::bigint[], $9::text[])"                                           \
    " ON CONFLICT (execution_id, node_id, role, name) DO NOTHING"
/* After the artifacts, so a link to one written in the same batch resolves. By natural
 * key, so records can arrive in any order: a later record of the same artifact fills a
 * link still missing, and one already made stays. An artifact with a source execution
 * links to that execution's output of the same name; one without (a blob given as an
 * execution input) to the latest output with its digest produced elsewhere. */
#define SQL_LINKS                                                                                  \
    "UPDATE artifacts x SET derived_from = l.src FROM (SELECT u.e, u.n, u.r, u.m,"                 \
    " CASE WHEN u.se IS NOT NULL THEN (SELECT id FROM artifacts WHERE execution_id = u.se"         \
    " AND node_id = u.sn AND role = 'output' AND name = u.m) ELSE (SELECT id FROM artifacts"       \
    " WHERE digest = u.d AND role = 'output' AND execution_id <> u.e ORDER BY digest,"             \
    " id DESC LIMIT 1) END AS src FROM unnest($1::text[], $2::text[], $3::text[],"                 \
    " $4::text[], $5::text[], $6::text[], $7::text[]) AS u(e, n, r, m, d, se, sn)) l"              \
    " WHERE x.execution_id = l.e AND x.node_id = l.n AND x.role = l.r AND x.name = l.m"            \
    " AND x.derived_from IS NULL AND l.src IS NOT NULL"
#define SQL_USES                                                                                   \
    "INSERT INTO lineage_uses (execution_id, node_id, input, artifact)"                            \
    " SELECT u.e, u.n, u.i, a.id FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"      \
    " $5::text[], $6::text[]) AS u(e, n, i, an, ar, am) JOIN artifacts a"                          \
    " ON a.execution_id = u.e AND a.node_id = u.an AND a.role = u.ar AND a.name = u.am"            \
    " ON CONFLICT (execution_id, node_id, input) DO NOTHING"

enum { NODE_COLS = 11, ART_COLS = 9, LINK_COLS = 7, USE_COLS = 6 };
enum { S_NODES, S_ARTS, S_LINKS, S_USES, N_STMT };

static const char *const sql[N_STMT] = {SQL_NODES, SQL_ARTIFACTS, SQL_LINKS, SQL_USES};
static const int cols[N_STMT] = {NODE_COLS, ART_COLS, LINK_COLS, USE_COLS};
#define COLS_ALL (NODE_COLS + ART_COLS + LINK_COLS + USE_COLS)

/* A batch's parameters: each statement's columns, in the order of cols[]. */
typedef struct lin_arrays {
    store_pg_arr a[COLS_ALL];
    const char *p[COLS_ALL];
} lin_arrays;

static store_pg_arr *
cols_of(lin_arrays *b, int s)
{
    int off = 0;
    for (int i = 0; i < s; i++)
        off += cols[i];
    return &b->a[off];
}

static size_t
str_len(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* Appends rec to the batch's arrays; answers about how many bytes it added. */
static size_t
add_record(lin_arrays *b, const store_lin_record *rec)
{
    size_t bytes = 0;
    store_pg_arr *n = cols_of(b, S_NODES);
    const char *np[] = {rec->execution_id,     rec->node_id,    NULL,
                        rec->project,          rec->domain,     rec->task_name,
                        rec->task_version,     rec->phase,      rec->cache_key,
                        rec->source_execution, rec->source_node};
    for (int c = 0; c < NODE_COLS; c++) {
        if (c == 2)
            store_pg_arr_add_int(&n[c], rec->attempt);
        else
            store_pg_arr_add(&n[c], np[c]);
        bytes += str_len(np[c]) + 4;
    }
    store_pg_arr *x = cols_of(b, S_ARTS), *l = cols_of(b, S_LINKS);
    for (size_t i = 0; i < rec->n_artifacts; i++) {
        const store_lin_artifact *a = &rec->artifacts[i];
        const char *ap[] = {rec->execution_id, a->node_id, a->role, a->name, a->type, a->uri,
                            a->digest,         NULL,       a->value};
        for (int c = 0; c < ART_COLS; c++) {
            if (c != 7)
                store_pg_arr_add(&x[c], ap[c]);
            else if (a->size >= 0)
                store_pg_arr_add_int(&x[c], a->size);
            else
                store_pg_arr_add(&x[c], NULL);
            bytes += str_len(ap[c]) + 4;
        }
        if (a->src_exec == NULL && !a->link_by_digest)
            continue;
        const char *lp[] = {rec->execution_id, a->node_id,  a->role,    a->name,
                            a->digest,         a->src_exec, a->src_node};
        for (int c = 0; c < LINK_COLS; c++)
            store_pg_arr_add(&l[c], lp[c]);
    }
    store_pg_arr *u = cols_of(b, S_USES);
    for (size_t i = 0; i < rec->n_uses; i++) {
        const store_lin_use *use = &rec->uses[i];
        if (use->artifact >= rec->n_artifacts)
            continue;
        const store_lin_artifact *a = &rec->artifacts[use->artifact];
        const char *up[] = {rec->execution_id, rec->node_id, use->input,
                            a->node_id,        a->role,      a->name};
        for (int c = 0; c < USE_COLS; c++)
            store_pg_arr_add(&u[c], up[c]);
    }
    return bytes;
}

/* Writes the batch's statements, those with rows, in one pipeline after the fence. */
static floe_rc
write_batch(store_pg *pg, uint64_t epoch, lin_arrays *b, floe_err *err)
{
    store_pg_call calls[N_STMT];
    PGresult *res[N_STMT];
    size_t k = 0;
    for (int s = 0, off = 0; s < N_STMT; off += cols[s], s++) {
        if (b->a[off].n == 0)
            continue;
        for (int c = off; c < off + cols[s]; c++)
            if ((b->p[c] = store_pg_arr_end(&b->a[c])) == NULL)
                return floe_err_sys(err, FLOE_ENOMEM, "postgres: out of memory");
        calls[k++] = (store_pg_call){sql[s], cols[s], &b->p[off], NULL, NULL};
    }
    size_t failed;
    floe_rc rc = store_pg_pipeline_fenced(pg, epoch, calls, k, res, &failed, err);
    for (size_t q = 0; rc == FLOE_OK && q < k; q++)
        PQclear(res[q]);
    return rc;
}

static void
arrays_reset(lin_arrays *b)
{
    for (int c = 0; c < COLS_ALL; c++)
        floe_buf_deinit(&b->a[c].buf);
    memset(b, 0, sizeof(*b));
}

floe_rc
store_lineage_write(store_pg *pg, uint64_t epoch, const store_lin_record *recs, size_t n,
                    floe_err *err)
{
    lin_arrays *b = floe_calloc(1, sizeof(*b));
    if (b == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "postgres: out of memory");
    floe_rc rc = FLOE_OK;
    for (size_t i = 0; i < n && rc == FLOE_OK;) {
        size_t k = 0, bytes = 0;
        while (i < n && k < STORE_LIN_BATCH && bytes < STORE_LIN_BATCH_BYTES) {
            bytes += add_record(b, &recs[i++]);
            k++;
        }
        rc = write_batch(pg, epoch, b, err);
        arrays_reset(b);
    }
    floe_free(b);
    return rc;
}
