/*
 * Execution verbs: launch (inputs typed against the interface before anything is sent),
 * get execution, and --wait for an outcome.
 */
#include "ctl.h"

#include "floe_phase.h"
#include "floe_arena.h"
#include "floe_httpc.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "floe_type.h"
#include "floe_value.h"
#include "spec.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const exec_columns[] = {"id",         "workflow.name", "phase",
                                           "created_at", "outputs",       NULL};

int ctl_get_execution(const ctl_ctx *ctx, const char *id);

int
ctl_get_execution(const ctl_ctx *ctx, const char *id)
{
    char url[512];
    if (ctl_exec_path(url, sizeof(url), id, NULL) != 0)
        return CTL_FAILED;
    json_t *out;
    int rc = ctl_call(ctx, "GET", url, NULL, NULL, 0, &out);
    if (rc == CTL_OK)
        ctl_print(ctx, out, exec_columns);
    json_decref(out);
    return rc;
}

static bool
phase_terminal(const char *phase)
{
    return floe_phase_name_terminal(FLOE_SCOPE_EXEC, phase);
}

int
ctl_wait_for(const ctl_ctx *ctx, const char *id, int64_t timeout_ms)
{
    char url[512];
    if (ctl_exec_path(url, sizeof(url), id, NULL) != 0)
        return CTL_FAILED;
    int64_t deadline = floe_mono_us() + timeout_ms * 1000;
    useconds_t pause = 100000;
    for (;;) {
        json_t *out;
        int rc = ctl_call(ctx, "GET", url, NULL, NULL, 0, &out);
        if (rc != CTL_OK)
            return rc;
        const char *phase = json_string_value(json_object_get(out, "phase"));
        if (phase != NULL && phase_terminal(phase)) {
            ctl_print(ctx, out, exec_columns);
            rc = floe_phase_parse(phase) == FLOE_PHASE_SUCCEEDED ? CTL_OK : CTL_EXEC_FAILED;
            if (rc != CTL_OK)
                fprintf(stderr, "floectl: execution %s %s: %s\n", id, phase,
                        json_string_value(json_object_get(out, "error")) != NULL
                            ? json_string_value(json_object_get(out, "error"))
                            : "no error recorded");
            json_decref(out);
            return rc;
        }
        /* phase lives in out: copied before out goes (it was read after, garbage printed) */
        char still[32];
        snprintf(still, sizeof(still), "%s", phase != NULL ? phase : "?");
        json_decref(out);
        if (floe_mono_us() > deadline) {
            fprintf(stderr, "floectl: execution %s has not finished after %lld s (still %s)\n", id,
                    (long long)(timeout_ms / 1000), still);
            return CTL_TIMEOUT;
        }
        usleep(pause); /* polling a remote phase: nothing to wait on locally */
        if (pause < 1000000)
            pause *= 2;
    }
}

/* The interface's inputs ({name, type}) of the workflow or launch plan being launched. */
static int
fetch_inputs(const ctl_ctx *ctx, const char *kind, const char *project, const char *domain,
             const char *name, const char *version, json_t **inputs)
{
    char url[2048];
    char *ep = floe_url_escape(project), *ed = floe_url_escape(domain), *en = floe_url_escape(name),
         *ev = version != NULL ? floe_url_escape(version) : NULL;
    snprintf(url, sizeof(url), "/api/v1/%s/%s/%s/%s%s%s", kind, ep ? ep : "", ed ? ed : "",
             en ? en : "", ev ? "/" : "", ev ? ev : "");
    floe_free(ep);
    floe_free(ed);
    floe_free(en);
    floe_free(ev);
    json_t *out;
    int rc = ctl_call(ctx, "GET", url, NULL, NULL, 0, &out);
    if (rc != CTL_OK)
        return rc;
    json_t *in =
        json_object_get(json_object_get(json_object_get(out, "spec"), "interface"), "inputs");
    *inputs = in != NULL ? json_incref(in) : json_array();
    json_decref(out);
    return CTL_OK;
}

static const char *
input_type(json_t *inputs, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(inputs, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return json_string_value(json_object_get(v, "type"));
    }
    return NULL;
}

