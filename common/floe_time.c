#include "floe_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t
floe_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
floe_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
floe_time_format(int64_t unix_us, char *buf, size_t size)
{
    time_t secs = (time_t)(unix_us / 1000000);
    int ms = (int)((unix_us % 1000000) / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, size, "invalid-time");
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

/* Random bytes for ids, read from getrandom(2) a block at a time per thread: every
 * message's envelope takes an id, and one system call each was ~10 an execution in the
 * scheduler (issue 25). A fork's child starts a block of its own (the generation), so
 * parent and child never hand out the same bytes. */
#define RND_BLOCK 320

static unsigned rnd_generation;
static pthread_once_t rnd_once = PTHREAD_ONCE_INIT;

static void
rnd_forked(void)
{
    __atomic_add_fetch(&rnd_generation, 1, __ATOMIC_RELAXED);
}

static void
rnd_init(void)
{
    pthread_atfork(NULL, NULL, rnd_forked);
}

static int
rnd_take(unsigned char *out, size_t len)
{
    static __thread unsigned char block[RND_BLOCK];
    static __thread size_t left;
    static __thread unsigned generation;
    pthread_once(&rnd_once, rnd_init);
    unsigned now = __atomic_load_n(&rnd_generation, __ATOMIC_RELAXED);
    if (generation != now) {
        left = 0;
        generation = now;
    }
    if (left < len) {
        size_t got = 0;
        while (got < sizeof(block)) {
            ssize_t n = getrandom(block + got, sizeof(block) - got, 0);
            if (n == -1 && errno != EINTR)
                return -1;
            got += n > 0 ? (size_t)n : 0;
        }
        left = sizeof(block);
    }
    unsigned char *from = block + sizeof(block) - left;
    memcpy(out, from, len);
    memset(from, 0, len); /* handed out once */
    left -= len;
    return 0;
}

int
floe_random_bytes(void *out, size_t len)
{
    return len <= RND_BLOCK ? rnd_take(out, len) : -1;
}

int
floe_id_new(char out[FLOE_ID_LEN + 1])
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char rnd[10];
    if (rnd_take(rnd, sizeof(rnd)) != 0)
        return -1;
    uint64_t ms = (uint64_t)(floe_now_us() / 1000);
    /* 10 characters of time (50 bits, top 2 always 0 for 48-bit ms). */
    for (int i = 9; i >= 0; i--) {
        out[i] = b32[ms & 31];
        ms >>= 5;
    }
    /* 16 characters of randomness: 80 bits, 5 at a time. */
    unsigned bitpos = 0;
    for (int i = 0; i < 16; i++) {
        unsigned v = 0;
        for (int b = 0; b < 5; b++, bitpos++)
            v = (v << 1) | ((rnd[bitpos / 8] >> (7 - bitpos % 8)) & 1u);
        out[10 + i] = b32[v];
    }
    out[FLOE_ID_LEN] = '\0';
    return 0;
}
