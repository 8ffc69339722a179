/*
 * plug_child — spawning and reaping, see plug_child.h.
 */
#include "plug_child.h"

#include "plug_exec.h"

#include "floe_log.h"
#include "floe_mem.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_MAX 4096

typedef struct child_slot {
    pid_t pid;
    plug_child_exit_fn fn;
    void *arg;
} child_slot;

struct plug_child {
    struct event *sig;
    child_slot slots[CHILD_MAX]; /* linear scan: a worker has tens of children */
    size_t n;
};

static void
on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    plug_child *pc = arg;
    for (;;) {
        int status = 0;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        for (size_t i = 0; i < pc->n; i++) {
            if (pc->slots[i].pid != pid)
                continue;
            child_slot s = pc->slots[i];
            pc->slots[i] = pc->slots[--pc->n];
            if (s.fn != NULL)
                s.fn(pid, status, s.arg);
            break;
        }
    }
}

plug_child *
plug_child_new(struct event_base *base, floe_err *err)
{
    plug_child *pc = floe_calloc(1, sizeof(*pc));
    if (pc == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    if ((pc->sig = evsignal_new(base, SIGCHLD, on_sigchld, pc)) == NULL ||
        event_add(pc->sig, NULL) != 0) {
        floe_err_sys(err, FLOE_EIO, "cannot watch SIGCHLD");
        if (pc->sig != NULL)
            event_free(pc->sig);
        floe_free(pc);
        return NULL;
    }
    return pc;
}

void
plug_child_free(plug_child *pc)
{
    if (pc == NULL)
        return;
    event_free(pc->sig);
    floe_free(pc);
}

void
plug_child_forget(plug_child *pc, pid_t pid)
{
    for (size_t i = 0; i < pc->n; i++)
        if (pc->slots[i].pid == pid)
            pc->slots[i].fn = NULL;
}

floe_rc
plug_child_which(const char *prog, const char *path_list, char *out, size_t size, floe_err *err)
{
    if (prog == NULL || prog[0] == '\0')
        return floe_err_user(err, FLOE_EINVAL, "empty command");
    if (strchr(prog, '/') != NULL) {
        if (snprintf(out, size, "%s", prog) >= (int)size)
            return floe_err_user(err, FLOE_ETOOBIG, "command path too long");
        return FLOE_OK;
    }
    const char *p = path_list;
    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ':');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        struct stat st;
        if (len > 0 && snprintf(out, size, "%.*s/%s", (int)len, p, prog) < (int)size &&
            stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
            return FLOE_OK;
        p = end != NULL ? end + 1 : NULL;
    }
    return floe_err_user(err, FLOE_ENOTFOUND, "command \"%.64s\" not found in PATH (%.120s)", prog,
                         path_list);
}

/*
 * In the child, which shares the worker's memory until execve (vfork): only system calls
 * from here to execve, and nothing written but *errp. Signals arrive blocked; handlers
 * are reset before they are unblocked, so a signal meant for the worker never runs the
 * worker's handler (libevent's, which would wake the worker's loop) in the child.
 */
static void __attribute__((noreturn)) child_exec(const plug_spawn *sp, volatile int *errp)
{
    struct sigaction dfl = {.sa_handler = SIG_DFL}, cur;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &cur) == -1)
            continue;
        if (sig == SIGPIPE || (cur.sa_handler != SIG_IGN && cur.sa_handler != SIG_DFL))
            sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (sp->new_pgrp && setpgid(0, 0) == -1)
        goto fail;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the worker: its lease will expire */
    if (sp->cgroup_fd != -1 && write(sp->cgroup_fd, "0\n", 2) == -1)
        goto fail;
    if (sp->cgroup_fd2 != -1 && write(sp->cgroup_fd2, "0\n", 2) == -1)
        goto fail;
    if (sp->rlimit_data > 0) {
        struct rlimit rl = {sp->rlimit_data, sp->rlimit_data};
        if (setrlimit(RLIMIT_DATA, &rl) == -1)
            goto fail;
    }
    if (sp->rlimit_nofile > 0) {
        struct rlimit rl = {sp->rlimit_nofile, sp->rlimit_nofile};
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull == -1)
        goto fail;
    if (dup2(devnull, 0) == -1 || dup2(sp->out_fd != -1 ? sp->out_fd : devnull, 1) == -1 ||
        dup2(sp->err_fd != -1 ? sp->err_fd : devnull, 2) == -1)
        goto fail;
    /* Nothing of the worker's beyond 0-2 reaches the task: libraries open sockets without
     * close-on-exec (hiredis 0.14), and a task holding the worker's Redis connection could
     * forge any state (review H2). */
    if (close_range(3, ~0U, 0) == -1) {
        for (int fd = 3; fd < 65536; fd++)
            close(fd);
    }
    if (sp->cwd != NULL && chdir(sp->cwd) == -1)
        goto fail;
    execve(sp->path, sp->argv, sp->envp);
