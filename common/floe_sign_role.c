/*
 * floe_sign_role — what a message signed by a key of each role may be (floe_sign.h). The
 * scheduler (its engine, API and launch plans) sends everything; a worker sends what
 * comes of an attempt it ran; a service (the client library, floectl publish --kafka)
 * launches, publishes data and sends signals to gates, only in the projects its key names
 * and only as itself. A
 * worker key may name the workers it speaks for: then a result in another worker's name
 * is refused here, and the engine's claim check (a result counts only from the worker
 * holding the attempt's claim) becomes a check of who signed it.
 * Bus messages of a service are thus judged as the API judges a launcher's calls, without
 * a round trip to PostgreSQL on the consumer's path.
 */
#include "floe_sign.h"

#include <string.h>

static const char *const role_names[] = {"any", "scheduler", "worker", "service"};

floe_rc
floe_sign_role_parse(const char *s, floe_sign_role *out)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strcmp(s, role_names[i]) == 0) {
            *out = (floe_sign_role)i;
            return FLOE_OK;
        }
    return FLOE_EINVAL;
}

const char *
floe_sign_role_name(floe_sign_role r)
{
    return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "?";
}

static bool
granted(const char *project, const char *const *projects, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(projects[i], "*") == 0 || strcmp(projects[i], project) == 0)
            return true;
    return false;
}

/* A worker id against a worker key's scope: ids, or prefixes ending in '*'. */
static bool
worker_in(const char *id, const char *const *scope, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(scope[i]);
        if (len > 0 && scope[i][len - 1] == '*' ? strncmp(id, scope[i], len - 1) == 0
                                                : strcmp(id, scope[i]) == 0)
            return true;
    }
    return false;
}

static const char *
worker_of(Floe__MessageType type, const ProtobufCMessage *msg)
{
    switch (type) {
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED:
        return ((const Floe__TaskStarted *)msg)->worker_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED:
        return ((const Floe__TaskSucceeded *)msg)->worker_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED:
        return ((const Floe__TaskFailed *)msg)->worker_id;
    default:
        return NULL;
    }
}

static floe_rc
not_granted(const char **reason, floe_err *err, const char *name, const char *what,
            const char *project)
{
    if (reason != NULL)
        *reason = floe_sign_reasons[4];
    return floe_err_user(err, FLOE_EINVAL, "envelope: service key \"%.32s\" %s \"%.63s\"", name,
                         what, project);
}

/* A service's launch: in its projects, as itself, and no relaunch or recover. */
static floe_rc
service_launch(const char *name, const char *const *projects, size_t n,
               const Floe__ExecutionRequested *m, const char **reason, floe_err *err)
{
    const Floe__Identifier *ids[] = {m->workflow, m->launch_plan};
    for (size_t i = 0; i < 2; i++)
        if (ids[i] != NULL && !granted(ids[i]->project, projects, n))
            return not_granted(reason, err, name, "may not launch in project", ids[i]->project);
    if (strncmp(m->requested_by, "svc:", 4) != 0 || strcmp(m->requested_by + 4, name) != 0)
        return not_granted(reason, err, name, "launches only as itself, not as", m->requested_by);
    if (m->source_execution_id[0] != '\0')
        return not_granted(reason, err, name,
                           "may not relaunch or recover (through the API, by role) execution",
                           m->source_execution_id);
    return FLOE_OK;
}

/* A service's signal: to an execution of its projects, as itself, never a rejection. */
static floe_rc
service_signal(const char *name, const char *const *projects, size_t n, const Floe__GateResolved *m,
               const char **reason, floe_err *err)
{
    if (!granted(m->project, projects, n))
        return not_granted(reason, err, name, "may not signal in project",
                           m->project[0] != '\0' ? m->project : "(none)");
    if (strncmp(m->by, "svc:", 4) != 0 || strcmp(m->by + 4, name) != 0)
        return not_granted(reason, err, name, "signals only as itself, not as", m->by);
    if (!m->approved)
        return not_granted(reason, err, name, "may not reject (a person's, through the API) in",
                           m->project);
    return FLOE_OK;
}

floe_rc
floe_sign_role_admits(floe_sign_role role, const char *name, const char *const *scope,
                      size_t n_scope, Floe__MessageType type, const ProtobufCMessage *msg,
                      const char **reason, floe_err *err)
{
    bool ok;
    switch (type) {
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE:
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DEAD_LETTER:
        ok = true;
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED:
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED:
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED:
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED: {
        const char *id = worker_of(type, msg);
        if (role == FLOE_SIGN_WORKER && n_scope > 0 && id != NULL && !worker_in(id, scope, n_scope))
            return not_granted(reason, err, name, "may not report for worker", id);
        ok = role != FLOE_SIGN_SERVICE;
        break;
    }
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED:
        if (role == FLOE_SIGN_SERVICE)
            return service_launch(name, scope, n_scope, (const Floe__ExecutionRequested *)msg,
                                  reason, err);
        ok = role != FLOE_SIGN_WORKER;
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED: {
        const char *p = ((const Floe__DataPublished *)msg)->project;
        if (role == FLOE_SIGN_SERVICE && !granted(p, scope, n_scope))
            return not_granted(reason, err, name, "may not publish as project",
                               p[0] != '\0' ? p : "(none)");
        ok = role != FLOE_SIGN_WORKER;
        break;
    }
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED:
        if (role == FLOE_SIGN_SERVICE)
            return service_signal(name, scope, n_scope, (const Floe__GateResolved *)msg, reason,
                                  err);
        ok = role == FLOE_SIGN_SCHEDULER || role == FLOE_SIGN_ANY;
        break;
    default: /* dispatches, terminations, phase changes: the scheduler's alone */
        ok = role == FLOE_SIGN_SCHEDULER || role == FLOE_SIGN_ANY;
        break;
    }
    if (ok)
        return FLOE_OK;
    if (reason != NULL)
        *reason = floe_sign_reasons[3];
    return floe_err_user(err, FLOE_EINVAL, "envelope: a %s key (\"%.32s\") may not send %s",
                         floe_sign_role_name(role), name, floe_envelope_type_name(type));
}
