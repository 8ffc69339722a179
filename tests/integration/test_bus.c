/*
 * Integration tests of floe_bus against the real local Kafka (ops/stack):
 *  - a produce -> consume round trip through a consumer group, and a consumer restart that
 *    resumes after the last acknowledged offset: nothing lost, nothing seen twice except
 *    what was never acknowledged;
 *  - malformed and oversized messages go to the DLQ with the reason, are never handed to
 *    the application, and are acknowledged once the DLQ has them;
 *  - a message that could not be tracked (out of memory) is fetched again, not skipped;
 *  - offsets committed again though unchanged (bus.offset_refresh), also where nothing
 *    was consumed since the assignment;
 *  - a topic partitioned by the load (floe_bus_group_partitions, the engine's dispatches):
 *    a quiet burst spread evenly, a burst under load on one partition, keys kept.
 * Each run uses its own id, consumer groups and message keys, so runs never disturb each
 * other on the shared topics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "floe_bus.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "it_util.h"

#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define N_MSGS 40
#define N_ACKED 25 /* the consumer acknowledges seq 0..24 before it stops */
#define WAIT_MS 60000

typedef struct probe {
    struct event_base *base;
    floe_bus *bus;
    char run_id[FLOE_ID_LEN + 1];
    uint64_t ack_below;    /* acknowledge our messages with seq below this */
    unsigned seen[N_MSGS]; /* how often each seq of our run arrived */
    unsigned ours;         /* messages of our run received */
    unsigned delivered;    /* delivery reports with success */
    unsigned failed;
    bool assigned;
    /* DLQ watching: [0] the garbage message, [1] the oversized one */
    const char *garbage;
    char dlq_reason[2][256];
    char dlq_consumer[2][128];
    unsigned marker_seen;
    /* M8: positions of our messages held unacknowledged, by seq */
    floe_bus_pos held[N_MSGS];
    bool keep; /* hold our messages instead of acknowledging them */
    /* H5: a bad message with a huge key */
    char bigkey_reason[256];
    size_t bigkey_len;
    /* grouped partitions: where each of our messages arrived, and its key */
    int32_t part[N_MSGS];
    bool key_ok[N_MSGS];
    bool fail_next; /* L2: the message after our seq 0 on its partition fails to track */
} probe;

#define LOAD_SEQ 2000000 /* the load of the grouped-partitions test: acknowledged, ignored */

static void
on_message(floe_bus *bus, const floe_bus_msg *msg, void *arg)
{
    probe *p = arg;
    if (msg->env->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE) {
        const Floe__Smoke *m = (const Floe__Smoke *)msg->env->msg;
        if (strcmp(m->run_id, p->run_id) != 0) {
            floe_bus_ack(bus, &msg->pos); /* another run's message */
            return;
        }
        if (m->seq == 1000000) {
            p->marker_seen++;
            floe_bus_ack(bus, &msg->pos);
            return;
        }
        if (m->seq == LOAD_SEQ) {
            floe_bus_ack(bus, &msg->pos);
            return;
        }
        assert_true(m->seq < N_MSGS);
        p->seen[m->seq]++;
        if (p->fail_next && m->seq == 0) {
            p->fail_next = false;
            floe_bus_test_fail_partition = msg->pos.partition;
        }
        p->part[m->seq] = msg->pos.partition;
        char key[128];
        int klen = snprintf(key, sizeof(key), "%s/%llu/0", p->run_id, (unsigned long long)m->seq);
        p->key_ok[m->seq] =
            msg->key_len == (size_t)klen && memcmp(msg->key, key, msg->key_len) == 0;
        p->ours++;
        if (p->keep)
            p->held[m->seq] = msg->pos;
        else if (m->seq < p->ack_below)
            floe_bus_ack(bus, &msg->pos);
        return;
    }
    if (msg->env->type == FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DEAD_LETTER) {
        const Floe__DeadLetter *dl = (const Floe__DeadLetter *)msg->env->msg;
        if (dl->raw.len > 7 && memcmp(dl->raw.data, "bigkey ", 7) == 0 &&
            memmem(dl->raw.data, dl->raw.len, p->run_id, FLOE_ID_LEN)) {
            snprintf(p->bigkey_reason, sizeof(p->bigkey_reason), "%s", dl->reason);
            p->bigkey_len = dl->key.len;
        } else if (p->garbage != NULL && dl->raw.len > 0 &&
                   memmem(dl->raw.data, dl->raw.len, p->run_id, FLOE_ID_LEN)) {
            int i = dl->raw.len == strlen(p->garbage) &&
                            memcmp(dl->raw.data, p->garbage, dl->raw.len) == 0
                        ? 0
                        : 1;
            snprintf(p->dlq_reason[i], sizeof(p->dlq_reason[i]), "%s", dl->reason);
            snprintf(p->dlq_consumer[i], sizeof(p->dlq_consumer[i]), "%s", dl->consumer);
        }
    }
    floe_bus_ack(bus, &msg->pos);
}

