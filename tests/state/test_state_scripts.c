/*
 * The Redis scripts of storage/redis as specifications of the state machine, against a
 * real redis-server of our own (a throwaway one on a free port, no persistence), through
 * the typed calls the engine and the workers use (store_state). Each transition, each
 * duplicate and stale event, and the fence of every leader script.
 *
 * The workflow is a diamond: a(0) -> b(1), a -> c(2), b and c -> d(3).
 */
#include "floe_phase.h"
#include "state_harness.h"
#include "store_redis_probe.h"
#include "store_state.h"
#include "store_state_codec.h"

#include <event2/event.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* --- The leader's scripts, as the engine calls them ------------------------------------- */

static void
create(ans *a, uint64_t epoch, const char *exec, int policy)
{
    memset(a, 0, sizeof(*a));
    store_create c = {.exec = exec,
                      .wf_ref = "p/d/diamond@1",
                      .policy = policy,
                      .inputs = "",
                      .inputs_len = 0,
                      .n_nodes = 4,
                      .unresolved_csv = "0,1,1,2",
                      .flags = ""};
    await(a, store_state_exec_create(redis, epoch, &c, on_script, a), "exec_create");
}

static const char *const down[] = {"1,2", "3", "3", ""};
static const char *const ids[] = {"a", "b", "c", "d"};
static const char *const closure[] = {"1,2,3", "3", "3", ""};

static void
started(ans *a, uint64_t epoch, const char *exec, unsigned n, unsigned att)
{
    memset(a, 0, sizeof(*a));
    await(a, store_state_node_started(redis, epoch, exec, n, att, "w1", 1000, on_script, a),
          "node_started");
}

static void
succeeded(ans *a, uint64_t epoch, const char *exec, unsigned n, unsigned att)
{
    memset(a, 0, sizeof(*a));
    store_success s = {.exec = exec,
                       .node = n,
                       .attempt = att,
                       .outputs = "out",
                       .outputs_len = 3,
                       .worker = "w1",
                       .started_us = 1000,
                       .finished_us = 2000,
                       .down_csv = down[n],
                       .phase = FLOE_PHASE_SUCCEEDED};
    await(a, store_state_node_succeeded(redis, epoch, &s, on_script, a), "node_succeeded");
}

typedef struct fail_opts {
    int kind;
    bool retriable;
    uint32_t user_budget, system_budget, jitter;
    bool lease_check;
} fail_opts;

static void
failed(ans *a, uint64_t epoch, const char *exec, unsigned n, unsigned att, fail_opts o)
{
    memset(a, 0, sizeof(*a));
    store_failure f = {.exec = exec,
                       .node = n,
                       .attempt = att,
                       .kind = o.kind,
                       .retriable = o.retriable,
                       .user_budget = o.user_budget,
                       .system_budget = o.system_budget,
                       .backoff_initial_ms = 1000,
                       .backoff_max_ms = 3000,
                       .backoff_multiplier_milli = 2000,
                       .jitter_milli = o.jitter,
                       .code = "exit_1",
                       .message = "it broke",
                       .worker = "w1",
                       .started_us = 1000,
                       .finished_us = 2000,
                       .closure_csv = closure[n],
                       .lease_check = o.lease_check,
                       .node_id = ids[n]};
    await(a, store_state_node_failed(redis, epoch, &f, on_script, a), "node_failed");
}

static void
expect_items(const ans *a, size_t n, ...)
{
    va_list ap;
    va_start(ap, n);
    if (a->n_items != n)
        fail_msg("expected %zu items, got %zu (note \"%s\")", n, a->n_items, a->note);
    for (size_t i = 0; i < n; i++) {
        long long want = va_arg(ap, int);
        if (a->items[i] != want)
            fail_msg("item %zu: expected %lld, got %lld", i, want, a->items[i]);
    }
    va_end(ap);
}

/* The retry of exec's node n, attempt att, falls due now: timer_fire makes it READY. */
static void
retry_due(const char *exec, unsigned n, unsigned att)
{
    char m[STORE_KEY_MAX];
    store_member(m, exec, n, att);
    ans a;
    cmd(&a, 4, "ZADD", STORE_KEY_DELAYED, "1", m);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_timer_fire(redis, EPOCH, 100, on_script, &a), "timer_fire");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(a.n_items, 1);
    assert_int_equal(node(exec, n).phase, FLOE_PHASE_READY);
    assert_true(in_zset(STORE_KEY_OUTBOX, exec, n, att));
}

/* --- Creation --------------------------------------------------------------------------- */

