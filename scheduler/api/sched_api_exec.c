/*
 * Execution routes. A launch (POST /api/v1/executions) resolves the workflow or launch
 * plan, checks the inputs against the interface (every missing, unknown or mistyped input
 * is reported in `details`), records the execution in PostgreSQL and answers 201, the
 * ExecutionRequested to <prefix>.events produced on the way out (sched_api_launch.c: one
 * Kafka refuses or loses is requested again by the leader's reconcile sweep, so no
 * accepted execution is left without an outcome).
 */
#include "sched_api_int.h"

#include "floe_map.h"

#include "floe_envelope.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "floe_type.h"
#include "floe_value.h"
#include "sched_inputs.h"
#include "spec.h"
#include "store_exec.h"
#include "sched_plan.h"
#include "sched_state_read.h"
#include "store_nodes.h"
#include "store_redis_probe.h"
#include "floe_phase.h"
#include "store_state.h"
#include "store_registry.h"

#include <stdio.h>
#include <string.h>

/* "name" or "name@version", or {name, version}. */
static bool
parse_ref(api_req *r, const json_t *j, const char *field, const char **name, const char **version)
{
    *name = *version = NULL;
    if (json_is_string(j)) {
        const char *s = json_string_value(j);
        const char *at = strchr(s, '@');
        if (at != NULL) {
            *name = floe_arena_strndup(r->arena, s, (size_t)(at - s));
            *version = floe_arena_strndup(r->arena, at + 1, strlen(at + 1));
        } else {
            *name = floe_arena_strndup(r->arena, s, strlen(s));
        }
    } else if (json_is_object(j)) {
        json_t *n = json_object_get(j, "name"), *v = json_object_get(j, "version");
        *name = json_is_string(n)
                    ? floe_arena_strndup(r->arena, json_string_value(n), json_string_length(n))
                    : NULL;
        *version = json_is_string(v)
                       ? floe_arena_strndup(r->arena, json_string_value(v), json_string_length(v))
                       : NULL;
    }
    if (*name == NULL) {
        api_fail(r, FLOE_EINVAL, "%s: expected \"name\", \"name@version\" or {name, version}",
                 field);
        return false;
    }
    if (spec_check_name(field, *name, &r->err) != FLOE_OK ||
        (*version != NULL && spec_check_version(*version, &r->err) != FLOE_OK))
        return false;
    return true;
}

/* The request's inputs for sched_inputs_merge: JSON values converted to the declared
 * types; every problem is collected for the answer's details. */
typedef struct api_inputs {
    const json_t *given;
    json_t *problems;
    size_t n_problems;
    char first[160];
} api_inputs;

static floe_rc
given_json(void *arg, const Floe__InputSpec *in, floe_arena *a, const Floe__Value **v,
           floe_err *err)
{
    api_inputs *ai = arg;
    const json_t *g = ai->given != NULL ? json_object_get(ai->given, in->name) : NULL;
    Floe__Value *val = NULL;
    *v = NULL;
    if (g == NULL)
        return FLOE_OK;
    floe_rc rc = floe_value_from_json(in->type, g, a, &val, err);
    *v = val;
    return rc;
}

static void
input_problem(void *arg, const char *input, const char *msg)
{
    api_inputs *ai = arg;
    json_object_set_new(ai->problems, input, json_string(msg));
    if (ai->n_problems++ == 0)
        floe_text_fmt(ai->first, sizeof(ai->first), "input \"%.48s\": %.100s", input, msg);
}

/* Resolves every interface input from the request, the plan and the defaults. Problems
 * go into r->err_details, one per input; returns false when there were any. */
