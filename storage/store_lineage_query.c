/*
 * Lineage queries. The graph is loaded one execution at a time (four queries: its node
 * executions, artifacts, uses, and artifacts elsewhere derived from its own) and walked
 * breadth-first in memory, loading another execution only when a "derived from" link
 * leads into it. A 1,000-node execution is four queries, not one per hop.
 *
 * Vertices: "a<id>" artifacts, "n<id>" node executions. Edges always point the way data
 * flowed: node -produced-> artifact -consumed_by-> node, artifact -derived-> artifact.
 */
#include "store_lineage.h"

#include "store_pg_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct walk {
    store_pg *pg;
    json_t *verts;   /* key -> vertex object */
    json_t *by_name; /* "o:<exec>/<node>/<role>/<name>" -> artifact key; "n:<exec>/<node>" -> node
                        key */
    json_t *uses_by_node;     /* "<exec>/<node>" -> [[input, artifact key]...] */
    json_t *uses_by_artifact; /* artifact key -> [node key...] */
    json_t *children;         /* artifact key -> [derived artifact key...] */
    json_t *outputs;          /* "<exec>/<node>" -> [artifact key...] */
    json_t *loaded;           /* exec id -> true */
    json_t *edges;            /* "from>to" -> {from, to, relation} */
    bool truncated;
    floe_err *err;
} walk;

static json_t *
col(PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? json_null() : json_string(PQgetvalue(r, row, c));
}

static json_t *
col_int(PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? json_null() : json_integer(store_pg_int64(r, row, c));
}

static void
push(json_t *map, const char *key, json_t *item)
{
    json_t *a = json_object_get(map, key);
    if (a == NULL) {
        a = json_array();
        json_object_set_new(map, key, a);
    }
    json_array_append_new(a, item);
}

