/*
 * Identity and roles through real HTTP and PostgreSQL (issue 19): a floe-scheduler
 * (argv[1]) with authentication on and the stack's bootstrap admin token. Every route is
 * called by a token of each role in the test's project, and by one with a role only in
 * another project: allowed at or above the route's role, 403 below it, and every denial
 * is in the audit log; no token is 401 everywhere but the probes. Tokens that expired,
 * were revoked or were never issued are refused; who launched and terminated comes from
 * the token, not the body.
 */
#include "floe_httpc.h"
#include "floe_mem.h"
#include "floe_time.h"
#include "it_exec.h"
#include "it_util.h"
#include "jwt_mint.h"

#include <event2/event.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define API "http://127.0.0.1:18777"

static const char *scheduler_bin;
static int scheduler_pid;
static char project[32], other[32];
static char exec_id[64];
static floe_config *cfg;
/* The identity provider the scheduler trusts (api.oidc.*): its keys and key set file. */
#define ISSUER "https://idp.floe.test"
static jwt_key *idp_rsa, *idp_ec, *idp_next;
static char jwks_dir[64], jwks_path[128];

enum { NONE, VIEWER, LAUNCHER, MAINTAINER, ADMIN, N_ROLES };
static const char *const role_names[N_ROLES] = {"none", "viewer", "launcher", "maintainer",
                                                "admin"};
static char tokens[N_ROLES][128];
static char dataset[64];

static int call_as(const char *token, const char *method, const char *path, const char *body,
                   json_t **out);

/* POST a dataset event as token into project; checks the status. */
static void
publish_as(const char *token, const char *ds, const char *in_project, int want)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/datasets/%s/events?project=%s", ds, in_project);
    json_t *j = NULL;
    int st = call_as(token, "POST", path,
                     "{\"partition\": {\"day\": \"1\"}, \"uri\": \"s3://b/k\"}", &j);
    if (st != want)
        fail_msg("publishing %s into %s answered %d, want %d: %s", ds, in_project, st, want,
                 j != NULL ? json_string_value(json_object_get(j, "message")) : "");
    json_decref(j);
}

/* A task and its workflow, registered in each project a test uses. */
#define GREET_YAML                                                                                 \
    "kind: task\nname: hello\nversion: v1\ncontainer: {command: [/bin/echo, hi]}\n"                \
    "inputs: {who: string}\noutputs: {greeting: string}\n"                                         \
    "---\n"                                                                                        \
    "kind: workflow\nname: greet\nversion: v1\ninputs: {who: string}\n"                            \
    "outputs: {greeting: {from: {node: h, output: greeting}}}\n"                                   \
    "nodes:\n  - {id: h, task: hello, inputs: {who: {input: who}}}\n"

static const char *const yaml =
    GREET_YAML "---\n"
               "kind: launchplan\nname: greet_daily\nversion: v1\nworkflow: greet@v1\n"
               "default_inputs: {who: world}\n";

/* One call as token (NULL: no Authorization header; "": the stack's admin, read from
 * FLOE_TOKEN_FILE). */
static int
call_as(const char *token, const char *method, const char *path, const char *body, json_t **out)
{
    char *saved = NULL;
    if (token == NULL) {
        const char *f = getenv("FLOE_TOKEN_FILE");
        saved = strdup(f != NULL ? f : "");
        unsetenv("FLOE_TOKEN_FILE");
    }
    floe_httpc_set_token(token != NULL && token[0] != '\0' ? token : NULL);
    int status = it_http(API, method, path, body, body != NULL ? strlen(body) : 0, out);
    if (saved != NULL) {
        setenv("FLOE_TOKEN_FILE", saved, 1);
        free(saved);
    }
    floe_httpc_set_token(NULL);
    return status;
}

static void
make_token(const char *name, const char *grant_project, const char *role, char out[128])
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\": \"%s\", \"grants\": [{\"project\": \"%s\", \"role\": \"%s\"}]}", name,
             grant_project, role);
    json_t *j = NULL;
    assert_int_equal(call_as("", "POST", "/api/v1/tokens", body, &j), 201);
    const char *tok = json_string_value(json_object_get(j, "token"));
    assert_non_null(tok);
    assert_true(strncmp(tok, "floe_", 5) == 0 && strlen(tok) > 40);
    snprintf(out, 128, "%s", tok);
    json_decref(j);
}

