/*
 * sched_plan on compiled specs. Review H9: a small spec whose flattened plan is quadratic
 * (a sub-workflow of N independent nodes followed by a sub-workflow of N independent
 * sources: N x N edges) ran the leader out of memory; it is refused with a message saying
 * what to change, while a wide join and a chain of wide sub-workflows within the bound
 * still flatten.
 */
#include "sched_plan.h"
#include "spec.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const classes[] = {"default"};

/* "wide" (n independent nodes) called twice in a row: the second call's sources depend on
 * every node of the first. */
static char *
two_wide_calls(int n)
{
    size_t cap = (size_t)n * 64 + 4096, len = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    len += (size_t)snprintf(y + len, cap - len,
                            "kind: task\nname: t\nversion: v1\ncontainer: {command: [x]}\n"
                            "---\nkind: workflow\nname: wide\nversion: v1\nnodes:\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(y + len, cap - len, "  - {id: n%d, task: t}\n", i);
    snprintf(y + len, cap - len,
             "---\nkind: workflow\nname: twice\nversion: v1\nnodes:\n"
             "  - {id: a, workflow: wide}\n  - {id: b, workflow: wide, after: [a]}\n");
    return y;
}

static sched_plan *
plan_of(const char *yaml, const char *wf, size_t max_nodes, floe_err *err)
{
    spec_env env = {.project = "demo",
                    .domain = "development",
                    .resource_classes = classes,
                    .n_resource_classes = 1,
                    .limits = {.max_bytes = 1 << 22,
                               .max_documents = 16,
                               .max_nesting = 32,
                               .max_nodes = 20000,
                               .max_depth = 4}};
    floe_arena *arena = floe_arena_new(65536, 0);
    spec_item *items;
    size_t n;
    if (spec_compile(&env, "t.yaml", yaml, strlen(yaml), arena, &items, &n, err) != FLOE_OK)
        fail_msg("compile: %s", err->msg);
    sched_plan *p = NULL;
    for (size_t i = 0; i < n; i++)
        if (items[i].kind == SPEC_WORKFLOW && strcmp(items[i].name, wf) == 0)
            p = sched_plan_build(items[i].data, items[i].len, max_nodes, err);
    floe_arena_free(arena);
    return p;
}

static void
test_h9_quadratic_plan_refused(void **state)
{
    (void)state;
    floe_err err = {0};
    /* 300 x 300 = 90,000 edges: within 20,000 x 25. */
    char *y = two_wide_calls(300);
    sched_plan *p = plan_of(y, "twice", 20000, &err);
    assert_non_null(p);
    assert_int_equal(p->n_nodes, 600);
    assert_int_equal(p->nodes[300].n_upstream, 300);
    sched_plan_free(p);
    free(y);
    /* 1,000 x 1,000: refused before the memory is taken, naming the node and the fix. */
    y = two_wide_calls(1000);
    p = plan_of(y, "twice", 20000, &err);
    assert_null(p);
    assert_int_equal(err.code, FLOE_ETOOBIG);
    assert_non_null(strstr(err.msg, "more than 500000 dependencies"));
    assert_non_null(strstr(err.msg, "join its outputs"));
    free(y);
}

/* Map items (issue 23): indices after the plan's nodes, by map, named ID.k, found back by
 * name, and nothing else taken for one: not a plan id, not k past the limit, not a
 * leading zero, not an item of a node that is no map. */
static void
test_map_items(void **state)
{
    (void)state;
    static const char y[] =
        "kind: task\nname: t\nversion: v1\ncontainer: {command: [x]}\n"
        "inputs: {x: integer}\noutputs: {y: integer}\n"
        "---\nkind: workflow\nname: inner\nversion: v1\ninputs: {xs: \"list<integer>\"}\n"
        "nodes:\n  - {id: m, task: t, map: x, inputs: {x: {input: xs}}}\n"
        "---\nkind: workflow\nname: w\nversion: v1\ninputs: {xs: \"list<integer>\"}\n"
        "nodes:\n"
        "  - {id: a, task: t, map: {over: x, concurrency: 2}, inputs: {x: {input: xs}}}\n"
        "  - {id: b, task: t, inputs: {x: 1}}\n"
        "  - {id: sub, workflow: inner, inputs: {xs: {node: a, output: y}}}\n";
    floe_err err = {0};
    sched_plan *p = plan_of(y, "w", 20000, &err);
    assert_non_null(p);
    assert_int_equal(p->n_nodes, 3);
    assert_int_equal(p->n_maps, 2);
    int64_t a = sched_plan_find(p, "a"), m = sched_plan_find(p, "sub.m"),
            b = sched_plan_find(p, "b");
    assert_true(a >= 0 && m >= 0 && b >= 0);
    assert_int_equal(p->nodes[a].map->concurrency, 2);
    assert_int_equal(p->nodes[a].map->min_success_ratio * 1000, 1000);
    uint32_t i0 = sched_plan_item(p, (uint32_t)a, 0), j7 = sched_plan_item(p, (uint32_t)m, 7);
    assert_true(i0 >= p->n_nodes && j7 > i0);
    uint32_t node;
    int64_t k;
    assert_true(sched_plan_locate(p, j7, &node, &k));
    assert_int_equal(node, m);
    assert_int_equal(k, 7);
    assert_true(sched_plan_locate(p, (uint32_t)b, &node, &k));
    assert_int_equal(k, -1);
    assert_false(sched_plan_locate(p, p->n_nodes + (2u << SCHED_MAP_ITEM_BITS), &node, &k));
    char buf[SCHED_PLAN_ID_SIZE];
    assert_string_equal(sched_plan_id(p, j7, buf, sizeof(buf)), "sub.m.7");
    assert_string_equal(sched_plan_id(p, (uint32_t)b, buf, sizeof(buf)), "b");
    assert_int_equal(sched_plan_find_any(p, "sub.m.7"), j7);
    assert_int_equal(sched_plan_find_any(p, "a.0"), i0);
    assert_int_equal(sched_plan_find_any(p, "a"), a);
    assert_int_equal(sched_plan_find_any(p, "a.07"), -1);
    assert_int_equal(sched_plan_find_any(p, "a.-1"), -1);
    assert_int_equal(sched_plan_find_any(p, "a.1048575"), -1);
    assert_int_equal(sched_plan_find_any(p, "a.3x"), -1);
    assert_int_equal(sched_plan_find_any(p, "b.1"), -1);
    assert_int_equal(sched_plan_find_any(p, "nosuch.1"), -1);
    assert_int_equal(sched_plan_find_any(p, ".1"), -1);
    sched_plan_free(p);
}

/* Branch nodes (issue 23): ID.when after what the conditions and cases read, with every
 * condition's operands in case order; the cases after it; ID after every case, read by
 * what reads the branch. */
static void
test_branch(void **state)
{
    (void)state;
    static const char y[] =
        "kind: task\nname: t\nversion: v1\ncontainer: {command: [x]}\n"
        "inputs: {x: integer}\noutputs: {y: integer}\n"
        "---\nkind: task\nname: u\nversion: v1\ncontainer: {command: [x]}\n"
        "outputs: {y: integer}\n"
        "---\nkind: workflow\nname: w\nversion: v1\ninputs: {n: integer, s: string}\n"
        "outputs: {z: {from: {node: after, output: y}}}\n"
        "nodes:\n"
        "  - {id: a, task: t, inputs: {x: {input: n}}}\n"
        "  - id: b\n"
        "    branch:\n"
        "      - when: {and: [{gt: [{node: a, output: y}, 10]}, {ne: [{input: s}, off]}]}\n"
        "        task: t\n"
        "        inputs: {x: {node: a, output: y}}\n"
        "      - {when: {le: [5, {input: n}]}, task: u}\n"
        "      - {task: t, inputs: {x: 0}}\n"
        "  - {id: after, task: t, inputs: {x: {node: b, output: y}}}\n";
    floe_err err = {0};
    sched_plan *p = plan_of(y, "w", 20000, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    int64_t a = sched_plan_find(p, "a"), when = sched_plan_find(p, "b.when"),
            c0 = sched_plan_find(p, "b.if0"), c1 = sched_plan_find(p, "b.if1"),
            el = sched_plan_find(p, "b.else"), j = sched_plan_find(p, "b"),
            after = sched_plan_find(p, "after");
    assert_true(a >= 0 && when == a + 1 && c0 == when + 1 && c1 == c0 + 1 && el == c1 + 1 &&
                j == el + 1 && after == j + 1);
    assert_int_equal(p->nodes[when].role, SCHED_ROLE_DECIDE);
    assert_null(p->nodes[when].task);
    assert_int_equal(p->nodes[when].n_inputs, 6); /* 2 + 2 + 2 operands, in order */
    assert_int_equal(p->nodes[when].inputs[0].kind, SCHED_SRC_OUTPUT);
    assert_int_equal(p->nodes[when].inputs[1].kind, SCHED_SRC_LITERAL);
    assert_int_equal(p->nodes[when].inputs[2].kind, SCHED_SRC_INPUT);
    assert_int_equal(p->nodes[when].inputs[4].kind, SCHED_SRC_LITERAL); /* 5 le n */
    assert_int_equal(p->nodes[when].inputs[5].kind, SCHED_SRC_INPUT);
    assert_int_equal(p->nodes[when].n_upstream, 1);
    assert_int_equal(p->nodes[c0].n_upstream, 1);
    assert_int_equal(p->nodes[j].role, SCHED_ROLE_JOIN);
    assert_int_equal(p->nodes[j].n_upstream, 3);
    assert_int_equal(p->nodes[after].n_upstream, 1);
    assert_int_equal(p->nodes[after].inputs[0].node, j);
    assert_int_equal(p->outputs[0].node, after);
    sched_plan_free(p);
}

/* A launch-plan node: no task, the plan it starts, its bindings like a task's; a static
 * sub-workflow next to it inlined as "sub.x". */
static void
test_launchplan_node(void **state)
{
    (void)state;
    static const char y[] =
        "kind: task\nname: t\nversion: v1\ncontainer: {command: [x]}\n"
        "inputs: {x: integer}\noutputs: {y: integer}\n"
        "---\nkind: workflow\nname: inner\nversion: v1\ninputs: {x: integer, k: integer}\n"
        "outputs: {y: {node: one, output: y}}\n"
        "nodes: [{id: one, task: t, inputs: {x: {input: x}}}]\n"
        "---\nkind: launchplan\nname: lp\nversion: v1\nworkflow: inner@v1\n"
        "fixed_inputs: {k: 3}\n"
        "---\nkind: workflow\nname: w\nversion: v1\ninputs: {n: integer}\n"
        "outputs: {z: {node: after, output: y}}\n"
        "nodes:\n"
        "  - {id: sub, workflow: inner, inputs: {x: {input: n}, k: 1}}\n"
        "  - {id: call, launchplan: lp, inputs: {x: {node: sub, output: y}}}\n"
        "  - {id: after, task: t, inputs: {x: {node: call, output: y}}}\n";
    floe_err err = {0};
    sched_plan *p = plan_of(y, "w", 20000, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    int64_t one = sched_plan_find(p, "sub.one"), call = sched_plan_find(p, "call"),
            after = sched_plan_find(p, "after");
    assert_true(one >= 0 && call >= 0 && after >= 0);
    assert_int_equal(p->n_nodes, 3);
    assert_int_equal(p->nodes[call].role, SCHED_ROLE_CHILD);
    assert_null(p->nodes[call].task);
    assert_non_null(p->nodes[call].launchplan);
    assert_string_equal(p->nodes[call].launchplan->id->name, "lp");
    assert_string_equal(p->nodes[call].launchplan->workflow->version, "v1");
    assert_int_equal(p->nodes[call].n_inputs, 1);
    assert_int_equal(p->nodes[call].inputs[0].kind, SCHED_SRC_OUTPUT);
    assert_int_equal(p->nodes[call].inputs[0].node, one);
    assert_int_equal(p->nodes[after].inputs[0].node, call);
    sched_plan_free(p);
}

/* A map over a sub-workflow is one CHILD node (not inlined), its outputs lists read
 * downstream as a task map's. */
static void
test_map_over_workflow(void **state)
{
    (void)state;
    static const char y[] =
        "kind: task\nname: t\nversion: v1\ncontainer: {command: [x]}\n"
        "inputs: {x: integer}\noutputs: {y: integer}\n"
        "---\nkind: task\nname: s\nversion: v1\ncontainer: {command: [x]}\n"
        "inputs: {ys: \"list<integer>\"}\noutputs: {y: integer}\n"
        "---\nkind: workflow\nname: inner\nversion: v1\ninputs: {x: integer}\n"
        "outputs: {y: {node: one, output: y}}\n"
        "nodes: [{id: one, task: t, inputs: {x: {input: x}}}, "
        "{id: two, task: t, inputs: {x: {node: one, output: y}}}]\n"
        "---\nkind: workflow\nname: w\nversion: v1\ninputs: {xs: \"list<integer>\"}\n"
        "nodes:\n"
        "  - {id: each, workflow: inner, map: x, inputs: {x: {input: xs}}}\n"
        "  - {id: sum, task: s, inputs: {ys: {node: each, output: y}}}\n";
    floe_err err = {0};
    sched_plan *p = plan_of(y, "w", 20000, &err);
    if (p == NULL)
        fail_msg("%s", err.msg);
    int64_t each = sched_plan_find(p, "each"), sum = sched_plan_find(p, "sum");
    assert_int_equal(p->n_nodes, 2);
    assert_true(each >= 0 && sum >= 0 && sched_plan_find(p, "each.one") < 0);
    assert_int_equal(p->nodes[each].role, SCHED_ROLE_CHILD);
    assert_non_null(p->nodes[each].map);
    assert_non_null(p->nodes[each].child_workflow);
    assert_null(p->nodes[each].launchplan);
    assert_string_equal(p->nodes[each].child_workflow->id->name, "inner");
    assert_ptr_equal(p->nodes[each].ifc, p->nodes[each].child_workflow->interface);
    assert_int_equal(p->nodes[sum].inputs[0].node, each);
    assert_int_equal(p->n_maps, 1);
    sched_plan_free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h9_quadratic_plan_refused),
        cmocka_unit_test(test_map_items),
        cmocka_unit_test(test_branch),
        cmocka_unit_test(test_launchplan_node),
        cmocka_unit_test(test_map_over_workflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
