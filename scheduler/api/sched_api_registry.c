/*
 * Registry routes: POST /api/v1/register (compile YAML, store every document in one
 * transaction), GET one version or a page of versions of tasks, workflows and launch
 * plans, and launch-plan activation. Pool-thread work functions.
 */
#include "sched_api_int.h"

#include "sched_resolve.h"

#include "floe_text.h"
#include "sched_plan.h"

#include "spec.h"
#include "floe_cron.h"
#include "floe_time.h"
#include "floe_value.h"
#include "store_lp.h"
#include "store_registry.h"

#include <stdio.h>
#include <string.h>

_Static_assert((int)SPEC_TASK == (int)STORE_TASK && (int)SPEC_WORKFLOW == (int)STORE_WORKFLOW &&
                   (int)SPEC_LAUNCHPLAN == (int)STORE_LAUNCHPLAN,
               "spec_kind and store_kind are cast into each other");

static store_kind
kind_from_segment(const char *seg)
{
    if (strcmp(seg, "tasks") == 0)
        return STORE_TASK;
    if (strcmp(seg, "workflows") == 0)
        return STORE_WORKFLOW;
    return STORE_LAUNCHPLAN;
}

static const char *
kind_word(store_kind k)
{
    return k == STORE_TASK ? "task" : k == STORE_WORKFLOW ? "workflow" : "launchplan";
}

/* --- register ------------------------------------------------------------------------- */

static void
collect_problem(void *arg, const floe_err *err)
{
    json_array_append_new((json_t *)arg, json_string(err->msg));
}

/* File names only label messages; keep them short and printable. */
static const char *
file_label(api_req *r)
{
    const char *f = api_param(r, "file");
    if (f == NULL)
        return "request";
    char *copy = floe_arena_strndup(r->arena, f, strlen(f) > 64 ? 64 : strlen(f));
    if (copy == NULL)
        return "request";
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return copy;
}

void
api_register_work(api_thread *t, api_req *r)
{
    bool ok = true;
    const char *project = api_project(r, &ok);
    const char *domain = api_domain(r, &ok);
    const char *version = api_param(r, "version");
    const char *dry = api_param(r, "dry_run");
    bool dry_run = dry != NULL && (strcmp(dry, "true") == 0 || strcmp(dry, "1") == 0);
    if (ok && dry != NULL && !dry_run && strcmp(dry, "false") != 0 && strcmp(dry, "0") != 0) {
        api_fail(r, FLOE_EINVAL, "dry_run: expected true or false");
        ok = false;
    }
    if (ok && version != NULL && spec_check_version(version, &r->err) != FLOE_OK)
        ok = false;
    if (!ok)
        return;
    if (r->body_len == 0) {
        api_fail(r, FLOE_EINVAL, "the request body is empty: send the YAML to register");
        return;
    }
    /* A dry run stores nothing: anyone who may read the project may check a spec. */
    if (api_pg(t, r) != FLOE_OK ||
        !api_allow_role(t, r, project, dry_run ? STORE_ROLE_VIEWER : STORE_ROLE_MAINTAINER))
        return;
    const floe_config *cfg = api_cfg(r);
    sched_resolve_scope rr = {.pg = t->pg, .project = project, .domain = domain};
    spec_env env = {.project = project,
                    .domain = domain,
                    .version = version,
                    .limits = {.max_bytes = (size_t)cfg->spec_max_bytes,
                               .max_documents = (unsigned)cfg->spec_max_documents,
                               .max_nesting = (unsigned)cfg->spec_max_nesting,
                               .max_nodes = (unsigned)cfg->spec_max_nodes,
                               .max_depth = (unsigned)cfg->spec_max_depth},
                    .resolve = sched_resolve,
                    .resolve_arg = &rr};
    env.resource_classes =
        sched_resolve_classes(api_cfg(r)->resource_classes, r->arena, &env.n_resource_classes);
    if (env.resource_classes == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    spec_item *items;
    size_t n;
    json_t *problems = json_array();
    env.problem = collect_problem;
    env.problem_arg = problems;
    if (spec_compile(&env, file_label(r), r->body, r->body_len, r->arena, &items, &n, &r->err) !=
        FLOE_OK) {
        /* Every document's error in details; the message is the first (issue 26). */
        size_t more = json_array_size(problems);
        if (more > 1) {
            char msg[FLOE_ERR_MSG_MAX];
            floe_text_fmt(msg, sizeof(msg), "%s (%zu more in details)", r->err.msg, more - 1);
            memcpy(r->err.msg, msg, sizeof(msg));
            r->err_details = json_pack("{s:o}", "errors", problems);
        } else {
            json_decref(problems);
        }
        return;
    }
    json_decref(problems);
    /* A workflow that compiles but cannot be flattened within the limits (review H9) is
     * refused now, not at its first launch. */
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind != SPEC_WORKFLOW)
            continue;
        sched_plan *plan =
            sched_plan_build(items[i].data, items[i].len, (size_t)cfg->spec_max_nodes, &r->err);
        if (plan == NULL) {
            floe_err_prefix(&r->err, "workflow \"%s\"", items[i].name);
            return;
        }
        sched_plan_free(plan);
    }

    /* All or nothing: one transaction for the project and every document. */
    bool *created = floe_arena_alloc(r->arena, n * sizeof(*created));
    if (created == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    floe_rc rc = store_pg_begin(t->pg, &r->err);
    if (rc == FLOE_OK)
        rc = store_project_ensure(t->pg, project, &r->err);
    for (size_t i = 0; rc == FLOE_OK && i < n; i++) {
        store_entity e = {.kind = (store_kind)items[i].kind,
                          .project = project,
                          .domain = domain,
                          .name = items[i].name,
                          .version = items[i].version,
                          .digest = items[i].digest,
                          .spec = items[i].data,
                          .spec_len = items[i].len};
        if (items[i].kind == SPEC_LAUNCHPLAN) {
            const Floe__LaunchPlanSpec *lp = (const Floe__LaunchPlanSpec *)items[i].msg;
            e.workflow_name = lp->workflow->name;
            e.workflow_version = lp->workflow->version;
        }
        rc = store_registry_put(t->pg, &e, &created[i], &r->err);
    }
    /* A dry run (floectl validate) goes as far as the registry's own checks (a version
     * registered with other content is still a conflict), then stores nothing. */
    if (rc == FLOE_OK && !dry_run)
        rc = store_pg_commit(t->pg, &r->err);
    if (rc != FLOE_OK || dry_run) {
        store_pg_rollback(t->pg);
        if (rc != FLOE_OK)
            return;
    }
    json_t *list = json_array();
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", spec_kind_name(items[i].kind), "name",
                            items[i].name, "version", items[i].version, "digest", items[i].digest,
                            "status", created[i] ? (dry_run ? "new" : "created") : "unchanged"));
        any |= created[i];
    }
    r->reply = json_pack("{s:s,s:s,s:o,s:b}", "project", project, "domain", domain, "registered",
                         list, "dry_run", dry_run);
    r->status = any && !dry_run ? 201 : 200;
}