static floe_rc
load(walk *w, const char *exec)
{
    if (exec == NULL || json_object_get(w->loaded, exec) != NULL)
        return FLOE_OK;
    if (json_object_size(w->loaded) >= STORE_LIN_EXECS_MAX) {
        w->truncated = true;
        return FLOE_OK;
    }
    json_object_set_new(w->loaded, exec, json_true());
    const char *p[] = {exec};
    PGresult *r;
    char key[64], name[1024];
    floe_rc rc = store_pg_exec(w->pg,
                               "SELECT id, node_id, attempt, project, domain, task_name,"
                               " task_version, phase, cache_key, source_execution, source_node"
                               " FROM lineage_nodes WHERE execution_id = $1",
                               1, p, NULL, NULL, &r, w->err);
    if (rc != FLOE_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        snprintf(key, sizeof(key), "n%s", PQgetvalue(r, i, 0));
        json_t *v = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "id", key, "kind", "node",
                              "execution", exec, "node", col(r, i, 1), "phase", PQgetvalue(r, i, 7),
                              "attempt", col_int(r, i, 2), "cache_key", col(r, i, 8),
                              "source_execution", col(r, i, 9));
        char task[600];
        snprintf(task, sizeof(task), "%s/%s/%s@%s", PQgetvalue(r, i, 3), PQgetvalue(r, i, 4),
                 PQgetvalue(r, i, 5), PQgetvalue(r, i, 6));
        json_object_set_new(v, "task", json_string(task));
        json_object_set_new(v, "source_node", col(r, i, 10));
        json_object_set_new(w->verts, key, v);
        snprintf(name, sizeof(name), "n:%s/%s", exec, PQgetvalue(r, i, 1));
        json_object_set_new(w->by_name, name, json_string(key));
    }
    PQclear(r);
    rc = store_pg_exec(w->pg,
                       "SELECT a.id, a.node_id, a.role, a.name, a.type, a.uri, a.digest, a.size,"
                       " a.value, a.derived_from, d.execution_id FROM artifacts a"
                       " LEFT JOIN artifacts d ON d.id = a.derived_from WHERE a.execution_id = $1",
                       1, p, NULL, NULL, &r, w->err);
    if (rc != FLOE_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        snprintf(key, sizeof(key), "a%s", PQgetvalue(r, i, 0));
        json_t *v =
            json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "id", key, "kind",
                      "artifact", "artifact", (json_int_t)store_pg_int64(r, i, 0), "execution",
                      exec, "node", PQgetvalue(r, i, 1), "role", PQgetvalue(r, i, 2), "name",
                      PQgetvalue(r, i, 3), "type", PQgetvalue(r, i, 4), "uri", col(r, i, 5),
                      "digest", PQgetvalue(r, i, 6), "size", col_int(r, i, 7));
        json_t *val = NULL;
        if (!PQgetisnull(r, i, 8))
            val = json_loads(PQgetvalue(r, i, 8), JSON_DECODE_ANY, NULL);
        json_object_set_new(v, "value", val != NULL ? val : json_null());
        if (!PQgetisnull(r, i, 9)) {
            char from[64];
            snprintf(from, sizeof(from), "a%s", PQgetvalue(r, i, 9));
            json_object_set_new(v, "derived_from", json_string(from));
            json_object_set_new(v, "derived_execution", col(r, i, 10));
        }
        json_object_set_new(w->verts, key, v);
        snprintf(name, sizeof(name), "o:%s/%s/%s/%s", exec, PQgetvalue(r, i, 1),
                 PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
        json_object_set_new(w->by_name, name, json_string(key));
        if (strcmp(PQgetvalue(r, i, 2), "output") == 0) {
            snprintf(name, sizeof(name), "%s/%s", exec, PQgetvalue(r, i, 1));
            push(w->outputs, name, json_string(key));
        }
    }
    PQclear(r);
    rc = store_pg_exec(w->pg,
                       "SELECT u.node_id, u.input, u.artifact, n.id FROM lineage_uses u"
                       " JOIN lineage_nodes n ON n.execution_id = u.execution_id"
                       " AND n.node_id = u.node_id WHERE u.execution_id = $1",
                       1, p, NULL, NULL, &r, w->err);
    if (rc != FLOE_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        char akey[64], nkey[64];
        snprintf(akey, sizeof(akey), "a%s", PQgetvalue(r, i, 2));
        snprintf(nkey, sizeof(nkey), "n%s", PQgetvalue(r, i, 3));
        snprintf(name, sizeof(name), "%s/%s", exec, PQgetvalue(r, i, 0));
        push(w->uses_by_node, name, json_pack("[s, s]", PQgetvalue(r, i, 1), akey));
        push(w->uses_by_artifact, akey, json_string(nkey));
    }
    PQclear(r);
    rc = store_pg_exec(w->pg,
                       "SELECT a.id, a.execution_id, s.id FROM artifacts a JOIN artifacts s"
                       " ON s.id = a.derived_from WHERE s.execution_id = $1"
                       " AND a.execution_id <> $1",
                       1, p, NULL, NULL, &r, w->err);
    if (rc != FLOE_OK)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        char akey[64], skey[64];
        snprintf(akey, sizeof(akey), "a%s", PQgetvalue(r, i, 0));
        snprintf(skey, sizeof(skey), "a%s", PQgetvalue(r, i, 2));
        push(w->children, skey, json_pack("[s, s]", akey, PQgetvalue(r, i, 1)));
    }
    PQclear(r);
    /* Derivations inside the execution itself. */
    const char *k;
    json_t *v;
    json_object_foreach(w->verts, k, v)
    {
        const char *from = json_string_value(json_object_get(v, "derived_from"));
        const char *dex = json_string_value(json_object_get(v, "derived_execution"));
        if (from != NULL && dex != NULL && strcmp(dex, exec) == 0 &&
            strcmp(json_string_value(json_object_get(v, "execution")), exec) == 0)
            push(w->children, from, json_pack("[s, s]", k, exec));
    }
    return FLOE_OK;
}

static void
edge(walk *w, const char *from, const char *to, const char *relation)
{
    char key[160];
    snprintf(key, sizeof(key), "%s>%s", from, to);
    if (json_object_get(w->edges, key) == NULL)
        json_object_set_new(
            w->edges, key,
            json_pack("{s:s, s:s, s:s}", "from", from, "to", to, "relation", relation));
}

