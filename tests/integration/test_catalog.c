/*
 * The catalog against the real stack (a floe-scheduler, argv[1], and a floe-worker,
 * argv[2], running real process tasks): memoization (a second identical run entirely
 * CACHED with no attempt; a changed input re-runs exactly its downstream; cache.version,
 * the interface, --no-cache, --overwrite-cache, expiry), coalescing of identical work
 * launched at once, recover and relaunch, and lineage queries through the API.
 */
#include "floe_time.h"
#include "it_exec.h"
#include "it_fleet.h"
#include "it_util.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define API "http://127.0.0.1:18786"
#define W1 "127.0.0.1:18794"
#define ATTEMPTS "floe_worker_attempts_total{executor=\"process\",result=\"succeeded\"}"

static const char *sched_bin, *worker_bin;
static floe_config *cfg;
static char workdir[512];

static it_fleet fleet;
static char *const sched_env[] = {"FLOE_ATTEMPT_LEASE=2s", "FLOE_CACHE_RECHECK=500ms", NULL};

/* --- helpers ---------------------------------------------------------------------------- */

/* Phase of every node of exec, "a=CACHED b=SUCCEEDED ..." in node order (malloc'd). */
static char *
node_phases(const char *exec)
{
    return it_sql_text("SELECT string_agg(node_id || '=' || phase, ' ' ORDER BY node_id) FROM "
                       "node_executions WHERE execution_id = $1",
                       exec, NULL);
}

static void
expect_nodes(const char *exec, const char *want)
{
    char *got = node_phases(exec);
    printf("# %s: %s\n", exec, got);
    if (strcmp(got, want) != 0)
        fail_msg("execution %s: nodes %s, expected %s", exec, got, want);
    free(got);
}

static long long
attempts_of(const char *exec)
{
    return it_sql_int("SELECT count(*) FROM node_attempts WHERE execution_id = $1", exec, NULL);
}

static json_t *
run(const char *wf, const char *inputs, const char *options, const char *phase, char id[64])
{
    it_launch_opts(wf, inputs, options, id);
    json_t *ex = it_wait_exec(id, 60000);
    it_expect_phase(ex, phase);
    return ex;
}

static void
expect_same_outputs(json_t *a, json_t *b)
{
    if (!json_equal(json_object_get(a, "outputs"), json_object_get(b, "outputs"))) {
        char *x = json_dumps(json_object_get(a, "outputs"), JSON_SORT_KEYS);
        char *y = json_dumps(json_object_get(b, "outputs"), JSON_SORT_KEYS);
        fail_msg("outputs differ: %s vs %s", x, y);
    }
}

/* A task: the command is a /bin/sh script; cache settings as YAML flow text. */
static void
task_yaml(char *buf, size_t size, const char *name, const char *version, const char *script,
          const char *inputs, const char *outputs, const char *cache)
{
    snprintf(buf, size,
             "kind: task\nname: %s\nversion: \"%s\"\nexecutor: process\n"
             "container: {command: [/bin/sh, -c, '%s']}\n"
             "inputs: %s\noutputs: %s\ncache: %s\n---\n",
             name, version, script, inputs, outputs, cache);
}

/* --- setup ------------------------------------------------------------------------------ */

static int
setup(void **state)
{
    (void)state;
    it_fleet_init(&fleet, "test_catalog", "cat", sched_bin, worker_bin, API);
    cfg = fleet.cfg;
    snprintf(workdir, sizeof(workdir), "%s/catalog-%s", getenv("FLOE_STATE_DIR"), it.project);
    mkdir(workdir, 0700);
    it_fleet_scheduler(&fleet, "scheduler", API, sched_env, true);
    it_fleet_worker(&fleet, "w1", W1, NULL);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    it_fleet_down(&fleet);
    return 0;
}

/* --- memoization ------------------------------------------------------------------------ */

