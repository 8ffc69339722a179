/*
 * sched_finish — the end of an execution, and the leader's periodic sweeps.
 *
 * Finalization reads the whole execution state once (HGETALL, the attempt log), writes
 * the execution, its nodes and attempts to PostgreSQL in one fenced transaction, then
 * lets the Redis state expire after the retention period. Executions that ended under a
 * previous leader but were not yet written are found in the finalize set.
 *
 * Sweeps (every 100 ms, each bounded): retries whose backoff elapsed move to the outbox;
 * expired attempt leases (a sorted set by deadline, never a scan of executions) become
 * SYSTEM failures; executions past their deadline end TIMED_OUT; lingering outbox
 * entries are sent again.
 */
#include "sched_engine_int.h"

#include "floe_fault.h"
#include "sched_state_read.h"

#include "floe_canon.h"
#include "floe_digest.h"
#include "floe_mem.h"
#include "floe_value.h"
#include "floe_time.h"
#include "store_exec.h"
#include "store_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OP_FIN_READ = 1,
    OP_FIN_LOG,
    OP_FIN_DONE,
    OP_TIMERS,
    OP_LEASES,
    OP_DEADLINES,
    OP_FINSET,
    OP_DEPTH
};

#define LEASE_SCAN_MAX 200

typedef struct fin_job {
    eng_op *op;
    floe_arena *arena;
    uint64_t epoch;
    store_run_result res;
    sched_state_view view; /* the Redis state, decoded */
    int phase;
    bool bare; /* the full record was refused for its content; a bare one was written */
    store_run_parent parent; /* a child execution's: its parent's node ends with it */
    store_exec *children;    /* not SUCCEEDED: children still running, to abort */
    size_t n_children;
    floe_rc rc;
    floe_err err;
} fin_job;

/* --- Reading the state ----------------------------------------------------------------- */

static const Floe__Value *
vm_find(floe_arena *a, const uint8_t *data, size_t len, const char *name)
{
    if (data == NULL)
        return NULL;
    Floe__ValueMap *m = floe__value_map__unpack(floe_arena_pb_allocator(a), len, data);
    for (size_t i = 0; m != NULL && i < m->n_entries; i++)
        if (strcmp(m->entries[i]->name, name) == 0)
            return m->entries[i]->value;
    return NULL;
}

/* A partition value: text, or the text form of the scalar input it names. */
static const char *
fin_partition_value(floe_arena *a, eng_exec *ex, const char *v)
{
    char name[80];
    if (sscanf(v, "{{inputs.%64[A-Za-z0-9_]}}", name) != 1)
        return v;
    const Floe__Value *in = vm_find(a, ex->inputs, ex->inputs_len, name);
    char *buf = floe_arena_alloc(a, 64);
    if (in == NULL || buf == NULL)
        return NULL;
    switch (in->kind_case) {
    case FLOE__VALUE__KIND_STRING:
        return in->string;
    case FLOE__VALUE__KIND_INTEGER:
        snprintf(buf, 64, "%" PRId64, in->integer);
        return buf;
    case FLOE__VALUE__KIND_FLOAT:
        snprintf(buf, 64, "%.17g", in->float_);
        return buf;
    case FLOE__VALUE__KIND_BOOLEAN:
        return in->boolean ? "true" : "false";
    case FLOE__VALUE__KIND_DATETIME_UNIX_US:
        floe_datetime_format(in->datetime_unix_us, buf, 64);
        return buf;
    case FLOE__VALUE__KIND_DURATION_US:
        snprintf(buf, 64, "%" PRId64 "us", in->duration_us);
        return buf;
    default:
        return NULL;
    }
}

/* The datasets a succeeded execution publishes (WorkflowSpec.publish), for the outbox
 * written with its result. Event ids are derived from the execution, so writing the
 * result again publishes nothing new. */