bool
api_resolve_inputs(api_req *r, const Floe__Interface *ifc, const json_t *given,
                   const Floe__LaunchPlanSpec *lp, Floe__ValueMap *out)
{
    api_inputs ai = {.given = given, .problems = json_object()};
    const char *key;
    json_t *val;
    if (given != NULL) {
        json_object_foreach((json_t *)given, key, val)
        {
            char why[FLOE_ERR_MSG_MAX];
            if (!sched_inputs_givable(ifc, lp, key, why, sizeof(why)))
                input_problem(&ai, key, why);
        }
    }
    floe_err err = {0};
    floe_rc rc =
        sched_inputs_merge(r->arena, ifc, lp, given_json, &ai, input_problem, &ai, out, &err);
    if (rc == FLOE_ENOMEM) {
        json_decref(ai.problems);
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return false;
    }
    if (ai.n_problems > 0) {
        r->err_details = json_pack("{s:o}", "inputs", ai.problems);
        if (ai.n_problems == 1)
            api_fail(r, FLOE_EINVAL, "%s", ai.first);
        else
            api_fail(r, FLOE_EINVAL, "%s (%zu more in details)", ai.first, ai.n_problems - 1);
        return false;
    }
    json_decref(ai.problems);
    return true;
}

static const char *const launch_fields[] = {
    "project",         "domain",       "workflow",         "launch_plan", "inputs", "no_cache",
    "overwrite_cache", "requested_by", "source_execution", "labels",      NULL};

static bool
check_fields(api_req *r, const json_t *body)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        size_t i;
        for (i = 0; launch_fields[i] != NULL && strcmp(launch_fields[i], key) != 0; i++)
            ;
        if (launch_fields[i] == NULL) {
            api_fail(r, FLOE_EINVAL,
                     "unknown field \"%.48s\" (expected project, domain, workflow or launch_plan, "
                     "inputs, no_cache, overwrite_cache, requested_by, labels)",
                     key);
            return false;
        }
    }
    return true;
}

static const char *
body_string(api_req *r, const json_t *body, const char *key, size_t max, bool *ok)
{
    const json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v) || json_string_length(v) > max) {
        api_fail(r, FLOE_EINVAL, "%s: expected a string of at most %zu bytes", key, max);
        *ok = false;
        return NULL;
    }
    const char *copy = floe_arena_strndup(r->arena, json_string_value(v), json_string_length(v));
    if (copy == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        *ok = false;
    }
    return copy;
}

