/*
 * Forged messages on the bus (issue 19, review H1), end to end through Kafka, Redis and a
 * real worker and scheduler. Whoever can read and write the topics takes a genuine
 * TaskDispatch (of a task in a class no worker serves) and produces it to the default
 * class with its own command, once unsigned and once signed with a key of the same name
 * but other bytes: the worker dead-letters both and the command never runs (the file it
 * would create never appears). A TaskSucceeded forged the same two ways for the genuine
 * attempt changes nothing: the engine dead-letters it and the node stays unfinished.
 *
 * With keys per role (floe_sign.h): the scheduler signs with an Ed25519 key whose public
 * half is all the worker holds, so whoever takes the worker's keys still cannot issue a
 * dispatch (dead-lettered as wrong_role, its command never runs), while the genuine
 * pipeline runs; a service key launches in its project as "svc:NAME", and neither in
 * another project, nor as someone else, nor with a forged task result; it signals a gate
 * the same way (its text value converted), and not elsewhere nor as another; a worker's key
 * bound to the workers of its host reports in no other worker's name. A deposed leader's
 * dispatch, after a newer term's on its partition, is dead-lettered and never runs.
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

/* A bus that signs and verifies with the keys file at path (taps into t when it
 * subscribes). */
static floe_bus *
keys_bus(struct event_base *base, const char *program, const char *path, tap *t,
         floe_config **cfg_out)
{
    char setting[300];
    snprintf(setting, sizeof(setting), "bus.keys_file=%s", path);
    const char *over[] = {setting};
    *cfg_out = it_config(program, over, 1);
    floe_bus_callbacks cb = {.on_message = on_message, .arg = t};
    floe_err err = {0};
    floe_bus *bus = floe_bus_new(base, *cfg_out, &cb, &err);
    if (bus == NULL)
        fail_msg("%s bus: %s", program, err.msg);
    return bus;
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

/* The dispatch of exec on topic, read by a bus verifying with the keys at keys. */
static Floe__TaskDispatch *
tap_dispatch(const char *keys, const char *topic, const char *exec, tap *t)
{
    floe_config *cfg;
    t->exec = exec;
    floe_bus *spy = keys_bus(t->base, "spy", keys, t, &cfg);
    floe_err err = {0};
    char group[96];
    snprintf(group, sizeof(group), "test-forgery-%s", exec);
    const char *topics[] = {topic};
    assert_int_equal(floe_bus_subscribe(spy, group, topics, 1, &err), FLOE_OK);
    it_wait(t->base, tapped, t, WAIT_MS, "the genuine dispatch on its topic");
    floe_bus_free(spy);
    floe_config_free(cfg);
    Floe__TaskDispatch *d = floe__task_dispatch__unpack(NULL, t->len, t->packed);
    assert_non_null(d);
    return d;
}

/* The usual scene: a scheduler and a worker of class default (the installation's keys),
 * a task of class large launched, and its genuine dispatch tapped (into t) off its topic.
 * exec gets the execution's id. */
static Floe__TaskDispatch *
genuine_dispatch(const char *prefix, char exec[64], tap *t)
{
    it_fleet_init(&fleet, "test_forgery", prefix, sched_bin, worker_bin, API);
    it_fleet_scheduler(&fleet, "scheduler", API, NULL, true);
    it_fleet_worker(&fleet, "worker", W1, NULL);
    it_register("kind: task\nname: elsewhere\nversion: v1\nresource_class: large\n"
                "container: {command: [/bin/echo, genuine]}\n"
                "---\n"
                "kind: workflow\nname: wf\nversion: v1\n"
                "nodes:\n  - {id: q, task: elsewhere}\n");
    it_launch("wf", "{}", exec);
    char large[128];
    floe_config_topic(fleet.cfg, "tasks.large", large, sizeof(large));
    return tap_dispatch(getenv("FLOE_BUS_KEYS_FILE"), large, exec, t);
}

/* d pointed at class default with command cmd (n words); *genuine and *n_genuine keep
 * what nothing_done puts back. */
static void
redirect(Floe__TaskDispatch *d, char **cmd, size_t n, char ***genuine, size_t *n_genuine)
{
    *genuine = d->container->command;
    *n_genuine = d->container->n_command;
    d->container->command = cmd;
    d->container->n_command = n;
    free(d->resource_class);
    d->resource_class = strdup("default");
}

/* After the forgeries: no node of exec succeeded; it is terminated, and the tapped
 * dispatch d gets its genuine command back and is freed. */
static void
nothing_done(const char *exec, Floe__TaskDispatch *d, char **genuine, size_t n_genuine)
{
    assert_int_equal(it_sql_int("SELECT count(*) FROM node_executions WHERE execution_id = $1 "
                                "AND phase = 'SUCCEEDED'",
                                exec, NULL),
                     0);
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/executions/%s/terminate", exec);
    it_http(API, "POST", path, "{\"reason\": \"test over\"}", 23, NULL);
    d->container->command = genuine;
    d->container->n_command = n_genuine;
    floe__task_dispatch__free_unpacked(d, NULL);
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

    char exec[64];
    tap t = {.base = event_base_new()};
    Floe__TaskDispatch *d = genuine_dispatch("fg", exec, &t);
    char tasks[128], events[128];
    floe_config_topic(fleet.cfg, "tasks.default", tasks, sizeof(tasks));
    floe_config_topic(fleet.cfg, "events", events, sizeof(events));
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "touch %s", marker);
    char *evil[] = {"/bin/sh", "-c", cmd}, **genuine;
    size_t n_genuine;
    redirect(d, evil, 3, &genuine, &n_genuine);
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
    nothing_done(exec, d, genuine, n_genuine);
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

/* Keys per role (test keys: an Ed25519 key made with openssl genpkey, HMAC bytes). */
#define ED_SEED "6b55e9af2f9b559d8ded4f5ed205071735dced6605694200706b1870d1b35f42"
#define ED_PUB "d7e75093a9e3488d640441acdbeb5903c97eee7ce61a29aacb65811fed5b6de0"
#define WORK "work hmac 2021222324252627282930313233343536373839404142434445464748494a4b worker"
#define SVC "ingest hmac 5051525354555657585960616263646566676869707172737475767778797a7b service "

static void
write_keys(const char *dir, const char *name, const char *text, const char *project, char *path,
           size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    if (project != NULL)
        fprintf(f, "%s\n", project);
    fclose(f);
    chmod(path, 0600);
}

/* Whether the gate "level" of the execution whose nodes are at path waits (RUNNING). */
static bool
gate_waits(const char *path)
{
    json_t *j = NULL;
    bool waits = false;
    if (it_http(API, "GET", path, NULL, 0, &j) == 200) {
        size_t i;
        json_t *n;
        json_array_foreach(json_object_get(j, "items"), i, n)
        {
            const char *id = json_string_value(json_object_get(n, "id"));
            const char *ph = json_string_value(json_object_get(n, "phase"));
            waits |=
                id != NULL && ph != NULL && strcmp(id, "level") == 0 && strcmp(ph, "RUNNING") == 0;
        }
    }
    json_decref(j);
    return waits;
}

static void
test_keys_per_role(void **state)
{
    (void)state;
    char dir[] = "/tmp/floe-roles-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char genuine[128], forged[128];
    snprintf(genuine, sizeof(genuine), "%s/genuine-ran", dir);
    snprintf(forged, sizeof(forged), "%s/forged-ran", dir);
    it_fleet_init(&fleet, "test_forgery", "fr", sched_bin, worker_bin, API);
    char sched_keys[160], worker_keys[160], svc_keys[160];
    char *sched_text = NULL;
    /* The worker's key speaks for the workers of this host only (ids "HOST-PID-sN"). */
    char host[64] = "host", *worker_text = NULL;
    gethostname(host, sizeof(host) - 1);
    assert_true(asprintf(&sched_text, "sched ed25519 %s scheduler\n%s %.40s-*\n%s", ED_SEED, WORK,
                         host, SVC) > 0);
    write_keys(dir, "sched.keys", sched_text, it.project, sched_keys, sizeof(sched_keys));
    assert_true(asprintf(&worker_text, "%s %.40s-*\nsched ed25519.pub %s scheduler\n", WORK, host,
                         ED_PUB) > 0);
    write_keys(dir, "worker.keys", worker_text, NULL, worker_keys, sizeof(worker_keys));
    free(sched_text);
    free(worker_text);
    write_keys(dir, "svc.keys", SVC, it.project, svc_keys, sizeof(svc_keys));
    char env_s[200], env_w[200];
    snprintf(env_s, sizeof(env_s), "FLOE_BUS_KEYS_FILE=%s", sched_keys);
    snprintf(env_w, sizeof(env_w), "FLOE_BUS_KEYS_FILE=%s", worker_keys);
    char *senv[] = {env_s, NULL}, *wenv[] = {env_w, NULL};
    it_fleet_scheduler(&fleet, "scheduler", API, senv, true);
    it_fleet_worker(&fleet, "worker", W1, wenv);
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "kind: task\nname: here\nversion: v1\n"
             "container: {command: [/bin/touch, %s]}\n"
             "---\n"
             "kind: task\nname: elsewhere\nversion: v1\nresource_class: large\n"
             "container: {command: [/bin/echo, genuine]}\n"
             "---\n"
             "kind: workflow\nname: local\nversion: v1\nnodes:\n  - {id: t, task: here}\n"
             "---\n"
             "kind: workflow\nname: far\nversion: v1\nnodes:\n  - {id: q, task: elsewhere}\n",
             genuine);
    it_register(yaml);

    /* The genuine pipeline: an Ed25519 dispatch, checked with the public key alone. */
    char exec[64];
    it_launch("local", "{}", exec);
    json_t *ex = it_wait_exec(exec, WAIT_MS);
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
    if (access(genuine, F_OK) != 0)
        fail_msg("the genuine task did not run: no %s", genuine);

    /* Whoever holds the worker's keys cannot issue a dispatch. */
    char far[64];
    it_launch("far", "{}", far);
    tap t = {.base = event_base_new()};
    char large[128], tasks[128], events[128];
    floe_config_topic(fleet.cfg, "tasks.large", large, sizeof(large));
    floe_config_topic(fleet.cfg, "tasks.default", tasks, sizeof(tasks));
    floe_config_topic(fleet.cfg, "events", events, sizeof(events));
    Floe__TaskDispatch *d = tap_dispatch(worker_keys, large, far, &t);
    char *evil[] = {"/bin/touch", forged}, **genuine_cmd;
    size_t n_genuine;
    redirect(d, evil, 2, &genuine_cmd, &n_genuine);
    char key[160];
    snprintf(key, sizeof(key), "%s/%s", d->execution_id, d->node_id);
    floe_config *wcfg, *scfg;
    floe_bus *wbus = keys_bus(t.base, "forger-worker-keys", worker_keys, NULL, &wcfg);
    produce(wbus, tasks, key, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d->base);
    it_wait_metric("http://" W1, "floe_bus_rejected_total{bus=\"worker\",reason=\"wrong_role\"}", 1,
                   WAIT_MS);
    if (access(forged, F_OK) == 0)
        fail_msg("a dispatch signed with the worker's key ran: %s exists", forged);

    /* A service: in its project, as itself. */
    floe_bus *sbus = keys_bus(t.base, "service", svc_keys, NULL, &scfg);
    Floe__Identifier wf = FLOE__IDENTIFIER__INIT;
    wf.project = it.project;
    wf.domain = "development";
    wf.name = "local";
    wf.version = "v1";
    Floe__ExecutionRequested r = FLOE__EXECUTION_REQUESTED__INIT;
    char svc_exec[FLOE_ID_LEN + 1];
    assert_int_equal(floe_id_new(svc_exec), 0);
    r.execution_id = svc_exec;
    r.workflow = &wf;
    r.requested_by = "svc:ingest";
    unlink(genuine);
    produce(sbus, events, svc_exec, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &r.base);
    char exec_path[128];
    snprintf(exec_path, sizeof(exec_path), "/api/v1/executions/%s", svc_exec);
    IT_WAIT_UNTIL(it_http(API, "GET", exec_path, NULL, 0, NULL) == 200, WAIT_MS,
                  "the service's execution to be created");
    ex = it_wait_exec(svc_exec, WAIT_MS);
    it_expect_phase(ex, "SUCCEEDED");
    assert_string_equal(json_string_value(json_object_get(ex, "requested_by")), "svc:ingest");
    json_decref(ex);

    /* ... and not elsewhere, nor as another, nor with a task's result. */
    const char *granted = "floe_bus_rejected_total{bus=\"engine\",reason=\"not_granted\"}";
    const char *role = "floe_bus_rejected_total{bus=\"engine\",reason=\"wrong_role\"}";
    long long g0 = it_metric(API, granted), r0 = it_metric(API, role);
    wf.project = "someone-else";
    assert_int_equal(floe_id_new(svc_exec), 0);
    produce(sbus, events, svc_exec, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &r.base);
    wf.project = it.project;
    r.requested_by = "admin";
    assert_int_equal(floe_id_new(svc_exec), 0);
    produce(sbus, events, svc_exec, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &r.base);
    it_wait_metric(API, granted, g0 + 2, WAIT_MS);
    Floe__TaskSucceeded s = FLOE__TASK_SUCCEEDED__INIT;
    s.execution_id = d->execution_id;
    s.node_id = d->node_id;
    s.attempt = d->attempt;
    s.epoch = d->epoch;
    s.worker_id = "svc:ingest";
    s.started_unix_us = s.finished_unix_us = floe_now_us();
    produce(sbus, events, d->execution_id, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED,
            &s.base);
    it_wait_metric(API, role, r0 + 1, WAIT_MS);
    /* The worker's own key, in another worker's name: the signer is not that worker. */
    s.worker_id = "mallory";
    produce(wbus, events, d->execution_id, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED,
            &s.base);
    it_wait_metric(API, granted, g0 + 3, WAIT_MS);

    /* A service signals a gate on the bus: in its project, as itself, its text value
     * converted to the gate's type; elsewhere or as another, it is refused. */
    it_register("kind: workflow\nname: signalled\nversion: v1\n"
                "outputs: {v: {from: {node: level, output: value}}}\n"
                "nodes: [{id: level, gate: {signal: {type: integer}}}]\n");
    char gexec[64], nodes_path[128];
    it_launch("signalled", "{}", gexec);
    snprintf(nodes_path, sizeof(nodes_path), "/api/v1/executions/%s/nodes", gexec);
    IT_WAIT_UNTIL(gate_waits(nodes_path), WAIT_MS, "the signal gate to wait");
    Floe__Value seven = FLOE__VALUE__INIT;
    seven.kind_case = FLOE__VALUE__KIND_STRING;
    seven.string = "7";
    Floe__GateResolved g = FLOE__GATE_RESOLVED__INIT;
    g.execution_id = gexec;
    g.node_id = "level";
    g.approved = true;
    g.value = &seven;
    g.by = "svc:ingest";
    g.project = "someone-else";
    produce(sbus, events, gexec, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED, &g.base);
    g.project = it.project;
    g.by = "admin";
    produce(sbus, events, gexec, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED, &g.base);
    it_wait_metric(API, granted, g0 + 5, WAIT_MS);
    g.by = "svc:ingest";
    produce(sbus, events, gexec, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED, &g.base);
    ex = it_wait_exec(gexec, WAIT_MS);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "v"), 7);
    json_decref(ex);
    nothing_done(far, d, genuine_cmd, n_genuine);
    free(t.packed);
    floe_bus_free(wbus);
    floe_bus_free(sbus);
    floe_config_free(wcfg);
    floe_config_free(scfg);
    event_base_free(t.base);
    const char *files[] = {sched_keys, worker_keys, svc_keys, genuine};
    for (size_t i = 0; i < 4; i++)
        unlink(files[i]);
    rmdir(dir);
    it_fleet_down(&fleet);
}

