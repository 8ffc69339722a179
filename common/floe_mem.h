/*
 * floe_mem — allocation wrappers. All Floe code allocates through these so that tests can
 * make the Nth allocation fail (SQLite-style OOM testing) and prove every error path
 * frees what it took. The hook exists only in FLOE_TESTING builds.
 */
#ifndef FLOE_MEM_H
#define FLOE_MEM_H

#include <stddef.h>

void *floe_malloc(size_t n);
void *floe_calloc(size_t count, size_t n);
void *floe_realloc(void *p, size_t n);
char *floe_strdup(const char *s);
char *floe_strndup(const char *s, size_t n);
void floe_free(void *p);

/* Free *pp and set it to NULL (HAProxy's ha_free()). */
#define floe_free_clear(pp)                                                                        \
    do {                                                                                           \
        floe_free(*(pp));                                                                          \
        *(pp) = NULL;                                                                              \
    } while (0)

#ifdef FLOE_TESTING
/* Make the nth allocation from now fail (1 = the next one), and every later one while
 * `sticky`; 0 disables. Returns how many allocations were made since the last call. */
unsigned long floe_mem_fail_at(unsigned long nth, int sticky);
#endif

#endif
