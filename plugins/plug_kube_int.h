/*
 * plug_kube_int — the Kubernetes executor's HTTP client, shared by its modules
 * (plug_kube.c runs pods, plug_kube_http.c talks to the API server). Not for use
 * outside plug_kube*.c.
 */
#ifndef PLUG_KUBE_INT_H
#define PLUG_KUBE_INT_H

#include "plug_kube.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define KUBE_BODY_MAX (8u << 20)
#define KUBE_RETRY_FOR_MS 60000

typedef struct kube_resp {
    char cred_err[FLOE_ERR_MSG_MAX]; /* the token could not be had: why (status 0) */
    long status;                     /* 0: the server could not be reached */
    char *body;                      /* malloc'd, NUL-terminated; the caller frees */
    size_t len;
    long retry_after_s;
    bool too_big;
} kube_resp;

/* One request. */
void kube_call(const plug_kube_conn *c, const char *method, const char *path, const char *body,
               kube_resp *r);

/* Calls until a non-retriable answer (not 0, 429 or 5xx) or KUBE_RETRY_FOR_MS, with
 * exponential backoff honouring Retry-After; stops early once *stop is set. r holds the
 * last answer. */
void kube_call_retry(const plug_kube_conn *c, const char *method, const char *path,
                     const char *body, kube_resp *r, atomic_bool *stop);

/* The message of an API Status answer (or why there was none); per thread. */
const char *kube_status_message(const kube_resp *r);

void kube_nap_ms(int64_t ms);

/* What a watch of one pod ended with. */
typedef enum kube_watch_end {
    KUBE_WATCH_TIMEOUT = 1, /* the server closed it (timeoutSeconds): watch again */
    KUBE_WATCH_DECIDED,     /* *pod reached a phase that decide() accepted */
    KUBE_WATCH_DELETED,     /* the pod was deleted */
    KUBE_WATCH_EXPIRED,     /* resourceVersion too old (410): read the pod, watch again */
    KUBE_WATCH_STOPPED,     /* *stop was set */
    KUBE_WATCH_UNSUPPORTED, /* the server does not watch (400, 404, 405): poll instead */
    KUBE_WATCH_FAILED,      /* unreachable or another error: status and message in r */
} kube_watch_end;

/* Watches pod name in ns from resource_version (may be empty) for at most timeout_s: each
 * ADDED or MODIFIED object replaces *pod (owned by the caller) and is handed to decide,
 * which returns true to end the watch. One long-lived request instead of a read every
 * kubernetes.poll. */
kube_watch_end kube_watch_pod(const plug_kube_conn *c, const char *name,
                              const char *resource_version, int timeout_s,
                              bool (*decide)(json_t *pod, void *arg), void *arg, json_t **pod,
                              atomic_bool *stop, kube_resp *r);

#endif
