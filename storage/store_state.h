/*
 * store_state — the execution state in Redis, as typed calls: one function per Lua script
 * of storage/redis (see docs/state.md for the key layout), plus the reads the engine and
 * the workers need. Builds keys and arguments, calls through store_redis, and parses the
 * scripts' uniform answer {status, phase, note, items...}.
 *
 * Every state-changing call of the leader carries its epoch; Redis refuses older epochs
 * (STORE_ST_FENCED). Calls return FLOE_EAGAIN when Redis is disconnected (cb not called).
 */
#ifndef STORE_STATE_H
#define STORE_STATE_H

#include "store_redis.h"

#include <stdbool.h>
#include <stdint.h>

#define STORE_KEY_MAX 192

typedef enum store_st {
    STORE_ST_ERROR = 0, /* the answer did not parse */
    STORE_ST_OK,
    STORE_ST_NOOP,   /* duplicate or stale: nothing changed (note says why) */
    STORE_ST_FENCED, /* the caller's epoch is stale */
    STORE_ST_RETRY,  /* node_failed: another attempt is scheduled */
    STORE_ST_FAILED, /* node_failed: the node failed for good */
    STORE_ST_DUP,    /* claim: another worker holds the attempt */
    STORE_ST_STALE,  /* claim: the attempt is not current */
    STORE_ST_ABORT,  /* heartbeat: stop the attempt */
    STORE_ST_LOST,   /* heartbeat: the claim expired */
} store_st;

typedef struct store_state_res {
    store_st st;
    int64_t phase;    /* terminal execution phase reached by this call, else 0 */
    const char *note; /* why, for NOOP/FENCED/STALE/...; NUL-terminated, valid with rep */
    const store_reply *rep;
    size_t n_items; /* items after the first three elements */
} store_state_res;

/* Parses a script's answer. */
void store_state_parse(const store_reply *rep, store_state_res *out);
int64_t store_state_item_int(const store_state_res *res, size_t i);
const char *store_state_item_str(const store_state_res *res, size_t i, size_t *len);
const char *store_st_name(store_st st);

/* Keys. Return FLOE_ETOOBIG when the id does not fit. */
floe_rc store_key_exec(char out[STORE_KEY_MAX], const char *exec);
floe_rc store_key_log(char out[STORE_KEY_MAX], const char *exec);
floe_rc store_key_claim(char out[STORE_KEY_MAX], const char *exec, uint32_t node, uint32_t attempt);
/* "<exec>|<node>|<attempt>": members of the outbox, delayed and leases sets. */
floe_rc store_member(char out[STORE_KEY_MAX], const char *exec, uint32_t node, uint32_t attempt);
/* Parses a member; exec gets the id. */
floe_rc store_member_parse(const char *m, size_t len, char *exec, size_t exec_size, uint32_t *node,
                           uint32_t *attempt);

#define STORE_KEY_EPOCH "floe:epoch"
#define STORE_KEY_OUTBOX "floe:outbox"
#define STORE_KEY_DELAYED "floe:delayed"
#define STORE_KEY_LEASES "floe:leases"
#define STORE_KEY_FINALIZE "floe:finalize"
#define STORE_KEY_DEADLINES "floe:deadlines"

/* --- The leader's scripts -------------------------------------------------------------- */

typedef struct store_create {
    const char *exec, *wf_ref;
    int policy;
    const void *inputs; /* packed floe.ValueMap */
    size_t inputs_len;
    int64_t deadline_us; /* 0: none */
    uint32_t n_nodes;
    const char *unresolved_csv; /* per node, recovered upstreams not counted */
    const char *flags;          /* "n" no cache look-ups, "w" overwrite the cache */
    const char *recovered_csv;  /* nodes taken over from the recovered execution, or NULL */
    const uint8_t *const *recovered_outputs; /* their outputs, in that order */
    const size_t *recovered_lens;
    size_t n_recovered;
} store_create;

