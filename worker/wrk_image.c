/*
 * wrk_image — an `oci` task given an image instead of a rootfs: before it runs, the image
 * is unpacked (once per digest, into <oci.rootfs_dir>/.images, shared and bounded by
 * oci.image_cache_keep) by the floe-image-rootfs helper beside the worker's binary, run
 * as a child of the loop like every other; its answer is the rootfs the attempt runs on.
 * A reference the helper cannot use fails the attempt as USER; a registry or layout it
 * cannot read, or an unpack that fails, as SYSTEM (retried, maybe elsewhere).
 */
#include "wrk_att.h"

#include "floe_mem.h"
#include "floe_text.h"
#include "plug_child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool
wrk_image_needed(const wrk_att *att)
{
    const Floe__Container *c = att->d->container;
    return att->kind == 1 && c != NULL && c->image != NULL && c->image[0] != '\0' &&
           (c->rootfs == NULL || c->rootfs[0] == '\0');
}

/* The first line of a small file, into buf. */
static void
first_line(const char *path, char *buf, size_t size, bool last)
{
    char tmp[4096];
    buf[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return;
    ssize_t n = read(fd, tmp, sizeof(tmp) - 1);
    close(fd);
    if (n <= 0)
        return;
    tmp[n] = '\0';
    while (n > 0 && tmp[n - 1] == '\n')
        tmp[--n] = '\0';
    const char *s = tmp;
    if (last) {
        const char *nl = strrchr(tmp, '\n');
        s = nl != NULL ? nl + 1 : tmp;
    } else {
        char *nl = strchr(tmp, '\n');
        if (nl != NULL)
            *nl = '\0';
    }
    floe_text_copy(buf, size, s, strlen(s));
}

static void
on_helper_exit(pid_t pid, int status, void *arg)
{
    (void)pid;
    wrk_att *att = arg;
    char out[PATH_MAX], err[300], path[PATH_MAX];
    att->job_out = false;
    if (att->aborted || att->released) {
        wrk_att_collect(att); /* removes the directory, publishes nothing */
        return;
    }
    snprintf(path, sizeof(path), "%s/image.out", att->dir);
    first_line(path, out, sizeof(out), false);
    snprintf(path, sizeof(path), "%s/image.err", att->dir);
    first_line(path, err, sizeof(err), true);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (code == 0 && out[0] == '/' &&
        (att->rootfs = floe_arena_strndup(att->arena, out, strlen(out))) != NULL) {
        wrk_att_run(att);
        return;
    }
    char msg[FLOE_ERR_MSG_MAX];
    floe_text_fmt(msg, sizeof(msg), "image %s: %s", att->d->container->image,
                  err[0] != '\0' ? err : "the helper failed");
    wrk_att_fail_and_clean(att, code == 2 ? FLOE_ERR_USER : FLOE_ERR_SYSTEM, "image", msg);
}

void
wrk_image_resolve(wrk_att *att)
{
    wrk *w = att->w;
    char cache[PATH_MAX], keep[24], out[PATH_MAX], errp[PATH_MAX];
    snprintf(cache, sizeof(cache), "%s/.images", w->cfg->oci_rootfs_dir);
    snprintf(keep, sizeof(keep), "%lld", (long long)w->cfg->oci_image_cache_keep);
    snprintf(out, sizeof(out), "%s/image.out", att->dir);
    snprintf(errp, sizeof(errp), "%s/image.err", att->dir);
    int ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    int efd = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    char *argv[] = {w->image_helper, att->d->container->image, cache, keep, NULL};
    char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME=/root", NULL};
    plug_spawn sp = {.path = w->image_helper,
                     .argv = argv,
                     .envp = envp,
                     .out_fd = ofd,
                     .err_fd = efd,
                     .new_pgrp = true,
                     .cgroup_fd = -1,
                     .cgroup_fd2 = -1};
    floe_err err = {0};
    pid_t pid;
    floe_rc rc = ofd == -1 || efd == -1
                     ? floe_err_sys(&err, FLOE_EIO, "image: files in the attempt directory: %s",
                                    strerror(errno))
                     : plug_child_spawn(w->children, &sp, on_helper_exit, att, &pid, &err);
    if (ofd != -1)
        close(ofd);
    if (efd != -1)
        close(efd);
    if (rc != FLOE_OK) {
        wrk_att_fail_and_clean(att, FLOE_ERR_SYSTEM, "image", err.msg);
        return;
    }
    att->job_out = true; /* the helper refers to att until it exits */
}
