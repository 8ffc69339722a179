/*
 * plug_kube — the `kubernetes` executor (placeholder until the client lands).
 */
#include "plug_exec.h"

#include <stddef.h>

plug_executor *
plug_kube_new(const plug_env *env, floe_err *err)
{
    (void)env;
    floe_err_sys(err, FLOE_ENOTFOUND, "not built yet");
    return NULL;
}