static void
test_create_makes_sources_ready(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "x1", 1);
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(a.phase, 0);
    expect_items(&a, 1, 0);
    assert_int_equal(exec_phase("x1"), FLOE_PHASE_RUNNING);
    store_node_rec r = node("x1", 0);
    assert_int_equal(r.phase, FLOE_PHASE_READY);
    assert_int_equal(r.attempt, 1);
    r = node("x1", 3);
    assert_int_equal(r.phase, FLOE_PHASE_QUEUED);
    assert_int_equal(r.unresolved, 2);
    assert_true(in_zset(STORE_KEY_OUTBOX, "x1", 0, 1));
    assert_false(in_zset(STORE_KEY_OUTBOX, "x1", 1, 1));
    /* Again: the state exists, nothing changes (a redelivered ExecutionRequested). */
    succeeded(&a, EPOCH, "x1", 0, 1);
    create(&a, EPOCH, "x1", 1);
    assert_int_equal(a.st, STORE_ST_NOOP);
    assert_int_equal(node("x1", 0).phase, FLOE_PHASE_SUCCEEDED);
}

/* --- Readiness on the diamond ----------------------------------------------------------- */

static void
test_diamond_readiness(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "d1", 1);
    started(&a, EPOCH, "d1", 0, 1);
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(node("d1", 0).phase, FLOE_PHASE_RUNNING);
    succeeded(&a, EPOCH, "d1", 0, 1);
    assert_int_equal(a.st, STORE_ST_OK);
    expect_items(&a, 2, 1, 2); /* b and c */
    assert_int_equal(node("d1", 3).unresolved, 2);
    succeeded(&a, EPOCH, "d1", 1, 1);
    expect_items(&a, 0); /* d still waits for c */
    assert_int_equal(node("d1", 3).phase, FLOE_PHASE_QUEUED);
    assert_int_equal(node("d1", 3).unresolved, 1);
    succeeded(&a, EPOCH, "d1", 2, 1);
    expect_items(&a, 1, 3);
    assert_int_equal(a.phase, 0);
    succeeded(&a, EPOCH, "d1", 3, 1);
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(a.phase, FLOE_PHASE_SUCCEEDED);
    assert_int_equal(exec_phase("d1"), FLOE_PHASE_SUCCEEDED);
    ans m;
    assert_string_equal(cmd(&m, 3, "SISMEMBER", STORE_KEY_FINALIZE, "d1"), "1");
}

/* --- Duplicates and stale events change nothing ----------------------------------------- */

static void
test_duplicates_and_stale(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "s1", 1);
    started(&a, EPOCH, "s1", 0, 1);
    started(&a, EPOCH, "s1", 0, 1);
    assert_int_equal(a.st, STORE_ST_NOOP); /* already running */
    started(&a, EPOCH, "s1", 0, 2);
    assert_int_equal(a.st, STORE_ST_NOOP); /* never dispatched */
    started(&a, EPOCH, "s1", 1, 1);
    assert_int_equal(a.st, STORE_ST_NOOP); /* node not ready */
    assert_int_equal(node("s1", 1).phase, FLOE_PHASE_QUEUED);
    succeeded(&a, EPOCH, "s1", 0, 1);
    expect_items(&a, 2, 1, 2);
    /* The same success again releases nothing twice. */
    succeeded(&a, EPOCH, "s1", 0, 1);
    expect_items(&a, 0);
    assert_int_equal(node("s1", 3).unresolved, 2);
    /* A failure of an attempt that already succeeded changes nothing. */
    failed(&a, EPOCH, "s1", 0, 1, (fail_opts){.kind = FLOE_ERROR_KIND_USER});
    assert_int_equal(a.st, STORE_ST_NOOP);
    assert_int_equal(node("s1", 0).phase, FLOE_PHASE_SUCCEEDED);
    /* Events of an execution Redis does not know. */
    succeeded(&a, EPOCH, "nope", 0, 1);
    assert_int_equal(a.st, STORE_ST_NOOP);
    started(&a, EPOCH, "nope", 0, 1);
    assert_int_equal(a.st, STORE_ST_NOOP);
}