static void
launch_work_json(api_thread *t, api_req *r, json_t *body)
{
    bool ok = true;
    if (!json_is_object(body)) {
        api_fail(r, FLOE_EINVAL, "the body must be a JSON object");
        return;
    }
    if (!check_fields(r, body))
        return;
    const char *project = body_string(r, body, "project", 63, &ok);
    const char *domain = body_string(r, body, "domain", 32, &ok);
    const char *requested_by = body_string(r, body, "requested_by", 128, &ok);
    const char *labels = NULL;
    if (!ok || !api_labels_from_body(r, json_object_get(body, "labels"), &labels))
        return;
    if (project == NULL)
        project = api_project(r, &ok);
    else if (spec_check_project(project, &r->err) != FLOE_OK)
        return;
    if (domain == NULL)
        domain = api_domain(r, &ok);
    else if (!api_domain_known(api_cfg(r), domain)) {
        api_fail(r, FLOE_EINVAL, "domain \"%.64s\" is not one of the configured domains (%s)",
                 domain, api_cfg(r)->domains);
        return;
    }
    if (!ok)
        return;
    const json_t *wf_j = json_object_get(body, "workflow");
    const json_t *lp_j = json_object_get(body, "launch_plan");
    const json_t *inputs = json_object_get(body, "inputs");
    if ((wf_j == NULL) == (lp_j == NULL)) {
        api_fail(r, FLOE_EINVAL, "give exactly one of \"workflow\" and \"launch_plan\"");
        return;
    }
    if (inputs != NULL && !json_is_object(inputs) && !json_is_null(inputs)) {
        api_fail(r, FLOE_EINVAL, "inputs: expected an object of name: value");
        return;
    }
    if (json_is_null(inputs))
        inputs = NULL;
    const json_t *nc = json_object_get(body, "no_cache"),
                 *oc = json_object_get(body, "overwrite_cache");
    if ((nc != NULL && !json_is_boolean(nc)) || (oc != NULL && !json_is_boolean(oc))) {
        api_fail(r, FLOE_EINVAL, "no_cache and overwrite_cache are true or false");
        return;
    }
    if (requested_by != NULL && !floe_utf8_valid(requested_by, strlen(requested_by))) {
        api_fail(r, FLOE_EINVAL, "requested_by is not valid UTF-8");
        return;
    }
    const char *name, *version;
    if (!parse_ref(r, lp_j != NULL ? lp_j : wf_j, lp_j != NULL ? "launch_plan" : "workflow", &name,
                   &version))
        return;
    if (api_pg(t, r) != FLOE_OK || !api_allow(t, r, project))
        return;
    requested_by = api_requested_by(r, requested_by);

    const Floe__LaunchPlanSpec *lp = NULL;
    store_entity e;
    const char *wf_name = name, *wf_version = version;
    if (lp_j != NULL) {
        if (store_registry_get(t->pg, STORE_LAUNCHPLAN, project, domain, name, version, r->arena,
                               &e, &r->err) != FLOE_OK)
            return;
        lp = floe__launch_plan_spec__unpack(floe_arena_pb_allocator(r->arena), e.spec_len, e.spec);
        if (lp == NULL) {
            api_fail(r, FLOE_EIO, "launch plan \"%s\" is stored in a form that does not decode",
                     name);
            return;
        }
        wf_name = lp->workflow->name;
        wf_version = lp->workflow->version;
    }
    const uint8_t *spec;
    size_t spec_len;
    if (api_workflow_spec(t, r, project, domain, wf_name, wf_version, &spec, &spec_len) != FLOE_OK)
        return;
    const Floe__WorkflowSpec *wf =
        floe__workflow_spec__unpack(floe_arena_pb_allocator(r->arena), spec_len, spec);
    if (wf == NULL) {
        api_fail(r, FLOE_EIO, "workflow \"%s\" is stored in a form that does not decode", wf_name);
        return;
    }
    Floe__ValueMap values = FLOE__VALUE_MAP__INIT;
    if (!api_resolve_inputs(r, wf->interface, inputs, lp, &values) ||
        !api_values_shrink(r, values.entries, values.n_entries))
        return;

    launch_state *st = floe_arena_alloc(r->arena, sizeof(*st));
    if (st == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    memset(st, 0, sizeof(*st));
    if (floe_id_new(st->id) != 0) {
        api_fail(r, FLOE_EIO, "no randomness for an execution id");
        return;
    }
    size_t len = floe__value_map__get_packed_size(&values);
    uint8_t *packed = floe_arena_alloc(r->arena, len ? len : 1);
    if (packed == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    floe__value_map__pack(&values, packed);
    store_exec *ex = &st->ex;
    ex->id = st->id;
    ex->project = project;
    ex->domain = domain;
    ex->workflow_name = wf->id->name;
    ex->workflow_version = wf->id->version;
    ex->launch_plan_name = lp != NULL ? lp->id->name : NULL;
    ex->launch_plan_version = lp != NULL ? lp->id->version : NULL;
    ex->inputs = packed;
    ex->inputs_len = len;
    ex->requested_by = requested_by != NULL ? requested_by : "api";
    ex->labels = labels;
    ex->no_cache = json_is_true(nc);
    ex->overwrite_cache = json_is_true(oc);
    /* The audit row goes with the execution's (one commit on the launch's path), written
     * by launch_record_batch; if the insert fails, neither is and the request is audited
     * as failed there. */
    api_audit_fill(r, "ok", 201, NULL, &st->audit_buf, &st->audit);
    ex->audit = &st->audit;
    r->audited = true;

    Floe__ExecutionRequested *m = &st->msg;
    floe__execution_requested__init(m);
    m->execution_id = st->id;
    m->workflow = wf->id;
    m->launch_plan = lp != NULL ? lp->id : NULL;
    m->inputs = values.entries;
    m->n_inputs = values.n_entries;
    m->requested_by = (char *)ex->requested_by;
    m->no_cache = ex->no_cache;
    m->overwrite_cache = ex->overwrite_cache;
    m->timeout_ms = lp != NULL ? lp->timeout_ms : 0;
    r->state = st;
    r->reply = json_pack(
        "{s:s,s:s,s:s,s:{s:s,s:s},s:o,s:s,s:o}", "id", st->id, "project", project, "domain", domain,
        "workflow", "name", wf->id->name, "version", wf->id->version, "launch_plan",
        lp != NULL ? json_pack("{s:s,s:s}", "name", lp->id->name, "version", lp->id->version)
                   : json_null(),
        "phase", "QUEUED", "inputs", api_render_values(r, packed, len));
}

void
api_launch_work(api_thread *t, api_req *r)
{
    json_error_t jerr;
    json_t *body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        api_fail(r, FLOE_EINVAL, "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return;
    }
    launch_work_json(t, r, body); /* copies what it keeps into the arena */
    json_decref(body);
}

/* --- get and list --------------------------------------------------------------------- */

static json_t *
exec_json(const store_exec *ex, floe_arena *arena, api_req *resolve)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "id", json_string(ex->id));
    json_object_set_new(o, "project", json_string(ex->project));
    json_object_set_new(o, "domain", json_string(ex->domain));
    json_object_set_new(
        o, "workflow",
        json_pack("{s:s,s:s}", "name", ex->workflow_name, "version", ex->workflow_version));
    json_object_set_new(o, "launch_plan",
                        ex->launch_plan_name != NULL
                            ? json_pack("{s:s,s:s}", "name", ex->launch_plan_name, "version",
                                        ex->launch_plan_version)
                            : json_null());
    json_object_set_new(o, "phase", json_string(ex->phase));
    /* one execution shows its values whole; a list shows references as such */
    json_object_set_new(o, "inputs",
                        resolve != NULL ? api_render_values(resolve, ex->inputs, ex->inputs_len)
                                        : sched_render_values(ex->inputs, ex->inputs_len, arena));
    json_object_set_new(o, "outputs",
                        resolve != NULL ? api_render_values(resolve, ex->outputs, ex->outputs_len)
                                        : sched_render_values(ex->outputs, ex->outputs_len, arena));
    json_object_set_new(o, "error", ex->error != NULL ? json_string(ex->error) : json_null());
    json_object_set_new(o, "requested_by", json_string(ex->requested_by));
    json_object_set_new(o, "labels", api_labels_render(ex->labels));
    json_object_set_new(o, "source_execution",
                        ex->source_execution != NULL ? json_string(ex->source_execution)
                                                     : json_null());
    json_object_set_new(o, "parent", api_exec_parent(ex));
    json_object_set_new(o, "no_cache", json_boolean(ex->no_cache));
    json_object_set_new(o, "overwrite_cache", json_boolean(ex->overwrite_cache));
    json_object_set_new(o, "created_at", sched_render_time(ex->created_us));
    json_object_set_new(o, "updated_at", sched_render_time(ex->updated_us));
    json_object_set_new(o, "started_at", sched_render_time(ex->started_us));
    json_object_set_new(o, "finished_at", sched_render_time(ex->finished_us));
    return o;
}

