/*
 * GET /api/v1/executions/ID/nodes/NODE/logs?attempt=N&stream=stdout|stderr&from=K — what
 * an attempt's task has written so far, while it runs or after it was stopped: the
 * entries of its running-log index (store_tasklog.h) from the K-th on, as
 * {entries: [{offset, size, uri}], next, complete, size, uri}. Each entry is a blob of
 * the stream's bytes [offset, offset+size), fetched through GET /api/v1/blobs; `complete`
 * says the attempt ended, `size` and `uri` are then the whole log (uri null when it was
 * empty). A client follows by asking again from `next`. An attempt that ended before its
 * first shipment has no entries: its logs are in the node's attempt_log.
 */
#include "sched_api_int.h"

#include "spec.h"
#include "store_redis_probe.h"
#include "store_tasklog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGS_ENTRIES_MAX 1000 /* entries per answer: a long log is read in pages */

/* An integer query parameter in [min, max]; def when absent; false (r failed) otherwise. */
static bool
int_param(api_req *r, const char *key, long min, long max, long def, long *out)
{
    const char *v = api_param(r, key);
    char *end;
    *out = def;
    if (v == NULL)
        return true;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < min || n > max) {
        api_fail(r, FLOE_EINVAL, "%s: expected an integer from %ld to %ld", key, min, max);
        return false;
    }
    *out = n;
    return true;
}

void
api_node_logs_work(api_thread *t, api_req *r)
{
    const char *id = r->t.seg[3], *node = r->t.seg[5];
    const char *stream = api_param(r, "stream");
    long attempt, from;
    if (!api_exec_id_valid(r, id))
        return;
    if (spec_check_name("node", node, &r->err) != FLOE_OK)
        return;
    if (stream == NULL)
        stream = "stdout";
    if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0) {
        api_fail(r, FLOE_EINVAL, "stream: stdout or stderr");
        return;
    }
    if (!int_param(r, "attempt", 1, 100000, 0, &attempt) ||
        !int_param(r, "from", 0, 100000000, 0, &from))
        return;
    if (attempt == 0) {
        api_fail(r, FLOE_EINVAL, "attempt: required (the node's attempts are numbered from 1)");
        return;
    }
    store_exec ex; /* whose logs: the execution's project decides */
    if (api_pg(t, r) != FLOE_OK || store_exec_get(t->pg, id, r->arena, &ex, &r->err) != FLOE_OK ||
        !api_allow(t, r, ex.project))
        return;
    char key[STORE_KEY_MAX], a[24], b[24];
    if (store_tasklog_key(key, id, node, (uint32_t)attempt, stream[3] == 'o' ? 0 : 1) != FLOE_OK) {
        api_fail(r, FLOE_EINVAL, "node: too long");
        return;
    }
    snprintf(a, sizeof(a), "%ld", from);
    snprintf(b, sizeof(b), "%ld", from + LOGS_ENTRIES_MAX - 1);
    const char *lrange[] = {"LRANGE", key, a, b};
    const char *const *cmds[] = {lrange};
    const int argcs[] = {4};
    store_reply *rep[1] = {NULL};
    if (store_redis_sync_call(t->cfg->redis_url, (int)t->cfg->redis_timeout_ms, 1, cmds, argcs, rep,
                              &r->err) != FLOE_OK)
        return;
    json_t *entries = json_array();
    bool complete = false;
    store_tasklog_entry end = {0};
    size_t n = store_reply_len(rep[0]), used = 0;
    for (size_t i = 0; i < n && !complete; i++, used++) {
        size_t len = 0;
        const char *s = store_reply_str(store_reply_elem(rep[0], i), &len);
        store_tasklog_entry e;
        if (s == NULL || store_tasklog_parse(s, len, &e) != FLOE_OK)
            continue; /* not ours: skipped, never passed on */
        if (e.end) {
            complete = true;
            end = e;
            continue;
        }
        json_array_append_new(entries, json_pack("{s:I,s:I,s:s}", "offset", (json_int_t)e.off,
                                                 "size", (json_int_t)e.len, "uri", e.uri));
    }
    store_redis_sync_free(rep, 1);
    r->reply = json_pack("{s:s,s:s,s:I,s:s,s:o,s:I,s:b}", "execution", id, "node", node, "attempt",
                         (json_int_t)attempt, "stream", stream, "entries", entries, "next",
                         (json_int_t)(from + (long)used), "complete", complete);
    if (r->reply != NULL && complete) {
        json_object_set_new(r->reply, "size", json_integer((json_int_t)end.len));
        json_object_set_new(r->reply, "uri", end.uri[0] ? json_string(end.uri) : json_null());
    }
}
