/*
 * sched_dispatch — from the outbox to Kafka. A node made ready by a script is already in
 * the outbox (same script); here its TaskDispatch is built (inputs resolved from literals,
 * the execution's inputs and upstream outputs in Redis) and produced to
 * <prefix>.tasks.<class>, keyed "<execution>/<node>". The broker's acknowledgement clears
 * the outbox entry (batched). A new term re-sends the whole outbox; a periodic scan
 * re-sends entries older than a few seconds (a produce that failed). Duplicates are
 * harmless: a worker's claim lets one copy run.
 */
#include "sched_engine_int.h"

#include "store_state_codec.h"

#include "floe_fault.h"

#include "floe_mem.h"
#include "floe_time.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

enum { OP_READ = 1, OP_SEND, OP_ACK, OP_SCAN };

static void dispatch_delivered(eng_op *op, floe_rc rc, const char *reason);

#define SCAN_BATCH 500
#define RESEND_AFTER_MS 5000
/* Distinct upstream nodes read for one dispatch: as many as a task may have inputs
 * (spec.md: 256), so no input is ever dispatched without its value (review M2). */
#define FIELDS_MAX 256

/* --- Building -------------------------------------------------------------------------- */

typedef struct disp_src {
    const uint8_t *data; /* packed floe.ValueMap from Redis (or the cached inputs) */
    size_t len;
    Floe__ValueMap *map; /* unpacked on first use */
} disp_src;

static const Floe__Value *
map_find(sched_engine *e, disp_src *src, const char *name)
{
    if (src->map == NULL && src->data != NULL)
        src->map =
            floe__value_map__unpack(floe_arena_pb_allocator(e->scratch), src->len, src->data);
    if (src->map == NULL)
        return NULL;
    for (size_t i = 0; i < src->map->n_entries; i++)
        if (strcmp(src->map->entries[i]->name, name) == 0)
            return src->map->entries[i]->value;
    return NULL;
}

static const Floe__Value *
wf_default(const sched_plan *plan, const char *name)
{
    const Floe__Interface *ifc = plan->spec->interface;
    for (size_t i = 0; ifc != NULL && i < ifc->n_inputs; i++)
        if (strcmp(ifc->inputs[i]->name, name) == 0)
            return ifc->inputs[i]->default_value;
    return NULL;
}

static unsigned
class_index(sched_engine *e, const char *cls)
{
    for (unsigned i = 0; i < e->n_classes; i++)
        if (strcmp(e->classes[i], cls) == 0)
            return i;
    return 0;
}

/* What a dispatch reads besides inputs and outputs: a map item's value; the on_failure
 * handler's failed node and error (text). */
typedef struct disp_more {
    const disp_src *element;
    const disp_src *failure; /* [2], or NULL */
} disp_more;

/* The value binding b gives: a literal, the execution's input (or the workflow's default),
 * an upstream output among up[0..n_up), or the failure (more); NULL when there is none. */
static const Floe__Value *
binding_value(sched_engine *e, const sched_plan *plan, const sched_binding *b, disp_src *inputs,
              const uint32_t *up, disp_src *outs, size_t n_up, const disp_more *more)
{
    const Floe__Value *v = NULL;
    if (b->kind == SCHED_SRC_FAILURE) {
        const disp_src *f = more != NULL && more->failure != NULL
                                ? &more->failure[strcmp(b->ref, "error") == 0]
                                : NULL;
        Floe__Value *s = floe_arena_alloc(e->scratch, sizeof(*s));
        char *text =
            f != NULL ? floe_arena_strndup(e->scratch, f->data != NULL ? (const char *)f->data : "",
                                           f->data != NULL ? f->len : 0)
                      : NULL;
        if (s == NULL || text == NULL)
            return NULL;
        floe__value__init(s);
        s->kind_case = FLOE__VALUE__KIND_STRING;
        s->string = text;
        return s;
    }
    if (b->kind == SCHED_SRC_LITERAL) {
        v = b->literal;
    } else if (b->kind == SCHED_SRC_INPUT) {
        v = map_find(e, inputs, b->ref);
        if (v == NULL)
            v = wf_default(plan, b->ref);
    } else {
        for (size_t k = 0; k < n_up && v == NULL; k++)
            if (up[k] == b->node)
                v = map_find(e, &outs[k], b->ref);
    }
    return v;
}

