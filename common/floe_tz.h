/*
 * floe_tz — IANA time zones for schedules, read from the system's compiled zoneinfo
 * (TZif version 2+, RFC 8536): UTC offsets at any instant, offset changes, and the
 * mapping of a local wall-clock time to the instants it denotes (none in a spring-forward
 * gap, two in a fall-back repeat). Times beyond the file's last transition follow its
 * POSIX TZ footer rule (e.g. "CET-1CEST,M3.5.0,M10.5.0/3").
 *
 * Thread-safe once loaded (read only); no process-global TZ state is touched.
 */
#ifndef FLOE_TZ_H
#define FLOE_TZ_H

#include "floe_err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct floe_tz floe_tz;

#define FLOE_TZ_NAME_MAX 64

/* Loads zone name ("Europe/Berlin"; "UTC" or "" is UTC) from $FLOE_ZONEINFO or
 * /usr/share/zoneinfo. The name is checked (no "..", no leading '/'). NULL on error. */
floe_tz *floe_tz_load(const char *name, floe_err *err);
/* The same from the bytes of a TZif file (name is only copied). */
floe_tz *floe_tz_parse(const char *name, const uint8_t *data, size_t len, floe_err *err);
void floe_tz_free(floe_tz *tz);
const char *floe_tz_name(const floe_tz *tz);

/* UTC offset in seconds at unix time t (local = t + offset). NULL tz is UTC. */
int32_t floe_tz_offset(const floe_tz *tz, int64_t t);

/* The first instant after t at which the offset changes; INT64_MAX when none. */
int64_t floe_tz_next_change(const floe_tz *tz, int64_t t);

/* The instants whose local wall-clock time is local (seconds since 1970-01-01 read as
 * local time). Returns how many (0, 1 or 2; at[0] < at[1]); with 0, at[0] is the instant
 * the clock jumped over local (the end of the gap). */
int floe_tz_local_to_utc(const floe_tz *tz, int64_t local, int64_t at[2]);

/* Civil calendar helpers (proleptic Gregorian, any year). */
int64_t floe_days_from_civil(int64_t y, unsigned m, unsigned d);
void floe_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
unsigned floe_weekday(int64_t days); /* 0 = Sunday */

#endif
