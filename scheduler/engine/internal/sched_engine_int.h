/*
 * Internals of the engine, shared by sched_engine.c (terms, intake), sched_exec.c
 * (executions in memory, loading), sched_events.c (event handlers), sched_dispatch.c
 * (outbox to Kafka) and sched_finish.c (finalization, sweeps).
 *
 * Ownership: the engine owns the Redis client, the pool, the plan cache and the current
 * term. A term owns its bus and its executions. Every asynchronous operation (a Redis
 * call, a pool job, a produced dispatch) holds a reference on its term (and on its
 * execution), so a term that ends while replies are in flight is freed only after the
 * last one came back and was dropped.
 */
#ifndef SCHED_ENGINE_INT_H
#define SCHED_ENGINE_INT_H

#include "floe_arena.h"
#include "floe_bus.h"
#include "floe_log.h"
#include "floe_map.h"
#include "floe_phase.h"
#include "floe_pool.h"
#include "sched_engine.h"
#include "sched_plan.h"
#include "store_pg.h"
#include "store_state.h"

#include <stdbool.h>
#include <stdint.h>

#define ENG_EXEC_ID_MAX 128
#define ENG_ACK_BATCH 256
#define ENG_CLASSES_MAX 32
#define ENG_MSG_MAX 1024    /* error messages kept in the state */
#define ENG_RESTART_MS 1000 /* a failed term starts again after this */

typedef struct eng_term eng_term;
typedef struct eng_exec eng_exec;
typedef struct eng_item eng_item;
typedef struct eng_plan eng_plan;
typedef struct eng_lin eng_lin;
typedef struct eng_lps eng_lps;
typedef struct eng_egress_buf eng_egress_buf;
typedef struct eng_handoff eng_handoff;

/* A plan in the cache, by workflow reference. */
struct eng_plan {
    char *ref;
    sched_plan *plan; /* NULL while loading or when it failed */
    unsigned refs;    /* executions using it */
    bool loading;
    char error[FLOE_ERR_MSG_MAX]; /* when the load failed */
    eng_exec *waiters;            /* executions waiting for the load (via next_wait) */
};

typedef enum eng_item_kind {
    ITEM_BUS = 1,  /* a consumed message, parked while its execution loads */
    ITEM_DISPATCH, /* send node/attempt from the outbox */
    ITEM_LEASE,    /* node/attempt's lease expired */
    ITEM_ABORT,    /* end the execution (deadline) */
    ITEM_FINALIZE, /* the execution is terminal: write it to PostgreSQL */
    ITEM_CHILD,    /* a child execution ended (text: "node\0child") */
} eng_item_kind;

struct eng_item {
    eng_item *next;
    eng_item_kind kind;
    Floe__MessageType type; /* ITEM_BUS */
    floe_bus_pos pos;
    uint8_t *payload; /* ITEM_BUS: packed message; ITEM_CHILD: outputs or error */
    size_t payload_len;
    char *text; /* ITEM_ABORT: why (NULL: the timeout); ITEM_CHILD: see above */
    uint32_t node, attempt;
    int phase;
    int64_t ready_us;
};

typedef enum eng_exec_state {
    EX_NEW = 0, /* reading its head from Redis */
    EX_LOADING, /* waiting for its plan / PostgreSQL */
    EX_READY,   /* items run as they come */
    EX_GONE,    /* unknown or finished: items are dropped */
} eng_exec_state;

struct eng_exec {
    char id[ENG_EXEC_ID_MAX + 1];
    eng_term *t;
    eng_exec_state state;
    eng_plan *plan;
    uint8_t *inputs; /* packed floe.ValueMap of the execution's inputs */
    size_t inputs_len;
    eng_item *q_head, *q_tail; /* parked, in arrival order */
    unsigned inflight;         /* operations that point at it */
    bool in_map;
    bool no_cache, overwrite_cache; /* the launch's catalog options */
    floe_arena *rec_arena;          /* recover: what the source execution produced ... */
    struct store_run_node *rec;     /* ... taken over at creation, then freed */
    const char *rec_source;         /* the execution recovered */
    size_t n_rec;
    bool terminal;   /* Redis says it ended */
    bool finalizing; /* a finalize is under way */
    eng_exec *next_wait;
};

