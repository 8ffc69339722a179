/*
 * floe-scheduler — entry point: configuration, the schema migrations, the Kafka bus, the
 * HTTP API, and an orderly shutdown on SIGTERM/SIGINT (stop accepting, answer what is in
 * progress within a deadline, flush the producer, free in reverse order).
 * Every replica campaigns for the leader lease (sched_leader); the elected one runs the
 * engine (sched_engine) on this same loop until it loses the lease or is fenced.
 */
#include "floe_bus.h"
#include "floe_log.h"
#include "floe_main.h"
#include "floe_notify.h"
#include "floe_metrics.h"
#include "floe_time.h"
#include "sched_api.h"
#include "sched_engine.h"
#include "sched_lp.h"
#include "sched_leader.h"
#include "store_migrate.h"
#include "store_pg.h"
#include "store_redis_probe.h"
#include "store_redis.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SCHED_SHUTDOWN_GRACE_US 10000000 /* answer requests in progress for up to 10 s */
#define SCHED_MIGRATE_WAIT_US 60000000   /* PostgreSQL may still be starting */

typedef struct sched {
    const floe_config *cfg;
    struct event_base *base;
    floe_log_ctx log;
    floe_metrics *metrics;
    floe_bus *bus;
    sched_api *api;
    sched_engine *engine;
    sched_leader *lease;
    struct event *sig_term, *sig_int, *drain_ev;
    int64_t drain_deadline_us;
    floe_notify *notify; /* systemd: ready, stopping, watchdog */
} sched;

static void
usage(FILE *out)
{
    fputs("usage: floe-scheduler [options]\n"
          "Runs the Floe scheduler: the API on every replica, the engine on the elected leader.\n"
          "At start-up it applies the PostgreSQL schema migrations this binary carries.\n\n",
          out);
    floe_main_usage_common(out);
}

static void
on_delivered(floe_bus *bus, void *opaque, floe_rc rc, const char *reason, void *arg)
{
    (void)bus;
    (void)arg;
    /* Only the API produces today; the engine's messages will carry their own opaque. */
    if (opaque != NULL)
        sched_api_on_delivered(opaque, rc, reason);
}

static void
on_elected(uint64_t epoch, void *arg)
{
    sched *s = arg;
    sched_engine_lead(s->engine, epoch);
}

static void
on_demoted(uint64_t epoch, const char *why, void *arg)
{
    (void)epoch;
    sched *s = arg;
    sched_engine_stop(s->engine, why);
}

/* The API's launches go straight to the engine while it leads here (sched_api_set_take). */
static bool
take_request(void *arg, const Floe__ExecutionRequested *req, uint64_t started)
{
    sched *s = arg;
    return s->engine != NULL && sched_engine_request(s->engine, req, started);
}

/* The API records launches RUNNING under the epoch of the term leading here. */
static void
on_term(uint64_t epoch, void *arg)
{
    sched *s = arg;
    if (s->api != NULL)
        sched_api_set_lead_epoch(s->api, epoch);
}

static bool
leading(void *arg)
{
    sched *s = arg;
    return sched_leader_valid(s->lease);
}

static void
on_fenced(const char *why, void *arg)
{
    sched *s = arg;
    sched_leader_fenced(s->lease, why);
}

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sched *s = arg;
    if (sched_api_inflight(s->api) == 0 || floe_mono_us() > s->drain_deadline_us)
        event_base_loopexit(s->base, NULL);
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    sched *s = arg;
    if (s->drain_ev != NULL)
        return; /* already stopping */
    floe_log_info(&s->log, "signal %d: stopping (answering %u requests in progress)", (int)sig,
                  sched_api_inflight(s->api));
    floe_notify_stopping(s->notify, "stopping: answering requests in progress");
    sched_api_stop(s->api);
    /* Hand leadership over now: a standby takes over without waiting for the lease. */
    sched_leader_free(s->lease);
    s->lease = NULL;
    sched_engine_stop(s->engine, "shutting down");
    s->drain_deadline_us = floe_mono_us() + SCHED_SHUTDOWN_GRACE_US;
    s->drain_ev = event_new(s->base, -1, EV_PERSIST, on_drain_tick, s);
    struct timeval tv = {0, 20000};
    if (s->drain_ev == NULL || event_add(s->drain_ev, &tv) != 0)
        event_base_loopexit(s->base, NULL);
}

/* Migrations run once per start-up, retried while PostgreSQL comes up. */
static int
sched_migrate(sched *s)
{
    int64_t deadline = floe_mono_us() + SCHED_MIGRATE_WAIT_US;
    floe_err err = {0};
    for (int attempt = 1;; attempt++) {
        store_pg *pg = store_pg_connect(s->cfg->postgres_url, "floe-scheduler",
                                        s->cfg->postgres_timeout_ms, &err);
        unsigned applied = 0;
        floe_rc rc = pg != NULL ? store_migrate_apply(pg, &applied, &err) : err.code;
        if (rc == FLOE_OK)
            floe_log_info(&s->log, "schema up to date (%u migrations applied now)", applied);
        if (rc == FLOE_OK && (rc = sched_api_bootstrap(pg, s->cfg, &err)) != FLOE_OK)
            err.code = rc;
        store_pg_close(pg);
        if (rc == FLOE_OK)
            return 0;
        if (rc != FLOE_EIO || floe_mono_us() > deadline) {
            floe_log_error(&s->log, "schema: %s", err.msg);
            return -1;
        }
        if (attempt == 1)
            floe_log_warn(&s->log, "waiting for PostgreSQL: %s", err.msg);
        usleep(500000);
    }
}

