/*
 * floectl relaunch | recover | cache | lineage — the catalog's verbs.
 */
#include "ctl.h"

#include "floe_httpc.h"
#include "floe_mem.h"

#include <stdlib.h>
#include <string.h>

int
ctl_relaunch(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *verb = argv[0], *id = NULL;
    bool no_cache = false, overwrite = false, wait = false;
    char *pairs[64];
    int n_pairs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--input") == 0 && i + 1 < argc && strcmp(verb, "relaunch") == 0) {
            if (n_pairs == 64) {
                fprintf(stderr, "floectl %s: at most 64 --input\n", verb);
                return CTL_USAGE;
            }
            pairs[n_pairs++] = argv[++i];
        } else if (strcmp(argv[i], "--no-cache") == 0)
            no_cache = true;
        else if (strcmp(argv[i], "--overwrite-cache") == 0)
            overwrite = true;
        else if (strcmp(argv[i], "--wait") == 0)
            wait = true;
        else if (argv[i][0] != '-' && id == NULL)
            id = argv[i];
        else {
            fprintf(stderr, "floectl %s: unexpected \"%s\"\n", verb, argv[i]);
            return CTL_USAGE;
        }
    }
    if (id == NULL) {
        fprintf(stderr, "floectl %s: expected an execution id\n", verb);
        return CTL_USAGE;
    }
    const char *user = getenv("USER");
    json_t *body = json_pack("{s:b,s:b,s:s}", "no_cache", no_cache, "overwrite_cache", overwrite,
                             "requested_by", user != NULL ? user : "floectl");
    char url[512];
    if (n_pairs > 0 && body != NULL) {
        /* Changed inputs, typed against the source execution's workflow. */
        json_t *src = NULL, *values = json_object();
        int rc = ctl_exec_path(url, sizeof(url), id, NULL) == 0
                     ? ctl_call(ctx, "GET", url, NULL, NULL, 0, &src)
                     : CTL_FAILED;
        if (rc == CTL_OK)
            rc = ctl_typed_inputs(ctx, src, pairs, n_pairs, values);
        json_decref(src);
        if (rc != CTL_OK) {
            json_decref(values);
            json_decref(body);
            return rc;
        }
        json_object_set_new(body, "inputs", values);
    }
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL || ctl_exec_path(url, sizeof(url), id, verb) != 0) {
        free(text);
        fprintf(stderr, "floectl %s: out of memory\n", verb);
        return CTL_FAILED;
    }
    json_t *out = NULL;
    int rc = ctl_call(ctx, "POST", url, "application/json", text, strlen(text), &out);
    free(text);
    if (rc != CTL_OK)
        return rc;
    static const char *const cols[] = {"id", "workflow.name", "phase", "source_execution", NULL};
    if (wait) {
        char nid[128];
        snprintf(nid, sizeof(nid), "%s", json_string_value(json_object_get(out, "id")));
        json_decref(out);
        return ctl_wait_for(ctx, nid, 3600000);
    }
    ctl_print(ctx, out, cols);
    json_decref(out);
    return CTL_OK;
}

int
ctl_cache(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    bool del = strcmp(what, "delete") == 0;
    if (!del && strcmp(what, "list") != 0) {
        fprintf(stderr, "floectl cache: expected list or delete\n");
        return CTL_USAGE;
    }
    const char *project = NULL, *domain = NULL, *task = NULL, *key = NULL, *limit = NULL;
    for (int i = 2; i < argc; i++) {
        int s = ctl_scope_flag(argc, argv, &i, &project, &domain);
        if (s < 0)
            return CTL_USAGE;
        if (s > 0)
            continue;
        const char **slot = strcmp(argv[i], "--task") == 0    ? &task
                            : strcmp(argv[i], "--key") == 0   ? &key
                            : strcmp(argv[i], "--limit") == 0 ? &limit
                                                              : NULL;
        if (slot == NULL || i + 1 >= argc || (del && slot == &limit) || (!del && slot == &key)) {
            fprintf(stderr, "floectl cache %s: unexpected \"%s\"\n", what, argv[i]);
            return CTL_USAGE;
        }
        *slot = argv[++i];
    }
    if (del && task == NULL && key == NULL) {
        fprintf(stderr, "floectl cache delete: name what to delete: --key KEY or --task NAME\n");
        return CTL_USAGE;
    }
    char url[1024] = "/api/v1/cache";
    ctl_query_add(url, sizeof(url), "project", project);
    ctl_query_add(url, sizeof(url), "domain", domain);
    ctl_query_add(url, sizeof(url), "task", task);
    ctl_query_add(url, sizeof(url), "key", key);
    ctl_query_add(url, sizeof(url), "limit", limit);
    json_t *out = NULL;
    int rc = ctl_call(ctx, del ? "DELETE" : "GET", url, NULL, NULL, 0, &out);
    if (rc != CTL_OK)
        return rc;
    static const char *const list_cols[] = {"key",        "task.name",  "cache_version",
                                            "execution",  "node",       "hits",
                                            "created_at", "expires_at", NULL};
    static const char *const del_cols[] = {"deleted", NULL};
    ctl_print(ctx, out, del ? del_cols : list_cols);
    json_decref(out);
    return CTL_OK;
}

