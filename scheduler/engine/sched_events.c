/*
 * sched_events — what each event does to an execution: one state script per event, then
 * the consequences the script reports (nodes made ready go to dispatch, a terminal
 * execution goes to finalization, phase changes go to egress). The consumed message is
 * acknowledged only after Redis has answered, so its effect is durable first.
 */
#include "sched_engine_int.h"

#include "sched_inputs.h"

#include "sched_decide.h"

#include "floe_fault.h"

#include "floe_mem.h"
#include "floe_retry.h"
#include "floe_time.h"
#include "floe_value.h"
#include "store_run.h"
#include "store_state_codec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* An operation's kind is the sched_event its script answers for (sched_effects.c). */
enum {
    OP_CREATE = SCHED_EV_CREATED,
    OP_STARTED = SCHED_EV_STARTED,
    OP_SUCCEEDED = SCHED_EV_SUCCEEDED,
    OP_FAILED = SCHED_EV_FAILED,
    OP_ABORT = SCHED_EV_ABORTED,
    OP_LEASE = SCHED_EV_LEASE,
    OP_CACHED = SCHED_EV_CACHED,
};

#define script_reply eng_state_reply

/* --- Helpers --------------------------------------------------------------------------- */

/* "<stdout uri>|<stderr uri>" of an attempt's logs into out (320 bytes), or NULL. */
static const char *
log_refs(char *out, const Floe__Blob *so, const Floe__Blob *se)
{
    if ((so == NULL || so->uri == NULL) && (se == NULL || se->uri == NULL))
        return NULL;
    char a[160], b[160];
    store_state_text(a, sizeof(a), so != NULL ? so->uri : NULL, true);
    store_state_text(b, sizeof(b), se != NULL ? se->uri : NULL, true);
    snprintf(out, 320, "%s|%s", a, b);
    return out;
}

static uint32_t
jitter(void)
{
    static uint64_t x = 0;
    if (x == 0)
        x = (uint64_t)floe_mono_us() | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return (uint32_t)(x % 1001);
}

/* The node a worker's event names (a map item by its "ID.k"): what it runs, and its
 * index. A map node itself never runs on a worker, so an event naming it names nothing. */
static const sched_pnode *
find_node(eng_exec *ex, const char *node_id, uint32_t *idx)
{
    int64_t i = sched_plan_find_any(ex->plan->plan, node_id);
    if (i < 0 || (i < ex->plan->plan->n_nodes &&
                  (ex->plan->plan->nodes[i].map != NULL || ex->plan->plan->nodes[i].task == NULL)))
        return NULL; /* a map node, a branch's decision or join: the leader's own */
    *idx = (uint32_t)i;
    return eng_pnode(ex, (uint32_t)i, NULL);
}

static bool
op_start(eng_exec *ex, int kind, uint32_t node, uint32_t attempt, const floe_bus_pos *pos,
         eng_op **out)
{
    eng_op *op = eng_op_new(ex->t, ex, kind);
    if (op == NULL) {
        eng_term_fail(ex->t, "engine: out of memory");
        return false;
    }
    op->node = node;
    op->attempt = attempt;
    if (pos != NULL) {
        op->pos = *pos;
        op->has_pos = true;
    }
    op->t0_us = floe_mono_us();
    *out = op;
    return true;
}

static void
op_sent(eng_op *op, floe_rc rc)
{
    if (rc == FLOE_OK)
        return;
    eng_term *t = op->t;
    eng_op_free(op);
    eng_term_fail(t, rc == FLOE_EAGAIN ? "redis: not connected" : "redis: request not sent");
}

/* --- ExecutionRequested ---------------------------------------------------------------- */

/* Whether map node pn maps the same list as in the execution recovered: every node it reads
 * was taken over (the execution's own inputs are the source's). */
static bool
same_list(const sched_pnode *pn, const uint8_t *recovered)
{
    for (uint32_t b = 0; b < pn->n_inputs; b++)
        if (pn->inputs[b].kind == SCHED_SRC_OUTPUT && !recovered[pn->inputs[b].node])
            return false;
    return true;
}

