/*
 * Egress (issue 25), read off <prefix>.egress as a subscriber would, from a real
 * scheduler and worker: a diamond (a -> b, c -> d) and a fan-out of 50 nodes. With
 * engine.egress_batch on (the default) the changes come as PhaseChanges, one execution's
 * each, several in one message (the fan-out's READY changes together), fewer messages
 * than changes; every node goes READY before it ends SUCCEEDED, d only after b and c, the
 * execution's RUNNING first and SUCCEEDED last. With it off: the same changes, one
 * PhaseChanged each.
 */
#include "floe_bus.h"
#include "floe_envelope.h"
#include "floe_phase.h"
#include "it_exec.h"
#include "it_fleet.h"
#include "it_util.h"

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define API "http://127.0.0.1:18791"
#define W1 "127.0.0.1:18792"
#define WAIT_MS 60000
#define SEEN_MAX 512

static const char *sched_bin, *worker_bin;
static it_fleet fleet;

typedef struct change {
    char node[64];
    int from, to;
} change;

/* What the subscriber saw of one execution. */
typedef struct seen {
    const char *exec;
    change v[SEEN_MAX];
    size_t n;
    unsigned messages, batches, singles;
    size_t biggest; /* changes in the largest message */
    bool ended;
} seen;

static void
take(seen *s, const Floe__PhaseChanged *c)
{
    if (strcmp(c->execution_id, s->exec) != 0 || s->n >= SEEN_MAX)
        return;
    change *x = &s->v[s->n++];
    snprintf(x->node, sizeof(x->node), "%s", c->node_id);
    x->from = c->old_phase;
    x->to = c->new_phase;
    if (c->node_id[0] == '\0' && floe_phase_terminal(FLOE_SCOPE_EXEC, c->new_phase))
        s->ended = true;
}

static void
on_message(floe_bus *bus, const floe_bus_msg *msg, void *arg)
{
    seen *s = arg;
    if (msg->env->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGES) {
        const Floe__PhaseChanges *m = (const Floe__PhaseChanges *)msg->env->msg;
        if (m->n_changes > 0 && strcmp(m->changes[0]->execution_id, s->exec) == 0) {
            s->messages++;
            s->batches++;
            if (m->n_changes > s->biggest)
                s->biggest = m->n_changes;
        }
        for (size_t i = 0; i < m->n_changes; i++)
            take(s, m->changes[i]);
    } else if (msg->env->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGED) {
        const Floe__PhaseChanged *c = (const Floe__PhaseChanged *)msg->env->msg;
        if (strcmp(c->execution_id, s->exec) == 0) {
            s->messages++;
            s->singles++;
            if (s->biggest == 0)
                s->biggest = 1;
        }
        take(s, c);
    }
    floe_bus_ack(bus, &msg->pos);
}

static bool
ended(void *arg)
{
    return ((seen *)arg)->ended;
}

/* Position of the first change of node (exec: "") to phase `to`, or -1. */
static long
at(const seen *s, const char *node, int to)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].node, node) == 0 && s->v[i].to == to)
            return (long)i;
    return -1;
}

/* Launches wf, reads its egress until its execution ended. */
static void
watch(const char *wf, seen *s, char exec[64])
{
    struct event_base *base = event_base_new();
    floe_config *cfg = it_config("egress-reader", NULL, 0);
    floe_bus_callbacks cb = {.on_message = on_message, .arg = s};
    floe_err err = {0};
    floe_bus *bus = floe_bus_new(base, cfg, &cb, &err);
    if (bus == NULL)
        fail_msg("reader bus: %s", err.msg);
    it_launch(wf, "{}", exec);
    s->exec = exec;
    char topic[128], group[128];
    floe_config_topic(cfg, "egress", topic, sizeof(topic));
    snprintf(group, sizeof(group), "test-egress-%s", exec);
    const char *topics[] = {topic};
    /* A new group reads from the start of the topic (auto.offset.reset earliest), so
     * what was sent before it joined is read too. */
    assert_int_equal(floe_bus_subscribe(bus, group, topics, 1, &err), FLOE_OK);
    it_wait(base, ended, s, WAIT_MS, "the execution's end on egress");
    floe_bus_free(bus);
    floe_config_free(cfg);
    event_base_free(base);
}