static void
on_delivered(floe_bus *bus, void *opaque, floe_rc rc, const char *reason, void *arg)
{
    (void)bus;
    (void)opaque;
    (void)reason;
    probe *p = arg;
    if (rc == FLOE_OK)
        p->delivered++;
    else
        p->failed++;
}

static void
on_rebalance(floe_bus *bus, bool assigned, int n, void *arg)
{
    (void)bus;
    (void)n;
    ((probe *)arg)->assigned = assigned;
}

static floe_bus *
bus_open(probe *p, const floe_config *cfg, const char *group, const char *topic)
{
    floe_bus_callbacks cb = {.on_message = on_message,
                             .on_delivered = on_delivered,
                             .on_rebalance = on_rebalance,
                             .arg = p};
    floe_err err;
    floe_bus *bus = floe_bus_new(p->base, cfg, &cb, &err);
    if (bus == NULL)
        fail_msg("floe_bus_new: %s", err.msg);
    if (group != NULL && floe_bus_subscribe(bus, group, &topic, 1, &err) != FLOE_OK)
        fail_msg("subscribe: %s", err.msg);
    return bus;
}

/* Produces one message of this run, keyed "RUN/SEQ/0" (the 0 padded to pad digits). */
static void
produce_one(floe_bus *prod, const probe *p, const char *topic, uint64_t seq, int pad)
{
    Floe__Smoke m = FLOE__SMOKE__INIT;
    m.seq = seq;
    m.run_id = (char *)p->run_id;
    char key[256];
    int klen =
        snprintf(key, sizeof(key), "%s/%llu/%0*d", p->run_id, (unsigned long long)seq, pad, 0);
    floe_err err;
    if (floe_bus_produce(prod, topic, key, (size_t)klen, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE,
                         &m.base, NULL, NULL, &err) != FLOE_OK)
        fail_msg("produce: %s", err.msg);
}

/* Produces this run's 40 smoke messages, so they spread over every partition. */
static void
produce_run(floe_bus *prod, const probe *p, const char *topic, int pad)
{
    for (uint64_t seq = 0; seq < N_MSGS; seq++)
        produce_one(prod, p, topic, seq, pad);
}

/* Produces one message of this run with seq under key (one key: one partition, in order). */
static void
produce_keyed(floe_bus *prod, const probe *p, const char *topic, const char *key, uint64_t seq)
{
    Floe__Smoke m = FLOE__SMOKE__INIT;
    m.seq = seq;
    m.run_id = (char *)p->run_id;
    floe_err err;
    if (floe_bus_produce(prod, topic, key, strlen(key), FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE,
                         &m.base, NULL, NULL, &err) != FLOE_OK)
        fail_msg("produce: %s", err.msg);
}