/* Parses each NAME=VALUE against its declared type into values (JSON). */
static int
typed_inputs(const ctl_ctx *ctx, json_t *iface, char **pairs, int n, json_t *values)
{
    floe_arena *arena = floe_arena_new(4096, 0);
    int rc = arena != NULL ? CTL_OK : CTL_FAILED;
    for (int i = 0; rc == CTL_OK && i < n; i++) {
        char *eq = strchr(pairs[i], '=');
        if (eq == NULL || eq == pairs[i]) {
            fprintf(stderr, "floectl launch: --input \"%s\": expected NAME=VALUE\n", pairs[i]);
            rc = CTL_USAGE;
            break;
        }
        *eq = '\0';
        const char *name = pairs[i], *text = eq + 1;
        const char *tt = input_type(iface, name);
        if (tt == NULL) {
            fprintf(stderr, "floectl launch: --input %s: no such input (inputs:", name);
            size_t k;
            json_t *v;
            json_array_foreach(iface, k, v)
                fprintf(stderr, " %s", json_string_value(json_object_get(v, "name")));
            fprintf(stderr, ")\n");
            rc = CTL_USAGE;
            break;
        }
        if (strcmp(tt, "blob") == 0 && text[0] == '@') { /* a local file: store it first */
            json_t *blob;
            if ((rc = ctl_blob_put_json(ctx, text + 1, &blob)) == CTL_OK)
                json_object_set_new(values, name, blob);
            continue;
        }
        Floe__LiteralType *type;
        Floe__Value *value;
        floe_err err;
        if (floe_type_parse(tt, arena, &type, &err) != FLOE_OK ||
            floe_value_from_text(type, text, arena, &value, &err) != FLOE_OK) {
            fprintf(stderr, "floectl launch: --input %s (%s): %s\n", name, tt, err.msg);
            rc = CTL_USAGE;
            break;
        }
        json_t *j = floe_value_to_json(value);
        if (j == NULL) {
            rc = CTL_FAILED;
            break;
        }
        json_object_set_new(values, name, j);
    }
    floe_arena_free(arena);
    return rc;
}

int
ctl_typed_inputs(const ctl_ctx *ctx, json_t *execution, char **pairs, int n, json_t *values)
{
    json_t *wf = json_object_get(execution, "workflow");
    const char *project = json_string_value(json_object_get(execution, "project"));
    const char *domain = json_string_value(json_object_get(execution, "domain"));
    const char *name = json_string_value(json_object_get(wf, "name"));
    const char *version = json_string_value(json_object_get(wf, "version"));
    if (project == NULL || domain == NULL || name == NULL || version == NULL) {
        fprintf(stderr, "floectl: the execution does not name its workflow\n");
        return CTL_FAILED;
    }
    json_t *iface = NULL;
    int rc = fetch_inputs(ctx, "workflows", project, domain, name, version, &iface);
    if (rc == CTL_OK)
        rc = typed_inputs(ctx, iface, pairs, n, values);
    json_decref(iface);
    return rc;
}

static json_t *
read_inputs_file(const ctl_ctx *ctx, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "floectl launch: cannot read %s\n", path);
        return NULL;
    }
    size_t cap = (size_t)ctx->cfg->spec_max_bytes;
    char *buf = floe_malloc(cap + 1);
    size_t n = buf != NULL ? fread(buf, 1, cap + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > cap) {
        fprintf(stderr, "floectl launch: %s is larger than spec.max_bytes\n", path);
        floe_free(buf);
        return NULL;
    }
    spec_limits lim = {.max_bytes = cap, .max_documents = 1, .max_nesting = 64};
    floe_err err;
    json_t *j = spec_yaml_to_json(path, buf, n, &lim, &err);
    floe_free(buf);
    if (j == NULL)
        fprintf(stderr, "floectl launch: %s\n", err.msg);
    else if (!json_is_object(j)) {
        fprintf(stderr, "floectl launch: %s: expected a mapping of input names to values\n", path);
        json_decref(j);
        j = NULL;
    }
    return j;
}

