/*
 * plug_process — the `process` executor: the task's argv run directly (fork + execve,
 * never a shell) in its own process group, with a minimal environment plus the task's,
 * rlimits, and cgroup memory/cpu limits when the machine allows them. Stopping a run
 * signals the whole group: SIGTERM, then SIGKILL after kill_grace_ms. With cgroups every
 * run is in one, limits or not: what it leaves running when it ends is killed, and an
 * emptied group says so (plug_result.contained).
 * The task sees FLOE_INPUTS and FLOE_OUTPUTS as host paths and runs in the attempt's
 * directory.
 */
#include "plug_exec.h"

#include "floe_log.h"
#include "floe_mem.h"
#include "plug_cgroup.h"
#include "plug_child.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROCESS_NOFILE 4096

typedef struct proc_exec {
    plug_executor base;
    plug_cgroups *cgs;
} proc_exec;

struct plug_run {
    proc_exec *px;
    pid_t pid;
    bool running;
    plug_cgroup *cg;
    struct event *kill_timer;
    plug_done_fn done;
    void *arg;
};

static void
on_exit_status(pid_t pid, int status, void *arg)
{
    (void)pid;
    plug_run *run = arg;
    plug_result res = {0};
    run->running = false;
    kill(-run->pid, SIGKILL); /* whatever the task left behind in its group */
    if (WIFEXITED(status)) {
        res.end = PLUG_END_EXITED;
        res.exit_code = WEXITSTATUS(status);
    } else {
        res.end = PLUG_END_SIGNALED;
        res.signal = WTERMSIG(status);
        res.oom = res.signal == SIGKILL && plug_cgroup_oom(run->cg);
    }
    res.contained = plug_cgroup_end(run->cg);
    run->cg = NULL;
    if (run->kill_timer != NULL)
        event_del(run->kill_timer);
    run->done(run, &res, run->arg);
}

static void
on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    plug_run *run = arg;
    if (run->running)
        kill(-run->pid, SIGKILL);
}

static floe_rc
proc_start(plug_executor *ex, const plug_spec *spec, plug_done_fn done, void *arg, plug_run **out,
           floe_err *err)
{
    proc_exec *px = (proc_exec *)ex;
    char tmp[PATH_MAX], path[PATH_MAX];
    char **envp = NULL, **argv = NULL;
    int out_fd = -1, err_fd = -1;
    floe_rc rc;
    plug_run *run = floe_calloc(1, sizeof(*run));
    if (run == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    run->px = px;
    run->done = done;
    run->arg = arg;
    snprintf(tmp, sizeof(tmp), "%s/tmp", spec->dir);
    if ((envp = plug_envp_build(spec, spec->inputs_dir, spec->outputs_dir, spec->secrets_dir,
                                spec->dir, tmp)) == NULL ||
        (argv = floe_calloc(spec->argc + 1, sizeof(*argv))) == NULL) {
        rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < spec->argc; i++)
        argv[i] = (char *)spec->argv[i];
    if ((rc = plug_child_which(spec->argv[0], plug_envp_path(envp), path, sizeof(path), err)) !=
        FLOE_OK)
        goto fail;
    if ((rc = plug_open_logs(spec, &out_fd, &err_fd, err)) != FLOE_OK)
        goto fail;
    if (px->cgs != NULL) {
        floe_err cerr = {0};
        bool limits = spec->memory_bytes > 0 || spec->cpu_millis > 0;
        if ((limits ? plug_cgroup_create(px->cgs, spec->run_id, spec->memory_bytes,
                                         spec->cpu_millis, &run->cg, &cerr)
                    : plug_cgroup_take(px->cgs, &run->cg, &cerr)) != FLOE_OK) {
            floe_log_ctx log = {.comp = "process", .exec = spec->exec, .node = spec->node};
            floe_log_warn(&log, "no cgroup %s this run: %s", limits ? "limits for" : "to contain",
                          cerr.msg);
        }
    }
    plug_spawn sp = {
        .path = path,
        .argv = argv,
        .envp = envp,
        .cwd = spec->dir,
        .out_fd = out_fd,
        .err_fd = err_fd,
        .new_pgrp = true,
        .rlimit_data = run->cg == NULL ? spec->memory_bytes : 0,
        .rlimit_nofile = PROCESS_NOFILE,
        .cgroup_fd = plug_cgroup_fd(run->cg, 0),
        .cgroup_fd2 = plug_cgroup_fd(run->cg, 1),
    };
    if ((rc = plug_child_spawn(ex->env->children, &sp, on_exit_status, run, &run->pid, err)) !=
        FLOE_OK)
        goto fail;
    run->running = true;
    close(out_fd);
    close(err_fd);
    floe_free(argv);
    floe_free(envp);
    *out = run;
    return FLOE_OK;
fail:
    if (out_fd != -1)
        close(out_fd);
    if (err_fd != -1)
        close(err_fd);
    plug_cgroup_end(run->cg); /* nothing ran in it: a containing group is kept */
    floe_free(argv);
    floe_free(envp);
    floe_free(run);
    return rc;
}

static void
proc_kill(plug_run *run)
{
    if (!run->running)
        return;
    kill(-run->pid, SIGTERM);
    if (run->kill_timer == NULL)
        run->kill_timer = evtimer_new(run->px->base.env->base, on_kill_timer, run);
    int64_t ms = run->px->base.env->kill_grace_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (run->kill_timer != NULL)
        evtimer_add(run->kill_timer, &tv);
    else
        kill(-run->pid, SIGKILL);
}

static pid_t
proc_group(const plug_run *run)
{
    return run->running ? run->pid : 0;
}

static void
proc_run_free(plug_run *run)
{
    if (run == NULL)
        return;
    if (run->running) { /* freed while running (worker shutting down): stop it for good */
        plug_child_forget(run->px->base.env->children, run->pid);
        kill(-run->pid, SIGKILL);
    }
    if (run->kill_timer != NULL)
        event_free(run->kill_timer);
    plug_cgroup_destroy(run->cg);
    floe_free(run);
}

static void
proc_reap(plug_executor *ex)
{
    (void)ex; /* tasks die with the worker (PR_SET_PDEATHSIG); their groups are emptied */
}

static void
proc_free(plug_executor *ex)
{
    proc_exec *px = (proc_exec *)ex;
    if (px == NULL)
        return;
    plug_cgroups_free(px->cgs);
    floe_free(px);
}

static const plug_ops proc_ops = {
    .name = "process",
    .start = proc_start,
    .kill = proc_kill,
    .group = proc_group,
    .run_free = proc_run_free,
    .reap = proc_reap,
    .free = proc_free,
};

plug_executor *
plug_process_new(const plug_env *env, floe_err *err)
{
    proc_exec *px = floe_calloc(1, sizeof(*px));
    if (px == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    px->base.ops = &proc_ops;
    px->base.env = env;
    if (env->cgroups) {
        char why[256];
        floe_log_ctx log = {.comp = "process"};
        if ((px->cgs = plug_cgroups_detect(why, sizeof(why))) == NULL)
            floe_log_info(&log, "cgroup limits unavailable (%s): memory limited by rlimit", why);
    }
    return px == NULL ? NULL : &px->base;
}