/* The provider's key set, with its next key once it rotated (written whole, then renamed
 * over the old one, as a config-management tool would). */
static void
write_jwks(bool rotated)
{
    json_t *keys = json_array();
    json_array_append_new(keys, jwt_key_jwk(idp_rsa));
    json_array_append_new(keys, jwt_key_jwk(idp_ec));
    if (rotated)
        json_array_append_new(keys, jwt_key_jwk(idp_next));
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", jwks_path);
    assert_int_equal(json_dump_file(doc, tmp, 0), 0);
    assert_int_equal(rename(tmp, jwks_path), 0);
    json_decref(doc);
}

static int
setup(void **state)
{
    (void)state;
    cfg = it_config("test_auth", NULL, 0);
    char id[FLOE_ID_LEN + 1];
    floe_id_new(id);
    for (char *p = id; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    snprintf(project, sizeof(project), "au-%.20s", id);
    snprintf(other, sizeof(other), "ot-%.20s", id);
    char *argv[] = {(char *)scheduler_bin, NULL};
    idp_rsa = jwt_key_new("RSA", "rsa-1", 0);
    idp_ec = jwt_key_new("EC", "ec-1", 0);
    idp_next = jwt_key_new("RSA", "rsa-2", 0);
    snprintf(jwks_dir, sizeof(jwks_dir), "/tmp/floe-jwks-XXXXXX");
    assert_non_null(mkdtemp(jwks_dir));
    snprintf(jwks_path, sizeof(jwks_path), "%s/jwks.json", jwks_dir);
    write_jwks(false);
    char jwks_env[200];
    snprintf(jwks_env, sizeof(jwks_env), "FLOE_API_OIDC_JWKS_FILE=%s", jwks_path);
    char *env[] = {"FLOE_API_URL=" API,
                   "FLOE_API_AUTH=on",
                   "FLOE_API_AUTH_CACHE=5s",
                   "FLOE_API_OIDC_ISSUER=" ISSUER,
                   "FLOE_API_OIDC_AUDIENCE=floe-api",
                   jwks_env,
                   NULL};
    scheduler_pid = it_spawn(argv, env, "test_auth.scheduler.log");
    it_http_wait_ok(API, "/readyz", 60000);
    if (getenv("FLOE_TOKEN_FILE") == NULL)
        fail_msg("FLOE_TOKEN_FILE is not set: run through tests/with-stack");
    make_token("au-viewer", project, "viewer", tokens[VIEWER]);
    make_token("au-launcher", project, "launcher", tokens[LAUNCHER]);
    make_token("au-maintainer", project, "maintainer", tokens[MAINTAINER]);
    make_token("au-admin", project, "admin", tokens[ADMIN]);
    make_token("au-elsewhere", other, "admin", tokens[NONE]); /* nothing in project */
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/register?project=%s", project);
    assert_int_equal(call_as("", "POST", path, yaml, NULL), 201);
    char body[256];
    snprintf(body, sizeof(body),
             "{\"project\": \"%s\", \"workflow\": {\"name\": \"greet\", \"version\": \"v1\"},"
             " \"inputs\": {\"who\": \"x\"}}",
             project);
    json_t *j = NULL;
    assert_int_equal(call_as("", "POST", "/api/v1/executions", body, &j), 201);
    snprintf(exec_id, sizeof(exec_id), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    /* The project owns its dataset once the leader has seen its first event. */
    snprintf(dataset, sizeof(dataset), "au_ds_%s", project);
    publish_as("", dataset, project, 201);
    snprintf(path, sizeof(path), "/api/v1/datasets/%s", dataset);
    IT_WAIT_UNTIL(call_as("", "GET", path, NULL, NULL) == 200, 60000,
                  "the project to own its dataset");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    int status = it_stop(scheduler_pid, 15000);
    floe_config_free(cfg);
    unlink(jwks_path);
    rmdir(jwks_dir);
    jwt_key_free(idp_rsa);
    jwt_key_free(idp_ec);
    jwt_key_free(idp_next);
    if (status != 0)
        fail_msg("floe-scheduler did not stop cleanly (status %d); see test_auth.scheduler.log",
                 status);
    return 0;
}

typedef struct route_case {
    const char *method, *path, *body; /* %P: project, %E: execution id */
    int need;                         /* the least role allowed; -1: any valid token */
} route_case;

/* Every route of docs/api.md but the probes. */
static const route_case cases[] = {
    {"GET", "/api/v1/version", NULL, -1},
    {"GET", "/api/v1/whoami", NULL, -1},
    {"POST", "/api/v1/register?project=%P&dry_run=true", "@yaml", VIEWER},
    {"POST", "/api/v1/register?project=%P", "@yaml", MAINTAINER},
    {"POST", "/api/v1/executions",
     "{\"project\": \"%P\", \"workflow\": {\"name\": \"greet\", \"version\": \"v1\"},"
     " \"inputs\": {\"who\": \"y\"}}",
     LAUNCHER},
    {"GET", "/api/v1/executions?project=%P", NULL, VIEWER},
    {"GET", "/api/v1/executions/%E", NULL, VIEWER},
    {"GET", "/api/v1/executions/%E/nodes", NULL, VIEWER},
    {"GET", "/api/v1/executions/%E/nodes/h/logs?attempt=1", NULL, VIEWER},
    {"POST", "/api/v1/executions/%E/relaunch", "{}", LAUNCHER},
    {"GET", "/api/v1/cache?project=%P", NULL, VIEWER},
    {"DELETE", "/api/v1/cache?project=%P&task=hello", NULL, MAINTAINER},
    {"GET", "/api/v1/lineage?execution=%E", NULL, VIEWER},
    {"GET", "/api/v1/tasks?project=%P", NULL, VIEWER},
    {"GET", "/api/v1/workflows/%P/development/greet/v1", NULL, VIEWER},
    {"GET", "/api/v1/launchplans/%P/development/greet_daily", NULL, VIEWER},
    {"POST", "/api/v1/launchplans/%P/development/greet_daily/v1/deactivate", NULL, MAINTAINER},
    {"POST", "/api/v1/datasets/au_ds_%P/events?project=%P",
     "{\"partition\": {\"day\": \"1\"}, \"uri\": \"s3://b/k\"}", LAUNCHER},
    {"GET", "/api/v1/datasets/au_ds_%P", NULL, VIEWER},
    {"PUT", "/api/v1/datasets/au_ds_%P/grants/au-friend", "{\"trigger\": true}", ADMIN},
    {"DELETE", "/api/v1/datasets/au_ds_%P/grants/au-friend", NULL, ADMIN},
    {"POST", "/api/v1/blobs?project=%P", "some bytes", LAUNCHER},
    {"GET",
     "/api/v1/blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000"
     "?project=%P",
     NULL, VIEWER},
    {"POST", "/api/v1/tokens",
     "{\"name\": \"au-made\", \"grants\": [{\"project\": \"%P\", \"role\": \"viewer\"}]}", ADMIN},
    {"GET", "/api/v1/audit?project=%P", NULL, ADMIN},
    {"POST", "/api/v1/executions/%E/nodes/g/approve", "{}", LAUNCHER},
    {"POST", "/api/v1/executions/%E/terminate", "{\"reason\": \"au\"}", LAUNCHER},
};

/* s with %P and %E replaced. */
static void
expand(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s && o + 1 < size; s++) {
        const char *rep = s[0] == '%' && s[1] == 'P'   ? project
                          : s[0] == '%' && s[1] == 'E' ? exec_id
                                                       : NULL;
        if (rep != NULL) {
            o += (size_t)snprintf(out + o, size - o, "%s", rep);
            s++;
        } else
            out[o++] = *s;
    }
    out[o < size ? o : size - 1] = '\0';
}

static long
audit_count(const char *principal, const char *outcome)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/audit?principal=%s&outcome=%s&limit=1000", principal,
             outcome);
    json_t *j = NULL;
    assert_int_equal(call_as("", "GET", path, NULL, &j), 200);
    long n = (long)json_array_size(json_object_get(j, "items"));
    json_decref(j);
    return n;
}

