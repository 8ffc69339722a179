/* OIDC access tokens, which the API reads before it knows who is calling. The first byte
 * picks what the rest is: 0 a JWKS document; 1 a token checked against a fixed key set;
 * 2 the claims of a token signed with the set's key (so the claim checks are reached). */
#include "jwt_mint.h"
#include "sched_jwt.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static jwt_key *key;
static sched_jwks *keys;

static void
init(void)
{
    key = jwt_key_new("EC", "k1", 0);
    json_t *doc = json_pack("{s:[o]}", "keys", jwt_key_jwk(key));
    char *text = json_dumps(doc, 0);
    floe_err err;
    keys = sched_jwks_parse(text, strlen(text), &err);
    free(text);
    json_decref(doc);
    if (keys == NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (keys == NULL)
        init();
    if (size < 1 || size > 16384)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    floe_err err;
    store_principal p;
    bool kid_unknown;
    sched_jwt_rules rules = {.issuer = "https://idp",
                             .audience = "floe",
                             .algs = SCHED_JWT_RS256 | SCHED_JWT_ES256,
                             .skew_s = 60,
                             .now_s = 1800000000,
                             .grants_claim = "floe_grants"};
    if (data[0] == 0) {
        sched_jwks_free(sched_jwks_parse(s, size - 1, &err));
    } else if (data[0] == 1) {
        sched_jwt_verify(keys, &rules, s, &p, &kid_unknown, &err);
    } else {
        char *tok = jwt_mint(key, "{\"alg\":\"ES256\",\"kid\":\"k1\"}", s, NULL);
        sched_jwt_verify(keys, &rules, tok, &p, &kid_unknown, &err);
        free(tok);
    }
    free(s);
    return 0;
}
