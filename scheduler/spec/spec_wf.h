/*
 * The workflow compiler's state, shared by its parts (spec_workflow.c: nodes, bindings,
 * order; spec_branch.c: branch nodes). Private to scheduler/spec.
 */
#ifndef SPEC_WF_H
#define SPEC_WF_H

#include "spec_int.h"

typedef struct wf_id {
    const char *id;
    uint32_t idx;
} wf_id;

/* A callee used by some node, once per (kind, name, version asked). */
typedef struct wf_callee {
    spec_kind kind;
    const char *name;
    const char *version; /* as asked; NULL = latest */
    const ProtobufCMessage *msg;
    uint32_t target; /* index in tasks, subworkflows or launchplans */
} wf_callee;

/* Per node while compiling (indices are document order). */
typedef struct wf_node {
    const spec_y *y;
    const char *id;
    const Floe__Interface *ifc;
    const char *callee_what; /* "task \"t\"" */
    Floe__Node *node;
    uint32_t *up; /* upstream, document order, deduplicated */
    size_t n_up, cap_up;
    uint32_t *down;
    size_t n_down;
    uint32_t pending; /* Kahn */
    uint32_t topo;    /* position in the compiled order */
} wf_node;

typedef struct wf {
    spec_ctx *ctx;
    const Floe__Interface *ifc; /* the workflow's own */
    wf_node *nodes;
    size_t n;
    wf_id *ids; /* sorted by id */
    wf_callee *callees;
    size_t n_callees, cap_callees;
    size_t n_tasks, n_subs, n_lps;
    uint32_t depth;
    unsigned bad;    /* errors handed to the problem handler (spec_stop) */
    bool inputs_bad; /* the workflow's inputs section was wrong */
} wf;

wf_node *wf_find(wf *w, const char *id);
floe_rc wf_add_up(wf *w, wf_node *nd, uint32_t up);
/* The callee (kind, name, version), looked up once per workflow. */
floe_rc wf_callee_get(wf *w, const spec_y *at, spec_kind kind, const char *name,
                      const char *version, const wf_callee **out);
/* Compiles one binding of `want` type (NULL: take the source's type, returned in *type).
 * For node inputs, nd is the node (its upstream grows); for workflow outputs, NULL. */
floe_rc wf_binding(wf *w, wf_node *nd, const spec_y *y, const char *name, const char *field,
                   const Floe__LiteralType *want, const Floe__LiteralType **type, Floe__Binding *b);

/* The bindings of iy (a node's or a case's `inputs:`) to interface ifc's inputs, sorted
 * by name; what names the callee in messages; at locates an error without iy. */
floe_rc wf_bind_inputs(wf *w, wf_node *nd, const spec_y *at, const spec_y *iy,
                       const Floe__Interface *ifc, const char *what, Floe__Binding ***out,
                       size_t *n_out);

/* spec_branch.c: a node with `branch:`. Its cases' tasks and the outputs it shows (first
 * pass, with every node's callee), then its conditions and cases' inputs (second pass). */
floe_rc wf_branch_callee(wf *w, wf_node *nd, Floe__Node *node);
floe_rc wf_branch_inputs(wf *w, wf_node *nd);

/* spec_onfailure.c: the workflow's on_failure handler {task, inputs} (after its nodes). */
floe_rc wf_on_failure(wf *w, const spec_y *fy, Floe__WorkflowSpec *spec);

/* spec_lpnode.c: a node with `launchplan:` (its callee; its inputs bind as a task's). */
floe_rc wf_lp_callee(wf *w, wf_node *nd, const spec_y *ly, Floe__Node *node);

/* spec_gate.c: a node with `gate:` (the same two passes). */
floe_rc wf_gate_callee(wf *w, wf_node *nd, Floe__Node *node);
floe_rc wf_gate_inputs(wf *w, wf_node *nd);

#endif
