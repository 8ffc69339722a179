/*
 * floe_bus_int — the adapter's state, shared by floe_bus.c (configuration, consuming,
 * producing, life cycle) and floe_bus_track.c (which consumed offsets may be committed,
 * pausing, rebalances). Private to those two files.
 */
#ifndef FLOE_BUS_INT_H
#define FLOE_BUS_INT_H

#include "floe_bus.h"

#include "floe_arena.h"
#include "floe_log.h"
#include "floe_metrics.h"
#include "floe_sign.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>

#define BUS_DLQ_REASONS 4

#define BUS_MAX_TOPICS 64
#define BUS_MAX_INFLIGHT 100000 /* unacked messages held before fetching pauses */
#define BUS_TICK_MS 500
#define BUS_COMMITTED_WAIT_MS 2000 /* the committed offsets asked for at an assignment */

typedef struct bus_part {
    uint32_t topic;
    int32_t partition;
    int64_t *off;
    uint8_t *acked;
    uint32_t *size; /* bytes of each message (key and payload), for the byte budget */
    uint32_t head, count, cap;
    int64_t next;   /* offset after the last message handed over; -1 before the first */
    int64_t again;  /* a message that could not be tracked, fetched again; -1 none */
    int64_t stored; /* the offset last stored for commit (the one after it is committed) */
} bus_part;

/* Every bus.offset_refresh, commits the stored offsets again though unchanged. */
void bus_offsets_refresh(floe_bus *bus);

/* Fetches the partition again from offset (an asynchronous seek). */
void bus_part_refetch(floe_bus *bus, const bus_part *p, int64_t offset);

/* floe_bus_group.c: a topic's partitions chosen by the load (runs of messages produced
 * together), not by key. */
typedef struct bus_group {
    pthread_mutex_t mu;
    unsigned max;       /* longest run */
    uint64_t run;       /* runs so far: the partition is its low bits reversed */
    uint32_t n;         /* messages in the current run */
    int64_t since_us;   /* its first */
    int64_t period_us;  /* start of the current load period */
    uint32_t cur, prev; /* messages in the current period and in the one before */
} bus_group;

typedef struct bus_topic {
    char *name;
    rd_kafka_topic_t *rkt;
    bus_group *grp; /* NULL: partitioned by key */
} bus_topic;

/* A dead-lettered message waiting for the DLQ's delivery report, then acked. */
typedef struct bus_dlq_pending {
    floe_bus_pos pos;
} bus_dlq_pending;

struct floe_bus {
    struct event_base *base;
    const floe_config *cfg;
    floe_bus_callbacks cb;
    floe_log_ctx log;

    rd_kafka_t *prod;
    rd_kafka_queue_t *prod_q;
    int prod_pipe[2];
    struct event *prod_ev;

    rd_kafka_t *cons;
    rd_kafka_queue_t *cons_q;
    int cons_pipe[2];
    struct event *cons_ev;
    char *group;

    struct event *tick_ev;

    bus_topic out_topics[BUS_MAX_TOPICS]; /* producer topic handles, by name */
    size_t n_out_topics;
    bus_topic in_topics[BUS_MAX_TOPICS]; /* subscription, consumer topic handles */
    size_t n_in_topics;
    char dlq_topic[128];
    int dlq_marker; /* its address is the DLQ topic's opaque */

    bus_part *parts;
    size_t n_parts;
    uint64_t generation;
    size_t inflight;
    uint64_t inflight_bytes; /* key and payload bytes of the messages in flight */
    bool paused_full;        /* paused by the in-flight bound */
    bool paused_user;        /* paused by floe_bus_pause */
    int64_t refreshed_us;    /* when bus_offsets_refresh last committed (monotonic) */

    floe_arena *arena; /* one consumed message at a time */
    floe_buf enc;      /* encoding buffer, reused */
    floe_bus_stats stats;
    floe_metric *m_produced, *m_consumed;       /* NULL unless floe_bus_count_into */
    floe_metric *m_rejected[FLOE_SIGN_REASONS]; /* floe_sign_reasons */
    floe_metric *m_dlq[BUS_DLQ_REASONS];        /* floe_bus.c's dlq_reasons */
    floe_metrics *metrics;                      /* floe_bus_count_into's, for the lag */
    char who[33];
    floe_metric *m_lag[BUS_MAX_TOPICS]; /* floe_bus_lag.c, by in_topics index */
    floe_keyring *keys;                 /* bus.keys_file; NULL: unsigned bus */
    char *group_prefix;                 /* floe_bus_group_partitions; NULL: none */
    unsigned group_max;
};

/* floe_bus_group.c */
/* The partition (of cnt) of the next message at now_us; the run length the load allows. */
int32_t bus_group_pick(bus_group *g, int64_t now_us, int32_t cnt);
unsigned bus_group_run_max(const bus_group *g);
/* For a topic handle about to be created: when name is grouped, *out gets its state and
 * tconf its partitioner (the topic's opaque). FLOE_ENOMEM. */
floe_rc bus_group_topic(floe_bus *bus, const char *name, rd_kafka_topic_conf_t *tconf,
                        bus_group **out);
void bus_group_free(bus_group *g);

/* floe_bus_track.c */
/* floe_bus_lag.c: librdkafka's statistics callback (consumer lag per topic). */
int bus_stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque);

/* The ring of a consumed partition (topic: index in in_topics), or NULL when not assigned. */
bus_part *bus_part_find(floe_bus *bus, uint32_t topic, int32_t partition);
/* Drops every ring (a rebalance, the end). */
void bus_parts_clear(floe_bus *bus);
/* Records a delivered offset of size bytes. FLOE_ENOMEM when the ring cannot grow. */
floe_rc bus_part_push(bus_part *p, int64_t offset, uint32_t size);
/* Pauses or resumes fetching by the in-flight bounds and the user's pause. */
void bus_update_pause(floe_bus *bus);
/* The index of a subscribed topic, or -1. */
int bus_in_topic_index(floe_bus *bus, const char *name);
void bus_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *list, void *opaque);

#endif
