/*
 * it_fleet — the fixture of integration tests that run Floe itself: "a scheduler (or
 * two) and N workers on the stack". It opens the test's PostgreSQL connection, gives the
 * test a project of its own (it.project), starts daemons with their logs named after the
 * test, waits until each is ready (a scheduler's /readyz, and leadership when asked; a
 * worker's /healthz), and at teardown stops every daemon still running, workers first,
 * failing the test with the names of those that did not stop cleanly.
 *
 * A test may kill and reap a daemon itself (kill -9 scenarios): the fleet skips what is
 * no longer its child.
 */
#ifndef IT_FLEET_H
#define IT_FLEET_H

#include "floe_config.h"

#include <stdbool.h>

#define IT_FLEET_MAX 32

typedef struct it_daemon {
    int pid;
    bool worker;
    char what[288]; /* "scheduler http://127.0.0.1:18786 (test_x.scheduler.log)" */
} it_daemon;

typedef struct it_fleet {
    char name[64]; /* the test's: logs are <name>.<what>.log */
    const char *sched_bin, *worker_bin;
    floe_config *cfg;
    it_daemon d[IT_FLEET_MAX];
    int n;
} it_fleet;

/* Configuration, PostgreSQL (it.pg), a fresh project "<prefix>-<id>" (it.project) and
 * it.api = api. */
void it_fleet_init(it_fleet *f, const char *name, const char *project_prefix, const char *sched_bin,
                   const char *worker_bin, const char *api);

/* Starts a scheduler serving api (a URL; its FLOE_API_URL) with the extra environment
 * entries env (NULL-terminated, may be NULL), its log <name>.<tag>.log; waits until it is
 * ready, and until it leads when lead. Returns its pid. */
int it_fleet_scheduler(it_fleet *f, const char *tag, const char *api, char *const env[], bool lead);

/* Starts a worker of class "default" serving its probes on http ("host:port") with env;
 * waits until it is healthy. Returns its pid. */
int it_fleet_worker(it_fleet *f, const char *tag, const char *http, char *const env[]);

/* Starts any other helper process (argv, env) with its log <name>.<tag>.log; no wait. */
int it_fleet_spawn(it_fleet *f, const char *tag, char *const argv[], char *const env[]);

/* After a test: kills (SIGKILL) and reaps every daemon still running but those in keep
 * (n_keep pids), so that a test failing half-way does not leave its extra workers to the
 * tests after it. Returns how many it killed. */
int it_fleet_settle(it_fleet *f, const int *keep, int n_keep);

/* Whether pid is a daemon of ours still running. */
bool it_fleet_running(it_fleet *f, int pid);

/* Stops every daemon still ours (workers, then the rest), closes PostgreSQL, frees the
 * configuration; fails the test naming each daemon that did not exit 0 on SIGTERM. */
void it_fleet_down(it_fleet *f);

#endif
