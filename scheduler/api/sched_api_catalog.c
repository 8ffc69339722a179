/*
 * sched_api_catalog — relaunch and recover an execution, list and delete cache entries,
 * and lineage queries (docs/api.md, docs/catalog.md).
 */
#include "sched_api_int.h"

#include "floe_mem.h"
#include "floe_phase.h"
#include "floe_value.h"
#include "store_catalog.h"
#include "store_lineage.h"
#include "store_registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Relaunch and recover -------------------------------------------------------------- */

/* Relaunch with changed inputs (issue 26): the old inputs with overrides on top, typed and
 * checked as a launch's are (the workflow's interface, a launch plan's fixed inputs); *vm
 * and old->inputs become the new ones. false when r failed. */
static bool
relaunch_inputs(api_thread *t, api_req *r, store_exec *old, json_t *overrides, Floe__ValueMap **vm)
{
    store_entity e;
    if (store_registry_get(t->pg, STORE_WORKFLOW, old->project, old->domain, old->workflow_name,
                           old->workflow_version, r->arena, &e, &r->err) != FLOE_OK)
        return false;
    const Floe__WorkflowSpec *wf =
        floe__workflow_spec__unpack(floe_arena_pb_allocator(r->arena), e.spec_len, e.spec);
    const Floe__LaunchPlanSpec *lp = NULL;
    store_entity le;
    if (old->launch_plan_name != NULL &&
        store_registry_get(t->pg, STORE_LAUNCHPLAN, old->project, old->domain,
                           old->launch_plan_name, old->launch_plan_version, r->arena, &le,
                           &r->err) == FLOE_OK)
        lp =
            floe__launch_plan_spec__unpack(floe_arena_pb_allocator(r->arena), le.spec_len, le.spec);
    floe_err_clear(&r->err); /* a plan gone since: its fixed inputs are in the old ones */
    json_t *given = api_render_values(r, old->inputs, old->inputs_len);
    Floe__ValueMap *out = floe_arena_alloc(r->arena, sizeof(*out));
    if (wf == NULL || given == NULL || out == NULL || json_object_update(given, overrides) != 0) {
        json_decref(given);
        api_fail(r, FLOE_EIO, "execution %s: its workflow or inputs do not decode", old->id);
        return false;
    }
    floe__value_map__init(out);
    bool ok = api_resolve_inputs(r, wf->interface, given, lp, out) &&
              api_values_shrink(r, out->entries, out->n_entries);
    json_decref(given);
    if (!ok)
        return false;
    size_t len = floe__value_map__get_packed_size(out);
    uint8_t *packed = floe_arena_alloc(r->arena, len ? len : 1);
    if (packed == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return false;
    }
    floe__value_map__pack(out, packed);
    old->inputs = packed;
    old->inputs_len = len;
    *vm = out;
    return true;
}

static bool
terminal(const char *phase)
{
    return floe_phase_name_terminal(FLOE_SCOPE_EXEC, phase);
}

static Floe__Identifier *
ident(api_req *r, const char *project, const char *domain, const char *name, const char *version)
{
    Floe__Identifier *id = floe_arena_alloc(r->arena, sizeof(*id));
    if (id == NULL)
        return NULL;
    floe__identifier__init(id);
    id->project = (char *)project;
    id->domain = (char *)domain;
    id->name = (char *)name;
    id->version = (char *)version;
    return id;
}

/* POST /api/v1/executions/ID/relaunch|recover [{no_cache, overwrite_cache, requested_by}]:
 * a new execution of the same version with the same inputs; recover also takes over
 * every node that produced outputs in ID (which must have ended). */