static const char *
principal_of(const char *token, char *buf, size_t size)
{
    json_t *j = NULL;
    int st = call_as(token, "GET", "/api/v1/whoami", NULL, &j);
    if (st != 200)
        fail_msg("whoami answered %d: %s", st,
                 j != NULL ? json_string_value(json_object_get(j, "message")) : "");
    snprintf(buf, size, "%s", json_string_value(json_object_get(j, "principal")));
    json_decref(j);
    return buf;
}

static void
test_every_route_by_every_role(void **state)
{
    (void)state;
    for (int role = NONE; role < N_ROLES; role++) {
        char who[64];
        principal_of(tokens[role], who, sizeof(who));
        long denied_before = audit_count(who, "denied");
        long denied = 0;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char path[512], body[1024];
            expand(cases[i].path, path, sizeof(path));
            const char *b = NULL;
            if (cases[i].body != NULL && strcmp(cases[i].body, "@yaml") == 0)
                b = yaml;
            else if (cases[i].body != NULL) {
                expand(cases[i].body, body, sizeof(body));
                b = body;
            }
            json_t *j = NULL;
            int st = call_as(tokens[role], cases[i].method, path, b, &j);
            bool allowed = role >= cases[i].need;
            if (allowed && (st == 401 || st == 403 || st >= 500))
                fail_msg("%s as %s: %s %s answered %d: %s", role_names[role], who, cases[i].method,
                         path, st,
                         j != NULL ? json_string_value(json_object_get(j, "message")) : "");
            if (!allowed && st != 403)
                fail_msg("%s as %s: %s %s answered %d, expected 403", role_names[role], who,
                         cases[i].method, path, st);
            if (!allowed) {
                assert_string_equal(json_string_value(json_object_get(j, "code")),
                                    "permission_denied");
                denied++;
            }
            json_decref(j);
        }
        /* Every denial is in the audit log, with who was refused. */
        assert_int_equal(audit_count(who, "denied") - denied_before, denied);
    }
}

