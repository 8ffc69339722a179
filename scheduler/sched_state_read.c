#include "sched_state_read.h"

#include "sched_engine_int.h"

#include "floe_text.h"

#include <stdlib.h>
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

static bool
terminal_node(int p)
{
    return p == 4 || p == 5 || p == 6 || p == 7 || p == 8 || p == 9 || p == 11;
}

bool
sched_state_read_hash(const sched_plan *plan, const store_reply *rep, bool ended, floe_arena *a,
                      sched_state_view *j)
{
    memset(j, 0, sizeof(*j));
    uint32_t nn = plan->n_nodes;
    j->nodes = floe_arena_alloc(a, (nn + 1) * sizeof(*j->nodes));
    if (j->nodes == NULL)
        return false;
    memset(j->nodes, 0, (nn + 1) * sizeof(*j->nodes));
    int *phase = floe_arena_alloc(a, (nn + 1) * sizeof(int));
    if (phase == NULL)
        return false;
    memset(phase, 0, (nn + 1) * sizeof(int));
    for (uint32_t i = 0; i < nn; i++)
        j->nodes[i].node_id = plan->nodes[i].id;
    size_t n = store_reply_len(rep);
    for (size_t k = 0; k + 1 < n; k += 2) {
        size_t flen, vlen;
        const char *f = store_reply_str(store_reply_elem(rep, k), &flen);
        const char *v = store_reply_str(store_reply_elem(rep, k + 1), &vlen);
        if (f == NULL || v == NULL || flen == 0 || flen > 16)
            continue;
        char field[17];
        memcpy(field, f, flen);
        field[flen] = '\0';
        char *end;
        if (field[0] >= '0' && field[0] <= '9') {
            unsigned long i = strtoul(field, &end, 10);
            unsigned p, at;
            if (*end == '\0' && i < nn && sscanf(v, "%u,%u", &p, &at) == 2) {
                phase[i] = (int)p;
                j->nodes[i].attempts = at;
            }
        } else if ((field[0] == 'o' || field[0] == 'e') && field[1] >= '0' && field[1] <= '9') {
            unsigned long i = strtoul(field + 1, &end, 10);
            if (*end != '\0' || i >= nn)
                continue;
            if (field[0] == 'o') {
                uint8_t *o = floe_arena_alloc(a, vlen ? vlen : 1);
                if (o == NULL)
                    return false;
                memcpy(o, v, vlen);
                j->nodes[i].outputs = o;
                j->nodes[i].outputs_len = vlen;
            } else {
                const char *b1 = memchr(v, '|', vlen);
                const char *b2 =
                    b1 != NULL ? memchr(b1 + 1, '|', vlen - (size_t)(b1 + 1 - v)) : NULL;
                if (b1 == NULL || b2 == NULL)
                    continue;
                int kind = atoi(v);
                j->nodes[i].error_kind = kind == 1 || kind == 2 ? kind_names[kind] : NULL;
                j->nodes[i].error_code = dup_n(a, b1 + 1, (size_t)(b2 - b1 - 1));
                j->nodes[i].error = dup_n(a, b2 + 1, vlen - (size_t)(b2 + 1 - v));
            }
        } else if (field[0] == 'l' && field[1] >= '0' && field[1] <= '9') {
            unsigned long i = strtoul(field + 1, &end, 10);
            unsigned long at = *end == '.' ? strtoul(end + 1, &end, 10) : 0;
            const char *bar = memchr(v, '|', vlen);
            if (*end != '\0' || i >= nn || bar == NULL)
                continue;
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
            size_t ol = (size_t)(bar - v), el = vlen - ol - 1;
            j->logs[j->n_logs++] =
                (sched_state_log){(uint32_t)i, (uint32_t)at, ol ? dup_n(a, v, ol) : NULL,
                                  el ? dup_n(a, bar + 1, el) : NULL};
        } else if (strcmp(field, "ph") == 0) {
            j->phase = atoi(v);
        } else if (strcmp(field, "t0") == 0) {
            j->started_us = strtoll(v, NULL, 10);
        } else if (strcmp(field, "t1") == 0) {
            j->finished_us = strtoll(v, NULL, 10);
        } else if (strcmp(field, "err") == 0) {
            j->error = dup_n(a, v, vlen);
        }
    }
    bool ended_badly = j->phase != 4;
    for (uint32_t i = 0; i < nn; i++) {
        int p = phase[i];
        if (ended && !terminal_node(p))
            p = p == 1 ? (ended_badly ? 9 : 1) : 6; /* never ran: SKIPPED; in flight: ABORTED */
        j->nodes[i].phase = sched_phase_name(p);
        if (ended && p != 4 && p != 7) {
            j->nodes[i].outputs = NULL;
            j->nodes[i].outputs_len = 0;
        }
    }
    j->n_nodes = nn;
    return true;
}

bool
sched_state_read_log(const sched_plan *plan, const store_reply *rep, floe_arena *a,
                     sched_state_view *j)
{
    size_t n = store_reply_len(rep);
    j->attempts = floe_arena_alloc(a, (n + 1) * sizeof(*j->attempts));
    if (j->attempts == NULL)
        return false;
    size_t w = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len;
        const char *s = store_reply_str(store_reply_elem(rep, k), &len);
        const char *f[9];
        size_t fl[9];
        size_t nf = 0, start = 0;
        for (size_t i = 0; s != NULL && i <= len && nf < 9; i++) {
            if (i == len || (s[i] == '|' && nf < 8)) {
                f[nf] = s + start;
                fl[nf] = i - start;
                nf++;
                start = i + 1;
            }
        }
        if (nf != 9)
            continue;
        unsigned long idx = strtoul(f[0], NULL, 10);
        if (idx >= plan->n_nodes)
            continue;
        int kind = atoi(f[3]);
        store_run_attempt *at = &j->attempts[w++];
        *at = (store_run_attempt){
            .node_id = plan->nodes[idx].id,
            .attempt = (uint32_t)strtoul(f[1], NULL, 10),
            .phase = sched_phase_name(atoi(f[2])),
            .error_kind = kind == 1 || kind == 2 ? kind_names[kind] : NULL,
            .error_code = fl[4] ? dup_n(a, f[4], fl[4]) : NULL,
            .worker = fl[5] ? dup_n(a, f[5], fl[5]) : NULL,
            .started_us = strtoll(f[6], NULL, 10),
            .finished_us = strtoll(f[7], NULL, 10),
            .message = fl[8] ? dup_n(a, f[8], fl[8]) : NULL,
        };
        for (size_t l = 0; l < j->n_logs; l++)
            if (j->logs[l].node == idx && j->logs[l].attempt == at->attempt) {
                at->stdout_uri = j->logs[l].out;
                at->stderr_uri = j->logs[l].err;
            }
    }
    j->n_attempts = w;
    return true;
}
