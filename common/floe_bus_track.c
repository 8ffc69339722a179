/*
 * floe_bus_track — which consumed offsets may be committed (see the design note at the
 * top of floe_bus.c): a ring of delivered offsets per assigned partition, acknowledgements,
 * the in-flight bounds that pause fetching, and rebalances (which drop the rings).
 */
#include "floe_bus_int.h"

#include "floe_mem.h"
#include "floe_time.h"

#include <string.h>

/* --- acknowledgement tracking -------------------------------------------------------- */

bus_part *
bus_part_find(floe_bus *bus, uint32_t topic, int32_t partition)
{
    for (size_t i = 0; i < bus->n_parts; i++) {
        if (bus->parts[i].topic == topic && bus->parts[i].partition == partition)
            return &bus->parts[i];
    }
    return NULL;
}

void
bus_parts_clear(floe_bus *bus)
{
    for (size_t i = 0; i < bus->n_parts; i++) {
        floe_free(bus->parts[i].off);
        floe_free(bus->parts[i].acked);
        floe_free(bus->parts[i].size);
    }
    floe_free_clear(&bus->parts);
    bus->n_parts = 0;
    bus->inflight = 0;
    bus->inflight_bytes = 0;
    bus->stats.assigned = 0;
}

#ifdef FLOE_TESTING
int32_t floe_bus_test_fail_partition = -1;
#endif

floe_rc
bus_part_push(bus_part *p, int64_t offset, uint32_t size)
{
#ifdef FLOE_TESTING
    if (p->partition == floe_bus_test_fail_partition) {
        floe_bus_test_fail_partition = -1;
        return FLOE_ENOMEM;
    }
#endif
    if (p->count == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 64;
        int64_t *off = floe_malloc(cap * sizeof(*off));
        uint8_t *acked = floe_malloc(cap);
        uint32_t *sz = floe_malloc(cap * sizeof(*sz));
        if (off == NULL || acked == NULL || sz == NULL) {
            floe_free(off);
            floe_free(acked);
            floe_free(sz);
            return FLOE_ENOMEM;
        }
        for (uint32_t i = 0; i < p->count; i++) {
            off[i] = p->off[(p->head + i) % p->cap];
            acked[i] = p->acked[(p->head + i) % p->cap];
            sz[i] = p->size[(p->head + i) % p->cap];
        }
        floe_free(p->off);
        floe_free(p->acked);
        floe_free(p->size);
        p->off = off;
        p->acked = acked;
        p->size = sz;
        p->head = 0;
        p->cap = cap;
    }
    uint32_t at = (p->head + p->count) % p->cap;
    p->off[at] = offset;
    p->acked[at] = 0;
    p->size[at] = size;
    p->count++;
    return FLOE_OK;
}