/* A late success of attempt 1 after attempt 2 started is stale. */
static void
test_late_success_of_old_attempt(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "r1", 1);
    started(&a, EPOCH, "r1", 0, 1);
    failed(
        &a, EPOCH, "r1", 0, 1,
        (fail_opts){
            .kind = FLOE_ERROR_KIND_SYSTEM, .retriable = true, .system_budget = 3, .jitter = 1000});
    assert_int_equal(a.st, STORE_ST_RETRY);
    expect_items(&a, 2, 2, 1000); /* attempt 2 in initial × 2^0 = 1 s (full jitter) */
    assert_int_equal(node("r1", 0).phase, FLOE_PHASE_RETRYING);
    assert_true(in_zset(STORE_KEY_DELAYED, "r1", 0, 2));
    succeeded(&a, EPOCH, "r1", 0, 1);
    assert_int_equal(a.st, STORE_ST_NOOP);
    assert_int_equal(node("r1", 0).phase, FLOE_PHASE_RETRYING);
    assert_int_equal(node("r1", 1).phase, FLOE_PHASE_QUEUED);
    /* Attempt 2 is due (READY): attempt 1's success is still stale, and so are its
     * failure and its start. */
    retry_due("r1", 0, 2);
    succeeded(&a, EPOCH, "r1", 0, 1);
    assert_int_equal(a.st, STORE_ST_NOOP);
    failed(&a, EPOCH, "r1", 0, 1,
           (fail_opts){.kind = FLOE_ERROR_KIND_SYSTEM, .retriable = true, .system_budget = 3});
    assert_int_equal(a.st, STORE_ST_NOOP);
    started(&a, EPOCH, "r1", 0, 1);
    assert_int_equal(a.st, STORE_ST_NOOP);
    store_node_rec r = node("r1", 0);
    assert_int_equal(r.phase, FLOE_PHASE_READY);
    assert_int_equal(r.attempt, 2);
    assert_int_equal(node("r1", 1).phase, FLOE_PHASE_QUEUED);
    succeeded(&a, EPOCH, "r1", 0, 2);
    expect_items(&a, 2, 1, 2);
}

/* --- Retries and backoff ---------------------------------------------------------------- */

static void
test_retry_budgets_and_backoff(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "b1", 1);
    fail_opts sys = {.kind = FLOE_ERROR_KIND_SYSTEM, .retriable = true, .system_budget = 3};
    /* jitter 0: half the delay; delays 1 s, 2 s, then capped at 3 s. */
    int64_t want[] = {500, 1000, 1500};
    for (unsigned att = 1; att <= 3; att++) {
        failed(&a, EPOCH, "b1", 0, att, sys);
        assert_int_equal(a.st, STORE_ST_RETRY);
        expect_items(&a, 2, (int)att + 1, (int)want[att - 1]);
        assert_int_equal(node("b1", 0).phase, FLOE_PHASE_RETRYING);
        /* Not due yet: a failure of the next attempt before it runs is refused. */
        failed(&a, EPOCH, "b1", 0, att + 1, sys);
        assert_int_equal(a.st, STORE_ST_NOOP);
        retry_due("b1", 0, att + 1);
    }
    /* A stale delayed entry (an old attempt) does not bring the node back. */
    char old[STORE_KEY_MAX];
    store_member(old, "b1", 0, 1);
    ans z;
    cmd(&z, 4, "ZADD", STORE_KEY_DELAYED, "1", old);
    memset(&z, 0, sizeof(z));
    await(&z, store_state_timer_fire(redis, EPOCH, 100, on_script, &z), "timer_fire");
    assert_int_equal(z.n_items, 0);
    store_node_rec r = node("b1", 0);
    assert_int_equal(r.system_failures, 3);
    assert_int_equal(r.user_failures, 0);
    /* The budget of the other kind is its own: a user failure with 0 user retries fails. */
    failed(&a, EPOCH, "b1", 0, 4, (fail_opts){.kind = FLOE_ERROR_KIND_USER, .retriable = true});
    assert_int_equal(a.st, STORE_ST_FAILED);
    assert_int_equal(a.phase, FLOE_PHASE_FAILED); /* fail-fast ends the execution */
    assert_int_equal(node("b1", 0).phase, FLOE_PHASE_FAILED);
    /* The execution's error names the node by its id (issue 26), not its index. */
    char hk[STORE_KEY_MAX];
    store_key_exec(hk, "b1");
    ans h;
    assert_string_equal(cmd(&h, 3, "HGET", hk, "err"), "node a: it broke");
    /* The node's error and every attempt are in the state as the codec reads them. */
    char key[STORE_KEY_MAX];
    store_key_exec(key, "b1");
    ans m;
    const char *e = cmd(&m, 3, "HGET", key, "e0");
    store_node_error ne;
    assert_true(store_state_node_error_parse(e, strlen(e), &ne));
    assert_int_equal(ne.kind, FLOE_ERROR_KIND_USER);
    store_key_log(key, "b1");
    assert_string_equal(cmd(&m, 2, "LLEN", key), "4");
    const char *l = cmd(&m, 3, "LINDEX", key, "3");
    store_attempt_entry ae;
    assert_true(store_state_attempt_parse(l, strlen(l), &ae));
    assert_int_equal(ae.attempt, 4);
    assert_int_equal(ae.phase, FLOE_PHASE_FAILED);
}

static void
test_not_retriable_fails_at_once(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "n1", 1);
    failed(&a, EPOCH, "n1", 0, 1,
           (fail_opts){.kind = FLOE_ERROR_KIND_SYSTEM, .retriable = false, .system_budget = 3});
    assert_int_equal(a.st, STORE_ST_FAILED);
}