/* A map item's value (its map's `over` input takes it), decoded into the scratch arena. */
static const Floe__Value *
item_value(sched_engine *e, const disp_src *element)
{
    return element != NULL && element->data != NULL
               ? floe__value__unpack(floe_arena_pb_allocator(e->scratch), element->len,
                                     element->data)
               : NULL;
}

/* Builds and produces. up[k]/fields[k]: upstream outputs read for this dispatch; element:
 * a map item's value (packed floe.Value), which its map's `over` input takes. A map node
 * itself is not produced: with its inputs resolved, its items start. */
static void
send_dispatch(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us, const uint32_t *up,
              disp_src *outs, size_t n_up, disp_src *inputs, const char *cache_key,
              const disp_more *more)
{
    const disp_src *element = more != NULL ? more->element : NULL;
    eng_term *t = ex->t;
    sched_engine *e = t->e;
    const sched_plan *plan = ex->plan->plan;
    int64_t item;
    const sched_pnode *pn = eng_pnode(ex, node, &item);
    if (pn == NULL)
        return;
    if (pn->role == SCHED_ROLE_JOIN) {
        eng_branch_join(ex, node, attempt);
        return;
    }
    if (pn->role == SCHED_ROLE_GATE) {
        eng_gate_start(ex, node, attempt,
                       pn->n_inputs == 1
                           ? binding_value(e, plan, &pn->inputs[0], inputs, up, outs, n_up, more)
                           : NULL);
        return;
    }
    if (pn->role == SCHED_ROLE_DECIDE) { /* its operands, in order (NULL: none) */
        const Floe__Value **ops = floe_arena_alloc(e->scratch, (pn->n_inputs + 1) * sizeof(*ops));
        if (ops == NULL) {
            eng_term_fail(t, "engine: out of memory (branch)");
            return;
        }
        for (uint32_t k = 0; k < pn->n_inputs; k++)
            ops[k] = binding_value(e, plan, &pn->inputs[k], inputs, up, outs, n_up, more);
        eng_branch_decide(ex, node, attempt, ops, pn->n_inputs);
        return;
    }
    if (pn->role == SCHED_ROLE_CHILD) { /* its bound inputs; the plan gives the rest */
        Floe__NamedValue *cv = floe_arena_alloc(e->scratch, (pn->n_inputs + 1) * sizeof(*cv));
        Floe__NamedValue **cp = floe_arena_alloc(e->scratch, (pn->n_inputs + 1) * sizeof(*cp));
        if (cv == NULL || cp == NULL) {
            eng_term_fail(t, "engine: out of memory (child execution)");
            return;
        }
        size_t nc = 0;
        for (uint32_t k = 0; k < pn->n_inputs; k++) {
            const Floe__Value *v;
            if (item >= 0 && strcmp(pn->inputs[k].name, pn->map->over) == 0)
                v = item_value(e, element);
            else
                v = binding_value(e, plan, &pn->inputs[k], inputs, up, outs, n_up, more);
            if (v == NULL)
                continue;
            floe__named_value__init(&cv[nc]);
            cv[nc].name = (char *)pn->inputs[k].name;
            cv[nc].value = (Floe__Value *)v;
            cp[nc] = &cv[nc];
            nc++;
        }
        if (pn->map != NULL && item < 0) /* its items start; each starts a child */
            eng_map_expand(ex, node, attempt, cp, nc);
        else
            eng_child_start(ex, node, attempt, cp, nc);
        return;
    }
    const Floe__TaskSpec *task = pn->task;
    const Floe__Interface *ifc = task->interface;
    Floe__TaskDispatch d = FLOE__TASK_DISPATCH__INIT;
    char idbuf[SCHED_PLAN_ID_SIZE];
    d.execution_id = ex->id;
    d.node_id = (char *)eng_node_id(ex, node, idbuf);
    d.node_index = node;
    d.attempt = attempt;
    d.epoch = t->epoch;
    d.task = task->id;
    d.resource_class = task->resource_class;
    d.executor = task->executor;
    d.container = task->container;
    d.resources = task->resources;
    d.timeout_ms = task->timeout_ms;
    int64_t now = floe_now_us(), mono = floe_mono_us();
    d.dispatched_unix_us = now;
    d.ready_unix_us = ready_us > 0 ? now - (mono - ready_us) : 0;
    d.lease_ms = (uint32_t)e->cfg->attempt_lease_ms;
    d.cache_key = cache_key != NULL ? (char *)cache_key : "";
    size_t n_in = ifc != NULL ? ifc->n_inputs : 0;
    Floe__NamedValue *vals = n_in ? floe_arena_alloc(e->scratch, n_in * sizeof(*vals)) : NULL;
    Floe__NamedValue **ptrs = n_in ? floe_arena_alloc(e->scratch, n_in * sizeof(*ptrs)) : NULL;
    if (n_in > 0 && (vals == NULL || ptrs == NULL)) {
        eng_term_fail(t, "engine: out of memory (dispatch)");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_in; i++) {
        const Floe__InputSpec *want = ifc->inputs[i];
        const sched_binding *b = NULL;
        for (uint32_t k = 0; k < pn->n_inputs; k++)
            if (strcmp(pn->inputs[k].name, want->name) == 0)
                b = &pn->inputs[k];
        const Floe__Value *v = NULL;
        if (item >= 0 && strcmp(want->name, pn->map->over) == 0) {
            v = item_value(e, element);
        } else if (b == NULL) {
            v = want->default_value;
        } else {
            v = binding_value(e, plan, b, inputs, up, outs, n_up, more);
        }
        if (v == NULL) {
            floe_log_ctx c = {.comp = "engine",
                              .exec = ex->id,
                              .node = d.node_id,
                              .attempt = attempt,
                              .epoch = t->epoch};
            floe_log_warn(&c, "input \"%s\" has no value; dispatched without it", want->name);
            continue;
        }
        floe__named_value__init(&vals[n]);
        vals[n].name = want->name;
        vals[n].value = (Floe__Value *)v;
        ptrs[n] = &vals[n];
        n++;
    }
    if (pn->map != NULL && item < 0) {
        eng_map_expand(ex, node, attempt, ptrs, n);
        return;
    }
    if (cache_key == NULL && eng_cache_applies(ex, pn)) {
        eng_cache_begin(ex, node, attempt, ready_us, ptrs, n);
        return;
    }
    d.inputs = ptrs;
    d.n_inputs = n;
    d.outputs = ifc != NULL ? ifc->outputs : NULL;
    d.n_outputs = ifc != NULL ? ifc->n_outputs : 0;
    if (task->dynamic) { /* it returns a workflow document, not its outputs */
        static Floe__LiteralType text = {PROTOBUF_C_MESSAGE_INIT(&floe__literal_type__descriptor),
                                         .simple = FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING};
        static Floe__Variable doc = {PROTOBUF_C_MESSAGE_INIT(&floe__variable__descriptor),
                                     .name = "workflow", .type = &text};
        static Floe__Variable *docs[] = {&doc};
        d.outputs = docs;
        d.n_outputs = 1;
    }

    unsigned cls = class_index(e, task->resource_class);
    char topic[192];
    const char *tp = e->class_topics[cls];
    if (e->n_classes == 0 || strcmp(e->classes[cls], task->resource_class) != 0) {
        char suffix[96];
        snprintf(suffix, sizeof(suffix), "tasks.%s", task->resource_class);
        floe_config_topic(e->cfg, suffix, topic, sizeof(topic));
        tp = topic;
    }
    char key[STORE_KEY_MAX + 160], member[STORE_KEY_MAX + 16];
    int klen = snprintf(key, sizeof(key), "%s/%s", ex->id, d.node_id);
    store_member(member, ex->id, node, attempt);
    if (task->queue_timeout_ms > 0) /* its own claim time, for outbox_ack.lua */
        snprintf(member + strlen(member), 16, "#%u", task->queue_timeout_ms);
    eng_op *op = eng_op_new(t, ex, OP_SEND);
    if (op == NULL || (op->str = floe_strdup(member)) == NULL) {
        eng_op_free(op);
        eng_term_fail(t, "engine: out of memory (dispatch)");
        return;
    }
    op->delivered = dispatch_delivered;
    op->cls = cls;
    op->node = node;
    op->attempt = attempt;
    floe_err err = {0};
    floe_rc rc =
        floe_bus_produce(t->bus, tp, key, (size_t)klen,
                         FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d.base, op, NULL, &err);
    if (rc != FLOE_OK) {
        floe_metric_add(e->m_dispatch_fail, 1);
        floe_log_warn(&t->log, "dispatch %s: %s (kept in the outbox)", member, err.msg);
        eng_op_free(op);
        return;
    }
    FLOE_FAULT("sched.after_dispatch_produced");
    if (ready_us > 0)
        floe_metric_observe_us(e->m_ready_lat, mono - ready_us);
}

