/*
 * fault_produce TOPIC KEYFILE VALUEFILE — produces one message of raw bytes (the key and
 * value read from the files) with the stack's settings: the fault suite's poison corpus
 * goes onto the bus exactly as a hostile producer would put it there.
 */
#include "floe_bus.h"
#include "floe_config.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (b == NULL)
                free(buf);
            buf = b;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int
main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fault_produce TOPIC KEYFILE VALUEFILE\n");
        return 2;
    }
    floe_config_source src = {.program = "fault_produce", .env = environ};
    floe_config *cfg = NULL;
    floe_config_report report;
    if (floe_config_load(&src, &cfg, &report) != FLOE_OK) {
        fprintf(stderr, "fault_produce: configuration: %s\n", report.text);
        return 2;
    }
    size_t klen = 0, vlen = 0;
    char *key = slurp(argv[2], &klen), *val = slurp(argv[3], &vlen);
    struct event_base *base = event_base_new();
    floe_bus_callbacks cb = {0};
    floe_err err = {0};
    floe_bus *bus =
        key != NULL && val != NULL && base != NULL ? floe_bus_new(base, cfg, &cb, &err) : NULL;
    int rc = 1;
    if (bus == NULL)
        fprintf(stderr, "fault_produce: %s\n", err.msg[0] ? err.msg : "cannot read the files");
    else if (floe_bus_produce_raw(bus, argv[1], klen ? key : NULL, klen, val, vlen, NULL, &err) !=
             FLOE_OK)
        fprintf(stderr, "fault_produce: %s\n", err.msg);
    else if (floe_bus_flush(bus, 30000) != FLOE_OK)
        fprintf(stderr, "fault_produce: not acknowledged within 30 s\n");
    else
        rc = 0;
    floe_bus_free(bus);
    if (base != NULL)
        event_base_free(base);
    free(key);
    free(val);
    floe_config_free(cfg);
    return rc;
}
