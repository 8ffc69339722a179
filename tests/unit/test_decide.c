/*
 * sched_decide, the engine's decision core, with no I/O: what each script answer makes
 * the engine do. Duplicate and stale events (NOOP) do nothing; readiness on a chain, a
 * fan-out and a diamond dispatches exactly the nodes the script released; retries due now
 * are dispatched and later ones wait; failures say the skipped nodes and finalize; items
 * naming no node are ignored; outputs are checked against the interface.
 */
#include "sched_decide.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define CAP 64

typedef struct want {
    sched_effect_kind kind;
    int node; /* -1: execution level */
    uint32_t attempt;
    floe_transition tr;
} want;

static void
expect(const sched_outcome *o, uint32_t n_nodes, const want *w, size_t n_w)
{
    sched_effect fx[CAP];
    size_t n = sched_decide(o, n_nodes, fx, CAP);
    if (n != n_w)
        fail_msg("event %d answer %d: %zu effects, expected %zu", o->event, o->answer, n, n_w);
    for (size_t i = 0; i < n; i++) {
        if (fx[i].kind != w[i].kind)
            fail_msg("effect %zu: kind %d, expected %d", i, fx[i].kind, w[i].kind);
        if (w[i].node < 0)
            assert_true(fx[i].exec_level);
        else if (fx[i].exec_level || fx[i].node != (uint32_t)w[i].node)
            fail_msg("effect %zu: node %u, expected %d", i, fx[i].node, w[i].node);
        if (w[i].kind == SCHED_FX_EGRESS && fx[i].tr != w[i].tr)
            fail_msg("effect %zu: transition %s, expected %s", i,
                     floe_transition_get(fx[i].tr)->name, floe_transition_get(w[i].tr)->name);
        if ((w[i].kind == SCHED_FX_DISPATCH || w[i].kind == SCHED_FX_RETRY) &&
            fx[i].attempt != w[i].attempt)
            fail_msg("effect %zu: attempt %u, expected %u", i, fx[i].attempt, w[i].attempt);
    }
}

#define EXPECT(o, n_nodes, ...)                                                                    \
    do {                                                                                           \
        const want w_[] = {__VA_ARGS__};                                                           \
        expect(o, n_nodes, w_, sizeof(w_) / sizeof(w_[0]));                                        \
    } while (0)
#define EXPECT_NONE(o, n_nodes) expect(o, n_nodes, NULL, 0)

#define READY(n)                                                                                   \
    {SCHED_FX_EGRESS, n, 1, FLOE_TR_NODE_READY},                                                   \
    {                                                                                              \
        SCHED_FX_DISPATCH, n, 1, 0                                                                 \
    }
#define FINALIZE                                                                                   \
    {                                                                                              \
        SCHED_FX_FINALIZE, -1, 0, 0                                                                \
    }

/* Duplicate and stale events change nothing in Redis, so nothing follows, whatever they
 * carried. */
static void
test_noop_does_nothing(void **state)
{
    (void)state;
    int64_t items[] = {1, 2};
    for (int ev = SCHED_EV_CREATED; ev <= SCHED_EV_ABORTED; ev++) {
        sched_outcome o = {.event = (sched_event)ev,
                           .node = 0,
                           .attempt = 1,
                           .answer = SCHED_ANS_NOOP,
                           .exec_phase = FLOE_PHASE_SUCCEEDED,
                           .items = items,
                           .n_items = 2};
        EXPECT_NONE(&o, 4);
    }
}

static void
test_created(void **state)
{
    (void)state;
    /* Fan-out: one source. */
    int64_t src[] = {0};
    sched_outcome o = {
        .event = SCHED_EV_CREATED, .answer = SCHED_ANS_OK, .items = src, .n_items = 1};
    EXPECT(&o, 5, {SCHED_FX_EGRESS, -1, 0, FLOE_TR_EXEC_START}, READY(0));
    /* Three independent sources. */
    int64_t three[] = {0, 1, 2};
    o.items = three;
    o.n_items = 3;
    EXPECT(&o, 3, {SCHED_FX_EGRESS, -1, 0, FLOE_TR_EXEC_START}, READY(0), READY(1), READY(2));
    /* Every node recovered: nothing to run, the execution is over at once. */
    o.n_items = 0;
    o.exec_phase = FLOE_PHASE_SUCCEEDED;
    EXPECT(&o, 3, {SCHED_FX_EGRESS, -1, 0, FLOE_TR_EXEC_START}, FINALIZE);
}

/* Readiness follows what the script released: a chain releases one node at a time, a
 * fan-out all its children at once, a diamond its join only after both sides. */
