/*
 * The engine against the real stack: floe-scheduler processes (argv[1]) and it_answerer
 * (argv[2], a TEST HELPER standing in for floe-worker: it claims and answers dispatches
 * without running anything). Covers: diamond, fan-out/fan-in of 500 and a chain of 100
 * with their outputs; a retry succeeding on the third attempt; fail-fast and
 * finish-independent; duplicate and stale events injected on the bus; an attempt whose
 * worker stops heartbeating; terminate; kill -9 of the leader with 200 nodes in flight;
 * a leader paused past its lease whose writes Redis then refuses; a leader past its renew
 * deadline whose lease timer has not run.
 */
#include "floe_bus.h"
#include "floe_httpc.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "it_exec.h"
#include "it_fleet.h"
#include "it_util.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define API_A "http://127.0.0.1:18783"
#define API_B "http://127.0.0.1:18784"

static const char *sched_bin, *answerer_bin;
static int pid_a, pid_b;
static floe_config *cfg;

static it_fleet fleet;
static char *const sched_env[] = {"FLOE_LEADER_LEASE=3s", "FLOE_ATTEMPT_LEASE=2s",
                                  "FLOE_RECONCILE_EVERY=2s", "FLOE_CLAIM_TIMEOUT=3s", NULL};

/* --- helpers ---------------------------------------------------------------------------- */

static void
produce(Floe__MessageType type, const ProtobufCMessage *m, const char *key)
{
    struct event_base *base = event_base_new();
    floe_bus_callbacks cb = {0};
    floe_err err = {0};
    floe_bus *bus = floe_bus_new(base, cfg, &cb, &err);
    assert_non_null(bus);
    char topic[128];
    floe_config_topic(cfg, "events", topic, sizeof(topic));
    assert_int_equal(floe_bus_produce(bus, topic, key, strlen(key), type, m, NULL, NULL, &err),
                     FLOE_OK);
    assert_int_equal(floe_bus_flush(bus, 10000), FLOE_OK);
    floe_bus_free(bus);
    event_base_free(base);
}

/* --- specs ------------------------------------------------------------------------------ */

static const char *const tasks_yaml =
    "kind: task\nname: add\nversion: v1\ncontainer: {command: [sum]}\n"
    "inputs: {a: integer, b: integer}\noutputs: {out: integer}\n"
    "---\nkind: task\nname: flaky\nversion: v1\ncontainer: {command: [fail-until, '3']}\n"
    "inputs: {a: integer}\noutputs: {out: integer}\n"
    "retries: {user: 2, backoff: {initial: 10ms, max: 50ms}}\n"
    "---\nkind: task\nname: bad\nversion: v1\ncontainer: {command: [fail]}\n"
    "inputs: {a: integer}\noutputs: {out: integer}\nretries: 1\n"
    "---\nkind: task\nname: lost\nversion: v1\ncontainer: {command: [hang-once]}\n"
    "inputs: {a: integer}\noutputs: {out: integer}\n"
    "---\nkind: task\nname: slow\nversion: v1\ncontainer: {command: [sleep, '1500']}\n"
    "inputs: {a: integer, b: {type: integer, default: 0}}\noutputs: {out: integer}\n"
    "---\nkind: task\nname: forever\nversion: v1\ncontainer: {command: [sleep, '600000']}\n"
    "inputs: {a: integer}\noutputs: {out: integer}\n"
    "---\nkind: workflow\nname: diamond\nversion: v1\ninputs: {x: integer}\n"
    "outputs: {result: {from: {node: bottom, output: out}}}\n"
    "nodes:\n"
    "  - {id: top, task: add, inputs: {a: {input: x}, b: 1}}\n"
    "  - {id: left, task: add, inputs: {a: {node: top, output: out}, b: 10}}\n"
    "  - {id: right, task: add, inputs: {a: {node: top, output: out}, b: 100}}\n"
    "  - {id: bottom, task: add, inputs: {a: {node: left, output: out}, "
    "b: {node: right, output: out}}}\n"
    "---\nkind: workflow\nname: retry\nversion: v1\ninputs: {x: integer}\n"
    "outputs: {result: {from: {node: f, output: out}}}\n"
    "nodes:\n  - {id: f, task: flaky, inputs: {a: {input: x}}}\n"
    "---\nkind: workflow\nname: lease\nversion: v1\ninputs: {x: integer}\n"
    "outputs: {result: {from: {node: l, output: out}}}\n"
    "nodes:\n  - {id: l, task: lost, inputs: {a: {input: x}}}\n"
    "---\nkind: workflow\nname: stop\nversion: v1\ninputs: {x: integer}\n"
    "outputs: {result: {from: {node: f, output: out}}}\n"
    "nodes:\n  - {id: f, task: forever, inputs: {a: {input: x}}}\n";

