/*
 * sched_cache — memoization in the engine (docs/catalog.md).
 *
 * A cacheable attempt (task cache enabled) gets its cache key when its dispatch is built
 * (floe_canon_cache_key over the resolved inputs). Then:
 *   look-up (PostgreSQL, pool thread) -- hit --> the node ends CACHED with the recorded
 *     outputs; no worker is involved.
 *   miss --> cache_reserve (Redis): "run" -> dispatched carrying the key; "wait" -> an
 *     identical attempt is running elsewhere: this one waits in the delayed set until that
 *     one's result is recorded (woken at once) or the runner is found dead (rechecked);
 *     "again" -> the result was recorded a moment ago: look up once more.
 * --no-cache and --overwrite-cache skip the look-up: the key is only remembered.
 * When a keyed attempt succeeds, its outputs are recorded under the key (the first
 * result wins, --overwrite-cache replaces, an expired entry is replaced), then
 * cache_done wakes the waiters, then the TaskSucceeded is acknowledged: a crash in
 * between replays the event and the recording is completed.
 */
#include "sched_engine_int.h"

#include "floe_canon.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "store_blob.h"
#include "store_catalog.h"

#include <stdio.h>
#include <string.h>

enum { OP_LOOKUP = 1, OP_RESERVE, OP_RECORD, OP_DONE };

#define DONE_MARK_MS 60000

typedef struct cache_job {
    eng_op *op;
    char key[FLOE_CANON_HEX_LEN + 1];
    char node_id[SCHED_PLAN_ID_SIZE]; /* a map item's, when the entry names one */
    int64_t ready_us;
    bool looked_again;
    uint8_t *inputs; /* packed floe.ValueMap: what a hit consumed, for its lineage */
    size_t inputs_len;
    /* record */
    store_catalog_entry entry;
    bool overwrite;
    uint64_t epoch; /* the term's: its writes are fenced by it */
    /* results */
    store_blob *blobs; /* the engine's, read on the pool thread */
    floe_arena *arena;
    store_catalog_entry hit;
    char stale[160]; /* a hit dropped: the blob of it that is gone */
    floe_rc rc;
    floe_err err;
} cache_job;

bool
eng_cache_applies(const eng_exec *ex, const sched_pnode *pn)
{
    (void)ex;
    return pn->task != NULL && pn->task->cache != NULL && pn->task->cache->enabled &&
           pn->task->id != NULL;
}

static void
job_free(cache_job *j)
{
    if (j == NULL)
        return;
    floe_arena_free(j->arena);
    floe_free(j->inputs);
    floe_free(j);
}

/* The lineage of a hit: it consumed its inputs and produced the recorded outputs, which
 * derive from the run that recorded them. */
static void
hit_lineage(eng_op *op, cache_job *j)
{
    sched_engine *e = op->t->e;
    ProtobufCAllocator *al = floe_arena_pb_allocator(e->scratch);
    Floe__ValueMap *in = floe__value_map__unpack(al, j->inputs_len, j->inputs);
    Floe__ValueMap *out = floe__value_map__unpack(al, j->hit.outputs_len, j->hit.outputs);
    if (in == NULL || out == NULL)
        return;
    eng_lin_in li = {.attempt = 0,
                     .phase = "CACHED",
                     .cache_key = j->key,
                     .source_execution = j->hit.execution_id,
                     .source_node = j->hit.node_id,
                     .consumed = in->entries,
                     .n_consumed = in->n_entries,
                     .produced = out->entries,
                     .n_produced = out->n_entries};
    eng_lineage_add(op->ex, op->node, &li, NULL);
    floe_arena_reset(e->scratch);
}

static floe_log_ctx
log_ctx(const eng_op *op, char idbuf[SCHED_PLAN_ID_SIZE])
{
    const eng_exec *ex = op->ex;
    return (floe_log_ctx){.comp = "engine",
                          .exec = ex->id,
                          .node = eng_node_id(ex, op->node, idbuf),
                          .attempt = op->attempt,
                          .epoch = op->t->epoch};
}

static void lookup(eng_op *op, cache_job *j);

/* --- Reservation ----------------------------------------------------------------------- */