floe_rc store_state_exec_create(store_redis *r, uint64_t epoch, const store_create *c,
                                store_redis_cb cb, void *arg);

floe_rc store_state_node_started(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                                 uint32_t attempt, const char *worker, int64_t started_us,
                                 store_redis_cb cb, void *arg);

typedef struct store_success {
    const char *exec;
    uint32_t node, attempt;
    const void *outputs; /* packed floe.ValueMap */
    size_t outputs_len;
    const char *worker;
    int64_t started_us, finished_us; /* 0: Redis's clock / the recorded start */
    const char *down_csv;            /* downstream node indices */
    int phase;                       /* FLOE__PHASE__PHASE_SUCCEEDED or _CACHED */
    const char *logs;                /* "<stdout uri>|<stderr uri>" or NULL */
    const char *item;                /* a map item: "map node,first item,item,concurrency" */
} store_success;

/* Successes made in one loop pass (of one execution or several) go to Redis as one script
 * call (store_redis_script_group); each callback gets its own answer. */
floe_rc store_state_node_succeeded(store_redis *r, uint64_t epoch, const store_success *s,
                                   store_redis_cb cb, void *arg);

typedef struct store_failure {
    const char *exec;
    uint32_t node, attempt;
    int kind; /* FLOE__ERROR_KIND__ERROR_KIND_USER / _SYSTEM */
    bool retriable;
    uint32_t user_budget, system_budget;
    uint32_t backoff_initial_ms, backoff_max_ms, backoff_multiplier_milli;
    uint32_t jitter_milli; /* 0..1000, random */
    const char *code, *message, *worker;
    int64_t started_us, finished_us;
    const char *closure_csv; /* transitive downstream (finish-independent skips it) */
    bool lease_check;        /* only if the lease has expired (the sweeper) */
    const char *logs;        /* "<stdout uri>|<stderr uri>" or NULL */
    const char *node_id;     /* names the node in the execution's error (else its index) */
    const char *item;        /* a map item: "map node,first item,item,concurrency" */
} store_failure;

floe_rc store_state_node_failed(store_redis *r, uint64_t epoch, const store_failure *f,
                                store_redis_cb cb, void *arg);

/* A map node starts its n items, indices first.. (map_expand.lua); items[k] is item k's
 * packed floe.Value. */
floe_rc store_state_map_expand(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                               uint32_t attempt, uint32_t first, uint32_t concurrency,
                               const uint8_t *const *items, const size_t *lens, size_t n,
                               store_redis_cb cb, void *arg);

/* A branch node's decision: case `taken` runs, the other cases (all in cases_csv) are
 * SKIPPED for the join (branch_take.lua). */
floe_rc store_state_branch_take(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                                uint32_t attempt, uint32_t taken, uint32_t join,
                                const char *cases_csv, store_redis_cb cb, void *arg);

/* A node the leader runs starts waiting (gate_wait.lua): a gate, or a node whose child
 * execution runs; due in_ms from now on Redis's clock (-1: never). again: it may already
 * wait (its due time moves). worker (may be NULL): a dynamic task's worker whose success
 * starts the wait; it must hold the attempt's claim. */
floe_rc store_state_node_wait(store_redis *r, uint64_t epoch, const char *exec, uint32_t node,
                              uint32_t attempt, int64_t in_ms, bool again, const char *worker,
                              store_redis_cb cb, void *arg);

/* The broker has these dispatches: their outbox entries go, and each unclaimed attempt
 * gets a lease deadline claim_ms away (outbox_ack.lua). */
floe_rc store_state_outbox_ack(store_redis *r, uint64_t epoch, int64_t claim_ms,
                               const char *const *members, size_t n, store_redis_cb cb, void *arg);
/* The catalog's coordination of identical work (cache_reserve.lua, cache_done.lua). */
typedef struct store_cache_req {
    const char *exec;
    uint32_t node, attempt;
    const char *cache_key; /* 64 hex */
    int64_t reservation_ms, recheck_ms;
    bool looked_again; /* the catalog was read again after an 'again' answer */
    bool record_only;  /* only remember the key (no look-up: --no-cache, --overwrite-cache) */
} store_cache_req;

