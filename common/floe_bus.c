/*
 * Design
 * ------
 * Two librdkafka handles: a producer and (after subscribe) a high-level consumer. Each
 * handle's queue (the producer's main queue; the consumer queue, which the consumer's main
 * queue is forwarded to) writes one byte to a pipe when it goes from empty to non-empty;
 * libevent watches the pipe. The read callback drains at most bus.batch_max events, then
 * re-activates itself if the queue may still hold more, because librdkafka will not write
 * again to a queue it sees as non-empty. A 500 ms timer polls as well: the consumer must
 * be polled within max.poll.interval.ms even when idle, and a lost wake-up costs little.
 *
 * Acknowledgement tracking, per assigned partition: a ring of delivered offsets with an
 * "acked" flag. floe_bus_ack marks one; the contiguous acked prefix is popped and the last
 * popped offset stored (librdkafka commits offset + 1). So the committed offset never
 * passes a message whose effect is not durable, whatever order acks come in. A rebalance
 * bumps the generation and drops the rings: late acks from before it are ignored, and the
 * new owner re-reads from the last commit.
 *
 *     ring:  [o=7 acked][o=8      ][o=9 acked]   ack(8) -> pop 7,8,9 -> store 9 (commit 10)
 */
#include "floe_bus.h"

#include "floe_kafka.h"

#include "floe_arena.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "floe_metrics.h"
#include "floe_time.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "floe_bus_int.h"

/* --- configuration ------------------------------------------------------------------- */

static void
bus_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    floe_bus *bus = rd_kafka_opaque(rk);
    floe_log_level l = level <= LOG_ERR       ? FLOE_LOG_ERROR
                       : level == LOG_WARNING ? FLOE_LOG_WARN
                       : level <= LOG_INFO    ? FLOE_LOG_INFO
                                              : FLOE_LOG_DEBUG;
    floe_log(l, &bus->log, "librdkafka %s: %s", fac, buf);
}

static void
bus_error_cb(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    (void)rk;
    floe_bus *bus = opaque;
    floe_log_warn(&bus->log, "kafka: %s: %s", rd_kafka_err2name(code), reason);
}

/* The producer keeps one produce request in flight a connection (kafka.properties may say
 * otherwise): what is produced while one is out goes in the next, so under load a request
 * carries many messages where with no limit each wake-up sent one or two (issue 25:
 * layered noop 4,300-5,100 -> 5,500-6,850 tasks/s, Kafka's syscalls a task 28 -> 20), and
 * an idle producer still sends at once (linger stays 0). It also keeps a partition's
 * messages in order across retries, which several in flight do not without idempotence.
 * The consumer's handle keeps librdkafka's default: its long-polling fetch would hold
 * back its other requests. */
static rd_kafka_conf_t *
conf_common(floe_bus *bus, bool producer, floe_err *err)
{
    const floe_config *cfg = bus->cfg;
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)cfg->bus_max_message_bytes + 65536);
    const char *const defaults[] = {"log.queue",
                                    "true",
                                    "socket.nagle.disable",
                                    "true",
                                    "message.max.bytes",
                                    num,
                                    producer ? "max.in.flight.requests.per.connection" : NULL,
                                    "1",
                                    NULL};
    rd_kafka_conf_t *conf = floe_kafka_conf(cfg, defaults, err);
    if (conf == NULL)
        return NULL;
    rd_kafka_conf_set_opaque(conf, bus);
    rd_kafka_conf_set_log_cb(conf, bus_log_cb);
    rd_kafka_conf_set_error_cb(conf, bus_error_cb);
    return conf;
}

/* --- topics -------------------------------------------------------------------------- */