/* a(n) -> b(a) -> c(b, label); a blob passes from a to b. */
static void
register_abc(const char *b_cache_version, const char *a_extra_input)
{
    char yaml[8192], t[2048];
    size_t len = 0;
    char a_inputs[128];
    snprintf(a_inputs, sizeof(a_inputs), "{n: integer%s}", a_extra_input);
    task_yaml(t, sizeof(t), "gen", a_extra_input[0] ? "2" : "1",
              "seq 1 $(cat $FLOE_INPUTS/n) > $FLOE_OUTPUTS/nums", a_inputs, "{nums: blob}",
              "{version: \"1\"}");
    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%s", t);
    char bc[64];
    snprintf(bc, sizeof(bc), "{version: \"%s\"}", b_cache_version);
    task_yaml(t, sizeof(t), "total", b_cache_version,
              "awk \"{s+=\\$1} END {print s}\" $FLOE_INPUTS/nums > $FLOE_OUTPUTS/sum",
              "{nums: blob}", "{sum: integer}", bc);
    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%s", t);
    task_yaml(t, sizeof(t), "say", "1",
              "echo \"$(cat $FLOE_INPUTS/label) $(cat $FLOE_INPUTS/sum)\" > $FLOE_OUTPUTS/line",
              "{sum: integer, label: string}", "{line: string}", "true");
    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%s", t);
    snprintf(
        yaml + len, sizeof(yaml) - len,
        "kind: workflow\nname: abc\nversion: \"%s%s\"\n"
        "inputs: {n: integer, label: string}\n"
        "outputs: {line: {from: {node: c, output: line}}, sum: {from: {node: b, output: sum}}}\n"
        "nodes:\n"
        "  - {id: a, task: gen, inputs: {n: {input: n}}}\n"
        "  - {id: b, task: total, inputs: {nums: {node: a, output: nums}}}\n"
        "  - {id: c, task: say, inputs: {sum: {node: b, output: sum}, "
        "label: {input: label}}}\n",
        b_cache_version, a_extra_input[0] ? "x" : "");
    it_register(yaml);
}

static void
test_second_run_cached(void **state)
{
    (void)state;
    register_abc("1", "");
    char id1[64], id2[64], id3[64];
    json_t *e1 = run("abc", "{\"n\": 10, \"label\": \"ten\"}", NULL, "SUCCEEDED", id1);
    expect_nodes(id1, "a=SUCCEEDED b=SUCCEEDED c=SUCCEEDED");
    assert_int_equal(it_output_int(e1, "sum"), 55);
    long long ran = it_metric("http://" W1, ATTEMPTS);
    json_t *e2 = run("abc", "{\"n\": 10, \"label\": \"ten\"}", NULL, "SUCCEEDED", id2);
    expect_nodes(id2, "a=CACHED b=CACHED c=CACHED");
    assert_int_equal(attempts_of(id2), 0);
    assert_int_equal(it_metric("http://" W1, ATTEMPTS), ran); /* no worker ran anything */
    expect_same_outputs(e1, e2);
    /* A changed input re-runs exactly the nodes downstream of it. */
    json_t *e3 = run("abc", "{\"n\": 10, \"label\": \"TEN\"}", NULL, "SUCCEEDED", id3);
    expect_nodes(id3, "a=CACHED b=CACHED c=SUCCEEDED");
    assert_int_equal(attempts_of(id3), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e3, "outputs"), "line")),
                        "TEN 55");
    json_decref(e1);
    json_decref(e2);
    json_decref(e3);
}

/* Removes a blob from whichever store this run uses: as a bucket's lifecycle rule or a
 * move to another store would (S3: a signed DELETE, the empty payload's digest). */
static void
blob_remove(const char *uri)
{
    const char *hex = strrchr(uri, '/');
    assert_non_null(hex);
    hex++;
    const char *backend = getenv("FLOE_BLOB_BACKEND");
    if (backend != NULL && strcmp(backend, "s3") == 0) {
        char cmd[1024];
        snprintf(cmd, sizeof(cmd),
                 "curl -sf -X DELETE --aws-sigv4 aws:amz:us-east-1:s3 --user '%s:%s' "
                 "-H 'x-amz-content-sha256: "
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' "
                 "'%s/%s/%ssha256/%s'",
                 getenv("FLOE_BLOB_S3_ACCESS_KEY_ID"), getenv("FLOE_BLOB_S3_SECRET_ACCESS_KEY"),
                 getenv("FLOE_BLOB_S3_ENDPOINT"), getenv("FLOE_BLOB_S3_BUCKET"),
                 getenv("FLOE_BLOB_S3_PREFIX") != NULL ? getenv("FLOE_BLOB_S3_PREFIX") : "", hex);
        assert_int_equal(system(cmd), 0);
    } else {
        char path[1024];
        snprintf(path, sizeof(path), "%s/sha256/%.2s/%s", getenv("FLOE_BLOB_ROOT"), hex, hex);
        assert_int_equal(unlink(path), 0);
    }
}

