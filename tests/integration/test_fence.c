/*
 * Integration: PostgreSQL as the engine uses it (store_pg, store_lease, store_lp_fence).
 * Review H7: a fenced launch-plan transaction held a row lock on floe_leader that blocked
 * the lease's renewal for as long as it ran; no statement had a timeout. Review C2/H5: a
 * value PostgreSQL refuses for its content must come back as the item's fault (EINVAL),
 * not as an infrastructure failure that restarts the engine. Issue 25: an execution's
 * finish (its row, its nodes', its attempts') is one fenced statement: all or nothing; and
 * several executions' starts, or finishes, are one statement each, fenced alike; launches
 * that came together one transaction, where a refused row fails alone. Review M12: every
 * write of the leader's is fenced (catalog, lineage, launch-plan marks and retention), and
 * a fence that waited for a change of leader to commit sees the new epoch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "floe_time.h"
#include "it_pg.h"
#include "it_util.h"
#include "store_catalog.h"
#include "store_lineage.h"
#include "store_auth.h"
#include "store_lease.h"
#include "store_lp.h"
#include "store_migrate.h"
#include "store_pg_int.h"
#include "store_registry.h"
#include "store_run.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static floe_config *cfg;

static store_pg *
connect_pg(const char *app, int64_t timeout_ms)
{
    return it_pg_connect(cfg, app, timeout_ms);
}

static uint64_t
take_lease(store_pg *pg, const char *holder)
{
    return it_pg_lease(pg, holder);
}

static void
test_h7_fenced_transaction_does_not_block_renewal(void **state)
{
    (void)state;
    store_pg *a = connect_pg("test-fence-a", 2000), *b = connect_pg("test-fence-b", 2000);
    uint64_t epoch = take_lease(b, "test-fence-leader");
    floe_err err = {0};
    /* The leader's fenced transaction stays open ... */
    assert_int_equal(store_pg_begin(a, &err), FLOE_OK);
    assert_int_equal(store_lp_fence(a, epoch, &err), FLOE_OK);
    /* ... and its renewal goes through at once (it waited for the lock before). */
    bool held = false;
    uint64_t ep2 = 0;
    int64_t t0 = floe_mono_us();
    assert_int_equal(
        store_lease_acquire(b, "scheduler", "test-fence-leader", 3000, 0, &held, &ep2, NULL, &err),
        FLOE_OK);
    assert_true(held);
    assert_int_equal(ep2, epoch);
    assert_true(floe_mono_us() - t0 < 1000000);
    /* A change of leader does not land inside the old leader's fenced transaction: a
     * standby finding the lease expired still waits until it commits. */
    PGresult *r;
    assert_int_equal(store_pg_exec(b,
                                   "UPDATE floe_leader SET expires_at = now() - interval '1 second'"
                                   " WHERE name = 'scheduler'",
                                   0, NULL, NULL, NULL, &r, &err),
                     FLOE_OK);
    PQclear(r);
    assert_int_equal(
        store_lease_acquire(b, "scheduler", "test-fence-standby", 3000, 0, &held, &ep2, NULL, &err),
        FLOE_OK);
    assert_false(held);
    assert_int_equal(store_pg_commit(a, &err), FLOE_OK);
    assert_int_equal(
        store_lease_acquire(b, "scheduler", "test-fence-standby", 3000, 0, &held, &ep2, NULL, &err),
        FLOE_OK);
    assert_true(held);
    assert_true(ep2 > epoch);
    /* The old epoch is fenced now. */
    assert_int_equal(store_pg_begin(a, &err), FLOE_OK);
    assert_int_equal(store_lp_fence(a, epoch, &err), FLOE_EFENCED);
    store_pg_rollback(a);
    /* Give it up for the tests that follow. */
    assert_int_equal(store_lease_release(b, "scheduler", "test-fence-standby", ep2, &err), FLOE_OK);
    store_pg_close(a);
    store_pg_close(b);
}

