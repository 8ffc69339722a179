/*
 * plug_kube — the `kubernetes` executor: one Pod per attempt through the API server over
 * HTTPS (libcurl), followed until it ends, its log fetched, then deleted.
 *
 * Each run is one job on the executor's own threads (as many as the worker's concurrency),
 * since every step is a blocking HTTP call: create the Pod (409: it exists already, from
 * an earlier try of this very attempt: adopt it), read it, then watch it (one long-lived
 * request from its resourceVersion; read again after each watch times out or expires;
 * an API server that does not watch, or kubernetes.watch=off: a read every
 * kubernetes.poll) until Succeeded or Failed, fetch the log of container "task", delete
 * the Pod. 429 and
 * 5xx (and connection failures) are retried with exponential backoff (honouring
 * Retry-After) for up to a minute; 404/410 of a Pod we created means someone else deleted
 * it (a SYSTEM error); a Pod stuck on ErrImagePull/ImagePullBackOff/InvalidImageName is a
 * SYSTEM error ("image missing" is infrastructure, per the error model). kill sets a flag
 * the job checks between reads and during a watch: it deletes the Pod and reports SIGKILL.
 *
 * Data: a Pod cannot see the worker's disk, so inputs travel in the environment
 * (FLOE_INPUTS_JSON, the inputs.json text, at most 256 KiB) and outputs come back through
 * the log: a line "floe.output NAME=VALUE" writes VALUE to outputs/NAME, typed like any
 * other output. Blob outputs need a blob store the cluster can reach (S3, to come).
 *
 * Pods carry a label of the worker slot; a worker that takes a slot deletes the Pods a
 * dead predecessor left there (reap).
 */
#include "plug_kube_int.h"

#include "floe_text.h"

#include "floe_digest.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "floe_pool.h"
#include "floe_time.h"
#include "plug_exec.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#define KUBE_INPUTS_MAX (256u << 10)
#define KUBE_IMAGE_WAIT_POLLS 30

typedef struct kube_exec {
    plug_executor base;
    plug_kube_conn conn;
    floe_pool *pool;
    char slot[64];
    int64_t poll_ms;
    atomic_bool watch; /* off by setting, or once the server answered that it does not watch */
} kube_exec;

struct plug_run {
    kube_exec *kx;
    plug_done_fn done;
    void *arg;
    atomic_bool kill;
    bool freed; /* run_free came while the job was out: the job's done frees it */
    json_t *pod;
    bool data; /* the pod moves its data itself (plug_kube_data.c) */
    char name[80];
    char stdout_path[PATH_MAX], outputs_dir[PATH_MAX];
    plug_result res;
};

/* --- small helpers --------------------------------------------------------------------- */

void
plug_kube_label(const char *in, char out[64])
{
    size_t n = 0;
    for (const char *p = in; *p != '\0' && n < 63; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[n++] = ok ? c : '-';
    }
    while (n > 0 &&
           !((out[n - 1] >= 'a' && out[n - 1] <= 'z') || (out[n - 1] >= 'A' && out[n - 1] <= 'Z') ||
             (out[n - 1] >= '0' && out[n - 1] <= '9')))
        n--;
    size_t s = 0;
    while (s < n && !((out[s] >= 'a' && out[s] <= 'z') || (out[s] >= 'A' && out[s] <= 'Z') ||
                      (out[s] >= '0' && out[s] <= '9')))
        s++;
    memmove(out, out + s, n - s);
    out[n - s] = '\0';
}

/* --- the Pod --------------------------------------------------------------------------- */

