/*
 * sched_map — map nodes (docs/engine.md#map-nodes). A map node becomes READY like any
 * node; instead of a dispatch, its resolved list starts one item per element
 * (map_expand.lua): each item is a node of the execution's state with an index of its own
 * (sched_plan.h), dispatched, claimed, retried and cached as a task node is, `concurrency`
 * of them at once. When the last item ended, the map node is READY again and comes back
 * here to be gathered: the items' outputs in item order, an absent value where an item
 * failed, then the node succeeds, or fails when fewer items succeeded than
 * min_success_ratio and min_successes ask.
 */
#include "sched_engine_int.h"

#include "sched_decide.h"

#include "floe_mem.h"
#include "floe_phase.h"
#include "floe_text.h"
#include "store_state_codec.h"
#include "store_valref.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { OP_GATHER = 1, OP_REFS };

/* Items read per HMGET while gathering: two fields each (store_state_hmget reads 300 at
 * most). */
#define GATHER_CHUNK 128

static const Floe__Value absent = FLOE__VALUE__INIT;

/* The node ends with outputs vm: packed, then the state script. */
static void
map_end(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__ValueMap *vm)
{
    size_t len = floe__value_map__get_packed_size(vm);
    uint8_t *packed = floe_malloc(len ? len : 1);
    if (packed == NULL) {
        eng_term_fail(ex->t, "engine: out of memory (map outputs)");
        return;
    }
    floe__value_map__pack(vm, packed);
    ex->t->e->next.node_done(ex, node, attempt, packed, len, FLOE__PHASE__PHASE_SUCCEEDED, NULL);
    floe_free(packed);
}

/* --- Values by reference (on the pool) ------------------------------------------------- */

/* Reads a list kept by reference, or stores outputs too large to keep inline: blob store
 * transfers, so on the pool; the op holds the execution meanwhile. */
typedef struct ref_job {
    eng_op *op;
    store_blob *bs;
    const floe_config *cfg;
    floe_arena *arena;
    Floe__Value *ref, *list; /* reading: the reference, then its list */
    Floe__NamedValue **outs; /* storing: the outputs, large ones replaced */
    size_t n_outs;
    floe_rc rc;
    floe_err err;
} ref_job;

static void expand_items(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *list);

static void
ref_work(void *ctx, void *arg)
{
    (void)ctx;
    ref_job *j = arg;
    const char *tmp = j->cfg->api_spool_dir;
    if (j->ref != NULL)
        j->rc = store_valref_get(j->bs, j->ref, tmp, (uint64_t)j->cfg->values_max_bytes, j->arena,
                                 &j->list, &j->err);
    else
        j->rc = store_valref_shrink(j->bs, j->outs, j->n_outs, (size_t)j->cfg->values_inline_max,
                                    tmp, j->arena, &j->err);
}

static void
ref_done(void *arg)
{
    ref_job *j = arg;
    eng_op *op = j->op;
    eng_exec *ex = op->ex;
    if (!op->t->dead) {
        char msg[ENG_MSG_MAX];
        if (j->rc != FLOE_OK) {
            floe_text_fmt(msg, sizeof(msg), "%s", j->err.msg);
            if (j->err.cls == FLOE_ERR_USER)
                ex->t->e->next.map_failed(ex, op->node, op->attempt,
                                          j->ref != NULL ? "map_input" : "map_output", msg);
            else /* the blob store failing: the term restarts, the step is taken again */
                eng_term_fail(ex->t, msg);
        } else if (j->ref != NULL) {
            expand_items(ex, op->node, op->attempt, j->list);
        } else {
            Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
            vm.entries = j->outs;
            vm.n_entries = j->n_outs;
            map_end(ex, op->node, op->attempt, &vm);
        }
    }
    floe_arena_free(j->arena);
    floe_free(j);
    eng_op_free(op);
}

/* Starts j on the pool for node's step; false (the term failed) when it could not. */
static bool
ref_submit(eng_exec *ex, uint32_t node, uint32_t attempt, ref_job *j)
{
    eng_term *t = ex->t;
    j->op = eng_op_new(t, ex, OP_REFS);
    j->bs = t->e->blobs;
    j->cfg = t->e->cfg;
    if (j->op == NULL || floe_pool_submit(t->e->pool, ref_work, ref_done, j) != FLOE_OK) {
        eng_op_free(j->op);
        floe_arena_free(j->arena);
        floe_free(j);
        eng_term_fail(t, "engine: the database queue is full (values by reference)");
        return false;
    }
    j->op->node = node;
    j->op->attempt = attempt;
    return true;
}

