/*
 * sched_engine — the engine's top: its life (new, lead, stop, free), a term's start with
 * its bus, timers and pool, and the composition of the modules below it: the upward
 * calls they make go through e->next, set here, so no engine file depends on one above
 * it (the term's plumbing is sched_term.c).
 */
#include "sched_engine_int.h"

#include "floe_mem.h"
#include "floe_time.h"
#include "store_blob.h"
#include "store_pg.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ENG_SWEEP_MS 100

const eng_feature *const eng_no_features[] = {NULL};

static void
term_on_message(floe_bus *bus, const floe_bus_msg *msg, void *arg)
{
    (void)bus;
    eng_term *t = arg;
    if (eng_leading(t))
        eng_on_bus(t, msg);
}

static void
term_on_delivered(floe_bus *bus, void *opaque, floe_rc rc, const char *reason, void *arg)
{
    (void)bus;
    (void)arg;
    eng_op *op = opaque;
    if (op == NULL)
        return;
    if (op->delivered != NULL)
        op->delivered(op, rc, reason);
    else
        eng_op_free(op);
}

static void
term_on_rebalance(floe_bus *bus, bool assigned, int n, void *arg)
{
    (void)bus;
    eng_term *t = arg;
    floe_log_info(&t->log, "events partitions %s (%d held)", assigned ? "assigned" : "revoked", n);
}

static void
term_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    eng_term *t = arg;
    if (eng_leading(t))
        eng_sweep(t);
}

static void
term_ack_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    eng_term *t = arg;
    if (!t->dead)
        eng_flush_acks(t);
}

/* Runs outside bus callbacks: closing the consumer serves callbacks of its own. */
static void
term_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    eng_term *t = arg;
    floe_bus *bus = t->bus;
    t->bus = NULL;
    floe_bus_free(bus);
    event_free(t->sweep_ev);
    event_free(t->ack_ev);
    event_free(t->free_ev);
    eng_handoff_free(t);
    floe_log_info(&t->log, "term ended; left the consumer group");
    eng_term_unref(t);
}

static eng_term *
term_start(sched_engine *e, uint64_t epoch)
{
    eng_term *t = floe_calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->e = e;
    t->epoch = epoch;
    t->refs = 1;
    t->log = (floe_log_ctx){.comp = "engine", .epoch = epoch};
    floe_err err = {0};
    floe_bus_callbacks cb = {.on_message = term_on_message,
                             .on_delivered = term_on_delivered,
                             .on_rebalance = term_on_rebalance,
                             .arg = t};
    char group[160];
    snprintf(group, sizeof(group), "%s-scheduler", e->cfg->topic_prefix);
    const char *topics[] = {e->topic_events};
    t->execs = floe_map_new(256);
    t->sweep_ev = event_new(e->base, -1, EV_PERSIST, term_sweep_cb, t);
    t->ack_ev = event_new(e->base, -1, 0, term_ack_cb, t);
    t->free_ev = event_new(e->base, -1, 0, term_free_cb, t);
    t->egress = eng_egress_new(t);
    if (t->execs == NULL || t->sweep_ev == NULL || t->ack_ev == NULL || t->free_ev == NULL ||
        t->egress == NULL)
        goto fail;
    char tasks[160];
    floe_config_topic(e->cfg, "tasks.", tasks, sizeof(tasks));
    if ((t->bus = floe_bus_new(e->base, e->cfg, &cb, &err)) != NULL)
        floe_bus_count_into(t->bus, e->metrics, "engine");
    if (t->bus == NULL ||
        floe_bus_group_partitions(t->bus, tasks, (unsigned)e->cfg->dispatch_group, &err) !=
            FLOE_OK ||
        floe_bus_subscribe(t->bus, group, topics, 1, &err) != FLOE_OK) {
        floe_log_error(&t->log, "engine cannot start: %s", err.msg);
        goto fail;
    }
    for (const eng_feature *const *f = ENG_FEATURES(e); *f != NULL; f++)
        if ((*f)->start != NULL && !(*f)->start(t)) {
            floe_log_error(&t->log, "engine cannot start: out of memory (%s)", (*f)->name);
            goto fail;
        }
    struct timeval tv = {0, ENG_SWEEP_MS * 1000};
    event_add(t->sweep_ev, &tv);
    return t;
fail:
    eng_handoff_free(t);
    floe_bus_free(t->bus);
    if (t->sweep_ev != NULL)
        event_free(t->sweep_ev);
    if (t->ack_ev != NULL)
        event_free(t->ack_ev);
    if (t->free_ev != NULL)
        event_free(t->free_ev);
    eng_egress_free(t->egress);
    floe_map_free(t->execs);
    floe_free(t);
    return NULL;
}

