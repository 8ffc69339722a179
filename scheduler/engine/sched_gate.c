/*
 * sched_gate — gate nodes (docs/engine.md#gates): approve, signal, sleep. A READY gate
 * starts waiting (gate_wait.lua): RUNNING, and with a due time an entry in the lease set,
 * so the lease sweep ends it then (a sleep succeeds; an approval or a signal not given in
 * time fails as USER gate_timeout). A person's answer arrives as GateResolved (sent by
 * the API); an approval or a signal ends the node SUCCEEDED with the outputs the gate
 * gives, a rejection fails it (USER rejected). A service may send a signal on the bus
 * itself (GateResolved naming its project; text converted to the gate's type). All of it
 * is in Redis and on the bus, so a new leader carries on where the old one stopped.
 */
#include "sched_engine_int.h"

#include "sched_decide.h"

#include "floe_text.h"
#include "floe_time.h"
#include "floe_value.h"

#include <stdio.h>
#include <string.h>

void
eng_gate_start(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *until)
{
    eng_term *t = ex->t;
    sched_engine *e = t->e;
    const Floe__GateSpec *g = ex->plan->plan->nodes[node].gate;
    int64_t in_ms = -1;
    if (strcmp(g->kind, "sleep") == 0) {
        if (until != NULL && until->kind_case == FLOE__VALUE__KIND_DATETIME_UNIX_US)
            in_ms = (until->datetime_unix_us - floe_now_us()) / 1000;
        else
            in_ms = (int64_t)g->sleep_ms;
        if (in_ms < 0)
            in_ms = 0; /* a time already past: the next sweep ends it */
    } else if (g->timeout_ms > 0) {
        in_ms = (int64_t)g->timeout_ms;
    }
    eng_op *op = eng_op_new(t, ex, SCHED_EV_GATE);
    if (op == NULL) {
        eng_term_fail(t, "engine: out of memory (gate)");
        return;
    }
    op->node = node;
    op->attempt = attempt;
    if (store_state_node_wait(e->redis, t->epoch, ex->id, node, attempt, in_ms, false, NULL,
                              e->next.state_reply, op) != FLOE_OK) {
        eng_op_free(op);
        eng_term_fail(t, "redis: request not sent");
    }
}

void
eng_gate_due(eng_exec *ex, uint32_t node, uint32_t attempt)
{
    const Floe__GateSpec *g = ex->plan->plan->nodes[node].gate;
    sched_engine *e = ex->t->e;
    if (strcmp(g->kind, "sleep") == 0) {
        Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
        uint8_t none[1];
        (void)floe__value_map__pack(&vm, none);
        e->next.node_done(ex, node, attempt, none, 0, FLOE__PHASE__PHASE_SUCCEEDED, NULL);
        return;
    }
    char msg[ENG_MSG_MAX];
    floe_text_fmt(msg, sizeof(msg), "no %s came within the gate's timeout",
                  strcmp(g->kind, "approve") == 0 ? "approval" : "signal");
    e->next.gate_failed(ex, node, attempt, "gate_timeout", msg, NULL);
}

/* A string Value in a. */
static Floe__Value *
text_value(floe_arena *a, const char *s)
{
    Floe__Value *v = floe_arena_alloc(a, sizeof(*v));
    if (v != NULL) {
        floe__value__init(v);
        v->kind_case = FLOE__VALUE__KIND_STRING;
        v->string = (char *)s;
    }
    return v;
}

void
eng_gate_resolved(eng_exec *ex, const Floe__GateResolved *m, const floe_bus_pos *pos)
{
    eng_term *t = ex->t;
    sched_engine *e = t->e;
    const sched_plan *plan = ex->plan->plan;
    int64_t i = sched_plan_find(plan, m->node_id);
    const Floe__GateSpec *g = i >= 0 ? plan->nodes[i].gate : NULL;
    char why[ENG_MSG_MAX];
    floe_err err = {0};
    if (g == NULL || strcmp(g->kind, "sleep") == 0) {
        floe_text_fmt(why, sizeof(why), "GateResolved: node \"%.64s\" is no approve or signal gate",
                      m->node_id);
        eng_reject(t, pos, why);
        return;
    }
    bool approve = strcmp(g->kind, "approve") == 0;
    if (!m->approved && !approve) {
        eng_reject(t, pos, "GateResolved: a signal cannot be rejected");
        return;
    }
    /* From a service (the bus role check made it name its project and itself): the
     * execution must be of that project, and it sends signals, not a person's approval. */
    const Floe__Identifier *wid = plan->spec->id;
    if (m->project[0] != '\0' && (wid == NULL || strcmp(wid->project, m->project) != 0)) {
        floe_text_fmt(why, sizeof(why), "GateResolved: execution %.64s is not of project %.64s",
                      ex->id, m->project);
        eng_reject(t, pos, why);
        return;
    }
    if (strncmp(m->by, "svc:", 4) == 0 && approve) {
        eng_reject(t, pos, "GateResolved: a service sends signals; an approval is a person's");
        return;
    }
    Floe__Value *value = m->value;
    if (value != NULL && g->type != NULL && value->kind_case == FLOE__VALUE__KIND_STRING &&
        g->type->simple != FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING &&
        floe_value_from_text(g->type, value->string, e->scratch, &value, &err) != FLOE_OK) {
        floe_text_fmt(why, sizeof(why), "GateResolved: the value for gate \"%.64s\": %s",
                      m->node_id, err.msg);
        eng_reject(t, pos, why);
        return;
    }
    if (m->approved && g->type != NULL &&
        (value == NULL || floe_value_check(g->type, value, &err) != FLOE_OK)) {
        floe_text_fmt(why, sizeof(why), "GateResolved: the value for gate \"%.64s\": %s",
                      m->node_id, value == NULL ? "missing" : err.msg);
        eng_reject(t, pos, why);
        return;
    }
    const char *by = m->by[0] != '\0' ? m->by : "unknown";
    if (!m->approved) {
        floe_text_fmt(why, sizeof(why), "rejected by %s%s%s", by, m->comment[0] ? ": " : "",
                      m->comment);
        e->next.gate_failed(ex, (uint32_t)i, 1, "rejected", why, pos);
        return;
    }
    /* The gate's outputs, in its interface's (name) order: by, comment, value. */
    Floe__NamedValue nv[3], *ptrs[3];
    const char *names[3];
    Floe__Value *vals[3];
    size_t n = 0;
    names[n] = "by";
    vals[n++] = text_value(e->scratch, by);
    if (approve) {
        names[n] = "comment";
        vals[n++] = text_value(e->scratch, m->comment);
    }
    if (g->type != NULL) {
        names[n] = "value";
        vals[n++] = value;
    }
    for (size_t k = 0; k < n; k++) {
        if (vals[k] == NULL) {
            eng_term_fail(t, "engine: out of memory (gate)");
            return;
        }
        floe__named_value__init(&nv[k]);
        nv[k].name = (char *)names[k];
        nv[k].value = vals[k];
        ptrs[k] = &nv[k];
    }
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    vm.entries = ptrs;
    vm.n_entries = n;
    size_t len = floe__value_map__get_packed_size(&vm);
    uint8_t *packed = floe_arena_alloc(e->scratch, len ? len : 1);
    if (packed == NULL) {
        eng_term_fail(t, "engine: out of memory (gate)");
        return;
    }
    floe__value_map__pack(&vm, packed);
    e->next.node_done(ex, (uint32_t)i, 1, packed, len, FLOE__PHASE__PHASE_SUCCEEDED, pos);
}