static void
fin_publish(fin_job *j, eng_exec *ex, const Floe__NamedValue *vals, size_t n)
{
    const Floe__WorkflowSpec *spec = ex->plan->plan->spec;
    floe_arena *a = j->arena;
    if (spec == NULL || spec->n_publish == 0)
        return;
    store_run_pub *pubs = floe_arena_alloc(a, spec->n_publish * sizeof(*pubs));
    if (pubs == NULL)
        return;
    size_t np = 0;
    for (size_t i = 0; i < spec->n_publish; i++) {
        const Floe__DatasetPublish *p = spec->publish[i];
        const Floe__Value *v = NULL;
        const char *node = "";
        for (size_t k = 0; k < n; k++)
            if (strcmp(vals[k].name, p->output) == 0)
                v = vals[k].value;
        for (uint32_t k = 0; k < ex->plan->plan->n_outputs; k++) {
            const sched_binding *b = &ex->plan->plan->outputs[k];
            if (strcmp(b->name, p->output) == 0 && b->kind == SCHED_SRC_OUTPUT)
                node = ex->plan->plan->nodes[b->node].id;
        }
        if (v == NULL)
            continue;
        Floe__DataPublished m = FLOE__DATA_PUBLISHED__INIT;
        Floe__KeyValue *kv = floe_arena_alloc(a, (p->n_partition + 1) * sizeof(*kv));
        Floe__KeyValue **kvp = floe_arena_alloc(a, (p->n_partition + 1) * sizeof(*kvp));
        char *id = floe_arena_alloc(a, 160), *uri = floe_arena_alloc(a, 400);
        char *digest = floe_arena_alloc(a, FLOE_CANON_HEX_LEN + 8);
        if (kv == NULL || kvp == NULL || id == NULL || uri == NULL || digest == NULL)
            return;
        bool ok = true;
        for (size_t k = 0; k < p->n_partition; k++) {
            floe__key_value__init(&kv[k]);
            kv[k].key = p->partition[k]->key;
            const char *pv = fin_partition_value(a, ex, p->partition[k]->value);
            ok = ok && pv != NULL;
            kv[k].value = (char *)(pv != NULL ? pv : "");
            kvp[k] = &kv[k];
        }
        if (!ok) {
            floe_log_warn(&ex->t->log,
                          "execution %s: dataset %s not published: a partition "
                          "value has no text form",
                          ex->id, p->dataset);
            continue;
        }
        m.dataset = p->dataset;
        m.partition = kvp;
        m.n_partition = p->n_partition;
        if (v->kind_case == FLOE__VALUE__KIND_BLOB && v->blob != NULL) {
            m.uri = v->blob->uri;
            m.digest = v->blob->digest;
            m.size = v->blob->size;
        } else {
            snprintf(uri, 400, "floe://executions/%s/outputs/%s", ex->id, p->output);
            memcpy(digest, "sha256:", 7);
            if (floe_canon_value_digest(v, digest + 7) != 0)
                continue;
            m.uri = uri;
            m.digest = digest;
        }
        m.execution_id = ex->id;
        m.node_id = (char *)node;
        m.published_unix_us = floe_now_us();
        m.producer = "floe";
        m.project = spec->id != NULL ? spec->id->project : (char *)"";
        int w = snprintf(id, 160, "floe:%s/%s/%s", ex->id, p->output, p->dataset);
        if (w < 0 || w > 128) {
            char hex[FLOE_SHA256_HEX_LEN + 1];
            floe_sha256_hex(id, strlen(id), hex);
            snprintf(id, 160, "floe:%s", hex);
        }
        m.event_id = id;
        size_t len = floe__data_published__get_packed_size(&m);
        uint8_t *buf = floe_arena_alloc(a, len ? len : 1);
        if (buf == NULL)
            return;
        floe__data_published__pack(&m, buf);
        pubs[np++] =
            (store_run_pub){.event_id = id, .dataset = p->dataset, .payload = buf, .len = len};
    }
    j->res.pubs = pubs;
    j->res.n_pubs = np;
}

