/*
 * The loop side of sched_lp: a tick per launchplan.tick runs one pool job at a time
 * (schedules, launches, what to republish), then publishes what the job returned and
 * reports acknowledgements to the next job. DataPublished events queue here and are
 * matched in batches (one transaction each); they are acknowledged once committed, so a
 * failover replays them and the unique keys make the replay a no-op.
 */
#include "sched_engine_int.h"
#include "sched_lp.h"

#include "floe_mem.h"
#include "floe_time.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

enum { OP_LP_TICK = 1, OP_LP_DATA, OP_LP_SEND_REQ, OP_LP_SEND_DATA };

static void lp_delivered(eng_op *op, floe_rc rc, const char *reason);

#define DATA_BATCH 256
#define ACKED_MAX 4096

typedef struct lp_dp {
    struct lp_dp *next;
    uint8_t *payload; /* packed DataPublished */
    size_t len;
    char envelope_id[FLOE_ID_LEN + 1];
    int64_t time_us;
    floe_bus_pos pos;
} lp_dp;

struct eng_lps {
    /* The periodic tick, and a one-off kick to run it now: activating the persistent timer
     * itself with EV_TIMEOUT would make libevent schedule its next run an interval after
     * the pending one, so every kick pushed the periodic tick an interval further away
     * (after a burst of trigger firings, ticks stopped for tens of seconds). */
    struct event *tick_ev, *kick_ev;
    bool tick_busy, first, data_busy;
    bool kicked;              /* a kick came while a tick ran: another tick once it is done */
    unsigned inflight;        /* our messages not yet acknowledged by Kafka */
    int64_t pruned_us;        /* monotonic time of the last retention run, 0 = none this term */
    int64_t reconciled_us;    /* ... of the last reconcile page (sched_reconcile) */
    int64_t reconcile_cursor; /* where the next page starts */
    char **acked_req, **acked_data;
    size_t n_acked_req, n_acked_data;
    lp_dp *head, *tail;
    size_t n_queued;
    floe_metric *m_launched, *m_skipped, *m_missed, *m_fired, *m_dup, *m_pruned, *m_reconciled;
    floe_metric *m_refused_publish, *m_refused_trigger;
};

static void tick_cb(evutil_socket_t fd, short what, void *arg);
static void kick_cb(evutil_socket_t fd, short what, void *arg);

static void
dp_free(lp_dp *d)
{
    while (d != NULL) {
        lp_dp *next = d->next;
        floe_free(d->payload);
        floe_free(d);
        d = next;
    }
}

static void
acked_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        floe_free(v[i]);
    floe_free(v);
}

static bool
lp_start(eng_term *t)
{
    sched_engine *e = t->e;
    eng_lps *lp = floe_calloc(1, sizeof(*lp));
    if (lp == NULL)
        return false;
    lp->acked_req = floe_calloc(ACKED_MAX, sizeof(char *));
    lp->acked_data = floe_calloc(ACKED_MAX, sizeof(char *));
    lp->tick_ev = event_new(e->base, -1, EV_PERSIST, tick_cb, t);
    lp->kick_ev = event_new(e->base, -1, 0, kick_cb, t);
    if (lp->acked_req == NULL || lp->acked_data == NULL || lp->tick_ev == NULL ||
        lp->kick_ev == NULL) {
        if (lp->tick_ev != NULL)
            event_free(lp->tick_ev);
        if (lp->kick_ev != NULL)
            event_free(lp->kick_ev);
        floe_free(lp->acked_req);
        floe_free(lp->acked_data);
        floe_free(lp);
        return false;
    }
    lp->first = true;
    lp->m_launched = floe_metrics_counter(e->metrics, "floe_launchplan_launched_total",
                                          "executions launched by schedules and triggers", NULL);
    lp->m_skipped =
        floe_metrics_counter(e->metrics, "floe_launchplan_skipped_total",
                             "firings skipped (concurrency, queue full, bad input)", NULL);
    lp->m_missed = floe_metrics_counter(e->metrics, "floe_launchplan_missed_total",
                                        "scheduled instants dropped by the catch-up policy", NULL);
    lp->m_fired = floe_metrics_counter(e->metrics, "floe_launchplan_trigger_firings_total",
                                       "trigger firings recorded", NULL);
    lp->m_dup = floe_metrics_counter(e->metrics, "floe_launchplan_duplicate_events_total",
                                     "DataPublished events seen before (same event id)", NULL);
    static const char refused_help[] =
        "dataset events a dataset's owner did not allow: published into another project's "
        "dataset, or matching a launch plan of a project without its trigger grant";
    lp->m_refused_publish = floe_metrics_counter(
        e->metrics, "floe_launchplan_dataset_refused_total", refused_help, "right=\"publish\"");
    lp->m_refused_trigger = floe_metrics_counter(
        e->metrics, "floe_launchplan_dataset_refused_total", refused_help, "right=\"trigger\"");
    lp->m_pruned = floe_metrics_counter(
        e->metrics, "floe_launchplan_pruned_total",
        "done firings, consumed trigger events and sent dataset events deleted by retention", NULL);
    lp->m_reconciled = floe_metrics_counter(
        e->metrics, "floe_engine_reconciled_total",
        "QUEUED or RUNNING executions Redis did not know, requested again (sched_reconcile)", NULL);
    t->lp = lp;
    struct timeval tv = {e->cfg->lp_tick_ms / 1000, (e->cfg->lp_tick_ms % 1000) * 1000};
    event_add(lp->tick_ev, &tv);
    event_active(lp->kick_ev, EV_TIMEOUT, 0);
    return true;
}