/* finish_independent: the failed node's closure is SKIPPED, the rest runs on. */
static void
test_finish_independent_skips_closure(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "f1", 0);
    succeeded(&a, EPOCH, "f1", 0, 1);
    failed(&a, EPOCH, "f1", 1, 1, (fail_opts){.kind = FLOE_ERROR_KIND_USER});
    assert_int_equal(a.st, STORE_ST_FAILED);
    assert_int_equal(a.phase, 0); /* c still runs */
    expect_items(&a, 1, 3);       /* d skipped */
    assert_int_equal(node("f1", 3).phase, FLOE_PHASE_SKIPPED);
    assert_int_equal(node("f1", 2).phase, FLOE_PHASE_READY);
    /* Even were d's count to reach 0, a SKIPPED node is never released. */
    char key[STORE_KEY_MAX];
    store_key_exec(key, "f1");
    ans m;
    cmd(&m, 4, "HSET", key, "3", "9,0,1,0,0");
    succeeded(&a, EPOCH, "f1", 2, 1);
    expect_items(&a, 0); /* d is SKIPPED, not released */
    assert_int_equal(a.phase, FLOE_PHASE_FAILED);
}

/* --- Lease expiry ----------------------------------------------------------------------- */

static void
test_lease_check(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "l1", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "l1", 0, 1, "w1", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
    fail_opts sweep = {
        .kind = FLOE_ERROR_KIND_SYSTEM, .retriable = true, .system_budget = 3, .lease_check = true};
    failed(&a, EPOCH, "l1", 0, 1, sweep);
    assert_int_equal(a.st, STORE_ST_NOOP); /* the lease lives: the sweeper raced a renewal */
    assert_int_equal(node("l1", 0).phase, FLOE_PHASE_READY);
    /* Expire it by hand: the same call now retries the attempt. */
    char m[STORE_KEY_MAX];
    store_member(m, "l1", 0, 1);
    ans x;
    cmd(&x, 4, "ZADD", STORE_KEY_LEASES, "1", m);
    /* The claim key lapsed with the lease (a worker lost before it sent TaskStarted): a
     * lost lease, not "never claimed" (the claim recorded who held it). */
    char kc[STORE_KEY_MAX], kl[STORE_KEY_MAX];
    assert_int_equal(store_key_claim(kc, "l1", 0, 1), FLOE_OK);
    cmd(&x, 2, "DEL", kc);
    failed(&a, EPOCH, "l1", 0, 1, sweep);
    assert_int_equal(a.st, STORE_ST_RETRY);
    assert_false(in_zset(STORE_KEY_LEASES, "l1", 0, 1));
    assert_int_equal(store_key_log(kl, "l1"), FLOE_OK);
    cmd(&x, 3, "LINDEX", kl, "-1");
    assert_non_null(strstr(x.str, "exit_1"));
    assert_null(strstr(x.str, "not_claimed"));
    /* An attempt never claimed: its expired lease says so. */
    create(&a, EPOCH, "l2", 1);
    store_member(m, "l2", 0, 1);
    cmd(&x, 4, "ZADD", STORE_KEY_LEASES, "1", m);
    failed(&a, EPOCH, "l2", 0, 1, sweep);
    assert_int_equal(a.st, STORE_ST_RETRY);
    assert_int_equal(store_key_log(kl, "l2"), FLOE_OK);
    cmd(&x, 3, "LINDEX", kl, "-1");
    assert_non_null(strstr(x.str, "not_claimed"));
}

/* --- Claims and heartbeats (the workers' scripts) ---------------------------------------- */

static void
test_claim_once(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "c1", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "c1", 0, 1, "w1", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "c1", 0, 1, "w2", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_DUP);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "c1", 0, 1, "w1", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK); /* the holder again: idempotent */
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "c1", 0, 2, "w2", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_STALE);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "c1", 1, 1, "w2", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_STALE); /* b is not ready */
    memset(&a, 0, sizeof(a));
    await(&a, store_state_heartbeat(redis, "c1", 0, 1, "w2", 60000, on_script, &a), "beat");
    assert_int_equal(a.st, STORE_ST_LOST); /* not w2's claim */
    memset(&a, 0, sizeof(a));
    await(&a, store_state_heartbeat(redis, "c1", 0, 1, "w1", 60000, on_script, &a), "beat");
    assert_int_equal(a.st, STORE_ST_OK);
}

/* Review H3, issue 25: the leases of attempts whose results are in Kafka are stretched in
 * one call: the worker's own only; a claim another worker holds or one already gone (its
 * result applied) is left as it is. */
