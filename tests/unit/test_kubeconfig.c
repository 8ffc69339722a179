/*
 * The Kubernetes executor's connection from a kubeconfig: the current context's server,
 * namespace and credentials; files named relative to the kubeconfig's directory (as
 * kubectl reads them); inline *-data over file names, token over tokenFile; a named file
 * that cannot be read is an error naming the field and the path, and leaves nothing
 * allocated.
 */
#include "floe_config.h"
#include "plug_kube.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static void
put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/floe-test-kubeconfig-XXXXXX");
    assert_non_null(mkdtemp(dir));
    put("client.crt", "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n");
    put("client.key", "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n");
    put("token", "file-token\n");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    static const char *const files[] = {"client.crt", "client.key", "token", "config", "plugin.sh",
                                        "runs",       "info",       "args",  "bad.sh", NULL};
    char path[256];
    for (int i = 0; files[i] != NULL; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static floe_rc
load(const char *user_block, plug_kube_conn *c, floe_err *err)
{
    char text[2048], path[256];
    snprintf(text, sizeof(text),
             "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
             "contexts:\n- name: other\n  context: {cluster: nope, user: nope}\n"
             "- name: dev\n  context: {cluster: kind, user: me, namespace: team-a}\n"
             "clusters:\n- name: kind\n  cluster:\n    server: https://127.0.0.1:6443\n"
             "    certificate-authority: ca.crt\n"
             "users:\n- name: me\n  user:\n%s",
             user_block);
    put("config", text);
    snprintf(path, sizeof(path), "%s/config", dir);
    floe_config cfg = {0};
    cfg.kube_config = path;
    char empty[] = "";
    cfg.kube_api = cfg.kube_namespace = cfg.kube_token_file = cfg.kube_ca_file = empty;
    return plug_kube_conn_load(&cfg, c, err);
}

static void
test_files_relative_to_the_kubeconfig(void **state)
{
    (void)state;
    plug_kube_conn c;
    floe_err err = {0};
    assert_int_equal(load("    client-certificate: client.crt\n    client-key: ./client.key\n"
                          "    tokenFile: token\n",
                          &c, &err),
                     FLOE_OK);
    assert_string_equal(c.server, "https://127.0.0.1:6443");
    assert_string_equal(c.ns, "team-a");
    char want[256];
    snprintf(want, sizeof(want), "%s/ca.crt", dir);
    assert_string_equal(c.ca_file, want);
    assert_non_null(strstr(c.cert_pem, "CERT"));
    assert_non_null(strstr(c.key_pem, "KEY"));
    assert_string_equal(c.token, "file-token");
    /* The kubelet rotates projected tokens: a changed file is read again. */
    char tok[64];
    assert_int_equal(plug_kube_conn_token(&c, tok, sizeof(tok), &err), FLOE_OK);
    assert_string_equal(tok, "file-token");
    put("token", "rotated-token-2\n");
    assert_int_equal(plug_kube_conn_token(&c, tok, sizeof(tok), &err), FLOE_OK);
    assert_string_equal(tok, "rotated-token-2");
    plug_kube_conn_deinit(&c);
}

static void
test_inline_data_and_token_win(void **state)
{
    (void)state;
    plug_kube_conn c;
    floe_err err = {0};
    /* "SU5MSU5F" is base64 for "INLINE" */
    assert_int_equal(load("    client-certificate: client.crt\n"
                          "    client-certificate-data: SU5MSU5F\n"
                          "    client-key: client.key\n    token: inline-token\n"
                          "    tokenFile: token\n",
                          &c, &err),
                     FLOE_OK);
    assert_string_equal(c.cert_pem, "INLINE");
    assert_non_null(strstr(c.key_pem, "KEY"));
    assert_string_equal(c.token, "inline-token");
    plug_kube_conn_deinit(&c);
}

static void
test_unreadable_file_named(void **state)
{
    (void)state;
    plug_kube_conn c;
    floe_err err = {0};
    assert_int_equal(load("    tokenFile: token\n    client-key: missing.key\n", &c, &err),
                     FLOE_EINVAL);
    char want[256];
    snprintf(want, sizeof(want), "client-key %s/missing.key: No such file or directory", dir);
    if (strstr(err.msg, want) == NULL)
        fail_msg("error \"%s\" does not name \"%s\"", err.msg, want);
    assert_null(c.token); /* freed: the problem leaves nothing allocated */
}

/* The pod policy: a task's GPUs as nvidia.com/gpu, placement, and bad tolerations named. */
static void
test_pod_policy(void **state)
{
    (void)state;
    floe_config cfg = {0};
    cfg.kube_run_as_user = 1000;
    cfg.kube_node_selector = "pool=gpu,zone=a";
    cfg.kube_tolerations = "nvidia.com/gpu:NoSchedule";
    cfg.kube_service_account = "";
    cfg.kube_pull_secrets = "regcred,other";
    const char *argv[] = {"/train"};
    plug_spec spec = {.exec = "01EXEC",
                      .node = "train",
                      .attempt = 1,
                      .run_id = "r1",
                      .argv = argv,
                      .argc = 1,
                      .image = "registry/train:3",
                      .memory_bytes = 1 << 30,
                      .gpus = 2};
    json_t *pod = plug_kube_pod(&spec, "ns", "slot");
    floe_err err = {0};
    assert_int_equal(plug_kube_pod_policy(pod, &cfg, spec.gpus, &err), FLOE_OK);
    json_t *sp = json_object_get(pod, "spec");
    json_t *c0 = json_array_get(json_object_get(sp, "containers"), 0);
    json_t *res = json_object_get(c0, "resources");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res, "limits"), "nvidia.com/gpu")), "2");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res, "requests"), "nvidia.com/gpu")),
        "2");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(sp, "nodeSelector"), "zone")), "a");
    json_t *tol = json_array_get(json_object_get(sp, "tolerations"), 0);
    assert_string_equal(json_string_value(json_object_get(tol, "key")), "nvidia.com/gpu");
    assert_string_equal(json_string_value(json_object_get(tol, "operator")), "Exists");
    assert_int_equal(json_array_size(json_object_get(sp, "imagePullSecrets")), 2);
    assert_null(json_object_get(sp, "serviceAccountName"));
    json_t *sc = json_object_get(c0, "securityContext");
    assert_int_equal(json_integer_value(json_object_get(sc, "runAsUser")), 1000);
    assert_true(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    json_decref(pod);
    cfg.kube_tolerations = "dedicated=floe:Sometimes";
    pod = plug_kube_pod(&spec, "ns", "slot");
    assert_int_equal(plug_kube_pod_policy(pod, &cfg, 0, &err), FLOE_EINVAL);
    assert_non_null(strstr(err.msg, "kubernetes.tolerations"));
    json_decref(pod);
}

