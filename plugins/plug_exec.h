/*
 * plug_exec — the executor interface: how a worker runs one attempt of a task. Three
 * executors implement it: `process` (plug_process.c), `oci` (plug_oci.c, runc) and
 * `kubernetes` (plug_kube.c, a Pod). The worker prepares the attempt's directory (inputs/,
 * outputs/, the log files), calls start, and later reads outputs/ and the logs; the
 * executor only runs the task and reports how it ended.
 *
 * Everything here runs on the worker's event loop thread. start must not block for
 * long (an executor with blocking work uses its own threads) and must call done exactly
 * once, later, from the loop; after done the run is freed by plug_run_free. kill asks for
 * the task to stop (SIGTERM, then SIGKILL after kill_grace_ms); done still follows.
 */
#ifndef PLUG_EXEC_H
#define PLUG_EXEC_H

#include "floe_err.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
typedef struct plug_child plug_child;

/* Kubernetes with a helper image (plug_kube_data.c): an input to fetch by presigned url
 * (url, sha256) or to write from its value; an output to upload (url: presigned PUT). */
typedef struct plug_pod_io {
    const char *name;
    const char *url;
    const char *sha256;
    const char *value;
} plug_pod_io;

/* A secret the task needs, by name (kubernetes: a key of kubernetes.secret_name). */
typedef struct plug_secret {
    const char *name, *env, *file; /* exactly one of env and file is not "" */
} plug_secret;

/* One attempt to run. Strings are borrowed for the duration of start only. */
typedef struct plug_spec {
    const char *exec, *node; /* labels */
    uint32_t attempt;
    const char *run_id;      /* unique, [a-z0-9-], <= 63: container and pod names */
    const char *const *argv; /* argv[0] is the program; never through a shell */
    size_t argc;
    const char *const *env; /* the task's "NAME=value" (names already checked) */
    size_t n_env;
    const char *rootfs;         /* oci */
    const char *image;          /* kubernetes */
    const char *dir;            /* the attempt's directory (host path) */
    const char *inputs_dir;     /* <dir>/inputs, read-only for the task */
    const char *outputs_dir;    /* <dir>/outputs, the task writes outputs/<name> */
    const char *secrets_dir;    /* <dir>/secrets (files of the task's secrets), NULL: none */
    const plug_secret *secrets; /* kubernetes: referenced from the pod, values never seen */
    size_t n_secrets;
    const char *inputs_json; /* contents of inputs.json (kubernetes passes it in env) */
    const char *stdout_path, *stderr_path; /* where the task's output goes */
    uint32_t cpu_millis;                   /* 0: no limit */
    uint64_t memory_bytes;                 /* 0: no limit */
    uint32_t gpus;                         /* kubernetes: nvidia.com/gpu */
    const plug_pod_io *pod_inputs;         /* kubernetes with kubernetes.helper_image */
    size_t n_pod_inputs;
    const plug_pod_io *pod_outputs;
    size_t n_pod_outputs;
} plug_spec;

typedef enum plug_end {
    PLUG_END_EXITED = 1, /* exit_code */
    PLUG_END_SIGNALED,   /* signal */
    PLUG_END_ERROR,      /* could not run it: err says why (cls USER or SYSTEM) */
} plug_end;

typedef struct plug_result {
    plug_end end;
    int exit_code;
    int signal;
    bool oom; /* the kernel or the cluster killed it for memory */
    /* Every process the run started is known gone (its cgroup emptied): nothing can
     * write to its directory any more, which may then serve the next attempt. */
    bool contained;
    floe_err err;
} plug_result;

typedef struct plug_run plug_run;
typedef void (*plug_done_fn)(plug_run *run, const plug_result *res, void *arg);

/* Shared by every executor of a worker. */
typedef struct plug_env {
    struct event_base *base;
    plug_child *children;  /* the reaper (plug_child.h) */
    const char *state_dir; /* executor state (e.g. runc's root) for this worker slot */
    const char *worker_id;
    int64_t kill_grace_ms;
    bool cgroups;               /* process: try cgroup limits */
    const char *oci_runtime;    /* "runc" */
    const char *oci_rootfs_dir; /* rootfs must lie under it */
    const struct floe_config *cfg;
} plug_env;

typedef struct plug_executor plug_executor;

typedef struct plug_ops {
    const char *name;
    /* Starts spec; on FLOE_OK *out is the run and done will be called. On error nothing
     * runs, err says why (USER: the task cannot run as written; SYSTEM: this machine). */
    floe_rc (*start)(plug_executor *ex, const plug_spec *spec, plug_done_fn done, void *arg,
                     plug_run **out, floe_err *err);
    void (*kill)(plug_run *run);
    /* The process group whose death ends the run, which the worker's lease fence may
     * SIGKILL from a signal handler (wrk_fence.h); 0 where there is none (a pod). */
    pid_t (*group)(const plug_run *run);
    void (*run_free)(plug_run *run);
    /* Removes what a previous worker in this slot left running (after a kill -9). */
    void (*reap)(plug_executor *ex);
    void (*free)(plug_executor *ex);
} plug_ops;

struct plug_executor {
    const plug_ops *ops;
    const plug_env *env;
};

plug_executor *plug_process_new(const plug_env *env, floe_err *err);
plug_executor *plug_oci_new(const plug_env *env, floe_err *err);
plug_executor *plug_kube_new(const plug_env *env, floe_err *err);

#endif
