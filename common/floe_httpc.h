/*
 * floe_httpc — a blocking HTTP/1.1 client for floectl and the tests, on libevent's evhttp.
 * One request per call, its own event base; nothing shared between calls.
 */
#ifndef FLOE_HTTPC_H
#define FLOE_HTTPC_H

#include "floe_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLOE_HTTPC_BODY_MAX (64u << 20) /* larger responses are refused */

typedef struct floe_http_resp {
    int status;
    char *body; /* NUL-terminated (the NUL is not counted in len); owned, free with deinit */
    size_t len;
} floe_http_resp;

/* Sends method to base_url + path (path starts with '/', query included, already
 * escaped). body may be NULL. On FLOE_OK resp holds the reply, whatever its status.
 * FLOE_EIO when the server cannot be reached or the reply is malformed, FLOE_ETIMEDOUT,
 * FLOE_EINVAL for a bad base_url. */
floe_rc floe_httpc_request(const char *base_url, const char *method, const char *path,
                           const char *content_type, const void *body, size_t len, int timeout_ms,
                           floe_http_resp *resp, floe_err *err);

void floe_http_resp_deinit(floe_http_resp *resp);

/* Reads a streamed response (server-sent events, floe_httpc_stream.c): GET base_url +
 * path, then on_data with each piece of the body as it comes, until on_data returns
 * false (FLOE_OK), the server ends the stream (FLOE_EIO), nothing arrives for idle_ms
 * (FLOE_ETIMEDOUT) or deadline_us on CLOCK_MONOTONIC passes (FLOE_ETIMEDOUT, err says
 * which). A status other than 200 is FLOE_EINVAL with *status set and the body's
 * message in err. */
floe_rc floe_httpc_stream(const char *base_url, const char *path, int idle_ms, int64_t deadline_us,
                          bool (*on_data)(const char *data, size_t len, void *arg), void *arg,
                          int *status, floe_err *err);

/* The bearer token every request sends (Authorization: Bearer ...): the one set here, else
 * $FLOE_TOKEN, else the contents of the file $FLOE_TOKEN_FILE; NULL when none. set copies
 * token (NULL forgets it); neither is for concurrent use with requests. */
#define FLOE_HTTPC_TOKEN_MAX 8192 /* an API token, or an OIDC access token (JWT) */
void floe_httpc_set_token(const char *token);
/* The token is the contents of the file path (trailing white space dropped). */
floe_rc floe_httpc_set_token_file(const char *path, floe_err *err);
const char *floe_httpc_token(void);

/* CA certificates (PEM) an https base_url's certificate must chain to: the file set here,
 * else $FLOE_CA_FILE, else the system's. NULL forgets it. */
void floe_httpc_set_ca_file(const char *path);

/* Percent-encodes s for a path segment or query value. Caller frees with floe_free;
 * NULL when out of memory. */
char *floe_url_escape(const char *s);

#endif
