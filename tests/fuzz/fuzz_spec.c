/* The YAML spec compiler: tasks, workflows and launch plans of one registration, with the
 * API's limits (smaller, so inputs explore rather than grow); every other input with a
 * problem handler, which gets every error (none of them empty), as the API's. A failed
 * compile always says why. */
#include "spec.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
problem(void *arg, const floe_err *err)
{
    if (err->msg[0] == '\0')
        abort();
    (*(unsigned *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const classes[] = {"default", "large"};
    spec_env env = {.project = "fuzz",
                    .domain = "development",
                    .resource_classes = classes,
                    .n_resource_classes = 2,
                    .limits = {.max_bytes = 1 << 16,
                               .max_documents = 16,
                               .max_nesting = 32,
                               .max_nodes = 200,
                               .max_depth = 4}};
    floe_arena *arena = floe_arena_new(16384, 64 << 20);
    if (arena == NULL)
        return 0;
    spec_item *items;
    size_t n;
    floe_err err;
    unsigned problems = 0;
    if (size % 2 == 1) {
        env.problem = problem;
        env.problem_arg = &problems;
    }
    floe_rc rc = spec_compile(&env, "fuzz.yaml", (const char *)data, size, arena, &items, &n, &err);
    if (rc != FLOE_OK && err.msg[0] == '\0')
        abort();
    floe_arena_free(arena);
    return 0;
}
