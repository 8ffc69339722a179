/*
 * floe_tail — follows a topic from now on, outside any consumer group: every partition
 * from the high watermark it had when floe_tail_locate() asked, each valid envelope handed
 * to a callback on the loop. For readers that want what happens next and nothing before
 * (the API's live feed of egress, docs/api.md#the-live-feed); nothing is committed, so a
 * restart starts from the new end again.
 *
 * Threading: floe_tail_locate() blocks (metadata and watermarks from the brokers) and may
 * run on any thread while the loop does not touch the tail; everything else runs on the
 * loop thread of the event_base given to floe_tail_new().
 */
#ifndef FLOE_TAIL_H
#define FLOE_TAIL_H

#include "floe_config.h"
#include "floe_envelope.h"
#include "floe_err.h"

#include <stdbool.h>
#include <stddef.h>

struct event_base;
typedef struct floe_tail floe_tail;

/* A valid (decoded and, where bus.keys_file is set, verified) envelope; it lives only for
 * the call. */
typedef void (*floe_tail_fn)(const floe_envelope *env, const void *key, size_t key_len, void *arg);

/* A consumer of topic, not yet reading. NULL with err on error. cfg must outlive it. */
floe_tail *floe_tail_new(struct event_base *base, const floe_config *cfg, const char *topic,
                         floe_tail_fn on_message, void *arg, floe_err *err);
/* Asks the brokers for the topic's partitions and where each ends now (bounded by
 * timeout_ms). Blocking: call it off the loop. */
floe_rc floe_tail_locate(floe_tail *t, int timeout_ms, floe_err *err);
/* Starts reading at what floe_tail_locate found: every message produced after it returned
 * is handed over. On the loop. */
floe_rc floe_tail_start(floe_tail *t, floe_err *err);
bool floe_tail_started(const floe_tail *t);
/* Messages handed over, and those dropped as invalid, since the start. */
void floe_tail_counts(const floe_tail *t, unsigned long long *handed, unsigned long long *invalid);
void floe_tail_free(floe_tail *t);

#endif
