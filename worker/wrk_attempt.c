/*
 * wrk_attempt — one attempt's life in a worker, on the event loop:
 *
 *   received ──▶ (backlog while full) ──▶ CLAIMING ──claim ok──▶ PREPARING ──▶ RUNNING
 *                                            │ dup/stale: dropped      (pool)    (executor)
 *                                            ▼                                     │
 *                      finished ◀── PUBLISHING ◀────────── COLLECTING (pool) ◀─────┘
 *
 * The Kafka offset is stored (ack) once Redis answered the claim: before that, a crash
 * means the dispatch is delivered again; after it, the claim's lease covers the attempt
 * (a lost worker's lease expires and the engine retries). TaskStarted is published when
 * the claim is made; the result (TaskSucceeded + LineageRecorded, or TaskFailed) after
 * the outputs are typed and uploaded (the messages themselves: wrk_result.c). The lease is renewed
 * every third of its length until the result is acknowledged by the broker; a renewal answered
 * "abort" (execution ended, attempt superseded) or "lost" stops the task and publishes nothing.
 *
 * File work (inputs, outputs, logs, removing the directory) runs on the pool: while a job
 * is out, the loop only sets flags on the attempt. An attempt is freed once nothing refers
 * to it: no Redis request, pool job or delivery outstanding.
 */
#include "wrk_att.h"
#include "wrk_dirs.h"
#include "wrk_fence.h"

#include "floe_fault.h"

#include "floe_arena.h"
#include "floe_digest.h"
#include "floe_map.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "floe_value.h"
#include "store_state.h"
#include "store_valref.h"
#include "wrk_io.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATT_CLAIM_RETRY_MS 500
#define ATT_ARENA_CHUNK 16384
#define ATT_ARENA_LIMIT (256u << 20) /* a large output list decoded (issue 23) */

static void att_pump(wrk *w);
static void att_start_claim(wrk_att *att);

/* --- lifetime -------------------------------------------------------------------------- */

/* Out of the lease fence before the run's group can be reaped and its id reused; true
 * when the fence killed the task (its lease ran out while the worker was frozen). */
static bool
unfence(wrk_att *att)
{
    if (att->fence < 0)
        return false;
    bool killed = wrk_fence_remove(att->fence);
    att->fence = -1;
    return killed;
}

/* The lease as this worker last renewed it has run out: the engine may have retried the
 * attempt elsewhere, so this run must publish nothing (review M3). */
static bool
lease_lapsed(const wrk_att *att)
{
    return att->lease_ok_mono > 0 &&
           floe_mono_us() - att->lease_ok_mono >= (int64_t)att->lease_ms * 1000;
}

static void
lapse(wrk_att *att, const char *why)
{
    floe_log_warn(&att->log, "stopping the attempt: its lease was not renewed for %u ms (%s)",
                  att->lease_ms, why);
    floe_metric_add(att->w->m_lost, 1);
    att->aborted = true;
}

static void
att_free(wrk_att *att)
{
    if (att->key[0] != '\0' && floe_map_get(att->w->keys, att->key) == att)
        floe_map_del(att->w->keys, att->key);
    if (att->beat != NULL)
        event_free(att->beat);
    if (att->timeout != NULL)
        event_free(att->timeout);
    if (att->retry != NULL)
        event_free(att->retry);
    if (att->ship != NULL)
        event_free(att->ship);
    if (att->started != NULL)
        event_free(att->started);
    unfence(att);
    if (att->run != NULL)
        att->w->exec[att->kind]->ops->run_free(att->run);
    floe__task_dispatch__free_unpacked(att->d, NULL);
    wrk_secrets_wipe(&att->secrets);
    floe_arena_free(att->arena);
    floe_free(att->inputs_json);
    floe_free(att->tail);
    floe_free(att);
}

void
wrk_att_maybe_free(wrk_att *att)
{
    if (att->state == ATT_DONE && att->redis_out == 0 && att->deliveries_out == 0 &&
        !att->job_out && !att->ship_out)
        att_free(att);
}

