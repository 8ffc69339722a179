/*
 * The registry and launch API through real HTTP, PostgreSQL and Kafka: a floe-scheduler
 * is started for the test (argv[1]) on its own port. Covers register/get/list, immutable
 * versions, every golden compile error, launch input errors (nothing recorded), a launch
 * recorded in PostgreSQL and started by this (leading) replica's engine, launch-plan activation,
 * pagination, and hostile names and values.
 */
#include "floe_bus.h"
#include "floe_httpc.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "it_exec.h"
#include "it_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define API "http://127.0.0.1:18781"
#define API_PORT 18781

static const char *scheduler_bin;
static int scheduler_pid;
static char project[32];
static int launched = 2; /* launches accepted before test_health_and_metrics counts them */
static floe_config *cfg;

static const char *const tasks_yaml =
    "kind: task\nname: hello\nversion: v1\ncontainer: {command: [/bin/echo, hi]}\n"
    "inputs: {who: string, times: {type: integer, default: 1}, sizes: \"list<integer>\"}\n"
    "outputs: {greeting: string}\n"
    "---\n"
    "kind: workflow\nname: greet\nversion: v1\n"
    "inputs: {who: string, sizes: \"list<integer>\"}\n"
    "outputs: {greeting: {from: {node: h, output: greeting}}}\n"
    "nodes:\n  - {id: h, task: hello, inputs: {who: {input: who}, sizes: {input: sizes}}}\n"
    "---\n"
    "kind: launchplan\nname: greet_daily\nversion: v1\nworkflow: greet@v1\n"
    "fixed_inputs: {sizes: [1, 2]}\ndefault_inputs: {who: world}\n";

static int
setup(void **state)
{
    (void)state;
    cfg = it_config("test_api", NULL, 0);
    char id[FLOE_ID_LEN + 1];
    floe_id_new(id);
    for (char *p = id; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    snprintf(project, sizeof(project), "it-%.20s", id);
    char *argv[] = {(char *)scheduler_bin, NULL};
    /* Limits as in tests/unit/test_spec.c, so the golden messages are the same. */
    char *env[] = {"FLOE_API_URL=" API,
                   "FLOE_SPEC_MAX_NESTING=32",
                   "FLOE_SPEC_MAX_DEPTH=4",
                   "FLOE_SPEC_MAX_BYTES=1MiB",
                   "FLOE_SPEC_MAX_DOCUMENTS=64",
                   "FLOE_API_MAX_CONNECTIONS=8",
                   NULL};
    scheduler_pid = it_spawn(argv, env, "test_api.scheduler.log");
    it_http_wait_ok(API, "/readyz", 60000);
    if (!it_alive(scheduler_pid))
        fail_msg("floe-scheduler exited at start (port %s in use?); see test_api.scheduler.log",
                 API);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    int status = it_stop(scheduler_pid, 15000);
    floe_config_free(cfg);
    if (status != 0)
        fail_msg("floe-scheduler did not stop cleanly on SIGTERM (status %d); see "
                 "test_api.scheduler.log",
                 status);
    return 0;
}

/* --- helpers --------------------------------------------------------------------------- */

static int
post(const char *path, const char *body, json_t **out)
{
    return it_http(API, "POST", path, body, body != NULL ? strlen(body) : 0, out);
}

static int
get(const char *path, json_t **out)
{
    return it_http(API, "GET", path, NULL, 0, out);
}

static int
reg(const char *yaml, const char *file, json_t **out)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/register?project=%s&file=%s", project, file);
    return post(path, yaml, out);
}

