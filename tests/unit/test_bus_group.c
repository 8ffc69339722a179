/*
 * floe_bus_group: the partition of a dispatch from the load. Quiet, consecutive messages
 * (even produced at one instant) visit every partition once a cycle, alternating halves;
 * busy, those produced together share one, up to a run the load allows; a run ends after
 * its window; the load of a period forgotten after an idle one.
 */
#include "floe_bus_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static bus_group
group_new(unsigned max)
{
    bus_group g;
    memset(&g, 0, sizeof(g));
    g.max = max;
    return g;
}

/* Makes the period before `now` one of `n` messages, spread over it. */
static int64_t
load(bus_group *g, int64_t now, unsigned n, int32_t cnt)
{
    for (unsigned i = 0; i < n; i++)
        bus_group_pick(g, now + (int64_t)i * (100000 / n), cnt);
    return now + 100000;
}

static void
test_quiet_spreads(void **state)
{
    (void)state;
    for (int32_t cnt = 1; cnt <= 16; cnt++) {
        bus_group g = group_new(64);
        int seen[16] = {0};
        int32_t prev = -1;
        for (int32_t i = 0; i < cnt; i++) {
            int32_t p = bus_group_pick(&g, 1000000, cnt); /* one instant, no load before */
            assert_true(p >= 0 && p < cnt);
            seen[p]++;
            if (cnt == 8 && prev >= 0) /* the range assignor's two members: 0-3, 4-7 */
                assert_true((prev < 4) != (p < 4));
            prev = p;
        }
        for (int32_t p = 0; p < cnt; p++)
            assert_int_equal(seen[p], 1);
    }
}

static void
test_busy_groups(void **state)
{
    (void)state;
    bus_group g = group_new(64);
    int64_t now = load(&g, 0, 1600, 8); /* 16,000 a second: runs up to 64 (100, capped) */
    assert_int_equal(bus_group_pick(&g, now, 8), bus_group_pick(&g, now, 8));
    now += 10000;
    int32_t first = bus_group_pick(&g, now, 8);
    for (int i = 1; i < 64; i++)
        assert_int_equal(bus_group_pick(&g, now + i, 8), first);
    assert_int_not_equal(bus_group_pick(&g, now + 64, 8), first); /* the 65th: next run */
    /* A run ends with its window (2 ms after its first). */
    now += 10000;
    first = bus_group_pick(&g, now, 8);
    assert_int_equal(bus_group_pick(&g, now + 1999, 8), first);
    assert_int_not_equal(bus_group_pick(&g, now + 2000, 8), first);
}

static void
test_run_follows_load(void **state)
{
    (void)state;
    bus_group g = group_new(64);
    int64_t now = load(&g, 0, 80, 8); /* 800 a second: runs of 5 */
    bus_group_pick(&g, now, 8);
    assert_int_equal(bus_group_run_max(&g), 5);
    g = group_new(4); /* the configured maximum bounds it */
    now = load(&g, 0, 1600, 8);
    bus_group_pick(&g, now, 8);
    assert_int_equal(bus_group_run_max(&g), 4);
    /* Idle for a period and more: quiet again, one a partition. */
    bus_group_pick(&g, now + 250000, 8);
    assert_int_equal(bus_group_run_max(&g), 1);
    assert_int_not_equal(bus_group_pick(&g, now + 250001, 8), bus_group_pick(&g, now + 250002, 8));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_spreads),
        cmocka_unit_test(test_busy_groups),
        cmocka_unit_test(test_run_follows_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
