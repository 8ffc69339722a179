/*
 * floe_client — emit Floe events from a service in a few lines (broker-schemas/README.md):
 * announce a dataset partition (DataPublished, which fires launch-plan triggers), ask
 * for an execution of a launch plan (ExecutionRequested), or send a value to a waiting
 * signal gate (GateResolved). Messages are protobuf
 * envelopes on <prefix>.events, produced with librdkafka; each call returns once the
 * broker acknowledged the message (or failed).
 *
 * Not thread-safe per client: use one client per thread, or lock. Errors are written to
 * errbuf (what, and why) and the call returns -1.
 */
#ifndef FLOE_CLIENT_H
#define FLOE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct floe_client floe_client;

typedef struct floe_kv {
    const char *key, *value;
} floe_kv;

/* brokers "host:port[,host:port]"; properties "k=v[,k=v]" of librdkafka (NULL for none;
 * Kafka 0.9 needs api.version.request=false,broker.version.fallback=0.9.0.1);
 * topic_prefix NULL = "floe". NULL on error. */
floe_client *floe_client_new(const char *brokers, const char *properties, const char *topic_prefix,
                             char *errbuf, size_t errlen);
/* The same from FLOE_KAFKA_BROKERS, FLOE_KAFKA_PROPERTIES and FLOE_TOPIC_PREFIX (as
 * printed by `ops/stack env`). */
floe_client *floe_client_from_env(char *errbuf, size_t errlen);
void floe_client_free(floe_client *c);

typedef struct floe_data {
    const char *dataset;      /* required: 1-128 of A-Z a-z 0-9 . _ - */
    const floe_kv *partition; /* e.g. {"date", "2026-11-21"}, {"region", "eu"} */
    size_t n_partition;       /* at most 16 */
    const char *uri;          /* where the data is */
    const char *digest;       /* optional, "sha256:<hex>" */
    uint64_t size;            /* optional */
    const char *event_id;     /* optional idempotency key; a new one when NULL */
    const char *producer;     /* optional: the service's name */
    const char *project;      /* the project publishing it (it owns the dataset, or has the
                                 owner's grant); NULL: only a dataset nobody owns */
} floe_data;

#define FLOE_CLIENT_ID_MAX 128

/* Publishes d; event_id (FLOE_CLIENT_ID_MAX + 1 bytes, may be NULL) receives the event id.
 * Publishing again with the same event_id is a duplicate: triggers ignore it. */
int floe_client_publish(floe_client *c, const floe_data *d, char *event_id, char *errbuf,
                        size_t errlen);

typedef struct floe_launch {
    const char *project, *domain; /* required */
    const char *launch_plan;      /* required: its active version runs */
    const floe_kv *inputs;        /* values as text ("42", "2026-11-21", ...), converted */
    size_t n_inputs;              /* to the workflow's input types by the scheduler */
    const char *requested_by;     /* optional; a service key sends its own ("svc:NAME") */
} floe_launch;

/* Requests an execution; execution_id (27 bytes, may be NULL) receives its id. Inputs
 * the scheduler cannot convert, or a missing required input, fail the execution with a
 * message (see `floectl get execution ID`). */
int floe_client_request(floe_client *c, const floe_launch *l, char *execution_id, char *errbuf,
                        size_t errlen);

#define FLOE_CLIENT_EXEC_ID_SIZE 27 /* an execution id and its NUL */
#define FLOE_CLIENT_MANY_MAX 10000  /* within librdkafka's default queue of 100,000 */

/* Requests n executions (ls[0..n), n at most FLOE_CLIENT_MANY_MAX) at once: every message
 * produced, then the broker's acknowledgements awaited together, so a service launching a
 * backfill pays one round trip, not n. Returns how many were acknowledged (n when all
 * were); execution_ids (n entries, may be NULL) receives each one's id, "" for one that
 * was not (the first such says why in errbuf, and so does a launch that could not be
 * built: those after it are not sent). -1 (errbuf) for more than FLOE_CLIENT_MANY_MAX, or
 * out of memory. */
int floe_client_request_many(floe_client *c, const floe_launch *ls, size_t n,
                             char (*execution_ids)[FLOE_CLIENT_EXEC_ID_SIZE], char *errbuf,
                             size_t errlen);

typedef struct floe_signal {
    const char *project;      /* required: the execution's (the service key must name it) */
    const char *execution_id; /* required */
    const char *node;         /* required: a signal gate of that execution, waiting */
    const char *value;        /* required: text, converted to the gate's type */
    const char *comment;      /* optional */
    const char *by;           /* optional; a service key sends its own ("svc:NAME") */
} floe_signal;

/* Sends a value to a waiting signal gate (docs/spec.md#gates). The scheduler checks it
 * (the gate waits, the value converts to its type) and dead-letters it with the reason
 * otherwise; the gate's node then ends with the value. */
int floe_client_signal(floe_client *c, const floe_signal *s, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
