/*
 * wrk_hold — an attempt's lease stretched to worker.result_hold once its result is in
 * Kafka (review H3: a leader reading the result late must not retry it as
 * lease_expired), for the attempts that finish within WRK_HOLD_DELAY_MS of each other in
 * one Redis script (issue 25: it was a heartbeat script per attempt, a sixth of Redis's
 * time per task). Waiting is safe: a delivered result's lease still has most of its
 * length ahead (heartbeats renew it every third), and the delay is a few milliseconds.
 * Best effort as before: a hold that fails leaves the lease to run out.
 */
#include "wrk_int.h"

#include "floe_mem.h"
#include "store_state.h"

#include <event2/event.h>
#include <stdio.h>

enum { WRK_HOLD_DELAY_MS = 5 };

typedef struct hold_entry {
    char claim[STORE_KEY_MAX], member[STORE_KEY_MAX];
} hold_entry;

struct wrk_hold {
    wrk *w;
    struct event *timer;
    size_t n;
    hold_entry e[STORE_HOLD_MAX];
};

static void
hold_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    (void)rep;
    wrk_hold *h = arg;
    if (err != NULL) /* the leases run out as they would have: the engine retries late */
        floe_log_info(&h->w->log, "result hold: %s", err->msg);
}

void
wrk_hold_flush(wrk *w)
{
    wrk_hold *h = w->hold;
    if (h == NULL || h->n == 0)
        return;
    const char *claims[STORE_HOLD_MAX], *members[STORE_HOLD_MAX];
    for (size_t i = 0; i < h->n; i++) {
        claims[i] = h->e[i].claim;
        members[i] = h->e[i].member;
    }
    if (store_state_hold(w->redis, w->worker_id, (uint32_t)w->cfg->worker_result_hold_ms, claims,
                         members, h->n, hold_reply, h) != FLOE_OK)
        floe_log_info(&w->log, "result hold: %zu leases not stretched (Redis)", h->n);
    h->n = 0;
}

static void
on_hold_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wrk_hold_flush(arg);
}

void
wrk_hold_add(wrk *w, const char *exec, uint32_t node, uint32_t attempt)
{
    wrk_hold *h = w->hold;
    if (h == NULL) {
        if ((h = floe_calloc(1, sizeof(*h))) == NULL)
            return;
        if ((h->timer = evtimer_new(w->base, on_hold_timer, w)) == NULL) {
            floe_free(h);
            return;
        }
        h->w = w;
        w->hold = h;
    }
    hold_entry *e = &h->e[h->n];
    if (store_key_claim(e->claim, exec, node, attempt) != FLOE_OK ||
        store_member(e->member, exec, node, attempt) != FLOE_OK)
        return;
    if (++h->n == STORE_HOLD_MAX || w->draining) {
        evtimer_del(h->timer);
        wrk_hold_flush(w);
    } else if (h->n == 1) {
        struct timeval tv = {0, WRK_HOLD_DELAY_MS * 1000};
        evtimer_add(h->timer, &tv);
    }
}

void
wrk_hold_free(wrk_hold *h)
{
    if (h == NULL)
        return;
    event_free(h->timer);
    floe_free(h);
}