/* Two branches: b fails for good; s is slow and independent; d depends on b. */
static void
failing_yaml(char *buf, size_t size, const char *name, const char *policy)
{
    snprintf(buf, size,
             "kind: workflow\nname: %s\nversion: v1\ninputs: {x: integer}\n"
             "failure_policy: %s\n"
             "outputs: {result: {from: {node: s, output: out}}}\n"
             "nodes:\n"
             "  - {id: b, task: bad, inputs: {a: {input: x}}}\n"
             "  - {id: d, task: add, inputs: {a: {node: b, output: out}, b: 1}}\n"
             "  - {id: s, task: slow, inputs: {a: {input: x}}}\n",
             name, policy);
}

/* src -> n0..n(width-1) -> join (after all), and a chain of `chain`. */
static char *
shapes_yaml(int width, int chain, const char *name, const char *task)
{
    size_t cap = (size_t)(width + chain) * 160 + 4096, len = 0;
    char *y = malloc(cap);
    assert_non_null(y);
    len += (size_t)snprintf(y + len, cap - len,
                            "kind: workflow\nname: %s\nversion: v1\ninputs: {x: integer}\n"
                            "outputs: {fan: {from: {node: join, output: out}}",
                            name);
    if (chain > 0)
        len += (size_t)snprintf(y + len, cap - len, ", chain: {from: {node: c%d, output: out}}",
                                chain - 1);
    len += (size_t)snprintf(y + len, cap - len,
                            "}\nnodes:\n  - {id: src, task: %s, inputs: {a: {input: x}, b: 0}}\n",
                            task);
    for (int i = 0; i < width; i++)
        len += (size_t)snprintf(y + len, cap - len,
                                "  - {id: n%d, task: %s, inputs: {a: {node: src, output: out}, "
                                "b: %d}}\n",
                                i, task, i);
    len += (size_t)snprintf(y + len, cap - len,
                            "  - id: join\n    task: %s\n    inputs: {a: {node: src, output: out}, "
                            "b: 1000}\n    after: [",
                            task);
    for (int i = 0; i < width; i++)
        len += (size_t)snprintf(y + len, cap - len, "%sn%d", i ? ", " : "", i);
    len += (size_t)snprintf(y + len, cap - len, "]\n");
    for (int i = 0; i < chain; i++) {
        if (i == 0)
            len +=
                (size_t)snprintf(y + len, cap - len,
                                 "  - {id: c0, task: %s, inputs: {a: {input: x}, b: 1}}\n", task);
        else
            len += (size_t)snprintf(y + len, cap - len,
                                    "  - {id: c%d, task: %s, inputs: {a: {node: c%d, output: "
                                    "out}, b: 1}}\n",
                                    i, task, i - 1);
    }
    return y;
}

/* --- fixtures --------------------------------------------------------------------------- */

static int
setup(void **state)
{
    (void)state;
    it_fleet_init(&fleet, "test_engine", "eng", sched_bin, NULL, API_A);
    cfg = fleet.cfg;
    pid_a = it_fleet_scheduler(&fleet, "a", API_A, sched_env, false);
    char *argv[] = {(char *)answerer_bin, "default", NULL};
    it_fleet_spawn(&fleet, "answerer", argv, NULL);
    it_wait_metric(API_A, "floe_scheduler_is_leader", 1, 30000);
    it_register(tasks_yaml);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    it_fleet_down(&fleet);
    return 0;
}

/* --- tests ------------------------------------------------------------------------------ */

/* A short connection to the stack's Redis (fails the test when there is none). */
static redisContext *
redis_open(void)
{
    char host[64];
    int port;
    if (sscanf(cfg->redis_url, "redis://%63[^:]:%d", host, &port) != 2)
        fail_msg("FLOE_REDIS_URL \"%s\": expected redis://host:port", cfg->redis_url);
    redisContext *c = redisConnect(host, port);
    if (c == NULL || c->err)
        fail_msg("redis %s:%d: %s", host, port, c != NULL ? c->errstr : "no context");
    return c;
}

