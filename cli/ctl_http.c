#include "ctl.h"

#include "floe_httpc.h"
#include "floe_mem.h"

#include <stdio.h>
#include <string.h>

int
ctl_call(const ctl_ctx *ctx, const char *method, const char *path, const char *content_type,
         const void *body, size_t len, json_t **out)
{
    *out = NULL;
    floe_http_resp resp;
    floe_err err;
    floe_rc rc = floe_httpc_request(ctx->cfg->api_url, method, path, content_type, body, len,
                                    (int)ctx->cfg->api_timeout_ms, &resp, &err);
    if (rc != FLOE_OK) {
        fprintf(stderr, "floectl: %s\n", err.msg);
        return CTL_FAILED;
    }
    json_error_t jerr;
    json_t *j = json_loadb(resp.body, resp.len, 0, &jerr);
    int status = resp.status;
    if (j == NULL) {
        fprintf(stderr, "floectl: %s %s: HTTP %d with a body that is not JSON: %.200s\n", method,
                path, status, resp.body);
        floe_http_resp_deinit(&resp);
        return CTL_FAILED;
    }
    floe_http_resp_deinit(&resp);
    if (status >= 200 && status < 300) {
        *out = j;
        return CTL_OK;
    }
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    fprintf(stderr, "floectl: %s (HTTP %d %s)\n", msg != NULL ? msg : "request failed", status,
            code != NULL ? code : "");
    json_t *details = json_object_get(j, "details");
    json_t *inputs = json_object_get(details, "inputs");
    const char *key;
    json_t *v;
    json_object_foreach(inputs, key, v)
        fprintf(stderr, "  input %s: %s\n", key, json_string_value(v));
    size_t i;
    json_array_foreach(json_object_get(details, "errors"), i, v) /* every compile error */
        if (i > 0) fprintf(stderr, "  %s\n", json_string_value(v));
    json_decref(j);
    return CTL_FAILED;
}

void
ctl_query_add(char *buf, size_t size, const char *key, const char *value)
{
    if (value == NULL)
        return;
    char *e = floe_url_escape(value);
    if (e == NULL)
        return;
    size_t len = strlen(buf);
    snprintf(buf + len, size - len, "%s%s=%s", strchr(buf, '?') != NULL ? "&" : "?", key, e);
    floe_free(e);
}

int
ctl_exec_path(char *buf, size_t size, const char *id, const char *suffix)
{
    char *e = floe_url_escape(id);
    if (e == NULL) {
        fprintf(stderr, "floectl: out of memory\n");
        return -1;
    }
    snprintf(buf, size, "/api/v1/executions/%s%s%s", e, suffix != NULL ? "/" : "",
             suffix != NULL ? suffix : "");
    floe_free(e);
    return 0;
}

int
ctl_scope_flag(int argc, char **argv, int *i, const char **project, const char **domain)
{
    const char *a = argv[*i];
    const char **slot = NULL;
    if (strcmp(a, "--project") == 0 || strcmp(a, "-p") == 0)
        slot = project;
    else if (strcmp(a, "--domain") == 0 || strcmp(a, "-d") == 0)
        slot = domain;
    else
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "floectl: %s needs a value\n", a);
        return -1;
    }
    *slot = argv[++*i];
    return 1;
}

int
ctl_use_token(const floe_config *cfg)
{
    floe_err err = {0};
    floe_httpc_set_ca_file(cfg->api_ca_file);
    if (cfg->api_token[0] != '\0')
        floe_httpc_set_token(cfg->api_token);
    else if (cfg->api_token_file[0] != '\0' &&
             floe_httpc_set_token_file(cfg->api_token_file, &err) != FLOE_OK) {
        fprintf(stderr, "floectl: api.token_file: %s\n", err.msg);
        return -1;
    }
    return 0;
}
