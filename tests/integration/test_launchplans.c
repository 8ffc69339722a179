/*
 * Launch plans that launch themselves, against the real stack: two floe-schedulers
 * (argv[1]; one leads, the other stands by) and a floe-worker (argv[2]). Schedules fire
 * on time and exactly once across a kill -9 of the leader; catch-up after downtime follows
 * skip / latest / all; concurrency skip skips and queue queues; triggers fire once per
 * partition when every dataset arrived (AND), ignore duplicate events, and account for a
 * 1,000-event burst under a rate limit; a workflow that publishes a dataset triggers
 * another, and lineage links the two. Events come from the client library
 * (libfloe_client), as a service would send them.
 */
#include "floe_client.h"
#include "floe_time.h"
#include "it_exec.h"
#include "it_fleet.h"
#include "it_util.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define API_A "http://127.0.0.1:18788"
#define API_B "http://127.0.0.1:18789"
#define W1 "127.0.0.1:18797"

static const char *sched_bin, *worker_bin;
static int pid_a, pid_b;
static floe_config *cfg;
static floe_client *client;

static it_fleet fleet;
static char *const sched_env[] = {"FLOE_LAUNCHPLAN_TICK=200ms", "FLOE_LAUNCHPLAN_GRACE=2s",
                                  "FLOE_LEADER_LEASE=2s", "FLOE_LAUNCHPLAN_PRUNE_EVERY=1s", NULL};

/* --- helpers ---------------------------------------------------------------------------- */

static long long
sql_int(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    const char *params[] = {it.project};
    PGresult *r =
        PQexecParams(it.pg, sql, strstr(sql, "$1") != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    long long v = PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Runs a statement over $1 = project. */
static void
sql_exec(const char *sql)
{
    const char *params[] = {it.project};
    PGresult *r = PQexecParams(it.pg, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* Polls a count (SQL over $1 = project) until it reaches want. */
static long long
wait_count(long long want, int timeout_ms, const char *what, const char *sql)
{
    int64_t end = (floe_mono_us() / 1000) + timeout_ms;
    long long n;
    while ((n = sql_int("%s", sql)) < want) {
        if ((floe_mono_us() / 1000) > end)
            fail_msg("%s: %lld after %d ms, expected %lld", what, n, timeout_ms, want);
        usleep(50 * 1000);
    }
    return n;
}

static void
activate(const char *lp, const char *version, bool on)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/launchplans/%s/development/%s/%s/%s", it.project, lp,
             version, on ? "activate" : "deactivate");
    int st = it_http(it.api, "POST", path, "{}", 2, NULL);
    if (st != 200)
        fail_msg("%s %s: HTTP %d", on ? "activate" : "deactivate", lp, st);
}

/* A task running sh -c script, and a one-node workflow around it. */
static void
register_wf(const char *name, const char *script, const char *inputs, const char *outputs,
            const char *wf_extra)
{
    char yaml[4096];
    char binds[512] = "";
    /* every workflow input is bound to the task input of the same name */
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", inputs);
    size_t bl = 0;
    for (char *tok = strtok(tmp, "{},"); tok != NULL; tok = strtok(NULL, "{},")) {
        while (*tok == ' ')
            tok++;
        char *colon = strchr(tok, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        bl += (size_t)snprintf(binds + bl, sizeof(binds) - bl, "%s%s: {input: %s}", bl ? ", " : "",
                               tok, tok);
    }
    char outs[1200] = "{}";
    if (strcmp(outputs, "{}") != 0) {
        snprintf(tmp, sizeof(tmp), "%s", outputs);
        char *colon = strchr(tmp + 1, ':');
        *colon = '\0';
        snprintf(outs, sizeof(outs), "{%s: {from: {node: t, output: %s}}}", tmp + 1, tmp + 1);
    }
    snprintf(yaml, sizeof(yaml),
             "kind: task\nname: %s_task\nversion: \"1\"\nexecutor: process\n"
             "container: {command: [/bin/sh, -c, '%s']}\ninputs: %s\noutputs: %s\n---\n"
             "kind: workflow\nname: %s\nversion: \"1\"\ninputs: %s\noutputs: %s\n"
             "nodes:\n  - {id: t, task: %s_task, inputs: {%s}}\n%s",
             name, script, inputs, outputs, name, inputs, outs, name, binds, wf_extra);
    it_register(yaml);
}

static void
register_lp(const char *name, const char *wf, const char *body)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml), "kind: launchplan\nname: %s\nversion: \"1\"\nworkflow: %s@1\n%s",
             name, wf, body);
    it_register(yaml);
    activate(name, "1", true);
}