static rd_kafka_topic_t *
bus_out_topic(floe_bus *bus, const char *name, floe_err *err)
{
    for (size_t i = 0; i < bus->n_out_topics; i++) {
        if (strcmp(bus->out_topics[i].name, name) == 0)
            return bus->out_topics[i].rkt;
    }
    if (bus->n_out_topics == BUS_MAX_TOPICS) {
        floe_err_user(err, FLOE_ETOOBIG, "bus: more than %d topics", BUS_MAX_TOPICS);
        return NULL;
    }
    rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
    char errstr[256];
    /* Java's partitioner: services using the Java client put a key where we do, so one
     * execution's events stay in one partition whoever produced them. */
    if (rd_kafka_topic_conf_set(tconf, "partitioner", "murmur2_random", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_topic_conf_destroy(tconf);
        floe_err_sys(err, FLOE_EINVAL, "bus: topic %s: %s", name, errstr);
        return NULL;
    }
    if (strcmp(name, bus->dlq_topic) == 0)
        rd_kafka_topic_conf_set_opaque(tconf, &bus->dlq_marker);
    bus_group *grp = NULL;
    char *copy = bus_group_topic(bus, name, tconf, &grp) == FLOE_OK ? floe_strdup(name) : NULL;
    rd_kafka_topic_t *rkt = copy != NULL ? rd_kafka_topic_new(bus->prod, name, tconf) : NULL;
    if (rkt == NULL) {
        if (copy == NULL)
            rd_kafka_topic_conf_destroy(tconf);
        floe_free(copy);
        bus_group_free(grp);
        floe_err_sys(err, FLOE_ENOMEM, "bus: topic %s: cannot create handle", name);
        return NULL;
    }
    bus->out_topics[bus->n_out_topics].name = copy;
    bus->out_topics[bus->n_out_topics].rkt = rkt;
    bus->out_topics[bus->n_out_topics].grp = grp;
    bus->n_out_topics++;
    return rkt;
}

/* --- consuming ----------------------------------------------------------------------- */

/* Kafka keys are ours (execution ids): a longer one is not, and must not make the
 * dead-letter itself too large to send (review H5). */
#define BUS_DLQ_KEY_MAX 256

/* What dead-letters are counted by (floe_bus_dead_letters_total{reason}). */
static const char *const dlq_reasons[BUS_DLQ_REASONS] = {"too_big", "malformed", "signature",
                                                         "rejected"};

static void
bus_dead_letter_at(floe_bus *bus, const char *topic, int32_t partition, int64_t offset,
                   const void *key, size_t key_len, const void *raw, size_t raw_len,
                   const floe_bus_pos *pos, int reason, const char *why)
{
    Floe__DeadLetter dl = FLOE__DEAD_LETTER__INIT;
    dl.topic = (char *)topic;
    dl.partition = partition;
    dl.offset = offset;
    dl.key.data = (uint8_t *)key;
    dl.key.len = key != NULL ? (key_len < BUS_DLQ_KEY_MAX ? key_len : BUS_DLQ_KEY_MAX) : 0;
    dl.raw.data = (uint8_t *)raw;
    dl.raw.len = raw != NULL ? raw_len : 0;
    dl.reason = (char *)why;
    dl.consumer = bus->group;
    dl.failed_unix_us = floe_now_us();

    floe_log_warn(&bus->log, "dead-lettering %s[%d]@%lld: %s", dl.topic, dl.partition,
                  (long long)dl.offset, why);
    bus_dlq_pending *pending = floe_malloc(sizeof(*pending));
    floe_err err;
    floe_rc rc = FLOE_ENOMEM;
    if (pending != NULL) {
        pending->pos = *pos;
        /* A raw message larger than the limit cannot travel whole: keep its head. */
        if (dl.raw.len > (size_t)bus->cfg->bus_max_message_bytes / 2)
            dl.raw.len = (size_t)bus->cfg->bus_max_message_bytes / 2;
        rc = floe_bus_produce(bus, bus->dlq_topic, dl.key.data, dl.key.len,
                              FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DEAD_LETTER, &dl.base, pending, NULL,
                              &err);
    }
    if (rc != FLOE_OK) {
        /* Left unacknowledged: it comes back after a restart and is tried again. */
        floe_log_error(&bus->log, "cannot dead-letter %s[%d]@%lld: %s", dl.topic, dl.partition,
                       (long long)dl.offset, pending != NULL ? err.msg : "out of memory");
        floe_free(pending);
        return;
    }
    bus->stats.dead_lettered++;
    floe_metric_add(bus->m_dlq[reason], 1);
}

static void
bus_dead_letter(floe_bus *bus, const rd_kafka_message_t *rkm, const floe_bus_pos *pos, int reason,
                const floe_err *why)
{
    bus_dead_letter_at(bus, rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset, rkm->key,
                       rkm->key_len, rkm->payload, rkm->len, pos, reason, why->msg);
}

void
floe_bus_reject(floe_bus *bus, const floe_bus_pos *pos, const char *why)
{
    if (pos->generation != bus->generation || pos->topic >= bus->n_in_topics)
        return; /* from before a rebalance: whoever holds the partition now sees it again */
    bus_dead_letter_at(bus, bus->in_topics[pos->topic].name, pos->partition, pos->offset, NULL, 0,
                       NULL, 0, pos, 3, why);
}

static void
bus_handle_message(floe_bus *bus, rd_kafka_message_t *rkm)
{
    if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            floe_log_warn(&bus->log, "consumer: %s", rd_kafka_message_errstr(rkm));
        return;
    }
    int t = bus_in_topic_index(bus, rd_kafka_topic_name(rkm->rkt));
    bus_part *p = t < 0 ? NULL : bus_part_find(bus, (uint32_t)t, rkm->partition);
    if (p == NULL)
        return; /* a message of a partition no longer ours */
    if (p->next >= 0 && rkm->offset < p->next)
        return; /* fetched again after a pause/resume (librdkafka refetches from the
                   application position): handed over once per assignment already */
    if (p->again >= 0 && rkm->offset != p->again)
        return; /* behind one not handed over: it comes again first, then these */
    uint32_t size = (uint32_t)(rkm->len + rkm->key_len);
    if (bus_part_push(p, rkm->offset, size) != FLOE_OK) {
        /* Cannot track it, so cannot ack it. Handing over the ones behind it would let
         * their acks commit past it (review L2): they are held back, and the partition is
         * fetched again from it. */
        floe_log_error(&bus->log, "out of memory tracking %s[%d]@%lld: fetched again",
                       rd_kafka_topic_name(rkm->rkt), rkm->partition, (long long)rkm->offset);
        p->again = rkm->offset;
        bus_part_refetch(bus, p, rkm->offset);
        return;
    }
    p->again = -1;
    bus->inflight++;
    bus->inflight_bytes += size;
    p->next = rkm->offset + 1;

    floe_bus_msg msg;
    msg.topic = bus->in_topics[t].name;
    msg.key = rkm->key;
    msg.key_len = rkm->key_len;
    msg.pos.topic = (uint32_t)t;
    msg.pos.partition = rkm->partition;
    msg.pos.offset = rkm->offset;
    msg.pos.generation = bus->generation;

    floe_envelope env;
    floe_err err;
    floe_rc rc = floe_envelope_decode(
        rkm->payload, rkm->len, (size_t)bus->cfg->bus_max_message_bytes, bus->arena, &env, &err);
    const char *why = NULL;
    int reason = rc == FLOE_ETOOBIG ? 0 : 1;
    if (rc == FLOE_OK && bus->keys != NULL &&
        floe_envelope_verify(rkm->payload, rkm->len, &env, bus->keys, &why, &err) != FLOE_OK) {
        rc = FLOE_EINVAL;
        reason = 2;
        for (int i = 0; i < FLOE_SIGN_REASONS; i++)
            if (why == floe_sign_reasons[i] && bus->m_rejected[i] != NULL)
                floe_metric_add(bus->m_rejected[i], 1);
    }
    if (rc != FLOE_OK) {
        bus_dead_letter(bus, rkm, &msg.pos, reason, &err);
    } else {
        msg.env = &env;
        bus->stats.consumed++;
        floe_metric_add(bus->m_consumed, 1);
        bus->cb.on_message(bus, &msg, bus->cb.arg);
    }
    floe_arena_reset(bus->arena);
    bus_update_pause(bus);
}