static void
fin_outputs(fin_job *j, eng_exec *ex)
{
    const sched_plan *plan = ex->plan->plan;
    floe_arena *a = j->arena;
    Floe__NamedValue **ev = floe_arena_alloc(a, (plan->n_outputs + 1) * sizeof(*ev));
    Floe__NamedValue *vals = floe_arena_alloc(a, (plan->n_outputs + 1) * sizeof(*vals));
    if (ev == NULL || vals == NULL)
        return;
    size_t n = 0;
    for (uint32_t i = 0; i < plan->n_outputs; i++) {
        const sched_binding *b = &plan->outputs[i];
        const Floe__Value *v = NULL;
        if (b->kind == SCHED_SRC_LITERAL)
            v = b->literal;
        else if (b->kind == SCHED_SRC_INPUT)
            v = vm_find(a, ex->inputs, ex->inputs_len, b->ref);
        else if (b->node < j->res.n_nodes)
            v = vm_find(a, j->view.nodes[b->node].outputs, j->view.nodes[b->node].outputs_len,
                        b->ref);
        if (v == NULL)
            continue;
        floe__named_value__init(&vals[n]);
        vals[n].name = (char *)b->name;
        vals[n].value = (Floe__Value *)v;
        ev[n] = &vals[n];
        n++;
    }
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    vm.entries = ev;
    vm.n_entries = n;
    size_t len = floe__value_map__get_packed_size(&vm);
    uint8_t *out = floe_arena_alloc(a, len ? len : 1);
    if (out == NULL)
        return;
    floe__value_map__pack(&vm, out);
    j->res.outputs = out;
    j->res.outputs_len = len;
    fin_publish(j, ex, vals, n);
}

static bool
fin_parse_all(fin_job *j, eng_exec *ex, const store_reply *rep)
{
    if (!sched_state_read_hash(ex->plan->plan, rep, true, j->arena, &j->view))
        return false;
    j->phase = j->view.phase;
    j->res.started_us = j->view.started_us;
    j->res.finished_us = j->view.finished_us;
    j->res.error = j->view.error;
    j->res.nodes = j->view.nodes;
    j->res.n_nodes = j->view.n_nodes;
    j->res.phase = floe_phase_name(j->phase);
    j->res.exec_id = ex->id;
    if (j->phase == FLOE_PHASE_SUCCEEDED)
        fin_outputs(j, ex);
    return true;
}

static bool
fin_parse_log(fin_job *j, eng_exec *ex, const store_reply *rep)
{
    if (!sched_state_read_log(ex->plan->plan, rep, j->arena, &j->view))
        return false;
    j->res.attempts = j->view.attempts;
    j->res.n_attempts = j->view.n_attempts;
    return true;
}

/* --- Steps ----------------------------------------------------------------------------- */

static void
fin_abandon(fin_job *j, eng_exec *ex)
{
    ex->finalizing = false;
    floe_arena_free(j->arena);
    floe_free(j);
}

/* Gives up a finalization whose job is op->data; why (when not NULL) restarts the term. */
static void
fin_fail(eng_op *op, const char *why)
{
    eng_term *t = op->t;
    fin_abandon(op->data, op->ex);
    if (why != NULL && !t->dead)
        eng_term_fail(t, why);
    eng_op_free(op);
}

static void
recorded_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    store_state_res res;
    if (eng_script_failed(t, rep, err, &res)) {
        eng_op_free(op);
        return;
    }
    int phase = (int)(intptr_t)op->data;
    floe_log_ctx c = {.comp = "engine", .exec = ex->id, .epoch = t->epoch};
    floe_log_info(&c, "execution finished: %s", floe_phase_name(phase));
    if (phase >= 0 && phase < FLOE_PHASE_COUNT)
        floe_metric_add(t->e->m_finished[phase], 1);
    floe_transition tr = floe_transition_find(FLOE_SCOPE_EXEC, FLOE_PHASE_RUNNING, phase);
    if (tr != FLOE_TR_COUNT)
        eng_egress(t, ex, NULL, 0, tr, 0, NULL);
    eng_exec_forget(ex);
    eng_op_free(op);
}