/* The uri of a blob output of a node, from the API. Owned by the caller. */
static char *
node_blob_uri(const char *exec, const char *node, const char *output)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/executions/%s/nodes", exec);
    json_t *j = NULL;
    assert_int_equal(it_http(API, "GET", path, NULL, 0, &j), 200);
    char *uri = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "items"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "id")), node) == 0) {
            const char *u = json_string_value(
                json_object_get(json_object_get(json_object_get(v, "outputs"), output), "uri"));
            if (u != NULL)
                uri = strdup(u);
        }
    }
    json_decref(j);
    if (uri == NULL)
        fail_msg("node %s of %s has no blob output %s", node, exec, output);
    return uri;
}

/* A cache entry whose blob output is gone from the store (a lifecycle rule expired it,
 * the installation moved to another store) is no hit: the entry is dropped and the node
 * runs again, making the blob anew; what does not read the blob stays cached. */
static void
test_stale_blob_not_a_hit(void **state)
{
    (void)state;
    register_abc("1", "");
    char id1[64], id2[64];
    json_t *e1 = run("abc", "{\"n\": 7919, \"label\": \"stale\"}", NULL, "SUCCEEDED", id1);
    char *uri = node_blob_uri(id1, "a", "nums");
    assert_non_null(strstr(uri, "floe://blobs/sha256/"));
    blob_remove(uri);
    long long stale = it_metric(API, "floe_engine_cache_total{result=\"stale\"}");
    json_t *e2 = run("abc", "{\"n\": 7919, \"label\": \"stale\"}", NULL, "SUCCEEDED", id2);
    expect_nodes(id2, "a=SUCCEEDED b=CACHED c=CACHED");
    assert_int_equal(it_metric(API, "floe_engine_cache_total{result=\"stale\"}"), stale + 1);
    expect_same_outputs(e1, e2);
    char *again = node_blob_uri(id2, "a", "nums");
    assert_string_equal(again, uri); /* the same content: the same blob, stored again */
    free(again);
    free(uri);
    json_decref(e1);
    json_decref(e2);
}

static void
test_invalidation_and_options(void **state)
{
    (void)state;
    char id[64];
    /* Warm: n=20 (test_second_run_cached used n=10). */
    json_decref(run("abc", "{\"n\": 20, \"label\": \"x\"}", NULL, "SUCCEEDED", id));
    json_decref(run("abc", "{\"n\": 20, \"label\": \"x\"}", NULL, "SUCCEEDED", id));
    expect_nodes(id, "a=CACHED b=CACHED c=CACHED");
    /* --no-cache: everything runs; the existing entries are kept. */
    json_decref(run("abc", "{\"n\": 20, \"label\": \"x\"}", "\"no_cache\": true", "SUCCEEDED", id));
    expect_nodes(id, "a=SUCCEEDED b=SUCCEEDED c=SUCCEEDED");
    /* --overwrite-cache: runs and replaces the entries (their producer is now this run). */
    json_decref(
        run("abc", "{\"n\": 20, \"label\": \"x\"}", "\"overwrite_cache\": true", "SUCCEEDED", id));
    expect_nodes(id, "a=SUCCEEDED b=SUCCEEDED c=SUCCEEDED");
    assert_int_equal(it_sql_int("SELECT count(*) FROM catalog WHERE execution_id = $1", id, NULL),
                     3);
    /* Bumping total's cache.version: b runs again; a stays cached, and c too since b's
     * output is the same value. */
    register_abc("2", "");
    json_decref(run("abc", "{\"n\": 20, \"label\": \"x\"}", NULL, "SUCCEEDED", id));
    expect_nodes(id, "a=CACHED b=SUCCEEDED c=CACHED");
    /* A changed interface (gen gains an input with a default): a runs again. */
    register_abc("2", ", pad: {type: integer, default: 0}");
    json_decref(run("abc", "{\"n\": 20, \"label\": \"x\"}", NULL, "SUCCEEDED", id));
    expect_nodes(id, "a=SUCCEEDED b=CACHED c=CACHED");
    /* An expired entry is not used (and is replaced by the new result). */
    assert_int_equal(it_sql_int("WITH u AS (UPDATE catalog SET expires_at = now() - interval "
                                "'1 second' WHERE execution_id = $1 RETURNING 1) "
                                "SELECT count(*) FROM u",
                                id, NULL),
                     1);
    char id2[64];
    json_decref(run("abc", "{\"n\": 20, \"label\": \"x\"}", NULL, "SUCCEEDED", id2));
    expect_nodes(id2, "a=SUCCEEDED b=CACHED c=CACHED");
    assert_int_equal(it_sql_int("SELECT count(*) FROM catalog WHERE execution_id = $1 AND "
                                "expires_at IS NULL",
                                id2, NULL),
                     1);
}

