/*
 * wrk_fence, the lease enforced by the kernel's clock: a task whose lease runs out while
 * the worker is frozen (SIGSTOP, with the task stopped too) is SIGKILLed when the worker
 * resumes, before the worker's own code runs; a task whose lease was renewed is left
 * alone; entries are reused.
 */
#include "wrk_fence.h"

#include "floe_time.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* A task in its own process group that would live for 30 s. */
static pid_t
spawn_task(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        execl("/bin/sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    assert_true(pid > 0);
    setpgid(pid, pid); /* both sides, so the group exists before we fence it */
    return pid;
}

static int
reap(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void
test_frozen_worker_resumes_with_its_task_dead(void **state)
{
    (void)state;
    floe_err err = {0};
    assert_int_equal(wrk_fence_init(&err), FLOE_OK);
    pid_t task = spawn_task();
    int e = wrk_fence_add(task, floe_mono_us() + 200 * 1000);
    assert_true(e >= 0);
    /* The freeze: a helper stops the task and us, holds both past the lease, then resumes
     * us first and the task after, as a pause of the whole tree is undone. */
    pid_t self = getpid();
    pid_t helper = fork();
    if (helper == 0) {
        kill(-task, SIGSTOP);
        kill(self, SIGSTOP);
        struct timespec hold = {0, 600 * 1000 * 1000};
        nanosleep(&hold, NULL);
        kill(self, SIGCONT);
        kill(-task, SIGCONT);
        _exit(0);
    }
    int status = reap(helper); /* returns once we were resumed and the helper is done */
    assert_true(WIFEXITED(status));
    status = reap(task);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_true(wrk_fence_remove(e));
}

static void
test_renewed_lease_keeps_its_task(void **state)
{
    (void)state;
    floe_err err = {0};
    assert_int_equal(wrk_fence_init(&err), FLOE_OK);
    pid_t task = spawn_task();
    int e = wrk_fence_add(task, floe_mono_us() + 100 * 1000);
    assert_true(e >= 0);
    wrk_fence_move(e, floe_mono_us() + 60 * 1000 * 1000);
    /* A second task with a short lease: once it is dead the first one's timer has run. */
    pid_t other = spawn_task();
    int e2 = wrk_fence_add(other, floe_mono_us() + 150 * 1000);
    assert_true(e2 >= 0 && e2 != e);
    int status = reap(other);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(wrk_fence_remove(e2));
    assert_int_equal(waitpid(task, &status, WNOHANG), 0); /* still running */
    assert_false(wrk_fence_remove(e));
    kill(-task, SIGKILL);
    reap(task);
    /* Entries are reused once removed. */
    pid_t again = spawn_task();
    assert_int_equal(wrk_fence_add(again, floe_mono_us() + 50 * 1000), e);
    status = reap(again);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(wrk_fence_remove(e));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frozen_worker_resumes_with_its_task_dead),
        cmocka_unit_test(test_renewed_lease_keeps_its_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
