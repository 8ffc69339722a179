/* Unit tests of floe_log: level filtering before evaluation, logfmt quoting, JSON validity,
 * context keys, truncation. Lines are captured through a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "floe_log.h"

#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

static int fds[2];
static char line[16384];

static int
setup(void **state)
{
    (void)state;
    if (pipe2(fds, O_NONBLOCK) == -1)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    close(fds[0]);
    close(fds[1]);
    floe_log_setup(FLOE_LOG_INFO, FLOE_LOG_LOGFMT, 2);
    return 0;
}

/* Everything written since the last call. */
static const char *
captured(void)
{
    ssize_t n = read(fds[0], line, sizeof(line) - 1);
    line[n > 0 ? n : 0] = '\0';
    return line;
}

static int evaluated;

static int
side_effect(void)
{
    evaluated++;
    return 1;
}

static void
test_level_checked_before_arguments(void **state)
{
    (void)state;
    floe_log_setup(FLOE_LOG_INFO, FLOE_LOG_LOGFMT, fds[1]);
    evaluated = 0;
    floe_log_debug(NULL, "hidden %d", side_effect());
    assert_int_equal(evaluated, 0);
    assert_string_equal(captured(), "");
    floe_log_warn(NULL, "shown %d", side_effect());
    assert_int_equal(evaluated, 1);
    assert_non_null(strstr(captured(), "level=warn msg=\"shown 1\""));
}

static void
test_logfmt_context_and_quoting(void **state)
{
    (void)state;
    floe_log_setup(FLOE_LOG_DEBUG, FLOE_LOG_LOGFMT, fds[1]);
    floe_log_ctx ctx = {.comp = "engine", .exec = "ex1", .node = "train", .attempt = 2, .epoch = 7};
    floe_log_info(&ctx, "node \"train\" ready\nnext=1");
    const char *l = captured();
    assert_memory_equal(l, "ts=", 3);
    assert_non_null(strstr(l, " level=info comp=engine msg=\"node \\\"train\\\" ready\\nnext=1\""
                              " exec=ex1 node=train attempt=2 epoch=7\n"));
    assert_int_equal(strchr(l, '\n') - l + 1, (long)strlen(l)); /* exactly one line */
    floe_log_info(NULL, "plain");
    assert_non_null(strstr(captured(), " level=info msg=plain\n"));
}

static void
test_json_is_valid(void **state)
{
    (void)state;
    floe_log_setup(FLOE_LOG_DEBUG, FLOE_LOG_JSON, fds[1]);
    floe_log_ctx ctx = {.comp = "bus", .exec = "e\"x", .attempt = 3};
    floe_log_error(&ctx, "tab\there \x01 ctl and \xc3\xa9");
    json_error_t jerr;
    json_t *j = json_loads(captured(), 0, &jerr);
    if (j == NULL)
        fail_msg("not JSON: %s: %s", jerr.text, line);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
    assert_string_equal(json_string_value(json_object_get(j, "comp")), "bus");
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "tab\there \x01 ctl and \xc3\xa9");
    assert_string_equal(json_string_value(json_object_get(j, "exec")), "e\"x");
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 3);
    assert_null(json_object_get(j, "node"));
    json_decref(j);
}

static void
test_long_message_truncated_to_one_line(void **state)
{
    (void)state;
    floe_log_setup(FLOE_LOG_DEBUG, FLOE_LOG_LOGFMT, fds[1]);
    char big[10000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    floe_log_info(NULL, "%s", big);
    const char *l = captured();
    assert_true(strlen(l) < 4200);
    assert_non_null(strstr(l, "...\n"));
    assert_int_equal(strchr(l, '\n') - l + 1, (long)strlen(l));
}

static void
test_level_names(void **state)
{
    (void)state;
    floe_log_level lvl;
    assert_int_equal(floe_log_level_parse("warn", &lvl), FLOE_OK);
    assert_int_equal(lvl, FLOE_LOG_WARN);
    assert_int_equal(floe_log_level_parse("WARN", &lvl), FLOE_EINVAL);
    assert_string_equal(floe_log_level_name(FLOE_LOG_DEBUG), "debug");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_level_checked_before_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_logfmt_context_and_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_is_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_message_truncated_to_one_line, setup, teardown),
        cmocka_unit_test(test_level_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
