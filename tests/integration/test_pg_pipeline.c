/*
 * Integration: store_pg_pipeline against the stack's PostgreSQL (issue 25: launches that
 * came together are sent as one pipeline, one round trip). All or none whichever
 * statement fails, the commit included; the failed statement is named; the connection is
 * idle and usable afterwards. Lineage records written in batches (store_lineage_write):
 * more than one batch's worth, again unchanged, a batch with a refused record, and
 * derived-from links made within a batch, across batches and filled in later, and values
 * that mean something in an array literal written verbatim. Lineage is the leader's write:
 * fenced by its epoch (review M12).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "floe_time.h"
#include "it_pg.h"
#include "it_util.h"
#include "store_lineage.h"
#include "store_migrate.h"
#include "store_pg_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static floe_config *cfg;
static store_pg *lease_pg;
static uint64_t epoch; /* the lease's, taken for the lineage writes (fenced) */

static store_pg *
connect_pg(void)
{
    return it_pg_connect(cfg, "test-pg-pipeline", 5000);
}

/* A connection to a database with Floe's tables (the lineage tests'). */
static store_pg *
connect_migrated(void)
{
    return it_pg_migrated(cfg, "test-pg-pipeline", 5000);
}

/* Rows in table (a name of ours), or only execution exec's when it is not NULL. */
static long
rows(store_pg *pg, const char *table, const char *exec)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s", table,
             exec != NULL ? " WHERE execution_id = $1" : "");
    const char *params[] = {exec};
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, sql, exec != NULL ? 1 : 0, params, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("%s: %s", sql, err.msg);
    long n = (long)store_pg_int64(r, 0, 0);
    PQclear(r);
    return n;
}

#define INSERT "INSERT INTO pp (k, v) VALUES ($1, $2) RETURNING length(v)"

static void
test_pipeline_all_or_none(void **state)
{
    (void)state;
    store_pg *pg = connect_pg();
    it_pg_sql(pg, "CREATE TEMP TABLE pp (k text PRIMARY KEY, v text)");
    const char *p[4][2] = {{"a", "x"}, {"b", "yy"}, {"c", "zzz"}, {"a", "again"}};
    store_pg_call calls[4];
    for (int i = 0; i < 4; i++)
        calls[i] = (store_pg_call){INSERT, 2, p[i], NULL, NULL};
    PGresult *res[4];
    size_t failed = 99;
    floe_err err = {0};

    /* Three fine ones and a statement without parameters: each result in its place. */
    store_pg_call four[4] = {calls[0], calls[1], {"SELECT 41 + 1", 0, NULL, NULL, NULL}, calls[2]};
    assert_int_equal(store_pg_pipeline(pg, four, 4, res, &failed, &err), FLOE_OK);
    assert_string_equal(PQgetvalue(res[0], 0, 0), "1");
    assert_string_equal(PQgetvalue(res[1], 0, 0), "2");
    assert_string_equal(PQgetvalue(res[2], 0, 0), "42");
    assert_string_equal(PQgetvalue(res[3], 0, 0), "3");
    for (int i = 0; i < 4; i++)
        PQclear(res[i]);
    assert_int_equal(rows(pg, "pp", NULL), 3);

    /* The last of four refused ("a" exists): none of them stays, the fourth is named. */
    it_pg_sql(pg, "DELETE FROM pp");
    assert_int_equal(store_pg_pipeline(pg, calls, 4, res, &failed, &err), FLOE_ECONFLICT);
    assert_int_equal(failed, 3);
    assert_non_null(strstr(err.msg, "duplicate key"));
    for (int i = 0; i < 4; i++)
        assert_null(res[i]);
    assert_int_equal(rows(pg, "pp", NULL), 0);
    assert_int_equal(PQtransactionStatus(pg->conn), PQTRANS_IDLE);

    /* Text that is not UTF-8: named before anything is sent. */
    const char *bad[2] = {"d", "\xc3\x28"};
    store_pg_call calls2[3] = {calls[0], calls[1], {INSERT, 2, bad, NULL, NULL}};
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, calls2, 3, res, &failed, &err), FLOE_EINVAL);
    assert_int_equal(failed, 2);
    assert_non_null(strstr(err.msg, "$2"));
    assert_int_equal(rows(pg, "pp", NULL), 0);

    /* A constraint checked at the commit: the commit (n) is named, nothing stays. */
    it_pg_sql(pg, "CREATE TEMP TABLE pd (k text UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    const char *one[1] = {"same"};
    store_pg_call twice[2] = {{"INSERT INTO pd VALUES ($1)", 1, one, NULL, NULL},
                              {"INSERT INTO pd VALUES ($1)", 1, one, NULL, NULL}};
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, twice, 2, res, &failed, &err), FLOE_ECONFLICT);
    assert_int_equal(failed, 2);
    assert_int_equal(rows(pg, "pd", NULL), 0);

    /* And the connection goes on: a pipeline, then a statement of its own. */
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, calls, 3, res, &failed, &err), FLOE_OK);
    for (int i = 0; i < 3; i++)
        PQclear(res[i]);
    assert_int_equal(rows(pg, "pp", NULL), 3);
    store_pg_close(pg);
}