/* Recover: the nodes that produced outputs in the source execution start RECOVERED with
 * those outputs; their downstream nodes wait for one upstream less each. The items of a
 * map node that runs again over the same list are taken over as well, so only the items
 * that failed run again. Built in the scratch arena. */
static bool
recovered_nodes(eng_exec *ex, store_create *c)
{
    sched_engine *e = ex->t->e;
    const sched_plan *plan = ex->plan->plan;
    uint32_t n = plan->n_nodes;
    uint32_t *u = floe_arena_alloc(e->scratch, (n ? n : 1) * sizeof(*u));
    uint8_t *rec = floe_arena_alloc(e->scratch, n ? n : 1);
    int64_t *at = floe_arena_alloc(e->scratch, ex->n_rec * sizeof(*at));
    uint32_t *idx = floe_arena_alloc(e->scratch, ex->n_rec * sizeof(*idx));
    const uint8_t **outs = floe_arena_alloc(e->scratch, ex->n_rec * sizeof(*outs));
    size_t *lens = floe_arena_alloc(e->scratch, ex->n_rec * sizeof(*lens));
    if (u == NULL || rec == NULL || at == NULL || idx == NULL || outs == NULL || lens == NULL)
        return false;
    memset(rec, 0, n ? n : 1);
    for (uint32_t i = 0; i < n; i++)
        u[i] = plan->nodes[i].n_upstream;
    for (size_t r = 0; r < ex->n_rec; r++) {
        at[r] = sched_plan_find_any(plan, ex->rec[r].node_id); /* -1: only a corrupted row */
        if (at[r] >= 0 && at[r] < n)
            rec[at[r]] = 1;
    }
    size_t k = 0;
    for (size_t r = 0; r < ex->n_rec; r++) {
        uint32_t node;
        int64_t item;
        if (at[r] < 0 || !sched_plan_locate(plan, (uint32_t)at[r], &node, &item))
            continue;
        if (plan->nodes[node].role == SCHED_ROLE_DECIDE ||
            plan->nodes[node].role == SCHED_ROLE_FAILURE)
            continue; /* decided again (a recovered decision would release every case); the
                       * handler runs only on a failure of this execution */
        if (item >= 0 && (rec[node] || !same_list(&plan->nodes[node], rec)))
            continue;
        idx[k] = (uint32_t)at[r];
        outs[k] = ex->rec[r].outputs;
        lens[k] = ex->rec[r].outputs_len;
        k++;
        const sched_pnode *pn = &plan->nodes[node];
        for (uint32_t d = 0; item < 0 && d < pn->n_down; d++)
            if (u[pn->down[d]] > 0)
                u[pn->down[d]]--;
    }
    const char *ucsv = eng_csv(e, u, n);
    char *ucopy = ucsv != NULL ? floe_arena_strndup(e->scratch, ucsv, strlen(ucsv)) : NULL;
    const char *rcsv = ucopy != NULL ? eng_csv(e, idx, k) : NULL;
    if (rcsv == NULL)
        return false;
    c->unresolved_csv = ucopy;
    c->recovered_csv = rcsv;
    c->recovered_outputs = outs;
    c->recovered_lens = lens;
    c->n_recovered = k;
    return true;
}