static void
test_succeeded_releases(void **state)
{
    (void)state;
    sched_outcome o = {
        .event = SCHED_EV_SUCCEEDED, .node = 0, .attempt = 1, .answer = SCHED_ANS_OK};
    int64_t next[] = {1};
    o.items = next;
    o.n_items = 1;
    EXPECT(&o, 3, {SCHED_FX_EGRESS, 0, 1, FLOE_TR_NODE_SUCCEED}, READY(1)); /* chain */
    int64_t kids[] = {1, 2, 3, 4};
    o.items = kids;
    o.n_items = 4;
    EXPECT(&o, 5, {SCHED_FX_EGRESS, 0, 1, FLOE_TR_NODE_SUCCEED}, READY(1), READY(2), READY(3),
           READY(4)); /* fan-out */
    o.node = 1;       /* diamond: b done, d still waits for c */
    o.n_items = 0;
    EXPECT(&o, 4, {SCHED_FX_EGRESS, 1, 1, FLOE_TR_NODE_SUCCEED});
    int64_t join[] = {3};
    o.node = 2;
    o.items = join;
    o.n_items = 1;
    EXPECT(&o, 4, {SCHED_FX_EGRESS, 2, 1, FLOE_TR_NODE_SUCCEED}, READY(3));
    o.node = 3; /* the last node */
    o.n_items = 0;
    o.exec_phase = FLOE_PHASE_SUCCEEDED;
    EXPECT(&o, 4, {SCHED_FX_EGRESS, 3, 1, FLOE_TR_NODE_SUCCEED}, FINALIZE);
    o.event = SCHED_EV_CACHED;
    EXPECT(&o, 4, {SCHED_FX_EGRESS, 3, 1, FLOE_TR_NODE_CACHE_HIT}, FINALIZE);
}

static void
test_started(void **state)
{
    (void)state;
    sched_outcome o = {.event = SCHED_EV_STARTED, .node = 2, .attempt = 3, .answer = SCHED_ANS_OK};
    EXPECT(&o, 4, {SCHED_FX_EGRESS, 2, 3, FLOE_TR_NODE_START});
}

static void
test_retry(void **state)
{
    (void)state;
    int64_t later[] = {2, 1500}; /* attempt 2 in 1.5 s: the timer makes it ready */
    sched_outcome o = {.event = SCHED_EV_FAILED,
                       .node = 1,
                       .attempt = 1,
                       .error_kind = FLOE_ERROR_KIND_USER,
                       .answer = SCHED_ANS_RETRY,
                       .items = later,
                       .n_items = 2};
    EXPECT(&o, 4, {SCHED_FX_RETRY, 1, 2, 0}, {SCHED_FX_EGRESS, 1, 1, FLOE_TR_NODE_RETRY});
    int64_t now[] = {2, 0}; /* due now: already READY in the outbox, dispatched */
    o.items = now;
    EXPECT(&o, 4, {SCHED_FX_RETRY, 1, 2, 0}, {SCHED_FX_EGRESS, 1, 1, FLOE_TR_NODE_RETRY},
           {SCHED_FX_DISPATCH, 1, 2, 0});
    o.event = SCHED_EV_LEASE;
    EXPECT(&o, 4, {SCHED_FX_LEASE_EXPIRED, 1, 0, 0}, {SCHED_FX_RETRY, 1, 2, 0},
           {SCHED_FX_EGRESS, 1, 1, FLOE_TR_NODE_RETRY}, {SCHED_FX_DISPATCH, 1, 2, 0});
    /* A retry answer without its next attempt acts on nothing. */
    o.event = SCHED_EV_FAILED;
    o.n_items = 0;
    EXPECT_NONE(&o, 4);
    sched_effect fx[CAP];
    o.items = later;
    o.n_items = 2;
    o.error_kind = FLOE_ERROR_KIND_SYSTEM;
    assert_int_equal(sched_decide(&o, 4, fx, CAP), 2);
    assert_int_equal(fx[0].delay_ms, 1500);
    assert_int_equal(fx[0].error_kind, FLOE_ERROR_KIND_SYSTEM);
}

static void
test_failed(void **state)
{
    (void)state;
    /* finish-independent: the closure is skipped, the rest runs on. */
    int64_t skipped[] = {3};
    sched_outcome o = {.event = SCHED_EV_FAILED,
                       .node = 1,
                       .attempt = 2,
                       .error_kind = FLOE_ERROR_KIND_SYSTEM,
                       .answer = SCHED_ANS_FAILED,
                       .items = skipped,
                       .n_items = 1};
    EXPECT(&o, 4, {SCHED_FX_EGRESS, 1, 2, FLOE_TR_NODE_FAIL},
           {SCHED_FX_EGRESS, 3, 0, FLOE_TR_NODE_SKIP});
    /* fail-fast: the execution ends. */
    o.n_items = 0;
    o.exec_phase = FLOE_PHASE_FAILED;
    EXPECT(&o, 4, {SCHED_FX_EGRESS, 1, 2, FLOE_TR_NODE_FAIL}, FINALIZE);
}

