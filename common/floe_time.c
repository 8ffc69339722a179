#include "floe_time.h"

#include <stdio.h>
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

int
floe_id_new(char out[FLOE_ID_LEN + 1])
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char rnd[10];
    size_t got = 0;
    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (n == -1)
            return -1;
        got += (size_t)n;
    }
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
