/*
 * sched_egress — execution and node phase changes for subscribers, on <prefix>.egress
 * (broker-schemas/README.md). With engine.egress_batch on (the default) the changes are
 * held for engine.egress_delay (25 ms) after the first of them, or until the loop is done
 * with the batch of work that made them (delay 0), and sent as one PhaseChanges message
 * per execution, its changes in the order they were made (issue 25: a wide fan-out's
 * thousand READY changes are one message, not a thousand; a small execution's changes
 * over several hops, one or two). Off: one PhaseChanged each, at once. Best effort either
 * way: what a leader held when it died is not sent (docs/engine.md, Known limits).
 */
#include "sched_engine_int.h"

#include "floe_mem.h"
#include "floe_time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#define EGRESS_HELD_MAX 4096   /* changes held before a flush is forced */
#define EGRESS_PER_MESSAGE 256 /* changes in one PhaseChanges (~100 B each) */

struct eng_egress_buf {
    eng_term *t;
    struct event *ev;
    floe_arena *arena; /* the held changes' strings; reset on each flush */
    Floe__PhaseChanged **v;
    size_t n, cap;
};

static void
egress_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    eng_egress_flush(((eng_egress_buf *)arg)->t);
}

eng_egress_buf *
eng_egress_new(eng_term *t)
{
    eng_egress_buf *g = floe_calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->t = t;
    g->arena = floe_arena_new(16384, 0);
    g->ev = event_new(t->e->base, -1, 0, egress_flush_cb, g);
    if (g->arena == NULL || g->ev == NULL) {
        eng_egress_free(g);
        return NULL;
    }
    return g;
}

void
eng_egress_free(eng_egress_buf *g)
{
    if (g == NULL)
        return;
    if (g->ev != NULL)
        event_free(g->ev);
    floe_arena_free(g->arena);
    floe_free(g->v);
    floe_free(g);
}

static char *
copy(floe_arena *a, const char *s)
{
    return floe_arena_strndup(a, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* A held change, its strings copied (the plan it names may go before the flush). */
static bool
hold(eng_egress_buf *g, const Floe__PhaseChanged *m)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        Floe__PhaseChanged **v = floe_realloc(g->v, cap * sizeof(*v));
        if (v == NULL)
            return false;
        g->v = v;
        g->cap = cap;
    }
    floe_arena *a = g->arena;
    Floe__PhaseChanged *c = floe_arena_alloc(a, sizeof(*c));
    Floe__Identifier *w = m->workflow != NULL ? floe_arena_alloc(a, sizeof(*w)) : NULL;
    if (c == NULL || (m->workflow != NULL && w == NULL))
        return false;
    *c = *m;
    c->execution_id = copy(a, m->execution_id);
    c->node_id = copy(a, m->node_id);
    c->message = copy(a, m->message);
    if (w != NULL) {
        floe__identifier__init(w);
        w->project = copy(a, m->workflow->project);
        w->domain = copy(a, m->workflow->domain);
        w->name = copy(a, m->workflow->name);
        w->version = copy(a, m->workflow->version);
        if (w->project == NULL || w->domain == NULL || w->name == NULL || w->version == NULL)
            return false;
    }
    c->workflow = w;
    if (c->execution_id == NULL || c->node_id == NULL || c->message == NULL)
        return false;
    g->v[g->n++] = c;
    return true;
}

void
eng_egress(eng_term *t, const eng_exec *ex, const char *node_id, uint32_t attempt,
           floe_transition tr, floe_error_kind error_kind, const char *message)
{
    const floe_transition_def *d = floe_transition_get(tr);
    sched_engine *e = t->e;
    if (t->dead || t->bus == NULL || (node_id != NULL && !e->cfg->egress_nodes))
        return;
    Floe__PhaseChanged m = FLOE__PHASE_CHANGED__INIT;
    m.execution_id = (char *)ex->id;
    m.node_id = (char *)(node_id != NULL ? node_id : "");
    m.attempt = attempt;
    m.old_phase = (Floe__Phase)d->from;
    m.new_phase = (Floe__Phase)d->to;
    m.changed_unix_us = floe_now_us();
    m.error_kind = (Floe__ErrorKind)error_kind;
    m.message = (char *)(message != NULL ? message : "");
    if (ex->plan != NULL && ex->plan->plan != NULL)
        m.workflow = ex->plan->plan->spec->id;
    eng_egress_buf *g = t->egress;
    if (e->cfg->egress_batch && g != NULL) {
        if (!hold(g, &m)) {
            floe_log_warn(&t->log, "egress: out of memory; a phase change of %s not sent", ex->id);
            return;
        }
        if (g->n >= EGRESS_HELD_MAX) {
            event_del(g->ev);
            eng_egress_flush(t);
        } else if (g->n == 1 && e->cfg->egress_delay_ms > 0) {
            int64_t ms = e->cfg->egress_delay_ms;
            struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
            event_add(g->ev, &tv);
        } else if (g->n == 1) {
            event_active(g->ev, EV_TIMEOUT, 0); /* once the loop is done with this batch */
        }
        return;
    }
    floe_err err = {0};
    if (floe_bus_produce(t->bus, e->topic_egress, ex->id, strlen(ex->id),
                         FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGED, &m.base, NULL, NULL,
                         &err) != FLOE_OK)
        floe_log_warn(&t->log, "egress: %s", err.msg);
}

/* Held changes in execution order, each execution's in the order made. */
static int
by_exec(const void *a, const void *b)
{
    Floe__PhaseChanged **x = *(Floe__PhaseChanged * *const *)a;
    Floe__PhaseChanged **y = *(Floe__PhaseChanged * *const *)b;
    int c = strcmp((*x)->execution_id, (*y)->execution_id);
    return c != 0 ? c : (x < y ? -1 : x > y);
}

void
eng_egress_flush(eng_term *t)
{
    eng_egress_buf *g = t->egress;
    if (g == NULL || g->n == 0)
        return;
    sched_engine *e = t->e;
    /* Sort pointers to the held slots, so equal ids keep their order (the tie-break). */
    Floe__PhaseChanged ***idx = floe_malloc(g->n * sizeof(*idx));
    Floe__PhaseChanged **run = floe_malloc(EGRESS_PER_MESSAGE * sizeof(*run));
    if (idx != NULL && run != NULL && !t->dead && t->bus != NULL) {
        for (size_t i = 0; i < g->n; i++)
            idx[i] = &g->v[i];
        qsort(idx, g->n, sizeof(*idx), by_exec);
        for (size_t i = 0; i < g->n;) {
            const char *id = (*idx[i])->execution_id;
            size_t k = 0;
            while (i < g->n && k < EGRESS_PER_MESSAGE && strcmp((*idx[i])->execution_id, id) == 0)
                run[k++] = *idx[i++];
            Floe__PhaseChanges m = FLOE__PHASE_CHANGES__INIT;
            m.changes = run;
            m.n_changes = k;
            floe_err err = {0};
            if (floe_bus_produce(t->bus, e->topic_egress, id, strlen(id),
                                 FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGES, &m.base, NULL,
                                 NULL, &err) != FLOE_OK)
                floe_log_warn(&t->log, "egress: %s", err.msg);
        }
    } else if (!t->dead) {
        floe_log_warn(&t->log, "egress: out of memory; %zu phase changes not sent", g->n);
    }
    floe_free(idx);
    floe_free(run);
    g->n = 0;
    floe_arena_reset(g->arena);
}