static void
restart_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sched_engine *e = arg;
    if (e->term != NULL || e->restart_epoch == 0)
        return;
    if (!store_redis_connected(e->redis)) {
        struct timeval tv = {0, ENG_RESTART_MS * 1000};
        event_add(e->restart_ev, &tv);
        return;
    }
    uint64_t epoch = e->restart_epoch;
    e->restart_epoch = 0;
    floe_metric_add(e->m_restarts, 1);
    sched_engine_lead(e, epoch);
}

void
sched_engine_lead(sched_engine *e, uint64_t epoch)
{
    if (e->term != NULL)
        eng_term_end(e, "a new term starts");
    e->restart_epoch = 0;
    eng_term *t = term_start(e, epoch);
    if (t == NULL) {
        /* Kafka or memory: try again shortly under the same epoch. */
        e->restart_epoch = epoch;
        struct timeval tv = {0, ENG_RESTART_MS * 1000};
        event_add(e->restart_ev, &tv);
        return;
    }
    e->term = t;
    if (e->hooks.on_term != NULL)
        e->hooks.on_term(epoch, e->hooks.arg);
    floe_log_info(&t->log, "engine leads (epoch %" PRIu64 "): re-sending the outbox", epoch);
    t->outbox_offset = 0;
    eng_outbox_scan(t);
}

/* The request goes where one consumed from Kafka would (eng_on_bus), with a position of
 * its own that the term holds it by until its effect is acknowledged (sched_handoff.c): a
 * term that ends first produces it to the bus for the next. The row the API recorded
 * QUEUED keeps it durable across a crash (the reconcile sweep). The API hands it over on
 * the loop thread before answering, so anything later about the execution (a terminate)
 * comes after it. While the term's intake is paused, or holds ENG_HANDOFF_MAX, the request
 * takes the bus, whose backlog waits in Kafka, not here. */
bool
sched_engine_request(sched_engine *e, const Floe__ExecutionRequested *req, uint64_t started)
{
    eng_term *t = e->term;
    floe_bus_pos pos;
    if (t == NULL || !eng_leading(t) || t->bus == NULL || floe_bus_paused(t->bus) ||
        !eng_handoff_add(t, req, started != 0 && started == t->epoch, &pos))
        return false;
    floe_envelope env = {.type = FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED,
                         .time_unix_us = floe_now_us(),
                         .producer = "api",
                         .msg = &req->base,
                         .key_id = ""};
    floe_bus_msg msg = {.topic = e->topic_events,
                        .key = req->execution_id,
                        .key_len = strlen(req->execution_id),
                        .env = &env,
                        .pos = pos};
    eng_on_bus(t, &msg);
    return true;
}

void
sched_engine_stop(sched_engine *e, const char *why)
{
    e->restart_epoch = 0;
    eng_term_end(e, why);
}

/* --- Engine ---------------------------------------------------------------------------- */

static void *
pool_init(void *arg)
{
    sched_engine *e = arg;
    floe_err err = {0};
    store_pg *pg = store_pg_connect(e->cfg->postgres_url, "floe-scheduler-engine",
                                    e->cfg->postgres_timeout_ms, &err);
    if (pg == NULL)
        floe_log_warn(&e->log, "engine: %s", err.msg);
    return pg;
}

static void
pool_fini(void *ctx)
{
    store_pg_close(ctx);
}

