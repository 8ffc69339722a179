/*
 * plug_child — child processes of a worker: spawning (fork + execve, never a shell) and
 * reaping (SIGCHLD on the event loop, waitpid, one callback per child). The process and
 * oci executors run their tasks and runc through it.
 *
 * Spawning prepares everything before vfork: the child only makes system calls
 * (sigaction, setpgid, prctl, setrlimit, dup2, chdir, write, execve), since it shares
 * the worker's memory until execve and the worker has other threads (librdkafka, the
 * file pool) whose locks it must not touch. An execve failure reaches the parent in a
 * shared variable (the parent resumes only after the child's execve or _exit).
 */
#ifndef PLUG_CHILD_H
#define PLUG_CHILD_H

#include "floe_err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
typedef struct plug_child plug_child;

typedef void (*plug_child_exit_fn)(pid_t pid, int status, void *arg);

typedef struct plug_spawn {
    const char *path;       /* absolute program path (plug_child_which) */
    char *const *argv;      /* NULL-terminated */
    char *const *envp;      /* NULL-terminated */
    const char *cwd;        /* NULL: unchanged */
    int out_fd, err_fd;     /* -1: /dev/null */
    bool new_pgrp;          /* its own process group, killed as one */
    uint64_t rlimit_data;   /* 0: unchanged; bytes of data segment and anonymous maps */
    uint64_t rlimit_nofile; /* 0: unchanged */
    int cgroup_fd;          /* -1, or an open cgroup.procs the child joins */
    int cgroup_fd2;         /* a second hierarchy (cgroup v1 cpu), or -1 */
} plug_spawn;

/* Watches SIGCHLD on base. Only one per process. */
plug_child *plug_child_new(struct event_base *base, floe_err *err);
/* Stops watching; children still running are not waited for. NULL is a no-op. */
void plug_child_free(plug_child *pc);

/* Starts sp; exit(pid, status, arg) runs on the loop when it ends. FLOE_ENOTFOUND (USER)
 * when the program cannot be executed (err names it and why); FLOE_EIO when fork fails. */
floe_rc plug_child_spawn(plug_child *pc, const plug_spawn *sp, plug_child_exit_fn exit_fn,
                         void *arg, pid_t *pid_out, floe_err *err);

/* Forget pid's callback (its owner goes away first); the child is still reaped. */
void plug_child_forget(plug_child *pc, pid_t pid);

/* Resolves prog against path_list ("a:b:c") like execvp, into out. FLOE_ENOTFOUND. */
floe_rc plug_child_which(const char *prog, const char *path_list, char *out, size_t size,
                         floe_err *err);

/* Runs argv to its end, blocking (start-up housekeeping only): its exit status, or -1. */
int plug_child_run_sync(char *const *argv, int out_fd);

/* The environment of a task: a minimal base (PATH, HOME, TMPDIR, LANG), the task's own
 * variables (which may override the base but not FLOE_*), then FLOE_INPUTS,
 * FLOE_OUTPUTS, FLOE_EXECUTION_ID, FLOE_NODE_ID, FLOE_ATTEMPT as the task sees them.
 * Returns a NULL-terminated array allocated as one block (free with floe_free), or NULL. */
struct plug_spec;
/* secrets: FLOE_SECRETS, the task's view of spec->secrets_dir (NULL: not set). */
char **plug_envp_build(const struct plug_spec *spec, const char *inputs, const char *outputs,
                       const char *secrets, const char *home, const char *tmp);

/* Creates (truncates) the task's stdout and stderr files; on error none is left open. */
floe_rc plug_open_logs(const struct plug_spec *spec, int *out_fd, int *err_fd, floe_err *err);

/* The PATH of envp (or the default). */
const char *plug_envp_path(char *const *envp);
#endif
