/*
 * sched_api_tls — the API over TLS (issue 19): the certificate chain and key of
 * api.tls_cert / api.tls_key, TLS 1.2 at least, read again when either file changes (a
 * renewed certificate needs no restart; connections open keep the one they began with).
 */
#ifndef SCHED_API_TLS_H
#define SCHED_API_TLS_H

#include "floe_config.h"
#include "floe_err.h"

#include <event2/bufferevent.h>
#include <event2/event.h>

typedef struct api_tls api_tls;

/* NULL with err clear when api.tls_cert is empty; NULL with err set when the files are
 * unusable (unreadable, not PEM, key and certificate apart, key readable by everyone). */
api_tls *api_tls_new(const floe_config *cfg, floe_err *err);
void api_tls_free(api_tls *t);

/* A bufferevent for a connection evhttp accepts (socket set later by evhttp); NULL when
 * out of memory. */
struct bufferevent *api_tls_bufferevent(api_tls *t, struct event_base *base);

#endif
