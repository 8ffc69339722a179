/*
 * Registry verbs: register, get and list tasks/workflows/launch plans, and activate or
 * deactivate launch plans.
 */
#include "ctl.h"

#include "floe_httpc.h"
#include "floe_mem.h"

#include <dirent.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#define CTL_FILE_MAX (64u << 20)

static const char *const entity_columns[] = {"kind",   "name",       "version",
                                             "digest", "created_at", NULL};
static const char *const plan_columns[] = {"name",   "version",    "workflow.name",
                                           "active", "created_at", NULL};
static const char *const register_columns[] = {"kind", "name", "version", "digest", "status", NULL};

/* "tasks" for task/tasks; NULL when not a registry kind. */
static const char *
kind_path(const char *word)
{
    if (strcmp(word, "task") == 0 || strcmp(word, "tasks") == 0)
        return "tasks";
    if (strcmp(word, "workflow") == 0 || strcmp(word, "workflows") == 0)
        return "workflows";
    if (strcmp(word, "launchplan") == 0 || strcmp(word, "launchplans") == 0 ||
        strcmp(word, "lp") == 0)
        return "launchplans";
    return NULL;
}

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *b = cap <= CTL_FILE_MAX ? floe_realloc(buf, cap + 1) : NULL;
            if (b == NULL) {
                floe_free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int
register_file(const ctl_ctx *ctx, const char *path, const char *project, const char *domain,
              const char *version, bool dry_run, json_t *all)
{
    size_t len;
    char *text = read_all(path, &len);
    if (text == NULL) {
        fprintf(stderr, "floectl %s: cannot read %s\n", dry_run ? "validate" : "register", path);
        return CTL_FAILED;
    }
    const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    char url[1024] = "/api/v1/register";
    ctl_query_add(url, sizeof(url), "project", project);
    ctl_query_add(url, sizeof(url), "domain", domain);
    ctl_query_add(url, sizeof(url), "version", version);
    ctl_query_add(url, sizeof(url), "file", base);
    if (dry_run)
        ctl_query_add(url, sizeof(url), "dry_run", "true");
    json_t *out;
    int rc = ctl_call(ctx, "POST", url, "application/yaml", text, len, &out);
    floe_free(text);
    if (rc != CTL_OK)
        return rc;
    json_array_extend(json_object_get(all, "registered"), json_object_get(out, "registered"));
    json_decref(out);
    return CTL_OK;
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* register, and validate (argv[0]): the same compile and checks, stored or not. Validate
 * goes through every file of a directory and reports each failing one. */
int
ctl_register(const ctl_ctx *ctx, int argc, char **argv)
{
    bool dry_run = strcmp(argv[0], "validate") == 0;
    const char *project = ctx->cfg->project, *domain = ctx->cfg->domain, *version = NULL;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        int s = ctl_scope_flag(argc, argv, &i, &project, &domain);
        if (s < 0)
            return CTL_USAGE;
        if (s > 0)
            continue;
        if ((strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "--version") == 0 && i + 1 < argc)
            version = argv[++i];
        else {
            fprintf(stderr, "floectl %s: unexpected \"%s\" (see --help)\n", argv[0], argv[i]);
            return CTL_USAGE;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "floectl %s: -f FILE|DIR is required\n", argv[0]);
        return CTL_USAGE;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "floectl %s: %s: no such file or directory\n", argv[0], path);
        return CTL_USAGE;
    }
    json_t *all = json_pack("{s:s,s:s,s:[],s:b}", "project", project, "domain", domain,
                            "registered", "dry_run", dry_run);
    int rc = CTL_OK;
    if (S_ISDIR(st.st_mode)) {
        /* Each *.yaml / *.yml in name order, one registration each. */
        DIR *d = opendir(path);
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            size_t l = strlen(de->d_name);
            if (!((l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0) ||
                  (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0)))
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                char **grown = floe_realloc(names, ncap * sizeof(*names));
                if (grown == NULL)
                    break;
                names = grown;
                cap = ncap;
            }
            if ((names[n] = floe_strdup(de->d_name)) != NULL)
                n++;
        }
        if (d != NULL)
            closedir(d);
        if (n > 1)
            qsort(names, n, sizeof(*names), str_cmp);
        for (size_t i = 0; i < n; i++) {
            char full[4096];
            snprintf(full, sizeof(full), "%s/%s", path, names[i]);
            if (dry_run) {
                int frc = register_file(ctx, full, project, domain, version, true, all);
                if (frc != CTL_OK)
                    rc = frc;
            } else if (rc == CTL_OK) {
                rc = register_file(ctx, full, project, domain, version, false, all);
            }
            floe_free(names[i]);
        }
        floe_free(names);
        if (n == 0) {
            fprintf(stderr, "floectl %s: no *.yaml files in %s\n", argv[0], path);
            rc = CTL_USAGE;
        }
    } else {
        rc = register_file(ctx, path, project, domain, version, dry_run, all);
    }
    if (rc == CTL_OK)
        ctl_print(ctx, all, register_columns);
    json_decref(all);
    return rc;
}

