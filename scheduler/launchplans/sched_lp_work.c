/*
 * The decisions of sched_lp, on a pool thread: which scheduled instants are due and what
 * the catch-up policy keeps, which pending firings launch now (concurrency, pacing, rate
 * limits), and which trigger events complete a firing. Everything is recorded in
 * PostgreSQL (store_lp) before the loop publishes anything.
 */
#include "sched_lp.h"
#include "sched_reconcile.h"

#include "sched_inputs.h"
#include "floe_cron.h"
#include "floe_digest.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "floe_value.h"
#include "store_dataset.h"
#include "store_exec.h"
#include "store_lp.h"
#include "store_registry.h"

#include "floe_spec.pb-c.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LP_ACTIVE_MAX 10000
#define LP_DUE_MAX 100000 /* instants walked per evaluation (a long outage, a fast rate) */

static floe_log_ctx lp_log = {.comp = "launchplans"};

static const Floe__LaunchPlanSpec *
lp_decode(floe_arena *a, const store_lp_active *act)
{
    return floe__launch_plan_spec__unpack(floe_arena_pb_allocator(a), act->spec_len, act->spec);
}

static bool
push_msg(lp_tick_job *j, const lp_msg *m)
{
    if (j->n_msgs == j->cap_msgs) {
        size_t cap = j->cap_msgs ? 2 * j->cap_msgs : 64;
        lp_msg *v = floe_arena_alloc(j->arena, cap * sizeof(*v));
        if (v == NULL)
            return false;
        if (j->n_msgs > 0)
            memcpy(v, j->msgs, j->n_msgs * sizeof(*v));
        j->msgs = v;
        j->cap_msgs = cap;
    }
    j->msgs[j->n_msgs++] = *m;
    return true;
}

/* --- Schedules ------------------------------------------------------------------------- */

static int64_t
next_instant(const Floe__Schedule *s, const floe_cron *c, const floe_tz *tz, int64_t t)
{
    return s->rate_s > 0 ? floe_rate_next(s->rate_s, t) : floe_cron_next(c, tz, t);
}

static floe_rc
schedule_eval(store_pg *pg, lp_tick_job *j, const store_lp_active *act, const Floe__Schedule *s)
{
    const store_lp_key *k = &act->key;
    floe_err err = {0};
    floe_cron c;
    if (s->rate_s == 0 && floe_cron_parse(s->cron, &c, &err) != FLOE_OK) {
        floe_log_warn(&lp_log, "launch plan %s/%s/%s: %s", k->project, k->domain, k->name, err.msg);
        return FLOE_OK;
    }
    floe_tz *tz = NULL;
    if (s->time_zone != NULL && s->time_zone[0] &&
        (tz = floe_tz_load(s->time_zone, &err)) == NULL) {
        floe_log_warn(&lp_log, "launch plan %s/%s/%s: %s", k->project, k->domain, k->name, err.msg);
        return FLOE_OK;
    }
    floe_rc rc = FLOE_OK;
    int64_t cursor = act->cursor_s;
    int64_t now = j->now_s;
    if (!act->has_cursor) {
        /* First evaluation: nothing before activation is owed. */
        rc = store_lp_schedule_record(pg, j->epoch, k, NULL, 0, now, 0, &j->err);
        goto out;
    }
    if (cursor >= now)
        goto out;
    /* Walk the due instants in (cursor, now]; keep the last catch_up_max of them. */
    unsigned keep_max =
        strcmp(s->catch_up, "all") == 0 ? (s->catch_up_max ? s->catch_up_max : 1) : 1;
    int64_t ring[1000];
    size_t n_due = 0;
    int64_t grace = j->cfg->lp_grace_ms / 1000;
    for (int64_t t = next_instant(s, &c, tz, cursor); t > 0 && t <= now;
         t = next_instant(s, &c, tz, t)) {
        ring[n_due % keep_max] = t;
        n_due++;
        if (n_due >= LP_DUE_MAX) { /* an absurd outage: jump ahead */
            floe_log_warn(&lp_log,
                          "launch plan %s/%s/%s: over %d instants due; evaluating from now",
                          k->project, k->domain, k->name, LP_DUE_MAX);
            break;
        }
    }
    /* Nothing due: the cursor stays where it is, and the next tick walks from it to the
     * same answer. Recording "evaluated up to now" on every tick cost each active plan a
     * transaction with a synchronous commit a tick (issue 25: four statements and an
     * fsync a second per plan, most of an installation's load when idle). */
    if (n_due == 0)
        goto out;
    size_t n_kept = n_due < keep_max ? n_due : keep_max;
    store_lp_fire fires[1000];
    size_t n_fire = 0;
    for (size_t i = 0; i < n_kept; i++) {
        int64_t t = ring[(n_due - n_kept + i) % keep_max];
        bool late = now - t > grace;
        if (late && strcmp(s->catch_up, "skip") == 0)
            continue;
        fires[n_fire++] = (store_lp_fire){.at_s = t, .state = "PENDING"};
    }
    int64_t missed = (int64_t)(n_due - n_fire);
    if (strcmp(s->concurrency, "queue") == 0 && n_fire > 0) {
        int64_t pending = 0;
        if ((rc = store_lp_pending_count(pg, k, "schedule", &pending, &j->err)) != FLOE_OK)
            goto out;
        uint32_t qmax = s->queue_max ? s->queue_max : 1;
        for (size_t i = 0; i < n_fire; i++) {
            if (pending >= (int64_t)qmax + 1) { /* one about to run plus queue_max waiting */
                fires[i].state = "SKIPPED";
                fires[i].reason = "the queue is full (concurrency: queue, queue_max reached)";
            } else {
                pending++;
            }
        }
    }
    if (missed > 0)
        floe_log_info(&lp_log,
                      "launch plan %s/%s/%s: %" PRId64 " scheduled instants missed while the "
                      "scheduler was away (catch_up: %s)",
                      k->project, k->domain, k->name, missed, s->catch_up);
    rc = store_lp_schedule_record(pg, j->epoch, k, fires, n_fire, now, missed, &j->err);
    if (rc == FLOE_OK) {
        j->recorded += (unsigned)n_fire;
        j->missed += (unsigned)missed;
    }
out:
    floe_tz_free(tz);
    return rc;
}