json_t *
plug_kube_pod(const plug_spec *spec, const char *ns, const char *slot_label)
{
    char name[80], lexec[64], lnode[64], att[16];
    snprintf(name, sizeof(name), "floe-%s", spec->run_id);
    plug_kube_label(spec->exec, lexec);
    plug_kube_label(spec->node, lnode);
    snprintf(att, sizeof(att), "%u", spec->attempt);
    json_t *cmd = json_array(), *env = json_array();
    for (size_t i = 0; i < spec->argc; i++)
        json_array_append_new(cmd, json_string(spec->argv[i]));
    for (size_t i = 0; i < spec->n_env; i++) {
        const char *eq = strchr(spec->env[i], '=');
        if (eq == NULL || strncmp(spec->env[i], "FLOE_", 5) == 0)
            continue;
        json_array_append_new(env, json_pack("{s:s%, s:s}", "name", spec->env[i],
                                             (size_t)(eq - spec->env[i]), "value", eq + 1));
    }
    const char *floe_env[][2] = {
        {"FLOE_EXECUTION_ID", spec->exec},
        {"FLOE_NODE_ID", spec->node},
        {"FLOE_ATTEMPT", att},
        {"FLOE_INPUTS_JSON", spec->inputs_json != NULL ? spec->inputs_json : "{}"}};
    for (size_t i = 0; i < sizeof(floe_env) / sizeof(floe_env[0]); i++)
        json_array_append_new(
            env, json_pack("{s:s, s:s}", "name", floe_env[i][0], "value", floe_env[i][1]));
    json_t *res = json_object();
    if (spec->cpu_millis > 0 || spec->memory_bytes > 0) {
        json_t *q = json_object();
        char v[32];
        if (spec->cpu_millis > 0) {
            snprintf(v, sizeof(v), "%um", spec->cpu_millis);
            json_object_set_new(q, "cpu", json_string(v));
        }
        if (spec->memory_bytes > 0) {
            snprintf(v, sizeof(v), "%llu", (unsigned long long)spec->memory_bytes);
            json_object_set_new(q, "memory", json_string(v));
        }
        json_object_set(res, "requests", q);
        json_object_set_new(res, "limits", q);
    }
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}},"
                     " s:{s:s, s:b, s:[{s:s, s:s, s:o, s:o, s:o}]}}",
                     "apiVersion", "v1", "kind", "Pod", "metadata", "name", name, "namespace", ns,
                     "labels", "app.kubernetes.io/managed-by", "floe", "floe.execution", lexec,
                     "floe.node", lnode, "floe.attempt", att, "floe.slot", slot_label,
                     "annotations", "floe.execution", spec->exec, "floe.node", spec->node, "spec",
                     "restartPolicy", "Never", "automountServiceAccountToken", 0, "containers",
                     "name", "task", "image", spec->image != NULL ? spec->image : "", "command",
                     cmd, "env", env, "resources", res);
}

/* --- a run (on a pool thread) ---------------------------------------------------------- */

/* The task's log into its stdout file; with outputs, each "floe.output NAME=VALUE" line
 * into outputs/NAME (a pod without the data helpers reports its outputs so). */
