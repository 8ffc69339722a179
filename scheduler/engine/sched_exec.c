/*
 * sched_exec — the executions a leader holds in memory: only those with work in flight
 * (state lives in Redis). An execution is first seen through an event; until its plan is
 * known, what arrives for it is parked in arrival order, so one execution's events are
 * applied in the order Kafka delivered them.
 *
 * The engine's intake (eng_on_bus): an event goes to its execution, to a feature that
 * consumes its type, or is acknowledged as nobody's.
 *
 * Two ways in: an ExecutionRequested (the execution may be new: record it RUNNING in
 * PostgreSQL, load its workflow), or anything else (read the workflow reference from its
 * Redis state; none there means the execution is unknown or long finished).
 */
#include "sched_engine_int.h"

#include "store_state_codec.h"
#include "sched_inputs.h"

#include "floe_mem.h"
#include "floe_value.h"
#include "floe_time.h"
#include "store_registry.h"
#include "store_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Items ----------------------------------------------------------------------------- */

eng_item *
eng_item_new(eng_item_kind kind)
{
    eng_item *it = floe_calloc(1, sizeof(*it));
    if (it != NULL)
        it->kind = kind;
    return it;
}

void
eng_item_free(eng_item *it)
{
    if (it == NULL)
        return;
    floe_free(it->payload);
    floe_free(it->text);
    floe_free(it);
}

void
eng_exec_push(eng_exec *ex, eng_item *it)
{
    it->next = NULL;
    if (ex->q_tail != NULL)
        ex->q_tail->next = it;
    else
        ex->q_head = it;
    ex->q_tail = it;
}

static eng_item *
exec_pop(eng_exec *ex)
{
    eng_item *it = ex->q_head;
    if (it != NULL) {
        ex->q_head = it->next;
        if (ex->q_head == NULL)
            ex->q_tail = NULL;
    }
    return it;
}

/* --- Executions ------------------------------------------------------------------------ */

static void
exec_maybe_free(eng_exec *ex)
{
    if (ex->in_map || ex->inflight > 0 || ex->q_head != NULL)
        return;
    eng_plan_unref(ex->t->e, ex->plan);
    floe_free(ex->inputs);
    floe_arena_free(ex->rec_arena);
    eng_term_unref(ex->t);
    floe_free(ex);
}

eng_exec *
eng_exec_get(eng_term *t, const char *id, bool create)
{
    eng_exec *ex = floe_map_get(t->execs, id);
    if (ex != NULL || !create)
        return ex;
    if (strlen(id) > ENG_EXEC_ID_MAX || (ex = floe_calloc(1, sizeof(*ex))) == NULL)
        return NULL;
    snprintf(ex->id, sizeof(ex->id), "%s", id);
    ex->t = t;
    if (floe_map_put(t->execs, ex->id, ex) != FLOE_OK) {
        floe_free(ex);
        return NULL;
    }
    ex->in_map = true;
    eng_term_ref(t);
    floe_metric_set(t->e->m_running, (int64_t)floe_map_count(t->execs));
    return ex;
}

static void
zrem_done(const store_reply *rep, const floe_err *err, void *arg)
{
    (void)rep;
    (void)err; /* a member left behind is found again by the next sweep */
    (void)arg;
}

/* The lease and timer entries of an execution whose state Redis no longer holds (retention
 * expired it): nothing will ever answer them, and left in place the oldest of them would
 * fill every sweep's batch and hide the leases that do expire. */
static void
forget_timers(eng_exec *ex)
{
    for (eng_item *it = ex->q_head; it != NULL; it = it->next) {
        if (it->kind != ITEM_LEASE && it->kind != ITEM_DISPATCH)
            continue;
        char m[STORE_KEY_MAX];
        if (store_member(m, ex->id, it->node, it->attempt) != FLOE_OK)
            continue;
        const char *argv[] = {"ZREM", it->kind == ITEM_LEASE ? STORE_KEY_LEASES : STORE_KEY_DELAYED,
                              m};
        (void)store_redis_cmd(ex->t->e->redis, 3, argv, NULL, zrem_done, NULL);
    }
}

static void
exec_drop_items(eng_exec *ex, bool ack)
{
    eng_item *it;
    while ((it = exec_pop(ex)) != NULL) {
        if (ack && it->kind == ITEM_BUS)
            eng_ack(ex->t, &it->pos);
        eng_item_free(it);
    }
}

