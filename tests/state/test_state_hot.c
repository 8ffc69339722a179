/*
 * The hot scripts' reads and writes of several nodes or members in one call (issue 25):
 * a success releasing more downstream nodes than one call carries, a node listed twice
 * downstream, an acknowledgement of dispatches with duplicates, absent and claimed ones.
 * Against a redis-server of the test's own (state_harness.c).
 */
#include "floe_phase.h"
#include "state_harness.h"
#include "store_state.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 1 -> WIDE -> 1: more than unpack() takes at once (8,000 values), over nine of the scripts' chunks
 * of 1,000. */
#define WIDE 9000

static char *
csv_of(unsigned first, unsigned n, unsigned value, bool counting)
{
    char *s = malloc((size_t)n * 8 + 1);
    assert_non_null(s);
    size_t at = 0;
    for (unsigned i = 0; i < n; i++)
        at += (size_t)sprintf(s + at, "%s%u", i ? "," : "", counting ? first + i : value);
    s[at] = '\0';
    return s;
}

static void
create_n(const char *exec, unsigned n_nodes, const char *unresolved)
{
    ans a = {0};
    store_create c = {.exec = exec,
                      .wf_ref = "p/d/wide@1",
                      .policy = 1,
                      .inputs = "",
                      .n_nodes = n_nodes,
                      .unresolved_csv = unresolved,
                      .flags = ""};
    await(&a, store_state_exec_create(redis, EPOCH, &c, on_script, &a), "exec_create");
    assert_int_equal(a.st, STORE_ST_OK);
}

static void
succeed_as(ans *a, const char *exec, unsigned n, const char *down, store_st want)
{
    memset(a, 0, sizeof(*a));
    store_success s = {.exec = exec,
                       .node = n,
                       .attempt = 1,
                       .outputs = "",
                       .worker = "w1",
                       .down_csv = down,
                       .phase = FLOE_PHASE_SUCCEEDED};
    await(a, store_state_node_succeeded(redis, EPOCH, &s, on_script, a), "node_succeeded");
    assert_int_equal(a->st, want);
}

static void
succeed(ans *a, const char *exec, unsigned n, const char *down)
{
    succeed_as(a, exec, n, down, STORE_ST_OK);
}

static long long
zcard(const char *key)
{
    ans a;
    return atoll(cmd(&a, 2, "ZCARD", key));
}

/* A batch's answer: element i into each[i] (arg: ans[6]); each[0] done says it came. */
static void
on_each(const store_reply *rep, const floe_err *err, void *arg)
{
    ans *each = arg;
    size_t n = err == NULL ? store_reply_len(rep) : 0;
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        memset(&each[i], 0, sizeof(each[i]));
        on_script(store_reply_elem(rep, i), NULL, &each[i]);
    }
}

/* A success releases every downstream node, however many: all READY and in the outbox,
 * the join waiting for all of them; acknowledging them (512 a call, as the engine does)
 * moves each from the outbox to the leases once. */
static void
test_success_releases_wide(void **state)
{
    (void)state;
    flush();
    char *counts = malloc((size_t)(WIDE + 2) * 8);
    assert_non_null(counts);
    char *ones = csv_of(0, WIDE, 1, false);
    sprintf(counts, "0,%s,%u", ones, WIDE);
    free(ones);
    create_n("w1", WIDE + 2, counts);
    free(counts);
    char *down = csv_of(1, WIDE, 0, true);
    ans a;
    succeed(&a, "w1", 0, down);
    free(down);
    assert_int_equal(a.n_items, ITEMS_MAX); /* WIDE made ready; the answer keeps the first */
    assert_int_equal(a.items[0], 1);
    for (unsigned i = 1; i <= WIDE; i++) {
        store_node_rec r = node("w1", i);
        if (r.phase != FLOE_PHASE_READY || r.attempt != 1 || r.unresolved != 0)
            fail_msg("node %u: phase %d attempt %u unresolved %u", i, r.phase, r.attempt,
                     r.unresolved);
    }
    assert_true(in_zset(STORE_KEY_OUTBOX, "w1", WIDE, 1));
    assert_int_equal(node("w1", WIDE + 1).phase, FLOE_PHASE_QUEUED);
    assert_int_equal(node("w1", WIDE + 1).unresolved, WIDE);
    assert_int_equal(zcard(STORE_KEY_OUTBOX), WIDE); /* node 0's entry left with its success */

    char(*m)[STORE_KEY_MAX] = malloc(sizeof(*m) * WIDE);
    const char **members = malloc(sizeof(*members) * WIDE);
    assert_true(m != NULL && members != NULL);
    long long acked = 0;
    for (unsigned i = 0; i < WIDE; i++) {
        store_member(m[i], "w1", i + 1, 1);
        members[i] = m[i];
    }
    for (unsigned at = 0; at < WIDE; at += 512) {
        size_t n = WIDE - at < 512 ? WIDE - at : 512;
        memset(&a, 0, sizeof(a));
        await(&a, store_state_outbox_ack(redis, EPOCH, 1000, members + at, n, on_script, &a),
              "outbox_ack");
        acked += a.phase;
    }
    free(members);
    free(m);
    assert_int_equal(acked, WIDE);
    assert_int_equal(zcard(STORE_KEY_OUTBOX), 0);
    assert_int_equal(zcard(STORE_KEY_LEASES), WIDE);
}

