/*
 * floe_tail — a topic followed from its end, outside any group. See the header.
 */
#include "floe_tail.h"

#include "floe_arena.h"
#include "floe_kafka.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "floe_sign.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* Partitions followed at most: a topic with more is followed on its first TAIL_MAX_PARTS. */
#define TAIL_MAX_PARTS 1024
/* Messages handled per wake-up before the loop serves others. */
#define TAIL_BATCH 512

struct floe_tail {
    struct event_base *base;
    const floe_config *cfg;
    floe_log_ctx log;
    char *topic;
    floe_tail_fn on_message;
    void *arg;

    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int pipe[2];
    struct event *ev;
    floe_keyring *keys;
    floe_arena *arena;

    int64_t *ends; /* per partition, where it ended when located */
    int n_parts;
    bool started;
    unsigned long long handed, invalid;
};

static void
tail_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    floe_tail *t = rd_kafka_opaque(rk);
    floe_log_level l = level <= LOG_ERR       ? FLOE_LOG_ERROR
                       : level == LOG_WARNING ? FLOE_LOG_WARN
                                              : FLOE_LOG_DEBUG;
    floe_log(l, &t->log, "librdkafka %s: %s", fac, buf);
}

static void
tail_handle(floe_tail *t, const rd_kafka_message_t *m)
{
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            floe_log_warn(&t->log, "%s: %s", t->topic, rd_kafka_message_errstr(m));
        return;
    }
    floe_envelope env;
    floe_err err = {0};
    const char *why = NULL;
    if (floe_envelope_decode(m->payload, m->len, (size_t)t->cfg->bus_max_message_bytes, t->arena,
                             &env, &err) != FLOE_OK ||
        (t->keys != NULL &&
         floe_envelope_verify(m->payload, m->len, &env, t->keys, &why, &err) != FLOE_OK)) {
        /* Not ours to dead-letter (the topic's own consumers do): skipped, counted. */
        t->invalid++;
        floe_log_warn(&t->log, "%s[%d]@%lld skipped: %s", t->topic, (int)m->partition,
                      (long long)m->offset, err.msg);
    } else {
        t->handed++;
        t->on_message(&env, m->key, m->key_len, t->arg);
    }
    floe_arena_reset(t->arena);
}

static void
tail_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    floe_tail *t = arg;
    char junk[256];
    while (fd >= 0 && read(fd, junk, sizeof(junk)) > 0)
        ;
    for (int i = 0; i < TAIL_BATCH; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 0);
        if (m == NULL)
            return;
        tail_handle(t, m);
        rd_kafka_message_destroy(m);
    }
    /* More is queued and librdkafka will not wake us for it. */
    event_active(t->ev, EV_READ, 0);
}