/* The neighbours of vertex key in the walk's direction, appended to out (keys). */
static floe_rc
neighbours(walk *w, const char *key, bool down, json_t *out)
{
    json_t *v = json_object_get(w->verts, key);
    if (v == NULL)
        return FLOE_OK;
    const char *exec = json_string_value(json_object_get(v, "execution"));
    const char *node = json_string_value(json_object_get(v, "node"));
    char name[1024];
    size_t i;
    json_t *x;
    if (key[0] == 'a') {
        const char *role = json_string_value(json_object_get(v, "role"));
        if (!down) {
            if (strcmp(role, "output") == 0) {
                snprintf(name, sizeof(name), "n:%s/%s", exec, node);
                const char *n = json_string_value(json_object_get(w->by_name, name));
                if (n != NULL) {
                    edge(w, n, key, "produced");
                    json_array_append_new(out, json_string(n));
                }
            }
            const char *from = json_string_value(json_object_get(v, "derived_from"));
            if (from != NULL) {
                floe_rc rc = load(w, json_string_value(json_object_get(v, "derived_execution")));
                if (rc != FLOE_OK)
                    return rc;
                if (json_object_get(w->verts, from) != NULL) {
                    edge(w, from, key, "derived");
                    json_array_append_new(out, json_string(from));
                }
            }
        } else {
            json_array_foreach(json_object_get(w->uses_by_artifact, key), i, x)
            {
                edge(w, key, json_string_value(x), "consumed_by");
                json_array_append(out, x);
            }
            json_array_foreach(json_object_get(w->children, key), i, x)
            {
                floe_rc rc = load(w, json_string_value(json_array_get(x, 1)));
                if (rc != FLOE_OK)
                    return rc;
                const char *c = json_string_value(json_array_get(x, 0));
                if (json_object_get(w->verts, c) != NULL) {
                    edge(w, key, c, "derived");
                    json_array_append_new(out, json_string(c));
                }
            }
        }
        return FLOE_OK;
    }
    if (!down) {
        snprintf(name, sizeof(name), "%s/%s", exec, node);
        json_array_foreach(json_object_get(w->uses_by_node, name), i, x)
        {
            const char *a = json_string_value(json_array_get(x, 1));
            edge(w, a, key, "consumed_by");
            json_array_append_new(out, json_string(a));
        }
    } else {
        snprintf(name, sizeof(name), "%s/%s", exec, node);
        json_array_foreach(json_object_get(w->outputs, name), i, x)
        {
            edge(w, key, json_string_value(x), "produced");
            json_array_append(out, x);
        }
    }
    return FLOE_OK;
}