/* --- Launching ------------------------------------------------------------------------- */

/* The ExecutionRequested the engine starts ex from, queued for the loop to publish: for
 * a new launch (with the plan's labels) and again for one Kafka has not acknowledged. */
static floe_rc
push_request(lp_tick_job *j, const store_exec *ex, Floe__NamedValue **inputs, size_t n_inputs,
             Floe__KeyValue **labels, size_t n_labels, uint64_t timeout_ms)
{
    Floe__Identifier wf = FLOE__IDENTIFIER__INIT, lpid = FLOE__IDENTIFIER__INIT;
    wf.project = lpid.project = (char *)ex->project;
    wf.domain = lpid.domain = (char *)ex->domain;
    wf.name = (char *)ex->workflow_name;
    wf.version = (char *)ex->workflow_version;
    lpid.name = (char *)(ex->launch_plan_name ? ex->launch_plan_name : "");
    lpid.version = (char *)(ex->launch_plan_version ? ex->launch_plan_version : "");
    Floe__ExecutionRequested m = FLOE__EXECUTION_REQUESTED__INIT;
    m.execution_id = (char *)ex->id;
    m.workflow = &wf;
    m.launch_plan = ex->launch_plan_name != NULL ? &lpid : NULL;
    m.inputs = inputs;
    m.n_inputs = n_inputs;
    m.requested_by = (char *)ex->requested_by;
    m.scheduled_unix_us = ex->scheduled_us;
    m.no_cache = ex->no_cache;
    m.overwrite_cache = ex->overwrite_cache;
    m.source_execution_id = (char *)(ex->source_execution ? ex->source_execution : "");
    m.recover = ex->recover;
    m.labels = labels;
    m.n_labels = n_labels;
    m.timeout_ms = timeout_ms;
    size_t len = floe__execution_requested__get_packed_size(&m);
    uint8_t *p = floe_arena_alloc(j->arena, len ? len : 1);
    if (p == NULL)
        return floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
    floe__execution_requested__pack(&m, p);
    lp_msg msg = {.key = ex->id,
                  .id = ex->id,
                  .type = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED,
                  .payload = p,
                  .len = len};
    return push_msg(j, &msg) ? FLOE_OK : floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
}