fail:
    *errp = errno != 0 ? errno : EIO;
    _exit(127);
}

floe_rc
plug_child_spawn(plug_child *pc, const plug_spawn *sp, plug_child_exit_fn exit_fn, void *arg,
                 pid_t *pid_out, floe_err *err)
{
    if (pc->n >= CHILD_MAX)
        return floe_err_sys(err, FLOE_EAGAIN, "too many child processes");
    /* vfork, not fork: the parent's page tables are not copied (fork cost grows with the
     * worker's memory), and the parent resumes once the child has exec'd or failed, so
     * the failure comes back through shared memory instead of a pipe. */
    volatile int child_errno = 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = vfork();
    if (pid == 0)
        child_exec(sp, &child_errno);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid == -1)
        return floe_err_sys(err, FLOE_EIO, "fork: %s", strerror(fork_errno));
    pc->slots[pc->n++] = (child_slot){pid, exit_fn, arg};
    if (child_errno != 0) {
        plug_child_forget(pc, pid); /* reaped by the next SIGCHLD, no callback */
        return floe_err_user(err, FLOE_ENOTFOUND, "cannot execute %.120s: %s", sp->path,
                             strerror(child_errno));
    }
    *pid_out = pid;
    return FLOE_OK;
}

int
plug_child_run_sync(char *const *argv, int out_fd)
{
    pid_t pid = fork();
    if (pid == -1)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(out_fd != -1 ? out_fd : devnull, 1);
        dup2(devnull, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- task environment ------------------------------------------------------------------ */

#define PLUG_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

char **
plug_envp_build(const plug_spec *spec, const char *inputs, const char *outputs, const char *secrets,
                const char *home, const char *tmp)
{
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%u", spec->attempt);
    const char *base[][2] = {
        {"PATH", PLUG_DEFAULT_PATH}, {"HOME", home}, {"TMPDIR", tmp}, {"LANG", "C.UTF-8"}};
    const char *floe[][2] = {{"FLOE_INPUTS", inputs},           {"FLOE_OUTPUTS", outputs},
                             {"FLOE_EXECUTION_ID", spec->exec}, {"FLOE_NODE_ID", spec->node},
                             {"FLOE_ATTEMPT", attempt},         {"FLOE_SECRETS", secrets}};
    size_t nb = sizeof(base) / sizeof(base[0]), nf = sizeof(floe) / sizeof(floe[0]);
    if (secrets == NULL)
        nf--; /* FLOE_SECRETS is last */
    size_t n = nb + spec->n_env + nf, bytes = (n + 1) * sizeof(char *);
    for (size_t i = 0; i < nb; i++)
        bytes += strlen(base[i][0]) + strlen(base[i][1]) + 2;
    for (size_t i = 0; i < nf; i++)
        bytes += strlen(floe[i][0]) + strlen(floe[i][1]) + 2;
    for (size_t i = 0; i < spec->n_env; i++)
        bytes += strlen(spec->env[i]) + 1;
    char **envp = floe_malloc(bytes);
    if (envp == NULL)
        return NULL;
    char *p = (char *)(envp + n + 1);
    size_t k = 0;
    for (size_t i = 0; i < nb; i++) {
        bool overridden = false;
        size_t len = strlen(base[i][0]);
        for (size_t j = 0; j < spec->n_env; j++)
            if (strncmp(spec->env[j], base[i][0], len) == 0 && spec->env[j][len] == '=')
                overridden = true;
        if (overridden)
            continue;
        envp[k++] = p;
        p += sprintf(p, "%s=%s", base[i][0], base[i][1]) + 1;
    }
    for (size_t j = 0; j < spec->n_env; j++) {
        if (strncmp(spec->env[j], "FLOE_", 5) == 0)
            continue;
        envp[k++] = p;
        p += sprintf(p, "%s", spec->env[j]) + 1;
    }
    for (size_t i = 0; i < nf; i++) {
        envp[k++] = p;
        p += sprintf(p, "%s=%s", floe[i][0], floe[i][1]) + 1;
    }
    envp[k] = NULL;
    return envp;
}

const char *
plug_envp_path(char *const *envp)
{
    for (size_t i = 0; envp[i] != NULL; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            return envp[i] + 5;
    return PLUG_DEFAULT_PATH;
}

floe_rc
plug_open_logs(const plug_spec *spec, int *out_fd, int *err_fd, floe_err *err)
{
    *out_fd = open(spec->stdout_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    *err_fd = *out_fd == -1 ? -1
                            : open(spec->stderr_path,
                                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (*err_fd != -1)
        return FLOE_OK;
    floe_rc rc = floe_err_sys(err, FLOE_EIO, "cannot create the log files: %s", strerror(errno));
    if (*out_fd != -1)
        close(*out_fd);
    *out_fd = -1;
    return rc;
}
