/*
 * store_state — argument lists for the scripts. Numbers are formatted into stack buffers:
 * hiredis copies every argument when the command is queued, so nothing here outlives
 * the call.
 */
#include "store_state.h"

#include "floe_mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NUM 24

/* --- Answers ----------------------------------------------------------------------------- */

static const struct {
    const char *s;
    store_st st;
} st_names[] = {
    {"ok", STORE_ST_OK},       {"noop", STORE_ST_NOOP},     {"fenced", STORE_ST_FENCED},
    {"retry", STORE_ST_RETRY}, {"failed", STORE_ST_FAILED}, {"dup", STORE_ST_DUP},
    {"stale", STORE_ST_STALE}, {"abort", STORE_ST_ABORT},   {"lost", STORE_ST_LOST},
};

const char *
store_st_name(store_st st)
{
    for (size_t i = 0; i < sizeof(st_names) / sizeof(st_names[0]); i++)
        if (st_names[i].st == st)
            return st_names[i].s;
    return "error";
}

void
store_state_parse(const store_reply *rep, store_state_res *out)
{
    memset(out, 0, sizeof(*out));
    out->note = "";
    if (rep == NULL || store_reply_kind(rep) != STORE_REPLY_ARRAY || store_reply_len(rep) < 3)
        return;
    size_t len;
    const char *s = store_reply_str(store_reply_elem(rep, 0), &len);
    if (s == NULL)
        return;
    for (size_t i = 0; i < sizeof(st_names) / sizeof(st_names[0]); i++)
        if (strlen(st_names[i].s) == len && memcmp(st_names[i].s, s, len) == 0)
            out->st = st_names[i].st;
    out->phase = store_reply_int(store_reply_elem(rep, 1));
    const char *note = store_reply_str(store_reply_elem(rep, 2), NULL);
    out->note = note != NULL ? note : "";
    out->rep = rep;
    out->n_items = store_reply_len(rep) - 3;
}

int64_t
store_state_item_int(const store_state_res *res, size_t i)
{
    const store_reply *e = res->rep != NULL ? store_reply_elem(res->rep, i + 3) : NULL;
    return e != NULL ? store_reply_int(e) : 0;
}

const char *
store_state_item_str(const store_state_res *res, size_t i, size_t *len)
{
    const store_reply *e = res->rep != NULL ? store_reply_elem(res->rep, i + 3) : NULL;
    return e != NULL ? store_reply_str(e, len) : NULL;
}

/* --- Keys -------------------------------------------------------------------------------- */

static floe_rc
key_fmt(int n)
{
    return n > 0 && n < STORE_KEY_MAX ? FLOE_OK : FLOE_ETOOBIG;
}

floe_rc
store_key_exec(char out[STORE_KEY_MAX], const char *exec)
{
    return key_fmt(snprintf(out, STORE_KEY_MAX, "floe:{%s}", exec));
}

floe_rc
store_key_log(char out[STORE_KEY_MAX], const char *exec)
{
    return key_fmt(snprintf(out, STORE_KEY_MAX, "floe:{%s}:log", exec));
}

floe_rc
store_key_claim(char out[STORE_KEY_MAX], const char *exec, uint32_t node, uint32_t attempt)
{
    return key_fmt(snprintf(out, STORE_KEY_MAX, "floe:{%s}:c:%u:%u", exec, node, attempt));
}

floe_rc
store_member(char out[STORE_KEY_MAX], const char *exec, uint32_t node, uint32_t attempt)
{
    return key_fmt(snprintf(out, STORE_KEY_MAX, "%s|%u|%u", exec, node, attempt));
}

floe_rc
store_member_parse(const char *m, size_t len, char *exec, size_t exec_size, uint32_t *node,
                   uint32_t *attempt)
{
    const char *bar = memchr(m, '|', len);
    if (bar == NULL || bar == m || (size_t)(bar - m) >= exec_size)
        return FLOE_EINVAL;
    memcpy(exec, m, (size_t)(bar - m));
    exec[bar - m] = '\0';
    char tail[32];
    size_t tl = len - (size_t)(bar - m) - 1;
    if (tl == 0 || tl >= sizeof(tail))
        return FLOE_EINVAL;
    memcpy(tail, bar + 1, tl);
    tail[tl] = '\0';
    unsigned n, a;
    char extra;
    if (sscanf(tail, "%u|%u%c", &n, &a, &extra) != 2)
        return FLOE_EINVAL;
    *node = n;
    *attempt = a;
    return FLOE_OK;
}