/* A probe of its own run (id), on a loop of its own, and its consumer group name. */
static void
probe_init(probe *p, const char *name, char group[96])
{
    memset(p, 0, sizeof(*p));
    p->base = event_base_new();
    assert_int_equal(floe_id_new(p->run_id), 0);
    snprintf(group, 96, "%s-%s", name, p->run_id);
}

static bool
all_delivered(void *arg)
{
    probe *p = arg;
    return p->delivered + p->failed >= N_MSGS;
}

static bool
all_ours_seen(void *arg)
{
    probe *p = arg;
    unsigned distinct = 0;
    for (int i = 0; i < N_MSGS; i++)
        distinct += p->seen[i] > 0;
    return distinct == N_MSGS;
}

static bool
unacked_seen(void *arg)
{
    probe *p = arg;
    for (int i = N_ACKED; i < N_MSGS; i++) {
        if (p->seen[i] == 0)
            return false;
    }
    return true;
}

static void
test_round_trip_and_restart_resumes(void **state)
{
    (void)state;
    floe_config *cfg = it_config("test-bus", NULL, 0);
    char topic[128], group[96];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));

    probe p;
    probe_init(&p, "test-bus", group);

    /* Produce 40 messages spread over every partition by key. */
    floe_bus *prod = bus_open(&p, cfg, NULL, NULL);
    produce_run(prod, &p, topic, 0);
    it_wait(p.base, all_delivered, &p, WAIT_MS, "40 delivery reports");
    assert_int_equal(p.failed, 0);

    /* First consumer: sees all 40, acknowledges seq 0..24 only, then stops cleanly. */
    p.ack_below = N_ACKED;
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, all_ours_seen, &p, WAIT_MS, "the first consumer to receive all 40");
    for (int i = 0; i < N_MSGS; i++)
        assert_int_equal(p.seen[i], 1);
    floe_bus_stats st;
    floe_bus_stats_get(p.bus, &st);
    assert_true(st.assigned > 1);
    floe_bus_free(p.bus);

    /* Second consumer, same group: gets exactly the 15 never acknowledged. Within a
     * partition a replay of seq < 25 would arrive before them, so once all 15 are here
     * any such duplicate would have been seen. */
    memset(p.seen, 0, sizeof(p.seen));
    p.ours = 0;
    p.ack_below = N_MSGS;
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, unacked_seen, &p, WAIT_MS, "the restarted consumer to receive seq 25..39");
    for (int i = 0; i < N_ACKED; i++) {
        if (p.seen[i] != 0)
            fail_msg("seq %d was acknowledged before the restart but delivered again", i);
    }
    for (int i = N_ACKED; i < N_MSGS; i++)
        assert_int_equal(p.seen[i], 1);
    assert_int_equal(p.ours, N_MSGS - N_ACKED);
    floe_bus_free(p.bus);
    floe_bus_free(prod);
    event_base_free(p.base);
    floe_config_free(cfg);
}

static bool marker_seen(void *arg);

static bool
forged_dead_lettered(void *arg)
{
    return ((probe *)arg)->dlq_reason[1][0] != '\0';
}

/* Issue 19 (review H1): with bus.keys_file set, a message from a producer without the key
 * (a forged TaskDispatch, a forged result) is never handed over; it is dead-lettered as
 * unsigned, while a signed one behind it arrives. */
