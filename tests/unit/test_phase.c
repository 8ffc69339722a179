/*
 * floe_phase as a table: which phases end an execution or a node, which count as a
 * success, which are legal transitions, and that names and numbers round-trip.
 */
#include "floe_phase.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static const struct {
    floe_phase p;
    bool exec_terminal, node_terminal, node_success, exec_exists;
} table[] = {
    {FLOE_PHASE_QUEUED, false, false, false, true},
    {FLOE_PHASE_READY, false, false, false, false},
    {FLOE_PHASE_RUNNING, false, false, false, true},
    {FLOE_PHASE_SUCCEEDED, true, true, true, true},
    {FLOE_PHASE_FAILED, true, true, false, true},
    {FLOE_PHASE_ABORTED, true, true, false, true},
    {FLOE_PHASE_CACHED, false, true, true, false},
    {FLOE_PHASE_TIMED_OUT, true, true, false, true},
    {FLOE_PHASE_SKIPPED, false, true, false, false},
    {FLOE_PHASE_RETRYING, false, false, false, false},
    {FLOE_PHASE_RECOVERED, false, true, true, false},
};

static void
test_predicates(void **state)
{
    (void)state;
    assert_int_equal(sizeof(table) / sizeof(table[0]), FLOE_PHASE_COUNT - 1);
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int p = (int)table[i].p;
        assert_int_equal(floe_phase_terminal(FLOE_SCOPE_EXEC, p), table[i].exec_terminal);
        assert_int_equal(floe_phase_terminal(FLOE_SCOPE_NODE, p), table[i].node_terminal);
        assert_int_equal(floe_phase_success(FLOE_SCOPE_NODE, p), table[i].node_success);
        assert_int_equal(floe_phase_success(FLOE_SCOPE_EXEC, p), p == FLOE_PHASE_SUCCEEDED);
        assert_int_equal(floe_phase_in_scope(FLOE_SCOPE_EXEC, p), table[i].exec_exists);
        assert_true(floe_phase_in_scope(FLOE_SCOPE_NODE, p));
    }
    assert_false(floe_phase_terminal(FLOE_SCOPE_NODE, 0));
    assert_false(floe_phase_terminal(FLOE_SCOPE_NODE, 99));
    assert_false(floe_phase_in_scope(FLOE_SCOPE_EXEC, 0));
}

static void
test_names_round_trip(void **state)
{
    (void)state;
    for (int p = 1; p < FLOE_PHASE_COUNT; p++)
        assert_int_equal(floe_phase_parse(floe_phase_name(p)), p);
    assert_string_equal(floe_phase_name(-1), "UNSPECIFIED");
    assert_string_equal(floe_phase_name(FLOE_PHASE_COUNT), "UNSPECIFIED");
    assert_int_equal(floe_phase_parse("succeeded"), FLOE_PHASE_UNSPECIFIED); /* exact */
    assert_int_equal(floe_phase_parse(NULL), FLOE_PHASE_UNSPECIFIED);
    assert_true(floe_phase_name_terminal(FLOE_SCOPE_EXEC, "TIMED_OUT"));
    assert_false(floe_phase_name_terminal(FLOE_SCOPE_EXEC, "CACHED"));
}

static void
test_transitions(void **state)
{
    (void)state;
    for (int t = 0; t < FLOE_TR_COUNT; t++) {
        const floe_transition_def *d = floe_transition_get((floe_transition)t);
        assert_non_null(d);
        assert_non_null(d->name);
        /* Named transitions never leave a terminal phase, and lead somewhere else. */
        assert_false(floe_phase_terminal(d->scope, (int)d->from));
        assert_int_not_equal(d->from, d->to);
        assert_int_equal(floe_transition_find(d->scope, (int)d->from, (int)d->to), t);
    }
    assert_null(floe_transition_get(FLOE_TR_COUNT));
    assert_true(floe_phase_legal(FLOE_SCOPE_NODE, FLOE_PHASE_RETRYING, FLOE_PHASE_READY));
    assert_false(floe_phase_legal(FLOE_SCOPE_NODE, FLOE_PHASE_SUCCEEDED, FLOE_PHASE_RUNNING));
    assert_false(floe_phase_legal(FLOE_SCOPE_EXEC, FLOE_PHASE_QUEUED, FLOE_PHASE_READY));
    assert_int_equal(floe_transition_find(FLOE_SCOPE_EXEC, FLOE_PHASE_RUNNING, FLOE_PHASE_CACHED),
                     FLOE_TR_COUNT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predicates),
        cmocka_unit_test(test_names_round_trip),
        cmocka_unit_test(test_transitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
