/*
 * wrk_http — the worker's own small HTTP endpoint on worker.http: /metrics (Prometheus
 * text), /healthz (200 while the process serves, 503 once shutting down) and /readyz (200
 * when it can take work: not stopping, Redis answering).
 */
#include "wrk_int.h"

#include "floe_mem.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wrk_http {
    wrk *w;
    struct evhttp *http;
};

static void
reply(struct evhttp_request *req, int code, const char *type, const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, body, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, code, code == 200 ? "OK" : "Service Unavailable", b);
    evbuffer_free(b);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    wrk_http *h = arg;
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    if (strcmp(uri, "/healthz") == 0) {
        bool ok = !h->w->draining;
        reply(req, ok ? 200 : 503, "text/plain", ok ? "ok\n" : "shutting down\n", ok ? 3 : 14);
        return;
    }
    /* Ready to take work: not stopping, and Redis (claims, leases) answers. Kafka is not
     * asked: a worker of a group larger than its topic's partitions waits, idle and
     * ready, for a rebalance to give it some; `partitions` says how many it holds. */
    if (strcmp(uri, "/readyz") == 0) {
        floe_bus_stats bs;
        floe_bus_stats_get(h->w->bus, &bs);
        bool redis = store_redis_connected(h->w->redis), ok = !h->w->draining && redis;
        char body[200];
        int n = snprintf(body, sizeof(body),
                         "{\"status\":\"%s\",\"checks\":{\"redis\":\"%s\",\"stopping\":%s},"
                         "\"partitions\":%d}\n",
                         ok ? "ready" : "not ready", redis ? "ok" : "unreachable",
                         h->w->draining ? "true" : "false", bs.assigned);
        reply(req, ok ? 200 : 503, "application/json", body, (size_t)n);
        return;
    }
    if (strcmp(uri, "/metrics") == 0) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (f == NULL) {
            evhttp_send_error(req, 500, NULL);
            return;
        }
        floe_metrics_render(h->w->metrics, f);
        fclose(f);
        reply(req, 200, "text/plain; version=0.0.4", text, len);
        free(text);
        return;
    }
    evhttp_send_error(req, 404, NULL);
}

wrk_http *
wrk_http_new(wrk *w, floe_err *err)
{
    const char *addr = w->cfg->worker_http;
    if (addr == NULL || addr[0] == '\0')
        return NULL;
    const char *colon = strrchr(addr, ':');
    char host[128];
    char *end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
    if (colon == NULL || (size_t)(colon - addr) >= sizeof(host) || end == colon + 1 ||
        *end != '\0' || port < 0 || port > 65535) {
        floe_err_user(err, FLOE_EINVAL, "worker.http: \"%s\" is not host:port", addr);
        return NULL;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    wrk_http *h = floe_calloc(1, sizeof(*h));
    if (h == NULL || (h->http = evhttp_new(w->base)) == NULL) {
        floe_free(h);
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    h->w = w;
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET);
    evhttp_set_gencb(h->http, on_request, h);
    struct evhttp_bound_socket *sock =
        evhttp_bind_socket_with_handle(h->http, host, (uint16_t)port);
    if (sock == NULL) {
        evhttp_free(h->http);
        floe_free(h);
        floe_err_sys(err, FLOE_EIO, "worker.http: cannot listen on %s", addr);
        return NULL;
    }
    floe_log_info(&w->log, "serving /metrics and /healthz on %s", addr);
    return h;
}

void
wrk_http_free(wrk_http *h)
{
    if (h == NULL)
        return;
    evhttp_free(h->http);
    floe_free(h);
}
