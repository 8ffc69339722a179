/*
 * Internals of the API shared by its modules: the request, the per-thread context, the
 * route table entry, and helpers for parameters and replies. Not for use outside
 * sched_api*.c.
 */
#ifndef SCHED_API_INT_H
#define SCHED_API_INT_H

#include "floe_arena.h"
#include "floe_pool.h"
#include "sched_api.h"
#include "sched_api_route.h"
#include "floe_envelope.h"
#include "floe_messages.pb-c.h"
#include "floe_spec.pb-c.h"
#include "store_exec.h"
#include "store_auth.h"
#include "store_pg.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>

#define API_LIST_LIMIT_MAX 1000
#define API_LIST_LIMIT_DEFAULT 100

typedef struct api_wfcache api_wfcache;
typedef struct api_thread {
    const floe_config *cfg;
    store_pg *pg;    /* connected lazily; reconnects after a failure */
    api_wfcache *wf; /* workflow specs by version (sched_api_wfcache.c); NULL until one */
} api_thread;

typedef struct api_req api_req;
typedef struct api_auth api_auth;
typedef struct api_oidc api_oidc;

/* Who serves a route: work on a pool thread (NULL: the loop answers), then, when work
 * succeeded and batch is set, batch with the requests of its kind queued meanwhile (on a
 * pool thread too: api_job_req gives each job's request), then done on the loop thread
 * (NULL, or the request failed: reply). */
typedef struct api_handler {
    void (*work)(api_thread *t, api_req *r);
    void (*done)(api_req *r);
    floe_pool_batch_fn batch;
} api_handler;

/* What the API hands the bus as a message's opaque: the report goes to done (a request's,
 * or a launch's note that outlives its request: sched_api_launch.c). */
typedef struct api_delivery {
    void (*done)(struct api_delivery *d, floe_rc rc, const char *reason);
} api_delivery;

struct api_req {
    sched_api *api;
    struct evhttp_request *req;
    const api_route *route;
    floe_arena *arena;
    api_target t;     /* decoded path segments and query */
    const char *body; /* in arena, NUL-terminated */
    size_t body_len;

    /* The reply, set by work or done. */
    int status;
    json_t *reply;
    floe_err err;
    json_t *err_details;

    const char *location; /* a redirect (307) to this url, in arena */
    int stream_fd;        /* >= 0: the reply is this file's bytes (api_blob_get_done) */
    uint64_t stream_size;

    /* Who is calling (sched_api_auth.c): the bearer token as sent (in arena), the
     * principal once authenticated, the project a handler's api_allow checked. */
    const char *bearer;
    const store_principal *principal;
    const char *audit_project;
    bool authn_done, allowed, audited;

    void *state; /* route-specific, in arena */
    int64_t start_us;
    api_delivery dl; /* the bus's opaque while a produced message awaits its report */
    void (*delivered)(api_req *r, floe_rc rc, const char *reason); /* its report */
};

/* sched_api.c */
const floe_config *api_cfg(const api_req *r);
floe_bus *api_bus(const api_req *r);
/* Whether the engine in this process took the request (sched_api_set_take). */
bool api_take_request(const api_req *r, const Floe__ExecutionRequested *req, uint64_t started);
/* The epoch the engine in this process leads under, 0: none (sched_api_set_lead_epoch);
 * any thread. */
uint64_t api_lead_epoch(const api_req *r);
floe_metrics *api_metrics(const api_req *r);
void api_reply(api_req *r); /* sends r->reply / r->err and frees r */
/* Counts r as answered with status and frees it, when its reply was sent otherwise
 * (a streamed body). */
void api_req_answered(api_req *r, int status);
/* From a streamed reply's connection close callback: frees the request when evhttp left
 * it to us (the client went away mid-stream). */
