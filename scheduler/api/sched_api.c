/*
 * The HTTP server: binding, routing, bounds, the hand-off of each request to the pool
 * and back, JSON replies and errors, and the health, readiness and metrics endpoints. A
 * request (api_req) is owned by the loop thread until submitted, by one pool thread while
 * its work runs, then by the loop thread again until api_reply() frees it.
 */
#include "sched_api_int.h"
#include "sched_api_conn.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "sched_jwt.h"
#include "spec.h"
#include "store_blob.h"
#include "store_redis_probe.h"
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

struct sched_api {
    struct event_base *base;
    const floe_config *cfg;
    floe_bus *bus;
    floe_metrics *metrics;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    floe_pool *pool;
    unsigned inflight;
    size_t body_bytes; /* bodies of requests accepted and not yet answered */
    floe_log_ctx log;
    floe_metric *m_inflight;
    api_conns *conns;
    api_tls *tls;      /* NULL: plain HTTP */
    store_blob *blobs; /* NULL when it could not be opened: blob_error says why */
    api_auth *auth;
    api_feed *feed;         /* NULL with api.feed_max 0 */
    sched_api_take_fn take; /* NULL: every launch takes the bus */
    void *take_arg;
    _Atomic uint64_t lead_epoch; /* read by the pool's threads */
    char blob_error[FLOE_ERR_MSG_MAX];
};

static void readyz_work(api_thread *t, api_req *r);
static void version_work(api_thread *t, api_req *r);
static void metrics_work(api_thread *t, api_req *r);
static void metrics_done(api_req *r);

/* Who serves each route (sched_api_route says which routes exist). */
static const api_handler handlers[API_R_COUNT] = {
    [API_R_READYZ] = {readyz_work, NULL, NULL},
    [API_R_VERSION] = {version_work, NULL, NULL},
    [API_R_METRICS] = {metrics_work, metrics_done, NULL}, /* with api.metrics_public=off */
    [API_R_WHOAMI] = {api_whoami_work, NULL, NULL},
    [API_R_TOKEN_CREATE] = {api_token_create_work, NULL, NULL},
    [API_R_TOKEN_LIST] = {api_token_list_work, NULL, NULL},
    [API_R_TOKEN_REVOKE] = {api_token_revoke_work, NULL, NULL},
    [API_R_AUDIT] = {api_audit_work, NULL, NULL},
    [API_R_REGISTER] = {api_register_work, NULL, NULL},
    [API_R_LAUNCH] = {api_launch_work, api_launch_done, api_launch_record_batch},
    [API_R_EXECUTION_LIST] = {api_exec_list_work, NULL, NULL},
    [API_R_EXECUTION_GET] = {api_exec_get_work, NULL, NULL},
    [API_R_EXECUTION_NODES] = {api_exec_nodes_work, NULL, NULL},
    [API_R_TERMINATE] = {api_terminate_work, api_terminate_done, NULL},
    [API_R_GATE] = {api_gate_work, api_gate_done, NULL},
    [API_R_RELAUNCH] = {api_relaunch_work, api_launch_done, NULL},
    [API_R_CACHE_LIST] = {api_cache_list_work, NULL, NULL},
    [API_R_CACHE_DELETE] = {api_cache_delete_work, NULL, NULL},
    [API_R_LINEAGE] = {api_lineage_work, NULL, NULL},
    [API_R_ENTITY_LIST] = {api_entity_list_work, NULL, NULL},
    [API_R_ENTITY_GET] = {api_entity_get_work, NULL, NULL},
    [API_R_ACTIVATE] = {api_activate_work, NULL, NULL},
    [API_R_PUBLISH] = {api_publish_work, api_publish_done, NULL},
    [API_R_DATASET_GET] = {api_dataset_get_work, NULL, NULL},
    [API_R_DATASET_GRANT] = {api_dataset_grant_work, NULL, NULL},
    [API_R_BLOB_PUT] = {api_blob_put_work, NULL, NULL},
    [API_R_BLOB_UPLOAD] = {api_blob_upload_work, NULL, NULL},
    [API_R_BLOB_GET] = {api_blob_get_work, api_blob_get_done, NULL},
    [API_R_NODE_LOGS] = {api_node_logs_work, NULL, NULL},
    [API_R_FEED] = {api_feed_work, api_feed_done, NULL},
};