static void
test_unsigned_message_dead_lettered(void **state)
{
    (void)state;
    if (getenv("FLOE_BUS_KEYS_FILE") == NULL || getenv("FLOE_BUS_KEYS_FILE")[0] == '\0')
        fail_msg("FLOE_BUS_KEYS_FILE is not set: run through tests/with-stack");
    const char *no_keys[] = {"bus.keys_file="};
    floe_config *cfg = it_config("test-bus-signed", NULL, 0);
    floe_config *forger_cfg = it_config("test-bus-forger", no_keys, 1);
    char topic[128], dlq[128], group[96], dlq_group[96];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));
    floe_config_topic(cfg, "dlq", dlq, sizeof(dlq));
    probe p, d;
    memset(&p, 0, sizeof(p));
    memset(&d, 0, sizeof(d));
    p.base = d.base = event_base_new();
    assert_int_equal(floe_id_new(p.run_id), 0);
    memcpy(d.run_id, p.run_id, sizeof(p.run_id));
    d.garbage = "(none)"; /* dead letters of this run land in dlq_reason[1] */
    snprintf(group, sizeof(group), "test-signed-%s", p.run_id);
    snprintf(dlq_group, sizeof(dlq_group), "test-signed-dlq-%s", p.run_id);
    floe_err err;
    floe_bus *forger = bus_open(&p, forger_cfg, NULL, NULL);
    Floe__Smoke m = FLOE__SMOKE__INIT;
    m.run_id = p.run_id;
    m.seq = 0;
    assert_int_equal(floe_bus_produce(forger, topic, p.run_id, FLOE_ID_LEN,
                                      FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &m.base, NULL, NULL,
                                      &err),
                     FLOE_OK);
    assert_int_equal(floe_bus_flush(forger, 10000), FLOE_OK);
    floe_bus *prod = bus_open(&p, cfg, NULL, NULL);
    m.seq = 1000000; /* the signed marker, behind it on the same partition */
    assert_int_equal(floe_bus_produce(prod, topic, p.run_id, FLOE_ID_LEN,
                                      FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &m.base, NULL, NULL,
                                      &err),
                     FLOE_OK);
    assert_int_equal(floe_bus_flush(prod, 10000), FLOE_OK);
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, marker_seen, &p, WAIT_MS, "the signed marker");
    assert_int_equal(p.ours, 0); /* the unsigned one was never handed over */
    d.bus = bus_open(&d, cfg, dlq_group, dlq);
    it_wait(d.base, forged_dead_lettered, &d, WAIT_MS, "the unsigned message on the DLQ topic");
    assert_non_null(strstr(d.dlq_reason[1], "unsigned"));
    floe_bus_free(d.bus);
    floe_bus_free(p.bus);
    floe_bus_free(prod);
    floe_bus_free(forger);
    event_base_free(p.base);
    floe_config_free(cfg);
    floe_config_free(forger_cfg);
}

static bool
dlq_found_both(void *arg)
{
    probe *p = arg;
    return p->dlq_reason[0][0] != '\0' && p->dlq_reason[1][0] != '\0';
}

static bool
marker_seen(void *arg)
{
    return ((probe *)arg)->marker_seen > 0;
}

static bool
ten_delivered(void *arg)
{
    return ((probe *)arg)->delivered >= 10;
}

static bool
ten_ours(void *arg)
{
    return ((probe *)arg)->ours >= 10;
}

/* Ten messages of this run, seq 0..9, under one key of it (written to key): one
 * partition, in order; returns once the broker has them all. */
static void
produce_ten(floe_bus *prod, probe *p, const char *topic, char *key, size_t size)
{
    snprintf(key, size, "%s/one-partition", p->run_id);
    for (uint64_t seq = 0; seq < 10; seq++)
        produce_keyed(prod, p, topic, key, seq);
    it_wait(p->base, ten_delivered, p, WAIT_MS, "10 delivery reports");
}

/* Review L2: a message the consumer could not track (out of memory) was dropped, and the
 * acknowledgement of the next one on its partition committed past it: lost. Ten messages
 * of one key (one partition); tracking the second fails once. It must still arrive, once,
 * after the first; and a consumer of the same group started after all ten were
 * acknowledged must get none of them again. */