static const char *
jstr(json_t *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *part = strtok(buf, "."); part != NULL && j != NULL; part = strtok(NULL, "."))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(part)) : json_object_get(j, part);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static PGconn *
pg(void)
{
    PGconn *c = PQconnectdb(cfg->postgres_url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("postgres: %s", PQerrorMessage(c));
    return c;
}

static long
count_rows(const char *sql_with_project)
{
    PGconn *c = pg();
    const char *params[] = {project};
    PGresult *r = PQexecParams(c, sql_with_project, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql_with_project, PQerrorMessage(c));
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* --- registry -------------------------------------------------------------------------- */

static void
test_register_get_list(void **state)
{
    (void)state;
    json_t *out;
    assert_int_equal(reg(tasks_yaml, "greet.yaml", &out), 201);
    assert_string_equal(jstr(out, "registered.0.status"), "created");
    assert_string_equal(jstr(out, "registered.1.kind"), "workflow");
    json_decref(out);

    char path[256];
    snprintf(path, sizeof(path), "/api/v1/workflows/%s/development/greet", project);
    assert_int_equal(get(path, &out), 200);
    assert_string_equal(jstr(out, "version"), "v1");
    assert_string_equal(jstr(out, "spec.nodes.0.id"), "h");
    assert_string_equal(jstr(out, "spec.interface.inputs.0.type"), "list<integer>");
    json_decref(out);

    snprintf(path, sizeof(path), "/api/v1/tasks?project=%s", project);
    assert_int_equal(get(path, &out), 200);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
    assert_string_equal(jstr(out, "items.0.name"), "hello");
    json_decref(out);

    snprintf(path, sizeof(path), "/api/v1/workflows/%s/development/nothere", project);
    assert_int_equal(get(path, &out), 404);
    assert_string_equal(jstr(out, "code"), "not_found");
    json_decref(out);
}

static void
test_versions_are_immutable(void **state)
{
    (void)state;
    json_t *out;
    /* Same version, same content (formatting aside): a no-op. */
    char *same = NULL;
    if (asprintf(&same, "# reformatted\n%s\n", tasks_yaml) < 0)
        fail();
    assert_int_equal(reg(same, "again.yaml", &out), 200);
    assert_string_equal(jstr(out, "registered.0.status"), "unchanged");
    json_decref(out);
    free(same);

    char path[256];
    snprintf(path, sizeof(path), "/api/v1/tasks/%s/development/hello/v1", project);
    assert_int_equal(get(path, &out), 200);
    char digest[80];
    snprintf(digest, sizeof(digest), "%s", jstr(out, "digest"));
    json_decref(out);

    /* Same version, other content: a conflict that says so, and nothing changes - not even
     * the new task in the same registration. */
    const char *changed = "kind: task\nname: brand_new\nversion: v1\n"
                          "container: {command: [/bin/true]}\n---\n"
                          "kind: task\nname: hello\nversion: v1\n"
                          "container: {command: [/bin/echo, bye]}\n";
    assert_int_equal(reg(changed, "changed.yaml", &out), 409);
    assert_string_equal(jstr(out, "code"), "conflict");
    assert_non_null(strstr(jstr(out, "message"),
                           "task \"hello\" version \"v1\" is already registered with different "
                           "content"));
    json_decref(out);
    assert_int_equal(get(path, &out), 200);
    assert_string_equal(jstr(out, "digest"), digest);
    json_decref(out);
    assert_int_equal(count_rows("SELECT count(*) FROM tasks WHERE project = $1 AND name = "
                                "'brand_new'"),
                     0);
}

static void
test_pagination_and_activation(void **state)
{
    (void)state;
    json_t *out;
    for (int v = 2; v <= 4; v++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "kind: launchplan\nname: greet_daily\nversion: v%d\nworkflow: greet@v1\n"
                 "fixed_inputs: {sizes: [%d]}\n",
                 v, v);
        assert_int_equal(reg(yaml, "lp.yaml", &out), 201);
        json_decref(out);
    }
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/launchplans?project=%s&limit=2", project);
    assert_int_equal(get(path, &out), 200);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2);
    assert_string_equal(jstr(out, "items.0.version"), "v4");
    char token[32];
    snprintf(token, sizeof(token), "%s", jstr(out, "next_token"));
    json_decref(out);
    snprintf(path, sizeof(path), "/api/v1/launchplans?project=%s&limit=2&token=%s", project, token);
    assert_int_equal(get(path, &out), 200);
    assert_int_equal(json_array_size(json_object_get(out, "items")), 2);
    assert_string_equal(jstr(out, "items.0.version"), "v2");
    assert_true(json_is_null(json_object_get(out, "next_token")));
    json_decref(out);

    /* Only one active version at a time. */
    for (int v = 2; v <= 3; v++) {
        snprintf(path, sizeof(path), "/api/v1/launchplans/%s/development/greet_daily/v%d/activate",
                 project, v);
        assert_int_equal(post(path, NULL, &out), 200);
        json_decref(out);
    }
    assert_int_equal(count_rows("SELECT count(*) FROM launch_plans WHERE project = $1 AND active"),
                     1);
    assert_int_equal(count_rows("SELECT count(*) FROM launch_plans WHERE project = $1 AND active "
                                "AND version = 'v3'"),
                     1);
    snprintf(path, sizeof(path), "/api/v1/launchplans/%s/development/greet_daily/v9/activate",
             project);
    assert_int_equal(post(path, NULL, &out), 404);
    json_decref(out);
}