/* Redis must keep every key (review M9): an evicting policy can drop floe:epoch, which
 * would hand an old leader its fence back, or an execution's state. Said once, loudly;
 * a Redis that refuses CONFIG (managed services) is taken at its word. */
static void
sched_check_redis_policy(sched *s)
{
    const char *argv[] = {"CONFIG", "GET", "maxmemory-policy"};
    const char *const *cmds[] = {argv};
    int argcs[] = {3};
    store_reply *rep[1];
    floe_err err = {0};
    if (store_redis_sync_call(s->cfg->redis_url, 2000, 1, cmds, argcs, rep, &err) != FLOE_OK)
        return;
    const char *policy = store_reply_str(store_reply_elem(rep[0], 1), NULL);
    if (policy != NULL && strcmp(policy, "noeviction") != 0)
        floe_log_error(&s->log,
                       "redis maxmemory-policy is %s: under memory pressure Redis may drop "
                       "Floe's fence epoch or execution state; set it to noeviction",
                       policy);
    store_redis_sync_free(rep, 1);
}

int
main(int argc, char **argv)
{
    floe_config *cfg = NULL;
    floe_main_rc mrc = floe_main_init("floe-scheduler", usage, &argc, argv, NULL, 0, &cfg);
    if (mrc != FLOE_MAIN_RUN)
        return mrc == FLOE_MAIN_EXIT_OK ? 0 : 2;
    if (argc > 1) {
        fprintf(stderr, "floe-scheduler: unexpected argument \"%s\" (see --help)\n", argv[1]);
        floe_config_free(cfg);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sched s = {.cfg = cfg, .log = {.comp = "scheduler"}};
    int status = 1;
    floe_err err = {0};
    /* Before any thread: it takes systemd's variables out of the environment. */
    if ((s.base = event_base_new()) == NULL || (s.notify = floe_notify_new(s.base)) == NULL ||
        (s.metrics = floe_metrics_new()) == NULL) {
        floe_log_error(&s.log, "out of memory");
        goto out;
    }
    floe_metrics_build_info(s.metrics, "floe-scheduler");
    floe_metrics_process(s.metrics);
    if (sched_migrate(&s) != 0)
        goto out;
    sched_check_redis_policy(&s);
    floe_bus_callbacks cb = {.on_delivered = on_delivered, .arg = &s};
    if ((s.bus = floe_bus_new(s.base, cfg, &cb, &err)) == NULL) {
        floe_log_error(&s.log, "%s", err.msg);
        goto out;
    }
    floe_bus_count_into(s.bus, s.metrics, "api");
    if ((s.api = sched_api_new(s.base, cfg, s.bus, s.metrics, &err)) == NULL) {
        floe_log_error(&s.log, "%s", err.msg);
        goto out;
    }
    static const eng_feature *const features[] = {&eng_lineage_feature, &eng_lp_feature, NULL};
    sched_engine_hooks hooks = {.on_fenced = on_fenced,
                                .leading = leading,
                                .on_term = on_term,
                                .arg = &s,
                                .features = features};
    if ((s.engine = sched_engine_new(s.base, cfg, s.metrics, &hooks, &err)) == NULL) {
        floe_log_error(&s.log, "%s", err.msg);
        goto out;
    }
    sched_api_set_take(s.api, take_request, &s);
    char holder[128], host[64] = "host", id[FLOE_ID_LEN + 1];
    gethostname(host, sizeof(host) - 1);
    if (floe_id_new(id) != 0)
        snprintf(id, sizeof(id), "%lld", (long long)floe_mono_us());
    snprintf(holder, sizeof(holder), "%s/%d/%s", host, (int)getpid(), id);
    sched_leader_callbacks lcb = {.on_elected = on_elected, .on_demoted = on_demoted, .arg = &s};
    if ((s.lease = sched_leader_new(s.base, cfg, s.metrics, holder, &lcb, &err)) == NULL) {
        floe_log_error(&s.log, "%s", err.msg);
        goto out;
    }
    s.sig_term = evsignal_new(s.base, SIGTERM, on_signal, &s);
    s.sig_int = evsignal_new(s.base, SIGINT, on_signal, &s);
    if (s.sig_term == NULL || s.sig_int == NULL || event_add(s.sig_term, NULL) != 0 ||
        event_add(s.sig_int, NULL) != 0) {
        floe_log_error(&s.log, "cannot install signal handlers");
        goto out;
    }
    floe_log_info(&s.log, "started (version %s)", FLOE_VERSION);
    floe_notify_ready(s.notify, "serving the API; the engine runs while this replica leads");
    event_base_dispatch(s.base);
    status = 0;
out:
    sched_leader_free(s.lease);
    sched_engine_free(s.engine);
    s.engine = NULL; /* launches the drain finishes take the bus */
    if (s.api != NULL)
        sched_api_drain(s.api);
    if (s.bus != NULL && floe_bus_flush(s.bus, 5000) != FLOE_OK)
        floe_log_warn(&s.log, "kafka: some messages were not delivered before shutdown");
    sched_api_free(s.api);
    floe_bus_free(s.bus);
    if (s.drain_ev != NULL)
        event_free(s.drain_ev);
    if (s.sig_term != NULL)
        event_free(s.sig_term);
    if (s.sig_int != NULL)
        event_free(s.sig_int);
    floe_metrics_free(s.metrics);
    floe_notify_free(s.notify);
    if (s.base != NULL)
        event_base_free(s.base);
    if (status == 0)
        floe_log_info(&s.log, "stopped");
    floe_config_free(cfg);
    return status;
}
