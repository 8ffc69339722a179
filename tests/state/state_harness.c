/*
 * The state tests' harness: a throwaway redis-server of their own (a free port, no
 * persistence), the client the scripts are called through, and reading the state back.
 */
#include "state_harness.h"

#include "floe_phase.h"
#include "store_redis_probe.h"
#include "store_state_codec.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
struct event_base *base;
store_redis *redis;
static pid_t redis_pid;
static char url[64];

/* --- A redis-server of our own ---------------------------------------------------------- */

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
        getsockname(fd, (struct sockaddr *)&a, &len) == -1) {
        perror("free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

int
server_up(void **state)
{
    (void)state;
    int port = free_port();
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    redis_pid = fork();
    if (redis_pid == 0) {
        execlp("redis-server", "redis-server", "--port", port_s, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        perror("redis-server");
        _exit(127);
    }
    base = event_base_new();
    floe_err err = {0};
    /* Bounded wait for the server to answer, then the client connects for good. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (store_redis_ping(url, 500, &err) == FLOE_OK)
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10) {
            fprintf(stderr, "redis-server on %s did not answer within 10 s: %s\n", url, err.msg);
            return -1;
        }
        usleep(20000);
    }
    redis = store_redis_new(base, url, 5000, &err);
    return redis != NULL ? 0 : -1;
}

int
server_down(void **state)
{
    (void)state;
    store_redis_free(redis);
    event_base_free(base);
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
    }
    return 0;
}

/* --- Calls and answers ------------------------------------------------------------------ */

void
on_script(const store_reply *rep, const floe_err *err, void *arg)
{
    ans *a = arg;
    a->done = true;
    if (err != NULL) {
        a->rc = FLOE_EIO;
        snprintf(a->note, sizeof(a->note), "%s", err->msg);
        return;
    }
    store_state_res res;
    store_state_parse(rep, &res);
    a->st = res.st;
    a->phase = res.phase;
    snprintf(a->note, sizeof(a->note), "%s", res.note);
    for (size_t i = 0; i < res.n_items && i < ITEMS_MAX; i++)
        a->items[a->n_items++] = store_state_item_int(&res, i);
}

void
on_cmd(const store_reply *rep, const floe_err *err, void *arg)
{
    ans *a = arg;
    a->done = true;
    if (err != NULL) {
        a->rc = FLOE_EIO;
        return;
    }
    size_t len = 0;
    const char *s = store_reply_str(rep, &len);
    if (store_reply_kind(rep) == STORE_REPLY_INT)
        snprintf(a->str, sizeof(a->str), "%lld", store_reply_int(rep));
    else if (s == NULL)
        a->nil = true;
    else
        snprintf(a->str, sizeof(a->str), "%.*s", (int)len, s);
}

/* Runs the loop until a answered (store_redis fails it after its own 5 s timeout). */
void
await(ans *a, floe_rc sent, const char *what)
{
    if (sent != FLOE_OK)
        fail_msg("%s: not sent (%d)", what, sent);
    while (!a->done)
        event_base_loop(base, EVLOOP_ONCE);
    if (a->rc != FLOE_OK)
        fail_msg("%s: %s", what, a->note);
}

/* A plain command's answer: the string, "" for nil. */
const char *
cmd(ans *a, int argc, ...)
{
    const char *argv[8];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++)
        argv[i] = va_arg(ap, const char *);
    va_end(ap);
    memset(a, 0, sizeof(*a));
    await(a, store_redis_cmd(redis, argc, argv, NULL, on_cmd, a), argv[0]);
    return a->str;
}

void
flush(void)
{
    ans a;
    cmd(&a, 1, "FLUSHALL");
}

/* The node record of exec's node i. */
store_node_rec
node(const char *exec, unsigned i)
{
    char key[STORE_KEY_MAX], f[16];
    store_key_exec(key, exec);
    snprintf(f, sizeof(f), "%u", i);
    ans a;
    const char *v = cmd(&a, 3, "HGET", key, f);
    store_node_rec r = {0};
    if (!store_state_node_rec_parse(v, strlen(v), &r))
        fail_msg("node %u of %s: record \"%s\" does not parse", i, exec, v);
    return r;
}

int
exec_phase(const char *exec)
{
    char key[STORE_KEY_MAX];
    store_key_exec(key, exec);
    ans a;
    return atoi(cmd(&a, 3, "HGET", key, "ph"));
}

bool
in_zset(const char *key, const char *exec, unsigned n, unsigned att)
{
    char m[STORE_KEY_MAX];
    store_member(m, exec, n, att);
    ans a;
    cmd(&a, 3, "ZSCORE", key, m);
    return !a.nil;
}