static void
test_golden_errors_over_http(void **state)
{
    (void)state;
    const char *dir = FLOE_SOURCE_DIR "/tests/golden/spec";
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int checked = 0;
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".yaml") != 0)
            continue;
        char path[512], yaml[65536], want[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        size_t n = fread(yaml, 1, sizeof(yaml) - 1, f);
        fclose(f);
        yaml[n] = '\0';
        snprintf(path, sizeof(path), "%s/%.*s.err", dir, (int)(nl - 5), de->d_name);
        f = fopen(path, "rb");
        assert_non_null(f);
        if (fgets(want, sizeof(want), f) == NULL)
            fail();
        fclose(f);
        want[strcspn(want, "\n")] = '\0';
        /* The golden messages were made for project "demo". */
        snprintf(path, sizeof(path), "/api/v1/register?project=demo&file=%s", de->d_name);
        json_t *out;
        int status = it_http(API, "POST", path, yaml, n, &out);
        if (status != 400 && status != 413)
            fail_msg("%s: status %d", de->d_name, status);
        if (jstr(out, "message") == NULL || strcmp(jstr(out, "message"), want) != 0)
            fail_msg("%s:\n  want: %s\n  got:  %s", de->d_name, want, jstr(out, "message"));
        json_decref(out);
        checked++;
    }
    closedir(d);
    assert_true(checked >= 20);
}

/* --- launches -------------------------------------------------------------------------- */

static void
test_launch_input_errors_record_nothing(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"{\"workflow\":\"greet\",\"inputs\":{\"sizes\":[1]}}", "input \"who\": missing"},
        {"{\"workflow\":\"greet\",\"inputs\":{\"who\":\"x\",\"sizes\":[1],\"extra\":1}}",
         "input \"extra\": unknown input"},
        {"{\"workflow\":\"greet\",\"inputs\":{\"who\":\"x\",\"sizes\":[1,\"two\"]}}",
         "input \"sizes\": item 1: expected integer, got string"},
        {"{\"launch_plan\":\"greet_daily@v1\",\"inputs\":{\"sizes\":[5]}}",
         "input \"sizes\": fixed by launch plan \"greet_daily\""},
        {"{\"workflow\":\"greet\",\"inputz\":{}}", "unknown field \"inputz\""},
        {"{\"workflow\":\"greet\"", "the body is not valid JSON"},
    };
    long before = count_rows("SELECT count(*) FROM executions WHERE project = $1");
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/executions?project=%s", project);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *out;
        int status = post(path, cases[i][0], &out);
        if (status != 400 || jstr(out, "message") == NULL ||
            strstr(jstr(out, "message"), cases[i][1]) == NULL)
            fail_msg("%s: status %d, message \"%s\"; want 400 and \"%s\"", cases[i][0], status,
                     jstr(out, "message"), cases[i][1]);
        json_decref(out);
    }
    assert_int_equal(count_rows("SELECT count(*) FROM executions WHERE project = $1"), before);
}

/* Whether execution id's row satisfies cond (SQL over executions, the row e). */
static bool
row_is(const char *id, const char *cond)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM executions e WHERE id = $1 AND (%s)", cond);
    PGconn *c = pg();
    const char *params[] = {id};
    PGresult *r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    bool yes = strcmp(PQgetvalue(r, 0, 0), "1") == 0;
    PQclear(r);
    PQfinish(c);
    return yes;
}