/* Claim keys of exec left in Redis: an attempt's claim goes when its result is applied. */
static long long
claims_left(const char *exec)
{
    char pattern[128];
    redisContext *c = redis_open();
    snprintf(pattern, sizeof(pattern), "floe:{%s}:c:*", exec);
    long long n = 0;
    char cursor[32] = "0";
    do { /* SCAN with the pattern as an argument, never formatted into a command */
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        redisReply *r = redisCommandArgv(c, 6, argv, NULL);
        if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
            fail_msg("redis SCAN failed");
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        n += (long long)r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
    return n;
}

static void
test_diamond(void **state)
{
    (void)state;
    char id[64];
    it_launch("diamond", "{\"x\": 1}", id);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "result"), 114); /* (1+1+10) + (1+1+100) */
    json_decref(ex);
    assert_int_equal(it_sql_int("SELECT count(*) FROM node_executions WHERE execution_id = $1 AND "
                                "phase = 'SUCCEEDED'",
                                id, NULL),
                     4);
    assert_int_equal(claims_left(id), 0);
}

static void
test_fanout_and_chain(void **state)
{
    (void)state;
    char *y = shapes_yaml(500, 100, "shapes", "add");
    it_register(y);
    free(y);
    char id[64];
    int64_t t0 = floe_mono_us();
    it_launch("shapes", "{\"x\": 5}", id);
    json_t *ex = it_wait_exec(id, 120000);
    double secs = (double)(floe_mono_us() - t0) / 1e6;
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "fan"), 1005);  /* src = 5, join = 5 + 1000 */
    assert_int_equal(it_output_int(ex, "chain"), 105); /* 5 + 100 x 1 */
    json_decref(ex);
    assert_int_equal(it_sql_int("SELECT count(*) FROM node_executions WHERE execution_id = $1 AND "
                                "phase = 'SUCCEEDED' AND attempts = 1",
                                id, NULL),
                     602);
    printf("# fan-out 500 + chain 100: 602 nodes in %.2f s\n", secs);
}

static void
test_retry_third_attempt(void **state)
{
    (void)state;
    char id[64];
    it_launch("retry", "{\"x\": 7}", id);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "result"), 7);
    json_decref(ex);
    assert_int_equal(it_sql_int("SELECT attempts FROM node_executions WHERE execution_id = $1 AND "
                                "node_id = $2",
                                id, "f"),
                     3);
    assert_int_equal(it_sql_int("SELECT count(*) FROM node_attempts WHERE execution_id = $1 AND "
                                "node_id = $2 AND phase = 'RETRYING' AND error_kind = 'USER'",
                                id, "f"),
                     2);
    assert_int_equal(claims_left(id), 0); /* the failed attempts' too */
}

static void
test_fail_fast_and_independent(void **state)
{
    (void)state;
    char y[2048];
    failing_yaml(y, sizeof(y), "ff", "fail_fast");
    it_register(y);
    failing_yaml(y, sizeof(y), "fi", "finish_independent");
    it_register(y);
    char ff[64], fi[64];
    it_launch("ff", "{\"x\": 1}", ff);
    it_launch("fi", "{\"x\": 1}", fi);
    json_t *ex = it_wait_exec(ff, 30000);
    it_expect_phase(ex, "FAILED");
    /* The execution's error names the node by its id, not its index (issue 26). */
    const char *why = json_string_value(json_object_get(ex, "error"));
    if (why == NULL || strncmp(why, "node b: ", 8) != 0)
        fail_msg("execution error \"%s\" does not start with \"node b: \"", why ? why : "");
    json_decref(ex);
    /* fail-fast: the slow branch did not get to finish */
    char *s = it_sql_text(
        "SELECT phase FROM node_executions WHERE execution_id = $1 AND node_id = $2", ff, "s");
    assert_string_not_equal(s, "SUCCEEDED");
    free(s);
    ex = it_wait_exec(fi, 30000);
    it_expect_phase(ex, "FAILED");
    json_decref(ex);
    s = it_sql_text("SELECT phase FROM node_executions WHERE execution_id = $1 AND node_id = $2",
                    fi, "s");
    assert_string_equal(s, "SUCCEEDED");
    free(s);
    s = it_sql_text("SELECT phase FROM node_executions WHERE execution_id = $1 AND node_id = $2",
                    fi, "d");
    assert_string_equal(s, "SKIPPED");
    free(s);
    s = it_sql_text(
        "SELECT phase || ':' || attempts FROM node_executions WHERE execution_id = $1 AND "
        "node_id = $2",
        fi, "b");
    assert_string_equal(s, "FAILED:2");
    free(s);
}