/* Review M6: the cache key left out what runs, so a new version of a task with other code
 * (same interface, same cache.version) read the old version's results. */
static void
register_digit(const char *version, const char *digit)
{
    char yaml[2048], t[1024], script[64];
    snprintf(script, sizeof(script), "echo %s > $FLOE_OUTPUTS/d", digit);
    task_yaml(t, sizeof(t), "digit", version, script, "{}", "{d: integer}", "true");
    snprintf(yaml, sizeof(yaml),
             "%skind: workflow\nname: digit\nversion: \"%s\"\n"
             "outputs: {d: {from: {node: x, output: d}}}\nnodes:\n  - {id: x, task: digit}\n",
             t, version);
    it_register(yaml);
}

static void
test_m6_new_code_new_cache(void **state)
{
    (void)state;
    char id[64];
    register_digit("1", "1");
    json_decref(run("digit", "{}", NULL, "SUCCEEDED", id));
    json_t *ex = run("digit", "{}", NULL, "SUCCEEDED", id);
    expect_nodes(id, "x=CACHED");
    assert_int_equal(it_output_int(ex, "d"), 1);
    json_decref(ex);
    register_digit("2", "2");
    ex = run("digit", "{}", NULL, "SUCCEEDED", id);
    expect_nodes(id, "x=SUCCEEDED");
    assert_int_equal(it_output_int(ex, "d"), 2);
    json_decref(ex);
}

/* Ten identical executions launched at once: each cacheable task runs once. */
static void
test_identical_launches_coalesce(void **state)
{
    (void)state;
    char yaml[4096], t[2048];
    task_yaml(t, sizeof(t), "slowsq", "1",
              "sleep 0.3; echo $(( $(cat $FLOE_INPUTS/x) * $(cat $FLOE_INPUTS/x) )) > "
              "$FLOE_OUTPUTS/y",
              "{x: integer}", "{y: integer}", "true");
    snprintf(yaml, sizeof(yaml),
             "%skind: workflow\nname: squares\nversion: \"1\"\ninputs: {x: integer}\n"
             "outputs: {y: {from: {node: s2, output: y}}}\n"
             "nodes:\n  - {id: s1, task: slowsq, inputs: {x: {input: x}}}\n"
             "  - {id: s2, task: slowsq, inputs: {x: {node: s1, output: y}}}\n",
             t);
    it_register(yaml);
    char ids[10][64];
    for (int i = 0; i < 10; i++)
        it_launch("squares", "{\"x\": 3}", ids[i]);
    long long runs = 0;
    for (int i = 0; i < 10; i++) {
        json_t *ex = it_wait_exec(ids[i], 60000);
        it_expect_phase(ex, "SUCCEEDED");
        assert_int_equal(it_output_int(ex, "y"), 81);
        json_decref(ex);
        runs += attempts_of(ids[i]);
    }
    long long cached = 0;
    for (int i = 0; i < 10; i++)
        cached += it_sql_int("SELECT count(*) FROM node_executions WHERE execution_id = $1 "
                             "AND phase = 'CACHED'",
                             ids[i], NULL);
    printf("# 10 identical launches: %lld attempts ran, %lld nodes CACHED\n", runs, cached);
    assert_int_equal(runs, 2);
    assert_int_equal(cached, 18);
}

