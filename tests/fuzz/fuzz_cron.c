/* Launch-plan schedules: a cron expression (first line) evaluated in a time zone whose
 * TZif bytes are the rest of the input (UTC when there are none). */
#include "floe_cron.h"
#include "floe_tz.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t elen = nl != NULL ? (size_t)(nl - data) : size;
    if (elen > 256)
        return 0;
    char expr[257];
    memcpy(expr, data, elen);
    expr[elen] = '\0';
    floe_err err;
    floe_tz *tz = NULL;
    if (nl != NULL && size - elen - 1 > 0)
        tz = floe_tz_parse("Fuzz/Zone", nl + 1, size - elen - 1, &err);
    if (tz != NULL) {
        int64_t at[2];
        floe_tz_offset(tz, 1700000000);
        floe_tz_next_change(tz, 1700000000);
        floe_tz_local_to_utc(tz, 1700000000, at);
    }
    floe_cron c;
    if (floe_cron_parse(expr, &c, &err) == 0) {
        int64_t t = 1700000000;
        for (int i = 0; i < 4 && t >= 0; i++)
            t = floe_cron_next(&c, tz, t);
    }
    floe_tz_free(tz);
    return 0;
}