static void
att_unlink(wrk_att *att)
{
    wrk *w = att->w;
    if (!att->linked)
        return;
    if (att->prev != NULL)
        att->prev->next = att->next;
    else
        w->active = att->next;
    if (att->next != NULL)
        att->next->prev = att->prev;
    att->linked = false;
    w->n_active--;
    if (att->unslotted)
        w->n_publishing--;
    floe_metric_set(w->m_running, w->n_active - w->n_publishing);
}

/* Attempts holding one of worker.concurrency's slots: claimed and not yet published. */
static bool
slot_free(const wrk *w)
{
    return w->n_active - w->n_publishing < (unsigned)w->cfg->worker_concurrency;
}

void
wrk_att_unslot(wrk_att *att)
{
    wrk *w = att->w;
    if (!att->linked || att->unslotted)
        return;
    att->unslotted = true;
    w->n_publishing++;
    floe_metric_set(w->m_running, w->n_active - w->n_publishing);
    att_pump(w);
}

/* The result is in Kafka, but the engine may read it only after a failover or a backlog
 * longer than the lease: were the lease left to run out, a success would become a SYSTEM
 * lease_expired and run again (review H3). The lease is stretched to worker.result_hold
 * (with many others, within a quarter of the lease: wrk_hold.c); the engine applying the
 * result ends it sooner. */
static void
hold_lease(wrk_att *att)
{
    const Floe__TaskDispatch *d = att->d;
    uint32_t hold = (uint32_t)att->w->cfg->worker_result_hold_ms;
    if (hold > att->lease_ms)
        wrk_hold_add(att->w, d->execution_id, d->node_index, d->attempt, att->lease_ms);
}

/* The attempt needs nothing more from this worker. */
void
wrk_att_finish(wrk_att *att)
{
    wrk *w = att->w;
    if (att->state == ATT_PUBLISHING && !att->undelivered && !att->aborted)
        hold_lease(att);
    att->state = ATT_DONE;
    if (floe_map_get(w->keys, att->key) == att)
        floe_map_del(w->keys, att->key);
    if (att->beat != NULL)
        event_del(att->beat);
    if (att->timeout != NULL)
        event_del(att->timeout);
    if (att->ship != NULL)
        event_del(att->ship);
    if (att->started != NULL)
        event_del(att->started);
    att_unlink(att);
    wrk_att_maybe_free(att);
    att_pump(w);
}

/* --- releasing (shutdown) --------------------------------------------------------------- */

static void
release_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    (void)rep;
    wrk_att *att = arg;
    att->redis_out--;
    if (err != NULL)
        floe_log_warn(&att->log, "release: %s (the lease expires instead)", err->msg);
    wrk_res_count(att, "released");
    wrk_att_finish(att);
}

void
wrk_att_release(wrk_att *att)
{
    const Floe__TaskDispatch *d = att->d;
    att->state = ATT_RELEASING;
    if (store_state_release(att->w->redis, d->execution_id, d->node_index, d->attempt,
                            att->w->worker_id, release_reply, att) == FLOE_OK) {
        att->redis_out++;
        return;
    }
    wrk_res_count(att, "released");
    wrk_att_finish(att);
}

/* --- running --------------------------------------------------------------------------- */

static void
on_exec_done(plug_run *run, const plug_result *res, void *arg)
{
    (void)run;
    wrk_att *att = arg;
    bool fenced = unfence(att);
    if (fenced)
        floe_metric_add(att->w->m_fenced, 1);
    if (!att->aborted && (fenced || lease_lapsed(att)))
        lapse(att, fenced ? "killed by the lease fence: the worker was frozen past it"
                          : "the task ended after its lease");
    att->res = *res;
    att->run_end_us = floe_now_us();
    if (att->timeout != NULL)
        event_del(att->timeout);
    if (res->end == PLUG_END_ERROR) {
        att->err = res->err;
        att->state = ATT_COLLECTING;
        if (att->aborted || att->released) {
            wrk_att_collect(att);
            return;
        }
        wrk_att_fail_and_clean(att, res->err.cls == FLOE_ERR_USER ? FLOE_ERR_USER : FLOE_ERR_SYSTEM,
                               "executor", res->err.msg);
        return;
    }
    wrk_att_collect(att);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wrk_att *att = arg;
    if (att->state != ATT_RUNNING || att->run == NULL)
        return;
    att->timed_out = true;
    floe_log_info(&att->log, "timeout after %u ms: stopping the task", att->d->timeout_ms);
    att->w->exec[att->kind]->ops->kill(att->run);
}

