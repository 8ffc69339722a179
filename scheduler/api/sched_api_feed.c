/*
 * sched_api_feed — the live feed (docs/api.md#the-live-feed): execution and node phase
 * changes as server-sent events, read from <prefix>.egress by a floe_tail that every
 * replica runs while someone listens. A subscriber gets `ready` once every change made
 * from then on will reach it, so a client reads its snapshot after `ready` and applies
 * the changes over it. Bounded: subscribers (api.feed_max), and the bytes waiting for a
 * slow one (FEED_MAX_QUEUED: past it the stream ends and the client reconnects).
 */
#include "sched_api_int.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "floe_phase.h"
#include "floe_tail.h"
#include "floe_time.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <string.h>

#define FEED_MAX_QUEUED (1024 * 1024)
#define FEED_KEEPALIVE_S 15
/* The tail stays this long after the last subscriber left, for the next one. */
#define FEED_LINGER_S 60
#define FEED_LOCATE_MS 5000
/* A topic not there yet (nothing was ever egressed) or brokers away: asked again this often
 * while someone waits. */
#define FEED_RETRY_S 2

typedef struct feed_sub {
    struct feed_sub *prev, *next;
    api_feed *f;
    struct evhttp_request *req;
    struct evhttp_connection *conn;
    char *execution; /* NULL: the executions of project and domain */
    char *project, *domain;
    bool ready; /* `ready` sent */
} feed_sub;

struct api_feed {
    struct event_base *base;
    const floe_config *cfg;
    floe_pool *pool;
    floe_log_ctx log;
    floe_tail *tail;
    bool locating;
    char locate_error[FLOE_ERR_MSG_MAX];
    bool warned; /* the tail's trouble said, until it is over */
    feed_sub *subs;
    unsigned n_subs;
    struct event *keepalive, *linger, *retry;
    floe_metric *m_subs, *m_sent, *m_dropped;
};

/* --- subscribers ---------------------------------------------------------------------- */

static void
sub_free(feed_sub *s)
{
    floe_free(s->execution);
    floe_free(s->project);
    floe_free(s->domain);
    floe_free(s);
}

static void
sub_unlink(feed_sub *s)
{
    api_feed *f = s->f;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        f->subs = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    f->n_subs--;
    floe_metric_set(f->m_subs, f->n_subs);
    if (f->n_subs == 0 && f->tail != NULL) {
        struct timeval tv = {FEED_LINGER_S, 0};
        event_add(f->linger, &tv);
    }
    sub_free(s);
}

static void
sub_closed(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    feed_sub *s = arg;
    api_stream_closed(s->req);
    sub_unlink(s);
}

/* Ends s's stream (the client reconnects) and forgets it. */
static void
sub_end(feed_sub *s)
{
    evhttp_connection_set_closecb(s->conn, NULL, NULL);
    evhttp_send_reply_end(s->req);
    sub_unlink(s);
}

/* Queues text for s; false when s was ended for falling behind. */
static bool
sub_send(feed_sub *s, const char *text, size_t len)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(s->conn);
    if (bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) > FEED_MAX_QUEUED) {
        floe_metric_add(s->f->m_dropped, 1);
        floe_log_warn(&s->f->log, "a feed subscriber fell %d bytes behind: its stream ends",
                      FEED_MAX_QUEUED);
        sub_end(s);
        return false;
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL)
        return true;
    evbuffer_add(b, text, len);
    evhttp_send_reply_chunk(s->req, b);
    evbuffer_free(b);
    return true;
}

static void
sub_ready(feed_sub *s)
{
    static const char ready[] = "event: ready\ndata: {}\n\n";
    s->ready = true;
    sub_send(s, ready, sizeof(ready) - 1);
}

/* --- the tail ------------------------------------------------------------------------- */