static void
pipe_drain(int fd)
{
    char junk[256];
    while (read(fd, junk, sizeof(junk)) > 0)
        ;
}

static void
bus_consumer_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    floe_bus *bus = arg;
    if (fd >= 0)
        pipe_drain(fd);
    if (bus->cons == NULL)
        return;
    int64_t max = bus->cfg->bus_batch_max;
    for (int64_t i = 0; i < max; i++) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(bus->cons, 0);
        if (rkm == NULL)
            return;
        bus_handle_message(bus, rkm);
        rd_kafka_message_destroy(rkm);
        if (bus->cons == NULL)
            return;
    }
    /* Batch limit reached: the queue is not empty, so librdkafka will not wake us. */
    event_active(bus->cons_ev, EV_READ, 0);
}

/* --- producing ----------------------------------------------------------------------- */

static floe_rc bus_produce_bytes(floe_bus *bus, const char *topic, const void *key, size_t key_len,
                                 const void *value, size_t len, void *opaque, floe_err *err);

static void
bus_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    floe_bus *bus = opaque;
    floe_rc rc = rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR ? FLOE_OK : FLOE_EIO;
    if (rc == FLOE_OK)
        bus->stats.delivered++;
    else
        bus->stats.failed++;
    if (rd_kafka_topic_opaque(rkm->rkt) == &bus->dlq_marker && rkm->_private != NULL) {
        bus_dlq_pending *pending = rkm->_private;
        if (rc == FLOE_OK) {
            floe_bus_ack(bus, &pending->pos);
            floe_free(pending);
            return;
        }
        /* Never acked without the DLQ having it, and never left pinning the partition's
         * commit: the same bytes go again (the producer's own timeout paces this). */
        floe_err err;
        floe_log_error(&bus->log, "dead-letter not delivered (%s): sending it again",
                       rd_kafka_err2str(rkm->err));
        if (bus_produce_bytes(bus, bus->dlq_topic, rkm->key, rkm->key_len, rkm->payload, rkm->len,
                              pending, &err) != FLOE_OK) {
            floe_log_error(&bus->log, "dead-letter not sent again: %s", err.msg);
            floe_free(pending);
        }
        return;
    }
    if (bus->cb.on_delivered != NULL)
        bus->cb.on_delivered(bus, rkm->_private, rc,
                             rc == FLOE_OK ? NULL : rd_kafka_err2str(rkm->err), bus->cb.arg);
}