void
wrk_att_run(wrk_att *att)
{
    wrk *w = att->w;
    const Floe__TaskDispatch *d = att->d;
    const Floe__Container *c = d->container;
    char in[PATH_MAX], out[PATH_MAX], so[PATH_MAX], se[PATH_MAX];
    /* As many as a spec may declare (spec_task.c: 256); a dispatch with more is not ours
     * and its extra entries are dropped with a warning (review M2). */
    enum { ENV_MAX = 256 };
    const char *env[ENV_MAX];
    size_t n_env = 0;
    snprintf(in, sizeof(in), "%s/inputs", att->dir);
    snprintf(out, sizeof(out), "%s/outputs", att->dir);
    snprintf(so, sizeof(so), "%s/stdout", att->dir);
    snprintf(se, sizeof(se), "%s/stderr", att->dir);
    if (c != NULL && c->n_env > ENV_MAX)
        floe_log_warn(&att->log, "the dispatch has %zu environment variables; the first %d pass",
                      c->n_env, ENV_MAX);
    for (size_t i = 0; c != NULL && i < c->n_env && n_env < ENV_MAX; i++) {
        const Floe__KeyValue *kv = c->env[i];
        size_t len = strlen(kv->key) + strlen(kv->value) + 2;
        char *s = floe_arena_alloc(att->arena, len);
        if (s == NULL)
            break;
        snprintf(s, len, "%s=%s", kv->key, kv->value);
        env[n_env++] = s;
    }
    /* A pod's variables are in its spec, which the cluster stores and shows: a pod gets
     * references to a Kubernetes Secret instead of values. */
    plug_secret secrets[FLOE_SECRETS_MAX];
    size_t n_secrets = 0;
    for (size_t i = 0; att->kind != WRK_KUBE && i < att->secrets.n_env && n_env < ENV_MAX; i++)
        env[n_env++] = att->secrets.env[i];
    for (size_t i = 0;
         att->kind == WRK_KUBE && c != NULL && i < c->n_secrets && n_secrets < FLOE_SECRETS_MAX;
         i++)
        secrets[n_secrets++] = (plug_secret){
            .name = c->secrets[i]->name, .env = c->secrets[i]->env, .file = c->secrets[i]->file};
    plug_spec spec = {
        .exec = d->execution_id,
        .node = d->node_id,
        .attempt = d->attempt,
        .run_id = att->run_id,
        .argv = (const char *const *)c->command,
        .argc = c->n_command,
        .env = env,
        .n_env = n_env,
        .rootfs = att->rootfs != NULL ? att->rootfs : c->rootfs,
        .image = c->image,
        .dir = att->dir,
        .inputs_dir = in,
        .outputs_dir = out,
        .secrets_dir = att->kind != WRK_KUBE ? att->secrets.dir : NULL,
        .secrets = secrets,
        .n_secrets = n_secrets,
        .inputs_json = att->inputs_json,
        .stdout_path = so,
        .stderr_path = se,
        .cpu_millis = d->resources != NULL ? d->resources->cpu_millis : 0,
        .memory_bytes = d->resources != NULL ? d->resources->memory_bytes : 0,
        .gpus = d->resources != NULL ? d->resources->gpu : 0,
        .pod_inputs = att->pod_in,
        .n_pod_inputs = att->n_pod_in,
        .pod_outputs = att->pod_out,
        .n_pod_outputs = att->n_pod_out,
    };
    floe_err err = {0};
    att->state = ATT_RUNNING;
    att->run_start_us = floe_now_us();
    if (w->exec[att->kind]->ops->start(w->exec[att->kind], &spec, on_exec_done, att, &att->run,
                                       &err) != FLOE_OK) {
        att->run = NULL;
        att->run_end_us = att->run_start_us;
        wrk_att_fail_and_clean(att, err.cls == FLOE_ERR_USER ? FLOE_ERR_USER : FLOE_ERR_SYSTEM,
                               "start", err.msg);
        return;
    }
    const plug_ops *ops = w->exec[att->kind]->ops;
    pid_t group = ops->group != NULL ? ops->group(att->run) : 0;
    if (group > 0 && att->lease_ok_mono > 0)
        att->fence = wrk_fence_add(group, att->lease_ok_mono + (int64_t)att->lease_ms * 1000);
    /* From the task's start, on this process's monotonic clock (review M1): time spent in
     * Kafka or in the backlog, and skew between the leader's clock and ours, are not the
     * task's and must not become its USER timeout. */
    int64_t ms = d->timeout_ms;
    if (ms > 0 && (att->timeout = evtimer_new(w->base, on_timeout, att)) != NULL) {
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(att->timeout, &tv);
    }
    wrk_ship_start(att);
}