/* What a firing gives: the trigger's mapped inputs, then the scheduled time. */
typedef struct firing_given {
    const Floe__ValueMap *mapped;
    const char *time_input;
    Floe__Value *time;
} firing_given;

static floe_rc
given_firing(void *arg, const Floe__InputSpec *in, floe_arena *a, const Floe__Value **v,
             floe_err *err)
{
    (void)a;
    (void)err;
    firing_given *fg = arg;
    *v = fg->mapped != NULL
             ? sched_inputs_value(fg->mapped->entries, fg->mapped->n_entries, in->name)
             : NULL;
    if (*v == NULL && fg->time != NULL && strcmp(fg->time_input, in->name) == 0)
        *v = fg->time;
    return FLOE_OK;
}

/* Every input of the plan's interface: fixed, then what the firing mapped, then the
 * scheduled time, then the plan's and the interface's defaults. */
static floe_rc
launch_inputs(floe_arena *a, const Floe__LaunchPlanSpec *lp, const Floe__ValueMap *mapped,
              int64_t scheduled_s, Floe__ValueMap *out, floe_err *err)
{
    firing_given fg = {.mapped = mapped};
    if (lp->schedule != NULL && lp->schedule->time_input != NULL &&
        lp->schedule->time_input[0] != '\0' && scheduled_s > 0) {
        if ((fg.time = floe_arena_alloc(a, sizeof(*fg.time))) == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        floe__value__init(fg.time);
        fg.time->kind_case = FLOE__VALUE__KIND_DATETIME_UNIX_US;
        fg.time->datetime_unix_us = scheduled_s * 1000000;
        fg.time_input = lp->schedule->time_input;
    }
    return sched_inputs_merge(a, lp->interface, lp, given_firing, &fg, NULL, NULL, out, err);
}

static floe_rc
launch_one(store_pg *pg, lp_tick_job *j, const store_lp_active *act, const Floe__LaunchPlanSpec *lp,
           const store_lp_firing *f)
{
    floe_arena *a = j->arena;
    floe_err err = {0};
    const Floe__ValueMap *mapped = NULL;
    if (f->inputs != NULL && (mapped = floe__value_map__unpack(floe_arena_pb_allocator(a),
                                                               f->inputs_len, f->inputs)) == NULL)
        return store_lp_skip(pg, j->epoch, f->id, "the mapped inputs do not decode", &j->err);
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    floe_rc rc = launch_inputs(a, lp, mapped, strcmp(f->kind, "schedule") == 0 ? f->scheduled_s : 0,
                               &vm, &err);
    if (rc == FLOE_ENOMEM)
        return floe_err_sys(&j->err, rc, "%s", err.msg);
    if (rc != FLOE_OK) {
        j->skipped++;
        return store_lp_skip(pg, j->epoch, f->id, err.msg, &j->err);
    }
    size_t len = floe__value_map__get_packed_size(&vm);
    uint8_t *packed = floe_arena_alloc(a, len ? len : 1);
    char *id = floe_arena_alloc(a, FLOE_ID_LEN + 1);
    if (packed == NULL || id == NULL || floe_id_new(id) != 0)
        return floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory or randomness");
    floe__value_map__pack(&vm, packed);
    bool sched = strcmp(f->kind, "schedule") == 0;
    store_exec ex = {
        .id = id,
        .project = act->key.project,
        .domain = act->key.domain,
        .workflow_name = lp->workflow->name,
        .workflow_version = lp->workflow->version,
        .launch_plan_name = act->key.name,
        .launch_plan_version = act->version,
        .inputs = packed,
        .inputs_len = len,
        .requested_by = sched ? "launchplan:schedule" : "launchplan:trigger",
        .scheduled_us = sched ? f->scheduled_s * 1000000 : 0,
    };
    rc = store_lp_launch(pg, j->epoch, f->id, &ex, &j->err);
    if (rc == FLOE_ECONFLICT)
        return FLOE_OK; /* launched or skipped meanwhile */
    if (rc != FLOE_OK)
        return rc;
    j->launched++;
    return push_request(j, &ex, vm.entries, vm.n_entries, lp->labels, lp->n_labels, lp->timeout_ms);
}

static floe_rc
launch_pending(store_pg *pg, lp_tick_job *j, const store_lp_active *act,
               const Floe__LaunchPlanSpec *lp, unsigned *budget)
{
    store_lp_firing *f;
    size_t n;
    floe_rc rc = store_lp_pending(pg, &act->key, *budget + 1000, j->arena, &f, &n, &j->err);
    if (rc != FLOE_OK || n == 0)
        return rc;
    const char *conc = lp->schedule != NULL ? lp->schedule->concurrency : "allow";
    char running[160] = "";
    if (strcmp(conc, "allow") != 0 &&
        (rc = store_lp_running(pg, &act->key, running, sizeof(running), &j->err)) != FLOE_OK)
        return rc;
    uint32_t rate = lp->trigger != NULL ? lp->trigger->max_per_minute : 0;
    int64_t recent = 0;
    if (rate > 0 && (rc = store_lp_recent_launches(pg, &act->key, &recent, &j->err)) != FLOE_OK)
        return rc;
    bool sched_done = false;
    for (size_t i = 0; i<n && * budget> 0; i++) {
        if (strcmp(f[i].kind, "schedule") == 0) {
            if (sched_done) /* pacing: one scheduled launch per plan per tick */
                continue;
            if (running[0] && strcmp(conc, "skip") == 0) {
                char why[256];
                snprintf(why, sizeof(why),
                         "execution %.64s of this launch plan was still running (concurrency: "
                         "skip)",
                         running);
                if ((rc = store_lp_skip(pg, j->epoch, f[i].id, why, &j->err)) != FLOE_OK)
                    return rc;
                j->skipped++;
                continue;
            }
            sched_done = true;
            if (running[0]) /* queue: waits for the running one to end */
                continue;
        } else if (rate > 0 && recent >= rate) {
            continue; /* rate limited: stays pending, shown as queued */
        } else {
            recent++;
        }
        unsigned before = j->launched;
        if ((rc = launch_one(pg, j, act, lp, &f[i])) != FLOE_OK)
            return rc;
        if (j->launched > before) {
            (*budget)--;
            if (strcmp(f[i].kind, "schedule") == 0 && j->n_msgs > 0)
                snprintf(running, sizeof(running), "%s", j->msgs[j->n_msgs - 1].id);
        }
    }
    return FLOE_OK;
}

#define LP_PRUNE_BATCH 1000 /* rows of each table a retention run deletes at most */

/* --- Republishing ---------------------------------------------------------------------- */

/* The execution timeout of the launch plan ex was launched through (0: none, or none
 * readable: the workflow's and the installation's still hold). */
static uint64_t
lp_timeout(store_pg *pg, lp_tick_job *j, const store_exec *ex)
{
    return store_registry_lp_timeout(pg, ex->project, ex->domain, ex->launch_plan_name,
                                     ex->launch_plan_version, j->arena);
}

static floe_rc
collect_unpublished(store_pg *pg, lp_tick_job *j)
{
    const char **ids;
    size_t n;
    floe_rc rc =
        store_lp_unpublished(pg, j->republish_all ? 0 : 10, 500, j->arena, &ids, &n, &j->err);
    for (size_t i = 0; rc == FLOE_OK && i < n; i++) {
        store_exec ex;
        floe_err err;
        if (store_exec_get(pg, ids[i], j->arena, &ex, &err) != FLOE_OK)
            continue;
        Floe__ValueMap *vm =
            floe__value_map__unpack(floe_arena_pb_allocator(j->arena), ex.inputs_len, ex.inputs);
        if (vm == NULL)
            continue;
        if ((rc = push_request(j, &ex, vm->entries, vm->n_entries, NULL, 0,
                               lp_timeout(pg, j, &ex))) != FLOE_OK)
            return rc;
    }
    if (rc != FLOE_OK)
        return rc;
    store_lp_outbox *o;
    if ((rc = store_lp_outbox_unsent(pg, 500, j->arena, &o, &n, &j->err)) != FLOE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        Floe__DataPublished *dp =
            floe__data_published__unpack(floe_arena_pb_allocator(j->arena), o[i].len, o[i].payload);
        if (dp == NULL)
            continue;
        lp_msg msg = {.key = dp->dataset,
                      .id = o[i].event_id,
                      .type = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED,
                      .payload = o[i].payload,
                      .len = o[i].len};
        if (!push_msg(j, &msg))
            return floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
    }
    return FLOE_OK;
}

/* Executions Redis forgot (sched_reconcile) are requested again from their rows, through
 * the same publishing as launch-plan firings. */
static floe_rc
reconcile(store_pg *pg, lp_tick_job *j)
{
    store_exec *orphans;
    size_t n;
    unsigned checked;
    floe_err err;
    floe_rc rc = sched_reconcile_scan(pg, j->cfg, &j->reconcile_cursor, j->arena, &orphans, &n,
                                      &checked, &err);
    if (rc == FLOE_EIO || rc == FLOE_ETIMEDOUT)
        return FLOE_OK; /* Redis or PostgreSQL away: the next round looks again */
    if (rc != FLOE_OK) {
        j->err = err;
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        Floe__ValueMap *vm = floe__value_map__unpack(floe_arena_pb_allocator(j->arena),
                                                     orphans[i].inputs_len, orphans[i].inputs);
        if (vm == NULL)
            continue;
        if ((rc = push_request(j, &orphans[i], vm->entries, vm->n_entries, NULL, 0,
                               lp_timeout(pg, j, &orphans[i]))) != FLOE_OK)
            return rc;
        j->reconciled++;
    }
    return FLOE_OK;
}

void
lp_tick_work(store_pg *pg, lp_tick_job *j)
{
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) != FLOE_OK)
        return;
    if ((j->rc = store_lp_published(pg, j->epoch, j->acked_req, j->n_acked_req, &j->err)) !=
            FLOE_OK ||
        (j->rc = store_lp_outbox_sent(pg, j->epoch, j->acked_data, j->n_acked_data, &j->err)) !=
            FLOE_OK)
        return;
    store_lp_active *act;
    size_t n;
    if ((j->rc = store_lp_active_list(pg, LP_ACTIVE_MAX, j->arena, &act, &n, &j->err)) != FLOE_OK)
        return;
    unsigned budget = (unsigned)j->cfg->lp_batch;
    for (size_t i = 0; i < n; i++) {
        const Floe__LaunchPlanSpec *lp = lp_decode(j->arena, &act[i]);
        if (lp == NULL || (lp->schedule == NULL && lp->trigger == NULL) || lp->interface == NULL ||
            lp->workflow == NULL)
            continue;
        unsigned recorded = j->recorded;
        if (lp->schedule != NULL && (j->rc = schedule_eval(pg, j, &act[i], lp->schedule)) != 0)
            return;
        /* Only a plan with firings waiting is asked for them: pending when listed, or
         * recorded just now (a trigger firing recorded since kicks another tick). */
        if (budget > 0 && (act[i].pending || j->recorded > recorded) &&
            (j->rc = launch_pending(pg, j, &act[i], lp, &budget)) != FLOE_OK)
            return;
    }
    if (j->collect && (j->rc = collect_unpublished(pg, j)) != FLOE_OK)
        return;
    if (j->reconcile && (j->rc = reconcile(pg, j)) != FLOE_OK)
        return;
    if (j->prune)
        j->rc = store_lp_prune(pg, j->epoch, j->cfg->lp_retention_ms / 1000, LP_PRUNE_BATCH,
                               &j->pruned, &j->err);
}

