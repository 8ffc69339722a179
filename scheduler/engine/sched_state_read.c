#include "sched_state_read.h"

#include "floe_phase.h"
#include "floe_text.h"
#include "store_state_codec.h"

#include <string.h>

static const char *const kind_names[] = {NULL, "USER", "SYSTEM"};

/* Text read back from Redis goes to PostgreSQL: repaired to valid UTF-8 here, whatever an
 * older version or a stray writer left there (review C2). */
static const char *
dup_n(floe_arena *a, const char *s, size_t n)
{
    char *d = floe_arena_strndup(a, s, n);
    if (d != NULL)
        floe_text_fix(d, strlen(d));
    return d;
}

static const char *
dup_span(floe_arena *a, store_span sp)
{
    return sp.len > 0 ? dup_n(a, sp.s, sp.len) : NULL;
}

static bool
add_log(sched_state_view *j, floe_arena *a, uint32_t node, uint32_t attempt,
        const store_log_refs *refs)
{
    if (j->n_logs == j->cap_logs) {
        size_t cap = j->cap_logs ? 2 * j->cap_logs : 16;
        sched_state_log *nl = floe_arena_alloc(a, cap * sizeof(*nl));
        if (nl == NULL)
            return false;
        if (j->n_logs > 0)
            memcpy(nl, j->logs, j->n_logs * sizeof(*nl));
        j->logs = nl;
        j->cap_logs = cap;
    }
    j->logs[j->n_logs++] =
        (sched_state_log){node, attempt, dup_span(a, refs->out), dup_span(a, refs->err)};
    return true;
}

/* One of the head's fields: the execution's phase, timing and error. */
static void
head_field(sched_state_view *j, floe_arena *a, const char *f, size_t flen, const char *v,
           size_t vlen)
{
    int64_t x;
    if (flen == 2 && memcmp(f, "ph", 2) == 0 && store_state_int_parse(v, vlen, &x))
        j->phase = (int)x;
    else if (flen == 2 && memcmp(f, "t0", 2) == 0 && store_state_int_parse(v, vlen, &x))
        j->started_us = x;
    else if (flen == 2 && memcmp(f, "t1", 2) == 0 && store_state_int_parse(v, vlen, &x))
        j->finished_us = x;
    else if (flen == 3 && memcmp(f, "err", 3) == 0)
        j->error = dup_n(a, v, vlen);
}

int64_t
sched_state_read_slot(const sched_plan *plan, const sched_state_view *v, uint32_t idx)
{
    uint32_t node;
    int64_t k;
    if (!sched_plan_locate(plan, idx, &node, &k))
        return -1;
    if (k < 0)
        return node;
    uint32_t ord = plan->nodes[node].map_ord;
    if (v->map_n == NULL || (uint64_t)k >= v->map_n[ord])
        return -1;
    return (int64_t)v->map_first[ord] + k;
}

/* One field of the hash; false when out of memory. */
static bool
hash_field(sched_state_view *j, const sched_plan *plan, floe_arena *a, int *phase, const char *f,
           size_t flen, const char *v, size_t vlen)
{
    uint32_t i, at;
    store_node_rec rec;
    store_node_error ne;
    store_log_refs refs;
    store_field_kind kind = store_state_field(f, flen, &i, &at);
    uint32_t nn = j->n_nodes, idx = i;
    if (kind != STORE_FIELD_OTHER) {
        int64_t s = sched_state_read_slot(plan, j, i);
        i = s < 0 ? nn : (uint32_t)s; /* nn: names nothing */
    }
    switch (kind) {
    case STORE_FIELD_NODE:
        if (i < nn && store_state_node_rec_parse(v, vlen, &rec)) {
            phase[i] = rec.phase;
            j->nodes[i].attempts = rec.attempt;
        }
        return true;
    case STORE_FIELD_OUTPUT:
        if (i < nn) {
            uint8_t *o = floe_arena_alloc(a, vlen ? vlen : 1);
            if (o == NULL)
                return false;
            memcpy(o, v, vlen);
            j->nodes[i].outputs = o;
            j->nodes[i].outputs_len = vlen;
        }
        return true;
    case STORE_FIELD_ERROR:
        if (i < nn && store_state_node_error_parse(v, vlen, &ne)) {
            j->nodes[i].error_kind = kind_names[ne.kind];
            j->nodes[i].error_code = dup_n(a, ne.code.s, ne.code.len);
            j->nodes[i].error = dup_n(a, ne.message.s, ne.message.len);
        }
        return true;
    case STORE_FIELD_LOGS:
        if (i < nn && store_state_log_refs_parse(v, vlen, &refs))
            return add_log(j, a, idx, at, &refs);
        return true;
    case STORE_FIELD_OTHER:
        head_field(j, a, f, flen, v, vlen);
        return true;
    }
    return true;
}

/* The items of started map nodes (fields m<node>: their count), placed after the plan's
 * nodes; returns how many nodes there are in all, or -1 when out of memory. */