static void
test_duplicates_and_stale_events(void **state)
{
    (void)state;
    char id[64];
    it_launch("diamond", "{\"x\": 2}", id);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
    /* Replays of every kind after the fact: a second success of top with another value, a
     * failure of an attempt that succeeded, a start of an attempt never dispatched. */
    Floe__Value v = FLOE__VALUE__INIT;
    v.kind_case = FLOE__VALUE__KIND_INTEGER;
    v.integer = 999;
    Floe__NamedValue nv = FLOE__NAMED_VALUE__INIT;
    nv.name = "out";
    nv.value = &v;
    Floe__NamedValue *pv[] = {&nv};
    Floe__TaskSucceeded s = FLOE__TASK_SUCCEEDED__INIT;
    s.execution_id = id;
    s.node_id = "top";
    s.attempt = 1;
    s.outputs = pv;
    s.n_outputs = 1;
    long long noop0 = it_metric(API_A, "floe_engine_events_noop_total");
    produce(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, &s.base, id);
    Floe__TaskFailed f = FLOE__TASK_FAILED__INIT;
    f.execution_id = id;
    f.node_id = "left";
    f.attempt = 1;
    f.kind = FLOE__ERROR_KIND__ERROR_KIND_USER;
    f.retriable = true;
    produce(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, &f.base, id);
    Floe__TaskStarted st = FLOE__TASK_STARTED__INIT;
    st.execution_id = id;
    st.node_id = "bottom";
    st.attempt = 5;
    produce(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED, &st.base, id);
    it_wait_metric(API_A, "floe_engine_events_noop_total", noop0 + 3, 20000);
    /* Reordered during a run: a stale success for an attempt that was retried. */
    char rid[64];
    it_launch("retry", "{\"x\": 3}", rid);
    json_t *rex = it_wait_exec(rid, 30000);
    it_expect_phase(rex, "SUCCEEDED");
    json_decref(rex);
    s.execution_id = rid;
    s.node_id = "f";
    s.attempt = 1;
    produce(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, &s.base, rid);
    it_wait_metric(API_A, "floe_engine_events_noop_total", noop0 + 4, 20000);
    /* Review L5: lineage a worker recorded is its word. One naming an input the task does
     * not have, one with an output without a value: each dead-lettered, the term going on
     * (it restarted on them, for ever: the event came again after each restart). */
    long long rej0 = it_metric(API_A, "floe_engine_events_rejected_total");
    long long restarts0 = it_metric(API_A, "floe_engine_term_restarts_total");
    Floe__Artifact bogus = FLOE__ARTIFACT__INIT, novalue = FLOE__ARTIFACT__INIT;
    bogus.name = "no-such-input";
    bogus.value = &v;
    novalue.name = "out";
    Floe__Artifact *consumed[] = {&bogus}, *produced[] = {&novalue};
    Floe__LineageRecorded lr = FLOE__LINEAGE_RECORDED__INIT;
    lr.execution_id = id;
    lr.node_id = "top";
    lr.attempt = 1;
    lr.consumed = consumed;
    lr.n_consumed = 1;
    produce(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED, &lr.base, id);
    lr.consumed = NULL;
    lr.n_consumed = 0;
    lr.produced = produced;
    lr.n_produced = 1;
    produce(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED, &lr.base, id);
    it_wait_metric(API_A, "floe_engine_events_rejected_total", rej0 + 2, 20000);
    assert_int_equal(it_metric(API_A, "floe_engine_term_restarts_total"), restarts0);
    ex = it_get_exec(id);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "result"), 116);
    json_decref(ex);
    rex = it_get_exec(rid);
    assert_int_equal(it_output_int(rex, "result"), 3);
    json_decref(rex);
    assert_int_equal(
        it_sql_int("SELECT sum(attempts) FROM node_executions WHERE execution_id = $1", id, NULL),
        4);
}

static void
test_lease_expiry(void **state)
{
    (void)state;
    char id[64];
    /* Leases of executions whose state Redis no longer holds (retention expired it while a
     * lease entry stayed), older than any real one and more than a sweep takes: they must
     * not hide the lease that does expire, and they are cleared. */
    redisContext *c = redis_open();
    for (int i = 0; i < 300; i++) {
        char m[96], score[16];
        snprintf(m, sizeof(m), "01ZZGONE%018d|0|1", i);
        snprintf(score, sizeof(score), "%d", 1000 + i);
        const char *argv[] = {"ZADD", "floe:leases", score, m};
        freeReplyObject(redisCommandArgv(c, 4, argv, NULL));
    }
    long long exp0 = it_metric(API_A, "floe_engine_lease_expiries_total");
    it_launch("lease", "{\"x\": 4}", id);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "result"), 4);
    json_decref(ex);
    char *s = it_sql_text("SELECT error_kind || ':' || error_code FROM node_attempts WHERE "
                          "execution_id = $1 AND node_id = $2 AND attempt = 1",
                          id, "l");
    assert_string_equal(s, "SYSTEM:lease_expired");
    free(s);
    assert_true(it_metric(API_A, "floe_engine_lease_expiries_total") >= exp0 + 1);
    redisReply *r = redisCommand(c, "ZCOUNT floe:leases 0 2000");
    assert_non_null(r);
    assert_int_equal(r->integer, 0); /* the stale entries went */
    freeReplyObject(r);
    redisFree(c);
}

