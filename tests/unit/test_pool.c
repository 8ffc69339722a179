/*
 * Unit: floe_pool's batches (issue 25). Jobs submitted with a batch function while the
 * threads are busy are worked together, in submission order, at most FLOE_POOL_BATCH_MAX
 * at once, never mixed with another function's; each still gets its own done call on the
 * loop; while one batch of a function runs, its kind waits and other work goes on. A lone
 * job is a batch of one. A job in two steps reaches its batch only after its first step,
 * and only when that step says so. Its threads carry its name. Real threads and a real
 * event loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "floe_pool.h"

#include <event2/event.h>
#include <pthread.h>
#include <string.h>

typedef struct job {
    int kind; /* 0 plain, 1 batch a, 2 batch b */
    int seq;
    int batch_no; /* which call worked it */
    int batch_n;  /* how many jobs that call had */
    int pos;      /* its place in that call */
    int done;
    int go_on;         /* what its first step answers */
    int stepped;       /* first steps run */
    int stepped_batch; /* stepped, as its batch saw it */
} job;

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered;
static int calls; /* batch calls so far (one pool thread: no race) */
static int n_done, want_done;
static struct event_base *base;

static void
blocker_work(void *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    gate_entered = 1;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void
plain_work(void *ctx, void *arg)
{
    (void)ctx;
    job *j = arg;
    pthread_mutex_lock(&gate_lock); /* another thread may be in a batch */
    j->batch_no = ++calls;
    j->batch_n = 1;
    pthread_mutex_unlock(&gate_lock);
}

static void
batch_work(void *ctx, void **jobs, size_t n)
{
    (void)ctx;
    calls++;
    for (size_t i = 0; i < n; i++) {
        job *j = jobs[i];
        j->batch_no = calls;
        j->batch_n = (int)n;
        j->pos = (int)i;
        j->stepped_batch = j->stepped;
    }
}

static bool
step_work(void *ctx, void *arg)
{
    (void)ctx;
    job *j = arg;
    j->stepped++;
    return j->go_on;
}

/* A different function: never in the same batch as batch_work's jobs. */
static void
batch_work_b(void *ctx, void **jobs, size_t n)
{
    batch_work(ctx, jobs, n);
}

static void
on_done(void *arg)
{
    job *j = arg;
    j->done++;
    if (++n_done == want_done)
        event_base_loopbreak(base);
}

static void
blocker_done(void *arg)
{
    (void)arg;
}

/* A pool of threads on a new loop (base), the counters reset. */
static floe_pool *
pool_on_loop(unsigned threads)
{
    base = event_base_new();
    assert_non_null(base);
    floe_pool_config pc = {.threads = threads};
    floe_err err = {0};
    floe_pool *pool = floe_pool_new(base, &pc, &err);
    assert_non_null(pool);
    gate_open = gate_entered = 0;
    calls = n_done = 0;
    return pool;
}

/* Waits until a job holds the gate. */
static void
gate_held(void)
{
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

/* Runs the loop until want_done jobs are done (at most 10 s: the asserts then say what
 * was missing). */
static void
run_loop(int jobs)
{
    want_done = jobs;
    struct timeval limit = {10, 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
}

/* Holds the pool's only thread until the jobs are queued, then lets it go. */
static floe_pool *
busy_pool(void)
{
    floe_pool *pool = pool_on_loop(1);
    assert_int_equal(floe_pool_submit(pool, blocker_work, blocker_done, NULL), FLOE_OK);
    gate_held();
    return pool;
}

static void
release_and_run(floe_pool *pool, int jobs)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    run_loop(jobs);
    floe_pool_free(pool);
    event_base_free(base);
}

static void
test_batches_take_their_kind_in_order(void **state)
{
    (void)state;
    floe_pool *pool = busy_pool();
    /* a a b plain a b a */
    static const int kinds[] = {1, 1, 2, 0, 1, 2, 1};
    enum { N = sizeof(kinds) / sizeof(kinds[0]) };
    job jobs[N];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < N; i++) {
        jobs[i].kind = kinds[i];
        jobs[i].seq = i;
        floe_rc rc = kinds[i] == 0 ? floe_pool_submit(pool, plain_work, on_done, &jobs[i])
                     : kinds[i] == 1
                         ? floe_pool_submit_batch(pool, batch_work, on_done, &jobs[i])
                         : floe_pool_submit_batch(pool, batch_work_b, on_done, &jobs[i]);
        assert_int_equal(rc, FLOE_OK);
    }
    release_and_run(pool, N);
    assert_int_equal(n_done, N);
    /* First the a's (all four, in order), then the b's, then the plain one alone. */
    int pos_a = 0, pos_b = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i].done, 1);
        if (jobs[i].kind == 1) {
            assert_int_equal(jobs[i].batch_no, 1);
            assert_int_equal(jobs[i].batch_n, 4);
            assert_int_equal(jobs[i].pos, pos_a++);
        } else if (jobs[i].kind == 2) {
            assert_int_equal(jobs[i].batch_no, 2);
            assert_int_equal(jobs[i].batch_n, 2);
            assert_int_equal(jobs[i].pos, pos_b++);
        } else {
            assert_int_equal(jobs[i].batch_no, 3);
            assert_int_equal(jobs[i].batch_n, 1);
        }
    }
    assert_int_equal(calls, 3);
}

