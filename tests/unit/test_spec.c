/*
 * The spec compiler: every example compiles, every golden error file fails with exactly
 * its recorded message (FLOE_GOLDEN_UPDATE=1 rewrites them), large DAGs compile, limits
 * hold, digests ignore formatting, and every allocation failure is handled.
 */
#include "floe_mem.h"
#include "spec.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const classes[] = {"default", "large", "gpu"};

static spec_env
test_env(void)
{
    return (spec_env){.project = "demo",
                      .domain = "development",
                      .resource_classes = classes,
                      .n_resource_classes = 3,
                      .limits = {.max_bytes = 1 << 20,
                                 .max_documents = 64,
                                 .max_nesting = 32,
                                 .max_nodes = 20000,
                                 .max_depth = 4}};
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static floe_rc
compile_text(const spec_env *env, const char *file, const char *text, size_t len, floe_arena *arena,
             spec_item **items, size_t *n, floe_err *err)
{
    floe_err_clear(err);
    return spec_compile(env, file, text, len, arena, items, n, err);
}

static void
test_golden_errors(void **state)
{
    (void)state;
    const char *dir = FLOE_SOURCE_DIR "/tests/golden/spec";
    DIR *d = opendir(dir);
    assert_non_null(d);
    int checked = 0;
    struct dirent *de;
    spec_env env = test_env();
    while ((de = readdir(d)) != NULL) {
        size_t nl = strlen(de->d_name);
        if (nl < 6 || strcmp(de->d_name + nl - 5, ".yaml") != 0)
            continue;
        char path[512], epath[512];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        snprintf(epath, sizeof(epath), "%s/%.*s.err", dir, (int)(nl - 5), de->d_name);
        size_t len;
        char *text = read_file(path, &len);
        assert_non_null(text);
        floe_arena *arena = floe_arena_new(4096, 64 << 20);
        spec_item *items;
        size_t n;
        floe_err err;
        floe_rc rc = compile_text(&env, de->d_name, text, len, arena, &items, &n, &err);
        if (rc == FLOE_OK)
            fail_msg("%s compiled, but it is a golden error case", de->d_name);
        if (getenv("FLOE_GOLDEN_UPDATE") != NULL) {
            FILE *f = fopen(epath, "w");
            assert_non_null(f);
            fprintf(f, "%s\n", err.msg);
            fclose(f);
        }
        size_t elen;
        char *want = read_file(epath, &elen);
        if (want == NULL)
            fail_msg("%s: no golden file %s; got \"%s\"", de->d_name, epath, err.msg);
        if (elen > 0 && want[elen - 1] == '\n')
            want[elen - 1] = '\0';
        if (strcmp(want, err.msg) != 0)
            fail_msg("%s:\n  want: %s\n  got:  %s", de->d_name, want, err.msg);
        free(want);
        free(text);
        floe_arena_free(arena);
        checked++;
    }
    closedir(d);
    assert_true(checked >= 20);
}

static void
test_example_compiles(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(FLOE_SOURCE_DIR "/examples/wordcount.yaml", &len);
    assert_non_null(text);
    spec_env env = test_env();
    floe_arena *arena = floe_arena_new(4096, 0);
    spec_item *items;
    size_t n;
    floe_err err;
    floe_rc rc = compile_text(&env, "wordcount.yaml", text, len, arena, &items, &n, &err);
    if (rc != FLOE_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(n, 5);
    /* Tasks first, then the rest in document order. */
    assert_int_equal(items[0].kind, SPEC_TASK);
    assert_int_equal(items[3].kind, SPEC_WORKFLOW);
    assert_int_equal(items[4].kind, SPEC_LAUNCHPLAN);
    const Floe__WorkflowSpec *wf = (const Floe__WorkflowSpec *)items[3].msg;
    assert_int_equal(wf->n_nodes, 3);
    assert_string_equal(wf->nodes[0]->id, "split");
    assert_int_equal(wf->nodes[0]->n_downstream, 2);
    assert_int_equal(wf->nodes[1]->n_upstream, 1);
    assert_int_equal(wf->nodes[1]->upstream[0], 0);
    assert_int_equal(wf->n_tasks, 3);
    assert_int_equal(wf->interface->n_outputs, 2);
    assert_string_equal(wf->interface->outputs[0]->name, "longest");
    assert_int_equal(wf->interface->outputs[0]->type->simple,
                     FLOE__SIMPLE_TYPE__SIMPLE_TYPE_STRING);
    const Floe__TaskSpec *split = (const Floe__TaskSpec *)items[0].msg;
    assert_string_equal(split->resource_class, "default");
    assert_int_equal(split->retries->user_retries, 1);
    assert_int_equal(split->timeout_ms, 60000);
    assert_true(split->cache->enabled);
    const Floe__LaunchPlanSpec *lp = (const Floe__LaunchPlanSpec *)items[4].msg;
    assert_string_equal(lp->workflow->version, "1");
    assert_string_equal(lp->schedule->cron, "0 3 * * *");
    assert_string_equal(items[3].digest, items[3].digest);
    assert_int_equal(strlen(items[3].digest), 64);

    /* Formatting and comments do not change the digest; content does. */
    char first[65];
    memcpy(first, items[3].digest, 65);
    floe_arena_reset(arena);
    size_t blen = len + 64;
    char *b = malloc(blen);
    snprintf(b, blen, "# a comment\n%s\n", text);
    assert_int_equal(compile_text(&env, "f", b, strlen(b), arena, &items, &n, &err), FLOE_OK);
    assert_string_equal(items[3].digest, first);
    char *p = strstr(b, "min_length: 3");
    assert_non_null(p);
    p[12] = '4';
    floe_arena_reset(arena);
    assert_int_equal(compile_text(&env, "f", b, strlen(b), arena, &items, &n, &err), FLOE_OK);
    assert_string_not_equal(items[3].digest, first);
    free(b);
    free(text);
    floe_arena_free(arena);
}

/* 1 -> N -> 1 with a list of `after` for the join. */
static char *
fanout_text(unsigned n)
{
    size_t cap = 256 + (size_t)n * 96;
    char *t = malloc(cap);
    size_t len = (size_t)snprintf(t, cap,
                                  "kind: task\nname: noop\nversion: \"1\"\n"
                                  "container: {command: [/bin/true]}\n---\n"
                                  "kind: workflow\nname: fan\nversion: \"1\"\nnodes:\n"
                                  "  - {id: start, task: noop}\n");
    for (unsigned i = 0; i < n; i++)
        len +=
            (size_t)snprintf(t + len, cap - len, "  - {id: n%u, task: noop, after: [start]}\n", i);
    len += (size_t)snprintf(t + len, cap - len, "  - id: join\n    task: noop\n    after:\n");
    for (unsigned i = 0; i < n; i++)
        len += (size_t)snprintf(t + len, cap - len, "      - n%u\n", i);
    return t;
}

static void
test_fanout(void **state)
{
    (void)state;
    char *text = fanout_text(10000);
    spec_env env = test_env();
    env.limits.max_bytes = 4 << 20;
    floe_arena *arena = floe_arena_new(1 << 16, 0);
    spec_item *items;
    size_t n;
    floe_err err;
    floe_rc rc = compile_text(&env, "fan.yaml", text, strlen(text), arena, &items, &n, &err);
    if (rc != FLOE_OK)
        fail_msg("%s", err.msg);
    const Floe__WorkflowSpec *wf = (const Floe__WorkflowSpec *)items[1].msg;
    assert_int_equal(wf->n_nodes, 10002);
    assert_string_equal(wf->nodes[0]->id, "start");
    assert_int_equal(wf->nodes[0]->n_downstream, 10000);
    assert_string_equal(wf->nodes[10001]->id, "join");
    assert_int_equal(wf->nodes[10001]->n_upstream, 10000);
    assert_int_equal(wf->n_tasks, 1);

    /* Over the node limit: refused, saying so. */
    env.limits.max_nodes = 5000;
    floe_arena_reset(arena);
    rc = compile_text(&env, "fan.yaml", text, strlen(text), arena, &items, &n, &err);
    assert_int_equal(rc, FLOE_ETOOBIG);
    assert_non_null(strstr(err.msg, "10002 nodes is over the limit of 5000"));
    /* Over the byte limit. */
    env.limits.max_bytes = 1000;
    rc = compile_text(&env, "fan.yaml", text, strlen(text), arena, &items, &n, &err);
    assert_int_equal(rc, FLOE_ETOOBIG);
    assert_non_null(strstr(err.msg, "over the limit of 1000 bytes"));
    free(text);
    floe_arena_free(arena);
}

/* oci tasks run on a rootfs or an image; an image never reaches skopeo as an option. */
static void
test_oci_rootfs_or_image(void **state)
{
    (void)state;
    static const struct {
        const char *container;
        const char *error; /* NULL: compiles */
    } cases[] = {
        {"{image: \"oci:/srv/images/L:t\", command: [/bin/true]}", NULL},
        {"{rootfs: /var/lib/floe/rootfs/busybox, command: [/bin/true]}", NULL},
        {"{command: [/bin/true]}", "needs a command, and a rootfs or an image"},
        {"{image: \"-rf\", command: [/bin/true]}", "must not start with '-'"},
    };
    spec_env env = test_env();
    floe_arena *arena = floe_arena_new(1 << 14, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "kind: task\nname: t\nversion: \"1\"\nexecutor: oci\n"
                 "container: %s\n",
                 cases[i].container);
        spec_item *items;
        size_t n;
        floe_err err = {0};
        floe_arena_reset(arena);
        floe_rc rc = compile_text(&env, "t.yaml", text, strlen(text), arena, &items, &n, &err);
        if (cases[i].error == NULL && rc != FLOE_OK)
            fail_msg("%s: %s", cases[i].container, err.msg);
        if (cases[i].error != NULL && (rc == FLOE_OK || strstr(err.msg, cases[i].error) == NULL))
            fail_msg("%s: wanted \"%s\", got \"%s\"", cases[i].container, cases[i].error, err.msg);
    }
    floe_arena_free(arena);
}

/* secrets: references checked at registration, compiled into the container (names only). */
static void
test_secrets(void **state)
{
    (void)state;
    static const struct {
        const char *secrets;
        const char *error; /* NULL: compiles */
    } cases[] = {
        {"[{name: db_password, env: DB_PASSWORD}, {name: tls.key, file: key.pem}]", NULL},
        {"[{name: ../etc/passwd, env: X}]", "secret name"},
        {"[{name: a, env: X, file: f}]", "exactly one of env and file"},
        {"[{name: a}]", "exactly one of env and file"},
        {"[{name: a, env: FLOE_INPUTS}]", "outside FLOE_*"},
        {"[{name: a, file: ../x}]", "no directories"},
        {"[{name: a, env: X}, {name: b, env: X}]", "\"X\" is given twice"},
        {"[{name: a, env: LANG}]", "also set in container.env"},
        {"[{name: a, env: X, mount: /}]", "mount"},
        {"{name: a}", "expected a list"},
    };
    spec_env env = test_env();
    floe_arena *arena = floe_arena_new(1 << 14, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "kind: task\nname: t\nversion: \"1\"\n"
                 "container: {command: [/bin/true], env: {LANG: C}}\nsecrets: %s\n",
                 cases[i].secrets);
        spec_item *items;
        size_t n;
        floe_err err = {0};
        floe_arena_reset(arena);
        floe_rc rc = compile_text(&env, "t.yaml", text, strlen(text), arena, &items, &n, &err);
        if (cases[i].error == NULL && rc != FLOE_OK)
            fail_msg("%s: %s", cases[i].secrets, err.msg);
        if (cases[i].error != NULL && (rc == FLOE_OK || strstr(err.msg, cases[i].error) == NULL))
            fail_msg("%s: wanted \"%s\", got \"%s\"", cases[i].secrets, cases[i].error, err.msg);
        if (rc == FLOE_OK) {
            Floe__TaskSpec *t = floe__task_spec__unpack(NULL, items[0].len, items[0].data);
            assert_non_null(t);
            assert_int_equal(t->container->n_secrets, 2);
            assert_string_equal(t->container->secrets[0]->name, "db_password");
            assert_string_equal(t->container->secrets[0]->env, "DB_PASSWORD");
            assert_string_equal(t->container->secrets[1]->file, "key.pem");
            floe__task_spec__free_unpacked(t, NULL);
        }
    }
    floe_arena_free(arena);
}

