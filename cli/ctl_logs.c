/*
 * An execution's nodes and their logs: `floectl get nodes ID` lists every node with its
 * phase, attempts and error; `floectl logs ID/NODE [-f]` prints an attempt's stdout (or
 * --stderr): an ended attempt's from its result, a running or stopped one's from what its
 * worker shipped while it ran (GET .../nodes/NODE/logs), and with -f follows it until it
 * ends, printing lines as the task writes them (waiting first for a node of a running
 * execution that has not started: `launch` then `logs -f` races the engine's start).
 * Everything through the API.
 */
#include "ctl.h"

#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

static int
fetch_nodes(const ctl_ctx *ctx, const char *id, json_t **out)
{
    char url[512];
    if (ctl_exec_path(url, sizeof(url), id, "nodes") != 0)
        return CTL_FAILED;
    return ctl_call(ctx, "GET", url, NULL, NULL, 0, out);
}

int
ctl_get_nodes(const ctl_ctx *ctx, const char *id)
{
    json_t *out;
    int rc = fetch_nodes(ctx, id, &out);
    if (rc != CTL_OK)
        return rc;
    static const char *const cols[] = {"id", "phase", "attempts", "error.message", NULL};
    ctl_print(ctx, out, cols);
    json_decref(out);
    return CTL_OK;
}

/* The node's entry in the nodes listing, and the entry of attempt (0: its latest). */
typedef struct logs_ref {
    const char *id, *node, *stream;
    long attempt;
    bool running;          /* the node's attempt has not ended */
    const char *final_uri; /* the ended attempt's log, when recorded */
    bool ended;
} logs_ref;

/* *pending (may be NULL: report instead): the node has no attempt yet in an execution that
 * still runs (just launched, or its upstream still running), so a follower waits. */
static int
find_attempt(const ctl_ctx *ctx, logs_ref *lr, json_t **keep, bool *pending)
{
    json_t *out;
    int rc = fetch_nodes(ctx, lr->id, &out);
    if (rc != CTL_OK)
        return rc;
    const char *source = json_string_value(json_object_get(out, "source"));
    bool live = source != NULL && strcmp(source, "live") == 0;
    json_t *found = NULL, *v, *att = NULL;
    size_t i;
    json_array_foreach(json_object_get(out, "items"), i, v)
    {
        const char *nid = json_string_value(json_object_get(v, "id"));
        if (nid != NULL && strcmp(nid, lr->node) == 0)
            found = v;
    }
    long started = found != NULL ? (long)json_integer_value(json_object_get(found, "attempts")) : 0;
    if (pending != NULL && live && (found == NULL || (lr->attempt == 0 && started == 0))) {
        *pending = true;
        json_decref(out);
        return CTL_OK;
    }
    if (found == NULL) {
        fprintf(stderr, "floectl logs: execution %s has no node \"%s\"\n", lr->id, lr->node);
        json_decref(out);
        return CTL_FAILED;
    }
    long want = lr->attempt > 0 ? lr->attempt : started;
    json_array_foreach(json_object_get(found, "attempt_log"), i, v)
    {
        if (json_integer_value(json_object_get(v, "attempt")) == want)
            att = v;
    }
    const char *phase = json_string_value(json_object_get(found, "phase"));
    if (want == 0 && phase != NULL && strcmp(phase, "CACHED") == 0) {
        /* Nothing ran here: its outputs are another attempt's, which lineage names. */
        fprintf(stderr,
                "floectl logs: node %s is CACHED: it ran no attempt in this execution (its "
                "outputs came from the cache; `floectl lineage %s/%s/OUTPUT` names the run "
                "that made them)\n",
                lr->node, lr->id, lr->node);
        json_decref(out);
        return CTL_FAILED;
    }
    if (want == 0 || (att == NULL && want > started)) {
        fprintf(stderr, "floectl logs: node %s has no attempt %ld%s\n", lr->node, want,
                want == 0 ? " (it has not started)" : "");
        json_decref(out);
        return CTL_FAILED;
    }
    lr->attempt = want;
    lr->ended = att != NULL;
    lr->running = att == NULL;
    lr->final_uri = json_string_value(json_object_get(att, lr->stream));
    *keep = out; /* final_uri points into it */
    return CTL_OK;
}

/* One page of the running log from *from: prints the bytes past *printed; at the
 * attempt's end also the rest of the whole log, and sets *complete. */
