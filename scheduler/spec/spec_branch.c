/*
 * A workflow node's `branch:` (docs/spec.md#branches): cases in order, each a task with
 * its inputs and a condition (`when`), the last one without a condition the else case.
 * Conditions compare typed values (inputs, node outputs, literals of the other operand's
 * type) and combine with and/or/not; everything is type-checked here, so a condition
 * cannot fail at run time for a type. The node shows its cases' outputs, which must be
 * the same in every case.
 */
#include "spec_int.h"
#include "spec_wf.h"

#include "floe_type.h"

#include <stdio.h>
#include <string.h>

#define BRANCH_CASES_MAX 64
#define COND_DEPTH_MAX 16
#define COND_ARGS_MAX 64

static const char *const compare_ops[] = {"eq", "ne", "lt", "le", "gt", "ge", NULL};

static bool
is_compare(const char *op)
{
    for (size_t i = 0; compare_ops[i] != NULL; i++)
        if (strcmp(op, compare_ops[i]) == 0)
            return true;
    return false;
}

/* A literal operand: a scalar, a sequence, or {value: ...}; not a reference. */
static bool
is_literal(const spec_y *y)
{
    return y->kind != SPEC_Y_MAP || spec_y_get(y, "value") != NULL;
}

static floe_rc
compare(wf *w, wf_node *nd, const spec_y *at, const char *op, const spec_y *args,
        Floe__Condition *c)
{
    spec_ctx *ctx = w->ctx;
    if (args->kind != SPEC_Y_SEQ || args->n != 2)
        return spec_fail(ctx, args, FLOE_EINVAL, "when: %s: expected [LEFT, RIGHT]", op);
    Floe__Binding **ops = floe_arena_alloc(ctx->arena, 2 * sizeof(*ops));
    if (ops == NULL)
        return spec_fail(ctx, at, FLOE_ENOMEM, "out of memory");
    /* The reference first: a literal takes its type. */
    int first = is_literal(args->items[0]) ? 1 : 0;
    if (is_literal(args->items[first]))
        return spec_fail(ctx, args, FLOE_EINVAL,
                         "when: %s: compare an input or a node's output (both are literals)", op);
    const Floe__LiteralType *types[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        int i = k == 0 ? first : 1 - first;
        if ((ops[i] = floe_arena_alloc(ctx->arena, sizeof(*ops[i]))) == NULL)
            return spec_fail(ctx, at, FLOE_ENOMEM, "out of memory");
        char field[64];
        snprintf(field, sizeof(field), "when: %s: operand %d", op, i + 1);
        floe_rc rc = wf_binding(w, nd, args->items[i], "", field, k == 0 ? NULL : types[first],
                                &types[i], ops[i]);
        if (rc != FLOE_OK)
            return rc;
    }
    char ta[FLOE_TYPE_TEXT_MAX], tb[FLOE_TYPE_TEXT_MAX];
    if (!floe_type_equal(types[0], types[1]))
        return spec_fail(ctx, args, FLOE_EINVAL, "when: %s: compares %s with %s", op,
                         floe_type_format(types[0], ta, sizeof(ta)),
                         floe_type_format(types[1], tb, sizeof(tb)));
    Floe__SimpleType t = types[0]->simple;
    bool ordered = t == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_INTEGER ||
                   t == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_FLOAT ||
                   t == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING ||
                   t == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DATETIME ||
                   t == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DURATION;
    bool equality = ordered || t == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BOOLEAN;
    bool eq = strcmp(op, "eq") == 0 || strcmp(op, "ne") == 0;
    if (!(eq ? equality : ordered))
        return spec_fail(ctx, args, FLOE_EINVAL,
                         "when: %s: %s values cannot be compared so (comparisons: integer, float, "
                         "string, datetime, duration; eq and ne also boolean)",
                         op, floe_type_format(types[0], ta, sizeof(ta)));
    c->operands = ops;
    c->n_operands = 2;
    return FLOE_OK;
}

