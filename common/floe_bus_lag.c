/*
 * floe_bus_lag — how far this consumer is behind on each topic it consumes, from
 * librdkafka's statistics (every 10 s): the sum, over the partitions assigned here, of the
 * high watermark minus the consumed position. Summed over a group's members (sum by topic
 * in PromQL) it is the group's lag: for workers, their class's backlog, what KEDA scales
 * them on (docs/production.md), here for dashboards and alerts:
 * floe_bus_consumer_lag{bus,topic}.
 */
#include "floe_bus_int.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int
bus_stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque)
{
    (void)rk;
    floe_bus *bus = opaque;
    if (bus->metrics == NULL)
        return 0;
    json_t *root = json_loadb(json, json_len, 0, NULL);
    json_t *topics = json_object_get(root, "topics");
    for (size_t t = 0; t < bus->n_in_topics && topics != NULL; t++) {
        json_t *parts =
            json_object_get(json_object_get(topics, bus->in_topics[t].name), "partitions");
        const char *id;
        json_t *p;
        json_int_t lag = 0;
        bool known = false;
        json_object_foreach(parts, id, p)
        {
            json_int_t l = json_integer_value(json_object_get(p, "consumer_lag"));
            if (strcmp(id, "-1") != 0 && json_is_integer(json_object_get(p, "consumer_lag")) &&
                l >= 0) {
                lag += l;
                known = true;
            }
        }
        if (bus->m_lag[t] == NULL) {
            char labels[256];
            snprintf(labels, sizeof(labels), "bus=\"%.32s\",topic=\"%.200s\"", bus->who,
                     bus->in_topics[t].name);
            bus->m_lag[t] = floe_metrics_gauge(
                bus->metrics, "floe_bus_consumer_lag",
                "messages of the topic not yet consumed by this consumer, over the partitions "
                "it holds (librdkafka statistics, every 10 s)",
                labels);
        }
        if (known)
            floe_metric_set(bus->m_lag[t], (int64_t)lag);
    }
    json_decref(root);
    return 0; /* librdkafka frees json */
}