void
api_relaunch_work(api_thread *t, api_req *r)
{
    const char *src = r->t.seg[3];
    bool recover = strcmp(r->t.seg[4], "recover") == 0;
    if (!api_exec_id_valid(r, src))
        return;
    bool no_cache = false, overwrite = false;
    const char *by = "api";
    json_t *overrides = NULL; /* relaunch with changed inputs: {name: value} */
    if (r->body_len > 0) {
        json_error_t jerr;
        json_t *body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
        const char *k;
        json_t *v;
        bool ok = body != NULL && json_is_object(body);
        json_object_foreach(ok ? body : NULL, k, v)
        {
            if (strcmp(k, "no_cache") == 0 && json_is_boolean(v))
                no_cache = json_is_true(v);
            else if (strcmp(k, "overwrite_cache") == 0 && json_is_boolean(v))
                overwrite = json_is_true(v);
            else if (strcmp(k, "inputs") == 0 && json_is_object(v) && !recover)
                overrides = json_incref(v);
            else if (strcmp(k, "requested_by") == 0 && json_is_string(v) &&
                     json_string_length(v) <= 128 &&
                     floe_utf8_valid(json_string_value(v), json_string_length(v)))
                by = floe_arena_strndup(r->arena, json_string_value(v), json_string_length(v));
            else
                ok = false;
        }
        json_decref(body);
        if (!ok || by == NULL) {
            json_decref(overrides);
            api_fail(r, FLOE_EINVAL,
                     "the body is a JSON object with no_cache and overwrite_cache (true or "
                     "false), requested_by (text of at most 128 bytes)%s",
                     recover ? " (recover runs with the inputs it had: relaunch to change them)"
                             : " and inputs ({NAME: value} to change)");
            return;
        }
    }
    store_exec old;
    if (api_pg(t, r) != FLOE_OK || store_exec_get(t->pg, src, r->arena, &old, &r->err) != FLOE_OK ||
        !api_allow(t, r, old.project)) {
        json_decref(overrides);
        return;
    }
    by = api_requested_by(r, by);
    if (recover && !terminal(old.phase)) {
        api_fail(r, FLOE_ECONFLICT,
                 "execution %s is %s: only an execution that ended can be recovered", src,
                 old.phase);
        return;
    }
    Floe__ValueMap *vm =
        floe__value_map__unpack(floe_arena_pb_allocator(r->arena), old.inputs_len, old.inputs);
    if (vm != NULL && overrides != NULL && !relaunch_inputs(t, r, &old, overrides, &vm)) {
        json_decref(overrides);
        return;
    }
    json_decref(overrides);
    launch_state *st = floe_arena_alloc(r->arena, sizeof(*st));
    Floe__Identifier *wf =
        ident(r, old.project, old.domain, old.workflow_name, old.workflow_version);
    if (vm == NULL || st == NULL || wf == NULL) {
        api_fail(r, FLOE_EIO, "execution %s: its inputs do not decode", src);
        return;
    }
    memset(st, 0, sizeof(*st));
    if (floe_id_new(st->id) != 0) {
        api_fail(r, FLOE_EIO, "no randomness for an execution id");
        return;
    }
    store_exec *ex = &st->ex;
    *ex = old;
    ex->id = st->id;
    ex->requested_by = by;
    ex->source_execution = src;
    ex->recover = recover;
    ex->no_cache = no_cache;
    ex->overwrite_cache = overwrite;
    ex->scheduled_us = 0;
    if (store_exec_insert(t->pg, ex, &r->err) != FLOE_OK)
        return;
    Floe__ExecutionRequested *m = &st->msg;
    floe__execution_requested__init(m);
    m->execution_id = st->id;
    m->workflow = wf;
    if (old.launch_plan_name != NULL) {
        m->launch_plan =
            ident(r, old.project, old.domain, old.launch_plan_name, old.launch_plan_version);
        /* the plan's execution timeout holds for its executions relaunched or recovered */
        m->timeout_ms =
            store_registry_lp_timeout(t->pg, old.project, old.domain, old.launch_plan_name,
                                      old.launch_plan_version, r->arena);
    }
    m->inputs = vm->entries;
    m->n_inputs = vm->n_entries;
    m->requested_by = (char *)by;
    m->no_cache = no_cache;
    m->overwrite_cache = overwrite;
    m->source_execution_id = (char *)src;
    m->recover = recover;
    r->state = st;
    r->reply =
        json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:b,s:o}", "id", st->id, "project", old.project,
                  "domain", old.domain, "workflow", "name", old.workflow_name, "version",
                  old.workflow_version, "phase", "QUEUED", "source_execution", src, "recover",
                  recover, "inputs", api_render_values(r, old.inputs, old.inputs_len));
}

/* --- The cache ------------------------------------------------------------------------- */

static const char *
task_param(api_req *r, bool *ok)
{
    const char *task = api_param(r, "task");
    if (task != NULL && (strlen(task) > 128 || !floe_utf8_valid(task, strlen(task)))) {
        api_fail(r, FLOE_EINVAL, "task: a name of at most 128 bytes");
        *ok = false;
    }
    return task;
}

static const char *
key_param(api_req *r, bool *ok)
{
    const char *key = api_param(r, "key");
    if (key == NULL)
        return NULL;
    bool hex = strlen(key) == 64;
    for (const char *p = key; hex && *p; p++)
        hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
    if (!hex) {
        api_fail(r, FLOE_EINVAL, "key: a cache key is 64 lower-case hex digits");
        *ok = false;
    }
    return key;
}

/* GET /api/v1/cache?project=&domain=&task=&limit= */
void
api_cache_list_work(api_thread *t, api_req *r)
{
    bool ok = true;
    const char *project = api_project(r, &ok);
    const char *domain = ok ? api_domain(r, &ok) : NULL;
    const char *task = ok ? task_param(r, &ok) : NULL;
    const char *lim = api_param(r, "limit");
    char *end = NULL;
    long limit = lim != NULL ? strtol(lim, &end, 10) : API_LIST_LIMIT_DEFAULT;
    if (ok && (lim != NULL && (*end != '\0' || limit < 1 || limit > STORE_CATALOG_LIST_MAX))) {
        api_fail(r, FLOE_EINVAL, "limit: 1 to %d", STORE_CATALOG_LIST_MAX);
        ok = false;
    }
    if (!ok || api_pg(t, r) != FLOE_OK || !api_allow(t, r, project))
        return;
    store_catalog_entry *v;
    size_t n;
    if (store_catalog_list(t->pg, project, domain, task, (size_t)limit, r->arena, &v, &n,
                           &r->err) != FLOE_OK)
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            items,
            json_pack("{s:s, s:{s:s, s:s}, s:s, s:o, s:s, s:s, s:i, s:I, s:o, s:o, s:o}", "key",
                      v[i].cache_key, "task", "name", v[i].task_name, "version", v[i].task_version,
                      "cache_version", v[i].cache_version, "outputs",
                      sched_render_values(v[i].outputs, v[i].outputs_len, r->arena), "execution",
                      v[i].execution_id, "node", v[i].node_id, "attempt", (int)v[i].attempt, "hits",
                      (json_int_t)v[i].hits, "created_at", sched_render_time(v[i].created_us),
                      "expires_at", sched_render_time(v[i].expires_us), "last_hit_at",
                      sched_render_time(v[i].last_hit_us)));
    r->reply = json_pack("{s:o}", "items", items);
}