static void
on_requested(eng_exec *ex, const Floe__ExecutionRequested *m, const floe_bus_pos *pos)
{
    sched_engine *e = ex->t->e;
    const sched_plan *plan = ex->plan->plan;
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    vm.entries = m->inputs;
    vm.n_entries = m->n_inputs;
    size_t len = floe__value_map__get_packed_size(&vm);
    if (ex->inputs == NULL) {
        if ((ex->inputs = floe_malloc(len ? len : 1)) == NULL) {
            eng_term_fail(ex->t, "engine: out of memory");
            return;
        }
        floe__value_map__pack(&vm, ex->inputs);
        ex->inputs_len = len;
    }
    /* The shortest of the workflow's timeout, its launch plan's and the installation's. */
    int64_t limits[] = {e->cfg->execution_timeout_ms, (int64_t)plan->spec->timeout_ms,
                        (int64_t)m->timeout_ms};
    int64_t limit = 0;
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
        if (limits[i] > 0 && (limit == 0 || limits[i] < limit))
            limit = limits[i];
    int64_t deadline = limit > 0 ? floe_now_us() + limit * 1000 : 0;
    char flags[4];
    snprintf(flags, sizeof(flags), "%s%s%s", ex->no_cache ? "n" : "",
             ex->overwrite_cache ? "w" : "",
             plan->on_failure ? "h" : ""); /* h: the last node is the on_failure handler */
    store_create c = {.exec = ex->id,
                      .wf_ref = plan->ref,
                      .policy = plan->failure_policy,
                      .inputs = ex->inputs,
                      .inputs_len = ex->inputs_len,
                      .deadline_us = deadline,
                      .n_nodes = plan->n_nodes,
                      .unresolved_csv = plan->unresolved_csv,
                      .flags = flags};
    if (ex->n_rec > 0 && !recovered_nodes(ex, &c)) {
        eng_term_fail(ex->t, "engine: out of memory");
        return;
    }
    eng_op *op;
    if (!op_start(ex, OP_CREATE, 0, 0, pos, &op))
        return;
    op_sent(op, store_state_exec_create(e->redis, ex->t->epoch, &c, script_reply, op));
}

/* --- TaskStarted ----------------------------------------------------------------------- */

static void
on_started(eng_exec *ex, const Floe__TaskStarted *m, const floe_bus_pos *pos)
{
    uint32_t idx;
    if (find_node(ex, m->node_id, &idx) == NULL) {
        floe_log_warn(&ex->t->log, "execution %s has no node \"%s\"; event dropped", ex->id,
                      m->node_id);
        eng_ack(ex->t, pos);
        return;
    }
    char worker[128];
    eng_op *op;
    if (!op_start(ex, OP_STARTED, idx, m->attempt, pos, &op))
        return;
    op_sent(op,
            store_state_node_started(ex->t->e->redis, ex->t->epoch, ex->id, idx, m->attempt,
                                     store_state_text(worker, sizeof(worker), m->worker_id, true),
                                     m->started_unix_us, script_reply, op));
}

/* --- TaskFailed (and lease expiry) ----------------------------------------------------- */

typedef struct fail_in {
    int kind;
    bool retriable;
    const char *code, *message, *worker;
    int64_t started_us, finished_us;
    bool lease_check;
    const char *logs;
} fail_in;

static void
node_fail(eng_exec *ex, uint32_t idx, uint32_t attempt, const fail_in *in, const floe_bus_pos *pos,
          int op_kind)
{
    sched_engine *e = ex->t->e;
    const sched_plan *plan = ex->plan->plan;
    int64_t item;
    const sched_pnode *pn = eng_pnode(ex, idx, &item);
    if (pn == NULL)
        return;
    const Floe__TaskSpec *task = pn->task; /* NULL: a branch's decision or join */
    floe_retry rp = floe_retry_of(task != NULL ? task->retries : NULL);
    char code[64], msg[ENG_MSG_MAX], worker[128], idbuf[SCHED_PLAN_ID_SIZE], spec[64];
    store_failure f = {
        .exec = ex->id,
        .node = idx,
        .attempt = attempt,
        .kind = in->kind,
        .retriable = in->retriable,
        .user_budget = rp.user,
        .system_budget = rp.system,
        .backoff_initial_ms = rp.initial_ms,
        .backoff_max_ms = rp.max_ms,
        .backoff_multiplier_milli = rp.multiplier_milli,
        .jitter_milli = jitter(),
        .code = store_state_text(code, sizeof(code), in->code, true),
        .message = store_state_text(msg, sizeof(msg), in->message, false),
        .worker = store_state_text(worker, sizeof(worker), in->worker, true),
        .started_us = in->started_us,
        .finished_us = in->finished_us,
        .lease_check = in->lease_check,
        .logs = in->logs,
        .node_id = eng_node_id(ex, idx, idbuf),
        .item = eng_item_spec(ex, idx, spec),
    };
    if ((pn->map != NULL && item < 0) || task == NULL) /* the leader's own: not retried */
        f.user_budget = f.system_budget = 0;
    if (item < 0 &&
        plan->failure_policy == FLOE__FAILURE_POLICY__FAILURE_POLICY_FINISH_INDEPENDENT) {
        if (e->closure_cap < plan->n_nodes) {
            uint32_t *cl = floe_realloc(e->closure, plan->n_nodes * sizeof(*cl));
            if (cl != NULL)
                e->closure = cl;
            uint8_t *mk = floe_realloc(e->mark, plan->n_nodes);
            if (mk != NULL) {
                memset(mk, 0, plan->n_nodes);
                e->mark = mk;
            }
            if (cl == NULL || mk == NULL) {
                eng_term_fail(ex->t, "engine: out of memory");
                return;
            }
            e->closure_cap = plan->n_nodes;
        }
        uint32_t n = sched_plan_closure(plan, idx, e->closure, e->mark);
        f.closure_csv = eng_csv(e, e->closure, n);
        if (f.closure_csv == NULL) {
            eng_term_fail(ex->t, "engine: out of memory");
            return;
        }
    }
    eng_op *op;
    if (!op_start(ex, op_kind, idx, attempt, pos, &op))
        return;
    op->data = (void *)(intptr_t)in->kind;
    op_sent(op, store_state_node_failed(e->redis, ex->t->epoch, &f, script_reply, op));
}