static floe_rc
roots(walk *w, const store_lin_query *q, json_t *out)
{
    floe_rc rc;
    char name[1024];
    if (q->artifact_id > 0) {
        char id[24];
        snprintf(id, sizeof(id), "%" PRId64, q->artifact_id);
        const char *p[] = {id};
        PGresult *r;
        if ((rc = store_pg_exec(w->pg, "SELECT execution_id FROM artifacts WHERE id = $1::bigint",
                                1, p, NULL, NULL, &r, w->err)) != FLOE_OK)
            return rc;
        char exec[256] = "";
        if (PQntuples(r) == 1)
            snprintf(exec, sizeof(exec), "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
        if (exec[0] == '\0')
            return floe_err_user(w->err, FLOE_ENOTFOUND, "no artifact %s", id);
        if ((rc = load(w, exec)) != FLOE_OK)
            return rc;
        snprintf(name, sizeof(name), "a%s", id);
        json_array_append_new(out, json_string(name));
        return FLOE_OK;
    }
    if ((rc = load(w, q->execution_id)) != FLOE_OK)
        return rc;
    if (q->node_id != NULL && q->output != NULL)
        snprintf(name, sizeof(name), "o:%s/%s/output/%s", q->execution_id, q->node_id, q->output);
    else if (q->node_id != NULL)
        snprintf(name, sizeof(name), "n:%s/%s", q->execution_id, q->node_id);
    if (q->node_id != NULL) {
        json_t *k = json_object_get(w->by_name, name);
        if (k == NULL)
            return floe_err_user(w->err, FLOE_ENOTFOUND, "no lineage for %s", name + 2);
        json_array_append(out, k);
        return FLOE_OK;
    }
    const char *k;
    json_t *v;
    json_object_foreach(w->verts, k, v)
    {
        json_array_append_new(out, json_string(k));
    }
    if (json_array_size(out) == 0)
        return floe_err_user(w->err, FLOE_ENOTFOUND, "no lineage for execution %s",
                             q->execution_id);
    return FLOE_OK;
}

floe_rc
store_lineage_query(store_pg *pg, const store_lin_query *q, json_t **out, floe_err *err)
{
    *out = NULL;
    walk w = {.pg = pg,
              .verts = json_object(),
              .by_name = json_object(),
              .uses_by_node = json_object(),
              .uses_by_artifact = json_object(),
              .children = json_object(),
              .outputs = json_object(),
              .loaded = json_object(),
              .edges = json_object(),
              .err = err};
    json_t *depth = json_object(); /* visited key -> depth */
    json_t *frontier = json_array();
    floe_rc rc = roots(&w, q, frontier);
    unsigned max = q->depth > STORE_LIN_DEPTH_MAX ? STORE_LIN_DEPTH_MAX : q->depth;
    size_t i;
    json_t *x;
    json_array_foreach(frontier, i, x)
    {
        json_object_set_new(depth, json_string_value(x), json_integer(0));
    }
    for (unsigned d = 0; rc == FLOE_OK && d < max && json_array_size(frontier) > 0; d++) {
        json_t *next = json_array(), *found = json_array();
        json_array_foreach(frontier, i, x)
        {
            json_array_clear(found);
            if ((rc = neighbours(&w, json_string_value(x), q->downstream, found)) != FLOE_OK)
                break;
            size_t j;
            json_t *y;
            json_array_foreach(found, j, y)
            {
                const char *k = json_string_value(y);
                if (json_object_get(depth, k) != NULL)
                    continue;
                if (json_object_size(depth) >= STORE_LIN_VERTICES_MAX) {
                    w.truncated = true;
                    continue;
                }
                json_object_set_new(depth, k, json_integer(d + 1));
                json_array_append(next, y);
            }
        }
        json_decref(found);
        json_decref(frontier);
        frontier = next;
    }
    if (rc == FLOE_OK) {
        json_t *nodes = json_array(), *edges = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(depth, k, v)
        {
            json_t *vert = json_object_get(w.verts, k);
            if (vert == NULL)
                continue;
            json_object_set(vert, "depth", v);
            json_object_del(vert, "derived_execution");
            json_array_append(nodes, vert);
        }
        json_object_foreach(w.edges, k, v)
        {
            if (json_object_get(depth, json_string_value(json_object_get(v, "from"))) != NULL &&
                json_object_get(depth, json_string_value(json_object_get(v, "to"))) != NULL)
                json_array_append(edges, v);
        }
        *out = json_pack("{s:s, s:I, s:b, s:o, s:o}", "direction",
                         q->downstream ? "downstream" : "upstream", "depth", (json_int_t)max,
                         "truncated", w.truncated, "nodes", nodes, "edges", edges);
        if (*out == NULL)
            rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    }
    json_decref(frontier);
    json_decref(depth);
    json_decref(w.verts);
    json_decref(w.by_name);
    json_decref(w.uses_by_node);
    json_decref(w.uses_by_artifact);
    json_decref(w.children);
    json_decref(w.outputs);
    json_decref(w.loaded);
    json_decref(w.edges);
    return rc;
}

floe_rc
store_lineage_artifact_project(store_pg *pg, int64_t id, char *buf, size_t size, floe_err *err)
{
    char ids[24];
    snprintf(ids, sizeof(ids), "%" PRId64, id);
    const char *params[] = {ids};
    PGresult *r;
    floe_rc rc = store_pg_exec(pg,
                               "SELECT e.project FROM artifacts a JOIN executions e"
                               " ON e.id = a.execution_id WHERE a.id = $1::bigint",
                               1, params, NULL, NULL, &r, err);
    if (rc != FLOE_OK)
        return rc;
    bool found = PQntuples(r) == 1;
    if (found)
        snprintf(buf, size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return found ? FLOE_OK : floe_err_user(err, FLOE_ENOTFOUND, "no artifact %s", ids);
}