/* A resolver serving one registered task, packed. */
static floe_rc
resolve_one(void *arg, spec_kind kind, const char *name, const char *version, floe_arena *arena,
            const uint8_t **data, size_t *len, floe_err *err)
{
    (void)arena;
    (void)err;
    const spec_item *it = arg;
    if (kind != it->kind || strcmp(name, it->name) != 0 ||
        (version != NULL && strcmp(version, it->version) != 0))
        return FLOE_ENOTFOUND;
    *data = it->data;
    *len = it->len;
    return FLOE_OK;
}

static void
test_resolver(void **state)
{
    (void)state;
    const char *task = "kind: task\nname: reg\nversion: v7\ncontainer: {command: [/bin/true]}\n"
                       "inputs: {x: integer}\n";
    const char *wf = "kind: workflow\nname: uses\nversion: \"1\"\n"
                     "nodes: [{id: a, task: reg, inputs: {x: 3}}, {id: b, task: reg@v7, "
                     "inputs: {x: 4}}]\n";
    spec_env env = test_env();
    floe_arena *a1 = floe_arena_new(4096, 0), *a2 = floe_arena_new(4096, 0);
    spec_item *items, *items2;
    size_t n;
    floe_err err;
    assert_int_equal(compile_text(&env, "t", task, strlen(task), a1, &items, &n, &err), FLOE_OK);
    /* Without the resolver the task is unknown. */
    assert_int_equal(compile_text(&env, "w", wf, strlen(wf), a2, &items2, &n, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "unknown task \"reg\" in project demo, domain development"));
    env.resolve = resolve_one;
    env.resolve_arg = &items[0];
    floe_rc rc = compile_text(&env, "w", wf, strlen(wf), a2, &items2, &n, &err);
    if (rc != FLOE_OK)
        fail_msg("%s", err.msg);
    const Floe__WorkflowSpec *w = (const Floe__WorkflowSpec *)items2[0].msg;
    assert_string_equal(w->tasks[0]->id->version, "v7");
    floe_arena_free(a1);
    floe_arena_free(a2);
}