static void
publish(const char *dataset, const char *key, const char *value, const char *uri,
        const char *event_id)
{
    floe_kv part[] = {{key, value}};
    floe_data d = {.dataset = dataset,
                   .partition = part,
                   .n_partition = 1,
                   .uri = uri,
                   .digest =
                       "sha256:0000000000000000000000000000000000000000000000000000000000000001",
                   .event_id = event_id,
                   .producer = "test_launchplans"};
    char err[512];
    if (floe_client_publish(client, &d, NULL, err, sizeof(err)) != 0)
        fail_msg("publish %s: %s", dataset, err);
}

/* --- setup ------------------------------------------------------------------------------ */

static int
setup(void **state)
{
    (void)state;
    it_fleet_init(&fleet, "test_launchplans", "lp", sched_bin, worker_bin, API_A);
    cfg = fleet.cfg;
    char err[512];
    if ((client = floe_client_new(cfg->kafka_brokers, cfg->kafka_properties, cfg->topic_prefix, err,
                                  sizeof(err))) == NULL)
        fail_msg("%s", err);
    pid_a = it_fleet_scheduler(&fleet, "a", API_A, sched_env, true);
    pid_b = it_fleet_scheduler(&fleet, "b", API_B, sched_env, false);
    it_fleet_worker(&fleet, "w1", W1, NULL);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    floe_client_free(client);
    it_fleet_down(&fleet);
    return 0;
}

/* The API of whichever scheduler is up. */
static void
use_live_api(void)
{
    it.api = pid_a > 0 ? API_A : API_B;
}

/* --- schedules -------------------------------------------------------------------------- */

#define FIRINGS(lp, cond)                                                                          \
    "SELECT count(*) FROM lp_firings WHERE project = $1 AND name = '" lp "' AND " cond