static void
metrics_init(sched_engine *e)
{
    floe_metrics *m = e->metrics;
    static const struct {
        Floe__MessageType type;
        const char *label;
    } types[] = {
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, "type=\"ExecutionRequested\""},
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED, "type=\"TaskStarted\""},
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, "type=\"TaskSucceeded\""},
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, "type=\"TaskFailed\""},
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED, "type=\"DataPublished\""},
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED, "type=\"LineageRecorded\""},
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_TERMINATE, "type=\"ExecutionTerminate\""},
        {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED, "type=\"GateResolved\""},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        e->m_events[types[i].type] =
            floe_metrics_counter(m, "floe_engine_events_total",
                                 "events consumed from <prefix>.events, by type", types[i].label);
    e->m_noop =
        floe_metrics_counter(m, "floe_engine_events_noop_total",
                             "events that changed nothing (duplicates, stale attempts)", NULL);
    e->m_fenced = floe_metrics_counter(m, "floe_engine_fenced_total",
                                       "writes refused because a newer leader epoch exists", NULL);
    for (unsigned i = 0; i < e->n_classes; i++) {
        char label[96];
        snprintf(label, sizeof(label), "class=\"%s\"", e->classes[i]);
        e->m_dispatched[i] = floe_metrics_counter(m, "floe_engine_dispatches_total",
                                                  "task dispatches acknowledged by Kafka, by "
                                                  "resource class",
                                                  label);
    }
    e->m_dlq = floe_metrics_counter(m, "floe_engine_events_rejected_total",
                                    "events dead-lettered for their own content", NULL);
    e->m_dispatch_fail = floe_metrics_counter(
        m, "floe_engine_dispatch_failures_total",
        "dispatches Kafka did not take (left in the outbox and sent again)", NULL);
    e->m_ready_lat = floe_metrics_histogram(
        m, "floe_engine_ready_to_dispatch_seconds",
        "from a node becoming ready (script answer) to its dispatch being queued to Kafka", NULL);
    e->m_running = floe_metrics_gauge(m, "floe_engine_executions_in_memory",
                                      "executions the leader holds in memory", NULL);
    e->m_outbox =
        floe_metrics_gauge(m, "floe_engine_outbox_depth",
                           "dispatches recorded in the outbox, not yet acknowledged", NULL);
    e->m_lease_exp = floe_metrics_counter(m, "floe_engine_lease_expiries_total",
                                          "attempts whose worker lease expired", NULL);
    e->m_retry_user = floe_metrics_counter(m, "floe_engine_retries_total",
                                           "attempts retried, by error kind", "kind=\"USER\"");
    e->m_retry_sys = floe_metrics_counter(m, "floe_engine_retries_total",
                                          "attempts retried, by error kind", "kind=\"SYSTEM\"");
    static const char *const cache_results[] = {"hit", "miss", "wait", "recorded", "stale"};
    for (int i = 0; i < 5; i++) {
        char label[48];
        snprintf(label, sizeof(label), "result=\"%s\"", cache_results[i]);
        e->m_cache[i] = floe_metrics_counter(
            m, "floe_engine_cache_total",
            "catalog look-ups of cacheable attempts (hit, miss), waits for an identical run "
            "under way, results recorded, entries dropped because a blob of theirs was gone "
            "from the blob store (stale)",
            label);
    }
    for (int p = 4; p <= 8; p++) {
        char label[48];
        snprintf(label, sizeof(label), "phase=\"%s\"", floe_phase_name(p));
        if (p != 7)
            e->m_finished[p] =
                floe_metrics_counter(m, "floe_engine_executions_finished_total",
                                     "executions that reached a terminal phase, by phase", label);
    }
    e->m_restarts = floe_metrics_counter(m, "floe_engine_term_restarts_total",
                                         "terms restarted after a Redis or Kafka failure", NULL);
}

static floe_rc
classes_init(sched_engine *e, floe_err *err)
{
    const char *p = e->cfg->resource_classes;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        if (len > 0) {
            if (e->n_classes == ENG_CLASSES_MAX || len >= sizeof(e->classes[0]))
                return floe_err_user(err, FLOE_EINVAL, "resource.classes: too many or too long");
            memcpy(e->classes[e->n_classes], p, len);
            e->classes[e->n_classes][len] = '\0';
            char suffix[80];
            snprintf(suffix, sizeof(suffix), "tasks.%s", e->classes[e->n_classes]);
            if (floe_config_topic(e->cfg, suffix, e->class_topics[e->n_classes],
                                  sizeof(e->class_topics[0])) != FLOE_OK)
                return floe_err_user(err, FLOE_EINVAL, "resource class topic name too long");
            e->n_classes++;
        }
        p += len + (comma != NULL);
        if (comma == NULL)
            break;
    }
    return FLOE_OK;
}