static void
test_a_batch_is_bounded(void **state)
{
    (void)state;
    floe_pool *pool = busy_pool();
    enum { N = FLOE_POOL_BATCH_MAX + 6 };
    job jobs[N];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < N; i++)
        assert_int_equal(floe_pool_submit_batch(pool, batch_work, on_done, &jobs[i]), FLOE_OK);
    release_and_run(pool, N);
    assert_int_equal(n_done, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(jobs[i].done, 1);
        assert_int_equal(jobs[i].batch_no, i < FLOE_POOL_BATCH_MAX ? 1 : 2);
        assert_int_equal(jobs[i].batch_n, i < FLOE_POOL_BATCH_MAX ? FLOE_POOL_BATCH_MAX : 6);
    }
    assert_int_equal(calls, 2);
}

static void
test_a_lone_job_is_a_batch_of_one(void **state)
{
    (void)state;
    floe_pool *pool = pool_on_loop(2);
    job j = {0};
    assert_int_equal(floe_pool_submit_batch(pool, batch_work, on_done, &j), FLOE_OK);
    run_loop(1);
    floe_pool_free(pool);
    event_base_free(base);
    assert_int_equal(j.done, 1);
    assert_int_equal(j.batch_n, 1);
}

static void
batch_block(void *ctx, void **jobs, size_t n)
{
    blocker_work(ctx, NULL);
    pthread_mutex_lock(&gate_lock);
    batch_work(ctx, jobs, n);
    pthread_mutex_unlock(&gate_lock);
}

static void
test_one_batch_of_a_kind_at_a_time(void **state)
{
    (void)state;
    floe_pool *pool = pool_on_loop(2);
    job a[4], p = {0};
    memset(a, 0, sizeof(a));
    assert_int_equal(floe_pool_submit_batch(pool, batch_block, on_done, &a[0]), FLOE_OK);
    gate_held();
    /* a[0]'s batch holds one thread: a[1..3] wait for it, the plain job takes the other. */
    for (int i = 1; i < 4; i++)
        assert_int_equal(floe_pool_submit_batch(pool, batch_block, on_done, &a[i]), FLOE_OK);
    assert_int_equal(floe_pool_submit(pool, plain_work, on_done, &p), FLOE_OK);
    run_loop(1);
    assert_int_equal(p.done, 1); /* not stuck behind a second batch of a's */
    pthread_mutex_lock(&gate_lock);
    for (int i = 1; i < 4; i++)
        assert_int_equal(a[i].batch_n, 0);
    pthread_mutex_unlock(&gate_lock);
    release_and_run(pool, 5);
    assert_int_equal(n_done, 5);
    assert_int_equal(a[0].batch_n, 1);
    for (int i = 1; i < 4; i++) {
        assert_int_equal(a[i].batch_n, 3);
        assert_int_equal(a[i].pos, i - 1);
    }
}

static void
test_steps_go_on_to_their_batch(void **state)
{
    (void)state;
    floe_pool *pool = busy_pool();
    /* a plain batch job, then four in two steps, the third stopping after its first */
    job a = {0}, s[4];
    memset(s, 0, sizeof(s));
    assert_int_equal(floe_pool_submit_batch(pool, batch_work, on_done, &a), FLOE_OK);
    for (int i = 0; i < 4; i++) {
        s[i].go_on = i != 2;
        assert_int_equal(floe_pool_submit_then_batch(pool, step_work, batch_work, on_done, &s[i]),
                         FLOE_OK);
    }
    release_and_run(pool, 5);
    assert_int_equal(n_done, 5);
    /* a's batch did not take the jobs still before their first step */
    assert_int_equal(a.batch_no, 1);
    assert_int_equal(a.batch_n, 1);
    int pos = 0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(s[i].done, 1);
        assert_int_equal(s[i].stepped, 1);
        if (i == 2) {
            assert_int_equal(s[i].batch_n, 0); /* done after its step */
            continue;
        }
        assert_int_equal(s[i].batch_no, 2);
        assert_int_equal(s[i].batch_n, 3);
        assert_int_equal(s[i].pos, pos++);
        assert_int_equal(s[i].stepped_batch, 1);
    }
    assert_int_equal(calls, 2);
}

/* Threads carry the pool's name (top -H, perf, gdb say which pool a busy thread is),
 * cut to the kernel's 15 bytes. */
static char seen_name[3][16];

static void
name_work(void *ctx, void *arg)
{
    (void)ctx;
    job *j = arg;
    pthread_getname_np(pthread_self(), seen_name[j->seq], sizeof(seen_name[j->seq]));
}

static void
test_threads_are_named(void **state)
{
    (void)state;
    const char *names[] = {"api", "a-name-too-long-for-it", NULL};
    const char *want[] = {"api-0", "a-name-too-lo-0", NULL};
    for (int k = 0; k < 3; k++) {
        base = event_base_new();
        floe_pool_config pc = {.threads = 1, .name = names[k]};
        floe_err err = {0};
        floe_pool *pool = floe_pool_new(base, &pc, &err);
        assert_non_null(pool);
        n_done = 0;
        job j = {.seq = k};
        assert_int_equal(floe_pool_submit(pool, name_work, on_done, &j), FLOE_OK);
        run_loop(1);
        floe_pool_free(pool);
        event_base_free(base);
        if (want[k] != NULL)
            assert_string_equal(seen_name[k], want[k]);
        else /* unnamed: the process's name, as before */
            assert_string_not_equal(seen_name[k], "");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_take_their_kind_in_order),
        cmocka_unit_test(test_a_batch_is_bounded),
        cmocka_unit_test(test_a_lone_job_is_a_batch_of_one),
        cmocka_unit_test(test_one_batch_of_a_kind_at_a_time),
        cmocka_unit_test(test_steps_go_on_to_their_batch),
        cmocka_unit_test(test_threads_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
