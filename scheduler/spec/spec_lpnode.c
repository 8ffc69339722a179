/*
 * A workflow node that calls a launch plan (docs/spec.md#launch-plan-nodes): it starts a
 * child execution of the plan's workflow version, with the plan's fixed inputs, its
 * defaults where the node binds nothing, and the node's bindings; its outputs are the
 * child's. With `map:` each item of the list starts a child. The plan is pinned at compile time
 * like any callee (its version is part of the compiled workflow), so a later version of the plan
 * changes nothing already registered.
 */
#include "spec_int.h"
#include "spec_wf.h"

#include <stdio.h>
#include <string.h>

#define WHAT_MAX (SPEC_NAME_MAX + 240)

static bool
fixed(const Floe__LaunchPlanSpec *lp, const char *name)
{
    for (size_t i = 0; i < lp->n_fixed_inputs; i++)
        if (strcmp(lp->fixed_inputs[i]->name, name) == 0)
            return true;
    return false;
}

static const Floe__Value *
lp_default(const Floe__LaunchPlanSpec *lp, const char *name)
{
    for (size_t i = 0; i < lp->n_default_inputs; i++)
        if (strcmp(lp->default_inputs[i]->name, name) == 0)
            return lp->default_inputs[i]->value;
    return NULL;
}

floe_rc
wf_lp_callee(wf *w, wf_node *nd, const spec_y *ly, Floe__Node *node)
{
    spec_ctx *ctx = w->ctx;
    const char *name, *version;
    const wf_callee *c;
    floe_rc rc;
    if ((rc = spec_ref(ctx, ly, "launchplan", &name, &version)) != FLOE_OK ||
        (rc = wf_callee_get(w, ly, SPEC_LAUNCHPLAN, name, version, &c)) != FLOE_OK)
        return rc;
    const Floe__LaunchPlanSpec *lp = (const Floe__LaunchPlanSpec *)c->msg;
    if (lp->interface == NULL || lp->workflow == NULL)
        return spec_fail(ctx, ly, FLOE_EINVAL, "launchplan \"%s\" has no workflow", name);
    /* What the node may bind: the plan's inputs that are not fixed, with the plan's
     * defaults as defaults. */
    const Floe__Interface *pifc = lp->interface;
    Floe__Interface *ifc = floe_arena_alloc(ctx->arena, sizeof(*ifc));
    Floe__InputSpec **ins = floe_arena_alloc(ctx->arena, (pifc->n_inputs + 1) * sizeof(*ins));
    char *what = floe_arena_alloc(ctx->arena, WHAT_MAX);
    if (ifc == NULL || ins == NULL || what == NULL)
        return spec_fail(ctx, ly, FLOE_ENOMEM, "out of memory");
    floe__interface__init(ifc);
    for (size_t i = 0; i < pifc->n_inputs; i++) {
        const Floe__InputSpec *in = pifc->inputs[i];
        if (fixed(lp, in->name))
            continue;
        const Floe__Value *dv = lp_default(lp, in->name);
        Floe__InputSpec *copy = floe_arena_alloc(ctx->arena, sizeof(*copy));
        if (copy == NULL)
            return spec_fail(ctx, ly, FLOE_ENOMEM, "out of memory");
        *copy = *in;
        if (dv != NULL)
            copy->default_value = (Floe__Value *)dv;
        ins[ifc->n_inputs++] = copy;
    }
    ifc->inputs = ins;
    ifc->outputs = pifc->outputs;
    ifc->n_outputs = pifc->n_outputs;
    node->target = c->target;
    nd->ifc = ifc;
    /* An input the plan fixes is not the node's to bind: the message says which are. */
    int at = snprintf(what, WHAT_MAX, "launch plan \"%s\"", name);
    for (size_t i = 0; i < lp->n_fixed_inputs && at > 0 && at < WHAT_MAX - 80; i++)
        at += snprintf(what + at, WHAT_MAX - (size_t)at, "%s%.64s", i == 0 ? " (fixed: " : ", ",
                       lp->fixed_inputs[i]->name);
    if (lp->n_fixed_inputs > 0 && at > 0 && at < WHAT_MAX - 1)
        snprintf(what + at, WHAT_MAX - (size_t)at, ")");
    nd->callee_what = what;
    const spec_y *my = spec_y_get(nd->y, "map");
    if (my == NULL)
        return FLOE_OK;
    /* each item a child execution of the plan */
    return spec_map_compile(ctx, my, nd->ifc, &node->map, &nd->ifc);
}
