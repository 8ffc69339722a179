#include "floe_envelope.h"

#include "floe_mem.h"
#include "floe_pbwire.h"

#include <string.h>

/* --- the type table ------------------------------------------------------------------ */

typedef floe_rc (*env_check_fn)(const ProtobufCMessage *msg, floe_err *err);

typedef struct env_type {
    Floe__MessageType type;
    const char *name;
    const ProtobufCMessageDescriptor *desc;
    env_check_fn check;
} env_type;

#define ID_MAX 128

static floe_rc check_execution_requested(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_task_dispatch(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_task_started(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_task_succeeded(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_task_failed(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_data_published(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_lineage_recorded(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_phase_changed(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_phase_changes(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_execution_terminate(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_gate_resolved(const ProtobufCMessage *msg, floe_err *err);
static floe_rc check_container_secrets(const Floe__Container *c, floe_err *err);

static const env_type env_types[] = {
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_REQUESTED, "ExecutionRequested",
     &floe__execution_requested__descriptor, check_execution_requested},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_DISPATCH, "TaskDispatch",
     &floe__task_dispatch__descriptor, check_task_dispatch},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_STARTED, "TaskStarted", &floe__task_started__descriptor,
     check_task_started},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_SUCCEEDED, "TaskSucceeded",
     &floe__task_succeeded__descriptor, check_task_succeeded},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_TASK_FAILED, "TaskFailed", &floe__task_failed__descriptor,
     check_task_failed},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED, "DataPublished",
     &floe__data_published__descriptor, check_data_published},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_LINEAGE_RECORDED, "LineageRecorded",
     &floe__lineage_recorded__descriptor, check_lineage_recorded},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGED, "PhaseChanged",
     &floe__phase_changed__descriptor, check_phase_changed},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_PHASE_CHANGES, "PhaseChanges",
     &floe__phase_changes__descriptor, check_phase_changes},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DEAD_LETTER, "DeadLetter", &floe__dead_letter__descriptor,
     NULL},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_EXECUTION_TERMINATE, "ExecutionTerminate",
     &floe__execution_terminate__descriptor, check_execution_terminate},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_GATE_RESOLVED, "GateResolved",
     &floe__gate_resolved__descriptor, check_gate_resolved},
    {FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, "Smoke", &floe__smoke__descriptor, NULL},
};

static const env_type *
env_type_find(Floe__MessageType type)
{
    for (size_t i = 0; i < sizeof(env_types) / sizeof(env_types[0]); i++) {
        if (env_types[i].type == type)
            return &env_types[i];
    }
    return NULL;
}

const ProtobufCMessageDescriptor *
floe_envelope_descriptor(Floe__MessageType type)
{
    const env_type *t = env_type_find(type);
    return t != NULL ? t->desc : NULL;
}

floe_rc
floe_envelope_check_message(Floe__MessageType type, const ProtobufCMessage *msg, floe_err *err)
{
    const env_type *t = env_type_find(type);
    if (t == NULL)
        return floe_err_user(err, FLOE_EINVAL, "unknown message type %d", (int)type);
    return t->check != NULL ? t->check(msg, err) : FLOE_OK;
}

const char *
floe_envelope_type_name(Floe__MessageType type)
{
    const env_type *t = env_type_find(type);
    return t != NULL ? t->name : "unknown";
}

/* --- buffers ------------------------------------------------------------------------- */

