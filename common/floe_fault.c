#include "floe_fault.h"

#ifdef FLOE_TESTING

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static char fault_name[128];
static atomic_long fault_left;

static void
fault_init(void)
{
    const char *n = getenv("FLOE_FAULT_POINT");
    const char *after = getenv("FLOE_FAULT_AFTER");
    if (n != NULL && strlen(n) < sizeof(fault_name))
        strcpy(fault_name, n);
    long a = after != NULL ? strtol(after, NULL, 10) : 1;
    atomic_store(&fault_left, a > 0 ? a : 1);
}

void
floe_fault_point(const char *name)
{
    pthread_once(&fault_once, fault_init);
    if (fault_name[0] == '\0' || strcmp(fault_name, name) != 0)
        return;
    if (atomic_fetch_sub(&fault_left, 1) == 1) {
        /* As kill -9 would: no handler, no flush, no atexit. */
        static const char msg[] = "floe: crash point reached: SIGKILL\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        kill(getpid(), SIGKILL);
    }
}

#endif