/* Largest body of any route but register (launch inputs, terminate reasons, cache keys). */
#define API_BODY_MAX (1024 * 1024)

/* --- accessors ------------------------------------------------------------------------ */

const floe_config *
api_cfg(const api_req *r)
{
    return r->api->cfg;
}

store_blob *
api_blobs_open(const api_req *r)
{
    return r->api->blobs;
}

store_blob *
api_blobs(api_req *r)
{
    if (r->api->blobs == NULL)
        api_fail(r, FLOE_EIO, "the blob store is unavailable: %s", r->api->blob_error);
    return r->api->blobs;
}

api_auth *
api_auth_of(const api_req *r)
{
    return r->api->auth;
}

api_feed *
api_feed_of(const api_req *r)
{
    return r->api->feed;
}

floe_bus *
api_bus(const api_req *r)
{
    return r->api->bus;
}

void
sched_api_set_take(sched_api *api, sched_api_take_fn take, void *arg)
{
    api->take = take;
    api->take_arg = arg;
}

bool
api_take_request(const api_req *r, const Floe__ExecutionRequested *req, uint64_t started)
{
    return r->api->take != NULL && r->api->take(r->api->take_arg, req, started);
}

void
sched_api_set_lead_epoch(sched_api *api, uint64_t epoch)
{
    atomic_store(&api->lead_epoch, api->take != NULL ? epoch : 0);
}

uint64_t
api_lead_epoch(const api_req *r)
{
    return atomic_load(&r->api->lead_epoch);
}

floe_metrics *
api_metrics(const api_req *r)
{
    return r->api->metrics;
}

unsigned
sched_api_inflight(const sched_api *api)
{
    return api->inflight;
}

/* --- replies -------------------------------------------------------------------------- */

static const char *
code_name(floe_rc code, int *status)
{
    switch (code) {
    case FLOE_EINVAL:
        *status = 400;
        return "invalid_argument";
    case FLOE_ENOTFOUND:
        *status = 404;
        return "not_found";
    case FLOE_ECONFLICT:
        *status = 409;
        return "conflict";
    case FLOE_ETOOBIG:
        *status = 413;
        return "too_large";
    case FLOE_ESTATE:
        *status = 409;
        return "failed_precondition";
    case FLOE_ENOTSUP:
        *status = 501;
        return "not_implemented";
    case FLOE_EAGAIN:
    case FLOE_EIO:
    case FLOE_ETIMEDOUT:
        *status = 503;
        return "unavailable";
    default:
        *status = 500;
        return "internal";
    }
}

void
api_fail(api_req *r, floe_rc code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[FLOE_ERR_MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    floe_err_set(&r->err, code, code == FLOE_EINVAL ? FLOE_ERR_USER : FLOE_ERR_SYSTEM, false, "%s",
                 msg);
}

static void
send_body(struct evhttp_request *req, int status, const char *type, const char *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add(out, body, len);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, status, NULL, out);
    evbuffer_free(out);
}

static void
req_free(api_req *r)
{
    api_target_clear(&r->t);
    json_decref(r->reply);
    json_decref(r->err_details);
    floe_arena_free(r->arena);
    floe_free(r);
}

static void
count_request(sched_api *api, const char *route, int status, int64_t start_us)
{
    char labels[96];
    snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%d\"", route, status);
    floe_metric_add(floe_metrics_counter(api->metrics, "floe_api_requests_total",
                                         "HTTP API requests answered, by route and status", labels),
                    1);
    snprintf(labels, sizeof(labels), "route=\"%s\"", route);
    floe_metric_observe_us(floe_metrics_histogram(api->metrics, "floe_api_request_duration_seconds",
                                                  "request received to reply sent, by route",
                                                  labels),
                           floe_mono_us() - start_us);
}

