/*
 * plug_cgroup — see plug_cgroup.h. File names written here are built from the detected
 * mount points, the worker's own group (from /proc/self/cgroup) and a run name the worker
 * generated: nothing from a task reaches a path.
 */
#include "plug_cgroup.h"

#include "floe_mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct plug_cgroups {
    int version;              /* 1 or 2 */
    char mem[PATH_MAX - 128]; /* v1: memory hierarchy dir of this worker; v2: its group */
    char cpu[PATH_MAX - 128]; /* v1: cpu hierarchy dir of this worker */
    plug_cgroup *idle[PLUG_CGROUP_IDLE_MAX]; /* containing groups, empty, for the next runs */
    size_t n_idle;
    unsigned seq; /* containing groups' names */
};

struct plug_cgroup {
    plug_cgroups *cgs;
    char mem[PATH_MAX], cpu[PATH_MAX];
    int fd[2];
    bool pooled; /* no limits: reused for the next run once empty */
};

static bool
own_path(const char *controller, char *out, size_t size)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[1024];
    bool found = false;
    if (f == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char *c1 = strchr(line, ':'), *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        if (c2 == NULL)
            continue;
        *c2 = '\0';
        line[strcspn(line, "\n")] = '\0';
        char *path = c2 + 1;
        path[strcspn(path, "\n")] = '\0';
        const char *ctl = c1 + 1;
        bool match = controller[0] == '\0' ? ctl[0] == '\0' : false;
        for (char *tok = (char *)ctl; !match && tok != NULL && *tok != '\0';) {
            char *comma = strchr(tok, ',');
            size_t len = comma != NULL ? (size_t)(comma - tok) : strlen(tok);
            if (len == strlen(controller) && strncmp(tok, controller, len) == 0)
                match = true;
            tok = comma != NULL ? comma + 1 : NULL;
        }
        if (match && snprintf(out, size, "%s", strcmp(path, "/") == 0 ? "" : path) < (int)size)
            found = true;
    }
    fclose(f);
    return found;
}

static bool
write_file(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd == -1)
        return false;
    ssize_t n = write(fd, value, strlen(value));
    close(fd);
    return n == (ssize_t)strlen(value);
}

static bool
probe_dir(const char *dir)
{
    char probe[PATH_MAX + 32];
    snprintf(probe, sizeof(probe), "%s/floe-probe-%d", dir, (int)getpid());
    if (mkdir(probe, 0755) == -1 && errno != EEXIST)
        return false;
    rmdir(probe);
    return true;
}

static bool remove_group(plug_cgroup *cg);

/* Containing groups of workers gone without removing them (killed -9): named after their
 * process, removed when no such process runs. */