static void
test_terminate(void **state)
{
    (void)state;
    char id[64], path[128];
    it_launch("stop", "{\"x\": 1}", id);
    /* Wait until the attempt runs (claimed) before stopping it. */
    IT_WAIT_UNTIL(it_metric(API_A, "floe_engine_events_total{type=\"TaskStarted\"}") > 0, 20000,
                  "the attempt to start");
    snprintf(path, sizeof(path), "/api/v1/executions/%s/terminate", id);
    const char *body = "{\"reason\": \"test\", \"requested_by\": \"test_engine\"}";
    int st = it_http(it.api, "POST", path, body, strlen(body), NULL);
    assert_int_equal(st, 202);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "ABORTED");
    json_decref(ex);
    /* A second terminate of an ended execution is a conflict. */
    assert_int_equal(it_http(it.api, "POST", path, body, strlen(body), NULL), 409);
}

/* Issue 25: a launch on the leading replica goes straight to its engine, nothing from its
 * API on the bus; a launch on a standby goes through floe.events to the leader. Both run
 * to the end. Leaves the standby B running for the failover below. */
static void
test_launch_paths(void **state)
{
    (void)state;
    pid_b = it_fleet_scheduler(&fleet, "b", API_B, sched_env, false);
    assert_int_equal(it_metric(API_B, "floe_scheduler_is_leader"), 0);
    const char *produced = "floe_bus_messages_total{bus=\"api\",dir=\"produced\"}";
    const char *requests = "floe_engine_events_total{type=\"ExecutionRequested\"}";
    long long a0 = it_metric(API_A, produced), b0 = it_metric(API_B, produced);
    long long r0 = it_metric(API_A, requests);
    assert_true(a0 >= 0 && b0 >= 0 && r0 >= 0);
    char id[64];
    it_launch("diamond", "{\"x\": 5}", id);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "result"), 122); /* (5+1+10) + (5+1+100) */
    json_decref(ex);
    assert_int_equal(it_metric(API_A, produced), a0);
    assert_true(it_metric(API_A, requests) >= r0 + 1);

    it.api = API_B;
    it_launch("diamond", "{\"x\": 6}", id);
    ex = it_wait_exec(id, 30000);
    it.api = API_A;
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
    assert_int_equal(it_metric(API_B, produced), b0 + 1);
    assert_int_equal(it_metric(API_A, produced), a0);
    assert_true(it_metric(API_A, requests) >= r0 + 2);
}

/* Issue 25: requests the leader took from its own API and had not started when it stopped
 * (SIGTERM, as in a rolling restart) go to floe.events for the next leader, as their
 * messages would have stayed in Kafka: every execution ends within seconds, where the
 * next leader's reconcile sweep (here every 10 minutes) would have taken that long. Ends
 * with a new A leading and no standby, as test_failover_kill9 expects. */
static void
test_launches_handed_on_at_shutdown(void **state)
{
    (void)state;
    char *const slow_sweep[] = {"FLOE_LEADER_LEASE=3s", "FLOE_ATTEMPT_LEASE=2s",
                                "FLOE_RECONCILE_EVERY=10m", "FLOE_CLAIM_TIMEOUT=3s", NULL};
    assert_int_equal(it_stop(pid_b, 20000), 0);
    pid_b = it_fleet_scheduler(&fleet, "c", API_B, slow_sweep, false);
    enum { N = 60 };
    static char ids[N][64];
    for (int i = 0; i < N; i++)
        it_launch("diamond", "{\"x\": 7}", ids[i]);
    assert_int_equal(it_stop(pid_a, 20000), 0);
    pid_a = 0;
    it_wait_metric(API_B, "floe_scheduler_is_leader", 1, 30000);
    it.api = API_B;
    for (int i = 0; i < N; i++) {
        json_t *ex = it_wait_exec(ids[i], 30000);
        it_expect_phase(ex, "SUCCEEDED");
        json_decref(ex);
    }
    char *log = it_read_file("test_engine.a.log", NULL);
    const char *at = log != NULL ? strstr(log, "requests taken from this replica's API") : NULL;
    printf("# handed on at shutdown: %s\n",
           at != NULL ? "yes (see test_engine.a.log)" : "none pending");
    free(log);
    pid_a = it_fleet_scheduler(&fleet, "a3", API_A, sched_env, false);
    assert_int_equal(it_stop(pid_b, 20000), 0);
    pid_b = 0;
    it_wait_metric(API_A, "floe_scheduler_is_leader", 1, 30000);
    it.api = API_A;
}