static void
reserve_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    cache_job *j = op->data;
    store_state_res res;
    if (eng_script_failed(op->t, rep, err, &res) || res.st != STORE_ST_OK) {
        job_free(j);
        eng_op_free(op);
        return;
    }
    const char *what = res.note != NULL ? res.note : "";
    eng_exec *ex = op->ex;
    if (strcmp(what, "run") == 0) {
        ex->t->e->next.dispatch_keyed(ex, op->node, op->attempt, j->ready_us, j->key);
    } else if (strcmp(what, "again") == 0) {
        j->looked_again = true;
        op->data = NULL;
        lookup(op, j); /* takes op and j */
        return;
    } else if (strcmp(what, "wait") == 0) {
        floe_metric_add(op->t->e->m_cache[ENG_CACHE_WAIT], 1);
        size_t hl = 0;
        const char *holder = store_state_item_str(&res, 0, &hl);
        char idbuf[SCHED_PLAN_ID_SIZE];
        floe_log_ctx c = log_ctx(op, idbuf);
        floe_log_debug(&c, "waiting for the identical run of %.*s (cache key %.12s)", (int)hl,
                       holder != NULL ? holder : "?", j->key);
    }
    job_free(j);
    eng_op_free(op);
}

static void
reserve(eng_op *op, cache_job *j, bool record_only)
{
    eng_term *t = op->t;
    const floe_config *cfg = t->e->cfg;
    store_cache_req q = {.exec = op->ex->id,
                         .node = op->node,
                         .attempt = op->attempt,
                         .cache_key = j->key,
                         .reservation_ms = cfg->cache_reservation_ms,
                         .recheck_ms = cfg->cache_recheck_ms,
                         .looked_again = j->looked_again,
                         .record_only = record_only};
    op->kind = OP_RESERVE;
    op->data = j;
    if (store_state_cache_reserve(t->e->redis, t->epoch, &q, reserve_reply, op) != FLOE_OK) {
        job_free(j);
        eng_op_free(op);
        eng_term_fail(t, "redis: not connected");
    }
}

/* --- Look-up --------------------------------------------------------------------------- */

#define BLOB_CHECK_DEPTH 32 /* values nest no deeper: types are bounded at registration */

/* The uri of the first blob in v that the store no longer holds, or NULL. A blob the
 * store cannot answer for (unreachable) counts as there: the attempt that reads it fails
 * as SYSTEM and is retried, as before the check. */
static const char *
missing_blob(store_blob *bs, const Floe__Value *v, unsigned depth)
{
    if (v == NULL || depth > BLOB_CHECK_DEPTH)
        return NULL;
    const char *gone = NULL;
    switch (v->kind_case) {
    case FLOE__VALUE__KIND_BLOB: {
        uint64_t size;
        floe_err err;
        if (v->blob != NULL && store_blob_stat(bs, v->blob->uri, &size, &err) == FLOE_ENOTFOUND)
            gone = v->blob->uri;
        break;
    }
    case FLOE__VALUE__KIND_LIST:
        for (size_t i = 0; v->list != NULL && i < v->list->n_items && gone == NULL; i++)
            gone = missing_blob(bs, v->list->items[i], depth + 1);
        break;
    case FLOE__VALUE__KIND_MAP:
        for (size_t i = 0; v->map != NULL && i < v->map->n_entries && gone == NULL; i++)
            gone = missing_blob(bs, v->map->entries[i]->value, depth + 1);
        break;
    default:
        break;
    }
    return gone;
}

/* A hit whose outputs name a blob the store no longer has is no hit: the entry is
 * deleted (a new result replaces it) and the attempt runs. */
static void
drop_if_stale(cache_job *j, store_pg *pg)
{
    Floe__ValueMap *m = floe__value_map__unpack(floe_arena_pb_allocator(j->arena),
                                                j->hit.outputs_len, j->hit.outputs);
    const char *gone = NULL;
    for (size_t i = 0; m != NULL && i < m->n_entries && gone == NULL; i++)
        gone = missing_blob(j->blobs, m->entries[i]->value, 0);
    if (gone == NULL)
        return;
    floe_text_fmt(j->stale, sizeof(j->stale), "%s", gone);
    int64_t n = 0;
    floe_err derr; /* when it stays, the next look-up finds it stale again */
    store_catalog_delete(pg, j->epoch, j->hit.project, j->hit.domain, NULL, j->key, &n, &derr);
    j->rc = FLOE_ENOTFOUND;
}

