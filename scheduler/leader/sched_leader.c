#include "sched_leader.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "floe_pool.h"
#include "floe_time.h"
#include "store_lease.h"
#include "store_pg.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_NAME "scheduler"

typedef struct lease_job {
    sched_leader *l;
    int64_t sent_us; /* CLOCK_MONOTONIC when the statement was sent */
    uint64_t floor;  /* the epoch taken must be at least this (see sched_leader_fenced) */
    floe_rc rc;
    bool held;
    uint64_t epoch;
    char current[128];
    floe_err err;
} lease_job;

struct sched_leader {
    struct event_base *base;
    const floe_config *cfg;
    sched_leader_callbacks cb;
    char holder[128];
    floe_pool *pool;
    struct event *tick_ev;
    struct event *kick_ev; /* the first renew now; not tick_ev itself (see sched_lp.c) */
    lease_job job;
    bool job_busy;
    bool leader;
    bool ignore_deadline; /* test builds: never demote by itself; only the Redis fence can */
    bool tick_late;       /* test builds: once it has led, the timer never runs again */
    bool stopping;
    uint64_t epoch;
    uint64_t floor;      /* lowest epoch Redis will accept, learnt from a fenced write */
    int64_t deadline_us; /* leader until then, unless renewed */
    floe_metric *m_leader, *m_epoch, *m_changes;
    floe_log_ctx log;
    char last_seen[128];
};

/* The lease's statements must end well inside a renewal period, or a blocked renewal
 * outlives the deadline it was meant to extend (review H7). */
static int64_t
lease_pg_timeout(const floe_config *cfg)
{
    int64_t t = cfg->leader_lease_ms / 3;
    return t < cfg->postgres_timeout_ms ? t : cfg->postgres_timeout_ms;
}

static void *
thread_init(void *arg)
{
    sched_leader *l = arg;
    floe_err err = {0};
    store_pg *pg = store_pg_connect(l->cfg->postgres_url, "floe-scheduler-lease",
                                    lease_pg_timeout(l->cfg), &err);
    if (pg == NULL)
        floe_log_warn(&l->log, "lease: %s", err.msg);
    return pg;
}

static void
thread_fini(void *ctx)
{
    store_pg_close(ctx);
}

static void
lease_work(void *ctx, void *arg)
{
    lease_job *j = arg;
    store_pg *pg = ctx;
    if (pg == NULL) {
        j->rc = floe_err_sys(&j->err, FLOE_EIO, "no PostgreSQL connection");
        return;
    }
    if ((j->rc = store_pg_ensure(pg, &j->err)) != FLOE_OK)
        return;
    j->rc = store_lease_acquire(pg, LEASE_NAME, j->l->holder, j->l->cfg->leader_lease_ms, j->floor,
                                &j->held, &j->epoch, j->current, &j->err);
}

static void
lease_demote(sched_leader *l, const char *why)
{
    if (!l->leader)
        return;
    l->leader = false;
    floe_metric_set(l->m_leader, 0);
    floe_metric_add(l->m_changes, 1);
    floe_log_warn(&l->log, "leadership lost (epoch %" PRIu64 "): %s", l->epoch, why);
    if (l->cb.on_demoted != NULL)
        l->cb.on_demoted(l->epoch, why, l->cb.arg);
}

static void
lease_done(void *arg)
{
    lease_job *j = arg;
    sched_leader *l = j->l;
    l->job_busy = false;
    if (l->stopping)
        return;
    if (j->rc != FLOE_OK) {
        /* Keep leading until the deadline: PostgreSQL may answer the next renew. */
        floe_log_warn(&l->log, "lease: %s", j->err.msg);
        return;
    }
    if (!j->held) {
        if (l->leader && !l->ignore_deadline)
            lease_demote(l, "the lease belongs to another replica");
        if (strcmp(l->last_seen, j->current) != 0) {
            floe_log_info(&l->log, "standby: leader is %s (epoch %" PRIu64 ")", j->current,
                          j->epoch);
            snprintf(l->last_seen, sizeof(l->last_seen), "%s", j->current);
        }
        return;
    }
    if (l->leader && j->epoch != l->epoch)
        lease_demote(l, "the lease lapsed and was taken again under a new epoch");
    /* 90 %: room for the two clocks running at slightly different rates. */
    int64_t deadline = j->sent_us + l->cfg->leader_lease_ms * 900;
    if (floe_mono_us() >= deadline) {
        if (l->leader)
            lease_demote(l, "renewed too late");
        return;
    }
    l->deadline_us = deadline;
    if (!l->leader) {
        l->leader = true;
        l->epoch = j->epoch;
        floe_metric_set(l->m_leader, 1);
        floe_metric_set(l->m_epoch, (int64_t)j->epoch);
        floe_metric_add(l->m_changes, 1);
        l->last_seen[0] = '\0';
        floe_log_info(&l->log, "elected leader (epoch %" PRIu64 ", holder %s)", l->epoch,
                      l->holder);
        if (l->cb.on_elected != NULL)
            l->cb.on_elected(l->epoch, l->cb.arg);
    }
}

