/*
 * plug_child on a real event loop: a spawned program's output lands in its log fd and its
 * exit reaches the callback; a program that cannot be executed is an error naming it,
 * with no callback; the spawning thread's signal mask is as it was, and the child's is
 * empty (SIGTERM, which the worker handles, kills it).
 */
#include "plug_child.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
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

typedef struct exit_seen {
    int calls;
    int status;
    struct event_base *base;
} exit_seen;

static void
on_exit_cb(pid_t pid, int status, void *arg)
{
    (void)pid;
    exit_seen *s = arg;
    s->calls++;
    s->status = status;
    event_base_loopbreak(s->base);
}

static void
on_term(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (*(int *)arg)++;
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Runs the loop until the child's callback or 10 s. */
static void
await_exit(exit_seen *s)
{
    struct event *deadline = evtimer_new(s->base, on_deadline, s->base);
    struct timeval tv = {10, 0};
    evtimer_add(deadline, &tv);
    while (s->calls == 0 && evtimer_pending(deadline, NULL))
        event_base_loop(s->base, EVLOOP_ONCE);
    event_free(deadline);
    assert_int_equal(s->calls, 1); /* "the child's exit never reached the callback" */
}

static void
test_spawn_output_exit_and_failure(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    floe_err err = {0};
    plug_child *pc = plug_child_new(base, &err);
    assert_non_null(pc);
    int terms = 0;
    struct event *term = evsignal_new(base, SIGTERM, on_term, &terms);
    assert_int_equal(event_add(term, NULL), 0);

    char dir[] = "/tmp/floe-test-child-XXXXXX", out_path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(out >= 0);

    sigset_t before, after;
    sigemptyset(&before);
    sigemptyset(&after);
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    /* The shell reports what it sees, then kills itself with SIGTERM: spawning blocks
     * every signal around vfork, and a mask survives execve, so a child left with it
     * would ignore the signal and exit 3 instead. */
    char *const argv[] = {"/bin/sh", "-c", "echo \"hello $FOO\"; pwd; kill -TERM $$; exit 3", NULL};
    char *const envp[] = {"FOO=world", NULL};
    plug_spawn sp = {.path = "/bin/sh",
                     .argv = argv,
                     .envp = envp,
                     .cwd = dir,
                     .out_fd = out,
                     .err_fd = -1,
                     .new_pgrp = true,
                     .rlimit_nofile = 64,
                     .cgroup_fd = -1,
                     .cgroup_fd2 = -1};
    exit_seen seen = {.base = base};
    pid_t pid = 0;
    assert_int_equal(plug_child_spawn(pc, &sp, on_exit_cb, &seen, &pid, &err), FLOE_OK);
    assert_true(pid > 0);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    for (int sig = 1; sig < NSIG; sig++)
        assert_int_equal(sigismember(&before, sig), sigismember(&after, sig));
    close(out);
    await_exit(&seen);
    assert_true(WIFSIGNALED(seen.status));
    assert_int_equal(WTERMSIG(seen.status), SIGTERM);
    assert_int_equal(terms, 0);
    char buf[256] = "", want[128];
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    snprintf(want, sizeof(want), "hello world\n%s\n", dir);
    assert_string_equal(buf, want);

    /* Not executable: an error naming the program, no pid, no callback. */
    char *const bad_argv[] = {"/nonexistent/prog", NULL};
    sp.path = "/nonexistent/prog";
    sp.argv = bad_argv;
    sp.out_fd = -1;
    exit_seen never = {.base = base};
    pid = 0;
    assert_int_equal(plug_child_spawn(pc, &sp, on_exit_cb, &never, &pid, &err), FLOE_ENOTFOUND);
    assert_non_null(strstr(err.msg, "cannot execute /nonexistent/prog"));
    assert_int_equal(pid, 0);
    /* The failed child is still reaped: a good spawn after it gets its own callback only. */
    sp.path = "/bin/true";
    char *const true_argv[] = {"/bin/true", NULL};
    sp.argv = true_argv;
    exit_seen ok = {.base = base};
    assert_int_equal(plug_child_spawn(pc, &sp, on_exit_cb, &ok, &pid, &err), FLOE_OK);
    await_exit(&ok);
    assert_true(WIFEXITED(ok.status) && WEXITSTATUS(ok.status) == 0);
    assert_int_equal(never.calls, 0);

    unlink(out_path);
    rmdir(dir);
    event_free(term);
    plug_child_free(pc);
    event_base_free(base);
}

/* Review H2: a task inherited the worker's descriptors (its Redis socket among them, which
 * hiredis 0.14 opens without close-on-exec). A descriptor left open on purpose must not
 * reach the child. */
static void
test_h2_no_descriptor_inherited(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    floe_err err = {0};
    plug_child *pc = plug_child_new(base, &err);
    assert_non_null(pc);
    char dir[] = "/tmp/floe-test-child-XXXXXX", out_path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(out_path, sizeof(out_path), "%s/out", dir);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: as hiredis's socket */
    assert_true(out >= 0 && leak > 2);
    char script[128];
    snprintf(script, sizeof(script), "[ -e /proc/$$/fd/%d ] && echo leaked || echo clean", leak);
    char *const argv[] = {"/bin/sh", "-c", script, NULL};
    char *const envp[] = {NULL};
    plug_spawn sp = {.path = "/bin/sh",
                     .argv = argv,
                     .envp = envp,
                     .out_fd = out,
                     .err_fd = -1,
                     .cgroup_fd = -1,
                     .cgroup_fd2 = -1};
    exit_seen seen = {.base = base};
    pid_t pid = 0;
    assert_int_equal(plug_child_spawn(pc, &sp, on_exit_cb, &seen, &pid, &err), FLOE_OK);
    close(out);
    await_exit(&seen);
    char buf[256] = "";
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, "clean\n");
    close(leak);
    unlink(out_path);
    rmdir(dir);
    plug_child_free(pc);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_output_exit_and_failure),
        cmocka_unit_test(test_h2_no_descriptor_inherited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
