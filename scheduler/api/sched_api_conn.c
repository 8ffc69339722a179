/*
 * sched_api_conn — the API's connections capped. libevent 2.1 has a hook when it accepts
 * a connection (evhttp_set_bevcb) but none when one closes, and counting closes with a
 * filter bufferevent broke replies sent from the pool. So accepts raise an estimate, and
 * when the estimate reaches the cap the open connections are counted for real: the
 * process's sockets whose local port is the API's and that have a peer (what the engine
 * opens has an ephemeral local port). Scans happen only near the cap.
 */
#include "sched_api_conn.h"

#include "floe_mem.h"

#include <dirent.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define RESCAN_MS 250 /* while paused: how often to look whether connections closed */

struct api_conns {
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener;
    unsigned max;
    unsigned estimate; /* at least the connections open (accepts since the last count) */
    uint16_t port;     /* the API's local port, network order */
    bool paused;
    api_tls *tls; /* NULL: plain HTTP */
    struct event *rescan;
    floe_log_ctx log;
    floe_metric *m_open, *m_paused;
};

static uint16_t
sock_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_port;
    if (ss->ss_family == AF_INET6)
        return ((const struct sockaddr_in6 *)ss)->sin6_port;
    return 0;
}

/* The API connections open now: connected sockets on the API's port. */
static unsigned
count_open(const api_conns *c)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return c->estimate; /* cannot tell: keep what we believe */
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end != '\0' || fd < 0 || fd == dirfd(d))
            continue;
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        if (getsockname((int)fd, (struct sockaddr *)&ss, &len) != 0 || sock_port(&ss) != c->port)
            continue;
        len = sizeof(ss);
        if (getpeername((int)fd, (struct sockaddr *)&ss, &len) == 0)
            n++; /* the listening socket has no peer */
    }
    closedir(d);
    return n;
}

static void
set_paused(api_conns *c, bool pause)
{
    if (c->paused == pause)
        return;
    if ((pause ? evconnlistener_disable(c->listener) : evconnlistener_enable(c->listener)) != 0)
        return;
    c->paused = pause;
    if (pause) {
        floe_metric_add(c->m_paused, 1);
        floe_log_warn(&c->log,
                      "%u connections open (api.max_connections): not accepting more until "
                      "some close",
                      c->estimate);
        struct timeval tv = {0, RESCAN_MS * 1000};
        evtimer_add(c->rescan, &tv);
    } else {
        floe_log_info(&c->log, "%u connections open: accepting again", c->estimate);
    }
}

static void
recount(api_conns *c)
{
    c->estimate = count_open(c);
    floe_metric_set(c->m_open, c->estimate);
    set_paused(c, c->estimate >= c->max);
}

static void
on_rescan(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    api_conns *c = arg;
    recount(c);
    if (c->paused) {
        struct timeval tv = {0, RESCAN_MS * 1000};
        evtimer_add(c->rescan, &tv);
    }
}

/* Called by evhttp for each connection it accepts: the bufferevent it would make itself. */
static struct bufferevent *
on_accept(struct event_base *base, void *arg)
{
    api_conns *c = arg;
    if (++c->estimate >= c->max)
        recount(c); /* the accepted socket is open already: counted */
    if (c->tls != NULL)
        return api_tls_bufferevent(c->tls, base);
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

api_conns *
api_conns_new(struct event_base *base, struct evhttp *http, struct evhttp_bound_socket *sock,
              unsigned max, api_tls *tls, floe_metrics *metrics)
{
    api_conns *c = floe_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->base = base;
    c->tls = tls;
    c->http = http;
    c->listener = evhttp_bound_socket_get_listener(sock);
    c->max = max > 0 ? max : 1;
    c->log = (floe_log_ctx){.comp = "api"};
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) == 0)
        c->port = sock_port(&ss);
    if ((c->rescan = evtimer_new(base, on_rescan, c)) == NULL) {
        floe_free(c);
        return NULL;
    }
    c->m_open = floe_metrics_gauge(metrics, "floe_api_connections",
                                   "HTTP API connections open, as last counted", NULL);
    c->m_paused = floe_metrics_counter(
        metrics, "floe_api_accept_paused_total",
        "times the API stopped accepting connections at api.max_connections", NULL);
    evhttp_set_bevcb(http, on_accept, c);
    return c;
}

void
api_conns_free(api_conns *c)
{
    if (c == NULL)
        return;
    evhttp_set_bevcb(c->http, NULL, NULL);
    event_free(c->rescan);
    floe_free(c);
}