static void
fin_work(void *ctx, void *arg)
{
    fin_job *j = arg;
    store_pg *pg = ctx;
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) == FLOE_OK)
        j->rc = store_run_finish(pg, j->epoch, &j->res, &j->parent, &j->err);
    if (j->rc == FLOE_EINVAL) {
        /* PostgreSQL refused the record for its content: one execution's data must not
         * stop the engine (review C2), so it ends with the refusal as its error and without
         * the details that could not be stored. */
        char why[FLOE_ERR_MSG_MAX];
        floe_text_fmt(why, sizeof(why), "finalization: the record was refused: %s", j->err.msg);
        store_run_result bare = {.exec_id = j->res.exec_id,
                                 .phase = "FAILED",
                                 .error = why,
                                 .started_us = j->res.started_us,
                                 .finished_us = j->res.finished_us};
        if (j->phase != FLOE_PHASE_SUCCEEDED)
            bare.phase = j->res.phase;
        j->bare = true;
        j->rc = store_run_finish(pg, j->epoch, &bare, &j->parent, &j->err);
    }
    if (j->rc == FLOE_OK && j->phase != FLOE_PHASE_SUCCEEDED)
        j->rc = store_exec_children(pg, j->res.exec_id, true, 1000, j->arena, &j->children,
                                    &j->n_children, &j->err);
}

/* Executions this large are written alone: the statement's arrays stay modest. */
#define FIN_BATCH_ROWS 2000

/* The finishes queued together: those publishing no dataset, of one term, in one statement
 * and one commit (issue 25); the rest, and any the statement did not write or an error
 * stopped, each alone (fin_work, which says why and handles a refused record). */
static void
fin_batch(void *ctx, void **jobs, size_t n)
{
    store_pg *pg = ctx;
    const store_run_result *res[FLOE_POOL_BATCH_MAX];
    bool in[FLOE_POOL_BATCH_MAX] = {false}, written[FLOE_POOL_BATCH_MAX];
    store_run_parent parents[FLOE_POOL_BATCH_MAX];
    size_t k = 0;
    uint64_t epoch = 0;
    for (size_t i = 0; i < n; i++) {
        fin_job *j = jobs[i];
        if (j->res.n_pubs > 0 || j->res.n_nodes + j->res.n_attempts > FIN_BATCH_ROWS ||
            (k > 0 && j->epoch != epoch))
            continue;
        epoch = j->epoch;
        in[i] = true;
        res[k++] = &j->res;
    }
    floe_err err = {0};
    if (k > 1 && pg != NULL && store_pg_ensure(pg, &err) == FLOE_OK &&
        store_run_finish_many(pg, epoch, res, k, written, parents, &err) == FLOE_OK) {
        for (size_t i = 0, w = 0; i < n; i++) {
            if (!in[i])
                continue;
            fin_job *j = jobs[i];
            if (!written[w]) {
                in[i] = false; /* the long way says why */
                w++;
                continue;
            }
            j->parent = parents[w++];
            j->rc = FLOE_OK;
            if (j->phase != FLOE_PHASE_SUCCEEDED)
                j->rc = store_exec_children(pg, j->res.exec_id, true, 1000, j->arena, &j->children,
                                            &j->n_children, &j->err);
        }
    } else {
        memset(in, 0, sizeof(in));
    }
    for (size_t i = 0; i < n; i++)
        if (!in[i])
            fin_work(ctx, jobs[i]);
}