static void
on_failed(eng_exec *ex, const Floe__TaskFailed *m, const floe_bus_pos *pos)
{
    uint32_t idx;
    if (find_node(ex, m->node_id, &idx) == NULL) {
        floe_log_warn(&ex->t->log, "execution %s has no node \"%s\"; event dropped", ex->id,
                      m->node_id);
        eng_ack(ex->t, pos);
        return;
    }
    char logs[320];
    fail_in in = {.kind = m->kind == FLOE__ERROR_KIND__ERROR_KIND_SYSTEM ? 2 : 1,
                  .retriable = m->retriable,
                  .code = m->code,
                  .message = m->message,
                  .worker = m->worker_id,
                  .started_us = m->started_unix_us,
                  .finished_us = m->finished_unix_us,
                  .logs = log_refs(logs, m->stdout_log, m->stderr_log)};
    node_fail(ex, idx, m->attempt, &in, pos, OP_FAILED);
}

void
eng_gate_failed(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code, const char *msg,
                const floe_bus_pos *pos)
{
    eng_node_failed_by(ex, node, attempt, code, msg, NULL, pos);
}

void
eng_node_failed_by(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code, const char *msg,
                   const char *worker, const floe_bus_pos *pos)
{
    fail_in in = {.kind = FLOE_ERROR_KIND_USER,
                  .retriable = false,
                  .code = code,
                  .message = msg,
                  .worker = worker};
    node_fail(ex, node, attempt, &in, pos, OP_FAILED);
}

void
eng_map_failed(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code, const char *msg)
{
    eng_gate_failed(ex, node, attempt, code, msg, NULL);
}

static void
lease_expired(eng_exec *ex, uint32_t idx, uint32_t attempt)
{
    const sched_pnode *pn = eng_pnode(ex, idx, NULL);
    if (pn == NULL)
        return;
    if (pn->role == SCHED_ROLE_GATE) { /* its due time, not a worker's lease */
        eng_gate_due(ex, idx, attempt);
        return;
    }
    /* A child's check; for a dynamic task, the check says whether it waits for its child
     * or its worker was lost (then eng_lease_lost). */
    if (pn->role == SCHED_ROLE_CHILD || (pn->task != NULL && pn->task->dynamic)) {
        eng_child_due(ex, idx, attempt);
        return;
    }
    eng_lease_lost(ex, idx, attempt);
}

void
eng_lease_lost(eng_exec *ex, uint32_t idx, uint32_t attempt)
{
    fail_in in = {.kind = FLOE_ERROR_KIND_SYSTEM,
                  .retriable = true,
                  .code = "lease_expired",
                  .message = "the worker stopped renewing its lease on the attempt (lost, "
                             "killed or hung)",
                  .lease_check = true};
    node_fail(ex, idx, attempt, &in, NULL, OP_LEASE);
}

/* --- TaskSucceeded --------------------------------------------------------------------- */