struct eng_term {
    sched_engine *e;
    uint64_t epoch;
    bool dead;
    unsigned refs;
    floe_bus *bus;
    floe_map *execs;
    struct event *sweep_ev, *ack_ev, *free_ev;
    char *acks[ENG_ACK_BATCH]; /* delivered dispatch members to clear from the outbox */
    size_t n_acks;
    unsigned sweeps;
    bool scanning_outbox, scanning_leases, firing_timers, scanning_finalize;
    unsigned outbox_offset;
    eng_lin *lin_head, *lin_tail; /* lineage records waiting to be written */
    size_t n_lin;
    bool lin_busy;
    eng_lps *lp;            /* launch plans (sched_lp.c) */
    eng_egress_buf *egress; /* phase changes held for the end of the batch (sched_egress.c) */
    eng_handoff *handoff;   /* requests taken from this replica's API (sched_handoff.c) */
    floe_log_ctx log;
};

typedef struct eng_op eng_op;
/* What becomes of a message an operation produced, once the broker answered: typed, so a
 * delivery reaches the module that produced it without a lookup. */
typedef void (*eng_delivered_fn)(eng_op *op, floe_rc rc, const char *reason);

/* An asynchronous operation's context (free-listed). */
struct eng_op {
    eng_op *next;
    eng_term *t;
    eng_exec *ex; /* may be NULL */
    int kind;     /* which step of its module's work: private to the module that made it */
    eng_delivered_fn delivered; /* an operation handed to floe_bus_produce */
    uint32_t node, attempt;
    floe_bus_pos pos;
    bool has_pos;
    int64_t t0_us;
    void *data;   /* kind-specific */
    char *str;    /* owned: e.g. the outbox member of a dispatch */
    uint8_t *buf; /* owned: e.g. the outputs of a success to record in the catalog */
    size_t buf_len;
    unsigned cls; /* resource class index of a dispatch */
};

/* The engine's upward calls: a module reaches one above it only through these, set once
 * by sched_engine_new, so no engine file depends on a higher one (docs/engine.md, "Layers").
 * Each names the module that provides it. */
typedef struct eng_next {
    void (*exec_release)(eng_exec *ex);                      /* sched_exec */
    void (*drop_execs)(eng_term *t);                         /* sched_exec */
    void (*exec_loaded)(eng_exec *ex, eng_exec_state state); /* sched_exec */
    void (*run_item)(eng_exec *ex, eng_item *it);            /* sched_events */
    void (*handle_message)(eng_exec *ex, Floe__MessageType type, const ProtobufCMessage *msg,
                           const floe_bus_pos *pos); /* sched_events */
    void (*node_cached)(eng_exec *ex, uint32_t node, uint32_t attempt, const uint8_t *outputs,
                        size_t len); /* sched_events */
    void (*dispatch_keyed)(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us,
                           const char *cache_key);                        /* sched_dispatch */
    bool (*dispatch_member)(eng_term *t, const char *member, size_t len); /* sched_dispatch */
    void (*node_done)(eng_exec *ex, uint32_t node, uint32_t attempt, const uint8_t *outputs,
                      size_t len, int phase, const floe_bus_pos *pos); /* sched_events */
    void (*map_failed)(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code,
                       const char *msg); /* sched_events */
    store_redis_cb state_reply;          /* sched_effects: eng_state_reply */
    void (*gate_failed)(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code,
                        const char *msg, const floe_bus_pos *pos); /* sched_events */
    void (*node_failed_by)(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code,
                           const char *msg, const char *worker,
                           const floe_bus_pos *pos);                   /* sched_events */
    void (*lease_lost)(eng_exec *ex, uint32_t node, uint32_t attempt); /* sched_events */
} eng_next;