/* --- Trigger events -------------------------------------------------------------------- */

/* The event's fields as text, or a partition value from its JSON. */
static const char *
event_field(floe_arena *a, const store_lp_event *ev, const char *field)
{
    if (strcmp(field, "uri") == 0)
        return ev->uri;
    if (strcmp(field, "digest") == 0)
        return ev->digest;
    if (strcmp(field, "dataset") == 0)
        return ev->dataset;
    if (strcmp(field, "event_id") == 0)
        return ev->event_id;
    if (strcmp(field, "time") == 0) {
        char *buf = floe_arena_alloc(a, 40);
        if (buf != NULL)
            floe_datetime_format(ev->published_us, buf, 40);
        return buf;
    }
    if (strncmp(field, "partition.", 10) == 0) {
        json_t *j = json_loads(ev->partition_json, 0, NULL);
        const char *v = j != NULL ? json_string_value(json_object_get(j, field + 10)) : NULL;
        const char *copy = v != NULL ? floe_arena_strndup(a, v, strlen(v)) : NULL;
        json_decref(j);
        return copy;
    }
    return NULL;
}

/* The trigger's input mapping over the firing's events; a problem goes to why. */
static bool
map_inputs(floe_arena *a, const Floe__LaunchPlanSpec *lp, const store_lp_event *evs, size_t n,
           const store_lp_event *fired, Floe__ValueMap *out, char *why, size_t why_size)
{
    const Floe__Trigger *t = lp->trigger;
    out->entries = floe_arena_alloc(a, (t->n_inputs + 1) * sizeof(*out->entries));
    if (out->entries == NULL) {
        snprintf(why, why_size, "out of memory");
        return false;
    }
    for (size_t i = 0; i < t->n_inputs; i++) {
        const char *name = t->inputs[i]->key, *spec = t->inputs[i]->value;
        const char *colon = strchr(spec, ':');
        const store_lp_event *ev = fired;
        if (colon != NULL) {
            ev = NULL;
            for (size_t k = 0; k < n; k++)
                if (strlen(evs[k].dataset) == (size_t)(colon - spec) &&
                    strncmp(evs[k].dataset, spec, (size_t)(colon - spec)) == 0)
                    ev = &evs[k];
            spec = colon + 1;
        }
        const Floe__InputSpec *spec_in = sched_inputs_find(lp->interface, name);
        const Floe__LiteralType *type = spec_in != NULL ? spec_in->type : NULL;
        const char *text = ev != NULL ? event_field(a, ev, spec) : NULL;
        if (type == NULL || text == NULL) {
            snprintf(why, why_size, "input \"%s\": the events carry no %s", name,
                     t->inputs[i]->value);
            return false;
        }
        Floe__Value *v = NULL;
        floe_err err = {0};
        if (type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BLOB && strcmp(spec, "uri") == 0) {
            Floe__Blob *b = floe_arena_alloc(a, sizeof(*b));
            v = floe_arena_alloc(a, sizeof(*v));
            if (b == NULL || v == NULL) {
                snprintf(why, why_size, "out of memory");
                return false;
            }
            floe__blob__init(b);
            floe__value__init(v);
            b->uri = (char *)ev->uri;
            b->digest = (char *)ev->digest;
            b->size = ev->size > 0 ? (uint64_t)ev->size : 0;
            v->kind_case = FLOE__VALUE__KIND_BLOB;
            v->blob = b;
        } else if (floe_value_from_text(type, text, a, &v, &err) != FLOE_OK) {
            floe_text_fmt(why, why_size, "input \"%.40s\" from %.60s: %.100s", name,
                          t->inputs[i]->value, err.msg);
            return false;
        }
        Floe__NamedValue *e = floe_arena_alloc(a, sizeof(*e));
        if (e == NULL) {
            snprintf(why, why_size, "out of memory");
            return false;
        }
        floe__named_value__init(e);
        e->name = (char *)name;
        e->value = v;
        out->entries[out->n_entries++] = e;
    }
    return true;
}