static void
test_out_of_memory(void **state)
{
    (void)state;
    size_t len;
    char *text = read_file(FLOE_SOURCE_DIR "/examples/wordcount.yaml", &len);
    spec_env env = test_env();
    int failures = 0;
    for (unsigned long nth = 1;; nth++) {
        floe_arena *arena = floe_arena_new(256, 0);
        if (arena == NULL)
            continue;
        spec_item *items;
        size_t n;
        floe_err err;
        floe_mem_fail_at(nth, 0);
        floe_rc rc = compile_text(&env, "w", text, len, arena, &items, &n, &err);
        unsigned long made = floe_mem_fail_at(0, 0);
        floe_arena_free(arena);
        if (rc == FLOE_OK && made < nth)
            break; /* no allocation failed: every path tried */
        if (rc != FLOE_OK)
            failures++;
        assert_true(nth < 100000);
    }
    assert_true(failures > 0);
    free(text);
}

/* A document without a version takes one from its content (issue 26): the same content
 * the same version, an edit a new one; a given version still wins. */
static void
test_version_from_content(void **state)
{
    (void)state;
    spec_env env = test_env();
    floe_arena *a = floe_arena_new(65536, 0);
    floe_err err;
    spec_item *items;
    size_t n;
    const char *t1 = "kind: task\nname: t\ncontainer: {command: [/bin/true]}\n---\n"
                     "kind: workflow\nname: w\nnodes:\n  - {id: a, task: t}\n";
    const char *t2 = "kind: task\nname: t\ncontainer: {command: [/bin/false]}\n---\n"
                     "kind: workflow\nname: w\nnodes:\n  - {id: a, task: t}\n";
    assert_int_equal(compile_text(&env, "v.yaml", t1, strlen(t1), a, &items, &n, &err), FLOE_OK);
    assert_int_equal(n, 2);
    char v_task[32], v_wf[32];
    snprintf(v_task, sizeof(v_task), "%s", items[0].version);
    snprintf(v_wf, sizeof(v_wf), "%s", items[1].version);
    assert_int_equal(strlen(v_task), 13);
    assert_int_equal(v_task[0], 'c');
    assert_int_equal(spec_check_version(v_task, &err), FLOE_OK);
    /* The workflow pins the task's derived version. */
    const Floe__WorkflowSpec *w = (const Floe__WorkflowSpec *)items[1].msg;
    assert_string_equal(w->tasks[w->nodes[0]->target]->id->version, v_task);
    assert_int_equal(compile_text(&env, "v.yaml", t1, strlen(t1), a, &items, &n, &err), FLOE_OK);
    assert_string_equal(items[0].version, v_task);
    assert_string_equal(items[1].version, v_wf);
    assert_int_equal(compile_text(&env, "v.yaml", t2, strlen(t2), a, &items, &n, &err), FLOE_OK);
    assert_string_not_equal(items[0].version, v_task);
    assert_string_not_equal(items[1].version, v_wf); /* it calls another task version */
    env.version = "7";
    assert_int_equal(compile_text(&env, "v.yaml", t1, strlen(t1), a, &items, &n, &err), FLOE_OK);
    assert_string_equal(items[0].version, "7");
    floe_arena_free(a);
}