static void
test_rate_on_time_and_failover(void **state)
{
    (void)state;
    register_wf("stamp", "cat $FLOE_INPUTS/run_at > $FLOE_OUTPUTS/at", "{run_at: datetime}",
                "{at: string}", "");
    register_lp("every2", "stamp",
                "schedule: {rate: 2s, input: run_at, catch_up: all, catch_up_max: 20}\n");
    wait_count(2, 15000, "every2 launched", FIRINGS("every2", "state = 'LAUNCHED'"));
    /* On time: launched within a second of the instant; instants are whole multiples. */
    long long lag_ms = sql_int("SELECT max(extract(epoch FROM launched_at - scheduled_at) * 1000)"
                               "::bigint FROM lp_firings WHERE project = $1 AND name = 'every2'"
                               " AND state = 'LAUNCHED'");
    printf("# every2: worst lag from scheduled instant to launch %lld ms\n", lag_ms);
    assert_true(lag_ms >= 0 && lag_ms < 1500);
    assert_int_equal(sql_int("SELECT count(*) FROM lp_firings WHERE project = $1 AND name ="
                             " 'every2' AND extract(epoch FROM scheduled_at)::bigint %% 2 <> 0"),
                     0);
    /* The execution got the scheduled time as its input. */
    char *exec = it_sql_text("SELECT execution_id FROM lp_firings f WHERE project = $1 AND name ="
                             " 'every2' AND state = 'LAUNCHED' ORDER BY id LIMIT 1",
                             it.project, NULL);
    json_t *ex = it_wait_exec(exec, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    json_decref(ex);
    free(exec);

    /* kill -9 of the leader; the standby takes over and goes on from where it stopped. */
    long long before = sql_int(FIRINGS("every2", "true"));
    kill(pid_a, SIGKILL);
    waitpid(pid_a, NULL, 0);
    pid_a = 0;
    use_live_api();
    it_wait_metric(API_B, "floe_scheduler_is_leader", 1, 30000);
    wait_count(before + 3, 20000, "every2 firings after the failover", FIRINGS("every2", "true"));
    activate("every2", "1", false);
    /* Exactly once: one firing per instant, one execution per launched firing, and no
     * instant between the first and the last left out. */
    long long n = sql_int(FIRINGS("every2", "true"));
    long long span = sql_int("SELECT (extract(epoch FROM max(scheduled_at) - min(scheduled_at))"
                             " / 2 + 1)::bigint FROM lp_firings WHERE project = $1 AND name ="
                             " 'every2'");
    long long execs = sql_int("SELECT count(*) FROM executions WHERE project = $1 AND"
                              " launch_plan_name = 'every2'");
    long long distinct = sql_int("SELECT count(DISTINCT scheduled_at) FROM executions WHERE"
                                 " project = $1 AND launch_plan_name = 'every2'");
    wait_count(n, 20000, "every2 launched", FIRINGS("every2", "state = 'LAUNCHED'"));
    execs = sql_int("SELECT count(*) FROM executions WHERE project = $1 AND"
                    " launch_plan_name = 'every2'");
    distinct = sql_int("SELECT count(DISTINCT scheduled_at) FROM executions WHERE"
                       " project = $1 AND launch_plan_name = 'every2'");
    printf("# every2: %lld firings over %lld instants, %lld executions (%lld distinct instants)\n",
           n, span, execs, distinct);
    assert_int_equal(n, span);
    assert_int_equal(execs, n);
    assert_int_equal(distinct, n);
}

/* A plan with nothing due writes nothing (issue 25): its cursor stays at its activation
 * while another plan's firings show the ticks going by, one each second. (Its one
 * instant a year, 1 January 00:00 UTC, falls in the test's few seconds only then.) */
static void
test_idle_plan_writes_nothing(void **state)
{
    (void)state;
    use_live_api();
    register_lp("idle_yearly", "stamp", "schedule: {cron: \"0 0 1 1 *\", input: run_at}\n");
    register_lp("busy_1s", "stamp", "schedule: {rate: 1s, input: run_at}\n");
    const char *cursor = "SELECT (extract(epoch FROM cursor_at) * 1e6)::bigint FROM lp_cursors"
                         " WHERE project = $1 AND name = 'idle_yearly'";
    wait_count(1, 15000, "the idle plan's first evaluation",
               "SELECT count(*) FROM lp_cursors WHERE project = $1 AND name = 'idle_yearly'");
    long long c0 = sql_int("%s", cursor);
    long long f0 = sql_int(FIRINGS("busy_1s", "true"));
    wait_count(f0 + 3, 15000, "three more firings of busy_1s", FIRINGS("busy_1s", "true"));
    assert_int_equal(sql_int("%s", cursor), c0);
    activate("idle_yearly", "1", false);
    activate("busy_1s", "1", false);
}

/* The scheduler is down for a while; on restart each plan catches up per its policy. */
static void
test_catch_up(void **state)
{
    (void)state;
    use_live_api();
    register_lp("cu_skip", "stamp", "schedule: {rate: 1s, input: run_at, catch_up: skip}\n");
    register_lp("cu_latest", "stamp", "schedule: {rate: 1s, input: run_at, catch_up: latest}\n");
    register_lp("cu_all", "stamp",
                "schedule: {rate: 1s, input: run_at, catch_up: all, catch_up_max: 3}\n");
    wait_count(3, 15000, "cursors of the three plans",
               "SELECT count(*) FROM lp_cursors WHERE project = $1 AND name LIKE 'cu_%'");
    wait_count(1, 15000, "cu_all firing", FIRINGS("cu_all", "true"));
    /* Down: every scheduler stopped (the standby too). */
    int *pids[] = {&pid_a, &pid_b};
    for (int i = 0; i < 2; i++)
        if (*pids[i] > 0) {
            assert_int_equal(it_stop(*pids[i], 20000), 0);
            *pids[i] = 0;
        }
    long long down_us = sql_int("SELECT (extract(epoch FROM now()) * 1e6)::bigint");
    long long down_at = down_us / 1000000;
    sleep(7); /* the outage under test: about 7 instants of each plan are missed */
    pid_a = it_fleet_scheduler(&fleet, "a2", API_A, sched_env, false);
    use_live_api();
    /* The first evaluation after the restart records its firings in one transaction. */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM lp_cursors WHERE project = $1 AND name LIKE 'cu_%%' AND "
             "cursor_at > to_timestamp(%lld + 5)",
             down_at);
    wait_count(3, 30000, "catch-up evaluations", sql);
    const char *batch = "SELECT count(*) FROM lp_firings f WHERE project = $1 AND name = '%s' AND"
                        " created_at = (SELECT min(created_at) FROM lp_firings WHERE project = $1"
                        " AND name = '%s' AND created_at > to_timestamp(%lld / 1e6))";
    long long skip = sql_int(batch, "cu_skip", "cu_skip", down_us);
    long long latest = sql_int(batch, "cu_latest", "cu_latest", down_us);
    long long all = sql_int(batch, "cu_all", "cu_all", down_us);
    long long missed_skip = sql_int("SELECT missed FROM lp_cursors WHERE project = $1 AND name ="
                                    " 'cu_skip'");
    printf("# catch-up after %d s down: skip fired %lld (missed %lld), latest %lld, all %lld\n", 7,
           skip, missed_skip, latest, all);
    /* skip: only instants still within the grace period; latest: one; all: catch_up_max */
    assert_true(skip <= 2 && missed_skip >= 4);
    assert_int_equal(latest, 1);
    assert_int_equal(all, 3);
    /* all: the three launch one per tick (paced), none lost. */
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT launched_at) FROM lp_firings WHERE project = $1 AND name ="
             " 'cu_all' AND state = 'LAUNCHED' AND created_at = (SELECT min(created_at) FROM"
             " lp_firings WHERE project = $1 AND name = 'cu_all' AND created_at >"
             " to_timestamp(%lld / 1e6))",
             down_us);
    wait_count(3, 20000, "cu_all catch-up launches (distinct ticks)", sql);
    activate("cu_skip", "1", false);
    activate("cu_latest", "1", false);
    activate("cu_all", "1", false);
}

