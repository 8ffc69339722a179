#include "floe_notify.h"

#include "floe_mem.h"
#include "floe_text.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct floe_notify {
    struct sockaddr_un addr;
    socklen_t addr_len; /* 0: not under systemd */
    int fd;
    int64_t watchdog_us;
    struct event *ping;
    struct event_base *base;
};

static void
send_state(floe_notify *n, const char *text)
{
    if (n == NULL || n->addr_len == 0 || n->fd < 0)
        return;
    /* A datagram either goes whole or not at all; systemd reads it at its pace. */
    (void)sendto(n->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT,
                 (const struct sockaddr *)&n->addr, n->addr_len);
}

static void
on_ping(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_state(arg, "WATCHDOG=1");
}

floe_notify *
floe_notify_new(struct event_base *base)
{
    floe_notify *n = floe_calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->fd = -1;
    n->base = base;
    const char *path = getenv("NOTIFY_SOCKET");
    size_t len = path != NULL ? strlen(path) : 0;
    /* A path, or an abstract name written with a leading '@'. */
    if (len > 0 && len < sizeof(n->addr.sun_path) && (path[0] == '/' || path[0] == '@')) {
        n->addr.sun_family = AF_UNIX;
        memcpy(n->addr.sun_path, path, len);
        if (path[0] == '@')
            n->addr.sun_path[0] = '\0';
        n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    const char *wd = getenv("WATCHDOG_USEC"), *wd_pid = getenv("WATCHDOG_PID");
    long long us = wd != NULL ? strtoll(wd, NULL, 10) : 0;
    /* WATCHDOG_PID names the process systemd watches: not a child that inherited it. */
    if (us > 0 && (wd_pid == NULL || strtoll(wd_pid, NULL, 10) == (long long)getpid()))
        n->watchdog_us = us;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return n;
}

void
floe_notify_free(floe_notify *n)
{
    if (n == NULL)
        return;
    if (n->ping != NULL)
        event_free(n->ping);
    if (n->fd >= 0)
        close(n->fd);
    floe_free(n);
}

static void
send_with_status(floe_notify *n, const char *first, const char *status)
{
    char buf[512];
    if (status != NULL)
        floe_text_fmt(buf, sizeof(buf), "%s%sSTATUS=%s", first, first[0] ? "\n" : "", status);
    else
        floe_text_fmt(buf, sizeof(buf), "%s", first);
    /* A status is one line. */
    for (char *p = strstr(buf, "STATUS="); p != NULL && *p; p++)
        if (*p == '\n')
            *p = ' ';
    send_state(n, buf);
}

void
floe_notify_ready(floe_notify *n, const char *status)
{
    if (n == NULL)
        return;
    send_with_status(n, "READY=1", status);
    if (n->watchdog_us > 0 && n->addr_len > 0 && n->ping == NULL && n->base != NULL) {
        int64_t half = n->watchdog_us / 2;
        struct timeval tv = {(time_t)(half / 1000000), (suseconds_t)(half % 1000000)};
        n->ping = event_new(n->base, -1, EV_PERSIST, on_ping, n);
        if (n->ping != NULL)
            event_add(n->ping, &tv);
        send_state(n, "WATCHDOG=1");
    }
}

void
floe_notify_stopping(floe_notify *n, const char *status)
{
    send_with_status(n, "STOPPING=1", status);
}

void
floe_notify_status(floe_notify *n, const char *status)
{
    send_with_status(n, "", status);
}

int64_t
floe_notify_watchdog_us(const floe_notify *n)
{
    return n != NULL ? n->watchdog_us : 0;
}
