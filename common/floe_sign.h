/*
 * floe_sign — bus messages signed and checked (issue 19, review H1): without it, anyone
 * who can produce to floe.tasks.* makes a worker run a command and anyone who can produce
 * to floe.events forges a result.
 *
 * A keyring is a file (bus.keys_file); '#' starts a comment; each line is a key:
 *
 *   NAME HEX                           a shared HMAC-SHA-256 key for every role
 *   NAME hmac HEX ROLE [SCOPE]         a shared HMAC key of one role
 *   NAME ed25519 HEX ROLE [SCOPE]      an Ed25519 private key (32-byte seed): signs
 *   NAME ed25519.pub HEX ROLE [SCOPE]  its public half: verifies only
 *
 * NAME is 1 to 32 of [A-Za-z0-9._-]; an HMAC key is 32 to 64 bytes in hex. ROLE says what
 * a message signed by the key may be (floe_sign_role.c): scheduler (anything), worker
 * (a task's start, result and lineage; SCOPE, when given, the worker ids it speaks for,
 * each exact or a prefix ending in '*'), service (launches and data events in the
 * projects of its SCOPE, required, or "*"; its principal is "svc:NAME"). Holding a
 * verifying key is enough to forge with an HMAC key, not with an Ed25519 one: workers get
 * the scheduler's key as ed25519.pub, so no worker can issue a dispatch.
 *
 * A process signs with the key named by bus.sign_key, or the first key that can sign;
 * every key verifies, which is how keys rotate: add the new key everywhere, make it the
 * signer, then drop the old one. The signature covers the encoded envelope (type, id,
 * time, producer, payload: a TaskDispatch's leader epoch with it) and is appended as the
 * envelope's fields 6 (key name) and 7 (32 bytes of MAC or 64 of Ed25519), its last bytes.
 */
#ifndef FLOE_SIGN_H
#define FLOE_SIGN_H

#include "floe_envelope.h"
#include "floe_err.h"

#include <stdbool.h>
#include <stddef.h>

#define FLOE_SIGN_KEYS_MAX 16
#define FLOE_SIGN_NAME_MAX 32
#define FLOE_SIGN_SCOPE_MAX 16
#define FLOE_SIGN_PRINCIPAL_MAX (4 + FLOE_SIGN_NAME_MAX)

typedef enum floe_sign_role {
    FLOE_SIGN_ANY,
    FLOE_SIGN_SCHEDULER,
    FLOE_SIGN_WORKER,
    FLOE_SIGN_SERVICE,
} floe_sign_role;

typedef struct floe_keyring floe_keyring;
typedef struct floe_sign_key floe_sign_key; /* one key of a keyring */

/* Reads path and picks the signer (sign_key, or the first key that can sign when NULL or
 * ""); NULL with err (file, line and why) when it cannot. The file must not be readable
 * by others than its owner and group. */
floe_keyring *floe_keyring_load(const char *path, const char *sign_key, floe_err *err);
void floe_keyring_free(floe_keyring *kr);
/* The signing key's name; NULL when the keyring holds public keys only. */
const char *floe_keyring_signer(const floe_keyring *kr);
/* The signing key's principal ("svc:NAME" for a service key) into out; false when the
 * signer is not a service key. */
bool floe_keyring_principal(const floe_keyring *kr, char out[FLOE_SIGN_PRINCIPAL_MAX + 1]);

/* Appends the signature of buf's encoded envelope (as floe_envelope_encode left it);
 * FLOE_EINVAL when the keyring has no key that signs. */
floe_rc floe_envelope_sign(floe_buf *buf, const floe_keyring *kr, floe_err *err);

/* Checks that data[0..len), decoded into env, carries a valid signature by a key of kr
 * whose role may send it: FLOE_EINVAL with err saying why otherwise. *reason (optional)
 * gets a label for metrics: unsigned, unknown_key, bad_signature, wrong_role,
 * not_granted (FLOE_SIGN_REASONS, in this order). */
floe_rc floe_envelope_verify(const void *data, size_t len, const floe_envelope *env,
                             const floe_keyring *kr, const char **reason, floe_err *err);

#define FLOE_SIGN_REASONS 5
extern const char *const floe_sign_reasons[FLOE_SIGN_REASONS];

/* --- floe_sign_role.c: what each role may send ---------------------------------------- */

/* A role's name in a key file; FLOE_EINVAL for an unknown one. */
floe_rc floe_sign_role_parse(const char *s, floe_sign_role *out);
const char *floe_sign_role_name(floe_sign_role r);

/* Whether a key of role, named name, with its scope (a service's projects, a worker's
 * worker ids; n_scope 0: a worker key for any id) may send msg of type: FLOE_EINVAL with
 * err and *reason (wrong_role or not_granted) when not. A service launches and publishes
 * only in its projects, as itself (requested_by "svc:NAME"), and neither relaunches nor
 * recovers (those read another execution: the API's, by role); a scoped worker key
 * reports only for its workers, so the engine's check of the claim holder checks the
 * signer. */
floe_rc floe_sign_role_admits(floe_sign_role role, const char *name, const char *const *scope,
                              size_t n_scope, Floe__MessageType type, const ProtobufCMessage *msg,
                              const char **reason, floe_err *err);

#endif