void api_stream_closed(struct evhttp_request *req);
/* The blob store the workers use; NULL (r failed, 503) when it could not be opened. */
struct store_blob *api_blobs(api_req *r);
/* The blob store, or NULL when it is unavailable (nothing said to the caller). */
struct store_blob *api_blobs_open(const api_req *r);
void api_fail(api_req *r, floe_rc code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
floe_rc api_pg(api_thread *t, api_req *r); /* connects t->pg; on failure fills r */
/* Resubmits r to the pool with another work/done pair (e.g. after a Kafka report). */
floe_rc api_resubmit(api_req *r, void (*work)(api_thread *, api_req *), void (*done)(api_req *));
api_req *api_job_req(void *job);

/* Query parameters, checked: NULL when absent; on a bad value r is failed and *ok false. */
const char *api_param(api_req *r, const char *key);
const char *api_project(api_req *r, bool *ok); /* ?project= or config default */
const char *api_domain(api_req *r, bool *ok);  /* ?domain=, must be configured */
bool api_domain_known(const floe_config *cfg, const char *domain);
/* The parameters every list takes: project, domain, limit, token. False (r failed) when
 * one is bad. */
bool api_list_scope(api_req *r, const char **project, const char **domain, unsigned *limit,
                    int64_t *before_seq);
/* Sets r->reply to {items, next_token} (items: a new reference, taken). */
void api_reply_page(api_req *r, json_t *items, bool more, int64_t last_seq);

/* sched_api_oidc.c: NULL (err clear) when api.oidc.issuer is empty. */
api_oidc *api_oidc_new(const floe_config *cfg, floe_err *err);
void api_oidc_free(api_oidc *o);
/* FLOE_EINVAL (err says why) when token is refused; FLOE_EAGAIN when no keys are held. */
floe_rc api_oidc_verify(api_oidc *o, const char *token, store_principal *p, floe_err *err);

/* sched_api_wfcache.c: the packed spec of a workflow (version NULL: the latest), in
 * r's arena; a version read once comes from the thread's cache after. */
floe_rc api_workflow_spec(api_thread *t, api_req *r, const char *project, const char *domain,
                          const char *name, const char *version, const uint8_t **spec, size_t *len);
void api_wfcache_free(api_wfcache *c);

/* sched_api_auth.c */
api_auth *api_auth_new(const floe_config *cfg, floe_err *err);
void api_auth_free(api_auth *a);
api_auth *api_auth_of(const api_req *r); /* sched_api.c */
/* Who r comes from (api.auth=off: anyone, as an admin of every project); false when r
 * was refused (401, audited) or the token could not be checked (503). */
bool api_authenticate(api_thread *t, api_req *r);
/* Whether r's principal has the role its route needs in project (NULL: every project,
 * i.e. a grant on "*"); on false r is refused (403, audited). Every handler calls it
 * once it knows the project of the stored resource it acts on, before acting. */
bool api_allow(api_thread *t, api_req *r, const char *project);
bool api_allow_role(api_thread *t, api_req *r, const char *project, store_role need);
store_role api_role_in(const store_principal *p, const char *project);
/* Refuses r with 403 for a reason beyond roles (a dataset's owner, say), audited. */
void api_forbid(api_thread *t, api_req *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Who asked, for the records: the principal's id; with api.auth=off what the client said
 * (given, may be NULL). */
const char *api_requested_by(api_req *r, const char *given);
/* Audits r's outcome when its route changes something (once). */
void api_audit_outcome(api_thread *t, api_req *r);
/* r's audit row, for a handler that writes it with its own statement (then sets
 * r->audited): b holds the texts a points to. */
typedef struct api_audit_buf {
    char remote[96], resource[256];
} api_audit_buf;
void api_audit_fill(api_req *r, const char *outcome, int status, const char *detail,
                    api_audit_buf *b, store_audit *a);
void api_whoami_work(api_thread *t, api_req *r);
void api_token_create_work(api_thread *t, api_req *r);
void api_token_list_work(api_thread *t, api_req *r);
void api_token_revoke_work(api_thread *t, api_req *r);
void api_audit_work(api_thread *t, api_req *r);

/* sched_api_registry.c */
void api_register_work(api_thread *t, api_req *r);
void api_entity_get_work(api_thread *t, api_req *r);
void api_entity_list_work(api_thread *t, api_req *r);
void api_activate_work(api_thread *t, api_req *r);

/* sched_api_exec.c */
/* A launch on its way: the row recorded, the message to publish (api_launch_done). */
typedef struct launch_state {
    Floe__ExecutionRequested msg;
    store_exec ex;
    store_audit audit; /* written with the row */
    api_audit_buf audit_buf;
    char id[FLOE_ID_LEN + 1];
    uint64_t started; /* recorded RUNNING under this epoch; 0: QUEUED */
} launch_state;
bool api_exec_id_valid(api_req *r, const char *id);
void api_launch_work(api_thread *t, api_req *r);
void api_launch_done(api_req *r);
/* Validated launches recorded together (sched_api_launch.c). */
void api_launch_record_batch(void *thread_ctx, void **jobs, size_t n);
void api_exec_get_work(api_thread *t, api_req *r);
void api_exec_nodes_work(api_thread *t, api_req *r);
void api_exec_list_work(api_thread *t, api_req *r);
void api_terminate_work(api_thread *t, api_req *r);
void api_terminate_done(api_req *r);
/* sched_api_gate.c: a person answers a gate (approve, reject, signal) */
void api_gate_work(api_thread *t, api_req *r);
void api_gate_done(api_req *r);
/* sched_api_exec.c: every input of ifc from given (JSON, may be NULL), the plan (may be
 * NULL) and the defaults, typed; false (r failed, one detail per input) on any problem. */
bool api_resolve_inputs(api_req *r, const Floe__Interface *ifc, const json_t *given,
                        const Floe__LaunchPlanSpec *lp, Floe__ValueMap *out);
/* sched_api.c: produces msg to the events topic keyed by key; delivered gets the broker's
 * report for r. On failure (err says why) nothing is pending and the caller answers. */
floe_rc api_produce_event(api_req *r, const char *key, Floe__MessageType type,
                          const ProtobufCMessage *msg,
                          void (*delivered)(api_req *r, floe_rc rc, const char *reason),
                          floe_err *err);
/* sched_api_publish.c */
void api_publish_work(api_thread *t, api_req *r);
void api_dataset_get_work(api_thread *t, api_req *r); /* sched_api_datasets.c */
void api_dataset_grant_work(api_thread *t, api_req *r);
void api_publish_done(api_req *r);

/* sched_api_labels.c: an execution's labels from a launch body, from ?label=k=v,..., and
 * as JSON; false (r failed) when not labels. */
bool api_labels_from_body(api_req *r, json_t *labels, const char **out);
bool api_labels_from_query(api_req *r, const char **out);
json_t *api_labels_render(const char *text);

/* sched_api_feed.c: the live feed of phase changes (server-sent events) */
typedef struct api_feed api_feed;
api_feed *api_feed_new(struct event_base *base, const floe_config *cfg, floe_pool *pool,
                       floe_metrics *metrics, floe_err *err);
void api_feed_free(api_feed *f);
api_feed *api_feed_of(const api_req *r); /* sched_api.c; NULL when off */
void api_feed_work(api_thread *t, api_req *r);
void api_feed_done(api_req *r);

/* sched_api_console.c: the console's static files, answered on the loop */
void api_console_serve(api_req *r);

/* sched_api_logs.c: a running (or stopped) attempt's logs so far */
void api_node_logs_work(api_thread *t, api_req *r);

/* sched_api_blob.c: blobs stored and fetched through the API */
void api_blob_put_work(api_thread *t, api_req *r);
void api_blob_upload_work(api_thread *t, api_req *r);
void api_blob_get_work(api_thread *t, api_req *r);
void api_blob_get_done(api_req *r);
/* Values (a packed floe.ValueMap) as JSON, those kept by reference read back from the blob
 * store (issue 23): what a caller sees is the value, wherever it lies. One that cannot be
 * read shows as {"ref": {uri, digest, size}}. */
json_t *api_render_values(api_req *r, const uint8_t *packed_map, size_t len);

/* sched_api_children.c: an execution's parent (JSON null: none), and its children set
 * into reply as "children". */
json_t *api_exec_parent(const struct store_exec *ex);
void api_exec_children(api_thread *t, api_req *r, const struct store_exec *ex, json_t *reply);
/* The values of a launch whose encoding is over values.inline_max kept by reference in
 * vals (an execution's inputs travel on the bus). false when it failed (r says why). */
bool api_values_shrink(api_req *r, Floe__NamedValue **vals, size_t n);

/* sched_api_catalog.c: relaunch/recover, the cache, lineage */
void api_relaunch_work(api_thread *t, api_req *r);
void api_cache_list_work(api_thread *t, api_req *r);
void api_cache_delete_work(api_thread *t, api_req *r);
void api_lineage_work(api_thread *t, api_req *r);

/* sched_render.c: compiled specs and values to JSON */
json_t *sched_render_message(const ProtobufCMessage *msg);
json_t *sched_render_values(const uint8_t *packed_map, size_t len, floe_arena *arena);
json_t *sched_render_time(int64_t unix_us); /* null for 0 */

#endif
