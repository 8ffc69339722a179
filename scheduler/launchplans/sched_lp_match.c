/*
 * sched_lp_match — which dataset events a trigger's datasets match: the canonical
 * partition key of an event and the match of a trigger dataset (name, and partition
 * values as shell patterns) against it.
 */
#include "sched_lp.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
pct_encode(const char *s, char *out, size_t size)
{
    size_t n = 0;
    for (; *s && n + 4 < size; s++) {
        if (*s == '%' || *s == '/' || *s == '=')
            n += (size_t)snprintf(out + n, size - n, "%%%02X", (unsigned char)*s);
        else
            out[n++] = *s;
    }
    out[n] = '\0';
    return *s ? size : n;
}

static int
kv_cmp(const void *a, const void *b)
{
    return strcmp((*(Floe__KeyValue *const *)a)->key, (*(Floe__KeyValue *const *)b)->key);
}

bool
lp_partition_key(const Floe__DataPublished *m, char *buf, size_t size)
{
    Floe__KeyValue *kv[FLOE_PARTITION_MAX];
    size_t n = m->n_partition < FLOE_PARTITION_MAX ? m->n_partition : FLOE_PARTITION_MAX;
    if (n > 0)
        memcpy(kv, m->partition, n * sizeof(*kv));
    if (n > 1)
        qsort(kv, n, sizeof(*kv), kv_cmp);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char k[200], v[800];
        if (pct_encode(kv[i]->key, k, sizeof(k)) >= sizeof(k) ||
            pct_encode(kv[i]->value, v, sizeof(v)) >= sizeof(v))
            return false;
        int w = snprintf(buf + len, size - len, "%s%s=%s", i ? "/" : "", k, v);
        if (w < 0 || (size_t)w >= size - len)
            return false;
        len += (size_t)w;
    }
    return true;
}

static const char *
partition_value(const Floe__DataPublished *m, const char *key)
{
    for (size_t i = 0; i < m->n_partition; i++)
        if (strcmp(m->partition[i]->key, key) == 0)
            return m->partition[i]->value;
    return NULL;
}

bool
lp_dataset_matches(const Floe__TriggerDataset *td, const Floe__DataPublished *m)
{
    if (strcmp(td->dataset, m->dataset) != 0)
        return false;
    for (size_t i = 0; i < td->n_partition; i++) {
        const char *v = partition_value(m, td->partition[i]->key);
        if (v == NULL || fnmatch(td->partition[i]->value, v, 0) != 0)
            return false;
    }
    return true;
}
