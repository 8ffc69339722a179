/*
 * sched_lineage — the leader writes lineage (docs/catalog.md): from each LineageRecorded
 * a worker publishes, and for nodes that produced outputs without running (CACHED from
 * the catalog, RECOVERED from the execution being recovered). The engine knows the plan,
 * so each consumed input is tied to what it came from: an upstream node's output, an
 * input of the execution, or a constant.
 *
 * Records queue on the term and are written in batches (one pool job at a time, four
 * multi-row statements a batch, store_lineage_write); a LineageRecorded is acknowledged
 * once its batch is committed. Records of cache hits and recoveries carry no event: a
 * failover can lose the ones not yet written.
 */
#include "sched_engine_int.h"

#include "floe_canon.h"
#include "floe_mem.h"
#include "floe_type.h"
#include "floe_value.h"
#include "store_lineage.h"
#include "store_run.h"

#include <stdio.h>
#include <string.h>

enum { OP_LINEAGE = 1 };

#define BATCH_MAX 256
#define VALUE_JSON_MAX 2048 /* a literal's JSON kept with its artifact, when it is short */

struct eng_lin {
    eng_lin *next;
    floe_arena *arena;
    store_lin_record rec;
    floe_bus_pos pos;
    bool has_pos;
};

typedef struct lin_job {
    eng_op *op;
    eng_lin *head;
    store_lin_record *recs;
    size_t n;
    uint8_t *bad;   /* per record, after a batch refused for its content: this one was */
    uint64_t epoch; /* the term's: the writes are fenced by it */
    floe_rc rc;
    floe_err err;
} lin_job;

static void
lin_free(eng_lin *l)
{
    while (l != NULL) {
        eng_lin *next = l->next;
        floe_arena_free(l->arena);
        floe_free(l);
        l = next;
    }
}

static void
lineage_drop(eng_term *t)
{
    lin_free(t->lin_head);
    t->lin_head = t->lin_tail = NULL;
    t->n_lin = 0;
}

/* --- Writing --------------------------------------------------------------------------- */

static void flush(eng_term *t);

static void
lin_work(void *ctx, void *arg)
{
    lin_job *j = arg;
    store_pg *pg = ctx;
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) == FLOE_OK)
        j->rc = store_lineage_write(pg, j->epoch, j->recs, j->n, &j->err);
    if (j->rc != FLOE_EINVAL)
        return;
    /* One record's content was refused: write them one by one to find which, so only
     * that event is dead-lettered (review H5). */
    j->bad = floe_calloc(j->n, 1);
    if (j->bad == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_ENOMEM, "out of memory");
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        floe_err one;
        floe_rc rc = store_lineage_write(pg, j->epoch, &j->recs[i], 1, &one);
        if (rc == FLOE_EINVAL)
            j->bad[i] = 1;
        else if (rc != FLOE_OK) {
            j->rc = rc;
            j->err = one;
            return;
        }
    }
    j->rc = FLOE_OK;
}

static void
lin_done(void *arg)
{
    lin_job *j = arg;
    eng_op *op = j->op;
    eng_term *t = op->t;
    t->lin_busy = false;
    if (!t->dead && j->rc == FLOE_OK) {
        size_t i = 0;
        for (eng_lin *l = j->head; l != NULL; l = l->next, i++) {
            if (!l->has_pos)
                continue;
            if (j->bad != NULL && j->bad[i]) {
                char why[FLOE_ERR_MSG_MAX];
                floe_text_fmt(why, sizeof(why), "lineage of %s/%s refused by PostgreSQL: %s",
                              l->rec.execution_id, l->rec.node_id, j->err.msg);
                eng_reject(t, &l->pos, why);
            } else {
                eng_ack(t, &l->pos);
            }
        }
    } else if (!t->dead) {
        char msg[FLOE_ERR_MSG_MAX];
        floe_text_fmt(msg, sizeof(msg), "lineage: %.200s", j->err.msg);
        if (j->rc == FLOE_EFENCED)
            eng_fenced(t, msg); /* a newer leader writes them */
        else
            eng_term_fail(t, msg); /* unacknowledged events come again */
    }
    lin_free(j->head);
    floe_free(j->recs);
    floe_free(j->bad);
    floe_free(j);
    if (!t->dead)
        flush(t);
    eng_op_free(op);
}

