/*
 * floe_bus_lag: librdkafka's statistics turned into floe_bus_consumer_lag per consumed
 * topic: the partitions' lags summed, unknown lags (-1) and the internal partition -1
 * left out, a topic without any known lag keeping its last value.
 */
#include "floe_bus_int.h"
#include "floe_mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static long long
lag_of(floe_metrics *m, const char *topic)
{
    char buf[8192] = {0}, want[256];
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    floe_metrics_render(m, f);
    fclose(f);
    snprintf(want, sizeof(want), "floe_bus_consumer_lag{bus=\"worker\",topic=\"%s\"} ", topic);
    const char *p = strstr(buf, want);
    if (p == NULL)
        fail_msg("no %s in:\n%s", want, buf);
    return strtoll(p + strlen(want), NULL, 10);
}

static void
stats(floe_bus *bus, const char *json)
{
    char *copy = strdup(json);
    assert_int_equal(bus_stats_cb(NULL, copy, strlen(copy), bus), 0);
    free(copy);
}

static void
test_lag_per_topic(void **state)
{
    (void)state;
    floe_bus *bus = floe_calloc(1, sizeof(*bus));
    floe_metrics *m = floe_metrics_new();
    bus->in_topics[0].name = "floe.tasks.default";
    bus->in_topics[1].name = "floe.tasks.gpu";
    bus->n_in_topics = 2;
    floe_bus_count_into(bus, m, "worker");
    stats(bus, "{\"topics\": {\"floe.tasks.default\": {\"partitions\": {"
               "\"0\": {\"consumer_lag\": 5}, \"1\": {\"consumer_lag\": 7},"
               "\"2\": {\"consumer_lag\": -1}, \"-1\": {\"consumer_lag\": 1000}}},"
               "\"floe.other\": {\"partitions\": {\"0\": {\"consumer_lag\": 99}}}}}");
    assert_int_equal(lag_of(m, "floe.tasks.default"), 12);
    assert_int_equal(lag_of(m, "floe.tasks.gpu"), 0);
    /* Nothing known this time: the last value stays. Malformed statistics change nothing. */
    stats(bus, "{\"topics\": {\"floe.tasks.default\": {\"partitions\": {"
               "\"0\": {\"consumer_lag\": -1}}}}}");
    assert_int_equal(lag_of(m, "floe.tasks.default"), 12);
    stats(bus, "not json");
    stats(bus, "{\"topics\": {\"floe.tasks.default\": {\"partitions\": {"
               "\"3\": {\"consumer_lag\": 2}}}}}");
    assert_int_equal(lag_of(m, "floe.tasks.default"), 2);
    floe_metrics_free(m);
    floe_free(bus);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lag_per_topic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