static void
test_h7_statement_timeout(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-timeout", 300);
    PGresult *r;
    floe_err err = {0};
    int64_t t0 = floe_mono_us();
    floe_rc rc = store_pg_exec(pg, "SELECT pg_sleep(5)", 0, NULL, NULL, NULL, &r, &err);
    assert_int_equal(rc, FLOE_EIO);
    assert_true(floe_mono_us() - t0 < 3000000);
    printf("# a 5 s statement on a 300 ms connection: %s\n", err.msg);
    /* The connection is still usable. */
    assert_int_equal(store_pg_ping(pg, &err), FLOE_OK);
    store_pg_close(pg);
}

static void
test_c2_data_errors_are_the_items_fault(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-data", 2000);
    PGresult *r;
    floe_err err = {0};
    const char *bad[] = {"caf\xc3"}; /* cut inside é */
    assert_int_equal(store_pg_exec(pg, "SELECT $1::text", 1, bad, NULL, NULL, &r, &err),
                     FLOE_EINVAL);
    assert_int_equal(err.cls, FLOE_ERR_USER);
    assert_non_null(strstr(err.msg, "parameter $1 is not valid UTF-8"));
    const char *num[] = {"not a number"};
    assert_int_equal(store_pg_exec(pg, "SELECT $1::bigint", 1, num, NULL, NULL, &r, &err),
                     FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "SQLSTATE 22P02"));
    const char *ok[] = {"caf\xc3\xa9"};
    assert_int_equal(store_pg_exec(pg, "SELECT $1::text", 1, ok, NULL, NULL, &r, &err), FLOE_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "caf\xc3\xa9");
    PQclear(r);
    store_pg_close(pg);
}

/* An execution of the project the tests here write to, QUEUED once inserted. */
static store_exec
fence_row(const char *id)
{
    return (store_exec){.id = id,
                        .project = "fence-test",
                        .domain = "development",
                        .workflow_name = "wf",
                        .workflow_version = "v1",
                        .inputs = (const uint8_t *)"",
                        .requested_by = "test"};
}

static long
rows_of(store_pg *pg, const char *table, const char *id)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE execution_id = $1", table);
    const char *params[] = {id};
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, sql, 1, params, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("%s: %s", table, err.msg);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

static void
phase_of(store_pg *pg, const char *id, char *out, size_t size)
{
    const char *params[] = {id};
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg,
                      "SELECT phase || '/' || coalesce(error, '') FROM executions WHERE id = $1", 1,
                      params, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("phase: %s", err.msg);
    snprintf(out, size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void
test_finish_is_one_fenced_statement(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-finish", 5000);
    uint64_t epoch = take_lease(pg, "test-fence-finish");
    floe_err err = {0};
    char id[FLOE_ID_LEN + 1], other[FLOE_ID_LEN + 1], phase[128];
    assert_int_equal(floe_id_new(id), 0);
    assert_int_equal(floe_id_new(other), 0);
    assert_int_equal(store_project_ensure(pg, "fence-test", &err), FLOE_OK);
    store_exec ex = fence_row(id);
    assert_int_equal(store_exec_insert(pg, &ex, &err), FLOE_OK);
    store_run_node nodes[] = {
        {.node_id = "a", .phase = "SUCCEEDED", .attempts = 1},
        {.node_id = "b",
         .phase = "FAILED",
         .attempts = 2,
         .error_kind = "user",
         .error_code = "E1",
         .error = "boom"},
    };
    store_run_attempt atts[] = {
        {.node_id = "a",
         .attempt = 1,
         .phase = "SUCCEEDED",
         .worker = "w1",
         .started_us = 1700000000000000,
         .finished_us = 1700000000100000},
        {.node_id = "b", .attempt = 1, .phase = "FAILED", .message = "boom", .worker = "w1"},
        {.node_id = "b", .attempt = 2, .phase = "FAILED", .message = "boom \"again\", {x}"},
    };
    store_run_result res = {.exec_id = id,
                            .phase = "FAILED",
                            .error = "b failed",
                            .nodes = nodes,
                            .n_nodes = 2,
                            .attempts = atts,
                            .n_attempts = 3};
    /* An epoch that no longer holds the lease writes nothing, not even the node rows. */
    assert_int_equal(store_run_finish(pg, epoch - 1, &res, NULL, &err), FLOE_EFENCED);
    assert_int_equal(rows_of(pg, "node_executions", id), 0);
    assert_int_equal(rows_of(pg, "node_attempts", id), 0);
    phase_of(pg, id, phase, sizeof(phase));
    assert_string_equal(phase, "QUEUED/");
    /* The leader's writes all of it; again, nothing more (idempotent). */
    store_run_parent parent;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_run_finish(pg, epoch, &res, &parent, &err), FLOE_OK);
        assert_int_equal(rows_of(pg, "node_executions", id), 2);
        assert_int_equal(rows_of(pg, "node_attempts", id), 3);
        phase_of(pg, id, phase, sizeof(phase));
        assert_string_equal(phase, "FAILED/b failed");
        assert_int_equal(parent.execution[0], 0);
    }
    /* No such execution: said so, nothing written. */
    res.exec_id = other;
    assert_int_equal(store_run_finish(pg, epoch, &res, NULL, &err), FLOE_ENOTFOUND);
    assert_int_equal(rows_of(pg, "node_executions", other), 0);
    assert_int_equal(store_lease_release(pg, "scheduler", "test-fence-finish", epoch, &err),
                     FLOE_OK);
    store_pg_close(pg);
}

