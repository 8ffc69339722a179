/*
 * sched_child — nodes whose work is an execution of its own (docs/engine.md#child-executions):
 * a launch-plan node, each item of a map over a launch plan or a sub-workflow, and a dynamic
 * task's node once its task returned a workflow (compiled against the registered tasks and
 * registered first, on the pool).
 *
 * Starting: the node waits first (gate_wait.lua: RUNNING, a check due engine.child_check
 * later in the lease set; for a dynamic task, only from the worker holding the claim), so
 * a stale or duplicate start changes nothing; then the child's row is written (QUEUED,
 * linked to the parent's node and attempt, one level deeper than its parent, spec.max_depth
 * at most), then its ExecutionRequested goes on floe.events like any launch. The child's id
 * is a function of the parent, the node and the attempt, so each step may run twice; a
 * QUEUED row no request reached is requested again by the reconciler, and a check that
 * finds no row starts the node again (a dynamic task: its task runs again).
 *
 * Ending: when a child's result is written (sched_finish), the parent's node ends with it
 * (SUCCEEDED with the child's outputs, or USER child_failed) through an item of the parent.
 * Should that be lost with a leader, the node's check finds the child's row ended and does
 * the same. A parent that ends otherwise than SUCCEEDED aborts its children still running.
 */
#include "sched_engine_int.h"

#include "sched_inputs.h"
#include "sched_resolve.h"

#include "floe_digest.h"
#include "floe_mem.h"
#include "floe_text.h"
#include "floe_type.h"
#include "store_exec.h"
#include "store_registry.h"
#include "store_valref.h"

#include <stdio.h>
#include <string.h>

enum { CH_COMPILE = 1, CH_INSERT, CH_CHECK };

typedef struct child_job {
    eng_op *op; /* op->ex: the parent; op->node, op->attempt: its node */
    floe_arena *arena;
    const floe_config *cfg;
    store_blob *bs;
    int kind;
    char id[72];    /* the child's */
    store_exec row; /* the child's row to insert */
    /* a dynamic task's: the workflow document it returned, its task, its worker */
    const Floe__Value *doc;
    const Floe__TaskSpec *task;
    char worker[128];
    /* out */
    store_exec child; /* its row as it is */
    bool found;
    uint64_t timeout_ms; /* a launch plan's execution timeout, for the child's request */
    char code[24];       /* the node fails as USER with code and msg */
    char msg[ENG_MSG_MAX];
    floe_rc rc;
    floe_err err;
} child_job;

/* The child's id: "<parent>-<node>-<attempt>", or a digest of them when that is longer
 * than an execution id may be (64 bytes). */
static void
child_id(const char *parent, uint32_t node, uint32_t attempt, char out[72])
{
    int n = snprintf(out, 72, "%s-%u-%u", parent, node, attempt);
    if (n > 0 && n <= 64)
        return;
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_sha256_hex(out, strlen(out), hex);
    snprintf(out, 72, "c%.40s-%u-%u", hex, node, attempt);
}

static void
child_job_free(child_job *j)
{
    if (j != NULL)
        floe_arena_free(j->arena);
    floe_free(j);
}

static child_job *
child_job_new(eng_exec *ex, int kind, uint32_t node, uint32_t attempt, const floe_bus_pos *pos)
{
    eng_term *t = ex->t;
    child_job *j = floe_calloc(1, sizeof(*j));
    floe_arena *a = j != NULL ? floe_arena_new(8192, 0) : NULL;
    eng_op *op = a != NULL ? eng_op_new(t, ex, kind) : NULL;
    if (op == NULL) {
        floe_arena_free(a);
        floe_free(j);
        eng_term_fail(t, "engine: out of memory (child execution)");
        return NULL;
    }
    op->node = node;
    op->attempt = attempt;
    if (pos != NULL) {
        op->pos = *pos;
        op->has_pos = true;
    }
    op->data = j;
    j->op = op;
    j->arena = a;
    j->cfg = t->e->cfg;
    j->bs = t->e->blobs;
    j->kind = kind;
    child_id(ex->id, node, attempt, j->id);
    return j;
}

/* --- A dynamic task's workflow ----------------------------------------------------------- */

static floe_rc
user_fail(child_job *j, const char *code, const char *msg)
{
    snprintf(j->code, sizeof(j->code), "%s", code);
    floe_text_fmt(j->msg, sizeof(j->msg), "%s", msg);
    return FLOE_OK;
}

