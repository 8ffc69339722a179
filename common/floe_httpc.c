#include "floe_httpc.h"
#include "floe_httpc_int.h"

#include "floe_mem.h"

#include <errno.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
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

static char httpc_ca_file[1024];

void
floe_httpc_set_ca_file(const char *path)
{
    snprintf(httpc_ca_file, sizeof(httpc_ca_file), "%s", path != NULL ? path : "");
}

/* An https connection: the server's certificate checked against the CA file (else the
 * system's) and its name or address against host; TLS 1.2 at least. */
static struct evhttp_connection *
tls_connection(struct event_base *base, const char *host, int port, SSL_CTX **ctx_out,
               struct bufferevent **bev_out, floe_err *err)
{
    const char *ca = httpc_ca_file[0] != '\0' ? httpc_ca_file : getenv("FLOE_CA_FILE");
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    if (ctx == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "cannot create a TLS context");
        return NULL;
    }
    *ctx_out = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (ca != NULL && ca[0] != '\0' ? SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1
                                    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        floe_err_user(err, FLOE_EINVAL, "CA file %.200s: cannot be read as PEM certificates",
                      ca != NULL ? ca : "(the system's)");
        return NULL;
    }
    if ((ssl = SSL_new(ctx)) == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "cannot create a TLS session");
        return NULL;
    }
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (is_ip)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    else {
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set1_host(ssl, host);
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        SSL_free(ssl);
        floe_err_sys(err, FLOE_ENOMEM, "cannot create a TLS connection");
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    *bev_out = bev;
    struct evhttp_connection *conn = evhttp_connection_base_bufferevent_new(
        base, NULL, bev, host, (unsigned short)(port > 0 ? port : 443));
    if (conn == NULL) {
        bufferevent_free(bev);
        floe_err_sys(err, FLOE_ENOMEM, "cannot create an HTTP connection");
    }
    return conn;
}

enum evhttp_cmd_type
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
httpc_session_open(httpc_session *s, const char *base_url, int timeout_ms, floe_err *err)
{
    memset(s, 0, sizeof(*s));
    s->base_url = base_url;
    s->uri = evhttp_uri_parse(base_url);
    const char *host = s->uri != NULL ? evhttp_uri_get_host(s->uri) : NULL;
    if (host == NULL) {
        httpc_session_close(s);
        return floe_err_user(err, FLOE_EINVAL, "API address \"%s\" is not http://host:port",
                             base_url);
    }
    int port = evhttp_uri_get_port(s->uri);
    if ((s->base = event_base_new()) == NULL) {
        httpc_session_close(s);
        return floe_err_sys(err, FLOE_ENOMEM, "cannot create an event base");
    }
    const char *scheme = evhttp_uri_get_scheme(s->uri);
    bool tls = scheme != NULL && strcmp(scheme, "https") == 0;
    s->conn = tls ? tls_connection(s->base, host, port, &s->ctx, &s->bev, err)
                  : evhttp_connection_base_new(s->base, NULL, host,
                                               (unsigned short)(port > 0 ? port : 80));
    if (s->conn == NULL) {
        floe_rc rc = tls ? err != NULL ? err->code : FLOE_EIO
                         : floe_err_sys(err, FLOE_ENOMEM, "cannot create an HTTP connection");
        httpc_session_close(s);
        return rc;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(s->conn, &tv);
    evhttp_connection_set_retries(s->conn, 0);
    snprintf(s->hostport, sizeof(s->hostport), "%s:%d", host, port > 0 ? port : 80);
    return FLOE_OK;
}

void
httpc_session_headers(httpc_session *s, struct evhttp_request *req, const char *accept,
                      const char *content_type)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", s->hostport);
    evhttp_add_header(h, "Accept", accept);
    evhttp_add_header(h, "Connection", "close");
    if (content_type != NULL)
        evhttp_add_header(h, "Content-Type", content_type);
    const char *token = floe_httpc_token();
    if (token != NULL) {
        static __thread char auth[FLOE_HTTPC_TOKEN_MAX + 8];
        snprintf(auth, sizeof(auth), "Bearer %s", token);
        evhttp_add_header(h, "Authorization", auth);
    }
}

floe_rc
httpc_session_failed(httpc_session *s, bool timed_out, int timeout_ms, floe_err *err)
{
    unsigned long ssl_err = 0;
    if (timed_out)
        return floe_err_sys(err, FLOE_ETIMEDOUT, "no response from %s within %d ms", s->base_url,
                            timeout_ms);
    if (s->bev != NULL && (ssl_err = bufferevent_get_openssl_error(s->bev)) != 0)
        return floe_err_sys(err, FLOE_EIO, "TLS with %s failed: %s%s", s->base_url,
                            ERR_reason_error_string(ssl_err),
                            ERR_GET_REASON(ssl_err) == SSL_R_CERTIFICATE_VERIFY_FAILED
                                ? " (api.ca_file / FLOE_CA_FILE names the CA to trust)"
                                : "");
    return floe_err_sys(
        err, FLOE_EIO, "cannot reach the Floe API at %s (is floe-scheduler running?)", s->base_url);
}

void
httpc_session_close(httpc_session *s)
{
    if (s->conn != NULL)
        evhttp_connection_free(s->conn);
    SSL_CTX_free(s->ctx);
    if (s->base != NULL)
        event_base_free(s->base);
    if (s->uri != NULL)
        evhttp_uri_free(s->uri);
    memset(s, 0, sizeof(*s));
}

floe_rc
floe_httpc_request(const char *base_url, const char *method, const char *path,
                   const char *content_type, const void *body, size_t len, int timeout_ms,
                   floe_http_resp *resp, floe_err *err)
{
    memset(resp, 0, sizeof(*resp));
    httpc_session s;
    floe_rc rc = httpc_session_open(&s, base_url, timeout_ms, err);
    if (rc != FLOE_OK)
        return rc;
    httpc_call call = {.resp = resp, .rc = FLOE_EIO};
    struct evhttp_request *req = evhttp_request_new(httpc_on_done, &call);
    if (req == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "cannot create an HTTP request");
        goto out;
    }
    evhttp_request_set_error_cb(req, httpc_on_error);
    httpc_session_headers(&s, req, "application/json", content_type);
    if (body != NULL && len > 0)
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    if (evhttp_make_request(s.conn, req, httpc_method(method), path) != 0) {
        rc = floe_err_sys(err, FLOE_EIO, "cannot send the request to %s", base_url);
        goto out; /* evhttp frees req on failure */
    }
    event_base_dispatch(s.base);
    if (call.too_big)
        rc = floe_err_sys(err, FLOE_ETOOBIG, "response from %s is larger than %u bytes", base_url,
                          FLOE_HTTPC_BODY_MAX);
    else if (call.rc == FLOE_ENOMEM)
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory reading the response");
    else if (call.rc != FLOE_OK)
        rc = httpc_session_failed(&s, call.failed && call.error == EVREQ_HTTP_TIMEOUT, timeout_ms,
                                  err);
    else
        rc = FLOE_OK;
out:
    httpc_session_close(&s);
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