void
api_reply(api_req *r)
{
    sched_api *api = r->api;
    int status = r->status != 0 ? r->status : 200;
    json_t *body = r->reply;
    json_t *owned = NULL;
    if (r->err.code != FLOE_OK) {
        owned = json_object();
        const char *code = code_name(r->err.code, &status);
        if (r->status == 405) {
            status = 405;
            code = "method_not_allowed";
        } else if (r->status == 401) {
            status = 401;
            code = "unauthenticated";
            evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
                              "Bearer realm=\"floe\"");
        } else if (r->status == 403) {
            status = 403;
            code = "permission_denied";
        } else if (r->status == 416) {
            status = 416;
            code = "range_not_satisfiable";
        }
        json_object_set_new(owned, "code", json_string(code));
        json_object_set_new(owned, "message", json_string(r->err.msg[0] ? r->err.msg : code));
        json_object_set_new(owned, "details",
                            r->err_details != NULL ? json_incref(r->err_details) : json_object());
        body = owned;
        if (status >= 500)
            floe_log_warn(&api->log, "%s: %d %s", r->route != NULL ? r->route->name : "?", status,
                          r->err.msg);
    }
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (r->location != NULL && r->err.code == FLOE_OK)
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", r->location);
    if (text != NULL) {
        size_t len = strlen(text);
        text[len] = '\0';
        send_body(r->req, status, "application/json", text, len);
        free(text);
    } else {
        send_body(r->req, 500, "application/json",
                  "{\"code\":\"internal\",\"message\":\"out of memory\",\"details\":{}}", 58);
        status = 500;
    }
    json_decref(owned);
    api_req_answered(r, status);
}

void
api_stream_closed(struct evhttp_request *req)
{
    /* A client gone while its reply streamed: evhttp detached the request from the
     * connection (userdone unset) and leaves it to us; ending the reply frees it. A request
     * still attached is the connection's to free. */
    if (evhttp_request_get_connection(req) == NULL)
        evhttp_send_reply_end(req);
}

void
api_req_answered(api_req *r, int status)
{
    sched_api *api = r->api;
    count_request(api, r->route != NULL ? r->route->name : "none", status, r->start_us);
    api->body_bytes -= r->body_len;
    api->inflight--;
    floe_metric_set(api->m_inflight, api->inflight);
    req_free(r);
}

/* --- pool plumbing -------------------------------------------------------------------- */

static void *
thread_init(void *arg)
{
    api_thread *t = floe_calloc(1, sizeof(*t));
    if (t != NULL)
        t->cfg = arg;
    return t;
}

static void
thread_fini(void *ctx)
{
    api_thread *t = ctx;
    if (t == NULL)
        return;
    store_pg_close(t->pg);
    api_wfcache_free(t->wf);
    floe_free(t);
}

static void
req_delivered(api_delivery *d, floe_rc rc, const char *reason)
{
    api_req *r = (api_req *)((char *)d - offsetof(api_req, dl));
    r->delivered(r, rc, reason);
}

floe_rc
api_produce_event(api_req *r, const char *key, Floe__MessageType type, const ProtobufCMessage *msg,
                  void (*delivered)(api_req *r, floe_rc rc, const char *reason), floe_err *err)
{
    char topic[160];
    if (floe_config_topic(api_cfg(r), "events", topic, sizeof(topic)) != FLOE_OK) {
        snprintf(err->msg, sizeof(err->msg), "topic name too long");
        return FLOE_EINVAL;
    }
    r->dl.done = req_delivered;
    r->delivered = delivered;
    return floe_bus_produce(api_bus(r), topic, key, strlen(key), type, msg, &r->dl, NULL, err);
}

floe_rc
api_pg(api_thread *t, api_req *r)
{
    if (t == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return FLOE_ENOMEM;
    }
    if (t->pg == NULL) {
        t->pg = store_pg_connect(t->cfg->postgres_url, "floe-scheduler",
                                 t->cfg->postgres_timeout_ms, &r->err);
        return t->pg != NULL ? FLOE_OK : r->err.code;
    }
    return store_pg_ensure(t->pg, &r->err);
}

typedef struct api_job {
    api_req *r;
    void (*work)(api_thread *, api_req *);
    void (*done)(api_req *);
} api_job;

/* A route that needs a principal gets one before its handler runs; the handler checks the
 * role (api_allow). A handler that answers without checking is answered 500 and logged:
 * every route must check, and the route-by-role test finds one that does not. */