static void
count_problem(void *arg, const floe_err *err)
{
    (void)err;
    (*(int *)arg)++;
}

/* Every document's error is reported, not only the first (issue 26); the first is still
 * the answer, and a document stops at its own first error. */
static void
test_every_document_error(void **state)
{
    (void)state;
    spec_env env = test_env();
    int problems = 0;
    env.problem = count_problem;
    env.problem_arg = &problems;
    floe_arena *a = floe_arena_new(65536, 0);
    floe_err err;
    spec_item *items;
    size_t n;
    const char *text = "kind: task\nname: a\nversion: \"1\"\ncontainer: {command: [/bin/true]}\n"
                       "outputs: {x: nosuchtype}\n---\n"
                       "kind: task\nname: b\nversion: \"1\"\ncontainer: {command: [/bin/true]}\n"
                       "---\n"
                       "kind: task\nname: c\nversion: \"1\"\ncontainer: {command: [/bin/true]}\n"
                       "timeout: soon\n";
    assert_int_equal(compile_text(&env, "two.yaml", text, strlen(text), a, &items, &n, &err),
                     FLOE_EINVAL);
    assert_int_equal(problems, 2);
    assert_non_null(strstr(err.msg, "nosuchtype")); /* the first */
    env.problem = NULL;
    problems = 0;
    assert_int_equal(compile_text(&env, "two.yaml", text, strlen(text), a, &items, &n, &err),
                     FLOE_EINVAL);
    assert_int_equal(problems, 0);
    floe_arena_free(a);
}

