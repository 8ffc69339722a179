/*
 * it_answerer — a TEST HELPER that answers task dispatches, standing in for floe-worker in
 * the engine's integration tests. It claims attempts in Redis exactly as a worker must
 * (store_state_claim; duplicates dropped), stores the Kafka offset once claimed, publishes
 * TaskStarted and a result, and heartbeats while an attempt "runs". It runs nothing: the
 * task's command says what to answer:
 *
 *   sum            output "out" = sum of the integer inputs (and integer list items)
 *   noop           every declared output set to its type's zero value
 *   fail-until N   USER failure on attempts < N, then like sum
 *   fail           USER failure, every attempt
 *   hang           claim and start, then never heartbeat nor answer (a lost worker)
 *   hang-once      like hang on attempt 1, then like sum
 *   sleep MS       like sum after MS milliseconds, heartbeating meanwhile
 *
 * Each completed attempt prints "DONE <execution> <node> <attempt>" on stdout.
 * Usage: it_answerer CLASS (settings from FLOE_* like every daemon).
 */
#include "floe_bus.h"
#include "floe_config.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "store_state.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ans ans;

typedef struct att {
    ans *a;
    char exec[129], node[129];
    uint32_t idx, attempt, lease_ms;
    uint64_t epoch;
    floe_bus_pos pos;
    char cmd[32];
    long arg;
    int64_t sum;
    Floe__Variable **outs; /* copies of names/types are not needed: zero values by type */
    size_t n_outs;
    int out_types[16];
    char out_names[16][64];
    struct event *timer, *beat;
    int64_t started_us;
} att;

struct ans {
    struct event_base *base;
    floe_config *cfg;
    floe_bus *bus;
    store_redis *redis;
    char events[128];
    char worker[64];
    struct event *sig;
    unsigned running;
};

static void
att_free(att *t)
{
    if (t->timer != NULL)
        event_free(t->timer);
    if (t->beat != NULL)
        event_free(t->beat);
    floe_free(t);
}

static void
publish(ans *a, Floe__MessageType type, const ProtobufCMessage *m, const char *exec)
{
    floe_err err = {0};
    if (floe_bus_produce(a->bus, a->events, exec, strlen(exec), type, m, NULL, NULL, &err) !=
        FLOE_OK)
        fprintf(stderr, "answerer: produce: %s\n", err.msg);
}

static void
answer(att *t)
{
    ans *a = t->a;
    int64_t now = floe_now_us();
    if (strcmp(t->cmd, "fail") == 0 || (strcmp(t->cmd, "fail-until") == 0 && t->attempt < t->arg)) {
        Floe__TaskFailed f = FLOE__TASK_FAILED__INIT;
        char msg[96];
        snprintf(msg, sizeof(msg), "attempt %u fails on purpose", t->attempt);
        f.execution_id = t->exec;
        f.node_id = t->node;
        f.attempt = t->attempt;
        f.epoch = t->epoch;
        f.worker_id = a->worker;
        f.kind = FLOE__ERROR_KIND__ERROR_KIND_USER;
        f.code = "exit";
        f.message = msg;
        f.exit_code = 1;
        f.retriable = true;
        f.started_unix_us = t->started_us;
        f.finished_unix_us = now;
        publish(a, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, &f.base, t->exec);
    } else {
        Floe__NamedValue nv[16], *pv[16];
        Floe__Value v[16];
        size_t n = t->n_outs < 16 ? t->n_outs : 16;
        for (size_t i = 0; i < n; i++) {
            floe__named_value__init(&nv[i]);
            floe__value__init(&v[i]);
            nv[i].name = t->out_names[i];
            nv[i].value = &v[i];
            switch (t->out_types[i]) {
            case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_INTEGER:
                v[i].kind_case = FLOE__VALUE__KIND_INTEGER;
                v[i].integer = t->sum;
                break;
            case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_FLOAT:
                v[i].kind_case = FLOE__VALUE__KIND_FLOAT;
                v[i].float_ = (double)t->sum;
                break;
            case FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BOOLEAN:
                v[i].kind_case = FLOE__VALUE__KIND_BOOLEAN;
                break;
            default:
                v[i].kind_case = FLOE__VALUE__KIND_STRING;
                v[i].string = "";
                break;
            }
            pv[i] = &nv[i];
        }
        Floe__TaskSucceeded s = FLOE__TASK_SUCCEEDED__INIT;
        s.execution_id = t->exec;
        s.node_id = t->node;
        s.attempt = t->attempt;
        s.epoch = t->epoch;
        s.worker_id = a->worker;
        s.outputs = pv;
        s.n_outputs = n;
        s.started_unix_us = t->started_us;
        s.finished_unix_us = now;
        publish(a, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, &s.base, t->exec);
    }
    printf("DONE %s %s %u\n", t->exec, t->node, t->attempt);
    fflush(stdout);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    att *t = arg;
    answer(t);
    t->a->running--;
    att_free(t);
}

static void
beat_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    (void)rep;
    (void)err;
    (void)arg;
}

static void
on_beat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    att *t = arg;
    store_state_heartbeat(t->a->redis, t->exec, t->idx, t->attempt, t->a->worker, t->lease_ms,
                          beat_reply, NULL);
}