bool
api_exec_id_valid(api_req *r, const char *id)
{
    if (floe_envelope_check_id("execution id", id, 64, &r->err) != FLOE_OK) {
        r->err.code = FLOE_EINVAL;
        return false;
    }
    return true;
}

void
api_exec_get_work(api_thread *t, api_req *r)
{
    const char *id = r->t.seg[3];
    if (!api_exec_id_valid(r, id) || api_pg(t, r) != FLOE_OK)
        return;
    store_exec ex;
    if (store_exec_get(t->pg, id, r->arena, &ex, &r->err) != FLOE_OK ||
        !api_allow(t, r, ex.project))
        return;
    if ((r->reply = exec_json(&ex, r->arena, r)) == NULL)
        api_fail(r, FLOE_ENOMEM, "out of memory");
    else
        api_exec_children(t, r, &ex, r->reply);
}

static json_t *
str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *
node_json(const store_run_node *nd, const store_run_attempt *att, size_t n_att, api_req *r)
{
    json_t *atts = json_array();
    for (size_t i = 0; atts != NULL && i < n_att; i++) {
        const store_run_attempt *a = &att[i];
        json_array_append_new(
            atts, json_pack("{s:i,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "attempt", (int)a->attempt,
                            "phase", a->phase != NULL ? a->phase : "", "error_kind",
                            str_or_null(a->error_kind), "error_code", str_or_null(a->error_code),
                            "message", str_or_null(a->message), "worker", str_or_null(a->worker),
                            "started_at", sched_render_time(a->started_us), "finished_at",
                            sched_render_time(a->finished_us), "stdout", str_or_null(a->stdout_uri),
                            "stderr", str_or_null(a->stderr_uri)));
    }
    json_t *error = nd->error_kind != NULL || nd->error != NULL
                        ? json_pack("{s:o,s:o,s:o}", "kind", str_or_null(nd->error_kind), "code",
                                    str_or_null(nd->error_code), "message", str_or_null(nd->error))
                        : json_null();
    return json_pack("{s:s,s:s,s:i,s:o,s:o,s:o}", "id", nd->node_id, "phase",
                     nd->phase != NULL ? nd->phase : "", "attempts", (int)nd->attempts, "error",
                     error, "outputs", api_render_values(r, nd->outputs, nd->outputs_len),
                     "attempt_log", atts != NULL ? atts : json_array());
}

