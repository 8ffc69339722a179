/*
 * sched_plan — flattening. One recursive pass per workflow level (depth is bounded by the
 * compiler's spec.max_depth, so the recursion is too):
 *
 *   level(wf, ctx):  for each node j of wf, in topological order
 *     deps(j)      = done-set of each upstream u, or the enclosing call's deps for a node
 *                    with no upstream inside its workflow
 *     task node    -> one plan node; done-set(j) = {it}
 *     workflow node-> level(sub, ctx'); done-set(j) = every plan node it produced
 *                    (or deps(j) when the sub-workflow is empty)
 *
 * A binding to {input: x} inside a sub-workflow resolves through the call's binding for x
 * (or the sub-workflow's default); a binding to an output of a workflow node resolves
 * through that sub-workflow's output bindings. Edges are deduplicated, so n_upstream is
 * the exact count the Redis state decrements.
 */
#include "sched_plan.h"

#include "floe_arena.h"
#include "floe_map.h"
#include "floe_mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_ID_MAX 128 /* the bus limit on node ids */

typedef struct u32vec {
    uint32_t *v;
    uint32_t n;
} u32vec;

typedef struct plan_build plan_build;

/* One workflow level being inlined. */
typedef struct plan_level {
    const Floe__WorkflowSpec *wf;
    const char *prefix;              /* "" at the top, "call." inside */
    const struct plan_level *parent; /* NULL at the top */
    const Floe__Node *call;          /* the parent's node calling this level */
    const u32vec *call_deps;         /* that node's deps */
    u32vec *done;                    /* per node of wf */
    sched_binding **outs;            /* per node of wf: resolved outputs of workflow nodes */
} plan_level;

typedef struct plan_tmp {
    const char *id;
    const Floe__TaskSpec *task;
    const Floe__MapSpec *map;
    int role;
    const Floe__BranchSpec *branch;
    const Floe__GateSpec *gate;
    const Floe__LaunchPlanSpec *launchplan;
    const Floe__WorkflowSpec *child_workflow;
    const Floe__Interface *ifc;
    sched_binding *inputs;
    uint32_t n_inputs;
    u32vec deps;
} plan_tmp;

struct plan_build {
    floe_arena *arena;
    size_t max_nodes;
    size_t edges, max_edges; /* dependency edges so far (before deduplication), and the cap */
    plan_tmp *tmp;
    uint32_t n, cap;
    uint32_t n_maps;
    floe_err *err;
};

struct sched_plan_priv {
    sched_plan pub;
    floe_arena *arena;
    floe_map *by_id;
    uint32_t *maps; /* plan index of each map node, by map_ord */
};

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* --- Binding resolution ---------------------------------------------------------------- */

static floe_rc resolve(plan_build *b, const plan_level *lv, const Floe__Binding *bind,
                       sched_binding *out);

static const Floe__Binding *
find_binding(Floe__Binding *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i]->name, name) == 0)
            return v[i];
    return NULL;
}

static floe_rc
resolve_input(plan_build *b, const plan_level *lv, const char *name, sched_binding *out)
{
    if (lv->parent == NULL) {
        out->kind = SCHED_SRC_INPUT;
        out->ref = name;
        return FLOE_OK;
    }
    const Floe__Binding *via = find_binding(lv->call->inputs, lv->call->n_inputs, name);
    if (via != NULL)
        return resolve(b, lv->parent, via, out);
    const Floe__Interface *ifc = lv->wf->interface;
    for (size_t i = 0; ifc != NULL && i < ifc->n_inputs; i++) {
        if (strcmp(ifc->inputs[i]->name, name) == 0 && ifc->inputs[i]->default_value != NULL) {
            out->kind = SCHED_SRC_LITERAL;
            out->literal = ifc->inputs[i]->default_value;
            return FLOE_OK;
        }
    }
    return floe_err_user(b->err, FLOE_EINVAL,
                         "plan: node \"%.200s\": sub-workflow input \"%.64s\" is not bound",
                         lv->call->id, name);
}