/* A node listed twice downstream of one node waits for both: one success releases it. */
static void
test_success_downstream_listed_twice(void **state)
{
    (void)state;
    flush();
    create_n("t1", 4, "0,1,2,1");
    ans a;
    succeed(&a, "t1", 0, "2,1,2");
    assert_int_equal(a.n_items, 2);
    assert_int_equal(a.items[0], 1);
    assert_int_equal(a.items[1], 2);
    assert_int_equal(node("t1", 2).phase, FLOE_PHASE_READY);
    assert_int_equal(node("t1", 2).unresolved, 0);
    assert_int_equal(node("t1", 1).phase, FLOE_PHASE_READY);
    /* A duplicate of the success releases nothing again. */
    succeed_as(&a, "t1", 0, "2,1,2", STORE_ST_NOOP);
    assert_int_equal(a.n_items, 0);
    assert_int_equal(node("t1", 3).unresolved, 1);
}

/* An acknowledgement counts each dispatch still in the outbox once (a member named twice,
 * one no longer there); a claimed attempt keeps its lease, an unclaimed one gets the claim
 * deadline (its own when it names one). */
static void
test_outbox_ack_members(void **state)
{
    (void)state;
    flush();
    create_n("o1", 2, "0,1");
    create_n("o2", 2, "0,1");
    create_n("o3", 2, "0,1");
    ans a, x;
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "o2", 0, 1, "w1", 600000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
    char m1[STORE_KEY_MAX], m2[STORE_KEY_MAX], m3[STORE_KEY_MAX + 16], gone[STORE_KEY_MAX];
    store_member(m1, "o1", 0, 1);
    store_member(m2, "o2", 0, 1);
    store_member(gone, "o1", 1, 1); /* never dispatched */
    char m3base[STORE_KEY_MAX];
    store_member(m3base, "o3", 0, 1);
    snprintf(m3, sizeof(m3), "%s#300000", m3base);
    const char *members[] = {m1, m1, m2, gone, m3};
    memset(&a, 0, sizeof(a));
    await(&a, store_state_outbox_ack(redis, EPOCH, 1000, members, 5, on_script, &a), "ack");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(a.phase, 3);
    assert_int_equal(zcard(STORE_KEY_OUTBOX), 0);
    long long d1 = atoll(cmd(&x, 3, "ZSCORE", STORE_KEY_LEASES, m1));
    long long d2 = atoll(cmd(&x, 3, "ZSCORE", STORE_KEY_LEASES, m2));
    long long d3 = atoll(cmd(&x, 3, "ZSCORE", STORE_KEY_LEASES, m3base));
    assert_true(d2 - d1 > 590000); /* the claim's 600 s, not the ack's 1 s */
    assert_true(d3 - d1 > 290000 && d3 - d1 < 310000);
    assert_false(in_zset(STORE_KEY_LEASES, "o1", 1, 1));
    /* Again: nothing is left in the outbox to acknowledge. */
    memset(&a, 0, sizeof(a));
    await(&a, store_state_outbox_ack(redis, EPOCH, 1000, members, 5, on_script, &a), "ack");
    assert_int_equal(a.phase, 0);
}

/* The broker's acknowledgement of a dispatch may reach the leader after the worker's result
 * (the delivery report and the result are on different paths): an attempt already over,
 * succeeded or failed, leaves the outbox with it, and the late acknowledgement gives it no
 * claim deadline (which stayed in the leases for engine.claim_timeout, 30 minutes, for the
 * deadline sweep to find stale). */
