/*
 * wrk_result — what an attempt publishes: TaskStarted, then TaskFailed, or
 * LineageRecorded and TaskSucceeded, all keyed by the execution (one partition, so a
 * reader of a finished execution finds its lineage before the success), with the
 * attempt's metrics and trace line. Results are tracked: the attempt finishes once the
 * broker acknowledged them (wrk_att_delivered).
 */
#include "wrk_att.h"

#include "floe_fault.h"

#include "floe_time.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

const char *const wrk_att_kinds[WRK_EXECUTORS + 2] = {"process", "oci", "kubernetes", "noop",
                                                      "unknown"};

void
wrk_res_count(wrk_att *att, const char *result)
{
    char labels[96];
    snprintf(labels, sizeof(labels), "executor=\"%s\",result=\"%s\"", wrk_att_kinds[att->kind],
             result);
    floe_metric_add(floe_metrics_counter(att->w->metrics, "floe_worker_attempts_total",
                                         "attempts this worker finished, by result", labels),
                    1);
}

/* --- publishing ------------------------------------------------------------------------ */

static floe_rc
att_publish(wrk_att *att, Floe__MessageType type, const ProtobufCMessage *m, bool track)
{
    wrk *w = att->w;
    floe_err err = {0};
    const char *key = att->d->execution_id;
    floe_rc rc = floe_bus_produce(w->bus, w->events_topic, key, strlen(key), type, m,
                                  track ? att : NULL, NULL, &err);
    if (rc != FLOE_OK) {
        floe_log_error(&att->log,
                       "cannot publish %s: %s (the lease will expire and the engine "
                       "retries the attempt)",
                       floe_rc_name(rc), err.msg);
        /* Refused at once (e.g. "Unknown topic" just after Kafka came back): as a result
         * the broker did not take, the lease must not be held for it (worker.result_hold)
         * or the engine would wait that long to retry the attempt. */
        if (track)
            att->undelivered = true;
    } else if (track) {
        att->deliveries_out++;
    }
    return rc;
}

static void
observe_times(wrk_att *att, const char *result)
{
    char labels[48];
    int64_t now = floe_now_us(), total = now - att->received_us;
    const Floe__TaskDispatch *d = att->d;
    if (att->w->trace != NULL)
        fprintf(att->w->trace, "%s %s %u %lld %lld %lld %lld %lld %lld %lld %s\n", d->execution_id,
                d->node_id, d->attempt, (long long)d->ready_unix_us,
                (long long)d->dispatched_unix_us, (long long)att->arrived_us,
                (long long)att->received_us, (long long)att->run_start_us,
                (long long)att->run_end_us, (long long)now, result);
    int64_t task = att->run_end_us > att->run_start_us ? att->run_end_us - att->run_start_us : 0;
    snprintf(labels, sizeof(labels), "executor=\"%s\"", wrk_att_kinds[att->kind]);
    floe_metrics *m = att->w->metrics;
    floe_metric_observe_us(floe_metrics_histogram_scaled(
                               m, "floe_worker_dispatch_to_result_seconds",
                               "dispatch received to result published", labels, FLOE_HIST_DURATION),
                           total);
    floe_metric_observe_us(floe_metrics_histogram_scaled(m, "floe_worker_task_seconds",
                                                         "the task itself: executor start to exit",
                                                         labels, FLOE_HIST_DURATION),
                           task);
    floe_metric_observe_us(
        floe_metrics_histogram(m, "floe_worker_overhead_seconds",
                               "dispatch-to-result time not spent in the task: claim, inputs, "
                               "executor start and stop, outputs, uploads",
                               labels),
        total - task);
}

static Floe__Blob *
log_blob(wrk_att *att, int i, Floe__Blob *b)
{
    if (!att->has_log[i])
        return NULL;
    floe__blob__init(b);
    b->uri = att->logs[i].uri;
    b->digest = att->logs[i].digest;
    b->size = att->logs[i].size;
    b->format = "text";
    return b;
}

void
wrk_res_failure(wrk_att *att, floe_err_class cls, const char *code, const char *message)
{
    Floe__TaskFailed f = FLOE__TASK_FAILED__INIT;
    Floe__Blob out, errb;
    const Floe__TaskDispatch *d = att->d;
    f.execution_id = d->execution_id;
    f.node_id = d->node_id;
    f.attempt = d->attempt;
    f.epoch = d->epoch;
    f.worker_id = att->w->worker_id;
    f.kind = cls == FLOE_ERR_USER ? FLOE__ERROR_KIND__ERROR_KIND_USER
                                  : FLOE__ERROR_KIND__ERROR_KIND_SYSTEM;
    f.code = (char *)code;
    f.message = (char *)message;
    if (att->res.end == PLUG_END_EXITED)
        f.exit_code = att->res.exit_code;
    if (att->res.end == PLUG_END_SIGNALED)
        f.signal = att->res.signal;
    f.stderr_tail = att->tail != NULL ? att->tail : "";
    f.retriable = true;
    f.started_unix_us = att->started_us;
    f.finished_unix_us = floe_now_us();
    f.stdout_log = log_blob(att, 0, &out);
    f.stderr_log = log_blob(att, 1, &errb);
    floe_log_info(&att->log, "attempt failed: %s %s: %s", cls == FLOE_ERR_USER ? "USER" : "SYSTEM",
                  code, message);
    wrk_res_count(att, cls == FLOE_ERR_USER ? "failed_user" : "failed_system");
    observe_times(att, "failed");
    att->state = ATT_PUBLISHING;
    att_publish(att, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, &f.base, true);
    if (att->deliveries_out == 0)
        wrk_att_finish(att);
    else
        wrk_att_unslot(att);
}