static floe_rc
resolve(plan_build *b, const plan_level *lv, const Floe__Binding *bind, sched_binding *out)
{
    switch (bind->source_case) {
    case FLOE__BINDING__SOURCE_LITERAL:
        out->kind = SCHED_SRC_LITERAL;
        out->literal = bind->literal;
        return FLOE_OK;
    case FLOE__BINDING__SOURCE_WORKFLOW_INPUT:
        return resolve_input(b, lv, bind->workflow_input, out);
    case FLOE__BINDING__SOURCE_NODE_OUTPUT: {
        const Floe__OutputRef *ref = bind->node_output;
        uint32_t at = ref->node_index;
        /* Versions compiled before the output-index fix stored workflow outputs by source
         * position: trust the name. */
        if (at >= lv->wf->n_nodes || strcmp(lv->wf->nodes[at]->id, ref->node) != 0) {
            for (at = 0; at < lv->wf->n_nodes; at++)
                if (strcmp(lv->wf->nodes[at]->id, ref->node) == 0)
                    break;
        }
        if (at >= lv->wf->n_nodes)
            return floe_err_user(b->err, FLOE_EINVAL, "plan: output of unknown node \"%.128s\"",
                                 ref->node);
        const Floe__Node *src = lv->wf->nodes[at];
        if (src->kind == FLOE__NODE_KIND__NODE_KIND_WORKFLOW && src->map == NULL) {
            const Floe__WorkflowSpec *sub = lv->wf->subworkflows[src->target];
            sched_binding *outs = lv->outs[at];
            for (size_t i = 0; i < sub->n_outputs; i++) {
                if (strcmp(sub->outputs[i]->name, ref->output) == 0) {
                    const char *name = out->name;
                    *out = outs[i];
                    out->name = name;
                    return FLOE_OK;
                }
            }
            return floe_err_user(b->err, FLOE_EINVAL,
                                 "plan: node \"%.200s\" has no output \"%.64s\"", src->id,
                                 ref->output);
        }
        const u32vec *d = &lv->done[at];
        out->kind = SCHED_SRC_OUTPUT;
        out->node = d->v[0];
        out->ref = ref->output;
        return FLOE_OK;
    }
    default:
        return floe_err_user(b->err, FLOE_EINVAL, "plan: binding \"%.64s\" has no source",
                             bind->name);
    }
}

/* --- Levels ---------------------------------------------------------------------------- */

/* A node's dependencies: the union of its upstream nodes' sets (or the call's, for a source
 * node of a sub-workflow), in one allocation: appending set by set copied O(in-degree^2)
 * bytes (200 MB for a join after 10,000 nodes). Sorted and deduplicated by the caller. */
static floe_rc
level_deps(plan_build *b, const plan_level *lv, const Floe__Node *nd, size_t j, u32vec *deps)
{
    size_t total = 0;
    for (size_t k = 0; k < nd->n_upstream; k++) {
        if (nd->upstream[k] >= j)
            return floe_err_user(b->err, FLOE_EINVAL,
                                 "plan: node \"%.200s\" is not in topological order", nd->id);
        total += lv->done[nd->upstream[k]].n;
    }
    const u32vec *call = nd->n_upstream == 0 ? lv->call_deps : NULL;
    if (call != NULL)
        total += call->n;
    /* A node after a sub-workflow depends on every node it produced, and a source node
     * inside a sub-workflow on everything its call depends on: two wide sub-workflows in a
     * row multiply (10k x 10k = 100M edges from a small spec, review H9). Bounded here,
     * before anything is allocated for it. */
    b->edges += total;
    if (b->edges > b->max_edges)
        return floe_err_user(b->err, FLOE_ETOOBIG,
                             "plan: node \"%.200s\": more than %zu dependencies once "
                             "sub-workflows are inlined (a wide sub-workflow feeding many "
                             "source nodes: join its outputs in one node first)",
                             nd->id, b->max_edges);
    *deps = (u32vec){0};
    if (total == 0)
        return FLOE_OK;
    uint32_t *v = floe_arena_alloc(b->arena, total * sizeof(*v));
    if (v == NULL)
        return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
    size_t n = 0;
    for (size_t k = 0; k < nd->n_upstream; k++) {
        const u32vec *src = &lv->done[nd->upstream[k]];
        if (src->n > 0)
            memcpy(v + n, src->v, src->n * sizeof(*v));
        n += src->n;
    }
    if (call != NULL && call->n > 0)
        memcpy(v + n, call->v, call->n * sizeof(*v));
    deps->v = v;
    deps->n = (uint32_t)total;
    return FLOE_OK;
}

