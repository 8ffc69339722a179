/*
 * Next-fire computation against a table of known cases: steps, ranges, lists, names,
 * day-of-month/day-of-week rules, month ends, 29 February, DST gaps and repeats in
 * Europe/Berlin, America/New_York and Australia/Sydney, dates past the zone file's last
 * transition (its footer rule), fixed rates, and expressions refused with a reason.
 */
#include "floe_cron.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static int64_t
iso(const char *s)
{
    int y, mo, d, h, mi, sec;
    assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &sec), 6);
    return floe_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
}

static void
fmt(int64_t t, char *buf, size_t size)
{
    if (t < 0) {
        snprintf(buf, size, "never");
        return;
    }
    int64_t y;
    unsigned m, d;
    floe_civil_from_days(t / 86400, &y, &m, &d);
    int64_t s = t % 86400;
    snprintf(buf, size, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", (long long)y, m, d,
             (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
}

static const struct {
    const char *cron, *tz, *after, *next; /* next NULL = never */
} cases[] = {
    /* steps, ranges, lists, names */
    {"*/15 * * * *", NULL, "2026-11-21T10:07:00Z", "2026-11-21T10:15:00Z"},
    {"*/15 * * * *", NULL, "2026-11-21T10:45:00Z", "2026-11-21T11:00:00Z"},
    {"5/20 * * * *", NULL, "2026-11-21T10:26:00Z", "2026-11-21T10:45:00Z"},
    {"0 3 * * *", NULL, "2026-11-21T03:00:00Z", "2026-11-22T03:00:00Z"},
    {"0 3 * * *", NULL, "2026-11-21T02:59:59Z", "2026-11-21T03:00:00Z"},
    {"0 9-17/4 * * mon-fri", NULL, "2026-11-20T17:00:00Z", "2026-11-23T09:00:00Z"},
    {"0 9-17/4 * * MON-FRI", NULL, "2026-11-23T09:00:00Z", "2026-11-23T13:00:00Z"},
    {"5,10 0 * jan,jul *", NULL, "2026-01-31T00:10:00Z", "2026-07-01T00:05:00Z"},
    {"0 0 * * 7", NULL, "2026-11-21T00:00:00Z", "2026-11-22T00:00:00Z"},  /* 7 = Sunday */
    {"0 12 1 * 1", NULL, "2026-11-21T00:00:00Z", "2026-11-23T12:00:00Z"}, /* day 1 OR Monday */
    {"0 12 1 * 1", NULL, "2026-11-30T12:00:00Z", "2026-12-01T12:00:00Z"},
    {"0 12 * * 1", NULL, "2026-11-22T00:00:00Z", "2026-11-23T12:00:00Z"},
    {"0 12 */10 * 1", NULL, "2026-11-24T00:00:00Z", "2026-12-21T12:00:00Z"}, /* "*" ANDs */
    /* macros */
    {"@hourly", NULL, "2026-11-21T10:00:00Z", "2026-11-21T11:00:00Z"},
    {"@daily", NULL, "2026-12-31T12:00:00Z", "2027-01-01T00:00:00Z"},
    {"@weekly", NULL, "2026-11-21T12:00:00Z", "2026-11-22T00:00:00Z"},
    {"@monthly", NULL, "2026-12-15T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"@yearly", NULL, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    /* month ends and 29 February */
    {"0 0 31 * *", NULL, "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
    {"0 0 30 * *", NULL, "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
    {"0 0 29 2 *", NULL, "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", NULL, "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
    {"0 0 28-31 2 *", NULL, "2100-02-28T00:00:00Z", "2101-02-28T00:00:00Z"}, /* 2100: no leap */
    {"0 0 30 2 *", NULL, "2026-01-01T00:00:00Z", NULL},
    /* Berlin, spring forward 2026-03-29 02:00 CET -> 03:00 CEST (01:00Z): 02:30 does not
     * exist and fires when the clock jumps; the next day it is 00:30Z. */
    {"30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
    {"*/20 2 * * *", "Europe/Berlin", "2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z"},
    {"*/20 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"},
    {"0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
    /* Berlin, fall back 2026-10-25 03:00 CEST -> 02:00 CET (01:00Z): 02:30 occurs twice
     * and fires once, at the first occurrence. */
    {"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-26T01:30:00Z"},
    {"0 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"},
    {"0 0 * * *", "Europe/Berlin", "2026-06-01T00:00:00Z", "2026-06-01T22:00:00Z"},
    {"0 0 * * *", "Europe/Berlin", "2026-12-01T00:00:00Z", "2026-12-01T23:00:00Z"},
    /* New York, spring forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z) */
    {"0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
    {"0 2 * * *", "America/New_York", "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"},
    /* Sydney (southern hemisphere), fall back 2026-04-05 03:00 AEDT -> 02:00 AEST */
    {"30 2 * * *", "Australia/Sydney", "2026-04-04T12:00:00Z", "2026-04-04T15:30:00Z"},
    {"30 2 * * *", "Australia/Sydney", "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"},
    /* Past the file's transitions: the footer rule (last Sunday of March 2100 is the 28th) */
    {"30 2 * * *", "Europe/Berlin", "2100-03-27T12:00:00Z", "2100-03-28T01:00:00Z"},
    {"0 12 * * *", "Europe/Berlin", "2100-07-01T00:00:00Z", "2100-07-01T10:00:00Z"},
};

static void
test_table(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        floe_cron c;
        floe_err err = {0};
        if (floe_cron_parse(cases[i].cron, &c, &err) != FLOE_OK)
            fail_msg("case %zu \"%s\": %s", i, cases[i].cron, err.msg);
        floe_tz *tz = NULL;
        if (cases[i].tz != NULL && (tz = floe_tz_load(cases[i].tz, &err)) == NULL)
            fail_msg("case %zu: %s", i, err.msg);
        int64_t got = floe_cron_next(&c, tz, iso(cases[i].after));
        int64_t want = cases[i].next != NULL ? iso(cases[i].next) : -1;
        if (got != want) {
            char g[40], w[40];
            fmt(got, g, sizeof(g));
            fmt(want, w, sizeof(w));
            print_error("case %zu: \"%s\" %s after %s: got %s, want %s\n", i, cases[i].cron,
                        cases[i].tz ? cases[i].tz : "UTC", cases[i].after, g, w);
            bad++;
        }
        floe_tz_free(tz);
    }
    assert_int_equal(bad, 0);
}

static void
test_offsets(void **state)
{
    (void)state;
    floe_err err;
    floe_tz *tz = floe_tz_load("Europe/Berlin", &err);
    assert_non_null(tz);
    assert_int_equal(floe_tz_offset(tz, iso("2026-01-15T00:00:00Z")), 3600);
    assert_int_equal(floe_tz_offset(tz, iso("2026-07-15T00:00:00Z")), 7200);
    assert_int_equal(floe_tz_offset(tz, iso("2026-03-29T00:59:59Z")), 3600);
    assert_int_equal(floe_tz_offset(tz, iso("2026-03-29T01:00:00Z")), 7200);
    assert_true(floe_tz_next_change(tz, iso("2026-03-01T00:00:00Z")) ==
                iso("2026-03-29T01:00:00Z"));
    int64_t at[2];
    /* 02:30 local on the fall-back day: twice; on the spring-forward day: never */
    assert_int_equal(floe_tz_local_to_utc(tz, iso("2026-10-25T02:30:00Z"), at), 2);
    assert_true(at[0] == iso("2026-10-25T00:30:00Z") && at[1] == iso("2026-10-25T01:30:00Z"));
    assert_int_equal(floe_tz_local_to_utc(tz, iso("2026-03-29T02:30:00Z"), at), 0);
    assert_true(at[0] == iso("2026-03-29T01:00:00Z"));
    floe_tz_free(tz);
    assert_null(floe_tz_load("../etc/passwd", &err));
    assert_non_null(strstr(err.msg, "IANA"));
    assert_null(floe_tz_load("Mars/Olympus", &err));
    assert_non_null(strstr(err.msg, "unknown"));
    tz = floe_tz_load("UTC", &err);
    assert_non_null(tz);
    assert_int_equal(floe_tz_offset(tz, 0), 0);
    floe_tz_free(tz);
}

static void
test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *cron, *says;
    } bad[] = {
        {"61 * * * *", "minute"},       {"* * *", "3 fields"},        {"*/0 * * * *", "step"},
        {"@never", "@hourly"},          {"* 24 * * *", "hour"},       {"* * 0 * *", "day-of-month"},
        {"* * * foo *", "month"},       {"* * * * 8", "day-of-week"}, {"5-1 * * * *", "outside"},
        {"* * * * * *", "more than 5"}, {"1,,2 * * * *", "minute"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        floe_cron c;
        floe_err err = {0};
        assert_int_equal(floe_cron_parse(bad[i].cron, &c, &err), FLOE_EINVAL);
        if (strstr(err.msg, bad[i].says) == NULL)
            fail_msg("\"%s\": \"%s\" does not say %s", bad[i].cron, err.msg, bad[i].says);
    }
}

static void
test_rate(void **state)
{
    (void)state;
    assert_true(floe_rate_next(60, 119) == 120);
    assert_true(floe_rate_next(60, 120) == 180);
    assert_true(floe_rate_next(3600, iso("2026-11-21T10:00:00Z")) == iso("2026-11-21T11:00:00Z"));
    assert_true(floe_rate_next(7, 0) == 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
