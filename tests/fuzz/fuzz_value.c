/* Typed values from users: a type (first line, as in specs) and a JSON value or a
 * command-line text (the rest) converted to a floe.Value, then formatted back. */
#include "floe_type.h"
#include "floe_value.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl == NULL || (size_t)(nl - data) > 200)
        return 0;
    char type_text[201];
    memcpy(type_text, data, (size_t)(nl - data));
    type_text[nl - data] = '\0';
    floe_arena *arena = floe_arena_new(4096, 16 << 20);
    if (arena == NULL)
        return 0;
    Floe__LiteralType *type = NULL;
    floe_err err;
    if (floe_type_parse(type_text, arena, &type, &err) == FLOE_OK) {
        const char *rest = (const char *)nl + 1;
        size_t rlen = size - (size_t)(nl - data) - 1;
        Floe__Value *v = NULL;
        json_t *j = json_loadb(rest, rlen, JSON_DECODE_ANY, NULL);
        if (j != NULL) {
            floe_value_from_json(type, j, arena, &v, &err);
            json_decref(j);
        }
        char *text = floe_arena_strndup(arena, rest, rlen);
        if (text != NULL)
            floe_value_from_text(type, text, arena, &v, &err);
    }
    floe_arena_free(arena);
    return 0;
}