static void
lp_stop(eng_term *t)
{
    if (t->lp != NULL) {
        event_del(t->lp->tick_ev);
        event_del(t->lp->kick_ev);
    }
}

static void
lp_free(eng_term *t)
{
    eng_lps *lp = t->lp;
    if (lp == NULL)
        return;
    event_free(lp->tick_ev);
    event_free(lp->kick_ev);
    acked_free(lp->acked_req, lp->n_acked_req);
    acked_free(lp->acked_data, lp->n_acked_data);
    dp_free(lp->head);
    floe_free(lp);
    t->lp = NULL;
}

/* --- Tick ------------------------------------------------------------------------------ */

typedef struct tick_ctx {
    eng_op *op;
    lp_tick_job job;
    char **acked_req, **acked_data; /* owned: handed over from the loop */
} tick_ctx;

static void
tick_work(void *ctx, void *arg)
{
    tick_ctx *c = arg;
    lp_tick_work(ctx, &c->job);
}

static void
send_msgs(eng_term *t, const lp_tick_job *j)
{
    sched_engine *e = t->e;
    for (size_t i = 0; i < j->n_msgs; i++) {
        const lp_msg *m = &j->msgs[i];
        const ProtobufCMessageDescriptor *d = floe_envelope_descriptor(m->type);
        ProtobufCMessage *pm = protobuf_c_message_unpack(d, NULL, m->len, m->payload);
        bool req = m->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED;
        eng_op *op =
            pm != NULL ? eng_op_new(t, NULL, req ? OP_LP_SEND_REQ : OP_LP_SEND_DATA) : NULL;
        if (op != NULL && (op->str = floe_strdup(m->id)) != NULL) {
            op->delivered = lp_delivered;
            floe_err err;
            if (floe_bus_produce(t->bus, e->topic_events, m->key, strlen(m->key), m->type, pm, op,
                                 NULL, &err) == FLOE_OK) {
                t->lp->inflight++;
                op = NULL;
            } else {
                floe_log_warn(&t->log, "launch plans: cannot publish %s: %s (next tick)", m->id,
                              err.msg);
            }
        }
        if (op != NULL)
            eng_op_free(op);
        if (pm != NULL)
            protobuf_c_message_free_unpacked(pm, NULL);
    }
}

static void
tick_done(void *arg)
{
    tick_ctx *c = arg;
    eng_op *op = c->op;
    eng_term *t = op->t;
    lp_tick_job *j = &c->job;
    if (!t->dead && t->lp != NULL) {
        eng_lps *lp = t->lp;
        lp->tick_busy = false;
        if (lp->kicked) { /* what the kick was for may postdate this tick's reads */
            lp->kicked = false;
            event_active(lp->kick_ev, EV_TIMEOUT, 0);
        }
        floe_metric_add(lp->m_launched, j->launched);
        floe_metric_add(lp->m_skipped, j->skipped);
        floe_metric_add(lp->m_missed, j->missed);
        floe_metric_add(lp->m_pruned, j->pruned);
        floe_metric_add(lp->m_reconciled, j->reconciled);
        if (j->reconcile && j->rc == FLOE_OK)
            lp->reconcile_cursor = j->reconcile_cursor;
        if (j->reconciled > 0)
            floe_log_warn(&t->log,
                          "%u QUEUED or RUNNING executions had no state in Redis (lost "
                          "writes, or a replica died before publishing them): "
                          "requested again",
                          j->reconciled);
        if (j->rc == FLOE_EFENCED) {
            eng_fenced(t, j->err.msg);
        } else {
            if (j->rc != FLOE_OK) {
                floe_log_warn(&t->log, "launch plans: %s (tried again next tick)", j->err.msg);
                /* Acknowledgements not written: report them again. */
                for (size_t i = 0; i < j->n_acked_req && lp->n_acked_req < ACKED_MAX; i++)
                    lp->acked_req[lp->n_acked_req++] = c->acked_req[i], c->acked_req[i] = NULL;
                for (size_t i = 0; i < j->n_acked_data && lp->n_acked_data < ACKED_MAX; i++)
                    lp->acked_data[lp->n_acked_data++] = c->acked_data[i], c->acked_data[i] = NULL;
            } else if (j->collect) {
                lp->first = false;
            }
            send_msgs(t, j);
        }
    }
    acked_free(c->acked_req, j->n_acked_req);
    acked_free(c->acked_data, j->n_acked_data);
    floe_arena_free(j->arena);
    floe_free(c);
    eng_op_free(op);
}