static void
test_failover_kill9(void **state)
{
    (void)state;
    if (pid_b == 0)
        pid_b = it_fleet_scheduler(&fleet, "b", API_B, sched_env, false);
    assert_int_equal(it_metric(API_B, "floe_scheduler_is_leader"), 0);
    char *y = shapes_yaml(200, 0, "wide", "slow");
    it_register(y);
    free(y);
    char id[64];
    it_launch("wide", "{\"x\": 1}", id);
    /* 200 slow nodes in flight: wait until many started. */
    IT_WAIT_UNTIL(it_metric(API_A, "floe_engine_events_total{type=\"TaskStarted\"}") >= 100, 30000,
                  "100 of the 200 slow nodes to start");
    int64_t t0 = floe_mono_us();
    kill(pid_a, SIGKILL);
    waitpid(pid_a, NULL, 0);
    pid_a = 0;
    it.api = API_B;
    it_wait_metric(API_B, "floe_scheduler_is_leader", 1, 30000);
    double failover = (double)(floe_mono_us() - t0) / 1e6;
    json_t *ex = it_wait_exec(id, 120000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "fan"), 1001);
    json_decref(ex);
    /* What the workflow can observe: every node succeeded exactly once. */
    assert_int_equal(it_sql_int("SELECT count(*) FROM node_executions WHERE execution_id = $1 AND "
                                "phase = 'SUCCEEDED'",
                                id, NULL),
                     202);
    assert_int_equal(it_sql_int("SELECT count(*) FROM node_attempts WHERE execution_id = $1 AND "
                                "phase = 'SUCCEEDED'",
                                id, NULL),
                     202);
    printf("# failover: standby leads %.2f s after kill -9 of the leader (lease 3 s)\n", failover);
    /* The lease lapses within 3 s of the last renew and the standby tries every second: 4 s,
     * with room for a loaded machine; a failover that waited for anything else (a Kafka
     * session, a restart) would take 10 s or more. */
    if (failover > 8.0)
        fail_msg("the standby led %.2f s after the leader died (bound 8 s)", failover);
}

static void
test_paused_leader_fenced(void **state)
{
    (void)state;
    /* B leads now. A new replica A that ignores its own renew deadline (test hook) is the
     * one paused: only the Redis fence can stop it. */
    char *const env[] = {"FLOE_LEADER_LEASE=3s", "FLOE_ATTEMPT_LEASE=2s",
                         "FLOE_TEST_LEASE_IGNORE_DEADLINE=1", NULL};
    it_stop(pid_b, 20000);
    pid_b = 0;
    pid_a = it_fleet_scheduler(&fleet, "a2", API_A, env, true);
    pid_b = it_fleet_scheduler(&fleet, "b2", API_B, sched_env, false);
    kill(pid_a, SIGSTOP);
    it_wait_metric(API_B, "floe_scheduler_is_leader", 1, 30000);
    it.api = API_B;
    char id[64];
    it_launch("diamond", "{\"x\": 3}", id);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
    kill(pid_a, SIGCONT);
    /* The old leader's first write is refused and it demotes itself. */
    it_wait_metric(API_A, "floe_engine_fenced_total", 1, 30000);
    IT_WAIT_UNTIL(it_metric(API_A, "floe_scheduler_is_leader") == 0, 10000,
                  "the fenced leader to demote itself");
    assert_int_equal(it_metric(API_B, "floe_scheduler_is_leader"), 1);
    /* And the system still works under the new leader. */
    it_launch("diamond", "{\"x\": 4}", id);
    ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "result"), 120); /* (4+1+10) + (4+1+100) */
    json_decref(ex);
}

/* Review C2: a terminate reason of 512 "é" made the engine's message end inside a
 * character; PostgreSQL refused the finished execution and every later term stopped on it.
 * The execution must end ABORTED with valid text, and the engine go on. */