static void
test_no_token_is_401_but_probes_answer(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512];
        expand(cases[i].path, path, sizeof(path));
        json_t *j = NULL;
        assert_int_equal(call_as(NULL, cases[i].method, path, NULL, &j), 401);
        assert_string_equal(json_string_value(json_object_get(j, "code")), "unauthenticated");
        json_decref(j);
    }
    assert_int_equal(call_as(NULL, "GET", "/healthz", NULL, NULL), 200);
    assert_int_equal(call_as(NULL, "GET", "/readyz", NULL, NULL), 200);
    assert_int_equal(call_as(NULL, "GET", "/metrics", NULL, NULL), 200);
    /* A made-up token, one of the wrong shape, and a Basic header are all refused. */
    assert_int_equal(call_as("floe_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET",
                             "/api/v1/whoami", NULL, NULL),
                     401);
    assert_int_equal(call_as("x", "GET", "/api/v1/whoami", NULL, NULL), 401);
    assert_true(audit_count("unauthenticated", "denied") >= 1);
}

/* Whether the newest rows of the unauthenticated principal hold the flood's summary. */
static bool
flood_summed_up(void)
{
    json_t *j = NULL;
    if (call_as("", "GET", "/api/v1/audit?principal=unauthenticated&limit=50", NULL, &j) != 200)
        return false;
    bool found = false;
    json_t *row;
    size_t i;
    json_array_foreach(json_object_get(j, "items"), i, row)
    {
        const char *d = json_string_value(json_object_get(row, "detail"));
        if (d != NULL && strstr(d, "not recorded one by one") != NULL)
            found = true;
    }
    json_decref(j);
    return found;
}

/* A flood of unauthenticated requests does not write a row each: at most 20 a second are
 * recorded, the rest summed up in one row when the next second begins. */
static void
test_unauthenticated_flood_is_summed_up(void **state)
{
    (void)state;
    long before = audit_count("unauthenticated", "denied");
    int64_t t0 = floe_mono_us();
    for (int i = 0; i < 100; i++)
        assert_int_equal(call_as(NULL, "GET", "/api/v1/whoami", NULL, NULL), 401);
    int64_t secs = (floe_mono_us() - t0) / 1000000 + 1;
    /* the windows the flood spanned each recorded at most 20 (+1 summary) */
    long added = audit_count("unauthenticated", "denied") - before;
    if (added > 21 * secs + 21)
        fail_msg("%ld rows for 100 unauthenticated requests in %lld s", added, (long long)secs);
    IT_WAIT_UNTIL((call_as(NULL, "GET", "/api/v1/whoami", NULL, NULL), flood_summed_up()), 10000,
                  "the row summing up the flood");
}