static void
lease_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sched_leader *l = arg;
    if (l->tick_late && l->epoch != 0) /* has led: never again, not even to stand by */
        return;
    if (l->leader && !l->ignore_deadline && floe_mono_us() >= l->deadline_us)
        lease_demote(l, "renew deadline passed");
    if (l->job_busy)
        return;
    memset(&l->job, 0, sizeof(l->job));
    l->job.l = l;
    l->job.floor = l->floor;
    l->job.sent_us = floe_mono_us();
    if (floe_pool_submit(l->pool, lease_work, lease_done, &l->job) == FLOE_OK)
        l->job_busy = true;
}

sched_leader *
sched_leader_new(struct event_base *base, const floe_config *cfg, floe_metrics *m,
                 const char *holder, const sched_leader_callbacks *cb, floe_err *err)
{
    sched_leader *l = floe_calloc(1, sizeof(*l));
    if (l == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "lease: out of memory");
        return NULL;
    }
    l->base = base;
    l->cfg = cfg;
    l->cb = *cb;
    l->log.comp = "leader";
    snprintf(l->holder, sizeof(l->holder), "%s", holder);
#ifdef FLOE_TESTING
    const char *t = getenv("FLOE_TEST_LEASE_IGNORE_DEADLINE");
    l->ignore_deadline = t != NULL && strcmp(t, "1") == 0;
    /* A loop that has not yet served the lease's timer when its deadline passes (resumed
     * after a pause): only the checks where the engine acts can see it (review M12). */
    t = getenv("FLOE_TEST_LEASE_TICK_LATE");
    l->tick_late = t != NULL && strcmp(t, "1") == 0;
#endif
    l->m_leader = floe_metrics_gauge(m, "floe_scheduler_is_leader",
                                     "1 on the elected leader, 0 on a standby", NULL);
    l->m_epoch = floe_metrics_gauge(m, "floe_scheduler_leader_epoch",
                                    "epoch of this replica's last leadership term", NULL);
    l->m_changes = floe_metrics_counter(m, "floe_scheduler_leadership_changes_total",
                                        "times this replica was elected or demoted", NULL);
    floe_metric_set(l->m_leader, 0);
    floe_pool_config pc = {.threads = 1,
                           .queue_max = 4,
                           .thread_init = thread_init,
                           .thread_fini = thread_fini,
                           .arg = l,
                           .name = "leader"};
    l->pool = floe_pool_new(base, &pc, err);
    l->tick_ev = event_new(base, -1, EV_PERSIST, lease_tick, l);
    l->kick_ev = event_new(base, -1, 0, lease_tick, l);
    if (l->pool == NULL || l->tick_ev == NULL || l->kick_ev == NULL) {
        if (l->pool != NULL)
            floe_err_sys(err, FLOE_ENOMEM, "lease: out of memory");
        sched_leader_free(l);
        return NULL;
    }
    int64_t every = cfg->leader_lease_ms / 3;
    struct timeval tv = {every / 1000, (every % 1000) * 1000};
    event_add(l->tick_ev, &tv);
    event_active(l->kick_ev, EV_TIMEOUT, 0);
    return l;
}

void
sched_leader_free(sched_leader *l)
{
    if (l == NULL)
        return;
    l->stopping = true;
    if (l->tick_ev != NULL)
        event_free(l->tick_ev);
    if (l->kick_ev != NULL)
        event_free(l->kick_ev);
    floe_pool_free(l->pool); /* waits for a renew in flight */
    if (l->leader) {
        floe_err err = {0};
        store_pg *pg = store_pg_connect(l->cfg->postgres_url, "floe-scheduler-lease",
                                        lease_pg_timeout(l->cfg), &err);
        if (pg == NULL || store_lease_release(pg, LEASE_NAME, l->holder, l->epoch, &err) != FLOE_OK)
            floe_log_warn(&l->log, "lease: could not give it up: %s", err.msg);
        else
            floe_log_info(&l->log, "gave up the lease (epoch %" PRIu64 ")", l->epoch);
        store_pg_close(pg);
        l->leader = false;
        floe_metric_set(l->m_leader, 0);
    }
    floe_free(l);
}

bool
sched_leader_valid(sched_leader *l)
{
    if (l->leader && !l->ignore_deadline && floe_mono_us() >= l->deadline_us)
        lease_demote(l, "renew deadline passed");
    return l->leader;
}

uint64_t
sched_leader_epoch(const sched_leader *l)
{
    return l->epoch;
}

void
sched_leader_fenced(sched_leader *l, const char *why)
{
    /* Redis names the epoch it holds ("epoch A is older than B"). A newer leader explains
     * it, and then this replica cannot take the lease anyway. But when no one holds a
     * higher epoch in PostgreSQL (restored from a backup, failed over to a lagging replica,
     * or Redis's key written by someone else), the same holder would renew the same epoch
     * and be refused again for ever (review H8): the next acquire takes B + 1. */
    const char *p = strstr(why, "is older than ");
    unsigned long long seen = 0;
    if (p != NULL && sscanf(p, "is older than %llu", &seen) == 1 && seen >= l->epoch &&
        seen < UINT64_MAX && seen + 1 > l->floor) {
        l->floor = seen + 1;
        floe_log_error(&l->log,
                       "lease: Redis holds epoch %llu, above ours (%" PRIu64
                       "); the lease will be taken at epoch %llu or above",
                       seen, l->epoch, seen + 1);
    }
    lease_demote(l, why);
}