/* A running execution's nodes, from its Redis state (the leader's; read here with a short
 * blocking connection) decoded against its plan. Attempts grouped by node. */
static floe_rc
live_nodes(api_thread *t, api_req *r, const store_exec *ex, store_nodes *out)
{
    memset(out, 0, sizeof(*out));
    store_entity ent;
    floe_rc rc =
        store_registry_get(t->pg, STORE_WORKFLOW, ex->project, ex->domain, ex->workflow_name,
                           ex->workflow_version, r->arena, &ent, &r->err);
    if (rc != FLOE_OK)
        return rc;
    sched_plan *plan =
        sched_plan_build(ent.spec, ent.spec_len, (size_t)t->cfg->spec_max_nodes, &r->err);
    if (plan == NULL)
        return r->err.code != FLOE_OK ? r->err.code : FLOE_EINVAL;
    char kx[STORE_KEY_MAX], kl[STORE_KEY_MAX];
    store_reply *rep[2] = {NULL, NULL};
    if ((rc = store_key_exec(kx, ex->id)) == FLOE_OK &&
        (rc = store_key_log(kl, ex->id)) == FLOE_OK) {
        const char *hgetall[] = {"HGETALL", kx}, *lrange[] = {"LRANGE", kl, "0", "-1"};
        const char *const *cmds[] = {hgetall, lrange};
        const int argcs[] = {2, 4};
        rc = store_redis_sync_call(t->cfg->redis_url, (int)t->cfg->redis_timeout_ms, 2, cmds, argcs,
                                   rep, &r->err);
    }
    sched_state_view v;
    if (rc == FLOE_OK && store_reply_len(rep[0]) > 0 &&
        (!sched_state_read_hash(plan, rep[0], false, r->arena, &v) ||
         !sched_state_read_log(plan, rep[1], r->arena, &v)))
        rc = floe_err_sys(&r->err, FLOE_ENOMEM, "out of memory reading the execution state");
    if (rc == FLOE_OK && store_reply_len(rep[0]) > 0) {
        size_t nn = v.n_nodes;
        out->nodes = v.nodes;
        out->first = floe_arena_alloc(r->arena, (nn + 1) * sizeof(size_t));
        out->count = floe_arena_alloc(r->arena, (nn + 1) * sizeof(size_t));
        out->att = floe_arena_alloc(r->arena, (v.n_attempts + 1) * sizeof(*out->att));
        if (out->first == NULL || out->count == NULL || out->att == NULL) {
            rc = floe_err_sys(&r->err, FLOE_ENOMEM, "out of memory");
        } else {
            /* The log is in the order attempts ended: a counting sort groups it by node. */
            memset(out->count, 0, (nn + 1) * sizeof(size_t));
            int64_t *idx = floe_arena_alloc(r->arena, (v.n_attempts + 1) * sizeof(int64_t));
            for (size_t i = 0; idx != NULL && i < v.n_attempts; i++)
                out->count[idx[i] = v.attempt_node[i]]++;
            size_t at = 0;
            for (size_t i = 0; i < nn; i++) {
                out->first[i] = at;
                at += out->count[i];
            }
            size_t *fill = floe_arena_alloc(r->arena, (nn + 1) * sizeof(size_t));
            if (idx == NULL || fill == NULL) {
                rc = floe_err_sys(&r->err, FLOE_ENOMEM, "out of memory");
            } else {
                memset(fill, 0, (nn + 1) * sizeof(size_t));
                /* Node ids live in the plan, freed below: the answer gets its own copies. */
                for (size_t i = 0; rc == FLOE_OK && i < nn; i++)
                    if ((out->nodes[i].node_id = floe_arena_strndup(
                             r->arena, v.nodes[i].node_id, strlen(v.nodes[i].node_id))) == NULL)
                        rc = floe_err_sys(&r->err, FLOE_ENOMEM, "out of memory");
                for (size_t i = 0; rc == FLOE_OK && i < v.n_attempts; i++) {
                    if (idx[i] < 0)
                        continue;
                    store_run_attempt *a = &out->att[out->first[idx[i]] + fill[idx[i]]++];
                    *a = v.attempts[i];
                    a->node_id = out->nodes[idx[i]].node_id;
                }
                out->n = rc == FLOE_OK ? nn : 0;
            }
        }
    }
    store_redis_sync_free(rep, 2);
    sched_plan_free(plan);
    return rc;
}