static void
job_work(void *ctx, void *arg)
{
    api_job *j = arg;
    api_thread *t = ctx;
    api_req *r = j->r;
    bool first = !r->authn_done;
    if (first) {
        r->authn_done = true;
        /* /metrics reaches the pool only when api.metrics_public is off. */
        bool anyone = r->route->access == API_ANYONE && r->route->id != API_R_METRICS;
        if (!anyone && !api_authenticate(t, r))
            return;
        if (r->route->access <= API_SIGNED_IN)
            r->allowed = true;
    }
    j->work(t, r);
    if (!first)
        return;
    if (r->err.code == FLOE_OK && !r->allowed) {
        floe_log_error(&r->api->log, "%s answered without checking the caller's role: refused",
                       r->route->name);
        api_fail(r, FLOE_EIO, "internal: %s did not check authorisation", r->route->name);
        r->status = 500;
    }
    api_audit_outcome(t, r);
}

/* A route's work, then its batch: the request goes from one to the other on the pool,
 * without a trip through the loop thread (floe_pool_submit_then_batch). */
static bool
job_step(void *ctx, void *arg)
{
    job_work(ctx, arg);
    api_job *j = arg;
    return j->r->err.code == FLOE_OK;
}

static void
job_done(void *arg)
{
    api_job *j = arg;
    api_req *r = j->r;
    void (*done)(api_req *) = j->done;
    floe_free(j);
    if (done != NULL && r->err.code == FLOE_OK)
        done(r);
    else
        api_reply(r);
}

/* r's work on the pool, then (batch set) its batch there, then done on the loop. */
static floe_rc
submit(api_req *r, void (*work)(api_thread *, api_req *), void (*done)(api_req *),
       floe_pool_batch_fn batch)
{
    if (r->api->pool == NULL)
        return FLOE_ESTATE;
    api_job *j = floe_malloc(sizeof(*j));
    if (j == NULL)
        return FLOE_ENOMEM;
    *j = (api_job){.r = r, .work = work, .done = done};
    floe_rc rc = batch != NULL
                     ? floe_pool_submit_then_batch(r->api->pool, job_step, batch, job_done, j)
                     : floe_pool_submit(r->api->pool, job_work, job_done, j);
    if (rc != FLOE_OK)
        floe_free(j);
    return rc;
}

floe_rc
api_resubmit(api_req *r, void (*work)(api_thread *, api_req *), void (*done)(api_req *))
{
    return submit(r, work, done, NULL);
}

api_req *
api_job_req(void *job)
{
    return ((api_job *)job)->r;
}

/* --- built-in endpoints --------------------------------------------------------------- */

static void
readyz_work(api_thread *t, api_req *r)
{
    json_t *checks = json_object();
    bool ready = true;
    floe_err err = {0};
    if (api_pg(t, r) == FLOE_OK && store_pg_ping(t->pg, &err) == FLOE_OK) {
        json_object_set_new(checks, "postgres", json_string("ok"));
    } else {
        json_object_set_new(checks, "postgres", json_string(r->err.msg[0] ? r->err.msg : err.msg));
        ready = false;
    }
    floe_err_clear(&r->err);
    if (store_redis_ping(api_cfg(r)->redis_url, 1000, &err) == FLOE_OK) {
        json_object_set_new(checks, "redis", json_string("ok"));
    } else {
        json_object_set_new(checks, "redis", json_string(err.msg));
        ready = false;
    }
    if (floe_bus_check(api_bus(r), 2000, &err) == FLOE_OK) {
        json_object_set_new(checks, "kafka", json_string("ok"));
    } else {
        json_object_set_new(checks, "kafka", json_string(err.msg));
        ready = false;
    }
    r->reply = json_object();
    json_object_set_new(r->reply, "status", json_string(ready ? "ready" : "not ready"));
    json_object_set_new(r->reply, "checks", checks);
    r->status = ready ? 200 : 503;
}

static void
version_work(api_thread *t, api_req *r)
{
    (void)t; /* what floectl version shows beside its own */
    r->reply = json_pack("{s:s, s:s}", "program", "floe-scheduler", "version", FLOE_VERSION);
}

static void serve_metrics(sched_api *api, struct evhttp_request *req);

static void
metrics_work(api_thread *t, api_req *r)
{
    (void)t;
    (void)r; /* authenticated by job_work: the loop serves it */
}

static void
metrics_done(api_req *r)
{
    sched_api *api = r->api;
    serve_metrics(api, r->req);
    api->body_bytes -= r->body_len;
    api->inflight--;
    floe_metric_set(api->m_inflight, api->inflight);
    req_free(r);
}