/* --- get and list --------------------------------------------------------------------- */

static json_t *
entity_json(const store_entity *e, floe_arena *arena)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "kind", kind_word(e->kind), "project",
                          e->project, "domain", e->domain, "name", e->name, "version", e->version,
                          "digest", e->digest, "created_at", sched_render_time(e->created_us));
    if (o == NULL)
        return NULL;
    if (e->kind == STORE_LAUNCHPLAN) {
        json_object_set_new(
            o, "workflow",
            json_pack("{s:s,s:s}", "name", e->workflow_name, "version", e->workflow_version));
        json_object_set_new(o, "active", json_boolean(e->active));
    }
    if (e->spec != NULL) {
        const ProtobufCMessageDescriptor *d = e->kind == STORE_TASK ? &floe__task_spec__descriptor
                                              : e->kind == STORE_WORKFLOW
                                                  ? &floe__workflow_spec__descriptor
                                                  : &floe__launch_plan_spec__descriptor;
        ProtobufCMessage *m =
            protobuf_c_message_unpack(d, floe_arena_pb_allocator(arena), e->spec_len, e->spec);
        json_object_set_new(o, "spec", m != NULL ? sched_render_message(m) : json_null());
    }
    return o;
}

/* Checks the project/domain/name[/version] path segments after the kind. */
static bool
entity_path(api_req *r, const char **project, const char **domain, const char **name,
            const char **version)
{
    *project = r->t.seg[3];
    *domain = r->t.seg[4];
    *name = r->t.seg[5];
    *version = r->t.n_seg > 6 ? r->t.seg[6] : NULL;
    if (spec_check_project(*project, &r->err) != FLOE_OK)
        return false;
    if (!api_domain_known(api_cfg(r), *domain)) {
        api_fail(r, FLOE_EINVAL, "domain \"%.64s\" is not one of the configured domains (%s)",
                 *domain, api_cfg(r)->domains);
        return false;
    }
    if (spec_check_name(kind_word(kind_from_segment(r->t.seg[2])), *name, &r->err) != FLOE_OK)
        return false;
    if (*version != NULL && spec_check_version(*version, &r->err) != FLOE_OK)
        return false;
    return true;
}