static void
bus_producer_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    floe_bus *bus = arg;
    if (fd >= 0)
        pipe_drain(fd);
    /* rd_kafka_poll serves every queued delivery report; bounded by what is queued. */
    rd_kafka_poll(bus->prod, 0);
}

static floe_rc
bus_produce_bytes(floe_bus *bus, const char *topic, const void *key, size_t key_len,
                  const void *value, size_t len, void *opaque, floe_err *err)
{
    rd_kafka_topic_t *rkt = bus_out_topic(bus, topic, err);
    if (rkt == NULL)
        return err != NULL ? err->code : FLOE_EINVAL;
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value, len, key,
                         key_len, opaque) == -1) {
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return floe_err_sys(err, FLOE_EAGAIN, "bus: produce to %s: local queue full", topic);
        return floe_err_sys(err, FLOE_EIO, "bus: produce to %s: %s", topic, rd_kafka_err2str(e));
    }
    bus->stats.produced++;
    floe_metric_add(bus->m_produced, 1);
    return FLOE_OK;
}

floe_rc
floe_bus_produce(floe_bus *bus, const char *topic, const void *key, size_t key_len,
                 Floe__MessageType type, const ProtobufCMessage *payload, void *opaque,
                 char id_out[FLOE_ID_LEN + 1], floe_err *err)
{
    floe_rc rc =
        floe_envelope_encode(type, payload, bus->cfg->producer_name,
                             (size_t)bus->cfg->bus_max_message_bytes, &bus->enc, id_out, err);
    if (rc == FLOE_OK && bus->keys != NULL)
        rc = floe_envelope_sign(&bus->enc, bus->keys, err);
    if (rc != FLOE_OK)
        return rc;
    return bus_produce_bytes(bus, topic, key, key_len, bus->enc.data, bus->enc.len, opaque, err);
}

