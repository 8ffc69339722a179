/*
 * sched_plan_cache — the plans of the workflows running executions use, by reference
 * ("project/domain/name/version"): loaded from the registry and flattened (sched_plan) on
 * the pool once, shared by every execution of that version, kept after their last user
 * up to PLAN_CACHE_MAX. Executions that need a plan being loaded wait on it.
 */
#include "sched_engine_int.h"

#include "floe_mem.h"
#include "store_registry.h"

#include <stdio.h>
#include <string.h>

#define PLAN_CACHE_MAX 64

void
eng_plan_unref(sched_engine *e, eng_plan *p)
{
    if (p == NULL || --p->refs > 0 || p->loading)
        return;
    if (floe_map_count(e->plans) <= PLAN_CACHE_MAX && p->plan != NULL)
        return;
    floe_map_del(e->plans, p->ref);
    sched_plan_free(p->plan);
    floe_free(p->ref);
    floe_free(p);
}

typedef struct plan_job {
    eng_term *t;
    eng_plan *p;
    uint64_t epoch;
    size_t max_nodes;
    char project[64], domain[64], name[256], version[256];
    sched_plan *plan;
    floe_rc rc;
    floe_err err;
} plan_job;

static floe_rc
ref_split(const char *ref, plan_job *j)
{
    char buf[700];
    if (snprintf(buf, sizeof(buf), "%s", ref) >= (int)sizeof(buf))
        return FLOE_EINVAL;
    char *parts[4], *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(buf, "/", &save); tok != NULL && n < 4;
         tok = strtok_r(NULL, "/", &save))
        parts[n++] = tok;
    if (n != 4 || strlen(parts[0]) >= sizeof(j->project) || strlen(parts[1]) >= sizeof(j->domain) ||
        strlen(parts[2]) >= sizeof(j->name) || strlen(parts[3]) >= sizeof(j->version))
        return FLOE_EINVAL;
    snprintf(j->project, sizeof(j->project), "%s", parts[0]);
    snprintf(j->domain, sizeof(j->domain), "%s", parts[1]);
    snprintf(j->name, sizeof(j->name), "%s", parts[2]);
    snprintf(j->version, sizeof(j->version), "%s", parts[3]);
    return FLOE_OK;
}

floe_rc
eng_plan_load(store_pg *pg, const char *project, const char *domain, const char *name,
              const char *version, size_t max_nodes, sched_plan **out, floe_err *err)
{
    if (pg == NULL)
        return floe_err_sys(err, FLOE_EIO, "no PostgreSQL connection");
    floe_rc rc = store_pg_ensure(pg, err);
    if (rc != FLOE_OK)
        return rc;
    floe_arena *arena = floe_arena_new(65536, 0);
    if (arena == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    store_entity ent;
    rc = store_registry_get(pg, STORE_WORKFLOW, project, domain, name, version, arena, &ent, err);
    if (rc == FLOE_OK && (*out = sched_plan_build(ent.spec, ent.spec_len, max_nodes, err)) == NULL)
        rc = err->code != FLOE_OK ? err->code : FLOE_EINVAL;
    floe_arena_free(arena);
    return rc;
}

static void
plan_work(void *ctx, void *arg)
{
    plan_job *j = arg;
    j->rc = eng_plan_load(ctx, j->project, j->domain, j->name, j->version, j->max_nodes, &j->plan,
                          &j->err);
}

static void
plan_wake(sched_engine *e, eng_plan *p)
{
    eng_exec *w = p->waiters;
    p->waiters = NULL;
    while (w != NULL) {
        eng_exec *next = w->next_wait;
        w->next_wait = NULL;
        if (p->plan != NULL && !w->t->dead) {
            w->plan = p;
            p->refs++;
            e->next.exec_loaded(w, EX_READY);
        } else if (!w->t->dead) {
            floe_log_warn(&w->t->log, "execution %s: workflow %s: %s; its events are dropped",
                          w->id, p->ref, p->error);
            e->next.exec_loaded(w, EX_GONE);
        }
        e->next.exec_release(w);
        w = next;
    }
    if (p->refs == 0) {
        p->refs = 1;
        eng_plan_unref(e, p);
    }
}

static void
plan_done(void *arg)
{
    plan_job *j = arg;
    eng_plan *p = j->p;
    sched_engine *e = j->t->e;
    p->loading = false;
    if (j->rc == FLOE_OK) {
        p->plan = j->plan;
    } else {
        snprintf(p->error, sizeof(p->error), "%s", j->err.msg);
        if (j->rc == FLOE_EIO || j->rc == FLOE_ENOMEM)
            eng_term_fail(j->t, j->err.msg);
    }
    eng_term_unref(j->t);
    floe_free(j);
    plan_wake(e, p);
}

/* Gives ex its plan now, or parks it on the plan's load. */
void
eng_plan_acquire(eng_exec *ex, const char *ref)
{
    sched_engine *e = ex->t->e;
    eng_plan *p = floe_map_get(e->plans, ref);
    if (p != NULL && p->plan != NULL) {
        ex->plan = p;
        p->refs++;
        e->next.exec_loaded(ex, EX_READY);
        return;
    }
    if (p == NULL) {
        plan_job *j = floe_calloc(1, sizeof(*j));
        p = floe_calloc(1, sizeof(*p));
        char *dup = floe_strdup(ref);
        if (j == NULL || p == NULL || dup == NULL || ref_split(ref, j) != FLOE_OK ||
            floe_map_put(e->plans, dup, p) != FLOE_OK) {
            bool bad_ref = j != NULL && p != NULL && dup != NULL;
            floe_free(j);
            floe_free(p);
            floe_free(dup);
            if (bad_ref) {
                floe_log_warn(&ex->t->log, "execution %s: bad workflow reference \"%.200s\"",
                              ex->id, ref);
                e->next.exec_loaded(ex, EX_GONE);
            } else {
                eng_term_fail(ex->t, "engine: out of memory");
            }
            return;
        }
        p->ref = dup;
        p->loading = true;
        j->t = ex->t;
        j->p = p;
        j->max_nodes = (size_t)e->cfg->spec_max_nodes;
        eng_term_ref(ex->t);
        if (floe_pool_submit(e->pool, plan_work, plan_done, j) != FLOE_OK) {
            eng_term_unref(ex->t);
            floe_map_del(e->plans, p->ref);
            floe_free(p->ref);
            floe_free(p);
            floe_free(j);
            eng_term_fail(ex->t, "engine: the database queue is full");
            return;
        }
    } else if (!p->loading) {
        /* The last load failed: the workflow is gone or broken. */
        floe_log_warn(&ex->t->log, "execution %s: workflow %s: %s", ex->id, ref, p->error);
        e->next.exec_loaded(ex, EX_GONE);
        return;
    }
    ex->state = EX_LOADING;
    ex->inflight++;
    ex->next_wait = p->waiters;
    p->waiters = ex;
}
