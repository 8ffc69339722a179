/*
 * floectl token, whoami, audit, dataset: who the API knows, what they did, and who may use
 * a dataset (docs/security.md).
 */
#include "ctl.h"

#include "floe_httpc.h"

#include <stdio.h>
#include <string.h>

/* floectl token create NAME --grant PROJECT=ROLE... [--expires-in 30d] */
static int
token_create(const ctl_ctx *ctx, int argc, char **argv)
{
    if (argc < 3 || argv[2][0] == '-') {
        fprintf(stderr, "floectl token create: expected a NAME first\n");
        return CTL_USAGE;
    }
    json_t *body = json_pack("{s:s,s:[]}", "name", argv[2], "grants");
    json_t *grants = json_object_get(body, "grants");
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--grant") == 0 && i + 1 < argc) {
            const char *g = argv[++i];
            const char *eq = strchr(g, '=');
            if (eq == NULL || eq == g || eq[1] == '\0') {
                fprintf(stderr, "floectl token create: --grant \"%s\": expected PROJECT=ROLE\n", g);
                json_decref(body);
                return CTL_USAGE;
            }
            json_array_append_new(
                grants, json_pack("{s:s%,s:s}", "project", g, (size_t)(eq - g), "role", eq + 1));
        } else if (strcmp(argv[i], "--expires-in") == 0 && i + 1 < argc) {
            json_object_set_new(body, "expires_in", json_string(argv[++i]));
        } else {
            fprintf(stderr, "floectl token create: unexpected \"%s\"\n", argv[i]);
            json_decref(body);
            return CTL_USAGE;
        }
    }
    if (json_array_size(grants) == 0) {
        fprintf(stderr, "floectl token create: give at least one --grant PROJECT=ROLE "
                        "(roles: viewer, launcher, maintainer, admin; project * is every one)\n");
        json_decref(body);
        return CTL_USAGE;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *out = NULL;
    int rc = text != NULL ? ctl_call(ctx, "POST", "/api/v1/tokens", "application/json", text,
                                     strlen(text), &out)
                          : CTL_FAILED;
    free(text);
    if (rc != CTL_OK)
        return rc;
    if (ctx->output == CTL_OUT_NAME) /* TOKEN=$(floectl token create ... -q) */
        printf("%s\n", json_string_value(json_object_get(out, "token")));
    else {
        static const char *const cols[] = {"id", "token", "expires_at", NULL};
        ctl_print(ctx, out, cols);
        if (ctx->output == CTL_OUT_TABLE)
            fprintf(stderr, "floectl: the token is shown this once; keep it secret\n");
    }
    json_decref(out);
    return CTL_OK;
}

int
ctl_token(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "create") == 0)
        return token_create(ctx, argc, argv);
    json_t *out = NULL;
    int rc;
    if (strcmp(what, "list") == 0 && argc == 2) {
        if ((rc = ctl_call(ctx, "GET", "/api/v1/tokens", NULL, NULL, 0, &out)) != CTL_OK)
            return rc;
        static const char *const cols[] = {"id",         "name",         "owner",      "grants",
                                           "expires_at", "last_used_at", "revoked_at", NULL};
        ctl_print(ctx, out, cols);
    } else if (strcmp(what, "revoke") == 0 && argc == 3) {
        char *id = floe_url_escape(argv[2]);
        char path[256];
        snprintf(path, sizeof(path), "/api/v1/tokens/%s", id != NULL ? id : "");
        free(id);
        if ((rc = ctl_call(ctx, "DELETE", path, NULL, NULL, 0, &out)) != CTL_OK)
            return rc;
        static const char *const cols[] = {"id", "revoked", NULL};
        ctl_print(ctx, out, cols);
    } else {
        fprintf(stderr,
                "floectl token: expected create NAME --grant P=ROLE..., list or revoke ID\n");
        return CTL_USAGE;
    }
    json_decref(out);
    return CTL_OK;
}

int
ctl_whoami(const ctl_ctx *ctx, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "floectl whoami: takes no arguments\n");
        return CTL_USAGE;
    }
    json_t *out = NULL;
    int rc = ctl_call(ctx, "GET", "/api/v1/whoami", NULL, NULL, 0, &out);
    if (rc != CTL_OK)
        return rc;
    if (ctx->output == CTL_OUT_TABLE) {
        printf("%s (%s)\n", json_string_value(json_object_get(out, "principal")),
               json_string_value(json_object_get(out, "name")));
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(out, "grants"), i, g)
            printf("  %-10s in %s\n", json_string_value(json_object_get(g, "role")),
                   json_string_value(json_object_get(g, "project")));
    } else {
        static const char *const cols[] = {"principal", NULL};
        ctl_print(ctx, out, cols);
    }
    json_decref(out);
    return CTL_OK;
}

