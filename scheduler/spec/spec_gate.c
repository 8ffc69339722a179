/*
 * A workflow node's `gate:` (docs/spec.md#gates): approve, signal or sleep. The node shows
 * the outputs its gate gives (approve: by, comment and, with a type, value; signal: value
 * and by; sleep: none) and binds at most one input, a sleep's `until`.
 */
#include "spec_int.h"
#include "spec_wf.h"

#include "floe_type.h"

#include <string.h>

#define GATE_MAX_MS (30ULL * 86400000)

static Floe__Variable *
var(spec_ctx *ctx, const char *name, const Floe__LiteralType *type)
{
    Floe__Variable *v = floe_arena_alloc(ctx->arena, sizeof(*v));
    if (v != NULL) {
        floe__variable__init(v);
        v->name = (char *)name;
        v->type = (Floe__LiteralType *)type;
    }
    return v;
}

static const Floe__LiteralType string_type = {
    PROTOBUF_C_MESSAGE_INIT(&floe__literal_type__descriptor), FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING,
    NULL};
static const Floe__LiteralType datetime_type = {
    PROTOBUF_C_MESSAGE_INIT(&floe__literal_type__descriptor),
    FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DATETIME, NULL};

floe_rc
wf_gate_callee(wf *w, wf_node *nd, Floe__Node *node)
{
    spec_ctx *ctx = w->ctx;
    const spec_y *gy = spec_y_get(nd->y, "gate");
    if (spec_y_get(nd->y, "map") != NULL)
        return spec_fail(ctx, nd->y, FLOE_EINVAL, "a gate node has no \"map\"");
    if (gy->kind != SPEC_Y_MAP || gy->n != 1 || gy->items[0]->kind != SPEC_Y_SCALAR)
        return spec_fail(ctx, gy, FLOE_EINVAL,
                         "gate: expected one of {approve: {timeout, type}}, {signal: {type, "
                         "timeout}}, {sleep: DURATION}");
    const char *kind = gy->items[0]->str;
    const spec_y *ay = gy->items[1];
    Floe__GateSpec *g = floe_arena_alloc(ctx->arena, sizeof(*g));
    Floe__Interface *ifc = floe_arena_alloc(ctx->arena, sizeof(*ifc));
    Floe__Variable **outs = floe_arena_alloc(ctx->arena, 3 * sizeof(*outs));
    if (g == NULL || ifc == NULL || outs == NULL)
        return spec_fail(ctx, gy, FLOE_ENOMEM, "out of memory");
    floe__gate_spec__init(g);
    floe__interface__init(ifc);
    floe_rc rc;
    size_t n = 0;
    if (strcmp(kind, "sleep") == 0) {
        g->kind = "sleep";
        if (ay->kind == SPEC_Y_SCALAR) { /* sleep: 90s */
            uint64_t ms = 0;
            if ((rc = spec_get_duration_ms(ctx, gy, "sleep", GATE_MAX_MS, &ms)) != FLOE_OK)
                return rc;
            g->sleep_ms = ms;
        } else if (ay->kind != SPEC_Y_MAP || spec_y_get(ay, "until") == NULL || ay->n != 1) {
            return spec_fail(ctx, ay, FLOE_EINVAL,
                             "gate: sleep: expected a duration, or {until: DATETIME binding}");
        }
    } else if (strcmp(kind, "approve") == 0 || strcmp(kind, "signal") == 0) {
        static const char *const f[] = {"timeout", "type", NULL};
        bool approve = kind[0] == 'a';
        g->kind = approve ? "approve" : "signal";
        if (ay->kind == SPEC_Y_MAP && (rc = spec_check_fields(ctx, ay, "gate", f)) != FLOE_OK)
            return rc;
        if (ay->kind != SPEC_Y_MAP && !(approve && ay->kind == SPEC_Y_SCALAR && ay->str[0] == '\0'))
            return spec_fail(ctx, ay, FLOE_EINVAL, "gate: %s: expected {type: T, timeout: D}",
                             kind);
        uint64_t ms = 0;
        if (ay->kind == SPEC_Y_MAP &&
            (rc = spec_get_duration_ms(ctx, ay, "timeout", GATE_MAX_MS, &ms)) != FLOE_OK)
            return rc;
        g->timeout_ms = ms;
        const spec_y *ty = ay->kind == SPEC_Y_MAP ? spec_y_get(ay, "type") : NULL;
        if (ty == NULL && !approve)
            return spec_fail(ctx, ay, FLOE_EINVAL, "gate: signal: needs the value's \"type\"");
        if (ty != NULL) {
            floe_err err = {0};
            if (ty->kind != SPEC_Y_SCALAR ||
                floe_type_parse(ty->str, ctx->arena, &g->type, &err) != FLOE_OK)
                return spec_fail(ctx, ty, FLOE_EINVAL, "gate: type: %s",
                                 ty->kind == SPEC_Y_SCALAR ? err.msg : "expected a type");
            if (g->type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BLOB)
                return spec_fail(ctx, ty, FLOE_EINVAL,
                                 "gate: type: a blob cannot be given to a gate (give its uri as a "
                                 "string)");
        }
        /* sorted by name, as every interface */
        if (approve)
            outs[n++] = var(ctx, "by", &string_type);
        if (approve)
            outs[n++] = var(ctx, "comment", &string_type);
        if (!approve)
            outs[n++] = var(ctx, "by", &string_type);
        if (g->type != NULL)
            outs[n++] = var(ctx, "value", g->type);
        for (size_t i = 0; i < n; i++)
            if (outs[i] == NULL)
                return spec_fail(ctx, gy, FLOE_ENOMEM, "out of memory");
    } else {
        return spec_fail(ctx, gy->items[0], FLOE_EINVAL,
                         "gate: unknown gate \"%.32s\" (approve, signal, sleep)", kind);
    }
    ifc->outputs = outs;
    ifc->n_outputs = n;
    node->gate = g;
    nd->ifc = ifc;
    nd->callee_what = g->kind;
    return FLOE_OK;
}

floe_rc
wf_gate_inputs(wf *w, wf_node *nd)
{
    spec_ctx *ctx = w->ctx;
    if (spec_y_get(nd->y, "inputs") != NULL)
        return spec_fail(ctx, nd->y, FLOE_EINVAL,
                         "a gate node has no \"inputs\" (a sleep's "
                         "until is given in its gate)");
    const spec_y *ay = spec_y_get(nd->y, "gate")->items[1];
    const spec_y *uy = ay->kind == SPEC_Y_MAP ? spec_y_get(ay, "until") : NULL;
    if (uy == NULL || strcmp(nd->node->gate->kind, "sleep") != 0)
        return FLOE_OK;
    Floe__Binding **bs = floe_arena_alloc(ctx->arena, sizeof(*bs));
    if (bs == NULL || (bs[0] = floe_arena_alloc(ctx->arena, sizeof(*bs[0]))) == NULL)
        return spec_fail(ctx, uy, FLOE_ENOMEM, "out of memory");
    const Floe__LiteralType *got;
    floe_rc rc = wf_binding(w, nd, uy, "until", "gate: sleep: until", &datetime_type, &got, bs[0]);
    if (rc != FLOE_OK)
        return rc;
    nd->node->inputs = bs;
    nd->node->n_inputs = 1;
    return FLOE_OK;
}