/* NAME[@VERSION] -> /api/v1/KIND/project/domain/name[/version] */
static int
entity_url(char *url, size_t size, const char *kind, const char *project, const char *domain,
           const char *ref)
{
    char name[512];
    snprintf(name, sizeof(name), "%s", ref);
    char *at = strchr(name, '@');
    if (at != NULL)
        *at++ = '\0';
    char *ep = floe_url_escape(project), *ed = floe_url_escape(domain), *en = floe_url_escape(name),
         *ev = at != NULL ? floe_url_escape(at) : NULL;
    int ok = ep != NULL && ed != NULL && en != NULL && (at == NULL || ev != NULL);
    if (ok)
        snprintf(url, size, "/api/v1/%s/%s/%s/%s%s%s", kind, ep, ed, en, ev ? "/" : "",
                 ev ? ev : "");
    floe_free(ep);
    floe_free(ed);
    floe_free(en);
    floe_free(ev);
    return ok ? 0 : -1;
}

int ctl_get_execution(const ctl_ctx *ctx, const char *id);

int
ctl_get(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *project = ctx->cfg->project, *domain = ctx->cfg->domain;
    const char *what = NULL, *ref = NULL;
    for (int i = 1; i < argc; i++) {
        int s = ctl_scope_flag(argc, argv, &i, &project, &domain);
        if (s < 0)
            return CTL_USAGE;
        if (s > 0)
            continue;
        if (what == NULL)
            what = argv[i];
        else if (ref == NULL)
            ref = argv[i];
        else {
            fprintf(stderr, "floectl get: unexpected \"%s\"\n", argv[i]);
            return CTL_USAGE;
        }
    }
    if (what == NULL || ref == NULL) {
        fprintf(stderr, "floectl get: expected KIND and NAME (see floectl get --help)\n");
        return CTL_USAGE;
    }
    if (strcmp(what, "execution") == 0 || strcmp(what, "executions") == 0 ||
        strcmp(what, "ex") == 0)
        return ctl_get_execution(ctx, ref);
    if (strcmp(what, "nodes") == 0)
        return ctl_get_nodes(ctx, ref);
    const char *kind = kind_path(what);
    if (kind == NULL) {
        fprintf(stderr,
                "floectl get: \"%s\" is not execution, nodes, workflow, task or launchplan\n",
                what);
        return CTL_USAGE;
    }
    char url[2048];
    if (entity_url(url, sizeof(url), kind, project, domain, ref) != 0)
        return CTL_FAILED;
    json_t *out;
    int rc = ctl_call(ctx, "GET", url, NULL, NULL, 0, &out);
    if (rc == CTL_OK)
        ctl_print(ctx, out, strcmp(kind, "launchplans") == 0 ? plan_columns : entity_columns);
    json_t *st = rc == CTL_OK ? json_object_get(out, "status") : NULL;
    if (st != NULL && ctx->output == CTL_OUT_TABLE) {
        /* What the plan does on its own: next instants, firings, awaited datasets. */
        static const char *const firing_cols[] = {"id",
                                                  "kind",
                                                  "state",
                                                  "scheduled_at",
                                                  "partition_key",
                                                  "execution_id",
                                                  "execution_phase",
                                                  "reason",
                                                  NULL};
        static const char *const await_cols[] = {"partition_key", "published", "awaited", "since",
                                                 NULL};
        printf("\nnext fires:");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(st, "next_fires"), i, v)
            printf(" %s", json_string_value(v));
        printf("\nfirings: %lld launched, %lld pending (queued), %lld skipped; %lld instants "
               "missed; %lld trigger launches in the last minute\n",
               (long long)json_integer_value(json_object_get(st, "launched")),
               (long long)json_integer_value(json_object_get(st, "pending")),
               (long long)json_integer_value(json_object_get(st, "skipped")),
               (long long)json_integer_value(json_object_get(st, "missed")),
               (long long)json_integer_value(json_object_get(st, "launched_last_minute")));
        /* Tables print the rows of {items: [...]}: a bare array was one row of "-" cells. */
        if (json_array_size(json_object_get(st, "firings")) > 0) {
            printf("\nlast firings:\n");
            json_t *rows = json_pack("{s:O}", "items", json_object_get(st, "firings"));
            ctl_print(ctx, rows, firing_cols);
            json_decref(rows);
        }
        if (json_array_size(json_object_get(st, "awaiting")) > 0) {
            printf("\npartitions awaiting datasets:\n");
            json_t *rows = json_pack("{s:O}", "items", json_object_get(st, "awaiting"));
            ctl_print(ctx, rows, await_cols);
            json_decref(rows);
        }
    }
    json_decref(out);
    return rc;
}

