/* Bus bytes as every consumer takes them: floe_envelope_decode (wire check, unpack, field
 * checks) into an arena bounded like the bus's, then floe_envelope_verify against a
 * keyring of every kind and role (shared HMAC, Ed25519 public scheduler key, scoped worker
 * and service keys): the signature trailer and the role checks on whatever decodes. */
#include "floe_arena.h"
#include "floe_envelope.h"
#include "floe_sign.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static floe_keyring *
keyring(void)
{
    char path[] = "/tmp/fuzz-envelope-keys-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    FILE *f = fdopen(fd, "w");
    fputs("k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
          "sched ed25519.pub d7e75093a9e3488d640441acdbeb5903c97eee7ce61a29aacb65811fed5b6de0 "
          "scheduler\n"
          "work hmac 2021222324252627282930313233343536373839404142434445464748494a4b worker "
          "w1,node-*\n"
          "svc hmac 5051525354555657585960616263646566676869707172737475767778797a7b service "
          "p1,p2\n",
          f);
    fclose(f);
    floe_err err;
    floe_keyring *kr = floe_keyring_load(path, NULL, &err);
    unlink(path);
    if (kr == NULL)
        abort();
    return kr;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static floe_arena *arena;
    static floe_keyring *kr;
    if (arena == NULL) {
        arena = floe_arena_new(4096, 4 * (1 << 20));
        kr = keyring();
    }
    floe_envelope env;
    floe_err err;
    const char *why = NULL;
    if (floe_envelope_decode(data, size, 1 << 20, arena, &env, &err) == FLOE_OK)
        floe_envelope_verify(data, size, &env, kr, &why, &err);
    floe_arena_reset(arena);
    return 0;
}
