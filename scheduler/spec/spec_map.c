/*
 * A workflow node's `map:` section (docs/spec.md#map-nodes). The node runs its task once
 * per item of a list; to the rest of the workflow it shows an interface of its own: the
 * mapped input is a list of the task's input type, every output a list of the task's
 * output type. So bindings and readers are type-checked by the ordinary rules.
 */
#include "spec_int.h"

#include "floe_type.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Items in flight at once: above it the limit is no limit. */
#define MAP_CONCURRENCY_MAX 1000000

static Floe__LiteralType *
list_of(spec_ctx *ctx, const Floe__LiteralType *t)
{
    Floe__LiteralType *l = floe_arena_alloc(ctx->arena, sizeof(*l));
    if (l == NULL)
        return NULL;
    floe__literal_type__init(l);
    l->simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_LIST;
    l->element = (Floe__LiteralType *)t;
    return l;
}

static floe_rc
map_ratio(spec_ctx *ctx, const spec_y *my, double *out)
{
    const spec_y *ry = spec_y_get(my, "min_success_ratio");
    *out = 1.0;
    if (ry == NULL)
        return FLOE_OK;
    char *end = NULL;
    double r = ry->kind == SPEC_Y_SCALAR ? strtod(ry->str, &end) : -1;
    if (ry->kind != SPEC_Y_SCALAR || end == ry->str || *end != '\0' || !isfinite(r) || r < 0 ||
        r > 1)
        return spec_fail(ctx, ry, FLOE_EINVAL,
                         "map: min_success_ratio: expected a number from 0 to 1");
    *out = r;
    return FLOE_OK;
}

/* The interface the map node shows: `over` (required, no default) a list, outputs lists. */
static floe_rc
map_interface(spec_ctx *ctx, const spec_y *at, const Floe__Interface *t, const char *over,
              const Floe__Interface **shown)
{
    Floe__Interface *ifc = floe_arena_alloc(ctx->arena, sizeof(*ifc));
    Floe__InputSpec **in = floe_arena_alloc(ctx->arena, (t->n_inputs + 1) * sizeof(*in));
    Floe__Variable **out = floe_arena_alloc(ctx->arena, (t->n_outputs + 1) * sizeof(*out));
    if (ifc == NULL || in == NULL || out == NULL)
        return spec_fail(ctx, at, FLOE_ENOMEM, "out of memory");
    floe__interface__init(ifc);
    for (size_t i = 0; i < t->n_inputs; i++) {
        in[i] = t->inputs[i];
        if (strcmp(t->inputs[i]->name, over) != 0)
            continue;
        Floe__InputSpec *li = floe_arena_alloc(ctx->arena, sizeof(*li));
        if (li == NULL)
            return spec_fail(ctx, at, FLOE_ENOMEM, "out of memory");
        floe__input_spec__init(li);
        li->name = t->inputs[i]->name;
        if ((li->type = list_of(ctx, t->inputs[i]->type)) == NULL)
            return spec_fail(ctx, at, FLOE_ENOMEM, "out of memory");
        in[i] = li;
    }
    for (size_t i = 0; i < t->n_outputs; i++) {
        Floe__Variable *v = floe_arena_alloc(ctx->arena, sizeof(*v));
        if (v == NULL)
            return spec_fail(ctx, at, FLOE_ENOMEM, "out of memory");
        floe__variable__init(v);
        v->name = t->outputs[i]->name;
        if ((v->type = list_of(ctx, t->outputs[i]->type)) == NULL)
            return spec_fail(ctx, at, FLOE_ENOMEM, "out of memory");
        floe_err err = {0};
        if (floe_type_check(v->type, &err) != FLOE_OK)
            return spec_fail(ctx, at, FLOE_EINVAL,
                             "map: output \"%s\" as a list of items nests too deep: %s", v->name,
                             err.msg);
        out[i] = v;
    }
    ifc->inputs = in;
    ifc->n_inputs = t->n_inputs;
    ifc->outputs = out;
    ifc->n_outputs = t->n_outputs;
    *shown = ifc;
    return FLOE_OK;
}

floe_rc
spec_map_compile(spec_ctx *ctx, const spec_y *my, const Floe__Interface *task_ifc,
                 Floe__MapSpec **map, const Floe__Interface **shown)
{
    Floe__MapSpec *m = floe_arena_alloc(ctx->arena, sizeof(*m));
    if (m == NULL)
        return spec_fail(ctx, my, FLOE_ENOMEM, "out of memory");
    floe__map_spec__init(m);
    const spec_y *oy = my;
    if (my->kind == SPEC_Y_MAP) {
        static const char *const f[] = {"over", "concurrency", "min_success_ratio", "min_successes",
                                        NULL};
        floe_rc rc = spec_check_fields(ctx, my, "map", f);
        if (rc != FLOE_OK)
            return rc;
        oy = spec_y_get(my, "over");
    } else if (my->kind != SPEC_Y_SCALAR) {
        return spec_fail(ctx, my, FLOE_EINVAL,
                         "map: expected the input to map over, or {over: INPUT, concurrency: N, "
                         "min_success_ratio: R, min_successes: N}");
    }
    if (oy == NULL || oy->kind != SPEC_Y_SCALAR)
        return spec_fail(ctx, my, FLOE_EINVAL,
                         "map: over: expected the input that takes "
                         "one item");
    const Floe__InputSpec *in = spec_ifc_input(task_ifc, oy->str);
    if (in == NULL) {
        char names[160];
        return spec_fail(ctx, oy, FLOE_EINVAL,
                         "map: over: it has no input \"%.64s\" "
                         "(inputs: %s)",
                         oy->str, spec_ifc_names(task_ifc, false, names, sizeof(names)));
    }
    m->over = in->name;
    if (my->kind == SPEC_Y_MAP) {
        uint64_t v = 0;
        floe_rc rc = spec_get_uint(ctx, my, "concurrency", MAP_CONCURRENCY_MAX, &v);
        if (rc != FLOE_OK)
            return rc;
        m->concurrency = (uint32_t)v;
        v = 0;
        if ((rc = spec_get_uint(ctx, my, "min_successes", UINT32_MAX, &v)) != FLOE_OK)
            return rc;
        m->min_successes = (uint32_t)v;
        if ((rc = map_ratio(ctx, my, &m->min_success_ratio)) != FLOE_OK)
            return rc;
    } else {
        m->min_success_ratio = 1.0;
    }
    floe_err err = {0};
    Floe__LiteralType probe = FLOE__LITERAL_TYPE__INIT;
    probe.simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_LIST;
    probe.element = in->type;
    if (floe_type_check(&probe, &err) != FLOE_OK)
        return spec_fail(ctx, oy, FLOE_EINVAL,
                         "map: over: a list of input \"%s\" nests too deep: %s", in->name, err.msg);
    *map = m;
    return map_interface(ctx, my, task_ifc, in->name, shown);
}