static void
test_concurrency(void **state)
{
    (void)state;
    use_live_api();
    register_wf("slow", "sleep 2.5; cat $FLOE_INPUTS/run_at > $FLOE_OUTPUTS/at",
                "{run_at: datetime}", "{at: string}", "");
    register_lp("c_skip", "slow", "schedule: {rate: 1s, input: run_at, concurrency: skip}\n");
    register_lp("c_queue", "slow",
                "schedule: {rate: 1s, input: run_at, concurrency: queue, queue_max: 2}\n");
    wait_count(2, 30000, "c_skip skipped firings",
               FIRINGS("c_skip", "state = 'SKIPPED' AND reason LIKE '%still running%'"));
    wait_count(1, 30000, "c_queue firings refused (queue full)",
               FIRINGS("c_queue", "state = 'SKIPPED' AND reason LIKE '%queue is full%'"));
    wait_count(2, 30000, "c_queue launches", FIRINGS("c_queue", "state = 'LAUNCHED'"));
    activate("c_skip", "1", false);
    activate("c_queue", "1", false);
    /* queue never held more than one running plus queue_max waiting */
    assert_true(sql_int(FIRINGS("c_queue", "state = 'PENDING'")) <= 3);
    /* Neither ever ran two at once. */
    const char *overlap =
        "SELECT count(*) FROM executions a JOIN executions b ON a.project = b.project AND"
        " a.launch_plan_name = b.launch_plan_name AND a.id < b.id WHERE a.project = $1 AND"
        " a.launch_plan_name = '%s' AND a.started_at < coalesce(b.finished_at, now()) AND"
        " b.started_at < coalesce(a.finished_at, now())";
    long long o1 = sql_int(overlap, "c_skip"), o2 = sql_int(overlap, "c_queue");
    printf("# concurrency: overlapping runs skip=%lld queue=%lld\n", o1, o2);
    assert_int_equal(o1, 0);
    assert_int_equal(o2, 0);
}