static void
claim_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    att *t = arg;
    ans *a = t->a;
    store_state_res res;
    if (err != NULL) {
        fprintf(stderr, "answerer: claim: %s\n", err->msg);
        att_free(t); /* not acknowledged: delivered again after a restart */
        return;
    }
    store_state_parse(rep, &res);
    floe_bus_ack(a->bus, &t->pos);
    if (res.st != STORE_ST_OK) {
        att_free(t);
        return;
    }
    t->started_us = floe_now_us();
    Floe__TaskStarted st = FLOE__TASK_STARTED__INIT;
    st.execution_id = t->exec;
    st.node_id = t->node;
    st.attempt = t->attempt;
    st.epoch = t->epoch;
    st.worker_id = a->worker;
    st.started_unix_us = t->started_us;
    publish(a, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED, &st.base, t->exec);
    if (strcmp(t->cmd, "hang") == 0 || (strcmp(t->cmd, "hang-once") == 0 && t->attempt == 1)) {
        att_free(t);
        return;
    }
    if (strcmp(t->cmd, "sleep") != 0) {
        answer(t);
        att_free(t);
        return;
    }
    a->running++;
    t->timer = event_new(a->base, -1, 0, on_timer, t);
    t->beat = event_new(a->base, -1, EV_PERSIST, on_beat, t);
    struct timeval tv = {t->arg / 1000, (t->arg % 1000) * 1000};
    uint32_t every = t->lease_ms / 3;
    struct timeval bv = {every / 1000, (every % 1000) * 1000};
    event_add(t->timer, &tv);
    event_add(t->beat, &bv);
}

static void
on_message(floe_bus *bus, const floe_bus_msg *msg, void *arg)
{
    ans *a = arg;
    if (msg->env->type != FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH) {
        floe_bus_ack(bus, &msg->pos);
        return;
    }
    const Floe__TaskDispatch *d = (const Floe__TaskDispatch *)msg->env->msg;
    att *t = floe_calloc(1, sizeof(*t));
    if (t == NULL)
        return;
    t->a = a;
    snprintf(t->exec, sizeof(t->exec), "%s", d->execution_id);
    snprintf(t->node, sizeof(t->node), "%s", d->node_id);
    t->idx = d->node_index;
    t->attempt = d->attempt;
    t->epoch = d->epoch;
    t->lease_ms = d->lease_ms ? d->lease_ms : 10000;
    t->pos = msg->pos;
    if (d->container != NULL && d->container->n_command > 0) {
        snprintf(t->cmd, sizeof(t->cmd), "%s", d->container->command[0]);
        if (d->container->n_command > 1)
            t->arg = strtol(d->container->command[1], NULL, 10);
    }
    for (size_t i = 0; i < d->n_inputs; i++) {
        const Floe__Value *v = d->inputs[i]->value;
        if (v == NULL)
            continue;
        if (v->kind_case == FLOE__VALUE__KIND_INTEGER)
            t->sum += v->integer;
        if (v->kind_case == FLOE__VALUE__KIND_LIST && v->list != NULL)
            for (size_t k = 0; k < v->list->n_items; k++)
                if (v->list->items[k]->kind_case == FLOE__VALUE__KIND_INTEGER)
                    t->sum += v->list->items[k]->integer;
    }
    for (size_t i = 0; i < d->n_outputs && i < 16; i++) {
        snprintf(t->out_names[i], sizeof(t->out_names[i]), "%s", d->outputs[i]->name);
        t->out_types[i] = d->outputs[i]->type != NULL ? (int)d->outputs[i]->type->simple : 0;
        t->n_outs++;
    }
    if (store_state_claim(a->redis, t->exec, t->idx, t->attempt, a->worker, t->lease_ms,
                          claim_reply, t) != FLOE_OK)
        att_free(t);
}

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ans *a = arg;
    event_base_loopexit(a->base, NULL);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: it_answerer CLASS\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ans a = {0};
    floe_config_source src = {.program = "it_answerer", .env = environ};
    floe_config_report rep = {0};
    if (floe_config_load(&src, &a.cfg, &rep) != FLOE_OK) {
        fprintf(stderr, "%s", rep.text);
        return 2;
    }
    floe_log_setup((floe_log_level)a.cfg->log_level, (floe_log_format)a.cfg->log_format, 2);
    snprintf(a.worker, sizeof(a.worker), "answerer-%d", (int)getpid());
    floe_err err = {0};
    char topic[160], suffix[96], group[160];
    snprintf(suffix, sizeof(suffix), "tasks.%s", argv[1]);
    floe_config_topic(a.cfg, suffix, topic, sizeof(topic));
    floe_config_topic(a.cfg, "events", a.events, sizeof(a.events));
    snprintf(group, sizeof(group), "%s-workers-%s", a.cfg->topic_prefix, argv[1]);
    a.base = event_base_new();
    floe_bus_callbacks cb = {.on_message = on_message, .arg = &a};
    const char *topics[] = {topic};
    if ((a.bus = floe_bus_new(a.base, a.cfg, &cb, &err)) == NULL ||
        floe_bus_subscribe(a.bus, group, topics, 1, &err) != FLOE_OK ||
        (a.redis = store_redis_new(a.base, a.cfg->redis_url, 5000, &err)) == NULL) {
        fprintf(stderr, "answerer: %s\n", err.msg);
        return 1;
    }
    a.sig = evsignal_new(a.base, SIGTERM, on_signal, &a);
    event_add(a.sig, NULL);
    fprintf(stderr, "answerer: %s answering %s\n", a.worker, topic);
    event_base_dispatch(a.base);
    event_free(a.sig);
    store_redis_free(a.redis);
    floe_bus_free(a.bus);
    event_base_free(a.base);
    floe_config_free(a.cfg);
    return 0;
}