static int
ev_cmp(const void *a, const void *b)
{
    const store_lp_event *x = a, *y = b;
    int c = strcmp(x->dataset, y->dataset);
    return c != 0 ? c : strcmp(x->event_id, y->event_id);
}

/* Records the firing of evs (the fired event among them) for plan act. */
static floe_rc
trigger_fire(store_pg *pg, lp_data_job *j, const store_lp_active *act,
             const Floe__LaunchPlanSpec *lp, store_lp_event *evs, size_t n,
             const store_lp_event *fired)
{
    floe_arena *a = j->arena;
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    char why[FLOE_ERR_MSG_MAX] = "";
    bool ok = map_inputs(a, lp, evs, n, fired, &vm, why, sizeof(why));
    size_t len = ok ? floe__value_map__get_packed_size(&vm) : 0;
    uint8_t *packed = ok ? floe_arena_alloc(a, len ? len : 1) : NULL;
    if (packed != NULL)
        floe__value_map__pack(&vm, packed);
    /* The key: the partition and the event ids, in a fixed order. */
    store_lp_event sorted[64];
    size_t ns = n < 64 ? n : 64;
    memcpy(sorted, evs, ns * sizeof(*sorted));
    if (ns > 1)
        qsort(sorted, ns, sizeof(*sorted), ev_cmp);
    floe_rc rc;
    size_t klen = strlen(fired->partition_key) + 2;
    for (size_t i = 0; i < ns; i++)
        klen += strlen(sorted[i].dataset) + strlen(sorted[i].event_id) + 2;
    char *kt = floe_arena_alloc(a, klen + 1), *fk = floe_arena_alloc(a, FLOE_SHA256_HEX_LEN + 3);
    if (kt == NULL || fk == NULL)
        return floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
    size_t off = (size_t)snprintf(kt, klen + 1, "%s\n", fired->partition_key);
    for (size_t i = 0; i < ns; i++)
        off += (size_t)snprintf(kt + off, klen + 1 - off, "%s=%s\n", sorted[i].dataset,
                                sorted[i].event_id);
    memcpy(fk, "p:", 2);
    floe_sha256_hex(kt, off, fk + 2);
    store_lp_tfire f = {.fire_key = fk,
                        .partition_key = fired->partition_key,
                        .events = evs,
                        .n_events = n,
                        .inputs = packed,
                        .inputs_len = len,
                        .state = ok ? "PENDING" : "SKIPPED",
                        .reason = ok ? NULL : why};
    bool created = false;
    if ((rc = store_lp_trigger_fire(pg, &act->key, &f, &created, &j->err)) == FLOE_OK && created)
        j->fired++;
    return rc;
}

