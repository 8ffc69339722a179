/*
 * Compiles a launch plan: a pinned workflow version, fixed and default inputs typed
 * against its interface, and the schedule and trigger blocks. Schedules and triggers are
 * checked for shape here and evaluated by the scheduler's launch-plan engine.
 */
#include "spec_int.h"

#include "floe_cron.h"
#include "floe_type.h"

#include <stdio.h>
#include <string.h>

#define LP_DATASETS_MAX 16
#define LP_LABELS_MAX 64

static floe_rc
lp_inputs(spec_ctx *ctx, const spec_y *y, const char *field, const Floe__Interface *ifc,
          Floe__NamedValue ***out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (y == NULL)
        return FLOE_OK;
    if (y->kind != SPEC_Y_MAP)
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: expected NAME: value pairs", field);
    Floe__NamedValue **nv = floe_arena_alloc(ctx->arena, (y->n + 1) * sizeof(*nv));
    if (nv == NULL)
        return spec_fail(ctx, y, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < y->n; i++) {
        const spec_y *k = y->items[2 * i], *v = y->items[2 * i + 1];
        const Floe__InputSpec *in = k->kind == SPEC_Y_SCALAR ? spec_ifc_input(ifc, k->str) : NULL;
        if (in == NULL) {
            char names[160];
            return spec_fail(ctx, k, FLOE_EINVAL,
                             "%s: the workflow has no input \"%.64s\" "
                             "(inputs: %s)",
                             field, k->kind == SPEC_Y_SCALAR ? k->str : "?",
                             spec_ifc_names(ifc, false, names, sizeof(names)));
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(y->items[2 * j]->str, k->str) == 0)
                return spec_fail(ctx, k, FLOE_EINVAL, "%s: \"%s\" is given twice", field, k->str);
        }
        Floe__NamedValue *e = floe_arena_alloc(ctx->arena, sizeof(*e));
        if (e == NULL)
            return spec_fail(ctx, k, FLOE_ENOMEM, "out of memory");
        floe__named_value__init(e);
        e->name = in->name;
        if (spec_literal(ctx, v, in->type, &e->value) != FLOE_OK) {
            char f[128];
            snprintf(f, sizeof(f), "%s: \"%s\"", field, k->str);
            return spec_fail_err(ctx, v, f);
        }
        nv[i] = e;
    }
    *out = nv;
    *n_out = y->n;
    return FLOE_OK;
}

static bool
has_value(Floe__NamedValue **nv, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(nv[i]->name, name) == 0)
            return true;
    }
    return false;
}

static floe_rc
lp_choice(spec_ctx *ctx, const spec_y *map, const char *key, const char *const *choices,
          const char **out)
{
    const char *v = NULL;
    floe_rc rc = spec_get_string(ctx, map, key, 32, &v);
    if (rc != FLOE_OK || v == NULL)
        return rc;
    for (size_t i = 0; choices[i] != NULL; i++) {
        if (strcmp(choices[i], v) == 0) {
            *out = choices[i];
            return FLOE_OK;
        }
    }
    return spec_fail(ctx, spec_y_get(map, key), FLOE_EINVAL,
                     "%s: \"%.32s\" is not one of %s, %s, %s", key, v, choices[0], choices[1],
                     choices[2]);
}

/* The expression must parse and fire within the horizon (an impossible date such as
 * 30 February is refused here rather than never firing). */
static floe_rc
check_cron(spec_ctx *ctx, const spec_y *at, const char *cron)
{
    floe_cron c;
    floe_err err = {0};
    if (floe_cron_parse(cron, &c, &err) != FLOE_OK)
        return spec_fail(ctx, at, FLOE_EINVAL, "schedule: %s", err.msg);
    if (floe_cron_next(&c, NULL, 1767225600 /* 2026-01-01 */) < 0)
        return spec_fail(ctx, at, FLOE_EINVAL,
                         "schedule: cron: \"%.64s\" never fires (no such date within %d years)",
                         cron, FLOE_CRON_HORIZON_YEARS);
    return FLOE_OK;
}

