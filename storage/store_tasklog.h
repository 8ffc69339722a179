/*
 * store_tasklog — what a task writes to stdout and stderr, indexed while it runs, so
 * that `floectl logs -f` (through the API, on any machine) shows lines as they are
 * printed. The worker ships the new bytes of each stream every worker.log_ship_every as
 * a chunk in the blob store and appends the chunk's place to a Redis list per attempt
 * and stream; when the attempt ends (also when aborted) it appends an end entry with the
 * whole log's size and blob. Readers take the list from any index: the chunks in order
 * are the log.
 *
 *   floe:{EXEC}:tl:NODE:ATTEMPT:o|e    list of entries, expiring with the execution's state
 *   "c OFFSET LENGTH URI"              a chunk: bytes [OFFSET, OFFSET+LENGTH) of the stream
 *   "e SIZE URI"                       the end: the stream had SIZE bytes, all in URI ("-"
 *                                      when it had none)
 */
#ifndef STORE_TASKLOG_H
#define STORE_TASKLOG_H

#include "floe_err.h"
#include "store_blob.h"
#include "store_state.h"

#include <stdbool.h>
#include <stdint.h>

#define STORE_TASKLOG_ENTRY_MAX (STORE_BLOB_URI_MAX + 64)

/* stream: 0 stdout, 1 stderr. */
floe_rc store_tasklog_key(char out[STORE_KEY_MAX], const char *exec, const char *node,
                          uint32_t attempt, int stream);

typedef struct store_tasklog_entry {
    bool end;
    uint64_t off, len;            /* a chunk; the end: off 0, len = the stream's size */
    char uri[STORE_BLOB_URI_MAX]; /* "" at an end without bytes */
} store_tasklog_entry;

/* Writes the entry's text into buf (STORE_TASKLOG_ENTRY_MAX). */
void store_tasklog_format(const store_tasklog_entry *e, char buf[STORE_TASKLOG_ENTRY_MAX]);
/* Parses one entry, strictly. FLOE_EINVAL for anything else. */
floe_rc store_tasklog_parse(const char *s, size_t len, store_tasklog_entry *e);

#endif