/* One launch of greet_daily@v1 with who: its id in id, the answer's phase checked. */
static void
launch_greet(const char *who, char id[64])
{
    char path[128], body[256];
    snprintf(path, sizeof(path), "/api/v1/executions?project=%s", project);
    json_t *w = json_string(who), *out;
    char *ws = json_dumps(w, JSON_ENCODE_ANY);
    snprintf(body, sizeof(body), "{\"launch_plan\":\"greet_daily@v1\",\"inputs\":{\"who\":%s}}",
             ws);
    free(ws);
    json_decref(w);
    assert_int_equal(post(path, body, &out), 201);
    snprintf(id, 64, "%s", jstr(out, "id"));
    /* Recorded RUNNING under the epoch of the engine leading here: the answer says so. */
    assert_string_equal(jstr(out, "phase"), "RUNNING");
    json_decref(out);
}

/* This replica is the only one, so it leads: a launch goes from its API straight to its
 * engine, nothing on floe.events (issue 25; test_engine's test_launch_paths has a
 * standby's launch go through the bus), its row recorded RUNNING under the engine's epoch
 * by the API; once the engine has the workflow's plan in memory, it starts such a launch
 * without writing the row at all. */
static void
test_launch_recorded_and_started(void **state)
{
    (void)state;
    const char *produced = "floe_bus_messages_total{bus=\"api\",dir=\"produced\"}";
    const char *requests = "floe_engine_events_total{type=\"ExecutionRequested\"}";
    const char *dispatched = "floe_engine_dispatches_total{class=\"default\"}";
    it_wait_metric(API, "floe_scheduler_is_leader", 1, 30000);
    long long p0 = it_metric(API, produced), r0 = it_metric(API, requests);
    long long d0 = it_metric(API, dispatched);
    assert_true(p0 >= 0 && r0 >= 0 && d0 >= 0);
    /* A hostile string value is stored and returned verbatim. */
    const char *hostile = "'); DROP TABLE executions; -- ../../etc \xc3\xa9";
    char id[64], path[128];
    launch_greet(hostile, id);
    snprintf(path, sizeof(path), "/api/v1/executions/%s", id);
    json_t *out;
    assert_int_equal(get(path, &out), 200);
    assert_string_equal(jstr(out, "inputs.who"), hostile);
    assert_string_equal(jstr(out, "launch_plan.version"), "v1");
    assert_int_equal(json_integer_value(json_array_get(
                         json_object_get(json_object_get(out, "inputs"), "sizes"), 1)),
                     2);
    json_decref(out);
    assert_true(row_is(id, "phase = 'RUNNING' AND epoch > 0 AND started_at IS NOT NULL"));

    /* ... and the engine started it (its node dispatched; no worker here runs it), its
     * request not produced. */
    IT_WAIT_UNTIL(it_metric(API, dispatched) >= d0 + 1, 30000, "the first node dispatched");
    assert_true(it_metric(API, requests) >= r0 + 1);

    /* The plan is in memory now: the next launch is started from the row as the API
     * recorded it, which no statement of the engine touched (updated_at as inserted). */
    char id2[64];
    launch_greet("again", id2);
    IT_WAIT_UNTIL(it_metric(API, dispatched) >= d0 + 2, 30000,
                  "the second launch's node dispatched");
    assert_true(row_is(id2, "phase = 'RUNNING' AND updated_at = created_at"));
    assert_int_equal(it_metric(API, produced), p0);
}

/* A launch naming a version reads its spec once per API thread, then from memory (issue
 * 25): the same name and version in two projects must stay two workflows, on every
 * thread (api.threads, 4). */
static void
test_launch_reads_the_version_it_names(void **state)
{
    (void)state;
    char other[40], path[160], body[256];
    snprintf(other, sizeof(other), "%s-b", project);
    const char *yaml[2] = {
        "kind: task\nname: twin_t\nversion: v1\ncontainer: {command: [/bin/true]}\n"
        "inputs: {a: integer}\n---\nkind: workflow\nname: twin\nversion: v1\n"
        "inputs: {a: integer}\nnodes:\n  - {id: t, task: twin_t, inputs: {a: {input: a}}}\n",
        "kind: task\nname: twin_t\nversion: v1\ncontainer: {command: [/bin/true]}\n"
        "inputs: {b: string}\n---\nkind: workflow\nname: twin\nversion: v1\n"
        "inputs: {b: string}\nnodes:\n  - {id: t, task: twin_t, inputs: {b: {input: b}}}\n"};
    const char *in[2] = {"{\"a\": 1}", "{\"b\": \"x\"}"};
    const char *projects[2] = {project, other};
    json_t *out;
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof(path), "/api/v1/register?project=%s&file=twin.yaml", projects[k]);
        assert_int_equal(post(path, yaml[k], &out), 201);
        json_decref(out);
    }
    for (int round = 0; round < 8; round++)
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof(path), "/api/v1/executions?project=%s", projects[k]);
            /* its own inputs, the other project's, its own: three a turn, so the turns of
             * both projects go round the threads whichever way the pool hands them out */
            for (int w = 0; w < 3; w++) {
                snprintf(body, sizeof(body), "{\"workflow\": \"twin@v1\", \"inputs\": %s}",
                         in[(k + w) % 2]);
                int status = post(path, body, &out);
                launched += status == 201;
                if (status != (w != 1 ? 201 : 400))
                    fail_msg("round %d, %s, inputs %s: %d (%s)", round, projects[k],
                             in[(k + w) % 2], status, jstr(out, "message"));
                json_decref(out);
            }
        }
}