static floe_rc
lp_schedule(spec_ctx *ctx, const spec_y *sy, Floe__LaunchPlanSpec *lp)
{
    static const char *const fields[] = {"cron",        "time_zone", "rate",
                                         "input",       "catch_up",  "catch_up_max",
                                         "concurrency", "queue_max", NULL};
    floe_rc rc = spec_check_fields(ctx, sy, "schedule", fields);
    if (rc != FLOE_OK)
        return rc;
    Floe__Schedule *s = floe_arena_alloc(ctx->arena, sizeof(*s));
    if (s == NULL)
        return spec_fail(ctx, sy, FLOE_ENOMEM, "out of memory");
    floe__schedule__init(s);
    lp->schedule = s;
    const char *cron = NULL, *tz = NULL, *input = NULL;
    if ((rc = spec_get_string(ctx, sy, "cron", 128, &cron)) != FLOE_OK ||
        (rc = spec_get_string(ctx, sy, "time_zone", 64, &tz)) != FLOE_OK ||
        (rc = spec_get_string(ctx, sy, "input", SPEC_IDENT_MAX, &input)) != FLOE_OK)
        return rc;
    uint64_t rate_ms = 0;
    if ((rc = spec_get_duration_ms(ctx, sy, "rate", 366ULL * 86400000, &rate_ms)) != FLOE_OK)
        return rc;
    if ((cron == NULL) == (rate_ms == 0))
        return spec_fail(ctx, sy, FLOE_EINVAL,
                         "schedule: give exactly one of cron and rate (at least 1s)");
    if (rate_ms != 0 && rate_ms < 1000)
        return spec_fail(ctx, spec_y_get(sy, "rate"), FLOE_EINVAL,
                         "schedule: rate: must be at least 1s");
    if (cron != NULL && (rc = check_cron(ctx, spec_y_get(sy, "cron"), cron)) != FLOE_OK)
        return rc;
    if (tz != NULL) {
        /* Loaded once here so an unknown zone is refused at registration. */
        floe_err zerr = {0};
        floe_tz *z = floe_tz_load(tz, &zerr);
        if (z == NULL)
            return spec_fail(ctx, spec_y_get(sy, "time_zone"), FLOE_EINVAL,
                             "schedule: time_zone: %s", zerr.msg);
        floe_tz_free(z);
        s->time_zone = (char *)tz;
    }
    if (input != NULL) {
        const Floe__InputSpec *in = spec_ifc_input(lp->interface, input);
        if (in == NULL || in->type->simple != FLOE__SIMPLE_TYPE__SIMPLE_TYPE_DATETIME)
            return spec_fail(ctx, spec_y_get(sy, "input"), FLOE_EINVAL,
                             "schedule: input: the workflow has no datetime input \"%s\"", input);
        s->time_input = in->name;
    }
    static const char *const catch_up[] = {"skip", "latest", "all", NULL};
    static const char *const conc[] = {"allow", "skip", "queue", NULL};
    const char *cu = "latest", *cc = "allow";
    if ((rc = lp_choice(ctx, sy, "catch_up", catch_up, &cu)) != FLOE_OK ||
        (rc = lp_choice(ctx, sy, "concurrency", conc, &cc)) != FLOE_OK)
        return rc;
    uint64_t cmax = 10, qmax = 10;
    if ((rc = spec_get_uint(ctx, sy, "catch_up_max", 1000, &cmax)) != FLOE_OK ||
        (rc = spec_get_uint(ctx, sy, "queue_max", 1000, &qmax)) != FLOE_OK)
        return rc;
    s->cron = (char *)(cron != NULL ? cron : "");
    s->rate_s = rate_ms / 1000;
    s->catch_up = (char *)cu;
    s->catch_up_max = (uint32_t)cmax;
    s->concurrency = (char *)cc;
    s->queue_max = (uint32_t)qmax;
    return FLOE_OK;
}

