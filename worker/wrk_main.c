/*
 * floe-worker — entry point: configuration, the worker slot, the bus (consumer group
 * <prefix>-workers-<class> on <prefix>.tasks.<class>), Redis, the blob store, the file
 * pool, the executors, /metrics and /healthz, and an orderly shutdown.
 *
 * Slots: every worker takes the first free slot directory under worker.dir (an flock'd
 * slot-N.lock, released by the kernel however the process ends). Its attempt directories
 * and runc state live there, so a worker started after a kill -9 of its predecessor finds
 * that slot free, deletes the containers and directories left in it, and starts clean.
 *
 * SIGTERM/SIGINT: stop fetching, let running attempts finish for worker.grace, then stop
 * the rest and release their claims (the engine retries them at once); a second signal
 * skips the grace. Dispatches received but not claimed are not acknowledged: they go to
 * another worker of the class once this one has left the group.
 */
#include "floe_main.h"
#include "floe_notify.h"
#include "floe_map.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "plug_child.h"
#include "wrk_att.h"
#include "wrk_fence.h"
#include "wrk_dirs.h"
#include "wrk_int.h"
#include "wrk_io.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRK_SLOTS_MAX 1024

static void
usage(FILE *out)
{
    fputs("usage: floe-worker --class NAME [options]\n"
          "Runs the attempts dispatched to resource class NAME (topic <prefix>.tasks.NAME),\n"
          "with the process, oci (runc) and kubernetes executors. Start more workers of a\n"
          "class to share its load.\n\n",
          out);
    floe_main_usage_common(out);
}

/* --- slot ------------------------------------------------------------------------------ */

static floe_rc
mkdir_all(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) == -1 && errno != EEXIST)
                return FLOE_EIO;
            *p = c;
            if (c == '\0')
                return FLOE_OK;
        }
    }
}

static floe_rc
slot_take(wrk *w, floe_err *err)
{
    const char *dir = w->cfg->worker_dir;
    if (dir[0] != '/')
        return floe_err_user(err, FLOE_EINVAL, "worker.dir: \"%s\" must be an absolute path", dir);
    if (mkdir_all(dir) != FLOE_OK)
        return floe_err_sys(err, FLOE_EIO, "worker.dir: mkdir %s: %s", dir, strerror(errno));
    for (int n = 0; n < WRK_SLOTS_MAX; n++) {
        char lock[PATH_MAX];
        snprintf(lock, sizeof(lock), "%s/slot-%d.lock", dir, n);
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd == -1)
            return floe_err_sys(err, FLOE_EIO, "worker.dir: %s: %s", lock, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
            close(fd);
            continue;
        }
        w->slot_fd = fd;
        snprintf(w->slot_dir, sizeof(w->slot_dir), "%s/slot-%d", dir, n);
        if (mkdir(w->slot_dir, 0755) == -1 && errno != EEXIST)
            return floe_err_sys(err, FLOE_EIO, "mkdir %s: %s", w->slot_dir, strerror(errno));
        char host[64] = "host";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        floe_text_fmt(w->worker_id, sizeof(w->worker_id), "%.40s-%d-s%d", host, (int)getpid(), n);
        return FLOE_OK;
    }
    return floe_err_sys(err, FLOE_EAGAIN, "worker.dir: all %d slots are taken", WRK_SLOTS_MAX);
}

/* Attempt directories a dead predecessor in this slot left behind. */
static void
slot_clean(wrk *w)
{
    DIR *d = opendir(w->slot_dir);
    struct dirent *e;
    unsigned n = 0;
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "att-", 4) != 0)
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%.200s", w->slot_dir, e->d_name) >= (int)sizeof(path))
            continue;
        wrk_io_rmtree(path);
        n++;
    }
    closedir(d);
    if (n > 0)
        floe_log_info(&w->log, "removed %u attempt directories left in %s", n, w->slot_dir);
}

/* --- bus and signals ------------------------------------------------------------------- */

static bool closed; /* after the attempts are freed, late deliveries are ignored */

/* A dispatch of an older leader epoch than one already seen on its partition is a deposed
 * leader's, produced after its successor's (issue 19): each term's dispatches follow the
 * previous term's in a partition, and a new term re-sends its outbox with its own epoch,
 * so nothing legitimate is lost. Dead-lettered with the reason, never claimed. Tracked
 * per partition as this worker holds it. */
