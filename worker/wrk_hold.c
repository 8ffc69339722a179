/*
 * wrk_hold — an attempt's lease stretched to worker.result_hold once its result is in
 * Kafka (review H3: a leader reading the result late must not retry it as
 * lease_expired), for many attempts in one Redis script (issue 25: it was a heartbeat
 * script per attempt, a sixth of Redis's time per task).
 * The hold waits: a quarter of the attempt's lease, at most WRK_HOLD_WAIT_MAX_MS, or until
 * STORE_HOLD_MAX attempts wait. Waiting is safe: a delivered result's lease has at least
 * two thirds of its length ahead (heartbeats renew it every third), so a quarter later
 * over five twelfths. It is what makes the hold cheap: a leader that keeps up applies a
 * result within milliseconds and deletes its claim, and the script then only finds the
 * claim gone (one GET) instead of stretching a lease about to be dropped (three calls).
 * Best effort as before: a hold that fails leaves the lease to run out.
 */
#include "wrk_int.h"

#include "floe_mem.h"
#include "floe_time.h"
#include "store_state.h"

#include <event2/event.h>
#include <stdio.h>

enum { WRK_HOLD_WAIT_MIN_MS = 5, WRK_HOLD_WAIT_MAX_MS = 1000 };

typedef struct hold_entry {
    char claim[STORE_KEY_MAX], member[STORE_KEY_MAX];
} hold_entry;

struct wrk_hold {
    wrk *w;
    struct event *timer;
    int64_t due_us; /* floe_mono_us when the waiting attempts go; the earliest one's */
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

/* How long an attempt with a lease of lease_ms may wait for its hold, in ms. */
static int64_t
hold_wait_ms(uint32_t lease_ms)
{
    int64_t ms = lease_ms / 4;
    if (ms > WRK_HOLD_WAIT_MAX_MS)
        ms = WRK_HOLD_WAIT_MAX_MS;
    return ms < WRK_HOLD_WAIT_MIN_MS ? WRK_HOLD_WAIT_MIN_MS : ms;
}

void
wrk_hold_add(wrk *w, const char *exec, uint32_t node, uint32_t attempt, uint32_t lease_ms)
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
        return;
    }
    int64_t wait_us = hold_wait_ms(lease_ms) * 1000, due = floe_mono_us() + wait_us;
    if (h->n == 1 || due < h->due_us) { /* an attempt with a shorter lease goes sooner */
        h->due_us = due;
        struct timeval tv = {(time_t)(wait_us / 1000000), (suseconds_t)(wait_us % 1000000)};
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