static void
lookup_work(void *ctx, void *arg)
{
    cache_job *j = arg;
    store_pg *pg = ctx;
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) == FLOE_OK)
        j->rc = store_catalog_lookup(pg, j->key, j->arena, &j->hit, &j->err);
    if (j->rc == FLOE_OK && j->blobs != NULL)
        drop_if_stale(j, pg);
}

static void
lookup_done(void *arg)
{
    cache_job *j = arg;
    eng_op *op = j->op;
    eng_term *t = op->t;
    if (t->dead) {
        job_free(j);
        eng_op_free(op);
        return;
    }
    if (j->rc == FLOE_OK) {
        floe_metric_add(t->e->m_cache[ENG_CACHE_HIT], 1);
        char idbuf[SCHED_PLAN_ID_SIZE];
        floe_log_ctx c = log_ctx(op, idbuf);
        floe_log_info(&c, "cache hit %.12s: outputs of %s/%s attempt %u", j->key,
                      j->hit.execution_id, j->hit.node_id, j->hit.attempt);
        op->t->e->next.node_cached(op->ex, op->node, op->attempt, j->hit.outputs,
                                   j->hit.outputs_len);
        hit_lineage(op, j);
        job_free(j);
        eng_op_free(op);
    } else if (j->rc == FLOE_ENOTFOUND) {
        if (j->stale[0] != '\0') {
            char idbuf[SCHED_PLAN_ID_SIZE];
            floe_log_ctx c = log_ctx(op, idbuf);
            floe_log_warn(&c,
                          "cache entry %.12s dropped: its output %s is no longer in the blob "
                          "store; the attempt runs",
                          j->key, j->stale);
            floe_metric_add(t->e->m_cache[ENG_CACHE_STALE], 1);
            j->stale[0] = '\0';
        }
        if (!j->looked_again)
            floe_metric_add(t->e->m_cache[ENG_CACHE_MISS], 1);
        reserve(op, j, false);
    } else {
        char msg[FLOE_ERR_MSG_MAX];
        floe_text_fmt(msg, sizeof(msg), "catalog look-up: %.200s", j->err.msg);
        job_free(j);
        eng_op_free(op);
        eng_term_fail(t, msg); /* the dispatch stays in the outbox: tried again next term */
    }
}

static void
lookup(eng_op *op, cache_job *j)
{
    eng_term *t = op->t;
    floe_arena_free(j->arena);
    j->arena = floe_arena_new(4096, 0);
    j->op = op;
    j->epoch = t->epoch;
    j->blobs = t->e->blobs;
    op->kind = OP_LOOKUP;
    if (j->arena == NULL || floe_pool_submit(t->e->pool, lookup_work, lookup_done, j) != FLOE_OK) {
        job_free(j);
        eng_op_free(op);
        eng_term_fail(t, "engine: the database queue is full (catalog look-up)");
    }
}

void
eng_cache_begin(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us,
                Floe__NamedValue *const *inputs, size_t n_inputs)
{
    eng_term *t = ex->t;
    const sched_pnode *pn = eng_pnode(ex, node, NULL);
    if (pn == NULL)
        return;
    const Floe__TaskSpec *task = pn->task;
    floe_cache_ident id = {.project = task->id->project,
                           .domain = task->id->domain,
                           .task_name = task->id->name,
                           .interface_digest = task->interface_digest,
                           .runtime_digest = task->runtime_digest,
                           .cache_version = task->cache->version};
    cache_job *j = floe_calloc(1, sizeof(*j));
    eng_op *op = j != NULL ? eng_op_new(t, ex, OP_LOOKUP) : NULL;
    if (op == NULL || floe_canon_cache_key(&id, inputs, n_inputs, j->key) != 0) {
        floe_free(j);
        eng_op_free(op);
        eng_term_fail(t, "engine: out of memory (cache key)");
        return;
    }
    op->node = node;
    op->attempt = attempt;
    j->ready_us = ready_us;
    Floe__ValueMap vm = FLOE__VALUE_MAP__INIT;
    vm.entries = (Floe__NamedValue **)inputs;
    vm.n_entries = n_inputs;
    j->inputs_len = floe__value_map__get_packed_size(&vm);
    if ((j->inputs = floe_malloc(j->inputs_len ? j->inputs_len : 1)) == NULL) {
        job_free(j);
        eng_op_free(op);
        eng_term_fail(t, "engine: out of memory (cache key)");
        return;
    }
    floe__value_map__pack(&vm, j->inputs);
    if (ex->no_cache || ex->overwrite_cache)
        reserve(op, j, true);
    else
        lookup(op, j);
}

