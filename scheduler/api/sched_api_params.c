/*
 * sched_api_params — the query parameters every route shares, checked: project, domain,
 * the list scope (limit, page token), and the page a list answers with.
 */
#include "sched_api_int.h"

#include "floe_text.h"
#include "spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
api_param(api_req *r, const char *key)
{
    return api_target_param(&r->t, key);
}

bool
api_domain_known(const floe_config *cfg, const char *domain)
{
    size_t n = strlen(domain);
    for (const char *p = cfg->domains; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, domain, n) == 0)
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}

const char *
api_project(api_req *r, bool *ok)
{
    const char *p = api_param(r, "project");
    if (p == NULL)
        p = api_cfg(r)->project;
    if (spec_check_project(p, &r->err) != FLOE_OK)
        *ok = false;
    return p;
}

const char *
api_domain(api_req *r, bool *ok)
{
    const char *d = api_param(r, "domain");
    if (d == NULL)
        d = api_cfg(r)->domain;
    if (!api_domain_known(api_cfg(r), d)) {
        api_fail(r, FLOE_EINVAL, "domain \"%.64s\" is not one of the configured domains (%s)", d,
                 api_cfg(r)->domains);
        *ok = false;
    }
    return d;
}

static unsigned
api_limit(api_req *r, bool *ok)
{
    const char *v = api_param(r, "limit");
    if (v == NULL)
        return API_LIST_LIMIT_DEFAULT;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > API_LIST_LIMIT_MAX) {
        api_fail(r, FLOE_EINVAL, "limit \"%.32s\": expected 1 to %d", v, API_LIST_LIMIT_MAX);
        *ok = false;
        return 0;
    }
    return (unsigned)n;
}

static int64_t
api_token(api_req *r, bool *ok)
{
    const char *v = api_param(r, "token");
    if (v == NULL)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end != '\0' || n < 1) {
        api_fail(r, FLOE_EINVAL, "token \"%.32s\" is not a page token from a previous answer", v);
        *ok = false;
        return 0;
    }
    return n;
}

bool
api_list_scope(api_req *r, const char **project, const char **domain, unsigned *limit,
               int64_t *before_seq)
{
    bool ok = true;
    *project = api_project(r, &ok);
    if (ok)
        *domain = api_domain(r, &ok);
    if (ok)
        *limit = api_limit(r, &ok);
    if (ok)
        *before_seq = api_token(r, &ok);
    return ok;
}

void
api_reply_page(api_req *r, json_t *items, bool more, int64_t last_seq)
{
    char tok[24];
    snprintf(tok, sizeof(tok), "%lld", (long long)last_seq);
    r->reply =
        json_pack("{s:o,s:o}", "items", items, "next_token", more ? json_string(tok) : json_null());
    if (r->reply == NULL)
        api_fail(r, FLOE_ENOMEM, "out of memory");
}
