#include "floe_mem.h"

#include <stdlib.h>
#include <string.h>

#ifdef FLOE_TESTING
/* Test builds only. Atomic because pool threads allocate too; failure injection itself is
 * meant for single-threaded unit tests. */
static _Atomic unsigned long mem_count;
static _Atomic unsigned long mem_fail_nth;
static _Atomic int mem_fail_sticky;

unsigned long
floe_mem_fail_at(unsigned long nth, int sticky)
{
    unsigned long made = mem_count;
    mem_count = 0;
    mem_fail_nth = nth;
    mem_fail_sticky = sticky;
    return made;
}

static int
mem_should_fail(void)
{
    unsigned long n = ++mem_count, nth = mem_fail_nth;
    if (nth == 0)
        return 0;
    return n == nth || (mem_fail_sticky && n > nth);
}
#else
#define mem_should_fail() 0
#endif

void *
floe_malloc(size_t n)
{
    if (mem_should_fail())
        return NULL;
    return malloc(n == 0 ? 1 : n);
}

void *
floe_calloc(size_t count, size_t n)
{
    if (mem_should_fail())
        return NULL;
    return calloc(count == 0 ? 1 : count, n == 0 ? 1 : n);
}

void *
floe_realloc(void *p, size_t n)
{
    if (mem_should_fail())
        return NULL;
    return realloc(p, n == 0 ? 1 : n);
}

char *
floe_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = floe_malloc(len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *
floe_strdup(const char *s)
{
    return floe_strndup(s, strlen(s));
}

void
floe_free(void *p)
{
    free(p);
}