static void
test_revoked_and_expired_tokens_are_refused(void **state)
{
    (void)state;
    char tok[128], who[64], path[128];
    make_token("au-revoked", project, "viewer", tok);
    principal_of(tok, who, sizeof(who));
    /* A viewer may not revoke another's token; it may revoke itself. */
    assert_int_equal(call_as(tok, "DELETE", "/api/v1/tokens/bootstrap", NULL, NULL), 403);
    snprintf(path, sizeof(path), "/api/v1/tokens/%s", who + strlen("token:"));
    assert_int_equal(call_as("", "DELETE", path, NULL, NULL), 200);
    /* This replica forgets it at once (others within api.auth_cache). */
    assert_int_equal(call_as(tok, "GET", "/api/v1/whoami", NULL, NULL), 401);

    char body[256];
    snprintf(body, sizeof(body),
             "{\"name\": \"au-short\", \"grants\": [{\"project\": \"%s\", \"role\": "
             "\"viewer\"}], \"expires_in\": \"1s\"}",
             project);
    json_t *j = NULL;
    assert_int_equal(call_as("", "POST", "/api/v1/tokens", body, &j), 201);
    snprintf(tok, sizeof(tok), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    /* Waits for the token's own expiry, which is the event (bounded). */
    int64_t deadline = floe_mono_us() + 10 * 1000000LL;
    int st = 200;
    while ((st = call_as(tok, "GET", "/api/v1/whoami", NULL, &j)) == 200 &&
           floe_mono_us() < deadline) {
        json_decref(j);
        j = NULL;
        usleep(100000);
    }
    assert_int_equal(st, 401);
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "expired"));
    json_decref(j);
    /* Bad requests for tokens change nothing. */
    assert_int_equal(call_as("", "POST", "/api/v1/tokens",
                             "{\"name\": \"x\", \"grants\": [{\"project\": \"p\", \"role\": "
                             "\"root\"}]}",
                             NULL),
                     400);
    assert_int_equal(
        call_as("", "POST", "/api/v1/tokens", "{\"name\": \"x\", \"grants\": []}", NULL), 400);
    /* An admin of one project cannot grant in another, nor everywhere. */
    snprintf(body, sizeof(body),
             "{\"name\": \"au-esc\", \"grants\": [{\"project\": \"*\", \"role\": \"admin\"}]}");
    assert_int_equal(call_as(tokens[ADMIN], "POST", "/api/v1/tokens", body, NULL), 403);
}

static void
test_who_did_it_comes_from_the_token(void **state)
{
    (void)state;
    char who[64], body[512], path[256];
    principal_of(tokens[LAUNCHER], who, sizeof(who));
    snprintf(body, sizeof(body),
             "{\"project\": \"%s\", \"workflow\": {\"name\": \"greet\", \"version\": \"v1\"},"
             " \"inputs\": {\"who\": \"z\"}, \"requested_by\": \"mallory\"}",
             project);
    json_t *j = NULL;
    assert_int_equal(call_as(tokens[LAUNCHER], "POST", "/api/v1/executions", body, &j), 201);
    snprintf(path, sizeof(path), "/api/v1/executions/%s",
             json_string_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(call_as(tokens[VIEWER], "GET", path, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "requested_by")), who);
    json_decref(j);
}

/* An access token of the provider: alg and kid in the header, the rest in the claims. */
static char *
oidc_token(const jwt_key *k, const char *alg, const char *aud, long long exp_in, const char *sub,
           const char *grants, const char *secret)
{
    char header[128], claims[1024];
    snprintf(header, sizeof(header), "{\"alg\": \"%s\", \"kid\": \"%s\", \"typ\": \"JWT\"}", alg,
             k == idp_rsa  ? "rsa-1"
             : k == idp_ec ? "ec-1"
                           : "rsa-2");
    long long now = floe_now_us() / 1000000;
    snprintf(claims, sizeof(claims),
             "{\"iss\": \"" ISSUER "\", \"aud\": \"%s\", \"sub\": \"%s\", \"iat\": %lld, "
             "\"exp\": %lld, \"floe_grants\": %s}",
             aud, sub, now, now + exp_in, grants);
    return jwt_mint(k, header, claims, secret);
}

static void
expect_401(char *token, const char *why)
{
    json_t *j = NULL;
    int st = call_as(token, "GET", "/api/v1/whoami", NULL, &j);
    if (st != 401)
        fail_msg("a token that should fail for \"%s\" answered %d", why, st);
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (msg == NULL || strstr(msg, why) == NULL)
        fail_msg("refused with \"%s\", expected \"%s\"", msg ? msg : "", why);
    json_decref(j);
    free(token);
}

