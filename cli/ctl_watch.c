/*
 * floectl watch — an execution's node table as it changes, until the execution ends (as
 * `kubectl get -w`): on a terminal the table is redrawn in place; otherwise each change
 * is one line (time, node, phase, attempts), for logs and pipes. Changes come from the
 * API's live feed (GET /api/v1/feed?execution=ID): the snapshot is read when the feed is
 * ready, then each change is shown as it comes. Against a server without the feed, or
 * when it breaks, the table is read every --interval instead. Exits as `floectl wait`
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

#include "floe_httpc.h"
#include "floe_mem.h"

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

typedef struct watch_state {
    const ctl_ctx *ctx;
    const char *id, *exec_url, *nodes_url;
    bool tty;
    json_t *seen; /* node -> "PHASE/ATTEMPTS" shown */
    int64_t deadline;
    int rc;    /* once the execution ended */
    bool done; /* it ended (rc says how) or a call failed */
    char *buf; /* the feed's text not yet a whole event */
    size_t len, cap;
    int64_t last_table_us;
    char why[FLOE_ERR_MSG_MAX]; /* why the feed was not followed to the end */
} watch_state;

#define WATCH_POLL (-1)         /* the feed is not there: read every --interval */
#define WATCH_BUF_MAX (1 << 20) /* an event longer than this is not the API's */
#define WATCH_REDRAW_US 300000  /* a terminal's table redrawn at most this often */

/* Reads the execution and its nodes and shows them; sets w->done when it ended. */
static void
watch_read(watch_state *w)
{
    json_t *ex = NULL, *nodes = NULL;
    int rc;
    if ((rc = ctl_call(w->ctx, "GET", w->exec_url, NULL, NULL, 0, &ex)) != CTL_OK ||
        (rc = ctl_call(w->ctx, "GET", w->nodes_url, NULL, NULL, 0, &nodes)) != CTL_OK) {
        json_decref(ex);
        w->rc = rc;
        w->done = true;
        return;
    }
    const char *phase = json_string_value(json_object_get(ex, "phase"));
    phase = phase != NULL ? phase : "?";
    if (w->tty) { /* redraw in place */
        printf("\033[H\033[2J%s  %s\n\n", w->id, phase);
        static const char *const cols[] = {"id", "phase", "attempts", "error.message", NULL};
        ctl_print(w->ctx, nodes, cols);
        fflush(stdout);
        w->last_table_us = floe_mono_us();
    } else {
        print_changes(nodes, w->seen, phase);
    }
    if (floe_phase_name_terminal(FLOE_SCOPE_EXEC, phase)) {
        w->rc = floe_phase_parse(phase) == FLOE_PHASE_SUCCEEDED ? CTL_OK : CTL_EXEC_FAILED;
        w->done = true;
    }
    json_decref(ex);
    json_decref(nodes);
}

/* One change from the feed: a line, or (on a terminal) the table again. */
static void
watch_change(watch_state *w, const char *data)
{
    json_t *c = json_loads(data, 0, NULL);
    const char *node = json_string_value(json_object_get(c, "node"));
    const char *phase = json_string_value(json_object_get(c, "phase"));
    if (phase == NULL) {
        json_decref(c);
        return;
    }
    bool exec_end = node == NULL && floe_phase_name_terminal(FLOE_SCOPE_EXEC, phase);
    if (w->tty || exec_end) {
        /* The end is read whole (outputs, the exit status); a terminal's table at most
         * every WATCH_REDRAW_US. */
        if (exec_end || floe_mono_us() - w->last_table_us > WATCH_REDRAW_US)
            watch_read(w);
        json_decref(c);
        return;
    }
    char stamp[16];
    time_t now = time(NULL);
    struct tm tm;
    strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime_r(&now, &tm));
    if (node == NULL) {
        printf("%s  %-24s %s\n", stamp, "(execution)", phase);
        json_object_set_new(w->seen, "", json_string(phase));
    } else {
        long long att = (long long)json_integer_value(json_object_get(c, "attempt"));
        const char *msg = json_string_value(json_object_get(c, "message"));
        printf("%s  %-24s %-10s attempts %lld%s%s\n", stamp, node, phase, att,
               msg != NULL ? "  " : "", msg != NULL ? msg : "");
        char seen[64];
        snprintf(seen, sizeof(seen), "%s/%lld", phase, att);
        json_object_set_new(w->seen, node, json_string(seen));
    }
    fflush(stdout);
    json_decref(c);
}