int
ctl_list(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *project = ctx->cfg->project, *domain = ctx->cfg->domain;
    const char *what = NULL, *name = NULL, *limit = NULL, *token = NULL, *phase = NULL;
    const char *plan = NULL, *by = NULL, *since = NULL, *until = NULL, *label = NULL;
    for (int i = 1; i < argc; i++) {
        int s = ctl_scope_flag(argc, argv, &i, &project, &domain);
        if (s < 0)
            return CTL_USAGE;
        if (s > 0)
            continue;
        const char **slot = NULL;
        if (strcmp(argv[i], "--name") == 0 || strcmp(argv[i], "--workflow") == 0)
            slot = &name;
        else if (strcmp(argv[i], "--limit") == 0)
            slot = &limit;
        else if (strcmp(argv[i], "--token") == 0)
            slot = &token;
        else if (strcmp(argv[i], "--phase") == 0)
            slot = &phase;
        else if (strcmp(argv[i], "--launch-plan") == 0)
            slot = &plan;
        else if (strcmp(argv[i], "--requested-by") == 0)
            slot = &by;
        else if (strcmp(argv[i], "--label") == 0)
            slot = &label;
        else if (strcmp(argv[i], "--since") == 0)
            slot = &since;
        else if (strcmp(argv[i], "--until") == 0)
            slot = &until;
        if (slot != NULL && i + 1 < argc)
            *slot = argv[++i];
        else if (slot == NULL && what == NULL && argv[i][0] != '-')
            what = argv[i];
        else {
            fprintf(stderr, "floectl list: unexpected \"%s\" (see --help)\n", argv[i]);
            return CTL_USAGE;
        }
    }
    if (what == NULL) {
        fprintf(stderr, "floectl list: expected executions, workflows, tasks or launchplans\n");
        return CTL_USAGE;
    }
    bool execs = strcmp(what, "executions") == 0 || strcmp(what, "execution") == 0;
    const char *kind = execs ? "executions" : kind_path(what);
    if (kind == NULL) {
        fprintf(stderr, "floectl list: \"%s\" is not executions, workflows, tasks or launchplans\n",
                what);
        return CTL_USAGE;
    }
    if (!execs && (plan != NULL || by != NULL || since != NULL || until != NULL || label != NULL)) {
        fprintf(stderr, "floectl list: --launch-plan, --requested-by, --label, --since and "
                        "--until are for executions\n");
        return CTL_USAGE;
    }
    char url[2048];
    snprintf(url, sizeof(url), "/api/v1/%s", kind);
    ctl_query_add(url, sizeof(url), "project", project);
    ctl_query_add(url, sizeof(url), "domain", domain);
    ctl_query_add(url, sizeof(url), execs ? "workflow" : "name", name);
    ctl_query_add(url, sizeof(url), "phase", phase);
    ctl_query_add(url, sizeof(url), "launch_plan", plan);
    ctl_query_add(url, sizeof(url), "requested_by", by);
    ctl_query_add(url, sizeof(url), "label", label);
    ctl_query_add(url, sizeof(url), "created_after", since);
    ctl_query_add(url, sizeof(url), "created_before", until);
    ctl_query_add(url, sizeof(url), "limit", limit);
    ctl_query_add(url, sizeof(url), "token", token);
    json_t *out;
    int rc = ctl_call(ctx, "GET", url, NULL, NULL, 0, &out);
    static const char *const exec_columns[] = {"id", "workflow.name", "phase", "created_at", NULL};
    if (rc == CTL_OK)
        ctl_print(ctx, out,
                  execs                              ? exec_columns
                  : strcmp(kind, "launchplans") == 0 ? plan_columns
                                                     : entity_columns);
    json_decref(out);
    return rc;
}