static void
write_outputs_from_log(plug_run *run, const char *log, size_t len, bool outputs)
{
    FILE *out = fopen(run->stdout_path, "we");
    if (out != NULL) {
        fwrite(log, 1, len, out);
        fclose(out);
    }
    static const char prefix[] = "floe.output ";
    for (const char *line = outputs ? log : NULL; line != NULL && line < log + len;) {
        const char *eol = memchr(line, '\n', (size_t)(log + len - line));
        size_t ll = eol != NULL ? (size_t)(eol - line) : (size_t)(log + len - line);
        if (ll > sizeof(prefix) - 1 && strncmp(line, prefix, sizeof(prefix) - 1) == 0) {
            const char *name = line + sizeof(prefix) - 1, *eq = memchr(name, '=', ll);
            size_t nl = eq != NULL ? (size_t)(eq - name) : 0;
            bool ok = nl > 0 && nl < 64 && !(name[0] >= '0' && name[0] <= '9');
            for (size_t i = 0; ok && i < nl; i++)
                ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
                     (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
            if (ok) {
                char path[PATH_MAX + 80];
                snprintf(path, sizeof(path), "%s/%.*s", run->outputs_dir, (int)nl, name);
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd != -1) {
                    (void)!write(fd, eq + 1, (size_t)(line + ll - (eq + 1)));
                    close(fd);
                }
            }
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
}

static void __attribute__((format(printf, 3, 4)))
run_fail(plug_run *run, floe_err_class cls, const char *fmt, ...)
{
    char msg[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    run->res.end = PLUG_END_ERROR;
    floe_err_set(&run->res.err, cls == FLOE_ERR_USER ? FLOE_EINVAL : FLOE_EIO, cls,
                 cls == FLOE_ERR_SYSTEM, "%s", msg);
}

static const char *
pod_phase(json_t *pod)
{
    const char *p = json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
    return p != NULL ? p : "";
}

static const char *const status_lists[] = {"initContainerStatuses", "containerStatuses"};

/* The state of the pod's container name (init containers included), NULL when unknown. */
static json_t *
container_state(json_t *pod, const char *name)
{
    json_t *st = json_object_get(pod, "status");
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *cs;
        json_array_foreach(json_object_get(st, status_lists[l]), i, cs)
        {
            const char *n = json_string_value(json_object_get(cs, "name"));
            if (n != NULL && strcmp(n, name) == 0)
                return json_object_get(cs, "state");
        }
    }
    return NULL;
}

/* Why one of the pod's containers waits on an image it cannot have, or NULL. */
static const char *
image_stuck(json_t *pod)
{
    json_t *st = json_object_get(pod, "status");
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *cs;
        json_array_foreach(json_object_get(st, status_lists[l]), i, cs)
        {
            const char *why = json_string_value(json_object_get(
                json_object_get(json_object_get(cs, "state"), "waiting"), "reason"));
            if (why != NULL &&
                (strcmp(why, "ErrImagePull") == 0 || strcmp(why, "ImagePullBackOff") == 0 ||
                 strcmp(why, "InvalidImageName") == 0))
                return why;
        }
    }
    return NULL;
}

/* The log of one of the pod's containers (malloc'd, NUL-terminated), NULL when none. */
static char *
container_log(const plug_kube_conn *c, const char *pod, const char *container, size_t *len)
{
    char lpath[300];
    kube_resp r;
    snprintf(lpath, sizeof(lpath), "/api/v1/namespaces/%s/pods/%s/log?container=%s", c->ns, pod,
             container);
    kube_call_retry(c, "GET", lpath, NULL, &r, NULL);
    if (r.status != 200) {
        free(r.body);
        return NULL;
    }
    *len = r.len;
    return r.body;
}

/* A helper container that did not exit 0 (data mode): a SYSTEM error with the end of
 * its log. True when it failed. */
static bool
helper_failed(plug_run *run, const plug_kube_conn *c, json_t *pod, const char *name,
              const char *what)
{
    json_t *term = json_object_get(container_state(pod, name), "terminated");
    if (term != NULL && json_integer_value(json_object_get(term, "exitCode")) == 0)
        return false;
    size_t len = 0;
    char *log = container_log(c, run->name, name, &len);
    const char *tail = log != NULL ? log : "";
    while (len > 0 && (tail[len - 1] == '\n' || tail[len - 1] == ' '))
        len--;
    size_t from = len > 160 ? len - 160 : 0;
    run_fail(run, FLOE_ERR_SYSTEM, "kubernetes: %s failed (container %s%s): %.*s", what, name,
             term == NULL ? " did not run" : "", (int)(len - from), tail + from);
    free(log);
    return true;
}

/* A watch of the pod ends at what the run must act on: its end, or an image newly stuck
 * (arg: since when it is known stuck, 0 if not; then only the end counts). */
static bool
pod_decided(json_t *pod, void *arg)
{
    const char *phase = pod_phase(pod);
    return strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0 ||
           (*(const int64_t *)arg == 0 && image_stuck(pod) != NULL);
}

static void
run_work(void *ctx, void *job)
{
    (void)ctx;
    plug_run *run = job;
    kube_exec *kx = run->kx;
    const plug_kube_conn *c = &kx->conn;
    char path[256], *body = json_dumps(run->pod, JSON_COMPACT);
    kube_resp r;
    if (body == NULL) {
        run_fail(run, FLOE_ERR_SYSTEM, "kubernetes: %s", "out of memory");
        return;
    }
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", c->ns);
    kube_call_retry(c, "POST", path, body, &r, &run->kill);
    free(body);
    if (r.status != 201 && r.status != 200 && r.status != 409) {
        char d[300];
        snprintf(d, sizeof(d), "%ld %s", r.status, kube_status_message(&r));
        run_fail(run, r.status == 400 || r.status == 422 ? FLOE_ERR_USER : FLOE_ERR_SYSTEM,
                 "kubernetes: creating the pod: %s", d);
        free(r.body);
        return;
    }
    free(r.body);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", c->ns, run->name);
    json_t *pod = NULL;
    const char *phase = "";
    char rv[64] = "";   /* the resource version the watch goes on from */
    bool fresh = false; /* pod was just read or watched: no read needed */
    int64_t image_since = 0, image_wait_ms = KUBE_IMAGE_WAIT_POLLS * kx->poll_ms;
    for (;;) {
        if (atomic_load(&run->kill)) {
            run->res.end = PLUG_END_SIGNALED;
            run->res.signal = SIGKILL;
            break;
        }
        if (!fresh) {
            kube_nap_ms(pod == NULL || !atomic_load(&kx->watch) ? kx->poll_ms : 0);
            kube_call_retry(c, "GET", path, NULL, &r, &run->kill);
            if (r.status == 404 || r.status == 410) {
                free(r.body);
                run_fail(run, FLOE_ERR_SYSTEM, "kubernetes: pod %s was deleted by someone else",
                         run->name);
                goto del;
            }
            if (r.status != 200) {
                char d[300];
                snprintf(d, sizeof(d), "%ld %s", r.status, kube_status_message(&r));
                free(r.body);
                run_fail(run, FLOE_ERR_SYSTEM, "kubernetes: reading the pod: %s", d);
                goto del;
            }
            json_decref(pod);
            pod = json_loads(r.body, 0, NULL);
            free(r.body);
        }
        fresh = false;
        const char *v =
            json_string_value(json_object_get(json_object_get(pod, "metadata"), "resourceVersion"));
        snprintf(rv, sizeof(rv), "%s", v != NULL && strlen(v) < sizeof(rv) ? v : "");
        phase = pod_phase(pod);
        if (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)
            break;
        const char *why = image_stuck(pod);
        if (why == NULL) {
            image_since = 0;
        } else if (image_since == 0) {
            image_since = floe_mono_us();
        } else if (floe_mono_us() - image_since >= image_wait_ms * 1000) {
            run_fail(run, FLOE_ERR_SYSTEM, "kubernetes: the image cannot be pulled (%s)", why);
            goto del;
        }
        if (!atomic_load(&kx->watch))
            continue;
        /* Until the pod ends; an image that cannot be pulled changes nothing for a watch
         * to hear, so then it is bounded by what is left of the wait for the image. */
        int timeout_s = 60;
        if (image_since != 0) {
            int64_t left = image_wait_ms - (floe_mono_us() - image_since) / 1000;
            timeout_s = left <= 1000 ? 1 : left >= 60000 ? 60 : (int)(left / 1000);
        }
        int64_t watch_t0 = floe_mono_us();
        kube_watch_end end = kube_watch_pod(c, run->name, rv, timeout_s, pod_decided, &image_since,
                                            &pod, &run->kill, &r);
        /* A watch that ends at once without news (a proxy that does not stream, a server
         * closing it): no faster than reads would go. */
        if (end != KUBE_WATCH_DECIDED && floe_mono_us() - watch_t0 < 1000000)
            kube_nap_ms(kx->poll_ms);
        switch (end) {
        case KUBE_WATCH_DECIDED:
        case KUBE_WATCH_TIMEOUT:
            fresh = end == KUBE_WATCH_DECIDED; /* after a timeout: read it, watch again */
            break;
        case KUBE_WATCH_DELETED:
            run_fail(run, FLOE_ERR_SYSTEM, "kubernetes: pod %s was deleted by someone else",
                     run->name);
            goto del;
        case KUBE_WATCH_UNSUPPORTED:
            atomic_store(&kx->watch, false);
            floe_log_warn(&(floe_log_ctx){.comp = "kubernetes"},
                          "kubernetes: the API server does not watch pods (%ld %s): "
                          "reading them every kubernetes.poll",
                          r.status, kube_status_message(&r));
            break;
        case KUBE_WATCH_EXPIRED: /* read it again, watch from its version */
        case KUBE_WATCH_STOPPED:
        case KUBE_WATCH_FAILED: /* as a read that failed: read it again, with backoff */
            break;
        }
        free(r.body);
    }
    if (run->res.end == 0 && run->data &&
        helper_failed(run, c, pod, "floe-fetch", "fetching the inputs"))
        goto del;
    if (run->res.end == 0) {
        json_t *term = json_object_get(container_state(pod, "task"), "terminated");
        int code = (int)json_integer_value(json_object_get(term, "exitCode"));
        int sig = (int)json_integer_value(json_object_get(term, "signal"));
        const char *reason = json_string_value(json_object_get(term, "reason"));
        run->res.oom = reason != NULL && strcmp(reason, "OOMKilled") == 0;
        if (sig > 0 || run->res.oom) {
            run->res.end = PLUG_END_SIGNALED;
            run->res.signal = sig > 0 ? sig : SIGKILL;
        } else {
            run->res.end = PLUG_END_EXITED;
            run->res.exit_code = strcmp(phase, "Failed") == 0 && code == 0 ? 1 : code;
        }
        size_t len = 0;
        char *log = container_log(c, run->name, "task", &len);
        if (log != NULL)
            write_outputs_from_log(run, log, len, !run->data);
        free(log);
        /* The task exited 0: its outputs must have reached the store. */
        if (run->data && run->res.end == PLUG_END_EXITED && run->res.exit_code == 0)
            helper_failed(run, c, pod, "floe-upload", "uploading the outputs");
    }
del:
    json_decref(pod);
    kube_call_retry(c, "DELETE", path, "{\"propagationPolicy\":\"Background\"}", &r, NULL);
    free(r.body);
}

static void
run_done(void *job)
{
    plug_run *run = job;
    if (run->freed) {
        json_decref(run->pod);
        floe_free(run);
        return;
    }
    run->done(run, &run->res, run->arg);
}

/* --- the executor ---------------------------------------------------------------------- */

static floe_rc
kube_start(plug_executor *ex, const plug_spec *spec, plug_done_fn done, void *arg, plug_run **out,
           floe_err *err)
{
    kube_exec *kx = (kube_exec *)ex;
    if (spec->image == NULL || spec->image[0] == '\0')
        return floe_err_user(err, FLOE_EINVAL, "kubernetes executor: the task has no image");
    if (spec->inputs_json != NULL && strlen(spec->inputs_json) > KUBE_INPUTS_MAX)
        return floe_err_user(err, FLOE_ETOOBIG,
                             "kubernetes executor: inputs of %zu bytes exceed the %u passed in "
                             "the environment",
                             strlen(spec->inputs_json), KUBE_INPUTS_MAX);
    plug_run *run = floe_calloc(1, sizeof(*run));
    if (run == NULL || (run->pod = plug_kube_pod(spec, kx->conn.ns, kx->slot)) == NULL) {
        floe_free(run);
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    }
    const char *helper = kx->base.env->cfg->kube_helper_image;
    run->data = helper != NULL && helper[0] != '\0';
    floe_rc prc = run->data ? plug_kube_pod_data(run->pod, spec, helper, err) : FLOE_OK;
    if (prc == FLOE_OK && spec->n_secrets > 0)
        prc = plug_kube_pod_secrets(run->pod, spec, kx->base.env->cfg->kube_secret_name, err);
    if (prc == FLOE_OK)
        prc = plug_kube_pod_policy(run->pod, kx->base.env->cfg, spec->gpus, err);
    if (prc != FLOE_OK) {
        json_decref(run->pod);
        floe_free(run);
        return prc;
    }
    run->kx = kx;
    run->done = done;
    run->arg = arg;
    atomic_init(&run->kill, false);
    snprintf(run->name, sizeof(run->name), "floe-%s", spec->run_id);
    snprintf(run->stdout_path, sizeof(run->stdout_path), "%s", spec->stdout_path);
    snprintf(run->outputs_dir, sizeof(run->outputs_dir), "%s", spec->outputs_dir);
    int fd = open(spec->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd != -1)
        close(fd); /* a pod's log is one stream: it all goes to stdout */
    if (floe_pool_submit(kx->pool, run_work, run_done, run) != FLOE_OK) {
        json_decref(run->pod);
        floe_free(run);
        return floe_err_sys(err, FLOE_EAGAIN, "kubernetes executor: too many pods at once");
    }
    *out = run;
    return FLOE_OK;
}

static void
kube_kill(plug_run *run)
{
    atomic_store(&run->kill, true);
}

static void
kube_run_free(plug_run *run)
{
    if (run == NULL)
        return;
    if (run->res.end == 0) { /* the job is still out: it frees the run when it returns */
        atomic_store(&run->kill, true);
        run->freed = true;
        return;
    }
    json_decref(run->pod);
    floe_free(run);
}

static void
kube_reap(plug_executor *ex)
{
    kube_exec *kx = (kube_exec *)ex;
    char path[256];
    kube_resp r;
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/%s/pods?labelSelector=app.kubernetes.io%%2Fmanaged-by%%3Dfloe%%2C"
             "floe.slot%%3D%s",
             kx->conn.ns, kx->slot);
    kube_call(&kx->conn, "DELETE", path, NULL, &r);
    floe_log_ctx log = {.comp = "kubernetes"};
    if (r.status == 200)
        floe_log_info(&log, "deleted pods left in slot %s by a previous worker", kx->slot);
    else
        floe_log_warn(&log, "could not delete pods left by a previous worker: %ld %s", r.status,
                      kube_status_message(&r));
    free(r.body);
}