static void
test_ack_after_the_result(void **state)
{
    (void)state;
    flush();
    create_n("r1", 2, "0,1");
    create_n("r2", 1, "0");
    ans a;
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "r1", 0, 1, "w1", 600000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
    succeed(&a, "r1", 0, "1");
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "r2", 0, 1, "w1", 600000, on_script, &a), "claim");
    store_failure f = {.exec = "r2",
                       .node = 0,
                       .attempt = 1,
                       .kind = FLOE_ERROR_KIND_USER,
                       .retriable = false,
                       .code = "E",
                       .message = "no",
                       .worker = "w1"};
    memset(&a, 0, sizeof(a));
    await(&a, store_state_node_failed(redis, EPOCH, &f, on_script, &a), "node_failed");
    assert_int_equal(a.st, STORE_ST_FAILED);
    assert_false(in_zset(STORE_KEY_OUTBOX, "r1", 0, 1));
    assert_false(in_zset(STORE_KEY_OUTBOX, "r2", 0, 1));
    assert_true(in_zset(STORE_KEY_OUTBOX, "r1", 1, 1)); /* released, not yet acknowledged */
    char m0[STORE_KEY_MAX], m1[STORE_KEY_MAX], m2[STORE_KEY_MAX];
    store_member(m0, "r1", 0, 1);
    store_member(m1, "r1", 1, 1);
    store_member(m2, "r2", 0, 1);
    const char *members[] = {m0, m1, m2};
    memset(&a, 0, sizeof(a));
    await(&a, store_state_outbox_ack(redis, EPOCH, 1000, members, 3, on_script, &a), "ack");
    assert_int_equal(a.st, STORE_ST_OK);
    assert_int_equal(a.phase, 1); /* only r1's node 1 was still waiting for it */
    assert_false(in_zset(STORE_KEY_LEASES, "r1", 0, 1));
    assert_false(in_zset(STORE_KEY_LEASES, "r2", 0, 1));
    assert_true(in_zset(STORE_KEY_LEASES, "r1", 1, 1));
    assert_int_equal(zcard(STORE_KEY_LEASES), 1);
}

/* Claims together answer each as alone, in order: a claim, another worker's (dup), an
 * attempt not current and an execution that does not exist (stale), the holder again
 * (ok), across two executions; the claimed ones hold leases. */
