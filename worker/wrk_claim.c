/*
 * wrk_claim — the claims of the attempts received together go to Redis in one script
 * (issue 25: a script a claim cost Redis about twice the claim's own work). Nothing waits
 * to fill a batch: what the loop received before it comes back to this event is claimed
 * at once, up to STORE_CLAIM_MAX a script; each attempt then goes on as its own claim's
 * answer says (wrk_att_claimed), as when it was a script each.
 */
#include "wrk_int.h"

#include "floe_mem.h"
#include "store_state.h"
#include "wrk_att.h"

#include <event2/event.h>
#include <string.h>

struct wrk_claims {
    struct event *flush_ev; /* made active by the first claim queued */
    size_t n;
    wrk_att *att[STORE_CLAIM_MAX];
};

typedef struct claim_batch {
    size_t n;
    wrk_att *att[STORE_CLAIM_MAX];
} claim_batch;

static void
batch_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    claim_batch *b = arg;
    floe_err bad = {0};
    if (err == NULL &&
        (store_reply_kind(rep) != STORE_REPLY_ARRAY || store_reply_len(rep) != b->n)) {
        /* Not one answer an attempt: none is taken as an answer (each retries), rather
         * than an attempt acknowledged and dropped on a misread. */
        floe_err_sys(&bad, FLOE_EIO, "claims: %zu answers for %zu attempts",
                     store_reply_kind(rep) == STORE_REPLY_ARRAY ? store_reply_len(rep) : 0, b->n);
        err = &bad;
    }
    for (size_t i = 0; i < b->n; i++)
        wrk_att_claimed(b->att[i], err == NULL ? store_reply_elem(rep, i) : NULL, err);
    floe_free(b);
}

void
wrk_claim_flush(wrk *w)
{
    wrk_claims *c = w->claims;
    if (c == NULL || c->n == 0)
        return;
    claim_batch *b = floe_malloc(sizeof(*b));
    store_claim items[STORE_CLAIM_MAX];
    size_t n = c->n;
    c->n = 0;
    for (size_t i = 0; i < n; i++) {
        const wrk_att *att = c->att[i];
        items[i] = (store_claim){.exec = att->d->execution_id,
                                 .node = att->d->node_index,
                                 .attempt = att->d->attempt,
                                 .lease_ms = att->lease_ms};
    }
    floe_rc rc = FLOE_ENOMEM;
    if (b != NULL) {
        b->n = n;
        memcpy(b->att, c->att, sizeof(b->att[0]) * n);
        rc = store_state_claim_many(w->redis, w->worker_id, items, n, batch_reply, b);
        if (rc == FLOE_OK)
            return;
    }
    /* Not sent (Redis unreachable): each attempt retries as a claim that failed. */
    floe_err err = {0};
    floe_err_sys(&err, rc, "not sent to Redis (%s)", floe_rc_name(rc));
    for (size_t i = 0; i < n; i++)
        wrk_att_claimed(c->att[i], NULL, &err);
    floe_free(b);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wrk_claim_flush(arg);
}

floe_rc
wrk_claim_add(wrk *w, wrk_att *att)
{
    wrk_claims *c = w->claims;
    if (c == NULL) {
        if ((c = floe_calloc(1, sizeof(*c))) == NULL)
            return FLOE_ENOMEM;
        if ((c->flush_ev = event_new(w->base, -1, 0, on_flush, w)) == NULL) {
            floe_free(c);
            return FLOE_ENOMEM;
        }
        w->claims = c;
    }
    c->att[c->n++] = att;
    if (c->n == STORE_CLAIM_MAX)
        wrk_claim_flush(w);
    else if (c->n == 1)
        event_active(c->flush_ev, EV_TIMEOUT, 0);
    return FLOE_OK;
}

void
wrk_claim_free(wrk *w)
{
    wrk_claims *c = w->claims;
    if (c == NULL)
        return;
    event_free(c->flush_ev);
    floe_free(c);
    w->claims = NULL;
}
