#include "it_util.h"

#include "floe_time.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>

extern char **environ;

floe_config *
it_config(const char *program, const char *const *overrides, size_t n)
{
    floe_config_source src = {
        .program = program, .env = environ, .overrides = overrides, .n_overrides = n};
    floe_config *cfg = NULL;
    floe_config_report report;
    if (floe_config_load(&src, &cfg, &report) != FLOE_OK)
        fail_msg("configuration: %s", report.text);
    return cfg;
}

static void
it_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

void
it_wait(struct event_base *base, bool (*cond)(void *arg), void *arg, int timeout_ms,
        const char *what)
{
    /* A 5 ms tick makes EVLOOP_ONCE return regularly so the deadline is checked. */
    struct event *tick = event_new(base, -1, EV_PERSIST, it_tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(tick, &tv);
    int64_t deadline = floe_mono_us() + (int64_t)timeout_ms * 1000;
    bool ok;
    while (!(ok = cond(arg)) && floe_mono_us() < deadline)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(tick);
    if (!ok)
        fail_msg("timed out after %d ms waiting for %s", timeout_ms, what);
}
