/*
 * wrk_fence — see wrk_fence.h.
 */
#include "wrk_fence.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

typedef struct fence_entry {
    atomic_int pgid;          /* 0: free */
    atomic_llong deadline_us; /* CLOCK_MONOTONIC */
    atomic_bool killed;
} fence_entry;

static fence_entry fence[WRK_FENCE_MAX];
static atomic_int fence_high; /* entries at or above are free: the handler scans below */
static timer_t fence_timer;
static bool fence_ready;

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Async-signal-safe: clock_gettime, kill and atomics only. */
static void
on_fence_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    int saved = errno;
    int64_t now = mono_us();
    int high = atomic_load(&fence_high);
    for (int i = 0; i < high; i++) {
        pid_t pg = atomic_load(&fence[i].pgid);
        if (pg <= 0 || atomic_load(&fence[i].killed) || atomic_load(&fence[i].deadline_us) > now)
            continue;
        if (kill(-pg, SIGKILL) == 0)
            atomic_store(&fence[i].killed, true);
    }
    errno = saved;
}

/* Arms the timer at the earliest live deadline (or disarms it). A deadline that has
 * passed fires at once: TIMER_ABSTIME with a past time expires immediately. */
static void
arm(void)
{
    int64_t next = 0;
    int high = atomic_load(&fence_high);
    for (int i = 0; i < high; i++) {
        if (atomic_load(&fence[i].pgid) <= 0 || atomic_load(&fence[i].killed))
            continue;
        int64_t d = atomic_load(&fence[i].deadline_us);
        if (next == 0 || d < next)
            next = d;
    }
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (next > 0) {
        its.it_value.tv_sec = next / 1000000;
        its.it_value.tv_nsec = (next % 1000000) * 1000;
    }
    timer_settime(fence_timer, next > 0 ? TIMER_ABSTIME : 0, &its, NULL);
}

floe_rc
wrk_fence_init(floe_err *err)
{
    if (fence_ready)
        return FLOE_OK;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fence_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGRTMIN, &sa, NULL) == -1)
        return floe_err_sys(err, FLOE_EIO, "lease fence: sigaction: %s", strerror(errno));
    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    if (timer_create(CLOCK_MONOTONIC, &sev, &fence_timer) == -1)
        return floe_err_sys(err, FLOE_EIO, "lease fence: timer_create: %s", strerror(errno));
    fence_ready = true;
    return FLOE_OK;
}

int
wrk_fence_add(pid_t pgid, int64_t deadline_us)
{
    if (!fence_ready || pgid <= 0)
        return -1;
    int high = atomic_load(&fence_high);
    int i = 0;
    while (i < high && atomic_load(&fence[i].pgid) != 0)
        i++;
    if (i == WRK_FENCE_MAX)
        return -1;
    /* The deadline before the group: the handler never sees a group with a stale one. */
    atomic_store(&fence[i].killed, false);
    atomic_store(&fence[i].deadline_us, deadline_us);
    atomic_store(&fence[i].pgid, pgid);
    if (i == high)
        atomic_store(&fence_high, high + 1);
    arm();
    return i;
}

void
wrk_fence_move(int entry, int64_t deadline_us)
{
    if (entry < 0 || entry >= WRK_FENCE_MAX)
        return;
    atomic_store(&fence[entry].deadline_us, deadline_us);
    arm();
}

bool
wrk_fence_remove(int entry)
{
    if (entry < 0 || entry >= WRK_FENCE_MAX)
        return false;
    atomic_store(&fence[entry].pgid, 0);
    bool killed = atomic_load(&fence[entry].killed);
    int high = atomic_load(&fence_high);
    while (high > 0 && atomic_load(&fence[high - 1].pgid) == 0)
        high--;
    atomic_store(&fence_high, high);
    arm();
    return killed;
}
