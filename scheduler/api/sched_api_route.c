/*
 * sched_api_route — the request target parsed and matched to a route. See the header.
 */
#include "sched_api_route.h"

#include "floe_text.h"

#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define GET EVHTTP_REQ_GET
#define POST EVHTTP_REQ_POST
#define KINDS "tasks|workflows|launchplans"

static const api_route routes[] = {
    {API_R_HEALTHZ, API_ANYONE, "healthz", GET, "/healthz"},
    {API_R_METRICS, API_ANYONE, "metrics", GET, "/metrics"}, /* api.metrics_public */
    {API_R_READYZ, API_ANYONE, "readyz", GET, "/readyz"},
    {API_R_VERSION, API_SIGNED_IN, "version", GET, "/api/v1/version"},
    {API_R_WHOAMI, API_SIGNED_IN, "whoami", GET, "/api/v1/whoami"},
    {API_R_REGISTER, API_MAINTAINER, "register", POST, "/api/v1/register"},
    {API_R_LAUNCH, API_LAUNCHER, "launch", POST, "/api/v1/executions"},
    {API_R_EXECUTION_LIST, API_VIEWER, "execution_list", GET, "/api/v1/executions"},
    {API_R_EXECUTION_GET, API_VIEWER, "execution_get", GET, "/api/v1/executions/:"},
    {API_R_EXECUTION_NODES, API_VIEWER, "execution_nodes", GET, "/api/v1/executions/:/nodes"},
    {API_R_NODE_LOGS, API_VIEWER, "node_logs", GET, "/api/v1/executions/:/nodes/:/logs"},
    {API_R_TERMINATE, API_LAUNCHER, "terminate", POST, "/api/v1/executions/:/terminate"},
    {API_R_GATE, API_LAUNCHER, "gate", POST, "/api/v1/executions/:/nodes/:/approve|reject|signal"},
    {API_R_RELAUNCH, API_LAUNCHER, "relaunch", POST, "/api/v1/executions/:/relaunch|recover"},
    {API_R_CACHE_LIST, API_VIEWER, "cache_list", GET, "/api/v1/cache"},
    {API_R_CACHE_DELETE, API_MAINTAINER, "cache_delete", EVHTTP_REQ_DELETE, "/api/v1/cache"},
    {API_R_LINEAGE, API_VIEWER, "lineage", GET, "/api/v1/lineage"},
    {API_R_ENTITY_LIST, API_VIEWER, "entity_list", GET, "/api/v1/" KINDS},
    {API_R_ENTITY_GET, API_VIEWER, "entity_get", GET, "/api/v1/" KINDS "/:/:/:"},
    {API_R_ENTITY_GET, API_VIEWER, "entity_get", GET, "/api/v1/" KINDS "/:/:/:/:"},
    {API_R_ACTIVATE, API_MAINTAINER, "activate", POST,
     "/api/v1/launchplans/:/:/:/:/activate|deactivate"},
    {API_R_PUBLISH, API_LAUNCHER, "publish", POST, "/api/v1/datasets/:/events"},
    {API_R_DATASET_GET, API_VIEWER, "dataset_get", GET, "/api/v1/datasets/:"},
    {API_R_DATASET_GRANT, API_ADMIN, "dataset_grant", EVHTTP_REQ_PUT,
     "/api/v1/datasets/:/grants/:"},
    {API_R_DATASET_GRANT, API_ADMIN, "dataset_revoke", EVHTTP_REQ_DELETE,
     "/api/v1/datasets/:/grants/:"},
    {API_R_BLOB_PUT, API_LAUNCHER, "blob_put", POST, "/api/v1/blobs"},
    {API_R_BLOB_UPLOAD, API_LAUNCHER, "blob_upload", POST, "/api/v1/blobs/uploads"},
    {API_R_BLOB_GET, API_VIEWER, "blob_get", GET, "/api/v1/blobs/sha256/:"},
    {API_R_TOKEN_CREATE, API_ADMIN, "token_create", POST, "/api/v1/tokens"},
    {API_R_TOKEN_LIST, API_SIGNED_IN, "token_list", GET, "/api/v1/tokens"},
    {API_R_TOKEN_REVOKE, API_SIGNED_IN, "token_revoke", EVHTTP_REQ_DELETE, "/api/v1/tokens/:"},
    {API_R_AUDIT, API_ADMIN, "audit", GET, "/api/v1/audit"},
    {API_R_FEED, API_VIEWER, "feed", GET, "/api/v1/feed"},
    /* The console's static files: no data in them, so no token (docs/console.md). */
    {API_R_CONSOLE, API_ANYONE, "console", GET, "/"},
    {API_R_CONSOLE, API_ANYONE, "console", GET, "/console/:"},
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Whether segment matches one of the '|'-separated alternatives in pat[0..len). */
static bool
seg_match(const char *pat, size_t len, const char *seg)
{
    if (len == 1 && pat[0] == ':')
        return true;
    size_t n = strlen(seg);
    for (size_t i = 0; i < len;) {
        size_t alt = 0;
        while (i + alt < len && pat[i + alt] != '|')
            alt++;
        if (alt == n && strncmp(pat + i, seg, n) == 0)
            return true;
        i += alt + 1;
    }
    return false;
}

static bool
route_match(const api_route *route, char *const *seg, int n_seg)
{
    const char *p = route->pattern + 1;
    int i = 0;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (i >= n_seg || !seg_match(p, len, seg[i]))
            return false;
        i++;
        p += len;
        if (*p == '/')
            p++;
    }
    return i == n_seg;
}

