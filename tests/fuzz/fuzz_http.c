/* The HTTP request path: the input's bytes arrive on a connection to an evhttp server, as
 * from a client, and each request libevent accepts goes through what floe-scheduler does
 * before any handler runs: the target split, decoded and checked (sched_api_route), the
 * route found, the identifiers in the path checked, a JSON body parsed. */
#include "floe_envelope.h"
#include "sched_api_route.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    floe_arena *a = floe_arena_new(4096, 0);
    api_target t;
    memset(&t, 0, sizeof(t));
    floe_err err;
    int status = 200;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
    if (a == NULL || api_target_parse(&t, a, path, query, &err) != FLOE_OK) {
        status = 400;
    } else {
        bool known = false;
        const api_route *r = api_route_find((int)evhttp_request_get_command(req), &t, &known);
        if (r == NULL) {
            status = known ? 405 : 404;
        } else {
            if (r->id == API_R_EXECUTION_GET || r->id == API_R_TERMINATE ||
                r->id == API_R_EXECUTION_NODES || r->id == API_R_RELAUNCH)
                if (floe_envelope_check_id("execution id", t.seg[3], 64, &err) != FLOE_OK)
                    status = 400;
            (void)api_target_param(&t, "limit");
            struct evbuffer *in = evhttp_request_get_input_buffer(req);
            size_t len = evbuffer_get_length(in);
            if (len > 0) {
                json_error_t jerr;
                json_t *j = json_loadb((const char *)evbuffer_pullup(in, -1), len,
                                       JSON_REJECT_DUPLICATES, &jerr);
                json_decref(j);
            }
        }
    }
    api_target_clear(&t);
    floe_arena_free(a);
    if (getenv("FUZZ_HTTP_SHOW") != NULL)
        fprintf(stderr, "fuzz_http: %s -> %d\n", evhttp_request_get_uri(req), status);
    evhttp_send_reply(req, status, NULL, NULL);
}

/* One server for the whole run, listening on an abstract Unix socket: each input is one
 * client connection. */
static struct event_base *base;
static struct sockaddr_un addr;
static socklen_t addr_len;

static bool
server_start(void)
{
    base = event_base_new();
    struct evhttp *http = base != NULL ? evhttp_new(base) : NULL;
    if (http == NULL)
        return false;
    evhttp_set_max_body_size(http, 1 << 20);
    evhttp_set_max_headers_size(http, 65536);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(http, on_request, NULL);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    addr.sun_family = AF_UNIX;
    int n =
        snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "floe-fuzz-http-%d", (int)getpid());
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    return fd >= 0 && bind(fd, (struct sockaddr *)&addr, addr_len) == 0 && listen(fd, 16) == 0 &&
           evhttp_accept_socket(http, fd) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready && !(ready = server_start()))
        abort();
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&addr, addr_len) != 0)
        abort();
    /* The input fits the socket's buffer (-max_len): written whole, then end of input. */
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(c, data + off, size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(c, SHUT_WR);
    evutil_make_socket_nonblocking(c);
    char buf[4096];
    /* Until the server closes the connection (every request answered or refused). */
    for (int i = 0; i < 100000; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (read(c, buf, sizeof(buf)) == 0)
            break;
    }
    close(c);
    return 0;
}