/* Map nodes: a map node's items started (its start said, the first items dispatched); an
 * item that failed for good says so and lets the next item (or the gathering of the map
 * node) go on, skipping nothing and ending nothing. */
static void
test_map(void **state)
{
    (void)state;
    int64_t items[] = {10, 11};
    sched_outcome o = {.event = SCHED_EV_EXPANDED,
                       .node = 1,
                       .attempt = 1,
                       .answer = SCHED_ANS_OK,
                       .items = items,
                       .n_items = 2};
    EXPECT(&o, 20, {SCHED_FX_EGRESS, 1, 1, FLOE_TR_NODE_START}, READY(10), READY(11));
    int64_t next[] = {12, 1};
    o = (sched_outcome){.event = SCHED_EV_FAILED,
                        .node = 10,
                        .attempt = 2,
                        .error_kind = FLOE_ERROR_KIND_USER,
                        .answer = SCHED_ANS_ITEM_FAILED,
                        .items = next,
                        .n_items = 2};
    EXPECT(&o, 20, {SCHED_FX_EGRESS, 10, 2, FLOE_TR_NODE_FAIL}, READY(12), READY(1));
    o.answer = SCHED_ANS_NOOP;
    EXPECT_NONE(&o, 20);
}

static void
test_aborted(void **state)
{
    (void)state;
    sched_outcome o = {
        .event = SCHED_EV_ABORTED, .answer = SCHED_ANS_OK, .exec_phase = FLOE_PHASE_ABORTED};
    EXPECT(&o, 4, FINALIZE);
}

/* Items that name no node of the plan (a state written by another version) are ignored,
 * and so is an event of a node the plan does not have. */
static void
test_out_of_range_ignored(void **state)
{
    (void)state;
    int64_t items[] = {-1, 7, 2};
    sched_outcome o = {.event = SCHED_EV_SUCCEEDED,
                       .node = 0,
                       .attempt = 1,
                       .answer = SCHED_ANS_OK,
                       .items = items,
                       .n_items = 3};
    EXPECT(&o, 3, {SCHED_FX_EGRESS, 0, 1, FLOE_TR_NODE_SUCCEED}, READY(2));
    o.node = 9;
    EXPECT_NONE(&o, 3);
    /* A buffer too small is never overrun. */
    sched_effect fx[2];
    o.node = 0;
    assert_int_equal(sched_decide(&o, 3, fx, 2), 2);
}

static void
test_outputs(void **state)
{
    (void)state;
    Floe__LiteralType t_int = FLOE__LITERAL_TYPE__INIT;
    t_int.simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_INTEGER;
    Floe__Variable v_n = FLOE__VARIABLE__INIT, v_m = FLOE__VARIABLE__INIT;
    v_n.name = "n";
    v_n.type = &t_int;
    v_m.name = "m";
    v_m.type = &t_int;
    Floe__Variable *vars[] = {&v_n, &v_m};
    Floe__Interface ifc = FLOE__INTERFACE__INIT;
    ifc.outputs = vars;
    ifc.n_outputs = 2;
    Floe__Value one = FLOE__VALUE__INIT, str = FLOE__VALUE__INIT;
    one.kind_case = FLOE__VALUE__KIND_INTEGER;
    one.integer = 1;
    str.kind_case = FLOE__VALUE__KIND_STRING;
    str.string = "x";
    Floe__NamedValue got_m = FLOE__NAMED_VALUE__INIT, got_n = FLOE__NAMED_VALUE__INIT,
                     extra = FLOE__NAMED_VALUE__INIT;
    got_m.name = "m";
    got_m.value = &one;
    got_n.name = "n";
    got_n.value = &one;
    extra.name = "zzz";
    extra.value = &str;
    Floe__NamedValue *got[] = {&got_m, &extra, &got_n};
    Floe__NamedValue *ordered[2];
    char why[256] = "";
    assert_true(sched_decide_outputs(&ifc, got, 3, ordered, why, sizeof(why)));
    assert_ptr_equal(ordered[0], &got_n); /* declared order, extra dropped */
    assert_ptr_equal(ordered[1], &got_m);
    Floe__NamedValue *missing[] = {&got_n};
    assert_false(sched_decide_outputs(&ifc, missing, 1, ordered, why, sizeof(why)));
    assert_string_equal(why, "output \"m\" is missing");
    got_m.value = &str;
    assert_false(sched_decide_outputs(&ifc, got, 3, ordered, why, sizeof(why)));
    assert_non_null(strstr(why, "output \"m\":"));
    assert_true(sched_decide_outputs(NULL, got, 3, ordered, why, sizeof(why)));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noop_does_nothing),
        cmocka_unit_test(test_created),
        cmocka_unit_test(test_succeeded_releases),
        cmocka_unit_test(test_started),
        cmocka_unit_test(test_retry),
        cmocka_unit_test(test_failed),
        cmocka_unit_test(test_aborted),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_out_of_range_ignored),
        cmocka_unit_test(test_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
