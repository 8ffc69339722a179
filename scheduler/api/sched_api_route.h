/*
 * sched_api_route — what a request asks for, before anyone serves it: the request target
 * split into decoded path segments and checked query parameters, and the route it names.
 * Pure (no server, no database), so the HTTP request path can be fuzzed on its own.
 */
#ifndef SCHED_API_ROUTE_H
#define SCHED_API_ROUTE_H

#include "floe_arena.h"
#include "floe_err.h"

#include <event2/keyvalq_struct.h>
#include <stdbool.h>

#define API_MAX_SEGMENTS 8
#define API_PATH_MAX 2048
#define API_QUERY_MAX 4096

typedef enum api_route_id {
    API_R_HEALTHZ,
    API_R_METRICS,
    API_R_READYZ,
    API_R_REGISTER,
    API_R_LAUNCH,
    API_R_EXECUTION_LIST,
    API_R_EXECUTION_GET,
    API_R_EXECUTION_NODES,
    API_R_TERMINATE,
    API_R_GATE,
    API_R_RELAUNCH,
    API_R_CACHE_LIST,
    API_R_CACHE_DELETE,
    API_R_LINEAGE,
    API_R_ENTITY_LIST,
    API_R_ENTITY_GET,
    API_R_ACTIVATE,
    API_R_PUBLISH,
    API_R_DATASET_GET,
    API_R_DATASET_GRANT,
    API_R_BLOB_PUT,
    API_R_BLOB_UPLOAD,
    API_R_BLOB_GET,
    API_R_NODE_LOGS,
    API_R_VERSION,
    API_R_WHOAMI,
    API_R_TOKEN_CREATE,
    API_R_TOKEN_LIST,
    API_R_TOKEN_REVOKE,
    API_R_AUDIT,
    API_R_FEED,
    API_R_CONSOLE,
    API_R_COUNT
} api_route_id;

/* Who may call a route: anyone, any valid token, or a role (store_role's values) in the
 * project the route acts on, which its handler finds from the stored resource. */
typedef enum api_access {
    API_ANYONE = -1,
    API_SIGNED_IN = 0,
    API_VIEWER = 1,
    API_LAUNCHER = 2,
    API_MAINTAINER = 3,
    API_ADMIN = 4,
} api_access;

typedef struct api_route {
    api_route_id id;
    api_access access;
    const char *name;    /* metrics label */
    int method;          /* EVHTTP_REQ_* */
    const char *pattern; /* "/api/v1/executions/:" — ':' any one segment, "a|b" either */
} api_route;

/* The request target, parsed. Segments and query live in the arena / the keyvalq. */
typedef struct api_target {
    char *seg[API_MAX_SEGMENTS];
    int n_seg;
    struct evkeyvalq query;
    bool query_parsed;
} api_target;

/* Splits and percent-decodes path, parses query (may be NULL). Bounded: path and query
 * lengths, segment count; refused: NUL bytes, malformed queries, values not UTF-8. On
 * error err says what (EINVAL, ETOOBIG, ENOTFOUND for too many segments, ENOMEM). Call
 * api_target_clear afterwards in every case. */
floe_rc api_target_parse(api_target *t, floe_arena *a, const char *path, const char *query,
                         floe_err *err);
void api_target_clear(api_target *t);

/* The route for method and target; NULL when none, *path_known telling whether some
 * route has this path with another method (405 rather than 404). */
const api_route *api_route_find(int method, const api_target *t, bool *path_known);

/* A query parameter; NULL when absent or empty. */
const char *api_target_param(const api_target *t, const char *key);

#endif