static floe_rc
add_task(plan_build *b, const char *id, const Floe__TaskSpec *task, sched_binding *inputs,
         uint32_t n_inputs, const u32vec *deps, uint32_t *index)
{
    if (b->n >= b->max_nodes)
        return floe_err_user(b->err, FLOE_ETOOBIG,
                             "plan: more than %zu task nodes once sub-workflows are inlined",
                             b->max_nodes);
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 64;
        plan_tmp *t = floe_realloc(b->tmp, cap * sizeof(*t));
        if (t == NULL)
            return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        b->tmp = t;
        b->cap = cap;
    }
    plan_tmp *t = &b->tmp[b->n];
    *t = (plan_tmp){.id = id,
                    .task = task,
                    .ifc = task != NULL ? task->interface : NULL,
                    .inputs = inputs,
                    .n_inputs = n_inputs,
                    .deps = *deps};
    *index = b->n++;
    return FLOE_OK;
}

static floe_rc plan_level_run(plan_build *b, plan_level *lv);

/* A condition's operands, depth first, resolved into in[*n...]. */
static floe_rc
branch_operands(plan_build *b, const plan_level *lv, const Floe__Condition *c, sched_binding *in,
                uint32_t *n, uint32_t cap, int depth)
{
    if (c == NULL || depth > 32)
        return floe_err_user(b->err, FLOE_EINVAL, "plan: a branch condition is malformed");
    for (size_t i = 0; i < c->n_operands; i++) {
        if (*n >= cap)
            return floe_err_user(b->err, FLOE_EINVAL, "plan: a branch condition is malformed");
        memset(&in[*n], 0, sizeof(in[*n]));
        in[*n].name = "";
        floe_rc rc = resolve(b, lv, c->operands[i], &in[(*n)++]);
        if (rc != FLOE_OK)
            return rc;
    }
    for (size_t i = 0; i < c->n_args; i++) {
        floe_rc rc = branch_operands(b, lv, c->args[i], in, n, cap, depth + 1);
        if (rc != FLOE_OK)
            return rc;
    }
    return FLOE_OK;
}

static uint32_t
count_operands(const Floe__Condition *c, int depth)
{
    uint32_t n = c != NULL && depth <= 32 ? (uint32_t)c->n_operands : 0;
    for (size_t i = 0; c != NULL && depth <= 32 && i < c->n_args; i++)
        n += count_operands(c->args[i], depth + 1);
    return n;
}

/* A branch node (see sched_plan.h): ID.when after deps, its cases after it, ID after them. */
static floe_rc
level_branch(plan_build *b, plan_level *lv, size_t j, const char *id, const u32vec *deps)
{
    const Floe__WorkflowSpec *wf = lv->wf;
    const Floe__BranchSpec *bs = wf->nodes[j]->branch;
    if (bs == NULL || bs->n_cases == 0 || strlen(id) + 8 > PLAN_ID_MAX)
        return floe_err_user(b->err, FLOE_EINVAL, "plan: branch node \"%.64s\" is malformed", id);
    uint32_t n_ops = 0;
    for (size_t k = 0; k < bs->n_cases; k++)
        n_ops += count_operands(bs->cases[k]->when, 0);
    sched_binding *ops = floe_arena_alloc(b->arena, (n_ops + 1) * sizeof(*ops));
    uint32_t *when = floe_arena_alloc(b->arena, sizeof(*when));
    uint32_t *cases = floe_arena_alloc(b->arena, bs->n_cases * sizeof(*cases));
    uint32_t *join = floe_arena_alloc(b->arena, sizeof(*join));
    size_t len = strlen(id) + 8;
    char *wid = floe_arena_alloc(b->arena, len);
    if (ops == NULL || when == NULL || cases == NULL || join == NULL || wid == NULL)
        return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
    uint32_t n = 0;
    floe_rc rc = FLOE_OK;
    for (size_t k = 0; rc == FLOE_OK && k < bs->n_cases; k++)
        if (bs->cases[k]->when != NULL)
            rc = branch_operands(b, lv, bs->cases[k]->when, ops, &n, n_ops, 0);
    snprintf(wid, len, "%s.when", id);
    if (rc != FLOE_OK || (rc = add_task(b, wid, NULL, ops, n, deps, when)) != FLOE_OK)
        return rc;
    b->tmp[*when].role = SCHED_ROLE_DECIDE;
    b->tmp[*when].branch = bs;
    u32vec after_when = {when, 1};
    for (size_t k = 0; k < bs->n_cases; k++) {
        const Floe__BranchCase *bc = bs->cases[k];
        char *cid = floe_arena_alloc(b->arena, len + 8);
        sched_binding *in =
            floe_arena_alloc(b->arena, (bc->n_inputs ? bc->n_inputs : 1) * sizeof(*in));
        if (cid == NULL || in == NULL)
            return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        if (bc->target >= wf->n_tasks)
            return floe_err_user(b->err, FLOE_EINVAL, "plan: branch \"%.64s\": no task %u", id,
                                 bc->target);
        if (bc->when == NULL)
            snprintf(cid, len + 8, "%s.else", id);
        else
            snprintf(cid, len + 8, "%s.if%zu", id, k);
        for (size_t q = 0; q < bc->n_inputs; q++) {
            memset(&in[q], 0, sizeof(in[q]));
            in[q].name = bc->inputs[q]->name;
            if ((rc = resolve(b, lv, bc->inputs[q], &in[q])) != FLOE_OK)
                return rc;
        }
        if ((rc = add_task(b, cid, wf->tasks[bc->target], in, (uint32_t)bc->n_inputs, &after_when,
                           &cases[k])) != FLOE_OK)
            return rc;
    }
    u32vec after_cases = {cases, (uint32_t)bs->n_cases};
    if ((rc = add_task(b, id, NULL, NULL, 0, &after_cases, join)) != FLOE_OK)
        return rc;
    b->tmp[*join].role = SCHED_ROLE_JOIN;
    lv->done[j] = (u32vec){join, 1};
    return FLOE_OK;
}