static floe_rc
lp_kv_map(spec_ctx *ctx, const spec_y *y, const char *field, size_t max, Floe__KeyValue ***out,
          size_t *n_out)
{
    if (y->kind != SPEC_Y_MAP || y->n > max)
        return spec_fail(ctx, y, FLOE_EINVAL, "%s: expected at most %zu KEY: text pairs", field,
                         max);
    Floe__KeyValue **kv = floe_arena_alloc(ctx->arena, (y->n + 1) * sizeof(*kv));
    if (kv == NULL)
        return spec_fail(ctx, y, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < y->n; i++) {
        const spec_y *k = y->items[2 * i], *v = y->items[2 * i + 1];
        if (k->kind != SPEC_Y_SCALAR || v->kind != SPEC_Y_SCALAR || k->len == 0 || k->len > 128 ||
            v->len > 1024 || memchr(k->str, 0, k->len) != NULL || memchr(v->str, 0, v->len) != NULL)
            return spec_fail(ctx, k, FLOE_EINVAL,
                             "%s: keys (1 to 128 bytes) and values (at most 1024) must be text "
                             "without NUL bytes",
                             field);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(y->items[2 * j]->str, k->str) == 0)
                return spec_fail(ctx, k, FLOE_EINVAL, "%s: \"%s\" is given twice", field, k->str);
        }
        Floe__KeyValue *e = floe_arena_alloc(ctx->arena, sizeof(*e));
        if (e == NULL)
            return spec_fail(ctx, k, FLOE_ENOMEM, "out of memory");
        floe__key_value__init(e);
        e->key = (char *)k->str;
        e->value = (char *)v->str;
        kv[i] = e;
    }
    *out = kv;
    *n_out = y->n;
    return FLOE_OK;
}