/* kubeconfig exec credentials (EKS, GKE, AKS): the plugin runs with the kubeconfig's args
 * and env and KUBERNETES_EXEC_INFO; its token is kept until a minute before it expires or
 * the API server refuses it; a plugin that prints no ExecCredential is an error quoting
 * what it said on stderr. The command is relative to the kubeconfig's directory. */
static void
test_exec_credentials(void **state)
{
    (void)state;
    put("plugin.sh",
        "#!/bin/sh\necho run >> \"$DIR/runs\"\n"
        "echo \"$KUBERNETES_EXEC_INFO\" > \"$DIR/info\"\necho \"$1 $2\" > \"$DIR/args\"\n"
        "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":"
        "\"ExecCredential\",\"status\":{\"token\":\"tok-%s\",\"expirationTimestamp\":"
        "\"%s\"}}' \"$(wc -l < \"$DIR/runs\" | tr -d ' ')\" \"$EXP\"\n");
    put("bad.sh", "#!/bin/sh\necho 'not json'\necho 'error: the SSO session expired' >&2\n");
    char p1[256], p2[256], block[1024];
    snprintf(p1, sizeof(p1), "%s/plugin.sh", dir);
    snprintf(p2, sizeof(p2), "%s/bad.sh", dir);
    chmod(p1, 0755);
    chmod(p2, 0755);
    static const char *const exps[] = {"2099-01-01T00:00:00Z", "2000-01-01T00:00:00.5+02:00"};
    for (int round = 0; round < 2; round++) {
        put("runs", "");
        snprintf(block, sizeof(block),
                 "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                 "      command: ./plugin.sh\n      args: [eks, get-token]\n"
                 "      env:\n      - {name: DIR, value: %s}\n      - {name: EXP, value: \"%s\"}\n",
                 dir, exps[round]);
        plug_kube_conn c;
        floe_err err = {0};
        assert_int_equal(load(block, &c, &err), FLOE_OK);
        assert_non_null(c.exec);
        char tok[64];
        assert_int_equal(plug_kube_conn_token(&c, tok, sizeof(tok), &err), FLOE_OK);
        assert_string_equal(tok, "tok-1");
        assert_int_equal(plug_kube_conn_token(&c, tok, sizeof(tok), &err), FLOE_OK);
        /* Valid for long: kept. Expired: asked for again. */
        assert_string_equal(tok, round == 0 ? "tok-1" : "tok-2");
        if (round == 0) {
            plug_kube_conn_unauthorized(&c); /* a 401: asked for again */
            assert_int_equal(plug_kube_conn_token(&c, tok, sizeof(tok), &err), FLOE_OK);
            assert_string_equal(tok, "tok-2");
        }
        plug_kube_conn_deinit(&c);
    }
    char path[256], line[256];
    snprintf(path, sizeof(path), "%s/info", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_non_null(strstr(line, "\"kind\":\"ExecCredential\""));
    assert_non_null(strstr(line, "\"interactive\":false"));
    snprintf(path, sizeof(path), "%s/args", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line, "eks get-token\n");
    /* A plugin that fails says why. */
    plug_kube_conn c;
    floe_err err = {0};
    assert_int_equal(load("    exec: {command: ./bad.sh}\n", &c, &err), FLOE_OK);
    char tok[64];
    assert_int_not_equal(plug_kube_conn_token(&c, tok, sizeof(tok), &err), FLOE_OK);
    if (strstr(err.msg, "did not print an ExecCredential") == NULL ||
        strstr(err.msg, "the SSO session expired") == NULL)
        fail_msg("error \"%s\" does not say what the plugin said", err.msg);
    plug_kube_conn_deinit(&c);
    /* A static token wins over exec, as in client-go. */
    assert_int_equal(load("    token: fixed\n    exec: {command: ./bad.sh}\n", &c, &err), FLOE_OK);
    assert_int_equal(plug_kube_conn_token(&c, tok, sizeof(tok), &err), FLOE_OK);
    assert_string_equal(tok, "fixed");
    plug_kube_conn_deinit(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_relative_to_the_kubeconfig),
        cmocka_unit_test(test_inline_data_and_token_win),
        cmocka_unit_test(test_unreadable_file_named),
        cmocka_unit_test(test_exec_credentials),
        cmocka_unit_test(test_pod_policy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