static void
test_l2_untracked_message_fetched_again(void **state)
{
    (void)state;
    enum { N = 10 };
    floe_config *cfg = it_config("test-bus", NULL, 0);
    char topic[128], group[96], key[128];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));
    probe p;
    probe_init(&p, "test-bus-l2", group);
    floe_bus *prod = bus_open(&p, cfg, NULL, NULL);
    produce_ten(prod, &p, topic, key, sizeof(key));
    p.ack_below = N;
    p.fail_next = true;
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, ten_ours, &p, WAIT_MS, "all 10 messages, the untracked one fetched again");
    assert_int_equal(floe_bus_test_fail_partition, -1); /* the failure happened */
    for (int i = 0; i < N; i++)
        assert_int_equal(p.seen[i], 1);
    floe_bus_free(p.bus);
    /* All acknowledged and committed: a new consumer of the group sees none again. A
     * marker produced after them tells when it has read past where they were. */
    memset(p.seen, 0, sizeof(p.seen));
    p.ours = 0;
    p.marker_seen = 0;
    produce_keyed(prod, &p, topic, key, 1000000);
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, marker_seen, &p, WAIT_MS, "the marker after the ten");
    assert_int_equal(p.ours, 0);
    floe_bus_free(p.bus);
    floe_bus_free(prod);
    event_base_free(p.base);
    floe_config_free(cfg);
}

static bool
refreshed_twice(void *arg)
{
    floe_bus_stats st;
    floe_bus_stats_get(((probe *)arg)->bus, &st);
    return st.refreshed >= 2;
}

/* Review L7: Kafka before 2.1 expires a committed offset by its commit's age, and
 * librdkafka commits only offsets that moved, so a consumer of a quiet topic lost its
 * offset after a day (offsets.retention.minutes) and read the topic again from the start
 * at its next rebalance. The offsets are committed again as they are, every
 * bus.offset_refresh (1 s here): after the consumer acknowledged everything, and on a new
 * consumer of the group with nothing to consume (the offset it was assigned at); and what
 * it commits is where the group was (a consumer after it gets nothing again). */
static void
test_l7_offsets_committed_again(void **state)
{
    (void)state;
    const char *refresh[] = {"bus.offset_refresh=1s"};
    floe_config *cfg = it_config("test-bus-l7", refresh, 1);
    char topic[128], group[96], key[128];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));
    probe p;
    probe_init(&p, "test-bus-l7", group);
    floe_bus *prod = bus_open(&p, cfg, NULL, NULL);
    produce_ten(prod, &p, topic, key, sizeof(key));
    p.ack_below = N_MSGS;
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, ten_ours, &p, WAIT_MS, "the 10 messages");
    it_wait(p.base, refreshed_twice, &p, WAIT_MS,
            "the acknowledged offsets committed again, twice, with nothing new");
    floe_bus_free(p.bus);
    /* A consumer of the group with nothing to consume refreshes too, and what it commits
     * keeps the group where it was. */
    p.ours = 0;
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, refreshed_twice, &p, WAIT_MS,
            "a new consumer's assigned offsets committed again, nothing consumed");
    assert_int_equal(p.ours, 0);
    floe_bus_free(p.bus);
    produce_keyed(prod, &p, topic, key, 1000000);
    p.marker_seen = 0;
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, marker_seen, &p, WAIT_MS, "the marker after the ten");
    assert_int_equal(p.ours, 0);
    floe_bus_free(p.bus);
    floe_bus_free(prod);
    event_base_free(p.base);
    floe_config_free(cfg);
}