static void
test_oidc_access_tokens(void **state)
{
    (void)state;
    char grants[128], path[256], body[512], alice_sub[64], bob_sub[64], who_a[80], who_b[80];
    /* Subjects of this run: the audit log outlives it (the release and sanitizer builds
     * share the stack). */
    snprintf(alice_sub, sizeof(alice_sub), "alice-%s", project);
    snprintf(bob_sub, sizeof(bob_sub), "bob-%s", project);
    snprintf(who_a, sizeof(who_a), "oidc:%s", alice_sub);
    snprintf(who_b, sizeof(who_b), "oidc:%s", bob_sub);
    /* alice may launch in the project (RS256); bob may only look (ES256). */
    snprintf(grants, sizeof(grants), "[\"%s=launcher\"]", project);
    char *alice = oidc_token(idp_rsa, "RS256", "floe-api", 600, alice_sub, grants, NULL);
    snprintf(grants, sizeof(grants), "[\"%s=viewer\"]", project);
    char *bob = oidc_token(idp_ec, "ES256", "floe-api", 600, bob_sub, grants, NULL);
    char who[96];
    assert_string_equal(principal_of(alice, who, sizeof(who)), who_a);
    assert_string_equal(principal_of(bob, who, sizeof(who)), who_b);
    snprintf(body, sizeof(body),
             "{\"project\": \"%s\", \"workflow\": {\"name\": \"greet\", \"version\": \"v1\"},"
             " \"inputs\": {\"who\": \"oidc\"}}",
             project);
    json_t *j = NULL;
    assert_int_equal(call_as(bob, "POST", "/api/v1/executions", body, NULL), 403);
    assert_int_equal(call_as(alice, "POST", "/api/v1/executions", body, &j), 201);
    snprintf(path, sizeof(path), "/api/v1/executions/%s",
             json_string_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(call_as(bob, "GET", path, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "requested_by")), who_a);
    json_decref(j);
    assert_int_equal(audit_count(who_b, "denied"), 1);
    /* The launch is audited (its row written with the execution's, one statement), and so
     * is a launch that failed (no execution row, the audit row on its own). */
    snprintf(path, sizeof(path), "/api/v1/audit?principal=%s&outcome=ok&limit=10", who_a);
    assert_int_equal(call_as("", "GET", path, NULL, &j), 200);
    const json_t *items = json_object_get(j, "items");
    assert_int_equal(json_array_size(items), 1);
    const json_t *row = json_array_get(items, 0);
    assert_string_equal(json_string_value(json_object_get(row, "action")), "launch");
    assert_string_equal(json_string_value(json_object_get(row, "project")), project);
    assert_string_equal(json_string_value(json_object_get(row, "resource")), "/api/v1/executions");
    assert_int_equal(json_integer_value(json_object_get(row, "status")), 201);
    json_decref(j);
    snprintf(body, sizeof(body),
             "{\"project\": \"%s\", \"workflow\": {\"name\": \"greet\", \"version\": \"v0\"}}",
             project);
    assert_int_equal(call_as(alice, "POST", "/api/v1/executions", body, NULL), 404);
    assert_int_equal(audit_count(who_a, "failed"), 1);
    assert_int_equal(audit_count(who_a, "ok"), 1);

    /* Refused: another audience, the algorithm switched, expired, unknown key. */
    expect_401(oidc_token(idp_rsa, "RS256", "someone-else", 600, "eve", grants, NULL), "audience");
    char *pem = jwt_key_pem(idp_rsa);
    expect_401(oidc_token(idp_rsa, "HS256", "floe-api", 600, "eve", grants, pem), "algorithm");
    free(pem);
    expect_401(oidc_token(idp_rsa, "none", "floe-api", 600, "eve", grants, NULL), "algorithm");
    expect_401(oidc_token(idp_ec, "RS256", "floe-api", 600, "eve", grants, NULL), "does not match");
    expect_401(oidc_token(idp_rsa, "RS256", "floe-api", -600, "eve", grants, NULL), "expired");
    expect_401(oidc_token(idp_next, "RS256", "floe-api", 600, "carol", grants, NULL),
               "not in the key set");

    /* The provider rotates: its new key is read from the changed file, no restart. */
    write_jwks(true);
    char *carol = oidc_token(idp_next, "RS256", "floe-api", 600, "carol", grants, NULL);
    IT_WAIT_UNTIL(call_as(carol, "GET", "/api/v1/whoami", NULL, NULL) == 200, 10000,
                  "a token of the rotated-in key to be accepted");
    free(carol);
    free(alice);
    free(bob);
}

