/*
 * A validated launch on its way (POST /api/v1/executions, relaunch): its row and audit row
 * recorded, in one transaction with the launches that queued meanwhile (issue 25), then
 * its ExecutionRequested published; answered once the broker has it. A row recorded but
 * not published is marked FAILED so the caller launches again.
 */
#include "sched_api_int.h"

#include "floe_fault.h"
#include "store_exec.h"

#include <stdio.h>

/* --- recording ------------------------------------------------------------------------ */

/* Launches validated while another batch was being written go in together: one
 * transaction, one commit (issue 25); each answered after its own row is. */
static void
launch_record_batch(void *ctx, void **jobs, size_t n)
{
    api_thread *t = ctx;
    api_req *rs[FLOE_POOL_BATCH_MAX];
    const store_exec *exs[FLOE_POOL_BATCH_MAX];
    floe_err *errs[FLOE_POOL_BATCH_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        api_req *r = api_job_req(jobs[i]);
        launch_state *st = r->state;
        if (api_pg(t, r) != FLOE_OK) {
            r->audited = false; /* as failed, with why */
            api_audit_outcome(t, r);
            continue;
        }
        rs[k] = r;
        exs[k] = &st->ex;
        errs[k++] = &r->err;
    }
    if (k > 0)
        store_exec_insert_many(t->pg, exs, k, errs);
    for (size_t i = 0; i < k; i++) {
        launch_state *st = rs[i]->state;
        st->ex.audit = NULL; /* ex lives on in r->state */
        if (rs[i]->err.code != FLOE_OK) {
            rs[i]->audited = false;
            api_audit_outcome(t, rs[i]);
        } else {
            FLOE_FAULT("api.after_insert_before_publish");
        }
    }
}

void
api_launch_record(api_req *r)
{
    floe_rc rc = api_resubmit_batch(r, launch_record_batch, api_launch_done);
    if (rc != FLOE_OK) {
        api_fail(r, FLOE_EAGAIN, "the server is busy (%s): retry", floe_rc_name(rc));
        api_reply(r);
    }
}

/* --- publishing ----------------------------------------------------------------------- */

static void
mark_failed_work(api_thread *t, api_req *r)
{
    launch_state *st = r->state;
    floe_err err;
    if (api_pg(t, r) != FLOE_OK ||
        store_exec_fail_unpublished(t->pg, st->id, st->reason, &err) != FLOE_OK)
        floe_err_clear(&r->err); /* the 503 below says what matters */
    api_fail(r, FLOE_EIO,
             "execution %s was recorded but could not be published to Kafka (%s); it is marked "
             "FAILED: launch again",
             st->id, st->reason);
}

static void
launch_publish_failed(api_req *r, const char *reason)
{
    launch_state *st = r->state;
    snprintf(st->reason, sizeof(st->reason), "%s", reason);
    if (api_resubmit(r, mark_failed_work, NULL) != FLOE_OK) {
        api_fail(r, FLOE_EIO, "execution %s could not be published to Kafka: %s", st->id, reason);
        api_reply(r);
    }
}

void
api_launch_done(api_req *r)
{
    launch_state *st = r->state;
    floe_err err;
    if (api_produce_event(r, st->id, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED,
                          &st->msg.base, api_launch_delivered, &err) != FLOE_OK)
        launch_publish_failed(r, err.msg);
    /* else: answered from api_launch_delivered */
}

void
api_launch_delivered(api_req *r, floe_rc rc, const char *reason)
{
    if (rc != FLOE_OK) {
        launch_publish_failed(r, reason != NULL ? reason : floe_rc_name(rc));
        return;
    }
    floe_metric_add(floe_metrics_counter(api_metrics(r), "floe_executions_launched_total",
                                         "executions accepted and published to Kafka", NULL),
                    1);
    r->status = 201;
    api_reply(r);
}