struct sched_engine {
    struct event_base *base;
    const floe_config *cfg;
    floe_metrics *metrics;
    sched_engine_hooks hooks;
    eng_next next;
    store_redis *redis;
    floe_pool *pool;
    struct store_blob *blobs; /* checks that a cache hit's blobs are still there; may be NULL */
    floe_map *plans;
    eng_term *term;
    eng_op *free_ops;
    unsigned n_free_ops;
    floe_log_ctx log;
    char topic_events[128], topic_egress[128];
    char classes[ENG_CLASSES_MAX][64];
    char class_topics[ENG_CLASSES_MAX][128];
    unsigned n_classes;
    floe_arena *scratch; /* per item: unpacking, building a dispatch */
    char *csv;           /* node lists for scripts */
    size_t csv_cap;
    struct sched_effect *fx; /* sched_effects.c: the decided effects of one answer */
    int64_t *fx_items;
    size_t fx_cap, fx_items_cap;
    bool fx_busy;
    uint32_t *closure;
    uint8_t *mark;
    size_t closure_cap;
    struct event *restart_ev;
    uint64_t restart_epoch;
    /* metrics */
    floe_metric *m_events[16], *m_noop, *m_fenced, *m_dispatched_total, *m_ready_lat, *m_running,
        *m_outbox, *m_lease_exp, *m_retry_user, *m_retry_sys, *m_finished[FLOE_PHASE_COUNT],
        *m_restarts, *m_dispatch_fail, *m_dlq;
    floe_metric *m_cache[5]; /* ENG_CACHE_HIT, _MISS, _WAIT, _RECORDED, _STALE */
    floe_metric *m_dispatched[ENG_CLASSES_MAX];
};

/* A feature of the engine (launch plans, lineage) joins every term through these hooks,
 * so the core never calls up into it: start when a term begins (false: the term cannot
 * run), stop when it ends, free what it holds once the term's last reference goes, and
 * take the consumed messages of the types it owns (it acknowledges them). Any hook may
 * be NULL. The features in force come from sched_engine_hooks. */
struct eng_feature {
    const char *name;
    bool (*start)(eng_term *t);
    void (*stop)(eng_term *t);
    void (*free)(eng_term *t);
    Floe__MessageType consumes; /* 0: none */
    void (*on_message)(eng_term *t, const floe_bus_msg *msg);
};

/* The features of the engine's hooks, or none. */
#define ENG_FEATURES(e) ((e)->hooks.features != NULL ? (e)->hooks.features : eng_no_features)
extern const eng_feature *const eng_no_features[];

/* sched_term.c */
/* Ends the current term at once (features stop, executions dropped, the bus closed
 * later). */
void eng_term_end(sched_engine *e, const char *why);
eng_op *eng_op_new(eng_term *t, eng_exec *ex, int kind);
void eng_op_free(eng_op *op);
void eng_term_ref(eng_term *t);
void eng_term_unref(eng_term *t);
/* Redis failed under the term: end it and start again (same epoch) once Redis answers. */
void eng_term_fail(eng_term *t, const char *why);
/* A script said "fenced": stop the term and tell the lease. */
void eng_fenced(eng_term *t, const char *note);
/* Whether t may act: alive, and its replica still leading by the lease's clock (the hook
 * demotes it, ending t, when the deadline passed). */
bool eng_leading(eng_term *t);
void eng_ack(eng_term *t, const floe_bus_pos *pos);
/* sched_handoff.c: requests taken in-process, held until acknowledged. A position with
 * topic ENG_POS_LOCAL is one of theirs (eng_ack and eng_reject keep it from the bus). add: false
 * when full or out of memory (the request takes the bus); started: the API recorded its row
 * RUNNING under this term's epoch. done: true when pos was theirs (freed). started: whether
 * the request at pos is one whose row is RUNNING already. requeue: at a term's end, what is
 * still held goes to topic on the term's bus; returns how many.
 */