static void
test_bad_messages_go_to_dlq(void **state)
{
    (void)state;
    /* The consumer under test accepts at most 4 KiB per message. */
    const char *small[] = {"bus.max_message_bytes=4096"};
    floe_config *cfg = it_config("test-bus-dlq", small, 1);
    floe_config *cfg_big = it_config("test-bus-dlq-reader", NULL, 0);
    char topic[128], dlq[128], group[96], dlq_group[96];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));
    floe_config_topic(cfg, "dlq", dlq, sizeof(dlq));

    probe p, d;
    memset(&p, 0, sizeof(p));
    memset(&d, 0, sizeof(d));
    p.base = d.base = event_base_new();
    assert_int_equal(floe_id_new(p.run_id), 0);
    memcpy(d.run_id, p.run_id, sizeof(p.run_id));
    snprintf(group, sizeof(group), "test-dlq-%s", p.run_id);
    snprintf(dlq_group, sizeof(dlq_group), "test-dlq-reader-%s", p.run_id);

    /* Garbage, and a valid envelope larger than the consumer's limit. */
    char garbage[64];
    snprintf(garbage, sizeof(garbage), "garbage %s", p.run_id);
    d.garbage = garbage;
    floe_bus *prod = bus_open(&p, cfg_big, NULL, NULL);
    floe_err err;
    assert_int_equal(floe_bus_produce_raw(prod, topic, p.run_id, FLOE_ID_LEN, garbage,
                                          strlen(garbage), NULL, &err),
                     FLOE_OK);
    static char big_id[6000];
    memset(big_id, 'b', sizeof(big_id) - 1);
    memcpy(big_id, p.run_id, FLOE_ID_LEN);
    Floe__Smoke m = FLOE__SMOKE__INIT;
    m.run_id = big_id;
    assert_int_equal(floe_bus_produce(prod, topic, p.run_id, FLOE_ID_LEN,
                                      FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &m.base, NULL, NULL,
                                      &err),
                     FLOE_OK);
    assert_int_equal(floe_bus_flush(prod, 10000), FLOE_OK);

    /* The consumer never hands them over; the DLQ reader finds both with their reasons.
     * (A new group also re-dead-letters older runs' bad messages on the shared topic; only
     * ours are counted.) */
    p.bus = bus_open(&p, cfg, group, topic);
    d.bus = bus_open(&d, cfg_big, dlq_group, dlq);
    it_wait(p.base, dlq_found_both, &d, WAIT_MS, "both dead letters on the DLQ topic");
    assert_int_equal(p.ours, 0);
    assert_non_null(strstr(d.dlq_reason[0], "envelope: not a valid floe.Envelope"));
    assert_non_null(strstr(d.dlq_reason[1], "exceeds the limit of 4096 bytes"));
    assert_string_equal(d.dlq_consumer[0], group);
    floe_bus_free(d.bus);
    floe_bus_stats st;
    floe_bus_stats_get(p.bus, &st);
    assert_true(st.dead_lettered >= 2);
    floe_bus_free(p.bus);

    /* Restart the group behind a valid marker: the marker arrives and nothing is
     * dead-lettered again, so both bad messages had been acknowledged. */
    Floe__Smoke marker = FLOE__SMOKE__INIT;
    marker.run_id = p.run_id;
    marker.seq = 1000000;
    assert_int_equal(floe_bus_produce(prod, topic, p.run_id, FLOE_ID_LEN,
                                      FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &marker.base, NULL,
                                      NULL, &err),
                     FLOE_OK);
    assert_int_equal(floe_bus_flush(prod, 10000), FLOE_OK);
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, marker_seen, &p, WAIT_MS, "the marker after the restart");
    floe_bus_stats_get(p.bus, &st);
    assert_int_equal(st.dead_lettered, 0);
    floe_bus_free(p.bus);

    floe_bus_free(prod);
    event_base_free(p.base);
    floe_config_free(cfg);
    floe_config_free(cfg_big);
}

static bool
bigkey_found(void *arg)
{
    return ((probe *)arg)->bigkey_reason[0] != '\0';
}

/* Review H5: the dead letter kept the original key whole, so a bad message whose key was
 * over half the size limit could not be dead-lettered at all: it was never acknowledged
 * and the partition's commits stopped behind it. The key is cut, the dead letter arrives
 * (which acknowledges the message), and the message after it is handed over. */
