/*
 * wrk_ship — a running task's stdout and stderr, shipped while it runs so that `floectl
 * logs -f` on any machine shows them (store_tasklog.h). Every worker.log_ship_every, on
 * the file pool, the bytes a stream gained since the last turn (at most SHIP_CHUNK_MAX)
 * go to the blob store as a chunk, and the chunk's place is appended to the attempt's
 * list in Redis. When the attempt ends (also when it is aborted or released) an end entry
 * names the whole log. A task that ends before the first turn costs one timer and
 * nothing else: its logs reach readers through its result, as before.
 */
#include "wrk_att.h"

#include "floe_mem.h"
#include "store_tasklog.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHIP_CHUNK_MAX (1u << 20) /* a turn ships at most this much of a stream */

static const char *const streams[2] = {"stdout", "stderr"};

/* Bytes [off, off+len) of in, the task's secrets masked, into a new file: read with
 * `hold` bytes on either side so that a value across either end is whole when masked. */
static bool
copy_masked(const wrk_att *att, int in, uint64_t off, uint64_t len, uint64_t hold, char *tmp,
            size_t tmp_size)
{
    uint64_t start = off > hold ? off - hold : 0, want = off - start + len + hold;
    char *buf = malloc(want);
    ssize_t n = buf != NULL ? pread(in, buf, want, (off_t)start) : -1;
    bool ok = n >= 0 && (uint64_t)n >= off - start + len;
    int out = -1;
    if (ok) {
        wrk_secrets_mask(&att->secrets, buf, (size_t)n);
        snprintf(tmp, tmp_size, "%s/ship-XXXXXX", att->w->slot_dir);
        out = mkostemp(tmp, O_CLOEXEC);
        ok = out != -1 && write(out, buf + (off - start), len) == (ssize_t)len;
    }
    if (out != -1)
        close(out);
    if (!ok && out != -1)
        unlink(tmp);
    if (buf != NULL)
        OPENSSL_cleanse(buf, want);
    free(buf);
    return ok;
}

/* Copies bytes [off, off+len) of in into a new file under the worker's slot. */
static bool
copy_range(wrk *w, int in, uint64_t off, uint64_t len, char *tmp, size_t tmp_size)
{
    snprintf(tmp, tmp_size, "%s/ship-XXXXXX", w->slot_dir);
    int out = mkostemp(tmp, O_CLOEXEC);
    char buf[65536];
    bool ok = out != -1;
    for (uint64_t done = 0; ok && done < len;) {
        size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
        ssize_t n = pread(in, buf, want, (off_t)(off + done));
        if (n == -1 && errno == EINTR)
            continue;
        ok = n > 0 && write(out, buf, (size_t)n) == n;
        done += n > 0 ? (uint64_t)n : 0;
    }
    if (out != -1)
        close(out);
    if (!ok && out != -1)
        unlink(tmp);
    return ok;
}

static void
ship_work(void *ctx, void *job)
{
    (void)ctx;
    wrk_att *att = job;
    char path[PATH_MAX], tmp[PATH_MAX];
    for (int i = 0; i < 2; i++) {
        att->ship_new[i] = false;
        snprintf(path, sizeof(path), "%s/%s", att->dir, streams[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (fd == -1)
            continue;
        /* With secrets, the last longest-1 bytes wait for the next turn (or the end): they
         * may be the start of a value the task is still writing. */
        uint64_t hold = att->secrets.longest > 0 ? att->secrets.longest - 1 : 0;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_size > att->shipped[i] + hold) {
            uint64_t len = (uint64_t)st.st_size - hold - att->shipped[i];
            if (len > SHIP_CHUNK_MAX)
                len = SHIP_CHUNK_MAX;
            store_blob_ref ref;
            floe_err err = {0};
            if (hold > 0 ? copy_masked(att, fd, att->shipped[i], len, hold, tmp, sizeof(tmp))
                         : copy_range(att->w, fd, att->shipped[i], len, tmp, sizeof(tmp))) {
                if (store_blob_put_file(att->w->blobs, tmp, &ref, &err) == FLOE_OK) {
                    att->ship_entry[i] = (store_tasklog_entry){.off = att->shipped[i], .len = len};
                    snprintf(att->ship_entry[i].uri, sizeof(att->ship_entry[i].uri), "%s", ref.uri);
                    att->ship_new[i] = true;
                    att->shipped[i] += len;
                }
                unlink(tmp);
            }
        }
        close(fd);
    }
}

static void
push_reply(const store_reply *rep, const floe_err *err, void *arg)
{
    (void)rep;
    (void)err; /* a lost entry costs a follower some lines until the end entry */
    wrk_att *att = arg;
    att->redis_out--;
    wrk_att_maybe_free(att);
}

/* Appends e to the stream's list and keeps the list for as long as execution state. */
static void
push(wrk_att *att, int stream, const store_tasklog_entry *e)
{
    const Floe__TaskDispatch *d = att->d;
    char key[STORE_KEY_MAX], text[STORE_TASKLOG_ENTRY_MAX], ttl[32];
    if (store_tasklog_key(key, d->execution_id, d->node_id, d->attempt, stream) != FLOE_OK)
        return;
    store_tasklog_format(e, text);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)att->w->cfg->state_retention_ms);
    const char *rpush[] = {"RPUSH", key, text}, *expire[] = {"PEXPIRE", key, ttl};
    if (store_redis_cmd(att->w->redis, 3, rpush, NULL, push_reply, att) == FLOE_OK)
        att->redis_out++;
    if (store_redis_cmd(att->w->redis, 3, expire, NULL, push_reply, att) == FLOE_OK)
        att->redis_out++;
}

static void
ship_done(void *job)
{
    wrk_att *att = job;
    att->ship_out = false;
    for (int i = 0; i < 2; i++) {
        if (att->ship_new[i]) {
            push(att, i, &att->ship_entry[i]);
            att->shipped_any = true;
        }
    }
    if (att->collect_waiting) {
        att->collect_waiting = false;
        wrk_att_collect(att);
        return;
    }
    wrk_att_maybe_free(att);
}

static void
on_ship(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wrk_att *att = arg;
    if (att->state != ATT_RUNNING || att->ship_out)
        return;
    att->ship_out = true;
    if (floe_pool_submit(att->w->pool, ship_work, ship_done, att) != FLOE_OK)
        att->ship_out = false; /* the pool is full: the next turn tries again */
}

void
wrk_ship_start(wrk_att *att)
{
    int64_t every = att->w->cfg->worker_log_ship_every_ms;
    if (every <= 0 || att->kind == 2) /* a pod's log arrives only when it ends */
        return;
    if (att->ship == NULL &&
        (att->ship = event_new(att->w->base, -1, EV_PERSIST, on_ship, att)) == NULL)
        return;
    struct timeval tv = {every / 1000, (every % 1000) * 1000};
    event_add(att->ship, &tv);
}

bool
wrk_ship_stop(wrk_att *att)
{
    if (att->ship != NULL)
        event_del(att->ship);
    if (att->ship_out)
        att->collect_waiting = true;
    return !att->ship_out;
}

void
wrk_ship_end(wrk_att *att)
{
    if (!att->shipped_any && !att->aborted && !att->released)
        return; /* nobody could have followed it: its result says where its logs are */
    for (int i = 0; i < 2; i++) {
        store_tasklog_entry e = {.end = true};
        if (att->has_log[i]) {
            e.len = att->logs[i].size;
            snprintf(e.uri, sizeof(e.uri), "%s", att->logs[i].uri);
        }
        push(att, i, &e);
    }
}