const api_route *
api_route_find(int method, const api_target *t, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!route_match(&routes[i], t->seg, t->n_seg))
            continue;
        *path_known = true;
        if (routes[i].method == method)
            return &routes[i];
    }
    return NULL;
}

static floe_rc
split_path(api_target *t, floe_arena *a, const char *path, floe_err *err)
{
    if (strlen(path) > API_PATH_MAX)
        return floe_err_user(err, FLOE_ETOOBIG, "the path is longer than %d bytes", API_PATH_MAX);
    const char *p = path;
    while (*p == '/')
        p++;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (t->n_seg == API_MAX_SEGMENTS)
            return floe_err_user(err, FLOE_ENOTFOUND, "no such resource");
        char *raw = floe_arena_strndup(a, p, len);
        size_t dlen = 0;
        char *dec = raw != NULL ? evhttp_uridecode(raw, 0, &dlen) : NULL;
        if (dec == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        if (strlen(dec) != dlen) {
            free(dec);
            return floe_err_user(err, FLOE_EINVAL, "the path contains a NUL byte");
        }
        if (!floe_utf8_valid(dec, dlen)) {
            free(dec);
            return floe_err_user(err, FLOE_EINVAL, "path segment %d is not valid UTF-8",
                                 t->n_seg + 1);
        }
        t->seg[t->n_seg] = floe_arena_strndup(a, dec, dlen);
        free(dec);
        if (t->seg[t->n_seg] == NULL)
            return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        t->n_seg++;
        p += len;
        while (*p == '/')
            p++;
    }
    return FLOE_OK;
}

static floe_rc
parse_query(api_target *t, const char *query, floe_err *err)
{
    if (strlen(query) > API_QUERY_MAX)
        return floe_err_user(err, FLOE_ETOOBIG, "the query is longer than %d bytes", API_QUERY_MAX);
    if (strstr(query, "%00") != NULL)
        return floe_err_user(err, FLOE_EINVAL, "the query contains a NUL byte (%%00)");
    TAILQ_INIT(&t->query);
    t->query_parsed = true;
    if (evhttp_parse_query_str(query, &t->query) != 0)
        return floe_err_user(err, FLOE_EINVAL, "the query string is malformed");
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, &t->query, next)
    {
        if (!floe_utf8_valid(kv->key, strlen(kv->key)))
            return floe_err_user(err, FLOE_EINVAL, "a query parameter name is not valid UTF-8");
        if (!floe_utf8_valid(kv->value, strlen(kv->value))) {
            char key[40];
            floe_text_copy(key, sizeof(key), kv->key, strlen(kv->key));
            return floe_err_user(err, FLOE_EINVAL, "query parameter \"%s\" is not valid UTF-8",
                                 key);
        }
    }
    return FLOE_OK;
}

floe_rc
api_target_parse(api_target *t, floe_arena *a, const char *path, const char *query, floe_err *err)
{
    floe_err_clear(err);
    if (path == NULL)
        return floe_err_user(err, FLOE_EINVAL, "the request has no path");
    floe_rc rc = split_path(t, a, path, err);
    if (rc == FLOE_OK && query != NULL)
        rc = parse_query(t, query, err);
    return rc;
}

void
api_target_clear(api_target *t)
{
    if (t->query_parsed)
        evhttp_clear_headers(&t->query);
    t->query_parsed = false;
}

const char *
api_target_param(const api_target *t, const char *key)
{
    if (!t->query_parsed)
        return NULL;
    const char *v = evhttp_find_header(&t->query, key);
    return v != NULL && v[0] != '\0' ? v : NULL;
}
