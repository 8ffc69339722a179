/*
 * wrk_pod — the worker's side of a Kubernetes pod that moves its data itself
 * (kubernetes.helper_image; the pod's side is plugins/plug_kube_data.c). Before the pod
 * runs: a presigned GET url for each blob input (the pod checks its SHA-256), the file
 * contents of every other input, a presigned PUT url to a staging object for each
 * declared output. After it ran: what the pod staged is fetched into outputs/, where the
 * usual collection types it and stores blobs content-addressed, and the staged objects
 * are deleted whatever the outcome. All on pool threads.
 */
#include "wrk_att.h"

#include "floe_arena.h"
#include "store_blob.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POD_VALUES_MAX (256u << 10) /* inputs written from the environment, all together */

static char *
arena_printf_url(floe_arena *a, const char *url)
{
    size_t n = strlen(url) + 1;
    char *s = floe_arena_alloc(a, n);
    if (s != NULL)
        memcpy(s, url, n);
    return s;
}

/* The content of the input file the worker wrote (inputs/<name>), into the arena. */
static char *
read_input(floe_arena *a, const char *dir, const char *name, size_t *budget, floe_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/inputs/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        floe_err_sys(err, FLOE_EIO, "input %s: %s", name, strerror(e));
        return NULL;
    }
    if ((uint64_t)st.st_size > *budget) {
        close(fd);
        floe_err_user(err, FLOE_ETOOBIG,
                      "kubernetes: inputs other than blobs exceed the %u bytes a pod is given "
                      "in its environment (input %s)",
                      POD_VALUES_MAX, name);
        return NULL;
    }
    char *buf = floe_arena_alloc(a, (size_t)st.st_size + 1);
    ssize_t n = buf != NULL ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (n != (ssize_t)st.st_size) {
        floe_err_sys(err, FLOE_EIO, "input %s: short read", name);
        return NULL;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', (size_t)n) != NULL) {
        floe_err_user(err, FLOE_EINVAL, "input %s: a NUL byte cannot pass in the environment",
                      name);
        return NULL;
    }
    *budget -= (size_t)n;
    return buf;
}

floe_rc
wrk_pod_prepare(wrk_att *att, floe_err *err)
{
    wrk *w = att->w;
    const Floe__TaskDispatch *d = att->d;
    if (strcmp(store_blob_backend(w->blobs), "s3") != 0)
        return floe_err_sys(err, FLOE_ENOTSUP,
                            "kubernetes.helper_image: pods move data through presigned urls, "
                            "which need blob.backend=s3 (this worker has %s)",
                            store_blob_backend(w->blobs));
    att->pod_in = floe_arena_alloc(att->arena, (d->n_inputs + 1) * sizeof(*att->pod_in));
    att->pod_out = floe_arena_alloc(att->arena, (d->n_outputs + 1) * sizeof(*att->pod_out));
    if (att->pod_in == NULL || att->pod_out == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    char url[STORE_BLOB_URL_MAX], name[256];
    size_t budget = POD_VALUES_MAX;
    for (size_t i = 0; i < d->n_inputs; i++) {
        const Floe__NamedValue *nv = d->inputs[i];
        plug_pod_io *io = &att->pod_in[att->n_pod_in];
        memset(io, 0, sizeof(*io));
        io->name = nv->name;
        const Floe__Value *v = nv->value;
        if (v != NULL && v->kind_case == FLOE__VALUE__KIND_BLOB && v->blob != NULL) {
            floe_rc rc = store_blob_presign(w->blobs, "GET", v->blob->uri, url, sizeof(url), err);
            if (rc != FLOE_OK)
                return rc;
            const char *hex = strrchr(v->blob->uri, '/');
            io->url = arena_printf_url(att->arena, url);
            io->sha256 = hex != NULL ? hex + 1 : "";
        } else if ((io->value = read_input(att->arena, att->dir, nv->name, &budget, err)) == NULL) {
            return err->code;
        }
        att->n_pod_in++;
    }
    for (size_t i = 0; i < d->n_outputs; i++) {
        plug_pod_io *io = &att->pod_out[att->n_pod_out];
        memset(io, 0, sizeof(*io));
        io->name = d->outputs[i]->name;
        snprintf(name, sizeof(name), "%s/%s", att->run_id, io->name);
        floe_rc rc = store_blob_stage_url(w->blobs, "PUT", name, url, sizeof(url), err);
        if (rc != FLOE_OK)
            return rc;
        io->url = arena_printf_url(att->arena, url);
        att->n_pod_out++;
    }
    return FLOE_OK;
}

floe_rc
wrk_pod_fetch_outputs(wrk_att *att, floe_err *err)
{
    wrk *w = att->w;
    char name[256], path[PATH_MAX];
    for (size_t i = 0; i < att->n_pod_out; i++) {
        snprintf(name, sizeof(name), "%s/%s", att->run_id, att->pod_out[i].name);
        snprintf(path, sizeof(path), "%s/outputs/%s", att->dir, att->pod_out[i].name);
        floe_rc rc =
            store_blob_stage_fetch(w->blobs, name, path, (uint64_t)w->cfg->blob_max_bytes, err);
        if (rc == FLOE_ENOTFOUND) /* not written: the collection says so, naming it */
            continue;
        if (rc != FLOE_OK)
            return rc;
    }
    return FLOE_OK;
}

void
wrk_pod_drop_staged(wrk_att *att)
{
    char name[256];
    for (size_t i = 0; i < att->n_pod_out; i++) {
        snprintf(name, sizeof(name), "%s/%s", att->run_id, att->pod_out[i].name);
        floe_err err;
        if (store_blob_stage_delete(att->w->blobs, name, &err) != FLOE_OK)
            floe_log_warn(&att->log, "%s (a bucket lifecycle rule on staging/ removes it)",
                          err.msg);
    }
}