/* --- triggers --------------------------------------------------------------------------- */

static void
test_trigger_and_dedup(void **state)
{
    (void)state;
    use_live_api();
    register_wf("join",
                "echo \"$(cat $FLOE_INPUTS/a) $(cat $FLOE_INPUTS/b) $(cat $FLOE_INPUTS/day)\""
                " > $FLOE_OUTPUTS/line",
                "{a: string, b: string, day: string}", "{line: string}", "");
    register_lp("on_ab", "join",
                "trigger:\n  datasets:\n    - {name: ds_a, partition: {date: \"2026-*\"}}\n"
                "    - {name: ds_b}\n  mode: all\n"
                "  inputs: {a: \"ds_a:uri\", b: \"ds_b:uri\", day: partition.date}\n");
    char e1[64], e2[64];
    snprintf(e1, sizeof(e1), "%s-a1", it.project);
    snprintf(e2, sizeof(e2), "%s-b1", it.project);
    publish("ds_a", "date", "2026-11-21", "file:///a/21", e1);
    wait_count(1, 10000, "ds_a recorded",
               "SELECT count(*) FROM trigger_events WHERE project = $1 AND name = 'on_ab'");
    assert_int_equal(sql_int(FIRINGS("on_ab", "true")), 0);
    /* visible as awaiting ds_b */
    json_t *lp = NULL;
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/launchplans/%s/development/on_ab", it.project);
    assert_int_equal(it_http(it.api, "GET", path, NULL, 0, &lp), 200);
    json_t *aw = json_array_get(json_object_get(json_object_get(lp, "status"), "awaiting"), 0);
    assert_non_null(aw);
    assert_string_equal(json_string_value(json_array_get(json_object_get(aw, "awaited"), 0)),
                        "ds_b");
    json_decref(lp);
    publish("ds_b", "date", "2026-11-21", "file:///b/21", e2);
    wait_count(1, 10000, "on_ab launched", FIRINGS("on_ab", "state = 'LAUNCHED'"));
    /* a duplicate of A and an A outside the predicate start nothing */
    publish("ds_a", "date", "2026-11-21", "file:///a/21-again", e1);
    publish("ds_a", "date", "1999-01-01", "file:///a/old", NULL);
    /* a different partition starts its own */
    publish("ds_a", "date", "2026-11-22", "file:///a/22", NULL);
    publish("ds_b", "date", "2026-11-22", "file:///b/22", NULL);
    wait_count(2, 10000, "on_ab second partition", FIRINGS("on_ab", "state = 'LAUNCHED'"));
    it_wait_metric(API_A, "floe_launchplan_duplicate_events_total", 1, 10000);
    assert_int_equal(sql_int(FIRINGS("on_ab", "true")), 2);
    char *exec = it_sql_text("SELECT execution_id FROM lp_firings WHERE project = $1 AND name ="
                             " 'on_ab' AND partition_key = 'date=2026-11-21'",
                             it.project, NULL);
    json_t *ex = it_wait_exec(exec, 30000);
    it_expect_phase(ex, "SUCCEEDED");
    const char *line = json_string_value(json_object_get(json_object_get(ex, "outputs"), "line"));
    printf("# on_ab 2026-11-21: %s\n", line);
    assert_string_equal(line, "file:///a/21 file:///b/21 2026-11-21");
    json_decref(ex);
    free(exec);
    activate("on_ab", "1", false);
}

