/*
 * sched_branch — branch nodes (docs/engine.md#branches). The plan turns branch ID into a
 * decision ID.when, its cases and a join ID (sched_plan.h). The decision runs here, on the
 * leader, once its operands are resolved: the first case whose condition holds runs, the
 * others are SKIPPED and count as done for the join (branch_take.lua); with none holding
 * and no else case, the decision fails as USER no_case. The join, READY once the case
 * taken ended, takes that case's outputs.
 */
#include "sched_engine_int.h"

#include "sched_decide.h"

#include "floe_phase.h"
#include "floe_text.h"
#include "store_state_codec.h"

#include <stdio.h>
#include <string.h>

enum { OP_JOIN = 1 };

/* a vs b: <0, 0, >0; 2 when they cannot be ordered (a NaN, kinds that differ). */
static int
order(const Floe__Value *a, const Floe__Value *b)
{
    if (a->kind_case != b->kind_case)
        return 2;
    switch (a->kind_case) {
    case FLOE__VALUE__KIND_INTEGER:
        return (a->integer > b->integer) - (a->integer < b->integer);
    case FLOE__VALUE__KIND_DATETIME_UNIX_US:
        return (a->datetime_unix_us > b->datetime_unix_us) -
               (a->datetime_unix_us < b->datetime_unix_us);
    case FLOE__VALUE__KIND_DURATION_US:
        return (a->duration_us > b->duration_us) - (a->duration_us < b->duration_us);
    case FLOE__VALUE__KIND_FLOAT:
        if (a->float_ != a->float_ || b->float_ != b->float_)
            return 2;
        return (a->float_ > b->float_) - (a->float_ < b->float_);
    case FLOE__VALUE__KIND_STRING: {
        int c = strcmp(a->string != NULL ? a->string : "", b->string != NULL ? b->string : "");
        return (c > 0) - (c < 0);
    }
    case FLOE__VALUE__KIND_BOOLEAN:
        return a->boolean == b->boolean ? 0 : 2; /* eq and ne only (the compiler checked) */
    default:
        return 2;
    }
}

/* Condition c over ops from *at on (advanced past every operand c has): 1, 0, or -1 when
 * an operand has no value. Every argument of and/or is evaluated, so *at stays in step. */
static int
eval(const Floe__Condition *c, const Floe__Value *const *ops, size_t n, size_t *at, int depth)
{
    if (c == NULL || c->op == NULL || depth > 32)
        return -1;
    if (c->n_operands == 2) {
        if (*at + 2 > n)
            return -1;
        const Floe__Value *a = ops[*at], *b = ops[*at + 1];
        *at += 2;
        if (a == NULL || b == NULL)
            return -1;
        int o = order(a, b);
        const char *op = c->op;
        if (strcmp(op, "eq") == 0)
            return o == 0;
        if (strcmp(op, "ne") == 0)
            return o != 0;
        if (o == 2)
            return 0; /* unordered: no order holds */
        if (strcmp(op, "lt") == 0)
            return o < 0;
        if (strcmp(op, "le") == 0)
            return o <= 0;
        if (strcmp(op, "gt") == 0)
            return o > 0;
        if (strcmp(op, "ge") == 0)
            return o >= 0;
        return -1;
    }
    bool and = strcmp(c->op, "and") == 0, or = strcmp(c->op, "or") == 0;
    int acc = and? 1 : 0;
    for (size_t i = 0; i < c->n_args; i++) {
        int r = eval(c->args[i], ops, n, at, depth + 1);
        if (r < 0)
            return -1;
        acc = and? (acc && r) : (acc || r);
    }
    if (strcmp(c->op, "not") == 0)
        return c->n_args == 1 ? !acc : -1;
    return and || or ? acc : -1;
}