static floe_rc
level_node(plan_build *b, plan_level *lv, size_t j)
{
    const Floe__WorkflowSpec *wf = lv->wf;
    const Floe__Node *nd = wf->nodes[j];
    u32vec deps;
    floe_rc rc = level_deps(b, lv, nd, j, &deps);
    if (rc != FLOE_OK)
        return rc;
    if (deps.n > 1) {
        qsort(deps.v, deps.n, sizeof(*deps.v), cmp_u32);
        uint32_t w = 1;
        for (uint32_t k = 1; k < deps.n; k++)
            if (deps.v[k] != deps.v[w - 1])
                deps.v[w++] = deps.v[k];
        deps.n = w;
    }
    size_t plen = strlen(lv->prefix) + strlen(nd->id) + 1;
    if (plen > PLAN_ID_MAX)
        return floe_err_user(b->err, FLOE_EINVAL, "plan: node id \"%.64s...\" is too long",
                             lv->prefix);
    char *id = floe_arena_alloc(b->arena, plen);
    if (id == NULL)
        return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
    snprintf(id, plen, "%s%s", lv->prefix, nd->id);

    /* A map over a sub-workflow runs it once per item as a child execution: not inlined. */
    bool mapped_wf = nd->kind == FLOE__NODE_KIND__NODE_KIND_WORKFLOW && nd->map != NULL;
    if (nd->kind == FLOE__NODE_KIND__NODE_KIND_TASK ||
        nd->kind == FLOE__NODE_KIND__NODE_KIND_LAUNCHPLAN || mapped_wf) {
        bool lp = nd->kind == FLOE__NODE_KIND__NODE_KIND_LAUNCHPLAN;
        size_t have = lp ? wf->n_launchplans : mapped_wf ? wf->n_subworkflows : wf->n_tasks;
        if (nd->target >= have || (lp && wf->launchplans[nd->target]->workflow == NULL) ||
            (mapped_wf && wf->subworkflows[nd->target]->id == NULL))
            return floe_err_user(b->err, FLOE_EINVAL, "plan: node \"%.200s\": no %s %u", id,
                                 lp          ? "launch plan"
                                 : mapped_wf ? "workflow"
                                             : "task",
                                 nd->target);
        sched_binding *in =
            nd->n_inputs > 0 ? floe_arena_alloc(b->arena, nd->n_inputs * sizeof(*in)) : NULL;
        if (nd->n_inputs > 0 && in == NULL)
            return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        for (size_t k = 0; k < nd->n_inputs; k++) {
            memset(&in[k], 0, sizeof(in[k]));
            in[k].name = nd->inputs[k]->name;
            if ((rc = resolve(b, lv, nd->inputs[k], &in[k])) != FLOE_OK)
                return rc;
        }
        uint32_t idx = 0;
        bool task = !lp && !mapped_wf;
        if ((rc = add_task(b, id, task ? wf->tasks[nd->target] : NULL, in, (uint32_t)nd->n_inputs,
                           &deps, &idx)) != FLOE_OK)
            return rc;
        if (lp) {
            b->tmp[idx].role = SCHED_ROLE_CHILD;
            b->tmp[idx].launchplan = wf->launchplans[nd->target];
            b->tmp[idx].ifc = wf->launchplans[nd->target]->interface;
        } else if (mapped_wf) {
            b->tmp[idx].role = SCHED_ROLE_CHILD;
            b->tmp[idx].child_workflow = wf->subworkflows[nd->target];
            b->tmp[idx].ifc = wf->subworkflows[nd->target]->interface;
        }
        if (nd->map != NULL) {
            if (strlen(id) > SCHED_MAP_ID_MAX)
                return floe_err_user(b->err, FLOE_EINVAL,
                                     "plan: map node \"%.64s...\": its id is longer than %d "
                                     "(its items are named ID.k)",
                                     id, SCHED_MAP_ID_MAX);
            if (b->n_maps >= SCHED_PLAN_MAPS_MAX)
                return floe_err_user(b->err, FLOE_ETOOBIG,
                                     "plan: more than %d map nodes once sub-workflows are inlined",
                                     SCHED_PLAN_MAPS_MAX);
            b->tmp[idx].map = nd->map;
            b->n_maps++;
        }
        uint32_t *one = floe_arena_alloc(b->arena, sizeof(*one));
        if (one == NULL)
            return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        *one = idx;
        lv->done[j] = (u32vec){one, 1};
        return FLOE_OK;
    }
    if (nd->kind == FLOE__NODE_KIND__NODE_KIND_BRANCH)
        return level_branch(b, lv, j, id, &deps);
    if (nd->kind == FLOE__NODE_KIND__NODE_KIND_GATE) {
        sched_binding *in = floe_arena_alloc(b->arena, sizeof(*in));
        uint32_t *one = floe_arena_alloc(b->arena, sizeof(*one));
        if (in == NULL || one == NULL || nd->gate == NULL)
            return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        memset(in, 0, sizeof(*in));
        if (nd->n_inputs == 1) {
            in->name = nd->inputs[0]->name;
            if ((rc = resolve(b, lv, nd->inputs[0], in)) != FLOE_OK)
                return rc;
        }
        if ((rc = add_task(b, id, NULL, in, (uint32_t)nd->n_inputs, &deps, one)) != FLOE_OK)
            return rc;
        b->tmp[*one].role = SCHED_ROLE_GATE;
        b->tmp[*one].gate = nd->gate;
        lv->done[j] = (u32vec){one, 1};
        return FLOE_OK;
    }
    if (nd->kind != FLOE__NODE_KIND__NODE_KIND_WORKFLOW || nd->target >= wf->n_subworkflows)
        return floe_err_user(b->err, FLOE_EINVAL, "plan: node \"%.200s\": bad kind or target", id);
    const Floe__WorkflowSpec *sub = wf->subworkflows[nd->target];
    char *prefix = floe_arena_alloc(b->arena, plen + 1);
    u32vec *deps_copy = floe_arena_alloc(b->arena, sizeof(*deps_copy));
    if (prefix == NULL || deps_copy == NULL)
        return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
    snprintf(prefix, plen + 1, "%s.", id);
    *deps_copy = deps;
    plan_level inner = {
        .wf = sub, .prefix = prefix, .parent = lv, .call = nd, .call_deps = deps_copy};
    uint32_t first = b->n;
    if ((rc = plan_level_run(b, &inner)) != FLOE_OK)
        return rc;
    if (b->n > first) {
        uint32_t *all = floe_arena_alloc(b->arena, (b->n - first) * sizeof(*all));
        if (all == NULL)
            return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        for (uint32_t k = first; k < b->n; k++)
            all[k - first] = k;
        lv->done[j] = (u32vec){all, b->n - first};
    } else {
        lv->done[j] = deps;
    }
    sched_binding *outs =
        floe_arena_alloc(b->arena, (sub->n_outputs ? sub->n_outputs : 1) * sizeof(*outs));
    if (outs == NULL)
        return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
    for (size_t k = 0; k < sub->n_outputs; k++) {
        memset(&outs[k], 0, sizeof(outs[k]));
        outs[k].name = sub->outputs[k]->name;
        if ((rc = resolve(b, &inner, sub->outputs[k], &outs[k])) != FLOE_OK)
            return rc;
    }
    lv->outs[j] = outs;
    return FLOE_OK;
}

