/*
 * Helpers for integration tests: the configuration from the stack's FLOE_* variables, and
 * a bounded wait that runs the event loop until a condition holds.
 */
#ifndef IT_UTIL_H
#define IT_UTIL_H

#include "floe_config.h"

#include <jansson.h>

#include <stdbool.h>
#include <stdint.h>

struct event_base;

/* Loads the configuration from the environment (tests/with-stack sets it) plus overrides;
 * fails the test with the report when it does not load. */
floe_config *it_config(const char *program, const char *const *overrides, size_t n);

/* Runs base until cond(arg) is true or timeout_ms passes; on timeout fails the test with
 * "timed out after N ms waiting for <what>". */
void it_wait(struct event_base *base, bool (*cond)(void *arg), void *arg, int timeout_ms,
             const char *what);

/* The same wait when nothing of ours can deliver an event: polls cond (an expression)
 * every 20 ms until it holds, for at most timeout_ms, then fails the test with "timed out
 * after N ms waiting for <what>". For conditions on other processes: their HTTP answers,
 * files, metrics. */
#define IT_WAIT_UNTIL(cond, timeout_ms, what)                                                      \
    do {                                                                                           \
        int64_t it_deadline_ = it_deadline(timeout_ms);                                            \
        while (!(cond))                                                                            \
            it_poll_or_fail(it_deadline_, (timeout_ms), (what));                                   \
    } while (0)
int64_t it_deadline(int timeout_ms);
/* Fails the test past deadline (CLOCK_MONOTONIC us); otherwise pauses one polling period. */
void it_poll_or_fail(int64_t deadline_us, int timeout_ms, const char *what);

/* Runs base for ms: an observation window, for what must NOT happen within it (nothing to
 * await). */
void it_run_for(struct event_base *base, int ms);

/* Prints the last `lines` lines of a log to stdout, each after "# ": evidence for a
 * failure that happened in a child process. */
void it_print_tail(const char *path, int lines);

/* Starts argv[0] with argv and extra "NAME=value" environment entries (NULL-terminated,
 * may be NULL) added to this process's; output goes to log_path. Fails the test if it
 * cannot start. The child gets SIGTERM when the test process dies. */
int it_spawn(char *const argv[], char *const env_extra[], const char *log_path);

/* Whether the child is still running. */
bool it_alive(int pid);

/* SIGTERM, then waits up to timeout_ms for the exit; SIGKILL after. Returns the exit
 * status (as from waitpid) or -1 when it had to be killed. */
int it_stop(int pid, int timeout_ms);

/* One HTTP call to base_url + path; returns the status and, when the body is JSON, *json
 * (caller decrefs; may be NULL). Fails the test when the server cannot be reached. */
int it_http(const char *base_url, const char *method, const char *path, const char *body,
            size_t len, json_t **json);

/* Polls GET base_url + path until it answers 200 or timeout_ms passes (then fails). */
void it_http_wait_ok(const char *base_url, const char *path, int timeout_ms);

#endif