static void
test_result_hold_batch(void **state)
{
    (void)state;
    flush();
    ans a, x;
    create(&a, EPOCH, "r1", 1);
    create(&a, EPOCH, "r2", 1);
    char kc[3][STORE_KEY_MAX], m[3][STORE_KEY_MAX];
    const char *ex[3] = {"r1", "r2", "r3"}; /* r3: no claim at all */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(store_key_claim(kc[i], ex[i], 0, 1), FLOE_OK);
        assert_int_equal(store_member(m[i], ex[i], 0, 1), FLOE_OK);
    }
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "r1", 0, 1, "w1", 60000, on_script, &a), "claim");
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "r2", 0, 1, "w2", 60000, on_script, &a), "claim");
    const char *claims[3] = {kc[0], kc[1], kc[2]}, *members[3] = {m[0], m[1], m[2]};
    memset(&a, 0, sizeof(a));
    await(&a, store_state_hold(redis, "w1", 600000, claims, members, 3, on_script, &a), "hold");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(a.phase, 1); /* r1's only */
    assert_true(atoll(cmd(&x, 2, "PTTL", kc[0])) > 590000);
    assert_true(atoll(cmd(&x, 2, "PTTL", kc[1])) <= 60000);
    /* Both claimed for 60 s at the same moment; r1's deadline is now 600 s out. */
    long long due1 = atoll(cmd(&x, 3, "ZSCORE", STORE_KEY_LEASES, m[0]));
    long long due2 = atoll(cmd(&x, 3, "ZSCORE", STORE_KEY_LEASES, m[1]));
    assert_true(due1 - due2 > 530000);
    assert_true(cmd(&x, 2, "EXISTS", kc[2])[0] == '0'); /* nothing made for r3 */
    assert_true(store_state_hold(redis, "w1", 600000, claims, members, 0, on_script, &a) ==
                FLOE_EINVAL);
}

/* A call of exec_recorded left in the open group (not awaited). */
static void
recorded_later(ans *a, uint64_t epoch, const char *exec)
{
    memset(a, 0, sizeof(*a));
    assert_int_equal(store_state_exec_recorded(redis, epoch, exec, 60000, on_script, a), FLOE_OK);
}

/* Issue 25: the executions recorded in one loop pass release their Redis state in one call,
 * each answered on its own: each leaves the finalize set and the deadlines and keeps its
 * state for the retention only; one not named stays as it was; a stale leader's calls are
 * each refused and change nothing. */
static void
test_exec_recorded_together(void **state)
{
    (void)state;
    flush();
    ans a[3], x;
    const char *ex[4] = {"f1", "f2", "f3", "f4"}; /* f3: no state; f4: not recorded */
    char kx[4][STORE_KEY_MAX];
    for (int i = 0; i < 4; i++) {
        if (i != 2)
            create(&a[0], EPOCH, ex[i], 1);
        assert_int_equal(store_key_exec(kx[i], ex[i]), FLOE_OK);
        cmd(&x, 3, "SADD", STORE_KEY_FINALIZE, ex[i]);
        cmd(&x, 4, "ZADD", STORE_KEY_DEADLINES, "1000", ex[i]);
    }
    for (int i = 0; i < 3; i++)
        recorded_later(&a[i], EPOCH - 1, ex[i]);
    assert_int_equal(store_redis_pending(redis), 3);
    assert_string_equal(cmd(&x, 2, "SCARD", STORE_KEY_FINALIZE), "4"); /* the group went first */
    for (int i = 0; i < 3; i++) {
        assert_true(a[i].done);
        assert_int_equal(a[i].st, STORE_ST_FENCED);
    }
    assert_string_equal(cmd(&x, 2, "PTTL", kx[0]), "-1");
    for (int i = 0; i < 3; i++)
        recorded_later(&a[i], EPOCH, ex[i]);
    assert_string_equal(cmd(&x, 2, "SCARD", STORE_KEY_FINALIZE), "1");
    for (int i = 0; i < 3; i++) {
        assert_true(a[i].done);
        assert_int_equal(a[i].st, STORE_ST_OK);
        assert_string_equal(cmd(&x, 3, "SISMEMBER", STORE_KEY_FINALIZE, ex[i]), "0");
        assert_string_equal(cmd(&x, 3, "ZSCORE", STORE_KEY_DEADLINES, ex[i]), "");
    }
    for (int i = 0; i < 2; i++) {
        long long ttl = atoll(cmd(&x, 2, "PTTL", kx[i]));
        assert_true(ttl > 0 && ttl <= 60000);
    }
    assert_string_equal(cmd(&x, 2, "EXISTS", kx[2]), "0"); /* nothing made for f3 */
    assert_string_equal(cmd(&x, 3, "SISMEMBER", STORE_KEY_FINALIZE, ex[3]), "1");
    assert_string_equal(cmd(&x, 3, "ZSCORE", STORE_KEY_DEADLINES, ex[3]), "1000");
    assert_string_equal(cmd(&x, 2, "PTTL", kx[3]), "-1");
}

