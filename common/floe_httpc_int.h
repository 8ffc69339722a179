/*
 * floe_httpc_int — one connection to the API on an event base of its own, shared by the
 * request client (floe_httpc.c) and the stream reader (floe_httpc_stream.c).
 */
#ifndef FLOE_HTTPC_INT_H
#define FLOE_HTTPC_INT_H

#include "floe_err.h"

#include <event2/http.h>
#include <openssl/ssl.h>
#include <stdbool.h>

typedef struct httpc_session {
    const char *base_url;
    struct evhttp_uri *uri;
    struct event_base *base;
    SSL_CTX *ctx;
    struct bufferevent *bev; /* https only */
    struct evhttp_connection *conn;
    char hostport[300];
} httpc_session;

/* timeout_ms bounds each read and write on the connection. */
floe_rc httpc_session_open(httpc_session *s, const char *base_url, int timeout_ms, floe_err *err);
/* Host, Accept, Connection: close, Content-Type (when given) and the bearer token. */
void httpc_session_headers(httpc_session *s, struct evhttp_request *req, const char *accept,
                           const char *content_type);
/* The error of a request that got no response: timed out, TLS, or unreachable. */
floe_rc httpc_session_failed(httpc_session *s, bool timed_out, int timeout_ms, floe_err *err);
void httpc_session_close(httpc_session *s);
enum evhttp_cmd_type httpc_method(const char *m);

#endif
