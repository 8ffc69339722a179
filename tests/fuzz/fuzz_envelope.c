/* Bus bytes as every consumer decodes them: floe_envelope_decode (wire check, unpack,
 * field checks) into an arena bounded like the bus's. */
#include "floe_arena.h"
#include "floe_envelope.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static floe_arena *arena;
    if (arena == NULL)
        arena = floe_arena_new(4096, 4 * (1 << 20));
    floe_envelope env;
    floe_err err;
    floe_envelope_decode(data, size, 1 << 20, arena, &env, &err);
    floe_arena_reset(arena);
    return 0;
}