static void
flush(eng_term *t)
{
    if (t->lin_busy || t->dead || t->lin_head == NULL)
        return;
    lin_job *j = floe_calloc(1, sizeof(*j));
    store_lin_record *recs = floe_malloc(BATCH_MAX * sizeof(*recs));
    eng_op *op = j != NULL && recs != NULL ? eng_op_new(t, NULL, OP_LINEAGE) : NULL;
    if (op == NULL) {
        floe_free(j);
        floe_free(recs);
        eng_term_fail(t, "engine: out of memory (lineage)");
        return;
    }
    eng_lin *l = t->lin_head, *last = NULL;
    while (l != NULL && j->n < BATCH_MAX) {
        recs[j->n++] = l->rec;
        last = l;
        l = l->next;
    }
    j->head = t->lin_head;
    if (last != NULL)
        last->next = NULL;
    t->lin_head = l;
    if (l == NULL)
        t->lin_tail = NULL;
    t->n_lin -= j->n;
    j->recs = recs;
    j->op = op;
    j->epoch = t->epoch;
    t->lin_busy = true;
    if (floe_pool_submit(t->e->pool, lin_work, lin_done, j) != FLOE_OK) {
        t->lin_busy = false;
        lin_free(j->head);
        floe_free(recs);
        floe_free(j);
        eng_op_free(op);
        eng_term_fail(t, "engine: the database queue is full (lineage)");
    }
}

/* --- Building records ------------------------------------------------------------------ */

static const char *
dup(floe_arena *a, const char *s)
{
    return s != NULL ? floe_arena_strndup(a, s, strlen(s)) : NULL;
}

static bool
artifact(floe_arena *a, store_lin_artifact *out, const Floe__LiteralType *type,
         const Floe__Value *v)
{
    char tbuf[FLOE_TYPE_TEXT_MAX];
    out->type = dup(a, type != NULL ? floe_type_format(type, tbuf, sizeof(tbuf)) : "unknown");
    out->size = -1;
    if (v != NULL && v->kind_case == FLOE__VALUE__KIND_BLOB && v->blob != NULL) {
        out->uri = dup(a, v->blob->uri);
        out->digest = dup(a, v->blob->digest);
        out->size = (int64_t)v->blob->size;
        return out->type != NULL && out->uri != NULL && out->digest != NULL;
    }
    char digest[FLOE_CANON_HEX_LEN + 8] = "sha256:";
    if (v == NULL || floe_canon_value_digest(v, digest + 7) != 0)
        return false;
    out->digest = dup(a, digest);
    if (v->kind_case == FLOE__VALUE__KIND_REF && v->ref != NULL) { /* where the value lies */
        out->uri = dup(a, v->ref->uri);
        out->size = (int64_t)v->ref->size;
        return out->type != NULL && out->digest != NULL && out->uri != NULL;
    }
    json_t *j = floe_value_to_json(v);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (text != NULL && strlen(text) <= VALUE_JSON_MAX)
        out->value = dup(a, text);
    free(text);
    json_decref(j);
    return out->type != NULL && out->digest != NULL;
}

static const Floe__LiteralType *
input_type(const Floe__Interface *ifc, const char *name)
{
    for (size_t i = 0; ifc != NULL && i < ifc->n_inputs; i++)
        if (strcmp(ifc->inputs[i]->name, name) == 0)
            return ifc->inputs[i]->type;
    return NULL;
}

static const Floe__LiteralType *
output_type(const Floe__Interface *ifc, const char *name)
{
    for (size_t i = 0; ifc != NULL && i < ifc->n_outputs; i++)
        if (strcmp(ifc->outputs[i]->name, name) == 0)
            return ifc->outputs[i]->type;
    return NULL;
}

/* Whether the values are a record of this task's interface: each named as one of its
 * inputs (consumed) or outputs (produced), no more than it has, with a value (a blob or a
 * value kept by reference with its address and digest: artifact() needs them). A
 * LineageRecorded is a worker's word (review L5): what fails here was a failure of the
 * whole term, for ever, as the event came again after each restart. */
