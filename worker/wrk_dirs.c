/*
 * wrk_dirs — attempt directories handed from one attempt to the next. A new one costs
 * four mkdir and two files made, and its removal four rmdir and two unlink: new inodes,
 * which ext4 without a journal allocates by first stepping over every inode freed in the
 * last seconds (at a thousand tasks a second, thousands). A directory whose task is known
 * gone (the executor emptied the task's cgroup: plug_result.contained) is emptied back to
 * what a new one holds and given to the next attempt; with any doubt it is removed.
 * Reset runs on the file pool; take and give on the loop thread, which owns the list.
 */
#include "wrk_dirs.h"

#include "floe_mem.h"
#include "wrk_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a new attempt directory holds (wrk_io_inputs, plug_open_logs), and nothing else.
 * inputs.json is left as it is: the next attempt overwrites it before its task starts. */
static const struct {
    const char *name;
    bool dir;
    mode_t mode;
} kept[] = {
    {"inputs", true, 0755},  {"outputs", true, 01777}, {"tmp", true, 01777},
    {"stdout", false, 0644}, {"stderr", false, 0644},  {"inputs.json", false, 0644},
};
#define N_KEPT (sizeof(kept) / sizeof(kept[0]))

struct wrk_dirs {
    char **idle;
    size_t n, cap;
};

wrk_dirs *
wrk_dirs_new(size_t cap)
{
    wrk_dirs *d = floe_calloc(1, sizeof(*d));
    if (d == NULL || (d->idle = floe_calloc(cap > 0 ? cap : 1, sizeof(*d->idle))) == NULL) {
        floe_free(d);
        return NULL;
    }
    d->cap = cap;
    return d;
}

void
wrk_dirs_free(wrk_dirs *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        wrk_io_rmtree(d->idle[i]);
        floe_free(d->idle[i]);
    }
    floe_free(d->idle);
    floe_free(d);
}

bool
wrk_dirs_take(wrk_dirs *d, char *dir, size_t size)
{
    if (d == NULL || d->n == 0)
        return false;
    char *p = d->idle[--d->n];
    bool fits = snprintf(dir, size, "%s", p) < (int)size;
    if (!fits) {
        dir[0] = '\0';
        wrk_io_rmtree(p);
    }
    floe_free(p);
    return fits;
}

bool
wrk_dirs_give(wrk_dirs *d, const char *dir)
{
    char *p;
    if (d == NULL || d->n == d->cap || (p = floe_strdup(dir)) == NULL)
        return false;
    d->idle[d->n++] = p;
    return true;
}

/* path removed, not following symlinks, and seen gone (wrk_io_rmtree goes on past what it
 * cannot remove, say a directory without permissions for a worker not root). */
static bool
remove_all(const char *path)
{
    struct stat st;
    wrk_io_rmtree(path);
    return lstat(path, &st) == -1 && errno == ENOENT;
}

/* Removes everything in path (a directory), not following symlinks. */
static bool
empty_dir(const char *path)
{
    DIR *dh = opendir(path);
    struct dirent *e;
    char sub[PATH_MAX];
    bool ok = dh != NULL;
    while (ok && (e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        ok = snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int)sizeof(sub) &&
             remove_all(sub);
    }
    if (dh != NULL)
        closedir(dh);
    return ok;
}

floe_rc
wrk_dirs_reset(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    unsigned found = 0;
    DIR *dh = opendir(dir);
    struct dirent *e;
    bool ok = dh != NULL;
    /* A task may have replaced an entry by a symlink or a hard link, made it a file or
     * taken its permissions away: an entry is kept only as what it was made, else
     * removed (and then found short: the directory is not reused). */
    while (ok && (e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
            lstat(path, &st) == -1) {
            ok = false;
            break;
        }
        size_t k = 0;
        while (k < N_KEPT && strcmp(kept[k].name, e->d_name) != 0)
            k++;
        /* A file with another link would take the next task's stdout elsewhere. */
        bool same = k < N_KEPT && st.st_uid == geteuid() &&
                    (kept[k].dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) && st.st_nlink == 1);
        if (!same) {
            ok = remove_all(path);
            continue;
        }
        ok = chmod(path, kept[k].mode) == 0 &&
             (kept[k].dir ? empty_dir(path)
                          : strcmp(e->d_name, "inputs.json") == 0 || truncate(path, 0) == 0);
        found++;
    }
    if (dh != NULL)
        closedir(dh);
    ok = ok && found == N_KEPT && chmod(dir, 0700) == 0;
    return ok ? FLOE_OK : FLOE_EIO;
}
