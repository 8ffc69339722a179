/*
 * store_state_codec — the encoding of an execution's Redis state (docs/state.md), decoded
 * in one place. The Lua scripts write it; C reads it only through these functions, which
 * take the bytes of one hash field or list entry and return a struct, never trusting
 * them: a malformed value is refused, not half read.
 *
 *   hash field "<node>"         "phase,attempt,unresolved,user_failures,system_failures"
 *   hash field "e<node>"        "kind|code|message"                     (the node's error)
 *   hash field "l<node>.<att>"  "stdout uri|stderr uri"                 (an attempt's logs)
 *   list entry of the log "node|attempt|phase|kind|code|worker|started_us|finished_us|message"
 *
 * Decoded strings point into the input (not terminated: use the lengths).
 */
#ifndef STORE_STATE_CODEC_H
#define STORE_STATE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_node_rec {
    int phase;
    uint32_t attempt, unresolved, user_failures, system_failures;
} store_node_rec;

typedef struct store_span {
    const char *s;
    size_t len;
} store_span;

typedef struct store_node_error {
    int kind; /* floe_error_kind */
    store_span code, message;
} store_node_error;

typedef struct store_attempt_entry {
    uint32_t node, attempt;
    int phase, kind;
    store_span code, worker, message;
    int64_t started_us, finished_us;
} store_attempt_entry;

typedef struct store_log_refs {
    store_span out, err;
} store_log_refs;

/* Which field of the execution's hash f (length len) is: a node record, a node's error,
 * an attempt's logs, or something else (STORE_FIELD_OTHER: the head's fields). */
typedef enum store_field_kind {
    STORE_FIELD_OTHER = 0,
    STORE_FIELD_NODE,   /* "<node>" */
    STORE_FIELD_OUTPUT, /* "o<node>" */
    STORE_FIELD_ERROR,  /* "e<node>" */
    STORE_FIELD_LOGS,   /* "l<node>.<attempt>" */
} store_field_kind;
store_field_kind store_state_field(const char *f, size_t len, uint32_t *node, uint32_t *attempt);

bool store_state_node_rec_parse(const char *s, size_t len, store_node_rec *out);
bool store_state_node_error_parse(const char *s, size_t len, store_node_error *out);
bool store_state_attempt_parse(const char *s, size_t len, store_attempt_entry *out);
bool store_state_log_refs_parse(const char *s, size_t len, store_log_refs *out);
/* A decimal integer field (the head's "ph", "t0"...): false unless all of s is one. */
bool store_state_int_parse(const char *s, size_t len, int64_t *out);

/* Copies text s into out (size n) for a field the scripts join with '|': cut on a UTF-8
 * boundary (what Redis keeps reaches PostgreSQL) and, when no_bar, with '|' replaced. */
const char *store_state_text(char *out, size_t n, const char *s, bool no_bar);

#endif
