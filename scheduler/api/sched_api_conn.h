/*
 * sched_api_conn — the API's connections capped (review H10): the engine in the same
 * process needs descriptors for Redis, PostgreSQL and Kafka. At the cap the listener
 * stops accepting and new clients wait in the kernel's listen backlog until connections
 * close (idle ones after 30 s).
 */
#ifndef SCHED_API_CONN_H
#define SCHED_API_CONN_H

#include "floe_log.h"
#include "floe_metrics.h"
#include "sched_api_tls.h"

#include <event2/event.h>
#include <event2/http.h>

typedef struct api_conns api_conns;

/* Watches the connections accepted on sock (of http), at most max open, each over TLS
 * when tls is not NULL (borrowed). NULL when out of memory. Free it before the bound
 * socket goes. */
api_conns *api_conns_new(struct event_base *base, struct evhttp *http,
                         struct evhttp_bound_socket *sock, unsigned max, api_tls *tls,
                         floe_metrics *metrics);
void api_conns_free(api_conns *c);

#endif
