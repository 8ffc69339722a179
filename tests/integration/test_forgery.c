/*
 * Forged messages on the bus (issue 19, review H1), end to end through Kafka, Redis and a
 * real worker and scheduler. Whoever can read and write the topics takes a genuine
 * TaskDispatch (of a task in a class no worker serves) and produces it to the default
 * class with its own command, once unsigned and once signed with a key of the same name
 * but other bytes: the worker dead-letters both and the command never runs (the file it
 * would create never appears). A TaskSucceeded forged the same two ways for the genuine
 * attempt changes nothing: the engine dead-letters it and the node stays unfinished.
 */
#include "floe_bus.h"
#include "floe_envelope.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "it_exec.h"
#include "it_fleet.h"
#include "it_util.h"

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define API "http://127.0.0.1:18795"
#define W1 "127.0.0.1:18796"
#define WAIT_MS 60000

static const char *sched_bin, *worker_bin;
static it_fleet fleet;

/* What the eavesdropper saw: the genuine dispatch of exec, packed. */
typedef struct tap {
    struct event_base *base;
    const char *exec;
    uint8_t *packed;
    size_t len;
} tap;

static void
on_message(floe_bus *bus, const floe_bus_msg *msg, void *arg)
{
    tap *t = arg;
    if (msg->env->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH && t->packed == NULL) {
        const Floe__TaskDispatch *d = (const Floe__TaskDispatch *)msg->env->msg;
        if (strcmp(d->execution_id, t->exec) == 0) {
            t->len = protobuf_c_message_get_packed_size(&d->base);
            t->packed = malloc(t->len);
            protobuf_c_message_pack(&d->base, t->packed);
        }
    }
    floe_bus_ack(bus, &msg->pos);
}

static bool
tapped(void *arg)
{
    return ((tap *)arg)->packed != NULL;
}

/* A bus whose keys are none (NULL) or one key named like the installation's first with
 * other bytes (a file in dir). */
static floe_bus *
forger_bus(struct event_base *base, bool wrong_key, const char *dir, floe_config **cfg_out)
{
    char keys[256], setting[300];
    snprintf(keys, sizeof(keys), "%s/wrong.keys", dir);
    if (wrong_key) {
        char *real = it_read_file(getenv("FLOE_BUS_KEYS_FILE"), NULL);
        char name[64] = "";
        sscanf(real, "%63s", name);
        free(real);
        FILE *f = fopen(keys, "w");
        assert_non_null(f);
        fprintf(f, "%s ", name);
        for (int i = 0; i < 32; i++)
            fprintf(f, "%02x", (unsigned)(rand() & 0xff));
        fprintf(f, "\n");
        fclose(f);
        chmod(keys, 0600);
    }
    snprintf(setting, sizeof(setting), "bus.keys_file=%s", wrong_key ? keys : "");
    const char *over[] = {setting};
    *cfg_out = it_config(wrong_key ? "forger-wrong-key" : "forger-unsigned", over, 1);
    floe_bus_callbacks cb = {0};
    floe_err err = {0};
    floe_bus *bus = floe_bus_new(base, *cfg_out, &cb, &err);
    if (bus == NULL)
        fail_msg("forger bus: %s", err.msg);
    return bus;
}

static void
produce(floe_bus *bus, const char *topic, const char *key, Floe__MessageType type,
        const ProtobufCMessage *m)
{
    floe_err err = {0};
    if (floe_bus_produce(bus, topic, key, strlen(key), type, m, NULL, NULL, &err) != FLOE_OK)
        fail_msg("produce to %s: %s", topic, err.msg);
    assert_int_equal(floe_bus_flush(bus, 10000), FLOE_OK);
}