static bool
sub_wants(const feed_sub *s, const Floe__PhaseChanged *c)
{
    if (s->execution != NULL)
        return strcmp(s->execution, c->execution_id) == 0;
    if (c->node_id != NULL && c->node_id[0] != '\0')
        return false;
    return c->workflow != NULL && c->workflow->project != NULL &&
           strcmp(c->workflow->project, s->project) == 0 && c->workflow->domain != NULL &&
           strcmp(c->workflow->domain, s->domain) == 0;
}

static char *
change_event(const Floe__PhaseChanged *c, size_t *len)
{
    bool node = c->node_id != NULL && c->node_id[0] != '\0';
    json_t *o = json_pack(
        "{s:s, s:s?, s:i, s:s, s:s, s:o, s:s?, s:s?}", "execution", c->execution_id, "node",
        node ? c->node_id : NULL, "attempt", (json_int_t)c->attempt, "phase",
        floe_phase_name((int)c->new_phase), "old_phase", floe_phase_name((int)c->old_phase), "at",
        sched_render_time(c->changed_unix_us), "error_kind",
        c->error_kind == FLOE__ERROR_KIND__ERROR_KIND_USER     ? "USER"
        : c->error_kind == FLOE__ERROR_KIND__ERROR_KIND_SYSTEM ? "SYSTEM"
                                                               : NULL,
        "message", c->message != NULL && c->message[0] != '\0' ? c->message : NULL);
    if (o != NULL && c->workflow != NULL)
        json_object_set_new(o, "workflow",
                            json_pack("{s:s, s:s, s:s, s:s}", "project", c->workflow->project,
                                      "domain", c->workflow->domain, "name", c->workflow->name,
                                      "version", c->workflow->version));
    char *data = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (data == NULL)
        return NULL;
    char *ev = NULL;
    size_t n = strlen(data) + 32;
    if ((ev = floe_malloc(n)) != NULL)
        *len = (size_t)snprintf(ev, n, "event: phase\ndata: %s\n\n", data);
    free(data);
    return ev;
}

static void
feed_change(api_feed *f, const Floe__PhaseChanged *c)
{
    if (c->execution_id == NULL)
        return;
    char *ev = NULL;
    size_t len = 0;
    for (feed_sub *s = f->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (!s->ready || !sub_wants(s, c))
            continue;
        if (ev == NULL && (ev = change_event(c, &len)) == NULL)
            return;
        if (sub_send(s, ev, len))
            floe_metric_add(f->m_sent, 1);
    }
    floe_free(ev);
}

static void
feed_message(const floe_envelope *env, const void *key, size_t key_len, void *arg)
{
    (void)key;
    (void)key_len;
    api_feed *f = arg;
    if (f->n_subs == 0)
        return;
    if (env->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGED) {
        feed_change(f, (const Floe__PhaseChanged *)env->msg);
    } else if (env->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGES) {
        const Floe__PhaseChanges *m = (const Floe__PhaseChanges *)env->msg;
        for (size_t i = 0; i < m->n_changes; i++)
            feed_change(f, m->changes[i]);
    }
}

static void
locate_work(void *thread_ctx, void *job)
{
    (void)thread_ctx;
    api_feed *f = job;
    floe_err err = {0};
    f->locate_error[0] = '\0';
    if (floe_tail_locate(f->tail, FEED_LOCATE_MS, &err) != FLOE_OK)
        snprintf(f->locate_error, sizeof(f->locate_error), "%s", err.msg);
}

static void locate_work(void *thread_ctx, void *job);
static void locate_done(void *job);

static void
feed_locate(api_feed *f)
{
    f->locating = true;
    if (floe_pool_submit(f->pool, locate_work, locate_done, f) != FLOE_OK) {
        f->locating = false;
        struct timeval tv = {FEED_RETRY_S, 0};
        event_add(f->retry, &tv);
    }
}

/* Located, or not: the waiting subscribers get `ready`, or wait for the next try (they
 * hold their snapshot meanwhile; what they miss they read again at `ready`). */
