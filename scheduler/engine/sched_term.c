/*
 * sched_term — the plumbing of a leadership term every engine module shares: operations
 * and their references, acknowledgements, and what to do when Redis fails (end the
 * term; start a new one under the same epoch once Redis answers again: every
 * unacknowledged event is delivered again and handled idempotently) or refuses the epoch
 * (stop, demote). The bottom of the engine: it calls nothing above it but through e->next.
 */
#include "sched_engine_int.h"

#include "floe_mem.h"
#include "floe_time.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ENG_OPS_FREE_MAX 4096

eng_op *
eng_op_new(eng_term *t, eng_exec *ex, int kind)
{
    sched_engine *e = t->e;
    eng_op *op = e->free_ops;
    if (op != NULL) {
        e->free_ops = op->next;
        e->n_free_ops--;
    } else if ((op = floe_malloc(sizeof(*op))) == NULL) {
        return NULL;
    }
    memset(op, 0, sizeof(*op));
    op->t = t;
    op->ex = ex;
    op->kind = kind;
    eng_term_ref(t);
    if (ex != NULL)
        ex->inflight++;
    return op;
}

void
eng_op_free(eng_op *op)
{
    if (op == NULL)
        return;
    eng_term *t = op->t;
    sched_engine *e = t->e;
    floe_free(op->str);
    op->str = NULL;
    floe_free(op->buf);
    op->buf = NULL;
    if (op->ex != NULL)
        e->next.exec_release(op->ex);
    if (e->n_free_ops < ENG_OPS_FREE_MAX) {
        op->next = e->free_ops;
        e->free_ops = op;
        e->n_free_ops++;
    } else {
        floe_free(op);
    }
    eng_term_unref(t);
}

void
eng_term_ref(eng_term *t)
{
    t->refs++;
}

void
eng_term_unref(eng_term *t)
{
    if (--t->refs > 0)
        return;
    for (size_t i = 0; i < t->n_acks; i++)
        floe_free(t->acks[i]);
    for (const eng_feature *const *f = ENG_FEATURES(t->e); *f != NULL; f++)
        if ((*f)->free != NULL)
            (*f)->free(t);
    floe_map_free(t->execs);
    eng_egress_free(t->egress);
    floe_free(t);
}

void
eng_term_end(sched_engine *e, const char *why)
{
    eng_term *t = e->term;
    if (t == NULL)
        return;
    e->term = NULL;
    if (e->hooks.on_term != NULL)
        e->hooks.on_term(0, e->hooks.arg);
    eng_egress_flush(t); /* what this term decided, while its bus still runs */
    unsigned handed = eng_handoff_requeue(t, e->topic_events);
    if (handed > 0)
        floe_log_info(&t->log,
                      "%u requests taken from this replica's API, not yet started, "
                      "produced to %s for the next term",
                      handed, e->topic_events);
    t->dead = true;
    floe_log_warn(&t->log, "engine stops: %s", why);
    event_del(t->sweep_ev);
    event_del(t->ack_ev);
    for (const eng_feature *const *f = ENG_FEATURES(e); *f != NULL; f++)
        if ((*f)->stop != NULL)
            (*f)->stop(t);
    e->next.drop_execs(t);
    floe_metric_set(e->m_running, 0);
    event_active(t->free_ev, EV_TIMEOUT, 0);
}

void
eng_term_fail(eng_term *t, const char *why)
{
    sched_engine *e = t->e;
    if (t->dead || e->term != t)
        return;
    floe_log_error(&t->log, "%s; restarting the term", why);
    uint64_t epoch = t->epoch;
    eng_term_end(e, why);
    e->restart_epoch = epoch;
    struct timeval tv = {0, ENG_RESTART_MS * 1000};
    event_add(e->restart_ev, &tv);
}

bool
eng_leading(eng_term *t)
{
    const sched_engine *e = t->e;
    if (!t->dead && e->hooks.leading != NULL)
        (void)e->hooks.leading(e->hooks.arg); /* a demotion ends t */
    return !t->dead;
}