/* --- Clearing the outbox --------------------------------------------------------------- */

/* Queues member (taken) for the next batched outbox_ack. */
static void
outbox_clear(eng_term *t, char *member)
{
    if (t->n_acks == ENG_ACK_BATCH)
        eng_flush_acks(t);
    if (t->n_acks == ENG_ACK_BATCH) { /* an ended term: nothing more is written */
        floe_free(member);
        return;
    }
    t->acks[t->n_acks++] = member;
    if (t->n_acks == 1)
        event_active(t->ack_ev, EV_TIMEOUT, 0);
}

/* --- Reading what a dispatch needs ----------------------------------------------------- */

typedef struct read_ctx {
    uint32_t up[FIELDS_MAX];
    size_t n_up;
    bool verify, want_inputs, keyed;
    bool failure;  /* the on_failure handler: runs in a FAILED execution, reads fn and fe */
    bool map_node; /* a map node: the read says whether its items started (m<node>) */
    bool item;     /* a map item: the read has its value (v<node>) */
    int64_t ready_us;
    char key[65]; /* when keyed: the catalog step is done, the dispatch carries it */
} read_ctx;

static void
read_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    read_ctx *rc = op->data;
    if (t->dead) {
        floe_free(rc);
        eng_op_free(op);
        return;
    }
    if (err != NULL) {
        floe_free(rc);
        eng_term_fail(t, err->msg);
        eng_op_free(op);
        return;
    }
    sched_engine *e = t->e;
    size_t i = 0;
    bool ok = true;
    if (rc->verify) {
        size_t ph_len = 0, rec_len = 0;
        const char *ph = store_reply_str(store_reply_elem(rep, i++), &ph_len);
        const char *rec = store_reply_str(store_reply_elem(rep, i++), &rec_len);
        int64_t xp = 0;
        store_node_rec nr;
        /* Still to send: the execution runs and the node waits READY for this attempt. */
        ok = store_state_int_parse(ph, ph_len, &xp) &&
             (xp == FLOE_PHASE_RUNNING || (rc->failure && xp == FLOE_PHASE_FAILED)) &&
             store_state_node_rec_parse(rec, rec_len, &nr) && nr.phase == FLOE_PHASE_READY &&
             nr.attempt == op->attempt;
    }
    disp_src failure[2] = {{0}, {0}}; /* the failed node's id and error, as text */
    for (int k = 0; rc->failure && k < 2; k++) {
        size_t len = 0;
        const char *v = store_reply_str(store_reply_elem(rep, i++), &len);
        failure[k] = (disp_src){.data = (const uint8_t *)v, .len = len};
    }
    size_t started_len = 0;
    const char *started =
        rc->map_node ? store_reply_str(store_reply_elem(rep, i++), &started_len) : NULL;
    disp_src element = {0};
    if (rc->item) {
        size_t len = 0;
        const char *v = store_reply_str(store_reply_elem(rep, i++), &len);
        element = (disp_src){.data = (const uint8_t *)v, .len = len};
    }
    disp_src inputs = {.data = ex->inputs, .len = ex->inputs_len};
    if (rc->want_inputs) {
        size_t len = 0;
        const char *in = store_reply_str(store_reply_elem(rep, i++), &len);
        inputs = (disp_src){.data = (const uint8_t *)in, .len = len};
    }
    int64_t n_items = 0;
    if (ok && started != NULL && store_state_int_parse(started, started_len, &n_items)) {
        /* READY again with its items started: they all ended */
        eng_map_gather(ex, op->node, op->attempt, (uint32_t)n_items);
        floe_free(rc);
        eng_op_free(op);
        return;
    }
    if (!ok) {
        /* Stale entry (the node moved on, or the execution ended): clear it. */
        char member[STORE_KEY_MAX];
        store_member(member, ex->id, op->node, op->attempt);
        char *m = floe_strdup(member);
        if (m != NULL) /* else it stays and is sent again: harmless */
            outbox_clear(t, m);
    } else {
        disp_src outs[FIELDS_MAX];
        for (size_t k = 0; k < rc->n_up; k++) {
            size_t len = 0;
            const char *o = store_reply_str(store_reply_elem(rep, i + k), &len);
            outs[k] = (disp_src){.data = (const uint8_t *)o, .len = len};
        }
        disp_more more = {.element = &element, .failure = rc->failure ? failure : NULL};
        send_dispatch(ex, op->node, op->attempt, rc->ready_us, rc->up, outs, rc->n_up, &inputs,
                      rc->keyed ? rc->key : NULL, &more);
        floe_arena_reset(e->scratch);
    }
    floe_free(rc);
    eng_op_free(op);
}

