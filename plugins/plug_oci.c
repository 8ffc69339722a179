/*
 * plug_oci — the `oci` executor: an OCI runtime bundle over the task's root filesystem,
 * run by runc in the foreground (`runc run`), so the container's exit is runc's exit and
 * its stdout/stderr are runc's.
 *
 * config.json (plug_oci_config): the argv (resolved inside the container's PATH, never a
 * shell), the task environment with FLOE_INPUTS=/floe/inputs and FLOE_OUTPUTS=/floe/outputs,
 * the attempt's inputs/ bound read-only and outputs/ read-write, a read-only rootfs with a
 * tmpfs /tmp, new pid/ipc/uts/mount/network namespaces, no new privileges, a minimal
 * capability set, and memory, cpu and pids limits. The rootfs must be a directory under
 * oci.rootfs_dir (checked on the real path, so a symlink cannot lead out of it).
 *
 * Containers carry the worker slot in runc's state directory (--root): a worker that was
 * killed -9 leaves its containers in its slot's directory, and the next worker to take the
 * slot deletes them before it runs anything (reap).
 */
#include "plug_exec.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "plug_child.h"
#include "plug_oci.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OCI_PIDS_MAX 1024

typedef struct oci_exec {
    plug_executor base;
    char root[PATH_MAX];       /* runc --root */
    char rootfs_dir[PATH_MAX]; /* real path of oci.rootfs_dir */
} oci_exec;

struct plug_run {
    oci_exec *ox;
    pid_t pid;
    bool running, killed;
    pid_t deleter; /* the runc delete a killed container waits for before reporting */
    plug_result res;
    char id[80];
    struct event *kill_timer;
    plug_done_fn done;
    void *arg;
};

/* --- config.json ----------------------------------------------------------------------- */

static json_t *
mount_obj(const char *dest, const char *type, const char *source, const char *const *opts)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "destination", dest, "type", type, "source", source);
    json_t *a = json_array();
    for (size_t i = 0; opts[i] != NULL; i++)
        json_array_append_new(a, json_string(opts[i]));
    json_object_set_new(o, "options", a);
    return o;
}

