#include "floe_httpc.h"

#include "floe_mem.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct httpc_call {
    floe_http_resp *resp;
    floe_rc rc;
    enum evhttp_request_error error;
    int failed;
    int too_big;
} httpc_call;

static void
httpc_on_error(enum evhttp_request_error error, void *arg)
{
    httpc_call *call = arg;
    call->failed = 1;
    call->error = error;
}

static void
httpc_on_done(struct evhttp_request *req, void *arg)
{
    httpc_call *call = arg;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        call->failed = 1;
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > FLOE_HTTPC_BODY_MAX) {
        call->too_big = 1;
        return;
    }
    char *body = floe_malloc(len + 1);
    if (body == NULL) {
        call->rc = FLOE_ENOMEM;
        return;
    }
    evbuffer_remove(in, body, len);
    body[len] = '\0';
    call->resp->status = evhttp_request_get_response_code(req);
    call->resp->body = body;
    call->resp->len = len;
    call->rc = FLOE_OK;
}

static enum evhttp_cmd_type
httpc_method(const char *m)
{
    if (strcmp(m, "POST") == 0)
        return EVHTTP_REQ_POST;
    if (strcmp(m, "PUT") == 0)
        return EVHTTP_REQ_PUT;
    if (strcmp(m, "DELETE") == 0)
        return EVHTTP_REQ_DELETE;
    if (strcmp(m, "PATCH") == 0)
        return EVHTTP_REQ_PATCH;
    return EVHTTP_REQ_GET;
}

floe_rc
floe_httpc_request(const char *base_url, const char *method, const char *path,
                   const char *content_type, const void *body, size_t len, int timeout_ms,
                   floe_http_resp *resp, floe_err *err)
{
    memset(resp, 0, sizeof(*resp));
    floe_rc rc;
    struct evhttp_uri *uri = evhttp_uri_parse(base_url);
    const char *host = uri != NULL ? evhttp_uri_get_host(uri) : NULL;
    if (host == NULL) {
        rc =
            floe_err_user(err, FLOE_EINVAL, "API address \"%s\" is not http://host:port", base_url);
        goto out_uri;
    }
    int port = evhttp_uri_get_port(uri);
    struct event_base *base = event_base_new();
    if (base == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "cannot create an event base");
        goto out_uri;
    }
    struct evhttp_connection *conn =
        evhttp_connection_base_new(base, NULL, host, (unsigned short)(port > 0 ? port : 80));
    if (conn == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "cannot create an HTTP connection");
        goto out_base;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(conn, &tv);
    evhttp_connection_set_retries(conn, 0);
    httpc_call call = {.resp = resp, .rc = FLOE_EIO};
    struct evhttp_request *req = evhttp_request_new(httpc_on_done, &call);
    if (req == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "cannot create an HTTP request");
        goto out_conn;
    }
    evhttp_request_set_error_cb(req, httpc_on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof(hostport), "%s:%d", host, port > 0 ? port : 80);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Accept", "application/json");
    evhttp_add_header(h, "Connection", "close");
    if (content_type != NULL)
        evhttp_add_header(h, "Content-Type", content_type);
    const char *token = floe_httpc_token();
    if (token != NULL) {
        static __thread char auth[FLOE_HTTPC_TOKEN_MAX + 8];
        snprintf(auth, sizeof(auth), "Bearer %s", token);
        evhttp_add_header(h, "Authorization", auth);
    }
    if (body != NULL && len > 0)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    if (evhttp_make_request(conn, req, httpc_method(method), path) != 0) {
        rc = floe_err_sys(err, FLOE_EIO, "cannot send the request to %s", base_url);
        goto out_conn; /* evhttp frees req on failure */
    }
    event_base_dispatch(base);
    if (call.too_big) {
        rc = floe_err_sys(err, FLOE_ETOOBIG, "response from %s is larger than %u bytes", base_url,
                          FLOE_HTTPC_BODY_MAX);
    } else if (call.rc == FLOE_ENOMEM) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory reading the response");
    } else if (call.rc != FLOE_OK) {
        if (call.failed && call.error == EVREQ_HTTP_TIMEOUT)
            rc = floe_err_sys(err, FLOE_ETIMEDOUT, "no response from %s within %d ms", base_url,
                              timeout_ms);
        else
            rc = floe_err_sys(err, FLOE_EIO,
                              "cannot reach the Floe API at %s (is floe-scheduler running?)",
                              base_url);
    } else {
        rc = FLOE_OK;
    }
out_conn:
    evhttp_connection_free(conn);
out_base:
    event_base_free(base);
out_uri:
    if (uri != NULL)
        evhttp_uri_free(uri);
    if (rc != FLOE_OK)
        floe_http_resp_deinit(resp);
    return rc;
}

void
floe_http_resp_deinit(floe_http_resp *resp)
{
    floe_free_clear(&resp->body);
    resp->len = 0;
}

char *
floe_url_escape(const char *s)
{
    char *e = evhttp_uriencode(s, -1, 0);
    if (e == NULL)
        return NULL;
    char *copy = floe_strdup(e);
    free(e);
    return copy;
}

static char httpc_token[FLOE_HTTPC_TOKEN_MAX + 2];
static bool httpc_token_set;

void
floe_httpc_set_token(const char *token)
{
    httpc_token_set = token != NULL && token[0] != '\0' && strlen(token) <= FLOE_HTTPC_TOKEN_MAX;
    snprintf(httpc_token, sizeof(httpc_token), "%s", httpc_token_set ? token : "");
}

floe_rc
floe_httpc_set_token_file(const char *path, floe_err *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return floe_err_user(err, FLOE_ENOTFOUND, "token file %.200s: %s", path, strerror(errno));
    size_t n = fread(httpc_token, 1, sizeof(httpc_token) - 1, f);
    fclose(f);
    if (n > FLOE_HTTPC_TOKEN_MAX) {
        httpc_token[0] = '\0';
        httpc_token_set = false;
        return floe_err_user(err, FLOE_EINVAL, "token file %.200s: longer than %d bytes", path,
                             FLOE_HTTPC_TOKEN_MAX);
    }
    while (n > 0 &&
           (httpc_token[n - 1] == '\n' || httpc_token[n - 1] == '\r' || httpc_token[n - 1] == ' '))
        n--;
    httpc_token[n] = '\0';
    httpc_token_set = n > 0;
    return FLOE_OK;
}

const char *
floe_httpc_token(void)
{
    if (httpc_token_set)
        return httpc_token;
    const char *env = getenv("FLOE_TOKEN");
    if (env != NULL && env[0] != '\0' && strlen(env) < sizeof(httpc_token))
        return env;
    const char *path = getenv("FLOE_TOKEN_FILE");
    floe_err err = {0};
    if (path == NULL || path[0] == '\0' || floe_httpc_set_token_file(path, &err) != FLOE_OK)
        return NULL;
    return httpc_token_set ? httpc_token : NULL;
}