floe_rc
floe_bus_produce_raw(floe_bus *bus, const char *topic, const void *key, size_t key_len,
                     const void *value, size_t len, void *opaque, floe_err *err)
{
    return bus_produce_bytes(bus, topic, key, key_len, value, len, opaque, err);
}

int
floe_bus_outq_len(floe_bus *bus)
{
    return rd_kafka_outq_len(bus->prod);
}

floe_rc
floe_bus_flush(floe_bus *bus, int timeout_ms)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(bus->prod, timeout_ms);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? FLOE_OK : FLOE_ETIMEDOUT;
}

void
floe_bus_count_into(floe_bus *bus, floe_metrics *m, const char *who)
{
    char labels[96];
    bus->metrics = m;
    snprintf(bus->who, sizeof(bus->who), "%s", who);
    static const char help[] = "messages this process's bus produced or consumed";
    snprintf(labels, sizeof(labels), "bus=\"%.32s\",dir=\"produced\"", who);
    bus->m_produced = floe_metrics_counter(m, "floe_bus_messages_total", help, labels);
    snprintf(labels, sizeof(labels), "bus=\"%.32s\",dir=\"consumed\"", who);
    bus->m_consumed = floe_metrics_counter(m, "floe_bus_messages_total", help, labels);
    for (int i = 0; i < BUS_DLQ_REASONS; i++) {
        snprintf(labels, sizeof(labels), "bus=\"%.32s\",reason=\"%s\"", who, dlq_reasons[i]);
        bus->m_dlq[i] = floe_metrics_counter(
            m, "floe_bus_dead_letters_total",
            "messages consumed and sent to the dead-letter topic: too_big, malformed (does not "
            "decode or misses fields), signature (floe_bus_rejected_total says which), rejected "
            "(by the consumer's own checks)",
            labels);
    }
    for (int i = 0; i < FLOE_SIGN_REASONS; i++) {
        snprintf(labels, sizeof(labels), "bus=\"%.32s\",reason=\"%s\"", who, floe_sign_reasons[i]);
        bus->m_rejected[i] = floe_metrics_counter(
            m, "floe_bus_rejected_total",
            "messages consumed and dead-lettered for their signature or its key's role "
            "(bus.keys_file)",
            labels);
    }
}

void
floe_bus_stats_get(const floe_bus *bus, floe_bus_stats *out)
{
    *out = bus->stats;
}

/* --- life cycle ---------------------------------------------------------------------- */

static void
bus_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    floe_bus *bus = arg;
    bus_producer_ready(-1, 0, bus);
    if (bus->cons != NULL) {
        bus_consumer_ready(-1, 0, bus);
        bus_offsets_refresh(bus);
    }
}

static floe_rc
pipe_open(int fds[2], floe_err *err)
{
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
        return floe_err_sys(err, FLOE_EIO, "bus: pipe: %s", strerror(errno));
    return FLOE_OK;
}

static void
pipe_close(int fds[2])
{
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    fds[0] = fds[1] = -1;
}