/* The feed's bytes: whole events ("event: ...\ndata: ...\n\n") handled, the rest kept. */
static bool
watch_data(const char *data, size_t len, void *arg)
{
    watch_state *w = arg;
    if (w->len + len + 1 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8192;
        while (cap < w->len + len + 1)
            cap *= 2;
        char *nb = cap <= WATCH_BUF_MAX ? floe_realloc(w->buf, cap) : NULL;
        if (nb == NULL) {
            w->rc = CTL_FAILED;
            w->done = true;
            fprintf(stderr, "floectl watch: the feed sent an event over %d bytes\n", WATCH_BUF_MAX);
            return false;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, len);
    w->len += len;
    w->buf[w->len] = '\0';
    char *start = w->buf, *end;
    while (!w->done && (end = strstr(start, "\n\n")) != NULL) {
        *end = '\0';
        const char *ev = strstr(start, "event: ");
        char *d = strstr(start, "data: ");
        if (d != NULL) {
            d += 6;
            d[strcspn(d, "\n")] = '\0';
        }
        if (ev != NULL && strncmp(ev + 7, "ready", 5) == 0)
            watch_read(w);
        else if (ev != NULL && strncmp(ev + 7, "phase", 5) == 0 && d != NULL)
            watch_change(w, d);
        start = end + 2;
    }
    w->len -= (size_t)(start - w->buf);
    memmove(w->buf, start, w->len + 1);
    return !w->done;
}

/* Follows the execution through the feed until it ends; WATCH_POLL when the feed cannot
 * be had (or broke before the end), so that polling takes over. */
static int
watch_feed(watch_state *w)
{
    watch_read(w); /* at once: the feed's `ready` can wait for its brokers */
    if (w->done)
        return w->rc;
    char *esc = floe_url_escape(w->id);
    char path[512];
    if (esc == NULL)
        return WATCH_POLL;
    snprintf(path, sizeof(path), "/api/v1/feed?execution=%s", esc);
    floe_free(esc);
    int status = 0;
    floe_err err = {0};
    /* A keepalive comes every 15 s: 60 s of silence is a broken stream. */
    floe_rc rc = floe_httpc_stream(w->ctx->cfg->api_url, path, 60000, w->deadline, watch_data, w,
                                   &status, &err);
    if (w->done)
        return w->rc;
    if (rc == FLOE_ETIMEDOUT && floe_mono_us() >= w->deadline)
        return CTL_TIMEOUT;
    if (status == 401 || status == 403 || status == 404) {
        fprintf(stderr, "floectl watch: %s\n", err.msg);
        return CTL_FAILED;
    }
    snprintf(w->why, sizeof(w->why), "%s", err.msg);
    return WATCH_POLL;
}

/* The table read every every_us until the execution ends. */
static int
watch_poll(watch_state *w, int64_t every_us)
{
    for (;;) {
        watch_read(w);
        if (w->done)
            return w->rc;
        if (floe_mono_us() > w->deadline)
            return CTL_TIMEOUT;
        usleep((useconds_t)every_us); /* a remote table: nothing to wait on locally */
    }
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
    watch_state w = {.ctx = ctx,
                     .id = id,
                     .exec_url = exec_url,
                     .nodes_url = nodes_url,
                     .tty = isatty(STDOUT_FILENO) && ctx->output == CTL_OUT_TABLE,
                     .seen = json_object(),
                     .deadline = floe_mono_us() + timeout_us};
    int rc = watch_feed(&w);
    if (rc == WATCH_POLL) {
        fprintf(stderr, "floectl watch: no live feed (%s): reading the nodes every %s\n", w.why,
                interval);
        rc = watch_poll(&w, every_us);
    }
    if (rc == CTL_TIMEOUT)
        fprintf(stderr, "floectl watch: %s has not finished after %s\n", id, timeout);
    json_decref(w.seen);
    floe_free(w.buf);
    return rc;
}
