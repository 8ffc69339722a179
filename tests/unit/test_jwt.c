/*
 * OIDC access tokens (sched_jwt): a token signed by the issuer's RSA or P-256 key with the
 * right claims is accepted with the grants of its claim; every way to forge or misuse one
 * is refused: the algorithm switched (none, HS256 keyed with the public key, ES256 header
 * on an RSA key), a payload edited after signing, another issuer or audience, expired,
 * not yet valid, an unknown key, small RSA keys, malformed sets and grants.
 */
#include "jwt_mint.h"
#include "sched_jwt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NOW 1800000000LL
#define ISS "https://idp.example"

static jwt_key *rsa, *ec, *stranger;
static sched_jwks *ks;

static const sched_jwt_rules rules = {
    .issuer = ISS,
    .audience = "floe",
    .algs = SCHED_JWT_RS256 | SCHED_JWT_ES256,
    .skew_s = 60,
    .now_s = NOW,
    .grants_claim = "floe_grants",
};

static int
setup(void **state)
{
    (void)state;
    rsa = jwt_key_new("RSA", "r1", 0);
    ec = jwt_key_new("EC", "e1", 0);
    stranger = jwt_key_new("RSA", "r1", 0); /* same kid, another key */
    json_t *keys = json_array();
    json_array_append_new(keys, jwt_key_jwk(rsa));
    json_array_append_new(keys, jwt_key_jwk(ec));
    json_array_append_new(keys, json_pack("{s:s,s:s}", "kty", "oct", "k", "c2VjcmV0"));
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *text = json_dumps(doc, 0);
    floe_err err = {0};
    ks = sched_jwks_parse(text, strlen(text), &err);
    free(text);
    json_decref(doc);
    if (ks == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(sched_jwks_count(ks), 2); /* the symmetric key is not used */
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    sched_jwks_free(ks);
    jwt_key_free(rsa);
    jwt_key_free(ec);
    jwt_key_free(stranger);
    return 0;
}

/* claims with {iss, aud, sub, exp, extra...} */
static char *
claims(const char *iss, const char *aud, long long exp, const char *extra)
{
    char *s = malloc(1024);
    snprintf(s, 1024,
             "{\"iss\": \"%s\", \"aud\": %s, \"sub\": \"alice\", \"exp\": %lld, "
             "\"email\": \"alice@example.com\"%s%s}",
             iss, aud, exp, extra[0] ? ", " : "", extra);
    return s;
}

static floe_rc
check(const char *token, store_principal *p, floe_err *err)
{
    bool kid_unknown;
    memset(err, 0, sizeof(*err));
    return sched_jwt_verify(ks, &rules, token, p, &kid_unknown, err);
}

static void
refused(const jwt_key *k, const char *header, const char *claims_json, const char *secret,
        const char *why)
{
    char *tok = jwt_mint(k, header, claims_json, secret);
    store_principal p;
    floe_err err;
    if (check(tok, &p, &err) != FLOE_EINVAL)
        fail_msg("accepted: %s %s", header, claims_json);
    if (strstr(err.msg, why) == NULL)
        fail_msg("refused for \"%s\", expected \"%s\"", err.msg, why);
    free(tok);
}

static void
test_good_tokens_are_accepted(void **state)
{
    (void)state;
    char *c = claims(ISS, "[\"other\", \"floe\"]", NOW + 300,
                     "\"floe_grants\": [\"team-a=launcher\", \"*=viewer\"]");
    const struct {
        const jwt_key *k;
        const char *hdr;
    } cases[] = {
        {rsa, "{\"alg\": \"RS256\", \"kid\": \"r1\", \"typ\": \"JWT\"}"},
        {ec, "{\"alg\": \"ES256\", \"kid\": \"e1\"}"},
        {ec, "{\"alg\": \"ES256\"}"}, /* no kid: the only key of its type */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = jwt_mint(cases[i].k, cases[i].hdr, c, NULL);
        store_principal p;
        floe_err err;
        if (check(tok, &p, &err) != FLOE_OK)
            fail_msg("%s: %s", cases[i].hdr, err.msg);
        assert_string_equal(p.id, "oidc:alice");
        assert_string_equal(p.name, "alice@example.com");
        assert_int_equal(p.expires_us, (NOW + 300) * 1000000LL);
        assert_int_equal(p.n_grants, 2);
        assert_string_equal(p.grants[0].project, "team-a");
        assert_int_equal(p.grants[0].role, STORE_ROLE_LAUNCHER);
        assert_string_equal(p.grants[1].project, "*");
        assert_int_equal(p.grants[1].role, STORE_ROLE_VIEWER);
        free(tok);
    }
    /* expired within the allowed skew still passes */
    char *late = claims(ISS, "\"floe\"", NOW - 30, "");
    char *tok = jwt_mint(rsa, "{\"alg\": \"RS256\", \"kid\": \"r1\"}", late, NULL);
    store_principal p;
    floe_err err;
    assert_int_equal(check(tok, &p, &err), FLOE_OK);
    assert_int_equal(p.n_grants, 0);
    free(tok);
    free(late);
    free(c);
}

static void
test_algorithm_cannot_be_chosen_by_the_token(void **state)
{
    (void)state;
    char *c = claims(ISS, "\"floe\"", NOW + 300, "");
    char *pem = jwt_key_pem(rsa);
    refused(NULL, "{\"alg\": \"none\", \"kid\": \"r1\"}", c, NULL, "algorithm");
    refused(NULL, "{\"alg\": \"HS256\", \"kid\": \"r1\"}", c, pem, "algorithm");
    refused(ec, "{\"alg\": \"ES256\", \"kid\": \"r1\"}", c, NULL, "does not match its key");
    refused(rsa, "{\"alg\": \"RS256\", \"kid\": \"e1\"}", c, NULL, "does not match its key");
    refused(rsa, "{\"alg\": \"PS256\", \"kid\": \"r1\"}", c, NULL, "algorithm");
    refused(rsa, "{\"alg\": \"RS256\", \"kid\": \"r1\", \"crit\": [\"b64\"]}", c, NULL, "critical");
    /* an algorithm the installation turned off */
    sched_jwt_rules only_es = rules;
    only_es.algs = SCHED_JWT_ES256;
    char *tok = jwt_mint(rsa, "{\"alg\": \"RS256\", \"kid\": \"r1\"}", c, NULL);
    store_principal p;
    floe_err err = {0};
    bool ku;
    assert_int_equal(sched_jwt_verify(ks, &only_es, tok, &p, &ku, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "algorithm"));
    free(tok);
    free(pem);
    free(c);
}

static void
test_signature_covers_header_and_claims(void **state)
{
    (void)state;
    char *c = claims(ISS, "\"floe\"", NOW + 300, "\"floe_grants\": [\"team-a=viewer\"]");
    refused(stranger, "{\"alg\": \"RS256\", \"kid\": \"r1\"}", c, NULL, "signature");
    char *tok = jwt_mint(rsa, "{\"alg\": \"RS256\", \"kid\": \"r1\"}", c, NULL);
    /* the payload swapped for one granting admin, the signature kept */
    char *evil = claims(ISS, "\"floe\"", NOW + 300, "\"floe_grants\": [\"team-a=admin\"]");
    char *forged = jwt_mint(rsa, "{\"alg\": \"RS256\", \"kid\": \"r1\"}", evil, NULL);
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *f1 = strchr(forged, '.'), *f2 = strrchr(forged, '.');
    char mixed[8192];
    snprintf(mixed, sizeof(mixed), "%.*s%.*s%s", (int)(d1 - tok), tok, (int)(f2 - f1), f1, d2);
    store_principal p;
    floe_err err;
    assert_int_equal(check(mixed, &p, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "signature"));
    /* every byte of the signature matters */
    size_t sig_len = strlen(d2 + 1);
    for (size_t i = 0; i < sig_len; i += 7) {
        char *s = d2 + 1 + i, saved = *s;
        *s = *s == 'A' ? 'B' : 'A';
        assert_int_equal(check(tok, &p, &err), FLOE_EINVAL);
        *s = saved;
    }
    assert_int_equal(check(tok, &p, &err), FLOE_OK);
    /* not three parts, not base64url */
    assert_int_equal(check("abc.def", &p, &err), FLOE_EINVAL);
    assert_int_equal(check("a.b.c.d", &p, &err), FLOE_EINVAL);
    assert_int_equal(check("!!.e30.", &p, &err), FLOE_EINVAL);
    free(tok);
    free(forged);
    free(evil);
    free(c);
}

static void
test_claims_are_checked(void **state)
{
    (void)state;
    const char *h = "{\"alg\": \"RS256\", \"kid\": \"r1\"}";
    char *c;
    refused(rsa, h, c = claims("https://evil.example", "\"floe\"", NOW + 300, ""), NULL, "issuer");
    free(c);
    refused(rsa, h, c = claims(ISS, "\"other\"", NOW + 300, ""), NULL, "audience");
    free(c);
    refused(rsa, h, c = claims(ISS, "[\"a\", \"b\"]", NOW + 300, ""), NULL, "audience");
    free(c);
    refused(rsa, h, c = claims(ISS, "\"floe\"", NOW - 61, ""), NULL, "expired");
    free(c);
    refused(rsa, h, c = claims(ISS, "\"floe\"", NOW + 300, "\"nbf\": 1800000100"), NULL,
            "not valid before");
    free(c);
    refused(rsa, h, c = claims(ISS, "\"floe\"", NOW + 300, "\"iat\": 1800000100"), NULL, "future");
    free(c);
    refused(rsa, h, "{\"iss\": \"" ISS "\", \"aud\": \"floe\", \"sub\": \"a\"}", NULL, "exp");
    refused(rsa, h, "{\"iss\": \"" ISS "\", \"aud\": \"floe\", \"sub\": \"a\", \"exp\": \"x\"}",
            NULL, "exp");
    refused(rsa, h, "{\"iss\": \"" ISS "\", \"aud\": \"floe\", \"exp\": 1800000300}", NULL,
            "subject");
    refused(rsa, h, c = claims(ISS, "\"floe\"", NOW + 300, "\"floe_grants\": [\"team-a=root\"]"),
            NULL, "floe_grants");
    free(c);
    refused(rsa, h, c = claims(ISS, "\"floe\"", NOW + 300, "\"floe_grants\": [\"../x=admin\"]"),
            NULL, "not a project");
    free(c);
    refused(rsa, h, c = claims(ISS, "\"floe\"", NOW + 300, "\"floe_grants\": \"team-a=admin\""),
            NULL, "floe_grants");
    free(c);
    /* a key the set lacks is said, so the caller may refresh the set */
    c = claims(ISS, "\"floe\"", NOW + 300, "");
    char *tok = jwt_mint(rsa, "{\"alg\": \"RS256\", \"kid\": \"r2\"}", c, NULL);
    store_principal p;
    floe_err err = {0};
    bool ku = false;
    assert_int_equal(sched_jwt_verify(ks, &rules, tok, &p, &ku, &err), FLOE_EINVAL);
    assert_true(ku);
    free(tok);
    free(c);
}

static void
test_key_sets_are_checked(void **state)
{
    (void)state;
    floe_err err = {0};
    jwt_key *small = jwt_key_new("RSA", "s", 1024);
    json_t *doc = json_pack("{s:[o]}", "keys", jwt_key_jwk(small));
    char *text = json_dumps(doc, 0);
    assert_null(sched_jwks_parse(text, strlen(text), &err));
    assert_non_null(strstr(err.msg, "2048"));
    free(text);
    json_decref(doc);
    jwt_key_free(small);
    const char *bad[] = {
        "",
        "[]",
        "{\"keys\": {}}",
        "{\"keys\": []}",
        "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"AAAA\", \"y\": \"AAAA\"}]}",
        "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", "
        "\"x\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", "
        "\"y\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}", /* not on the curve */
        "{\"keys\": [{\"kty\": \"RSA\", \"n\": \"!!\", \"e\": \"AQAB\"}]}",
        "{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sched_jwks *k = sched_jwks_parse(bad[i], strlen(bad[i]), &err);
        if (k != NULL)
            fail_msg("accepted key set %s", bad[i]);
    }
    unsigned algs;
    assert_int_equal(sched_jwt_algs_parse("RS256,ES256", &algs, &err), FLOE_OK);
    assert_int_equal(algs, SCHED_JWT_RS256 | SCHED_JWT_ES256);
    assert_int_equal(sched_jwt_algs_parse("HS256", &algs, &err), FLOE_EINVAL);
    assert_int_equal(sched_jwt_algs_parse("none", &algs, &err), FLOE_EINVAL);
    assert_int_equal(sched_jwt_algs_parse("", &algs, &err), FLOE_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_tokens_are_accepted),
        cmocka_unit_test(test_algorithm_cannot_be_chosen_by_the_token),
        cmocka_unit_test(test_signature_covers_header_and_claims),
        cmocka_unit_test(test_claims_are_checked),
        cmocka_unit_test(test_key_sets_are_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