/* Answers {ok, 0, run|wait|again, holder}. */
floe_rc store_state_cache_reserve(store_redis *r, uint64_t epoch, const store_cache_req *q,
                                  store_redis_cb cb, void *arg);
/* Answers {ok, 0, '', members moved to the outbox...}. */
floe_rc store_state_cache_done(store_redis *r, uint64_t epoch, const char *cache_key,
                               int64_t done_ms, store_redis_cb cb, void *arg);

floe_rc store_state_timer_fire(store_redis *r, uint64_t epoch, unsigned limit, store_redis_cb cb,
                               void *arg);
floe_rc store_state_exec_abort(store_redis *r, uint64_t epoch, const char *exec, int phase,
                               const char *message, store_redis_cb cb, void *arg);
/* The execution's terminal state is in PostgreSQL: out of the finalize set and the deadlines,
 * its state kept retention_ms more. The calls made in one loop pass go as one script
 * (store_redis_script_group), each answered on its own. */
floe_rc store_state_exec_recorded(store_redis *r, uint64_t epoch, const char *exec,
                                  int64_t retention_ms, store_redis_cb cb, void *arg);

/* --- The workers' scripts -------------------------------------------------------------- */

floe_rc store_state_claim(store_redis *r, const char *exec, uint32_t node, uint32_t attempt,
                          const char *worker, uint32_t lease_ms, store_redis_cb cb, void *arg);
/* Claims of several attempts, of one execution or several, in one script: element i of
 * the answer (an array) is attempt i's, as store_state_claim answers. n <= STORE_CLAIM_MAX. */
#define STORE_CLAIM_MAX 64
typedef struct store_claim {
    const char *exec;
    uint32_t node, attempt, lease_ms;
} store_claim;
floe_rc store_state_claim_many(store_redis *r, const char *worker, const store_claim *c, size_t n,
                               store_redis_cb cb, void *arg);
floe_rc store_state_heartbeat(store_redis *r, const char *exec, uint32_t node, uint32_t attempt,
                              const char *worker, uint32_t lease_ms, store_redis_cb cb, void *arg);
/* Results of these attempts are in Kafka: the leases worker still holds are stretched to
 * hold_ms (one script for them all; n <= STORE_HOLD_MAX). claims[i] and members[i] are
 * store_key_claim's and store_member's of attempt i. The answer's count says how many. */
#define STORE_HOLD_MAX 256
floe_rc store_state_hold(store_redis *r, const char *worker, uint32_t hold_ms,
                         const char *const *claims, const char *const *members, size_t n,
                         store_redis_cb cb, void *arg);
floe_rc store_state_release(store_redis *r, const char *exec, uint32_t node, uint32_t attempt,
                            const char *worker, store_redis_cb cb, void *arg);

/* --- Reads ----------------------------------------------------------------------------- */

/* HMGET of the execution hash: fields[] names (e.g. "ph", "wf", "in", "o3"). */
floe_rc store_state_hmget(store_redis *r, const char *exec, const char *const *fields, size_t n,
                          store_redis_cb cb, void *arg);
/* HGETALL of the execution hash / LRANGE of its attempt log. */
floe_rc store_state_exec_all(store_redis *r, const char *exec, store_redis_cb cb, void *arg);
floe_rc store_state_exec_log(store_redis *r, const char *exec, store_redis_cb cb, void *arg);
/* Members of a sorted set with score <= max_score (ms), at most limit, from offset. */
floe_rc store_state_zdue(store_redis *r, const char *key, int64_t max_score, unsigned offset,
                         unsigned limit, store_redis_cb cb, void *arg);
floe_rc store_state_smembers(store_redis *r, const char *key, store_redis_cb cb, void *arg);
floe_rc store_state_zcard(store_redis *r, const char *key, store_redis_cb cb, void *arg);

#endif