void
eng_exec_release(eng_exec *ex)
{
    ex->inflight--;
    exec_maybe_free(ex);
}

void
eng_exec_forget(eng_exec *ex)
{
    ex->state = EX_GONE;
    if (ex->in_map) {
        floe_map_del(ex->t->execs, ex->id);
        ex->in_map = false;
        floe_metric_set(ex->t->e->m_running, (int64_t)floe_map_count(ex->t->execs));
    }
    exec_drop_items(ex, true);
    ex->inflight++; /* exec_maybe_free through release, once */
    eng_exec_release(ex);
}

void
eng_term_drop_execs(eng_term *t)
{
    size_t pos = 0, n = 0, cap = floe_map_count(t->execs);
    eng_exec **all = cap > 0 ? floe_malloc(cap * sizeof(*all)) : NULL;
    eng_exec *ex;
    while (all != NULL && (ex = floe_map_next(t->execs, &pos)) != NULL)
        all[n++] = ex;
    for (size_t i = 0; i < n; i++) {
        ex = all[i];
        floe_map_del(t->execs, ex->id);
        ex->in_map = false;
        ex->state = EX_GONE;
        exec_drop_items(ex, false);
        ex->inflight++;
        eng_exec_release(ex);
    }
    floe_free(all);
}

void
eng_exec_drain(eng_exec *ex)
{
    /* Items may start asynchronous work; they are issued in order, and Redis answers in
     * order on one connection. */
    while (ex->q_head != NULL && !ex->t->dead) {
        if (ex->state == EX_GONE) {
            exec_drop_items(ex, true);
            break;
        }
        if (ex->state != EX_READY)
            break;
        eng_item *it = exec_pop(ex);
        ex->inflight++; /* the item may forget ex */
        ex->t->e->next.run_item(ex, it);
        eng_item_free(it);
        eng_exec_release(ex);
    }
}

void
eng_exec_loaded(eng_exec *ex, eng_exec_state state)
{
    ex->state = state;
    if (state == EX_GONE && ex->in_map) {
        eng_exec_forget(ex);
        return;
    }
    eng_exec_drain(ex);
}

/* --- Loading from the Redis head ------------------------------------------------------- */

static void
head_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    if (t->dead) {
        eng_op_free(op);
        return;
    }
    if (err != NULL) {
        eng_term_fail(t, err->msg);
        eng_op_free(op);
        return;
    }
    size_t wf_len = 0, in_len = 0;
    size_t ph_len = 0;
    const char *ph = store_reply_str(store_reply_elem(rep, 0), &ph_len);
    const char *wf = store_reply_str(store_reply_elem(rep, 1), &wf_len);
    const char *in = store_reply_str(store_reply_elem(rep, 2), &in_len);
    if (ph == NULL || wf == NULL || wf_len == 0 || wf_len > 700) {
        floe_log_debug(&t->log, "execution %s: no state in Redis; dropping its events", ex->id);
        forget_timers(ex);
        eng_exec_loaded(ex, EX_GONE);
        eng_op_free(op);
        return;
    }
    int64_t phase = 0;
    (void)store_state_int_parse(ph, ph_len, &phase);
    const char *fl = store_reply_str(store_reply_elem(rep, 3), NULL);
    ex->no_cache = fl != NULL && strchr(fl, 'n') != NULL;
    ex->overwrite_cache = fl != NULL && strchr(fl, 'w') != NULL;
    ex->terminal = floe_phase_terminal(FLOE_SCOPE_EXEC, (int)phase);
    if (in != NULL && in_len > 0 && (ex->inputs = floe_malloc(in_len)) != NULL) {
        memcpy(ex->inputs, in, in_len);
        ex->inputs_len = in_len;
    }
    char ref[701];
    memcpy(ref, wf, wf_len);
    ref[wf_len] = '\0';
    eng_plan_acquire(ex, ref);
    eng_op_free(op);
}

static void
exec_load_head(eng_exec *ex)
{
    ex->state = EX_LOADING;
    eng_op *op = eng_op_new(ex->t, ex, 0);
    static const char *const fields[] = {"ph", "wf", "in", "fl"};
    if (op == NULL) {
        eng_term_fail(ex->t, "engine: out of memory");
        return;
    }
    floe_rc rc = store_state_hmget(ex->t->e->redis, ex->id, fields, 4, head_reply, op);
    if (rc != FLOE_OK) {
        eng_op_free(op);
        eng_term_fail(ex->t, "redis: not connected");
    }
}

