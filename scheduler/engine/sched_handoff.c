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

#define NO_SLOT UINT32_MAX

typedef struct handoff_slot {
    uint8_t *payload; /* the packed request, NULL when free */
    size_t len;
    uint64_t seq; /* the request's number */
    uint32_t next_free;
    bool started; /* its row was recorded RUNNING under this term's epoch */
} handoff_slot;

struct eng_handoff {
    handoff_slot *slot;
    uint32_t cap, held, free_head;
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
    handoff_slot *s = floe_realloc(h->slot, cap * sizeof(*s));
    if (s == NULL)
        return false;
    h->slot = s;
    for (uint32_t i = cap; i-- > h->cap;) {
        s[i] = (handoff_slot){.next_free = h->free_head};
        h->free_head = i;
    }
    h->cap = cap;
    return true;
}

bool
eng_handoff_add(eng_term *t, const Floe__ExecutionRequested *req, bool started, floe_bus_pos *pos)
{
    if (t->handoff == NULL) {
        if ((t->handoff = floe_calloc(1, sizeof(*t->handoff))) == NULL)
            return false;
        t->handoff->free_head = NO_SLOT;
    }
    eng_handoff *h = t->handoff;
    if (h->free_head == NO_SLOT && !handoff_grow(h))
        return false;
    size_t len = protobuf_c_message_get_packed_size(&req->base);
    uint8_t *p = floe_malloc(len ? len : 1);
    if (p == NULL)
        return false;
    protobuf_c_message_pack(&req->base, p);
    uint32_t i = h->free_head;
    handoff_slot *s = &h->slot[i];
    h->free_head = s->next_free;
    *s = (handoff_slot){
        .payload = p, .len = len, .seq = ++h->next_seq, .next_free = NO_SLOT, .started = started};
    h->held++;
    *pos =
        (floe_bus_pos){.topic = ENG_POS_LOCAL, .partition = -1, .offset = i, .generation = s->seq};
    return true;
}

bool
eng_handoff_done(eng_term *t, const floe_bus_pos *pos)
{
    if (pos->topic != ENG_POS_LOCAL)
        return false;
    eng_handoff *h = t->handoff;
    if (h == NULL || pos->offset < 0 || pos->offset >= h->cap)
        return true;
    handoff_slot *s = &h->slot[pos->offset];
    if (s->payload != NULL && s->seq == pos->generation) {
        floe_free(s->payload);
        *s = (handoff_slot){.next_free = h->free_head};
        h->free_head = (uint32_t)pos->offset;
        h->held--;
    }
    return true;
}

bool
eng_handoff_started(const eng_term *t, const floe_bus_pos *pos)
{
    const eng_handoff *h = t->handoff;
    if (pos->topic != ENG_POS_LOCAL || h == NULL || pos->offset < 0 || pos->offset >= h->cap)
        return false;
    const handoff_slot *s = &h->slot[pos->offset];
    return s->payload != NULL && s->seq == pos->generation && s->started;
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
        if (h->slot[i].payload == NULL)
            continue;
        Floe__ExecutionRequested *req =
            floe__execution_requested__unpack(NULL, h->slot[i].len, h->slot[i].payload);
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
                      "%s); they wait for the reconcile sweep",
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
        floe_free(h->slot[i].payload);
    floe_free(h->slot);
    floe_free(h);
    t->handoff = NULL;
}
