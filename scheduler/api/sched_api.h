/*
 * sched_api — the HTTP/JSON API every floe-scheduler replica serves (libevent evhttp):
 * the registry (register, get, list, activate), executions (launch, get, list), and
 * /healthz, /readyz, /metrics. docs/api.md lists every route.
 *
 * Requests are parsed and bounded on the loop thread; their database and compile work
 * runs on the pool (one PostgreSQL connection per pool thread); replies are sent from
 * the loop thread. A launch is recorded in PostgreSQL and answered; its
 * ExecutionRequested goes to the engine when it leads in this process, else to Kafka.
 */
#ifndef SCHED_API_H
#define SCHED_API_H

#include "floe_bus.h"
#include "floe_config.h"
#include "floe_err.h"
#include "floe_metrics.h"

#include <stdint.h>

struct event_base;
typedef struct sched_api sched_api;

/* Starts listening on cfg->api_url. cfg, bus and metrics must outlive the API.
 * NULL with err when the address cannot be bound or memory runs out. */
sched_api *sched_api_new(struct event_base *base, const floe_config *cfg, floe_bus *bus,
                         floe_metrics *metrics, floe_err *err);

struct Floe__ExecutionRequested;
/* Where a recorded launch goes before the bus: take(arg, req, started) returns true when
 * it took the request (the engine leads in this process, sched_engine_request), false to
 * produce it on <prefix>.events. started: the epoch the row was recorded RUNNING under
 * (sched_api_set_lead_epoch), 0 when it was recorded QUEUED. Called on the loop thread
 * before the launch is answered. */
typedef bool (*sched_api_take_fn)(void *arg, const struct Floe__ExecutionRequested *req,
                                  uint64_t started);
void sched_api_set_take(sched_api *api, sched_api_take_fn take, void *arg);
/* The epoch of the term the engine in this process leads now, 0 when none (any thread may
 * read it; set on the loop thread). Launches recorded meanwhile are recorded RUNNING under
 * it when the lease still holds it: the engine they are handed to has no start to write. */
void sched_api_set_lead_epoch(sched_api *api, uint64_t epoch);

/* The bus delivery callback for messages the API produced (opaque from floe_bus). */
void sched_api_on_delivered(void *opaque, floe_rc rc, const char *reason);

/* Stops accepting connections; requests in progress continue. */
void sched_api_stop(sched_api *api);

/* Requests accepted and not yet answered. */
unsigned sched_api_inflight(const sched_api *api);

/* Stops accepting, runs every queued job to its end (their done functions included) and
 * stops the pool. Answers that wait for Kafka come with the bus's flush; call this, then
 * floe_bus_flush(), then sched_api_free(). */
void sched_api_drain(sched_api *api);

struct store_pg;
/* Stores the token in api.bootstrap_token_file (when set) as the installation's first
 * admin (sched_api_auth.c); at start-up, after the migrations. */
floe_rc sched_api_bootstrap(struct store_pg *pg, const floe_config *cfg, floe_err *err);

/* Frees; requests still unanswered are dropped with their connections. NULL is a no-op. */
void sched_api_free(sched_api *api);

#endif