/* GET /api/v1/executions/ID/nodes: every node with its phase, error, outputs and attempts
 * (worker, timing, the stdout/stderr blobs): from PostgreSQL once the execution ended,
 * from its Redis state while it runs. */
/* A map node's progress (issue 23): its items (nodes "ID.k") counted by phase, as
 * "map": {"items": N, "PHASE": count, ...} on the map node. */
static floe_rc
map_progress(const store_nodes *nodes, json_t *items)
{
    floe_map *by_id = floe_map_new(64);
    if (by_id == NULL)
        return FLOE_ENOMEM;
    floe_rc rc = FLOE_OK;
    for (size_t i = 0; rc == FLOE_OK && i < nodes->n; i++)
        rc = floe_map_put(by_id, nodes->nodes[i].node_id, json_array_get(items, i));
    for (size_t i = 0; rc == FLOE_OK && i < nodes->n; i++) {
        const char *id = nodes->nodes[i].node_id, *dot = strrchr(id, '.');
        char parent[160];
        if (dot == NULL || dot[1] < '0' || dot[1] > '9' || (size_t)(dot - id) >= sizeof(parent))
            continue;
        memcpy(parent, id, (size_t)(dot - id));
        parent[dot - id] = '\0';
        json_t *p = floe_map_get(by_id, parent);
        if (p == NULL)
            continue;
        json_t *m = json_object_get(p, "map");
        if (m == NULL && json_object_set_new(p, "map", m = json_pack("{s:i}", "items", 0)) != 0)
            rc = FLOE_ENOMEM;
        const char *ph = nodes->nodes[i].phase != NULL ? nodes->nodes[i].phase : "UNKNOWN";
        if (rc == FLOE_OK &&
            (json_object_set_new(
                 m, "items", json_integer(json_integer_value(json_object_get(m, "items")) + 1)) ||
             json_object_set_new(m, ph,
                                 json_integer(json_integer_value(json_object_get(m, ph)) + 1))))
            rc = FLOE_ENOMEM;
    }
    floe_map_free(by_id);
    return rc;
}

