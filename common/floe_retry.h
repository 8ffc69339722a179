/*
 * floe_retry — a task's retry policy with its defaults in one place: the spec compiler
 * writes them into a TaskSpec that says nothing, the engine reads a stored TaskSpec
 * through floe_retry_of (an older spec may lack a field), and docs/spec.md states them.
 * The budgets and the backoff are applied by storage/redis/node_failed.lua.
 */
#ifndef FLOE_RETRY_H
#define FLOE_RETRY_H

#include "floe_spec.pb-c.h"

#include <stdint.h>

#define FLOE_RETRY_USER 0u                /* a task's own failures are not retried */
#define FLOE_RETRY_SYSTEM 3u              /* lost workers, missing images, storage errors */
#define FLOE_RETRY_INITIAL_MS 1000u       /* the first retry's delay */
#define FLOE_RETRY_MAX_MS 300000u         /* the longest delay */
#define FLOE_RETRY_MULTIPLIER_MILLI 2000u /* each delay is twice the one before */

typedef struct floe_retry {
    uint32_t user, system;
    uint32_t initial_ms, max_ms, multiplier_milli;
} floe_retry;

/* The policy in force for rp (NULL: no policy stored): its fields, defaults for those
 * that are 0 where 0 makes no sense (delays and the multiplier; budgets may be 0). */
floe_retry floe_retry_of(const Floe__RetryPolicy *rp);
/* Fills a new policy with the defaults. */
void floe_retry_policy_defaults(Floe__RetryPolicy *rp);

#endif