static void
test_claim_many_answers_each(void **state)
{
    (void)state;
    flush();
    create_n("k1", 2, "0,1");
    create_n("k2", 2, "0,0");
    ans a;
    memset(&a, 0, sizeof(a));
    await(&a, store_state_claim(redis, "k2", 1, 1, "w2", 60000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
    const store_claim c[] = {
        {.exec = "k1", .node = 0, .attempt = 1, .lease_ms = 60000},
        {.exec = "k2", .node = 1, .attempt = 1, .lease_ms = 60000},
        {.exec = "k2", .node = 0, .attempt = 2, .lease_ms = 60000},
        {.exec = "nope", .node = 0, .attempt = 1, .lease_ms = 60000},
        {.exec = "k1", .node = 0, .attempt = 1, .lease_ms = 60000},
        {.exec = "k2", .node = 0, .attempt = 1, .lease_ms = 30000},
    };
    const store_st want[] = {STORE_ST_OK,    STORE_ST_DUP, STORE_ST_STALE,
                             STORE_ST_STALE, STORE_ST_OK,  STORE_ST_OK};
    ans each[6];
    memset(each, 0, sizeof(each));
    await(&each[0], store_state_claim_many(redis, "w1", c, 6, on_each, each), "claim_many");
    for (int i = 0; i < 6; i++)
        if (each[i].st != want[i])
            fail_msg("claim %d: %s (%s), expected %s", i, store_st_name(each[i].st), each[i].note,
                     store_st_name(want[i]));
    assert_true(in_zset(STORE_KEY_LEASES, "k1", 0, 1));
    assert_true(in_zset(STORE_KEY_LEASES, "k2", 0, 1));
    assert_false(in_zset(STORE_KEY_LEASES, "nope", 0, 1));
    ans x;
    /* who holds each since when, in each execution's hash (written once a call) */
    char kx[STORE_KEY_MAX];
    store_key_exec(kx, "k1");
    assert_non_null(strstr(cmd(&x, 3, "HGET", kx, "s0"), "|w1"));
    store_key_exec(kx, "k2");
    assert_non_null(strstr(cmd(&x, 3, "HGET", kx, "s0"), "|w1"));
    assert_non_null(strstr(cmd(&x, 3, "HGET", kx, "s1"), "|w2")); /* the claim before */
    char kc[STORE_KEY_MAX];
    store_key_claim(kc, "k2", 1, 1);
    assert_string_equal(cmd(&x, 2, "GET", kc), "w2");
    /* Each its own lease: 60 s for k1's, 30 s for k2's node 0. */
    store_key_claim(kc, "k1", 0, 1);
    assert_true(atoll(cmd(&x, 2, "PTTL", kc)) > 50000);
    store_key_claim(kc, "k2", 0, 1);
    long long ttl = atoll(cmd(&x, 2, "PTTL", kc));
    assert_true(ttl > 20000 && ttl <= 30000);
    assert_true(store_state_claim_many(redis, "w1", c, 0, on_each, each) == FLOE_EINVAL);
    assert_true(store_state_claim_many(redis, "w1", c, STORE_CLAIM_MAX + 1, on_each, each) ==
                FLOE_EINVAL);
}

/* A success sent without waiting for its answer: it joins the open group. */
static void
succeed_later(ans *a, const char *exec, unsigned n, unsigned attempt, const char *worker,
              const char *down)
{
    memset(a, 0, sizeof(*a));
    store_success s = {.exec = exec,
                       .node = n,
                       .attempt = attempt,
                       .outputs = "",
                       .worker = worker,
                       .down_csv = down,
                       .phase = FLOE_PHASE_SUCCEEDED};
    assert_int_equal(store_state_node_succeeded(redis, EPOCH, &s, on_script, a), FLOE_OK);
}

static void
claim(const char *exec, unsigned n, const char *worker)
{
    ans a = {0};
    await(&a, store_state_claim(redis, exec, n, 1, worker, 600000, on_script, &a), "claim");
    assert_int_equal(a.st, STORE_ST_OK);
}

/* Successes made in one loop pass go as one call (issue 25) and answer
 * each as alone, in order: a success, its duplicate, a stale attempt, one from a worker
 * that does not hold the claim, another success; a command made after them sees them
 * applied (the group goes first); the last success of the execution finishes it. */
static void
test_successes_together_answer_each(void **state)
{
    (void)state;
    flush();
    create_n("g1", 5, "0,0,0,3,1");
    claim("g1", 0, "w1");
    claim("g1", 1, "w1");
    claim("g1", 2, "w2");
    ans a[5];
    succeed_later(&a[0], "g1", 0, 1, "w1", "3");
    succeed_later(&a[1], "g1", 0, 1, "w1", "3");
    succeed_later(&a[2], "g1", 1, 2, "w1", "3");
    succeed_later(&a[3], "g1", 2, 1, "w1", "3");
    succeed_later(&a[4], "g1", 1, 1, "w1", "3");
    assert_int_equal(store_redis_pending(redis), 5);
    store_node_rec r3 = node("g1", 3); /* a command: the group goes before it */
    for (int i = 0; i < 5; i++)
        assert_true(a[i].done);
    assert_int_equal(r3.unresolved, 1);
    assert_int_equal(r3.phase, FLOE_PHASE_QUEUED);
    const store_st want[] = {STORE_ST_OK, STORE_ST_NOOP, STORE_ST_NOOP, STORE_ST_NOOP, STORE_ST_OK};
    for (int i = 0; i < 5; i++)
        if (a[i].st != want[i])
            fail_msg("success %d: %s (%s), expected %s", i, store_st_name(a[i].st), a[i].note,
                     store_st_name(want[i]));
    assert_non_null(strstr(a[2].note, "stale attempt"));
    assert_non_null(strstr(a[3].note, "w2 holds the claim"));
    assert_int_equal(node("g1", 0).phase, FLOE_PHASE_SUCCEEDED);
    assert_int_equal(node("g1", 1).phase, FLOE_PHASE_SUCCEEDED);
    assert_int_equal(node("g1", 2).phase, FLOE_PHASE_READY); /* claimed, never started */
    assert_false(in_zset(STORE_KEY_LEASES, "g1", 0, 1));
    assert_true(in_zset(STORE_KEY_LEASES, "g1", 2, 1));
    ans x;
    char kc[STORE_KEY_MAX], kl[STORE_KEY_MAX];
    store_key_claim(kc, "g1", 0, 1);
    assert_string_equal(cmd(&x, 2, "GET", kc), ""); /* the claims went with the attempts */
    store_key_claim(kc, "g1", 2, 1);
    assert_string_equal(cmd(&x, 2, "GET", kc), "w2");
    store_key_log(kl, "g1");
    assert_string_equal(cmd(&x, 2, "LLEN", kl), "2"); /* one attempt record each */

    /* The rest in one pass: node 2 releases 3; 3 and 4 were never dispatched, so the
     * execution runs on; then 3 and 4 together finish it, 4's answer saying so. */
    succeed_later(&a[0], "g1", 2, 1, "w2", "3");
    await(&a[0], FLOE_OK, "node 2");
    assert_int_equal(a[0].st, STORE_ST_OK);
    assert_int_equal(a[0].n_items, 1);
    assert_int_equal(a[0].items[0], 3);
    claim("g1", 3, "w1");
    succeed_later(&a[1], "g1", 3, 1, "w1", "4");
    /* 4 is READY only once 3's success is applied: its claim waits for that answer. */
    await(&a[1], FLOE_OK, "node 3");
    assert_int_equal(a[1].st, STORE_ST_OK);
    assert_int_equal(a[1].phase, 0);
    claim("g1", 4, "w1");
    succeed_later(&a[2], "g1", 4, 1, "w1", "");
    succeed_later(&a[3], "g1", 4, 1, "w1", "");
    await(&a[3], FLOE_OK, "node 4 twice");
    assert_int_equal(a[2].st, STORE_ST_OK);
    assert_int_equal(a[2].phase, FLOE_PHASE_SUCCEEDED);
    assert_int_equal(a[3].st, STORE_ST_NOOP);
    assert_int_equal(exec_phase("g1"), FLOE_PHASE_SUCCEEDED);
    char kx[STORE_KEY_MAX];
    store_key_exec(kx, "g1");
    assert_string_equal(cmd(&x, 3, "HGET", kx, "left"), "0");
}

/* More successes in one pass than a group holds, of two executions taking turns (a group
 * holds successes of several): every one answered, in order, each execution's join
 * released by its last source and its count of nodes left its own. */
static void
test_successes_over_groups(void **state)
{
    (void)state;
    flush();
    enum { N = 150 };
    char *counts = malloc((size_t)(N + 2) * 4);
    assert_non_null(counts);
    char *zeros = csv_of(0, N, 0, false);
    sprintf(counts, "%s,%u", zeros, N);
    free(zeros);
    create_n("h1", N + 1, counts);
    create_n("h2", N + 1, counts);
    free(counts);
    char down[16];
    snprintf(down, sizeof(down), "%u", N);
    static ans a[2 * N];
    for (unsigned i = 0; i < N; i++) {
        claim("h1", i, "w1");
        claim("h2", i, "w1");
    }
    /* h1 alone for its first 100 (more than one group), then both in turn */
    for (unsigned i = 0; i < 100; i++)
        succeed_later(&a[i], "h1", i, 1, "w1", down);
    for (unsigned i = 100; i < N; i++) {
        succeed_later(&a[2 * i - 100], "h1", i, 1, "w1", down);
        succeed_later(&a[2 * i - 99], "h2", i - 100, 1, "w1", down);
    }
    for (unsigned i = 50; i < N; i++)
        succeed_later(&a[150 + i], "h2", i, 1, "w1", down);
    await(&a[2 * N - 1], FLOE_OK, "the last success");
    for (unsigned i = 0; i < 2 * N; i++) {
        if (!a[i].done || a[i].st != STORE_ST_OK)
            fail_msg("success %u: %s (%s)", i, store_st_name(a[i].st), a[i].note);
    }
    assert_int_equal(node("h1", N).phase, FLOE_PHASE_READY);
    assert_int_equal(node("h2", N).phase, FLOE_PHASE_READY);
    assert_int_equal(a[2 * N - 102].n_items, 1); /* h1's last success, its join */
    assert_int_equal(a[2 * N - 102].items[0], N);
    assert_int_equal(a[2 * N - 1].n_items, 1);
    assert_int_equal(store_redis_pending(redis), 0);
    /* each execution's count of nodes left is its own, whatever groups its successes
     * shared: the join is left */
    ans x;
    char kx[STORE_KEY_MAX];
    store_key_exec(kx, "h1");
    assert_string_equal(cmd(&x, 3, "HGET", kx, "left"), "1");
    store_key_exec(kx, "h2");
    assert_string_equal(cmd(&x, 3, "HGET", kx, "left"), "1");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_releases_wide),
        cmocka_unit_test(test_success_downstream_listed_twice),
        cmocka_unit_test(test_outbox_ack_members),
        cmocka_unit_test(test_ack_after_the_result),
        cmocka_unit_test(test_claim_many_answers_each),
        cmocka_unit_test(test_successes_together_answer_each),
        cmocka_unit_test(test_successes_over_groups),
    };
    return cmocka_run_group_tests(tests, server_up, server_down);
}