static void
collect_problem(void *arg, const floe_err *err)
{
    char *buf = arg;
    size_t len = strlen(buf);
    snprintf(buf + len, 8192 - len, "%s\n", err->msg);
}

/* Within a document too: every independent part (a task's sections, a workflow's nodes,
 * bindings and outputs) is checked past an error; what depends on a wrong part (the
 * container of an unknown executor, what reads a node whose task is unknown) is skipped
 * rather than reported twice. */
static void
test_every_error_in_a_document(void **state)
{
    (void)state;
    spec_env env = test_env();
    char *found = calloc(1, 8192);
    env.problem = collect_problem;
    env.problem_arg = found;
    floe_arena *a = floe_arena_new(65536, 0);
    floe_err err;
    spec_item *items;
    size_t n;
    const char *text =
        "kind: task\nname: t\nversion: \"1\"\nexecutor: warp\n"
        "container: {command: [/bin/true]}\ninputs: {n: integr}\ntimeout: soon\n---\n"
        "kind: task\nname: ok\nversion: \"1\"\ncontainer: {command: [/bin/true]}\n"
        "inputs: {n: integer}\noutputs: {m: integer}\n---\n"
        "kind: workflow\nname: w\nversion: \"1\"\ninputs: {x: integer}\n"
        "outputs: {a: {from: {node: one, output: nope}}, b: {from: {node: bad, output: m}}}\n"
        "nodes:\n"
        "  - {id: one, task: ok, inputs: {n: {input: y}}}\n"
        "  - {id: two, task: ok}\n"
        "  - {id: bad, task: missing}\n"
        "  - {id: three, task: ok, inputs: {n: {node: bad, output: m}}}\n";
    assert_int_equal(compile_text(&env, "many.yaml", text, strlen(text), a, &items, &n, &err),
                     FLOE_EINVAL);
    const char *want[] = {
        "many.yaml:4: task \"t\": executor: unknown executor \"warp\"",
        "many.yaml:6: task \"t\": input \"n\": unknown type \"integr\"",
        "many.yaml:7: task \"t\": timeout: ",
        "many.yaml:24: workflow \"w\": node \"bad\": unknown task \"missing\"",
        "many.yaml:22: workflow \"w\": node \"one\": input \"n\": the workflow has no input \"y\"",
        "many.yaml:23: workflow \"w\": node \"two\": input \"n\" is not bound",
        "many.yaml:20: workflow \"w\": output \"a\": node \"one\" has no output \"nope\"",
    };
    int lines = 0;
    for (const char *p = found; *p != '\0'; p++)
        lines += *p == '\n';
    if (lines != (int)(sizeof(want) / sizeof(want[0])))
        fail_msg("expected %zu errors, got %d:\n%s", sizeof(want) / sizeof(want[0]), lines, found);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(found, want[i]) == NULL)
            fail_msg("no error \"%s\" in:\n%s", want[i], found);
    assert_non_null(strstr(err.msg, "unknown executor")); /* the first is the answer */
    /* A launch plan: its labels, inputs and schedule each. */
    found[0] = '\0';
    const char *lp = "kind: task\nname: ok\nversion: \"1\"\ncontainer: {command: [/bin/true]}\n"
                     "inputs: {n: integer}\noutputs: {m: integer}\n---\n"
                     "kind: workflow\nname: w\nversion: \"1\"\ninputs: {x: integer}\n"
                     "nodes:\n  - {id: one, task: ok, inputs: {n: {input: x}}}\n---\n"
                     "kind: launchplan\nname: p\nversion: \"1\"\nworkflow: w\n"
                     "labels: {team: [a]}\nfixed_inputs: {x: many}\n"
                     "schedule: {cron: \"61 * * * *\"}\n";
    assert_int_equal(compile_text(&env, "lp.yaml", lp, strlen(lp), a, &items, &n, &err),
                     FLOE_EINVAL);
    const char *want_lp[] = {"lp.yaml:19: launchplan \"p\": labels",
                             "lp.yaml:20: launchplan "
                             "\"p\": fixed_inputs",
                             "lp.yaml:21: launchplan \"p\": schedule"};
    for (size_t i = 0; i < sizeof(want_lp) / sizeof(want_lp[0]); i++)
        if (strstr(found, want_lp[i]) == NULL)
            fail_msg("no error \"%s\" in:\n%s", want_lp[i], found);
    /* Without a handler: the first error only, as before. */
    env.problem = NULL;
    assert_int_equal(compile_text(&env, "many.yaml", text, strlen(text), a, &items, &n, &err),
                     FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "unknown executor"));
    floe_arena_free(a);
    free(found);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_errors),
        cmocka_unit_test(test_oci_rootfs_or_image),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_version_from_content),
        cmocka_unit_test(test_every_document_error),
        cmocka_unit_test(test_every_error_in_a_document),
        cmocka_unit_test(test_example_compiles),
        cmocka_unit_test(test_fanout),
        cmocka_unit_test(test_resolver),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
