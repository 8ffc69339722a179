/*
 * plug_cgroup — memory and CPU limits for process tasks through the kernel's cgroups,
 * when the machine lets this worker create them: cgroup v1 (memory and cpu hierarchies)
 * or v2 (a child of the worker's own cgroup with the memory and cpu controllers enabled).
 * Each run gets a group named after it under the worker's own group, removed when the
 * run ends. Without cgroups the process executor falls back to rlimits alone.
 */
#ifndef PLUG_CGROUP_H
#define PLUG_CGROUP_H

#include "floe_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct plug_cgroups plug_cgroups;
typedef struct plug_cgroup plug_cgroup;

/* NULL when cgroups cannot be used here; why says so (for one log line). */
plug_cgroups *plug_cgroups_detect(char *why, size_t why_size);
void plug_cgroups_free(plug_cgroups *cgs);

/* A group for run `name` ([a-z0-9-]) with the limits (0: none). */
floe_rc plug_cgroup_create(plug_cgroups *cgs, const char *name, uint64_t memory_bytes,
                           uint32_t cpu_millis, plug_cgroup **out, floe_err *err);
/* Open cgroup.procs files the child writes "0" to; -1 when absent. */
int plug_cgroup_fd(const plug_cgroup *cg, int which);
/* The memory limit was hit and a process was killed for it. */
bool plug_cgroup_oom(const plug_cgroup *cg);
/* Kills what is left in the group and removes it. NULL is a no-op. */
void plug_cgroup_destroy(plug_cgroup *cg);

#endif
