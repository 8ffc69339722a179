#include "floe_metrics.h"

#include "floe_mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

struct floe_metric {
    struct floe_metric *next; /* in its family */
    char *labels;
    _Atomic int64_t value;
};

typedef struct metric_family {
    struct metric_family *next;
    char *name;
    char *help;
    int is_gauge;
    floe_metric *series, *last;
} metric_family;

struct floe_metrics {
    pthread_mutex_t lock;
    metric_family *families, *last;
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
metrics_get(floe_metrics *m, const char *name, const char *help, const char *labels, int gauge)
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
    return metrics_get(m, name, help, labels, 0);
}

floe_metric *
floe_metrics_gauge(floe_metrics *m, const char *name, const char *help, const char *labels)
{
    return metrics_get(m, name, help, labels, 1);
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
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                f->is_gauge ? "gauge" : "counter");
        for (const floe_metric *s = f->series; s != NULL; s = s->next) {
            long long v = (long long)atomic_load_explicit(&s->value, memory_order_relaxed);
            if (s->labels[0] != '\0')
                fprintf(out, "%s{%s} %lld\n", f->name, s->labels, v);
            else
                fprintf(out, "%s %lld\n", f->name, v);
        }
    }
    pthread_mutex_unlock(&m->lock);
}