/* The connection ends under a pipeline (terminated, as a restart of PostgreSQL would):
 * the failure is the connection's (n), not a statement's, and the next call connects
 * again. */
static void
test_pipeline_connection_lost(void **state)
{
    (void)state;
    store_pg *pg = connect_pg(), *admin = connect_pg();
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", PQbackendPID(pg->conn));
    const char *p1[1] = {pid};
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(admin, "SELECT pg_terminate_backend($1::integer)", 1, p1, NULL, NULL, &r,
                      &err) != FLOE_OK)
        fail_msg("terminate: %s", err.msg);
    assert_string_equal(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    /* gone, not only signalled */
    int64_t deadline = floe_mono_us() + 5000000;
    for (long left = 1; left > 0;) {
        if (store_pg_exec(admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::integer", 1,
                          p1, NULL, NULL, &r, &err) != FLOE_OK)
            fail_msg("pg_stat_activity: %s", err.msg);
        left = (long)store_pg_int64(r, 0, 0);
        PQclear(r);
        if (left > 0 && floe_mono_us() > deadline)
            fail_msg("timed out after 5000 ms waiting for backend %s to end", pid);
        if (left > 0)
            usleep(10000);
    }
    const char *one[1] = {"x"};
    store_pg_call calls[2] = {{"SELECT length($1)", 1, one, NULL, NULL},
                              {"SELECT length($1) + 1", 1, one, NULL, NULL}};
    PGresult *res[2];
    size_t failed = 99;
    assert_int_equal(store_pg_pipeline(pg, calls, 2, res, &failed, &err), FLOE_EIO);
    assert_int_equal(failed, 2);
    assert_null(res[0]);
    assert_null(res[1]);
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, calls, 2, res, &failed, &err), FLOE_OK);
    assert_string_equal(PQgetvalue(res[1], 0, 0), "2");
    PQclear(res[0]);
    PQclear(res[1]);
    store_pg_close(admin);
    store_pg_close(pg);
}

typedef struct killer {
    int pid;
    bool done;
    char why[FLOE_ERR_MSG_MAX + 32];
} killer;

/* Waits (bounded) for backend k->pid to be running its pg_sleep, then terminates it. */
static void *
kill_when_active(void *arg)
{
    killer *k = arg;
    store_pg *admin = connect_pg();
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", k->pid);
    const char *p1[1] = {pid};
    int64_t deadline = floe_mono_us() + 5000000;
    while (!k->done) {
        PGresult *r;
        floe_err err = {0};
        if (store_pg_exec(admin,
                          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid ="
                          " $1::integer AND state = 'active' AND query LIKE '%pg_sleep%'",
                          1, p1, NULL, NULL, &r, &err) != FLOE_OK) {
            snprintf(k->why, sizeof(k->why), "terminate: %s", err.msg);
            break;
        }
        k->done = PQntuples(r) == 1;
        PQclear(r);
        if (!k->done && floe_mono_us() > deadline) {
            snprintf(k->why, sizeof(k->why),
                     "timed out after 5000 ms waiting for backend %s "
                     "to run its pg_sleep",
                     pid);
            break;
        }
        if (!k->done)
            usleep(5000);
    }
    store_pg_close(admin);
    return NULL;
}

/* The same while the pipeline's statements run: the connection's failure, not the
 * statement's that was running. */
