/*
 * floe_notify — telling systemd how a daemon is doing (sd_notify(3)'s protocol: one
 * datagram to the AF_UNIX socket in $NOTIFY_SOCKET; stable and documented, so no
 * libsystemd): READY=1 once it serves, STOPPING=1 when it begins to stop, STATUS= lines,
 * and WATCHDOG=1 every half of $WATCHDOG_USEC from the event loop itself, so a loop that
 * hangs stops the pings and systemd restarts the service (WatchdogSec= in the unit).
 * Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
 */
#ifndef FLOE_NOTIFY_H
#define FLOE_NOTIFY_H

#include <stdint.h>

struct event_base;
typedef struct floe_notify floe_notify;

/* Reads the environment (and unsets it, so that tasks and children do not inherit the
 * socket). NULL only when out of memory. */
floe_notify *floe_notify_new(struct event_base *base);
void floe_notify_free(floe_notify *n);

/* READY=1 with a status line; arms the watchdog pings when systemd asked for them. */
void floe_notify_ready(floe_notify *n, const char *status);
void floe_notify_stopping(floe_notify *n, const char *status);
void floe_notify_status(floe_notify *n, const char *status);

/* The watchdog interval systemd asked for, 0 when none. */
int64_t floe_notify_watchdog_us(const floe_notify *n);

#endif
