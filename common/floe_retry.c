/*
 * floe_retry — see floe_retry.h.
 */
#include "floe_retry.h"

void
floe_retry_policy_defaults(Floe__RetryPolicy *rp)
{
    rp->user_retries = FLOE_RETRY_USER;
    rp->system_retries = FLOE_RETRY_SYSTEM;
    rp->backoff_initial_ms = FLOE_RETRY_INITIAL_MS;
    rp->backoff_max_ms = FLOE_RETRY_MAX_MS;
    rp->backoff_multiplier_milli = FLOE_RETRY_MULTIPLIER_MILLI;
}

floe_retry
floe_retry_of(const Floe__RetryPolicy *rp)
{
    floe_retry r = {FLOE_RETRY_USER, FLOE_RETRY_SYSTEM, FLOE_RETRY_INITIAL_MS, FLOE_RETRY_MAX_MS,
                    FLOE_RETRY_MULTIPLIER_MILLI};
    if (rp == NULL)
        return r;
    r.user = rp->user_retries;
    r.system = rp->system_retries;
    if (rp->backoff_initial_ms != 0)
        r.initial_ms = rp->backoff_initial_ms;
    if (rp->backoff_max_ms != 0)
        r.max_ms = rp->backoff_max_ms;
    if (rp->backoff_multiplier_milli != 0)
        r.multiplier_milli = rp->backoff_multiplier_milli;
    return r;
}
