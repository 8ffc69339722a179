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

/* Entry name of the directory open at dfd made again what kept[k] says, by a descriptor
 * opened without following a link (the name may have become one since it was looked at,
 * review L3): the same owner and type (a file with another link would take the next task's
 * stdout elsewhere), its mode, and emptied. False when it is something else. */
static bool
reset_entry(int dfd, const char *name, size_t k)
{
    int fd = openat(dfd, name,
                    (kept[k].dir ? O_RDONLY | O_DIRECTORY : O_WRONLY | O_NONBLOCK) | O_NOFOLLOW |
                        O_CLOEXEC);
    if (fd == -1)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
              (kept[k].dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) && st.st_nlink == 1) &&
              fchmod(fd, kept[k].mode) == 0 &&
              (kept[k].dir ? wrk_io_empty_fd(fd)
                           : strcmp(name, "inputs.json") == 0 || ftruncate(fd, 0) == 0);
    close(fd);
    return ok;
}

floe_rc
wrk_dirs_reset(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dh = dfd == -1 ? NULL : fdopendir(dfd);
    if (dh == NULL) {
        if (dfd != -1)
            close(dfd);
        return FLOE_EIO;
    }
    unsigned found = 0;
    bool ok = true;
    struct dirent *e;
    /* A task may have replaced an entry by a symlink or a hard link, made it a file or
     * taken its permissions away: an entry is kept only as what it was made, else removed
     * (and then found short: the directory is not reused). */
    while (ok && (e = readdir(dh)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t k = 0;
        while (k < N_KEPT && strcmp(kept[k].name, e->d_name) != 0)
            k++;
        if (k < N_KEPT && reset_entry(dfd, e->d_name, k))
            found++;
        else
            ok = wrk_io_rm_at(dfd, e->d_name);
    }
    ok = ok && found == N_KEPT && fchmod(dfd, 0700) == 0;
    closedir(dh);
    return ok ? FLOE_OK : FLOE_EIO;
}