static void
test_pipeline_connection_lost_midway(void **state)
{
    (void)state;
    store_pg *pg = connect_pg();
    killer k = {.pid = PQbackendPID(pg->conn)};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, kill_when_active, &k), 0);
    const char *one[1] = {"x"};
    store_pg_call calls[3] = {{"SELECT length($1)", 1, one, NULL, NULL},
                              {"SELECT pg_sleep(5) IS NULL OR $1 = ''", 1, one, NULL, NULL},
                              {"SELECT length($1) + 1", 1, one, NULL, NULL}};
    PGresult *res[3];
    size_t failed = 99;
    floe_err err = {0};
    floe_rc rc = store_pg_pipeline(pg, calls, 3, res, &failed, &err);
    pthread_join(th, NULL);
    if (k.why[0] != '\0')
        fail_msg("%s", k.why);
    assert_int_equal(rc, FLOE_EIO);
    assert_int_equal(failed, 3);
    floe_err_clear(&err);
    assert_int_equal(store_pg_pipeline(pg, calls, 1, res, &failed, &err), FLOE_OK);
    PQclear(res[0]);
    store_pg_close(pg);
}

/* n records of execution exec: node "n<i>" with an output and, from the second on, a
 * constant input and its use; record bad (if < n) has an artifact role the schema refuses. */
typedef struct lin_batch {
    store_lin_record recs[300];
    store_lin_artifact arts[300][2];
    store_lin_use uses[300];
    char nodes[300][24];
} lin_batch;

static void
lin_fill(lin_batch *b, const char *exec, size_t n, size_t bad)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(b->nodes[i], sizeof(b->nodes[i]), "n%zu", i);
        b->arts[i][0] = (store_lin_artifact){.node_id = b->nodes[i],
                                             .role = "output",
                                             .name = "y",
                                             .type = "integer",
                                             .digest = "d1",
                                             .size = -1,
                                             .value = "1"};
        b->arts[i][1] = (store_lin_artifact){.node_id = b->nodes[i],
                                             .role = i == bad ? "bogus" : "constant",
                                             .name = "x",
                                             .type = "integer",
                                             .digest = "d2",
                                             .size = -1,
                                             .value = "2"};
        b->uses[i] = (store_lin_use){.input = "x", .artifact = 1};
        b->recs[i] = (store_lin_record){.execution_id = exec,
                                        .node_id = b->nodes[i],
                                        .attempt = 1,
                                        .project = "p",
                                        .domain = "d",
                                        .task_name = "t",
                                        .task_version = "v1",
                                        .phase = "SUCCEEDED",
                                        .artifacts = b->arts[i],
                                        .n_artifacts = i > 0 ? 2 : 1,
                                        .uses = &b->uses[i],
                                        .n_uses = i > 0 ? 1 : 0};
    }
}

static void
test_lineage_pipelines(void **state)
{
    (void)state;
    store_pg *pg = connect_migrated();
    floe_err err = {0};
    char ok_exec[40], bad_exec[48];
    snprintf(ok_exec, sizeof(ok_exec), "linpipe-%lld", (long long)floe_now_us());
    snprintf(bad_exec, sizeof(bad_exec), "%s-bad", ok_exec);
    lin_batch *b = calloc(1, sizeof(*b));
    assert_non_null(b);
    /* 300 records: over a batch's 256, so two; and again, changing nothing. */
    lin_fill(b, ok_exec, 300, 300);
    /* Under an epoch that no longer holds the lease: refused, nothing written. */
    assert_int_equal(store_lineage_write(pg, epoch - 1, b->recs, 300, &err), FLOE_EFENCED);
    assert_non_null(strstr(err.msg, "no longer holds the lease"));
    assert_int_equal(rows(pg, "lineage_nodes", ok_exec), 0);
    assert_int_equal(rows(pg, "artifacts", ok_exec), 0);
    for (int round = 0; round < 2; round++) {
        if (store_lineage_write(pg, epoch, b->recs, 300, &err) != FLOE_OK)
            fail_msg("lineage: %s", err.msg);
        assert_int_equal(rows(pg, "lineage_nodes", ok_exec), 300);
        assert_int_equal(rows(pg, "artifacts", ok_exec), 599);
        assert_int_equal(rows(pg, "lineage_uses", ok_exec), 299);
    }
    /* Record 280 refused: the batch before its own is written, its own is not; written
     * one by one (as the engine does then), all but it are. */
    lin_fill(b, bad_exec, 300, 280);
    assert_int_equal(store_lineage_write(pg, epoch, b->recs, 300, &err), FLOE_EINVAL);
    assert_int_equal(rows(pg, "lineage_nodes", bad_exec), STORE_LIN_BATCH);
    for (size_t i = 0; i < 300; i++) {
        floe_rc rc = store_lineage_write(pg, epoch, &b->recs[i], 1, &err);
        assert_int_equal(rc, i == 280 ? FLOE_EINVAL : FLOE_OK);
    }
    assert_int_equal(rows(pg, "lineage_nodes", bad_exec), 299);
    assert_int_equal(rows(pg, "lineage_uses", bad_exec), 298);
    free(b);
    store_pg_close(pg);
}

