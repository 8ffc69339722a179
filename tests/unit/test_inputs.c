/*
 * sched_inputs: the precedence every launch path shares (fixed > given > plan default >
 * interface default), every problem reported when a problem callback is given, the first
 * one otherwise, and what a caller may give.
 */
#include "floe_value.h"
#include "sched_inputs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static Floe__LiteralType t_int = FLOE__LITERAL_TYPE__INIT;
static floe_arena *arena;

static Floe__Value *
int_value(long long n)
{
    char text[32];
    Floe__Value *v = NULL;
    snprintf(text, sizeof(text), "%lld", n);
    assert_int_equal(floe_value_from_text(&t_int, text, arena, &v, NULL), FLOE_OK);
    return v;
}

/* Inputs a..e, all integers; e has an interface default of 5. */
static Floe__InputSpec in_specs[5];
static Floe__InputSpec *in_ptrs[5];
static Floe__Interface ifc = FLOE__INTERFACE__INIT;
/* The plan fixes a = 1 and defaults b = 2 and c = 3. */
static Floe__NamedValue fixed_a, def_b, def_c;
static Floe__NamedValue *fixed[1], *defs[2];
static Floe__Identifier lp_id = FLOE__IDENTIFIER__INIT;
static Floe__LaunchPlanSpec lp = FLOE__LAUNCH_PLAN_SPEC__INIT;

static int
setup(void **state)
{
    (void)state;
    arena = floe_arena_new(4096, 0);
    t_int.simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_INTEGER;
    static const char *names[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) {
        floe__input_spec__init(&in_specs[i]);
        in_specs[i].name = (char *)names[i];
        in_specs[i].type = &t_int;
        in_ptrs[i] = &in_specs[i];
    }
    in_specs[4].default_value = int_value(5);
    ifc.inputs = in_ptrs;
    ifc.n_inputs = 5;
    floe__named_value__init(&fixed_a);
    fixed_a.name = "a";
    fixed_a.value = int_value(1);
    floe__named_value__init(&def_b);
    def_b.name = "b";
    def_b.value = int_value(2);
    floe__named_value__init(&def_c);
    def_c.name = "c";
    def_c.value = int_value(3);
    fixed[0] = &fixed_a;
    defs[0] = &def_b;
    defs[1] = &def_c;
    lp_id.name = "nightly";
    lp.id = &lp_id;
    lp.interface = &ifc;
    lp.fixed_inputs = fixed;
    lp.n_fixed_inputs = 1;
    lp.default_inputs = defs;
    lp.n_default_inputs = 2;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    floe_arena_free(arena);
    return 0;
}

/* Gives 40 + the input's position for the names in *arg ("abd"), 99 for "x" (unknown). */
static floe_rc
given(void *arg, const Floe__InputSpec *in, floe_arena *a, const Floe__Value **v, floe_err *err)
{
    (void)a;
    const char *which = arg;
    *v = NULL;
    if (strchr(which, '!') != NULL && strcmp(in->name, "d") == 0)
        return floe_err_user(err, FLOE_EINVAL, "expected integer, got \"four\"");
    if (strchr(which, in->name[0]) != NULL)
        *v = int_value(40 + (in->name[0] - 'a'));
    return FLOE_OK;
}

static long long
value_of(const Floe__ValueMap *vm, const char *name)
{
    for (size_t i = 0; i < vm->n_entries; i++)
        if (strcmp(vm->entries[i]->name, name) == 0)
            return vm->entries[i]->value->integer;
    fail_msg("input %s not in the result", name);
    return -1;
}

static void
test_precedence(void **state)
{
    (void)state;
    Floe__ValueMap out = FLOE__VALUE_MAP__INIT;
    floe_err err = {0};
    /* a given but fixed: 1; b given: 41 over the plan's 2; c: plan default 3; d given: 43;
     * e: interface default 5. */
    assert_int_equal(sched_inputs_merge(arena, &ifc, &lp, given, "abd", NULL, NULL, &out, &err),
                     FLOE_OK);
    assert_int_equal(out.n_entries, 5);
    assert_int_equal(value_of(&out, "a"), 1);
    assert_int_equal(value_of(&out, "b"), 41);
    assert_int_equal(value_of(&out, "c"), 3);
    assert_int_equal(value_of(&out, "d"), 43);
    assert_int_equal(value_of(&out, "e"), 5);
}

static void
test_missing_first_error(void **state)
{
    (void)state;
    Floe__ValueMap out = FLOE__VALUE_MAP__INIT;
    floe_err err = {0};
    assert_int_equal(sched_inputs_merge(arena, &ifc, &lp, given, "", NULL, NULL, &out, &err),
                     FLOE_EINVAL);
    assert_string_equal(err.msg, "input \"d\": missing: required integer");
    /* Without a plan, a, b and c are missing too: the first is named. */
    assert_int_equal(sched_inputs_merge(arena, &ifc, NULL, NULL, NULL, NULL, NULL, &out, &err),
                     FLOE_EINVAL);
    assert_string_equal(err.msg, "input \"a\": missing: required integer");
}

typedef struct seen {
    char text[512];
    int n;
} seen;

static void
problem(void *arg, const char *input, const char *msg)
{
    seen *s = arg;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof(s->text) - len, "%s%s: %s", s->n++ ? "; " : "", input, msg);
}

static void
test_every_problem_reported(void **state)
{
    (void)state;
    Floe__ValueMap out = FLOE__VALUE_MAP__INIT;
    floe_err err = {0};
    seen s = {.text = ""};
    /* No plan: a, b, c missing; d given but unusable; e has its default. */
    assert_int_equal(sched_inputs_merge(arena, &ifc, NULL, given, "!", problem, &s, &out, &err),
                     FLOE_EINVAL);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.text, "a: missing: required integer; b: missing: required integer; "
                                "c: missing: required integer; d: expected integer, got \"four\"");
}

static void
test_givable(void **state)
{
    (void)state;
    char why[200];
    assert_true(sched_inputs_givable(&ifc, &lp, "b", why, sizeof(why)));
    assert_false(sched_inputs_givable(&ifc, &lp, "a", why, sizeof(why)));
    assert_string_equal(why, "fixed by launch plan \"nightly\": it cannot be overridden");
    assert_true(sched_inputs_givable(&ifc, NULL, "a", why, sizeof(why)));
    assert_false(sched_inputs_givable(&ifc, &lp, "x", why, sizeof(why)));
    assert_string_equal(why, "unknown input (the workflow's inputs: a, b, c, d, e)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_missing_first_error),
        cmocka_unit_test(test_every_problem_reported),
        cmocka_unit_test(test_givable),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
