/*
 * floe_sign — bus messages signed and checked with shared keys (issue 19, review H1):
 * without them, anyone who can produce to floe.tasks.* makes a worker run a command and
 * anyone who can produce to floe.events forges a result.
 *
 * A keyring is a file (bus.keys_file) of lines "NAME HEX": a key name ([A-Za-z0-9._-],
 * at most 32) and 32 to 64 bytes of key in hex; '#' starts a comment. The first key signs;
 * every key verifies, which is how keys rotate: add the new key second everywhere, move it
 * first everywhere, then drop the old one. The signature is HMAC-SHA-256 of the encoded
 * envelope (type, id, time, producer, payload: a TaskDispatch's leader epoch with it),
 * appended as the envelope's fields 6 (key name) and 7 (the MAC), its last bytes.
 */
#ifndef FLOE_SIGN_H
#define FLOE_SIGN_H

#include "floe_envelope.h"
#include "floe_err.h"

#include <stddef.h>

#define FLOE_SIGN_KEYS_MAX 16
#define FLOE_SIGN_NAME_MAX 32

typedef struct floe_keyring floe_keyring;

/* Reads path; NULL with err (file, line and why) when it cannot. The file must not be
 * readable by others than its owner and group. */
floe_keyring *floe_keyring_load(const char *path, floe_err *err);
void floe_keyring_free(floe_keyring *kr);
const char *floe_keyring_signer(const floe_keyring *kr); /* the first key's name */

/* Appends the signature of buf's encoded envelope (as floe_envelope_encode left it). */
floe_rc floe_envelope_sign(floe_buf *buf, const floe_keyring *kr, floe_err *err);

/* Checks that data[0..len), decoded into env, carries a valid signature by a key of kr:
 * FLOE_EINVAL with err saying why (unsigned, unknown key, bad signature) otherwise.
 * *reason (optional) gets a short label for metrics. */
floe_rc floe_envelope_verify(const void *data, size_t len, const floe_envelope *env,
                             const floe_keyring *kr, const char **reason, floe_err *err);

#endif