/* --- cache entries through the API ------------------------------------------------------ */

static void
test_cache_list_and_delete(void **state)
{
    (void)state;
    char path[256], id[64];
    register_abc("1", ""); /* unchanged when an earlier test registered it */
    json_decref(run("abc", "{\"n\": 30, \"label\": \"y\"}", NULL, "SUCCEEDED", id));
    snprintf(path, sizeof(path), "/api/v1/cache?project=%s&domain=development&task=say",
             it.project);
    json_t *out = NULL;
    assert_int_equal(it_http(API, "GET", path, NULL, 0, &out), 200);
    json_t *items = json_object_get(out, "items");
    assert_true(json_array_size(items) >= 1);
    json_t *first = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(first, "task"), "name")),
                        "say");
    char key[65];
    snprintf(key, sizeof(key), "%s", json_string_value(json_object_get(first, "key")));
    json_decref(out);
    /* A bad key is refused and deletes nothing. */
    snprintf(path, sizeof(path), "/api/v1/cache?project=%s&domain=development&key=x'1", it.project);
    assert_int_equal(it_http(API, "DELETE", path, NULL, 0, NULL), 400);
    snprintf(path, sizeof(path), "/api/v1/cache?project=%s&domain=development&task=say",
             it.project);
    assert_int_equal(it_http(API, "DELETE", path, NULL, 0, &out), 200);
    assert_true(json_integer_value(json_object_get(out, "deleted")) >= 1);
    json_decref(out);
    json_decref(run("abc", "{\"n\": 30, \"label\": \"y\"}", NULL, "SUCCEEDED", id));
    expect_nodes(id, "a=CACHED b=CACHED c=SUCCEEDED");
}

/* --- recover, relaunch, lineage ---------------------------------------------------------- */

/* Lineage is written after the events that carry it, asynchronously to the execution's
 * end (docs/catalog.md): a test that asks for it waits for the nodes' records first. */
static void
wait_lineage_nodes(const char *exec, long long want, int seconds)
{
    int64_t deadline = floe_mono_us() + (int64_t)seconds * 1000000;
    long long have;
    while ((have = it_sql_int("SELECT count(*) FROM lineage_nodes WHERE execution_id = $1", exec,
                              NULL)) < want) {
        if (floe_mono_us() > deadline)
            fail_msg("lineage of %s: %lld of %lld node records after %d s", exec, have, want,
                     seconds);
        usleep(20000);
    }
}

static json_t *
lineage(const char *query)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/lineage?%s", query);
    json_t *out = NULL;
    int st = it_http(API, "GET", path, NULL, 0, &out);
    if (st != 200)
        fail_msg("lineage %s: HTTP %d", query, st);
    return out;
}

/* Whether the lineage answer holds a vertex with these fields. */
static bool
has_vertex(json_t *g, const char *kind, const char *exec, const char *node, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(g, "nodes"), i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (strcmp(json_string_value(json_object_get(v, "kind")), kind) == 0 &&
            strcmp(json_string_value(json_object_get(v, "execution")), exec) == 0 &&
            strcmp(json_string_value(json_object_get(v, "node")), node) == 0 &&
            (name == NULL || (n != NULL && strcmp(n, name) == 0)))
            return true;
    }
    return false;
}

