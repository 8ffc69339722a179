/*
 * Datasets' owners and grants through the API (issue 19, store_dataset.h):
 *   GET    /api/v1/datasets/NAME                  the owner and the grants (viewer there)
 *   PUT    /api/v1/datasets/NAME/grants/PROJECT   {publish, trigger} (admin of the owner)
 *   DELETE /api/v1/datasets/NAME/grants/PROJECT   (admin of the owner)
 * The first project to publish a dataset owns it; these routes never change the owner.
 */
#include "sched_api_int.h"

#include "spec.h"
#include "store_dataset.h"

#include <string.h>

/* The dataset of the path, its owner and grants, once the caller's role in the owning
 * project is checked; false (r failed) when it has no owner, is bad or is not the caller's. */
static bool
owned(api_thread *t, api_req *r, char owner[64], store_ds_grant **g, size_t *n)
{
    const char *dataset = r->t.seg[3];
    if (spec_check_name("dataset", dataset, &r->err) != FLOE_OK || api_pg(t, r) != FLOE_OK ||
        store_dataset_get(t->pg, dataset, owner, r->arena, g, n, &r->err) != FLOE_OK)
        return false;
    if (owner[0] == '\0') {
        api_fail(r, FLOE_ENOTFOUND,
                 "dataset %s has no owner yet: the first project to publish it owns it", dataset);
        return false;
    }
    return api_allow(t, r, owner);
}

void
api_dataset_get_work(api_thread *t, api_req *r)
{
    char owner[64];
    store_ds_grant *g;
    size_t n;
    if (!owned(t, r, owner, &g, &n))
        return;
    json_t *grants = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(grants, json_pack("{s:s,s:b,s:b,s:s,s:o}", "project", g[i].project,
                                                "publish", g[i].publish, "trigger", g[i].trigger,
                                                "granted_by", g[i].granted_by, "granted_at",
                                                sched_render_time(g[i].granted_us)));
    r->reply = json_pack("{s:s,s:s,s:o}", "dataset", r->t.seg[3], "owner", owner, "grants", grants);
}

void
api_dataset_grant_work(api_thread *t, api_req *r)
{
    char owner[64];
    store_ds_grant *g;
    size_t n;
    if (!owned(t, r, owner, &g, &n))
        return;
    const char *project = r->t.seg[5];
    if (spec_check_project(project, &r->err) != FLOE_OK)
        return;
    bool publish = false, trigger = false;
    if (r->route->method == EVHTTP_REQ_PUT) {
        json_error_t jerr;
        json_t *body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
        int p = 0, tr = 0;
        if (body == NULL ||
            json_unpack_ex(body, &jerr, JSON_STRICT, "{s?b,s?b}", "publish", &p, "trigger", &tr) !=
                0 ||
            (!p && !tr)) {
            json_decref(body);
            api_fail(r, FLOE_EINVAL,
                     "expected {\"publish\": true|false, \"trigger\": true|false}, one of them "
                     "true (DELETE removes a grant)");
            return;
        }
        json_decref(body);
        publish = p, trigger = tr;
    }
    if (strcmp(project, owner) == 0) {
        api_fail(r, FLOE_EINVAL, "project %s owns dataset %s: it needs no grant", owner,
                 r->t.seg[3]);
        return;
    }
    if (store_dataset_grant(t->pg, r->t.seg[3], project, publish, trigger, r->principal->id,
                            &r->err) != FLOE_OK)
        return;
    r->reply = json_pack("{s:s,s:s,s:s,s:b,s:b}", "dataset", r->t.seg[3], "owner", owner, "project",
                         project, "publish", publish, "trigger", trigger);
}
