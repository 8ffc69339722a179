/*
 * wrk_prepare — an attempt's directory and inputs before its task runs: a directory made
 * or reused (wrk_dirs.c), every input written (values by reference read back, blobs
 * fetched), secrets resolved; on the file pool, or on the loop when there is nothing to
 * fetch (below). Then the image, if the executor needs one, and the run.
 */
#include "wrk_att.h"
#include "wrk_dirs.h"
#include "wrk_io.h"

#include "store_valref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs written on the loop at most: a few small files cost less than the two thread
 * hand-offs of the pool, each of which waits for a core on a busy machine (issue 25). */
#define PREPARE_INLINE_MAX (64 * 1024)

static void
prepare_work(void *ctx, void *job)
{
    (void)ctx;
    wrk_att *att = job;
    wrk *w = att->w;
    char tmpl[sizeof(att->dir)];
    snprintf(tmpl, sizeof(tmpl), "%s/att-XXXXXX", w->slot_dir);
    if (att->dir[0] == '\0' && mkdtemp(tmpl) == NULL) { /* else one reused (wrk_dirs.c) */
        att->job_failed = true;
        floe_err_sys(&att->err, FLOE_EIO, "attempt directory under %s: %s", w->slot_dir,
                     strerror(errno));
        return;
    }
    if (att->dir[0] == '\0')
        snprintf(att->dir, sizeof(att->dir), "%s", tmpl);
    /* A pod that moves its data fetches its blob inputs itself: not here as well. */
    bool pod_data = att->kind == WRK_KUBE && w->cfg->kube_helper_image[0] != '\0';
    /* Values by reference are read back here: the task sees values (issue 23). The
     * dispatch keeps its references (its lineage names them, not their bytes). */
    size_t n_in = att->d->n_inputs;
    Floe__NamedValue **in = floe_arena_alloc(att->arena, (n_in + 1) * sizeof(*in));
    if (in == NULL) {
        att->job_failed = true;
        floe_err_sys(&att->err, FLOE_ENOMEM, "out of memory");
        return;
    }
    if (n_in > 0)
        memcpy(in, att->d->inputs, n_in * sizeof(*in));
    att->job_failed =
        store_valref_resolve(w->blobs, in, n_in, w->slot_dir, (uint64_t)w->cfg->values_max_bytes,
                             att->arena, &att->err) != FLOE_OK ||
        wrk_io_inputs(att->dir, in, n_in, pod_data ? NULL : w->blobs, &att->inputs_json,
                      &att->err) != FLOE_OK;
    if (!att->job_failed && pod_data)
        att->job_failed = wrk_pod_prepare(att, &att->err) != FLOE_OK;
    /* A pod takes its secrets from a Kubernetes Secret it references; the worker reads
     * them too only when it has them, to mask them in the pod's log. */
    bool pod_refs = att->kind == WRK_KUBE && w->cfg->worker_secrets_dir[0] == '\0';
    if (!att->job_failed && !pod_refs &&
        wrk_secrets_resolve(w->cfg->worker_secrets_dir, att->d->container, att->dir, att->arena,
                            &att->secrets, &att->err) != FLOE_OK)
        att->job_failed = att->secret_failed = true;
}

static void
prepare_done(void *job)
{
    wrk_att *att = job;
    att->job_out = false;
    if (att->aborted || att->released) {
        wrk_att_collect(att); /* removes the directory, publishes nothing */
        return;
    }
    if (att->job_failed) {
        wrk_att_fail_and_clean(att, att->err.cls == FLOE_ERR_USER ? FLOE_ERR_USER : FLOE_ERR_SYSTEM,
                               att->secret_failed ? "secret" : "inputs", att->err.msg);
        return;
    }
    if (wrk_image_needed(att)) {
        wrk_image_resolve(att);
        return;
    }
    wrk_att_run(att);
}

/* Nothing to fetch and no inode to make: a reused directory, every input an inline value
 * (no blob, no reference), no secret to read, not a pod. */
static bool
prepare_inline(const wrk_att *att, bool reused)
{
    const Floe__TaskDispatch *d = att->d;
    if (!reused || att->kind == WRK_KUBE || (d->container != NULL && d->container->n_secrets > 0))
        return false;
    size_t bytes = 0;
    for (size_t i = 0; i < d->n_inputs; i++) {
        const Floe__Value *v = d->inputs[i] != NULL ? d->inputs[i]->value : NULL;
        if (v == NULL || v->kind_case == FLOE__VALUE__KIND_BLOB ||
            v->kind_case == FLOE__VALUE__KIND_REF)
            return false;
        bytes += protobuf_c_message_get_packed_size(&v->base);
    }
    return bytes <= PREPARE_INLINE_MAX;
}

void
wrk_att_prepare(wrk_att *att)
{
    wrk *w = att->w;
    att->state = ATT_PREPARING;
    att->job_out = true;
    bool reused = wrk_dirs_take(w->dirs, att->dir, sizeof(att->dir));
    if (reused)
        floe_metric_add(w->m_dirs_reused, 1);
    if (prepare_inline(att, reused)) {
        prepare_work(NULL, att);
        prepare_done(att);
        return;
    }
    if (floe_pool_submit(w->pool, prepare_work, prepare_done, att) != FLOE_OK) {
        att->job_out = false;
        wrk_res_failure(att, FLOE_ERR_SYSTEM, "busy", "the worker's file pool is full");
    }
}