/* The node ends with these lists as its outputs (vals[j][k]: output j of item k); lists
 * over values.inline_max are kept by reference first. */
static void
map_succeed(eng_exec *ex, uint32_t node, uint32_t attempt, Floe__Value ***vals, uint32_t n)
{
    const sched_pnode *pn = &ex->plan->plan->nodes[node];
    const Floe__Interface *ifc = pn->ifc;
    size_t n_out = ifc != NULL ? ifc->n_outputs : 0;
    struct out {
        Floe__NamedValue nv;
        Floe__Value lv;
        Floe__ValueList ll;
    } *o = floe_malloc((n_out ? n_out : 1) * sizeof(*o));
    Floe__NamedValue **ptrs = floe_malloc((n_out ? n_out : 1) * sizeof(*ptrs));
    if (o == NULL || ptrs == NULL) {
        floe_free(o);
        floe_free(ptrs);
        eng_term_fail(ex->t, "engine: out of memory (map outputs)");
        return;
    }
    for (size_t j = 0; j < n_out; j++) {
        Floe__NamedValue *nv = &o[j].nv;
        Floe__Value *lv = &o[j].lv;
        Floe__ValueList *ll = &o[j].ll;
        floe__value_list__init(ll);
        ll->items = vals != NULL ? vals[j] : NULL;
        ll->n_items = n;
        floe__value__init(lv);
        lv->kind_case = FLOE__VALUE__KIND_LIST;
        lv->list = ll;
        floe__named_value__init(nv);
        nv->name = ifc->outputs[j]->name;
        nv->value = lv;
        ptrs[j] = nv;
    }
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    vm.entries = ptrs;
    vm.n_entries = n_out;
    bool large = ex->t->e->blobs != NULL &&
                 store_valref_over(ptrs, n_out, (size_t)ex->t->e->cfg->values_inline_max);
    if (!large) {
        map_end(ex, node, attempt, &vm);
    } else { /* the lists stay valid: the gather's arena outlives the job (copied below) */
        ref_job *rj = floe_calloc(1, sizeof(*rj));
        floe_arena *a = rj != NULL ? floe_arena_new(65536, 0) : NULL;
        Floe__ValueMap *copy = NULL;
        if (a != NULL) {
            size_t len = floe__value_map__get_packed_size(&vm);
            uint8_t *packed = floe_malloc(len ? len : 1);
            if (packed != NULL) {
                floe__value_map__pack(&vm, packed);
                copy = floe__value_map__unpack(floe_arena_pb_allocator(a), len, packed);
            }
            floe_free(packed);
        }
        if (copy == NULL) {
            floe_arena_free(a);
            floe_free(rj);
            eng_term_fail(ex->t, "engine: out of memory (map outputs)");
        } else {
            rj->arena = a;
            rj->outs = copy->entries;
            rj->n_outs = copy->n_entries;
            ref_submit(ex, node, attempt, rj);
        }
    }
    floe_free(o);
    floe_free(ptrs);
}

/* --- Starting the items ---------------------------------------------------------------- */

void
eng_map_expand(eng_exec *ex, uint32_t node, uint32_t attempt, Floe__NamedValue *const *inputs,
               size_t n_inputs)
{
    eng_term *t = ex->t;
    const sched_pnode *pn = &ex->plan->plan->nodes[node];
    const Floe__Value *list = NULL;
    for (size_t i = 0; i < n_inputs; i++)
        if (strcmp(inputs[i]->name, pn->map->over) == 0)
            list = inputs[i]->value;
    if (list != NULL && list->kind_case == FLOE__VALUE__KIND_REF && t->e->blobs != NULL) {
        ref_job *rj = floe_calloc(1, sizeof(*rj));
        floe_arena *a = rj != NULL ? floe_arena_new(65536, 0) : NULL;
        size_t len = floe__value__get_packed_size(list);
        uint8_t *packed = a != NULL ? floe_arena_alloc(a, len ? len : 1) : NULL;
        if (packed != NULL) { /* a copy of its own: list lives in the scratch arena */
            floe__value__pack(list, packed);
            rj->ref = floe__value__unpack(floe_arena_pb_allocator(a), len, packed);
        }
        if (rj == NULL || rj->ref == NULL) {
            floe_arena_free(a);
            floe_free(rj);
            eng_term_fail(t, "engine: out of memory (map items)");
            return;
        }
        rj->arena = a;
        ref_submit(ex, node, attempt, rj);
        return;
    }
    expand_items(ex, node, attempt, list);
}

