/*
 * The client library: builds the messages of floe_messages.proto, wraps them in the bus
 * envelope (floe_envelope.c, the same encoder the daemons use) and produces them
 * synchronously: one in flight, the delivery report awaited with rd_kafka_flush; or, for
 * floe_client_request_many, all of them and then every report together.
 */
#include "floe_client.h"
#include "floe_sign.h"

#include "floe_envelope.h"
#include "floe_time.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLUSH_MS 30000

_Static_assert(FLOE_CLIENT_EXEC_ID_SIZE == FLOE_ID_LEN + 1, "an execution id and its NUL");
#define MESSAGE_MAX (1024 * 1024)

struct floe_client {
    rd_kafka_t *rk;
    char topic[160];
    rd_kafka_resp_err_t last; /* delivery result of the message in flight */
    bool delivered;
    floe_keyring *keys; /* $FLOE_BUS_KEYS_FILE: what it sends is signed (floe_sign.h) */
};

/* What became of one message of floe_client_request_many (its per-message opaque). */
typedef struct dr_slot {
    rd_kafka_resp_err_t err;
    bool delivered;
} dr_slot;

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dr_slot *slot = m->_private;
    if (slot != NULL) {
        slot->err = m->err;
        slot->delivered = true;
        return;
    }
    floe_client *c = opaque;
    c->last = m->err;
    c->delivered = true;
}

__attribute__((format(printf, 3, 4))) static int
fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

floe_client *
floe_client_new(const char *brokers, const char *properties, const char *topic_prefix, char *errbuf,
                size_t errlen)
{
    char err[512];
    if (brokers == NULL || brokers[0] == '\0') {
        fail(errbuf, errlen, "floe_client: no brokers given");
        return NULL;
    }
    const char *prefix = topic_prefix != NULL && topic_prefix[0] ? topic_prefix : "floe";
    floe_client *c = calloc(1, sizeof(*c));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (c == NULL || conf == NULL)
        goto oom;
    if ((size_t)snprintf(c->topic, sizeof(c->topic), "%s.events", prefix) >= sizeof(c->topic)) {
        fail(errbuf, errlen, "floe_client: topic prefix \"%.40s\" is too long", prefix);
        goto out;
    }
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) != 0 ||
        rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof(err)) != 0 ||
        rd_kafka_conf_set(conf, "acks", "all", err, sizeof(err)) != 0) {
        fail(errbuf, errlen, "floe_client: %s", err);
        goto out;
    }
    /* k=v,k=v: each pair goes to librdkafka, which says what it does not accept. */
    char *props = properties != NULL ? strdup(properties) : NULL;
    for (char *save = NULL, *kv = props != NULL ? strtok_r(props, ",", &save) : NULL; kv != NULL;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL) {
            fail(errbuf, errlen, "floe_client: property \"%.64s\" is not k=v", kv);
            free(props);
            goto out;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, kv, eq + 1, err, sizeof(err)) != 0) {
            fail(errbuf, errlen, "floe_client: property %s: %s", kv, err);
            free(props);
            goto out;
        }
    }
    free(props);
    const char *keys = getenv("FLOE_BUS_KEYS_FILE");
    if (keys != NULL && keys[0] != '\0') {
        floe_err kerr = {0};
        if ((c->keys = floe_keyring_load(keys, getenv("FLOE_BUS_SIGN_KEY"), &kerr)) == NULL) {
            fail(errbuf, errlen, "floe_client: %s", kerr.msg);
            goto out;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, c);
    if ((c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))) == NULL) {
        fail(errbuf, errlen, "floe_client: %s", err);
        goto out;
    }
    return c;
oom:
    fail(errbuf, errlen, "floe_client: out of memory");
out:
    if (conf != NULL)
        rd_kafka_conf_destroy(conf);
    if (c != NULL)
        floe_keyring_free(c->keys);
    free(c);
    return NULL;
}