static void
test_burst(void **state)
{
    (void)state;
    use_live_api();
    register_lp("on_c", "join",
                "default_inputs: {b: \"-\"}\n"
                "trigger:\n  datasets: [{name: ds_c}]\n  mode: any\n  max_per_minute: 40\n"
                "  inputs: {a: uri, day: partition.n}\n");
    int64_t t0 = (floe_mono_us() / 1000);
    for (int i = 0; i < 1000; i++) {
        char n[16], uri[64];
        snprintf(n, sizeof(n), "%d", i);
        snprintf(uri, sizeof(uri), "file:///c/%d", i);
        publish("ds_c", "n", n, uri, NULL);
    }
    int64_t t1 = (floe_mono_us() / 1000);
    wait_count(1000, 60000, "on_c firings recorded", FIRINGS("on_c", "true"));
    int64_t t2 = (floe_mono_us() / 1000);
    wait_count(40, 20000, "on_c launches", FIRINGS("on_c", "state = 'LAUNCHED'"));
    long long launched = sql_int(FIRINGS("on_c", "state = 'LAUNCHED'"));
    long long pending = sql_int(FIRINGS("on_c", "state = 'PENDING'"));
    long long execs = sql_int("SELECT count(*) FROM executions WHERE project = $1 AND"
                              " launch_plan_name = 'on_c'");
    printf("# burst: 1000 events published in %lld ms, all recorded %lld ms later; %lld launched"
           " (= %lld executions), %lld queued by the rate limit\n",
           (long long)(t1 - t0), (long long)(t2 - t1), launched, execs, pending);
    activate("on_c", "1", false);
    assert_int_equal(launched + pending, 1000);
    assert_int_equal(launched, 40);
    assert_int_equal(execs, launched);
}

/* Requests a service sends together (floe_client_request_many, a backfill): the leader
 * records and starts them in batches, reading a launch plan and loading a plan once a
 * batch for those naming the same (issue 25). Each still runs its own plan with its own
 * inputs, interleaved with another plan's; one naming a plan that does not exist, and one
 * giving an input its plan does not take, fail alone with the reason. */
static void
test_requests_together(void **state)
{
    (void)state;
    use_live_api();
    register_wf("echo_a", "printf a-%s \"$(cat $FLOE_INPUTS/x)\" > $FLOE_OUTPUTS/s", "{x: string}",
                "{s: string}", "");
    register_wf("echo_b", "printf b-%s \"$(cat $FLOE_INPUTS/x)\" > $FLOE_OUTPUTS/s", "{x: string}",
                "{s: string}", "");
    register_lp("many_a", "echo_a", "");
    register_lp("many_b", "echo_b", "");
    enum { N = 42, MISSING = 7, BAD_INPUT = 11 };
    floe_launch ls[N];
    floe_kv in[N];
    char xs[N][16], ids[N][FLOE_CLIENT_EXEC_ID_SIZE], err[512];
    for (int i = 0; i < N; i++) {
        snprintf(xs[i], sizeof(xs[i]), "%d", i);
        in[i] = (floe_kv){"x", xs[i]};
        ls[i] = (floe_launch){.project = it.project,
                              .domain = "development",
                              .launch_plan = i % 2 ? "many_b" : "many_a",
                              .inputs = &in[i],
                              .n_inputs = 1,
                              .requested_by = "test_launchplans"};
    }
    ls[MISSING].launch_plan = "no_such_plan";
    in[BAD_INPUT] = (floe_kv){"y", "1"};
    int ok = floe_client_request_many(client, ls, N, ids, err, sizeof(err));
    if (ok != N)
        fail_msg("%d of %d requested: %s", ok, N, err);
    int succeeded = 0;
    for (int i = 0; i < N; i++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/executions/%s", ids[i]);
        /* the leader records it once the request arrived: not found until then */
        IT_WAIT_UNTIL(it_http(it.api, "GET", path, NULL, 0, NULL) == 200, 30000,
                      "a requested execution to be recorded");
        json_t *ex = it_wait_exec(ids[i], 60000);
        const char *wf =
            json_string_value(json_object_get(json_object_get(ex, "workflow"), "name"));
        const json_t *e = json_object_get(ex, "error");
        char *text = json_is_string(e) ? strdup(json_string_value(e))
                                       : json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
        if (i == MISSING || i == BAD_INPUT) {
            it_expect_phase(ex, "FAILED");
            if (text == NULL || strstr(text, i == MISSING ? "no_such_plan" : "\"y\"") == NULL)
                fail_msg("execution %d (%s): error %s does not name the cause", i, ids[i], text);
        } else {
            it_expect_phase(ex, "SUCCEEDED");
            char want[32];
            snprintf(want, sizeof(want), "%c-%d", i % 2 ? 'b' : 'a', i);
            const char *got =
                json_string_value(json_object_get(json_object_get(ex, "outputs"), "s"));
            if (got == NULL || strcmp(got, want) != 0 || wf == NULL ||
                strcmp(wf, i % 2 ? "echo_b" : "echo_a") != 0)
                fail_msg("execution %d (%s): workflow %s, output %s; expected %s", i, ids[i],
                         wf ? wf : "?", got ? got : "none", want);
            succeeded++;
        }
        free(text);
        json_decref(ex);
    }
    printf("# %d requests together: %d succeeded, the missing plan and the bad input failed\n", N,
           succeeded);
    activate("many_a", "1", false);
    activate("many_b", "1", false);
}

