/*
 * plug_cgroup — memory and CPU limits for process tasks through the kernel's cgroups,
 * when the machine lets this worker create them: cgroup v1 (memory and cpu hierarchies)
 * or v2 (a child of the worker's own cgroup with the memory and cpu controllers enabled).
 * A run with limits gets a group named after it under the worker's own group, removed
 * when the run ends. A run without limits gets a group too, to contain it: when the run
 * ends, an empty group says every process it started is gone (a process that left the
 * run's process group with setsid is still in it, and is killed); empty, it is kept for
 * the next run. Without cgroups the process executor falls back to rlimits alone.
 */
#ifndef PLUG_CGROUP_H
#define PLUG_CGROUP_H

#include "floe_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLUG_CGROUP_IDLE_MAX 64 /* containing groups kept empty for the next runs */

typedef struct plug_cgroups plug_cgroups;
typedef struct plug_cgroup plug_cgroup;

/* NULL when cgroups cannot be used here; why says so (for one log line). */
plug_cgroups *plug_cgroups_detect(char *why, size_t why_size);
void plug_cgroups_free(plug_cgroups *cgs);

/* A group for run `name` ([a-z0-9-]) with the limits (0: none). */
floe_rc plug_cgroup_create(plug_cgroups *cgs, const char *name, uint64_t memory_bytes,
                           uint32_t cpu_millis, plug_cgroup **out, floe_err *err);
/* A group without limits, to contain a run: an idle one, or a new one. */
floe_rc plug_cgroup_take(plug_cgroups *cgs, plug_cgroup **out, floe_err *err);
/* Open cgroup.procs files the child writes "0" to; -1 when absent. */
int plug_cgroup_fd(const plug_cgroup *cg, int which);
/* The memory limit was hit and a process was killed for it. */
bool plug_cgroup_oom(const plug_cgroup *cg);
/* The run's main process is reaped and its process group killed: true when the group
 * then holds no process, or what was left is killed and the group removed (every process
 * the run started is gone: its directory is nobody's). An empty containing group is kept
 * for plug_cgroup_take; any other is removed. NULL: false. */
bool plug_cgroup_end(plug_cgroup *cg);
/* Kills what is left in the group and removes it. NULL is a no-op. */
void plug_cgroup_destroy(plug_cgroup *cg);

#endif