int
ctl_activate(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *project = ctx->cfg->project, *domain = ctx->cfg->domain, *ref = NULL;
    for (int i = 1; i < argc; i++) {
        int s = ctl_scope_flag(argc, argv, &i, &project, &domain);
        if (s < 0)
            return CTL_USAGE;
        if (s > 0)
            continue;
        if (strcmp(argv[i], "launchplan") == 0 && ref == NULL)
            continue;
        if (ref != NULL || argv[i][0] == '-') {
            fprintf(stderr, "floectl %s: unexpected \"%s\"\n", argv[0], argv[i]);
            return CTL_USAGE;
        }
        ref = argv[i];
    }
    if (ref == NULL) {
        fprintf(stderr, "floectl %s: expected launchplan NAME[@VERSION]\n", argv[0]);
        return CTL_USAGE;
    }
    /* Without a version (issue 26): activate the latest registered version, deactivate the
     * active one. */
    char full[1024];
    if (strchr(ref, '@') == NULL) {
        bool activate = strcmp(argv[0], "activate") == 0;
        char q[2048] = "/api/v1/launchplans";
        ctl_query_add(q, sizeof(q), "project", project);
        ctl_query_add(q, sizeof(q), "domain", domain);
        ctl_query_add(q, sizeof(q), "name", ref);
        ctl_query_add(q, sizeof(q), "limit", "100");
        json_t *list;
        if (ctl_call(ctx, "GET", q, NULL, NULL, 0, &list) != CTL_OK)
            return CTL_FAILED;
        const char *version = NULL;
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(list, "items"), i, it)
        {
            /* newest first: the first one, or the one that is active */
            if ((activate && version == NULL) ||
                (!activate && json_is_true(json_object_get(it, "active"))))
                version = json_string_value(json_object_get(it, "version"));
        }
        if (version == NULL) {
            fprintf(stderr, "floectl %s: launch plan \"%s\" has %s\n", argv[0], ref,
                    activate ? "no registered version" : "no active version");
            json_decref(list);
            return CTL_FAILED;
        }
        snprintf(full, sizeof(full), "%s@%s", ref, version);
        json_decref(list);
        ref = full;
    }
    char url[2048];
    if (entity_url(url, sizeof(url), "launchplans", project, domain, ref) != 0)
        return CTL_FAILED;
    size_t len = strlen(url);
    snprintf(url + len, sizeof(url) - len, "/%s", argv[0]);
    json_t *out;
    int rc = ctl_call(ctx, "POST", url, NULL, NULL, 0, &out);
    static const char *const cols[] = {"name", "version", "active", NULL};
    if (rc == CTL_OK)
        ctl_print(ctx, out, cols);
    json_decref(out);
    return rc;
}

int
ctl_terminate(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *reason = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
            reason = argv[++i];
        } else if (argv[i][0] == '-' || id != NULL) {
            fprintf(stderr, "floectl terminate: unexpected \"%s\"\n", argv[i]);
            return CTL_USAGE;
        } else {
            id = argv[i];
        }
    }
    if (id == NULL) {
        fprintf(stderr, "floectl terminate: expected an execution id\n");
        return CTL_USAGE;
    }
    const char *user = getenv("USER");
    json_t *body =
        json_pack("{s:s,s:s}", "reason", reason, "requested_by", user != NULL ? user : "floectl");
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char url[512];
    if (text == NULL || ctl_exec_path(url, sizeof(url), id, "terminate") != 0) {
        free(text);
        fprintf(stderr, "floectl terminate: out of memory\n");
        return CTL_FAILED;
    }
    json_t *out;
    int rc = ctl_call(ctx, "POST", url, "application/json", text, strlen(text), &out);
    free(text);
    static const char *const cols[] = {"id", "status", NULL};
    if (rc == CTL_OK)
        ctl_print(ctx, out, cols);
    json_decref(out);
    return rc;
}