/* --- Recording ------------------------------------------------------------------------- */

static void
done_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    store_state_res res;
    if (!eng_script_failed(t, rep, err, &res) && res.st == STORE_ST_OK) {
        for (size_t i = 0; i < res.n_items; i++) {
            size_t len = 0;
            const char *m = store_state_item_str(&res, i, &len);
            if (m != NULL && !t->e->next.dispatch_member(t, m, len))
                break;
        }
        if (op->has_pos)
            eng_ack(t, &op->pos);
    }
    eng_op_free(op);
}

static void
record_work(void *ctx, void *arg)
{
    cache_job *j = arg;
    store_pg *pg = ctx;
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) == FLOE_OK)
        j->rc = store_catalog_record(pg, j->epoch, &j->entry, j->overwrite, &j->err);
}

static void
record_done(void *arg)
{
    cache_job *j = arg;
    eng_op *op = j->op;
    eng_term *t = op->t;
    if (t->dead) {
        job_free(j);
        eng_op_free(op);
        return;
    }
    if (j->rc != FLOE_OK) {
        char msg[FLOE_ERR_MSG_MAX];
        floe_text_fmt(msg, sizeof(msg), "catalog record: %.200s", j->err.msg);
        floe_rc rc = j->rc;
        job_free(j);
        eng_op_free(op);
        if (rc == FLOE_EFENCED)
            eng_fenced(t, msg);
        else
            eng_term_fail(t, msg); /* unacknowledged: the success is handled again */
        return;
    }
    floe_metric_add(t->e->m_cache[ENG_CACHE_RECORDED], 1);
    op->kind = OP_DONE;
    op->data = NULL;
    floe_rc rc =
        store_state_cache_done(t->e->redis, t->epoch, j->key, DONE_MARK_MS, done_reply, op);
    job_free(j);
    if (rc != FLOE_OK) {
        eng_op_free(op);
        eng_term_fail(t, "redis: not connected");
    }
}

void
eng_cache_record(eng_exec *ex, uint32_t node, uint32_t attempt, const char *key, uint8_t *outputs,
                 size_t len, const floe_bus_pos *pos, bool has_pos)
{
    eng_term *t = ex->t;
    const sched_pnode *pn = eng_pnode(ex, node, NULL);
    if (pn == NULL) {
        floe_free(outputs);
        if (has_pos)
            eng_ack(t, pos);
        return;
    }
    const Floe__TaskSpec *task = pn->task;
    cache_job *j = floe_calloc(1, sizeof(*j));
    eng_op *op = j != NULL ? eng_op_new(t, ex, OP_RECORD) : NULL;
    if (op == NULL || strlen(key) != FLOE_CANON_HEX_LEN) {
        floe_free(outputs);
        floe_free(j);
        eng_op_free(op);
        if (op == NULL)
            eng_term_fail(t, "engine: out of memory (catalog record)");
        else if (has_pos)
            eng_ack(t, pos);
        return;
    }
    op->node = node;
    op->attempt = attempt;
    op->buf = outputs; /* owned by the op until it ends */
    op->buf_len = len;
    if (has_pos) {
        op->pos = *pos;
        op->has_pos = true;
    }
    memcpy(j->key, key, FLOE_CANON_HEX_LEN + 1);
    j->op = op;
    j->epoch = t->epoch;
    j->overwrite = ex->overwrite_cache;
    j->entry = (store_catalog_entry){.cache_key = j->key,
                                     .project = task->id->project,
                                     .domain = task->id->domain,
                                     .task_name = task->id->name,
                                     .task_version = task->id->version,
                                     .cache_version = task->cache->version,
                                     .outputs = outputs,
                                     .outputs_len = len,
                                     .execution_id = ex->id,
                                     .node_id = eng_node_id(ex, node, j->node_id),
                                     .attempt = attempt,
                                     .ttl_s = task->cache->ttl_s};
    if (floe_pool_submit(t->e->pool, record_work, record_done, j) != FLOE_OK) {
        job_free(j);
        eng_op_free(op);
        eng_term_fail(t, "engine: the database queue is full (catalog record)");
    }
}