void
eng_dispatch(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us)
{
    eng_dispatch_keyed(ex, node, attempt, ready_us, NULL);
}

void
eng_dispatch_keyed(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us,
                   const char *cache_key)
{
    eng_term *t = ex->t;
    sched_engine *e = t->e;
    int64_t item;
    const sched_pnode *pn = t->dead ? NULL : eng_pnode(ex, node, &item);
    if (pn == NULL)
        return;
    /* A map node reads its state every time: whether to start its items or gather them. */
    bool map_node = pn->map != NULL && item < 0;
    bool failure = pn->role == SCHED_ROLE_FAILURE;
    read_ctx rcx = {.verify = ready_us == 0 || map_node || failure,
                    .ready_us = ready_us,
                    .keyed = cache_key != NULL,
                    .map_node = map_node,
                    .item = item >= 0,
                    .failure = failure};
    if (cache_key != NULL)
        snprintf(rcx.key, sizeof(rcx.key), "%s", cache_key);
    for (uint32_t k = 0; k < pn->n_inputs; k++) {
        const sched_binding *b = &pn->inputs[k];
        if (b->kind == SCHED_SRC_INPUT && ex->inputs == NULL)
            rcx.want_inputs = true;
        if (b->kind != SCHED_SRC_OUTPUT)
            continue;
        bool seen = false;
        for (size_t j = 0; j < rcx.n_up; j++)
            seen = seen || rcx.up[j] == b->node;
        if (!seen && rcx.n_up < FIELDS_MAX)
            rcx.up[rcx.n_up++] = b->node;
    }
    if (!rcx.verify && !rcx.want_inputs && rcx.n_up == 0 && !rcx.item) {
        disp_src inputs = {.data = ex->inputs, .len = ex->inputs_len};
        send_dispatch(ex, node, attempt, ready_us, NULL, NULL, 0, &inputs, cache_key, NULL);
        /* (never the handler, a map item or a map node: they always read their state) */
        floe_arena_reset(e->scratch);
        return;
    }
    /* Field names, in the order read_reply consumes them. */
    char names[FIELDS_MAX + 5][16];
    const char *fields[FIELDS_MAX + 5];
    size_t nf = 0;
    if (rcx.verify) {
        fields[nf++] = "ph";
        snprintf(names[nf], sizeof(names[0]), "%u", node);
        fields[nf] = names[nf];
        nf++;
    }
    if (rcx.failure) {
        fields[nf++] = "fn";
        fields[nf++] = "fe";
    }
    if (rcx.map_node || rcx.item) {
        snprintf(names[nf], sizeof(names[0]), "%c%u", rcx.map_node ? 'm' : 'v', node);
        fields[nf] = names[nf];
        nf++;
    }
    if (rcx.want_inputs)
        fields[nf++] = "in";
    for (size_t j = 0; j < rcx.n_up; j++) {
        snprintf(names[nf], sizeof(names[0]), "o%u", rcx.up[j]);
        fields[nf] = names[nf];
        nf++;
    }
    read_ctx *rc = floe_malloc(sizeof(*rc));
    eng_op *op = rc != NULL ? eng_op_new(t, ex, OP_READ) : NULL;
    if (op == NULL) {
        floe_free(rc);
        eng_term_fail(t, "engine: out of memory (dispatch)");
        return;
    }
    *rc = rcx;
    op->data = rc;
    op->node = node;
    op->attempt = attempt;
    if (store_state_hmget(e->redis, ex->id, fields, nf, read_reply, op) != FLOE_OK) {
        floe_free(rc);
        eng_op_free(op);
        eng_term_fail(t, "redis: not connected");
    }
}