/* Workflow 1 publishes dataset chain_x; workflow 2 is triggered by it; lineage links them. */
static void
test_chain(void **state)
{
    (void)state;
    use_live_api();
    /* The dataset is this run's: the first project to publish it owns it (issue 19). */
    char pub[160], trig[160];
    snprintf(pub, sizeof(pub),
             "publish:\n  - {output: data, dataset: chain_x-%s, partition: {day: "
             "\"{{inputs.day}}\"}}\n",
             it.project);
    snprintf(trig, sizeof(trig),
             "trigger: {datasets: [{name: chain_x-%s}], inputs: {src: uri, day: partition.day}}\n",
             it.project);
    register_wf("produce", "echo \"data for $(cat $FLOE_INPUTS/day)\" > $FLOE_OUTPUTS/data",
                "{day: string}", "{data: blob}", pub);
    register_wf("consume", "wc -c < $FLOE_INPUTS/src > $FLOE_OUTPUTS/n", "{src: blob, day: string}",
                "{n: integer}", "");
    register_lp("on_x", "consume", trig);
    char id1[64];
    it_launch("produce", "{\"day\": \"2026-11-21\"}", id1);
    json_t *ex1 = it_wait_exec(id1, 30000);
    it_expect_phase(ex1, "SUCCEEDED");
    json_decref(ex1);
    wait_count(1, 20000, "on_x launched", FIRINGS("on_x", "state = 'LAUNCHED'"));
    char *id2 = it_sql_text("SELECT execution_id FROM lp_firings WHERE project = $1 AND name ="
                            " 'on_x'",
                            it.project, NULL);
    json_t *ex2 = it_wait_exec(id2, 30000);
    it_expect_phase(ex2, "SUCCEEDED");
    assert_int_equal(it_output_int(ex2, "n"), (long long)strlen("data for 2026-11-21\n"));
    json_decref(ex2);
    /* upstream of the consumer's output reaches the producer's execution */
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/lineage?execution=%s&node=t&output=n", id2);
    json_t *lin = NULL;
    /* Lineage is written in batches after the events (docs/catalog.md): it may land just
     * after the execution shows SUCCEEDED. */
    IT_WAIT_UNTIL(
        (json_decref(lin), lin = NULL, it_http(it.api, "GET", path, NULL, 0, &lin) == 200), 20000,
        "the consumer's lineage to be recorded");
    char *text = json_dumps(lin, JSON_COMPACT);
    bool linked = strstr(text, id1) != NULL;
    printf("# chain: %s -> chain_x -> %s; lineage links them: %s\n", id1, id2,
           linked ? "yes" : "no");
    free(text);
    json_decref(lin);
    free(id2);
    activate("on_x", "1", false);
    assert_true(linked);
}

/* Retention (launchplan.retention, 7 days; pruned every second here): done firings,
 * consumed trigger events and sent dataset events older than that are deleted; pending
 * firings, launched ones not yet published, events awaiting a partner and anything recent
 * are kept. The rows are written straight into PostgreSQL with old timestamps. */