#define ENG_POS_LOCAL UINT32_MAX
/* Requests held at once: beyond, a launch takes the bus (its backlog waits in Kafka). */
#define ENG_HANDOFF_MAX 4096
bool eng_handoff_add(eng_term *t, const Floe__ExecutionRequested *req, bool started,
                     floe_bus_pos *pos);
bool eng_handoff_done(eng_term *t, const floe_bus_pos *pos);
bool eng_handoff_started(const eng_term *t, const floe_bus_pos *pos);
unsigned eng_handoff_held(const eng_term *t);
unsigned eng_handoff_requeue(eng_term *t, const char *topic);
void eng_handoff_free(eng_term *t);
/* The event at pos failed for its own content: dead-lettered with why, then acknowledged. */
void eng_reject(eng_term *t, const floe_bus_pos *pos, const char *why);
const char *eng_csv(sched_engine *e, const uint32_t *v, size_t n);
/* What index idx of ex's state runs: its plan node, or for a map item the map node (whose
 * task each item runs); NULL when idx names neither. *item: the item, or -1. */
const sched_pnode *eng_pnode(const eng_exec *ex, uint32_t idx, int64_t *item);
/* idx's id ("ID", or "ID.k" for a map item), in buf when it must be made. */
const char *eng_node_id(const eng_exec *ex, uint32_t idx, char buf[SCHED_PLAN_ID_SIZE]);
/* A map item's place for the state scripts, "map node,first item,item,concurrency" in buf
 * (64 bytes); NULL for a plan node. */
const char *eng_item_spec(const eng_exec *ex, uint32_t idx, char buf[64]);

/* The answer of a state script: false when the term can go on (the caller continues). */
bool eng_script_failed(eng_term *t, const store_reply *rep, const floe_err *err,
                       store_state_res *res);

/* sched_egress.c: phase changes for subscribers */
eng_egress_buf *eng_egress_new(eng_term *t);
void eng_egress_free(eng_egress_buf *g); /* NULL is a no-op */
/* A phase change on egress (node_id NULL: the execution's): held for the batch's end
 * (engine.egress_batch), or sent at once. */
void eng_egress(eng_term *t, const eng_exec *ex, const char *node_id, uint32_t attempt,
                floe_transition tr, floe_error_kind error_kind, const char *message);
/* The held changes out now: one PhaseChanges per execution. */
void eng_egress_flush(eng_term *t);

/* sched_plan_cache.c */
/* Gives ex its plan now (EX_READY), or parks it until the plan loaded (EX_LOADING). */
void eng_plan_acquire(eng_exec *ex, const char *ref);
void eng_plan_unref(sched_engine *e, eng_plan *p); /* NULL is a no-op */
/* On a pool thread: a workflow version from the registry, flattened into *out. */
floe_rc eng_plan_load(store_pg *pg, const char *project, const char *domain, const char *name,
                      const char *version, size_t max_nodes, sched_plan **out, floe_err *err);

/* sched_exec.c */
eng_exec *eng_exec_get(eng_term *t, const char *id, bool create);
void eng_exec_push(eng_exec *ex, eng_item *it);
/* Runs parked items of a ready execution; drops them when it is gone. */
void eng_exec_drain(eng_exec *ex);
void eng_exec_release(eng_exec *ex); /* an operation on ex ended */
void eng_exec_forget(eng_exec *ex);  /* finished and recorded: out of the map */
void eng_exec_loaded(eng_exec *ex, eng_exec_state state);
void eng_term_drop_execs(eng_term *t);
eng_item *eng_item_new(eng_item_kind kind);
void eng_item_free(eng_item *it);
/* Starts loading an execution first seen through ExecutionRequested. */
/* started: its row is RUNNING under the term's epoch already (eng_handoff_started). */
void eng_exec_load_request(eng_exec *ex, const Floe__ExecutionRequested *m, bool started);
/* Starts loading an execution from its Redis state (any other event). */
void eng_exec_load(eng_exec *ex);

