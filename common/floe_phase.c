/*
 * floe_phase — the state machine's facts in one table each (see floe_phase.h).
 */
#include "floe_phase.h"

#include "floe_messages.pb-c.h"

#include <string.h>

_Static_assert(FLOE_PHASE_RECOVERED == (int)FLOE__PHASE__PHASE_RECOVERED &&
                   FLOE_PHASE_QUEUED == (int)FLOE__PHASE__PHASE_QUEUED &&
                   FLOE_PHASE_SKIPPED == (int)FLOE__PHASE__PHASE_SKIPPED,
               "floe_phase follows floe.Phase");
_Static_assert(FLOE_ERROR_KIND_SYSTEM == (int)FLOE__ERROR_KIND__ERROR_KIND_SYSTEM,
               "floe_error_kind follows floe.ErrorKind");

static const char *const names[FLOE_PHASE_COUNT] = {
    "UNSPECIFIED", "QUEUED", "READY",     "RUNNING", "SUCCEEDED", "FAILED",
    "ABORTED",     "CACHED", "TIMED_OUT", "SKIPPED", "RETRYING",  "RECOVERED"};

static const floe_transition_def transitions[FLOE_TR_COUNT] = {
    [FLOE_TR_EXEC_START] = {FLOE_SCOPE_EXEC, FLOE_PHASE_QUEUED, FLOE_PHASE_RUNNING, "start"},
    [FLOE_TR_EXEC_NOT_STARTED] = {FLOE_SCOPE_EXEC, FLOE_PHASE_QUEUED, FLOE_PHASE_FAILED,
                                  "not_started"},
    [FLOE_TR_EXEC_SUCCEED] = {FLOE_SCOPE_EXEC, FLOE_PHASE_RUNNING, FLOE_PHASE_SUCCEEDED, "succeed"},
    [FLOE_TR_EXEC_FAIL] = {FLOE_SCOPE_EXEC, FLOE_PHASE_RUNNING, FLOE_PHASE_FAILED, "fail"},
    [FLOE_TR_EXEC_ABORT] = {FLOE_SCOPE_EXEC, FLOE_PHASE_RUNNING, FLOE_PHASE_ABORTED, "abort"},
    [FLOE_TR_EXEC_TIME_OUT] = {FLOE_SCOPE_EXEC, FLOE_PHASE_RUNNING, FLOE_PHASE_TIMED_OUT,
                               "time_out"},
    [FLOE_TR_NODE_READY] = {FLOE_SCOPE_NODE, FLOE_PHASE_QUEUED, FLOE_PHASE_READY, "ready"},
    [FLOE_TR_NODE_START] = {FLOE_SCOPE_NODE, FLOE_PHASE_READY, FLOE_PHASE_RUNNING, "start"},
    [FLOE_TR_NODE_SUCCEED] = {FLOE_SCOPE_NODE, FLOE_PHASE_RUNNING, FLOE_PHASE_SUCCEEDED, "succeed"},
    [FLOE_TR_NODE_CACHE_HIT] = {FLOE_SCOPE_NODE, FLOE_PHASE_READY, FLOE_PHASE_CACHED, "cache_hit"},
    [FLOE_TR_NODE_RETRY] = {FLOE_SCOPE_NODE, FLOE_PHASE_RUNNING, FLOE_PHASE_RETRYING, "retry"},
    [FLOE_TR_NODE_RETRY_READY] = {FLOE_SCOPE_NODE, FLOE_PHASE_RETRYING, FLOE_PHASE_READY,
                                  "retry_ready"},
    [FLOE_TR_NODE_FAIL] = {FLOE_SCOPE_NODE, FLOE_PHASE_RUNNING, FLOE_PHASE_FAILED, "fail"},
    [FLOE_TR_NODE_SKIP] = {FLOE_SCOPE_NODE, FLOE_PHASE_QUEUED, FLOE_PHASE_SKIPPED, "skip"},
    [FLOE_TR_NODE_RECOVER] = {FLOE_SCOPE_NODE, FLOE_PHASE_QUEUED, FLOE_PHASE_RECOVERED, "recover"},
};

const char *
floe_phase_name(int phase)
{
    return phase >= 0 && phase < FLOE_PHASE_COUNT ? names[phase] : names[0];
}

floe_phase
floe_phase_parse(const char *s)
{
    for (int i = 1; s != NULL && i < FLOE_PHASE_COUNT; i++)
        if (strcmp(s, names[i]) == 0)
            return (floe_phase)i;
    return FLOE_PHASE_UNSPECIFIED;
}

bool
floe_phase_terminal(floe_phase_scope scope, int phase)
{
    switch (phase) {
    case FLOE_PHASE_SUCCEEDED:
    case FLOE_PHASE_FAILED:
    case FLOE_PHASE_ABORTED:
    case FLOE_PHASE_TIMED_OUT:
        return true;
    case FLOE_PHASE_CACHED:
    case FLOE_PHASE_RECOVERED:
    case FLOE_PHASE_SKIPPED:
        return scope == FLOE_SCOPE_NODE;
    default:
        return false;
    }
}

bool
floe_phase_in_scope(floe_phase_scope scope, int phase)
{
    if (phase <= FLOE_PHASE_UNSPECIFIED || phase >= FLOE_PHASE_COUNT)
        return false;
    return scope == FLOE_SCOPE_NODE || phase == FLOE_PHASE_QUEUED || phase == FLOE_PHASE_RUNNING ||
           floe_phase_terminal(FLOE_SCOPE_EXEC, phase);
}

bool
floe_phase_success(floe_phase_scope scope, int phase)
{
    if (phase == FLOE_PHASE_SUCCEEDED)
        return true;
    return scope == FLOE_SCOPE_NODE &&
           (phase == FLOE_PHASE_CACHED || phase == FLOE_PHASE_RECOVERED);
}

bool
floe_phase_name_terminal(floe_phase_scope scope, const char *name)
{
    return floe_phase_terminal(scope, (int)floe_phase_parse(name));
}

const floe_transition_def *
floe_transition_get(floe_transition tr)
{
    return (unsigned)tr < FLOE_TR_COUNT ? &transitions[tr] : NULL;
}

floe_transition
floe_transition_find(floe_phase_scope scope, int from, int to)
{
    for (int i = 0; i < FLOE_TR_COUNT; i++)
        if (transitions[i].scope == scope && (int)transitions[i].from == from &&
            (int)transitions[i].to == to)
            return (floe_transition)i;
    return FLOE_TR_COUNT;
}

bool
floe_phase_legal(floe_phase_scope scope, int from, int to)
{
    return floe_transition_find(scope, from, to) != FLOE_TR_COUNT;
}