static void
fin_done(void *arg)
{
    fin_job *j = arg;
    eng_op *op = j->op;
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    int phase = j->phase;
    floe_rc rc = j->rc;
    char msg[FLOE_ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "%s", j->err.msg);
    if (j->bare)
        floe_log_error(&t->log, "execution %s: its record was refused, written without details",
                       ex->id);
    if (rc == FLOE_OK)
        FLOE_FAULT("sched.after_finish_commit");
    if (rc == FLOE_OK && !t->dead) {
        if (j->parent.execution[0] != '\0')
            eng_child_ended(t, j->parent.execution, j->parent.node, j->parent.attempt, ex->id,
                            j->bare ? "FAILED" : j->res.phase, j->res.outputs, j->res.outputs_len,
                            j->bare ? "its record was refused" : j->res.error);
        if (j->n_children > 0)
            eng_children_abort(t, j->children, j->n_children, ex->id);
    }
    fin_abandon(j, ex);
    if (t->dead) {
        eng_op_free(op);
        return;
    }
    if (rc == FLOE_EFENCED) {
        eng_fenced(t, msg);
    } else if (rc != FLOE_OK && rc != FLOE_ENOTFOUND && rc != FLOE_EINVAL) {
        eng_term_fail(t, msg);
    } else {
        /* Not found, or refused even bare: logged, and the engine moves on (never a term
         * restart for one execution's content). */
        if (rc != FLOE_OK)
            floe_log_error(&t->log, "execution %s: %s", ex->id, msg);
        ex->finalizing = true;
        eng_op *rop = eng_op_new(t, ex, OP_FIN_DONE);
        if (rop != NULL) {
            rop->data = (void *)(intptr_t)phase;
            if (store_state_exec_recorded(t->e->redis, t->epoch, ex->id,
                                          t->e->cfg->state_retention_ms, recorded_reply,
                                          rop) != FLOE_OK) {
                eng_op_free(rop);
                eng_term_fail(t, "redis: not connected");
            }
        }
    }
    eng_op_free(op);
}

static void
log_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    fin_job *j = op->data;
    eng_exec *ex = op->ex;
    if (t->dead || err != NULL) {
        fin_fail(op, err != NULL ? err->msg : NULL);
        return;
    }
    if (!fin_parse_log(j, ex, rep)) {
        fin_fail(op, "engine: out of memory (finalize)");
        return;
    }
    j->op = op;
    j->epoch = t->epoch;
    if (floe_pool_submit_batch(t->e->pool, fin_batch, fin_done, j) != FLOE_OK)
        fin_fail(op, "engine: the database queue is full");
}

static void
all_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    fin_job *j = op->data;
    eng_exec *ex = op->ex;
    if (t->dead || err != NULL) {
        fin_fail(op, err != NULL ? err->msg : NULL);
        return;
    }
    if (!fin_parse_all(j, ex, rep)) {
        fin_fail(op, "engine: out of memory (finalize)");
        return;
    }
    if (!floe_phase_terminal(FLOE_SCOPE_EXEC, j->phase)) {
        /* Not terminal (a stale finalize entry): nothing to write yet. */
        fin_fail(op, NULL);
        return;
    }
    op->kind = OP_FIN_LOG;
    if (store_state_exec_log(t->e->redis, ex->id, log_reply, op) != FLOE_OK)
        fin_fail(op, "redis: not connected");
}

void
eng_finalize(eng_exec *ex)
{
    eng_term *t = ex->t;
    if (ex->finalizing || t->dead || ex->state != EX_READY)
        return;
    fin_job *j = floe_calloc(1, sizeof(*j));
    floe_arena *a = j != NULL ? floe_arena_new(65536, 0) : NULL;
    eng_op *op = a != NULL ? eng_op_new(t, ex, OP_FIN_READ) : NULL;
    if (op == NULL) {
        floe_arena_free(a);
        floe_free(j);
        eng_term_fail(t, "engine: out of memory (finalize)");
        return;
    }
    j->arena = a;
    op->data = j;
    ex->finalizing = true;
    if (store_state_exec_all(t->e->redis, ex->id, all_reply, op) != FLOE_OK)
        fin_fail(op, "redis: not connected");
}

/* --- Sweeps ---------------------------------------------------------------------------- */

static void
park(eng_term *t, const char *id, eng_item_kind kind, uint32_t node, uint32_t attempt, int phase)
{
    eng_exec *ex = eng_exec_get(t, id, true);
    eng_item *it = ex != NULL ? eng_item_new(kind) : NULL;
    if (it == NULL) {
        eng_term_fail(t, "engine: out of memory (sweep)");
        return;
    }
    if (kind == ITEM_FINALIZE && (ex->finalizing || ex->state == EX_LOADING)) {
        eng_item_free(it);
        return;
    }
    it->node = node;
    it->attempt = attempt;
    it->phase = phase;
    eng_exec_push(ex, it);
    if (ex->state == EX_NEW)
        eng_exec_load(ex);
    else
        eng_exec_drain(ex);
}