/* "<execution>/<node>" of the artifact exec's (node, role, name) is derived from, "" for
 * none, "?" when the artifact is missing. */
static void
derived(store_pg *pg, const char *exec, const char *node, const char *role, const char *name,
        char *out, size_t size)
{
    const char *params[] = {exec, node, role, name};
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg,
                      "SELECT coalesce(d.execution_id || '/' || d.node_id, '') FROM artifacts a"
                      " LEFT JOIN artifacts d ON d.id = a.derived_from WHERE a.execution_id = $1"
                      " AND a.node_id = $2 AND a.role = $3 AND a.name = $4",
                      4, params, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("derived: %s", err.msg);
    snprintf(out, size, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
}

/* One record of exec: node produced output "y" (digest dig) or, with src, took it over
 * from src's node "p"; with in_dig, the execution's blob input "in" of that digest
 * (linked by digest) is among its artifacts, used as input "x". */
typedef struct lin_one {
    store_lin_record rec;
    store_lin_artifact arts[2];
    store_lin_use use;
} lin_one;

static void
lin_one_fill(lin_one *o, const char *exec, const char *node, const char *dig, const char *src,
             const char *in_dig)
{
    memset(o, 0, sizeof(*o));
    o->arts[0] = (store_lin_artifact){.node_id = node,
                                      .role = "output",
                                      .name = "y",
                                      .type = "blob",
                                      .uri = "file:///b",
                                      .digest = dig,
                                      .size = 3,
                                      .src_exec = src,
                                      .src_node = src != NULL ? "p" : NULL};
    o->arts[1] = (store_lin_artifact){.node_id = "",
                                      .role = "input",
                                      .name = "in",
                                      .type = "blob",
                                      .uri = "file:///b",
                                      .digest = in_dig,
                                      .size = 3,
                                      .link_by_digest = true};
    o->use = (store_lin_use){.input = "x", .artifact = 1};
    o->rec = (store_lin_record){.execution_id = exec,
                                .node_id = node,
                                .attempt = 1,
                                .project = "p",
                                .domain = "d",
                                .task_name = "t",
                                .task_version = "v1",
                                .phase = src != NULL ? "CACHED" : "SUCCEEDED",
                                .source_execution = src,
                                .source_node = src != NULL ? "p" : NULL,
                                .artifacts = o->arts,
                                .n_artifacts = in_dig != NULL ? 2 : 1,
                                .uses = &o->use,
                                .n_uses = in_dig != NULL ? 1 : 0};
}

static void
test_lineage_links(void **state)
{
    (void)state;
    store_pg *pg = connect_migrated();
    floe_err err = {0};
    char a[40], bx[48], c[48], d[48], dig[48], got[128], want[128];
    snprintf(a, sizeof(a), "linlink-%lld", (long long)floe_now_us());
    snprintf(bx, sizeof(bx), "%s-b", a);
    snprintf(c, sizeof(c), "%s-c", a);
    snprintf(d, sizeof(d), "%s-d", a);
    snprintf(dig, sizeof(dig), "sha256:%s", a);
    /* Within one batch: b's cached output from a's p, and b's input by a's digest. */
    lin_one one[2];
    lin_one_fill(&one[0], a, "p", dig, NULL, NULL);
    lin_one_fill(&one[1], bx, "q", dig, a, dig);
    store_lin_record recs[2] = {one[0].rec, one[1].rec};
    if (store_lineage_write(pg, epoch, recs, 2, &err) != FLOE_OK)
        fail_msg("lineage: %s", err.msg);
    snprintf(want, sizeof(want), "%s/p", a);
    derived(pg, bx, "q", "output", "y", got, sizeof(got));
    assert_string_equal(got, want);
    derived(pg, bx, "", "input", "in", got, sizeof(got));
    assert_string_equal(got, want);
    derived(pg, a, "p", "output", "y", got, sizeof(got));
    assert_string_equal(got, "");
    assert_int_equal(rows(pg, "lineage_uses", bx), 1);
    /* A source recorded later: the link is missing, then filled when c's record comes
     * again; written once more, it stays. */
    lin_one_fill(&one[0], c, "q", dig, d, NULL);
    if (store_lineage_write(pg, epoch, &one[0].rec, 1, &err) != FLOE_OK)
        fail_msg("lineage: %s", err.msg);
    derived(pg, c, "q", "output", "y", got, sizeof(got));
    assert_string_equal(got, "");
    lin_one_fill(&one[1], d, "p", "other", NULL, NULL);
    for (int round = 0; round < 2; round++) {
        store_lin_record two[2] = {one[1].rec, one[0].rec};
        if (store_lineage_write(pg, epoch, two, 2, &err) != FLOE_OK)
            fail_msg("lineage: %s", err.msg);
        snprintf(want, sizeof(want), "%s/p", d);
        derived(pg, c, "q", "output", "y", got, sizeof(got));
        assert_string_equal(got, want);
        assert_int_equal(rows(pg, "lineage_nodes", c), 1);
        assert_int_equal(rows(pg, "artifacts", c), 1);
    }
    store_pg_close(pg);
}

/* Values that mean something in an array literal (quotes, backslashes, braces, commas,
 * the word NULL, spaces at the ends) come back from the batch's arrays as they went in. */
static void
test_lineage_values_verbatim(void **state)
{
    (void)state;
    store_pg *pg = connect_migrated();
    floe_err err = {0};
    char exec[40];
    snprintf(exec, sizeof(exec), "linval-%lld", (long long)floe_now_us());
    static const char *const values[] = {"NULL", "\"a\\\"b\"", "{1,2}", " x ", "", "é,\\N"};
    enum { NV = sizeof(values) / sizeof(values[0]) };
    lin_one one[NV];
    store_lin_record recs[NV];
    char nodes[NV][8];
    for (size_t i = 0; i < NV; i++) {
        snprintf(nodes[i], sizeof(nodes[i]), "v%zu", i);
        lin_one_fill(&one[i], exec, nodes[i], values[i], NULL, NULL);
        one[i].arts[0].value = values[i];
        recs[i] = one[i].rec;
    }
    if (store_lineage_write(pg, epoch, recs, NV, &err) != FLOE_OK)
        fail_msg("lineage: %s", err.msg);
    for (size_t i = 0; i < NV; i++) {
        const char *params[] = {exec, nodes[i]};
        PGresult *r;
        if (store_pg_exec(pg,
                          "SELECT value, digest FROM artifacts WHERE execution_id = $1"
                          " AND node_id = $2 AND role = 'output'",
                          2, params, NULL, NULL, &r, &err) != FLOE_OK)
            fail_msg("read: %s", err.msg);
        assert_int_equal(PQntuples(r), 1);
        assert_false(PQgetisnull(r, 0, 0));
        assert_string_equal(PQgetvalue(r, 0, 0), values[i]);
        assert_string_equal(PQgetvalue(r, 0, 1), values[i]);
        PQclear(r);
    }
    store_pg_close(pg);
}

static int
setup(void **state)
{
    (void)state;
    cfg = it_config("test-pg-pipeline", NULL, 0);
    lease_pg = it_pg_migrated(cfg, "test-pg-pipeline-lease", 5000);
    epoch = it_pg_lease(lease_pg, "test-pg-pipeline");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    it_pg_lease_release(lease_pg, "test-pg-pipeline", epoch);
    store_pg_close(lease_pg);
    floe_config_free(cfg);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_all_or_none),
        cmocka_unit_test(test_pipeline_connection_lost),
        cmocka_unit_test(test_pipeline_connection_lost_midway),
        cmocka_unit_test(test_lineage_pipelines),
        cmocka_unit_test(test_lineage_links),
        cmocka_unit_test(test_lineage_values_verbatim),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