static int
phase_is(store_pg *pg, const char *id, const char *want)
{
    char got[128];
    phase_of(pg, id, got, sizeof(got));
    return strcmp(got, want) == 0;
}

/* Issue 25: starts and finishes of several executions in one statement each. The fence
 * holds for all of them; an execution with no row or not QUEUED is left for the single
 * path; nodes and attempts go in only for the executions written; values survive. */
static void
test_many_in_one_statement(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-many", 5000);
    uint64_t epoch = take_lease(pg, "test-fence-many");
    floe_err err = {0};
    enum { N = 4 };
    char ids[N][FLOE_ID_LEN + 1];
    const char *idp[N];
    assert_int_equal(store_project_ensure(pg, "fence-test", &err), FLOE_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(floe_id_new(ids[i]), 0);
        idp[i] = ids[i];
        if (i == 3)
            continue; /* no row */
        store_exec ex = fence_row(ids[i]);
        assert_int_equal(store_exec_insert(pg, &ex, &err), FLOE_OK);
    }
    /* ids[2] is already past QUEUED, and a child of ids[0]'s node "p". */
    const char *p2[] = {ids[2], ids[0]};
    PGresult *r;
    assert_int_equal(store_pg_exec(pg,
                                   "UPDATE executions SET phase = 'ABORTED', parent_execution = $2,"
                                   " parent_node = 'p', parent_attempt = 3 WHERE id = $1",
                                   2, p2, NULL, NULL, &r, &err),
                     FLOE_OK);
    PQclear(r);
    bool started[N];
    assert_int_equal(store_run_start_many(pg, epoch - 1, idp, N, started, &err), FLOE_OK);
    for (int i = 0; i < N; i++)
        assert_false(started[i]);
    assert_true(phase_is(pg, ids[0], "QUEUED/"));
    assert_int_equal(store_run_start_many(pg, epoch, idp, N, started, &err), FLOE_OK);
    assert_true(started[0] && started[1]);
    assert_false(started[2] || started[3]);
    assert_true(phase_is(pg, ids[1], "RUNNING/"));
    assert_true(phase_is(pg, ids[2], "ABORTED/"));

    static const uint8_t out[] = {0x0a, 0x00, 0x22, 0xff};
    store_run_node nodes[] = {{.node_id = "a",
                               .phase = "SUCCEEDED",
                               .attempts = 1,
                               .outputs = out,
                               .outputs_len = sizeof(out)},
                              {.node_id = "b\"{x}",
                               .phase = "FAILED",
                               .attempts = 1,
                               .error_kind = "user",
                               .error = "boom, \"again\""}};
    store_run_attempt atts[] = {
        {.node_id = "a", .attempt = 1, .phase = "SUCCEEDED", .started_us = 1700000000000000},
        {.node_id = "b\"{x}", .attempt = 1, .phase = "FAILED", .message = "NULL"}};
    store_run_result res[N];
    const store_run_result *rp[N];
    for (int i = 0; i < N; i++) {
        res[i] = (store_run_result){.exec_id = ids[i],
                                    .phase = i == 0 ? "SUCCEEDED" : "FAILED",
                                    .outputs = i == 0 ? out : NULL,
                                    .outputs_len = i == 0 ? sizeof(out) : 0,
                                    .error = i == 0 ? NULL : "b failed",
                                    .nodes = nodes,
                                    .n_nodes = 2 - (size_t)(i == 1),
                                    .attempts = atts,
                                    .n_attempts = 2};
        rp[i] = &res[i];
    }
    bool written[N];
    store_run_parent parents[N];
    assert_int_equal(store_run_finish_many(pg, epoch - 1, rp, N, written, parents, &err), FLOE_OK);
    for (int i = 0; i < N; i++) {
        assert_false(written[i]);
        assert_int_equal(rows_of(pg, "node_executions", ids[i]), 0);
        assert_int_equal(rows_of(pg, "node_attempts", ids[i]), 0);
    }
    assert_true(phase_is(pg, ids[0], "RUNNING/"));
    for (int round = 0; round < 2; round++) { /* again: the same rows, nothing more */
        assert_int_equal(store_run_finish_many(pg, epoch, rp, N, written, parents, &err), FLOE_OK);
        assert_true(written[0] && written[1] && written[2]);
        assert_false(written[3]);
        assert_true(phase_is(pg, ids[0], "SUCCEEDED/"));
        assert_true(phase_is(pg, ids[1], "FAILED/b failed"));
        assert_int_equal(rows_of(pg, "node_executions", ids[0]), 2);
        assert_int_equal(rows_of(pg, "node_executions", ids[1]), 1);
        assert_int_equal(rows_of(pg, "node_attempts", ids[2]), 2);
        assert_int_equal(rows_of(pg, "node_executions", ids[3]), 0);
        assert_int_equal(parents[0].execution[0], 0);
        assert_string_equal(parents[2].execution, ids[0]);
        assert_string_equal(parents[2].node, "p");
        assert_int_equal(parents[2].attempt, 3);
    }
    /* The bytes, the quoted names and the NULLs came through the arrays as they went in. */
    const char *q[] = {ids[0]};
    assert_int_equal(
        store_pg_exec(pg,
                      "SELECT encode(e.outputs, 'hex'), encode(n.outputs, 'hex'), m.error,"
                      " m.error_code IS NULL, t.message, t.stdout_uri IS NULL,"
                      " extract(epoch FROM t2.started_at)::bigint"
                      " FROM executions e JOIN node_executions n ON n.execution_id = e.id"
                      " AND n.node_id = 'a' JOIN node_executions m ON m.execution_id = e.id"
                      " AND m.node_id = 'b\"{x}' JOIN node_attempts t ON t.execution_id = e.id"
                      " AND t.node_id = m.node_id JOIN node_attempts t2"
                      " ON t2.execution_id = e.id AND t2.node_id = 'a' WHERE e.id = $1",
                      1, q, NULL, NULL, &r, &err),
        FLOE_OK);
    assert_int_equal(PQntuples(r), 1);
    assert_string_equal(PQgetvalue(r, 0, 0), "0a0022ff");
    assert_string_equal(PQgetvalue(r, 0, 1), "0a0022ff");
    assert_string_equal(PQgetvalue(r, 0, 2), "boom, \"again\"");
    assert_string_equal(PQgetvalue(r, 0, 3), "t");
    assert_string_equal(PQgetvalue(r, 0, 4), "NULL");
    assert_string_equal(PQgetvalue(r, 0, 5), "t");
    assert_string_equal(PQgetvalue(r, 0, 6), "1700000000");
    PQclear(r);
    assert_int_equal(store_lease_release(pg, "scheduler", "test-fence-many", epoch, &err), FLOE_OK);
    store_pg_close(pg);
}

