/*
 * sched_handoff: requests taken in-process from the API, held until acknowledged (issue
 * 25). An acknowledgement frees its request once: one that comes twice does not free
 * another request that took the slot meanwhile; positions from Kafka are not its own;
 * the table is bounded (the request then takes the bus); what is held at a term's end is
 * handed on (here with no bus: said, and let go).
 */
#include "sched_engine_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void
request(Floe__ExecutionRequested *req, char *id, int i)
{
    floe__execution_requested__init(req);
    snprintf(id, 32, "EXEC%06d", i);
    req->execution_id = id;
}

static void
test_ack_frees_once(void **state)
{
    (void)state;
    eng_term t = {.log = {.comp = "test"}};
    Floe__ExecutionRequested req;
    char id[32];
    floe_bus_pos a, b, c;
    request(&req, id, 1);
    assert_true(eng_handoff_add(&t, &req, false, &a));
    request(&req, id, 2);
    assert_true(eng_handoff_add(&t, &req, true, &b)); /* its row recorded RUNNING */
    assert_int_equal(a.topic, ENG_POS_LOCAL);
    assert_false(eng_handoff_started(&t, &a));
    assert_true(eng_handoff_started(&t, &b));
    assert_int_equal(eng_handoff_held(&t), 2);
    assert_true(eng_handoff_done(&t, &a));
    assert_int_equal(eng_handoff_held(&t), 1);
    /* The freed slot goes to the next request; a to-be-late second ack of a is its own. */
    request(&req, id, 3);
    assert_true(eng_handoff_add(&t, &req, false, &c));
    assert_int_equal(c.offset, a.offset);
    assert_true(eng_handoff_done(&t, &a));
    assert_int_equal(eng_handoff_held(&t), 2);
    /* A Kafka position is not the hand-over's. */
    floe_bus_pos kafka = {.topic = 0, .partition = 3, .offset = 7, .generation = c.generation};
    assert_false(eng_handoff_done(&t, &kafka));
    assert_false(eng_handoff_started(&t, &kafka));
    /* A started request is so only while it is held, under its own number. */
    floe_bus_pos stale = b;
    stale.generation++;
    assert_false(eng_handoff_started(&t, &stale));
    assert_int_equal(eng_handoff_held(&t), 2);
    assert_true(eng_handoff_done(&t, &c));
    assert_true(eng_handoff_done(&t, &b));
    assert_false(eng_handoff_started(&t, &b));
    assert_int_equal(eng_handoff_held(&t), 0);
    eng_handoff_free(&t);
    assert_null(t.handoff);
}

static void
test_bounded_and_handed_on(void **state)
{
    (void)state;
    eng_term t = {.log = {.comp = "test"}};
    Floe__ExecutionRequested req;
    char id[32];
    floe_bus_pos pos;
    for (int i = 0; i < ENG_HANDOFF_MAX; i++) {
        request(&req, id, i);
        assert_true(eng_handoff_add(&t, &req, false, &pos));
    }
    request(&req, id, ENG_HANDOFF_MAX);
    assert_false(eng_handoff_add(&t, &req, false, &pos));
    assert_int_equal(eng_handoff_held(&t), ENG_HANDOFF_MAX);
    assert_true(eng_handoff_done(&t, &pos)); /* the last one taken */
    assert_true(eng_handoff_add(&t, &req, false, &pos));
    /* No bus to hand them on: nothing sent, everything let go (the reconcile sweep's). */
    assert_int_equal(eng_handoff_requeue(&t, "floe.events"), 0);
    assert_null(t.handoff);
    assert_int_equal(eng_handoff_held(&t), 0);
    assert_true(eng_handoff_done(&t, &pos)); /* late: its own, ignored */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_frees_once),
        cmocka_unit_test(test_bounded_and_handed_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