/* Review H1: a success from a worker that does not hold the attempt's claim changes
 * nothing; the holder's does. */
static void
test_success_only_from_claim_holder(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "h1", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "h1", 0, 1, "w2", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
    succeeded(&a, EPOCH, "h1", 0, 1); /* from w1 */
    assert_int_equal(a.st, STORE_ST_NOOP);
    assert_non_null(strstr(a.note, "w2 holds the claim"));
    memset(&a, 0, sizeof(a));
    store_success s = {.exec = "h1",
                       .node = 0,
                       .attempt = 1,
                       .outputs = "out",
                       .outputs_len = 3,
                       .worker = "w2",
                       .started_us = 1000,
                       .finished_us = 2000,
                       .down_csv = down[0],
                       .phase = FLOE_PHASE_SUCCEEDED};
    await(&a, store_state_node_succeeded(redis, EPOCH, &s, on_script, &a), "node_succeeded");
    assert_int_equal(a.st, STORE_ST_OK);
}

/* The same for a failure: from the claim holder only, but the engine's own lease expiry. */
static void
test_failure_only_from_claim_holder(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "h2", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "h2", 0, 1, "w2", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
    failed(&a, EPOCH, "h2", 0, 1, (fail_opts){.kind = 1, .user_budget = 1}); /* from w1 */
    assert_int_equal(a.st, STORE_ST_NOOP);
    assert_non_null(strstr(a.note, "w2 holds the claim"));
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "h2", 0, 1, "w1", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_DUP);
    /* w2 lets go of it (released at shutdown: no claim left), then w1's report counts */
    memset(&a, 0, sizeof(a));
    await(&a, store_state_release(redis, "h2", 0, 1, "w2", on_script, &a), "release");
    failed(&a, EPOCH, "h2", 0, 1,
           (fail_opts){.kind = 1, .user_budget = 1}); /* counted: not retriable, so failed */
    assert_int_equal(a.st, STORE_ST_FAILED);
}

/* --- Abort ------------------------------------------------------------------------------ */

static void
test_abort_ends_and_stops_workers(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "a1", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "a1", 0, 1, "w1", 60000, on_script, &a), "claim");
    memset(&a, 0, sizeof(a));
    await(
        &a,
        store_state_exec_abort(redis, EPOCH, "a1", FLOE_PHASE_ABORTED, "terminated", on_script, &a),
        "abort");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(a.phase, FLOE_PHASE_ABORTED);
    assert_int_equal(exec_phase("a1"), FLOE_PHASE_ABORTED);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_heartbeat(redis, "a1", 0, 1, "w1", 60000, on_script, &a), "beat");
    assert_int_equal(a.st, STORE_ST_ABORT);
    /* Terminal: later events and a second abort change nothing. */
    succeeded(&a, EPOCH, "a1", 0, 1);
    assert_int_equal(a.st, STORE_ST_NOOP);
    memset(&a, 0, sizeof(a));
    await(&a,
          store_state_exec_abort(redis, EPOCH, "a1", FLOE_PHASE_TIMED_OUT, "late", on_script, &a),
          "abort");
    assert_int_equal(a.st, STORE_ST_NOOP);
    assert_int_equal(exec_phase("a1"), FLOE_PHASE_ABORTED);
}

/* --- The fence -------------------------------------------------------------------------- */

static void
test_fence_refuses_older_epochs(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "e1", 1);
    create(&a, EPOCH - 1, "e2", 1);
    assert_int_equal(a.st, STORE_ST_FENCED);
    ans m;
    char key[STORE_KEY_MAX];
    store_key_exec(key, "e2");
    assert_string_equal(cmd(&m, 2, "EXISTS", key), "0");
    started(&a, EPOCH - 1, "e1", 0, 1);
    assert_int_equal(a.st, STORE_ST_FENCED);
    succeeded(&a, EPOCH - 1, "e1", 0, 1);
    assert_int_equal(a.st, STORE_ST_FENCED);
    failed(&a, EPOCH - 1, "e1", 0, 1, (fail_opts){.kind = FLOE_ERROR_KIND_USER});
    assert_int_equal(a.st, STORE_ST_FENCED);
    memset(&a, 0, sizeof(a));
    await(&a,
          store_state_exec_abort(redis, EPOCH - 1, "e1", FLOE_PHASE_ABORTED, "x", on_script, &a),
          "abort");
    assert_int_equal(a.st, STORE_ST_FENCED);
    assert_int_equal(node("e1", 0).phase, FLOE_PHASE_READY);
    assert_int_equal(exec_phase("e1"), FLOE_PHASE_RUNNING);
    /* A newer epoch is taken and from then on the old one is refused. */
    started(&a, EPOCH + 1, "e1", 0, 1);
    assert_int_equal(a.st, STORE_ST_OK);
    succeeded(&a, EPOCH, "e1", 0, 1);
    assert_int_equal(a.st, STORE_ST_FENCED);
    assert_string_equal(cmd(&m, 2, "GET", STORE_KEY_EPOCH), "8");
}

