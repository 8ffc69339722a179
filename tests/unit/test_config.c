/* Unit tests of floe_config: sources and their order, every invalid entry reported,
 * bounds, redaction, and every allocation failing in turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "floe_config.h"
#include "floe_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *
write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/floe-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static floe_rc
load(const char *file, char **env, const char **flags, size_t n, floe_config **cfg,
     floe_config_report *r)
{
    floe_config_source src = {
        .program = "test", .file = file, .env = env, .overrides = flags, .n_overrides = n};
    return floe_config_load(&src, cfg, r);
}

static void
test_defaults(void **state)
{
    (void)state;
    floe_config *cfg;
    floe_config_report r;
    assert_int_equal(load(NULL, NULL, NULL, 0, &cfg, &r), FLOE_OK);
    assert_int_equal(r.count, 0);
    assert_string_equal(cfg->topic_prefix, "floe");
    assert_string_equal(cfg->api_url, "http://127.0.0.1:8780");
    assert_int_equal(cfg->kafka_session_timeout_ms, 10000);
    assert_int_equal(cfg->bus_max_message_bytes, 1024 * 1024);
    assert_int_equal(cfg->lp_retention_ms, 7LL * 24 * 3600 * 1000); /* "7d" */
    assert_int_equal(cfg->log_level, FLOE_LOG_INFO);
    assert_string_equal(cfg->producer_name, "test");
    char topic[64];
    assert_int_equal(floe_config_topic(cfg, "events", topic, sizeof(topic)), FLOE_OK);
    assert_string_equal(topic, "floe.events");
    assert_int_equal(floe_config_topic(cfg, "events", topic, 5), FLOE_ETOOBIG);
    floe_config_free(cfg);
}

static void
test_precedence_file_env_flags(void **state)
{
    (void)state;
    char *file = write_temp("# comment\n\nkafka.brokers = file:1\n"
                            "topic.prefix = \"fromfile\"\nlog.level=debug\n");
    char *env[] = {"FLOE_KAFKA_BROKERS=env:2", "FLOE_LOG_LEVEL=warn", "OTHER=x", NULL};
    const char *flags[] = {"log.level=error", "kafka.session_timeout=6s"};
    floe_config *cfg;
    floe_config_report r;
    assert_int_equal(load(file, env, flags, 2, &cfg, &r), FLOE_OK);
    assert_string_equal(cfg->kafka_brokers, "env:2");   /* env beats file */
    assert_string_equal(cfg->topic_prefix, "fromfile"); /* file beats default */
    assert_int_equal(cfg->log_level, FLOE_LOG_ERROR);   /* flag beats env */
    assert_int_equal(cfg->kafka_session_timeout_ms, 6000);
    floe_config_free(cfg);
    unlink(file);
}

static void
test_file_from_env_variable(void **state)
{
    (void)state;
    char *file = write_temp("bus.batch_max = 7\n");
    char var[128];
    snprintf(var, sizeof(var), "FLOE_CONFIG=%s", file);
    char *env[] = {var, NULL};
    floe_config *cfg;
    floe_config_report r;
    assert_int_equal(load(NULL, env, NULL, 0, &cfg, &r), FLOE_OK);
    assert_int_equal(cfg->bus_batch_max, 7);
    floe_config_free(cfg);
    unlink(file);
}

static void
test_every_invalid_entry_reported(void **state)
{
    (void)state;
    char *file = write_temp("kafka.brokers = ok:1\n"
                            "no.such.key = 1\n"
                            "bus.batch_max = many\n"
                            "log.format = xml\n"
                            "just some words\n");
    char *env[] = {"FLOE_KAFKA_SESSION_TIMEOUT=500ms", "FLOE_TOPIC_PREFIX=Bad!", NULL};
    const char *flags[] = {"bus.max_message_bytes=17MiB", "nokey", "resource.classes=a,,b"};
    floe_config *cfg = (floe_config *)0x1;
    floe_config_report r;
    assert_int_equal(load(file, env, flags, 3, &cfg, &r), FLOE_EINVAL);
    assert_null(cfg);
    assert_int_equal(r.count, 9);
    char where[128];
    snprintf(where, sizeof(where), "%s:2: unknown setting \"no.such.key\"", file);
    assert_non_null(strstr(r.text, where));
    snprintf(where, sizeof(where), "%s:3: bus.batch_max: expected an integer", file);
    assert_non_null(strstr(r.text, where));
    snprintf(where, sizeof(where), "%s:4: log.format: expected one of logfmt, json", file);
    assert_non_null(strstr(r.text, where));
    snprintf(where, sizeof(where), "%s:5: expected `key = value`", file);
    assert_non_null(strstr(r.text, where));
    assert_non_null(strstr(r.text, "environment FLOE_KAFKA_SESSION_TIMEOUT: 500 is outside "
                                   "1000..300000"));
    assert_non_null(strstr(r.text, "environment FLOE_TOPIC_PREFIX: \"Bad!\" must start with a "
                                   "lower-case letter"));
    assert_non_null(strstr(r.text, "flag bus.max_message_bytes: 17825792 is outside"));
    assert_non_null(strstr(r.text, "flag \"nokey\": unknown setting"));
    assert_non_null(strstr(r.text, "flag resource.classes: names are 1 to 32 characters"));
    unlink(file);
}

static void
test_missing_file_reported(void **state)
{
    (void)state;
    floe_config *cfg;
    floe_config_report r;
    assert_int_equal(load("/nonexistent/floe.conf", NULL, NULL, 0, &cfg, &r), FLOE_EINVAL);
    assert_non_null(strstr(r.text, "config file /nonexistent/floe.conf: cannot open"));
}