/* Whether the workflow w returned by dynamic task t may stand for it: it needs no input,
 * and it has the task's outputs, by name and type. */
static bool
dyn_fits(const Floe__WorkflowSpec *w, const Floe__TaskSpec *t, char *why, size_t size)
{
    const Floe__Interface *wi = w->interface, *ti = t->interface;
    for (size_t i = 0; wi != NULL && i < wi->n_inputs; i++)
        if (wi->inputs[i]->default_value == NULL) {
            floe_text_fmt(why, size,
                          "input \"%s\" has no default: a dynamic workflow takes no inputs (write "
                          "the values it needs into it)",
                          wi->inputs[i]->name);
            return false;
        }
    size_t nt = ti != NULL ? ti->n_outputs : 0, nw = wi != NULL ? wi->n_outputs : 0;
    for (size_t i = 0; i < nt; i++) {
        size_t k;
        for (k = 0; k < nw && strcmp(wi->outputs[k]->name, ti->outputs[i]->name) != 0; k++)
            ;
        if (k == nw || !floe_type_equal(wi->outputs[k]->type, ti->outputs[i]->type)) {
            floe_text_fmt(why, size, "output \"%s\": %s", ti->outputs[i]->name,
                          k == nw ? "missing (the task declares it)"
                                  : "not of the type the task declares");
            return false;
        }
    }
    if (nw != nt) {
        floe_text_fmt(why, size, "has %zu outputs, the task declares %zu", nw, nt);
        return false;
    }
    return true;
}

/* Compiles the document a dynamic task returned, against the registered tasks of the
 * parent's project and domain, and registers it (its version derived from its content, so
 * the same workflow registers once). FLOE_OK with j->code set: the document is wrong. */
static floe_rc
dyn_register(store_pg *pg, child_job *j, const char *project, const char *domain)
{
    const floe_config *cfg = j->cfg;
    const Floe__Value *doc = j->doc;
    if (doc->kind_case == FLOE__VALUE__KIND_REF) {
        Floe__Value *v;
        floe_rc rc = store_valref_get(j->bs, doc, cfg->api_spool_dir,
                                      (uint64_t)cfg->spec_max_bytes * 2, j->arena, &v, &j->err);
        if (rc != FLOE_OK)
            return rc == FLOE_ENOMEM || rc == FLOE_EIO
                       ? rc
                       : user_fail(j, "dynamic_invalid", j->err.msg);
        doc = v;
    }
    if (doc->kind_case != FLOE__VALUE__KIND_STRING)
        return user_fail(j, "dynamic_invalid",
                         "its output \"workflow\" is not a string (a workflow document)");
    size_t n_classes = 0;
    const char **list = sched_resolve_classes(cfg->resource_classes, j->arena, &n_classes);
    if (list == NULL)
        return floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
    sched_resolve_scope sc = {.pg = pg, .project = project, .domain = domain};
    spec_env env = {.project = project,
                    .domain = domain,
                    .resource_classes = list,
                    .n_resource_classes = n_classes,
                    .limits = {.max_bytes = (size_t)cfg->spec_max_bytes,
                               .max_documents = 1,
                               .max_nesting = (unsigned)cfg->spec_max_nesting,
                               .max_nodes = (unsigned)cfg->spec_max_nodes,
                               .max_depth = (unsigned)cfg->spec_max_depth},
                    .resolve = sched_resolve,
                    .resolve_arg = &sc};
    spec_item *items;
    size_t n;
    floe_err err = {0};
    floe_rc rc = spec_compile(&env, "workflow", doc->string, strlen(doc->string), j->arena, &items,
                              &n, &err);
    if (rc == FLOE_EIO || rc == FLOE_ENOMEM) {
        j->err = err;
        return rc;
    }
    if (rc != FLOE_OK)
        return user_fail(j, "dynamic_invalid", err.msg);
    if (n != 1 || items[0].kind != SPEC_WORKFLOW)
        return user_fail(j, "dynamic_invalid", "the document is not one workflow (kind: workflow)");
    char why[FLOE_ERR_MSG_MAX];
    if (!dyn_fits((const Floe__WorkflowSpec *)items[0].msg, j->task, why, sizeof(why)))
        return user_fail(j, "dynamic_invalid", why);
    sched_plan *plan =
        sched_plan_build(items[0].data, items[0].len, (size_t)cfg->spec_max_nodes, &err);
    if (plan == NULL)
        return err.code == FLOE_ENOMEM ? floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory")
                                       : user_fail(j, "dynamic_invalid", err.msg);
    sched_plan_free(plan);
    store_entity e = {.kind = STORE_WORKFLOW,
                      .project = project,
                      .domain = domain,
                      .name = items[0].name,
                      .version = items[0].version,
                      .digest = items[0].digest,
                      .spec = items[0].data,
                      .spec_len = items[0].len};
    bool created;
    if ((rc = store_registry_put(pg, &e, &created, &err)) != FLOE_OK) {
        if (rc == FLOE_ECONFLICT || rc == FLOE_EINVAL)
            return user_fail(j, "dynamic_invalid", err.msg);
        j->err = err;
        return rc;
    }
    j->row.workflow_name = items[0].name;
    j->row.workflow_version = items[0].version;
    return FLOE_OK;
}