static void
sweep_idle(plug_cgroups *cgs)
{
    DIR *dh = opendir(cgs->mem);
    struct dirent *e;
    if (dh == NULL)
        return;
    while ((e = readdir(dh)) != NULL) {
        int pid = 0;
        unsigned seq;
        if (sscanf(e->d_name, "floe-idle-%d-%u", &pid, &seq) != 2 || pid <= 0 ||
            (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        plug_cgroup *cg = floe_calloc(1, sizeof(*cg));
        if (cg == NULL)
            break;
        cg->fd[0] = cg->fd[1] = -1;
        if (snprintf(cg->mem, sizeof(cg->mem), "%s/%s", cgs->mem, e->d_name) < (int)sizeof(cg->mem))
            remove_group(cg);
        else
            floe_free(cg);
    }
    closedir(dh);
}

plug_cgroups *
plug_cgroups_detect(char *why, size_t why_size)
{
    plug_cgroups *cgs = floe_calloc(1, sizeof(*cgs));
    char own[PATH_MAX - 256];
    struct stat st;
    if (cgs == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    if (stat("/sys/fs/cgroup/memory", &st) == 0 && S_ISDIR(st.st_mode)) {
        cgs->version = 1;
        if (!own_path("memory", own, sizeof(own)))
            goto none;
        snprintf(cgs->mem, sizeof(cgs->mem), "/sys/fs/cgroup/memory%s", own);
        if (!own_path("cpu", own, sizeof(own)))
            own[0] = '\0';
        snprintf(cgs->cpu, sizeof(cgs->cpu), "/sys/fs/cgroup/cpu%s", own);
        if (!probe_dir(cgs->mem))
            goto none;
        if (!probe_dir(cgs->cpu))
            cgs->cpu[0] = '\0';
        sweep_idle(cgs);
        return cgs;
    }
    if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0 && own_path("", own, sizeof(own))) {
        cgs->version = 2;
        snprintf(cgs->mem, sizeof(cgs->mem), "/sys/fs/cgroup%s", own);
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof(probe), "%s/floe-probe-%d", cgs->mem, (int)getpid());
        bool ok = mkdir(probe, 0755) == 0 || errno == EEXIST;
        if (ok) {
            char f[PATH_MAX + 48];
            snprintf(f, sizeof(f), "%s/memory.max", probe);
            ok = access(f, W_OK) == 0;
            rmdir(probe);
        }
        if (ok) {
            sweep_idle(cgs);
            return cgs;
        }
    }
none:
    snprintf(why, why_size,
             "no writable cgroup v1 memory hierarchy or v2 group with the memory "
             "controller for this process");
    floe_free(cgs);
    return NULL;
}

void
plug_cgroups_free(plug_cgroups *cgs)
{
    if (cgs == NULL)
        return;
    for (size_t i = 0; i < cgs->n_idle; i++)
        remove_group(cgs->idle[i]);
    floe_free(cgs);
}

static int
open_procs(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    return open(path, O_WRONLY | O_CLOEXEC);
}

floe_rc
plug_cgroup_create(plug_cgroups *cgs, const char *name, uint64_t memory_bytes, uint32_t cpu_millis,
                   plug_cgroup **out, floe_err *err)
{
    plug_cgroup *cg = floe_calloc(1, sizeof(*cg));
    char v[64];
    if (cg == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    cg->cgs = cgs;
    cg->fd[0] = cg->fd[1] = -1;
    if (snprintf(cg->mem, sizeof(cg->mem), "%s/floe-%s", cgs->mem, name) >= (int)sizeof(cg->mem) ||
        mkdir(cg->mem, 0755) == -1) {
        floe_free(cg);
        return floe_err_sys(err, FLOE_EIO, "cgroup: mkdir: %s", strerror(errno));
    }
    if (cgs->version == 1 && cgs->cpu[0] != '\0' && cpu_millis > 0) {
        snprintf(cg->cpu, sizeof(cg->cpu), "%s/floe-%s", cgs->cpu, name);
        if (mkdir(cg->cpu, 0755) == -1)
            cg->cpu[0] = '\0';
    }
    bool ok = true;
    if (cgs->version == 1) {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)memory_bytes);
        if (memory_bytes > 0)
            ok = write_file(cg->mem, "memory.limit_in_bytes", v) &&
                 (write_file(cg->mem, "memory.memsw.limit_in_bytes", v) || true);
        if (ok && cg->cpu[0] != '\0') {
            snprintf(v, sizeof(v), "%llu", (unsigned long long)cpu_millis * 100);
            ok = write_file(cg->cpu, "cpu.cfs_period_us", "100000") &&
                 write_file(cg->cpu, "cpu.cfs_quota_us", v);
        }
    } else {
        snprintf(v, sizeof(v), "%llu", (unsigned long long)memory_bytes);
        if (memory_bytes > 0)
            ok =
                write_file(cg->mem, "memory.max", v) && write_file(cg->mem, "memory.swap.max", "0");
        if (ok && cpu_millis > 0) {
            snprintf(v, sizeof(v), "%llu 100000", (unsigned long long)cpu_millis * 100);
            write_file(cg->mem, "cpu.max", v); /* the cpu controller may be off: memory only */
        }
    }
    cg->fd[0] = open_procs(cg->mem);
    if (cg->cpu[0] != '\0')
        cg->fd[1] = open_procs(cg->cpu);
    if (!ok || cg->fd[0] == -1) {
        plug_cgroup_destroy(cg);
        return floe_err_sys(err, FLOE_EIO, "cgroup: cannot set limits");
    }
    *out = cg;
    return FLOE_OK;
}