/* What a launch plan that launches itself is doing (docs/launchplans.md): the next
 * scheduled instants, its last firings, what is pending and which trigger partitions
 * still await datasets. */
static json_t *
lp_status(api_thread *t, api_req *r, const store_entity *e)
{
    store_lp_key k = {e->project, e->domain, e->name};
    json_t *st = store_lp_status(t->pg, &k, 20, &r->err);
    if (st == NULL)
        return NULL;
    const Floe__LaunchPlanSpec *lp =
        floe__launch_plan_spec__unpack(floe_arena_pb_allocator(r->arena), e->spec_len, e->spec);
    json_t *next = json_array();
    const Floe__Schedule *s = lp != NULL ? lp->schedule : NULL;
    if (s != NULL) {
        floe_cron c;
        floe_err err;
        floe_tz *tz =
            s->time_zone != NULL && s->time_zone[0] ? floe_tz_load(s->time_zone, &err) : NULL;
        bool ok = s->rate_s > 0 || floe_cron_parse(s->cron, &c, &err) == FLOE_OK;
        int64_t at = floe_now_us() / 1000000;
        for (int i = 0; ok && i < 5; i++) {
            at = s->rate_s > 0 ? floe_rate_next(s->rate_s, at) : floe_cron_next(&c, tz, at);
            if (at < 0)
                break;
            char buf[40];
            floe_datetime_format(at * 1000000, buf, sizeof(buf));
            json_array_append_new(next, json_string(buf));
        }
        floe_tz_free(tz);
    }
    json_object_set_new(st, "next_fires", next);
    /* Each waiting partition: what was published, what is still awaited. */
    json_t *aw = json_object_get(st, "awaiting");
    size_t i;
    json_t *w;
    json_array_foreach(aw, i, w)
    {
        json_t *missing = json_array(), *have = json_object_get(w, "published");
        for (size_t d = 0; lp != NULL && lp->trigger != NULL && d < lp->trigger->n_datasets; d++) {
            bool got = false;
            size_t h;
            json_t *hv;
            json_array_foreach(have, h, hv) got =
                got || strcmp(json_string_value(hv), lp->trigger->datasets[d]->dataset) == 0;
            if (!got)
                json_array_append_new(missing, json_string(lp->trigger->datasets[d]->dataset));
        }
        json_object_set_new(w, "awaited", missing);
    }
    json_object_set_new(st, "active", json_boolean(e->active));
    return st;
}

void
api_entity_get_work(api_thread *t, api_req *r)
{
    const char *project, *domain, *name, *version;
    if (!entity_path(r, &project, &domain, &name, &version) || api_pg(t, r) != FLOE_OK ||
        !api_allow(t, r, project))
        return;
    store_entity e;
    if (store_registry_get(t->pg, kind_from_segment(r->t.seg[2]), project, domain, name, version,
                           r->arena, &e, &r->err) != FLOE_OK)
        return;
    if ((r->reply = entity_json(&e, r->arena)) == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    if (e.kind == STORE_LAUNCHPLAN) {
        json_t *st = lp_status(t, r, &e);
        if (st == NULL) {
            json_decref(r->reply);
            r->reply = NULL;
            return;
        }
        json_object_set_new(r->reply, "status", st);
    }
}

void
api_entity_list_work(api_thread *t, api_req *r)
{
    store_list_query q = {.kind = kind_from_segment(r->t.seg[2])};
    bool ok = api_list_scope(r, &q.project, &q.domain, &q.limit, &q.before_seq);
    q.name = api_param(r, "name");
    if (ok && q.name != NULL && spec_check_name("name", q.name, &r->err) != FLOE_OK)
        ok = false;
    if (!ok || api_pg(t, r) != FLOE_OK || !api_allow(t, r, q.project))
        return;
    store_entity *rows;
    size_t n;
    bool more;
    if (store_registry_list(t->pg, &q, r->arena, &rows, &n, &more, &r->err) != FLOE_OK)
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, entity_json(&rows[i], r->arena));
    api_reply_page(r, items, more, n > 0 ? rows[n - 1].seq : 0);
}

void
api_activate_work(api_thread *t, api_req *r)
{
    const char *project, *domain, *name, *version;
    if (!entity_path(r, &project, &domain, &name, &version) || api_pg(t, r) != FLOE_OK ||
        !api_allow(t, r, project))
        return;
    bool active = strcmp(r->t.seg[7], "activate") == 0;
    if (store_launchplan_activate(t->pg, project, domain, name, version, active, &r->err) !=
        FLOE_OK)
        return;
    r->reply = json_pack("{s:s,s:s,s:s,s:s,s:b}", "project", project, "domain", domain, "name",
                         name, "version", version, "active", active);
}
