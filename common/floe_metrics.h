/*
 * floe_metrics — counters, gauges and latency histograms rendered in the Prometheus text format for
 * /metrics. A metric is a (name, labels) series; asking for the same series twice returns the same
 * handle, so call sites may look one up lazily (e.g. per HTTP status code). Updates are
 * atomic and may come from any thread; registering takes a lock.
 */
#ifndef FLOE_METRICS_H
#define FLOE_METRICS_H

#include <stdint.h>
#include <stdio.h>

typedef struct floe_metrics floe_metrics;
typedef struct floe_metric floe_metric;

floe_metrics *floe_metrics_new(void);
void floe_metrics_free(floe_metrics *m);

/* labels: the inside of the braces, already escaped (`route="register",code="200"`), or
 * NULL. Names and labels are copied. NULL when out of memory or when name is already a
 * metric of the other kind; updates through a NULL handle are ignored. */
floe_metric *floe_metrics_counter(floe_metrics *m, const char *name, const char *help,
                                  const char *labels);
floe_metric *floe_metrics_gauge(floe_metrics *m, const char *name, const char *help,
                                const char *labels);

/* A latency histogram with fixed buckets from 50 us to 10 s. */
#define FLOE_HIST_BUCKETS 16
floe_metric *floe_metrics_histogram(floe_metrics *m, const char *name, const char *help,
                                    const char *labels);
/* Bucket scales: LATENCY 50 us to 10 s (a hop, a request), DURATION 100 ms to 24 h (a
 * task: one lasting hours must not land in +Inf). A family keeps the scale it was
 * created with. */
typedef enum floe_hist_scale { FLOE_HIST_LATENCY, FLOE_HIST_DURATION } floe_hist_scale;
floe_metric *floe_metrics_histogram_scaled(floe_metrics *m, const char *name, const char *help,
                                           const char *labels, floe_hist_scale scale);
void floe_metric_observe_us(floe_metric *metric, int64_t us);
/* Upper bound of the bucket holding quantile q (0..1); 0 without observations. */
int64_t floe_metric_quantile_us(const floe_metric *metric, double q);

void floe_metric_add(floe_metric *metric, int64_t n);
void floe_metric_set(floe_metric *metric, int64_t v);
int64_t floe_metric_get(const floe_metric *metric);

/* floe_build_info{program,version} 1: which build answers (dashboards join on it). */
void floe_metrics_build_info(floe_metrics *m, const char *program);

/* Also render the process's own metrics (process_cpu_seconds_total, resident memory, open
 * and maximum file descriptors, start time: the names every Prometheus client uses),
 * read from /proc when rendered. */
void floe_metrics_process(floe_metrics *m);
void floe_metrics_render_process(FILE *out); /* floe_metrics_proc.c */
/* Writes every family: # HELP, # TYPE, then its series. */
void floe_metrics_render(floe_metrics *m, FILE *out);

#endif
