/*
 * store_lineage — lineage in PostgreSQL (migration 0004): node executions that produced
 * outputs, the artifacts of each execution (outputs, execution inputs, constants), what
 * each node consumed, and "derived from" links to the same data recorded elsewhere (the
 * original of a cached or recovered output; the produced blob an execution was given as
 * input). Writes are idempotent (events are at-least-once); queries walk the graph.
 * Synchronous, on a pool thread.
 */
#ifndef STORE_LINEAGE_H
#define STORE_LINEAGE_H

#include "floe_arena.h"
#include "store_pg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_lin_artifact {
    const char *node_id; /* "" for an input of the execution */
    const char *role;    /* "output", "input", "constant" */
    const char *name;
    const char *type;   /* "integer", "list<blob>", ... */
    const char *uri;    /* blobs, else NULL */
    const char *digest; /* blob content digest, or the value's canonical digest */
    int64_t size;       /* -1: unknown */
    const char *value;  /* JSON of a literal (bounded), NULL for blobs */
    /* Derived from: an output of another execution (src_exec, src_node, same name) ... */
    const char *src_exec, *src_node;
    /* ... or, for a blob given as an execution input, the latest output with its digest. */
    bool link_by_digest;
} store_lin_artifact;

typedef struct store_lin_use {
    const char *input;
    size_t artifact; /* index into the record's artifacts */
} store_lin_use;

typedef struct store_lin_record {
    const char *execution_id, *node_id;
    uint32_t attempt;
    const char *project, *domain, *task_name, *task_version;
    const char *phase;                                      /* SUCCEEDED, CACHED, RECOVERED */
    const char *cache_key, *source_execution, *source_node; /* may be NULL */
    const store_lin_artifact *artifacts;
    size_t n_artifacts;
    const store_lin_use *uses;
    size_t n_uses;
} store_lin_record;

/* Writes n records in batches of up to STORE_LIN_BATCH records (fewer when their
 * parameters pass STORE_LIN_BATCH_BYTES): each batch is four statements, one transaction
 * and one round trip. Every statement is idempotent, so records written again after a
 * failure (the batches before the failed one were committed) end as they were. Fenced:
 * FLOE_EFENCED, and that batch not written, once epoch no longer holds the lease. */
#define STORE_LIN_BATCH 256
#define STORE_LIN_BATCH_BYTES (4u << 20)
floe_rc store_lineage_write(store_pg *pg, uint64_t epoch, const store_lin_record *recs, size_t n,
                            floe_err *err);

#define STORE_LIN_DEPTH_MAX 10000
#define STORE_LIN_VERTICES_MAX 50000
#define STORE_LIN_EXECS_MAX 500

typedef struct store_lin_query {
    const char *execution_id; /* root: an execution, one of its nodes, or one output ... */
    const char *node_id;      /* may be NULL */
    const char *output;       /* may be NULL (needs node_id) */
    int64_t artifact_id;      /* ... or an artifact (> 0) */
    bool downstream;          /* else upstream */
    unsigned depth;           /* hops from the root, <= STORE_LIN_DEPTH_MAX */
} store_lin_query;

/* The subgraph reachable from the root within depth hops: {root, direction, depth,
 * truncated, nodes: [...], edges: [{from, to, relation}]}. FLOE_ENOTFOUND when the root
 * has no lineage. *out is a new reference. */
floe_rc store_lineage_query(store_pg *pg, const store_lin_query *q, json_t **out, floe_err *err);

/* The project of the execution that recorded artifact id, copied into buf (FLOE_ENOTFOUND
 * when there is no such artifact). */
floe_rc store_lineage_artifact_project(store_pg *pg, int64_t id, char *buf, size_t size,
                                       floe_err *err);

#endif