static floe_rc
condition(wf *w, wf_node *nd, const spec_y *y, int depth, Floe__Condition **out)
{
    spec_ctx *ctx = w->ctx;
    if (depth > COND_DEPTH_MAX)
        return spec_fail(ctx, y, FLOE_EINVAL, "when: nested more than %d levels", COND_DEPTH_MAX);
    if (y->kind != SPEC_Y_MAP || y->n != 1 || y->items[0]->kind != SPEC_Y_SCALAR)
        return spec_fail(ctx, y, FLOE_EINVAL,
                         "when: expected one of {eq|ne|lt|le|gt|ge: [LEFT, RIGHT]}, "
                         "{and|or: [CONDITION, ...]}, {not: CONDITION}");
    const char *op = y->items[0]->str;
    const spec_y *args = y->items[1];
    Floe__Condition *c = floe_arena_alloc(ctx->arena, sizeof(*c));
    if (c == NULL)
        return spec_fail(ctx, y, FLOE_ENOMEM, "out of memory");
    floe__condition__init(c);
    if (is_compare(op)) {
        c->op = (char *)op;
        floe_rc rc = compare(w, nd, y, op, args, c);
        if (rc == FLOE_OK)
            *out = c;
        return rc;
    }
    bool not = strcmp(op, "not") == 0;
    if (!not &&strcmp(op, "and") != 0 && strcmp(op, "or") != 0)
        return spec_fail(ctx, y->items[0], FLOE_EINVAL,
                         "when: unknown operator \"%.32s\" (eq ne lt le gt ge and or not)", op);
    size_t n = not ? 1 : args->n;
    if (!not &&(args->kind != SPEC_Y_SEQ || n < 2 || n > COND_ARGS_MAX))
        return spec_fail(ctx, args, FLOE_EINVAL, "when: %s: expected a list of 2 to %d conditions",
                         op, COND_ARGS_MAX);
    c->op = (char *)op;
    c->args = floe_arena_alloc(ctx->arena, n * sizeof(*c->args));
    if (c->args == NULL)
        return spec_fail(ctx, y, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        floe_rc rc = condition(w, nd, not ? args : args->items[i], depth + 1, &c->args[i]);
        if (rc != FLOE_OK)
            return rc;
    }
    c->n_args = n;
    *out = c;
    return FLOE_OK;
}

/* The task of case i of the branch (first pass). */
static floe_rc
branch_case_task(wf *w, const spec_y *cy, size_t i, size_t n, Floe__BranchCase *bc,
                 const Floe__TaskSpec **task)
{
    spec_ctx *ctx = w->ctx;
    static const char *const f[] = {"when", "task", "inputs", NULL};
    floe_rc rc = spec_check_fields(ctx, cy, "branch: case", f);
    if (rc != FLOE_OK)
        return rc;
    if (spec_y_get(cy, "when") == NULL && i + 1 != n)
        return spec_fail(ctx, cy, FLOE_EINVAL,
                         "branch: case %zu has no \"when\": only the last case (the else) may "
                         "go without",
                         i + 1);
    const spec_y *ty = spec_y_get(cy, "task");
    if (ty == NULL)
        return spec_fail(ctx, cy, FLOE_EINVAL, "branch: case %zu: missing \"task\"", i + 1);
    const char *name, *version;
    const wf_callee *c;
    if ((rc = spec_ref(ctx, ty, "task", &name, &version)) != FLOE_OK ||
        (rc = wf_callee_get(w, ty, SPEC_TASK, name, version, &c)) != FLOE_OK)
        return rc;
    floe__branch_case__init(bc);
    bc->target = c->target;
    *task = (const Floe__TaskSpec *)c->msg;
    return FLOE_OK;
}

/* Whether two interfaces have the same outputs (names and types, both sorted by name). */
static bool
same_outputs(const Floe__Interface *a, const Floe__Interface *b)
{
    size_t na = a != NULL ? a->n_outputs : 0, nb = b != NULL ? b->n_outputs : 0;
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a->outputs[i]->name, b->outputs[i]->name) != 0 ||
            !floe_type_equal(a->outputs[i]->type, b->outputs[i]->type))
            return false;
    return true;
}