void
floe_buf_deinit(floe_buf *buf)
{
    floe_free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

static floe_rc
buf_reserve(floe_buf *buf, size_t need)
{
    if (need <= buf->cap)
        return FLOE_OK;
    size_t cap = buf->cap ? buf->cap : 512;
    while (cap < need)
        cap *= 2;
    uint8_t *d = floe_realloc(buf->data, cap);
    if (d == NULL)
        return FLOE_ENOMEM;
    buf->data = d;
    buf->cap = cap;
    return FLOE_OK;
}

/* --- encoding ------------------------------------------------------------------------ */

static size_t
varint_put(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

floe_rc
floe_envelope_encode(Floe__MessageType type, const ProtobufCMessage *payload, const char *producer,
                     size_t max_bytes, floe_buf *buf, char id_out[FLOE_ID_LEN + 1], floe_err *err)
{
    const env_type *t = env_type_find(type);
    if (t == NULL || payload->descriptor != t->desc)
        return floe_err_user(err, FLOE_EINVAL, "envelope: payload %s does not match type %d",
                             payload->descriptor->name, (int)type);

    char id[FLOE_ID_LEN + 1];
    if (floe_id_new(id) != 0)
        return floe_err_sys(err, FLOE_EIO, "envelope: no randomness for a message id");

    /* The envelope's own fields are packed first; the payload is appended as field 5
     * (bytes) straight into the buffer, so it is encoded once and copied never. */
    Floe__Envelope env = FLOE__ENVELOPE__INIT;
    env.type = type;
    env.id = id;
    env.time_unix_us = floe_now_us();
    env.producer = (char *)producer;

    size_t head = protobuf_c_message_get_packed_size(&env.base);
    size_t body = protobuf_c_message_get_packed_size(payload);
    size_t total = head + 1 + 10 + body;
    if (head + 1 + body > max_bytes)
        return floe_err_user(err, FLOE_ETOOBIG,
                             "envelope: %s of %zu bytes exceeds the limit of %zu bytes", t->name,
                             head + 1 + body, max_bytes);
    if (buf_reserve(buf, total) != FLOE_OK)
        return floe_err_sys(err, FLOE_ENOMEM, "envelope: out of memory");

    size_t off = protobuf_c_message_pack(&env.base, buf->data);
    if (body > 0) {
        buf->data[off++] = (5 << 3) | 2; /* field 5, length-delimited */
        off += varint_put(buf->data + off, body);
        off += protobuf_c_message_pack(payload, buf->data + off);
    }
    buf->len = off;
    if (buf->len > max_bytes)
        return floe_err_user(err, FLOE_ETOOBIG,
                             "envelope: %s of %zu bytes exceeds the limit of %zu bytes", t->name,
                             buf->len, max_bytes);
    if (id_out != NULL)
        memcpy(id_out, id, sizeof(id));
    return FLOE_OK;
}

/* --- decoding ------------------------------------------------------------------------ */

floe_rc
floe_envelope_check_id(const char *what, const char *s, size_t max, floe_err *err)
{
    if (s == NULL || *s == '\0')
        return floe_err_user(err, FLOE_EINVAL, "%s: missing", what);
    size_t len = strnlen(s, max + 1);
    if (len > max)
        return floe_err_user(err, FLOE_EINVAL, "%s: longer than %zu bytes", what, max);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (i > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok)
            return floe_err_user(err, FLOE_EINVAL,
                                 "%s: byte %zu (0x%02x) is not allowed: use letters, digits, "
                                 "'.', '_' and '-'",
                                 what, i, c);
    }
    return FLOE_OK;
}

static floe_rc
check_exec_node_attempt(const char *exec, const char *node, uint32_t attempt, floe_err *err)
{
    floe_rc rc = floe_envelope_check_id("execution_id", exec, ID_MAX, err);
    if (rc == FLOE_OK && node != NULL)
        rc = floe_envelope_check_id("node_id", node, ID_MAX, err);
    if (rc == FLOE_OK && node != NULL && attempt == 0)
        rc = floe_err_user(err, FLOE_EINVAL, "attempt: must be 1 or more");
    return rc;
}

static floe_rc
check_execution_requested(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__ExecutionRequested *m = (const Floe__ExecutionRequested *)msg;
    floe_rc rc = check_exec_node_attempt(m->execution_id, NULL, 0, err);
    if (rc == FLOE_OK && m->workflow == NULL && m->launch_plan == NULL)
        rc =
            floe_err_user(err, FLOE_EINVAL, "workflow: missing (neither workflow nor launch_plan)");
    return rc;
}

static floe_rc
check_execution_terminate(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__ExecutionTerminate *m = (const Floe__ExecutionTerminate *)msg;
    return check_exec_node_attempt(m->execution_id, NULL, 0, err);
}

static floe_rc
check_gate_resolved(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__GateResolved *m = (const Floe__GateResolved *)msg;
    return check_exec_node_attempt(m->execution_id, m->node_id, 1, err);
}

static floe_rc
check_task_dispatch(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__TaskDispatch *m = (const Floe__TaskDispatch *)msg;
    floe_rc rc = check_exec_node_attempt(m->execution_id, m->node_id, m->attempt, err);
    if (rc == FLOE_OK && m->epoch == 0)
        rc = floe_err_user(err, FLOE_EINVAL, "epoch: missing");
    if (rc == FLOE_OK)
        rc = check_container_secrets(m->container, err);
    return rc;
}

floe_rc
floe_secret_ref_check(const char *name, const char *env, const char *file, floe_err *err)
{
    size_t n = name != NULL ? strlen(name) : 0;
    bool ok = n >= 1 && n <= FLOE_SECRET_NAME_MAX &&
              ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'));
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    }
    if (!ok)
        return floe_err_user(err, FLOE_EINVAL,
                             "secret name: 1 to %d of [a-z0-9_.-], starting with a letter or "
                             "digit",
                             FLOE_SECRET_NAME_MAX);
    bool has_env = env != NULL && env[0] != '\0', has_file = file != NULL && file[0] != '\0';
    if (has_env == has_file)
        return floe_err_user(err, FLOE_EINVAL, "secret %s: give exactly one of env and file", name);
    if (has_env) {
        size_t len = strlen(env);
        ok = len <= 128 && !(env[0] >= '0' && env[0] <= '9') && strncmp(env, "FLOE_", 5) != 0;
        for (size_t i = 0; ok && i < len; i++) {
            char c = env[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_';
        }
        if (!ok)
            return floe_err_user(err, FLOE_EINVAL,
                                 "secret %s: env: a variable name ([A-Za-z_][A-Za-z0-9_]*, at "
                                 "most 128) outside FLOE_*",
                                 name);
        return FLOE_OK;
    }
    size_t len = strlen(file);
    ok = len <= 128 && strcmp(file, ".") != 0 && strcmp(file, "..") != 0;
    for (size_t i = 0; ok && i < len; i++) {
        char c = file[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.';
    }
    if (!ok)
        return floe_err_user(err, FLOE_EINVAL,
                             "secret %s: file: a file name of [A-Za-z0-9_.-] (at most 128, no "
                             "directories)",
                             name);
    return FLOE_OK;
}

static floe_rc
check_container_secrets(const Floe__Container *c, floe_err *err)
{
    if (c == NULL)
        return FLOE_OK;
    if (c->n_secrets > FLOE_SECRETS_MAX)
        return floe_err_user(err, FLOE_EINVAL, "container: more than %d secrets", FLOE_SECRETS_MAX);
    for (size_t i = 0; i < c->n_secrets; i++) {
        const Floe__SecretRef *s = c->secrets[i];
        floe_rc rc = floe_secret_ref_check(s->name, s->env, s->file, err);
        if (rc != FLOE_OK)
            return rc;
    }
    return FLOE_OK;
}

static floe_rc
check_task_started(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__TaskStarted *m = (const Floe__TaskStarted *)msg;
    return check_exec_node_attempt(m->execution_id, m->node_id, m->attempt, err);
}

static floe_rc
check_task_succeeded(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__TaskSucceeded *m = (const Floe__TaskSucceeded *)msg;
    return check_exec_node_attempt(m->execution_id, m->node_id, m->attempt, err);
}

static floe_rc
check_task_failed(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__TaskFailed *m = (const Floe__TaskFailed *)msg;
    floe_rc rc = check_exec_node_attempt(m->execution_id, m->node_id, m->attempt, err);
    if (rc == FLOE_OK && m->kind != FLOE__ERROR_KIND__ERROR_KIND_USER &&
        m->kind != FLOE__ERROR_KIND__ERROR_KIND_SYSTEM)
        rc = floe_err_user(err, FLOE_EINVAL, "kind: must be USER or SYSTEM, got %d", (int)m->kind);
    return rc;
}

static floe_rc
check_data_published(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__DataPublished *m = (const Floe__DataPublished *)msg;
    floe_rc rc = floe_envelope_check_id("dataset", m->dataset, ID_MAX, err);
    if (rc != FLOE_OK)
        return rc;
    if (m->n_partition > FLOE_PARTITION_MAX)
        return floe_err_user(err, FLOE_EINVAL, "partition: at most %d keys", FLOE_PARTITION_MAX);
    for (size_t i = 0; i < m->n_partition; i++) {
        const Floe__KeyValue *kv = m->partition[i];
        if ((rc = floe_envelope_check_id("partition key", kv->key, 64, err)) != FLOE_OK)
            return rc;
        size_t n = strlen(kv->value);
        if (n == 0 || n > 256 || !floe_text_printable(kv->value, n))
            return floe_err_user(err, FLOE_EINVAL,
                                 "partition \"%s\": the value must be 1 to 256 bytes of printable "
                                 "text",
                                 kv->key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->partition[j]->key, kv->key) == 0)
                return floe_err_user(err, FLOE_EINVAL, "partition \"%s\": given twice", kv->key);
    }
    size_t n = strlen(m->event_id);
    if (n > 0) {
        bool ok = n <= 128;
        for (size_t i = 0; ok && i < n; i++) {
            char c = m->event_id[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
        }
        if (!ok)
            return floe_err_user(err, FLOE_EINVAL,
                                 "event_id: 1 to 128 of A-Z a-z 0-9 . _ : / - expected");
    }
    if (strlen(m->uri) > 4096 || strlen(m->digest) > 128 || strlen(m->producer) > 128)
        return floe_err_user(err, FLOE_EINVAL,
                             "uri (4096), digest (128) or producer (128 bytes) too long");
    if (m->project[0] != '\0' &&
        (rc = floe_envelope_check_id("project", m->project, 63, err)) != FLOE_OK)
        return rc;
    return FLOE_OK;
}

static floe_rc
check_lineage_recorded(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__LineageRecorded *m = (const Floe__LineageRecorded *)msg;
    return check_exec_node_attempt(m->execution_id, m->node_id, m->attempt, err);
}

static floe_rc
check_phase_changed(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__PhaseChanged *m = (const Floe__PhaseChanged *)msg;
    return check_exec_node_attempt(m->execution_id, NULL, 0, err);
}

static floe_rc
check_phase_changes(const ProtobufCMessage *msg, floe_err *err)
{
    const Floe__PhaseChanges *m = (const Floe__PhaseChanges *)msg;
    if (m->n_changes == 0)
        return floe_err_user(err, FLOE_EINVAL, "changes: none");
    for (size_t i = 0; i < m->n_changes; i++) {
        floe_rc rc = check_phase_changed(&m->changes[i]->base, err);
        if (rc != FLOE_OK)
            return rc;
        if (strcmp(m->changes[i]->execution_id, m->changes[0]->execution_id) != 0)
            return floe_err_user(err, FLOE_EINVAL, "changes: of more than one execution");
    }
    return FLOE_OK;
}

floe_rc
floe_envelope_decode(const void *data, size_t len, size_t max_bytes, floe_arena *arena,
                     floe_envelope *out, floe_err *err)
{
    if (len == 0 || data == NULL)
        return floe_err_user(err, FLOE_EINVAL, "envelope: empty message");
    if (len > max_bytes)
        return floe_err_user(err, FLOE_ETOOBIG,
                             "envelope: message of %zu bytes exceeds the limit of %zu bytes", len,
                             max_bytes);
    /* Depth and text are checked on the wire before protobuf-c recurses (floe_pbwire). */
    if (floe_pb_check(&floe__envelope__descriptor, data, len, err) != FLOE_OK) {
        floe_err_prefix(err, "envelope: not a valid floe.Envelope");
        return FLOE_EINVAL;
    }
    ProtobufCAllocator *pa = floe_arena_pb_allocator(arena);
    Floe__Envelope *env = floe__envelope__unpack(pa, len, data);
    if (env == NULL && floe_arena_exhausted(arena))
        return floe_err_user(err, FLOE_ETOOBIG, "envelope: too large once decoded");
    if (env == NULL)
        return floe_err_user(err, FLOE_EINVAL,
                             "envelope: not a valid floe.Envelope (truncated or corrupt)");
    const env_type *t = env_type_find(env->type);
    if (t == NULL)
        return floe_err_user(err, FLOE_EINVAL, "envelope: unknown message type %d", (int)env->type);
    if (env->id == NULL || strlen(env->id) != FLOE_ID_LEN)
        return floe_err_user(err, FLOE_EINVAL, "envelope: id must be %d characters", FLOE_ID_LEN);
    if (floe_envelope_check_id("envelope: id", env->id, FLOE_ID_LEN, err) != FLOE_OK)
        return FLOE_EINVAL;
    if (env->time_unix_us <= 0)
        return floe_err_user(err, FLOE_EINVAL, "envelope: time missing");
    if (env->producer == NULL || strlen(env->producer) > 256)
        return floe_err_user(err, FLOE_EINVAL, "envelope: producer longer than 256 bytes");

    if (floe_pb_check(t->desc, env->payload.data, env->payload.len, err) != FLOE_OK) {
        floe_err_prefix(err, "%s: payload is not a valid floe.%s", t->name, t->name);
        return FLOE_EINVAL;
    }
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(t->desc, pa, env->payload.len, env->payload.data);
    if (msg == NULL && floe_arena_exhausted(arena))
        return floe_err_user(err, FLOE_ETOOBIG, "%s: payload too large once decoded", t->name);
    if (msg == NULL)
        return floe_err_user(err, FLOE_EINVAL, "%s: payload is not a valid floe.%s", t->name,
                             t->name);
    if (t->check != NULL && t->check(msg, err) != FLOE_OK) {
        floe_err_prefix(err, "%s", t->name);
        return FLOE_EINVAL;
    }
    out->type = env->type;
    memcpy(out->id, env->id, FLOE_ID_LEN + 1);
    out->time_unix_us = env->time_unix_us;
    out->producer = env->producer;
    out->msg = msg;
    out->key_id = env->key_id != NULL ? env->key_id : "";
    out->signature = env->signature.data;
    out->sig_len = env->signature.len;
    return FLOE_OK;
}