static long
audit_rows(store_pg *pg, const char *resource)
{
    const char *params[] = {resource};
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, "SELECT count(*) FROM audit_log WHERE resource = $1", 1, params, NULL,
                      NULL, &r, &err) != FLOE_OK)
        fail_msg("audit: %s", err.msg);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* Issue 25: launches that came together are inserted in one transaction, each with its
 * audit row; a refused one (here: an id taken) fails alone, the others are written. */
static void
test_inserts_together_fail_alone(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-inserts", 5000);
    floe_err e[3] = {{0}}, *errs[3] = {&e[0], &e[1], &e[2]};
    char ids[3][FLOE_ID_LEN + 1], res[3][128];
    store_audit audit[3];
    store_exec ex[3];
    const store_exec *exp[3];
    assert_int_equal(store_project_ensure(pg, "fence-test", &e[0]), FLOE_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(floe_id_new(ids[i]), 0);
        snprintf(res[i], sizeof(res[i]), "/test/%s", ids[i]);
        audit[i] = (store_audit){.principal = "test",
                                 .action = "launch",
                                 .project = "fence-test",
                                 .resource = res[i],
                                 .outcome = "ok",
                                 .status = 201};
        ex[i] = fence_row(ids[i]);
        ex[i].audit = &audit[i];
        exp[i] = &ex[i];
    }
    /* ids[1] exists already (without an audit row of this resource). */
    store_exec taken = ex[1];
    taken.audit = NULL;
    assert_int_equal(store_exec_insert(pg, &taken, &e[0]), FLOE_OK);
    store_exec_insert_many(pg, exp, 3, errs, NULL);
    assert_int_equal(e[0].code, FLOE_OK);
    assert_int_equal(e[1].code, FLOE_ECONFLICT);
    assert_int_equal(e[2].code, FLOE_OK);
    for (int i = 0; i < 3; i++) {
        assert_true(phase_is(pg, ids[i], "QUEUED/"));
        assert_int_equal(audit_rows(pg, res[i]), i == 1 ? 0 : 1);
    }
    /* All fine: one transaction, all written. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(floe_id_new(ids[i]), 0);
        snprintf(res[i], sizeof(res[i]), "/test/%s", ids[i]);
        floe_err_clear(&e[i]);
    }
    store_exec_insert_many(pg, exp, 3, errs, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e[i].code, FLOE_OK);
        assert_true(phase_is(pg, ids[i], "QUEUED/"));
        assert_int_equal(audit_rows(pg, res[i]), 1);
    }
    store_pg_close(pg);
}

/* Whether id's row says epoch and has started_at (or not). */
static bool
started_under(store_pg *pg, const char *id, uint64_t epoch)
{
    PGresult *r;
    floe_err err = {0};
    const char *params[] = {id};
    if (store_pg_exec(pg, "SELECT epoch, started_at IS NOT NULL FROM executions WHERE id = $1", 1,
                      params, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("row: %s", err.msg);
    bool yes = PQntuples(r) == 1 && strtoull(PQgetvalue(r, 0, 0), NULL, 10) == epoch &&
               strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    PQclear(r);
    return yes;
}

/* Issue 25: a launch the API hands to the engine leading in its process is recorded
 * RUNNING under that engine's epoch, by the same fence as the engine's start: only while
 * the lease holds the epoch, else QUEUED. A row RUNNING under the starting term's epoch is
 * startable in one statement (one the API recorded, sent through the bus after all); one
 * RUNNING under another epoch takes the long way, which says RUNNING. */
static void
test_insert_started_under_the_lease(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-started", 5000);
    uint64_t epoch = take_lease(pg, "test-fence-started");
    floe_err e[3] = {{0}}, *errs[3] = {&e[0], &e[1], &e[2]};
    char ids[3][FLOE_ID_LEN + 1], res[128], phase[16];
    store_exec ex[3];
    const store_exec *exp[3];
    bool started[3];
    assert_int_equal(store_project_ensure(pg, "fence-test", &e[0]), FLOE_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(floe_id_new(ids[i]), 0);
        ex[i] = fence_row(ids[i]);
        exp[i] = &ex[i];
    }
    snprintf(res, sizeof(res), "/test/%s", ids[0]);
    store_audit audit = {.principal = "test",
                         .action = "launch",
                         .project = "fence-test",
                         .resource = res,
                         .outcome = "ok",
                         .status = 201};
    ex[0].audit = &audit;
    ex[0].start_epoch = epoch;
    ex[1].start_epoch = epoch - 1; /* a term the lease has moved past */
    store_exec_insert_many(pg, exp, 3, errs, started);
    for (int i = 0; i < 3; i++)
        assert_int_equal(e[i].code, FLOE_OK);
    assert_true(started[0]);
    assert_false(started[1] || started[2]);
    assert_true(phase_is(pg, ids[0], "RUNNING/"));
    assert_true(started_under(pg, ids[0], epoch));
    assert_int_equal(audit_rows(pg, res), 1);
    assert_true(phase_is(pg, ids[1], "QUEUED/"));
    assert_true(phase_is(pg, ids[2], "QUEUED/"));

    /* The term of that epoch starts it as it is; no other term does. */
    assert_int_equal(store_run_start(pg, epoch - 1, &ex[0], phase, e), FLOE_EFENCED);
    const char *both[] = {ids[0], ids[1]};
    assert_int_equal(store_run_start_many(pg, epoch, both, 2, started, e), FLOE_OK);
    assert_true(started[0] && started[1]);
    assert_int_equal(store_run_start(pg, epoch, &ex[0], phase, e), FLOE_OK);
    assert_string_equal(phase, "RUNNING");

    /* RUNNING under an older epoch: not the one statement's, the long way's. */
    PGresult *r;
    const char *p2[] = {ids[2]};
    assert_int_equal(store_pg_exec(pg,
                                   "UPDATE executions SET phase = 'RUNNING', epoch = epoch - 1,"
                                   " started_at = now() WHERE id = $1",
                                   1, p2, NULL, NULL, &r, e),
                     FLOE_OK);
    PQclear(r);
    assert_int_equal(store_run_start_many(pg, epoch, p2, 1, started, e), FLOE_OK);
    assert_false(started[0]);
    assert_int_equal(store_run_start(pg, epoch, &ex[2], phase, e), FLOE_OK);
    assert_string_equal(phase, "RUNNING");

    /* Alone (no transaction around it), the same. */
    assert_int_equal(floe_id_new(ids[2]), 0);
    ex[2].start_epoch = epoch;
    store_exec_insert_many(pg, &exp[2], 1, &errs[2], started);
    assert_int_equal(e[2].code, FLOE_OK);
    assert_true(started[0]);
    assert_true(started_under(pg, ids[2], epoch));
    assert_int_equal(store_lease_release(pg, "scheduler", "test-fence-started", epoch, e), FLOE_OK);
    store_pg_close(pg);
}

static void
setting_is(store_pg *pg, const char *want)
{
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, "SHOW synchronous_commit", 0, NULL, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("show: %s", err.msg);
    assert_string_equal(PQgetvalue(r, 0, 0), want);
    PQclear(r);
}

/* Issue 25: a start's commit does not wait for the disk, and only its own: the setting is
 * the statement's transaction's, so the connection's next write (a finish, a launch) is
 * durable when it returns. Both starts (one, several) still move the row and hold the
 * fence. */
static void
test_start_commit_is_async_alone(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-async", 5000);
    uint64_t epoch = take_lease(pg, "test-fence-async");
    floe_err err = {0};
    char ids[3][FLOE_ID_LEN + 1], phase[16];
    const char *idp[2] = {ids[1], ids[2]};
    assert_int_equal(store_project_ensure(pg, "fence-test", &err), FLOE_OK);
    store_exec ex[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(floe_id_new(ids[i]), 0);
        ex[i] = fence_row(ids[i]);
        assert_int_equal(store_exec_insert(pg, &ex[i], &err), FLOE_OK);
    }
    setting_is(pg, "on");
    assert_int_equal(store_run_start(pg, epoch, &ex[0], phase, &err), FLOE_OK);
    assert_string_equal(phase, "RUNNING");
    setting_is(pg, "on");
    bool started[2];
    assert_int_equal(store_run_start_many(pg, epoch - 1, idp, 2, started, &err), FLOE_OK);
    assert_false(started[0] || started[1]);
    assert_int_equal(store_run_start_many(pg, epoch, idp, 2, started, &err), FLOE_OK);
    assert_true(started[0] && started[1]);
    assert_true(phase_is(pg, ids[2], "RUNNING/"));
    setting_is(pg, "on");
    store_pg_close(pg);
}

/* --- Review M12 ------------------------------------------------------------------------ */

static long
count_of(store_pg *pg, const char *sql, const char *arg)
{
    const char *params[] = {arg};
    PGresult *r;
    floe_err err = {0};
    if (store_pg_exec(pg, sql, arg != NULL ? 1 : 0, params, NULL, NULL, &r, &err) != FLOE_OK)
        fail_msg("%s: %s", sql, err.msg);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* A fenced write on its own thread: the finish of one execution, or one lineage record. */
typedef struct race {
    store_pg *pg;
    uint64_t epoch;
    bool lineage;
    const char *id;
    floe_rc rc;
    bool written;
    floe_err err;
} race;

static void *
race_write(void *arg)
{
    race *w = arg;
    if (w->lineage) {
        store_lin_record rec = {.execution_id = w->id,
                                .node_id = "n",
                                .attempt = 1,
                                .project = "fence-test",
                                .domain = "development",
                                .task_name = "t",
                                .task_version = "v1",
                                .phase = "SUCCEEDED"};
        w->rc = store_lineage_write(w->pg, w->epoch, &rec, 1, &w->err);
        return NULL;
    }
    store_run_result res = {.exec_id = w->id, .phase = "SUCCEEDED"};
    const store_run_result *rp = &res;
    store_run_parent parent;
    w->rc = store_run_finish_many(w->pg, w->epoch, &rp, 1, &w->written, &parent, &w->err);
    return NULL;
}

/* A change of leader in progress (the lock taken exclusively, the epoch raised, not yet
 * committed) while the old leader writes: the write waits for the lock, and once the change
 * commits, it must read the new epoch, not the one its statement's snapshot held before
 * it waited. Answers the epoch the change committed. */
static uint64_t
race_change(store_pg *change, store_pg *watch, race *w)
{
    it_pg_sql(change, "BEGIN");
    it_pg_sql(change, "SELECT pg_advisory_xact_lock(" STORE_LEASE_LOCK_KEY ")");
    it_pg_sql(change, "UPDATE floe_leader SET epoch = epoch + 1, holder = 'test-fence-race-new'"
                      " WHERE name = 'scheduler'");
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, race_write, w), 0);
    IT_WAIT_UNTIL(count_of(watch,
                           "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                           " AND NOT granted",
                           NULL) == 1,
                  5000, "the fenced write to wait for the change of leader's lock");
    it_pg_sql(change, "COMMIT");
    assert_int_equal(pthread_join(th, NULL), 0);
    return (uint64_t)count_of(watch, "SELECT epoch FROM floe_leader WHERE name = $1", "scheduler");
}

static void
test_m12_fence_reads_the_epoch_after_its_lock(void **state)
{
    (void)state;
    store_pg *old = connect_pg("test-fence-race-old", 5000);
    store_pg *change = connect_pg("test-fence-race-new", 5000);
    store_pg *watch = connect_pg("test-fence-race-watch", 5000);
    uint64_t epoch = take_lease(change, "test-fence-race-old");
    floe_err err = {0};
    char id[FLOE_ID_LEN + 1], phase[128];
    assert_int_equal(floe_id_new(id), 0);
    assert_int_equal(store_project_ensure(old, "fence-test", &err), FLOE_OK);
    store_exec ex = fence_row(id);
    assert_int_equal(store_exec_insert(old, &ex, &err), FLOE_OK);

    /* The finish (a fence that answers): not written, the row as it was. */
    race w = {.pg = old, .epoch = epoch, .id = id};
    uint64_t now = race_change(change, watch, &w);
    assert_int_equal(now, epoch + 1);
    assert_int_equal(w.rc, FLOE_OK);
    assert_false(w.written);
    phase_of(old, id, phase, sizeof(phase));
    assert_string_equal(phase, "QUEUED/");

    /* Lineage (a fence that fails the transaction): refused, nothing written. */
    w = (race){.pg = old, .epoch = now, .lineage = true, .id = id};
    now = race_change(change, watch, &w);
    assert_int_equal(now, epoch + 2);
    assert_int_equal(w.rc, FLOE_EFENCED);
    assert_int_equal(
        count_of(old, "SELECT count(*) FROM lineage_nodes WHERE execution_id = $1", id), 0);
    it_pg_lease_release(change, "test-fence-race-new", now);
    store_pg_close(old);
    store_pg_close(change);
    store_pg_close(watch);
}

/* Every write of the leader's other than an execution's: under an epoch the lease has
 * moved past, refused and nothing changed; under the lease's, done. */
static void
test_m12_leader_writes_fenced(void **state)
{
    (void)state;
    store_pg *pg = connect_pg("test-fence-writes", 5000);
    uint64_t epoch = take_lease(pg, "test-fence-writes");
    floe_err err = {0};
    char key[64];
    snprintf(key, sizeof(key), "fence-key-%lld", (long long)floe_now_us());
    assert_int_equal(store_project_ensure(pg, "fence-test", &err), FLOE_OK);
    store_catalog_entry e = {.cache_key = key,
                             .project = "fence-test",
                             .domain = "development",
                             .task_name = "t",
                             .task_version = "v1",
                             .cache_version = "1",
                             .outputs = (const uint8_t *)"",
                             .execution_id = "x",
                             .node_id = "n",
                             .attempt = 1};
    const char *n_sql = "SELECT count(*) FROM catalog WHERE cache_key = $1";
    assert_int_equal(store_catalog_record(pg, epoch - 1, &e, false, &err), FLOE_EFENCED);
    assert_non_null(strstr(err.msg, "no longer holds the lease"));
    assert_int_equal(count_of(pg, n_sql, key), 0);
    assert_int_equal(store_catalog_record(pg, epoch, &e, false, &err), FLOE_OK);
    assert_int_equal(count_of(pg, n_sql, key), 1);
    int64_t n = 0;
    assert_int_equal(
        store_catalog_delete(pg, epoch - 1, "fence-test", "development", NULL, key, &n, &err),
        FLOE_EFENCED);
    assert_int_equal(count_of(pg, n_sql, key), 1);
    assert_int_equal(
        store_catalog_delete(pg, epoch, "fence-test", "development", NULL, key, &n, &err), FLOE_OK);
    assert_int_equal(n, 1);

    /* Launch plans: the published marks, the outbox's, the retention's deletes. */
    const char *ids[] = {"no-such-execution"};
    assert_int_equal(store_lp_published(pg, epoch - 1, ids, 1, &err), FLOE_EFENCED);
    assert_int_equal(store_lp_outbox_sent(pg, epoch - 1, ids, 1, &err), FLOE_EFENCED);
    assert_int_equal(store_lp_prune(pg, epoch - 1, 3600, 10, &n, &err), FLOE_EFENCED);
    assert_int_equal(store_lp_published(pg, epoch, ids, 1, &err), FLOE_OK);
    assert_int_equal(store_lp_outbox_sent(pg, epoch, ids, 1, &err), FLOE_OK);
    assert_int_equal(store_lp_prune(pg, epoch, 3600, 10, &n, &err), FLOE_OK);
    it_pg_lease_release(pg, "test-fence-writes", epoch);
    store_pg_close(pg);
}

static int
setup(void **state)
{
    (void)state;
    cfg = it_config("test_fence", NULL, 0);
    /* A fresh stack has no schema until a scheduler starts: apply it, as one would. */
    floe_err err = {0};
    store_pg *pg = store_pg_connect(cfg->postgres_url, "test-fence-setup", 30000, &err);
    unsigned applied = 0;
    if (pg == NULL || store_migrate_apply(pg, &applied, &err) != FLOE_OK)
        fail_msg("schema: %s", err.msg);
    store_pg_close(pg);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    floe_config_free(cfg);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h7_fenced_transaction_does_not_block_renewal),
        cmocka_unit_test(test_h7_statement_timeout),
        cmocka_unit_test(test_c2_data_errors_are_the_items_fault),
        cmocka_unit_test(test_finish_is_one_fenced_statement),
        cmocka_unit_test(test_many_in_one_statement),
        cmocka_unit_test(test_start_commit_is_async_alone),
        cmocka_unit_test(test_inserts_together_fail_alone),
        cmocka_unit_test(test_insert_started_under_the_lease),
        cmocka_unit_test(test_m12_fence_reads_the_epoch_after_its_lock),
        cmocka_unit_test(test_m12_leader_writes_fenced),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