void
api_exec_nodes_work(api_thread *t, api_req *r)
{
    const char *id = r->t.seg[3];
    if (!api_exec_id_valid(r, id) || api_pg(t, r) != FLOE_OK)
        return;
    store_exec ex;
    store_nodes nodes;
    if (store_exec_get(t->pg, id, r->arena, &ex, &r->err) != FLOE_OK ||
        !api_allow(t, r, ex.project))
        return;
    bool ended = ex.finished_us > 0;
    if ((ended ? store_nodes_get(t->pg, id, r->arena, &nodes, &r->err)
               : live_nodes(t, r, &ex, &nodes)) != FLOE_OK)
        return;
    json_t *items = json_array();
    for (size_t i = 0; items != NULL && i < nodes.n; i++)
        json_array_append_new(
            items, node_json(&nodes.nodes[i], nodes.att + nodes.first[i], nodes.count[i], r));
    if (items != NULL && map_progress(&nodes, items) != FLOE_OK)
        json_decref(items), items = NULL;
    r->reply =
        json_pack("{s:s,s:s,s:s,s:o}", "execution", ex.id, "phase", ex.phase, "source",
                  ended ? "recorded" : "live", "items", items != NULL ? items : json_array());
    if (r->reply == NULL)
        api_fail(r, FLOE_ENOMEM, "out of memory");
}

void
api_exec_list_work(api_thread *t, api_req *r)
{
    store_exec_query q = {0};
    if (!api_list_scope(r, &q.project, &q.domain, &q.limit, &q.before_seq) ||
        !api_allow(t, r, q.project))
        return;
    const char *phase = api_param(r, "phase");
    if (phase != NULL) {
        char up[16];
        size_t i;
        for (i = 0; phase[i] && i + 1 < sizeof(up); i++)
            up[i] = (char)(phase[i] >= 'a' && phase[i] <= 'z' ? phase[i] - 32 : phase[i]);
        up[i] = '\0';
        floe_phase ph = floe_phase_parse(up);
        if (!floe_phase_in_scope(FLOE_SCOPE_EXEC, (int)ph)) {
            api_fail(r, FLOE_EINVAL,
                     "phase \"%.32s\" is not one of queued, running, succeeded, failed, aborted, "
                     "timed_out",
                     phase);
            return;
        }
        q.phase = floe_phase_name((int)ph);
    }
    q.workflow_name = api_param(r, "workflow");
    if (q.workflow_name != NULL && spec_check_name("workflow", q.workflow_name, &r->err) != 0)
        return;
    q.launch_plan_name = api_param(r, "launch_plan");
    if (q.launch_plan_name != NULL &&
        spec_check_name("launch_plan", q.launch_plan_name, &r->err) != 0)
        return;
    q.requested_by = api_param(r, "requested_by");
    if (q.requested_by != NULL && (strlen(q.requested_by) == 0 || strlen(q.requested_by) > 128 ||
                                   !floe_utf8_valid(q.requested_by, strlen(q.requested_by)))) {
        api_fail(r, FLOE_EINVAL, "requested_by: expected 1 to 128 bytes of text");
        return;
    }
    if (!api_labels_from_query(r, &q.labels))
        return;
    static const char *const times[2] = {"created_after", "created_before"};
    int64_t *slots[2] = {&q.created_after_us, &q.created_before_us};
    for (int i = 0; i < 2; i++) {
        const char *v = api_param(r, times[i]);
        floe_err terr;
        if (v != NULL && floe_datetime_parse(v, slots[i], &terr) != FLOE_OK) {
            api_fail(r, FLOE_EINVAL, "%s: %s", times[i], terr.msg);
            return;
        }
    }
    if (api_pg(t, r) != FLOE_OK)
        return;
    store_exec *rows;
    size_t n;
    bool more;
    if (store_exec_list(t->pg, &q, r->arena, &rows, &n, &more, &r->err) != FLOE_OK)
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, exec_json(&rows[i], r->arena, NULL));
    api_reply_page(r, items, more, n > 0 ? rows[n - 1].seq : 0);
}

