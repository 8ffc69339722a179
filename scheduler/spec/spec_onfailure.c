/*
 * A workflow's `on_failure:` (docs/spec.md#on_failure): a task run once when an execution
 * fails. It reads workflow inputs and literals (not node outputs: those may never have
 * been made); its string inputs failed_node and error, when left unbound, receive the
 * failed node's id and its error.
 */
#include "spec_int.h"
#include "spec_wf.h"

#include <string.h>

/* Inputs the engine fills when they are left unbound. */
static bool
automatic(const Floe__InputSpec *in)
{
    return in->type != NULL && in->type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING &&
           (strcmp(in->name, "failed_node") == 0 || strcmp(in->name, "error") == 0);
}

floe_rc
wf_on_failure(wf *w, const spec_y *fy, Floe__WorkflowSpec *spec)
{
    spec_ctx *ctx = w->ctx;
    static const char *const f[] = {"task", "inputs", NULL};
    floe_rc rc = spec_check_fields(ctx, fy, "on_failure", f);
    if (rc != FLOE_OK)
        return rc;
    const spec_y *ty = spec_y_get(fy, "task");
    if (ty == NULL)
        return spec_fail(ctx, fy, FLOE_EINVAL, "on_failure: expected {task: T, inputs: {...}}");
    const char *name, *version;
    const wf_callee *c;
    if ((rc = spec_ref(ctx, ty, "on_failure: task", &name, &version)) != FLOE_OK ||
        (rc = wf_callee_get(w, ty, SPEC_TASK, name, version, &c)) != FLOE_OK)
        return rc;
    const Floe__Interface *tifc = ((const Floe__TaskSpec *)c->msg)->interface;
    /* Bound as any node's, but for the automatic inputs, which need no binding. */
    Floe__Interface shown = FLOE__INTERFACE__INIT;
    Floe__InputSpec **ins = floe_arena_alloc(ctx->arena, (tifc->n_inputs + 1) * sizeof(*ins));
    Floe__Node *node = floe_arena_alloc(ctx->arena, sizeof(*node));
    wf_node nd = {.y = fy, .id = "on_failure", .callee_what = "on_failure's task"};
    if (ins == NULL || node == NULL)
        return spec_fail(ctx, fy, FLOE_ENOMEM, "out of memory");
    const spec_y *iy = spec_y_get(fy, "inputs");
    for (size_t i = 0; i < tifc->n_inputs; i++) {
        const Floe__InputSpec *in = tifc->inputs[i];
        bool given = iy != NULL && spec_y_get(iy, in->name) != NULL;
        if (!automatic(in) || given)
            ins[shown.n_inputs++] = (Floe__InputSpec *)in;
    }
    shown.inputs = ins;
    floe__node__init(node);
    node->id = "on_failure";
    node->kind = FLOE__NODE_KIND__NODE_KIND_TASK;
    node->target = c->target;
    nd.node = node;
    if ((rc = wf_bind_inputs(w, &nd, fy, iy, &shown, "on_failure's task", &node->inputs,
                             &node->n_inputs)) != FLOE_OK)
        return rc;
    if (nd.n_up > 0)
        return spec_fail(ctx, iy, FLOE_EINVAL,
                         "on_failure: inputs: reads node outputs (it runs when the execution "
                         "failed, maybe before they were made): bind workflow inputs or literals");
    spec->on_failure = node;
    return FLOE_OK;
}