static void
test_recover_and_relaunch(void **state)
{
    (void)state;
    char yaml[8192], t[2048], flag[600];
    size_t len = 0;
    snprintf(flag, sizeof(flag), "%s/fixed", workdir);
    task_yaml(t, sizeof(t), "mk", "1", "seq 1 $(cat $FLOE_INPUTS/n) > $FLOE_OUTPUTS/nums",
              "{n: integer}", "{nums: blob}", "false");
    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%s", t);
    task_yaml(t, sizeof(t), "add", "1",
              "awk \"{s+=\\$1} END {print s}\" $FLOE_INPUTS/nums > $FLOE_OUTPUTS/sum",
              "{nums: blob}", "{sum: integer}", "false");
    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%s", t);
    task_yaml(t, sizeof(t), "publish", "1",
              "test -f \"$(cat $FLOE_INPUTS/flag)\" || { echo the fix is missing >&2; exit 3; }; "
              "echo total $(cat $FLOE_INPUTS/sum) > $FLOE_OUTPUTS/line",
              "{sum: integer, flag: string}", "{line: string}", "false");
    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "%s", t);
    snprintf(yaml + len, sizeof(yaml) - len,
             "kind: workflow\nname: fragile\nversion: \"1\"\n"
             "inputs: {n: integer, flag: string}\n"
             "outputs: {line: {from: {node: c, output: line}}}\n"
             "nodes:\n"
             "  - {id: a, task: mk, inputs: {n: {input: n}}}\n"
             "  - {id: b, task: add, inputs: {nums: {node: a, output: nums}}}\n"
             "  - {id: c, task: publish, inputs: {sum: {node: b, output: sum}, "
             "flag: {input: flag}}}\n");
    it_register(yaml);
    char id1[64], inputs[800];
    snprintf(inputs, sizeof(inputs), "{\"n\": 4, \"flag\": \"%s\"}", flag);
    json_decref(run("fragile", inputs, NULL, "FAILED", id1));
    expect_nodes(id1, "a=SUCCEEDED b=SUCCEEDED c=FAILED");
    /* Recovering a running execution is refused; this one ended. The fault is fixed. */
    FILE *f = fopen(flag, "w");
    assert_non_null(f);
    fclose(f);
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/executions/%s/recover", id1);
    json_t *out = NULL;
    assert_int_equal(it_http(API, "POST", path, "{}", 2, &out), 201);
    char id2[64];
    snprintf(id2, sizeof(id2), "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    json_t *ex = it_wait_exec(id2, 60000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ex, "outputs"), "line")),
                        "total 10");
    json_decref(ex);
    expect_nodes(id2, "a=RECOVERED b=RECOVERED c=SUCCEEDED");
    assert_int_equal(attempts_of(id2), 1); /* only c ran */
    char *src = it_sql_text("SELECT source_execution || ' ' || recover FROM executions WHERE "
                            "id = $1",
                            id2, NULL);
    char want[100];
    snprintf(want, sizeof(want), "%s true", id1);
    assert_string_equal(src, want);
    free(src);
    /* Lineage of the recovered output reaches the original inputs through both runs. */
    wait_lineage_nodes(id1, 2, 30); /* a and b: c failed, with nothing to record */
    wait_lineage_nodes(id2, 3, 30); /* a and b recorded as RECOVERED */
    char q[256];
    snprintf(q, sizeof(q), "execution=%s&node=c&output=line&direction=upstream&depth=20", id2);
    json_t *g = lineage(q);
    assert_true(has_vertex(g, "node", id2, "c", NULL));
    assert_true(has_vertex(g, "artifact", id2, "b", "sum")); /* taken over ... */
    assert_true(has_vertex(g, "artifact", id1, "b", "sum")); /* ... from the original */
    assert_true(has_vertex(g, "node", id1, "a", NULL));
    assert_true(has_vertex(g, "artifact", id1, "", "n"));    /* the original input */
    assert_true(has_vertex(g, "artifact", id2, "", "flag")); /* and the new run's */
    printf("# lineage upstream of %s/c/line: %zu vertices, %zu edges\n", id2,
           json_array_size(json_object_get(g, "nodes")),
           json_array_size(json_object_get(g, "edges")));
    json_decref(g);
    /* Downstream of the original input n reaches the recovered run's output. */
    snprintf(q, sizeof(q), "execution=%s&direction=downstream&depth=30", id1);
    g = lineage(q);
    assert_true(has_vertex(g, "artifact", id2, "c", "line"));
    json_decref(g);
    /* Bad queries are refused. */
    assert_int_equal(it_http(API, "GET", "/api/v1/lineage?artifact=0", NULL, 0, NULL), 400);
    assert_int_equal(
        it_http(API, "GET", "/api/v1/lineage?execution=x&direction=sideways", NULL, 0, NULL), 400);
    /* Relaunch: the same version and inputs, everything runs again. */
    snprintf(path, sizeof(path), "/api/v1/executions/%s/relaunch", id1);
    assert_int_equal(it_http(API, "POST", path, NULL, 0, &out), 201);
    char id3[64];
    snprintf(id3, sizeof(id3), "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    json_decref(it_wait_exec(id3, 60000));
    expect_nodes(id3, "a=SUCCEEDED b=SUCCEEDED c=SUCCEEDED");
    src = it_sql_text("SELECT source_execution || ' ' || recover FROM executions WHERE id = $1",
                      id3, NULL);
    snprintf(want, sizeof(want), "%s false", id1);
    assert_string_equal(src, want);
    free(src);
}

