/*
 * floectl admin init — Floe's topics on a production Kafka: created through the Admin API
 * (CreateTopics: partitions, replication factor, min.insync.replicas, retention, unclean
 * election off) where the broker has it, checked against what exists (--check), and, on a
 * broker without it (Kafka 0.9 and 0.10.0, the local stack's), the kafka-topics.sh
 * commands to run instead. Existing topics are never changed: fewer partitions than asked
 * is reported, with the command that adds them.
 */
#include "ctl.h"

#include "floe_kafka.h"
#include "floe_text.h"
#include "floe_value.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_TOPICS_MAX 40
#define ADMIN_TIMEOUT_MS 15000

typedef struct want {
    char name[160];
    int partitions;
    int have_partitions; /* -1: missing */
    int have_replicas;
    const char *status;
} want;

typedef struct plan {
    want t[ADMIN_TOPICS_MAX];
    size_t n;
    int rf, min_insync;
    long long retention_ms;
    const char *zookeeper;
} plan;

void
ctl_admin_help(FILE *out)
{
    fputs("usage: floectl admin init [--check] [--dry-run] [--replication-factor N]\n"
          "       [--min-insync N] [--retention DURATION] [--events-partitions N]\n"
          "       [--tasks-partitions N] [--egress-partitions N] [--zookeeper HOST:PORT]\n"
          "Creates Floe's topics (FLOE_TOPIC_PREFIX's events, tasks.CLASS for each of\n"
          "FLOE_RESOURCE_CLASSES, egress, dlq, smoke) through the Kafka Admin API, with the\n"
          "replication factor (3), min.insync.replicas (2), retention (7d) and unclean leader\n"
          "election off; partitions: events 1 (the leader is its one consumer), tasks 8 (a\n"
          "class never runs more workers than its topic has partitions), egress 4. Existing\n"
          "topics are left as they are.\n"
          "--check creates nothing and exits 1 when a topic is missing or has fewer\n"
          "partitions than asked; --dry-run prints the plan. On a broker without the Admin\n"
          "API (Kafka 0.9, 0.10.0) it prints the kafka-topics.sh commands to run (with\n"
          "--zookeeper, or FLOE_ZOOKEEPER) and exits 1.\n",
          out);
}

static int
add(plan *p, const char *prefix, const char *suffix, int partitions)
{
    if (p->n == ADMIN_TOPICS_MAX)
        return -1;
    want *w = &p->t[p->n++];
    snprintf(w->name, sizeof(w->name), "%s.%s", prefix, suffix);
    w->partitions = partitions;
    w->have_partitions = -1;
    return 0;
}

static int
int_flag(const char *flag, const char *v, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    if (v == NULL || errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "floectl admin init: %s wants a number from %d to %d\n", flag, lo, hi);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* librdkafka's complaints (a broker down, refused), said a few times, not for ever. */
static void
admin_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    static int said;
    if (level <= 4 && said++ < 3)
        fprintf(stderr, "floectl admin init: kafka %s: %s\n", fac, buf);
}

/* What exists: partitions and replicas of each wanted topic. */
static int
describe(rd_kafka_t *rk, plan *p)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, ADMIN_TIMEOUT_MS);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "floectl admin init: Kafka metadata: %s\n", rd_kafka_err2str(e));
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        want *w = &p->t[i];
        w->have_partitions = -1;
        for (int j = 0; j < md->topic_cnt; j++) {
            const rd_kafka_metadata_topic_t *t = &md->topics[j];
            if (strcmp(t->topic, w->name) != 0 || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                continue;
            w->have_partitions = t->partition_cnt;
            w->have_replicas = t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0;
        }
        w->status = w->have_partitions < 0               ? "missing"
                    : w->have_partitions < w->partitions ? "fewer partitions"
                                                         : "ok";
    }
    rd_kafka_metadata_destroy(md);
    return 0;
}