/* --- hostile input --------------------------------------------------------------------- */

static void
test_hostile_names_and_values(void **state)
{
    (void)state;
    static const char *const bad_paths[] = {
        "/api/v1/workflows/demo/development/a'%3B%20DROP%20TABLE%20workflows%3B--",
        "/api/v1/workflows/demo/development/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/workflows/demo/development/a%00b",
        "/api/v1/workflows/demo/development/%FF%FE",
        "/api/v1/workflows/DEMO'--/development/x",
        "/api/v1/workflows/demo/production'/x",
        "/api/v1/executions/..%2F..",
        "/api/v1/tasks?project=demo&name=x%00y",
        "/api/v1/tasks?project=demo&limit=-1",
        "/api/v1/tasks?project=demo&token=1%20OR%201=1",
    };
    for (size_t i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
        json_t *out;
        int status = get(bad_paths[i], &out);
        if (status != 400)
            fail_msg("GET %s: status %d, want 400", bad_paths[i], status);
        assert_string_equal(jstr(out, "code"), "invalid_argument");
        json_decref(out);
    }
    /* A very long name. */
    char *longpath = malloc(20000);
    int n = snprintf(longpath, 20000, "/api/v1/workflows/demo/development/");
    memset(longpath + n, 'a', 10000);
    longpath[n + 10000] = '\0';
    json_t *out;
    int status = get(longpath, &out);
    assert_true(status == 400 || status == 413);
    json_decref(out);
    free(longpath);

    /* Invalid UTF-8 in a spec and in a launch body. */
    assert_int_equal(reg("kind: task\nname: \"\xff\"\nversion: v1\n", "bad.yaml", &out), 400);
    json_decref(out);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/executions?project=%s", project);
    assert_int_equal(post(path, "{\"workflow\":\"greet\",\"inputs\":{\"who\":\"\xc3\x28\"}}", &out),
                     400);
    json_decref(out);
    /* A body over the limit is refused by the server before anything reads it. */
    size_t big = 9u << 20;
    char *body = malloc(big);
    memset(body, '#', big);
    floe_http_resp resp;
    floe_err err;
    floe_rc rc = floe_httpc_request(API, "POST", "/api/v1/register?project=demo", NULL, body, big,
                                    30000, &resp, &err);
    /* Either the 413 arrives, or the server closed the connection before the client had
     * written everything: both refuse it. */
    if (rc == FLOE_OK) {
        assert_int_equal(resp.status, 413);
        floe_http_resp_deinit(&resp);
    } else {
        assert_int_equal(rc, FLOE_EIO);
    }
    free(body);
    assert_int_equal(get("/healthz", &out), 200);
    json_decref(out);
    /* The tables are all still there. */
    assert_true(count_rows("SELECT count(*) FROM workflows WHERE project = $1") >= 1);
    assert_true(count_rows("SELECT count(*) FROM executions WHERE project = $1") >= 1);
}

/* Review H10: every route took bodies of up to 8 MiB into memory before looking at them.
 * Only register (specs) may send more than 1 MiB; a 2 MiB launch is refused as too large
 * and records nothing. */