static floe_rc
plan_level_run(plan_build *b, plan_level *lv)
{
    size_t n = lv->wf->n_nodes;
    lv->done = floe_arena_alloc(b->arena, (n ? n : 1) * sizeof(*lv->done));
    lv->outs = floe_arena_alloc(b->arena, (n ? n : 1) * sizeof(*lv->outs));
    if (lv->done == NULL || lv->outs == NULL)
        return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
    memset(lv->done, 0, (n ? n : 1) * sizeof(*lv->done));
    memset(lv->outs, 0, (n ? n : 1) * sizeof(*lv->outs));
    for (size_t j = 0; j < n; j++) {
        floe_rc rc = level_node(b, lv, j);
        if (rc != FLOE_OK)
            return rc;
    }
    return FLOE_OK;
}

/* --- Assembly -------------------------------------------------------------------------- */

/* The workflow's on_failure handler, the last node: its bindings read workflow inputs and
 * literals; failed_node and error, when the task declares them unbound, the failure. */
static floe_rc
plan_on_failure(plan_build *b, plan_level *top)
{
    const Floe__WorkflowSpec *wf = top->wf;
    const Floe__Node *nd = wf->on_failure;
    if (nd->target >= wf->n_tasks)
        return floe_err_user(b->err, FLOE_EINVAL, "plan: on_failure: no task %u", nd->target);
    const Floe__TaskSpec *task = wf->tasks[nd->target];
    size_t cap = nd->n_inputs + 2;
    sched_binding *in = floe_arena_alloc(b->arena, cap * sizeof(*in));
    if (in == NULL)
        return floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
    uint32_t n = 0;
    for (size_t k = 0; k < nd->n_inputs; k++) {
        memset(&in[n], 0, sizeof(in[n]));
        in[n].name = nd->inputs[k]->name;
        floe_rc rc = resolve(b, top, nd->inputs[k], &in[n++]);
        if (rc != FLOE_OK)
            return rc;
    }
    static const char *const automatic[] = {"failed_node", "error"};
    for (size_t a = 0; a < 2; a++) {
        bool bound = false, declared = false;
        for (uint32_t k = 0; k < n; k++)
            bound = bound || strcmp(in[k].name, automatic[a]) == 0;
        for (size_t k = 0; task->interface != NULL && k < task->interface->n_inputs; k++)
            declared = declared || strcmp(task->interface->inputs[k]->name, automatic[a]) == 0;
        if (declared && !bound)
            in[n++] = (sched_binding){
                .name = automatic[a], .kind = SCHED_SRC_FAILURE, .ref = automatic[a]};
    }
    u32vec none = {0};
    uint32_t idx;
    floe_rc rc = add_task(b, "on_failure", task, in, n, &none, &idx);
    if (rc == FLOE_OK)
        b->tmp[idx].role = SCHED_ROLE_FAILURE;
    return rc;
}

