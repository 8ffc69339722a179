/*
 * sched_handoff — ExecutionRequested taken in-process from this replica's API (issue 25),
 * held as Kafka holds a consumed message: until the engine acknowledges its effect. Each
 * is known by a position of its own (topic ENG_POS_LOCAL, offset its slot, generation the
 * request's number, so an acknowledgement that comes twice cannot free a slot taken again
 * meanwhile), which eng_ack and eng_reject bring here before the bus sees it. What a term still
 * holds when it ends (a start in flight, a state not yet created) goes to <prefix>.events for
 * whoever leads next, as its message would have stayed in Kafka, instead of waiting for the
 * reconcile sweep.
 */
#include "sched_engine_int.h"

#include "floe_mem.h"

#include <string.h>

struct eng_handoff {
    uint8_t **payload; /* packed request a slot, NULL when free */
    size_t *len;
    uint64_t *seq; /* the request's number in its slot */
    uint32_t *free_list;
    uint32_t n_free, cap, held;
    uint64_t next_seq;
};

static bool
handoff_grow(eng_handoff *h)
{
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    if (cap > ENG_HANDOFF_MAX)
        cap = ENG_HANDOFF_MAX;
    if (cap <= h->cap)
        return false;
    uint8_t **p = floe_realloc(h->payload, cap * sizeof(*p));
    if (p == NULL)
        return false;
    h->payload = p;
    size_t *l = floe_realloc(h->len, cap * sizeof(*l));
    if (l == NULL)
        return false;
    h->len = l;
    uint64_t *q = floe_realloc(h->seq, cap * sizeof(*q));
    if (q == NULL)
        return false;
    h->seq = q;
    uint32_t *f = floe_realloc(h->free_list, cap * sizeof(*f));
    if (f == NULL)
        return false;
    h->free_list = f;
    for (uint32_t i = cap; i-- > h->cap;) {
        h->payload[i] = NULL;
        h->free_list[h->n_free++] = i;
    }
    h->cap = cap;
    return true;
}

bool
eng_handoff_add(eng_term *t, const Floe__ExecutionRequested *req, floe_bus_pos *pos)
{
    if (t->handoff == NULL && (t->handoff = floe_calloc(1, sizeof(*t->handoff))) == NULL)
        return false;
    eng_handoff *h = t->handoff;
    if (h->n_free == 0 && !handoff_grow(h))
        return false;
    size_t len = protobuf_c_message_get_packed_size(&req->base);
    uint8_t *p = floe_malloc(len ? len : 1);
    if (p == NULL)
        return false;
    protobuf_c_message_pack(&req->base, p);
    uint32_t slot = h->free_list[--h->n_free];
    h->payload[slot] = p;
    h->len[slot] = len;
    h->seq[slot] = ++h->next_seq;
    h->held++;
    *pos = (floe_bus_pos){
        .topic = ENG_POS_LOCAL, .partition = -1, .offset = slot, .generation = h->seq[slot]};
    return true;
}

bool
eng_handoff_done(eng_term *t, const floe_bus_pos *pos)
{
    if (pos->topic != ENG_POS_LOCAL)
        return false;
    eng_handoff *h = t->handoff;
    if (h != NULL && pos->offset >= 0 && pos->offset < h->cap && h->payload[pos->offset] != NULL &&
        h->seq[pos->offset] == pos->generation) {
        floe_free(h->payload[pos->offset]);
        h->payload[pos->offset] = NULL;
        h->free_list[h->n_free++] = (uint32_t)pos->offset;
        h->held--;
    }
    return true;
}

unsigned
eng_handoff_held(const eng_term *t)
{
    return t->handoff != NULL ? t->handoff->held : 0;
}

unsigned
eng_handoff_requeue(eng_term *t, const char *topic)
{
    eng_handoff *h = t->handoff;
    unsigned sent = 0, lost = 0;
    char first[FLOE_ERR_MSG_MAX] = "";
    if (h == NULL)
        return 0;
    for (uint32_t i = 0; i < h->cap; i++) {
        if (h->payload[i] == NULL)
            continue;
        Floe__ExecutionRequested *req =
            floe__execution_requested__unpack(NULL, h->len[i], h->payload[i]);
        floe_err err = {0};
        floe_rc rc = FLOE_EINVAL;
        if (req == NULL)
            floe_err_sys(&err, FLOE_EINVAL, "it does not decode");
        else if (t->bus == NULL)
            floe_err_sys(&err, FLOE_ESTATE, "the term has no bus");
        else
            rc = floe_bus_produce(t->bus, topic, req->execution_id, strlen(req->execution_id),
                                  FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &req->base,
                                  NULL, NULL, &err);
        if (rc == FLOE_OK)
            sent++;
        else if (lost++ == 0)
            snprintf(first, sizeof(first), "%.40s: %.200s", req != NULL ? req->execution_id : "?",
                     err.msg);
        if (req != NULL)
            floe__execution_requested__free_unpacked(req, NULL);
    }
    if (lost > 0)
        floe_log_warn(&t->log,
                      "%u requests taken from this replica's API could not be handed on (first: "
                      "%s); they stay QUEUED until the reconcile sweep",
                      lost, first);
    eng_handoff_free(t);
    return sent;
}

void
eng_handoff_free(eng_term *t)
{
    eng_handoff *h = t->handoff;
    if (h == NULL)
        return;
    for (uint32_t i = 0; i < h->cap; i++)
        floe_free(h->payload[i]);
    floe_free(h->payload);
    floe_free(h->len);
    floe_free(h->seq);
    floe_free(h->free_list);
    floe_free(h);
    t->handoff = NULL;
}