void
eng_branch_decide(eng_exec *ex, uint32_t node, uint32_t attempt, const Floe__Value *const *ops,
                  size_t n_ops)
{
    eng_term *t = ex->t;
    sched_engine *e = t->e;
    const sched_pnode *pn = &ex->plan->plan->nodes[node];
    const Floe__BranchSpec *bs = pn->branch;
    size_t at = 0, taken = bs->n_cases;
    char msg[ENG_MSG_MAX];
    for (size_t k = 0; k < bs->n_cases && taken == bs->n_cases; k++) {
        int r = bs->cases[k]->when != NULL ? eval(bs->cases[k]->when, ops, n_ops, &at, 0) : 1;
        if (r < 0) {
            floe_text_fmt(msg, sizeof(msg), "case %zu's condition has an operand without a value",
                          k + 1);
            e->next.map_failed(ex, node, attempt, "branch_operand", msg);
            return;
        }
        if (r == 1)
            taken = k;
    }
    if (taken == bs->n_cases) {
        floe_text_fmt(msg, sizeof(msg), "no case of the branch holds, and it has no else case");
        e->next.map_failed(ex, node, attempt, "no_case", msg);
        return;
    }
    uint32_t cases[64];
    size_t m = bs->n_cases < 64 ? bs->n_cases : 64;
    for (size_t k = 0; k < m; k++)
        cases[k] = node + 1 + (uint32_t)k;
    const char *csv = eng_csv(e, cases, m);
    eng_op *op = csv != NULL ? eng_op_new(t, ex, SCHED_EV_BRANCH) : NULL;
    if (op == NULL) {
        eng_term_fail(t, "engine: out of memory (branch)");
        return;
    }
    op->node = node;
    op->attempt = attempt;
    if (store_state_branch_take(e->redis, t->epoch, ex->id, node, attempt,
                                node + 1 + (uint32_t)taken, node + 1 + (uint32_t)m, csv,
                                e->next.state_reply, op) != FLOE_OK) {
        eng_op_free(op);
        eng_term_fail(t, "redis: request not sent");
    }
}

/* --- The join -------------------------------------------------------------------------- */

static void
join_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    eng_op *op = arg;
    eng_term *t = op->t;
    eng_exec *ex = op->ex;
    if (t->dead || err != NULL) {
        if (!t->dead)
            eng_term_fail(t, err->msg);
        eng_op_free(op);
        return;
    }
    size_t n = store_reply_len(rep) / 2;
    for (size_t k = 0; k < n; k++) {
        size_t rl = 0, ol = 0;
        const char *rec = store_reply_str(store_reply_elem(rep, 2 * k), &rl);
        const char *out = store_reply_str(store_reply_elem(rep, 2 * k + 1), &ol);
        store_node_rec nr;
        if (rec != NULL && out != NULL && store_state_node_rec_parse(rec, rl, &nr) &&
            floe_phase_success(FLOE_SCOPE_NODE, (int)nr.phase)) {
            t->e->next.node_done(ex, op->node, op->attempt, (const uint8_t *)out, ol,
                                 FLOE__PHASE__PHASE_SUCCEEDED, NULL);
            eng_op_free(op);
            return;
        }
    }
    t->e->next.map_failed(ex, op->node, op->attempt, "no_case",
                          "no case of the branch produced outputs");
    eng_op_free(op);
}

void
eng_branch_join(eng_exec *ex, uint32_t node, uint32_t attempt)
{
    eng_term *t = ex->t;
    const sched_plan *plan = ex->plan->plan;
    /* The cases are the nodes between the decision and the join: the join's upstream. */
    uint32_t m = plan->nodes[node].n_upstream;
    if (m == 0 || m > 64 || node < m + 1)
        return;
    char names[128][16];
    const char *fields[128];
    for (uint32_t k = 0; k < m; k++) {
        uint32_t c = node - m + k;
        snprintf(names[2 * k], sizeof(names[0]), "%u", c);
        snprintf(names[2 * k + 1], sizeof(names[0]), "o%u", c);
        fields[2 * k] = names[2 * k];
        fields[2 * k + 1] = names[2 * k + 1];
    }
    eng_op *op = eng_op_new(t, ex, OP_JOIN);
    if (op == NULL) {
        eng_term_fail(t, "engine: out of memory (branch)");
        return;
    }
    op->node = node;
    op->attempt = attempt;
    if (store_state_hmget(t->e->redis, ex->id, fields, 2 * m, join_reply, op) != FLOE_OK) {
        eng_op_free(op);
        eng_term_fail(t, "redis: not connected");
    }
}