/* --- Loading an ExecutionRequested ----------------------------------------------------- */

static const char *
arena_str(floe_arena *a, const char *s)
{
    return s != NULL ? floe_arena_strndup(a, s, strlen(s)) : NULL;
}

typedef struct start_job {
    eng_op *op;
    uint64_t epoch;
    size_t max_nodes;
    bool need_plan;
    store_exec row;
    floe_arena *arena;
    Floe__Identifier *lp; /* to resolve when no workflow was given */
    store_entity lpe;     /* lp read (in arena), for the batch's later jobs naming it too */
    bool have_lpe;
    sched_plan *plan;
    char ref[700];
    char phase[16];
    bool failed;         /* recorded FAILED: the workflow cannot run */
    store_run_node *rec; /* recover: the source's nodes with outputs */
    size_t n_rec;
    bool resolved; /* inputs merged with the launch plan's (row.inputs) */
    floe_rc prc;   /* the workflow cannot run (with perr): recorded FAILED */
    floe_err perr;
    floe_rc rc;
    floe_err err;
} start_job;

/* A request's inputs are text (floe_client): converted to the declared types. */
static floe_rc
given_text(void *arg, const Floe__InputSpec *in, floe_arena *a, const Floe__Value **v,
           floe_err *err)
{
    const Floe__ValueMap *given = arg;
    Floe__Value *conv =
        (Floe__Value *)sched_inputs_value(given->entries, given->n_entries, in->name);
    *v = NULL;
    if (conv == NULL)
        return FLOE_OK;
    if (conv->kind_case == FLOE__VALUE__KIND_STRING &&
        in->type->simple != FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING &&
        floe_value_from_text(in->type, conv->string, a, &conv, err) != FLOE_OK)
        return err->code == FLOE_ENOMEM ? FLOE_ENOMEM : FLOE_EINVAL;
    if (floe_value_check(in->type, conv, err) != FLOE_OK)
        return FLOE_EINVAL;
    *v = conv;
    return FLOE_OK;
}

/* A request naming only a launch plan (a service through floe_client): its inputs are
 * merged with the plan's like a launch through the API, text converted to the declared
 * types. FLOE_EINVAL (the execution fails with the reason) for a bad or missing input. */