json_t *
plug_oci_config(const plug_spec *spec, const char *rootfs, const char *worker_id)
{
    static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", NULL};
    static const char *const ns[] = {"pid", "ipc", "uts", "mount", "network", NULL};
    static const char *const masked[] = {"/proc/acpi",
                                         "/proc/asound",
                                         "/proc/kcore",
                                         "/proc/keys",
                                         "/proc/latency_stats",
                                         "/proc/timer_list",
                                         "/proc/timer_stats",
                                         "/proc/sched_debug",
                                         "/sys/firmware",
                                         "/proc/scsi",
                                         NULL};
    static const char *const readonly[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
    static const char *const o_none[] = {"nosuid", "noexec", "nodev", NULL};
    static const char *const o_dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
    static const char *const o_pts[] = {"nosuid",        "noexec",    "newinstance",
                                        "ptmxmode=0666", "mode=0620", NULL};
    static const char *const o_shm[] = {"nosuid",    "noexec",      "nodev",
                                        "mode=1777", "size=65536k", NULL};
    static const char *const o_sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    static const char *const o_tmp[] = {"nosuid", "nodev", "mode=1777", "size=268435456", NULL};
    static const char *const o_in[] = {"rbind", "ro", "nosuid", "nodev", NULL};
    static const char *const o_out[] = {"rbind", "rw", "nosuid", "nodev", NULL};
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%u", spec->attempt);
    char **envp =
        plug_envp_build(spec, "/floe/inputs", "/floe/outputs",
                        spec->secrets_dir != NULL ? "/floe/secrets" : NULL, "/tmp", "/tmp");
    if (envp == NULL)
        return NULL;
    json_t *args = json_array(), *env = json_array(), *capl = json_array();
    for (size_t i = 0; i < spec->argc; i++)
        json_array_append_new(args, json_string(spec->argv[i]));
    for (size_t i = 0; envp[i] != NULL; i++)
        json_array_append_new(env, json_string(envp[i]));
    floe_free(envp);
    for (size_t i = 0; caps[i] != NULL; i++)
        json_array_append_new(capl, json_string(caps[i]));
    json_t *caps_obj = json_pack("{s:O, s:O, s:O, s:O}", "bounding", capl, "effective", capl,
                                 "permitted", capl, "ambient", capl);
    json_decref(capl);
    json_t *rl =
        json_pack("[{s:s, s:i, s:i}]", "type", "RLIMIT_NOFILE", "hard", 4096, "soft", 4096);
    json_t *process = json_pack("{s:b, s:{s:i, s:i}, s:o, s:o, s:s, s:o, s:o, s:b}", "terminal", 0,
                                "user", "uid", 0, "gid", 0, "args", args, "env", env, "cwd", "/tmp",
                                "capabilities", caps_obj, "rlimits", rl, "noNewPrivileges", 1);
    json_t *mounts = json_array();
    json_array_append_new(mounts, mount_obj("/proc", "proc", "proc", (const char *const[]){NULL}));
    json_array_append_new(mounts, mount_obj("/dev", "tmpfs", "tmpfs", o_dev));
    json_array_append_new(mounts, mount_obj("/dev/pts", "devpts", "devpts", o_pts));
    json_array_append_new(mounts, mount_obj("/dev/shm", "tmpfs", "shm", o_shm));
    json_array_append_new(mounts, mount_obj("/dev/mqueue", "mqueue", "mqueue", o_none));
    json_array_append_new(mounts, mount_obj("/sys", "sysfs", "sysfs", o_sys));
    json_array_append_new(mounts, mount_obj("/tmp", "tmpfs", "tmpfs", o_tmp));
    json_array_append_new(mounts, mount_obj("/floe/inputs", "bind", spec->inputs_dir, o_in));
    json_array_append_new(mounts, mount_obj("/floe/outputs", "bind", spec->outputs_dir, o_out));
    if (spec->secrets_dir != NULL)
        json_array_append_new(mounts, mount_obj("/floe/secrets", "bind", spec->secrets_dir, o_in));
    json_t *nsa = json_array(), *ma = json_array(), *ra = json_array();
    for (size_t i = 0; ns[i] != NULL; i++)
        json_array_append_new(nsa, json_pack("{s:s}", "type", ns[i]));
    for (size_t i = 0; masked[i] != NULL; i++)
        json_array_append_new(ma, json_string(masked[i]));
    for (size_t i = 0; readonly[i] != NULL; i++)
        json_array_append_new(ra, json_string(readonly[i]));
    json_t *res = json_pack("{s:{s:i}}", "pids", "limit", OCI_PIDS_MAX);
    if (spec->memory_bytes > 0)
        json_object_set_new(res, "memory",
                            json_pack("{s:I}", "limit", (json_int_t)spec->memory_bytes));
    if (spec->cpu_millis > 0)
        json_object_set_new(res, "cpu",
                            json_pack("{s:I, s:I}", "quota", (json_int_t)spec->cpu_millis * 100,
                                      "period", (json_int_t)100000));
    json_object_set_new(res, "devices", json_pack("[{s:b, s:s}]", "allow", 0, "access", "rwm"));
    json_t *linux_obj = json_pack("{s:o, s:o, s:o, s:o}", "namespaces", nsa, "resources", res,
                                  "maskedPaths", ma, "readonlyPaths", ra);
    json_t *ann = json_pack("{s:s, s:s, s:s, s:s}", "floe.execution", spec->exec, "floe.node",
                            spec->node, "floe.attempt", attempt, "floe.worker", worker_id);
    json_t *cfg = json_pack("{s:s, s:{s:s, s:b}, s:o, s:s, s:o, s:o, s:o}", "ociVersion", "1.0.2",
                            "root", "path", rootfs, "readonly", 1, "process", process, "hostname",
                            "floe-task", "mounts", mounts, "linux", linux_obj, "annotations", ann);
    return cfg;
}

/* --- running --------------------------------------------------------------------------- */

static pid_t
runc_async(oci_exec *ox, const char *verb, const char *id, const char *arg,
           plug_child_exit_fn exit_fn, void *exit_arg)
{
    char *argv[8] = {(char *)ox->base.env->oci_runtime, "--root", ox->root, (char *)verb, NULL};
    size_t n = 4;
    if (strcmp(verb, "delete") == 0)
        argv[n++] = "--force";
    argv[n++] = (char *)id;
    if (arg != NULL)
        argv[n++] = (char *)arg;
    argv[n] = NULL;
    char path[PATH_MAX];
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    if (plug_child_which(argv[0], envp[0] + 5, path, sizeof(path), NULL) != FLOE_OK)
        return -1;
    plug_spawn sp = {.path = path,
                     .argv = argv,
                     .envp = envp,
                     .out_fd = -1,
                     .err_fd = -1,
                     .cgroup_fd = -1,
                     .cgroup_fd2 = -1};
    pid_t pid;
    if (plug_child_spawn(ox->base.env->children, &sp, exit_fn, exit_arg, &pid, NULL) != FLOE_OK)
        return -1;
    return pid;
}

static void
on_delete_exit(pid_t pid, int status, void *arg)
{
    (void)pid;
    (void)status;
    plug_run *run = arg;
    run->deleter = -1;
    run->done(run, &run->res, run->arg);
}

static void
on_runc_exit(pid_t pid, int status, void *arg)
{
    (void)pid;
    plug_run *run = arg;
    plug_result res = {0};
    run->running = false;
    run->pid = -1;
    if (run->kill_timer != NULL)
        event_del(run->kill_timer);
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        /* runc reports a container killed by a signal as 128 + the signal. */
        if (code > 128 && code < 128 + 65) {
            res.end = PLUG_END_SIGNALED;
            res.signal = code - 128;
            res.oom = res.signal == SIGKILL && !run->killed;
        } else {
            res.end = PLUG_END_EXITED;
            res.exit_code = code;
        }
    } else {
        res.end = PLUG_END_SIGNALED;
        res.signal = WTERMSIG(status);
    }
    if (run->killed) {
        /* runc run does not delete a container it did not see exit by itself: delete it
         * before the result goes out, so a reported timeout leaves nothing running. */
        run->res = res;
        run->deleter = runc_async(run->ox, "delete", run->id, NULL, on_delete_exit, run);
        if (run->deleter != -1)
            return;
    }
    run->done(run, &res, run->arg);
}