static floe_rc
lp_trigger(spec_ctx *ctx, const spec_y *ty, Floe__LaunchPlanSpec *lp)
{
    static const char *const fields[] = {"datasets", "mode", "inputs", "max_per_minute", NULL};
    floe_rc rc = spec_check_fields(ctx, ty, "trigger", fields);
    if (rc != FLOE_OK)
        return rc;
    Floe__Trigger *t = floe_arena_alloc(ctx->arena, sizeof(*t));
    if (t == NULL)
        return spec_fail(ctx, ty, FLOE_ENOMEM, "out of memory");
    floe__trigger__init(t);
    lp->trigger = t;
    const spec_y *ds = spec_y_get(ty, "datasets");
    if (ds == NULL || ds->kind != SPEC_Y_SEQ || ds->n == 0 || ds->n > LP_DATASETS_MAX)
        return spec_fail(ctx, ds != NULL ? ds : ty, FLOE_EINVAL,
                         "trigger: datasets: expected a list of 1 to %d datasets", LP_DATASETS_MAX);
    t->datasets = floe_arena_alloc(ctx->arena, ds->n * sizeof(*t->datasets));
    if (t->datasets == NULL)
        return spec_fail(ctx, ds, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < ds->n; i++) {
        const spec_y *d = ds->items[i];
        static const char *const dfields[] = {"name", "partition", NULL};
        if ((rc = spec_check_fields(ctx, d, "trigger: dataset", dfields)) != FLOE_OK)
            return rc;
        const char *name = NULL;
        if ((rc = spec_get_string(ctx, d, "name", SPEC_NAME_MAX, &name)) != FLOE_OK)
            return rc;
        if (name == NULL || spec_check_name("dataset", name, ctx->err) != FLOE_OK)
            return name == NULL ? spec_fail(ctx, d, FLOE_EINVAL, "trigger: dataset: no name")
                                : spec_fail_err(ctx, d, "trigger");
        Floe__TriggerDataset *td = floe_arena_alloc(ctx->arena, sizeof(*td));
        if (td == NULL)
            return spec_fail(ctx, d, FLOE_ENOMEM, "out of memory");
        floe__trigger_dataset__init(td);
        for (size_t k = 0; k < i; k++)
            if (strcmp(t->datasets[k]->dataset, name) == 0)
                return spec_fail(ctx, d, FLOE_EINVAL, "trigger: dataset \"%s\" is listed twice",
                                 name);
        td->dataset = (char *)name;
        const spec_y *py = spec_y_get(d, "partition");
        if (py != NULL && (rc = lp_kv_map(ctx, py, "trigger: partition", 16, &td->partition,
                                          &td->n_partition)) != FLOE_OK)
            return rc;
        t->datasets[i] = td;
    }
    t->n_datasets = ds->n;
    static const char *const modes[] = {"all", "any", "", NULL};
    const char *mode = "all";
    if ((rc = lp_choice(ctx, ty, "mode", modes, &mode)) != FLOE_OK)
        return rc;
    t->mode = (char *)mode;
    const spec_y *iy = spec_y_get(ty, "inputs");
    if (iy != NULL) {
        if ((rc = lp_kv_map(ctx, iy, "trigger: inputs", 256, &t->inputs, &t->n_inputs)) != 0)
            return rc;
        for (size_t i = 0; i < t->n_inputs; i++) {
            const char *f = t->inputs[i]->value, *colon = strchr(f, ':');
            if (colon != NULL) { /* DATASET:FIELD picks one dataset of several */
                bool known = false;
                for (size_t d = 0; d < t->n_datasets; d++)
                    known =
                        known || (strlen(t->datasets[d]->dataset) == (size_t)(colon - f) &&
                                  strncmp(t->datasets[d]->dataset, f, (size_t)(colon - f)) == 0);
                if (!known)
                    return spec_fail(ctx, iy, FLOE_EINVAL,
                                     "trigger: inputs: \"%s\": \"%.48s\" names no dataset of "
                                     "the trigger",
                                     t->inputs[i]->key, f);
                f = colon + 1;
            }
            if (spec_ifc_input(lp->interface, t->inputs[i]->key) == NULL)
                return spec_fail(ctx, iy, FLOE_EINVAL,
                                 "trigger: inputs: the workflow has no input \"%s\"",
                                 t->inputs[i]->key);
            if (strcmp(f, "uri") != 0 && strcmp(f, "digest") != 0 && strcmp(f, "dataset") != 0 &&
                strcmp(f, "event_id") != 0 && strcmp(f, "time") != 0 &&
                strncmp(f, "partition.", 10) != 0)
                return spec_fail(ctx, iy, FLOE_EINVAL,
                                 "trigger: inputs: \"%s\": field \"%.48s\" is not uri, digest, "
                                 "dataset, event_id, time or partition.KEY (optionally "
                                 "DATASET:FIELD)",
                                 t->inputs[i]->key, f);
        }
    }
    uint64_t rate = 0;
    if ((rc = spec_get_uint(ctx, ty, "max_per_minute", 100000, &rate)) != FLOE_OK)
        return rc;
    t->max_per_minute = (uint32_t)rate;
    return FLOE_OK;
}

