/*
 * floe_metrics: a task lasting two hours lands in its own bucket on the DURATION scale
 * (and in +Inf only on the LATENCY scale); buckets render cumulative; the process's own
 * metrics render with plausible values (time, memory, descriptors, start time).
 */
#include "floe_metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static char *
render(floe_metrics *m)
{
    static char buf[16384];
    memset(buf, 0, sizeof(buf));
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    assert_non_null(f);
    floe_metrics_render(m, f);
    fclose(f);
    return buf;
}

static double
value_of(const char *text, const char *series)
{
    const char *p = strstr(text, series);
    if (p == NULL)
        fail_msg("no %s in:\n%s", series, text);
    return strtod(p + strlen(series), NULL);
}

static void
test_scales(void **state)
{
    (void)state;
    floe_metrics *m = floe_metrics_new();
    const int64_t two_hours = 2LL * 3600 * 1000000;
    floe_metric_observe_us(
        floe_metrics_histogram_scaled(m, "t_seconds", "task", NULL, FLOE_HIST_DURATION), two_hours);
    floe_metric_observe_us(floe_metrics_histogram(m, "l_seconds", "latency", NULL), two_hours);
    floe_metric_observe_us(floe_metrics_histogram(m, "l_seconds", "latency", NULL), 70);
    char *out = render(m);
    assert_int_equal(value_of(out, "t_seconds_bucket{le=\"3600\"} "), 0);
    assert_int_equal(value_of(out, "t_seconds_bucket{le=\"7200\"} "), 1);
    assert_int_equal(value_of(out, "t_seconds_bucket{le=\"86400\"} "), 1);
    assert_int_equal(value_of(out, "t_seconds_bucket{le=\"+Inf\"} "), 1);
    assert_int_equal(value_of(out, "t_seconds_sum "), 7200);
    assert_int_equal(value_of(out, "l_seconds_bucket{le=\"5e-05\"} "), 0);
    assert_int_equal(value_of(out, "l_seconds_bucket{le=\"0.0001\"} "), 1);
    assert_int_equal(value_of(out, "l_seconds_bucket{le=\"10\"} "), 1); /* the 2 h: +Inf only */
    assert_int_equal(value_of(out, "l_seconds_bucket{le=\"+Inf\"} "), 2);
    assert_null(strstr(out, "process_"));
    floe_metrics_free(m);
}

static void
test_process_metrics(void **state)
{
    (void)state;
    floe_metrics *m = floe_metrics_new();
    floe_metrics_process(m);
    char *out = render(m);
    assert_true(value_of(out, "\nprocess_cpu_seconds_total ") >= 0);
    assert_true(value_of(out, "\nprocess_resident_memory_bytes ") > 100000);
    assert_true(value_of(out, "\nprocess_open_fds ") >= 3); /* stdin, stdout, stderr */
    assert_true(value_of(out, "\nprocess_max_fds ") >= value_of(out, "\nprocess_open_fds "));
    double start = value_of(out, "\nprocess_start_time_seconds ");
    double now = (double)time(NULL);
    if (start > now + 2 || start < now - 3600)
        fail_msg("process_start_time_seconds %.0f, now %.0f", start, now);
    assert_non_null(strstr(out, "# TYPE process_cpu_seconds_total counter"));
    floe_metrics_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scales),
        cmocka_unit_test(test_process_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
