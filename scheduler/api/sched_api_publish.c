/*
 * POST /api/v1/datasets/NAME/events — a dataset event published through the API, for a
 * service without a Kafka client (and for floectl publish): checked as the scheduler
 * checks a DataPublished, then produced to the events topic keyed by dataset; answered
 * 201 once the broker has it. A uri workers cannot read as a blob is said in "warnings"
 * (it may feed a string input, so it is not refused).
 */
#include "sched_api_int.h"

#include "floe_text.h"
#include "floe_time.h"
#include "spec.h"
#include "store_blob.h"
#include "store_dataset.h"

#include <stdio.h>
#include <string.h>

#define PUBLISH_URI_MAX 2048

typedef struct publish_state {
    Floe__DataPublished msg;
    Floe__KeyValue kv[FLOE_PARTITION_MAX], *kvp[FLOE_PARTITION_MAX];
    char event_id[FLOE_ID_LEN + 1];
    bool uri_readable;
} publish_state;

/* A string member of body: NULL when absent; false (failed) when not text within max. */
static bool
text_member(api_req *r, json_t *body, const char *key, size_t max, const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) == 0 || strlen(s) > max || !floe_utf8_valid(s, strlen(s)) ||
        !floe_text_printable(s, strlen(s))) {
        api_fail(r, FLOE_EINVAL, "%s: expected text of 1 to %zu bytes", key, max);
        return false;
    }
    *out = floe_arena_strndup(r->arena, s, strlen(s));
    return *out != NULL;
}

static bool
partition(api_req *r, publish_state *st, json_t *p)
{
    if (p == NULL || json_is_null(p))
        return true;
    if (!json_is_object(p) || json_object_size(p) > FLOE_PARTITION_MAX) {
        api_fail(r, FLOE_EINVAL, "partition: expected an object of at most %d KEY: \"value\"",
                 FLOE_PARTITION_MAX);
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v)
    {
        const char *val = json_string_value(v);
        floe_err err;
        if (floe_envelope_check_id("partition key", key, 64, &err) != FLOE_OK || val == NULL ||
            strlen(val) == 0 || strlen(val) > 256 || !floe_utf8_valid(val, strlen(val)) ||
            !floe_text_printable(val, strlen(val))) {
            api_fail(r, FLOE_EINVAL,
                     "partition: keys are 1-64 of A-Z a-z 0-9 . _ - and values 1-256 bytes of "
                     "text (\"%.64s\")",
                     key);
            return false;
        }
        size_t i = st->msg.n_partition++;
        floe__key_value__init(&st->kv[i]);
        st->kv[i].key = floe_arena_strndup(r->arena, key, strlen(key));
        st->kv[i].value = floe_arena_strndup(r->arena, val, strlen(val));
        if (st->kv[i].key == NULL || st->kv[i].value == NULL) {
            api_fail(r, FLOE_ENOMEM, "out of memory");
            return false;
        }
        st->kvp[i] = &st->kv[i];
    }
    st->msg.partition = st->kvp;
    return true;
}