static void
locate_done(void *job)
{
    api_feed *f = job;
    f->locating = false;
    floe_err err = {0};
    if (f->locate_error[0] == '\0' && floe_tail_start(f->tail, &err) != FLOE_OK)
        snprintf(f->locate_error, sizeof(f->locate_error), "%s", err.msg);
    if (f->locate_error[0] != '\0') {
        if (!f->warned)
            floe_log_warn(&f->log,
                          "the live feed cannot follow egress yet (asked again every "
                          "%d s while someone waits): %s",
                          FEED_RETRY_S, f->locate_error);
        f->warned = true;
        struct timeval tv = {FEED_RETRY_S, 0};
        event_add(f->retry, &tv);
        return;
    }
    if (f->warned)
        floe_log_info(&f->log, "the live feed follows egress again");
    f->warned = false;
    for (feed_sub *s = f->subs, *next; s != NULL; s = next) {
        next = s->next;
        if (!s->ready)
            sub_ready(s);
    }
}

static void
feed_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    api_feed *f = arg;
    if (f->tail == NULL || f->locating)
        return;
    if (f->n_subs == 0) { /* nobody waits any more */
        floe_tail_free(f->tail);
        f->tail = NULL;
        return;
    }
    feed_locate(f);
}

/* Makes sure the tail runs (or is being located); false when it cannot be made. */
static bool
feed_follow(api_feed *f, floe_err *err)
{
    event_del(f->linger);
    if (f->tail != NULL)
        return true;
    char topic[160];
    if (floe_config_topic(f->cfg, "egress", topic, sizeof(topic)) != FLOE_OK) {
        floe_err_user(err, FLOE_EINVAL, "the topic prefix is too long");
        return false;
    }
    if ((f->tail = floe_tail_new(f->base, f->cfg, topic, feed_message, f, err)) == NULL)
        return false;
    feed_locate(f);
    return true;
}

static void
feed_keepalive(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    api_feed *f = arg;
    static const char ping[] = ": keepalive\n\n";
    for (feed_sub *s = f->subs, *next; s != NULL; s = next) {
        next = s->next;
        sub_send(s, ping, sizeof(ping) - 1);
    }
}

static void
feed_linger_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    api_feed *f = arg;
    if (f->n_subs == 0 && !f->locating) {
        event_del(f->retry);
        floe_tail_free(f->tail);
        f->tail = NULL;
    }
}

/* --- the route ------------------------------------------------------------------------ */

typedef struct feed_req {
    const char *execution, *project, *domain;
} feed_req;