static void
test_h10_body_bounded_per_route(void **state)
{
    (void)state;
    long long before = count_rows("SELECT count(*) FROM executions WHERE project = $1");
    size_t big = 2u << 20;
    char *body = malloc(big + 1);
    assert_non_null(body);
    int n = snprintf(body, big, "{\"workflow\": \"greet\", \"inputs\": {\"who\": \"");
    memset(body + n, 'a', big - (size_t)n - 4);
    memcpy(body + big - 4, "\"}}", 4);
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/executions?project=%s", project);
    json_t *out = NULL;
    int status = it_http(API, "POST", path, body, big, &out);
    assert_int_equal(status, 413);
    assert_non_null(strstr(jstr(out, "message"), "longer than 1048576 bytes"));
    json_decref(out);
    free(body);
    assert_int_equal(count_rows("SELECT count(*) FROM executions WHERE project = $1"), before);
}

/* Review H10: connections were not capped, and the engine shares the process's
 * descriptors. At api.max_connections (8 here) the API stops accepting: a 9th client waits
 * in the backlog, unanswered, and is served once one of the 8 closes. */
static int
tcp_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(API_PORT)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        fail_msg("connect to %s: %s", API, strerror(errno));
    return fd;
}

/* One request on fd (kept open), its answer's status line checked. */
static void
healthz_on(int fd)
{
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[512];
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n > 12);
    buf[n] = '\0';
    assert_non_null(strstr(buf, " 200 "));
}

static void
test_h10_connections_capped(void **state)
{
    (void)state;
    int open_fds[8];
    /* An answered request proves its connection was accepted. */
    for (int i = 0; i < 8; i++) {
        open_fds[i] = tcp_connect();
        healthz_on(open_fds[i]);
    }
    /* The 9th: connected by the kernel (backlog), not served while the 8 stay open. */
    int extra = tcp_connect();
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(write(extra, req, strlen(req)), (ssize_t)strlen(req));
    struct pollfd pfd = {.fd = extra, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 1500), 0); /* an observation window: nothing to await */
    close(open_fds[0]);
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    char buf[512];
    ssize_t n = read(extra, buf, sizeof(buf) - 1);
    assert_true(n > 12);
    buf[n] = '\0';
    assert_non_null(strstr(buf, " 200 "));
    close(extra);
    for (int i = 1; i < 8; i++)
        close(open_fds[i]);
    json_t *out;
    assert_int_equal(get("/healthz", &out), 200);
    json_decref(out);
    assert_true(it_metric(API, "floe_api_accept_paused_total") >= 1);
}

static void
test_health_and_metrics(void **state)
{
    (void)state;
    json_t *out;
    assert_int_equal(get("/healthz", &out), 200);
    json_decref(out);
    assert_int_equal(get("/readyz", &out), 200);
    assert_string_equal(jstr(out, "checks.postgres"), "ok");
    assert_string_equal(jstr(out, "checks.kafka"), "ok");
    assert_string_equal(jstr(out, "checks.redis"), "ok");
    json_decref(out);
    floe_http_resp resp;
    floe_err err;
    assert_int_equal(floe_httpc_request(API, "GET", "/metrics", NULL, NULL, 0, 5000, &resp, &err),
                     FLOE_OK);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(resp.body, "# TYPE floe_api_requests_total counter"));
    assert_non_null(strstr(resp.body, "floe_api_requests_total{route=\"launch\",code=\"201\"}"));
    char want[64];
    snprintf(want, sizeof(want), "floe_executions_launched_total %d\n", launched);
    assert_non_null(strstr(resp.body, want));
    floe_http_resp_deinit(&resp);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_api PATH-TO-floe-scheduler\n");
        return 2;
    }
    scheduler_bin = argv[1];
    signal(SIGPIPE, SIG_IGN); /* the server may close on an oversized body mid-write */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_get_list),
        cmocka_unit_test(test_versions_are_immutable),
        cmocka_unit_test(test_pagination_and_activation),
        cmocka_unit_test(test_golden_errors_over_http),
        cmocka_unit_test(test_launch_input_errors_record_nothing),
        cmocka_unit_test(test_launch_recorded_and_started),
        cmocka_unit_test(test_launch_reads_the_version_it_names),
        cmocka_unit_test(test_hostile_names_and_values),
        cmocka_unit_test(test_h10_body_bounded_per_route),
        cmocka_unit_test(test_h10_connections_capped),
        cmocka_unit_test(test_health_and_metrics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