/* A deposed leader still producing: its dispatch, signed and for the current attempt,
 * arrives on a partition after one of a newer epoch. The worker dead-letters it (the
 * file its command would create never appears) and counts it. */
static void
test_deposed_leaders_dispatch_refused(void **state)
{
    (void)state;
    char dir[] = "/tmp/floe-epoch-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char marker[128];
    snprintf(marker, sizeof(marker), "%s/deposed-ran", dir);
    char exec[64];
    tap t = {.base = event_base_new()};
    Floe__TaskDispatch *d = genuine_dispatch("fe", exec, &t);
    char tasks[128];
    floe_config_topic(fleet.cfg, "tasks.default", tasks, sizeof(tasks));
    const char *keys = getenv("FLOE_BUS_KEYS_FILE");

    /* First, on the partition: a newer term's dispatch (of an execution that does not
     * exist, so it runs nothing); then the deposed leader's, genuine but of its epoch. */
    Floe__TaskDispatch *newer = floe__task_dispatch__unpack(NULL, t.len, t.packed);
    assert_non_null(newer);
    char fake[FLOE_ID_LEN + 1];
    assert_int_equal(floe_id_new(fake), 0);
    free(newer->execution_id);
    newer->execution_id = strdup(fake);
    newer->epoch = d->epoch + 1000;
    char *evil[] = {"/bin/touch", marker}, **genuine_cmd;
    size_t n_genuine;
    redirect(d, evil, 2, &genuine_cmd, &n_genuine);
    floe_config *cfg;
    floe_bus *bus = keys_bus(t.base, "deposed-leader", keys, NULL, &cfg);
    long long before = it_metric("http://" W1, "floe_worker_stale_epoch_dispatches_total");
    produce(bus, tasks, "same-partition", FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH,
            &newer->base);
    produce(bus, tasks, "same-partition", FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, &d->base);
    it_wait_metric("http://" W1, "floe_worker_stale_epoch_dispatches_total", before + 1, WAIT_MS);
    if (access(marker, F_OK) == 0)
        fail_msg("a deposed leader's dispatch ran: %s exists", marker);

    nothing_done(exec, d, genuine_cmd, n_genuine);
    floe__task_dispatch__free_unpacked(newer, NULL);
    free(t.packed);
    floe_bus_free(bus);
    floe_config_free(cfg);
    event_base_free(t.base);
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
        cmocka_unit_test(test_keys_per_role),
        cmocka_unit_test(test_deposed_leaders_dispatch_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