static floe_rc
request_inputs(start_job *j, const store_entity *e, floe_err *err)
{
    floe_arena *a = j->arena;
    const Floe__LaunchPlanSpec *lp =
        floe__launch_plan_spec__unpack(floe_arena_pb_allocator(a), e->spec_len, e->spec);
    const Floe__ValueMap *given =
        floe__value_map__unpack(floe_arena_pb_allocator(a), j->row.inputs_len, j->row.inputs);
    if (lp == NULL || lp->interface == NULL || given == NULL)
        return floe_err_user(err, FLOE_EINVAL, "the launch plan or the inputs do not decode");
    for (size_t g = 0; g < given->n_entries; g++) {
        char why[FLOE_ERR_MSG_MAX];
        if (!sched_inputs_givable(lp->interface, lp, given->entries[g]->name, why, sizeof(why)))
            return floe_err_user(err, FLOE_EINVAL, "input \"%.64s\": %.160s",
                                 given->entries[g]->name, why);
    }
    Floe__ValueMap out = FLOE__VALUE_MAP__INIT;
    floe_rc rc =
        sched_inputs_merge(a, lp->interface, lp, given_text, (void *)given, NULL, NULL, &out, err);
    if (rc != FLOE_OK)
        return rc;
    size_t len = floe__value_map__get_packed_size(&out);
    uint8_t *p = floe_arena_alloc(a, len ? len : 1);
    if (p == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    floe__value_map__pack(&out, p);
    j->row.inputs = p;
    j->row.inputs_len = len;
    return FLOE_OK;
}

static bool
same_lp(const Floe__Identifier *a, const Floe__Identifier *b)
{
    return strcmp(a->project, b->project) == 0 && strcmp(a->domain, b->domain) == 0 &&
           strcmp(a->name, b->name) == 0 && strcmp(a->version, b->version) == 0;
}

/* The launch plan of job i (a request naming only a plan): read, or taken from an earlier
 * job of the batch that read the same (a service's backfill sends hundreds together; they
 * are resolved at one instant, as if they had come one by one within it). */
static floe_rc
batch_lp(store_pg *pg, start_job *const *jobs, size_t i, store_entity *lp)
{
    start_job *j = jobs[i];
    for (size_t k = i; k-- > 0;) {
        if (jobs[k]->lp != NULL && jobs[k]->have_lpe && same_lp(jobs[k]->lp, j->lp)) {
            *lp = jobs[k]->lpe;
            return FLOE_OK;
        }
    }
    floe_rc rc =
        store_registry_get(pg, STORE_LAUNCHPLAN, j->lp->project, j->lp->domain, j->lp->name,
                           j->lp->version[0] ? j->lp->version : NULL, j->arena, lp, &j->perr);
    if (rc == FLOE_OK) {
        j->lpe = *lp;
        j->have_lpe = true;
    }
    return rc;
}

/* Whether an earlier job of the batch loaded job i's plan, or found it cached: the loop
 * then has it when job i is done (done functions run in order; one evicted meanwhile is
 * loaded again through the cache). */
static bool
batch_has_plan(start_job *const *jobs, size_t i)
{
    for (size_t k = i; k-- > 0;)
        if (jobs[k]->prc == FLOE_OK && jobs[k]->rc == FLOE_OK &&
            (jobs[k]->plan != NULL || !jobs[k]->need_plan) &&
            strcmp(jobs[k]->ref, jobs[i]->ref) == 0)
            return true;
    return false;
}

/* Before the row moves: the launch plan and the workflow's plan, read (once a batch for
 * jobs that name the same). False when the job is over (a database error). */
static bool
start_pre(store_pg *pg, start_job *const *jobs, size_t i)
{
    start_job *j = jobs[i];
    if (j->row.workflow_name == NULL) {
        store_entity lp;
        j->prc = batch_lp(pg, jobs, i, &lp);
        if (j->prc == FLOE_OK) {
            j->row.workflow_name = arena_str(j->arena, lp.workflow_name);
            j->row.workflow_version = arena_str(j->arena, lp.workflow_version);
            if (j->row.workflow_name == NULL || j->row.workflow_version == NULL)
                j->prc = floe_err_sys(&j->perr, FLOE_ENOMEM, "out of memory");
            else if ((j->prc = request_inputs(j, &lp, &j->perr)) == FLOE_OK)
                j->resolved = true;
        }
        if (j->prc != FLOE_OK)
            j->row.workflow_name = j->row.workflow_version = "?";
    }
    snprintf(j->ref, sizeof(j->ref), "%s/%s/%s/%s", j->row.project, j->row.domain,
             j->row.workflow_name, j->row.workflow_version);
    if (j->prc == FLOE_OK && j->need_plan && batch_has_plan(jobs, i))
        j->need_plan = false;
    if (j->prc == FLOE_OK && j->need_plan)
        j->prc = eng_plan_load(pg, j->row.project, j->row.domain, j->row.workflow_name,
                               j->row.workflow_version, j->max_nodes, &j->plan, &j->perr);
    if (j->prc == FLOE_EIO || j->prc == FLOE_ENOMEM) {
        j->rc = j->prc;
        j->err = j->perr;
        return false;
    }
    return true;
}

/* After the row moved (j->phase says to what): a recovery's source nodes, or the
 * execution recorded FAILED when its workflow cannot run. */
static void
start_post(store_pg *pg, start_job *j)
{
    if (j->prc == FLOE_OK && j->row.recover && j->row.source_execution != NULL &&
        (j->rc = store_run_recoverable(pg, &j->row, j->arena, &j->rec, &j->n_rec, &j->err)) !=
            FLOE_OK)
        return;
    if (j->prc != FLOE_OK && strcmp(j->phase, "RUNNING") == 0) {
        store_run_result res = {.exec_id = j->row.id, .phase = "FAILED", .error = j->perr.msg};
        if ((j->rc = store_run_finish(pg, j->epoch, &res, NULL, &j->err)) == FLOE_OK) {
            j->failed = true;
            snprintf(j->phase, sizeof(j->phase), "FAILED");
            j->err = j->perr;
        }
    }
}

/* QUEUED -> RUNNING of jobs[idx[0..k)) in one statement: run[idx] for those it moved. */
static floe_rc
start_together(store_pg *pg, uint64_t epoch, start_job *const *jobs, const size_t *idx, size_t k,
               bool *run, floe_err *err)
{
    const char *ids[FLOE_POOL_BATCH_MAX] = {NULL};
    bool started[FLOE_POOL_BATCH_MAX];
    for (size_t s = 0; s < k; s++)
        ids[s] = jobs[idx[s]]->row.id;
    floe_rc rc = store_run_start_many(pg, epoch, ids, k, started, err);
    for (size_t s = 0; rc == FLOE_OK && s < k; s++)
        run[idx[s]] = started[s];
    return rc;
}

/* The starts queued together: the usual QUEUED -> RUNNING of all of them in one statement
 * (one commit); requests a service sent on the bus, which have no row yet, recorded
 * together and then started together (issue 25); the rest each the long way
 * (store_run_start says why). */
static void
start_batch(void *ctx, void **vjobs, size_t n)
{
    store_pg *pg = ctx;
    start_job *const *jobs = (start_job *const *)vjobs;
    floe_rc rc = FLOE_EIO;
    floe_err err = {0};
    if (pg == NULL)
        floe_err_sys(&err, FLOE_EIO, "no PostgreSQL connection");
    else
        rc = store_pg_ensure(pg, &err);
    size_t idx[FLOE_POOL_BATCH_MAX];
    bool live[FLOE_POOL_BATCH_MAX], run[FLOE_POOL_BATCH_MAX] = {false};
    size_t k = 0;
    uint64_t epoch = 0;
    for (size_t i = 0; i < n; i++) {
        start_job *j = jobs[i];
        if (rc != FLOE_OK) {
            j->rc = rc;
            j->err = err;
        }
        live[i] = rc == FLOE_OK && start_pre(pg, jobs, i);
        if (live[i] && k == 0)
            epoch = j->epoch;
        /* A term's starts only (jobs of a term just ended may still be queued). */
        if (live[i] && j->epoch == epoch)
            idx[k++] = i;
    }
    /* One alone takes the single-row statements: the same work. */
    if (k > 1 && start_together(pg, epoch, jobs, idx, k, run, &err) == FLOE_OK) {
        const store_exec *rows[FLOE_POOL_BATCH_MAX];
        size_t m = 0, absent[FLOE_POOL_BATCH_MAX];
        for (size_t s = 0; s < k; s++)
            if (!run[idx[s]]) {
                absent[m] = idx[s];
                rows[m++] = &jobs[idx[s]]->row;
            }
        bool recorded[FLOE_POOL_BATCH_MAX];
        if (m > 1 && store_run_record_many(pg, rows, m, recorded, &err) == FLOE_OK) {
            size_t r = 0;
            for (size_t s = 0; s < m; s++)
                if (recorded[s])
                    absent[r++] = absent[s];
            if (r > 0)
                (void)start_together(pg, epoch, jobs, absent, r, run, &err);
        }
    }
    /* Whatever a statement above did not start (or an error stopped) goes the long way:
     * store_run_start starts it, or says why not. */
    for (size_t i = 0; i < n; i++) {
        start_job *j = jobs[i];
        if (!live[i])
            continue;
        if (run[i])
            snprintf(j->phase, sizeof(j->phase), "RUNNING");
        else if ((j->rc = store_run_start(pg, j->epoch, &j->row, j->phase, &j->err)) != FLOE_OK)
            continue;
        start_post(pg, j);
    }
}

static void
start_done(void *arg)
{
    start_job *j = arg;
    eng_op *op = j->op;
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    if (t->dead) {
        sched_plan_free(j->plan);
    } else if (j->rc == FLOE_EFENCED) {
        sched_plan_free(j->plan);
        eng_fenced(t, j->err.msg);
    } else if (j->rc != FLOE_OK) {
        sched_plan_free(j->plan);
        eng_term_fail(t, j->err.msg);
    } else if (strcmp(j->phase, "RUNNING") != 0) {
        sched_plan_free(j->plan);
        if (j->failed) {
            floe_log_warn(&t->log, "execution %s cannot run: %s", ex->id, j->err.msg);
            eng_egress(t, ex, NULL, 0, FLOE_TR_EXEC_NOT_STARTED, FLOE_ERROR_KIND_USER, j->err.msg);
            floe_metric_add(t->e->m_finished[FLOE_PHASE_FAILED], 1);
        } else {
            floe_log_debug(&t->log, "execution %s is %s already; request ignored", ex->id,
                           j->phase);
        }
        eng_exec_loaded(ex, EX_GONE);
    } else {
        sched_engine *e = t->e;
        ex->no_cache = j->row.no_cache;
        ex->overwrite_cache = j->row.overwrite_cache;
        if (j->resolved && ex->inputs == NULL &&
            (ex->inputs = floe_malloc(j->row.inputs_len ? j->row.inputs_len : 1)) != NULL) {
            memcpy(ex->inputs, j->row.inputs, j->row.inputs_len);
            ex->inputs_len = j->row.inputs_len;
        }
        if (j->n_rec > 0) { /* the arena goes with them */
            ex->rec_arena = j->arena;
            ex->rec = j->rec;
            ex->n_rec = j->n_rec;
            ex->rec_source = j->row.source_execution;
            j->arena = NULL;
        }
        eng_plan *p = floe_map_get(e->plans, j->ref);
        if (p == NULL && j->plan != NULL) {
            p = floe_calloc(1, sizeof(*p));
            char *dup = floe_strdup(j->ref);
            if (p == NULL || dup == NULL || floe_map_put(e->plans, dup, p) != FLOE_OK) {
                floe_free(p);
                floe_free(dup);
                sched_plan_free(j->plan);
                eng_term_fail(t, "engine: out of memory");
                goto out;
            }
            p->ref = dup;
            p->plan = j->plan;
            j->plan = NULL;
        }
        sched_plan_free(j->plan);
        if (p == NULL || p->plan == NULL) {
            /* Cached at submit time, evicted or still loading since: go through the cache. */
            eng_plan_acquire(ex, j->ref);
        } else {
            ex->plan = p;
            p->refs++;
            eng_exec_loaded(ex, EX_READY);
        }
    }
out:
    floe_arena_free(j->arena);
    floe_free(j);
    eng_op_free(op);
}

/* The request's workflow ("project/domain/name/version") in ref, and whether its plan is
 * in memory; false for a request naming only a launch plan. */
static bool
plan_cached(const sched_engine *e, const Floe__ExecutionRequested *m, char ref[700])
{
    const Floe__Identifier *wf = m->workflow;
    if (wf == NULL)
        return false;
    int len = snprintf(ref, 700, "%s/%s/%s/%s", wf->project, wf->domain, wf->name, wf->version);
    eng_plan *p = len > 0 && len < 700 ? floe_map_get(e->plans, ref) : NULL;
    return p != NULL && p->plan != NULL;
}

void
eng_exec_load_request(eng_exec *ex, const Floe__ExecutionRequested *m, bool started)
{
    eng_term *t = ex->t;
    sched_engine *e = t->e;
    ex->state = EX_LOADING;
    char ref[700];
    bool cached = plan_cached(e, m, ref);
    /* Recorded RUNNING under this term's epoch by this replica's API, its plan in memory:
     * nothing to read or write before it runs (issue 25: the start's statement and its
     * trip through the pool, a quarter of a small launch's statements). Anything else
     * goes to the start job, which also resolves launch plans, recoveries and plans. */
    if (started && cached && !m->recover) {
        ex->no_cache = m->no_cache;
        ex->overwrite_cache = m->overwrite_cache;
        eng_plan_acquire(ex, ref);
        return;
    }
    start_job *j = floe_calloc(1, sizeof(*j));
    floe_arena *a = floe_arena_new(4096, 0);
    eng_op *op = j != NULL && a != NULL ? eng_op_new(t, ex, 0) : NULL;
    if (op == NULL) {
        floe_free(j);
        floe_arena_free(a);
        eng_term_fail(t, "engine: out of memory");
        return;
    }
    j->op = op;
    j->arena = a;
    j->epoch = t->epoch;
    j->max_nodes = (size_t)e->cfg->spec_max_nodes;
    const Floe__Identifier *wf = m->workflow;
    const Floe__Identifier *id = wf != NULL ? wf : m->launch_plan;
    store_exec *row = &j->row;
    row->id = arena_str(a, m->execution_id);
    row->project = arena_str(a, id->project);
    row->domain = arena_str(a, id->domain);
    if (wf != NULL) {
        row->workflow_name = arena_str(a, wf->name);
        row->workflow_version = arena_str(a, wf->version);
    }
    if (m->launch_plan != NULL) {
        row->launch_plan_name = arena_str(a, m->launch_plan->name);
        row->launch_plan_version = arena_str(a, m->launch_plan->version);
        j->lp = floe_arena_alloc(a, sizeof(*j->lp));
        if (j->lp != NULL) {
            floe__identifier__init(j->lp);
            j->lp->project = (char *)row->project;
            j->lp->domain = (char *)row->domain;
            j->lp->name = (char *)row->launch_plan_name;
            j->lp->version = (char *)row->launch_plan_version;
        }
    }
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    vm.entries = m->inputs;
    vm.n_entries = m->n_inputs;
    size_t len = floe__value_map__get_packed_size(&vm);
    uint8_t *in = floe_arena_alloc(a, len ? len : 1);
    if (in != NULL)
        floe__value_map__pack(&vm, in);
    row->inputs = in;
    row->inputs_len = len;
    row->requested_by = arena_str(a, m->requested_by);
    row->source_execution = m->source_execution_id != NULL && m->source_execution_id[0]
                                ? arena_str(a, m->source_execution_id)
                                : NULL;
    row->recover = m->recover;
    row->no_cache = m->no_cache;
    row->overwrite_cache = m->overwrite_cache;
    row->scheduled_us = m->scheduled_unix_us;
    bool ok = row->id != NULL && row->project != NULL && row->domain != NULL && in != NULL &&
              (wf == NULL || (row->workflow_name != NULL && row->workflow_version != NULL)) &&
              (wf != NULL || j->lp != NULL);
    j->need_plan = !cached;
    if (!ok || floe_pool_submit_batch(e->pool, start_batch, start_done, j) != FLOE_OK) {
        floe_arena_free(a);
        floe_free(j);
        eng_op_free(op);
        eng_term_fail(t, ok ? "engine: the database queue is full" : "engine: out of memory");
    }
}

void
eng_exec_load(eng_exec *ex)
{
    exec_load_head(ex);
}

/* --- Intake ---------------------------------------------------------------------------- */

static const char *
exec_id_of(Floe__MessageType type, const ProtobufCMessage *msg)
{
    switch (type) {
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED:
        return ((const Floe__ExecutionRequested *)msg)->execution_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED:
        return ((const Floe__TaskStarted *)msg)->execution_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED:
        return ((const Floe__TaskSucceeded *)msg)->execution_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED:
        return ((const Floe__TaskFailed *)msg)->execution_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_TERMINATE:
        return ((const Floe__ExecutionTerminate *)msg)->execution_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED:
        return ((const Floe__LineageRecorded *)msg)->execution_id;
    case FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED:
        return ((const Floe__GateResolved *)msg)->execution_id;
    default:
        return NULL;
    }
}

void
eng_on_bus(eng_term *t, const floe_bus_msg *msg)
{
    sched_engine *e = t->e;
    Floe__MessageType type = msg->env->type;
    if ((unsigned)type < 16)
        floe_metric_add(e->m_events[type], 1);
    const char *id = exec_id_of(type, msg->env->msg);
    for (const eng_feature *const *f = ENG_FEATURES(e); *f != NULL; f++)
        if ((*f)->consumes != 0 && (*f)->consumes == type && (*f)->on_message != NULL) {
            (*f)->on_message(t, msg);
            return;
        }
    if (id == NULL) {
        eng_ack(t, &msg->pos);
        return;
    }
    eng_exec *ex = eng_exec_get(t, id, true);
    if (ex == NULL) {
        eng_term_fail(t, "engine: out of memory (execution table)");
        return;
    }
    if (ex->state == EX_READY && ex->q_head == NULL) {
        e->next.handle_message(ex, type, msg->env->msg, &msg->pos);
        return;
    }
    eng_item *it = eng_item_new(ITEM_BUS);
    size_t len = protobuf_c_message_get_packed_size(msg->env->msg);
    if (it == NULL || (it->payload = floe_malloc(len ? len : 1)) == NULL) {
        eng_item_free(it);
        eng_term_fail(t, "engine: out of memory (parking an event)");
        return;
    }
    it->payload_len = protobuf_c_message_pack(msg->env->msg, it->payload);
    it->type = type;
    it->pos = msg->pos;
    eng_exec_push(ex, it);
    if (ex->state == EX_NEW) {
        if (type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED)
            eng_exec_load_request(ex, (const Floe__ExecutionRequested *)msg->env->msg,
                                  eng_handoff_started(t, &msg->pos));
        else
            eng_exec_load(ex);
    }
}
