/*
 * A workflow document's options: how a failure ends it (failure_policy) and how long an
 * execution of it may run (timeout).
 */
#include "spec_int.h"

#include <string.h>

/* An execution runs at most 30 days (engine.execution_timeout's bound too). */
#define WF_TIMEOUT_MAX_MS (30ULL * 86400000)

floe_rc
spec_workflow_options(spec_ctx *ctx, const spec_y *doc, Floe__WorkflowSpec *spec)
{
    const char *fp = NULL;
    floe_rc rc = spec_get_string(ctx, doc, "failure_policy", 64, &fp);
    if (rc != FLOE_OK)
        return rc;
    spec->failure_policy = FLOE__FAILURE_POLICY__FAILURE_POLICY_FAIL_FAST;
    if (fp != NULL && strcmp(fp, "finish_independent") == 0)
        spec->failure_policy = FLOE__FAILURE_POLICY__FAILURE_POLICY_FINISH_INDEPENDENT;
    else if (fp != NULL && strcmp(fp, "fail_fast") != 0)
        return spec_fail(ctx, spec_y_get(doc, "failure_policy"), FLOE_EINVAL,
                         "failure_policy: \"%s\" is not fail_fast or finish_independent", fp);
    uint64_t ms = 0;
    if ((rc = spec_get_duration_ms(ctx, doc, "timeout", WF_TIMEOUT_MAX_MS, &ms)) != FLOE_OK)
        return rc;
    spec->timeout_ms = ms;
    return FLOE_OK;
}