floe_rc
wf_branch_callee(wf *w, wf_node *nd, Floe__Node *node)
{
    spec_ctx *ctx = w->ctx;
    const spec_y *by = spec_y_get(nd->y, "branch");
    if (spec_y_get(nd->y, "inputs") != NULL || spec_y_get(nd->y, "map") != NULL)
        return spec_fail(ctx, nd->y, FLOE_EINVAL,
                         "a branch node has no \"inputs\" or \"map\" of its own: each case binds "
                         "its task's inputs");
    if (by->kind != SPEC_Y_SEQ || by->n == 0 || by->n > BRANCH_CASES_MAX)
        return spec_fail(ctx, by, FLOE_EINVAL,
                         "branch: expected a list of 1 to %d cases ({when: CONDITION, task: T, "
                         "inputs: {...}}, the last may go without when)",
                         BRANCH_CASES_MAX);
    Floe__BranchSpec *bs = floe_arena_alloc(ctx->arena, sizeof(*bs));
    Floe__BranchCase **cases = floe_arena_alloc(ctx->arena, by->n * sizeof(*cases));
    if (bs == NULL || cases == NULL)
        return spec_fail(ctx, by, FLOE_ENOMEM, "out of memory");
    floe__branch_spec__init(bs);
    const Floe__Interface *shown = NULL;
    for (size_t i = 0; i < by->n; i++) {
        const Floe__TaskSpec *task = NULL;
        if ((cases[i] = floe_arena_alloc(ctx->arena, sizeof(*cases[i]))) == NULL)
            return spec_fail(ctx, by, FLOE_ENOMEM, "out of memory");
        floe_rc rc = branch_case_task(w, by->items[i], i, by->n, cases[i], &task);
        if (rc != FLOE_OK)
            return rc;
        if (i == 0)
            shown = task->interface;
        else if (!same_outputs(shown, task->interface))
            return spec_fail(ctx, by->items[i], FLOE_EINVAL,
                             "branch: case %zu: task \"%s\" has other outputs than case 1's (every "
                             "case gives the branch's outputs: the same names and types)",
                             i + 1, task->id->name);
    }
    bs->cases = cases;
    bs->n_cases = by->n;
    node->branch = bs;
    /* What readers see: the cases' outputs, and no inputs. */
    Floe__Interface *ifc = floe_arena_alloc(ctx->arena, sizeof(*ifc));
    char *what = floe_arena_alloc(ctx->arena, 96);
    if (ifc == NULL || what == NULL)
        return spec_fail(ctx, by, FLOE_ENOMEM, "out of memory");
    floe__interface__init(ifc);
    ifc->outputs = shown != NULL ? shown->outputs : NULL;
    ifc->n_outputs = shown != NULL ? shown->n_outputs : 0;
    nd->ifc = ifc;
    snprintf(what, 96, "branch \"%.64s\"", nd->id);
    nd->callee_what = what;
    return FLOE_OK;
}

floe_rc
wf_branch_inputs(wf *w, wf_node *nd)
{
    spec_ctx *ctx = w->ctx;
    const spec_y *by = spec_y_get(nd->y, "branch");
    Floe__BranchSpec *bs = nd->node->branch;
    for (size_t i = 0; i < bs->n_cases; i++) {
        const spec_y *cy = by->items[i], *wy = spec_y_get(cy, "when");
        Floe__BranchCase *bc = bs->cases[i];
        const Floe__TaskSpec *task = NULL;
        for (size_t k = 0; k < w->n_callees && task == NULL; k++)
            if (w->callees[k].kind == SPEC_TASK && w->callees[k].target == bc->target)
                task = (const Floe__TaskSpec *)w->callees[k].msg;
        floe_rc rc = wy != NULL ? condition(w, nd, wy, 0, &bc->when) : FLOE_OK;
        if (spec_stop(ctx, rc, &w->bad))
            return rc;
        char what[128];
        snprintf(what, sizeof(what), "case %zu's task \"%.64s\"", i + 1,
                 task != NULL ? task->id->name : "?");
        rc =
            wf_bind_inputs(w, nd, cy, spec_y_get(cy, "inputs"),
                           task != NULL ? task->interface : NULL, what, &bc->inputs, &bc->n_inputs);
        if (spec_stop(ctx, rc, &w->bad))
            return rc;
    }
    return FLOE_OK;
}