/* --- claiming and heartbeats ----------------------------------------------------------- */

static void
beat_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    wrk_att *att = arg;
    att->redis_out--;
    att->beat_out = false;
    if (err == NULL && att->state != ATT_DONE) {
        store_state_res res;
        store_state_parse(rep, &res);
        if (res.st == STORE_ST_OK) {
            att->lease_ok_mono = att->lease_sent_mono;
            if (att->fence >= 0)
                wrk_fence_move(att->fence, att->lease_ok_mono + (int64_t)att->lease_ms * 1000);
        }
        if (res.st == STORE_ST_ABORT || res.st == STORE_ST_LOST) {
            floe_log_info(&att->log, "stopping the attempt: %s", res.note);
            floe_metric_add(att->w->m_lost, 1);
            att->aborted = true;
            if (att->state == ATT_RUNNING && att->run != NULL)
                att->w->exec[att->kind]->ops->kill(att->run);
        }
    }
    wrk_att_maybe_free(att);
}

static void
on_beat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wrk_att *att = arg;
    const Floe__TaskDispatch *d = att->d;
    if (att->aborted)
        return;
    /* Fenced by our own clock (review M3): cut off from Redis past the lease, the engine
     * has retried this attempt elsewhere by now, so this run stops and publishes nothing
     * rather than run beside its retry. */
    if (att->state == ATT_RUNNING && lease_lapsed(att)) {
        lapse(att, "Redis unreachable, or this worker was frozen");
        if (att->run != NULL)
            att->w->exec[att->kind]->ops->kill(att->run);
        return;
    }
    if (att->beat_out)
        return;
    att->lease_sent_mono = floe_mono_us();
    if (store_state_heartbeat(att->w->redis, d->execution_id, d->node_index, d->attempt,
                              att->w->worker_id, att->lease_ms, beat_reply, att) == FLOE_OK) {
        att->beat_out = true;
        att->redis_out++;
        floe_metric_add(att->w->m_heartbeats, 1);
    }
}

/* Claimed, so that the engine hears of it (retried as SYSTEM, perhaps on a worker that has
 * the executor) instead of the node waiting for a result nobody will send. */
static void
fail_unavailable(wrk_att *att)
{
    char msg[512];
    const char *name = att->d->executor != NULL ? att->d->executor : "";
    const char *why = att->kind == WRK_NOOP      ? "worker.noop is off"
                      : att->kind == WRK_UNKNOWN ? "this worker does not know it"
                                                 : att->w->exec_why[att->kind];
    snprintf(msg, sizeof(msg),
             "executor \"%.64s\" is not available on worker %.96s (class %.64s): %.200s", name,
             att->w->worker_id, att->w->cfg->worker_class, why);
    wrk_res_failure(att, FLOE_ERR_SYSTEM, "executor", msg);
}

