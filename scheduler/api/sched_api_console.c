/*
 * sched_api_console — the web console's static files (docs/console.md), served by every
 * replica from the binary: / is its page, /console/NAME its scripts and styles. Only
 * names in the embedded table are answered, so no request reaches the file system. The
 * console talks to the API with the user's token from the browser; these files hold no
 * data, so they need none. A strict Content-Security-Policy keeps any text the console
 * shows from running as script.
 */
#include "sched_api_int.h"
#include "sched_api_console.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

static const console_asset *
asset_find(const char *name)
{
    for (unsigned i = 0; i < console_n_assets; i++)
        if (strcmp(console_assets[i].name, name) == 0)
            return &console_assets[i];
    return NULL;
}

void
api_console_serve(api_req *r)
{
    const char *name = r->t.n_seg == 0 ? "index.html" : r->t.seg[1];
    const console_asset *a = api_cfg(r)->api_console ? asset_find(name) : NULL;
    if (a == NULL) {
        api_fail(r, FLOE_ENOTFOUND, "no such resource: %s",
                 api_cfg(r)->api_console ? "a console file" : "the console (api.console=off)");
        api_reply(r);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
    char etag[80];
    snprintf(etag, sizeof(etag), "\"%.32s\"", a->sha256);
    evhttp_add_header(h, "ETag", etag);
    /* Revalidated each time (a new binary, new files), answered 304 when unchanged. */
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'none'; script-src 'self'; style-src 'self'; "
                      "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                      "form-action 'none'; frame-ancestors 'none'");
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(r->req), "If-None-Match");
    if (inm != NULL && strcmp(inm, etag) == 0) {
        evhttp_send_reply(r->req, 304, "Not Modified", NULL);
        api_req_answered(r, 304);
        return;
    }
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        api_reply(r);
        return;
    }
    evbuffer_add_reference(out, a->data, a->len, NULL, NULL);
    evhttp_add_header(h, "Content-Type", a->type);
    evhttp_send_reply(r->req, 200, "OK", out);
    evbuffer_free(out);
    api_req_answered(r, 200);
}
