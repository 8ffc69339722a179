/*
 * floe_bus_group — partitions chosen by the load instead of by key, for topics whose
 * order per key does not matter (task dispatches: a worker's claim decides which copy
 * runs). librdkafka sends one produce request a partition, and Kafka's broker pays per
 * request (its network thread, a request handler and the wake-ups between them): ten
 * dispatches produced together over eight partitions are eight requests, eight fetch
 * responses to the workers holding them and their results produced apart (issue 25).
 *
 * Quiet, each message goes to the next partition, in an order that alternates between
 * the range assignor's members (0, 4, 2, 6, 1, 5, 3, 7 for eight), so a small fan-out of
 * long tasks lands on as many workers as it can, more evenly than keys hashed. Busy, the
 * messages produced within BUS_GROUP_WINDOW_US of a run's first share its partition, up to
 * a run length that grows with the messages produced in the period before (one per
 * BUS_GROUP_PER_RUN of them, at most the topic's maximum): a burst of a flood travels as
 * one request, and consecutive runs still spread the flood over every partition.
 */
#include "floe_bus_int.h"

#include "floe_mem.h"
#include "floe_time.h"

#include <string.h>

#define BUS_GROUP_WINDOW_US 2000   /* a run: messages produced this close to its first */
#define BUS_GROUP_PERIOD_US 100000 /* the load is what the previous period produced */
#define BUS_GROUP_PER_RUN 16       /* a run grows by one for this many messages a period */

/* The partition of run k: k's low bits reversed (0, 4, 2, 6, 1, 5, 3, 7 for eight), so
 * consecutive runs go to far-apart partitions, which the range assignor gives to different
 * members, and each partition comes once a cycle; past the count, skipped. */
static int32_t
run_partition(bus_group *g, int32_t cnt)
{
    unsigned bits = 0;
    while ((1u << bits) < (unsigned)cnt)
        bits++;
    for (;;) {
        unsigned k = (unsigned)(g->run & ((1u << bits) - 1)), r = 0;
        for (unsigned i = 0; i < bits; i++)
            r |= ((k >> i) & 1u) << (bits - 1 - i);
        if (r < (unsigned)cnt)
            return (int32_t)r;
        g->run++; /* fewer than half the values are skipped */
    }
}

unsigned
bus_group_run_max(const bus_group *g)
{
    unsigned run = g->prev / BUS_GROUP_PER_RUN;
    return run < 1 ? 1 : run > g->max ? g->max : run;
}

int32_t
bus_group_pick(bus_group *g, int64_t now_us, int32_t cnt)
{
    if (cnt <= 1)
        return 0;
    if (now_us - g->period_us >= BUS_GROUP_PERIOD_US) {
        g->prev = now_us - g->period_us < 2 * BUS_GROUP_PERIOD_US ? g->cur : 0;
        g->cur = 0;
        g->period_us = now_us;
    }
    g->cur++;
    if (g->n == 0 || g->n >= bus_group_run_max(g) || now_us - g->since_us >= BUS_GROUP_WINDOW_US) {
        g->run++;
        g->n = 0;
        g->since_us = now_us;
    }
    g->n++;
    return run_partition(g, cnt);
}

/* librdkafka's partitioner: on the producing thread, or on librdkafka's own for a message
 * produced before the topic's partitions were known, hence the lock. */
static int32_t
bus_group_partitioner(const rd_kafka_topic_t *rkt, const void *key, size_t key_len, int32_t cnt,
                      void *topic_opaque, void *msg_opaque)
{
    bus_group *g = topic_opaque;
    pthread_mutex_lock(&g->mu);
    int32_t p = bus_group_pick(g, floe_mono_us(), cnt);
    pthread_mutex_unlock(&g->mu);
    if (rd_kafka_topic_partition_available(rkt, p))
        return p;
    return rd_kafka_msg_partitioner_murmur2_random(rkt, key, key_len, cnt, topic_opaque,
                                                   msg_opaque);
}

floe_rc
floe_bus_group_partitions(floe_bus *bus, const char *prefix, unsigned run_max, floe_err *err)
{
    char *copy = NULL;
    if (run_max > 0 && (copy = floe_strdup(prefix)) == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "bus: out of memory");
    floe_free(bus->group_prefix);
    bus->group_prefix = copy;
    bus->group_max = run_max;
    return FLOE_OK;
}

floe_rc
bus_group_topic(floe_bus *bus, const char *name, rd_kafka_topic_conf_t *tconf, bus_group **out)
{
    *out = NULL;
    if (bus->group_prefix == NULL ||
        strncmp(name, bus->group_prefix, strlen(bus->group_prefix)) != 0 ||
        strcmp(name, bus->dlq_topic) == 0)
        return FLOE_OK;
    bus_group *g = floe_calloc(1, sizeof(*g));
    if (g == NULL)
        return FLOE_ENOMEM;
    pthread_mutex_init(&g->mu, NULL);
    g->max = bus->group_max;
    g->run = (uint64_t)floe_mono_us(); /* schedulers that follow one another start apart */
    rd_kafka_topic_conf_set_opaque(tconf, g);
    rd_kafka_topic_conf_set_partitioner_cb(tconf, bus_group_partitioner);
    *out = g;
    return FLOE_OK;
}

void
bus_group_free(bus_group *g)
{
    if (g == NULL)
        return;
    pthread_mutex_destroy(&g->mu);
    floe_free(g);
}