static floe_rc
plan_assemble(plan_build *b, struct sched_plan_priv *pp, plan_level *top)
{
    sched_plan *p = &pp->pub;
    uint32_t n = b->n;
    sched_pnode *nodes = floe_arena_alloc(b->arena, (n ? n : 1) * sizeof(*nodes));
    uint32_t *outdeg = floe_calloc(n ? n : 1, sizeof(*outdeg));
    char *csv = floe_arena_alloc(b->arena, (size_t)n * 11 + 1);
    floe_rc rc = FLOE_OK;
    if (nodes == NULL || outdeg == NULL || csv == NULL) {
        rc = floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < b->tmp[i].deps.n; k++)
            outdeg[b->tmp[i].deps.v[k]]++;
    size_t pos = 0;
    uint32_t ord = 0;
    for (uint32_t i = 0; i < n; i++) {
        const plan_tmp *t = &b->tmp[i];
        uint32_t *down = outdeg[i] ? floe_arena_alloc(b->arena, outdeg[i] * sizeof(*down)) : NULL;
        if (outdeg[i] && down == NULL) {
            rc = floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
            goto out;
        }
        /* the handler waits for the execution's failure, which no count releases */
        uint32_t n_up = t->role == SCHED_ROLE_FAILURE ? 1 : t->deps.n;
        nodes[i] = (sched_pnode){.id = t->id,
                                 .task = t->task,
                                 .inputs = t->inputs,
                                 .n_inputs = t->n_inputs,
                                 .n_upstream = n_up,
                                 .down = down,
                                 .map = t->map,
                                 .map_ord = t->map != NULL ? ord++ : 0,
                                 .role = t->role,
                                 .branch = t->branch,
                                 .gate = t->gate,
                                 .launchplan = t->launchplan,
                                 .child_workflow = t->child_workflow,
                                 .ifc = t->ifc};
        pos += (size_t)snprintf(csv + pos, 12, "%s%u", i ? "," : "", n_up);
        if (floe_map_put(pp->by_id, t->id, (void *)(uintptr_t)(i + 1)) != FLOE_OK) {
            rc = floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
            goto out;
        }
    }
    csv[pos] = '\0';
    /* Nodes are visited in ascending order, so each down list comes out sorted. */
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < b->tmp[i].deps.n; k++) {
            sched_pnode *up = &nodes[b->tmp[i].deps.v[k]];
            ((uint32_t *)up->down)[up->n_down++] = i;
        }
    }
    const Floe__WorkflowSpec *wf = top->wf;
    sched_binding *outs =
        floe_arena_alloc(b->arena, (wf->n_outputs ? wf->n_outputs : 1) * sizeof(*outs));
    if (outs == NULL) {
        rc = floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        goto out;
    }
    for (size_t k = 0; k < wf->n_outputs; k++) {
        memset(&outs[k], 0, sizeof(outs[k]));
        outs[k].name = wf->outputs[k]->name;
        if ((rc = resolve(b, top, wf->outputs[k], &outs[k])) != FLOE_OK)
            goto out;
    }
    p->nodes = nodes;
    p->n_nodes = n;
    p->outputs = outs;
    p->n_outputs = (uint32_t)wf->n_outputs;
    p->unresolved_csv = csv;
    p->n_maps = ord;
    if (ord > 0 && (pp->maps = floe_arena_alloc(b->arena, ord * sizeof(*pp->maps))) == NULL) {
        rc = floe_err_sys(b->err, FLOE_ENOMEM, "plan: out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < n; i++)
        if (nodes[i].map != NULL)
            pp->maps[nodes[i].map_ord] = i;
out:
    floe_free(outdeg);
    return rc;
}

sched_plan *
sched_plan_build(const uint8_t *spec, size_t len, size_t max_nodes, floe_err *err)
{
    struct sched_plan_priv *pp = floe_calloc(1, sizeof(*pp));
    if (pp == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "plan: out of memory");
        return NULL;
    }
    plan_build b = {
        .max_nodes = max_nodes, .max_edges = max_nodes * SCHED_PLAN_EDGES_PER_NODE, .err = err};
    pp->arena = b.arena = floe_arena_new(65536, 0);
    pp->by_id = floe_map_new(64);
    if (pp->arena == NULL || pp->by_id == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "plan: out of memory");
        goto fail;
    }
    Floe__WorkflowSpec *wf =
        floe__workflow_spec__unpack(floe_arena_pb_allocator(pp->arena), len, spec);
    if (wf == NULL || wf->id == NULL) {
        floe_err_user(err, FLOE_EINVAL, "plan: the stored workflow does not decode");
        goto fail;
    }
    sched_plan *p = &pp->pub;
    p->spec = wf;
    size_t rlen = strlen(wf->id->project) + strlen(wf->id->domain) + strlen(wf->id->name) +
                  strlen(wf->id->version) + 4;
    char *ref = floe_arena_alloc(pp->arena, rlen);
    if (ref == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "plan: out of memory");
        goto fail;
    }
    snprintf(ref, rlen, "%s/%s/%s/%s", wf->id->project, wf->id->domain, wf->id->name,
             wf->id->version);
    p->ref = ref;
    p->failure_policy =
        wf->failure_policy == FLOE__FAILURE_POLICY__FAILURE_POLICY_FINISH_INDEPENDENT
            ? FLOE__FAILURE_POLICY__FAILURE_POLICY_FINISH_INDEPENDENT
            : FLOE__FAILURE_POLICY__FAILURE_POLICY_FAIL_FAST;
    plan_level top = {.wf = wf, .prefix = ""};
    if (plan_level_run(&b, &top) != FLOE_OK ||
        (wf->on_failure != NULL && plan_on_failure(&b, &top) != FLOE_OK) ||
        plan_assemble(&b, pp, &top) != FLOE_OK)
        goto fail;
    p->on_failure = wf->on_failure != NULL;
    floe_free(b.tmp);
    p->bytes = floe_arena_used(pp->arena) + floe_map_count(pp->by_id) * 48;
    return p;
