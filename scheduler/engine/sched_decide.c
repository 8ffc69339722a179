/*
 * sched_decide — see sched_decide.h. Each event's rule in one function, in the order of
 * the events' life.
 */
#include "sched_decide.h"

#include "floe_value.h"

#include <stdio.h>
#include <string.h>

typedef struct fx_buf {
    sched_effect *v;
    size_t n, cap;
} fx_buf;

static void
push(fx_buf *b, sched_effect e)
{
    if (b->n < b->cap)
        b->v[b->n++] = e;
}

static void
egress(fx_buf *b, uint32_t node, uint32_t attempt, floe_transition tr, floe_error_kind kind)
{
    push(b, (sched_effect){.kind = SCHED_FX_EGRESS,
                           .node = node,
                           .attempt = attempt,
                           .tr = tr,
                           .error_kind = kind});
}

/* Nodes the script made READY: each is said and dispatched (attempt 1); then the end. */
static void
ready_then_end(fx_buf *b, const sched_outcome *o, uint32_t n_nodes)
{
    for (size_t i = 0; i < o->n_items; i++) {
        int64_t idx = o->items[i];
        if (idx < 0 || idx >= (int64_t)n_nodes)
            continue;
        egress(b, (uint32_t)idx, 1, FLOE_TR_NODE_READY, FLOE_ERROR_KIND_NONE);
        push(b, (sched_effect){.kind = SCHED_FX_DISPATCH, .node = (uint32_t)idx, .attempt = 1});
    }
    if (o->exec_phase != 0)
        push(b, (sched_effect){.kind = SCHED_FX_FINALIZE, .exec_level = true});
}

static void
failed(fx_buf *b, const sched_outcome *o, uint32_t n_nodes)
{
    if (o->event == SCHED_EV_LEASE)
        push(b, (sched_effect){.kind = SCHED_FX_LEASE_EXPIRED, .node = o->node});
    if (o->answer == SCHED_ANS_RETRY) {
        if (o->n_items < 2 || o->items[0] <= 0)
            return; /* an answer without the next attempt: nothing to act on */
        uint32_t next = (uint32_t)o->items[0];
        int64_t delay = o->items[1];
        push(b, (sched_effect){.kind = SCHED_FX_RETRY,
                               .node = o->node,
                               .attempt = next,
                               .error_kind = o->error_kind,
                               .delay_ms = delay});
        egress(b, o->node, o->attempt, FLOE_TR_NODE_RETRY, o->error_kind);
        /* A retry due now is already READY in the outbox; a later one waits for the
         * timer (timer_fire.lua). */
        if (delay <= 0)
            push(b, (sched_effect){.kind = SCHED_FX_DISPATCH, .node = o->node, .attempt = next});
        return;
    }
    egress(b, o->node, o->attempt, FLOE_TR_NODE_FAIL, o->error_kind);
    if (o->answer == SCHED_ANS_ITEM_FAILED) { /* the map goes on: the next item, or gather */
        ready_then_end(b, o, n_nodes);
        return;
    }
    for (size_t i = 0; i < o->n_items; i++)
        if (o->items[i] >= 0 && o->items[i] < (int64_t)n_nodes)
            egress(b, (uint32_t)o->items[i], 0, FLOE_TR_NODE_SKIP, FLOE_ERROR_KIND_NONE);
    if (o->exec_phase != 0)
        push(b, (sched_effect){.kind = SCHED_FX_FINALIZE, .exec_level = true});
}

size_t
sched_decide(const sched_outcome *o, uint32_t n_nodes, sched_effect *out, size_t cap)
{
    fx_buf b = {out, 0, cap};
    if (o->answer == SCHED_ANS_NOOP)
        return 0; /* duplicate or stale: the script changed nothing, nothing follows */
    if (o->event != SCHED_EV_CREATED && o->event != SCHED_EV_ABORTED && o->node >= n_nodes)
        return 0;
    switch (o->event) {
    case SCHED_EV_CREATED:
        if (o->answer != SCHED_ANS_OK)
            return 0;
        push(&b,
             (sched_effect){.kind = SCHED_FX_EGRESS, .exec_level = true, .tr = FLOE_TR_EXEC_START});
        ready_then_end(&b, o, n_nodes);
        break;
    case SCHED_EV_STARTED:
        if (o->answer == SCHED_ANS_OK)
            egress(&b, o->node, o->attempt, FLOE_TR_NODE_START, FLOE_ERROR_KIND_NONE);
        break;
    case SCHED_EV_SUCCEEDED:
    case SCHED_EV_CACHED:
        if (o->answer != SCHED_ANS_OK)
            return 0;
        egress(&b, o->node, o->attempt,
               o->event == SCHED_EV_CACHED ? FLOE_TR_NODE_CACHE_HIT : FLOE_TR_NODE_SUCCEED,
               FLOE_ERROR_KIND_NONE);
        ready_then_end(&b, o, n_nodes);
        break;
    case SCHED_EV_FAILED:
    case SCHED_EV_LEASE:
        if (o->answer == SCHED_ANS_RETRY || o->answer == SCHED_ANS_FAILED ||
            o->answer == SCHED_ANS_ITEM_FAILED)
            failed(&b, o, n_nodes);
        break;
    case SCHED_EV_GATE:
        if (o->answer == SCHED_ANS_OK)
            egress(&b, o->node, o->attempt, FLOE_TR_NODE_START, FLOE_ERROR_KIND_NONE);
        break;
    case SCHED_EV_BRANCH: /* the decision succeeded; the case taken (or the join) is ready */
        if (o->answer != SCHED_ANS_OK)
            return 0;
        egress(&b, o->node, o->attempt, FLOE_TR_NODE_SUCCEED, FLOE_ERROR_KIND_NONE);
        ready_then_end(&b, o, n_nodes);
        break;
    case SCHED_EV_EXPANDED:
        if (o->answer != SCHED_ANS_OK)
            return 0;
        egress(&b, o->node, o->attempt, FLOE_TR_NODE_START, FLOE_ERROR_KIND_NONE);
        ready_then_end(&b, o, n_nodes);
        break;
    case SCHED_EV_ABORTED:
        if (o->answer == SCHED_ANS_OK && o->exec_phase != 0)
            push(&b, (sched_effect){.kind = SCHED_FX_FINALIZE, .exec_level = true});
        break;
    }
    return b.n;
}

bool
sched_decide_outputs(const Floe__Interface *ifc, Floe__NamedValue *const *got, size_t n_got,
                     Floe__NamedValue **ordered, char *why, size_t why_size)
{
    size_t n_out = ifc != NULL ? ifc->n_outputs : 0;
    for (size_t i = 0; i < n_out; i++) {
        const Floe__Variable *want = ifc->outputs[i];
        ordered[i] = NULL;
        for (size_t k = 0; k < n_got; k++)
            if (got[k] != NULL && got[k]->name != NULL && strcmp(got[k]->name, want->name) == 0)
                ordered[i] = got[k];
        floe_err verr = {0};
        if (ordered[i] == NULL || ordered[i]->value == NULL) {
            snprintf(why, why_size, "output \"%s\" is missing", want->name);
            return false;
        }
        if (floe_value_check(want->type, ordered[i]->value, &verr) != FLOE_OK) {
            snprintf(why, why_size, "output \"%s\": %s", want->name, verr.msg);
            return false;
        }
    }
    return true;
}
