/*
 * floe_metrics_proc — the process's own metrics under the names every Prometheus client
 * library uses (process_*), so the usual dashboards and alerts (CPU, memory, file
 * descriptors running out, restarts through the start time) work on Floe unchanged.
 * Read from /proc when /metrics is rendered: nothing to keep up to date.
 */
#include "floe_metrics.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* /proc/self/stat's fields after the command name (which may hold spaces and ')'). */
static int
self_stat(unsigned long long *utime, unsigned long long *stime, unsigned long long *start,
          unsigned long long *vsize, long long *rss)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "re");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    /* state is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24 */
    int got = sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                     "%*d %llu %llu %lld",
                     utime, stime, start, vsize, rss);
    return got == 5 ? 0 : -1;
}

/* The boot time does not change: read once. */
static long long
boot_time(void)
{
    static _Atomic long long cached; /* scraped from any thread */
    if (cached > 0)
        return cached;
    char line[256];
    long long bt = 0;
    FILE *f = fopen("/proc/stat", "re");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "btime %lld", &bt) == 1)
            break;
    fclose(f);
    cached = bt;
    return bt;
}

static long
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

void
floe_metrics_render_process(FILE *out)
{
    unsigned long long ut, st, start, vsize;
    long long rss;
    double tick = (double)sysconf(_SC_CLK_TCK);
    if (self_stat(&ut, &st, &start, &vsize, &rss) == 0 && tick > 0) {
        fprintf(out,
                "# HELP process_cpu_seconds_total user and system CPU time spent\n"
                "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n",
                (double)(ut + st) / tick);
        fprintf(out,
                "# HELP process_resident_memory_bytes resident memory size\n"
                "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n",
                rss * (long long)sysconf(_SC_PAGESIZE));
        fprintf(out,
                "# HELP process_virtual_memory_bytes virtual memory size\n"
                "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n",
                vsize);
        long long bt = boot_time();
        if (bt > 0)
            fprintf(out,
                    "# HELP process_start_time_seconds start time since the epoch\n"
                    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
                    (double)bt + (double)start / tick);
    }
    long fds = open_fds();
    if (fds >= 0)
        fprintf(out,
                "# HELP process_open_fds open file descriptors\n"
                "# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
                fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        fprintf(out,
                "# HELP process_max_fds the limit of open file descriptors\n"
                "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
                (unsigned long long)rl.rlim_cur);
}