static floe_rc
data_one(store_pg *pg, lp_data_job *j, const lp_event *e, const store_lp_active *act,
         const Floe__LaunchPlanSpec *const *lps, size_t n_act)
{
    const Floe__DataPublished *m = e->m;
    char pkey[2048];
    if (!lp_partition_key(m, pkey, sizeof(pkey))) {
        floe_log_warn(&lp_log, "DataPublished %s: partition too long; ignored", e->envelope_id);
        return FLOE_OK;
    }
    /* Its owner decides (issue 19): the first project to publish a dataset owns it. */
    char owner[64];
    bool may;
    floe_rc rc =
        store_dataset_may(pg, m->dataset, m->project, STORE_DS_PUBLISH, true, owner, &may, &j->err);
    if (rc != FLOE_OK)
        return rc;
    if (!may) {
        floe_log_warn(&lp_log,
                      "DataPublished %s: dataset %s belongs to project %s, and %s%s has no "
                      "grant to publish into it: ignored",
                      e->envelope_id, m->dataset, owner, m->project[0] ? "project " : "",
                      m->project[0] ? m->project : "a producer naming no project");
        j->refused_publish++;
        return FLOE_OK;
    }
    json_t *pj = json_object();
    for (size_t i = 0; i < m->n_partition; i++)
        json_object_set_new(pj, m->partition[i]->key, json_string(m->partition[i]->value));
    char *pjs = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(pj);
    if (pjs == NULL)
        return floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
    store_lp_event ev = {
        .dataset = m->dataset,
        .partition_key = pkey,
        .event_id = m->event_id[0] ? m->event_id : e->envelope_id,
        .uri = m->uri,
        .digest = m->digest,
        .size = (int64_t)m->size,
        .partition_json = pjs,
        .producer_execution = m->execution_id[0] ? m->execution_id : NULL,
        .producer_node = m->node_id[0] ? m->node_id : NULL,
        .published_us = m->published_unix_us ? m->published_unix_us : e->time_us,
    };
    for (size_t i = 0; rc == FLOE_OK && i < n_act; i++) {
        const Floe__Trigger *t = lps[i] != NULL ? lps[i]->trigger : NULL;
        if (t == NULL)
            continue;
        bool match = false;
        for (size_t d = 0; !match && d < t->n_datasets; d++)
            match = lp_dataset_matches(t->datasets[d], m);
        if (!match)
            continue;
        if (owner[0] != '\0' && strcmp(owner, act[i].key.project) != 0) {
            if ((rc = store_dataset_may(pg, m->dataset, act[i].key.project, STORE_DS_TRIGGER, false,
                                        owner, &may, &j->err)) != FLOE_OK)
                break;
            if (!may) {
                floe_log_warn(&lp_log,
                              "launch plan %s/%s/%s: dataset %s belongs to project %s, which has "
                              "not granted it triggering: event %s ignored",
                              act[i].key.project, act[i].key.domain, act[i].key.name, m->dataset,
                              owner, e->envelope_id);
                j->refused_trigger++;
                continue;
            }
        }
        j->matched++;
        bool inserted;
        if ((rc = store_lp_event_put(pg, &act[i].key, &ev, &inserted, &j->err)) != FLOE_OK)
            break;
        if (!inserted) {
            j->duplicates++;
            continue;
        }
        if (strcmp(t->mode, "any") == 0) {
            rc = trigger_fire(pg, j, &act[i], lps[i], &ev, 1, &ev);
            continue;
        }
        store_lp_event *w;
        size_t nw;
        if ((rc = store_lp_events_waiting(pg, &act[i].key, pkey, j->arena, &w, &nw, &j->err)) != 0)
            break;
        size_t have = 0;
        for (size_t d = 0; d < t->n_datasets; d++)
            for (size_t k = 0; k < nw; k++)
                if (strcmp(w[k].dataset, t->datasets[d]->dataset) == 0) {
                    have++;
                    break;
                }
        if (have < t->n_datasets)
            continue; /* the others are awaited */
        /* The first listed dataset supplies unprefixed fields. */
        const store_lp_event *first = &w[0];
        for (size_t k = 0; k < nw; k++)
            if (strcmp(w[k].dataset, t->datasets[0]->dataset) == 0)
                first = &w[k];
        rc = trigger_fire(pg, j, &act[i], lps[i], w, nw, first);
    }
    free(pjs);
    return rc;
}