/* The noop executor: nothing runs; each declared output takes its type's zero value. */
static void
run_noop(wrk_att *att)
{
    const Floe__TaskDispatch *d = att->d;
    floe_err err = {0};
    att->run_start_us = att->run_end_us = floe_now_us();
    att->outs = floe_arena_alloc(att->arena, (d->n_outputs + 1) * sizeof(*att->outs));
    if (att->outs == NULL) {
        wrk_res_failure(att, FLOE_ERR_SYSTEM, "noop", "out of memory");
        return;
    }
    for (size_t i = 0; i < d->n_outputs; i++) {
        Floe__NamedValue *nv = floe_arena_alloc(att->arena, sizeof(*nv));
        if (nv == NULL) {
            wrk_res_failure(att, FLOE_ERR_SYSTEM, "noop", "out of memory");
            return;
        }
        floe__named_value__init(nv);
        nv->name = d->outputs[i]->name;
        if (floe_value_zero(d->outputs[i]->type, att->arena, &nv->value, &err) != FLOE_OK) {
            char msg[FLOE_ERR_MSG_MAX];
            bool user = err.cls == FLOE_ERR_USER; /* only a blob has no zero value */
            snprintf(msg, sizeof(msg),
                     "the noop executor cannot produce %s output \"%.64s\"%s%.120s",
                     user ? "a blob" : "the", nv->name, user ? "" : ": ", user ? "" : err.msg);
            wrk_res_failure(att, user ? FLOE_ERR_USER : FLOE_ERR_SYSTEM, "noop", msg);
            return;
        }
        att->outs[i] = nv;
    }
    wrk_res_success(att);
}

static void
on_claim_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    att_start_claim(arg);
}

static void
claim_retry_later(wrk_att *att)
{
    if (att->retry == NULL)
        att->retry = evtimer_new(att->w->base, on_claim_retry, att);
    struct timeval tv = {0, ATT_CLAIM_RETRY_MS * 1000};
    if (att->retry != NULL)
        evtimer_add(att->retry, &tv);
}

void
wrk_att_claimed(wrk_att *att, const store_reply *rep, const floe_err *err)
{
    wrk *w = att->w;
    att->redis_out--;
    if (err != NULL) { /* Redis unreachable: the dispatch stays unacknowledged, try again */
        floe_log_warn(&att->log, "claim: %s; retrying", err->msg);
        if (att->released) {
            wrk_att_finish(att);
            return;
        }
        claim_retry_later(att);
        return;
    }
    store_state_res res;
    store_state_parse(rep, &res);
    floe_bus_ack(w->bus, &att->pos);
    if (res.st != STORE_ST_OK) {
        floe_metric_add(res.st == STORE_ST_DUP ? w->m_claim_dup : w->m_claim_stale, 1);
        floe_log_info(&att->log, "dispatch dropped: %s: %s", store_st_name(res.st), res.note);
        wrk_att_finish(att);
        return;
    }
    FLOE_FAULT("worker.after_claim");
    att->lease_ok_mono = att->lease_sent_mono;
    floe_metric_add(w->m_claim_ok, 1);
    att->started_us = floe_now_us();
    if (att->released) { /* shutting down: give it back at once */
        wrk_att_release(att);
        return;
    }
    wrk_res_started(att);
    uint32_t every = att->lease_ms / 3 > 0 ? att->lease_ms / 3 : 1;
    if ((att->beat = event_new(w->base, -1, EV_PERSIST, on_beat, att)) != NULL) {
        struct timeval tv = {every / 1000, (every % 1000) * 1000};
        event_add(att->beat, &tv);
    }
    if (att->kind == WRK_NOOP && w->cfg->worker_noop) {
        run_noop(att);
        return;
    }
    if (att->kind >= WRK_NOOP || w->exec[att->kind] == NULL) {
        fail_unavailable(att);
        return;
    }
    if (att->d->container == NULL || att->d->container->n_command == 0 ||
        (att->kind != 2 && att->d->container->command[0][0] == '\0')) {
        wrk_res_failure(att, FLOE_ERR_USER, "start", "the task has no command");
        return;
    }
    wrk_att_prepare(att);
}