/* --- Acknowledgements ------------------------------------------------------------------ */

static void
dispatch_delivered(eng_op *op, floe_rc rc, const char *reason)
{
    eng_term *t = op->t;
    sched_engine *e = t->e;
    if (t->dead) {
        eng_op_free(op);
        return;
    }
    if (rc != FLOE_OK) {
        floe_metric_add(e->m_dispatch_fail, 1);
        floe_log_warn(&t->log, "dispatch %s not delivered: %s (kept in the outbox)", op->str,
                      reason != NULL ? reason : "?");
        eng_op_free(op);
        return;
    }
    floe_metric_add(e->m_dispatched[op->cls], 1);
    outbox_clear(t, op->str);
    op->str = NULL;
    eng_op_free(op);
}

static void
ack_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    store_state_res res;
    eng_script_failed(op->t, rep, err, &res);
    eng_op_free(op);
}

void
eng_flush_acks(eng_term *t)
{
    if (t->n_acks == 0 || t->dead)
        return;
    eng_op *op = eng_op_new(t, NULL, OP_ACK);
    floe_rc rc =
        op != NULL ? store_state_outbox_ack(t->e->redis, t->epoch, t->e->cfg->claim_timeout_ms,
                                            (const char *const *)t->acks, t->n_acks, ack_reply, op)
                   : FLOE_ENOMEM;
    for (size_t i = 0; i < t->n_acks; i++)
        floe_free(t->acks[i]);
    t->n_acks = 0;
    if (rc != FLOE_OK) {
        /* The entries stay in the outbox and are sent again: harmless duplicates. */
        eng_op_free(op);
        eng_term_fail(t, "redis: outbox acknowledgement not sent");
    }
}