static void
test_forged_dispatch_and_success_change_nothing(void **state)
{
    (void)state;
    if (getenv("FLOE_BUS_KEYS_FILE") == NULL || getenv("FLOE_BUS_KEYS_FILE")[0] == '\0')
        fail_msg("FLOE_BUS_KEYS_FILE is not set: run through tests/with-stack");
    char dir[] = "/tmp/floe-forgery-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char marker[128];
    snprintf(marker, sizeof(marker), "%s/forged-command-ran", dir);

    it_fleet_init(&fleet, "test_forgery", "fg", sched_bin, worker_bin, API);
    it_fleet_scheduler(&fleet, "scheduler", API, NULL, true);
    it_fleet_worker(&fleet, "worker", W1, NULL);
    it_register("kind: task\nname: elsewhere\nversion: v1\nresource_class: large\n"
                "container: {command: [/bin/echo, genuine]}\n"
                "---\n"
                "kind: workflow\nname: wf\nversion: v1\n"
                "nodes:\n  - {id: q, task: elsewhere}\n");
    char exec[64];
    it_launch("wf", "{}", exec);

    /* The genuine dispatch, read off floe.tasks.large. */
    tap t = {.base = event_base_new(), .exec = exec};
    floe_bus_callbacks cb = {.on_message = on_message, .arg = &t};
    floe_err err = {0};
    floe_bus *spy = floe_bus_new(t.base, fleet.cfg, &cb, &err);
    assert_non_null(spy);
    char large[128], tasks[128], events[128], group[96];
    floe_config_topic(fleet.cfg, "tasks.large", large, sizeof(large));
    floe_config_topic(fleet.cfg, "tasks.default", tasks, sizeof(tasks));
    floe_config_topic(fleet.cfg, "events", events, sizeof(events));
    snprintf(group, sizeof(group), "test-forgery-%s", exec);
    const char *topics[] = {large};
    assert_int_equal(floe_bus_subscribe(spy, group, topics, 1, &err), FLOE_OK);
    it_wait(t.base, tapped, &t, WAIT_MS, "the genuine dispatch on floe.tasks.large");
    floe_bus_free(spy);

    Floe__TaskDispatch *d = floe__task_dispatch__unpack(NULL, t.len, t.packed);
    assert_non_null(d);
    char *evil[] = {"/bin/sh", "-c", NULL};
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "touch %s", marker);
    evil[2] = cmd;
    char **genuine = d->container->command; /* put back before the message is freed */
    size_t n_genuine = d->container->n_command;
    d->container->command = evil;
    d->container->n_command = 3;
    free(d->resource_class);
    d->resource_class = strdup("default");
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", d->execution_id, d->node_id);

    floe_config *cfg_unsigned, *cfg_wrong;
    floe_bus *unsigned_bus = forger_bus(t.base, false, dir, &cfg_unsigned);
    floe_bus *wrong_bus = forger_bus(t.base, true, dir, &cfg_wrong);
    produce(unsigned_bus, tasks, key, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d->base);
    produce(wrong_bus, tasks, key, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d->base);
    /* The worker refused both (the event waited for), so neither can still run. */
    it_wait_metric("http://" W1, "floe_bus_rejected_total{bus=\"worker\",reason=\"unsigned\"}", 1,
                   WAIT_MS);
    it_wait_metric("http://" W1, "floe_bus_rejected_total{bus=\"worker\",reason=\"bad_signature\"}",
                   1, WAIT_MS);
    if (access(marker, F_OK) == 0)
        fail_msg("the forged dispatch's command ran: %s exists", marker);

    /* A success forged for the genuine attempt, both ways. */
    Floe__TaskSucceeded s = FLOE__TASK_SUCCEEDED__INIT;
    s.execution_id = d->execution_id;
    s.node_id = d->node_id;
    s.attempt = d->attempt;
    s.epoch = d->epoch;
    s.worker_id = "mallory";
    s.started_unix_us = s.finished_unix_us = floe_now_us();
    long long before_u =
        it_metric(API, "floe_bus_rejected_total{bus=\"engine\",reason=\"unsigned\"}");
    long long before_b =
        it_metric(API, "floe_bus_rejected_total{bus=\"engine\",reason=\"bad_signature\"}");
    produce(unsigned_bus, events, d->execution_id, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED,
            &s.base);
    produce(wrong_bus, events, d->execution_id, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED,
            &s.base);
    it_wait_metric(API, "floe_bus_rejected_total{bus=\"engine\",reason=\"unsigned\"}", before_u + 1,
                   WAIT_MS);
    it_wait_metric(API, "floe_bus_rejected_total{bus=\"engine\",reason=\"bad_signature\"}",
                   before_b + 1, WAIT_MS);
    json_t *ex = it_get_exec(exec);
    const char *phase = json_string_value(json_object_get(ex, "phase"));
    if (it_terminal(phase))
        fail_msg("the execution ended (%s) after forged messages", phase);
    json_decref(ex);
    long long done = it_sql_int("SELECT count(*) FROM node_executions WHERE execution_id = $1 "
                                "AND phase = 'SUCCEEDED'",
                                exec, NULL);
    assert_int_equal(done, 0);

    char path[160];
    snprintf(path, sizeof(path), "/api/v1/executions/%s/terminate", exec);
    it_http(API, "POST", path, "{\"reason\": \"test over\"}", 23, NULL);
    d->container->command = genuine;
    d->container->n_command = n_genuine;
    floe__task_dispatch__free_unpacked(d, NULL);
    free(t.packed);
    floe_bus_free(unsigned_bus);
    floe_bus_free(wrong_bus);
    floe_config_free(cfg_unsigned);
    floe_config_free(cfg_wrong);
    event_base_free(t.base);
    char rm[160];
    snprintf(rm, sizeof(rm), "%s/wrong.keys", dir);
    unlink(rm);
    rmdir(dir);
    it_fleet_down(&fleet);
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_forgery FLOE_SCHEDULER FLOE_WORKER\n");
        return 2;
    }
    sched_bin = argv[1];
    worker_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_dispatch_and_success_change_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