/* --- Pool work ------------------------------------------------------------------------- */

static void
child_work(void *ctx, void *arg)
{
    child_job *j = arg;
    store_pg *pg = ctx;
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) != FLOE_OK)
        return;
    if (j->kind == CH_COMPILE) {
        j->rc = dyn_register(pg, j, j->row.project, j->row.domain);
        return;
    }
    floe_err err = {0};
    if (j->kind == CH_INSERT) {
        floe_rc rc = store_exec_child_insert(pg, &j->row, (uint32_t)j->cfg->spec_max_depth, &err);
        if (rc == FLOE_ETOOBIG) {
            user_fail(j, "too_deep", err.msg);
            return;
        }
        if (rc != FLOE_OK) {
            j->rc = rc;
            j->err = err;
            return;
        }
    }
    floe_rc rc = store_exec_get(pg, j->id, j->arena, &j->child, &err);
    if (rc == FLOE_OK)
        j->found = true;
    else if (rc != FLOE_ENOTFOUND) {
        j->rc = rc;
        j->err = err;
    }
}

/* --- Back on the loop ------------------------------------------------------------------ */

/* The node ends as the child did: its outputs, or a USER failure naming the child. */
static void
child_apply(eng_exec *ex, uint32_t node, uint32_t attempt, const char *child, const char *phase,
            const uint8_t *outputs, size_t len, const char *error, const floe_bus_pos *pos)
{
    sched_engine *e = ex->t->e;
    if (strcmp(phase, "SUCCEEDED") == 0) {
        uint8_t none[1];
        e->next.node_done(ex, node, attempt, outputs != NULL ? outputs : none,
                          outputs != NULL ? len : 0, FLOE__PHASE__PHASE_SUCCEEDED, pos);
        return;
    }
    char msg[ENG_MSG_MAX];
    floe_text_fmt(msg, sizeof(msg), "child execution %s ended %s%s%s", child, phase,
                  error != NULL && error[0] ? ": " : "", error != NULL ? error : "");
    e->next.gate_failed(ex, node, attempt, "child_failed", msg, pos);
}

/* The child's ExecutionRequested, like a launch's: its row holds what it runs. */
static void
child_request(eng_term *t, const store_exec *row, uint64_t timeout_ms)
{
    sched_engine *e = t->e;
    if (t->bus == NULL)
        return;
    Floe__Identifier wf = FLOE__IDENTIFIER__INIT, lp = FLOE__IDENTIFIER__INIT;
    wf.project = lp.project = (char *)row->project;
    wf.domain = lp.domain = (char *)row->domain;
    wf.name = (char *)row->workflow_name;
    wf.version = (char *)row->workflow_version;
    lp.name = (char *)(row->launch_plan_name != NULL ? row->launch_plan_name : "");
    lp.version = (char *)(row->launch_plan_version != NULL ? row->launch_plan_version : "");
    Floe__ValueMap *vm =
        floe__value_map__unpack(floe_arena_pb_allocator(e->scratch), row->inputs_len, row->inputs);
    Floe__ExecutionRequested m = FLOE__EXECUTION_REQUESTED__INIT;
    m.execution_id = (char *)row->id;
    m.workflow = &wf;
    m.launch_plan = row->launch_plan_name != NULL ? &lp : NULL;
    m.inputs = vm != NULL ? vm->entries : NULL;
    m.n_inputs = vm != NULL ? vm->n_entries : 0;
    m.requested_by = (char *)row->requested_by;
    m.timeout_ms = timeout_ms;
    floe_err err = {0};
    /* Not awaited: a request lost on the way leaves the row QUEUED, and the reconciler
     * requests it again. */
    if (floe_bus_produce(t->bus, e->topic_events, row->id, strlen(row->id),
                         FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &m.base, NULL, NULL,
                         &err) != FLOE_OK)
        floe_log_warn(&t->log, "child execution %s: not requested yet: %s", row->id, err.msg);
}

