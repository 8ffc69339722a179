/*
 * sched_effects — the driver of the engine's decisions: every state script's answer comes
 * back here (eng_state_reply). The event is acknowledged once its effect is durable, a
 * no-op is logged with its reason, and a change goes to the decision core (sched_decide),
 * whose effects this module performs in order on the loop: PhaseChanged messages on
 * egress, dispatches, finalization, counters.
 */
#include "sched_engine_int.h"

#include "sched_decide.h"

#include "floe_fault.h"
#include "floe_mem.h"
#include "floe_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* --- Logging --------------------------------------------------------------------------- */

static void
log_noop(eng_op *op, const char *what, const store_state_res *res)
{
    eng_exec *ex = op->ex;
    char buf[SCHED_PLAN_ID_SIZE];
    const char *node = eng_node_id(ex, op->node, buf);
    floe_log_ctx c = {.comp = "engine",
                      .exec = ex->id,
                      .node = node,
                      .attempt = op->attempt,
                      .epoch = op->t->epoch};
    floe_log_debug(&c, "%s: no change: %s", what, res->note);
}

static sched_answer
answer_of(store_st st)
{
    switch (st) {
    case STORE_ST_OK:
        return SCHED_ANS_OK;
    case STORE_ST_RETRY:
        return SCHED_ANS_RETRY;
    case STORE_ST_FAILED:
        return SCHED_ANS_FAILED;
    default:
        return SCHED_ANS_NOOP;
    }
}

static void
effect_log(eng_op *op, const sched_effect *fx)
{
    char buf[SCHED_PLAN_ID_SIZE];
    floe_log_ctx c = {.comp = "engine",
                      .exec = op->ex->id,
                      .node = eng_node_id(op->ex, fx->node, buf),
                      .attempt = op->attempt,
                      .epoch = op->t->epoch};
    const char *kind = fx->error_kind == FLOE_ERROR_KIND_SYSTEM ? "SYSTEM" : "USER";
    if (fx->kind == SCHED_FX_RETRY)
        floe_log_info(&c, "attempt failed (%s); attempt %u in %" PRId64 " ms", kind, fx->attempt,
                      fx->delay_ms);
    else
        floe_log_info(&c, "node failed (%s error, retries exhausted or not retriable)", kind);
}

/* The driver: what the script answered for op's event, decided by sched_decide, then
 * performed here in order (egress, dispatch, finalization, counters). */
static void
apply(eng_op *op, sched_event ev, floe_error_kind kind, const store_state_res *res)
{
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    sched_engine *e = t->e;
    const sched_plan *plan = ex->plan->plan;
    size_t n = res->n_items;
    /* The engine's own buffers, grown to the widest answer seen: a fan-out of thousands
     * allocates once, not per answer. Effects never answer synchronously, so one apply
     * runs at a time; were one to nest, it would use buffers of its own. */
    bool own = e->fx_busy;
    if (!own && (e->fx_cap < SCHED_EFFECTS_MAX(n) || e->fx_items_cap < n)) {
        size_t cap = SCHED_EFFECTS_MAX(n) > 64 ? SCHED_EFFECTS_MAX(n) : 64;
        sched_effect *nf = floe_realloc(e->fx, cap * sizeof(*nf));
        if (nf != NULL) {
            e->fx = nf;
            e->fx_cap = cap;
        }
        int64_t *ni = floe_realloc(e->fx_items, (n > 0 ? n : 1) * sizeof(*ni));
        if (ni != NULL) {
            e->fx_items = ni;
            e->fx_items_cap = n > 0 ? n : 1;
        }
        if (nf == NULL || ni == NULL) {
            eng_term_fail(t, "engine: out of memory (effects)");
            return;
        }
    }
    int64_t *items = own ? floe_malloc((n > 0 ? n : 1) * sizeof(*items)) : e->fx_items;
    sched_effect *fx = own ? floe_malloc(SCHED_EFFECTS_MAX(n) * sizeof(*fx)) : e->fx;
    if (items == NULL || fx == NULL) {
        if (own) {
            floe_free(items);
            floe_free(fx);
        }
        eng_term_fail(t, "engine: out of memory (effects)");
        return;
    }
    e->fx_busy = true;
    for (size_t i = 0; i < n; i++)
        items[i] = store_state_item_int(res, i);
    /* The execution failed and its on_failure handler starts: the last item (the others
     * are the nodes skipped); the execution ends once the handler ran. */
    int64_t handler = -1;
    if (res->st == STORE_ST_FAILED && res->note != NULL && strcmp(res->note, "handler") == 0 &&
        n > 0)
        handler = items[--n];
    sched_outcome o = {.event = ev,
                       .node = op->node,
                       .attempt = op->attempt,
                       .error_kind = kind,
                       .answer = res->st == STORE_ST_FAILED && res->note != NULL &&
                                         strcmp(res->note, "item") == 0
                                     ? SCHED_ANS_ITEM_FAILED
                                     : answer_of(res->st),
                       .exec_phase = (int)res->phase,
                       .items = items,
                       .n_items = n};
    /* Every index the plan's map items may take: eng_pnode checks each where it is used. */
    uint32_t bound = plan->n_nodes + (plan->n_maps << SCHED_MAP_ITEM_BITS);
    size_t n_fx = sched_decide(&o, bound, fx, SCHED_EFFECTS_MAX(n));
    int64_t now = floe_mono_us();
    char idbuf[SCHED_PLAN_ID_SIZE];
    for (size_t i = 0; i < n_fx && !t->dead; i++) {
        const sched_effect *f = &fx[i];
        switch (f->kind) {
        case SCHED_FX_EGRESS:
            if (f->tr == FLOE_TR_NODE_FAIL)
                effect_log(op, f);
            eng_egress(t, ex, f->exec_level ? NULL : eng_node_id(ex, f->node, idbuf), f->attempt,
                       f->tr, f->error_kind, NULL);
            break;
        case SCHED_FX_DISPATCH:
            eng_dispatch(ex, f->node, f->attempt, now);
            break;
        case SCHED_FX_FINALIZE:
            ex->terminal = true;
            eng_finalize(ex);
            break;
        case SCHED_FX_RETRY:
            floe_metric_add(
                f->error_kind == FLOE_ERROR_KIND_SYSTEM ? e->m_retry_sys : e->m_retry_user, 1);
            effect_log(op, f);
            break;
        case SCHED_FX_LEASE_EXPIRED:
            floe_metric_add(e->m_lease_exp, 1);
            break;
        }
    }
    if (handler >= 0 && !t->dead) {
        eng_egress(t, ex, eng_node_id(ex, (uint32_t)handler, idbuf), 1, FLOE_TR_NODE_READY,
                   FLOE_ERROR_KIND_NONE, NULL);
        eng_dispatch(ex, (uint32_t)handler, 1, now);
    }
    if (own) {
        floe_free(items);
        floe_free(fx);
    } else {
        e->fx_busy = false;
    }
}

