/*
 * A validated launch on its way (POST /api/v1/executions, relaunch): its row and audit row
 * recorded, in one transaction with the launches that queued meanwhile (issue 25), then
 * answered, its ExecutionRequested produced on the way out (a lost one is requested again
 * by the leader's reconcile sweep).
 */
#include "sched_api_int.h"

#include "floe_fault.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "store_exec.h"

#include <stdio.h>
#include <string.h>

/* --- recording ------------------------------------------------------------------------ */

/* Launches validated while another batch was being written go in together: one
 * transaction, one commit, one round trip (issue 25); each answered after its own row is. A launch
 * comes here from its validation on the same pool (sched_api.c's handler table), not through the
 * loop thread. While the engine in this process leads, each row is recorded RUNNING under
 * its epoch if the lease still holds it (the fence of the engine's own start): the engine
 * it is handed to then starts it without a statement and a trip through its pool (issue
 * 25); a launch that takes the bus after all is started by one statement as before
 * (store_run_start takes a row RUNNING under its own epoch as startable). */
void
api_launch_record_batch(void *ctx, void **jobs, size_t n)
{
    api_thread *t = ctx;
    api_req *rs[FLOE_POOL_BATCH_MAX];
    const store_exec *exs[FLOE_POOL_BATCH_MAX];
    floe_err *errs[FLOE_POOL_BATCH_MAX];
    bool started[FLOE_POOL_BATCH_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        api_req *r = api_job_req(jobs[i]);
        launch_state *st = r->state;
        if (api_pg(t, r) != FLOE_OK) {
            r->audited = false; /* as failed, with why */
            api_audit_outcome(t, r);
            continue;
        }
        st->ex.start_epoch = api_lead_epoch(r);
        rs[k] = r;
        exs[k] = &st->ex;
        errs[k++] = &r->err;
    }
    if (k > 0)
        store_exec_insert_many(t->pg, exs, k, errs, started);
    for (size_t i = 0; i < k; i++) {
        launch_state *st = rs[i]->state;
        st->ex.audit = NULL; /* ex lives on in r->state */
        st->started = rs[i]->err.code == FLOE_OK && started[i] ? st->ex.start_epoch : 0;
        if (st->started != 0)
            json_object_set_new(rs[i]->reply, "phase", json_string("RUNNING"));
        if (rs[i]->err.code != FLOE_OK) {
            rs[i]->audited = false;
            api_audit_outcome(t, rs[i]);
        } else {
            FLOE_FAULT("api.after_insert_before_publish");
        }
    }
}

/* --- publishing ----------------------------------------------------------------------- */

/* A launch's ExecutionRequested on its way to Kafka after its answer: its report only
 * says whether the reconcile sweep will have to request the execution again. */
typedef struct launch_note {
    api_delivery dl; /* first: the bus's opaque */
    char id[FLOE_ID_LEN + 1];
} launch_note;

static floe_log_ctx note_log = {.comp = "api"};

static void
note_delivered(api_delivery *d, floe_rc rc, const char *reason)
{
    launch_note *n = (launch_note *)d;
    if (rc != FLOE_OK)
        floe_log_warn(&note_log,
                      "execution %s: its ExecutionRequested was not delivered (%s); it waits "
                      "for the reconcile sweep to request it again",
                      n->id, reason != NULL ? reason : floe_rc_name(rc));
    floe_free(n);
}

static void
launch_answer(api_req *r)
{
    floe_metric_add(floe_metrics_counter(api_metrics(r), "floe_executions_launched_total",
                                         "executions accepted (recorded in PostgreSQL)", NULL),
                    1);
    r->status = 201;
    api_reply(r);
}

/* The row is recorded (QUEUED, or RUNNING under the epoch of the engine leading here):
 * the launch is answered now, its ExecutionRequested
 * handed to the engine when it leads in this process (issue 25: a produce and a fetch a
 * launch, and their wake-ups, saved), else produced on the way out. The engine starts the
 * execution when the request reaches it (a term that ends first hands it on to the bus); a
 * message Kafka refuses or loses, or a crash before the engine created its state, leaves
 * the row without state in Redis, which the leader's reconcile sweep requests again after
 * engine.reconcile_every.
 * Waiting for the broker's acknowledgement before answering cost a launch ~1 ms and more
 * under load (issue 25: `many` +30%). */
void
api_launch_done(api_req *r)
{
    launch_state *st = r->state;
    if (api_take_request(r, &st->msg, st->started)) {
        launch_answer(r);
        return;
    }
    floe_err err = {0};
    char topic[160];
    launch_note *n = floe_malloc(sizeof(*n));
    if (n != NULL) {
        n->dl.done = note_delivered;
        snprintf(n->id, sizeof(n->id), "%s", st->id);
    }
    floe_rc rc = floe_config_topic(api_cfg(r), "events", topic, sizeof(topic));
    if (rc == FLOE_OK)
        rc = floe_bus_produce(api_bus(r), topic, st->id, strlen(st->id),
                              FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &st->msg.base,
                              n != NULL ? &n->dl : NULL, NULL, &err);
    if (rc != FLOE_OK) {
        floe_log_warn(&note_log,
                      "execution %s: its ExecutionRequested was not produced (%s); it waits "
                      "for the reconcile sweep to request it again",
                      st->id, err.msg[0] ? err.msg : floe_rc_name(rc));
        floe_free(n);
    }
    launch_answer(r);
}