floe_bus *
floe_bus_new(struct event_base *base, const floe_config *cfg, const floe_bus_callbacks *cb,
             floe_err *err)
{
    char errstr[256];
    floe_bus *bus = floe_calloc(1, sizeof(*bus));
    if (bus == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "bus: out of memory");
        return NULL;
    }
    bus->base = base;
    bus->cfg = cfg;
    bus->cb = *cb;
    bus->log.comp = "bus";
    bus->prod_pipe[0] = bus->prod_pipe[1] = -1;
    bus->cons_pipe[0] = bus->cons_pipe[1] = -1;
    if (floe_config_topic(cfg, "dlq", bus->dlq_topic, sizeof(bus->dlq_topic)) != FLOE_OK) {
        floe_err_user(err, FLOE_EINVAL, "bus: topic prefix too long");
        goto fail;
    }
    if (cfg->bus_keys_file[0] != '\0') {
        if ((bus->keys = floe_keyring_load(cfg->bus_keys_file, cfg->bus_sign_key, err)) == NULL)
            goto fail;
    } else {
        floe_log_warn(&bus->log, "bus.keys_file is not set: messages are neither signed nor "
                                 "checked, so whoever can produce to the topics can run tasks "
                                 "and forge results (docs/security.md)");
    }
    bus->arena = floe_arena_new(16384, (size_t)cfg->bus_max_message_bytes * 4);
    if (bus->arena == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "bus: out of memory");
        goto fail;
    }

    rd_kafka_conf_t *conf = conf_common(bus, true, err);
    if (conf == NULL)
        goto fail;
    char linger[32];
    snprintf(linger, sizeof(linger), "%lld", (long long)cfg->kafka_linger_ms);
    if (floe_kafka_set(conf, "linger.ms", linger, err) != FLOE_OK ||
        floe_kafka_set(conf, "acks", "all", err) != FLOE_OK) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, bus_dr_cb);
    bus->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (bus->prod == NULL) {
        rd_kafka_conf_destroy(conf);
        floe_err_sys(err, FLOE_EIO, "bus: producer: %s", errstr);
        goto fail;
    }
    bus->prod_q = rd_kafka_queue_get_main(bus->prod);
    rd_kafka_set_log_queue(bus->prod, bus->prod_q);
    if (pipe_open(bus->prod_pipe, err) != FLOE_OK)
        goto fail;
    rd_kafka_queue_io_event_enable(bus->prod_q, bus->prod_pipe[1], "1", 1);
    bus->prod_ev =
        event_new(base, bus->prod_pipe[0], EV_READ | EV_PERSIST, bus_producer_ready, bus);
    bus->tick_ev = event_new(base, -1, EV_PERSIST, bus_tick, bus);
    if (bus->prod_ev == NULL || bus->tick_ev == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "bus: out of memory");
        goto fail;
    }
    struct timeval tick = {0, BUS_TICK_MS * 1000};
    event_add(bus->prod_ev, NULL);
    event_add(bus->tick_ev, &tick);
    return bus;

fail:
    floe_bus_free(bus);
    return NULL;
}

