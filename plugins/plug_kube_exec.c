/*
 * plug_kube_exec — kubeconfig `exec` credentials, client-go's credential plugins (EKS's
 * `aws eks get-token`, GKE's gke-gcloud-auth-plugin, AKS's kubelogin): the plugin runs
 * with the kubeconfig's args and env and KUBERNETES_EXEC_INFO, prints an ExecCredential
 * (client.authentication.k8s.io/v1 or v1beta1) on stdout, and its status.token is sent
 * until a minute before status.expirationTimestamp (without one: until the API server
 * answers 401). Runs on the pool thread that needs the token, bounded in time and output.
 * Tested by tests/unit/test_kubeconfig.c with plugins written as shell scripts.
 */

#include "plug_kube.h"

#include "floe_mem.h"
#include "floe_text.h"
#include "floe_time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define EXEC_ARGS_MAX 64
#define EXEC_ENV_MAX 64
#define EXEC_OUT_MAX 65536
#define EXEC_TIMEOUT_MS 60000
#define EXEC_EARLY_US (60 * 1000000LL) /* a token this close to expiring is renewed */

struct plug_kube_exec {
    pthread_mutex_t mu;
    char *argv[EXEC_ARGS_MAX + 2];
    char *env[EXEC_ENV_MAX + 2]; /* NAME=value, the kubeconfig's, then KUBERNETES_EXEC_INFO */
    size_t n_argv, n_env;
    char *token;
    int64_t expires_us; /* 0: none given */
};

plug_kube_exec *
plug_kube_exec_new(const char *api_version, const char *command, const char *const *args,
                   size_t n_args, const char *const *env_names, const char *const *env_values,
                   size_t n_env, floe_err *err)
{
    if (command == NULL || command[0] == '\0') {
        floe_err_user(err, FLOE_EINVAL, "exec: no command");
        return NULL;
    }
    if (n_args > EXEC_ARGS_MAX || n_env > EXEC_ENV_MAX) {
        floe_err_user(err, FLOE_ETOOBIG, "exec: more than %d args or env entries", EXEC_ARGS_MAX);
        return NULL;
    }
    plug_kube_exec *x = floe_calloc(1, sizeof(*x));
    if (x == NULL) {
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&x->mu, NULL);
    bool ok = (x->argv[x->n_argv++] = floe_strdup(command)) != NULL;
    for (size_t i = 0; ok && i < n_args; i++)
        ok = (x->argv[x->n_argv++] = floe_strdup(args[i])) != NULL;
    for (size_t i = 0; ok && i < n_env; i++) {
        size_t len = strlen(env_names[i]) + strlen(env_values[i]) + 2;
        ok = (x->env[x->n_env] = floe_malloc(len)) != NULL;
        if (ok)
            snprintf(x->env[x->n_env++], len, "%s=%s", env_names[i], env_values[i]);
    }
    /* What client-go hands every plugin: the credential's kind and version; never
     * interactive here (a daemon has no terminal to ask on). */
    char info[256];
    snprintf(info, sizeof(info),
             "KUBERNETES_EXEC_INFO={\"apiVersion\":\"%.96s\",\"kind\":\"ExecCredential\","
             "\"spec\":{\"interactive\":false}}",
             api_version != NULL ? api_version : "client.authentication.k8s.io/v1");
    if (ok)
        ok = (x->env[x->n_env++] = floe_strdup(info)) != NULL;
    if (!ok) {
        plug_kube_exec_free(x);
        floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        return NULL;
    }
    return x;
}

void
plug_kube_exec_free(plug_kube_exec *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->n_argv; i++)
        floe_free(x->argv[i]);
    for (size_t i = 0; i < x->n_env; i++)
        floe_free(x->env[i]);
    if (x->token != NULL)
        memset(x->token, 0, strlen(x->token));
    floe_free(x->token);
    pthread_mutex_destroy(&x->mu);
    floe_free(x);
}

/* environ with the plugin's entries after it (a name given twice: the later wins in
 * getenv of most programs, and the kubeconfig's come last). */
static char **
child_env(const plug_kube_exec *x)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **e = floe_calloc(n + x->n_env + 1, sizeof(*e));
    if (e == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool overridden = false;
        for (size_t j = 0; j < x->n_env && !overridden; j++) {
            size_t name_len = (size_t)(strchr(x->env[j], '=') - x->env[j]);
            overridden = strncmp(environ[i], x->env[j], name_len + 1) == 0;
        }
        if (!overridden)
            e[k++] = environ[i];
    }
    for (size_t j = 0; j < x->n_env; j++)
        e[k++] = x->env[j];
    return e;
}

/* Runs the plugin: its stdout (at most EXEC_OUT_MAX) into out, the end of its stderr
 * into why. FLOE_OK when it ran and closed its output within EXEC_TIMEOUT_MS. */