/* --- Outbox scans ---------------------------------------------------------------------- */

bool
eng_dispatch_member(eng_term *t, const char *m, size_t len)
{
    char id[ENG_EXEC_ID_MAX + 1];
    uint32_t node, attempt;
    if (store_member_parse(m, len, id, sizeof(id), &node, &attempt) != FLOE_OK)
        return true; /* not ours to send */
    eng_exec *ex = eng_exec_get(t, id, true);
    eng_item *it = ex != NULL ? eng_item_new(ITEM_DISPATCH) : NULL;
    if (it == NULL) {
        eng_term_fail(t, "engine: out of memory (dispatch)");
        return false;
    }
    it->node = node;
    it->attempt = attempt;
    eng_exec_push(ex, it);
    if (ex->state == EX_NEW)
        eng_exec_load(ex);
    else
        eng_exec_drain(ex);
    return true;
}

static void
scan_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    t->scanning_outbox = false;
    if (t->dead || err != NULL) {
        if (!t->dead)
            eng_term_fail(t, err->msg);
        eng_op_free(op);
        return;
    }
    size_t n = store_reply_len(rep);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *m = store_reply_str(store_reply_elem(rep, i), &len);
        if (m != NULL && !eng_dispatch_member(t, m, len))
            break;
    }
    if (n == SCAN_BATCH && !t->dead) {
        t->outbox_offset += SCAN_BATCH;
        eng_outbox_scan(t);
    } else {
        t->outbox_offset = 0;
    }
    eng_op_free(op);
}

void
eng_outbox_scan(eng_term *t)
{
    if (t->scanning_outbox || t->dead)
        return;
    /* The first scan of a term takes everything; later ones only what lingers. */
    int64_t max = t->sweeps == 0 ? INT64_MAX / 2 : floe_now_us() / 1000 - RESEND_AFTER_MS;
    eng_op *op = eng_op_new(t, NULL, OP_SCAN);
    if (op == NULL)
        return;
    t->scanning_outbox = true;
    if (store_state_zdue(t->e->redis, STORE_KEY_OUTBOX, max, t->outbox_offset, SCAN_BATCH,
                         scan_reply, op) != FLOE_OK) {
        t->scanning_outbox = false;
        eng_op_free(op);
        eng_term_fail(t, "redis: not connected");
    }
}