void
eng_node_cached(eng_exec *ex, uint32_t node, uint32_t attempt, const uint8_t *outputs, size_t len)
{
    eng_node_done(ex, node, attempt, outputs, len, FLOE__PHASE__PHASE_CACHED, NULL);
}

void
eng_node_done(eng_exec *ex, uint32_t node, uint32_t attempt, const uint8_t *outputs, size_t len,
              int phase, const floe_bus_pos *pos)
{
    sched_engine *e = ex->t->e;
    int64_t item;
    const sched_pnode *pn = eng_pnode(ex, node, &item);
    if (pn == NULL)
        return;
    const char *down = item >= 0 ? "" : eng_csv(e, pn->down, pn->n_down);
    if (down == NULL) {
        eng_term_fail(ex->t, "engine: out of memory");
        return;
    }
    char spec[64];
    store_success s = {.exec = ex->id,
                       .node = node,
                       .attempt = attempt,
                       .outputs = outputs,
                       .outputs_len = len,
                       .worker = "",
                       .down_csv = down,
                       .phase = phase,
                       .item = eng_item_spec(ex, node, spec)};
    eng_op *op;
    if (!op_start(ex, phase == FLOE__PHASE__PHASE_CACHED ? OP_CACHED : OP_SUCCEEDED, node, attempt,
                  pos, &op))
        return;
    op_sent(op, store_state_node_succeeded(e->redis, ex->t->epoch, &s, script_reply, op));
}

static void
on_succeeded(eng_exec *ex, const Floe__TaskSucceeded *m, const floe_bus_pos *pos)
{
    sched_engine *e = ex->t->e;
    uint32_t idx;
    const sched_pnode *pn = find_node(ex, m->node_id, &idx);
    if (pn == NULL) {
        floe_log_warn(&ex->t->log, "execution %s has no node \"%s\"; event dropped", ex->id,
                      m->node_id);
        eng_ack(ex->t, pos);
        return;
    }
    if (pn->task != NULL && pn->task->dynamic) { /* its result is a workflow to run */
        const Floe__Value *doc = sched_inputs_value(m->outputs, m->n_outputs, "workflow");
        if (doc != NULL) {
            eng_dynamic_start(ex, idx, m->attempt, doc, m->worker_id, pos);
            return;
        }
    }
    /* The declared outputs, typed, in declared order; anything else is a USER error. */
    const Floe__Interface *ifc = pn->task->interface;
    size_t n_out = ifc != NULL ? ifc->n_outputs : 0;
    Floe__NamedValue **outs =
        n_out > 0 ? floe_arena_alloc(e->scratch, n_out * sizeof(*outs)) : NULL;
    if (n_out > 0 && outs == NULL) {
        eng_term_fail(ex->t, "engine: out of memory");
        return;
    }
    char why[512] = "";
    (void)sched_decide_outputs(ifc, m->outputs, m->n_outputs, outs, why, sizeof(why));
    if (why[0] != '\0') {
        char logs[320];
        fail_in in = {.kind = FLOE_ERROR_KIND_USER,
                      .retriable = true,
                      .code = "bad_output",
                      .message = why,
                      .worker = m->worker_id,
                      .started_us = m->started_unix_us,
                      .finished_us = m->finished_unix_us,
                      .logs = log_refs(logs, m->stdout_log, m->stderr_log)};
        node_fail(ex, idx, m->attempt, &in, pos, OP_FAILED);
        return;
    }
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    vm.entries = outs;
    vm.n_entries = n_out;
    size_t len = floe__value_map__get_packed_size(&vm);
    uint8_t *packed = floe_arena_alloc(e->scratch, len ? len : 1);
    const char *down = idx >= ex->plan->plan->n_nodes ? "" : eng_csv(e, pn->down, pn->n_down);
    if (packed == NULL || down == NULL) {
        eng_term_fail(ex->t, "engine: out of memory");
        return;
    }
    floe__value_map__pack(&vm, packed);
    char worker[128], logs[320], spec[64];
    store_success s = {.exec = ex->id,
                       .node = idx,
                       .attempt = m->attempt,
                       .outputs = packed,
                       .outputs_len = len,
                       .worker = store_state_text(worker, sizeof(worker), m->worker_id, true),
                       .started_us = m->started_unix_us,
                       .finished_us = m->finished_unix_us,
                       .down_csv = down,
                       .phase = FLOE__PHASE__PHASE_SUCCEEDED,
                       .logs = log_refs(logs, m->stdout_log, m->stderr_log),
                       .item = eng_item_spec(ex, idx, spec)};
    eng_op *op;
    if (!op_start(ex, OP_SUCCEEDED, idx, m->attempt, pos, &op))
        return;
    if (eng_cache_applies(ex, pn)) { /* kept for the catalog, should the state say so */
        if ((op->buf = floe_malloc(len ? len : 1)) == NULL) {
            eng_op_free(op);
            eng_term_fail(ex->t, "engine: out of memory");
            return;
        }
        memcpy(op->buf, packed, len);
        op->buf_len = len;
    }
    op_sent(op, store_state_node_succeeded(e->redis, ex->t->epoch, &s, script_reply, op));
}

