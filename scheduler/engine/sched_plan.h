/*
 * sched_plan — what the engine runs: a compiled workflow flattened into one DAG of task
 * nodes. Sub-workflow calls are inlined ("outer.inner" ids); their inputs and outputs are
 * rewired to the nodes that produce them, so the engine, the Redis state and the workers
 * only ever see task nodes. Node indices are a pure function of the compiled spec, so
 * every leader derives the same plan from the same workflow version.
 *
 * A plan is immutable once built and owns everything it points to (one arena). Built on
 * any thread; read by the loop thread.
 */
#ifndef SCHED_PLAN_H
#define SCHED_PLAN_H

#include "floe_err.h"
#include "floe_spec.pb-c.h"

#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>

typedef enum sched_src_kind {
    SCHED_SRC_LITERAL = 1, /* a constant from the spec */
    SCHED_SRC_INPUT = 2,   /* an input of the execution */
    SCHED_SRC_OUTPUT = 3,  /* an output of a plan node */
    SCHED_SRC_FAILURE = 4, /* the on_failure handler's: ref "failed_node" or "error" */
} sched_src_kind;

typedef struct sched_binding {
    const char *name; /* the callee's input (or the workflow's output) */
    sched_src_kind kind;
    const Floe__Value *literal; /* LITERAL */
    const char *ref;            /* INPUT: execution input; OUTPUT: the node's output */
    uint32_t node;              /* OUTPUT */
} sched_binding;

typedef struct sched_pnode {
    const char *id; /* "train", or "prep.clean" inside sub-workflow node "prep" */
    const Floe__TaskSpec *task;
    const sched_binding *inputs; /* bound inputs; unbound ones take the task's defaults */
    uint32_t n_inputs;
    uint32_t n_upstream;  /* distinct nodes it waits for */
    const uint32_t *down; /* distinct nodes waiting for it, ascending */
    uint32_t n_down;
    const Floe__MapSpec *map; /* a map node: its task runs once per item; else NULL */
    uint32_t map_ord;         /* a map node: its position among the plan's map nodes */
    /* A branch node ID becomes ID.when (SCHED_ROLE_DECIDE: no task; its inputs are the
     * operands of every case's condition, in case order, each condition depth first), its
     * cases ID.if0, ID.if1, ... or ID.else (task nodes after ID.when, in order), and ID
     * (SCHED_ROLE_JOIN: no task; after every case; its outputs are the case's that ran). */
    int role;
    const Floe__BranchSpec *branch; /* SCHED_ROLE_DECIDE */
    const Floe__GateSpec *gate;     /* SCHED_ROLE_GATE: no task; inputs: a sleep's "until" */
    /* SCHED_ROLE_CHILD: no task; it starts a child execution of this launch plan, or (a
     * map over a sub-workflow: one child per item) of this workflow, and its outputs are
     * the child's (sched_child.c). */
    const Floe__LaunchPlanSpec *launchplan;
    const Floe__WorkflowSpec *child_workflow;
    /* What it calls shows: the task's, the launch plan's or the workflow's interface (a
     * map node's items run it); NULL for the leader's own nodes. */
    const Floe__Interface *ifc;
} sched_pnode;

/* SCHED_ROLE_FAILURE: the workflow's on_failure handler, the plan's last node, released by
 * no other (its one "upstream" is the execution's failure). */
enum {
    SCHED_ROLE_TASK = 0,
    SCHED_ROLE_DECIDE,
    SCHED_ROLE_JOIN,
    SCHED_ROLE_GATE,
    SCHED_ROLE_FAILURE,
    SCHED_ROLE_CHILD
};

typedef struct sched_plan {
    const Floe__WorkflowSpec *spec;
    const char *ref; /* "project/domain/name/version" */
    const sched_pnode *nodes;
    uint32_t n_nodes;
    const sched_binding *outputs; /* workflow outputs */
    uint32_t n_outputs;
    int failure_policy;         /* FLOE__FAILURE_POLICY__* (unset = fail fast) */
    const char *unresolved_csv; /* n_upstream of every node, "0,1,1,2" */
    uint32_t n_maps;            /* map nodes */
    bool on_failure;            /* the last node is the on_failure handler */
    size_t bytes;               /* memory held */
} sched_plan;

/* Dependency edges allowed per node of max_nodes (8 bytes each in the plan). */
#define SCHED_PLAN_EDGES_PER_NODE 25

/* Unpacks and flattens a compiled workflow. At most max_nodes task nodes and
 * max_nodes * SCHED_PLAN_EDGES_PER_NODE dependency edges after inlining. NULL with err
 * (FLOE_EINVAL: what is wrong with the spec; FLOE_ETOOBIG; FLOE_ENOMEM). */
sched_plan *sched_plan_build(const uint8_t *spec, size_t len, size_t max_nodes, floe_err *err);
void sched_plan_free(sched_plan *plan);

/* Index of the node with id, or -1. */
int64_t sched_plan_find(const sched_plan *plan, const char *id);

/* The items of map nodes are nodes of the execution too, created when their map node
 * starts: item k of the map node with map_ord m has index n_nodes + (m << 20) + k, its
 * id is "ID.k". So every state script, claim and event names an item as it names a task
 * node, and the index alone says which map it belongs to (no table to recover after a
 * failover). */
#define SCHED_MAP_ITEM_BITS 20
#define SCHED_MAP_ITEMS_MAX ((1u << SCHED_MAP_ITEM_BITS) - 1)
/* Map nodes a plan may have, so that every item index fits in 32 bits. */
#define SCHED_PLAN_MAPS_MAX 4000
/* Longest id of a map node, so that "ID.k" fits the bus's limit on node ids. */
#define SCHED_MAP_ID_MAX 119

/* Index of item k of map node `node`. */
uint32_t sched_plan_item(const sched_plan *plan, uint32_t node, uint32_t k);
/* What index idx names: *node the plan node (the map node for an item), *item the item
 * (-1 for a plan node). false when it names neither. */
bool sched_plan_locate(const sched_plan *plan, uint32_t idx, uint32_t *node, int64_t *item);
/* Index of a plan node's or an item's id ("ID" or "ID.k", k < SCHED_MAP_ITEMS_MAX), or -1. */
int64_t sched_plan_find_any(const sched_plan *plan, const char *id);
/* The id of idx into buf ("ID" or "ID.k"); "?" when it names nothing. */
const char *sched_plan_id(const sched_plan *plan, uint32_t idx, char *buf, size_t size);
#define SCHED_PLAN_ID_SIZE 144

/* Transitive downstream of node (not including it), ascending, written to out (capacity
 * plan->n_nodes) using mark (plan->n_nodes bytes of scratch, zeroed on return). */
uint32_t sched_plan_closure(const sched_plan *plan, uint32_t node, uint32_t *out, uint8_t *mark);

#endif