/* sched_effects.c: the answer of every state script (a store_redis_cb whose arg is the
 * eng_op; op->kind is the sched_event, op->data the error kind of a failure). */
void eng_state_reply(const store_reply *rep, const floe_err *err, void *arg);

/* sched_events.c */
void eng_on_bus(eng_term *t, const floe_bus_msg *msg);
void eng_run_item(eng_exec *ex, eng_item *it);
void eng_handle_message(eng_exec *ex, Floe__MessageType type, const ProtobufCMessage *msg,
                        const floe_bus_pos *pos);

/* sched_dispatch.c */
void eng_dispatch(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us);
/* The same, once the catalog step decided it runs: the dispatch carries cache_key. */
void eng_dispatch_keyed(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us,
                        const char *cache_key);
/* An outbox member ("E|node|attempt") to send: its execution loads first if needed. */
bool eng_dispatch_member(eng_term *t, const char *member, size_t len);

/* sched_cache.c: memoization (docs/catalog.md) */
enum { ENG_CACHE_HIT, ENG_CACHE_MISS, ENG_CACHE_WAIT, ENG_CACHE_RECORDED, ENG_CACHE_STALE };
bool eng_cache_applies(const eng_exec *ex, const sched_pnode *pn);
/* A cacheable attempt's inputs are resolved (values valid for the call only): look the
 * key up, then finish the node CACHED, or dispatch it keyed, or wait for an identical
 * run under way. */
void eng_cache_begin(eng_exec *ex, uint32_t node, uint32_t attempt, int64_t ready_us,
                     Floe__NamedValue *const *inputs, size_t n_inputs);
/* A cacheable attempt succeeded (the state has its outputs): record them under key, wake
 * identical waiters, then acknowledge pos (when has_pos). Takes outputs (malloc'd). */
void eng_cache_record(eng_exec *ex, uint32_t node, uint32_t attempt, const char *key,
                      uint8_t *outputs, size_t len, const floe_bus_pos *pos, bool has_pos);

/* sched_lineage.c */
typedef struct eng_lin_in {
    uint32_t attempt;
    const char *phase; /* SUCCEEDED, CACHED, RECOVERED */
    const char *cache_key, *source_execution, *source_node;
    Floe__NamedValue *const *consumed;
    size_t n_consumed;
    Floe__NamedValue *const *produced;
    size_t n_produced;
} eng_lin_in;
/* Queues a lineage record of node (values copied); pos is acknowledged once written. */
void eng_lineage_add(eng_exec *ex, uint32_t node, const eng_lin_in *in, const floe_bus_pos *pos);
void eng_lineage_event(eng_exec *ex, const Floe__LineageRecorded *m, const floe_bus_pos *pos);
/* The nodes a recovering execution took over (ex->rec), from execution source. */
void eng_lineage_recovered(eng_exec *ex, const char *source);

/* sched_lp.c: launch plans that launch themselves (docs/launchplans.md) */
void eng_lp_tick(eng_term *t);

/* sched_events.c */
/* The node's outputs came from the catalog: it ends CACHED and its downstream runs. */
void eng_node_cached(eng_exec *ex, uint32_t node, uint32_t attempt, const uint8_t *outputs,
                     size_t len);
/* The node ends with these outputs (phase SUCCEEDED or CACHED) without a worker: a cache
 * hit, or a map node gathered from its items. */
void eng_node_done(eng_exec *ex, uint32_t node, uint32_t attempt, const uint8_t *outputs,
                   size_t len, int phase, const floe_bus_pos *pos);
/* A node the leader runs itself (a gate) fails as USER, not retried; pos (may be NULL) is
 * acknowledged once that is durable. */
