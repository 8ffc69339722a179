#include "floe_metrics.h"

#include "floe_mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>

/* Histogram bucket bounds per scale, in microseconds (rendered in seconds). */
static const int64_t hist_bounds_us[2][FLOE_HIST_BUCKETS] = {
    {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
     2500000, 10000000},
    {100000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 120000000, 300000000,
     600000000, 1800000000, 3600000000LL, 7200000000LL, 21600000000LL, 86400000000LL},
};

struct floe_metric {
    struct floe_metric *next; /* in its family */
    char *labels;
    const int64_t *bounds;                      /* histogram: its family's scale */
    _Atomic int64_t value;                      /* counter, gauge; histogram: count */
    _Atomic int64_t sum_us;                     /* histogram */
    _Atomic int64_t buckets[FLOE_HIST_BUCKETS]; /* histogram: not cumulative */
};

typedef struct metric_family {
    struct metric_family *next;
    char *name;
    char *help;
    int is_gauge; /* 0 counter, 1 gauge, 2 histogram */
    floe_hist_scale scale;
    floe_metric *series, *last;
} metric_family;

struct floe_metrics {
    pthread_mutex_t lock;
    metric_family *families, *last;
    bool process; /* floe_metrics_process */
};

floe_metrics *
floe_metrics_new(void)
{
    floe_metrics *m = floe_calloc(1, sizeof(*m));
    if (m != NULL)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void
floe_metrics_free(floe_metrics *m)
{
    if (m == NULL)
        return;
    metric_family *f = m->families;
    while (f != NULL) {
        metric_family *fnext = f->next;
        floe_metric *s = f->series;
        while (s != NULL) {
            floe_metric *snext = s->next;
            floe_free(s->labels);
            floe_free(s);
            s = snext;
        }
        floe_free(f->name);
        floe_free(f->help);
        floe_free(f);
        f = fnext;
    }
    pthread_mutex_destroy(&m->lock);
    floe_free(m);
}

static floe_metric *
metrics_get(floe_metrics *m, const char *name, const char *help, const char *labels, int gauge,
            floe_hist_scale scale)
{
    if (m == NULL)
        return NULL;
    if (labels == NULL)
        labels = "";
    floe_metric *s = NULL;
    pthread_mutex_lock(&m->lock);
    metric_family *f;
    for (f = m->families; f != NULL; f = f->next) {
        if (strcmp(f->name, name) == 0)
            break;
    }
    if (f != NULL && f->is_gauge != gauge)
        goto out;
    if (f == NULL) {
        f = floe_calloc(1, sizeof(*f));
        if (f == NULL)
            goto out;
        f->name = floe_strdup(name);
        f->help = floe_strdup(help);
        f->is_gauge = gauge;
        f->scale = scale;
        if (f->name == NULL || f->help == NULL) {
            floe_free(f->name);
            floe_free(f->help);
            floe_free(f);
            goto out;
        }
        if (m->last != NULL)
            m->last->next = f;
        else
            m->families = f;
        m->last = f;
    }
    for (s = f->series; s != NULL; s = s->next) {
        if (strcmp(s->labels, labels) == 0)
            goto out;
    }
    s = floe_calloc(1, sizeof(*s));
    if (s == NULL)
        goto out;
    if ((s->labels = floe_strdup(labels)) == NULL) {
        floe_free_clear(&s);
        goto out;
    }
    s->bounds = hist_bounds_us[f->scale];
    if (f->last != NULL)
        f->last->next = s;
    else
        f->series = s;
    f->last = s;
out:
    pthread_mutex_unlock(&m->lock);
    return s;
}

floe_metric *
floe_metrics_counter(floe_metrics *m, const char *name, const char *help, const char *labels)
{
    return metrics_get(m, name, help, labels, 0, FLOE_HIST_LATENCY);
}

floe_metric *
floe_metrics_gauge(floe_metrics *m, const char *name, const char *help, const char *labels)
{
    return metrics_get(m, name, help, labels, 1, FLOE_HIST_LATENCY);
}

floe_metric *
floe_metrics_histogram(floe_metrics *m, const char *name, const char *help, const char *labels)
{
    return metrics_get(m, name, help, labels, 2, FLOE_HIST_LATENCY);
}

floe_metric *
floe_metrics_histogram_scaled(floe_metrics *m, const char *name, const char *help,
                              const char *labels, floe_hist_scale scale)
{
    return metrics_get(m, name, help, labels, 2, scale);
}

void
floe_metric_observe_us(floe_metric *metric, int64_t us)
{
    if (metric == NULL)
        return;
    int b = 0;
    while (b < FLOE_HIST_BUCKETS && us > metric->bounds[b])
        b++;
    if (b < FLOE_HIST_BUCKETS)
        atomic_fetch_add_explicit(&metric->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&metric->sum_us, us, memory_order_relaxed);
    atomic_fetch_add_explicit(&metric->value, 1, memory_order_relaxed);
}

int64_t
floe_metric_quantile_us(const floe_metric *metric, double q)
{
    if (metric == NULL)
        return 0;
    int64_t count = atomic_load_explicit(&metric->value, memory_order_relaxed);
    if (count == 0)
        return 0;
    int64_t want = (int64_t)(q * (double)count + 0.999999), seen = 0;
    for (int b = 0; b < FLOE_HIST_BUCKETS; b++) {
        seen += atomic_load_explicit(&metric->buckets[b], memory_order_relaxed);
        if (seen >= want)
            return metric->bounds[b];
    }
    return INT64_MAX;
}

static void
render_histogram(FILE *out, const char *name, const floe_metric *s)
{
    const char *sep = s->labels[0] != '\0' ? "," : "";
    int64_t cum = 0;
    for (int b = 0; b < FLOE_HIST_BUCKETS; b++) {
        cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
        fprintf(out, "%s_bucket{%s%sle=\"%g\"} %lld\n", name, s->labels, sep,
                (double)s->bounds[b] / 1e6, (long long)cum);
    }
    long long count = (long long)atomic_load_explicit(&s->value, memory_order_relaxed);
    fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %lld\n", name, s->labels, sep, count);
    const char *lb = s->labels[0] != '\0' ? "{" : "", *rb = s->labels[0] != '\0' ? "}" : "";
    fprintf(out, "%s_sum%s%s%s %.6f\n", name, lb, s->labels, rb,
            (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed) / 1e6);
    fprintf(out, "%s_count%s%s%s %lld\n", name, lb, s->labels, rb, count);
}

void
floe_metric_add(floe_metric *metric, int64_t n)
{
    if (metric != NULL)
        atomic_fetch_add_explicit(&metric->value, n, memory_order_relaxed);
}

void
floe_metric_set(floe_metric *metric, int64_t v)
{
    if (metric != NULL)
        atomic_store_explicit(&metric->value, v, memory_order_relaxed);
}

int64_t
floe_metric_get(const floe_metric *metric)
{
    return metric != NULL ? atomic_load_explicit(&metric->value, memory_order_relaxed) : 0;
}

void
floe_metrics_render(floe_metrics *m, FILE *out)
{
    pthread_mutex_lock(&m->lock);
    for (const metric_family *f = m->families; f != NULL; f = f->next) {
        static const char *const kinds[] = {"counter", "gauge", "histogram"};
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, kinds[f->is_gauge]);
        for (const floe_metric *s = f->series; s != NULL; s = s->next) {
            if (f->is_gauge == 2) {
                render_histogram(out, f->name, s);
                continue;
            }
            long long v = (long long)atomic_load_explicit(&s->value, memory_order_relaxed);
            if (s->labels[0] != '\0')
                fprintf(out, "%s{%s} %lld\n", f->name, s->labels, v);
            else
                fprintf(out, "%s %lld\n", f->name, v);
        }
    }
    bool process = m->process;
    pthread_mutex_unlock(&m->lock);
    if (process)
        floe_metrics_render_process(out);
}

void
floe_metrics_process(floe_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->process = true;
    pthread_mutex_unlock(&m->lock);
}

void
floe_metrics_build_info(floe_metrics *m, const char *program)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "program=\"%.32s\",version=\"%.32s\"", program, FLOE_VERSION);
    floe_metric_set(floe_metrics_gauge(m, "floe_build_info",
                                       "1, labelled with the program and its version", labels),
                    1);
}
