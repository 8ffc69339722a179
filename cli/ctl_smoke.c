/*
 * floectl smoke — sends N probe messages one at a time to <prefix>.smoke and waits for
 * each to come back through a fresh consumer group, timing every round trip (producer →
 * broker → consumer). Proves the bus adapter, the broker and the consumer group work, and
 * prints what a hop costs.
 */
#include "ctl.h"

#include "floe_bus.h"
#include "floe_log.h"
#include "floe_mem.h"
#include "floe_time.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

typedef struct smoke {
    struct event_base *base;
    floe_bus *bus;
    char topic[128];
    char run_id[FLOE_ID_LEN + 1];
    uint64_t n, sent, got;
    int64_t sent_at_us;
    int64_t *rtt_us;
    int64_t started_us;
    const char *failure;
} smoke;

void
ctl_smoke_help(FILE *out)
{
    fputs("usage: floectl smoke [--count N] [--timeout SECONDS] [-o table|json]\n"
          "Sends N (default 20, at most 100000) probe messages through Kafka topic\n"
          "<prefix>.smoke one at a time and receives each through a new consumer group,\n"
          "then prints round-trip latencies. Exit 0 when all came back in time.\n",
          out);
}

static void
smoke_send_next(smoke *s)
{
    Floe__Smoke m = FLOE__SMOKE__INIT;
    m.seq = s->sent;
    m.run_id = s->run_id;
    floe_err err;
    s->sent_at_us = floe_mono_us();
    if (floe_bus_produce(s->bus, s->topic, s->run_id, strlen(s->run_id),
                         FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE, &m.base, NULL, NULL,
                         &err) != FLOE_OK) {
        fprintf(stderr, "floectl smoke: %s\n", err.msg);
        s->failure = "produce failed";
        event_base_loopbreak(s->base);
        return;
    }
    s->sent++;
}

static void
smoke_on_message(floe_bus *bus, const floe_bus_msg *msg, void *arg)
{
    smoke *s = arg;
    floe_bus_ack(bus, &msg->pos);
    if (msg->env->type != FLOE__MESSAGE_TYPE__MESSAGE_TYPE_SMOKE)
        return;
    const Floe__Smoke *m = (const Floe__Smoke *)msg->env->msg;
    if (strcmp(m->run_id, s->run_id) != 0 || m->seq + 1 != s->sent)
        return; /* an older run's probe, or a redelivery */
    s->rtt_us[s->got++] = floe_mono_us() - s->sent_at_us;
    if (s->got == s->n)
        event_base_loopbreak(s->base);
    else
        smoke_send_next(s);
}

static void
smoke_on_delivered(floe_bus *bus, void *opaque, floe_rc rc, const char *reason, void *arg)
{
    (void)bus;
    (void)opaque;
    smoke *s = arg;
    if (rc != FLOE_OK) {
        fprintf(stderr, "floectl smoke: delivery failed: %s\n", reason);
        s->failure = "delivery failed";
        event_base_loopbreak(s->base);
    }
}

static void
smoke_on_rebalance(floe_bus *bus, bool assigned, int n, void *arg)
{
    (void)bus;
    (void)n;
    smoke *s = arg;
    if (assigned && s->sent == 0)
        smoke_send_next(s);
}

static void
smoke_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    smoke *s = arg;
    s->failure = "timed out";
    event_base_loopbreak(s->base);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double
pct_ms(const int64_t *sorted, uint64_t n, double p)
{
    uint64_t i = (uint64_t)(p * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

int
ctl_smoke(const ctl_ctx *ctx, int argc, char **argv)
{
    long count = 20, timeout_s = 60;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = strtol(argv[++i], &end, 10);
            if (*end != '\0' || count < 1 || count > 100000) {
                fprintf(stderr, "floectl smoke: --count: expected 1..100000\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout_s = strtol(argv[++i], &end, 10);
            if (*end != '\0' || timeout_s < 1 || timeout_s > 3600) {
                fprintf(stderr, "floectl smoke: --timeout: expected 1..3600 seconds\n");
                return 2;
            }
        } else {
            fprintf(stderr, "floectl smoke: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }

    int rc = 1;
    smoke s;
    memset(&s, 0, sizeof(s));
    s.n = (uint64_t)count;
    struct event *timer = NULL;
    char group[64];
    floe_err err;
    if (floe_id_new(s.run_id) != 0 ||
        floe_config_topic(ctx->cfg, "smoke", s.topic, sizeof(s.topic)) != FLOE_OK) {
        fprintf(stderr, "floectl smoke: cannot prepare the run\n");
        return 1;
    }
    snprintf(group, sizeof(group), "floectl-smoke-%s", s.run_id);
    s.rtt_us = floe_calloc(s.n, sizeof(*s.rtt_us));
    s.base = event_base_new();
    if (s.rtt_us == NULL || s.base == NULL) {
        fprintf(stderr, "floectl smoke: out of memory\n");
        goto out;
    }
    floe_bus_callbacks cb = {.on_message = smoke_on_message,
                             .on_delivered = smoke_on_delivered,
                             .on_rebalance = smoke_on_rebalance,
                             .arg = &s};
    s.bus = floe_bus_new(s.base, ctx->cfg, &cb, &err);
    const char *topics[] = {s.topic};
    if (s.bus == NULL || floe_bus_subscribe(s.bus, group, topics, 1, &err) != FLOE_OK) {
        fprintf(stderr, "floectl smoke: %s\n", err.msg);
        goto out;
    }
    timer = evtimer_new(s.base, smoke_timeout, &s);
    struct timeval tv = {timeout_s, 0};
    if (timer == NULL || evtimer_add(timer, &tv) != 0)
        goto out;
    s.started_us = floe_mono_us();
    event_base_dispatch(s.base);

    if (s.failure != NULL) {
        fprintf(stderr, "floectl smoke: %s after %llu of %llu round trips (brokers %s, topic %s)\n",
                s.failure, (unsigned long long)s.got, (unsigned long long)s.n,
                ctx->cfg->kafka_brokers, s.topic);
        goto out;
    }
    double total_s = (double)(floe_mono_us() - s.started_us) / 1e6;
    qsort(s.rtt_us, s.n, sizeof(*s.rtt_us), cmp_i64);
    double p50 = pct_ms(s.rtt_us, s.n, 0.50), p99 = pct_ms(s.rtt_us, s.n, 0.99);
    double max = (double)s.rtt_us[s.n - 1] / 1000.0;
    if (ctx->output == CTL_OUT_JSON) {
        printf("{\"ok\":true,\"brokers\":\"%s\",\"topic\":\"%s\",\"messages\":%llu,"
               "\"rtt_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"total_s\":%.3f}\n",
               ctx->cfg->kafka_brokers, s.topic, (unsigned long long)s.n, p50, p99, max, total_s);
    } else {
        printf("smoke: %llu messages round-tripped through Kafka %s, topic %s, new group\n"
               "  round trip (produce -> broker -> consume): p50 %.3f ms  p99 %.3f ms  "
               "max %.3f ms\n  total %.2f s (includes joining the consumer group)\n",
               (unsigned long long)s.n, ctx->cfg->kafka_brokers, s.topic, p50, p99, max, total_s);
    }
    rc = 0;
out:
    if (timer != NULL)
        event_free(timer);
    floe_bus_free(s.bus);
    if (s.base != NULL)
        event_base_free(s.base);
    floe_free(s.rtt_us);
    return rc;
}
