/*
 * Helpers for integration tests: the configuration from the stack's FLOE_* variables, and
 * a bounded wait that runs the event loop until a condition holds.
 */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include "floe_config.h"

#include <stdbool.h>

struct event_base;

/* Loads the configuration from the environment (tests/with-stack sets it) plus overrides;
 * fails the test with the report when it does not load. */
floe_config *it_config(const char *program, const char *const *overrides, size_t n);

/* Runs base until cond(arg) is true or timeout_ms passes; on timeout fails the test with
 * "timed out after N ms waiting for <what>". */
void it_wait(struct event_base *base, bool (*cond)(void *arg), void *arg, int timeout_ms,
             const char *what);

#endif