/* Starts one item per element of list (the map node's `over` input, inline). */
static void
expand_items(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *list)
{
    eng_term *t = ex->t;
    sched_engine *e = t->e;
    const sched_plan *plan = ex->plan->plan;
    const sched_pnode *pn = &plan->nodes[node];
    char msg[ENG_MSG_MAX];
    if (list == NULL || list->kind_case != FLOE__VALUE__KIND_LIST || list->list == NULL) {
        floe_text_fmt(msg, sizeof(msg), "input \"%s\" has no list to map over", pn->map->over);
        e->next.map_failed(ex, node, attempt, "map_input", msg);
        return;
    }
    size_t n = list->list->n_items;
    if (n >= SCHED_MAP_ITEMS_MAX) {
        floe_text_fmt(msg, sizeof(msg), "input \"%s\" has %zu items; a map runs at most %u",
                      pn->map->over, n, SCHED_MAP_ITEMS_MAX - 1);
        e->next.map_failed(ex, node, attempt, "map_too_large", msg);
        return;
    }
    if (n == 0) { /* nothing to run: every output an empty list */
        map_succeed(ex, node, attempt, NULL, 0);
        return;
    }
    const uint8_t **items = floe_malloc(n * sizeof(*items));
    size_t *lens = floe_malloc(n * sizeof(*lens));
    uint8_t *all = NULL;
    size_t total = 0;
    for (size_t k = 0; items != NULL && lens != NULL && k < n; k++)
        total += lens[k] = floe__value__get_packed_size(list->list->items[k]);
    if (items != NULL && lens != NULL)
        all = floe_malloc(total ? total : 1);
    if (all == NULL) {
        floe_free(items);
        floe_free(lens);
        eng_term_fail(t, "engine: out of memory (map items)");
        return;
    }
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        floe__value__pack(list->list->items[k], all + at);
        items[k] = all + at;
        at += lens[k];
    }
    eng_op *op = eng_op_new(t, ex, SCHED_EV_EXPANDED);
    floe_rc rc = FLOE_ENOMEM;
    if (op != NULL) {
        op->node = node;
        op->attempt = attempt;
        op->t0_us = 0;
        rc = store_state_map_expand(e->redis, t->epoch, ex->id, node, attempt,
                                    sched_plan_item(plan, node, 0), pn->map->concurrency, items,
                                    lens, n, e->next.state_reply, op);
    }
    floe_free(items);
    floe_free(lens);
    floe_free(all);
    if (rc != FLOE_OK) {
        eng_op_free(op);
        eng_term_fail(t, rc == FLOE_ENOMEM ? "engine: out of memory (map items)"
                                           : "redis: request not sent");
    }
}

/* --- Gathering ------------------------------------------------------------------------- */

typedef struct gather {
    uint32_t n, next, ok;
    size_t n_out;
    Floe__Value ***vals; /* [output][item], in arena */
    floe_arena *arena;
} gather;

static void gather_read(eng_op *op);

static void
gather_free(gather *g)
{
    if (g == NULL)
        return;
    floe_arena_free(g->arena);
    floe_free(g);
}

/* One item's record and outputs into g; false when out of memory. */
static bool
gather_item(gather *g, const Floe__Interface *ifc, uint32_t k, const char *rec, size_t rec_len,
            const char *out, size_t out_len)
{
    store_node_rec nr;
    for (size_t j = 0; j < g->n_out; j++)
        g->vals[j][k] = (Floe__Value *)&absent;
    if (rec == NULL || !store_state_node_rec_parse(rec, rec_len, &nr) ||
        !floe_phase_success(FLOE_SCOPE_NODE, (int)nr.phase) || out == NULL)
        return true;
    Floe__ValueMap *vm =
        floe__value_map__unpack(floe_arena_pb_allocator(g->arena), out_len, (const uint8_t *)out);
    if (vm == NULL)
        return true; /* undecodable outputs: absent, counted as a failure */
    for (size_t j = 0; j < g->n_out; j++)
        for (size_t q = 0; q < vm->n_entries; q++)
            if (vm->entries[q]->value != NULL &&
                strcmp(vm->entries[q]->name, ifc->outputs[j]->name) == 0)
                g->vals[j][k] = vm->entries[q]->value;
    g->ok++;
    return true;
}