void
eng_lp_tick(eng_term *t)
{
    eng_lps *lp = t->lp;
    if (t->dead || lp == NULL || lp->tick_busy)
        return;
    sched_engine *e = t->e;
    tick_ctx *c = floe_calloc(1, sizeof(*c));
    floe_arena *a = c != NULL ? floe_arena_new(65536, 0) : NULL;
    eng_op *op = a != NULL ? eng_op_new(t, NULL, OP_LP_TICK) : NULL;
    if (op == NULL) {
        floe_arena_free(a);
        floe_free(c);
        return; /* next tick */
    }
    c->op = op;
    lp_tick_job *j = &c->job;
    j->epoch = t->epoch;
    j->cfg = e->cfg;
    j->now_s = floe_now_us() / 1000000;
    j->republish_all = lp->first;
    j->collect = lp->inflight == 0;
    int64_t mono = floe_mono_us();
    if (lp->pruned_us == 0 || mono - lp->pruned_us >= e->cfg->lp_prune_every_ms * 1000) {
        j->prune = true;
        lp->pruned_us = mono;
    }
    /* A whole pass goes page after page; the next pass waits engine.reconcile_every. */
    if (e->cfg->reconcile_every_ms > 0 && j->collect &&
        (lp->reconcile_cursor != 0 || lp->reconciled_us == 0 ||
         mono - lp->reconciled_us >= e->cfg->reconcile_every_ms * 1000)) {
        j->reconcile = true;
        j->reconcile_cursor = lp->reconcile_cursor;
        lp->reconciled_us = mono;
    }
    j->arena = a;
    c->acked_req = lp->acked_req;
    c->acked_data = lp->acked_data;
    j->acked_req = (const char **)c->acked_req;
    j->acked_data = (const char **)c->acked_data;
    j->n_acked_req = lp->n_acked_req;
    j->n_acked_data = lp->n_acked_data;
    char **nr = floe_calloc(ACKED_MAX, sizeof(char *)),
         **nd = floe_calloc(ACKED_MAX, sizeof(char *));
    if (nr == NULL || nd == NULL) {
        floe_free(nr);
        floe_free(nd);
        floe_arena_free(a);
        floe_free(c);
        eng_op_free(op);
        return;
    }
    lp->acked_req = nr;
    lp->acked_data = nd;
    lp->n_acked_req = lp->n_acked_data = 0;
    lp->tick_busy = true;
    if (floe_pool_submit(e->pool, tick_work, tick_done, c) != FLOE_OK) {
        j->rc = floe_err_sys(&j->err, FLOE_EAGAIN, "the database queue is full");
        tick_done(c); /* gives the acknowledgements back */
    }
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    eng_lp_tick(arg);
}

/* A tick now (a term's first, firings recorded by a trigger): one that is running may
 * have listed the plans before the firings were there, so it is followed by another. */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    eng_term *t = arg;
    if (t->lp != NULL && t->lp->tick_busy)
        t->lp->kicked = true;
    else
        eng_lp_tick(t);
}

static void
lp_delivered(eng_op *op, floe_rc rc, const char *reason)
{
    (void)reason;
    eng_term *t = op->t;
    eng_lps *lp = t->lp;
    if (t->dead || lp == NULL) {
        eng_op_free(op);
        return;
    }
    if (lp->inflight > 0)
        lp->inflight--;
    if (rc == FLOE_OK) {
        bool req = op->kind == OP_LP_SEND_REQ;
        char **v = req ? lp->acked_req : lp->acked_data;
        size_t *n = req ? &lp->n_acked_req : &lp->n_acked_data;
        if (*n < ACKED_MAX) {
            v[(*n)++] = op->str; /* republished later otherwise: harmless */
            op->str = NULL;
        }
    }
    eng_op_free(op);
}

/* --- DataPublished --------------------------------------------------------------------- */

typedef struct data_ctx {
    eng_op *op;
    lp_data_job job;
    lp_dp *head;
    lp_event *events;
} data_ctx;

static void data_flush(eng_term *t);

static void
data_work(void *ctx, void *arg)
{
    data_ctx *c = arg;
    lp_data_work(ctx, &c->job);
}