static void
test_h5_huge_key_dead_lettered(void **state)
{
    (void)state;
    const char *small[] = {"bus.max_message_bytes=4096"};
    floe_config *cfg = it_config("test-bus-bigkey", small, 1);
    floe_config *cfg_big = it_config("test-bus-bigkey-reader", NULL, 0);
    char topic[128], dlq[128], group[96], dlq_group[96];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));
    floe_config_topic(cfg, "dlq", dlq, sizeof(dlq));
    probe p, d;
    memset(&p, 0, sizeof(p));
    memset(&d, 0, sizeof(d));
    p.base = d.base = event_base_new();
    assert_int_equal(floe_id_new(p.run_id), 0);
    memcpy(d.run_id, p.run_id, sizeof(p.run_id));
    snprintf(group, sizeof(group), "test-bigkey-%s", p.run_id);
    snprintf(dlq_group, sizeof(dlq_group), "test-bigkey-reader-%s", p.run_id);
    static char key[4000];
    memset(key, 'k', sizeof(key));
    char bad[64];
    snprintf(bad, sizeof(bad), "bigkey %s", p.run_id);
    floe_bus *prod = bus_open(&p, cfg_big, NULL, NULL);
    floe_err err;
    assert_int_equal(
        floe_bus_produce_raw(prod, topic, key, sizeof(key), bad, strlen(bad), NULL, &err), FLOE_OK);
    Floe__Smoke marker = FLOE__SMOKE__INIT;
    marker.run_id = p.run_id;
    marker.seq = 1000000;
    assert_int_equal(floe_bus_produce(prod, topic, key, sizeof(key),
                                      FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &marker.base, NULL,
                                      NULL, &err),
                     FLOE_OK);
    assert_int_equal(floe_bus_flush(prod, 10000), FLOE_OK);
    p.bus = bus_open(&p, cfg, group, topic);
    d.bus = bus_open(&d, cfg_big, dlq_group, dlq);
    it_wait(p.base, bigkey_found, &d, WAIT_MS, "the dead letter of the huge-keyed message");
    it_wait(p.base, marker_seen, &p, WAIT_MS, "the message after it");
    assert_int_equal(d.bigkey_len, 256);
    floe_bus_free(d.bus);
    floe_bus_free(p.bus);
    floe_bus_free(prod);
    event_base_free(p.base);
    floe_config_free(cfg);
    floe_config_free(cfg_big);
}

static bool
some_ours_seen(void *arg)
{
    return ((probe *)arg)->ours > 0;
}

/* Review M8: the messages a consumer holds unacknowledged were bounded in number only
 * (100,000 of up to 1 MiB each). With bus.max_inflight_bytes at 4 KiB, 40 messages of
 * about 260 bytes stop coming once about 4 KiB are held, and the rest arrive once those
 * are acknowledged. */
static void
test_m8_inflight_bytes_bounded(void **state)
{
    (void)state;
    const char *small[] = {"bus.max_inflight_bytes=4096"};
    floe_config *cfg = it_config("test-bus-bytes", small, 1);
    char topic[128], group[96];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));
    probe p;
    probe_init(&p, "test-bus-bytes", group);
    floe_bus *prod = bus_open(&p, cfg, NULL, NULL);
    produce_run(prod, &p, topic, 200);
    it_wait(p.base, all_delivered, &p, WAIT_MS, "40 delivery reports");
    p.delivered = 0;
    p.keep = true;
    p.bus = bus_open(&p, cfg, group, topic);
    /* Held, not acknowledged: the consumer stops at the budget. Other runs' messages on
     * the shared topic come first (acknowledged at once); then ours, watched for 2 s. */
    it_wait(p.base, some_ours_seen, &p, WAIT_MS, "the first of the 40");
    it_run_for(p.base, 2000);
    unsigned held = p.ours;
    printf("# bus.max_inflight_bytes 4096: %u of 40 messages of ~260 bytes held before "
           "fetching paused\n",
           held);
    assert_true(held >= 1);
    assert_true(held < N_MSGS);
    /* Acknowledged: fetching resumes and every message arrives. */
    p.keep = false;
    p.ack_below = N_MSGS;
    for (int i = 0; i < N_MSGS; i++)
        if (p.seen[i] > 0)
            floe_bus_ack(p.bus, &p.held[i]);
    it_wait(p.base, all_ours_seen, &p, WAIT_MS, "the rest of the 40 after the acknowledgements");
    floe_bus_free(p.bus);
    floe_bus_free(prod);
    event_base_free(p.base);
    floe_config_free(cfg);
}

