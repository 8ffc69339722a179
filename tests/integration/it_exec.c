/*
 * it_exec — see it_exec.h.
 */
#include "it_exec.h"

#include "floe_httpc.h"
#include "floe_phase.h"
#include "floe_time.h"
#include "it_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

it_ctx it;

void
it_register(const char *yaml)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/register?project=%s&domain=development", it.project);
    json_t *out = NULL;
    int st = it_http(it.api, "POST", path, yaml, strlen(yaml), &out);
    if (st != 200 && st != 201) {
        char *txt = out != NULL ? json_dumps(out, 0) : NULL;
        fail_msg("register: HTTP %d %s", st, txt != NULL ? txt : "");
    }
    json_decref(out);
}

void
it_launch(const char *wf, const char *inputs_json, char id[64])
{
    it_launch_opts(wf, inputs_json, NULL, id);
}

void
it_launch_opts(const char *wf, const char *inputs_json, const char *options, char id[64])
{
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"project\":\"%s\",\"domain\":\"development\",\"workflow\":{\"name\":\"%s\"},"
             "\"inputs\":%s%s%s}",
             it.project, wf, inputs_json, options != NULL ? "," : "",
             options != NULL ? options : "");
    json_t *out = NULL;
    int st = it_http(it.api, "POST", "/api/v1/executions", body, strlen(body), &out);
    if (st != 201)
        fail_msg("launch %s: HTTP %d", wf, st);
    snprintf(id, 64, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
}

json_t *
it_get_exec(const char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/v1/executions/%s", id);
    json_t *out = NULL;
    int st = it_http(it.api, "GET", path, NULL, 0, &out);
    if (st != 200)
        fail_msg("get execution %s: HTTP %d", id, st);
    return out;
}

bool
it_terminal(const char *phase)
{
    return floe_phase_name_terminal(FLOE_SCOPE_EXEC, phase);
}

/* Waits (bounded) for the execution to end; returns it (decref). */
json_t *
it_wait_exec(const char *id, int timeout_ms)
{
    int64_t deadline = floe_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        json_t *ex = it_get_exec(id);
        const char *ph = json_string_value(json_object_get(ex, "phase"));
        if (ph != NULL && it_terminal(ph))
            return ex;
        json_decref(ex);
        if (floe_mono_us() > deadline)
            fail_msg("execution %s did not finish within %d ms", id, timeout_ms);
        usleep(50000);
    }
}

void
it_expect_phase(json_t *ex, const char *phase)
{
    const char *ph = json_string_value(json_object_get(ex, "phase"));
    if (ph == NULL || strcmp(ph, phase) != 0) {
        char *txt = json_dumps(ex, 0);
        fail_msg("expected %s, got %s", phase, txt);
    }
}

long long
it_output_int(json_t *ex, const char *name)
{
    json_t *v = json_object_get(json_object_get(ex, "outputs"), name);
    if (!json_is_integer(v))
        fail_msg("output %s missing or not an integer", name);
    return json_integer_value(v);
}

/* One integer from SQL with $1 = execution id (and $2 = node when given). */
long long
it_sql_int(const char *sql, const char *exec, const char *node)
{
    const char *params[] = {exec, node};
    PGresult *r = PQexecParams(it.pg, sql, node != NULL ? 2 : 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("sql failed: %s", PQerrorMessage(it.pg));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

char *
it_sql_text(const char *sql, const char *exec, const char *node)
{
    const char *params[] = {exec, node};
    PGresult *r = PQexecParams(it.pg, sql, node != NULL ? 2 : 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("sql failed: %s", PQerrorMessage(it.pg));
    char *v = strdup(PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

/* A metric's value from a replica's /metrics (first series of that name), or -1 when the
 * replica does not answer (e.g. while it is stopped). */
long long
it_metric(const char *base, const char *name)
{
    floe_http_resp resp;
    floe_err err;
    if (floe_httpc_request(base, "GET", "/metrics", NULL, NULL, 0, 2000, &resp, &err) != FLOE_OK)
        return -1;
    long long v = -1;
    size_t nl = strlen(name);
    for (const char *line = resp.body; line != NULL && *line != '\0' && v < 0;) {
        const char *eol = strchr(line, '\n');
        if (strncmp(line, name, nl) == 0 && (line[nl] == ' ' || line[nl] == '{')) {
            const char *last = NULL; /* the value follows the last space */
            for (const char *q = line; q < (eol != NULL ? eol : line + strlen(line)); q++)
                if (*q == ' ')
                    last = q;
            if (last != NULL)
                v = atoll(last + 1);
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    floe_http_resp_deinit(&resp);
    return v;
}

void
it_wait_metric(const char *base, const char *name, long long want, int timeout_ms)
{
    int64_t deadline = floe_mono_us() + (int64_t)timeout_ms * 1000;
    long long v;
    while ((v = it_metric(base, name)) < want) {
        if (floe_mono_us() > deadline)
            fail_msg("%s %s stayed %lld (want >= %lld) for %d ms", base, name, v, want, timeout_ms);
        usleep(50000);
    }
}

void
it_expect_attempt_error(const char *exec, const char *node, const char *kind, const char *code,
                        const char *needle)
{
    char *k = it_sql_text("SELECT error_kind FROM node_attempts WHERE execution_id = $1 AND "
                          "node_id = $2 ORDER BY attempt DESC LIMIT 1",
                          exec, node);
    char *c = it_sql_text("SELECT error_code FROM node_attempts WHERE execution_id = $1 AND "
                          "node_id = $2 ORDER BY attempt DESC LIMIT 1",
                          exec, node);
    char *m = it_sql_text("SELECT message FROM node_attempts WHERE execution_id = $1 AND "
                          "node_id = $2 ORDER BY attempt DESC LIMIT 1",
                          exec, node);
    printf("# %s: %s %s: %s\n", node, k, c, m);
    if (strcmp(k, kind) != 0 || strcmp(c, code) != 0 || strstr(m, needle) == NULL)
        fail_msg("node %s: expected %s %s with \"%s\", got %s %s \"%s\"", node, kind, code, needle,
                 k, c, m);
    free(k);
    free(c);
    free(m);
}

char *
it_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

char *
it_replace_all(const char *text, const char *from, const char *to)
{
    size_t n = 0, fl = strlen(from), tl = strlen(to);
    for (const char *p = strstr(text, from); p != NULL; p = strstr(p + fl, from))
        n++;
    char *out = malloc(strlen(text) + n * tl + 1), *o = out;
    for (const char *p = text;;) {
        const char *q = strstr(p, from);
        if (q == NULL) {
            strcpy(o, p);
            break;
        }
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, to, tl);
        o += tl;
        p = q + fl;
    }
    return out;
}