void
floe_bus_ack(floe_bus *bus, const floe_bus_pos *pos)
{
    if (pos->generation != bus->generation)
        return; /* from before a rebalance: the partition is re-read from its commit */
    bus_part *p = bus_part_find(bus, pos->topic, pos->partition);
    if (p == NULL)
        return;
    /* The ring's offsets increase (pushes below p->next are refused): binary search. A
     * linear one was 14% of the scheduler's time with 10,000 events in flight. */
    uint32_t lo = 0, hi = p->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->off[(p->head + mid) % p->cap] < pos->offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t at = (p->head + lo) % p->cap;
    if (lo == p->count || p->off[at] != pos->offset || p->acked[at])
        return; /* not tracked, or acked twice */
    p->acked[at] = 1;
    bus->stats.acked++;
    int64_t last = -1;
    while (p->count > 0 && p->acked[p->head]) {
        last = p->off[p->head];
        bus->inflight_bytes -= p->size[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        bus->inflight--;
    }
    if (last >= 0) {
        p->stored = last;
        rd_kafka_resp_err_t e =
            rd_kafka_offset_store(bus->in_topics[p->topic].rkt, p->partition, last);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            floe_log_warn(&bus->log, "storing offset %s[%d]@%lld: %s",
                          bus->in_topics[p->topic].name, p->partition, (long long)last,
                          rd_kafka_err2str(e));
    }
    bus_update_pause(bus);
}

/* Kafka before 2.1 expires a group's committed offset by the age of its commit, whether or
 * not the group is alive (offsets.retention.minutes, a day on 0.9), and librdkafka commits
 * only offsets that moved: a consumer of a quiet topic lost its offset after a day and, at
 * its next rebalance, read the whole topic again from the start (auto.offset.reset,
 * review L7). The stored offsets are committed again, as they are, this often. */
void
bus_offsets_refresh(floe_bus *bus)
{
    int64_t every = bus->cfg->bus_offset_refresh_ms, now = floe_mono_us();
    if (bus->cons == NULL || every <= 0)
        return;
    if (bus->refreshed_us == 0)
        bus->refreshed_us = now;
    if (now - bus->refreshed_us < every * 1000)
        return;
    bus->refreshed_us = now;
    rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_new((int)bus->n_parts);
    for (size_t i = 0; at != NULL && i < bus->n_parts; i++) {
        const bus_part *p = &bus->parts[i];
        if (p->stored >= 0 && p->topic < bus->n_in_topics)
            rd_kafka_topic_partition_list_add(at, bus->in_topics[p->topic].name, p->partition)
                ->offset = p->stored + 1;
    }
    if (at != NULL && at->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(bus->cons, at, 1);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            bus->stats.refreshed++;
        else
            floe_log_warn(&bus->log, "committing offsets again: %s", rd_kafka_err2str(e));
    }
    if (at != NULL)
        rd_kafka_topic_partition_list_destroy(at);
}

void
bus_part_refetch(floe_bus *bus, const bus_part *p, int64_t offset)
{
    rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_new(1);
    if (at == NULL)
        return; /* the partition stalls until it is reassigned: nothing is skipped */
    rd_kafka_topic_partition_list_add(at, bus->in_topics[p->topic].name, p->partition)->offset =
        offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(bus->cons, at, 0);
    if (e != NULL) {
        floe_log_warn(&bus->log, "seeking %s[%d] to %lld: %s", bus->in_topics[p->topic].name,
                      p->partition, (long long)offset, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(at);
}

/* --- pausing ------------------------------------------------------------------------- */

static void
bus_set_paused(floe_bus *bus, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (bus->cons == NULL || rd_kafka_assignment(bus->cons, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    if (pause) {
        rd_kafka_pause_partitions(bus->cons, parts);
    } else {
        rd_kafka_resume_partitions(bus->cons, parts);
        /* A resumed partition waited for its broker thread's next turn (up to a second in
         * librdkafka 2.0) before fetching again: a worker whose backlog filled every
         * fraction of a second ran at one backlog a second (2,560 tasks/s on a 100,000-
         * node fan-out). Seeking each to where we are wakes the fetcher now. */
        rd_kafka_topic_partition_list_t *at = rd_kafka_topic_partition_list_new(parts->cnt);
        for (size_t i = 0; at != NULL && i < bus->n_parts; i++) {
            const bus_part *bp = &bus->parts[i];
            if (bp->next >= 0)
                rd_kafka_topic_partition_list_add(at, bus->in_topics[bp->topic].name, bp->partition)
                    ->offset = bp->next;
        }
        if (at != NULL && at->cnt > 0) {
            rd_kafka_error_t *e = rd_kafka_seek_partitions(bus->cons, at, 0);
            if (e != NULL)
                rd_kafka_error_destroy(e);
        }
        if (at != NULL)
            rd_kafka_topic_partition_list_destroy(at);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

void
bus_update_pause(floe_bus *bus)
{
    bool was = bus->paused_full || bus->paused_user;
    /* Counted in messages and in bytes (review M8): what the application holds of
     * messages it has not acknowledged (parked events, queued lineage) follows their size,
     * and 100,000 messages of 1 MiB would be 100 GB. */
    uint64_t max_bytes = (uint64_t)bus->cfg->bus_max_inflight_bytes;
    if (!bus->paused_full &&
        (bus->inflight >= BUS_MAX_INFLIGHT || bus->inflight_bytes >= max_bytes))
        bus->paused_full = true;
    else if (bus->paused_full && bus->inflight < BUS_MAX_INFLIGHT / 2 &&
             bus->inflight_bytes < max_bytes / 2)
        bus->paused_full = false;
    bool now = bus->paused_full || bus->paused_user;
    if (now != was)
        bus_set_paused(bus, now);
}

bool
floe_bus_paused(const floe_bus *bus)
{
    return bus->paused_full || bus->paused_user;
}

void
floe_bus_pause(floe_bus *bus)
{
    bool was = bus->paused_full || bus->paused_user;
    bus->paused_user = true;
    if (!was)
        bus_set_paused(bus, true);
}

void
floe_bus_resume(floe_bus *bus)
{
    bus->paused_user = false;
    if (!bus->paused_full)
        bus_set_paused(bus, false);
}

/* --- rebalancing --------------------------------------------------------------------- */

int
bus_in_topic_index(floe_bus *bus, const char *name)
{
    for (size_t i = 0; i < bus->n_in_topics; i++) {
        if (strcmp(bus->in_topics[i].name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* The group's committed offsets of partitions just assigned, as the stored ones: a quiet
 * partition's is refreshed (bus_offsets_refresh) though nothing is consumed from it. One
 * round trip to the group's coordinator, bounded; without an answer they are refreshed
 * once something is acknowledged. */
static void
parts_committed(floe_bus *bus, rd_kafka_t *rk, const rd_kafka_topic_partition_list_t *list)
{
    if (bus->cfg->bus_offset_refresh_ms <= 0 || list->cnt == 0)
        return;
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(list);
    if (c == NULL ||
        rd_kafka_committed(rk, c, BUS_COMMITTED_WAIT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (c != NULL)
            rd_kafka_topic_partition_list_destroy(c);
        return;
    }
    for (int i = 0; i < c->cnt; i++) {
        int t = bus_in_topic_index(bus, c->elems[i].topic);
        bus_part *p = t < 0 ? NULL : bus_part_find(bus, (uint32_t)t, c->elems[i].partition);
        if (p != NULL && c->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && c->elems[i].offset > 0)
            p->stored = c->elems[i].offset - 1;
    }
    rd_kafka_topic_partition_list_destroy(c);
}

void
bus_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *list,
                 void *opaque)
{
    floe_bus *bus = opaque;
    bus->generation++;
    bus_parts_clear(bus);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        bus->parts = floe_calloc((size_t)list->cnt, sizeof(*bus->parts));
        if (bus->parts == NULL && list->cnt > 0) {
            /* Without tracking we cannot ack: take nothing; the group reassigns later. */
            floe_log_error(&bus->log, "out of memory on partition assignment");
            rd_kafka_assign(rk, NULL);
            return;
        }
        for (int i = 0; i < list->cnt; i++) {
            int t = bus_in_topic_index(bus, list->elems[i].topic);
            bus->parts[bus->n_parts].topic = t < 0 ? UINT32_MAX : (uint32_t)t;
            bus->parts[bus->n_parts].partition = list->elems[i].partition;
            bus->parts[bus->n_parts].next = -1;
            bus->parts[bus->n_parts].again = -1;
            bus->parts[bus->n_parts].stored = -1;
            bus->n_parts++;
        }
        bus->stats.assigned = list->cnt;
        floe_log_info(&bus->log, "group %s: assigned %d partitions", bus->group, list->cnt);
        parts_committed(bus, rk, list);
        rd_kafka_assign(rk, list);
        if (bus->paused_user || bus->paused_full)
            bus_set_paused(bus, true);
        if (bus->cb.on_rebalance != NULL)
            bus->cb.on_rebalance(bus, true, list->cnt, bus->cb.arg);
    } else {
        /* Hand over what was acknowledged before the partitions go. */
        rd_kafka_commit(rk, NULL, 1);
        floe_log_info(&bus->log, "group %s: revoked %d partitions", bus->group, list->cnt);
        rd_kafka_assign(rk, NULL);
        if (bus->cb.on_rebalance != NULL)
            bus->cb.on_rebalance(bus, false, 0, bus->cb.arg);
    }
}