static void
serve_metrics(sched_api *api, struct evhttp_request *req)
{
    int64_t start_us = floe_mono_us();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    floe_metrics_render(api->metrics, f);
    fclose(f);
    send_body(req, 200, "text/plain; version=0.0.4", text, len);
    free(text);
    count_request(api, "metrics", 200, start_us);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    sched_api *api = arg;
    api_req *r = floe_calloc(1, sizeof(*r));
    if (r == NULL || (r->arena = floe_arena_new(16384, 0)) == NULL) {
        floe_free(r);
        evhttp_send_error(req, 503, "out of memory");
        return;
    }
    r->api = api;
    r->req = req;
    r->stream_fd = -1;
    r->start_us = floe_mono_us();
    api->inflight++;
    floe_metric_set(api->m_inflight, api->inflight);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    if (api_target_parse(&r->t, r->arena, path, query, &r->err) != FLOE_OK)
        goto reply;
    bool path_known = false;
    r->route = api_route_find((int)evhttp_request_get_command(req), &r->t, &path_known);
    if (r->route == NULL) {
        char shown[160];
        floe_text_copy(shown, sizeof(shown), path, strlen(path));
        if (path_known)
            api_fail(r, FLOE_EINVAL, "method not allowed on %s", shown);
        else
            api_fail(r, FLOE_ENOTFOUND, "no such resource: %s", shown);
        r->status = path_known ? 405 : 0;
        goto reply;
    }
    if (r->route->id == API_R_CONSOLE) {
        api_console_serve(r);
        return;
    }
    if (r->route->id == API_R_HEALTHZ) {
        r->reply = json_pack("{s:s}", "status", "ok");
        goto reply;
    }
    if (r->route->id == API_R_METRICS && api->cfg->api_metrics_public) {
        serve_metrics(api, req);
        api->inflight--;
        floe_metric_set(api->m_inflight, api->inflight);
        req_free(r);
        return;
    }
    const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        if (*tok != '\0' && strlen(tok) <= SCHED_JWT_MAX)
            r->bearer = floe_arena_strndup(r->arena, tok, strlen(tok));
    }
    /* Bounded before anything is copied (review H10): requests in flight, the bytes of
     * their bodies, and the body of every route but register (specs are large). */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    size_t max_body = r->route->id == API_R_REGISTER || r->route->id == API_R_BLOB_PUT
                          ? (size_t)api->cfg->api_max_body_bytes
                          : API_BODY_MAX;
    if (len > max_body) {
        api_fail(r, FLOE_ETOOBIG, "the body is longer than %zu bytes", max_body);
        goto reply;
    }
    if (api->inflight > (unsigned)api->cfg->api_max_inflight ||
        api->body_bytes + len > (size_t)api->cfg->api_max_inflight_bytes) {
        api_fail(r, FLOE_EAGAIN, "the server is busy (%u requests in flight): retry",
                 api->inflight - 1);
        goto reply;
    }
    char *body = floe_arena_alloc(r->arena, len + 1);
    if (body == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        goto reply;
    }
    evbuffer_remove(in, body, len);
    body[len] = '\0';
    r->body = body;
    r->body_len = len;
    api->body_bytes += len;
    const api_handler *h = &handlers[r->route->id];
    floe_rc rc = submit(r, h->work, h->done, h->batch);
    if (rc == FLOE_OK)
        return;
    api_fail(r, FLOE_EAGAIN, "the server is busy (%s): retry", floe_rc_name(rc));
reply:
    api_reply(r);
}

/* --- life cycle ----------------------------------------------------------------------- */

