/*
 * store_nodes — what PostgreSQL recorded of an execution's nodes and their attempts
 * (node_executions, node_attempts), for the API's node view and `floectl logs`. They are
 * written when the execution ends; while it runs, its state lives in Redis.
 */
#ifndef STORE_NODES_H
#define STORE_NODES_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_pg.h"
#include "store_run.h"

#include <stddef.h>

/* Nodes with their attempts grouped: node i's are att[first[i] .. first[i] + count[i]). */
typedef struct store_nodes {
    store_run_node *nodes;
    size_t n;
    store_run_attempt *att;
    size_t *first, *count;
} store_nodes;

/* The recorded nodes of execution id in node id order, each with its attempts in attempt
 * order; all in arena. out->n = 0 when none are recorded (yet). */
floe_rc store_nodes_get(store_pg *pg, const char *id, floe_arena *arena, store_nodes *out,
                        floe_err *err);

#endif