static void
test_retention(void **state)
{
    (void)state;
    use_live_api();
    const char *old = "now() - interval '8 days'";
    char sql[1024];
    static const struct {
        const char *key, *st;
        bool published, recent;
    } firings[] = {
        {"skipped-old", "SKIPPED", false, false},   {"launched-old", "LAUNCHED", true, false},
        {"pending-old", "PENDING", false, false},   {"unpublished-old", "LAUNCHED", false, false},
        {"skipped-recent", "SKIPPED", false, true},
    };
    for (size_t i = 0; i < sizeof(firings) / sizeof(firings[0]); i++) {
        snprintf(
            sql, sizeof(sql),
            "INSERT INTO lp_firings (project, domain, name, kind, fire_key, state, published,"
            " created_at) VALUES ($1, 'development', 'retained', 'trigger', '%s', '%s', %s, %s)",
            firings[i].key, firings[i].st, firings[i].published ? "true" : "false",
            firings[i].recent ? "now()" : old);
        sql_exec(sql);
    }
    snprintf(
        sql, sizeof(sql),
        "INSERT INTO trigger_events (project, domain, name, dataset, partition_key, event_id,"
        " received_at, firing_id) VALUES ($1, 'development', 'retained', 'ds', 'p', 'consumed',"
        " %s, 1), ($1, 'development', 'retained', 'ds', 'p', 'waiting', %s, NULL)",
        old, old);
    sql_exec(sql);
    snprintf(sql, sizeof(sql),
             "INSERT INTO data_outbox (event_id, dataset, payload, execution_id, sent, created_at)"
             " VALUES ($1 || '-sent-old', 'ds', '', NULL, true, %s), ($1 || '-sent-recent', 'ds',"
             " '', NULL, true, now())",
             old);
    sql_exec(sql);
    /* Gone within a few prune runs; the rest stays. */
    int64_t end = floe_mono_us() / 1000 + 15000;
    const char *left_firings = "SELECT count(*) FROM lp_firings WHERE project = $1 AND name = "
                               "'retained'";
    const char *left_events = "SELECT count(*) FROM trigger_events WHERE project = $1 AND name = "
                              "'retained'";
    const char *left_outbox = "SELECT count(*) FROM data_outbox WHERE event_id LIKE $1 || '-%%'";
    while (sql_int(left_firings) > 3 || sql_int(left_events) > 1 || sql_int(left_outbox) > 1) {
        if (floe_mono_us() / 1000 > end)
            fail_msg("retention: after 15 s %lld firings (want 3), %lld trigger events (want 1), "
                     "%lld outbox rows (want 1) left",
                     sql_int(left_firings), sql_int(left_events), sql_int(left_outbox));
        usleep(100 * 1000);
    }
    assert_int_equal(sql_int("SELECT count(*) FROM lp_firings WHERE project = $1 AND name = "
                             "'retained' AND fire_key IN ('pending-old', 'unpublished-old', "
                             "'skipped-recent')"),
                     3);
    assert_int_equal(sql_int("SELECT count(*) FROM trigger_events WHERE project = $1 AND name = "
                             "'retained' AND event_id = 'waiting'"),
                     1);
    assert_int_equal(sql_int("SELECT count(*) FROM data_outbox WHERE event_id = $1 || "
                             "'-sent-recent'"),
                     1);
    long long pruned = it_metric(it.api, "floe_launchplan_pruned_total");
    printf("# retention: 4 old rows deleted, 5 kept; floe_launchplan_pruned_total %lld\n", pruned);
    sql_exec("DELETE FROM lp_firings WHERE project = $1 AND name = 'retained'");
    sql_exec("DELETE FROM trigger_events WHERE project = $1 AND name = 'retained'");
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FLOE_SCHEDULER FLOE_WORKER\n", argv[0]);
        return 2;
    }
    sched_bin = argv[1];
    worker_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_on_time_and_failover),
        cmocka_unit_test(test_idle_plan_writes_nothing),
        cmocka_unit_test(test_catch_up),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_trigger_and_dedup),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_requests_together),
        cmocka_unit_test(test_retention),
    };
    if (getenv("IT_FILTER") != NULL)
        cmocka_set_test_filter(getenv("IT_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