static void child_submit(child_job *j);

static void
child_finish(child_job *j)
{
    eng_op *op = j->op;
    child_job_free(j);
    op->data = NULL;
    eng_op_free(op);
}

/* The node's wait was recorded (or refused: stale, ended, fenced). */
static void
child_wait_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    child_job *j = arg;
    eng_op *op = j->op;
    eng_term *t = op->t;
    store_state_res res;
    if (eng_script_failed(t, rep, err, &res)) {
        child_finish(j);
        return;
    }
    if (op->has_pos) { /* a dynamic task's success: durable now as the node's wait */
        eng_ack(t, &op->pos);
        op->has_pos = false;
    }
    if (res.st != STORE_ST_OK || j->kind == CH_CHECK) {
        child_finish(j);
        return;
    }
    if (j->doc == NULL) { /* a launch-plan node: READY -> RUNNING */
        char idbuf[SCHED_PLAN_ID_SIZE];
        eng_egress(t, op->ex, eng_node_id(op->ex, op->node, idbuf), op->attempt, FLOE_TR_NODE_START,
                   FLOE_ERROR_KIND_NONE, NULL);
    }
    j->kind = CH_INSERT;
    child_submit(j);
}

static void
child_wait(child_job *j)
{
    eng_op *op = j->op;
    eng_term *t = op->t;
    sched_engine *e = t->e;
    if (store_state_node_wait(e->redis, t->epoch, op->ex->id, op->node, op->attempt,
                              e->cfg->child_check_ms, true, j->worker[0] ? j->worker : NULL,
                              child_wait_reply, j) != FLOE_OK) {
        child_finish(j);
        eng_term_fail(t, "redis: request not sent");
    }
}

static void
child_done(void *arg)
{
    child_job *j = arg;
    eng_op *op = j->op;
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    sched_engine *e = t->e;
    const floe_bus_pos *pos = op->has_pos ? &op->pos : NULL;
    if (t->dead) {
        /* nothing: a new term looks again */
    } else if (j->rc != FLOE_OK) {
        eng_term_fail(t, j->err.msg);
    } else if (j->code[0] != '\0') {
        e->next.node_failed_by(ex, op->node, op->attempt, j->code, j->msg,
                               j->worker[0] ? j->worker : NULL, pos);
    } else if (j->kind == CH_COMPILE) {
        child_wait(j); /* from the worker holding the claim */
        return;
    } else if (j->found && floe_phase_name_terminal(FLOE_SCOPE_EXEC, j->child.phase)) {
        child_apply(ex, op->node, op->attempt, j->id, j->child.phase, j->child.outputs,
                    j->child.outputs_len, j->child.error, pos);
    } else if (j->found && j->kind == CH_INSERT) {
        if (strcmp(j->child.phase, "QUEUED") == 0)
            child_request(t, &j->child, j->timeout_ms);
    } else if (j->found) {
        j->worker[0] = '\0';
        child_wait(j); /* still running: the next check */
        return;
    } else if (j->task != NULL) {
        /* No child: the dynamic task's worker was lost before it returned, or the leader
         * before the row was written. */
        e->next.lease_lost(ex, op->node, op->attempt);
    } else {
        e->next.dispatch_keyed(ex, op->node, op->attempt, 0, NULL); /* start it again */
    }
    child_finish(j);
}

static void
child_submit(child_job *j)
{
    eng_op *op = j->op;
    if (floe_pool_submit(op->t->e->pool, child_work, child_done, j) != FLOE_OK) {
        eng_term *t = op->t;
        child_finish(j);
        eng_term_fail(t, "engine: the database queue is full");
    }
}