static bool
epoch_stale(wrk *w, const floe_bus_msg *msg)
{
    if (msg->env->type != FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH ||
        msg->pos.partition < 0 || msg->pos.partition >= WRK_EPOCH_PARTITIONS)
        return false;
    const Floe__TaskDispatch *d = (const Floe__TaskDispatch *)msg->env->msg;
    uint64_t *seen = &w->epoch_seen[msg->pos.partition];
    if (d->epoch >= *seen) {
        *seen = d->epoch;
        return false;
    }
    char why[200];
    snprintf(why, sizeof(why),
             "dispatch of leader epoch %" PRIu64 " after epoch %" PRIu64
             " on partition %d: from a deposed leader",
             (uint64_t)d->epoch, *seen, (int)msg->pos.partition);
    floe_log_warn(&w->log, "%s (%.40s/%.40s)", why, d->execution_id, d->node_id);
    floe_metric_add(w->m_stale_epoch, 1);
    floe_bus_reject(w->bus, &msg->pos, why);
    return true;
}

static void
on_message(floe_bus *bus, const floe_bus_msg *msg, void *arg)
{
    (void)bus;
    if (!epoch_stale(arg, msg))
        wrk_att_receive(arg, msg);
}

static void
on_delivered(floe_bus *bus, void *opaque, floe_rc rc, const char *reason, void *arg)
{
    (void)bus;
    (void)reason;
    if (opaque != NULL && !closed)
        wrk_att_delivered(arg, opaque, rc);
}

static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wrk *w = arg;
    wrk_att_release_all(w);
}

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    wrk *w = arg;
    if (w->draining) {
        floe_log_info(&w->log, "second signal: releasing running attempts now");
        wrk_att_release_all(w);
        return;
    }
    floe_log_info(&w->log, "signal %d: stopping intake, %u attempts running, grace %lld ms",
                  (int)fd, w->n_active, (long long)w->cfg->worker_grace_ms);
    wrk_att_log_active(w);
    w->draining = true;
    floe_notify_stopping(w->notify, "stopping: no new tasks, running ones finish within grace");
    floe_bus_pause(w->bus);
    if (w->n_active == 0) {
        event_base_loopexit(w->base, NULL);
        return;
    }
    int64_t ms = w->cfg->worker_grace_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if ((w->grace_timer = evtimer_new(w->base, on_grace, w)) != NULL)
        evtimer_add(w->grace_timer, &tv);
    else
        wrk_att_release_all(w);
}

/* --- set-up ---------------------------------------------------------------------------- */

static bool
class_listed(const char *list, const char *cls)
{
    size_t n = strlen(cls);
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *c = strchr(p, ',');
        size_t len = c != NULL ? (size_t)(c - p) : strlen(p);
        if (len == n && strncmp(p, cls, n) == 0)
            return true;
        p = c != NULL ? c + 1 : NULL;
    }
    return false;
}

static void
make_metrics(wrk *w)
{
    floe_metrics *m = w->metrics;
    w->m_running = floe_metrics_gauge(m, "floe_worker_attempts_running",
                                      "attempts claimed and not finished", NULL);
    w->m_backlog = floe_metrics_gauge(m, "floe_worker_backlog",
                                      "dispatches received while full, not yet claimed", NULL);
    const char *h = "claims of dispatched attempts, by outcome (dup: another worker holds it; "
                    "stale: no longer current)";
    w->m_claim_ok = floe_metrics_counter(m, "floe_worker_claims_total", h, "outcome=\"ok\"");
    w->m_claim_dup = floe_metrics_counter(m, "floe_worker_claims_total", h, "outcome=\"dup\"");
    w->m_claim_stale = floe_metrics_counter(m, "floe_worker_claims_total", h, "outcome=\"stale\"");
    w->m_heartbeats =
        floe_metrics_counter(m, "floe_worker_heartbeats_total", "lease renewals sent", NULL);
    w->m_lost = floe_metrics_counter(m, "floe_worker_attempts_stopped_total",
                                     "attempts stopped because the execution ended, the attempt "
                                     "was superseded or the lease was lost",
                                     NULL);
    w->m_stale_epoch = floe_metrics_counter(m, "floe_worker_stale_epoch_dispatches_total",
                                            "dispatches dead-lettered for a leader epoch older "
                                            "than one seen on their partition",
                                            NULL);
    w->m_dirs_reused = floe_metrics_counter(m, "floe_worker_attempt_dirs_reused_total",
                                            "attempt directories reset and reused, not made "
                                            "anew: their task was known gone",
                                            NULL);
    w->m_fenced = floe_metrics_counter(m, "floe_worker_lease_fence_kills_total",
                                       "tasks killed by the lease fence: the worker was frozen "
                                       "past their lease (wrk_fence.h)",
                                       NULL);
    floe_metric_set(floe_metrics_gauge(m, "floe_worker_concurrency", "attempts run at once", NULL),
                    w->cfg->worker_concurrency);
    /* Which class and worker answer: dashboards join the other series on it (by instance)
     * for figures per class, as they join floe_build_info for versions. */
    char labels[200];
    snprintf(labels, sizeof(labels), "class=\"%.63s\",worker=\"%.95s\"", w->cfg->worker_class,
             w->worker_id);
    floe_metric_set(floe_metrics_gauge(m, "floe_worker_info",
                                       "1, labelled with the worker's "
                                       "resource class and id",
                                       labels),
                    1);
}