/* Events [from, from + count) in one fenced transaction. */
static floe_rc
data_batch(store_pg *pg, lp_data_job *j, size_t from, size_t count, const store_lp_active *act,
           const Floe__LaunchPlanSpec **lps, size_t n)
{
    floe_rc rc = store_pg_begin(pg, &j->err);
    if (rc != FLOE_OK)
        return rc;
    if ((rc = store_lp_fence(pg, j->epoch, &j->err)) == FLOE_OK) {
        for (size_t i = from; rc == FLOE_OK && i < from + count; i++)
            rc = data_one(pg, j, &j->events[i], act, lps, n);
    }
    if (rc == FLOE_OK)
        rc = store_pg_commit(pg, &j->err);
    else
        store_pg_rollback(pg);
    return rc;
}

void
lp_data_work(store_pg *pg, lp_data_job *j)
{
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) != FLOE_OK)
        return;
    store_lp_active *act;
    size_t n;
    if ((j->rc = store_lp_active_list(pg, LP_ACTIVE_MAX, j->arena, &act, &n, &j->err)) != FLOE_OK)
        return;
    const Floe__LaunchPlanSpec **lps = floe_arena_alloc(j->arena, (n + 1) * sizeof(*lps));
    if (lps == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        lps[i] = lp_decode(j->arena, &act[i]);
        if (lps[i] != NULL && (lps[i]->trigger == NULL || lps[i]->interface == NULL))
            lps[i] = NULL;
    }
    unsigned matched = j->matched, fired = j->fired, dups = j->duplicates;
    if ((j->rc = data_batch(pg, j, 0, j->n, act, lps, n)) != FLOE_EINVAL)
        return;
    /* One event's content was refused: each alone, so only that one is dead-lettered and
     * the rest take effect (review H5). */
    j->matched = matched, j->fired = fired, j->duplicates = dups;
    if ((j->bad = floe_calloc(j->n, 1)) == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        floe_rc rc = data_batch(pg, j, i, 1, act, lps, n);
        if (rc == FLOE_EINVAL)
            j->bad[i] = 1;
        else if ((j->rc = rc) != FLOE_OK)
            return;
    }
    j->rc = FLOE_OK;
}