static int
live_page(const ctl_ctx *ctx, const logs_ref *lr, long *from, uint64_t *printed, bool *complete,
          bool *any)
{
    char path[600], q[64];
    if (ctl_exec_path(path, sizeof(path), lr->id, "nodes") != 0)
        return CTL_FAILED;
    size_t n = strlen(path);
    snprintf(path + n, sizeof(path) - n, "/%s/logs", lr->node);
    snprintf(q, sizeof(q), "%ld", lr->attempt);
    ctl_query_add(path, sizeof(path), "attempt", q);
    ctl_query_add(path, sizeof(path), "stream", lr->stream);
    snprintf(q, sizeof(q), "%ld", *from);
    ctl_query_add(path, sizeof(path), "from", q);
    json_t *page;
    int rc = ctl_call(ctx, "GET", path, NULL, NULL, 0, &page);
    if (rc != CTL_OK)
        return rc;
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(page, "entries"), i, e)
    {
        uint64_t off = (uint64_t)json_integer_value(json_object_get(e, "offset"));
        uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "size"));
        const char *uri = json_string_value(json_object_get(e, "uri"));
        *any = true;
        if (uri == NULL || off + size <= *printed || off > *printed)
            continue; /* shown already, or after a lost entry: the end fills it in */
        if ((rc = ctl_blob_fetch(ctx, uri, -1, stdout, *printed - off)) != CTL_OK)
            break;
        *printed = off + size;
    }
    fflush(stdout);
    *from = (long)json_integer_value(json_object_get(page, "next"));
    *complete = json_is_true(json_object_get(page, "complete"));
    if (rc == CTL_OK && *complete) {
        uint64_t size = (uint64_t)json_integer_value(json_object_get(page, "size"));
        const char *uri = json_string_value(json_object_get(page, "uri"));
        if (uri != NULL && size > *printed)
            rc = ctl_blob_fetch(ctx, uri, -1, stdout, *printed);
        *any = true;
    }
    json_decref(page);
    return rc;
}

static void
pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int
ctl_logs(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *ref = NULL;
    bool want_err = false, follow = false;
    long attempt = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stderr") == 0)
            want_err = true;
        else if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
            follow = true;
        else if (strcmp(argv[i], "--attempt") == 0 && i + 1 < argc) {
            char *end;
            attempt = strtol(argv[++i], &end, 10);
            if (*end != '\0' || attempt < 1) {
                fprintf(stderr, "floectl logs: --attempt takes a number from 1\n");
                return CTL_USAGE;
            }
        } else if (argv[i][0] != '-' && ref == NULL)
            ref = argv[i];
        else {
            fprintf(stderr, "floectl logs: unexpected \"%s\" (see --help)\n", argv[i]);
            return CTL_USAGE;
        }
    }
    const char *slash = ref != NULL ? strchr(ref, '/') : NULL;
    if (slash == NULL || slash == ref || slash[1] == '\0' || strlen(ref) > 400) {
        fprintf(stderr, "floectl logs: expected EXECUTION_ID/NODE\n");
        return CTL_USAGE;
    }
    char id[401];
    snprintf(id, sizeof(id), "%.*s", (int)(slash - ref), ref);
    logs_ref lr = {
        .id = id, .node = slash + 1, .stream = want_err ? "stderr" : "stdout", .attempt = attempt};
    json_t *nodes = NULL;
    bool pending = follow;
    int rc = CTL_OK;
    while (rc == CTL_OK && pending) { /* following: until the node's attempt starts */
        pending = false;
        if ((rc = find_attempt(ctx, &lr, &nodes, &pending)) == CTL_OK && pending)
            pause_ms(300);
    }
    if (rc == CTL_OK && !follow)
        rc = find_attempt(ctx, &lr, &nodes, NULL);
    if (rc != CTL_OK)
        return rc;
    if (lr.ended && lr.final_uri != NULL && !follow) { /* the common case: its result's log */
        rc = ctl_blob_cat(ctx, lr.final_uri);
        json_decref(nodes);
        return rc;
    }
    long from = 0;
    uint64_t printed = 0;
    bool complete = false, any = false;
    int idle = 0;
    while (rc == CTL_OK) {
        rc = live_page(ctx, &lr, &from, &printed, &complete, &any);
        if (rc != CTL_OK || complete)
            break;
        if (lr.ended) {
            /* ended before its first shipment (or its worker ships nothing): the result's */
            if (!any && lr.final_uri != NULL)
                rc = ctl_blob_fetch(ctx, lr.final_uri, -1, stdout, printed);
            break;
        }
        if (!follow) {
            fprintf(stderr, "floectl logs: attempt %ld of %s is still running (-f follows it)\n",
                    lr.attempt, lr.node);
            break;
        }
        pause_ms(300);
        if (++idle % 7 == 0) { /* every ~2 s: has it ended meanwhile? */
            json_decref(nodes);
            nodes = NULL;
            logs_ref again = lr;
            if ((rc = find_attempt(ctx, &again, &nodes, NULL)) == CTL_OK)
                lr = again;
        }
    }
    fflush(stdout);
    json_decref(nodes);
    return rc;
}