static void
members_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    bool *busy = op->data;
    if (busy != NULL)
        *busy = false;
    if (t->dead || err != NULL) {
        if (!t->dead)
            eng_term_fail(t, err->msg);
        eng_op_free(op);
        return;
    }
    const store_reply *list = rep;
    size_t first = 0;
    if (op->kind == OP_TIMERS) {
        store_state_res res;
        store_state_parse(rep, &res);
        if (res.st == STORE_ST_FENCED) {
            eng_fenced(t, res.note);
            eng_op_free(op);
            return;
        }
        first = 3;
    }
    size_t n = store_reply_len(list);
    for (size_t i = first; i < n && !t->dead; i++) {
        size_t len;
        const char *m = store_reply_str(store_reply_elem(list, i), &len);
        if (m == NULL)
            continue;
        char id[ENG_EXEC_ID_MAX + 1];
        uint32_t node = 0, attempt = 0;
        if (op->kind == OP_TIMERS || op->kind == OP_LEASES) {
            if (store_member_parse(m, len, id, sizeof(id), &node, &attempt) != FLOE_OK)
                continue;
        } else {
            if (len > ENG_EXEC_ID_MAX)
                continue;
            memcpy(id, m, len);
            id[len] = '\0';
        }
        switch (op->kind) {
        case OP_TIMERS:
            park(t, id, ITEM_DISPATCH, node, attempt, 0);
            break;
        case OP_LEASES:
            park(t, id, ITEM_LEASE, node, attempt, 0);
            break;
        case OP_DEADLINES:
            park(t, id, ITEM_ABORT, 0, 0, FLOE__PHASE__PHASE_TIMED_OUT);
            break;
        case OP_FINSET:
            park(t, id, ITEM_FINALIZE, 0, 0, 0);
            break;
        default:
            break;
        }
    }
    eng_op_free(op);
}

static void
depth_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    if (!op->t->dead && err == NULL)
        floe_metric_set(op->t->e->m_outbox, store_reply_int(rep));
    eng_op_free(op);
}

static void
sweep_call(eng_term *t, int kind, bool *busy)
{
    sched_engine *e = t->e;
    if (busy != NULL && *busy)
        return;
    eng_op *op = eng_op_new(t, NULL, kind);
    if (op == NULL)
        return;
    op->data = busy;
    int64_t now_ms = floe_now_us() / 1000;
    floe_rc rc;
    switch (kind) {
    case OP_TIMERS:
        rc = store_state_timer_fire(e->redis, t->epoch, 100, members_reply, op);
        break;
    case OP_LEASES:
        rc = store_state_zdue(e->redis, STORE_KEY_LEASES, now_ms, 0, LEASE_SCAN_MAX, members_reply,
                              op);
        break;
    case OP_DEADLINES:
        rc = store_state_zdue(e->redis, STORE_KEY_DEADLINES, now_ms, 0, 100, members_reply, op);
        break;
    case OP_FINSET:
        rc = store_state_smembers(e->redis, STORE_KEY_FINALIZE, members_reply, op);
        break;
    default:
        rc = store_state_zcard(e->redis, STORE_KEY_OUTBOX, depth_reply, op);
        break;
    }
    if (rc != FLOE_OK) {
        eng_op_free(op);
        eng_term_fail(t, "redis: not connected");
        return;
    }
    if (busy != NULL)
        *busy = true;
}

void
eng_sweep(eng_term *t)
{
    unsigned s = t->sweeps++;
    sweep_call(t, OP_TIMERS, &t->firing_timers);
    if (s % 3 == 0)
        sweep_call(t, OP_LEASES, &t->scanning_leases);
    if (s % 10 == 0)
        sweep_call(t, OP_DEADLINES, NULL);
    if (s % 50 == 0) {
        sweep_call(t, OP_FINSET, &t->scanning_finalize);
        sweep_call(t, OP_DEPTH, NULL);
        if (s > 0)
            eng_outbox_scan(t);
    }
}