static floe_rc
run_plugin(const plug_kube_exec *x, char **out, char *why, size_t why_size, floe_err *err)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    char **envp = child_env(x);
    if (envp == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        floe_free(envp);
        return floe_err_sys(err, FLOE_EIO, "exec %s: pipe: %s", x->argv[0], strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3); /* the worker's sockets stay ours */
    pid_t pid;
    int rc = posix_spawnp(&pid, x->argv[0], &fa, NULL, x->argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    floe_free(envp);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        return floe_err_sys(err, FLOE_EIO, "exec %s: cannot start it: %s", x->argv[0],
                            strerror(rc));
    }
    char *buf = floe_malloc(EXEC_OUT_MAX + 1);
    char tail[512] = "";
    size_t len = 0, tail_len = 0;
    bool too_big = false, timed_out = false;
    int64_t deadline = floe_mono_us() + (int64_t)EXEC_TIMEOUT_MS * 1000;
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    while (buf != NULL && (fds[0].fd >= 0 || fds[1].fd >= 0)) {
        int64_t left_ms = (deadline - floe_mono_us()) / 1000;
        if (left_ms <= 0) {
            timed_out = true;
            break;
        }
        if (poll(fds, 2, (int)left_ms) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            char chunk[4096];
            ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                continue;
            }
            if (i == 0) {
                size_t take = (size_t)n;
                if (len + take > EXEC_OUT_MAX) {
                    take = EXEC_OUT_MAX - len;
                    too_big = true;
                }
                memcpy(buf + len, chunk, take);
                len += take;
            } else { /* keep the end of stderr: where a plugin says what went wrong */
                size_t keep = sizeof(tail) - 1;
                size_t n2 = (size_t)n > keep ? keep : (size_t)n;
                const char *src = chunk + ((size_t)n - n2);
                if (tail_len + n2 > keep) {
                    size_t drop = tail_len + n2 - keep;
                    memmove(tail, tail + drop, tail_len - drop);
                    tail_len -= drop;
                }
                memcpy(tail + tail_len, src, n2);
                tail_len += n2;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    if (timed_out)
        kill(pid, SIGKILL);
    /* The worker's SIGCHLD reaper may have taken the status first (ECHILD): what the
     * plugin printed is what counts. */
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    tail[tail_len] = '\0';
    floe_text_fmt(why, why_size, "%s", tail);
    for (char *p = why; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (buf == NULL)
        return floe_err_sys(err, FLOE_ENOMEM, "out of memory");
    if (timed_out || too_big) {
        floe_free(buf);
        return floe_err_sys(err, FLOE_EIO, "exec %s: %s", x->argv[0],
                            timed_out ? "did not finish within 60 s" : "printed more than 64 KiB");
    }
    buf[len] = '\0';
    *out = buf;
    return FLOE_OK;
}

/* RFC 3339 ("2026-12-05T10:00:00Z", fractions and offsets) to unix microseconds. */
static bool
parse_time(const char *s, int64_t *us)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (p == NULL)
        return false;
    while (*p == '.' || (*p >= '0' && *p <= '9'))
        p++;
    int64_t off = 0;
    if (*p == '+' || *p == '-') {
        int h = 0, m = 0;
        if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
            return false;
        off = (*p == '-' ? -1 : 1) * ((int64_t)h * 3600 + m * 60);
    } else if (*p != 'Z' && *p != 'z') {
        return false;
    }
    *us = ((int64_t)timegm(&tm) - off) * 1000000;
    return true;
}

floe_rc
plug_kube_exec_token(plug_kube_exec *x, char *out, size_t size, floe_err *err)
{
    pthread_mutex_lock(&x->mu);
    floe_rc rc = FLOE_OK;
    if (x->token != NULL && (x->expires_us == 0 || floe_now_us() < x->expires_us - EXEC_EARLY_US))
        goto done;
    char *text = NULL, why[200];
    if ((rc = run_plugin(x, &text, why, sizeof(why), err)) != FLOE_OK)
        goto done;
    json_t *j = json_loads(text, 0, NULL);
    memset(text, 0, strlen(text));
    floe_free(text);
    json_t *status = json_object_get(j, "status");
    const char *kind = json_string_value(json_object_get(j, "kind"));
    const char *token = json_string_value(json_object_get(status, "token"));
    const char *exp = json_string_value(json_object_get(status, "expirationTimestamp"));
    int64_t exp_us = 0;
    if (j == NULL || kind == NULL || strcmp(kind, "ExecCredential") != 0) {
        rc = floe_err_sys(err, FLOE_EIO, "exec %s: did not print an ExecCredential%s%s", x->argv[0],
                          why[0] ? "; it said: " : "", why);
    } else if (token == NULL || token[0] == '\0') {
        rc = floe_err_sys(err, FLOE_EIO,
                          "exec %s: its ExecCredential has no status.token (client "
                          "certificates from a plugin are not supported: use a token)",
                          x->argv[0]);
    } else if (exp != NULL && !parse_time(exp, &exp_us)) {
        rc = floe_err_sys(err, FLOE_EIO,
                          "exec %s: status.expirationTimestamp \"%.40s\" is not RFC 3339",
                          x->argv[0], exp);
    } else {
        char *copy = floe_strdup(token);
        if (copy == NULL) {
            rc = floe_err_sys(err, FLOE_ENOMEM, "out of memory");
        } else {
            if (x->token != NULL)
                memset(x->token, 0, strlen(x->token));
            floe_free(x->token);
            x->token = copy;
            x->expires_us = exp_us;
        }
    }
    json_decref(j);
done:
    if (rc == FLOE_OK)
        snprintf(out, size, "%s", x->token);
    pthread_mutex_unlock(&x->mu);
    return rc;
}

void
plug_kube_exec_forget(plug_kube_exec *x)
{
    pthread_mutex_lock(&x->mu);
    if (x->token != NULL)
        memset(x->token, 0, strlen(x->token));
    floe_free(x->token);
    x->token = NULL;
    pthread_mutex_unlock(&x->mu);
}
