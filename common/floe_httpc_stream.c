/*
 * floe_httpc_stream — a streamed response read as it arrives (the API's live feed). See
 * floe_httpc.h.
 */
#include "floe_httpc.h"
#include "floe_httpc_int.h"

#include "floe_time.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>

typedef struct stream_call {
    httpc_session *s;
    bool (*on_data)(const char *data, size_t len, void *arg);
    void *arg;
    int status;
    bool stopped, ended, failed, timed_out, past_deadline;
    char errbody[512];
    size_t errlen;
} stream_call;

static void
stream_chunk(struct evhttp_request *req, void *arg)
{
    stream_call *c = arg;
    if (c->status == 0)
        c->status = evhttp_request_get_response_code(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    char buf[4096];
    size_t n;
    while (!c->stopped && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0 && n != (size_t)-1) {
        if (c->status != 200) { /* an error's JSON: kept for the message */
            size_t room = sizeof(c->errbody) - 1 - c->errlen;
            memcpy(c->errbody + c->errlen, buf, n < room ? n : room);
            c->errlen += n < room ? n : room;
            continue;
        }
        if (!c->on_data(buf, n, c->arg)) {
            c->stopped = true;
            event_base_loopbreak(c->s->base);
        }
    }
}

static void
stream_done(struct evhttp_request *req, void *arg)
{
    stream_call *c = arg;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        c->failed = true;
        return;
    }
    if (c->status == 0)
        c->status = evhttp_request_get_response_code(req);
    stream_chunk(req, arg); /* a body that came whole (an error) */
    c->ended = true;
}

static void
stream_error(enum evhttp_request_error error, void *arg)
{
    stream_call *c = arg;
    c->failed = true;
    c->timed_out = error == EVREQ_HTTP_TIMEOUT;
}

static void
stream_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stream_call *c = arg;
    c->past_deadline = true;
    event_base_loopbreak(c->s->base);
}

floe_rc
floe_httpc_stream(const char *base_url, const char *path, int idle_ms, int64_t deadline_us,
                  bool (*on_data)(const char *data, size_t len, void *arg), void *arg, int *status,
                  floe_err *err)
{
    *status = 0;
    httpc_session s;
    floe_rc rc = httpc_session_open(&s, base_url, idle_ms, err);
    if (rc != FLOE_OK)
        return rc;
    stream_call c = {.s = &s, .on_data = on_data, .arg = arg};
    struct event *timer = NULL;
    struct evhttp_request *req = evhttp_request_new(stream_done, &c);
    if (req == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "cannot create an HTTP request");
        goto out;
    }
    evhttp_request_set_chunked_cb(req, stream_chunk);
    evhttp_request_set_error_cb(req, stream_error);
    httpc_session_headers(&s, req, "text/event-stream", NULL);
    if (evhttp_make_request(s.conn, req, EVHTTP_REQ_GET, path) != 0) {
        rc = floe_err_sys(err, FLOE_EIO, "cannot send the request to %s", base_url);
        goto out;
    }
    int64_t left = deadline_us - floe_mono_us();
    struct timeval tv = {left > 0 ? left / 1000000 : 0, left > 0 ? left % 1000000 : 0};
    if ((timer = evtimer_new(s.base, stream_deadline, &c)) == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    evtimer_add(timer, &tv);
    event_base_dispatch(s.base);
    *status = c.status;
    if (c.stopped)
        rc = FLOE_OK;
    else if (c.past_deadline)
        rc = floe_err_user(err, FLOE_ETIMEDOUT, "the deadline passed");
    else if (c.status != 0 && c.status != 200)
        rc = floe_err_user(err, FLOE_EINVAL, "%s answered %d: %.*s", base_url, c.status,
                           (int)c.errlen, c.errbody);
    else if (c.ended)
        rc = floe_err_sys(err, FLOE_EIO, "%s ended the stream", base_url);
    else
        rc = httpc_session_failed(&s, c.timed_out, idle_ms, err);
out:
    if (timer != NULL)
        event_free(timer);
    httpc_session_close(&s);
    return rc;
}