static int64_t
map_items(const sched_plan *plan, const store_reply *rep, floe_arena *a, sched_state_view *j)
{
    uint32_t total = plan->n_nodes;
    if (plan->n_maps == 0)
        return total;
    j->map_first = floe_arena_alloc(a, plan->n_maps * sizeof(*j->map_first));
    j->map_n = floe_arena_alloc(a, plan->n_maps * sizeof(*j->map_n));
    if (j->map_first == NULL || j->map_n == NULL)
        return -1;
    memset(j->map_n, 0, plan->n_maps * sizeof(*j->map_n));
    size_t n = store_reply_len(rep);
    for (size_t k = 0; k + 1 < n; k += 2) {
        size_t flen, vlen;
        const char *f = store_reply_str(store_reply_elem(rep, k), &flen);
        const char *v = store_reply_str(store_reply_elem(rep, k + 1), &vlen);
        uint32_t node;
        int64_t count;
        char num[16];
        if (f == NULL || v == NULL || flen < 2 || flen > 11 || f[0] != 'm')
            continue;
        memcpy(num, f + 1, flen - 1);
        num[flen - 1] = '\0';
        int64_t node64;
        if (!store_state_int_parse(num, flen - 1, &node64) || node64 < 0 ||
            node64 >= plan->n_nodes || !store_state_int_parse(v, vlen, &count) || count < 0 ||
            count > SCHED_MAP_ITEMS_MAX)
            continue;
        node = (uint32_t)node64;
        if (plan->nodes[node].map != NULL)
            j->map_n[plan->nodes[node].map_ord] = (uint32_t)count;
    }
    for (uint32_t m = 0; m < plan->n_maps; m++) {
        j->map_first[m] = total;
        total += j->map_n[m];
    }
    return total;
}

/* Item ids ("ID.k") of started map nodes. */
static bool
item_ids(const sched_plan *plan, floe_arena *a, sched_state_view *j)
{
    for (uint32_t i = 0; i < plan->n_nodes; i++) {
        const sched_pnode *pn = &plan->nodes[i];
        if (pn->map == NULL)
            continue;
        for (uint32_t k = 0; k < j->map_n[pn->map_ord]; k++) {
            char buf[SCHED_PLAN_ID_SIZE];
            const char *id = sched_plan_id(plan, sched_plan_item(plan, i, k), buf, sizeof(buf));
            if ((j->nodes[j->map_first[pn->map_ord] + k].node_id =
                     floe_arena_strndup(a, id, strlen(id))) == NULL)
                return false;
        }
    }
    return true;
}

bool
sched_state_read_hash(const sched_plan *plan, const store_reply *rep, bool ended, floe_arena *a,
                      sched_state_view *j)
{
    memset(j, 0, sizeof(*j));
    int64_t all = map_items(plan, rep, a, j);
    if (all < 0)
        return false;
    uint32_t nn = (uint32_t)all;
    j->n_nodes = nn;
    j->nodes = floe_arena_alloc(a, (nn + 1) * sizeof(*j->nodes));
    if (j->nodes == NULL)
        return false;
    memset(j->nodes, 0, (nn + 1) * sizeof(*j->nodes));
    int *phase = floe_arena_alloc(a, (nn + 1) * sizeof(int));
    if (phase == NULL)
        return false;
    memset(phase, 0, (nn + 1) * sizeof(int));
    for (uint32_t i = 0; i < plan->n_nodes; i++)
        j->nodes[i].node_id = plan->nodes[i].id;
    if (nn > plan->n_nodes && !item_ids(plan, a, j))
        return false;
    size_t n = store_reply_len(rep);
    for (size_t k = 0; k + 1 < n; k += 2) {
        size_t flen, vlen;
        const char *f = store_reply_str(store_reply_elem(rep, k), &flen);
        const char *v = store_reply_str(store_reply_elem(rep, k + 1), &vlen);
        if (f != NULL && v != NULL && !hash_field(j, plan, a, phase, f, flen, v, vlen))
            return false;
    }
    bool ended_badly = j->phase != FLOE_PHASE_SUCCEEDED;
    for (uint32_t i = 0; i < nn; i++) {
        int p = phase[i];
        if (ended && !floe_phase_terminal(FLOE_SCOPE_NODE, p)) {
            /* never ran: SKIPPED (QUEUED when the execution succeeded); in flight: ABORTED */
            if (p == FLOE_PHASE_QUEUED)
                p = ended_badly ? FLOE_PHASE_SKIPPED : FLOE_PHASE_QUEUED;
            else
                p = FLOE_PHASE_ABORTED;
        }
        j->nodes[i].phase = floe_phase_name(p);
        if (ended && !floe_phase_success(FLOE_SCOPE_NODE, p)) {
            j->nodes[i].outputs = NULL;
            j->nodes[i].outputs_len = 0;
        }
    }
    return true;
}

bool
sched_state_read_log(const sched_plan *plan, const store_reply *rep, floe_arena *a,
                     sched_state_view *j)
{
    size_t n = store_reply_len(rep);
    j->attempts = floe_arena_alloc(a, (n + 1) * sizeof(*j->attempts));
    j->attempt_node = floe_arena_alloc(a, (n + 1) * sizeof(*j->attempt_node));
    if (j->attempts == NULL || j->attempt_node == NULL)
        return false;
    size_t w = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len;
        const char *s = store_reply_str(store_reply_elem(rep, k), &len);
        store_attempt_entry e;
        int64_t slot = -1;
        if (!store_state_attempt_parse(s, len, &e) ||
            (slot = sched_state_read_slot(plan, j, e.node)) < 0)
            continue;
        j->attempt_node[w] = (uint32_t)slot;
        j->attempts[w++] = (store_run_attempt){
            .node_id = j->nodes[slot].node_id,
            .attempt = e.attempt,
            .phase = floe_phase_name(e.phase),
            .error_kind = kind_names[e.kind],
            .error_code = dup_span(a, e.code),
            .worker = dup_span(a, e.worker),
            .started_us = e.started_us,
            .finished_us = e.finished_us,
            .message = dup_span(a, e.message),
        };
        store_run_attempt *at = &j->attempts[w - 1];
        for (size_t l = 0; l < j->n_logs; l++)
            if (j->logs[l].node == e.node && j->logs[l].attempt == e.attempt) {
                at->stdout_uri = j->logs[l].out;
                at->stderr_uri = j->logs[l].err;
            }
    }
    j->n_attempts = w;
    return true;
}