/* CreateTopics for the missing ones; 1 when the broker has no such API. */
static int
create(rd_kafka_t *rk, plan *p)
{
    rd_kafka_NewTopic_t *nt[ADMIN_TOPICS_MAX];
    size_t n = 0;
    char errstr[256], retention[32], insync[16];
    snprintf(retention, sizeof(retention), "%lld", p->retention_ms);
    snprintf(insync, sizeof(insync), "%d", p->min_insync);
    for (size_t i = 0; i < p->n; i++) {
        if (p->t[i].have_partitions >= 0)
            continue;
        nt[n] =
            rd_kafka_NewTopic_new(p->t[i].name, p->t[i].partitions, p->rf, errstr, sizeof(errstr));
        if (nt[n] == NULL) {
            fprintf(stderr, "floectl admin init: %s: %s\n", p->t[i].name, errstr);
            rd_kafka_NewTopic_destroy_array(nt, n);
            return -1;
        }
        rd_kafka_NewTopic_set_config(nt[n], "min.insync.replicas", insync);
        rd_kafka_NewTopic_set_config(nt[n], "retention.ms", retention);
        rd_kafka_NewTopic_set_config(nt[n], "unclean.leader.election.enable", "false");
        n++;
    }
    /* Kafka before 0.10 answers metadata without a controller (Metadata v0), and the Admin
     * API needs one: librdkafka would wait for it until the timeout. */
    if (n == 0 || rd_kafka_controllerid(rk, 5000) < 0) {
        rd_kafka_NewTopic_destroy_array(nt, n);
        return n == 0 ? 0 : 1;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(o, ADMIN_TIMEOUT_MS, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk, nt, n, o, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
    int rc = 0;
    rd_kafka_resp_err_t e = ev == NULL ? RD_KAFKA_RESP_ERR__TIMED_OUT : rd_kafka_event_error(ev);
    if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
        rc = 1;
    } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "floectl admin init: CreateTopics: %s\n",
                ev != NULL ? rd_kafka_event_error_string(ev) : "no answer in time");
        rc = -1;
    } else {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
            if (te == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
                rc = 1;
            else if (te != RD_KAFKA_RESP_ERR_NO_ERROR &&
                     te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fprintf(stderr, "floectl admin init: %s: %s\n", rd_kafka_topic_result_name(res[i]),
                        rd_kafka_topic_result_error_string(res[i]));
                rc = -1;
            }
        }
    }
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, n);
    return rc;
}

/* The commands a broker without the Admin API needs (Kafka 0.9's kafka-topics.sh). */
static void
print_commands(const plan *p)
{
    const char *zk = p->zookeeper != NULL ? p->zookeeper : "ZOOKEEPER:2181";
    fprintf(stderr, "floectl admin init: this broker has no CreateTopics API (Kafka before "
                    "0.10.1); create the topics with:\n");
    for (size_t i = 0; i < p->n; i++) {
        const want *w = &p->t[i];
        if (w->have_partitions < 0)
            printf("kafka-topics.sh --zookeeper %s --create --topic %s --partitions %d "
                   "--replication-factor %d --config min.insync.replicas=%d "
                   "--config retention.ms=%lld --config unclean.leader.election.enable=false\n",
                   zk, w->name, w->partitions, p->rf, p->min_insync, p->retention_ms);
    }
}

static void
print_plan(const ctl_ctx *ctx, const plan *p)
{
    json_t *items = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const want *w = &p->t[i];
        json_array_append_new(
            items, json_pack("{s:s,s:i,s:i,s:i,s:s}", "topic", w->name, "partitions",
                             w->have_partitions < 0 ? 0 : w->have_partitions, "wanted",
                             w->partitions, "replicas",
                             w->have_partitions < 0 ? 0 : w->have_replicas, "status", w->status));
    }
    json_t *out = json_pack("{s:o}", "items", items);
    static const char *const cols[] = {"topic", "partitions", "wanted", "replicas", "status", NULL};
    ctl_print(ctx, out, cols);
    json_decref(out);
}

