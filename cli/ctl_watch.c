/*
 * floectl watch — an execution's node table as it changes, until the execution ends (as
 * `kubectl get -w`): on a terminal the table is redrawn in place; otherwise each change
 * is one line (time, node, phase, attempts), for logs and pipes. Exits as `floectl wait`
 * does: 0 succeeded, 4 failed, 3 still running after --timeout, 1 the API failed.
 */
#include "ctl.h"

#include "floe_phase.h"
#include "floe_time.h"
#include "floe_value.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
ctl_watch_help(FILE *out)
{
    fputs("usage: floectl watch EXECUTION_ID [--timeout 1h] [--interval 1s]\n"
          "Shows the execution's nodes (phase, attempts, error) as they change until it\n"
          "ends: redrawn on a terminal, one line per change otherwise. Exit status as\n"
          "floectl wait: 0 succeeded, 4 failed, 3 still running after --timeout.\n",
          out);
}

/* One line per node whose phase or attempts changed since seen (a JSON object of
 * node -> "PHASE/ATTEMPTS"), and the execution's own phase. */
static void
print_changes(json_t *nodes, json_t *seen, const char *exec_phase)
{
    char stamp[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime_r(&now, &tm));
    const char *was = json_string_value(json_object_get(seen, ""));
    if (was == NULL || strcmp(was, exec_phase) != 0) {
        printf("%s  %-24s %s\n", stamp, "(execution)", exec_phase);
        json_object_set_new(seen, "", json_string(exec_phase));
    }
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(nodes, "items"), i, n)
    {
        const char *id = json_string_value(json_object_get(n, "id"));
        const char *ph = json_string_value(json_object_get(n, "phase"));
        json_int_t att = json_integer_value(json_object_get(n, "attempts"));
        if (id == NULL || id[0] == '\0' || ph == NULL)
            continue;
        char now_s[64];
        snprintf(now_s, sizeof(now_s), "%s/%lld", ph, (long long)att);
        const char *before = json_string_value(json_object_get(seen, id));
        if (before != NULL && strcmp(before, now_s) == 0)
            continue;
        const char *msg =
            json_string_value(json_object_get(json_object_get(n, "error"), "message"));
        printf("%s  %-24s %-10s attempts %lld%s%s\n", stamp, id, ph, (long long)att,
               msg != NULL ? "  " : "", msg != NULL ? msg : "");
        json_object_set_new(seen, id, json_string(now_s));
    }
    fflush(stdout);
}

int
ctl_watch(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *timeout = "1h", *interval = "1s";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
            timeout = argv[++i];
        else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc)
            interval = argv[++i];
        else if (argv[i][0] != '-' && id == NULL)
            id = argv[i];
        else {
            fprintf(stderr, "floectl watch: unexpected \"%s\" (see floectl watch --help)\n",
                    argv[i]);
            return CTL_USAGE;
        }
    }
    int64_t timeout_us = 0, every_us = 0;
    floe_err err = {0};
    if (id == NULL || floe_duration_parse(timeout, &timeout_us, &err) != FLOE_OK ||
        floe_duration_parse(interval, &every_us, &err) != FLOE_OK || every_us < 100000) {
        fprintf(stderr, "floectl watch: %s\n",
                id == NULL ? "which execution? (floectl watch ID)"
                           : (err.msg[0] ? err.msg : "--interval is at least 100ms"));
        return CTL_USAGE;
    }
    char exec_url[512], nodes_url[512];
    if (ctl_exec_path(exec_url, sizeof(exec_url), id, NULL) != 0 ||
        ctl_exec_path(nodes_url, sizeof(nodes_url), id, "nodes") != 0)
        return CTL_FAILED;
    bool tty = isatty(STDOUT_FILENO) && ctx->output == CTL_OUT_TABLE;
    json_t *seen = json_object();
    int64_t deadline = floe_mono_us() + timeout_us;
    int rc;
    for (;;) {
        json_t *ex = NULL, *nodes = NULL;
        if ((rc = ctl_call(ctx, "GET", exec_url, NULL, NULL, 0, &ex)) != CTL_OK ||
            (rc = ctl_call(ctx, "GET", nodes_url, NULL, NULL, 0, &nodes)) != CTL_OK) {
            json_decref(ex);
            break;
        }
        const char *phase = json_string_value(json_object_get(ex, "phase"));
        phase = phase != NULL ? phase : "?";
        bool done = floe_phase_name_terminal(FLOE_SCOPE_EXEC, phase);
        if (tty) { /* redraw in place */
            printf("\033[H\033[2J%s  %s\n\n", id, phase);
            static const char *const cols[] = {"id", "phase", "attempts", "error.message", NULL};
            ctl_print(ctx, nodes, cols);
            fflush(stdout);
        } else {
            print_changes(nodes, seen, phase);
        }
        json_decref(nodes);
        if (done) {
            rc = floe_phase_parse(phase) == FLOE_PHASE_SUCCEEDED ? CTL_OK : CTL_EXEC_FAILED;
            json_decref(ex);
            break;
        }
        json_decref(ex);
        if (floe_mono_us() > deadline) {
            fprintf(stderr, "floectl watch: %s has not finished after %s\n", id, timeout);
            rc = CTL_TIMEOUT;
            break;
        }
        usleep((useconds_t)every_us); /* a remote table: nothing to wait on locally */
    }
    json_decref(seen);
    return rc;
}