void eng_gate_failed(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code,
                     const char *msg, const floe_bus_pos *pos);
/* The same for a node a worker ran (a dynamic task whose workflow cannot run): worker
 * must hold the attempt's claim. */
void eng_node_failed_by(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code,
                        const char *msg, const char *worker, const floe_bus_pos *pos);
/* The worker running the attempt stopped renewing its lease: a SYSTEM failure. */
void eng_lease_lost(eng_exec *ex, uint32_t idx, uint32_t attempt);
/* A map node fails (USER, not retried): too few of its items succeeded, or its list is
 * too long. */
void eng_map_failed(eng_exec *ex, uint32_t node, uint32_t attempt, const char *code,
                    const char *msg);

/* sched_branch.c: branch nodes (docs/engine.md#branches) */
/* A branch's decision node is READY with its operands resolved (ops[k] NULL: none): the
 * first case whose condition holds runs, the others are skipped. */
void eng_branch_decide(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *const *ops,
                       size_t n_ops);
/* A branch's join is READY (its case ended): it ends with the outputs of the case that
 * ran. */
void eng_branch_join(eng_exec *ex, uint32_t node, uint32_t attempt);

/* sched_gate.c: gate nodes (docs/engine.md#gates) */
/* A READY gate starts waiting (until: a sleep's end time, or NULL). */
void eng_gate_start(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *until);
/* A gate's due time came (the lease sweep): a sleep ends, an approval or signal times out. */
void eng_gate_due(eng_exec *ex, uint32_t node, uint32_t attempt);
/* A person's answer to a gate (GateResolved at pos). */
void eng_gate_resolved(eng_exec *ex, const Floe__GateResolved *m, const floe_bus_pos *pos);

/* sched_child.c: child executions (docs/engine.md#child-executions) */
/* A READY launch-plan node (or an item of a map over a launch plan or a sub-workflow)
 * starts its child with the node's bound inputs (given, valid for the call only). */
void eng_child_start(eng_exec *ex, uint32_t node, uint32_t attempt, Floe__NamedValue *const *given,
                     size_t n_given);
/* A dynamic task succeeded (TaskSucceeded at pos, from worker) returning doc, its
 * "workflow" output: it is compiled, registered and started as the node's child. */
void eng_dynamic_start(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *doc,
                       const char *worker, const floe_bus_pos *pos);
/* A waiting node's check is due: its child's row says whether it ended. */
void eng_child_due(eng_exec *ex, uint32_t node, uint32_t attempt);
/* Child execution `child` of parent's node node_id (attempt) ended in phase: an item of
 * the parent ends the node. */
void eng_child_ended(eng_term *t, const char *parent, const char *node_id, uint32_t attempt,
                     const char *child, const char *phase, const uint8_t *outputs, size_t len,
                     const char *error);
void eng_child_item(eng_exec *ex, const eng_item *it);
/* parent ended otherwise than SUCCEEDED: its children[0..n) still running end ABORTED. */
struct store_exec;
void eng_children_abort(eng_term *t, const struct store_exec *children, size_t n,
                        const char *parent);

/* sched_map.c: map nodes (docs/engine.md#map-nodes) */
/* A map node is READY with its inputs resolved (values valid for the call only): start
 * one item per element of its list. */
void eng_map_expand(eng_exec *ex, uint32_t node, uint32_t attempt, Floe__NamedValue *const *inputs,
                    size_t n_inputs);
/* Every item of the map node ended (it is READY again): gather their outputs into lists,
 * and end the node by its min_success_ratio. n: its items. */
void eng_map_gather(eng_exec *ex, uint32_t node, uint32_t attempt, uint32_t n);
void eng_flush_acks(eng_term *t);
void eng_outbox_scan(eng_term *t);

/* sched_finish.c */
void eng_finalize(eng_exec *ex);
void eng_sweep(eng_term *t);

#endif
