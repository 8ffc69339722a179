/*
 * store_scripts — the Redis Lua scripts of storage/redis, embedded at build time with
 * lib.lua prepended. Every change of execution state is one of these scripts; see
 * docs/state.md for the key layout and each script's contract.
 */
#ifndef STORE_SCRIPTS_H
#define STORE_SCRIPTS_H

#include <stddef.h>

/* In file-name order (the order embed_lua.cmake writes them). */
typedef enum store_script_id {
    STORE_SCRIPT_BRANCH_TAKE = 0,
    STORE_SCRIPT_CACHE_DONE,
    STORE_SCRIPT_CACHE_RESERVE,
    STORE_SCRIPT_CLAIM,
    STORE_SCRIPT_CLAIM_MANY,
    STORE_SCRIPT_EXEC_ABORT,
    STORE_SCRIPT_EXEC_CREATE,
    STORE_SCRIPT_EXEC_RECORDED,
    STORE_SCRIPT_GATE_WAIT,
    STORE_SCRIPT_HEARTBEAT,
    STORE_SCRIPT_HOLD,
    STORE_SCRIPT_MAP_EXPAND,
    STORE_SCRIPT_NODE_FAILED,
    STORE_SCRIPT_NODE_STARTED,
    STORE_SCRIPT_NODE_SUCCEEDED,
    STORE_SCRIPT_OUTBOX_ACK,
    STORE_SCRIPT_RELEASE,
    STORE_SCRIPT_TIMER_FIRE,
    STORE_SCRIPT_COUNT
} store_script_id;

typedef struct store_script {
    const char *name;
    const char *body;
    size_t len;
} store_script;

extern const store_script store_scripts[];
extern const unsigned store_scripts_n;

#endif
