/*
 * wrk_int — what the worker's modules share: the worker (one per process, owned by
 * wrk_main, used only on its event loop thread) and an attempt's life (wrk_attempt.c).
 */
#ifndef WRK_INT_H
#define WRK_INT_H

#include "floe_bus.h"
#include "floe_config.h"
#include "floe_log.h"
#include "floe_metrics.h"
#include "floe_pool.h"
#include "plug_child.h"
#include "plug_exec.h"
#include "store_blob.h"
#include "store_redis.h"

#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#define WRK_EXECUTORS 3 /* process, oci, kubernetes */

typedef struct wrk_att wrk_att;

#define WRK_EPOCH_PARTITIONS 1024 /* partitions of a class's topic tracked for epochs */

typedef struct wrk {
    const floe_config *cfg;
    struct event_base *base;
    floe_log_ctx log;
    floe_metrics *metrics;
    floe_bus *bus;
    store_redis *redis;
    floe_pool *pool;
    store_blob *blobs;
    plug_child *children;
    plug_env penv;
    plug_executor *exec[WRK_EXECUTORS];
    char exec_why[WRK_EXECUTORS][200]; /* why exec[i] is NULL, for the attempts that need it */
    char worker_id[96];
    char events_topic[160];
    char slot_dir[PATH_MAX - 512]; /* <worker.dir>/slot-N: this process's own */
    char image_helper[PATH_MAX];   /* floe-image-rootfs, beside this binary */
    int slot_fd;                   /* the slot's lock, held for the process's life */

    wrk_att *active;  /* claimed and not finished, doubly linked */
    wrk_att *backlog; /* received while full, FIFO (head) */
    wrk_att *backlog_tail;
    unsigned n_active, n_backlog;
    unsigned n_publishing; /* of the active, those whose result awaits the broker's ack */
    struct floe_map *keys; /* "exec|node|attempt" -> attempt, queued or active */
    bool draining, paused;
    struct event *grace_timer;
    uint64_t seq;               /* attempt directory names */
    FILE *trace;                /* worker.trace, or NULL */
    struct floe_notify *notify; /* systemd: ready, stopping, watchdog */
    struct wrk_hold *hold;      /* leases to stretch, batched (wrk_hold.c); NULL until one */
    struct wrk_claims *claims;  /* claims to send together (wrk_claim.c); NULL until one */
    struct wrk_dirs *dirs;      /* attempt directories to reuse (wrk_dirs.c) */

    floe_metric *m_running, *m_backlog, *m_claim_ok, *m_claim_dup, *m_claim_stale;
    floe_metric *m_heartbeats, *m_lost, *m_fenced, *m_stale_epoch, *m_dirs_reused;
    /* The highest leader epoch of a dispatch seen on each partition (wrk_main.c). */
    uint64_t epoch_seen[WRK_EPOCH_PARTITIONS];
} wrk;

/* Takes a received TaskDispatch: starts it or queues it (pausing the bus when full). */
void wrk_att_receive(wrk *w, const floe_bus_msg *msg);
/* The broker acknowledged a result the attempt published. */
void wrk_att_delivered(wrk *w, wrk_att *att, floe_rc rc);
/* Shutdown: intake stopped; after the grace period, stop and release what still runs. */
void wrk_att_release_all(wrk *w);
/* Frees whatever is left (the loop has stopped). */
void wrk_att_free_all(wrk *w);

/* wrk_hold: once an attempt's result is in Kafka, its lease (of lease_ms) is stretched to
 * worker.result_hold, with many others in one Redis script, within a quarter of it. */
typedef struct wrk_hold wrk_hold;
void wrk_hold_add(wrk *w, const char *exec, uint32_t node, uint32_t attempt, uint32_t lease_ms);
void wrk_hold_flush(wrk *w);
void wrk_hold_free(wrk_hold *h);

/* wrk_claim: the claims of attempts received together, one Redis script for them; each
 * attempt hears its own answer through wrk_att_claimed (wrk_attempt.c). */
typedef struct wrk_claims wrk_claims;
floe_rc wrk_claim_add(wrk *w, wrk_att *att);
void wrk_claim_flush(wrk *w);
void wrk_claim_free(wrk *w);
/* An attempt's claim answered: rep its answer, or err when Redis did not answer. */
void wrk_att_claimed(wrk_att *att, const store_reply *rep, const floe_err *err);

/* wrk_http: /metrics and /healthz. NULL (and nothing served) when worker.http is empty. */
typedef struct wrk_http wrk_http;
wrk_http *wrk_http_new(wrk *w, floe_err *err);
void wrk_http_free(wrk_http *h);

#endif
