#include "floe_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

floe_rc
floe_err_set(floe_err *err, floe_rc code, floe_err_class cls, bool retriable, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->cls = cls;
    err->retriable = retriable;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void
floe_err_prefix(floe_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char joined[FLOE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(joined, sizeof(joined), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* Append ": " and the old message, truncating at the buffer's end. */
    size_t len = strlen(joined);
    const char *tail[2] = {": ", err->msg};
    for (int t = 0; t < 2; t++) {
        for (const char *p = tail[t]; *p != '\0' && len < sizeof(joined) - 1; p++)
            joined[len++] = *p;
    }
    joined[len] = '\0';
    memcpy(err->msg, joined, sizeof(err->msg));
}

void
floe_err_clear(floe_err *err)
{
    if (err == NULL)
        return;
    err->code = FLOE_OK;
    err->cls = FLOE_ERR_NONE;
    err->retriable = false;
    err->msg[0] = '\0';
}

const char *
floe_rc_name(floe_rc rc)
{
    switch (rc) {
    case FLOE_OK:
        return "OK";
    case FLOE_EINVAL:
        return "EINVAL";
    case FLOE_ENOMEM:
        return "ENOMEM";
    case FLOE_ENOTFOUND:
        return "ENOTFOUND";
    case FLOE_ECONFLICT:
        return "ECONFLICT";
    case FLOE_EFENCED:
        return "EFENCED";
    case FLOE_EAGAIN:
        return "EAGAIN";
    case FLOE_EIO:
        return "EIO";
    case FLOE_ETIMEDOUT:
        return "ETIMEDOUT";
    case FLOE_ETOOBIG:
        return "ETOOBIG";
    case FLOE_ESTATE:
        return "ESTATE";
    }
    return "EUNKNOWN";
}
