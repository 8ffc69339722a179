/*
 * wrk_io — an attempt's files: materialising inputs into its directory before the task
 * runs, reading and typing its outputs after, and the log tail quoted in failures.
 * All of it blocks (disk, blob store): it runs on the worker's file pool, never the loop.
 *
 * Layout of an attempt directory (a fresh mkdtemp under the worker's slot):
 *   inputs/<name>     one file per input: blobs as their content, scalars in their text
 *                     form (integers and floats in decimal, datetimes RFC 3339,
 *                     durations "1h30m", strings verbatim), lists and maps as JSON
 *   inputs.json       every input as one JSON object
 *   outputs/<name>    written by the task, one file per declared output, read back the
 *                     same way (one trailing newline of a string is dropped; other scalars
 *                     may be surrounded by whitespace)
 *   stdout, stderr    the task's logs, kept in the blob store afterwards
 *   tmp/              the task's TMPDIR (process executor)
 */
#ifndef WRK_IO_H
#define WRK_IO_H

#include "floe_arena.h"
#include "floe_err.h"
#include "store_blob.h"

#include "floe_values.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRK_IO_NAME_MAX 63

/* An input or output name usable as a file name: [A-Za-z_][A-Za-z0-9_]{0,62}. */
bool wrk_io_name_ok(const char *name);

/* Creates inputs/, outputs/ and tmp/ under dir and writes every input (blobs fetched from
 * bs; bs NULL: blobs left out, for a pod that fetches its own). *json_out (malloc'd)
 * receives inputs.json's text. A bad name or blob reference is a
 * USER error naming the input; storage trouble a SYSTEM one. */
floe_rc wrk_io_inputs(const char *dir, Floe__NamedValue *const *inputs, size_t n, store_blob *bs,
                      char **json_out, floe_err *err);

/* Reads outputs/<name> for every declared output, typed; blobs are uploaded to bs. Values
 * are allocated in arena; *out gets n pointers. A missing, oversized (max bytes) or
 * malformed output is a USER error naming it. */
floe_rc wrk_io_outputs(const char *dir, Floe__Variable *const *vars, size_t n, store_blob *bs,
                       uint64_t max, floe_arena *arena, Floe__NamedValue ***out, floe_err *err);

/* The last max bytes of path (from a line start when one is near), invalid UTF-8 replaced
 * by '?', NUL-terminated in buf (max + 1 bytes). Returns its length; 0 when unreadable. */
size_t wrk_io_tail(const char *path, char *buf, size_t max);

/* Stores the log file at path when it is not empty; true when ref names a stored blob. An
 * empty log is not stored (no blob, no fsync, no reference in the result). */
bool wrk_io_put_log(store_blob *bs, const char *path, store_blob_ref *ref);

/* Removes dir and everything under it, never following a symlink, even one an entry
 * becomes while this runs: by descriptors, each directory opened relative to its parent's
 * (O_NOFOLLOW), any depth with a bounded number of them. Goes on past what it cannot
 * remove and then says FLOE_EIO. A dir already gone is FLOE_OK. */
floe_rc wrk_io_rmtree(const char *dir);
/* The same for entry name of the directory open at dfd; true when it is gone. */
bool wrk_io_rm_at(int dfd, const char *name);
/* Removes everything in the directory open at fd (left open), the same way. */
bool wrk_io_empty_fd(int fd);

#endif