floe_rc
plug_cgroup_take(plug_cgroups *cgs, plug_cgroup **out, floe_err *err)
{
    if (cgs->n_idle > 0) {
        *out = cgs->idle[--cgs->n_idle];
        return FLOE_OK;
    }
    plug_cgroup *cg = floe_calloc(1, sizeof(*cg));
    if (cg == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    cg->cgs = cgs;
    cg->pooled = true;
    cg->fd[0] = cg->fd[1] = -1;
    /* Named after this process: a worker's groups are told from another's under the
     * same parent (two workers in one cgroup share it). */
    if (snprintf(cg->mem, sizeof(cg->mem), "%s/floe-idle-%d-%u", cgs->mem, (int)getpid(),
                 cgs->seq++) >= (int)sizeof(cg->mem) ||
        mkdir(cg->mem, 0755) == -1) {
        floe_free(cg);
        return floe_err_sys(err, FLOE_EIO, "cgroup: mkdir: %s", strerror(errno));
    }
    if ((cg->fd[0] = open_procs(cg->mem)) == -1) {
        remove_group(cg);
        return floe_err_sys(err, FLOE_EIO, "cgroup: cgroup.procs: %s", strerror(errno));
    }
    *out = cg;
    return FLOE_OK;
}

int
plug_cgroup_fd(const plug_cgroup *cg, int which)
{
    return cg != NULL && which >= 0 && which < 2 ? cg->fd[which] : -1;
}

bool
plug_cgroup_oom(const plug_cgroup *cg)
{
    char path[PATH_MAX + 32], buf[512];
    if (cg == NULL || cg->pooled) /* no limit of the run's: nothing of ours to hit */
        return false;
    snprintf(path, sizeof(path), "%s/%s", cg->mem,
             cg->cgs->version == 1 ? "memory.failcnt" : "memory.events");
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (cg->cgs->version == 1)
        return strtoull(buf, NULL, 10) > 0;
    const char *k = strstr(buf, "oom_kill ");
    return k != NULL && strtoull(k + 9, NULL, 10) > 0;
}

static void
kill_rest(const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    long pid;
    while (fscanf(f, "%ld", &pid) == 1)
        kill((pid_t)pid, SIGKILL);
    fclose(f);
}

/* No process in the group: read from cgroup.procs, which lists them (v1 and v2). */
static bool
group_empty(const char *dir)
{
    char path[PATH_MAX + 32], c;
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return false;
    ssize_t n = read(fd, &c, 1);
    close(fd);
    return n == 0;
}

/* Kills what is left, removes the group: true when it is gone (and so are its processes). */
static bool
remove_group(plug_cgroup *cg)
{
    for (int i = 0; i < 2; i++)
        if (cg->fd[i] != -1)
            close(cg->fd[i]);
    kill_rest(cg->mem);
    /* A killed process leaves the group asynchronously: retry the rmdir briefly. */
    int i = 0;
    while (rmdir(cg->mem) == -1 && errno == EBUSY && i++ < 50)
        usleep(2000);
    bool gone = access(cg->mem, F_OK) == -1 && errno == ENOENT;
    if (cg->cpu[0] != '\0')
        rmdir(cg->cpu);
    floe_free(cg);
    return gone;
}

bool
plug_cgroup_end(plug_cgroup *cg)
{
    if (cg == NULL)
        return false;
    plug_cgroups *cgs = cg->cgs;
    if (cg->pooled && cgs->n_idle < PLUG_CGROUP_IDLE_MAX && group_empty(cg->mem)) {
        cgs->idle[cgs->n_idle++] = cg;
        return true;
    }
    return remove_group(cg);
}

void
plug_cgroup_destroy(plug_cgroup *cg)
{
    if (cg != NULL)
        remove_group(cg);
}