static int
executions_of(const char *in_project, const char *plan)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/executions?project=%s&launch_plan=%s", in_project, plan);
    json_t *j = NULL;
    if (call_as("", "GET", path, NULL, &j) != 200)
        return -1;
    int n = (int)json_array_size(json_object_get(j, "items"));
    json_decref(j);
    return n;
}

/* Datasets have owners: the project that first published au_ds_<project> owns it; the other
 * project can neither publish into it nor fire its launch plan on it until the owner grants
 * it, and a grant taken back stops it again. */
static void
test_datasets_have_owners(void **state)
{
    (void)state;
    const char *outsider = tokens[NONE]; /* admin of `other`, nothing in `project` */
    publish_as(outsider, dataset, other, 403);
    /* other's launch plan on the dataset (its own copy of the workflow) */
    char yaml_other[1024], path[256];
    snprintf(yaml_other, sizeof(yaml_other),
             GREET_YAML "---\n"
                        "kind: launchplan\nname: on_ds\nversion: v1\nworkflow: greet@v1\n"
                        "trigger: {datasets: [{name: %s}], mode: any, inputs: {who: uri}}\n",
             dataset);
    snprintf(path, sizeof(path), "/api/v1/register?project=%s", other);
    assert_int_equal(call_as(outsider, "POST", path, yaml_other, NULL), 201);
    snprintf(path, sizeof(path), "/api/v1/launchplans/%s/development/on_ds/v1/activate", other);
    assert_int_equal(call_as(outsider, "POST", path, NULL, NULL), 200);
    /* The owner publishes: other's plan is refused the event (counted), nothing runs. */
    const char *refused = "floe_launchplan_dataset_refused_total{right=\"trigger\"}";
    long long before = it_metric(API, refused);
    publish_as("", dataset, project, 201);
    it_wait_metric(API, refused, before + 1, 60000);
    assert_int_equal(executions_of(other, "on_ds"), 0);
    /* The owner grants triggering (an admin of other cannot grant itself) */
    char grant[256];
    snprintf(grant, sizeof(grant), "/api/v1/datasets/%s/grants/%s", dataset, other);
    assert_int_equal(call_as(outsider, "PUT", grant, "{\"trigger\": true}", NULL), 403);
    assert_int_equal(call_as(tokens[ADMIN], "PUT", grant, "{\"trigger\": true}", NULL), 200);
    publish_as("", dataset, project, 201);
    IT_WAIT_UNTIL(executions_of(other, "on_ds") == 1, 60000,
                  "other's launch plan to fire on the owner's event once it was granted");
    publish_as(outsider, dataset, other, 403); /* triggering is not publishing */
    assert_int_equal(
        call_as(tokens[ADMIN], "PUT", grant, "{\"publish\": true, \"trigger\": true}", NULL), 200);
    publish_as(outsider, dataset, other, 201);
    json_t *j = NULL;
    snprintf(path, sizeof(path), "/api/v1/datasets/%s", dataset);
    assert_int_equal(call_as(tokens[VIEWER], "GET", path, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "owner")), project);
    json_t *g0 = json_array_get(json_object_get(j, "grants"), 0);
    assert_string_equal(json_string_value(json_object_get(g0, "project")), other);
    assert_true(json_is_true(json_object_get(g0, "publish")));
    json_decref(j);
    /* taken back: refused again */
    assert_int_equal(call_as(tokens[ADMIN], "DELETE", grant, NULL, NULL), 200);
    publish_as(outsider, dataset, other, 403);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_auth FLOE_SCHEDULER\n");
        return 2;
    }
    scheduler_bin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route_by_every_role),
        cmocka_unit_test(test_no_token_is_401_but_probes_answer),
        cmocka_unit_test(test_unauthenticated_flood_is_summed_up),
        cmocka_unit_test(test_revoked_and_expired_tokens_are_refused),
        cmocka_unit_test(test_who_did_it_comes_from_the_token),
        cmocka_unit_test(test_oidc_access_tokens),
        cmocka_unit_test(test_datasets_have_owners),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