static void
test_values_and_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *flag;
        int ok;
    } cases[] = {
        {"kafka.session_timeout=1000", 1},
        {"kafka.session_timeout=999", 0},
        {"kafka.session_timeout=5m", 1},
        {"kafka.session_timeout=6m", 0},
        {"kafka.session_timeout=5 s", 0},
        {"kafka.session_timeout=-5s", 0},
        {"kafka.linger=0ms", 1},
        {"bus.max_message_bytes=1024", 1},
        {"bus.max_message_bytes=1023", 0},
        {"bus.max_message_bytes=16MiB", 1},
        {"bus.max_message_bytes=1x", 0},
        {"bus.batch_max=99999999999999999999", 0},
        {"bus.batch_max= 5", 0},
        {"bus.batch_max=100000", 1},
        {"topic.prefix=a", 1},
        {"topic.prefix=", 0},
        {"topic.prefix=abcdefghijabcdefghijabcdefghijabc", 0},
        {"resource.classes=cpu,gpu-big", 1},
        {"resource.classes=cpu,GPU", 0},
        {"kafka.properties=a=b,c=d", 1},
        {"kafka.properties=a", 0},
        {"kafka.properties=", 1},
        {"api.url=https://x", 1},
        {"api.url=ftp://x", 0},
        {"api.url=https://", 0},
        {"log.level=debug", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        floe_config *cfg = NULL;
        floe_config_report r;
        const char *flags[] = {cases[i].flag};
        floe_rc rc = load(NULL, NULL, flags, 1, &cfg, &r);
        if (cases[i].ok != (rc == FLOE_OK))
            fail_msg("case %s: expected %s, got %s (%s)", cases[i].flag,
                     cases[i].ok ? "ok" : "an error", floe_rc_name(rc), r.text);
        floe_config_free(cfg);
    }
}

static void
test_print_redacts_passwords(void **state)
{
    (void)state;
    /* Review M14: a password with '@' in it, and secrets in kafka.properties. */
    const char *flags[] = {"postgres.url=postgresql://floe:hun@ter2@db:5432/floe",
                           "redis.url=redis://:s3cret@cache:6379",
                           "kafka.properties=security.protocol=SASL_SSL,sasl.password=pw9,"
                           "ssl.key.password=kp7,linger.ms=5"};
    floe_config *cfg;
    floe_config_report r;
    assert_int_equal(load(NULL, NULL, flags, 3, &cfg, &r), FLOE_OK);
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    floe_config_print(cfg, f);
    fclose(f);
    assert_null(strstr(buf, "ter2"));
    assert_null(strstr(buf, "s3cret"));
    assert_null(strstr(buf, "pw9"));
    assert_null(strstr(buf, "kp7"));
    assert_non_null(strstr(buf, "kafka.properties = security.protocol=SASL_SSL,sasl.password=***,"
                                "ssl.key.password=***,linger.ms=5"));
    assert_non_null(strstr(buf, "postgres.url = postgresql://floe:***@db:5432/floe"));
    assert_non_null(strstr(buf, "redis.url = redis://:***@cache:6379"));
    assert_non_null(strstr(buf, "kafka.session_timeout = 10000ms"));
    floe_config_free(cfg);
    /* A password as a url's query parameter: hidden, the parameters after it kept. */
    const char *query[] = {"postgres.url=postgresql://floe@db/floe?sslmode=verify-full&"
                           "password=hunter2&sslrootcert=/etc/ca.pem"};
    assert_int_equal(load(NULL, NULL, query, 1, &cfg, &r), FLOE_OK);
    memset(buf, 0, sizeof(buf));
    f = fmemopen(buf, sizeof(buf) - 1, "w");
    floe_config_print(cfg, f);
    fclose(f);
    assert_null(strstr(buf, "hunter2"));
    assert_non_null(strstr(buf, "postgres.url = postgresql://floe@db/floe?sslmode=verify-full&"
                                "password=***&sslrootcert=/etc/ca.pem"));
    floe_config_free(cfg);
}

static void
test_every_allocation_failure(void **state)
{
    (void)state;
    char *file = write_temp("kafka.brokers = a:1\ntopic.prefix = x\n");
    char *env[] = {"FLOE_REDIS_URL=redis://h:1", NULL};
    const char *flags[] = {"api.url=http://h:2"};
    unsigned long n;
    for (n = 1; n < 1000; n++) {
        floe_config *cfg = NULL;
        floe_config_report r;
        floe_mem_fail_at(n, 0);
        floe_rc rc = load(file, env, flags, 1, &cfg, &r);
        unsigned long made = floe_mem_fail_at(0, 0);
        if (rc == FLOE_OK) {
            assert_true(made < n); /* the failure point was never reached */
            assert_string_equal(cfg->api_url, "http://h:2");
            floe_config_free(cfg);
            break;
        }
        assert_int_equal(rc, FLOE_ENOMEM);
        assert_null(cfg);
        assert_non_null(strstr(r.text, "out of memory"));
    }
    assert_true(n > 5 && n < 1000);
    unlink(file);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence_file_env_flags),
        cmocka_unit_test(test_file_from_env_variable),
        cmocka_unit_test(test_every_invalid_entry_reported),
        cmocka_unit_test(test_missing_file_reported),
        cmocka_unit_test(test_values_and_bounds),
        cmocka_unit_test(test_print_redacts_passwords),
        cmocka_unit_test(test_every_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
