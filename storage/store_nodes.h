/*
 * store_nodes — what PostgreSQL recorded of an execution's nodes and their attempts
 * (node_executions, node_attempts), for the API's node view and `floectl logs`. They are
 * written when the execution ends; while it runs its state lives in Redis.
 */
#ifndef STORE_NODES_H
#define STORE_NODES_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_pg.h"

#include <stddef.h>
#include <stdint.h>

typedef struct store_attempt {
    int attempt;
    const char *phase;
    const char *error_kind, *error_code, *message; /* NULL when it succeeded */
    const char *worker;
    int64_t started_us, finished_us;     /* 0 when unknown */
    const char *stdout_uri, *stderr_uri; /* blob uris, NULL when nothing was written */
} store_attempt;

typedef struct store_node {
    const char *node_id;
    const char *phase;
    int attempts;
    const char *error_kind, *error_code, *error;
    const uint8_t *outputs; /* packed floe.ValueMap, NULL when none */
    size_t outputs_len;
    store_attempt *att; /* in attempt order */
    size_t n_att;
} store_node;

/* The recorded nodes of execution id in node id order, each with its attempts; all in
 * arena. *n = 0 when none are recorded (yet). */
floe_rc store_nodes_get(store_pg *pg, const char *id, floe_arena *arena, store_node **nodes,
                        size_t *n, floe_err *err);

#endif