fail:
    floe_free(b.tmp);
    sched_plan_free(&pp->pub);
    return NULL;
}

void
sched_plan_free(sched_plan *plan)
{
    if (plan == NULL)
        return;
    struct sched_plan_priv *pp = (struct sched_plan_priv *)plan;
    floe_map_free(pp->by_id);
    floe_arena_free(pp->arena);
    floe_free(pp);
}

int64_t
sched_plan_find(const sched_plan *plan, const char *id)
{
    const struct sched_plan_priv *pp = (const struct sched_plan_priv *)plan;
    uintptr_t v = (uintptr_t)floe_map_get(pp->by_id, id);
    return v == 0 ? -1 : (int64_t)(v - 1);
}

uint32_t
sched_plan_closure(const sched_plan *plan, uint32_t node, uint32_t *out, uint8_t *mark)
{
    /* Nodes are in topological order: everything downstream has a larger index, so one
     * ascending sweep over the marked range finds the closure without a queue. */
    uint32_t n = 0;
    mark[node] = 1;
    for (uint32_t i = node; i < plan->n_nodes; i++) {
        if (!mark[i])
            continue;
        const sched_pnode *nd = &plan->nodes[i];
        for (uint32_t k = 0; k < nd->n_down; k++)
            mark[nd->down[k]] = 1;
        if (i != node)
            out[n++] = i;
        mark[i] = 0;
    }
    return n;
}