/* --- What some answers add before their effects ---------------------------------------- */

static void
created(eng_op *op, const store_state_res *res)
{
    floe_log_ctx c = {.comp = "engine", .exec = op->ex->id, .epoch = op->t->epoch};
    floe_log_info(&c, "execution started: %s, %u nodes, %zu ready", op->ex->plan->ref,
                  op->ex->plan->plan->n_nodes, res->n_items);
    eng_exec *ex = op->ex;
    if (ex->n_rec > 0) {
        eng_lineage_recovered(ex, ex->rec_source);
        floe_arena_free(ex->rec_arena);
        ex->rec_arena = NULL;
        ex->rec = NULL;
        ex->n_rec = 0;
    }
}

static void
aborted(eng_op *op, const store_state_res *res)
{
    floe_log_ctx c = {.comp = "engine", .exec = op->ex->id, .epoch = op->t->epoch};
    floe_log_info(&c, "execution %s", floe_phase_name((int)res->phase));
}

/* --- Answers --------------------------------------------------------------------------- */

/* The one trampoline for every state script's answer: acknowledge the event (its effect
 * is durable), log a no-op with its reason, or hand a change to the kind's handler: the decision
 * core says what follows, this driver does it. */
void
eng_state_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    static const char *const what[] = {
        [SCHED_EV_CREATED] = "ExecutionRequested",
        [SCHED_EV_STARTED] = "TaskStarted",
        [SCHED_EV_SUCCEEDED] = "TaskSucceeded",
        [SCHED_EV_FAILED] = "TaskFailed",
        [SCHED_EV_ABORTED] = "abort",
        [SCHED_EV_LEASE] = "lease expiry",
        [SCHED_EV_CACHED] = "cache hit",
        [SCHED_EV_EXPANDED] = "map start",
        [SCHED_EV_BRANCH] = "branch decision",
        [SCHED_EV_GATE] = "gate wait",
    };
    eng_op *op = arg;
    store_state_res res;
    if (!eng_script_failed(op->t, rep, err, &res)) {
        FLOE_FAULT("sched.after_redis_write_before_ack");
        /* A keyed success: the catalog records it, then acknowledges the event. */
        bool record = op->kind == SCHED_EV_SUCCEEDED && res.st == STORE_ST_OK && op->buf != NULL &&
                      res.note != NULL && res.note[0] != '\0';
        if (record) {
            eng_cache_record(op->ex, op->node, op->attempt, res.note, op->buf, op->buf_len,
                             &op->pos, op->has_pos);
            op->buf = NULL;
            op->has_pos = false;
        }
        if (op->has_pos)
            eng_ack(op->t, &op->pos);
        if (res.st == STORE_ST_NOOP) {
            log_noop(op, what[op->kind], &res);
        } else {
            if (op->kind == SCHED_EV_CREATED)
                created(op, &res);
            else if (op->kind == SCHED_EV_ABORTED)
                aborted(op, &res);
            apply(op, (sched_event)op->kind, (floe_error_kind)(intptr_t)op->data, &res);
        }
    }
    eng_op_free(op);
}