static void
test_c2_terminate_reason_utf8(void **state)
{
    (void)state;
    char id[64], path[128];
    it_launch("stop", "{\"x\": 2}", id);
    long long started0 = it_metric(API_A, "floe_engine_events_total{type=\"TaskStarted\"}");
    IT_WAIT_UNTIL(it_metric(API_A, "floe_engine_events_total{type=\"TaskStarted\"}") > started0,
                  20000, "the attempt to start");
    char body[1200] = "{\"requested_by\": \"xy\", \"reason\": \"";
    size_t len = strlen(body);
    for (int i = 0; i < 512; i++) {
        memcpy(body + len, "\xc3\xa9", 2);
        len += 2;
    }
    memcpy(body + len, "\"}", 3);
    len += 2;
    snprintf(path, sizeof(path), "/api/v1/executions/%s/terminate", id);
    assert_int_equal(it_http(it.api, "POST", path, body, len, NULL), 202);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "ABORTED");
    const char *err = json_string_value(json_object_get(ex, "error"));
    assert_non_null(err);
    /* Who terminated it is the caller's token, not what the body claims (issue 19). */
    assert_non_null(strstr(err, "terminated by token:bootstrap: \xc3\xa9\xc3\xa9"));
    json_decref(ex);
    it_launch("diamond", "{\"x\": 1}", id);
    ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
}

/* Review H8: Redis's fence epoch above PostgreSQL's lease epoch (a restored or failed-over
 * PostgreSQL, or the key written by someone else). The leader used to be refused, demoted,
 * re-elected under the same epoch and refused again, for ever; it must take a higher epoch
 * and lead. */
static void
test_h8_redis_epoch_above_postgres(void **state)
{
    (void)state;
    redisContext *c = redis_open();
    redisReply *r = redisCommand(c, "GET floe:epoch");
    assert_non_null(r);
    long long cur = r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;
    freeReplyObject(r);
    r = redisCommand(c, "SET floe:epoch %lld", cur + 1000);
    freeReplyObject(r);
    redisFree(c);
    char id[64];
    it_launch("diamond", "{\"x\": 5}", id);
    json_t *ex = it_wait_exec(id, 60000);
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
    assert_true(it_sql_int("SELECT epoch FROM floe_leader WHERE $1::text IS NOT NULL", "x", NULL) >
                cur + 1000);
}

/* One Redis command on a short connection (keys passed as arguments, never formatted). */
static long long
redis_int(const char *const *argv, int argc)
{
    redisContext *c = redis_open();
    redisReply *r = redisCommandArgv(c, argc, (const char **)argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER)
        fail_msg("redis %s: no integer answer", argv[0]);
    long long v = r->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* Review H4: Redis acknowledged writes it then lost (appendfsync everysec, a crash); the
 * events that created them are committed in Kafka. The execution must not stay RUNNING
 * for ever: the leader finds it has no state and requests it again from PostgreSQL. */
static void
test_h4_forgotten_execution_reconciled(void **state)
{
    (void)state;
    char id[64], key[128], log[128], path[128];
    long long rec0 = it_metric(it.api, "floe_engine_reconciled_total");
    it_launch("stop", "{\"x\": 9}", id);
    snprintf(key, sizeof(key), "floe:{%s}", id);
    snprintf(log, sizeof(log), "floe:{%s}:log", id);
    /* PostgreSQL says RUNNING before the leader writes the state to Redis: wait for the
     * state itself, or the test deletes nothing. */
    const char *exists[] = {"EXISTS", key};
    IT_WAIT_UNTIL(redis_int(exists, 2) != 0, 20000, "the execution's Redis state");
    const char *del[] = {"DEL", key, log};
    assert_true(redis_int(del, 3) >= 1);
    /* The next reconcile round (every 2 s here) requests it again. */
    it_wait_metric(it.api, "floe_engine_reconciled_total", rec0 + 1, 30000);
    IT_WAIT_UNTIL(redis_int(exists, 2) == 1, 20000, "the reconciled execution's Redis state");
    /* Alive again: it answers a terminate and ends. */
    snprintf(path, sizeof(path), "/api/v1/executions/%s/terminate", id);
    const char *body = "{\"reason\": \"test\", \"requested_by\": \"test_engine\"}";
    assert_int_equal(it_http(it.api, "POST", path, body, strlen(body), NULL), 202);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "ABORTED");
    json_decref(ex);
}

/* Review M5: a dispatch no worker claims (lost with the topic's retention, or no worker of
 * its class running: here class "large", which it_answerer does not serve) left the node
 * READY for ever. It fails as SYSTEM not_claimed after engine.claim_timeout (3 s here)
 * and, its budget spent, the execution ends. */