/* --- Map items ------------------------------------------------------------------------- */

uint32_t
sched_plan_item(const sched_plan *plan, uint32_t node, uint32_t k)
{
    return plan->n_nodes + (plan->nodes[node].map_ord << SCHED_MAP_ITEM_BITS) + k;
}

bool
sched_plan_locate(const sched_plan *plan, uint32_t idx, uint32_t *node, int64_t *item)
{
    if (idx < plan->n_nodes) {
        *node = idx;
        *item = -1;
        return true;
    }
    uint32_t rel = idx - plan->n_nodes, ord = rel >> SCHED_MAP_ITEM_BITS;
    uint32_t k = rel & SCHED_MAP_ITEMS_MAX;
    if (ord >= plan->n_maps || k == SCHED_MAP_ITEMS_MAX)
        return false;
    *node = ((const struct sched_plan_priv *)plan)->maps[ord];
    *item = k;
    return true;
}

int64_t
sched_plan_find_any(const sched_plan *plan, const char *id)
{
    /* A node id never ends in ".<digits>" (ids start with a letter), an item's always does. */
    const char *dot = strrchr(id, '.');
    if (dot == NULL || dot[1] < '0' || dot[1] > '9')
        return sched_plan_find(plan, id);
    char base[PLAN_ID_MAX + 1];
    size_t blen = (size_t)(dot - id);
    if (blen == 0 || blen > PLAN_ID_MAX)
        return -1;
    memcpy(base, id, blen);
    base[blen] = '\0';
    /* k: decimal, no sign, no leading zero, and nothing after it */
    const char *p = dot + 1;
    uint64_t k = 0;
    size_t nd = 0;
    for (; *p >= '0' && *p <= '9' && nd < 8; p++, nd++)
        k = k * 10 + (uint64_t)(*p - '0');
    if (nd == 0 || (nd > 1 && dot[1] == '0') || *p != '\0' || k >= SCHED_MAP_ITEMS_MAX)
        return -1;
    int64_t node = sched_plan_find(plan, base);
    if (node < 0 || plan->nodes[node].map == NULL)
        return -1;
    return sched_plan_item(plan, (uint32_t)node, (uint32_t)k);
}

const char *
sched_plan_id(const sched_plan *plan, uint32_t idx, char *buf, size_t size)
{
    uint32_t node;
    int64_t item;
    if (!sched_plan_locate(plan, idx, &node, &item))
        snprintf(buf, size, "?");
    else if (item < 0)
        return plan->nodes[node].id;
    else
        snprintf(buf, size, "%s.%" PRId64, plan->nodes[node].id, item);
    return buf;
}