/* --- Leader scripts ---------------------------------------------------------------------- */

#define KEYS_EXEC(E)                                                                               \
    char kx[STORE_KEY_MAX], kl[STORE_KEY_MAX];                                                     \
    if (store_key_exec(kx, (E)) != FLOE_OK || store_key_log(kl, (E)) != FLOE_OK)                   \
    return FLOE_ETOOBIG

floe_rc
store_state_exec_create(store_redis *r, uint64_t epoch, const store_create *c, store_redis_cb cb,
                        void *arg)
{
    enum { FIXED = 15 };
    KEYS_EXEC(c->exec);
    (void)kl;
    char ep[NUM], pol[NUM], dl[NUM], n[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(pol, NUM, "%d", c->policy);
    snprintf(dl, NUM, "%" PRId64, c->deadline_us);
    snprintf(n, NUM, "%u", c->n_nodes);
    size_t argc = FIXED + c->n_recovered;
    const char **argv = floe_malloc(argc * sizeof(*argv));
    size_t *len = floe_malloc(argc * sizeof(*len));
    if (argv == NULL || len == NULL) {
        floe_free(argv);
        floe_free(len);
        return FLOE_ENOMEM;
    }
    const char *fixed[FIXED] = {STORE_KEY_EPOCH,
                                kx,
                                STORE_KEY_OUTBOX,
                                STORE_KEY_FINALIZE,
                                STORE_KEY_DEADLINES,
                                ep,
                                c->exec,
                                c->wf_ref,
                                pol,
                                c->inputs != NULL ? (const char *)c->inputs : "",
                                dl,
                                n,
                                c->unresolved_csv,
                                c->flags != NULL ? c->flags : "",
                                c->recovered_csv != NULL ? c->recovered_csv : ""};
    for (size_t i = 0; i < FIXED; i++) {
        argv[i] = fixed[i];
        len[i] = i == 9 ? c->inputs_len : strlen(fixed[i]); /* the inputs are binary */
    }
    for (size_t i = 0; i < c->n_recovered; i++) {
        argv[FIXED + i] =
            c->recovered_outputs[i] != NULL ? (const char *)c->recovered_outputs[i] : "";
        len[FIXED + i] = c->recovered_outputs[i] != NULL ? c->recovered_lens[i] : 0;
    }
    floe_rc rc = store_redis_script(r, STORE_SCRIPT_EXEC_CREATE, 5, (int)argc, argv, len, cb, arg);
    floe_free(argv);
    floe_free(len);
    return rc;
}

floe_rc
store_state_node_started(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                         uint32_t attempt, const char *worker, int64_t started_us,
                         store_redis_cb cb, void *arg)
{
    KEYS_EXEC(exec);
    (void)kl;
    char ep[NUM], nd[NUM], at[NUM], st[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(nd, NUM, "%u", node);
    snprintf(at, NUM, "%u", attempt);
    snprintf(st, NUM, "%" PRId64, started_us);
    const char *argv[] = {STORE_KEY_EPOCH, kx, ep, exec, nd, at, worker != NULL ? worker : "", st};
    return store_redis_script(r, STORE_SCRIPT_NODE_STARTED, 2, 8, argv, NULL, cb, arg);
}

floe_rc
store_state_node_succeeded(store_redis *r, uint64_t epoch, const store_success *s,
                           store_redis_cb cb, void *arg)
{
    KEYS_EXEC(s->exec);
    char kc[STORE_KEY_MAX];
    if (store_key_claim(kc, s->exec, s->node, s->attempt) != FLOE_OK)
        return FLOE_ETOOBIG;
    char ep[NUM], nd[NUM], at[NUM], st[NUM], fin[NUM], ph[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(nd, NUM, "%u", s->node);
    snprintf(at, NUM, "%u", s->attempt);
    snprintf(st, NUM, "%" PRId64, s->started_us);
    snprintf(fin, NUM, "%" PRId64, s->finished_us);
    snprintf(ph, NUM, "%d", s->phase);
    /* Successes go together (node_succeeded.lua), of one execution or several: the four
     * shared keys and the epoch are the group's, the rest each success's. */
    const char *argv[] = {STORE_KEY_EPOCH,
                          STORE_KEY_FINALIZE,
                          STORE_KEY_LEASES,
                          STORE_KEY_OUTBOX,
                          kx,
                          kl,
                          kc,
                          ep,
                          s->exec,
                          nd,
                          at,
                          s->outputs != NULL ? s->outputs : "",
                          s->worker != NULL ? s->worker : "",
                          st,
                          fin,
                          s->down_csv != NULL ? s->down_csv : "",
                          ph,
                          s->logs != NULL ? s->logs : "",
                          s->item != NULL ? s->item : ""};
    size_t len[19];
    for (int i = 0; i < 19; i++) /* the outputs are binary */
        len[i] = i == 11 ? (s->outputs != NULL ? s->outputs_len : 0) : strlen(argv[i]);
    return store_redis_script_group(r, STORE_SCRIPT_NODE_SUCCEEDED, 4, 3, 1, 11, argv, len, cb,
                                    arg);
}

floe_rc
store_state_node_failed(store_redis *r, uint64_t epoch, const store_failure *f, store_redis_cb cb,
                        void *arg)
{
    KEYS_EXEC(f->exec);
    char kc[STORE_KEY_MAX];
    if (store_key_claim(kc, f->exec, f->node, f->attempt) != FLOE_OK)
        return FLOE_ETOOBIG;
    char ep[NUM], nd[NUM], at[NUM], kind[NUM], ub[NUM], sb[NUM], bi[NUM], bm[NUM], mult[NUM],
        jit[NUM], st[NUM], fin[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(nd, NUM, "%u", f->node);
    snprintf(at, NUM, "%u", f->attempt);
    snprintf(kind, NUM, "%d", f->kind);
    snprintf(ub, NUM, "%u", f->user_budget);
    snprintf(sb, NUM, "%u", f->system_budget);
    snprintf(bi, NUM, "%u", f->backoff_initial_ms);
    snprintf(bm, NUM, "%u", f->backoff_max_ms);
    snprintf(mult, NUM, "%u", f->backoff_multiplier_milli);
    snprintf(jit, NUM, "%u", f->jitter_milli > 1000 ? 1000 : f->jitter_milli);
    snprintf(st, NUM, "%" PRId64, f->started_us);
    snprintf(fin, NUM, "%" PRId64, f->finished_us);
    const char *argv[] = {STORE_KEY_EPOCH,
                          kx,
                          kl,
                          STORE_KEY_OUTBOX,
                          STORE_KEY_DELAYED,
                          STORE_KEY_LEASES,
                          STORE_KEY_FINALIZE,
                          kc,
                          ep,
                          f->exec,
                          nd,
                          at,
                          kind,
                          f->retriable ? "1" : "0",
                          ub,
                          sb,
                          bi,
                          bm,
                          mult,
                          jit,
                          f->code != NULL ? f->code : "",
                          f->message != NULL ? f->message : "",
                          f->worker != NULL ? f->worker : "",
                          st,
                          fin,
                          f->closure_csv != NULL ? f->closure_csv : "",
                          f->lease_check ? "1" : "0",
                          f->logs != NULL ? f->logs : "",
                          f->node_id != NULL ? f->node_id : "",
                          f->item != NULL ? f->item : ""};
    return store_redis_script(r, STORE_SCRIPT_NODE_FAILED, 8, 30, argv, NULL, cb, arg);
}

floe_rc
store_state_map_expand(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                       uint32_t attempt, uint32_t first, uint32_t concurrency,
                       const uint8_t *const *items, const size_t *lens, size_t n, store_redis_cb cb,
                       void *arg)
{
    enum { FIXED = 10 };
    KEYS_EXEC(exec);
    char ep[NUM], nd[NUM], at[NUM], fi[NUM], co[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(nd, NUM, "%u", node);
    snprintf(at, NUM, "%u", attempt);
    snprintf(fi, NUM, "%u", first);
    snprintf(co, NUM, "%u", concurrency);
    size_t argc = FIXED + n;
    const char **argv = floe_malloc(argc * sizeof(*argv));
    size_t *len = floe_malloc(argc * sizeof(*len));
    if (argv == NULL || len == NULL) {
        floe_free(argv);
        floe_free(len);
        return FLOE_ENOMEM;
    }
    const char *fixed[FIXED] = {
        STORE_KEY_EPOCH, kx, kl, STORE_KEY_OUTBOX, ep, exec, nd, at, fi, co};
    for (size_t i = 0; i < FIXED; i++) {
        argv[i] = fixed[i];
        len[i] = strlen(fixed[i]);
    }
    for (size_t i = 0; i < n; i++) { /* binary */
        argv[FIXED + i] = items[i] != NULL ? (const char *)items[i] : "";
        len[FIXED + i] = items[i] != NULL ? lens[i] : 0;
    }
    floe_rc rc = store_redis_script(r, STORE_SCRIPT_MAP_EXPAND, 4, (int)argc, argv, len, cb, arg);
    floe_free(argv);
    floe_free(len);
    return rc;
}

floe_rc
store_state_outbox_ack(store_redis *r, uint64_t epoch, int64_t claim_ms, const char *const *members,
                       size_t n, store_redis_cb cb, void *arg)
{
    enum { MAX = 512 };
    if (n == 0 || n > MAX)
        return FLOE_EINVAL;
    const char *argv[MAX + 5];
    char ep[NUM], cl[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(cl, NUM, "%" PRId64, claim_ms);
    argv[0] = STORE_KEY_EPOCH;
    argv[1] = STORE_KEY_OUTBOX;
    argv[2] = STORE_KEY_LEASES;
    argv[3] = ep;
    argv[4] = cl;
    for (size_t i = 0; i < n; i++)
        argv[i + 5] = members[i];
    return store_redis_script(r, STORE_SCRIPT_OUTBOX_ACK, 3, (int)n + 5, argv, NULL, cb, arg);
}

/* floe:cres:<key> (the reservation) and floe:cw:<key> (its waiters). */
static floe_rc
cache_keys(const char *key, char res[STORE_KEY_MAX], char wait[STORE_KEY_MAX])
{
    if (strlen(key) != 64)
        return FLOE_EINVAL;
    snprintf(res, STORE_KEY_MAX, "floe:cres:%s", key);
    snprintf(wait, STORE_KEY_MAX, "floe:cw:%s", key);
    return FLOE_OK;
}

floe_rc
store_state_cache_reserve(store_redis *r, uint64_t epoch, const store_cache_req *q,
                          store_redis_cb cb, void *arg)
{
    char kres[STORE_KEY_MAX], kwait[STORE_KEY_MAX];
    KEYS_EXEC(q->exec);
    (void)kl;
    if (cache_keys(q->cache_key, kres, kwait) != FLOE_OK)
        return FLOE_EINVAL;
    char ep[NUM], nd[NUM], at[NUM], res_ms[NUM], re_ms[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(nd, NUM, "%u", q->node);
    snprintf(at, NUM, "%u", q->attempt);
    snprintf(res_ms, NUM, "%" PRId64, q->reservation_ms);
    snprintf(re_ms, NUM, "%" PRId64, q->recheck_ms);
    const char *argv[] = {STORE_KEY_EPOCH,
                          kx,
                          kres,
                          kwait,
                          STORE_KEY_OUTBOX,
                          STORE_KEY_DELAYED,
                          ep,
                          q->exec,
                          nd,
                          at,
                          q->cache_key,
                          res_ms,
                          re_ms,
                          q->looked_again ? "1" : "0",
                          q->record_only ? "record" : "reserve"};
    return store_redis_script(r, STORE_SCRIPT_CACHE_RESERVE, 6, 15, argv, NULL, cb, arg);
}

floe_rc
store_state_cache_done(store_redis *r, uint64_t epoch, const char *cache_key, int64_t done_ms,
                       store_redis_cb cb, void *arg)
{
    char kres[STORE_KEY_MAX], kwait[STORE_KEY_MAX];
    if (cache_keys(cache_key, kres, kwait) != FLOE_OK)
        return FLOE_EINVAL;
    char ep[NUM], ms[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(ms, NUM, "%" PRId64, done_ms);
    const char *argv[] = {STORE_KEY_EPOCH,   kres, kwait, STORE_KEY_OUTBOX,
                          STORE_KEY_DELAYED, ep,   ms};
    return store_redis_script(r, STORE_SCRIPT_CACHE_DONE, 5, 7, argv, NULL, cb, arg);
}

floe_rc
store_state_timer_fire(store_redis *r, uint64_t epoch, unsigned limit, store_redis_cb cb, void *arg)
{
    char ep[NUM], lim[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(lim, NUM, "%u", limit);
    const char *argv[] = {STORE_KEY_EPOCH, STORE_KEY_DELAYED, STORE_KEY_OUTBOX, ep, lim};
    return store_redis_script(r, STORE_SCRIPT_TIMER_FIRE, 3, 5, argv, NULL, cb, arg);
}

floe_rc
store_state_exec_abort(store_redis *r, uint64_t epoch, const char *exec, int phase,
                       const char *message, store_redis_cb cb, void *arg)
{
    KEYS_EXEC(exec);
    (void)kl;
    char ep[NUM], ph[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(ph, NUM, "%d", phase);
    const char *argv[] = {STORE_KEY_EPOCH, kx, STORE_KEY_FINALIZE, ep, exec, ph, message};
    return store_redis_script(r, STORE_SCRIPT_EXEC_ABORT, 3, 7, argv, NULL, cb, arg);
}

floe_rc
store_state_exec_recorded(store_redis *r, uint64_t epoch, const char *exec, int64_t retention_ms,
                          store_redis_cb cb, void *arg)
{
    KEYS_EXEC(exec);
    char ep[NUM], ret[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(ret, NUM, "%" PRId64, retention_ms > 0 ? retention_ms : 1);
    const char *argv[] = {
        STORE_KEY_EPOCH, STORE_KEY_FINALIZE, STORE_KEY_DEADLINES, kx, kl, ep, ret, exec};
    return store_redis_script_group(r, STORE_SCRIPT_EXEC_RECORDED, 3, 2, 2, 1, argv, NULL, cb, arg);
}

/* --- Worker scripts ---------------------------------------------------------------------- */

static floe_rc
worker_script(store_redis *r, store_script_id id, const char *exec, uint32_t node, uint32_t attempt,
              const char *worker, uint32_t lease_ms, store_redis_cb cb, void *arg)
{
    char kx[STORE_KEY_MAX], kc[STORE_KEY_MAX], m[STORE_KEY_MAX];
    if (store_key_exec(kx, exec) != FLOE_OK ||
        store_key_claim(kc, exec, node, attempt) != FLOE_OK ||
        store_member(m, exec, node, attempt) != FLOE_OK)
        return FLOE_ETOOBIG;
    char nd[NUM], at[NUM], lm[NUM];
    snprintf(nd, NUM, "%u", node);
    snprintf(at, NUM, "%u", attempt);
    snprintf(lm, NUM, "%u", lease_ms);
    if (id == STORE_SCRIPT_RELEASE) {
        const char *argv[] = {kx, kc, STORE_KEY_LEASES, m, worker};
        return store_redis_script(r, id, 3, 5, argv, NULL, cb, arg);
    }
    const char *argv[] = {kx, kc, STORE_KEY_LEASES, m, nd, at, worker, lm};
    return store_redis_script(r, id, 3, 8, argv, NULL, cb, arg);
}

floe_rc
store_state_claim(store_redis *r, const char *exec, uint32_t node, uint32_t attempt,
                  const char *worker, uint32_t lease_ms, store_redis_cb cb, void *arg)
{
    return worker_script(r, STORE_SCRIPT_CLAIM, exec, node, attempt, worker, lease_ms, cb, arg);
}

floe_rc
store_state_claim_many(store_redis *r, const char *worker, const store_claim *c, size_t n,
                       store_redis_cb cb, void *arg)
{
    if (n == 0 || n > STORE_CLAIM_MAX)
        return FLOE_EINVAL;
    /* Per attempt: its exec and claim keys, its member and three numbers. */
    typedef struct claim_args {
        char kx[STORE_KEY_MAX], kc[STORE_KEY_MAX], m[STORE_KEY_MAX], nd[NUM], at[NUM], lm[NUM];
    } claim_args;
    claim_args *a = floe_malloc(sizeof(*a) * n);
    const char **argv = floe_malloc(sizeof(*argv) * (6 * n + 2));
    floe_rc rc = a != NULL && argv != NULL ? FLOE_OK : FLOE_ENOMEM;
    size_t nk = 1 + 2 * n;
    for (size_t i = 0; rc == FLOE_OK && i < n; i++) {
        if (store_key_exec(a[i].kx, c[i].exec) != FLOE_OK ||
            store_key_claim(a[i].kc, c[i].exec, c[i].node, c[i].attempt) != FLOE_OK ||
            store_member(a[i].m, c[i].exec, c[i].node, c[i].attempt) != FLOE_OK) {
            rc = FLOE_ETOOBIG;
            break;
        }
        snprintf(a[i].nd, NUM, "%u", c[i].node);
        snprintf(a[i].at, NUM, "%u", c[i].attempt);
        snprintf(a[i].lm, NUM, "%u", c[i].lease_ms);
        argv[1 + 2 * i] = a[i].kx;
        argv[2 + 2 * i] = a[i].kc;
        const char **v = argv + nk + 1 + 4 * i;
        v[0] = a[i].m;
        v[1] = a[i].nd;
        v[2] = a[i].at;
        v[3] = a[i].lm;
    }
    if (rc == FLOE_OK) {
        argv[0] = STORE_KEY_LEASES;
        argv[nk] = worker;
        /* store_redis copies the arguments into its output buffer before returning. */
        rc = store_redis_script(r, STORE_SCRIPT_CLAIM_MANY, (int)nk, (int)(nk + 1 + 4 * n), argv,
                                NULL, cb, arg);
    }
    floe_free(argv);
    floe_free(a);
    return rc;
}

floe_rc
store_state_heartbeat(store_redis *r, const char *exec, uint32_t node, uint32_t attempt,
                      const char *worker, uint32_t lease_ms, store_redis_cb cb, void *arg)
{
    return worker_script(r, STORE_SCRIPT_HEARTBEAT, exec, node, attempt, worker, lease_ms, cb, arg);
}

floe_rc
store_state_hold(store_redis *r, const char *worker, uint32_t hold_ms, const char *const *claims,
                 const char *const *members, size_t n, store_redis_cb cb, void *arg)
{
    if (n == 0 || n > STORE_HOLD_MAX)
        return FLOE_EINVAL;
    const char *argv[2 * STORE_HOLD_MAX + 3];
    char hm[NUM];
    snprintf(hm, NUM, "%u", hold_ms);
    argv[0] = STORE_KEY_LEASES;
    for (size_t i = 0; i < n; i++) {
        argv[1 + i] = claims[i];
        argv[n + 3 + i] = members[i];
    }
    argv[n + 1] = worker;
    argv[n + 2] = hm;
    return store_redis_script(r, STORE_SCRIPT_HOLD, (int)n + 1, 2 * (int)n + 3, argv, NULL, cb,
                              arg);
}

floe_rc
store_state_release(store_redis *r, const char *exec, uint32_t node, uint32_t attempt,
                    const char *worker, store_redis_cb cb, void *arg)
{
    return worker_script(r, STORE_SCRIPT_RELEASE, exec, node, attempt, worker, 0, cb, arg);
}

/* --- Reads ------------------------------------------------------------------------------- */

floe_rc
store_state_hmget(store_redis *r, const char *exec, const char *const *fields, size_t n,
                  store_redis_cb cb, void *arg)
{
    enum { MAX = 300 }; /* a dispatch reads up to 256 upstream outputs and 2 checks */
    char kx[STORE_KEY_MAX];
    if (n == 0 || n > MAX)
        return FLOE_EINVAL;
    if (store_key_exec(kx, exec) != FLOE_OK)
        return FLOE_ETOOBIG;
    const char *argv[MAX + 2];
    argv[0] = "HMGET";
    argv[1] = kx;
    for (size_t i = 0; i < n; i++)
        argv[i + 2] = fields[i];
    return store_redis_cmd(r, (int)n + 2, argv, NULL, cb, arg);
}

floe_rc
store_state_exec_all(store_redis *r, const char *exec, store_redis_cb cb, void *arg)
{
    char kx[STORE_KEY_MAX];
    if (store_key_exec(kx, exec) != FLOE_OK)
        return FLOE_ETOOBIG;
    const char *argv[] = {"HGETALL", kx};
    return store_redis_cmd(r, 2, argv, NULL, cb, arg);
}

floe_rc
store_state_exec_log(store_redis *r, const char *exec, store_redis_cb cb, void *arg)
{
    char kl[STORE_KEY_MAX];
    if (store_key_log(kl, exec) != FLOE_OK)
        return FLOE_ETOOBIG;
    const char *argv[] = {"LRANGE", kl, "0", "-1"};
    return store_redis_cmd(r, 4, argv, NULL, cb, arg);
}

floe_rc
store_state_zdue(store_redis *r, const char *key, int64_t max_score, unsigned offset,
                 unsigned limit, store_redis_cb cb, void *arg)
{
    char mx[NUM], off[NUM], lim[NUM];
    snprintf(mx, NUM, "%" PRId64, max_score);
    snprintf(off, NUM, "%u", offset);
    snprintf(lim, NUM, "%u", limit);
    const char *argv[] = {"ZRANGEBYSCORE", key, "-inf", mx, "LIMIT", off, lim};
    return store_redis_cmd(r, 7, argv, NULL, cb, arg);
}

floe_rc
store_state_smembers(store_redis *r, const char *key, store_redis_cb cb, void *arg)
{
    const char *argv[] = {"SMEMBERS", key};
    return store_redis_cmd(r, 2, argv, NULL, cb, arg);
}

floe_rc
store_state_zcard(store_redis *r, const char *key, store_redis_cb cb, void *arg)
{
    const char *argv[] = {"ZCARD", key};
    return store_redis_cmd(r, 2, argv, NULL, cb, arg);
}

floe_rc
store_state_branch_take(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                        uint32_t attempt, uint32_t taken, uint32_t join, const char *cases_csv,
                        store_redis_cb cb, void *arg)
{
    KEYS_EXEC(exec);
    char ep[NUM], nd[NUM], at[NUM], tk[NUM], jn[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(nd, NUM, "%u", node);
    snprintf(at, NUM, "%u", attempt);
    snprintf(tk, NUM, "%u", taken);
    snprintf(jn, NUM, "%u", join);
    const char *argv[] = {
        STORE_KEY_EPOCH, kx, kl, STORE_KEY_OUTBOX, STORE_KEY_FINALIZE, ep, exec, nd, at, tk, jn,
        cases_csv};
    return store_redis_script(r, STORE_SCRIPT_BRANCH_TAKE, 5, 12, argv, NULL, cb, arg);
}

floe_rc
store_state_node_wait(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                      uint32_t attempt, int64_t in_ms, bool again, const char *worker,
                      store_redis_cb cb, void *arg)
{
    KEYS_EXEC(exec);
    (void)kl;
    char kc[STORE_KEY_MAX];
    if (store_key_claim(kc, exec, node, attempt) != FLOE_OK)
        return FLOE_ETOOBIG;
    char ep[NUM], nd[NUM], at[NUM], due[NUM];
    snprintf(ep, NUM, "%" PRIu64, epoch);
    snprintf(nd, NUM, "%u", node);
    snprintf(at, NUM, "%u", attempt);
    snprintf(due, NUM, "%" PRId64, in_ms);
    const char *argv[] = {STORE_KEY_EPOCH,
                          kx,
                          STORE_KEY_OUTBOX,
                          STORE_KEY_LEASES,
                          kc,
                          ep,
                          exec,
                          nd,
                          at,
                          due,
                          again ? "1" : "0",
                          worker != NULL ? worker : ""};
    return store_redis_script(r, STORE_SCRIPT_GATE_WAIT, 5, 12, argv, NULL, cb, arg);
}