void
api_publish_work(api_thread *t, api_req *r)
{
    bool project_ok = true; /* blobs and datasets belong to no project yet: the caller's */
    const char *project = api_project(r, &project_ok);
    if (!project_ok || !api_allow(t, r, project))
        return;
    const char *dataset = r->t.seg[3];
    if (spec_check_name("dataset", dataset, &r->err) != FLOE_OK)
        return;
    publish_state *st = floe_arena_alloc(r->arena, sizeof(*st));
    if (st == NULL) {
        api_fail(r, FLOE_ENOMEM, "out of memory");
        return;
    }
    memset(st, 0, sizeof(*st));
    floe__data_published__init(&st->msg);
    json_error_t jerr;
    json_t *body =
        r->body_len > 0 ? json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (body == NULL || !json_is_object(body)) {
        json_decref(body);
        api_fail(r, FLOE_EINVAL,
                 "the body must be a JSON object {uri, partition, digest, size, event_id, "
                 "producer}");
        return;
    }
    const char *uri, *digest, *event_id, *producer;
    json_t *size = json_object_get(body, "size");
    bool ok = text_member(r, body, "uri", PUBLISH_URI_MAX, &uri) &&
              text_member(r, body, "digest", 128, &digest) &&
              text_member(r, body, "event_id", 128, &event_id) &&
              text_member(r, body, "producer", 128, &producer) &&
              partition(r, st, json_object_get(body, "partition"));
    if (ok && uri == NULL) {
        api_fail(r, FLOE_EINVAL, "uri: required (where the data is)");
        ok = false;
    }
    if (ok && size != NULL && !json_is_null(size) &&
        (!json_is_integer(size) || json_integer_value(size) < 0)) {
        api_fail(r, FLOE_EINVAL, "size: expected a byte count");
        ok = false;
    }
    if (ok && event_id == NULL) {
        if (floe_id_new(st->event_id) != 0) {
            api_fail(r, FLOE_EIO, "no randomness for an event id");
            ok = false;
        }
        event_id = st->event_id;
    }
    if (ok) {
        st->msg.dataset = (char *)floe_arena_strndup(r->arena, dataset, strlen(dataset));
        st->msg.uri = (char *)uri;
        st->msg.digest = (char *)(digest != NULL ? digest : "");
        st->msg.size =
            size != NULL && json_is_integer(size) ? (uint64_t)json_integer_value(size) : 0;
        st->msg.event_id = (char *)event_id;
        st->msg.producer = (char *)(producer != NULL ? producer : "api");
        st->msg.project = (char *)(project != NULL ? project : "");
        st->msg.published_unix_us = floe_now_us();
        char hex[FLOE_SHA256_HEX_LEN + 1];
        floe_err uerr;
        st->uri_readable = store_blob_uri_parse(uri, hex, &uerr) == FLOE_OK;
        /* The scheduler's own checks, so what it would dead-letter is refused here. */
        if (st->msg.dataset == NULL ||
            floe_envelope_check_message(FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED,
                                        &st->msg.base, &r->err) != FLOE_OK) {
            if (r->err.code == FLOE_OK)
                api_fail(r, FLOE_ENOMEM, "out of memory");
            ok = false;
        }
    }
    json_decref(body);
    /* The dataset's owner decides (the leader checks again, and claims an unowned one). */
    char owner[64];
    bool allowed = false;
    if (ok && (api_pg(t, r) != FLOE_OK ||
               store_dataset_may(t->pg, st->msg.dataset, st->msg.project, STORE_DS_PUBLISH, false,
                                 owner, &allowed, &r->err) != FLOE_OK))
        ok = false;
    if (ok && !allowed) {
        api_forbid(t, r,
                   "dataset %s belongs to project %s: publishing into it from project %s needs "
                   "its grant (floectl dataset grant)",
                   st->msg.dataset, owner, st->msg.project);
        ok = false;
    }
    if (ok)
        r->state = st;
}

static void
publish_delivered(api_req *r, floe_rc rc, const char *reason)
{
    publish_state *st = r->state;
    if (rc != FLOE_OK) {
        api_fail(r, FLOE_EIO, "the dataset event could not be published to Kafka: %s",
                 reason != NULL ? reason : floe_rc_name(rc));
        api_reply(r);
        return;
    }
    json_t *part = json_object();
    for (size_t i = 0; i < st->msg.n_partition; i++)
        json_object_set_new(part, st->kv[i].key, json_string(st->kv[i].value));
    json_t *warnings = json_array();
    if (!st->uri_readable)
        json_array_append_new(
            warnings, json_string("the uri is not in the blob store: a launch plan that binds it "
                                  "to a blob input will fail (store the data with floectl blob "
                                  "put and publish that uri)"));
    r->status = 201;
    r->reply = json_pack("{s:s,s:o,s:s,s:s,s:o}", "dataset", st->msg.dataset, "partition", part,
                         "uri", st->msg.uri, "event_id", st->msg.event_id, "warnings", warnings);
    api_reply(r);
}

void
api_publish_done(api_req *r)
{
    publish_state *st = r->state;
    floe_err err;
    if (api_produce_event(r, st->msg.dataset, FLOE__MESSAGE_TYPE__MESSAGE_TYPE_DATA_PUBLISHED,
                          &st->msg.base, publish_delivered, &err) != FLOE_OK) {
        api_fail(r, FLOE_EIO, "the dataset event could not be published: %s", err.msg);
        api_reply(r);
    }
}