static void
gather_done(eng_op *op, gather *g)
{
    eng_exec *ex = op->ex;
    const sched_pnode *pn = &ex->plan->plan->nodes[op->node];
    const Floe__MapSpec *m = pn->map;
    /* the smallest count whose ratio reaches min_success_ratio (1e-9: 0.7 * 10 is 7) */
    double want = ceil(m->min_success_ratio * g->n - 1e-9);
    uint32_t need = want > 0 ? (uint32_t)want : 0;
    if (m->min_successes > need)
        need = m->min_successes;
    if (g->ok < need) {
        char msg[ENG_MSG_MAX];
        floe_text_fmt(msg, sizeof(msg),
                      "%u of %u items failed; %u had to succeed (min_success_ratio %g, "
                      "min_successes %u)",
                      g->n - g->ok, g->n, need, m->min_success_ratio, m->min_successes);
        ex->t->e->next.map_failed(ex, op->node, op->attempt, "map_failed", msg);
        return;
    }
    map_succeed(ex, op->node, op->attempt, g->vals, g->n);
}

static void
gather_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    gather *g = op->data;
    eng_term *t = op->t;
    if (t->dead || err != NULL) {
        if (!t->dead)
            eng_term_fail(t, err->msg);
        gather_free(g);
        eng_op_free(op);
        return;
    }
    const Floe__Interface *ifc = op->ex->plan->plan->nodes[op->node].ifc;
    uint32_t end = g->next + GATHER_CHUNK < g->n ? g->next + GATHER_CHUNK : g->n;
    for (uint32_t k = g->next; k < end; k++) {
        size_t rl = 0, ol = 0;
        const char *rec = store_reply_str(store_reply_elem(rep, 2 * (k - g->next)), &rl);
        const char *out = store_reply_str(store_reply_elem(rep, 2 * (k - g->next) + 1), &ol);
        if (!gather_item(g, ifc, k, rec, rl, out, ol)) {
            gather_free(g);
            eng_op_free(op);
            eng_term_fail(t, "engine: out of memory (map outputs)");
            return;
        }
    }
    g->next = end;
    if (g->next < g->n) {
        gather_read(op);
        return;
    }
    gather_done(op, g);
    gather_free(g);
    eng_op_free(op);
}

static void
gather_read(eng_op *op)
{
    gather *g = op->data;
    eng_exec *ex = op->ex;
    const sched_plan *plan = ex->plan->plan;
    char names[2 * GATHER_CHUNK][16];
    const char *fields[2 * GATHER_CHUNK];
    size_t nf = 0;
    uint32_t first = sched_plan_item(plan, op->node, 0);
    for (uint32_t k = g->next; k < g->n && k < g->next + GATHER_CHUNK; k++) {
        snprintf(names[nf], sizeof(names[0]), "%u", first + k);
        fields[nf] = names[nf];
        nf++;
        snprintf(names[nf], sizeof(names[0]), "o%u", first + k);
        fields[nf] = names[nf];
        nf++;
    }
    if (store_state_hmget(ex->t->e->redis, ex->id, fields, nf, gather_reply, op) != FLOE_OK) {
        eng_term *t = op->t;
        gather_free(g);
        eng_op_free(op);
        eng_term_fail(t, "redis: not connected");
    }
}

void
eng_map_gather(eng_exec *ex, uint32_t node, uint32_t attempt, uint32_t n)
{
    eng_term *t = ex->t;
    const sched_pnode *pn = &ex->plan->plan->nodes[node];
    if (n == 0 || n >= SCHED_MAP_ITEMS_MAX)
        return; /* map_expand never starts such a map */
    gather *g = floe_calloc(1, sizeof(*g));
    eng_op *op = g != NULL ? eng_op_new(t, ex, OP_GATHER) : NULL;
    bool ok = op != NULL && (g->arena = floe_arena_new(65536, 0)) != NULL;
    if (ok) {
        g->n_out = pn->ifc != NULL ? pn->ifc->n_outputs : 0;
        ok = (g->vals = floe_arena_alloc(g->arena, (g->n_out + 1) * sizeof(*g->vals))) != NULL;
    }
    for (size_t j = 0; ok && j < g->n_out; j++)
        ok = (g->vals[j] = floe_arena_alloc(g->arena, n * sizeof(*g->vals[j]))) != NULL;
    if (!ok) {
        gather_free(g);
        eng_op_free(op);
        eng_term_fail(t, "engine: out of memory (map outputs)");
        return;
    }
    g->n = n;
    op->node = node;
    op->attempt = attempt;
    op->data = g;
    gather_read(op);
}
