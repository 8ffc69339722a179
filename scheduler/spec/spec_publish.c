/*
 * spec_publish — a workflow's `publish:` section: which outputs become which datasets,
 * and the partition each publication carries (text, or a scalar workflow input).
 */
#include "spec_int.h"

#include "floe_envelope.h"
#include "floe_text.h"

#include <stdio.h>
#include <string.h>

/* A partition value is text or "{{inputs.NAME}}" naming a scalar workflow input. */
static floe_rc
wf_publish_partition(spec_ctx *ctx, const spec_y *y, const Floe__Interface *ifc,
                     Floe__DatasetPublish *p)
{
    if (y->kind != SPEC_Y_MAP || y->n > FLOE_PARTITION_MAX)
        return spec_fail(ctx, y, FLOE_EINVAL, "publish: partition: expected at most %d KEY: value",
                         FLOE_PARTITION_MAX);
    p->partition = floe_arena_alloc(ctx->arena, (y->n + 1) * sizeof(*p->partition));
    if (p->partition == NULL)
        return spec_fail(ctx, y, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < y->n; i++) {
        const spec_y *k = y->items[2 * i], *v = y->items[2 * i + 1];
        floe_err err;
        if (k->kind != SPEC_Y_SCALAR || v->kind != SPEC_Y_SCALAR ||
            floe_envelope_check_id("partition key", k->str, 64, &err) != FLOE_OK || v->len == 0 ||
            v->len > 256 || !floe_text_printable(v->str, v->len))
            return spec_fail(ctx, k, FLOE_EINVAL,
                             "publish: partition: keys are 1-64 of A-Z a-z 0-9 . _ - and values "
                             "1-256 bytes of text");
        if (strncmp(v->str, "{{", 2) == 0) {
            char name[SPEC_IDENT_MAX + 1];
            const Floe__InputSpec *in = NULL;
            if (sscanf(v->str, "{{inputs.%64[A-Za-z0-9_]}}", name) == 1 &&
                strlen(v->str) == strlen(name) + 11)
                in = spec_ifc_input(ifc, name);
            if (in == NULL || in->type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_UNSPECIFIED ||
                in->type->simple == FLOE__SIMPLE_TYPE__SIMPLE_TYPE_BLOB)
                return spec_fail(ctx, v, FLOE_EINVAL,
                                 "publish: partition \"%s\": \"%.64s\" must be {{inputs.NAME}} "
                                 "naming a scalar input of the workflow",
                                 k->str, v->str);
        }
        Floe__KeyValue *kv = floe_arena_alloc(ctx->arena, sizeof(*kv));
        if (kv == NULL)
            return spec_fail(ctx, k, FLOE_ENOMEM, "out of memory");
        floe__key_value__init(kv);
        kv->key = (char *)k->str;
        kv->value = (char *)v->str;
        p->partition[p->n_partition++] = kv;
    }
    return FLOE_OK;
}

floe_rc
spec_workflow_publish(spec_ctx *ctx, const spec_y *py, Floe__WorkflowSpec *spec)
{
    if (py->kind != SPEC_Y_SEQ || py->n > 64)
        return spec_fail(ctx, py, FLOE_EINVAL,
                         "publish: expected a list of at most 64 {output, dataset, partition}");
    spec->publish = floe_arena_alloc(ctx->arena, (py->n + 1) * sizeof(*spec->publish));
    if (spec->publish == NULL)
        return spec_fail(ctx, py, FLOE_ENOMEM, "out of memory");
    for (size_t i = 0; i < py->n; i++) {
        static const char *const fields[] = {"output", "dataset", "partition", NULL};
        const spec_y *y = py->items[i];
        floe_rc rc = spec_check_fields(ctx, y, "publish", fields);
        if (rc != FLOE_OK)
            return rc;
        const char *output = NULL, *dataset = NULL;
        if ((rc = spec_get_string(ctx, y, "output", SPEC_IDENT_MAX, &output)) != FLOE_OK ||
            (rc = spec_get_string(ctx, y, "dataset", SPEC_NAME_MAX, &dataset)) != FLOE_OK)
            return rc;
        bool found = false;
        for (size_t o = 0; output != NULL && o < spec->interface->n_outputs; o++)
            found = found || strcmp(spec->interface->outputs[o]->name, output) == 0;
        if (!found)
            return spec_fail(ctx, y, FLOE_EINVAL,
                             "publish: output: \"%.64s\" is not an output of "
                             "the workflow",
                             output != NULL ? output : "");
        if (dataset == NULL || spec_check_name("dataset", dataset, ctx->err) != FLOE_OK)
            return dataset == NULL ? spec_fail(ctx, y, FLOE_EINVAL, "publish: no dataset")
                                   : spec_fail_err(ctx, y, "publish");
        Floe__DatasetPublish *p = floe_arena_alloc(ctx->arena, sizeof(*p));
        if (p == NULL)
            return spec_fail(ctx, y, FLOE_ENOMEM, "out of memory");
        floe__dataset_publish__init(p);
        p->output = (char *)output;
        p->dataset = (char *)dataset;
        const spec_y *part = spec_y_get(y, "partition");
        if (part != NULL && (rc = wf_publish_partition(ctx, part, spec->interface, p)) != FLOE_OK)
            return rc;
        spec->publish[spec->n_publish++] = p;
    }
    return FLOE_OK;
}
