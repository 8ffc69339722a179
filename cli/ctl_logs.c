/*
 * An execution's nodes and their logs: `floectl get nodes ID` lists every node with its
 * phase, attempts and error; `floectl logs ID/NODE` prints an ended attempt's stdout (or
 * --stderr) from the blob store, where the worker kept it, also while the execution runs.
 */
#include "ctl.h"

#include <stdlib.h>
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

int
ctl_logs(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *ref = NULL;
    bool want_err = false;
    long attempt = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stderr") == 0)
            want_err = true;
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
    const char *node = slash + 1;
    json_t *out;
    int rc = fetch_nodes(ctx, id, &out);
    if (rc != CTL_OK)
        return rc;
    json_t *found = NULL, *v;
    size_t i;
    json_array_foreach(json_object_get(out, "items"), i, v)
    {
        const char *nid = json_string_value(json_object_get(v, "id"));
        if (nid != NULL && strcmp(nid, node) == 0)
            found = v;
    }
    json_t *log = json_object_get(found, "attempt_log"), *att = NULL;
    json_array_foreach(log, i, v)
    {
        if (attempt == 0 || json_integer_value(json_object_get(v, "attempt")) == attempt)
            att = v; /* the last one unless --attempt says which */
    }
    const char *stream = want_err ? "stderr" : "stdout";
    const char *uri = json_string_value(json_object_get(att, stream));
    if (found == NULL)
        fprintf(stderr, "floectl logs: execution %s has no node \"%s\"\n", id, node);
    else if (att == NULL)
        fprintf(stderr, "floectl logs: node %s has no attempt %ld\n", node, attempt);
    if (found == NULL || att == NULL)
        rc = CTL_FAILED;
    else if (uri != NULL)
        rc = ctl_blob_cat(ctx, uri); /* no uri: the task wrote nothing there */
    json_decref(out);
    return rc;
}
