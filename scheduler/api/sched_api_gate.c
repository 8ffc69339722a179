/*
 * POST /api/v1/executions/ID/nodes/NODE/approve|reject|signal (docs/api.md): a person
 * answers a gate. Checked here, so the caller hears what is wrong: the execution runs, the
 * node is a gate of that kind and waits now (RUNNING in the execution's state), the value
 * is of the gate's type. Then GateResolved goes on the bus and the engine ends the gate
 * (202); who answered is the caller's principal, recorded in the gate's outputs.
 */
#include "sched_api_int.h"

#include "floe_mem.h"
#include "floe_text.h"
#include "floe_value.h"
#include "sched_plan.h"
#include "store_exec.h"
#include "floe_phase.h"
#include "floe_type.h"
#include "store_redis_probe.h"
#include "store_registry.h"
#include "store_state.h"
#include "store_state_codec.h"

#include <stdio.h>
#include <string.h>

typedef struct gate_state {
    Floe__GateResolved msg;
    const char *status;
} gate_state;

/* The phase of plan node idx in the execution's state now (0 when it has none). */
static int
live_phase(api_thread *t, api_req *r, const char *exec, uint32_t idx)
{
    char kx[STORE_KEY_MAX], f[16];
    if (store_key_exec(kx, exec) != FLOE_OK)
        return 0;
    snprintf(f, sizeof(f), "%u", idx);
    const char *hget[] = {"HGET", kx, f};
    const char *const *cmds[] = {hget};
    const int argcs[] = {3};
    store_reply *rep[1] = {NULL};
    const floe_config *cfg = api_cfg(r);
    (void)t;
    if (store_redis_sync_call(cfg->redis_url, (int)cfg->redis_timeout_ms, 1, cmds, argcs, rep,
                              &r->err) != FLOE_OK)
        return -1;
    size_t len = 0;
    const char *v = store_reply_str(rep[0], &len);
    store_node_rec nr;
    int ph = v != NULL && store_state_node_rec_parse(v, len, &nr) ? (int)nr.phase : 0;
    store_redis_sync_free(rep, 1);
    return ph;
}

void
api_gate_work(api_thread *t, api_req *r)
{
    const char *id = r->t.seg[3], *node = r->t.seg[5], *verb = r->t.seg[6];
    if (!api_exec_id_valid(r, id) || api_pg(t, r) != FLOE_OK)
        return;
    json_error_t jerr;
    json_t *body = r->body_len > 0 ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr)
                                   : json_object();
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        api_fail(r, FLOE_EINVAL, "the body must be a JSON object {comment, value}");
        return;
    }
    const char *comment = json_string_value(json_object_get(body, "comment"));
    if (comment != NULL && (strlen(comment) > 1024 || !floe_utf8_valid(comment, strlen(comment)))) {
        json_decref(body);
        api_fail(r, FLOE_EINVAL, "comment: at most 1024 bytes of UTF-8 text");
        return;
    }
    comment = floe_arena_strndup(r->arena, comment != NULL ? comment : "",
                                 comment != NULL ? strlen(comment) : 0);
    store_exec ex;
    store_entity ent;
    sched_plan *plan = NULL;
    gate_state *st = floe_arena_alloc(r->arena, sizeof(*st));
    if (st == NULL || comment == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    if (store_exec_get(t->pg, id, r->arena, &ex, &r->err) != FLOE_OK ||
        !api_allow(t, r, ex.project))
        goto out;
    if (strcmp(ex.phase, "RUNNING") != 0) {
        api_fail(r, FLOE_ECONFLICT, "execution %s is %s: its gates wait only while it runs", id,
                 ex.phase);
        goto out;
    }
    if (store_registry_get(t->pg, STORE_WORKFLOW, ex.project, ex.domain, ex.workflow_name,
                           ex.workflow_version, r->arena, &ent, &r->err) != FLOE_OK ||
        (plan = sched_plan_build(ent.spec, ent.spec_len, (size_t)api_cfg(r)->spec_max_nodes,
                                 &r->err)) == NULL)
        goto out;
    int64_t idx = sched_plan_find(plan, node);
    const Floe__GateSpec *g = idx >= 0 ? plan->nodes[idx].gate : NULL;
    bool signal = strcmp(verb, "signal") == 0;
    if (g == NULL || strcmp(g->kind, signal ? "signal" : "approve") != 0) {
        api_fail(r, FLOE_ENOTFOUND, "execution %s has no %s gate \"%.64s\"", id,
                 signal ? "signal" : "approve", node);
        goto out;
    }
    int ph = live_phase(t, r, id, (uint32_t)idx);
    if (ph < 0)
        goto out;
    if (ph != FLOE_PHASE_RUNNING) {
        api_fail(r, FLOE_ECONFLICT,
                 "gate \"%.64s\" is not waiting (%s): it is answered while it "
                 "waits",
                 node, ph == 0 ? "no state yet" : floe_phase_name(ph));
        goto out;
    }
    bool approved = strcmp(verb, "reject") != 0;
    Floe__Value *value = NULL;
    json_t *jv = json_object_get(body, "value");
    if (approved && g->type != NULL) {
        floe_err verr = {0};
        if (jv == NULL || floe_value_from_json(g->type, jv, r->arena, &value, &verr) != FLOE_OK) {
            char tb[FLOE_TYPE_TEXT_MAX];
            api_fail(r, FLOE_EINVAL, "value: the gate takes %s%s%s",
                     floe_type_format(g->type, tb, sizeof(tb)), jv == NULL ? "" : ": ",
                     jv == NULL ? "" : verr.msg);
            goto out;
        }
    } else if (jv != NULL) {
        api_fail(r, FLOE_EINVAL, "value: gate \"%.64s\" takes none%s", node,
                 approved ? "" : " with a rejection");
        goto out;
    }
    floe__gate_resolved__init(&st->msg);
    st->msg.execution_id = (char *)ex.id;
    st->msg.project = (char *)ex.project;
    st->msg.node_id = floe_arena_strndup(r->arena, node, strlen(node));
    st->msg.approved = approved;
    st->msg.value = value;
    st->msg.by = (char *)api_requested_by(r, "");
    st->msg.comment = (char *)comment;
    st->status = signal ? "signalled" : approved ? "approved" : "rejected";
    if (st->msg.node_id == NULL || st->msg.by == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        goto out;
    }
    r->state = st;
out:
    sched_plan_free(plan);
    json_decref(body);
}

static void
gate_delivered(api_req *r, floe_rc rc, const char *reason)
{
    gate_state *st = r->state;
    if (rc != FLOE_OK) {
        api_fail(r, FLOE_EIO, "the answer could not be published to Kafka: %s",
                 reason != NULL ? reason : floe_rc_name(rc));
    } else {
        r->status = 202;
        r->reply = json_pack("{s:s,s:s,s:s,s:s}", "execution", st->msg.execution_id, "node",
                             st->msg.node_id, "status", st->status, "by", st->msg.by);
    }
    api_reply(r);
}

void
api_gate_done(api_req *r)
{
    gate_state *st = r->state;
    floe_err err;
    if (api_produce_event(r, st->msg.execution_id, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED,
                          &st->msg.base, gate_delivered, &err) != FLOE_OK) {
        api_fail(r, FLOE_EIO, "the answer could not be published: %s", err.msg);
        api_reply(r);
    }
}