static floe_rc
make_executors(wrk *w, floe_err *err)
{
    /* The image helper (wrk_image.c) is installed beside this binary. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(self, '/');
    snprintf(w->image_helper, sizeof(w->image_helper), "%.*s/floe-image-rootfs",
             slash != NULL ? (int)(slash - self) : 1, slash != NULL ? self : ".");
    w->penv = (plug_env){
        .base = w->base,
        .children = w->children,
        .state_dir = w->slot_dir,
        .worker_id = w->worker_id,
        .kill_grace_ms = w->cfg->worker_kill_grace_ms,
        .cgroups = w->cfg->worker_cgroups != 0,
        .oci_runtime = w->cfg->oci_runtime,
        .oci_rootfs_dir = w->cfg->oci_rootfs_dir,
        .cfg = w->cfg,
    };
    if ((w->exec[0] = plug_process_new(&w->penv, err)) == NULL)
        return err->code;
    floe_err xerr = {0};
    if ((w->exec[1] = plug_oci_new(&w->penv, &xerr)) == NULL) {
        floe_log_warn(&w->log, "oci executor unavailable: %s", xerr.msg);
        floe_text_copy(w->exec_why[1], sizeof(w->exec_why[1]), xerr.msg, strlen(xerr.msg));
    }
    floe_err_clear(&xerr);
    if ((w->exec[2] = plug_kube_new(&w->penv, &xerr)) == NULL) {
        floe_log_info(&w->log, "kubernetes executor unavailable: %s", xerr.msg);
        floe_text_copy(w->exec_why[2], sizeof(w->exec_why[2]), xerr.msg, strlen(xerr.msg));
    }
    for (int i = 0; i < WRK_EXECUTORS; i++)
        if (w->exec[i] != NULL)
            w->exec[i]->ops->reap(w->exec[i]);
    return FLOE_OK;
}

static char *
take_class_flag(int *argc, char **argv, char *buf, size_t size)
{
    char *cls = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--class") == 0 && i + 1 < *argc) {
            cls = argv[++i];
            continue;
        }
        if (strncmp(argv[i], "--class=", 8) == 0) {
            cls = argv[i] + 8;
            continue;
        }
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;
    if (cls == NULL)
        return NULL;
    snprintf(buf, size, "worker.class=%s", cls);
    return buf;
}

int
main(int argc, char **argv)
{
    char class_set[128];
    const char *extra[1];
    size_t n_extra = 0;
    if ((extra[0] = take_class_flag(&argc, argv, class_set, sizeof(class_set))) != NULL)
        n_extra = 1;
    floe_config *cfg = NULL;
    floe_main_rc mrc = floe_main_init("floe-worker", usage, &argc, argv, extra, n_extra, &cfg);
    if (mrc != FLOE_MAIN_RUN)
        return mrc == FLOE_MAIN_EXIT_OK ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    wrk w = {.cfg = cfg, .log = {.comp = "worker"}, .slot_fd = -1};
    floe_err err = {0};
    int status = 1;
    int64_t stop_at = 0;
    wrk_http *http = NULL;
    struct event *sig_term = NULL, *sig_int = NULL;
    if (argc > 1) {
        fprintf(stderr, "floe-worker: unexpected argument \"%s\"\n", argv[1]);
        usage(stderr);
        floe_config_free(cfg);
        return 2;
    }
    if (cfg->worker_class[0] == '\0' || !class_listed(cfg->resource_classes, cfg->worker_class)) {
        fprintf(stderr, "floe-worker: --class: \"%s\" is not one of the resource classes (%s)\n",
                cfg->worker_class, cfg->resource_classes);
        floe_config_free(cfg);
        return 2;
    }
    char topic[160], suffix[96], group[160];
    snprintf(suffix, sizeof(suffix), "tasks.%s", cfg->worker_class);
    snprintf(group, sizeof(group), "%s-workers-%s", cfg->topic_prefix, cfg->worker_class);
    floe_config_topic(cfg, suffix, topic, sizeof(topic));
    floe_config_topic(cfg, "events", w.events_topic, sizeof(w.events_topic));

    floe_pool_config pc = {.threads = (unsigned)cfg->worker_threads,
                           .queue_max = (unsigned)cfg->worker_concurrency * 4 + 16,
                           .name = "worker"};
    floe_bus_callbacks cb = {.on_message = on_message, .on_delivered = on_delivered, .arg = &w};
    const char *topics[] = {topic};
    /* notify before any thread: it takes systemd's variables out of the environment. */
    if (slot_take(&w, &err) != FLOE_OK || (w.base = event_base_new()) == NULL ||
        (w.notify = floe_notify_new(w.base)) == NULL || (w.metrics = floe_metrics_new()) == NULL ||
        (w.keys = floe_map_new(64)) == NULL ||
        (w.children = plug_child_new(w.base, &err)) == NULL ||
        make_executors(&w, &err) != FLOE_OK || wrk_fence_init(&err) != FLOE_OK ||
        (w.blobs = store_blob_open_config(cfg, &err)) == NULL ||
        (w.pool = floe_pool_new(w.base, &pc, &err)) == NULL ||
        (w.redis = store_redis_new(w.base, cfg->redis_url, (int)cfg->redis_timeout_ms, &err)) ==
            NULL ||
        (w.bus = floe_bus_new(w.base, cfg, &cb, &err)) == NULL ||
        (w.dirs = wrk_dirs_new((size_t)cfg->worker_concurrency)) == NULL) {
        floe_log_error(&w.log, "cannot start: %s", err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    if (cfg->worker_trace[0] != '\0' && (w.trace = fopen(cfg->worker_trace, "ae")) == NULL) {
        floe_log_error(&w.log, "cannot start: worker.trace %s: %s", cfg->worker_trace,
                       strerror(errno));
        goto out;
    }
    slot_clean(&w);
    make_metrics(&w);
    floe_metrics_build_info(w.metrics, "floe-worker");
    floe_metrics_process(w.metrics);
    floe_bus_count_into(w.bus, w.metrics, "worker");
    if ((http = wrk_http_new(&w, &err)) == NULL && err.code != FLOE_OK) {
        floe_log_error(&w.log, "cannot start: %s", err.msg);
        goto out;
    }
    if (floe_bus_subscribe(w.bus, group, topics, 1, &err) != FLOE_OK) {
        floe_log_error(&w.log, "cannot start: %s", err.msg);
        goto out;
    }
    sig_term = evsignal_new(w.base, SIGTERM, on_signal, &w);
    sig_int = evsignal_new(w.base, SIGINT, on_signal, &w);
    if (sig_term == NULL || sig_int == NULL || event_add(sig_term, NULL) != 0 ||
        event_add(sig_int, NULL) != 0) {
        floe_log_error(&w.log, "cannot start: signal handlers");
        goto out;
    }
    floe_log_info(&w.log, "worker %s: class %s, %lld at once, slot %s", w.worker_id,
                  cfg->worker_class, (long long)cfg->worker_concurrency, w.slot_dir);
    char ready[160];
    snprintf(ready, sizeof(ready), "taking %.64s tasks, %lld at once", cfg->worker_class,
             (long long)cfg->worker_concurrency);
    floe_notify_ready(w.notify, ready);
    event_base_dispatch(w.base);
    floe_log_info(&w.log, "stopping");
    stop_at = floe_mono_us();
    status = 0;
out:
    floe_pool_free(w.pool); /* done callbacks may still publish or release */
    if (w.bus != NULL)
        floe_bus_flush(w.bus, 5000);
    wrk_hold_flush(&w);  /* what a last attempt left, sent if the connection still can */
    wrk_claim_flush(&w); /* answered (failed) by store_redis_free, as claims in flight */
    store_redis_free(w.redis);
    wrk_hold_free(w.hold);
    wrk_claim_free(&w);
    wrk_att_free_all(&w);
    wrk_dirs_free(w.dirs);
    closed = true;
    floe_bus_free(w.bus);
    if (stop_at != 0)
        floe_log_info(&w.log, "stopped: %lld ms to finish the pool, flush and leave the group",
                      (long long)((floe_mono_us() - stop_at) / 1000));
    if (sig_term != NULL)
        event_free(sig_term);
    if (sig_int != NULL)
        event_free(sig_int);
    floe_notify_free(w.notify);
    if (w.grace_timer != NULL)
        event_free(w.grace_timer);
    wrk_http_free(http);
    if (w.trace != NULL)
        fclose(w.trace);
    for (int i = 0; i < WRK_EXECUTORS; i++)
        if (w.exec[i] != NULL)
            w.exec[i]->ops->free(w.exec[i]);
    plug_child_free(w.children);
    store_blob_free(w.blobs);
    floe_metrics_free(w.metrics);
    floe_map_free(w.keys);
    if (w.base != NULL)
        event_base_free(w.base);
    if (w.slot_fd != -1)
        close(w.slot_fd);
    floe_config_free(cfg);
    return status;
}