int
ctl_launch(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *project = ctx->cfg->project, *domain = ctx->cfg->domain;
    const char *ref = NULL, *inputs_file = NULL, *wait_timeout = "1h";
    bool wait = false, no_cache = false, overwrite = false;
    char **pairs = floe_calloc((size_t)argc + 1, sizeof(*pairs));
    int n_pairs = 0;
    if (pairs == NULL)
        return CTL_FAILED;
    int rc = CTL_OK;
    json_t *labels = NULL;
    for (int i = 1; rc == CTL_OK && i < argc; i++) {
        int s = ctl_scope_flag(argc, argv, &i, &project, &domain);
        if (s != 0) {
            rc = s < 0 ? CTL_USAGE : CTL_OK;
            continue;
        }
        const char *a = argv[i];
        if ((strcmp(a, "--input") == 0 || strcmp(a, "-i") == 0) && i + 1 < argc)
            pairs[n_pairs++] = argv[++i];
        else if (strncmp(a, "--input=", 8) == 0)
            pairs[n_pairs++] = argv[i] + 8;
        else if (strcmp(a, "--inputs-file") == 0 && i + 1 < argc)
            inputs_file = argv[++i];
        else if (strcmp(a, "--wait") == 0)
            wait = true;
        else if (strcmp(a, "--wait-timeout") == 0 && i + 1 < argc)
            wait_timeout = argv[++i];
        else if (strcmp(a, "--no-cache") == 0)
            no_cache = true;
        else if (strcmp(a, "--label") == 0 && i + 1 < argc) {
            const char *kv = argv[++i], *eq = strchr(kv, '=');
            if (eq == NULL || eq == kv) {
                fprintf(stderr, "floectl launch: --label takes KEY=VALUE\n");
                rc = CTL_USAGE;
            } else {
                if (labels == NULL)
                    labels = json_object();
                char key[128];
                snprintf(key, sizeof(key), "%.*s", (int)(eq - kv) < 127 ? (int)(eq - kv) : 127, kv);
                json_object_set_new(labels, key, json_string(eq + 1));
            }
        } else if (strcmp(a, "--overwrite-cache") == 0)
            overwrite = true;
        else if (a[0] != '-' && ref == NULL)
            ref = a;
        else {
            fprintf(stderr, "floectl launch: unexpected \"%s\" (see --help)\n", a);
            rc = CTL_USAGE;
        }
    }
    int64_t timeout_us = 0;
    floe_err err;
    if (rc == CTL_OK && floe_duration_parse(wait_timeout, &timeout_us, &err) != FLOE_OK) {
        fprintf(stderr, "floectl launch: --wait-timeout: %s\n", err.msg);
        rc = CTL_USAGE;
    }
    if (rc == CTL_OK && ref == NULL) {
        fprintf(stderr, "floectl launch: expected [workflow/|launchplan/]NAME[@VERSION]\n");
        rc = CTL_USAGE;
    }
    if (rc != CTL_OK) {
        floe_free(pairs);
        json_decref(labels);
        return rc;
    }
    const char *kind = "workflows", *field = "workflow";
    if (strncmp(ref, "launchplan/", 11) == 0) {
        kind = "launchplans";
        field = "launch_plan";
        ref += 11;
    } else if (strncmp(ref, "workflow/", 9) == 0) {
        ref += 9;
    }
    char name[512];
    snprintf(name, sizeof(name), "%s", ref);
    char *version = strchr(name, '@');
    if (version != NULL)
        *version++ = '\0';

    json_t *iface = NULL, *values = NULL, *body = NULL, *out = NULL;
    rc = fetch_inputs(ctx, kind, project, domain, name, version, &iface);
    if (rc != CTL_OK)
        goto out;
    values = inputs_file != NULL ? read_inputs_file(ctx, inputs_file) : json_object();
    if (values == NULL) {
        rc = CTL_USAGE;
        goto out;
    }
    if ((rc = typed_inputs(ctx, iface, pairs, n_pairs, values)) != CTL_OK)
        goto out;
    const char *who = getenv("USER");
    body = json_pack("{s:s,s:s,s:s,s:O,s:b,s:b,s:s}", "project", project, "domain", domain, field,
                     ref, "inputs", values, "no_cache", no_cache, "overwrite_cache", overwrite,
                     "requested_by", who != NULL && who[0] != '\0' ? who : "floectl");
    if (body != NULL && labels != NULL)
        json_object_set(body, "labels", labels);
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    if (text == NULL) {
        rc = CTL_FAILED;
        goto out;
    }
    rc = ctl_call(ctx, "POST", "/api/v1/executions", "application/json", text, strlen(text), &out);
    free(text);
    if (rc != CTL_OK)
        goto out;
    const char *id = json_string_value(json_object_get(out, "id"));
    if (wait && id != NULL) {
        if (ctx->output == CTL_OUT_TABLE)
            fprintf(stderr, "launched %s; waiting for it to finish\n", id);
        rc = ctl_wait_for(ctx, id, timeout_us / 1000);
    } else {
        static const char *const cols[] = {"id", "workflow.name", "phase", NULL};
        ctl_print(ctx, out, cols);
    }
out:
    json_decref(out);
    json_decref(body);
    json_decref(values);
    json_decref(iface);
    json_decref(labels);
    floe_free(pairs);
    return rc;
}

int
ctl_wait(const ctl_ctx *ctx, int argc, char **argv)
{
    const char *id = NULL, *timeout = "1h";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = argv[++i];
        } else if (argv[i][0] != '-' && id == NULL) {
            id = argv[i];
        } else {
            fprintf(stderr, "floectl wait: unexpected \"%s\" (see floectl wait --help)\n", argv[i]);
            return CTL_USAGE;
        }
    }
    if (id == NULL) {
        fprintf(stderr, "floectl wait: which execution? (floectl wait ID)\n");
        return CTL_USAGE;
    }
    int64_t timeout_us = 0;
    floe_err err = {0};
    if (floe_duration_parse(timeout, &timeout_us, &err) != FLOE_OK) {
        fprintf(stderr, "floectl wait: --timeout: %s\n", err.msg);
        return CTL_USAGE;
    }
    return ctl_wait_for(ctx, id, timeout_us / 1000);
}