/* --- Map nodes ------------------------------------------------------------------------- */

static void
item_succeeded(ans *a, const char *exec, unsigned idx, const char *item)
{
    memset(a, 0, sizeof(*a));
    store_success s = {.exec = exec,
                       .node = idx,
                       .attempt = 1,
                       .outputs = "out",
                       .outputs_len = 3,
                       .worker = "w1",
                       .down_csv = "",
                       .phase = FLOE_PHASE_SUCCEEDED,
                       .item = item};
    await(a, store_state_node_succeeded(redis, EPOCH, &s, on_script, a), "node_succeeded");
}

/* Node 1 of the diamond maps 5 items (indices 100..104), 2 at a time: item k + 2 waits for
 * item k, a failed item releases the next as a success does and fails neither the map node
 * nor the execution, and the map node is READY again (in the outbox) once the last item
 * ended; its success then releases its downstream as any node's. */
static void
test_map_items(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "m1", 1); /* fail fast: an item's failure must not end it */
    succeeded(&a, EPOCH, "m1", 0, 1);
    const uint8_t *items[5] = {(const uint8_t *)"a", (const uint8_t *)"b", (const uint8_t *)"c",
                               (const uint8_t *)"d", (const uint8_t *)"e"};
    size_t lens[5] = {1, 1, 1, 1, 1};
    memset(&a, 0, sizeof(a));
    await(&a,
          store_state_map_expand(redis, EPOCH, "m1", 1, 1, 100, 2, items, lens, 5, on_script, &a),
          "map_expand");
    assert_int_equal(a.st, STORE_ST_OK);
    expect_items(&a, 2, 100, 101);
    assert_int_equal(node("m1", 1).phase, FLOE_PHASE_RUNNING);
    assert_int_equal(node("m1", 1).unresolved, 5);
    assert_int_equal(node("m1", 102).phase, FLOE_PHASE_QUEUED);
    assert_false(in_zset(STORE_KEY_OUTBOX, "m1", 1, 1));
    assert_true(in_zset(STORE_KEY_OUTBOX, "m1", 101, 1));
    char key[STORE_KEY_MAX];
    store_key_exec(key, "m1");
    ans v;
    assert_string_equal(cmd(&v, 3, "HGET", key, "v103"), "d");
    /* started once only */
    memset(&a, 0, sizeof(a));
    await(&a,
          store_state_map_expand(redis, EPOCH, "m1", 1, 1, 100, 2, items, lens, 5, on_script, &a),
          "map_expand");
    assert_int_equal(a.st, STORE_ST_NOOP);

    item_succeeded(&a, "m1", 100, "1,100,0,2");
    expect_items(&a, 1, 102);
    memset(&a, 0, sizeof(a));
    store_failure f = {.exec = "m1",
                       .node = 101,
                       .attempt = 1,
                       .kind = 1,
                       .retriable = false,
                       .code = "exit",
                       .message = "no",
                       .worker = "w1",
                       .node_id = "b.1",
                       .item = "1,100,1,2"};
    await(&a, store_state_node_failed(redis, EPOCH, &f, on_script, &a), "node_failed");
    assert_int_equal(a.st, STORE_ST_FAILED);
    assert_string_equal(a.note, "item");
    expect_items(&a, 1, 103);
    assert_int_equal(exec_phase("m1"), FLOE_PHASE_RUNNING);
    assert_int_equal(node("m1", 101).phase, FLOE_PHASE_FAILED);
    item_succeeded(&a, "m1", 102, "1,100,2,2");
    expect_items(&a, 1, 104);
    item_succeeded(&a, "m1", 103, "1,100,3,2");
    expect_items(&a, 0);
    item_succeeded(&a, "m1", 104, "1,100,4,2");
    expect_items(&a, 1, 1); /* the map node, to be gathered */
    assert_int_equal(node("m1", 1).phase, FLOE_PHASE_READY);
    assert_true(in_zset(STORE_KEY_OUTBOX, "m1", 1, 1));
    succeeded(&a, EPOCH, "m1", 1, 1); /* the gathered outputs */
    expect_items(&a, 0);              /* node 3 also waits for node 2 */
    succeeded(&a, EPOCH, "m1", 2, 1);
    expect_items(&a, 1, 3);
    succeeded(&a, EPOCH, "m1", 3, 1);
    assert_int_equal(exec_phase("m1"), FLOE_PHASE_SUCCEEDED);
}

