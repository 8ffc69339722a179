/* The state tests' harness (state_harness.c). */
#ifndef STATE_HARNESS_H
#define STATE_HARNESS_H

#include "floe_err.h"
#include "store_redis.h"
#include "store_state.h"
#include "store_state_codec.h"

#include <event2/event.h>
#include <stdbool.h>

#define EPOCH 7
#define ITEMS_MAX 16

extern struct event_base *base;
extern store_redis *redis;

typedef struct ans {
    bool done;
    floe_rc rc;
    store_st st;
    long long phase;
    char note[256];
    long long items[ITEMS_MAX];
    size_t n_items;
    char str[512]; /* a plain command's string answer */
    bool nil;
} ans;

/* cmocka group set-up and tear-down: the server and the client. */
int server_up(void **state);
int server_down(void **state);
/* store_redis callbacks filling an ans: a script's answer, a plain command's. */
void on_script(const store_reply *rep, const floe_err *err, void *arg);
void on_cmd(const store_reply *rep, const floe_err *err, void *arg);
/* Runs the loop until a answered; fails the test when it was not sent or failed. */
void await(ans *a, floe_rc sent, const char *what);
/* A plain command's answer: the string, "" for nil. */
const char *cmd(ans *a, int argc, ...);
void flush(void);
/* The node record of exec's node i; the execution's phase; whether exec's attempt is in
 * the sorted set key. */
store_node_rec node(const char *exec, unsigned i);
int exec_phase(const char *exec);
bool in_zset(const char *key, const char *exec, unsigned n, unsigned att);

#endif
