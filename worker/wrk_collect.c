/*
 * wrk_collect — what an attempt leaves once its task ended: outputs uploaded and typed,
 * logs stored, the end described (exit, signal, timeout, OOM, with the last line of
 * stderr), the attempt directory removed, on the file pool; then the result published
 * (wrk_result.c).
 */
#include "wrk_att.h"

#include "floe_fault.h"
#include "floe_mem.h"
#include "floe_text.h"
#include "store_valref.h"
#include "wrk_dirs.h"
#include "wrk_io.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void
collect_work(void *ctx, void *job)
{
    (void)ctx;
    wrk_att *att = job;
    wrk *w = att->w;
    char path[PATH_MAX];
    static const char *const names[2] = {"stdout", "stderr"};
    bool publish = !att->aborted && !att->released;
    /* Kept whatever the end: an aborted or released attempt's logs are read through the
     * running-log index (wrk_ship.c), a finished one's through its result. */
    for (int i = 0; i < 2 && att->dir[0] != '\0'; i++) {
        snprintf(path, sizeof(path), "%s/%s", att->dir, names[i]);
        floe_err merr = {0};
        if (wrk_secrets_mask_file(&att->secrets, path, &merr) != FLOE_OK) {
            floe_log_warn(&att->log, "%s; the log is not kept", merr.msg);
            continue; /* a log that may hold a secret is not stored */
        }
        att->has_log[i] = wrk_io_put_log(w->blobs, path, &att->logs[i]);
    }
    bool ok = att->res.end == PLUG_END_EXITED && att->res.exit_code == 0 && !att->timed_out;
    if (publish && ok && att->pod_out != NULL) /* what the pod staged, as if written here */
        att->job_failed = wrk_pod_fetch_outputs(att, &att->err) != FLOE_OK;
    if (att->pod_out != NULL)
        wrk_pod_drop_staged(att);
    if (publish) {
        if (ok && !att->job_failed) {
            att->job_failed = wrk_io_outputs(att->dir, att->d->outputs, att->d->n_outputs, w->blobs,
                                             (uint64_t)w->cfg->worker_output_max, att->arena,
                                             &att->outs, &att->err) != FLOE_OK;
            FLOE_FAULT("worker.after_outputs_uploaded");
        }
        /* Outputs too large for the bus travel by reference (issue 23). */
        if (ok && !att->job_failed && att->outs != NULL)
            att->job_failed = store_valref_shrink(w->blobs, att->outs, att->d->n_outputs,
                                                  (size_t)w->cfg->values_inline_max, w->slot_dir,
                                                  att->arena, &att->err) != FLOE_OK;
        size_t max = (size_t)w->cfg->worker_stderr_tail;
        if ((att->tail = floe_malloc(max + 1)) != NULL) {
            /* a pod's log is one stream, kept as stdout */
            snprintf(path, sizeof(path), "%s/%s", att->dir, att->kind == 2 ? "stdout" : "stderr");
            wrk_io_tail(path, att->tail, max);
        }
    }
    /* Reused when nothing the task started can write to it any more. */
    if (att->dir[0] != '\0' && !(att->dir_kept = att->res.contained && !att->aborted &&
                                                 wrk_dirs_reset(att->dir) == FLOE_OK))
        wrk_io_rmtree(att->dir);
}

static void
describe_end(const wrk_att *att, char *msg, size_t size, const char **code)
{
    const plug_result *r = &att->res;
    const Floe__TaskDispatch *d = att->d;
    const char *tail = att->tail != NULL && att->tail[0] != '\0' ? "; stderr ends: " : "";
    char last[200] = "";
    if (tail[0] != '\0') { /* the last line, as the most likely explanation */
        size_t len = strlen(att->tail);
        while (len > 0 && att->tail[len - 1] == '\n')
            len--;
        size_t s = len;
        while (s > 0 && att->tail[s - 1] != '\n')
            s--;
        floe_text_copy(last, sizeof(last), att->tail + s, len - s);
        if (last[0] == '\0')
            tail = "";
    }
    if (att->timed_out) {
        *code = "timeout";
        snprintf(msg, size, "exceeded its timeout of %u ms and was stopped", d->timeout_ms);
    } else if (r->oom) {
        *code = "oom";
        snprintf(msg, size, "killed for exceeding its memory limit of %llu bytes",
                 (unsigned long long)(d->resources != NULL ? d->resources->memory_bytes : 0));
    } else if (r->end == PLUG_END_SIGNALED) {
        *code = "signal";
        floe_text_fmt(msg, size, "killed by signal %d (%s)%s%s", r->signal, strsignal(r->signal),
                      tail, last);
    } else {
        *code = "exit";
        floe_text_fmt(msg, size, "%s exited with status %d%s%s",
                      d->container != NULL && d->container->n_command > 0 ? d->container->command[0]
                                                                          : "the task",
                      r->exit_code, tail, last);
    }
}

