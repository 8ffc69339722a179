/*
 * sched_inputs — the one rule for an execution's inputs, shared by launches through the
 * API, launch-plan firings and requests on the bus: for each input of the interface, the
 * plan's fixed value, else the given value, else the plan's default, else the
 * interface's default, else it is missing.
 */
#ifndef SCHED_INPUTS_H
#define SCHED_INPUTS_H

#include "floe_arena.h"
#include "floe_err.h"
#include "floe_spec.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

/* The interface's input called name, or NULL. */
const Floe__InputSpec *sched_inputs_find(const Floe__Interface *ifc, const char *name);
/* The value called name in a list of named values, or NULL. */
const Floe__Value *sched_inputs_value(Floe__NamedValue *const *nv, size_t n, const char *name);

/* Whether a caller may give input name: false, with the reason in why, when the
 * interface has no such input or the plan (may be NULL) fixes it. */
bool sched_inputs_givable(const Floe__Interface *ifc, const Floe__LaunchPlanSpec *lp,
                          const char *name, char *why, size_t why_size);

/* The value given for input in, of its type: *v = NULL when none was given; FLOE_EINVAL
 * with the reason in err when one was given that cannot be used. Allocates from a. */
typedef floe_rc (*sched_inputs_given_fn)(void *arg, const Floe__InputSpec *in, floe_arena *a,
                                         const Floe__Value **v, floe_err *err);
/* One problem with one input; merging goes on, so that every problem is reported. */
typedef void (*sched_inputs_problem_fn)(void *arg, const char *input, const char *msg);

/* Fills out (entries allocated from a, values shared with the plan, the interface and
 * what given returned) with every input of ifc. lp and given may be NULL. Problems go to
 * problem when it is not NULL (FLOE_EINVAL once all were reported); without it the first
 * stops the merge: FLOE_EINVAL, err says `input "NAME": why`. FLOE_ENOMEM. */
floe_rc sched_inputs_merge(floe_arena *a, const Floe__Interface *ifc,
                           const Floe__LaunchPlanSpec *lp, sched_inputs_given_fn given,
                           void *given_arg, sched_inputs_problem_fn problem, void *problem_arg,
                           Floe__ValueMap *out, floe_err *err);

#endif