void
eng_fenced(eng_term *t, const char *note)
{
    sched_engine *e = t->e;
    floe_metric_add(e->m_fenced, 1);
    if (t->dead)
        return;
    char why[FLOE_ERR_MSG_MAX];
    snprintf(why, sizeof(why), "write refused by the fence: %s", note);
    floe_log_warn(&t->log, "%s", why);
    e->restart_epoch = 0;
    eng_term_end(e, why);
    if (e->hooks.on_fenced != NULL)
        e->hooks.on_fenced(why, e->hooks.arg);
}

bool
eng_script_failed(eng_term *t, const store_reply *rep, const floe_err *err, store_state_res *res)
{
    if (t->dead)
        return true;
    if (err != NULL) {
        eng_term_fail(t, err->msg);
        return true;
    }
    store_state_parse(rep, res);
    if (res->st == STORE_ST_ERROR) {
        eng_term_fail(t, "redis: a script answered in an unexpected shape");
        return true;
    }
    if (res->st == STORE_ST_FENCED) {
        eng_fenced(t, res->note);
        return true;
    }
    if (res->st == STORE_ST_NOOP)
        floe_metric_add(t->e->m_noop, 1);
    return false;
}

void
eng_ack(eng_term *t, const floe_bus_pos *pos)
{
    if (eng_handoff_done(t, pos))
        return;
    if (!t->dead && t->bus != NULL)
        floe_bus_ack(t->bus, pos);
}

void
eng_reject(eng_term *t, const floe_bus_pos *pos, const char *why)
{
    if (eng_handoff_done(t, pos)) {
        /* The API checked it as the engine does: a refusal here is a bug, said loudly. */
        floe_log_error(&t->log, "a request taken from this replica's API was refused: %s", why);
        return;
    }
    if (t->dead || t->bus == NULL)
        return;
    floe_metric_add(t->e->m_dlq, 1);
    floe_bus_reject(t->bus, pos, why);
}

const char *
eng_csv(sched_engine *e, const uint32_t *v, size_t n)
{
    size_t need = n * 11 + 1;
    if (need > e->csv_cap) {
        char *c = floe_realloc(e->csv, need);
        if (c == NULL)
            return NULL;
        e->csv = c;
        e->csv_cap = need;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += (size_t)snprintf(e->csv + pos, 12, "%s%u", i ? "," : "", v[i]);
    e->csv[pos] = '\0';
    return e->csv;
}

/* --- Nodes and map items --------------------------------------------------------------- */

const sched_pnode *
eng_pnode(const eng_exec *ex, uint32_t idx, int64_t *item)
{
    uint32_t node;
    int64_t k = -1;
    const sched_plan *plan = ex->plan != NULL ? ex->plan->plan : NULL;
    if (item != NULL)
        *item = -1;
    if (plan == NULL || !sched_plan_locate(plan, idx, &node, &k))
        return NULL;
    if (item != NULL)
        *item = k;
    return &plan->nodes[node];
}

const char *
eng_node_id(const eng_exec *ex, uint32_t idx, char buf[SCHED_PLAN_ID_SIZE])
{
    if (ex->plan == NULL)
        return "";
    return sched_plan_id(ex->plan->plan, idx, buf, SCHED_PLAN_ID_SIZE);
}

const char *
eng_item_spec(const eng_exec *ex, uint32_t idx, char buf[64])
{
    int64_t k;
    const sched_pnode *pn = eng_pnode(ex, idx, &k);
    if (pn == NULL || k < 0)
        return NULL;
    const sched_plan *plan = ex->plan->plan;
    uint32_t node = (uint32_t)(pn - plan->nodes);
    snprintf(buf, 64, "%u,%u,%" PRId64 ",%u", node, sched_plan_item(plan, node, 0), k,
             pn->map->concurrency);
    return buf;
}