/* The child's row, as far as the parent knows it: project and domain, who asked. */
static bool
child_row_init(child_job *j, eng_exec *ex, uint32_t node, uint32_t attempt, const char *project,
               const char *domain)
{
    floe_arena *a = j->arena;
    char by[200], idbuf[SCHED_PLAN_ID_SIZE];
    snprintf(by, sizeof(by), "execution:%s", ex->id);
    const char *nid = eng_node_id(ex, node, idbuf);
    j->row.id = j->id;
    j->row.project = floe_arena_strndup(a, project, strlen(project));
    j->row.domain = floe_arena_strndup(a, domain, strlen(domain));
    j->row.requested_by = floe_arena_strndup(a, by, strlen(by));
    j->row.parent_execution = floe_arena_strndup(a, ex->id, strlen(ex->id));
    j->row.parent_node = floe_arena_strndup(a, nid, strlen(nid));
    j->row.parent_attempt = attempt;
    return j->row.project != NULL && j->row.domain != NULL && j->row.requested_by != NULL &&
           j->row.parent_execution != NULL && j->row.parent_node != NULL;
}

/* The given value of input in (the node's bindings), for sched_inputs_merge. */
static floe_rc
child_given(void *arg, const Floe__InputSpec *in, floe_arena *a, const Floe__Value **v,
            floe_err *err)
{
    (void)a;
    (void)err;
    const Floe__ValueMap *given = arg;
    *v = sched_inputs_value(given->entries, given->n_entries, in->name);
    return FLOE_OK;
}

void
eng_child_start(eng_exec *ex, uint32_t node, uint32_t attempt, Floe__NamedValue *const *given,
                size_t n_given)
{
    const sched_pnode *pn = eng_pnode(ex, node, NULL);
    const Floe__LaunchPlanSpec *lp = pn != NULL ? pn->launchplan : NULL;
    const Floe__WorkflowSpec *wf = pn != NULL ? pn->child_workflow : NULL;
    const Floe__Identifier *wid = lp != NULL ? lp->workflow : wf != NULL ? wf->id : NULL;
    const Floe__Identifier *scope = lp != NULL ? lp->id : wid;
    const Floe__Interface *ifc = lp != NULL ? lp->interface : wf != NULL ? wf->interface : NULL;
    if (wid == NULL || scope == NULL || ifc == NULL)
        return;
    child_job *j = child_job_new(ex, CH_INSERT, node, attempt, NULL);
    if (j == NULL)
        return;
    floe_arena *a = j->arena;
    Floe__ValueMap g = FLOE__VALUE_MAP__INIT, out = FLOE__VALUE_MAP__INIT;
    g.entries = (Floe__NamedValue **)given;
    g.n_entries = n_given;
    floe_err err = {0};
    floe_rc rc = sched_inputs_merge(a, ifc, lp, child_given, &g, NULL, NULL, &out, &err);
    size_t len = rc == FLOE_OK ? floe__value_map__get_packed_size(&out) : 0;
    uint8_t *packed = rc == FLOE_OK ? floe_arena_alloc(a, len ? len : 1) : NULL;
    if (rc == FLOE_EINVAL) { /* a binding the compiler checked: only a changed plan */
        eng_term *t = ex->t;
        t->e->next.gate_failed(ex, node, attempt, "bad_input", err.msg, NULL);
        eng_op_free(j->op);
        child_job_free(j);
        return;
    }
    if (packed == NULL || !child_row_init(j, ex, node, attempt, scope->project, scope->domain)) {
        eng_term *t = ex->t;
        eng_op_free(j->op);
        child_job_free(j);
        eng_term_fail(t, "engine: out of memory (child execution)");
        return;
    }
    floe__value_map__pack(&out, packed);
    j->row.inputs = packed;
    j->row.inputs_len = len;
    j->row.workflow_name = wid->name;
    j->row.workflow_version = wid->version;
    if (lp != NULL) {
        j->row.launch_plan_name = lp->id->name;
        j->row.launch_plan_version = lp->id->version;
        j->timeout_ms = lp->timeout_ms;
    }
    child_wait(j);
}

