/*
 * floe_cron — launch-plan schedules: five-field cron expressions (minute hour
 * day-of-month month day-of-week; lists, ranges, steps, month and weekday names, the
 * @hourly ... @yearly macros) evaluated in an IANA time zone, and fixed rates.
 *
 * Semantics (docs/launchplans.md): as Vixie cron, when both day fields are restricted a
 * day matches either; a field starting with '*' is unrestricted for that rule. Wall-clock
 * times are matched in the zone: a time skipped by a spring-forward fires once at the
 * instant the clock jumps; a time repeated by a fall-back fires once, at its first
 * occurrence. Fixed rates fire at whole multiples of the rate since 1970-01-01T00:00Z.
 */
#ifndef FLOE_CRON_H
#define FLOE_CRON_H

#include "floe_err.h"
#include "floe_tz.h"

#include <stdbool.h>
#include <stdint.h>

#define FLOE_CRON_HORIZON_YEARS 5 /* an expression must fire within this many years */

typedef struct floe_cron {
    uint64_t minute;    /* bit i: minute i */
    uint32_t hour, dom; /* dom: bits 1..31 */
    uint16_t month;     /* bits 1..12 */
    uint8_t dow;        /* bits 0..6, 0 = Sunday */
    bool dom_star, dow_star;
} floe_cron;

/* Parses expr; errors name the field and what is wrong. */
floe_rc floe_cron_parse(const char *expr, floe_cron *out, floe_err *err);

/* The first firing instant (unix seconds) strictly after t; -1 when none within the
 * horizon. tz NULL is UTC. */
int64_t floe_cron_next(const floe_cron *c, const floe_tz *tz, int64_t t);

/* A fixed rate: the first multiple of rate_s strictly after t. */
int64_t floe_rate_next(uint64_t rate_s, int64_t t);

#endif