static bool
lin_valid(const Floe__Interface *ifc, Floe__NamedValue *const *vals, size_t n, bool outputs,
          char *why, size_t size)
{
    size_t max = ifc == NULL ? 0 : outputs ? ifc->n_outputs : ifc->n_inputs;
    const char *what = outputs ? "output" : "input";
    if (n > max) {
        floe_text_fmt(why, size, "%zu %ss recorded, the task has %zu", n, what, max);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const Floe__NamedValue *v = vals[i];
        const char *name = v != NULL && v->name != NULL ? v->name : "";
        if (v == NULL || (outputs ? output_type(ifc, name) : input_type(ifc, name)) == NULL) {
            floe_text_fmt(why, size, "the task has no %s \"%.64s\"", what, name);
            return false;
        }
        const Floe__Value *x = v->value;
        bool blob = x != NULL && x->kind_case == FLOE__VALUE__KIND_BLOB;
        bool ref = x != NULL && x->kind_case == FLOE__VALUE__KIND_REF;
        if (x == NULL ||
            (blob && (x->blob == NULL || x->blob->uri == NULL || x->blob->digest == NULL)) ||
            (ref && (x->ref == NULL || x->ref->uri == NULL || x->ref->canon == NULL ||
                     strlen(x->ref->canon) != FLOE_CANON_HEX_LEN))) {
            floe_text_fmt(why, size, "%s \"%.64s\" has no value, or one without its address", what,
                          name);
            return false;
        }
    }
    return true;
}

void
eng_lineage_add(eng_exec *ex, uint32_t node, const eng_lin_in *in, const floe_bus_pos *pos)
{
    eng_term *t = ex->t;
    const sched_plan *plan = ex->plan->plan;
    const sched_pnode *pn = eng_pnode(ex, node, NULL);
    if (pn == NULL || pn->task == NULL) { /* a branch's decision or join runs no task */
        if (pos != NULL)
            eng_ack(t, pos);
        return;
    }
    char idbuf[SCHED_PLAN_ID_SIZE];
    const char *node_id = eng_node_id(ex, node, idbuf);
    const Floe__TaskSpec *task = pn->task;
    const Floe__Interface *ifc = task->interface;
    char why[FLOE_ERR_MSG_MAX], bad[FLOE_ERR_MSG_MAX - 96];
    if (!lin_valid(ifc, in->consumed, in->n_consumed, false, bad, sizeof(bad)) ||
        !lin_valid(ifc, in->produced, in->n_produced, true, bad, sizeof(bad))) {
        floe_text_fmt(why, sizeof(why), "lineage of %s/%s: %s", ex->id, node_id, bad);
        if (pos != NULL)
            eng_reject(t, pos, why);
        else
            floe_log_warn(&t->log, "%s; not recorded", why);
        return;
    }
    eng_lin *l = floe_calloc(1, sizeof(*l));
    floe_arena *a = l != NULL ? floe_arena_new(4096, 0) : NULL;
    size_t n_art = in->n_consumed + in->n_produced;
    store_lin_artifact *arts =
        a != NULL && n_art > 0 ? floe_arena_alloc(a, n_art * sizeof(*arts)) : NULL;
    store_lin_use *uses = a != NULL && in->n_consumed > 0
                              ? floe_arena_alloc(a, in->n_consumed * sizeof(*uses))
                              : NULL;
    bool ok = a != NULL && (n_art == 0 || arts != NULL) && (in->n_consumed == 0 || uses != NULL);
    size_t k = 0, n_uses = 0;
    for (size_t i = 0; ok && i < in->n_consumed; i++) {
        const Floe__NamedValue *c = in->consumed[i];
        store_lin_artifact *x = &arts[k];
        memset(x, 0, sizeof(*x));
        const sched_binding *b = NULL;
        for (uint32_t q = 0; q < pn->n_inputs; q++)
            if (strcmp(pn->inputs[q].name, c->name) == 0)
                b = &pn->inputs[q];
        if (b != NULL && b->kind == SCHED_SRC_OUTPUT) {
            x->node_id = plan->nodes[b->node].id;
            x->role = "output";
            x->name = dup(a, b->ref);
        } else if (b != NULL && b->kind == SCHED_SRC_INPUT) {
            x->node_id = "";
            x->role = "input";
            x->name = dup(a, b->ref);
            x->link_by_digest = c->value != NULL && c->value->kind_case == FLOE__VALUE__KIND_BLOB;
        } else { /* a literal in the workflow, or the task's default */
            x->node_id = node_id;
            x->role = "constant";
            x->name = dup(a, c->name);
        }
        x->node_id = dup(a, x->node_id);
        ok = x->node_id != NULL && x->name != NULL &&
             artifact(a, x, input_type(ifc, c->name), c->value);
        uses[n_uses].input = dup(a, c->name);
        uses[n_uses].artifact = k;
        ok = ok && uses[n_uses].input != NULL;
        n_uses++;
        k++;
    }
    for (size_t i = 0; ok && i < in->n_produced; i++) {
        const Floe__NamedValue *p = in->produced[i];
        store_lin_artifact *x = &arts[k++];
        memset(x, 0, sizeof(*x));
        x->node_id = dup(a, node_id);
        x->role = "output";
        x->name = dup(a, p->name);
        x->src_exec = dup(a, in->source_execution);
        x->src_node = in->source_execution != NULL ? dup(a, in->source_node) : NULL;
        ok = x->node_id != NULL && x->name != NULL &&
             artifact(a, x, output_type(ifc, p->name), p->value);
    }
    if (!ok) {
        floe_arena_free(a);
        floe_free(l);
        eng_term_fail(t, "engine: out of memory (lineage)");
        return;
    }
    l->arena = a;
    store_lin_record *r = &l->rec;
    r->execution_id = dup(a, ex->id);
    r->node_id = dup(a, node_id);
    r->attempt = in->attempt;
    r->project = dup(a, task->id->project);
    r->domain = dup(a, task->id->domain);
    r->task_name = dup(a, task->id->name);
    r->task_version = dup(a, task->id->version);
    r->phase = in->phase;
    r->cache_key = in->cache_key != NULL && in->cache_key[0] ? dup(a, in->cache_key) : NULL;
    r->source_execution = dup(a, in->source_execution);
    r->source_node = dup(a, in->source_node);
    r->artifacts = arts;
    r->n_artifacts = k;
    r->uses = uses;
    r->n_uses = n_uses;
    if (pos != NULL) {
        l->pos = *pos;
        l->has_pos = true;
    }
    if (t->lin_tail != NULL)
        t->lin_tail->next = l;
    else
        t->lin_head = l;
    t->lin_tail = l;
    t->n_lin++;
    flush(t);
}