/* DELETE /api/v1/cache?project=&domain=&task=&key= (a key, or every entry of a task) */
void
api_cache_delete_work(api_thread *t, api_req *r)
{
    bool ok = true;
    const char *project = api_project(r, &ok);
    const char *domain = ok ? api_domain(r, &ok) : NULL;
    const char *task = ok ? task_param(r, &ok) : NULL;
    const char *key = ok ? key_param(r, &ok) : NULL;
    if (ok && task == NULL && key == NULL) {
        api_fail(r, FLOE_EINVAL, "name what to delete: ?key=CACHE_KEY or ?task=NAME");
        ok = false;
    }
    if (!ok || api_pg(t, r) != FLOE_OK || !api_allow(t, r, project))
        return;
    int64_t n = 0;
    if (store_catalog_delete(t->pg, 0, project, domain, task, key, &n, &r->err) != FLOE_OK)
        return;
    r->reply = json_pack("{s:I}", "deleted", (json_int_t)n);
}

/* --- Lineage --------------------------------------------------------------------------- */

/* GET /api/v1/lineage?execution=&node=&output= | ?artifact=, &direction=&depth= */
void
api_lineage_work(api_thread *t, api_req *r)
{
    store_lin_query q = {.depth = 10};
    q.execution_id = api_param(r, "execution");
    q.node_id = api_param(r, "node");
    q.output = api_param(r, "output");
    const char *art = api_param(r, "artifact"), *dir = api_param(r, "direction"),
               *depth = api_param(r, "depth");
    char *end = NULL;
    if (art != NULL) {
        errno = 0;
        q.artifact_id = strtoll(art, &end, 10);
        if (*end != '\0' || q.artifact_id <= 0 || errno != 0) {
            api_fail(r, FLOE_EINVAL, "artifact: a positive artifact id");
            return;
        }
    }
    if ((art == NULL) == (q.execution_id == NULL)) {
        api_fail(r, FLOE_EINVAL, "give execution= (with node= and output=) or artifact=");
        return;
    }
    if (q.execution_id != NULL && !api_exec_id_valid(r, q.execution_id))
        return;
    if ((q.node_id != NULL &&
         (strlen(q.node_id) > 256 || !floe_utf8_valid(q.node_id, strlen(q.node_id)))) ||
        (q.output != NULL && (q.node_id == NULL || strlen(q.output) > 128 ||
                              !floe_utf8_valid(q.output, strlen(q.output))))) {
        api_fail(r, FLOE_EINVAL,
                 "node (at most 256 bytes) and output (at most 128, with node) "
                 "are names");
        return;
    }
    if (dir != NULL && strcmp(dir, "upstream") != 0 && strcmp(dir, "downstream") != 0) {
        api_fail(r, FLOE_EINVAL, "direction: upstream or downstream");
        return;
    }
    q.downstream = dir != NULL && strcmp(dir, "downstream") == 0;
    if (depth != NULL) {
        long d = strtol(depth, &end, 10);
        if (*end != '\0' || d < 0 || d > STORE_LIN_DEPTH_MAX) {
            api_fail(r, FLOE_EINVAL, "depth: 0 to %d hops", STORE_LIN_DEPTH_MAX);
            return;
        }
        q.depth = (unsigned)d;
    }
    if (api_pg(t, r) != FLOE_OK)
        return;
    /* Where the walk starts decides; it may lead into other projects' data, as reactive
     * chains across teams do (their names and digests, no values of theirs but these). */
    char project[64];
    store_exec ex;
    if (q.execution_id != NULL) {
        if (store_exec_get(t->pg, q.execution_id, r->arena, &ex, &r->err) != FLOE_OK)
            return;
        snprintf(project, sizeof(project), "%s", ex.project);
    } else if (store_lineage_artifact_project(t->pg, q.artifact_id, project, sizeof(project),
                                              &r->err) != FLOE_OK)
        return;
    if (!api_allow(t, r, project))
        return;
    json_t *out = NULL;
    if (store_lineage_query(t->pg, &q, &out, &r->err) != FLOE_OK)
        return;
    r->reply = out;
}