void
wrk_res_success(wrk_att *att)
{
    const Floe__TaskDispatch *d = att->d;
    size_t n = d->n_outputs;
    Floe__Blob out, errb;
    Floe__TaskSucceeded s = FLOE__TASK_SUCCEEDED__INIT;
    s.execution_id = d->execution_id;
    s.node_id = d->node_id;
    s.attempt = d->attempt;
    s.epoch = d->epoch;
    s.worker_id = att->w->worker_id;
    s.outputs = att->outs;
    s.n_outputs = n;
    s.started_unix_us = att->started_us;
    s.finished_unix_us = floe_now_us();
    s.stdout_log = log_blob(att, 0, &out);
    s.stderr_log = log_blob(att, 1, &errb);

    /* Lineage: what was consumed and produced, outputs typed by their declaration. */
    Floe__Artifact *arts = floe_arena_alloc(att->arena, (d->n_inputs + n + 1) * sizeof(*arts));
    Floe__Artifact **cons = floe_arena_alloc(att->arena, (d->n_inputs + 1) * sizeof(*cons));
    Floe__Artifact **prod = floe_arena_alloc(att->arena, (n + 1) * sizeof(*prod));
    Floe__LineageRecorded l = FLOE__LINEAGE_RECORDED__INIT;
    if (arts != NULL && cons != NULL && prod != NULL) {
        for (size_t i = 0; i < d->n_inputs; i++) {
            floe__artifact__init(&arts[i]);
            arts[i].name = d->inputs[i]->name;
            arts[i].value = d->inputs[i]->value;
            cons[i] = &arts[i];
        }
        for (size_t i = 0; i < n; i++) {
            Floe__Artifact *a = &arts[d->n_inputs + i];
            floe__artifact__init(a);
            a->name = att->outs[i]->name;
            a->type = d->outputs[i]->type;
            a->value = att->outs[i]->value;
            prod[i] = a;
        }
        l.execution_id = d->execution_id;
        l.node_id = d->node_id;
        l.attempt = d->attempt;
        l.task = d->task;
        l.consumed = cons;
        l.n_consumed = d->n_inputs;
        l.produced = prod;
        l.n_produced = n;
        l.cache_key = d->cache_key;
        l.recorded_unix_us = s.finished_unix_us;
    }
    wrk_res_count(att, "succeeded");
    observe_times(att, "succeeded");
    att->state = ATT_PUBLISHING;
    /* Lineage first: on one key and partition, it is in the log before the success that
     * may finish the execution, so a reader of a finished execution finds its lineage.
     * An attempt that consumed and produced nothing has none to record (issue 25). */
    if (arts != NULL && cons != NULL && prod != NULL && d->n_inputs + n > 0)
        att_publish(att, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED, &l.base, true);
    att_publish(att, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, &s.base, true);
    FLOE_FAULT("worker.after_result_produced");
    floe_log_debug(&att->log, "attempt succeeded");
    if (att->deliveries_out == 0)
        wrk_att_finish(att);
    else
        wrk_att_unslot(att);
}

void
wrk_att_delivered(wrk *w, wrk_att *att, floe_rc rc)
{
    (void)w;
    if (rc != FLOE_OK) {
        att->undelivered = true;
        floe_log_error(&att->log,
                       "a result was not delivered: %s (the lease will expire and "
                       "the engine retries the attempt)",
                       floe_rc_name(rc));
    }
    att->deliveries_out--;
    if (att->deliveries_out == 0 && att->state == ATT_PUBLISHING)
        wrk_att_finish(att);
    else
        wrk_att_maybe_free(att);
}

static void
started_now(wrk_att *att)
{
    Floe__TaskStarted st = FLOE__TASK_STARTED__INIT;
    st.execution_id = att->d->execution_id;
    st.node_id = att->d->node_id;
    st.attempt = att->d->attempt;
    st.epoch = att->d->epoch;
    st.worker_id = att->w->worker_id;
    st.started_unix_us = att->started_us;
    att_publish(att, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED, &st.base, false);
}

static void
on_started(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wrk_att *att = arg;
    if (!att->aborted && att->state < ATT_PUBLISHING)
        started_now(att);
}

void
wrk_res_started(wrk_att *att)
{
    /* TaskStarted only for a task still running after worker.started_after (issue 25): a
     * short one's start travels in its result, a message less. The claim already holds
     * the lease, so nothing but the RUNNING phase waits for it. */
    int64_t after = att->w->cfg->worker_started_after_ms;
    if (after <= 0) {
        started_now(att);
    } else if ((att->started = evtimer_new(att->w->base, on_started, att)) != NULL) {
        struct timeval tv = {(time_t)(after / 1000), (suseconds_t)(after % 1000) * 1000};
        evtimer_add(att->started, &tv);
    }
}