static bool
grouped_seen(void *arg)
{
    probe *p = arg;
    for (int i = 0; i < 18; i++)
        if (p->seen[i < 8 ? i : i + 2] == 0)
            return false;
    return true;
}

/* Issue 25: the engine's dispatches take their partition from the load. Quiet, eight
 * messages produced at once land two on each of the topic's four partitions (keys hashed
 * would leave some partitions more and others none, 96% of the time); after a load of
 * thousands, ten produced at once share one partition (one produce request). The keys
 * travel unchanged. */
static void
test_grouped_partitions(void **state)
{
    (void)state;
    floe_config *cfg = it_config("test-bus-group", NULL, 0);
    char topic[128], group[96];
    floe_config_topic(cfg, "smoke", topic, sizeof(topic));
    probe p;
    probe_init(&p, "test-bus-group", group);
    floe_bus *prod = bus_open(&p, cfg, NULL, NULL);
    floe_err err;
    assert_int_equal(floe_bus_group_partitions(prod, topic, 64, &err), FLOE_OK);
    /* One delivered first: the topic's partitions known, so the next are partitioned as
     * they are produced, in order (not later, all together, by librdkafka's thread). */
    produce_one(prod, &p, topic, LOAD_SEQ, 0);
    assert_int_equal(floe_bus_flush(prod, 30000), FLOE_OK);
    for (uint64_t seq = 0; seq < 8; seq++) /* quiet */
        produce_one(prod, &p, topic, seq, 0);
    /* Load for 250 ms, more than two of the policy's 100 ms periods: twenty a millisecond. */
    int64_t t0 = floe_mono_us();
    while (floe_mono_us() - t0 < 250000) {
        for (int i = 0; i < 20; i++)
            produce_one(prod, &p, topic, LOAD_SEQ, 0);
        event_base_loop(p.base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    usleep(3000); /* past the load's last run: the burst starts its own */
    for (uint64_t seq = 10; seq < 20; seq++)
        produce_one(prod, &p, topic, seq, 0);
    assert_int_equal(floe_bus_flush(prod, 30000), FLOE_OK);

    p.ack_below = N_MSGS;
    p.bus = bus_open(&p, cfg, group, topic);
    it_wait(p.base, grouped_seen, &p, WAIT_MS, "the quiet eight and the busy ten");
    unsigned per[4] = {0};
    for (int i = 0; i < 8; i++) {
        assert_true(p.part[i] >= 0 && p.part[i] < 4);
        per[p.part[i]]++;
        assert_true(p.key_ok[i]);
    }
    printf("# quiet: %u %u %u %u on the four partitions; busy: seq 10-19 on partition %d\n", per[0],
           per[1], per[2], per[3], p.part[10]);
    for (int i = 0; i < 4; i++)
        assert_int_equal(per[i], 2);
    for (int i = 10; i < 20; i++) {
        assert_int_equal(p.part[i], p.part[10]);
        assert_true(p.key_ok[i]);
    }
    floe_bus_free(p.bus);
    floe_bus_free(prod);
    event_base_free(p.base);
    floe_config_free(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_restart_resumes),
        cmocka_unit_test(test_l2_untracked_message_fetched_again),
        cmocka_unit_test(test_l7_offsets_committed_again),
        cmocka_unit_test(test_bad_messages_go_to_dlq),
        cmocka_unit_test(test_unsigned_message_dead_lettered),
        cmocka_unit_test(test_h5_huge_key_dead_lettered),
        cmocka_unit_test(test_m8_inflight_bytes_bounded),
        cmocka_unit_test(test_grouped_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