static void
test_m5_unclaimed_dispatch_fails(void **state)
{
    (void)state;
    it_register("kind: task\nname: big\nversion: v1\ncontainer: {command: [sum]}\n"
                "resource_class: large\ninputs: {a: integer, b: integer}\n"
                "outputs: {out: integer}\nretries: {system: 1, backoff: {initial: 10ms}}\n"
                "---\nkind: workflow\nname: unclaimed\nversion: v1\ninputs: {x: integer}\n"
                "outputs: {r: {from: {node: n, output: out}}}\n"
                "nodes:\n  - {id: n, task: big, inputs: {a: {input: x}, b: 1}}\n");
    char id[64];
    it_launch("unclaimed", "{\"x\": 1}", id);
    json_t *ex = it_wait_exec(id, 60000);
    it_expect_phase(ex, "FAILED");
    json_decref(ex);
    char *code = it_sql_text("SELECT error_code FROM node_attempts WHERE execution_id = $1 AND "
                             "node_id = $2 ORDER BY attempt DESC LIMIT 1",
                             id, "n");
    assert_string_equal(code, "not_claimed");
    free(code);
    assert_int_equal(
        it_sql_int("SELECT count(*) FROM node_attempts WHERE execution_id = $1", id, NULL), 2);
}

/* Review M12: a leader whose loop has not yet served the lease's timer when the renew
 * deadline passes (resumed after a pause: whatever became ready meanwhile may be served
 * first) must not act on anything. A replica whose lease timer never runs once it leads
 * (test hook) stands for it: the engine's own check, before each event, request and sweep,
 * demotes it; a standby then leads and runs what it was asked. */
static void
test_m12_leader_past_its_deadline_acts_no_more(void **state)
{
    (void)state;
    char *const env[] = {"FLOE_LEADER_LEASE=3s", "FLOE_ATTEMPT_LEASE=2s",
                         "FLOE_TEST_LEASE_TICK_LATE=1", NULL};
    if (pid_a > 0)
        it_stop(pid_a, 20000);
    if (pid_b > 0)
        it_stop(pid_b, 20000);
    pid_b = 0;
    pid_a = it_fleet_scheduler(&fleet, "a3", API_A, env, true);
    it.api = API_A;
    char id[64];
    it_launch("diamond", "{\"x\": 6}", id);
    json_t *ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
    /* Its renewals held back, the lease lapses in PostgreSQL (past its local deadline). */
    IT_WAIT_UNTIL(it_sql_int("SELECT count(*) FROM floe_leader WHERE name = $1 AND"
                             " expires_at < now()",
                             "scheduler", NULL) == 1,
                  10000, "the lease of the replica whose timer is late to lapse");
    IT_WAIT_UNTIL(it_metric(API_A, "floe_scheduler_is_leader") == 0, 10000,
                  "the replica past its deadline to demote itself when it next acts");
    /* A launch it is asked for goes to the bus, for whoever leads next. */
    it_launch("diamond", "{\"x\": 7}", id);
    pid_b = it_fleet_scheduler(&fleet, "b3", API_B, sched_env, false);
    it_wait_metric(API_B, "floe_scheduler_is_leader", 1, 30000);
    ex = it_wait_exec(id, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "result"), 126); /* (7+1+10) + (7+1+100) */
    json_decref(ex);
    assert_int_equal(it_metric(API_A, "floe_scheduler_is_leader"), 0);
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_engine FLOE_SCHEDULER IT_ANSWERER\n");
        return 2;
    }
    sched_bin = argv[1];
    answerer_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diamond),
        cmocka_unit_test(test_fanout_and_chain),
        cmocka_unit_test(test_retry_third_attempt),
        cmocka_unit_test(test_fail_fast_and_independent),
        cmocka_unit_test(test_duplicates_and_stale_events),
        cmocka_unit_test(test_lease_expiry),
        cmocka_unit_test(test_terminate),
        cmocka_unit_test(test_c2_terminate_reason_utf8),
        cmocka_unit_test(test_h4_forgotten_execution_reconciled),
        cmocka_unit_test(test_m5_unclaimed_dispatch_fails),
        cmocka_unit_test(test_launch_paths),
        cmocka_unit_test(test_launches_handed_on_at_shutdown),
        cmocka_unit_test(test_failover_kill9),
        cmocka_unit_test(test_paused_leader_fenced),
        cmocka_unit_test(test_h8_redis_epoch_above_postgres),
        cmocka_unit_test(test_m12_leader_past_its_deadline_acts_no_more),
    };
    if (getenv("IT_FILTER") != NULL)
        cmocka_set_test_filter(getenv("IT_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
