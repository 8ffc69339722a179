#include "it_util.h"

#include "floe_httpc.h"
#include "floe_time.h"

#include <jansson.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>

extern char **environ;

floe_config *
it_config(const char *program, const char *const *overrides, size_t n)
{
    floe_config_source src = {
        .program = program, .env = environ, .overrides = overrides, .n_overrides = n};
    floe_config *cfg = NULL;
    floe_config_report report;
    if (floe_config_load(&src, &cfg, &report) != FLOE_OK)
        fail_msg("configuration: %s", report.text);
    return cfg;
}

static void
it_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

void
it_wait(struct event_base *base, bool (*cond)(void *arg), void *arg, int timeout_ms,
        const char *what)
{
    /* A 5 ms tick makes EVLOOP_ONCE return regularly so the deadline is checked. */
    struct event *tick = event_new(base, -1, EV_PERSIST, it_tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(tick, &tv);
    int64_t deadline = floe_mono_us() + (int64_t)timeout_ms * 1000;
    bool ok;
    while (!(ok = cond(arg)) && floe_mono_us() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    if (!ok)
        fail_msg("timed out after %d ms waiting for %s", timeout_ms, what);
}

int64_t
it_deadline(int timeout_ms)
{
    return floe_mono_us() + (int64_t)timeout_ms * 1000;
}

void
it_poll_or_fail(int64_t deadline_us, int timeout_ms, const char *what)
{
    if (floe_mono_us() > deadline_us)
        fail_msg("timed out after %d ms waiting for %s", timeout_ms, what);
    usleep(20000); /* the condition is another process's: nothing of ours to be woken by */
}

void
it_run_for(struct event_base *base, int ms)
{
    struct event *tick = event_new(base, -1, EV_PERSIST, it_tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(tick, &tv);
    int64_t deadline = floe_mono_us() + (int64_t)ms * 1000;
    while (floe_mono_us() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
}

int
it_spawn(char *const argv[], char *const env_extra[], const char *log_path)
{
    pid_t pid = fork();
    if (pid == -1)
        fail_msg("fork: cannot start %s", argv[0]);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        for (size_t i = 0; env_extra != NULL && env_extra[i] != NULL; i++)
            putenv(env_extra[i]);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd != -1) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

bool
it_alive(int pid)
{
    int status;
    return waitpid(pid, &status, WNOHANG) == 0;
}

int
it_stop(int pid, int timeout_ms)
{
    int status = 0;
    kill(pid, SIGTERM);
    int64_t deadline = floe_mono_us() + (int64_t)timeout_ms * 1000;
    while (floe_mono_us() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        usleep(10000); /* waiting on another process's exit: no event to block on here */
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

int
it_http(const char *base_url, const char *method, const char *path, const char *body, size_t len,
        json_t **json)
{
    floe_http_resp resp;
    floe_err err;
    if (json != NULL)
        *json = NULL;
    if (floe_httpc_request(base_url, method, path, body != NULL ? "application/octet-stream" : NULL,
                           body, len, 30000, &resp, &err) != FLOE_OK)
        fail_msg("%s %s: %s", method, path, err.msg);
    if (json != NULL)
        *json = json_loadb(resp.body, resp.len, 0, NULL);
    int status = resp.status;
    floe_http_resp_deinit(&resp);
    return status;
}

void
it_http_wait_ok(const char *base_url, const char *path, int timeout_ms)
{
    int64_t deadline = floe_mono_us() + (int64_t)timeout_ms * 1000;
    int last = 0;
    while (floe_mono_us() < deadline) {
        floe_http_resp resp;
        floe_err err;
        if (floe_httpc_request(base_url, "GET", path, NULL, NULL, 0, 2000, &resp, &err) ==
            FLOE_OK) {
            last = resp.status;
            floe_http_resp_deinit(&resp);
            if (last == 200)
                return;
        }
        usleep(50000); /* the server is starting: nothing to be notified by */
    }
    fail_msg("timed out after %d ms waiting for %s%s to answer 200 (last status %d)", timeout_ms,
             base_url, path, last);
}

void
it_print_tail(const char *path, int lines)
{
    FILE *f = lines > 0 ? fopen(path, "r") : NULL;
    if (f == NULL) {
        printf("# (no log %s)\n", path);
        return;
    }
    /* Logs of tests are small: keep the last `lines` lines in a ring of offsets. */
    long offs[256];
    int n = lines < 256 ? lines : 256, count = 0;
    char buf[4096];
    long pos = ftell(f);
    while (fgets(buf, sizeof(buf), f) != NULL) {
        offs[count % n] = pos;
        count++;
        pos = ftell(f);
    }
    int first = count > n ? count - n : 0;
    if (count == 0) {
        fclose(f);
        return;
    }
    fseek(f, offs[first % n], SEEK_SET);
    printf("# last %d lines of %s:\n", count - first, path);
    while (fgets(buf, sizeof(buf), f) != NULL)
        printf("#   %s", buf);
    fclose(f);
}