sched_api *
sched_api_new(struct event_base *base, const floe_config *cfg, floe_bus *bus, floe_metrics *metrics,
              floe_err *err)
{
    sched_api *api = floe_calloc(1, sizeof(*api));
    if (api == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "api: out of memory");
        return NULL;
    }
    api->base = base;
    api->cfg = cfg;
    api->bus = bus;
    api->metrics = metrics;
    api->log = (floe_log_ctx){.comp = "api"};
    api->m_inflight = floe_metrics_gauge(metrics, "floe_api_requests_inflight",
                                         "HTTP API requests accepted and not yet answered", NULL);
    struct evhttp_uri *uri = evhttp_uri_parse(cfg->api_url);
    const char *host = uri != NULL ? evhttp_uri_get_host(uri) : NULL;
    int port = uri != NULL ? evhttp_uri_get_port(uri) : -1;
    const char *scheme = uri != NULL ? evhttp_uri_get_scheme(uri) : NULL;
    bool https = scheme != NULL && strcmp(scheme, "https") == 0;
    if (host == NULL || scheme == NULL || (!https && strcmp(scheme, "http") != 0)) {
        floe_err_user(err, FLOE_EINVAL, "api.url \"%s\" is not http(s)://host:port", cfg->api_url);
        goto fail;
    }
    floe_err terr = {0};
    api->tls = api_tls_new(cfg, &terr);
    if (terr.code != FLOE_OK) {
        *err = terr;
        goto fail;
    }
    if (https != (api->tls != NULL)) {
        floe_err_user(err, FLOE_EINVAL,
                      https ? "api.url is https: set api.tls_cert and api.tls_key"
                            : "api.tls_cert is set: api.url must be https://");
        goto fail;
    }
    floe_pool_config pc = {.threads = (unsigned)cfg->api_threads,
                           .queue_max = 1024,
                           .thread_init = thread_init,
                           .thread_fini = thread_fini,
                           .arg = (void *)cfg,
                           .name = "api"};
    if ((api->pool = floe_pool_new(base, &pc, err)) == NULL)
        goto fail;
    if ((api->http = evhttp_new(base)) == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "api: out of memory");
        goto fail;
    }
    evhttp_set_max_body_size(api->http, (ev_ssize_t)cfg->api_max_body_bytes);
    evhttp_set_max_headers_size(api->http, 65536);
    evhttp_set_timeout(api->http, 30); /* an idle or trickling client holds a descriptor */
    evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(api->http, on_request, api);
    if (port <= 0)
        port = https ? 443 : 80;
    api->sock = evhttp_bind_socket_with_handle(api->http, host, (uint16_t)port);
    if (api->sock == NULL) {
        floe_err_sys(err, FLOE_EIO, "api: cannot listen on %s:%d (in use?)", host, port);
        goto fail;
    }
    /* Accepted connections inherit it (Linux): a reply written as headers then body must
     * not wait for the client's delayed ACK (40 ms on a reused connection). */
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(api->sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if ((api->conns = api_conns_new(base, api->http, api->sock, (unsigned)cfg->api_max_connections,
                                    api->tls, metrics)) == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "api: out of memory");
        goto fail;
    }
    evhttp_uri_free(uri);
    /* Blobs through the API need the store; the rest of the API does not, so a store that
     * cannot be opened (a directory not writable, S3 settings missing) is said, not fatal. */
    floe_err berr = {0};
    if ((api->blobs = store_blob_open_config(cfg, &berr)) == NULL) {
        snprintf(api->blob_error, sizeof(api->blob_error), "%s", berr.msg);
        floe_log_warn(&api->log, "blob store unavailable, /api/v1/blobs answers 503: %s", berr.msg);
    }
    if ((api->auth = api_auth_new(cfg, err)) == NULL)
        goto fail;
    if (cfg->api_feed_max > 0 &&
        (api->feed = api_feed_new(base, cfg, api->pool, metrics, err)) == NULL)
        goto fail;
    floe_log_info(&api->log, "listening on %s%s", cfg->api_url, https ? " (TLS)" : "");
    return api;
fail:
    if (uri != NULL)
        evhttp_uri_free(uri);
    sched_api_free(api);
    return NULL;
}

void
sched_api_stop(sched_api *api)
{
    api_conns_free(api->conns);
    api->conns = NULL;
    if (api->sock != NULL) {
        evhttp_del_accept_socket(api->http, api->sock);
        api->sock = NULL;
    }
}

void
sched_api_on_delivered(void *opaque, floe_rc rc, const char *reason)
{
    api_delivery *d = opaque;
    d->done(d, rc, reason);
}

void
sched_api_drain(sched_api *api)
{
    sched_api_stop(api);
    floe_pool *pool = api->pool;
    /* Done functions that resubmit during the drain are refused and answer at once. */
    floe_pool_free(pool);
    api->pool = NULL;
}

void
sched_api_free(sched_api *api)
{
    if (api == NULL)
        return;
    sched_api_drain(api);
    api_feed_free(api->feed); /* after the pool: no locate in flight */
    if (api->http != NULL)
        evhttp_free(api->http);
    store_blob_free(api->blobs);
    api_auth_free(api->auth);
    api_tls_free(api->tls);
    floe_free(api);
}