static void
att_start_claim(wrk_att *att)
{
    wrk *w = att->w;
    att->state = ATT_CLAIMING;
    if (!att->linked) {
        att->received_us = floe_now_us(); /* its overhead is counted from here, not the backlog */
        att->next = w->active;
        att->prev = NULL;
        if (w->active != NULL)
            w->active->prev = att;
        w->active = att;
        att->linked = true;
        w->n_active++;
        floe_metric_set(w->m_running, w->n_active - w->n_publishing);
    }
    att->lease_sent_mono = floe_mono_us();
    if (wrk_claim_add(w, att) == FLOE_OK) { /* answered in wrk_att_claimed */
        att->redis_out++;
        return;
    }
    claim_retry_later(att);
}

/* --- intake ---------------------------------------------------------------------------- */

static void
att_pump(wrk *w)
{
    while (!w->draining && w->backlog != NULL && slot_free(w)) {
        wrk_att *att = w->backlog;
        w->backlog = att->next;
        if (w->backlog == NULL)
            w->backlog_tail = NULL;
        att->next = NULL;
        w->n_backlog--;
        att_start_claim(att);
    }
    floe_metric_set(w->m_backlog, w->n_backlog);
    if (w->trace != NULL && w->n_active == 0) /* idle: the trace is complete for a reader */
        fflush(w->trace);
    /* Resume before the backlog runs dry, so the next dispatches are already here when a
     * slot frees up (a pause makes the consumer refetch: a round trip per resume). */
    if (w->paused && !w->draining && w->n_backlog < ((unsigned)w->cfg->worker_backlog + 1) / 2) {
        w->paused = false;
        floe_bus_resume(w->bus);
    }
    if (w->draining && w->n_active == 0)
        event_base_loopexit(w->base, NULL);
}

static int
kind_of(const char *executor)
{
    if (executor == NULL || executor[0] == '\0')
        return 0;
    for (int i = 0; i <= WRK_EXECUTORS; i++)
        if (strcmp(executor, wrk_att_kinds[i]) == 0)
            return i;
    return WRK_UNKNOWN;
}