void
eng_lineage_event(eng_exec *ex, const Floe__LineageRecorded *m, const floe_bus_pos *pos)
{
    sched_engine *e = ex->t->e;
    int64_t idx = sched_plan_find_any(ex->plan->plan, m->node_id);
    if (idx < 0) {
        floe_log_warn(&ex->t->log, "execution %s has no node \"%s\"; lineage dropped", ex->id,
                      m->node_id);
        eng_ack(ex->t, pos);
        return;
    }
    size_t nc = m->n_consumed, np = m->n_produced;
    Floe__NamedValue *vals = floe_arena_alloc(e->scratch, (nc + np + 1) * sizeof(*vals));
    Floe__NamedValue **ptrs = floe_arena_alloc(e->scratch, (nc + np + 1) * sizeof(*ptrs));
    if (vals == NULL || ptrs == NULL) {
        eng_term_fail(ex->t, "engine: out of memory (lineage)");
        return;
    }
    for (size_t i = 0; i < nc + np; i++) {
        const Floe__Artifact *x = i < nc ? m->consumed[i] : m->produced[i - nc];
        floe__named_value__init(&vals[i]);
        vals[i].name = x->name;
        vals[i].value = x->value;
        ptrs[i] = &vals[i];
    }
    eng_lin_in in = {.attempt = m->attempt,
                     .phase = "SUCCEEDED",
                     .cache_key = m->cache_key,
                     .consumed = ptrs,
                     .n_consumed = nc,
                     .produced = ptrs + nc,
                     .n_produced = np};
    eng_lineage_add(ex, (uint32_t)idx, &in, pos);
}

void
eng_lineage_recovered(eng_exec *ex, const char *source)
{
    sched_engine *e = ex->t->e;
    for (size_t r = 0; r < ex->n_rec; r++) {
        int64_t idx = sched_plan_find(ex->plan->plan, ex->rec[r].node_id);
        Floe__ValueMap *vm =
            idx >= 0 ? floe__value_map__unpack(floe_arena_pb_allocator(e->scratch),
                                               ex->rec[r].outputs_len, ex->rec[r].outputs)
                     : NULL;
        if (vm == NULL)
            continue;
        eng_lin_in in = {.phase = "RECOVERED",
                         .source_execution = source,
                         .source_node = ex->rec[r].node_id,
                         .produced = vm->entries,
                         .n_produced = vm->n_entries};
        eng_lineage_add(ex, (uint32_t)idx, &in, NULL);
    }
}

const eng_feature eng_lineage_feature = {.name = "lineage", .free = lineage_drop};