floe_tail *
floe_tail_new(struct event_base *base, const floe_config *cfg, const char *topic,
              floe_tail_fn on_message, void *arg, floe_err *err)
{
    floe_tail *t = floe_calloc(1, sizeof(*t));
    if (t == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "tail: out of memory");
        return NULL;
    }
    t->base = base;
    t->cfg = cfg;
    t->log.comp = "tail";
    t->on_message = on_message;
    t->arg = arg;
    t->pipe[0] = t->pipe[1] = -1;
    t->topic = floe_strdup(topic);
    t->arena = floe_arena_new(16384, (size_t)cfg->bus_max_message_bytes * 4);
    if (t->topic == NULL || t->arena == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "tail: out of memory");
        goto fail;
    }
    if (cfg->bus_keys_file[0] != '\0' &&
        (t->keys = floe_keyring_load(cfg->bus_keys_file, cfg->bus_sign_key, err)) == NULL)
        goto fail;
    char fetch[32];
    snprintf(fetch, sizeof(fetch), "%lld", (long long)cfg->bus_max_message_bytes + 65536);
    /* A group id librdkafka wants for a consumer; never joined (assign, no subscribe) and
     * never committed to. */
    const char *const defaults[] = {"group.id",
                                    "floe-tail",
                                    "enable.auto.commit",
                                    "false",
                                    "enable.auto.offset.store",
                                    "false",
                                    "fetch.wait.max.ms",
                                    "100",
                                    "fetch.message.max.bytes",
                                    fetch,
                                    NULL};
    rd_kafka_conf_t *conf = floe_kafka_conf(cfg, defaults, err);
    if (conf == NULL)
        goto fail;
    rd_kafka_conf_set_opaque(conf, t);
    rd_kafka_conf_set_log_cb(conf, tail_log_cb);
    char errstr[256];
    if ((t->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr))) == NULL) {
        rd_kafka_conf_destroy(conf);
        floe_err_sys(err, FLOE_EIO, "tail: consumer: %s", errstr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(t->rk);
    t->q = rd_kafka_queue_get_consumer(t->rk);
    if (t->q == NULL || pipe2(t->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
        floe_err_sys(err, FLOE_EIO, "tail: queue: %s", strerror(errno));
        goto fail;
    }
    rd_kafka_queue_io_event_enable(t->q, t->pipe[1], "1", 1);
    if ((t->ev = event_new(base, t->pipe[0], EV_READ | EV_PERSIST, tail_ready, t)) == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "tail: out of memory");
        goto fail;
    }
    event_add(t->ev, NULL);
    return t;
fail:
    floe_tail_free(t);
    return NULL;
}

floe_rc
floe_tail_locate(floe_tail *t, int timeout_ms, floe_err *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(t->rk, t->topic, NULL);
    if (rkt == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "tail: topic %s: cannot create handle", t->topic);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(t->rk, 0, rkt, &md, timeout_ms);
    rd_kafka_topic_destroy(rkt);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return floe_err_sys(err, FLOE_EIO, "tail: %s: metadata: %s", t->topic, rd_kafka_err2str(e));
    int n = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR
                ? md->topics[0].partition_cnt
                : 0;
    e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    rd_kafka_metadata_destroy(md);
    if (n <= 0)
        return floe_err_sys(err, FLOE_EIO, "tail: %s: no partitions (%s)", t->topic,
                            rd_kafka_err2str(e));
    if (n > TAIL_MAX_PARTS)
        n = TAIL_MAX_PARTS;
    int64_t *ends = floe_calloc((size_t)n, sizeof(*ends));
    if (ends == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "tail: out of memory");
    for (int p = 0; p < n; p++) {
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(t->rk, t->topic, p, &lo, &hi, timeout_ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            floe_free(ends);
            return floe_err_sys(err, FLOE_EIO, "tail: %s[%d]: watermarks: %s", t->topic, p,
                                rd_kafka_err2str(e));
        }
        ends[p] = hi;
    }
    floe_free(t->ends);
    t->ends = ends;
    t->n_parts = n;
    return FLOE_OK;
}

floe_rc
floe_tail_start(floe_tail *t, floe_err *err)
{
    if (t->n_parts == 0)
        return floe_err_user(err, FLOE_ESTATE, "tail: %s not located", t->topic);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(t->n_parts);
    if (list == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "tail: out of memory");
    for (int p = 0; p < t->n_parts; p++)
        rd_kafka_topic_partition_list_add(list, t->topic, p)->offset = t->ends[p];
    rd_kafka_resp_err_t e = rd_kafka_assign(t->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return floe_err_sys(err, FLOE_EIO, "tail: %s: assign: %s", t->topic, rd_kafka_err2str(e));
    t->started = true;
    floe_log_info(&t->log, "following %s (%d partitions) from its end", t->topic, t->n_parts);
    return FLOE_OK;
}

bool
floe_tail_started(const floe_tail *t)
{
    return t->started;
}

void
floe_tail_counts(const floe_tail *t, unsigned long long *handed, unsigned long long *invalid)
{
    *handed = t->handed;
    *invalid = t->invalid;
}

void
floe_tail_free(floe_tail *t)
{
    if (t == NULL)
        return;
    if (t->ev != NULL)
        event_free(t->ev);
    if (t->q != NULL)
        rd_kafka_queue_destroy(t->q);
    if (t->rk != NULL) {
        /* No group to leave: nothing to wait for. */
        rd_kafka_assign(t->rk, NULL);
        rd_kafka_destroy_flags(t->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    if (t->pipe[0] >= 0)
        close(t->pipe[0]);
    if (t->pipe[1] >= 0)
        close(t->pipe[1]);
    floe_keyring_free(t->keys);
    floe_arena_free(t->arena);
    floe_free(t->ends);
    floe_free(t->topic);
    floe_free(t);
}