sched_engine *
sched_engine_new(struct event_base *base, const floe_config *cfg, floe_metrics *m,
                 const sched_engine_hooks *hooks, floe_err *err)
{
    sched_engine *e = floe_calloc(1, sizeof(*e));
    if (e == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "engine: out of memory");
        return NULL;
    }
    e->base = base;
    e->cfg = cfg;
    e->metrics = m;
    e->hooks = *hooks;
    e->log.comp = "engine";
    if (floe_config_topic(cfg, "events", e->topic_events, sizeof(e->topic_events)) != FLOE_OK ||
        floe_config_topic(cfg, "egress", e->topic_egress, sizeof(e->topic_egress)) != FLOE_OK) {
        floe_err_user(err, FLOE_EINVAL, "engine: topic prefix too long");
        goto fail;
    }
    if (classes_init(e, err) != FLOE_OK)
        goto fail;
    metrics_init(e);
    floe_pool_config pc = {.threads = (unsigned)cfg->engine_threads,
                           .queue_max = 100000,
                           .thread_init = pool_init,
                           .thread_fini = pool_fini,
                           .arg = e,
                           .name = "engine"};
    if ((e->redis = store_redis_new(base, cfg->redis_url, (int)cfg->redis_timeout_ms, err)) ==
            NULL ||
        (e->pool = floe_pool_new(base, &pc, err)) == NULL)
        goto fail;
    /* A cache entry outlives its blobs when a bucket's lifecycle rule expires them or the
     * installation moves to another store: a hit is checked against the store. Without
     * one (it could not be opened: the API says why too) hits are taken as they are. */
    floe_err berr;
    if ((e->blobs = store_blob_open_config(cfg, &berr)) == NULL)
        floe_log_warn(&e->log, "blob store: %s; cache hits are not checked for their blobs",
                      berr.msg);
    e->plans = floe_map_new(64);
    e->scratch = floe_arena_new(65536, (size_t)cfg->bus_max_message_bytes * 8);
    e->restart_ev = event_new(base, -1, 0, restart_cb, e);
    e->next = (eng_next){.exec_release = eng_exec_release,
                         .drop_execs = eng_term_drop_execs,
                         .exec_loaded = eng_exec_loaded,
                         .run_item = eng_run_item,
                         .handle_message = eng_handle_message,
                         .node_cached = eng_node_cached,
                         .dispatch_keyed = eng_dispatch_keyed,
                         .dispatch_member = eng_dispatch_member,
                         .node_done = eng_node_done,
                         .map_failed = eng_map_failed,
                         .state_reply = eng_state_reply,
                         .gate_failed = eng_gate_failed,
                         .node_failed_by = eng_node_failed_by,
                         .lease_lost = eng_lease_lost};
    if (e->plans == NULL || e->scratch == NULL || e->restart_ev == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "engine: out of memory");
        goto fail;
    }
    return e;
fail:
    sched_engine_free(e);
    return NULL;
}

void
sched_engine_free(sched_engine *e)
{
    if (e == NULL)
        return;
    sched_engine_stop(e, "shutting down");
    /* Pool jobs of ended terms finish and drop their results. */
    floe_pool_free(e->pool);
    e->pool = NULL;
    /* Pending Redis replies fail (FLOE_ESTATE) and release their terms. */
    store_redis_free(e->redis);
    e->redis = NULL;
    store_blob_free(e->blobs);
    e->blobs = NULL;
    /* A term whose bus is still to be closed: do it now. */
    event_base_loop(e->base, EVLOOP_NONBLOCK);
    if (e->plans != NULL) {
        size_t pos = 0;
        eng_plan *p;
        /* Deleting moves entries: start the walk again after each one. */
        while ((p = floe_map_next(e->plans, &pos)) != NULL) {
            floe_map_del(e->plans, p->ref);
            sched_plan_free(p->plan);
            floe_free(p->ref);
            floe_free(p);
            pos = 0;
        }
        floe_map_free(e->plans);
    }
    while (e->free_ops != NULL) {
        eng_op *op = e->free_ops;
        e->free_ops = op->next;
        floe_free(op);
    }
    if (e->restart_ev != NULL)
        event_free(e->restart_ev);
    floe_arena_free(e->scratch);
    floe_free(e->csv);
    floe_free(e->closure);
    floe_free(e->fx);
    floe_free(e->fx_items);
    floe_free(e->mark);
    floe_free(e);
}