/* --- terminate ------------------------------------------------------------------------ */

/* The engine ends the execution when it consumes the request: the answer is 202. */
typedef struct terminate_state {
    Floe__ExecutionTerminate msg;
} terminate_state;

void
api_terminate_work(api_thread *t, api_req *r)
{
    const char *id = r->t.seg[3];
    if (!api_exec_id_valid(r, id) || api_pg(t, r) != FLOE_OK)
        return;
    const char *reason = "";
    const char *by = "";
    if (r->body_len > 0) {
        json_error_t jerr;
        json_t *body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (body == NULL || !json_is_object(body)) {
            json_decref(body);
            api_fail(r, FLOE_EINVAL, "the body must be a JSON object {reason, requested_by}");
            return;
        }
        const char *rs = json_string_value(json_object_get(body, "reason"));
        const char *rb = json_string_value(json_object_get(body, "requested_by"));
        if ((rs != NULL && (strlen(rs) > 1024 || !floe_utf8_valid(rs, strlen(rs)))) ||
            (rb != NULL && (strlen(rb) > 128 || !floe_utf8_valid(rb, strlen(rb))))) {
            json_decref(body);
            api_fail(r, FLOE_EINVAL,
                     "reason (at most 1024 bytes) and requested_by (at most 128) "
                     "must be UTF-8 text");
            return;
        }
        reason = rs != NULL ? floe_arena_strndup(r->arena, rs, strlen(rs)) : "";
        by = rb != NULL ? floe_arena_strndup(r->arena, rb, strlen(rb)) : "";
        json_decref(body);
    }
    store_exec ex;
    if (store_exec_get(t->pg, id, r->arena, &ex, &r->err) != FLOE_OK ||
        !api_allow(t, r, ex.project))
        return;
    by = api_requested_by(r, by);
    if (strcmp(ex.phase, "QUEUED") != 0 && strcmp(ex.phase, "RUNNING") != 0) {
        api_fail(r, FLOE_ECONFLICT, "execution %s has already ended (%s)", id, ex.phase);
        return;
    }
    terminate_state *st = floe_arena_alloc(r->arena, sizeof(*st));
    if (st == NULL || reason == NULL || by == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    floe__execution_terminate__init(&st->msg);
    st->msg.execution_id = (char *)ex.id;
    st->msg.reason = (char *)reason;
    st->msg.requested_by = (char *)by;
    r->state = st;
}

static void
terminate_delivered(api_req *r, floe_rc rc, const char *reason)
{
    terminate_state *st = r->state;
    if (rc != FLOE_OK) {
        api_fail(r, FLOE_EIO, "the terminate request could not be published to Kafka: %s",
                 reason != NULL ? reason : floe_rc_name(rc));
    } else {
        r->status = 202;
        r->reply = json_pack("{s:s,s:s}", "id", st->msg.execution_id, "status", "terminating");
    }
    api_reply(r);
}

void
api_terminate_done(api_req *r)
{
    terminate_state *st = r->state;
    floe_err err;
    if (api_produce_event(r, st->msg.execution_id,
                          FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_TERMINATE, &st->msg.base,
                          terminate_delivered, &err) != FLOE_OK) {
        api_fail(r, FLOE_EIO, "the terminate request could not be published: %s", err.msg);
        api_reply(r);
    }
}
