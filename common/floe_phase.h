/*
 * floe_phase — the state machine of executions, nodes and attempts: phase names, the
 * terminal and success predicates, the legal transitions and their names. The one source
 * of these facts: the engine, the API, floectl and the tests use it, and the Redis
 * scripts get their constants and predicates from it at build time (floe_phase_lua.c
 * writes phases.lua, prepended to every script).
 *
 * Numbers are floe.Phase of broker-schemas/floe_messages.proto (the bus carries them), so
 * they never change; a static assertion in floe_phase.c keeps the two in step.
 */
#ifndef FLOE_PHASE_H
#define FLOE_PHASE_H

#include <stdbool.h>

typedef enum floe_phase {
    FLOE_PHASE_UNSPECIFIED = 0,
    FLOE_PHASE_QUEUED = 1,
    FLOE_PHASE_READY = 2,
    FLOE_PHASE_RUNNING = 3,
    FLOE_PHASE_SUCCEEDED = 4,
    FLOE_PHASE_FAILED = 5,
    FLOE_PHASE_ABORTED = 6,
    FLOE_PHASE_CACHED = 7,     /* a node's outputs came from the catalog */
    FLOE_PHASE_TIMED_OUT = 8,  /* an execution past engine.execution_timeout */
    FLOE_PHASE_SKIPPED = 9,    /* a node not run because an upstream failed */
    FLOE_PHASE_RETRYING = 10,  /* a node whose attempt failed, another one scheduled */
    FLOE_PHASE_RECOVERED = 11, /* a node taken over from the execution recovered */
} floe_phase;

#define FLOE_PHASE_COUNT 12

/* What a phase belongs to: the predicates differ (a node may end CACHED, an execution
 * may not). */
typedef enum floe_phase_scope {
    FLOE_SCOPE_EXEC = 0,
    FLOE_SCOPE_NODE,
} floe_phase_scope;

/* The error kinds of floe.ErrorKind. */
typedef enum floe_error_kind {
    FLOE_ERROR_KIND_NONE = 0,
    FLOE_ERROR_KIND_USER = 1,
    FLOE_ERROR_KIND_SYSTEM = 2,
} floe_error_kind;

/* Every change of phase the engine makes, by name (the PhaseChanged messages on egress
 * and the scripts' effects are these, never bare numbers). */
typedef enum floe_transition {
    FLOE_TR_EXEC_START = 0,   /* QUEUED -> RUNNING: the state was created */
    FLOE_TR_EXEC_NOT_STARTED, /* QUEUED -> FAILED: its workflow or inputs could not load */
    FLOE_TR_EXEC_SUCCEED,     /* RUNNING -> SUCCEEDED */
    FLOE_TR_EXEC_FAIL,        /* RUNNING -> FAILED */
    FLOE_TR_EXEC_ABORT,       /* RUNNING -> ABORTED: terminated */
    FLOE_TR_EXEC_TIME_OUT,    /* RUNNING -> TIMED_OUT */
    FLOE_TR_NODE_READY,       /* QUEUED -> READY: every upstream it reads succeeded */
    FLOE_TR_NODE_START,       /* READY -> RUNNING: a worker started the attempt */
    FLOE_TR_NODE_SUCCEED,     /* RUNNING -> SUCCEEDED */
    FLOE_TR_NODE_CACHE_HIT,   /* READY -> CACHED */
    FLOE_TR_NODE_RETRY,       /* RUNNING -> RETRYING: the attempt failed, budget left */
    FLOE_TR_NODE_RETRY_READY, /* RETRYING -> READY: the next attempt is due */
    FLOE_TR_NODE_FAIL,        /* RUNNING -> FAILED: no budget left, or not retriable */
    FLOE_TR_NODE_SKIP,        /* QUEUED -> SKIPPED: an upstream failed */
    FLOE_TR_NODE_RECOVER,     /* QUEUED -> RECOVERED: taken over at creation */
    FLOE_TR_COUNT
} floe_transition;

typedef struct floe_transition_def {
    floe_phase_scope scope;
    floe_phase from, to;
    const char *name;
} floe_transition_def;

/* "SUCCEEDED"; "UNSPECIFIED" for a number out of range. */
const char *floe_phase_name(int phase);
/* The phase named s (exactly as floe_phase_name writes it), or UNSPECIFIED. */
floe_phase floe_phase_parse(const char *s);
/* Whether an execution (QUEUED, RUNNING or terminal) or a node (any) can be in phase. */
bool floe_phase_in_scope(floe_phase_scope scope, int phase);
/* An execution ends SUCCEEDED, FAILED, ABORTED or TIMED_OUT; a node also ends CACHED,
 * RECOVERED or SKIPPED. */
bool floe_phase_terminal(floe_phase_scope scope, int phase);
/* A terminal phase whose outputs exist: SUCCEEDED, or for a node CACHED and RECOVERED. */
bool floe_phase_success(floe_phase_scope scope, int phase);
/* The same for a phase given by name (the API's and floectl's view). */
bool floe_phase_name_terminal(floe_phase_scope scope, const char *name);

const floe_transition_def *floe_transition_get(floe_transition tr);
/* The named transition from -> to of scope, or FLOE_TR_COUNT when there is none. */
floe_transition floe_transition_find(floe_phase_scope scope, int from, int to);
/* Whether from -> to is one of the named transitions of scope. */
bool floe_phase_legal(floe_phase_scope scope, int from, int to);

#endif