static void
check_order(const seen *s, const char *const *nodes, size_t n)
{
    long run = at(s, "", FLOE_PHASE_RUNNING), done = at(s, "", FLOE_PHASE_SUCCEEDED);
    if (run != 0 || done != (long)s->n - 1)
        fail_msg("the execution's changes at %ld and %ld of %zu", run, done, s->n);
    for (size_t i = 0; i < n; i++) {
        long r = at(s, nodes[i], FLOE_PHASE_READY), e = at(s, nodes[i], FLOE_PHASE_SUCCEEDED);
        if (r < 0 || e < 0 || r > e)
            fail_msg("node %s: READY at %ld, SUCCEEDED at %ld", nodes[i], r, e);
    }
}

static void
run_both(bool batched)
{
    char exec[64];
    seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    watch("diamond", s, exec);
    static const char *const d4[] = {"a", "b", "c", "d"};
    check_order(s, d4, 4);
    if (at(s, "d", FLOE_PHASE_READY) < at(s, "b", FLOE_PHASE_SUCCEEDED) ||
        at(s, "d", FLOE_PHASE_READY) < at(s, "c", FLOE_PHASE_SUCCEEDED))
        fail_msg("d was READY before b and c ended");
    assert_true(batched ? s->singles == 0 : s->batches == 0);
    free(s);

    s = calloc(1, sizeof(*s));
    assert_non_null(s);
    watch("fan", s, exec);
    char names[50][8];
    const char *fan[50];
    for (int i = 0; i < 50; i++) {
        snprintf(names[i], sizeof(names[i]), "n%d", i);
        fan[i] = names[i];
    }
    check_order(s, fan, 50);
    assert_int_equal(s->n, 2 + 2 * 50);
    if (batched) {
        assert_int_equal(s->singles, 0);
        /* the 50 READY changes of one answer travel together */
        if (s->biggest < 50 || s->messages >= s->n)
            fail_msg("%u messages for %zu changes, the largest %zu", s->messages, s->n, s->biggest);
    } else {
        assert_int_equal(s->batches, 0);
        assert_int_equal(s->messages, s->n);
    }
    free(s);
}

static void
setup_fleet(const char *prefix, char *const env[])
{
    it_fleet_init(&fleet, "test_egress", prefix, sched_bin, worker_bin, API);
    it_fleet_scheduler(&fleet, "scheduler", API, env, true);
    char *wenv[] = {"FLOE_WORKER_NOOP=on", NULL};
    it_fleet_worker(&fleet, "worker", W1, wenv);
    char y[4096];
    int n = snprintf(y, sizeof(y),
                     "kind: task\nname: t\nversion: v1\nexecutor: noop\n"
                     "container: {command: [x]}\n"
                     "---\nkind: workflow\nname: diamond\nversion: v1\nnodes:\n"
                     "  - {id: a, task: t}\n  - {id: b, task: t, after: [a]}\n"
                     "  - {id: c, task: t, after: [a]}\n  - {id: d, task: t, after: [b, c]}\n"
                     "---\nkind: workflow\nname: fan\nversion: v1\nnodes:\n");
    for (int i = 0; i < 50; i++)
        n += snprintf(y + n, sizeof(y) - (size_t)n, "  - {id: n%d, task: t}\n", i);
    it_register(y);
}

static void
test_batched(void **state)
{
    (void)state;
    setup_fleet("egb", NULL);
    run_both(true);
    it_fleet_down(&fleet);
}

static void
test_one_by_one(void **state)
{
    (void)state;
    char *env[] = {"FLOE_EGRESS_BATCH=off", NULL};
    setup_fleet("ego", env);
    run_both(false);
    it_fleet_down(&fleet);
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_egress FLOE_SCHEDULER FLOE_WORKER\n");
        return 2;
    }
    sched_bin = argv[1];
    worker_bin = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched),
        cmocka_unit_test(test_one_by_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