/* A 1,000-node execution (one source, 998 readers of its output, one more after the last
 * reader): the lineage queries' cost, printed (not asserted: bench/ measures). */
static void
test_lineage_thousand_nodes(void **state)
{
    (void)state;
    size_t cap = 200000, len = 0;
    char *yaml = malloc(cap);
    len += (size_t)snprintf(
        yaml + len, cap - len,
        "kind: task\nname: one\nversion: \"1\"\nexecutor: process\n"
        "container: {command: [/bin/sh, -c, 'echo $(( $(cat $FLOE_INPUTS/x) + 1 )) > "
        "$FLOE_OUTPUTS/y']}\ninputs: {x: integer}\noutputs: {y: integer}\n---\n"
        "kind: workflow\nname: wide\nversion: \"1\"\ninputs: {x: integer}\n"
        "outputs: {y: {from: {node: z, output: y}}}\nnodes:\n"
        "  - {id: s, task: one, inputs: {x: {input: x}}}\n");
    for (int i = 0; i < 998; i++)
        len +=
            (size_t)snprintf(yaml + len, cap - len,
                             "  - {id: m%03d, task: one, inputs: {x: {node: s, output: y}}}\n", i);
    snprintf(yaml + len, cap - len,
             "  - {id: z, task: one, inputs: {x: {node: m997, output: y}}}\n");
    it_register(yaml);
    free(yaml);
    char id[64];
    it_launch("wide", "{\"x\": 1}", id);
    json_t *ex = it_wait_exec(id, 300000);
    it_expect_phase(ex, "SUCCEEDED");
    assert_int_equal(it_output_int(ex, "y"), 4);
    json_decref(ex);
    wait_lineage_nodes(id, 1000, 30);
    char q[256];
    snprintf(q, sizeof(q), "execution=%s&node=s&output=y&direction=downstream&depth=100", id);
    int64_t t0 = floe_mono_us();
    json_t *g = lineage(q);
    double down_ms = (double)(floe_mono_us() - t0) / 1000.0;
    size_t nv = json_array_size(json_object_get(g, "nodes"));
    assert_true(nv >= 1 + 999 + 999); /* s.y, 999 readers, their outputs */
    json_decref(g);
    snprintf(q, sizeof(q), "execution=%s&direction=upstream&depth=100", id);
    t0 = floe_mono_us();
    g = lineage(q);
    double all_ms = (double)(floe_mono_us() - t0) / 1000.0;
    size_t na = json_array_size(json_object_get(g, "nodes"));
    json_decref(g);
    snprintf(q, sizeof(q), "execution=%s&node=z&output=y&direction=upstream&depth=100", id);
    t0 = floe_mono_us();
    g = lineage(q);
    double up_ms = (double)(floe_mono_us() - t0) / 1000.0;
    assert_true(has_vertex(g, "artifact", id, "", "x"));
    json_decref(g);
    printf("# lineage on a 1,000-node execution: downstream of the source output %.1f ms "
           "(%zu vertices), whole execution %.1f ms (%zu vertices), upstream of the last "
           "output %.1f ms (HTTP round trip included)\n",
           down_ms, nv, all_ms, na, up_ms);
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_catalog FLOE_SCHEDULER FLOE_WORKER\n");
        return 2;
    }
    sched_bin = argv[1];
    worker_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_run_cached),
        cmocka_unit_test(test_stale_blob_not_a_hit),
        cmocka_unit_test(test_invalidation_and_options),
        cmocka_unit_test(test_m6_new_code_new_cache),
        cmocka_unit_test(test_identical_launches_coalesce),
        cmocka_unit_test(test_cache_list_and_delete),
        cmocka_unit_test(test_recover_and_relaunch),
        cmocka_unit_test(test_lineage_thousand_nodes),
    };
    if (getenv("IT_FILTER") != NULL)
        cmocka_set_test_filter(getenv("IT_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
