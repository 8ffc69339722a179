#include "sched_inputs.h"

#include "floe_text.h"
#include "floe_type.h"

#include <stdio.h>
#include <string.h>

const Floe__InputSpec *
sched_inputs_find(const Floe__Interface *ifc, const char *name)
{
    for (size_t i = 0; ifc != NULL && i < ifc->n_inputs; i++)
        if (strcmp(ifc->inputs[i]->name, name) == 0)
            return ifc->inputs[i];
    return NULL;
}

const Floe__Value *
sched_inputs_value(Floe__NamedValue *const *nv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nv[i]->name, name) == 0)
            return nv[i]->value;
    return NULL;
}

static const char *
input_names(const Floe__Interface *ifc, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ifc->n_inputs && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", ifc->inputs[i]->name);
    if (ifc->n_inputs == 0)
        snprintf(buf, size, "none");
    return buf;
}

bool
sched_inputs_givable(const Floe__Interface *ifc, const Floe__LaunchPlanSpec *lp, const char *name,
                     char *why, size_t why_size)
{
    char names[160];
    if (sched_inputs_find(ifc, name) == NULL) {
        snprintf(why, why_size, "unknown input (the workflow's inputs: %s)",
                 input_names(ifc, names, sizeof(names)));
        return false;
    }
    if (lp != NULL && sched_inputs_value(lp->fixed_inputs, lp->n_fixed_inputs, name) != NULL) {
        floe_text_fmt(why, why_size, "fixed by launch plan \"%.64s\": it cannot be overridden",
                      lp->id != NULL ? lp->id->name : "?");
        return false;
    }
    return true;
}

floe_rc
sched_inputs_merge(floe_arena *a, const Floe__Interface *ifc, const Floe__LaunchPlanSpec *lp,
                   sched_inputs_given_fn given, void *given_arg, sched_inputs_problem_fn problem,
                   void *problem_arg, Floe__ValueMap *out, floe_err *err)
{
    out->n_entries = 0;
    out->entries = floe_arena_alloc(a, (ifc->n_inputs + 1) * sizeof(*out->entries));
    if (out->entries == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    bool bad = false;
    for (size_t i = 0; i < ifc->n_inputs; i++) {
        const Floe__InputSpec *in = ifc->inputs[i];
        const Floe__Value *v =
            lp != NULL ? sched_inputs_value(lp->fixed_inputs, lp->n_fixed_inputs, in->name) : NULL;
        floe_err verr = {0};
        char msg[FLOE_ERR_MSG_MAX] = "";
        if (v == NULL && given != NULL) {
            floe_rc rc = given(given_arg, in, a, &v, &verr);
            if (rc == FLOE_ENOMEM)
                return floe_err_sys(err, rc, "%s", verr.msg);
            if (rc != FLOE_OK)
                snprintf(msg, sizeof(msg), "%s", verr.msg);
        }
        if (msg[0] == '\0' && v == NULL && lp != NULL)
            v = sched_inputs_value(lp->default_inputs, lp->n_default_inputs, in->name);
        if (msg[0] == '\0' && v == NULL)
            v = in->default_value;
        if (msg[0] == '\0' && v == NULL) {
            char tb[FLOE_TYPE_TEXT_MAX];
            snprintf(msg, sizeof(msg), "missing: required %s",
                     floe_type_format(in->type, tb, sizeof(tb)));
        }
        if (msg[0] != '\0') {
            if (problem == NULL)
                return floe_err_user(err, FLOE_EINVAL, "input \"%.64s\": %.180s", in->name, msg);
            problem(problem_arg, in->name, msg);
            bad = true;
            continue;
        }
        Floe__NamedValue *e = floe_arena_alloc(a, sizeof(*e));
        if (e == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__named_value__init(e);
        e->name = in->name;
        e->value = (Floe__Value *)v;
        out->entries[out->n_entries++] = e;
    }
    return bad ? floe_err_user(err, FLOE_EINVAL, "inputs do not resolve") : FLOE_OK;
}