void
wrk_att_receive(wrk *w, const floe_bus_msg *msg)
{
    if (msg->env->type != FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH) {
        floe_bus_ack(w->bus, &msg->pos);
        return;
    }
    if (w->draining)
        return; /* not acknowledged: another worker gets it after we leave the group */
    const Floe__TaskDispatch *in = (const Floe__TaskDispatch *)msg->env->msg;
    floe_log_ctx log = {
        .comp = "worker", .exec = in->execution_id, .node = in->node_id, .attempt = in->attempt};
    if (in->execution_id == NULL || in->execution_id[0] == '\0' ||
        strlen(in->execution_id) > ATT_ID_MAX || in->node_id == NULL || in->node_id[0] == '\0' ||
        strlen(in->node_id) > ATT_ID_MAX || in->attempt == 0) {
        floe_log_error(&log, "dispatch dropped: missing or oversized execution, node or attempt");
        floe_bus_ack(w->bus, &msg->pos);
        return;
    }
    /* The same dispatch again while we hold it (redelivered after a rebalance, or sent
     * twice): the claim would accept it, as it is ours, so only one copy may run. */
    char key[sizeof(((wrk_att *)0)->key)];
    snprintf(key, sizeof(key), "%s|%s|%u", in->execution_id, in->node_id, in->attempt);
    wrk_att *held = floe_map_get(w->keys, key);
    if (held != NULL) {
        if (held->state == ATT_QUEUED || held->state == ATT_CLAIMING) {
            /* The holder acknowledges the newer copy once claimed; the older one is
             * acknowledged now, or its offset would pin the partition's commits for ever
             * (review M4): the newer copy carries the same dispatch if we die first. */
            floe_bus_ack(w->bus, &held->pos);
            held->pos = msg->pos;
        } else
            floe_bus_ack(w->bus, &msg->pos);
        return;
    }
    wrk_att *att = floe_calloc(1, sizeof(*att));
    size_t len = floe__task_dispatch__get_packed_size(in);
    uint8_t *buf = floe_malloc(len > 0 ? len : 1);
    if (att == NULL || buf == NULL ||
        (att->arena = floe_arena_new(ATT_ARENA_CHUNK, ATT_ARENA_LIMIT)) == NULL) {
        floe_free(buf);
        floe_free(att);
        floe_log_error(&log, "out of memory: dispatch left for redelivery");
        return;
    }
    floe__task_dispatch__pack(in, buf);
    att->d = floe__task_dispatch__unpack(NULL, len, buf);
    floe_free(buf);
    if (att->d == NULL) {
        floe_arena_free(att->arena);
        floe_free(att);
        return;
    }
    att->w = w;
    att->fence = -1;
    att->pos = msg->pos;
    att->kind = kind_of(in->executor);
    att->received_us = att->arrived_us = floe_now_us();
    att->lease_ms = att->d->lease_ms > 0 ? att->d->lease_ms : (uint32_t)w->cfg->attempt_lease_ms;
    att->log = (floe_log_ctx){.comp = "worker",
                              .exec = att->d->execution_id,
                              .node = att->d->node_id,
                              .attempt = att->d->attempt};
    char seed[400], hex[FLOE_SHA256_HEX_LEN + 1];
    int n = snprintf(seed, sizeof(seed), "%s|%s|%u|%s", att->d->execution_id, att->d->node_id,
                     att->d->attempt, w->worker_id);
    floe_sha256_hex(seed, (size_t)n < sizeof(seed) ? (size_t)n : sizeof(seed) - 1, hex);
    snprintf(att->run_id, sizeof(att->run_id), "%.20s-%u", hex, att->d->attempt % 100000);
    att->state = ATT_QUEUED;
    memcpy(att->key, key, sizeof(key));
    if (floe_map_put(w->keys, att->key, att) != FLOE_OK) {
        att_free(att);
        return;
    }
    if (slot_free(w) && w->backlog == NULL) {
        att_start_claim(att);
    } else {
        if (w->backlog_tail != NULL)
            w->backlog_tail->next = att;
        else
            w->backlog = att;
        w->backlog_tail = att;
        w->n_backlog++;
        floe_metric_set(w->m_backlog, w->n_backlog);
    }
    /* Full, and worker.backlog waiting: stop fetching. The backlog is not claimed (no lease
     * ticks) nor acknowledged (a crash hands it to another worker). */
    if (!w->paused && w->n_backlog >= (unsigned)w->cfg->worker_backlog) {
        w->paused = true;
        floe_bus_pause(w->bus);
    }
}

/* --- shutdown -------------------------------------------------------------------------- */

void
wrk_att_release_all(wrk *w)
{
    for (wrk_att *att = w->active; att != NULL; att = att->next) {
        if (att->state > ATT_RUNNING || att->released)
            continue;
        att->released = true;
        floe_log_info(&att->log, "grace period over: stopping the attempt and releasing it");
        if (att->state == ATT_RUNNING && att->run != NULL)
            w->exec[att->kind]->ops->kill(att->run);
    }
}

void
wrk_att_free_all(wrk *w)
{
    while (w->backlog != NULL) {
        wrk_att *att = w->backlog;
        w->backlog = att->next;
        att_free(att);
    }
    w->backlog_tail = NULL;
    while (w->active != NULL) {
        wrk_att *att = w->active;
        att_unlink(att);
        att_free(att);
    }
}

void
wrk_att_log_active(wrk *w)
{
    static const char *const names[] = {"?",          "queued",    "claiming",
                                        "preparing",  "running",   "collecting",
                                        "publishing", "releasing", "done"};
    unsigned n = 0;
    for (wrk_att *a = w->active; a != NULL && n < 20; a = a->next, n++)
        floe_log_info(&a->log, "still active: %s%s", a->state <= ATT_DONE ? names[a->state] : "?",
                      a->collect_waiting ? " (collect waits for a log shipment)" : "");
}