void
eng_dynamic_start(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *doc,
                  const char *worker, const floe_bus_pos *pos)
{
    const sched_pnode *pn = eng_pnode(ex, node, NULL);
    const Floe__Identifier *scope = ex->plan->plan->spec->id;
    if (pn == NULL || pn->task == NULL || scope == NULL) {
        eng_ack(ex->t, pos);
        return;
    }
    child_job *j = child_job_new(ex, CH_COMPILE, node, attempt, pos);
    if (j == NULL)
        return;
    size_t len = floe__value__get_packed_size(doc);
    uint8_t *buf = floe_arena_alloc(j->arena, len ? len : 1);
    if (buf != NULL)
        floe__value__pack(doc, buf);
    j->doc = buf != NULL ? floe__value__unpack(floe_arena_pb_allocator(j->arena), len, buf) : NULL;
    j->task = pn->task;
    snprintf(j->worker, sizeof(j->worker), "%s", worker != NULL ? worker : "");
    j->row.inputs = floe_arena_alloc(j->arena, 1); /* a dynamic workflow takes no inputs */
    j->row.inputs_len = 0;
    if (j->doc == NULL || j->row.inputs == NULL ||
        !child_row_init(j, ex, node, attempt, scope->project, scope->domain)) {
        eng_term *t = ex->t;
        eng_op_free(j->op);
        child_job_free(j);
        eng_term_fail(t, "engine: out of memory (dynamic workflow)");
        return;
    }
    child_submit(j);
}

void
eng_child_due(eng_exec *ex, uint32_t node, uint32_t attempt)
{
    const sched_pnode *pn = eng_pnode(ex, node, NULL);
    child_job *j = pn != NULL ? child_job_new(ex, CH_CHECK, node, attempt, NULL) : NULL;
    if (j == NULL)
        return;
    j->task = pn->task; /* a dynamic task's: no child yet means its worker's lease ran out */
    child_submit(j);
}

/* --- A child ended ----------------------------------------------------------------------- */

void
eng_child_ended(eng_term *t, const char *parent, const char *node_id, uint32_t attempt,
                const char *child, const char *phase, const uint8_t *outputs, size_t len,
                const char *error)
{
    eng_exec *ex = eng_exec_get(t, parent, true);
    eng_item *it = ex != NULL ? eng_item_new(ITEM_CHILD) : NULL;
    bool ok = it != NULL;
    if (ok) {
        it->attempt = attempt;
        it->phase = (int)floe_phase_parse(phase);
        it->text = floe_malloc(strlen(node_id) + strlen(child) + 2);
        ok = it->text != NULL;
        if (ok)
            sprintf(it->text, "%s%c%s", node_id, '\0', child);
        const void *src = it->phase == FLOE_PHASE_SUCCEEDED ? (const void *)outputs : error;
        size_t n =
            it->phase == FLOE_PHASE_SUCCEEDED ? len : (error != NULL ? strlen(error) + 1 : 0);
        if (ok && src != NULL && n > 0) {
            it->payload = floe_malloc(n);
            ok = it->payload != NULL;
            if (ok) {
                memcpy(it->payload, src, n);
                it->payload_len = n;
            }
        }
    }
    if (!ok) {
        eng_item_free(it);
        eng_term_fail(t, "engine: out of memory (child execution)");
        return;
    }
    eng_exec_push(ex, it);
    if (ex->state == EX_NEW)
        eng_exec_load(ex);
    else
        eng_exec_drain(ex);
}

void
eng_child_item(eng_exec *ex, const eng_item *it)
{
    const char *node_id = it->text, *child = it->text + strlen(it->text) + 1;
    int64_t idx = sched_plan_find_any(ex->plan->plan, node_id);
    if (idx < 0)
        return;
    bool ok = it->phase == FLOE_PHASE_SUCCEEDED;
    child_apply(ex, (uint32_t)idx, it->attempt, child, floe_phase_name(it->phase),
                ok ? it->payload : NULL, ok ? it->payload_len : 0,
                !ok && it->payload != NULL ? (const char *)it->payload : NULL, NULL);
}

void
eng_children_abort(eng_term *t, const store_exec *children, size_t n, const char *parent)
{
    char why[ENG_MSG_MAX];
    floe_text_fmt(why, sizeof(why), "its parent execution %s ended", parent);
    for (size_t i = 0; i < n; i++) {
        eng_exec *ex = eng_exec_get(t, children[i].id, true);
        eng_item *it = ex != NULL ? eng_item_new(ITEM_ABORT) : NULL;
        if (it != NULL)
            it->text = floe_strdup(why);
        if (it == NULL || it->text == NULL) {
            eng_item_free(it);
            eng_term_fail(t, "engine: out of memory (child execution)");
            return;
        }
        it->phase = FLOE_PHASE_ABORTED;
        eng_exec_push(ex, it);
        if (ex->state == EX_NEW)
            eng_exec_load(ex);
        else
            eng_exec_drain(ex);
    }
}