floe_client *
floe_client_from_env(char *errbuf, size_t errlen)
{
    return floe_client_new(getenv("FLOE_KAFKA_BROKERS"), getenv("FLOE_KAFKA_PROPERTIES"),
                           getenv("FLOE_TOPIC_PREFIX"), errbuf, errlen);
}

void
floe_client_free(floe_client *c)
{
    if (c == NULL)
        return;
    rd_kafka_flush(c->rk, FLUSH_MS);
    rd_kafka_destroy(c->rk);
    floe_keyring_free(c->keys);
    free(c);
}

/* msg as a (signed) envelope in buf. */
static int
encode(floe_client *c, Floe__MessageType type, const ProtobufCMessage *msg, floe_buf *buf,
       char *errbuf, size_t errlen)
{
    floe_err err = {0};
    if (floe_envelope_encode(type, msg, "floe-client", MESSAGE_MAX, buf, NULL, &err) != FLOE_OK ||
        (c->keys != NULL && floe_envelope_sign(buf, c->keys, &err) != FLOE_OK)) {
        floe_buf_deinit(buf);
        return fail(errbuf, errlen, "floe_client: %s", err.msg);
    }
    return 0;
}

/* Queues buf's message; slot NULL: the client's own report (one message in flight). */
static int
enqueue(floe_client *c, const char *key, const floe_buf *buf, dr_slot *slot, char *errbuf,
        size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        c->rk, RD_KAFKA_V_TOPIC(c->topic), RD_KAFKA_V_KEY(key, strlen(key)),
        RD_KAFKA_V_VALUE(buf->data, buf->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return fail(errbuf, errlen, "floe_client: cannot produce to %s: %s", c->topic,
                    rd_kafka_err2str(e));
    return 0;
}

/* buf's message sent, its acknowledgement awaited (one message in flight). */
static int
send_sync(floe_client *c, const char *key, const floe_buf *buf, char *errbuf, size_t errlen)
{
    c->delivered = false;
    if (enqueue(c, key, buf, NULL, errbuf, errlen) != 0)
        return -1;
    rd_kafka_flush(c->rk, FLUSH_MS);
    if (!c->delivered)
        return fail(errbuf, errlen, "floe_client: %s did not acknowledge within 30 s", c->topic);
    if (c->last != RD_KAFKA_RESP_ERR_NO_ERROR)
        return fail(errbuf, errlen, "floe_client: not delivered to %s: %s", c->topic,
                    rd_kafka_err2str(c->last));
    return 0;
}

static int
produce(floe_client *c, const char *key, Floe__MessageType type, const ProtobufCMessage *msg,
        char *errbuf, size_t errlen)
{
    floe_buf buf = {0};
    if (encode(c, type, msg, &buf, errbuf, errlen) != 0)
        return -1;
    int rc = send_sync(c, key, &buf, errbuf, errlen);
    floe_buf_deinit(&buf);
    return rc;
}

int
floe_client_publish(floe_client *c, const floe_data *d, char *event_id, char *errbuf, size_t errlen)
{
    if (d == NULL || d->dataset == NULL || d->n_partition > FLOE_PARTITION_MAX)
        return fail(errbuf, errlen,
                    "floe_client: a dataset (and at most 16 partition keys) is "
                    "required");
    char id[FLOE_ID_LEN + 1];
    const char *eid = d->event_id;
    if (eid == NULL || eid[0] == '\0') {
        if (floe_id_new(id) != 0)
            return fail(errbuf, errlen, "floe_client: no randomness for an event id");
        eid = id;
    }
    Floe__KeyValue kv[FLOE_PARTITION_MAX], *kvp[FLOE_PARTITION_MAX];
    for (size_t i = 0; i < d->n_partition; i++) {
        floe__key_value__init(&kv[i]);
        kv[i].key = (char *)d->partition[i].key;
        kv[i].value = (char *)d->partition[i].value;
        kvp[i] = &kv[i];
    }
    Floe__DataPublished m = FLOE__DATA_PUBLISHED__INIT;
    m.dataset = (char *)d->dataset;
    m.partition = kvp;
    m.n_partition = d->n_partition;
    m.uri = (char *)(d->uri != NULL ? d->uri : "");
    m.digest = (char *)(d->digest != NULL ? d->digest : "");
    m.size = d->size;
    m.event_id = (char *)eid;
    m.producer = (char *)(d->producer != NULL ? d->producer : "");
    m.project = (char *)(d->project != NULL ? d->project : "");
    m.published_unix_us = floe_now_us();
    /* The checks the scheduler applies, so bad input fails here with the reason. */
    floe_err err = {0};
    if (floe_envelope_check_message(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED, &m.base,
                                    &err) != FLOE_OK)
        return fail(errbuf, errlen, "floe_client: DataPublished: %s", err.msg);
    if (produce(c, d->dataset, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED, &m.base, errbuf,
                errlen) != 0)
        return -1;
    if (event_id != NULL)
        snprintf(event_id, FLOE_CLIENT_ID_MAX + 1, "%s", eid);
    return 0;
}

/* l's ExecutionRequested, with a new execution id (id, FLOE_ID_LEN + 1 bytes), checked
 * as the scheduler checks it and encoded into buf. */
static int
encode_request(floe_client *c, const floe_launch *l, char *id, floe_buf *buf, char *errbuf,
               size_t errlen)
{
    if (l == NULL || l->project == NULL || l->domain == NULL || l->launch_plan == NULL ||
        l->n_inputs > 256)
        return fail(errbuf, errlen,
                    "floe_client: project, domain and launch_plan are required "
                    "(and at most 256 inputs)");
    if (floe_id_new(id) != 0)
        return fail(errbuf, errlen, "floe_client: no randomness for an execution id");
    Floe__NamedValue *nv = calloc(l->n_inputs + 1, sizeof(*nv));
    Floe__Value *vals = calloc(l->n_inputs + 1, sizeof(*vals));
    Floe__NamedValue **nvp = calloc(l->n_inputs + 1, sizeof(*nvp));
    int rc = -1;
    if (nv == NULL || vals == NULL || nvp == NULL) {
        fail(errbuf, errlen, "floe_client: out of memory");
        goto out;
    }
    for (size_t i = 0; i < l->n_inputs; i++) {
        floe__named_value__init(&nv[i]);
        floe__value__init(&vals[i]);
        vals[i].kind_case = FLOE__VALUE__KIND_STRING; /* text: the scheduler converts it */
        vals[i].string = (char *)l->inputs[i].value;
        nv[i].name = (char *)l->inputs[i].key;
        nv[i].value = &vals[i];
        nvp[i] = &nv[i];
    }
    Floe__Identifier lp = FLOE__IDENTIFIER__INIT;
    lp.project = (char *)l->project;
    lp.domain = (char *)l->domain;
    lp.name = (char *)l->launch_plan;
    Floe__ExecutionRequested m = FLOE__EXECUTION_REQUESTED__INIT;
    m.execution_id = id;
    m.launch_plan = &lp;
    m.inputs = nvp;
    m.n_inputs = l->n_inputs;
    /* A service key launches as itself (floe_sign_role.c): its principal, whatever asked. */
    char principal[FLOE_SIGN_PRINCIPAL_MAX + 1];
    if (c->keys != NULL && floe_keyring_principal(c->keys, principal))
        m.requested_by = principal;
    else
        m.requested_by = (char *)(l->requested_by != NULL ? l->requested_by : "floe-client");
    floe_err err = {0};
    if (floe_envelope_check_message(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &m.base,
                                    &err) != FLOE_OK) {
        fail(errbuf, errlen, "floe_client: ExecutionRequested: %s", err.msg);
        goto out;
    }
    rc = encode(c, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, &m.base, buf, errbuf,
                errlen);
out:
    free(nv);
    free(vals);
    free(nvp);
    return rc;
}

int
floe_client_request(floe_client *c, const floe_launch *l, char *execution_id, char *errbuf,
                    size_t errlen)
{
    char id[FLOE_ID_LEN + 1];
    floe_buf buf = {0};
    if (encode_request(c, l, id, &buf, errbuf, errlen) != 0)
        return -1;
    int rc = send_sync(c, id, &buf, errbuf, errlen);
    floe_buf_deinit(&buf);
    if (rc == 0 && execution_id != NULL)
        snprintf(execution_id, FLOE_ID_LEN + 1, "%s", id);
    return rc;
}

int
floe_client_request_many(floe_client *c, const floe_launch *ls, size_t n,
                         char (*execution_ids)[FLOE_CLIENT_EXEC_ID_SIZE], char *errbuf,
                         size_t errlen)
{
    if (n > FLOE_CLIENT_MANY_MAX)
        return fail(errbuf, errlen, "floe_client: %zu launches at once (at most %d)", n,
                    FLOE_CLIENT_MANY_MAX);
    char(*ids)[FLOE_ID_LEN + 1] = calloc(n + 1, sizeof(*ids));
    dr_slot *slots = calloc(n + 1, sizeof(*slots));
    if (ids == NULL || slots == NULL) {
        free(ids);
        free(slots);
        return fail(errbuf, errlen, "floe_client: out of memory");
    }
    /* All produced first (librdkafka batches them), then every report awaited at once. */
    size_t queued = 0;
    bool said = false;
    for (; queued < n; queued++) {
        floe_buf buf = {0};
        int rc = encode_request(c, &ls[queued], ids[queued], &buf, errbuf, errlen);
        if (rc == 0) {
            rc = enqueue(c, ids[queued], &buf, &slots[queued], errbuf, errlen);
            floe_buf_deinit(&buf);
        }
        if (rc != 0) {
            said = true; /* errbuf says why; the ones queued before it are still awaited */
            break;
        }
    }
    rd_kafka_flush(c->rk, FLUSH_MS);
    int ok = 0;
    for (size_t i = 0; i < n; i++) {
        bool acked = i < queued && slots[i].delivered && slots[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
        if (execution_ids != NULL)
            snprintf(execution_ids[i], FLOE_CLIENT_EXEC_ID_SIZE, "%s", acked ? ids[i] : "");
        if (acked) {
            ok++;
        } else if (!said && i < queued) {
            said = true;
            if (!slots[i].delivered)
                fail(errbuf, errlen, "floe_client: launch %zu: %s did not acknowledge within 30 s",
                     i, c->topic);
            else
                fail(errbuf, errlen, "floe_client: launch %zu: not delivered to %s: %s", i,
                     c->topic, rd_kafka_err2str(slots[i].err));
        }
    }
    free(ids);
    free(slots);
    return ok;
}

int
floe_client_signal(floe_client *c, const floe_signal *s, char *errbuf, size_t errlen)
{
    if (s == NULL || s->project == NULL || s->execution_id == NULL || s->node == NULL ||
        s->value == NULL)
        return fail(errbuf, errlen,
                    "floe_client: project, execution_id, node and value are required");
    Floe__Value v = FLOE__VALUE__INIT;
    v.kind_case = FLOE__VALUE__KIND_STRING; /* text: the scheduler converts it */
    v.string = (char *)s->value;
    Floe__GateResolved m = FLOE__GATE_RESOLVED__INIT;
    m.execution_id = (char *)s->execution_id;
    m.node_id = (char *)s->node;
    m.approved = true;
    m.value = &v;
    m.project = (char *)s->project;
    m.comment = (char *)(s->comment != NULL ? s->comment : "");
    char principal[FLOE_SIGN_PRINCIPAL_MAX + 1];
    if (c->keys != NULL && floe_keyring_principal(c->keys, principal))
        m.by = principal;
    else
        m.by = (char *)(s->by != NULL ? s->by : "floe-client");
    floe_err err = {0};
    if (floe_envelope_check_message(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED, &m.base,
                                    &err) != FLOE_OK)
        return fail(errbuf, errlen, "floe_client: GateResolved: %s", err.msg);
    return produce(c, s->execution_id, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED, &m.base,
                   errbuf, errlen);
}