static void
data_done(void *arg)
{
    data_ctx *c = arg;
    eng_op *op = c->op;
    eng_term *t = op->t;
    lp_data_job *j = &c->job;
    if (!t->dead && t->lp != NULL) {
        eng_lps *lp = t->lp;
        lp->data_busy = false;
        if (j->rc == FLOE_OK) {
            for (lp_dp *d = c->head; d != NULL; d = d->next) {
                size_t i = 0;
                while (j->bad != NULL && i < j->n && c->events[i].tag != d)
                    i++;
                if (j->bad != NULL && i < j->n && j->bad[i])
                    eng_reject(t, &d->pos, "DataPublished refused by PostgreSQL");
                else
                    eng_ack(t, &d->pos);
            }
            floe_metric_add(lp->m_fired, j->fired);
            floe_metric_add(lp->m_dup, j->duplicates);
            floe_metric_add(lp->m_refused_publish, j->refused_publish);
            floe_metric_add(lp->m_refused_trigger, j->refused_trigger);
            if (j->fired > 0)
                event_active(lp->kick_ev, EV_TIMEOUT, 0); /* launch without waiting a tick */
            data_flush(t);
        } else if (j->rc == FLOE_EFENCED) {
            eng_fenced(t, j->err.msg);
        } else {
            char msg[FLOE_ERR_MSG_MAX];
            floe_text_fmt(msg, sizeof(msg), "triggers: %.200s", j->err.msg);
            eng_term_fail(t, msg); /* the events come again */
        }
    }
    dp_free(c->head);
    floe_arena_free(j->arena);
    floe_free(j->bad);
    floe_free(c->events);
    floe_free(c);
    eng_op_free(op);
}

static void
data_flush(eng_term *t)
{
    eng_lps *lp = t->lp;
    if (lp->data_busy || lp->head == NULL || t->dead)
        return;
    data_ctx *c = floe_calloc(1, sizeof(*c));
    floe_arena *a = c != NULL ? floe_arena_new(65536, 0) : NULL;
    lp_event *ev = a != NULL ? floe_calloc(DATA_BATCH, sizeof(*ev)) : NULL;
    eng_op *op = ev != NULL ? eng_op_new(t, NULL, OP_LP_DATA) : NULL;
    if (op == NULL) {
        floe_free(ev);
        floe_arena_free(a);
        floe_free(c);
        eng_term_fail(t, "engine: out of memory (triggers)");
        return;
    }
    size_t n = 0;
    lp_dp *d = lp->head, *last = NULL;
    while (d != NULL && n < DATA_BATCH) {
        ev[n].m = floe__data_published__unpack(floe_arena_pb_allocator(a), d->len, d->payload);
        ev[n].envelope_id = d->envelope_id;
        ev[n].time_us = d->time_us;
        ev[n].tag = d;
        if (ev[n].m != NULL)
            n++;
        last = d;
        d = d->next;
    }
    c->head = lp->head;
    if (last != NULL)
        last->next = NULL;
    lp->head = d;
    if (d == NULL)
        lp->tail = NULL;
    lp->n_queued = 0;
    for (lp_dp *x = lp->head; x != NULL; x = x->next)
        lp->n_queued++;
    c->op = op;
    c->events = ev;
    c->job.epoch = t->epoch;
    c->job.events = ev;
    c->job.n = n;
    c->job.arena = a;
    lp->data_busy = true;
    if (floe_pool_submit(t->e->pool, data_work, data_done, c) != FLOE_OK) {
        lp->data_busy = false;
        dp_free(c->head);
        floe_arena_free(a);
        floe_free(ev);
        floe_free(c);
        eng_op_free(op);
        eng_term_fail(t, "engine: the database queue is full (triggers)");
    }
}

static void
lp_data(eng_term *t, const floe_bus_msg *msg)
{
    eng_lps *lp = t->lp;
    lp_dp *d = floe_calloc(1, sizeof(*d));
    size_t len = protobuf_c_message_get_packed_size(msg->env->msg);
    if (lp == NULL || d == NULL || (d->payload = floe_malloc(len ? len : 1)) == NULL) {
        floe_free(d);
        eng_term_fail(t, "engine: out of memory (triggers)");
        return;
    }
    d->len = protobuf_c_message_pack(msg->env->msg, d->payload);
    memcpy(d->envelope_id, msg->env->id, sizeof(d->envelope_id));
    d->time_us = msg->env->time_unix_us;
    d->pos = msg->pos;
    if (lp->tail != NULL)
        lp->tail->next = d;
    else
        lp->head = d;
    lp->tail = d;
    lp->n_queued++;
    data_flush(t);
}

const eng_feature eng_lp_feature = {.name = "launch plans",
                                    .start = lp_start,
                                    .stop = lp_stop,
                                    .free = lp_free,
                                    .consumes = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED,
                                    .on_message = lp_data};
