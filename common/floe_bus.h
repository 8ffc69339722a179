/*
 * floe_bus — the Kafka adapter: produce and consume floe envelopes from a libevent loop.
 * No librdkafka type appears here.
 *
 * Consuming: floe_bus_subscribe() joins a consumer group. Each valid message is handed to
 * on_message in partition order, decoded and checked (floe_envelope). The message lives
 * only for the duration of the callback; keep msg->pos to acknowledge it later.
 * floe_bus_ack(pos) says "the effect of this message is durable": the bus then stores the
 * partition's offset up to the first message not yet acknowledged, so acknowledging out of
 * order never commits past unfinished work; stored offsets are committed periodically, on
 * rebalance and on close. Unacknowledged messages are delivered again after a restart or
 * rebalance (at-least-once): handlers must be idempotent.
 * A message that does not decode is never handed over: it goes to the dead-letter topic
 * (<prefix>.dlq) with the reason and is acknowledged once the DLQ has it.
 *
 * Producing: floe_bus_produce() encodes an envelope and queues it; on_delivered reports the
 * broker's acknowledgement (or failure) once per message, with the caller's opaque pointer.
 *
 * Threading: everything runs on the thread of the event_base given to floe_bus_new(); all
 * callbacks are invoked from it.
 */
#ifndef FLOE_BUS_H
#define FLOE_BUS_H

#include "floe_config.h"
#include "floe_envelope.h"
#include "floe_err.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
typedef struct floe_bus floe_bus;

/* Where a consumed message sits; pass to floe_bus_ack(). Plain data, copy freely. */
typedef struct floe_bus_pos {
    uint32_t topic; /* index in the subscription */
    int32_t partition;
    int64_t offset;
    uint64_t generation; /* assignment generation: acks from before a rebalance are ignored */
} floe_bus_pos;

typedef struct floe_bus_msg {
    const char *topic;
    const void *key;
    size_t key_len;
    const floe_envelope *env;
    floe_bus_pos pos;
} floe_bus_msg;

typedef struct floe_bus_callbacks {
    /* A valid message arrived. */
    void (*on_message)(floe_bus *bus, const floe_bus_msg *msg, void *arg);
    /* A produced message was acknowledged by the broker (rc FLOE_OK) or failed for good. */
    void (*on_delivered)(floe_bus *bus, void *opaque, floe_rc rc, const char *reason, void *arg);
    /* Partitions were assigned (n > 0) or revoked (n == 0) in this consumer. Optional. */
    void (*on_rebalance)(floe_bus *bus, bool assigned, int n_partitions, void *arg);
    void *arg;
} floe_bus_callbacks;

typedef struct floe_bus_stats {
    uint64_t consumed; /* valid messages handed to on_message */
    uint64_t dead_lettered;
    uint64_t produced;  /* queued by floe_bus_produce */
    uint64_t delivered; /* acknowledged by the broker */
    uint64_t failed;    /* delivery failed for good */
    uint64_t acked;     /* floe_bus_ack calls that counted */
    uint64_t refreshed; /* commits of unchanged offsets (bus.offset_refresh) */
    int assigned;       /* partitions held now */
} floe_bus_stats;

/* Connects producer (and, on subscribe, consumer) with cfg's brokers and extra properties.
 * cfg must outlive the bus. Returns NULL on error with err set. */
floe_bus *floe_bus_new(struct event_base *base, const floe_config *cfg,
                       const floe_bus_callbacks *cb, floe_err *err);

/* Joins consumer group `group` on topics (full names). Once per bus. */
floe_rc floe_bus_subscribe(floe_bus *bus, const char *group, const char *const *topics,
                           size_t n_topics, floe_err *err);

/* Leaves the group (partitions are revoked after committing stored offsets). A later
 * floe_bus_subscribe() is not supported: create a new bus. */
floe_rc floe_bus_unsubscribe(floe_bus *bus);

/* Stop / resume fetching (e.g. a worker at its concurrency limit). */
void floe_bus_pause(floe_bus *bus);
void floe_bus_resume(floe_bus *bus);
/* Whether fetching is paused, by floe_bus_pause or by the in-flight bounds. */
bool floe_bus_paused(const floe_bus *bus);

/* Encodes payload in an envelope of `type` and queues it to topic (full name) with key.
 * FLOE_EAGAIN when the local queue is full; FLOE_ETOOBIG over bus.max_message_bytes.
 * id_out (optional) receives the envelope id. */
floe_rc floe_bus_produce(floe_bus *bus, const char *topic, const void *key, size_t key_len,
                         Floe__MessageType type, const ProtobufCMessage *payload, void *opaque,
                         char id_out[FLOE_ID_LEN + 1], floe_err *err);

/* Messages to topics whose names begin with prefix get their partition from the load, not
 * from their key (which they still carry): quiet, each goes to the next partition; busy,
 * those produced together share one, up to run_max in a row (floe_bus_group.c). One
 * produce request for what is produced at once, where librdkafka sends one a partition.
 * Only for topics whose order per key does not matter; applies to topics first produced
 * to after the call. run_max 0: by key again. FLOE_ENOMEM. */
floe_rc floe_bus_group_partitions(floe_bus *bus, const char *prefix, unsigned run_max,
                                  floe_err *err);

/* Queues raw bytes, not checked (tests, DLQ replays). */
floe_rc floe_bus_produce_raw(floe_bus *bus, const char *topic, const void *key, size_t key_len,
                             const void *value, size_t len, void *opaque, floe_err *err);

/* The effect of the message at pos is durable. */
void floe_bus_ack(floe_bus *bus, const floe_bus_pos *pos);

/* The message at pos decoded but its effect failed for its own content (a value the
 * database refuses, say): it goes to the dead-letter topic with why and its position, and
 * is acknowledged once the DLQ has it, instead of coming back for ever (review H5). */
void floe_bus_reject(floe_bus *bus, const floe_bus_pos *pos, const char *why);

/* Messages queued or in flight to the broker. */
int floe_bus_outq_len(floe_bus *bus);

/* Waits up to timeout_ms for every queued message to be delivered, serving callbacks.
 * Blocks: for shutdown and tools, not for the loop. FLOE_ETIMEDOUT if some remain. */
floe_rc floe_bus_flush(floe_bus *bus, int timeout_ms);

void floe_bus_stats_get(const floe_bus *bus, floe_bus_stats *out);

/* Counts produced and consumed messages in m as floe_bus_messages_total{bus=who,dir=...}
 * from now on (bench/ derives Kafka messages per task from it). who: [a-z_], borrowed. */
struct floe_metrics;
void floe_bus_count_into(floe_bus *bus, struct floe_metrics *m, const char *who);

/* Asks a broker for metadata, waiting up to timeout_ms: a readiness probe. Blocks, and
 * unlike the rest of this API may be called from any thread. FLOE_EIO when no broker
 * answers. */
floe_rc floe_bus_check(floe_bus *bus, int timeout_ms, floe_err *err);

/* Flushes the producer for up to 5 s (on_delivered may still be called from here), closes
 * the consumer (commits stored offsets, leaves the group), frees everything. Must not be
 * called from a bus callback. NULL is a no-op. */
void floe_bus_free(floe_bus *bus);

#ifdef FLOE_TESTING
/* Test builds: the next message consumed from this partition (any topic) is treated as if
 * tracking it ran out of memory; -1 none. */
extern int32_t floe_bus_test_fail_partition;
#endif

#endif
