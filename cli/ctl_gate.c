/*
 * floectl approve / reject / signal: answer a gate of a running execution
 * (docs/spec.md#gates) through POST /api/v1/executions/ID/nodes/NODE/approve|reject|signal.
 */
#include "ctl.h"

#include "floe_httpc.h"
#include "floe_mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
ctl_gate(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *verb = argv[0], *target = NULL, *comment = NULL, *value = NULL;
    bool signal = strcmp(verb, "signal") == 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--comment") == 0 && i + 1 < argc && !signal)
            comment = argv[++i];
        else if (strcmp(argv[i], "--value") == 0 && i + 1 < argc && !signal)
            value = argv[++i];
        else if (argv[i][0] == '-' && strcmp(argv[i], "-") != 0)
            goto usage;
        else if (target == NULL)
            target = argv[i];
        else if (signal && value == NULL)
            value = argv[i];
        else
            goto usage;
    }
    const char *slash = target != NULL ? strchr(target, '/') : NULL;
    if (slash == NULL || slash == target || slash[1] == '\0' || (signal && value == NULL))
        goto usage;
    json_t *body = json_object();
    if (comment != NULL)
        json_object_set_new(body, "comment", json_string(comment));
    if (value != NULL) { /* JSON when it parses (42, "x", [1, 2]), else the text itself */
        json_error_t jerr;
        json_t *v = json_loads(value, JSON_DECODE_ANY, &jerr);
        json_object_set_new(body, "value", v != NULL ? v : json_string(value));
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char id[256], *node = floe_url_escape(slash + 1), suffix[512], url[1024];
    snprintf(id, sizeof(id), "%.*s", (int)(slash - target), target);
    if (text == NULL || node == NULL) {
        free(text);
        floe_free(node);
        fprintf(stderr, "floectl %s: out of memory\n", verb);
        return CTL_FAILED;
    }
    snprintf(suffix, sizeof(suffix), "nodes/%s/%s", node, verb);
    floe_free(node);
    if (ctl_exec_path(url, sizeof(url), id, suffix) != 0) {
        free(text);
        return CTL_FAILED;
    }
    json_t *out = NULL;
    int rc = ctl_call(ctx, "POST", url, "application/json", text, strlen(text), &out);
    free(text);
    static const char *const cols[] = {"execution", "node", "status", "by", NULL};
    if (rc == CTL_OK)
        ctl_print(ctx, out, cols);
    json_decref(out);
    return rc;
usage:
    fprintf(stderr, "floectl %s: usage: floectl %s EXECUTION_ID/NODE %s\n", verb, verb,
            signal ? "VALUE" : "[--comment TEXT] [--value VALUE]");
    return CTL_USAGE;
}