static void
exec_abort(eng_exec *ex, int phase, const char *why, const floe_bus_pos *pos)
{
    char msg[ENG_MSG_MAX];
    eng_op *op;
    if (!op_start(ex, OP_ABORT, 0, 0, pos, &op))
        return;
    op_sent(op, store_state_exec_abort(ex->t->e->redis, ex->t->epoch, ex->id, phase,
                                       store_state_text(msg, sizeof(msg), why, false), script_reply,
                                       op));
}

/* --- Intake ---------------------------------------------------------------------------- */

void
eng_handle_message(eng_exec *ex, Floe__MessageType type, const ProtobufCMessage *msg,
                   const floe_bus_pos *pos)
{
    switch (type) {
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED:
        on_requested(ex, (const Floe__ExecutionRequested *)msg, pos);
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED:
        on_started(ex, (const Floe__TaskStarted *)msg, pos);
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED:
        on_succeeded(ex, (const Floe__TaskSucceeded *)msg, pos);
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED:
        on_failed(ex, (const Floe__TaskFailed *)msg, pos);
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED:
        eng_lineage_event(ex, (const Floe__LineageRecorded *)msg, pos);
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED:
        eng_gate_resolved(ex, (const Floe__GateResolved *)msg, pos);
        break;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_TERMINATE: {
        const Floe__ExecutionTerminate *m = (const Floe__ExecutionTerminate *)msg;
        char why[ENG_MSG_MAX];
        floe_text_fmt(why, sizeof(why), "terminated by %s: %s",
                      m->requested_by[0] ? m->requested_by : "unknown",
                      m->reason[0] ? m->reason : "no reason given");
        exec_abort(ex, FLOE__PHASE__PHASE_ABORTED, why, pos);
        break;
    }
    default:
        eng_ack(ex->t, pos);
        break;
    }
    floe_arena_reset(ex->t->e->scratch);
}

void
eng_run_item(eng_exec *ex, eng_item *it)
{
    sched_engine *e = ex->t->e;
    switch (it->kind) {
    case ITEM_BUS: {
        const ProtobufCMessageDescriptor *d = floe_envelope_descriptor(it->type);
        ProtobufCMessage *m =
            d != NULL ? protobuf_c_message_unpack(d, floe_arena_pb_allocator(e->scratch),
                                                  it->payload_len, it->payload)
                      : NULL;
        if (m == NULL) {
            eng_term_fail(ex->t, "engine: a parked event no longer decodes");
            return;
        }
        eng_handle_message(ex, it->type, m, &it->pos);
        break;
    }
    case ITEM_DISPATCH:
        eng_dispatch(ex, it->node, it->attempt, 0);
        break;
    case ITEM_LEASE:
        lease_expired(ex, it->node, it->attempt);
        break;
    case ITEM_ABORT:
        exec_abort(ex, it->phase,
                   it->text != NULL ? it->text
                                    : "the execution ran past its timeout (the shortest of the "
                                      "workflow's timeout, its launch plan's and "
                                      "engine.execution_timeout)",
                   NULL);
        break;
    case ITEM_CHILD:
        eng_child_item(ex, it);
        break;
    case ITEM_FINALIZE:
        eng_finalize(ex);
        break;
    }
}