/* --- lineage --------------------------------------------------------------------------- */

/* A DOT identifier or label: quoted, with quotes and backslashes escaped. */
static void
dot_str(const char *s)
{
    putchar('"');
    for (; s != NULL && *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if (*s == '\n')
            fputs("\\n", stdout);
        else
            putchar(*s);
    }
    putchar('"');
}

static void
print_dot(json_t *g)
{
    fputs("digraph lineage {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
          stdout);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(g, "nodes"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *exec = json_string_value(json_object_get(v, "execution"));
        const char *node = json_string_value(json_object_get(v, "node"));
        char label[1024];
        if (strcmp(json_string_value(json_object_get(v, "kind")), "node") == 0) {
            snprintf(label, sizeof(label), "%s\n%s %s\n%.12s", node,
                     json_string_value(json_object_get(v, "task")),
                     json_string_value(json_object_get(v, "phase")), exec);
            fputs("  ", stdout);
            dot_str(id);
            fputs(" [shape=box, style=rounded, label=", stdout);
        } else {
            const char *role = json_string_value(json_object_get(v, "role"));
            char *val = json_is_null(json_object_get(v, "value"))
                            ? NULL
                            : json_dumps(json_object_get(v, "value"), JSON_ENCODE_ANY);
            bool out = strcmp(role, "output") == 0;
            snprintf(label, sizeof(label), "%s%s%s : %s\n%.40s\n%.12s", out ? node : role,
                     out ? "." : " ", json_string_value(json_object_get(v, "name")),
                     json_string_value(json_object_get(v, "type")),
                     val != NULL ? val : json_string_value(json_object_get(v, "uri")), exec);
            free(val);
            fputs("  ", stdout);
            dot_str(id);
            fputs(" [shape=note, label=", stdout);
        }
        dot_str(label);
        fputs("];\n", stdout);
    }
    json_array_foreach(json_object_get(g, "edges"), i, v)
    {
        fputs("  ", stdout);
        dot_str(json_string_value(json_object_get(v, "from")));
        fputs(" -> ", stdout);
        dot_str(json_string_value(json_object_get(v, "to")));
        fputs(" [label=", stdout);
        dot_str(json_string_value(json_object_get(v, "relation")));
        fputs("];\n", stdout);
    }
    fputs("}\n", stdout);
}

int
ctl_lineage(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *root = NULL, *artifact = NULL, *depth = NULL;
    bool down = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--downstream") == 0)
            down = true;
        else if (strcmp(argv[i], "--upstream") == 0)
            down = false;
        else if (strcmp(argv[i], "--artifact") == 0 && i + 1 < argc)
            artifact = argv[++i];
        else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc)
            depth = argv[++i];
        else if (argv[i][0] != '-' && root == NULL)
            root = argv[i];
        else {
            fprintf(stderr, "floectl lineage: unexpected \"%s\"\n", argv[i]);
            return CTL_USAGE;
        }
    }
    if ((root == NULL) == (artifact == NULL)) {
        fprintf(stderr, "floectl lineage: give EXECUTION_ID[/NODE[/OUTPUT]] or --artifact ID\n");
        return CTL_USAGE;
    }
    char url[2048] = "/api/v1/lineage";
    if (root != NULL) {
        /* EXEC/NODE/OUTPUT: node ids may hold dots (sub-workflows), never slashes. */
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", root);
        char *node = strchr(buf, '/'), *output = NULL;
        if (node != NULL) {
            *node++ = '\0';
            output = strchr(node, '/');
            if (output != NULL)
                *output++ = '\0';
        }
        ctl_query_add(url, sizeof(url), "execution", buf);
        ctl_query_add(url, sizeof(url), "node", node);
        ctl_query_add(url, sizeof(url), "output", output);
    }
    ctl_query_add(url, sizeof(url), "artifact", artifact);
    ctl_query_add(url, sizeof(url), "direction", down ? "downstream" : "upstream");
    ctl_query_add(url, sizeof(url), "depth", depth);
    json_t *out = NULL;
    int rc = ctl_call(ctx, "GET", url, NULL, NULL, 0, &out);
    if (rc != CTL_OK)
        return rc;
    if (ctx->output == CTL_OUT_DOT) {
        print_dot(out);
    } else if (ctx->output == CTL_OUT_TABLE) {
        json_t *items = json_pack("{s:O}", "items", json_object_get(out, "nodes"));
        static const char *const cols[] = {"depth", "kind", "execution", "node", "name",
                                           "phase", "type", "value",     "uri",  NULL};
        ctl_print(ctx, items, cols);
        json_decref(items);
    } else {
        ctl_print(ctx, out, NULL);
    }
    json_decref(out);
    return CTL_OK;
}
