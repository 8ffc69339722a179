/*
 * floe_time — clocks and identifiers.
 * Wall-clock time (CLOCK_REALTIME) is for timestamps people read and messages carry;
 * deadlines and leases that must survive clock steps use floe_mono_us (CLOCK_MONOTONIC).
 */
#ifndef FLOE_TIME_H
#define FLOE_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t floe_now_us(void);  /* microseconds since the epoch, CLOCK_REALTIME */
int64_t floe_mono_us(void); /* microseconds, CLOCK_MONOTONIC */

/* RFC 3339 UTC with milliseconds: "2026-11-21T08:03:00.123Z". buf: at least 25 bytes. */
void floe_time_format(int64_t unix_us, char *buf, size_t size);

#define FLOE_ID_LEN 26 /* without the terminating NUL */

/* A ULID: 48-bit millisecond time + 80 random bits in Crockford base32, 26 characters,
 * ordered by time. out: FLOE_ID_LEN + 1 bytes. Random bits come from getrandom(2), a
 * block at a time per thread (a fork's child draws its own); returns 0, or -1 if no
 * randomness could be had. */
int floe_id_new(char out[FLOE_ID_LEN + 1]);

/* len (at most 320) random bytes from the same source; 0, or -1 if none could be had. */
int floe_random_bytes(void *out, size_t len);

#endif
