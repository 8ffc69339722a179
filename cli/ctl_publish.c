/*
 * floectl publish: announce a dataset partition, as a service would: through the API
 * (POST /api/v1/datasets/NAME/events), or with --kafka straight to the bus through the
 * client library (broker-schemas/client). Triggers of active launch plans fire on it.
 */
#include "ctl.h"

#include "floe_client.h"
#include "floe_httpc.h"
#include "floe_mem.h"
#include "store_blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Through the API: its answer is printed, its warnings said on stderr. */
static int
publish_http(const ctl_ctx *ctx, const floe_data *d)
{
    json_t *part = json_object();
    for (size_t i = 0; i < d->n_partition; i++)
        json_object_set_new(part, d->partition[i].key, json_string(d->partition[i].value));
    json_t *body = json_pack("{s:s,s:o,s:s}", "uri", d->uri, "partition", part, "producer",
                             d->producer != NULL ? d->producer : "floectl");
    if (body != NULL && d->digest != NULL)
        json_object_set_new(body, "digest", json_string(d->digest));
    if (body != NULL && d->size > 0)
        json_object_set_new(body, "size", json_integer((json_int_t)d->size));
    if (body != NULL && d->event_id != NULL)
        json_object_set_new(body, "event_id", json_string(d->event_id));
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char *esc = text != NULL ? floe_url_escape(d->dataset) : NULL;
    if (esc == NULL) {
        free(text);
        fprintf(stderr, "floectl publish: out of memory\n");
        return CTL_FAILED;
    }
    char path[512];
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/events", esc);
    floe_free(esc);
    ctl_query_add(path, sizeof(path), "project", d->project); /* who publishes */
    json_t *out = NULL;
    int rc = ctl_call(ctx, "POST", path, "application/json", text, strlen(text), &out);
    free(text);
    if (rc != CTL_OK)
        return rc;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(out, "warnings"), i, w)
        fprintf(stderr, "floectl publish: warning: %s\n", json_string_value(w));
    static const char *const cols[] = {"dataset", "event_id", "uri", NULL};
    ctl_print(ctx, out, cols);
    json_decref(out);
    return CTL_OK;
}

int
ctl_publish(const ctl_ctx *ctx, int argc, char **argv)
{
    floe_kv part[16];
    size_t n = 0;
    floe_data d = {.producer = "floectl", .project = ctx->cfg->project};
    const char *domain = ctx->cfg->domain;
    bool kafka = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int s = ctl_scope_flag(argc, argv, &i, &d.project, &domain);
        if (s < 0)
            return CTL_USAGE;
        if (s > 0)
            continue;
        if (strcmp(a, "--kafka") == 0) {
            kafka = true;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool flag = a[0] == '-' && a[1] == '-';
        if (flag && v == NULL) {
            fprintf(stderr, "floectl publish: %s needs a value\n", a);
            return CTL_USAGE;
        }
        if (strcmp(a, "--partition") == 0) {
            char *eq = strchr(argv[i + 1], '=');
            if (eq == NULL || eq == argv[i + 1] || n == 16) {
                fprintf(stderr,
                        "floectl publish: --partition \"%s\": expected KEY=VALUE (at most "
                        "16)\n",
                        argv[i + 1]);
                return CTL_USAGE;
            }
            *eq = '\0';
            part[n++] = (floe_kv){argv[i + 1], eq + 1};
            i++;
        } else if (strcmp(a, "--uri") == 0) {
            d.uri = argv[++i];
        } else if (strcmp(a, "--digest") == 0) {
            d.digest = argv[++i];
        } else if (strcmp(a, "--size") == 0) {
            char *end;
            d.size = strtoull(argv[++i], &end, 10);
            if (*end != '\0') {
                fprintf(stderr, "floectl publish: --size: \"%s\" is not a number\n", argv[i]);
                return CTL_USAGE;
            }
        } else if (strcmp(a, "--event-id") == 0) {
            d.event_id = argv[++i];
        } else if (strcmp(a, "--producer") == 0) {
            d.producer = argv[++i];
        } else if (!flag && d.dataset == NULL) {
            d.dataset = a;
        } else {
            fprintf(stderr, "floectl publish: unexpected \"%s\"\n", a);
            return CTL_USAGE;
        }
    }
    if (d.dataset == NULL || d.uri == NULL) {
        fprintf(stderr, "floectl publish: expected DATASET and --uri URI (see floectl publish "
                        "--help)\n");
        return CTL_USAGE;
    }
    d.partition = part;
    d.n_partition = n;
    if (!kafka)
        return publish_http(ctx, &d);
    /* Said now, not when an execution it triggers fails on it (issue 26): workers read
     * blob inputs from the blob store only. A uri may also feed a string input: a warning. */
    char hex[FLOE_SHA256_HEX_LEN + 1];
    floe_err uerr = {0};
    if (store_blob_uri_parse(d.uri, hex, &uerr) != FLOE_OK)
        fprintf(stderr,
                "floectl publish: warning: %s: a plan that binds it to a blob input will fail; "
                "store the file first (floectl blob put FILE -q) and publish that uri\n",
                uerr.msg);
    char err[512], id[FLOE_CLIENT_ID_MAX + 1];
    floe_client *c = floe_client_new(ctx->cfg->kafka_brokers, ctx->cfg->kafka_properties,
                                     ctx->cfg->topic_prefix, err, sizeof(err));
    if (c == NULL || floe_client_publish(c, &d, id, err, sizeof(err)) != 0) {
        fprintf(stderr, "floectl publish: %s\n", err);
        floe_client_free(c);
        return CTL_FAILED;
    }
    floe_client_free(c);
    json_t *p = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(p, part[i].key, json_string(part[i].value));
    json_t *out = json_pack("{s:s,s:o,s:s,s:s}", "dataset", d.dataset, "partition", p, "uri", d.uri,
                            "event_id", id);
    static const char *const cols[] = {"dataset", "event_id", "uri", NULL};
    ctl_print(ctx, out, cols);
    json_decref(out);
    return CTL_OK;
}