void
api_feed_work(api_thread *t, api_req *r)
{
    feed_req *fr = floe_arena_alloc(r->arena, sizeof(*fr));
    if (fr == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    memset(fr, 0, sizeof(*fr));
    r->state = fr;
    bool ok = true;
    fr->execution = api_param(r, "execution");
    if (fr->execution != NULL) {
        if (!api_exec_id_valid(r, fr->execution) || api_pg(t, r) != FLOE_OK)
            return;
        store_exec ex;
        if (store_exec_get(t->pg, fr->execution, r->arena, &ex, &r->err) != FLOE_OK)
            return;
        api_allow(t, r, ex.project);
        return;
    }
    fr->project = api_project(r, &ok);
    fr->domain = ok ? api_domain(r, &ok) : NULL;
    if (ok)
        api_allow(t, r, fr->project);
}

void
api_feed_done(api_req *r)
{
    api_feed *f = api_feed_of(r);
    feed_req *fr = r->state;
    floe_err err = {0};
    if (r->err.code != FLOE_OK || fr == NULL) {
        api_reply(r);
        return;
    }
    if (f == NULL) {
        api_fail(r, FLOE_ENOTSUP, "the live feed is off here (api.feed_max is 0)");
        api_reply(r);
        return;
    }
    if (f->n_subs >= (unsigned)api_cfg(r)->api_feed_max) {
        api_fail(r, FLOE_EAGAIN, "%u feed subscribers already (api.feed_max): retry", f->n_subs);
        api_reply(r);
        return;
    }
    feed_sub *s = floe_calloc(1, sizeof(*s));
    if (s != NULL) {
        s->execution = fr->execution != NULL ? floe_strdup(fr->execution) : NULL;
        s->project = fr->project != NULL ? floe_strdup(fr->project) : NULL;
        s->domain = fr->domain != NULL ? floe_strdup(fr->domain) : NULL;
    }
    if (s == NULL || (fr->execution != NULL) != (s->execution != NULL) ||
        (fr->project != NULL) != (s->project != NULL) ||
        (fr->domain != NULL) != (s->domain != NULL)) {
        if (s != NULL)
            sub_free(s);
        api_fail(r, FLOE_ENOMEM, "out of memory");
        api_reply(r);
        return;
    }
    if (!feed_follow(f, &err)) {
        sub_free(s);
        api_fail(r, err.code, "the live feed is unavailable: %s", err.msg);
        api_reply(r);
        return;
    }
    s->f = f;
    s->req = r->req;
    s->conn = evhttp_request_get_connection(r->req);
    s->next = f->subs;
    if (f->subs != NULL)
        f->subs->prev = s;
    f->subs = s;
    f->n_subs++;
    floe_metric_set(f->m_subs, f->n_subs);
    /* A stream, not an idle connection: the keepalive writes every FEED_KEEPALIVE_S, and a
     * client that stops reading is ended at FEED_MAX_QUEUED. */
    evhttp_connection_set_timeout(s->conn, 4 * FEED_KEEPALIVE_S);
    evhttp_connection_set_closecb(s->conn, sub_closed, s);
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(out, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "X-Accel-Buffering", "no"); /* nginx: do not buffer the stream */
    evhttp_send_reply_start(r->req, 200, "OK");
    api_req_answered(r, 200);
    /* A comment first, so that proxies and clients see the stream begin. */
    static const char hello[] = ": floe live feed\n\n";
    if (sub_send(s, hello, sizeof(hello) - 1) && floe_tail_started(f->tail) && !f->locating)
        sub_ready(s);
}

/* --- life cycle ----------------------------------------------------------------------- */

api_feed *
api_feed_new(struct event_base *base, const floe_config *cfg, floe_pool *pool,
             floe_metrics *metrics, floe_err *err)
{
    api_feed *f = floe_calloc(1, sizeof(*f));
    if (f == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "feed: out of memory");
        return NULL;
    }
    f->base = base;
    f->cfg = cfg;
    f->pool = pool;
    f->log.comp = "feed";
    f->keepalive = event_new(base, -1, EV_PERSIST, feed_keepalive, f);
    f->linger = event_new(base, -1, 0, feed_linger_over, f);
    f->retry = event_new(base, -1, 0, feed_retry, f);
    if (f->keepalive == NULL || f->linger == NULL || f->retry == NULL) {
        api_feed_free(f);
        floe_err_sys(err, FLOE_ENOMEM, "feed: out of memory");
        return NULL;
    }
    struct timeval tv = {FEED_KEEPALIVE_S, 0};
    event_add(f->keepalive, &tv);
    f->m_subs = floe_metrics_gauge(metrics, "floe_api_feed_subscribers",
                                   "live feed streams open on this replica", NULL);
    f->m_sent = floe_metrics_counter(metrics, "floe_api_feed_events_total",
                                     "phase changes sent to feed subscribers", NULL);
    f->m_dropped = floe_metrics_counter(metrics, "floe_api_feed_dropped_total",
                                        "feed streams ended because the client fell behind", NULL);
    return f;
}

void
api_feed_free(api_feed *f)
{
    if (f == NULL)
        return;
    while (f->subs != NULL)
        sub_end(f->subs);
    if (f->keepalive != NULL)
        event_free(f->keepalive);
    if (f->linger != NULL)
        event_free(f->linger);
    if (f->retry != NULL)
        event_free(f->retry);
    floe_tail_free(f->tail);
    floe_free(f);
}