floe_rc
spec_launchplan_compile(spec_ctx *ctx, const spec_y *doc, const char *name, const char *version,
                        Floe__LaunchPlanSpec **out)
{
    static const char *const fields[] = {
        "kind",           "name",     "version", "description", "workflow", "fixed_inputs",
        "default_inputs", "schedule", "trigger", "labels",      "timeout",  NULL};
    /* Past an error the rest is still checked (spec_stop) as far as it can be: what needs
     * the workflow's interface only with the workflow found. */
    unsigned bad = 0;
    floe_rc rc = spec_check_fields(ctx, doc, NULL, fields);
    if (spec_stop(ctx, rc, &bad))
        return rc;
    Floe__LaunchPlanSpec *lp = floe_arena_alloc(ctx->arena, sizeof(*lp));
    if (lp == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    floe__launch_plan_spec__init(lp);
    if ((lp->id = spec_identifier(ctx, name, version)) == NULL)
        return spec_fail(ctx, doc, FLOE_ENOMEM, "out of memory");
    const char *desc = NULL;
    if (spec_stop(ctx, rc = spec_get_string(ctx, doc, "description", 4096, &desc), &bad))
        return rc;
    if (desc != NULL)
        lp->description = (char *)desc;
    uint64_t timeout_ms = 0; /* an execution's: the workflow's bound */
    if (spec_stop(ctx,
                  rc = spec_get_duration_ms(ctx, doc, "timeout", 30ULL * 86400000, &timeout_ms),
                  &bad))
        return rc;
    lp->timeout_ms = timeout_ms;
    const spec_y *ly = spec_y_get(doc, "labels");
    if (ly != NULL &&
        spec_stop(ctx, rc = lp_kv_map(ctx, ly, "labels", LP_LABELS_MAX, &lp->labels, &lp->n_labels),
                  &bad))
        return rc;
    const spec_y *wy = spec_y_get(doc, "workflow");
    const char *wname = NULL, *wversion = NULL;
    const ProtobufCMessage *m = NULL;
    if (wy == NULL)
        rc = spec_fail(ctx, doc, FLOE_EINVAL, "missing \"workflow\"");
    else if ((rc = spec_ref(ctx, wy, "workflow", &wname, &wversion)) == FLOE_OK)
        rc = spec_lookup(ctx, wy, SPEC_WORKFLOW, wname, wversion, &m);
    if (spec_stop(ctx, rc, &bad))
        return rc;
    if (rc != FLOE_OK)
        return spec_reported(ctx); /* nothing else can be checked without its interface */
    const Floe__WorkflowSpec *wf = (const Floe__WorkflowSpec *)m;
    lp->workflow = wf->id;
    lp->interface = wf->interface;

    unsigned inputs_bad = bad;
    if (spec_stop(ctx,
                  rc = lp_inputs(ctx, spec_y_get(doc, "fixed_inputs"), "fixed_inputs",
                                 lp->interface, &lp->fixed_inputs, &lp->n_fixed_inputs),
                  &bad))
        return rc;
    if (spec_stop(ctx,
                  rc = lp_inputs(ctx, spec_y_get(doc, "default_inputs"), "default_inputs",
                                 lp->interface, &lp->default_inputs, &lp->n_default_inputs),
                  &bad))
        return rc;
    for (size_t i = 0; bad == inputs_bad && i < lp->n_fixed_inputs; i++) {
        if (has_value(lp->default_inputs, lp->n_default_inputs, lp->fixed_inputs[i]->name) &&
            spec_stop(ctx,
                      rc = spec_fail(ctx, spec_y_get(doc, "default_inputs"), FLOE_EINVAL,
                                     "input \"%s\" is both fixed and defaulted",
                                     lp->fixed_inputs[i]->name),
                      &bad))
            return rc;
    }
    const spec_y *sy = spec_y_get(doc, "schedule"), *ty = spec_y_get(doc, "trigger");
    if (sy != NULL && spec_stop(ctx, rc = lp_schedule(ctx, sy, lp), &bad))
        return rc;
    if (ty != NULL && spec_stop(ctx, rc = lp_trigger(ctx, ty, lp), &bad))
        return rc;
    if (bad > 0) /* each went to the problem handler; what remains needs them right */
        return spec_reported(ctx);
    /* A plan that launches itself must be able to supply every required input. */
    if (sy != NULL || ty != NULL) {
        for (size_t i = 0; i < lp->interface->n_inputs; i++) {
            const Floe__InputSpec *in = lp->interface->inputs[i];
            bool ok = in->default_value != NULL ||
                      has_value(lp->fixed_inputs, lp->n_fixed_inputs, in->name) ||
                      has_value(lp->default_inputs, lp->n_default_inputs, in->name) ||
                      (lp->schedule != NULL && lp->schedule->time_input != NULL &&
                       strcmp(lp->schedule->time_input, in->name) == 0);
            for (size_t j = 0; !ok && lp->trigger != NULL && j < lp->trigger->n_inputs; j++)
                ok = strcmp(lp->trigger->inputs[j]->key, in->name) == 0;
            if (!ok)
                return spec_fail(ctx, sy != NULL ? sy : ty, FLOE_EINVAL,
                                 "required input \"%s\" has no value when the plan launches "
                                 "itself: fix it, default it or map it",
                                 in->name);
        }
    }
    *out = lp;
    return FLOE_OK;
}