static int
parse(const ctl_ctx *ctx, int argc, char **argv, plan *p, bool *check, bool *dry)
{
    int events = 1, tasks = 8, egress = 4;
    p->rf = 3;
    p->min_insync = 2;
    p->retention_ms = 7LL * 24 * 3600 * 1000;
    p->zookeeper = getenv("FLOE_ZOOKEEPER");
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (strcmp(a, "--check") == 0)
            *check = true;
        else if (strcmp(a, "--dry-run") == 0)
            *dry = true;
        else if (strcmp(a, "--replication-factor") == 0 && ++i)
            r = int_flag(a, v, 1, 32, &p->rf);
        else if (strcmp(a, "--min-insync") == 0 && ++i)
            r = int_flag(a, v, 1, 32, &p->min_insync);
        else if (strcmp(a, "--events-partitions") == 0 && ++i)
            r = int_flag(a, v, 1, 10000, &events);
        else if (strcmp(a, "--tasks-partitions") == 0 && ++i)
            r = int_flag(a, v, 1, 10000, &tasks);
        else if (strcmp(a, "--egress-partitions") == 0 && ++i)
            r = int_flag(a, v, 1, 10000, &egress);
        else if (strcmp(a, "--zookeeper") == 0 && ++i)
            p->zookeeper = v;
        else if (strcmp(a, "--retention") == 0 && ++i) {
            int64_t us = 0;
            floe_err err = {0};
            if (v == NULL || floe_duration_parse(v, &us, &err) != FLOE_OK || us < 1000) {
                fprintf(stderr, "floectl admin init: --retention wants a duration (7d, 12h)%s%s\n",
                        err.msg[0] ? ": " : "", err.msg);
                return -1;
            }
            p->retention_ms = us / 1000;
        } else {
            fprintf(stderr, "floectl admin init: unknown argument %s (see --help)\n", a);
            return -1;
        }
        if (r != 0 || (p->zookeeper == NULL && strcmp(a, "--zookeeper") == 0))
            return -1;
    }
    if (p->min_insync > p->rf) {
        fprintf(stderr,
                "floectl admin init: --min-insync %d is above the replication factor "
                "%d: no write could succeed\n",
                p->min_insync, p->rf);
        return -1;
    }
    const floe_config *cfg = ctx->cfg;
    const char *prefix = cfg->topic_prefix;
    int bad = add(p, prefix, "events", events);
    char classes[1024];
    snprintf(classes, sizeof(classes), "%s", cfg->resource_classes);
    for (char *save = NULL, *c = strtok_r(classes, ",", &save); c != NULL;
         c = strtok_r(NULL, ",", &save)) {
        char suffix[96];
        snprintf(suffix, sizeof(suffix), "tasks.%s", c);
        bad |= add(p, prefix, suffix, tasks);
    }
    bad |= add(p, prefix, "egress", egress) | add(p, prefix, "dlq", 1) | add(p, prefix, "smoke", 4);
    if (bad) {
        fprintf(stderr, "floectl admin init: more than %d topics\n", ADMIN_TOPICS_MAX);
        return -1;
    }
    return 0;
}

int
ctl_admin(const ctl_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "init") != 0) {
        ctl_admin_help(stderr);
        return CTL_USAGE;
    }
    static plan p;
    bool check = false, dry = false;
    memset(&p, 0, sizeof(p));
    if (parse(ctx, argc, argv, &p, &check, &dry) != 0)
        return CTL_USAGE;
    floe_err err = {0};
    rd_kafka_conf_t *conf = floe_kafka_conf(ctx->cfg, NULL, &err);
    if (conf == NULL) {
        fprintf(stderr, "floectl admin init: %s\n", err.msg);
        return CTL_USAGE;
    }
    rd_kafka_conf_set_log_cb(conf, admin_log);
    char errstr[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "floectl admin init: %s\n", errstr);
        return CTL_FAILED;
    }
    int rc = describe(rk, &p) == 0 ? CTL_OK : CTL_FAILED;
    if (rc == CTL_OK && !check && !dry) {
        int c = create(rk, &p);
        if (c == 1) /* the commands are the output: no table after them */
            print_commands(&p);
        if (c != 0 || describe(rk, &p) != 0)
            rc = CTL_FAILED;
    }
    rd_kafka_destroy(rk);
    if (rc != CTL_OK)
        return rc;
    for (size_t i = 0; i < p.n; i++)
        if (dry && p.t[i].have_partitions < 0)
            p.t[i].status = "to create";
        else if (strcmp(p.t[i].status, "ok") != 0 && !dry)
            rc = CTL_FAILED;
    print_plan(ctx, &p);
    return rc;
}
