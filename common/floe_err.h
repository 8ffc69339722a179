/*
 * floe_err — the project's one error convention.
 *
 * Every fallible function returns floe_rc: FLOE_OK (0) or a negative FLOE_E* code.
 * Detail goes in an optional last argument `floe_err *err` (may be NULL): the code, whether
 * the user or the system is at fault, whether a retry may help, and a fixed-size message
 * saying what, where and why. Filling it allocates nothing, so error paths cannot fail.
 */
#ifndef FLOE_ERR_H
#define FLOE_ERR_H

#include <stdbool.h>

typedef enum floe_rc {
    FLOE_OK = 0,
    FLOE_EINVAL = -1, /* bad input: the caller's fault, retrying will not help */
    FLOE_ENOMEM = -2,
    FLOE_ENOTFOUND = -3,
    FLOE_ECONFLICT = -4, /* exists with different content, or a concurrent change */
    FLOE_EFENCED = -5,   /* refused: the caller's leader epoch is stale */
    FLOE_EAGAIN = -6,    /* try again later: busy, not ready, queue full */
    FLOE_EIO = -7,       /* a peer (Kafka, Redis, Postgres, disk) failed */
    FLOE_ETIMEDOUT = -8,
    FLOE_ETOOBIG = -9,  /* over a configured size or count limit */
    FLOE_ESTATE = -10,  /* not allowed in the current state */
    FLOE_ENOTSUP = -11, /* not something this configuration can do */
} floe_rc;

typedef enum floe_err_class {
    FLOE_ERR_NONE = 0,
    FLOE_ERR_USER = 1,   /* the input, spec or task is at fault */
    FLOE_ERR_SYSTEM = 2, /* infrastructure is at fault */
} floe_err_class;

#define FLOE_ERR_MSG_MAX 256

typedef struct floe_err {
    floe_rc code;
    floe_err_class cls;
    bool retriable;
    char msg[FLOE_ERR_MSG_MAX];
} floe_err;

/* Fills err (when not NULL) and returns code, so callers can `return floe_err_set(...)`.
 * The message is cut to FLOE_ERR_MSG_MAX - 1 bytes on a character boundary and is always
 * valid UTF-8 (see floe_text). */
floe_rc floe_err_set(floe_err *err, floe_rc code, floe_err_class cls, bool retriable,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Shorthands for the two common cases. */
#define floe_err_user(err, code, ...) floe_err_set((err), (code), FLOE_ERR_USER, false, __VA_ARGS__)
#define floe_err_sys(err, code, ...) floe_err_set((err), (code), FLOE_ERR_SYSTEM, true, __VA_ARGS__)

/* Prefixes err->msg with "prefix: " (context added by a caller), keeping the code. */
void floe_err_prefix(floe_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void floe_err_clear(floe_err *err);

/* "EINVAL", "ENOMEM", ...; never NULL. */
const char *floe_rc_name(floe_rc rc);

#endif
