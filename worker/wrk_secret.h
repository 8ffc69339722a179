/*
 * wrk_secret — a task's secrets on the worker (issue 19). A dispatch names them
 * (Container.secrets); their values come from this worker's provider, worker.secrets_dir:
 * one file per secret named by the secret, as a mounted Kubernetes Secret, a systemd
 * credentials directory or a Vault agent's template directory lays them out. Values reach
 * the task as variables or as files in <attempt>/secrets (FLOE_SECRETS), never the bus,
 * Redis or PostgreSQL, and every value of 4 bytes or more is masked (each byte an '*',
 * so offsets stay true) in the task's stdout and stderr before they are stored.
 */
#ifndef WRK_SECRET_H
#define WRK_SECRET_H

#include "floe_arena.h"
#include "floe_envelope.h"
#include "floe_err.h"
#include "floe_messages.pb-c.h"

#include <stdbool.h>
#include <stddef.h>

#define WRK_SECRET_MAX 65536  /* bytes of one value */
#define WRK_SECRET_MASK_MIN 4 /* shorter values would mask ordinary text: not masked */

typedef struct wrk_secrets {
    const char **env; /* "NAME=value", in the arena */
    size_t n_env;
    const char *dir; /* <attempt>/secrets when some secret is a file, else NULL */
    struct {
        char *v; /* in the arena; wiped by wrk_secrets_wipe */
        size_t len;
    } vals[FLOE_SECRETS_MAX];
    size_t n_vals;
    size_t longest; /* of the masked values */
} wrk_secrets;

/* Reads the values of c's secrets from provider (a directory) and writes the file ones
 * under att_dir/secrets (0400). FLOE_ENOTFOUND (SYSTEM: another worker may hold it) when
 * a secret is missing or the worker has no provider; nothing of a value is in err. */
floe_rc wrk_secrets_resolve(const char *provider, const Floe__Container *c, const char *att_dir,
                            floe_arena *arena, wrk_secrets *out, floe_err *err);

/* Masks every value in buf[0..len) in place; true when something was masked. */
bool wrk_secrets_mask(const wrk_secrets *s, char *buf, size_t len);

/* Masks the file at path in place (a task's log once it ended). */
floe_rc wrk_secrets_mask_file(const wrk_secrets *s, const char *path, floe_err *err);

/* Overwrites the values held in memory. */
void wrk_secrets_wipe(wrk_secrets *s);

#endif