/* A branch on the diamond: node 0 decides, 1 and 2 are its cases, 3 its join. The case
 * taken runs, the other is SKIPPED and counted done for the join; a gate waits RUNNING,
 * with its due time in the lease set when it has one. */
static void
test_branch_and_gate(void **state)
{
    (void)state;
    flush();
    ans a;
    create(&a, EPOCH, "b1", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_branch_take(redis, EPOCH, "b1", 0, 1, 2, 3, "1,2", on_script, &a),
          "branch_take");
    assert_int_equal(a.st, STORE_ST_OK);
    expect_items(&a, 1, 2);
    assert_int_equal(node("b1", 0).phase, FLOE_PHASE_SUCCEEDED);
    assert_int_equal(node("b1", 1).phase, FLOE_PHASE_SKIPPED);
    assert_int_equal(node("b1", 3).unresolved, 1);
    memset(&a, 0, sizeof(a)); /* decided once */
    await(&a, store_state_branch_take(redis, EPOCH, "b1", 0, 1, 1, 3, "1,2", on_script, &a),
          "branch_take");
    assert_int_equal(a.st, STORE_ST_NOOP);
    succeeded(&a, EPOCH, "b1", 2, 1);
    expect_items(&a, 1, 3);
    succeeded(&a, EPOCH, "b1", 3, 1);
    assert_int_equal(exec_phase("b1"), FLOE_PHASE_SUCCEEDED);

    create(&a, EPOCH, "g1", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_node_wait(redis, EPOCH, "g1", 0, 1, -1, false, NULL, on_script, &a),
          "gate_wait");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(node("g1", 0).phase, FLOE_PHASE_RUNNING);
    assert_false(in_zset(STORE_KEY_LEASES, "g1", 0, 1));
    assert_false(in_zset(STORE_KEY_OUTBOX, "g1", 0, 1));
    create(&a, EPOCH, "g2", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_node_wait(redis, EPOCH, "g2", 0, 1, 0, false, NULL, on_script, &a),
          "gate_wait");
    assert_true(in_zset(STORE_KEY_LEASES, "g2", 0, 1));
    memset(&a, 0, sizeof(a));
    await(&a, store_state_node_wait(redis, EPOCH, "g2", 0, 1, 0, false, NULL, on_script, &a),
          "gate_wait");
    assert_int_equal(a.st, STORE_ST_NOOP);
    /* again: a waiting node's due time moves */
    memset(&a, 0, sizeof(a));
    await(&a, store_state_node_wait(redis, EPOCH, "g2", 0, 1, 60000, true, NULL, on_script, &a),
          "gate_wait again");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_true(in_zset(STORE_KEY_LEASES, "g2", 0, 1));

    /* A dynamic task's node waits from its worker's success: only the claim holder's
     * counts, and its claim goes with it (review H1). */
    create(&a, EPOCH, "g3", 1);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "g3", 0, 1, "w1", 60000, on_script, &a), "claim");
    memset(&a, 0, sizeof(a));
    await(&a, store_state_node_wait(redis, EPOCH, "g3", 0, 1, 1000, true, "w2", on_script, &a),
          "gate_wait by another worker");
    assert_int_equal(a.st, STORE_ST_NOOP);
    assert_int_equal(node("g3", 0).phase, FLOE_PHASE_READY);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_node_wait(redis, EPOCH, "g3", 0, 1, 1000, true, "w1", on_script, &a),
          "gate_wait by the holder");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(node("g3", 0).phase, FLOE_PHASE_RUNNING);
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "g3", 0, 1, "w2", 60000, on_script, &a), "claim again");
    assert_int_equal(a.st, STORE_ST_OK); /* the claim went with the wait */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_makes_sources_ready),
        cmocka_unit_test(test_diamond_readiness),
        cmocka_unit_test(test_map_items),
        cmocka_unit_test(test_branch_and_gate),
        cmocka_unit_test(test_duplicates_and_stale),
        cmocka_unit_test(test_late_success_of_old_attempt),
        cmocka_unit_test(test_retry_budgets_and_backoff),
        cmocka_unit_test(test_not_retriable_fails_at_once),
        cmocka_unit_test(test_finish_independent_skips_closure),
        cmocka_unit_test(test_lease_check),
        cmocka_unit_test(test_claim_once),
        cmocka_unit_test(test_result_hold_batch),
        cmocka_unit_test(test_exec_recorded_together),
        cmocka_unit_test(test_success_only_from_claim_holder),
        cmocka_unit_test(test_failure_only_from_claim_holder),
        cmocka_unit_test(test_abort_ends_and_stops_workers),
        cmocka_unit_test(test_fence_refuses_older_epochs),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