static void
collect_done(void *job)
{
    wrk_att *att = job;
    att->job_out = false;
    if (att->dir_kept && !wrk_dirs_give(att->w->dirs, att->dir))
        wrk_io_rmtree(att->dir); /* not expected: no more are out than the list holds */
    att->dir_kept = false;
    att->dir[0] = '\0'; /* the next attempt's now */
    wrk_ship_end(att);
    if (att->released) {
        wrk_att_release(att);
        return;
    }
    if (att->aborted) {
        wrk_res_count(att, "aborted");
        wrk_att_finish(att);
        return;
    }
    if (att->res.end == PLUG_END_EXITED && att->res.exit_code == 0 && !att->timed_out) {
        if (!att->job_failed) {
            wrk_res_success(att);
            return;
        }
        const char *code = att->err.cls == FLOE_ERR_SYSTEM ? "upload" : "output";
        wrk_res_failure(att, att->err.cls == FLOE_ERR_SYSTEM ? FLOE_ERR_SYSTEM : FLOE_ERR_USER,
                        code, att->err.msg);
        return;
    }
    char msg[FLOE_ERR_MSG_MAX];
    const char *code = "exit";
    describe_end(att, msg, sizeof(msg), &code);
    wrk_res_failure(att, FLOE_ERR_USER, code, msg);
}

/* Read on the loop at most: as in wrk_prepare.c, a few small files cost less than the
 * pool's two thread hand-offs (issue 25). */
#define COLLECT_INLINE_MAX (64 * 1024)

static bool
small_file(const char *dir, const char *sub, const char *name, off_t *left)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof(path), "%s/%s%s", dir, sub, name) >= (int)sizeof(path))
        return false;
    if (lstat(path, &st) == -1)
        return errno == ENOENT; /* a missing output is an error said on the loop as well */
    *left -= st.st_size;
    return S_ISREG(st.st_mode) && *left >= 0;
}

/* Nothing to upload: the task is known gone (its directory is reset, not removed), no
 * secret to mask, empty logs, and outputs that are small files and no blob. */
static bool
collect_inline(const wrk_att *att)
{
    const Floe__TaskDispatch *d = att->d;
    int64_t inl = att->w->cfg->values_inline_max;
    off_t left = inl > 0 && inl < COLLECT_INLINE_MAX ? (off_t)inl : COLLECT_INLINE_MAX;
    off_t logs = 0;
    if (!att->res.contained || att->dir[0] == '\0' || att->aborted || att->released ||
        (d->container != NULL && d->container->n_secrets > 0) ||
        !small_file(att->dir, "", "stdout", &logs) || !small_file(att->dir, "", "stderr", &logs) ||
        logs != 0)
        return false;
    for (size_t i = 0; i < d->n_outputs; i++) {
        const Floe__Variable *v = d->outputs[i];
        if (v == NULL || v->type == NULL || !wrk_io_name_ok(v->name) ||
            v->type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BLOB ||
            !small_file(att->dir, "outputs/", v->name, &left))
            return false;
    }
    return true;
}

void
wrk_att_collect(wrk_att *att)
{
    att->state = ATT_COLLECTING;
    if (!wrk_ship_stop(att))
        return; /* a ship in flight: it calls back here when done */
    att->job_out = true;
    if (collect_inline(att)) {
        collect_work(NULL, att);
        collect_done(att);
        return;
    }
    if (floe_pool_submit(att->w->pool, collect_work, collect_done, att) != FLOE_OK) {
        att->job_out = false;
        floe_log_error(&att->log, "file pool full: the attempt is left to its lease");
        wrk_att_finish(att);
    }
}

/* A failure before the task ran (or could run): the directory is removed meanwhile. */
static void
cleanup_work(void *ctx, void *job)
{
    (void)ctx;
    wrk_att *att = job;
    if (att->dir[0] != '\0')
        wrk_io_rmtree(att->dir);
}

static void
cleanup_done(void *job)
{
    wrk_att *att = job;
    att->job_out = false;
    wrk_att_maybe_free(att);
}

void
wrk_att_fail_and_clean(wrk_att *att, floe_err_class cls, const char *code, const char *message)
{
    att->job_out = true;
    if (floe_pool_submit(att->w->pool, cleanup_work, cleanup_done, att) != FLOE_OK)
        att->job_out = false;
    wrk_res_failure(att, cls, code, message);
}