static void
on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    plug_run *run = arg;
    if (!run->running)
        return;
    runc_async(run->ox, "kill", run->id, "KILL", NULL, NULL);
    kill(-run->pid, SIGKILL); /* runc itself, should the container not exist yet */
}

static floe_rc
rootfs_check(oci_exec *ox, const char *rootfs, char *real, floe_err *err)
{
    struct stat st;
    if (rootfs == NULL || rootfs[0] == '\0')
        return floe_err_user(err, FLOE_EINVAL, "oci executor: the task has no rootfs");
    if (realpath(rootfs, real) == NULL || stat(real, &st) == -1 || !S_ISDIR(st.st_mode))
        return floe_err_sys(err, FLOE_ENOTFOUND, "oci executor: rootfs %.200s: %s", rootfs,
                            errno != 0 ? strerror(errno) : "not a directory");
    size_t n = strlen(ox->rootfs_dir);
    if (strncmp(real, ox->rootfs_dir, n) != 0 || (real[n] != '/' && real[n] != '\0'))
        return floe_err_user(err, FLOE_EINVAL,
                             "oci executor: rootfs %.120s is not under oci.rootfs_dir (%.100s)",
                             rootfs, ox->rootfs_dir);
    return FLOE_OK;
}

static floe_rc
oci_start(plug_executor *ex, const plug_spec *spec, plug_done_fn done, void *arg, plug_run **out,
          floe_err *err)
{
    oci_exec *ox = (oci_exec *)ex;
    char real[PATH_MAX], bundle[PATH_MAX], cfgpath[PATH_MAX + 16], path[PATH_MAX];
    int out_fd = -1, err_fd = -1;
    floe_rc rc;
    json_t *cfg = NULL;
    errno = 0;
    if ((rc = rootfs_check(ox, spec->rootfs, real, err)) != FLOE_OK)
        return rc;
    if ((rc =
             plug_child_which(ex->env->oci_runtime, "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
                              path, sizeof(path), err)) != FLOE_OK) {
        err->cls = FLOE_ERR_SYSTEM; /* this machine lacks runc: another may not */
        err->retriable = true;
        return rc;
    }
    plug_run *run = floe_calloc(1, sizeof(*run));
    if (run == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    run->ox = ox;
    run->deleter = -1;
    run->done = done;
    run->arg = arg;
    snprintf(run->id, sizeof(run->id), "floe-%s", spec->run_id);
    snprintf(bundle, sizeof(bundle), "%s/bundle", spec->dir);
    snprintf(cfgpath, sizeof(cfgpath), "%s/config.json", bundle);
    if (mkdir(bundle, 0700) == -1) {
        rc = floe_err_sys(err, FLOE_EIO, "oci executor: mkdir %s: %s", bundle, strerror(errno));
        goto fail;
    }
    if ((cfg = plug_oci_config(spec, real, ex->env->worker_id)) == NULL ||
        json_dump_file(cfg, cfgpath, JSON_COMPACT) != 0) {
        rc = floe_err_sys(err, FLOE_EIO, "oci executor: cannot write %s", cfgpath);
        goto fail;
    }
    if ((rc = plug_open_logs(spec, &out_fd, &err_fd, err)) != FLOE_OK)
        goto fail;
    char *argv[] = {path,   "--root",           ox->root, "run", "--bundle",
                    bundle, "--no-new-keyring", run->id,  NULL};
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
    plug_spawn sp = {.path = path,
                     .argv = argv,
                     .envp = envp,
                     .cwd = spec->dir,
                     .out_fd = out_fd,
                     .err_fd = err_fd,
                     .new_pgrp = true,
                     .cgroup_fd = -1,
                     .cgroup_fd2 = -1};
    if ((rc = plug_child_spawn(ex->env->children, &sp, on_runc_exit, run, &run->pid, err)) !=
        FLOE_OK) {
        err->cls = FLOE_ERR_SYSTEM;
        goto fail;
    }
    run->running = true;
    close(out_fd);
    close(err_fd);
    json_decref(cfg);
    *out = run;
    return FLOE_OK;
fail:
    if (out_fd != -1)
        close(out_fd);
    if (err_fd != -1)
        close(err_fd);
    json_decref(cfg);
    floe_free(run);
    return rc;
}

static void
oci_kill(plug_run *run)
{
    if (!run->running)
        return;
    run->killed = true;
    runc_async(run->ox, "kill", run->id, "TERM", NULL, NULL);
    if (run->kill_timer == NULL)
        run->kill_timer = evtimer_new(run->ox->base.env->base, on_kill_timer, run);
    int64_t ms = run->ox->base.env->kill_grace_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (run->kill_timer != NULL)
        evtimer_add(run->kill_timer, &tv);
}

static void
oci_run_free(plug_run *run)
{
    if (run == NULL)
        return;
    if (run->running) {
        plug_child_forget(run->ox->base.env->children, run->pid);
        kill(-run->pid, SIGKILL);
    }
    if (run->deleter != -1)
        plug_child_forget(run->ox->base.env->children, run->deleter);
    else if (run->running || run->killed)
        runc_async(run->ox, "delete", run->id, NULL, NULL, NULL); /* unless runc run did */
    if (run->kill_timer != NULL)
        event_free(run->kill_timer);
    floe_free(run);
}

static void
oci_reap(plug_executor *ex)
{
    oci_exec *ox = (oci_exec *)ex;
    char tmpl[] = "/tmp/floe-runc-list-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd == -1)
        return;
    unlink(tmpl);
    char *list[] = {(char *)ex->env->oci_runtime, "--root", ox->root, "list", "-q", NULL};
    floe_log_ctx log = {.comp = "oci"};
    if (plug_child_run_sync(list, fd) == 0) {
        FILE *f = fdopen(fd, "r");
        char id[256];
        rewind(f);
        while (f != NULL && fgets(id, sizeof(id), f) != NULL) {
            id[strcspn(id, "\n")] = '\0';
            if (strncmp(id, "floe-", 5) != 0)
                continue;
            char *del[] = {
                (char *)ex->env->oci_runtime, "--root", ox->root, "delete", "--force", id, NULL};
            int rc = plug_child_run_sync(del, -1);
            floe_log_info(&log, "deleted container %s left by a previous worker (runc: %d)", id,
                          rc);
        }
        if (f != NULL) {
            fclose(f);
            return;
        }
    }
    close(fd);
}

static void
oci_free(plug_executor *ex)
{
    floe_free(ex);
}

static const plug_ops oci_ops = {
    .name = "oci",
    .start = oci_start,
    .kill = oci_kill,
    .run_free = oci_run_free,
    .reap = oci_reap,
    .free = oci_free,
};

plug_executor *
plug_oci_new(const plug_env *env, floe_err *err)
{
    oci_exec *ox = floe_calloc(1, sizeof(*ox));
    if (ox == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    ox->base.ops = &oci_ops;
    ox->base.env = env;
    snprintf(ox->root, sizeof(ox->root), "%s/runc", env->state_dir);
    if (mkdir(ox->root, 0700) == -1 && errno != EEXIST) {
        floe_err_sys(err, FLOE_EIO, "oci executor: mkdir %s: %s", ox->root, strerror(errno));
        floe_free(ox);
        return NULL;
    }
    if (realpath(env->oci_rootfs_dir, ox->rootfs_dir) == NULL)
        snprintf(ox->rootfs_dir, sizeof(ox->rootfs_dir), "%s", env->oci_rootfs_dir);
    return &ox->base;
}