static void
kube_free(plug_executor *ex)
{
    kube_exec *kx = (kube_exec *)ex;
    floe_pool_free(kx->pool);
    plug_kube_conn_deinit(&kx->conn);
    floe_free(kx);
}

static const plug_ops kube_ops = {
    .name = "kubernetes",
    .start = kube_start,
    .kill = kube_kill,
    .run_free = kube_run_free,
    .reap = kube_reap,
    .free = kube_free,
};

plug_executor *
plug_kube_new(const plug_env *env, floe_err *err)
{
    kube_exec *kx = floe_calloc(1, sizeof(*kx));
    if (kx == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    if (plug_kube_conn_load(env->cfg, &kx->conn, err) != FLOE_OK) {
        floe_free(kx);
        return NULL;
    }
    /* The placement settings are checked once, here, not at every pod. */
    json_t *probe = json_pack("{s:{s:[{}]}}", "spec", "containers");
    floe_rc prc = probe != NULL ? plug_kube_pod_policy(probe, env->cfg, 0, err)
                                : floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    json_decref(probe);
    if (prc != FLOE_OK) {
        plug_kube_conn_deinit(&kx->conn);
        floe_free(kx);
        return NULL;
    }
    kx->base.ops = &kube_ops;
    kx->base.env = env;
    kx->poll_ms = env->cfg->kube_poll_ms;
    atomic_init(&kx->watch, env->cfg->kube_watch == 1);
    char hex[FLOE_SHA256_HEX_LEN + 1], seed[PATH_MAX + 80];
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    int n = snprintf(seed, sizeof(seed), "%s:%s", host, env->state_dir);
    floe_sha256_hex(seed, (size_t)n < sizeof(seed) ? (size_t)n : sizeof(seed) - 1, hex);
    snprintf(kx->slot, sizeof(kx->slot), "%.16s", hex);
    floe_pool_config pc = {.threads = (unsigned)env->cfg->worker_concurrency,
                           .queue_max = (unsigned)env->cfg->worker_concurrency * 2,
                           .name = "kube"};
    if ((kx->pool = floe_pool_new(env->base, &pc, err)) == NULL) {
        plug_kube_conn_deinit(&kx->conn);
        floe_free(kx);
        return NULL;
    }
    return &kx->base;
}
