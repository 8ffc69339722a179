/*
 * it_fleet — see it_fleet.h.
 */
#include "it_fleet.h"

#include "floe_time.h"
#include "it_exec.h"
#include "it_util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

void
it_fleet_init(it_fleet *f, const char *name, const char *project_prefix, const char *sched_bin,
              const char *worker_bin, const char *api)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->sched_bin = sched_bin;
    f->worker_bin = worker_bin;
    f->cfg = it_config(name, NULL, 0);
    char id[FLOE_ID_LEN + 1];
    floe_id_new(id);
    for (char *p = id; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    it.api = api;
    snprintf(it.project, sizeof(it.project), "%s-%.20s", project_prefix, id);
    it.pg = PQconnectdb(f->cfg->postgres_url);
    if (PQstatus(it.pg) != CONNECTION_OK)
        fail_msg("postgres: %s", PQerrorMessage(it.pg));
}

static int
add(it_fleet *f, const char *tag, char *const argv[], char *const env[], bool worker,
    const char *what)
{
    if (f->n == IT_FLEET_MAX)
        fail_msg("%s: more than %d daemons", f->name, IT_FLEET_MAX);
    char log[160];
    snprintf(log, sizeof(log), "%s.%s.log", f->name, tag);
    it_daemon *d = &f->d[f->n++];
    d->pid = it_spawn(argv, env, log);
    d->worker = worker;
    snprintf(d->what, sizeof(d->what), "%s (%s)", what, log);
    return d->pid;
}

/* env with one entry put first; the array lives until the next call. */
static char *const *
with(char *first, char *const env[])
{
    static char *all[40];
    size_t n = 0;
    all[n++] = first;
    for (size_t i = 0; env != NULL && env[i] != NULL && n + 1 < 40; i++)
        all[n++] = env[i];
    all[n] = NULL;
    return all;
}

int
it_fleet_scheduler(it_fleet *f, const char *tag, const char *api, char *const env[], bool lead)
{
    char url[128];
    snprintf(url, sizeof(url), "FLOE_API_URL=%s", api);
    char *argv[] = {(char *)f->sched_bin, NULL};
    char what[96];
    snprintf(what, sizeof(what), "scheduler %s", api);
    int pid = add(f, tag, argv, with(url, env), false, what);
    it_http_wait_ok(api, "/readyz", 60000);
    if (lead)
        it_wait_metric(api, "floe_scheduler_is_leader", 1, 30000);
    return pid;
}

int
it_fleet_worker(it_fleet *f, const char *tag, const char *http, char *const env[])
{
    char h[96];
    snprintf(h, sizeof(h), "FLOE_WORKER_HTTP=%s", http);
    char *argv[] = {(char *)f->worker_bin, "--class", "default", NULL};
    char *const *e1 = with(h, env);
    /* A worker that left the group is noticed within the session timeout. */
    char *env2[40];
    size_t n = 0;
    env2[n++] = "FLOE_KAFKA_SESSION_TIMEOUT=6s";
    for (size_t i = 0; e1[i] != NULL && n + 1 < 40; i++)
        env2[n++] = e1[i];
    env2[n] = NULL;
    char what[96];
    snprintf(what, sizeof(what), "worker %s", http);
    int pid = add(f, tag, argv, env2, true, what);
    char url[128];
    snprintf(url, sizeof(url), "http://%s", http);
    it_http_wait_ok(url, "/healthz", 30000);
    return pid;
}

int
it_fleet_spawn(it_fleet *f, const char *tag, char *const argv[], char *const env[])
{
    return add(f, tag, argv, env, false, argv[0]);
}

/* Whether pid still runs as a child of ours (a test may have killed and reaped it);
 * *status gets the exit status of one that ended by itself. */
static bool
running(int pid, int *status)
{
    *status = 0;
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid)
        return false;
    *status = 0;
    return r == 0 || (r == -1 && errno != ECHILD);
}

int
it_fleet_settle(it_fleet *f, const int *keep, int n_keep)
{
    int killed = 0;
    for (int i = 0; i < f->n; i++) {
        it_daemon *d = &f->d[i];
        bool kept = false;
        for (int k = 0; k < n_keep; k++)
            kept |= keep[k] == d->pid;
        int st;
        if (d->pid <= 0 || kept)
            continue;
        if (running(d->pid, &st)) {
            fprintf(stderr, "# settle: killing %s, left running by the test\n", d->what);
            kill(d->pid, SIGKILL);
            waitpid(d->pid, NULL, 0);
            killed++;
        }
        d->pid = 0;
    }
    return killed;
}

bool
it_fleet_running(it_fleet *f, int pid)
{
    int st;
    for (int i = 0; i < f->n; i++)
        if (f->d[i].pid == pid)
            return pid > 0 && running(pid, &st);
    return false;
}

void
it_fleet_down(it_fleet *f)
{
    char bad[1024] = "";
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < f->n; i++) {
            it_daemon *d = &f->d[i];
            if (d->pid <= 0 || d->worker != (pass == 0))
                continue;
            int st = 0;
            if (running(d->pid, &st))
                st = it_stop(d->pid, 20000);
            {
                if (st != 0) {
                    size_t len = strlen(bad);
                    snprintf(bad + len, sizeof(bad) - len, "%s%s: status %d", len ? "; " : "",
                             d->what, st);
                }
            }
            d->pid = 0;
        }
    }
    PQfinish(it.pg);
    it.pg = NULL;
    floe_config_free(f->cfg);
    f->cfg = NULL;
    if (bad[0] != '\0')
        fail_msg("daemons did not stop cleanly: %s", bad);
}