/* floectl audit [-p PROJECT] [--principal P] [--action A] [--outcome ok|denied|failed]
 * [--limit N] */
int
ctl_audit(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *project = NULL, *domain = NULL, *principal = NULL, *action = NULL, *outcome = NULL,
               *limit = NULL;
    for (int i = 1; i < argc; i++) {
        int s = ctl_scope_flag(argc, argv, &i, &project, &domain);
        if (s < 0)
            return CTL_USAGE;
        if (s > 0)
            continue;
        const char **slot = strcmp(argv[i], "--principal") == 0 ? &principal
                            : strcmp(argv[i], "--action") == 0  ? &action
                            : strcmp(argv[i], "--outcome") == 0 ? &outcome
                            : strcmp(argv[i], "--limit") == 0   ? &limit
                                                                : NULL;
        if (slot == NULL || i + 1 >= argc) {
            fprintf(stderr, "floectl audit: unexpected \"%s\"\n", argv[i]);
            return CTL_USAGE;
        }
        *slot = argv[++i];
    }
    char url[1024] = "/api/v1/audit";
    ctl_query_add(url, sizeof(url), "project", project);
    ctl_query_add(url, sizeof(url), "principal", principal);
    ctl_query_add(url, sizeof(url), "action", action);
    ctl_query_add(url, sizeof(url), "outcome", outcome);
    ctl_query_add(url, sizeof(url), "limit", limit);
    json_t *out = NULL;
    int rc = ctl_call(ctx, "GET", url, NULL, NULL, 0, &out);
    if (rc != CTL_OK)
        return rc;
    static const char *const cols[] = {"seq",      "at",      "principal", "action", "project",
                                       "resource", "outcome", "status",    NULL};
    ctl_print(ctx, out, cols);
    json_decref(out);
    return CTL_OK;
}

/* floectl dataset get NAME | grant NAME PROJECT [--publish] [--trigger] | revoke NAME PROJECT */
int
ctl_dataset(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    bool get = strcmp(what, "get") == 0 && argc == 3;
    bool grant = strcmp(what, "grant") == 0 && argc >= 4;
    bool revoke = strcmp(what, "revoke") == 0 && argc == 4;
    if (!get && !grant && !revoke) {
        fprintf(stderr, "floectl dataset: expected get NAME, grant NAME PROJECT [--publish] "
                        "[--trigger] or revoke NAME PROJECT\n");
        return CTL_USAGE;
    }
    bool publish = false, trigger = false;
    for (int i = 4; grant && i < argc; i++) {
        if (strcmp(argv[i], "--publish") == 0)
            publish = true;
        else if (strcmp(argv[i], "--trigger") == 0)
            trigger = true;
        else {
            fprintf(stderr, "floectl dataset grant: unexpected \"%s\"\n", argv[i]);
            return CTL_USAGE;
        }
    }
    if (grant && !publish && !trigger) {
        fprintf(stderr, "floectl dataset grant: give --publish, --trigger or both\n");
        return CTL_USAGE;
    }
    char *name = floe_url_escape(argv[2]);
    char *project = argc > 3 ? floe_url_escape(argv[3]) : NULL;
    char path[512], body[96];
    if (get)
        snprintf(path, sizeof(path), "/api/v1/datasets/%s", name != NULL ? name : "");
    else
        snprintf(path, sizeof(path), "/api/v1/datasets/%s/grants/%s", name != NULL ? name : "",
                 project != NULL ? project : "");
    free(name);
    free(project);
    snprintf(body, sizeof(body), "{\"publish\": %s, \"trigger\": %s}", publish ? "true" : "false",
             trigger ? "true" : "false");
    json_t *out = NULL;
    int rc = ctl_call(ctx,
                      get     ? "GET"
                      : grant ? "PUT"
                              : "DELETE",
                      path, grant ? "application/json" : NULL, grant ? body : NULL,
                      grant ? strlen(body) : 0, &out);
    if (rc != CTL_OK)
        return rc;
    if (get && ctx->output == CTL_OUT_TABLE) {
        printf("%s: owned by %s\n", json_string_value(json_object_get(out, "dataset")),
               json_string_value(json_object_get(out, "owner")));
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(out, "grants"), i, g)
            printf("  %-24s%s%s (by %s)\n", json_string_value(json_object_get(g, "project")),
                   json_is_true(json_object_get(g, "publish")) ? " publish" : "",
                   json_is_true(json_object_get(g, "trigger")) ? " trigger" : "",
                   json_string_value(json_object_get(g, "granted_by")));
    } else {
        static const char *const cols[] = {"dataset", "owner",   "project",
                                           "publish", "trigger", NULL};
        ctl_print(ctx, out, cols);
    }
    json_decref(out);
    return CTL_OK;
}
