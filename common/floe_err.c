#include "floe_err.h"

#include "floe_text.h"

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
    /* Messages reach Redis, PostgreSQL and the bus: cut between characters, never in one. */
    va_list ap;
    va_start(ap, fmt);
    floe_text_vfmt(err->msg, sizeof(err->msg), fmt, ap);
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
    size_t len = floe_text_vfmt(joined, sizeof(joined), fmt, ap);
    va_end(ap);
    /* Append ": " and the old message; a character cut at the buffer's end is dropped. */
    const char *tail[2] = {": ", err->msg};
    for (int t = 0; t < 2; t++) {
        for (const char *p = tail[t]; *p != '\0' && len < sizeof(joined) - 1; p++)
            joined[len++] = *p;
    }
    floe_text_fix(joined, len);
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
    case FLOE_ENOTSUP:
        return "ENOTSUP";
    }
    return "EUNKNOWN";
}