floe_rc
floe_bus_subscribe(floe_bus *bus, const char *group, const char *const *topics, size_t n_topics,
                   floe_err *err)
{
    char errstr[256];
    char num[32];
    if (bus->cons != NULL)
        return floe_err_user(err, FLOE_ESTATE, "bus: already subscribed");
    if (n_topics == 0 || n_topics > BUS_MAX_TOPICS)
        return floe_err_user(err, FLOE_EINVAL, "bus: subscribe to 1..%d topics", BUS_MAX_TOPICS);
    bus->group = floe_strdup(group);
    if (bus->group == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "bus: out of memory");

    rd_kafka_conf_t *conf = conf_common(bus, false, err);
    if (conf == NULL)
        return FLOE_EINVAL;
    long long session = (long long)bus->cfg->kafka_session_timeout_ms;
    long long heartbeat = session / 3 < 3000 ? session / 3 : 3000;
    snprintf(num, sizeof(num), "%lld", session);
    int bad = floe_kafka_set(conf, "group.id", group, err) != FLOE_OK ||
              floe_kafka_set(conf, "session.timeout.ms", num, err) != FLOE_OK;
    snprintf(num, sizeof(num), "%lld", heartbeat);
    bad = bad || floe_kafka_set(conf, "heartbeat.interval.ms", num, err) != FLOE_OK;
    snprintf(num, sizeof(num), "%lld", (long long)bus->cfg->bus_max_message_bytes + 65536);
    bad = bad || floe_kafka_set(conf, "fetch.message.max.bytes", num, err) != FLOE_OK ||
          floe_kafka_set(conf, "enable.auto.commit", "true", err) != FLOE_OK ||
          floe_kafka_set(conf, "auto.commit.interval.ms", "1000", err) != FLOE_OK ||
          floe_kafka_set(conf, "enable.auto.offset.store", "false", err) != FLOE_OK ||
          floe_kafka_set(conf, "auto.offset.reset", "earliest", err) != FLOE_OK ||
          floe_kafka_set(conf, "fetch.wait.max.ms", "100", err) != FLOE_OK ||
          floe_kafka_set(conf, "statistics.interval.ms", "10000", err) != FLOE_OK;
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return FLOE_EINVAL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, bus_rebalance_cb);
    rd_kafka_conf_set_stats_cb(conf, bus_stats_cb);
    bus->cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (bus->cons == NULL) {
        rd_kafka_conf_destroy(conf);
        return floe_err_sys(err, FLOE_EIO, "bus: consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(bus->cons);
    bus->cons_q = rd_kafka_queue_get_consumer(bus->cons);
    rd_kafka_set_log_queue(bus->cons, bus->cons_q);
    if (pipe_open(bus->cons_pipe, err) != FLOE_OK)
        return FLOE_EIO;
    rd_kafka_queue_io_event_enable(bus->cons_q, bus->cons_pipe[1], "1", 1);
    bus->cons_ev =
        event_new(bus->base, bus->cons_pipe[0], EV_READ | EV_PERSIST, bus_consumer_ready, bus);
    if (bus->cons_ev == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "bus: out of memory");
    event_add(bus->cons_ev, NULL);

    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n_topics);
    for (size_t i = 0; i < n_topics; i++) {
        bus->in_topics[i].name = floe_strdup(topics[i]);
        bus->in_topics[i].rkt =
            bus->in_topics[i].name != NULL ? rd_kafka_topic_new(bus->cons, topics[i], NULL) : NULL;
        bus->n_in_topics = i + 1;
        if (bus->in_topics[i].rkt == NULL) {
            rd_kafka_topic_partition_list_destroy(list);
            return floe_err_sys(err, FLOE_ENOMEM, "bus: topic %s: cannot create handle", topics[i]);
        }
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(bus->cons, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return floe_err_sys(err, FLOE_EIO, "bus: subscribe: %s", rd_kafka_err2str(e));
    floe_log_info(&bus->log, "group %s: subscribed to %zu topic(s), first %s", group, n_topics,
                  topics[0]);
    return FLOE_OK;
}

floe_rc
floe_bus_unsubscribe(floe_bus *bus)
{
    if (bus->cons == NULL)
        return FLOE_OK;
    rd_kafka_resp_err_t e = rd_kafka_unsubscribe(bus->cons);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? FLOE_OK : FLOE_EIO;
}

static void *
bus_destroy_thread(void *arg)
{
    /* The group was left, or leaving it was given up on: never wait on it again here. */
    rd_kafka_destroy_flags(arg, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return NULL;
}

/* Leaving the group, bounded: rd_kafka_consumer_close has no bound of its own (it waits
 * for a rebalance in flight and for the coordinator to answer), and a process told to
 * stop must stop. Past BUS_CLOSE_MS the group finds out by the session timeout; offsets
 * not committed are delivered again, which every consumer tolerates. */
#define BUS_CLOSE_MS 5000

static void
bus_close_bounded(floe_bus *bus)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(bus->cons);
    rd_kafka_error_t *e = q != NULL ? rd_kafka_consumer_close_queue(bus->cons, q) : NULL;
    if (q == NULL || e != NULL) {
        floe_log_error(&bus->log, "kafka: cannot leave group %s: %s", bus->group,
                       e != NULL ? rd_kafka_error_string(e) : "no queue");
        if (e != NULL)
            rd_kafka_error_destroy(e);
    } else {
        int64_t until = floe_mono_us() + (int64_t)BUS_CLOSE_MS * 1000;
        /* As events, not callbacks: serving this queue with callbacks aborts in librdkafka
         * 2.0 on an op with none (rd_kafka_q_serve: res != RD_KAFKA_OP_RES_PASS). The
         * revoke is handed to the rebalance callback, which commits what was acknowledged. */
        while (!rd_kafka_consumer_closed(bus->cons) && floe_mono_us() < until) {
            rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
            if (ev == NULL)
                continue;
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                bus_rebalance_cb(bus->cons, rd_kafka_event_error(ev),
                                 rd_kafka_event_topic_partition_list(ev), bus);
            rd_kafka_event_destroy(ev);
        }
        if (!rd_kafka_consumer_closed(bus->cons))
            floe_log_error(&bus->log,
                           "kafka: group %s not left within %d ms (a rebalance in flight?); "
                           "the broker will time the member out",
                           bus->group, BUS_CLOSE_MS);
    }
    if (q != NULL)
        rd_kafka_queue_destroy(q);
}

/* rd_kafka_destroy of a consumer past its close, bounded: seen here (librdkafka
 * 2.0, after PostgreSQL and Kafka restarts) to wait for ever on a broker thread that
 * never ends, which froze the scheduler's loop and with it the replica. Past 10 s the
 * handle is left to finish on its own thread; the group was left already. */
static void
bus_destroy_bounded(floe_bus *bus, rd_kafka_t *rk)
{
    pthread_t th;
    if (pthread_create(&th, NULL, bus_destroy_thread, rk) != 0) {
        rd_kafka_destroy(rk);
        return;
    }
    /* On the monotonic clock: a wall clock stepped back an hour would make it an hour. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 10;
    if (pthread_clockjoin_np(th, NULL, CLOCK_MONOTONIC, &until) != 0) {
        floe_log_error(&bus->log, "kafka: the consumer did not shut down within 10 s; left to "
                                  "finish in the background");
        pthread_detach(th);
    }
}

void
floe_bus_free(floe_bus *bus)
{
    if (bus == NULL)
        return;
    /* Producer first: its delivery reports acknowledge dead-lettered messages, and those
     * acks must be stored before the consumer's final commit. */
    if (bus->prod != NULL && rd_kafka_flush(bus->prod, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Whatever is left gets its delivery report (failed) now, so owners of the
         * opaques hear about every message. */
        rd_kafka_purge(bus->prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(bus->prod, 100);
    }
    if (bus->cons != NULL) {
        bus_close_bounded(bus);
        for (size_t i = 0; i < bus->n_in_topics; i++) {
            if (bus->in_topics[i].rkt != NULL)
                rd_kafka_topic_destroy(bus->in_topics[i].rkt);
            floe_free(bus->in_topics[i].name);
        }
        rd_kafka_queue_destroy(bus->cons_q);
        bus_destroy_bounded(bus, bus->cons);
    }
    if (bus->prod != NULL) {
        for (size_t i = 0; i < bus->n_out_topics; i++) {
            rd_kafka_topic_destroy(bus->out_topics[i].rkt);
            floe_free(bus->out_topics[i].name);
        }
        if (bus->prod_q != NULL)
            rd_kafka_queue_destroy(bus->prod_q);
        rd_kafka_destroy(bus->prod);
        for (size_t i = 0; i < bus->n_out_topics; i++) /* after: its partitioners' state */
            bus_group_free(bus->out_topics[i].grp);
    }
    floe_free(bus->group_prefix);
    if (bus->cons_ev != NULL)
        event_free(bus->cons_ev);
    if (bus->prod_ev != NULL)
        event_free(bus->prod_ev);
    if (bus->tick_ev != NULL)
        event_free(bus->tick_ev);
    pipe_close(bus->prod_pipe);
    pipe_close(bus->cons_pipe);
    bus_parts_clear(bus);
    floe_free(bus->group);
    floe_arena_free(bus->arena);
    floe_buf_deinit(&bus->enc);
    floe_keyring_free(bus->keys);
    floe_free(bus);
}

floe_rc
floe_bus_check(floe_bus *bus, int timeout_ms, floe_err *err)
{
    const struct rd_kafka_metadata *md = NULL;
    /* rd_kafka_metadata is thread-safe on the handle. */
    rd_kafka_resp_err_t e = rd_kafka_metadata(bus->prod, 0, NULL, &md, timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return floe_err_sys(err, FLOE_EIO, "kafka: no broker answered within %d ms: %s", timeout_ms,
                            rd_kafka_err2str(e));
    int brokers = md->broker_cnt;
    rd_kafka_metadata_destroy(md);
    if (brokers == 0)
        return floe_err_sys(err, FLOE_EIO, "kafka: the cluster reports no brokers");
    return FLOE_OK;
}
