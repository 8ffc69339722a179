/*
 * floectl completion and floectl man — generated from the verbs' own help texts, so the
 * completions and the manual never say something --help does not: a verb's flags are the
 * --words of its usage, its subcommands the lower-case words after `floectl VERB` there.
 */
#include "ctl.h"

#include "floe_main.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static char *
verb_text(const ctl_verb *v)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return NULL;
    ctl_verb_text(v, f);
    fclose(f);
    return text;
}

/* Appends each distinct word of text that match() accepts to out (space-separated). */
static void
words(const char *text, const char *verb, char *out, size_t size, bool flags)
{
    char usage[64];
    snprintf(usage, sizeof(usage), "floectl %s ", verb);
    for (const char *p = text; *p != '\0'; p++) {
        char w[64];
        size_t n = 0;
        if (flags) {
            if (!(p[0] == '-' && p[1] == '-' && islower((unsigned char)p[2]) &&
                  (p == text || !isalnum((unsigned char)p[-1]))))
                continue;
            while (n + 1 < sizeof(w) && (isalnum((unsigned char)p[n]) || p[n] == '-'))
                w[n] = p[n], n++;
        } else { /* "floectl VERB word": a subcommand */
            if (strncmp(p, usage, strlen(usage)) != 0)
                continue;
            const char *q = p + strlen(usage);
            while (n + 1 < sizeof(w) && (islower((unsigned char)q[n]) || q[n] == '-'))
                w[n] = q[n], n++;
            if (n == 0 || (q[n] != ' ' && q[n] != '\n' && q[n] != '|') || q[0] == '-')
                continue;
        }
        w[n] = '\0';
        char pad[72];
        snprintf(pad, sizeof(pad), " %s ", w);
        char have[2100];
        snprintf(have, sizeof(have), " %s ", out);
        if (strstr(have, pad) == NULL && strlen(out) + n + 2 < size)
            snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? " " : "", w);
    }
}

int
ctl_completion(const ctl_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    bool zsh = argc == 2 && strcmp(argv[1], "zsh") == 0;
    if (argc != 2 || (!zsh && strcmp(argv[1], "bash") != 0)) {
        fprintf(stderr, "usage: floectl completion bash|zsh\n");
        return CTL_USAGE;
    }
    size_t n;
    const ctl_verb *v = ctl_verbs(&n);
    if (zsh)
        printf("#compdef floectl\n# floectl's completion for zsh (floectl completion zsh)\n"
               "autoload -U +X bashcompinit && bashcompinit\n");
    else
        printf("# floectl's completion for bash (floectl completion bash)\n");
    printf("_floectl() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} verb=${COMP_WORDS[1]} flags= subs=\n"
           "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n        COMPREPLY=($(compgen -W \"");
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", v[i].name);
    printf("\" -- \"$cur\"))\n        return\n    fi\n    case $verb in\n");
    for (size_t i = 0; i < n; i++) {
        char *text = verb_text(&v[i]);
        char flags[2048] = "", subs[1024] = "";
        if (text != NULL) {
            words(text, v[i].name, flags, sizeof(flags), true);
            words(text, v[i].name, subs, sizeof(subs), false);
        }
        free(text);
        printf("    %s) flags=\"%s\" subs=\"%s\" ;;\n", v[i].name, flags, subs);
    }
    printf("    esac\n"
           "    case $cur in\n"
           "        -*) COMPREPLY=($(compgen -W \"$flags -o --output -q --context --config "
           "--set --help\" -- \"$cur\")) ;;\n"
           "        *) if [ \"$COMP_CWORD\" -eq 2 ] && [ -n \"$subs\" ]; then\n"
           "               COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
           "           else\n"
           "               COMPREPLY=($(compgen -f -- \"$cur\"))\n"
           "           fi ;;\n"
           "    esac\n"
           "}\n"
           "complete -F _floectl floectl\n");
    return CTL_OK;
}

int
ctl_man(const ctl_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: floectl man\n");
        return CTL_USAGE;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        return CTL_FAILED;
    ctl_usage(f);
    fclose(f);
    printf(".TH floectl 1 \"\" \"floectl %s\" \"Floe\"\n.SH NAME\n"
           "floectl \\- the command line of Floe, a workflow scheduler\n"
           ".SH SYNOPSIS\n.B floectl\n.I VERB\n[args] [\\-o FORMAT] [\\-q] [\\-\\-context NAME]\n"
           ".SH DESCRIPTION\n.nf\n",
           FLOE_VERSION);
    floe_man_text(stdout, text);
    free(text);
    printf(".fi\n.SH VERBS\n");
    size_t n;
    const ctl_verb *v = ctl_verbs(&n);
    for (size_t i = 0; i < n; i++) {
        char *t = verb_text(&v[i]);
        printf(".SS %s\n%s\n.PP\n.nf\n", v[i].name, v[i].summary);
        floe_man_text(stdout, t != NULL ? t : "");
        printf(".fi\n");
        free(t);
    }
    printf(".SH ENVIRONMENT\n.TP\nFLOE_API_URL, FLOE_TOKEN, FLOE_TOKEN_FILE, FLOE_CA_FILE\n"
           "the API, the token sent, the CA that signed the API's certificate\n"
           ".TP\nFLOE_PROJECT, FLOE_DOMAIN\nwhere verbs work without -p/-d\n"
           ".TP\nFLOE_CONTEXT, FLOE_CONTEXTS\nthe context to use, the file of contexts\n"
           ".SH FILES\n.TP\n~/.config/floe/contexts\nnamed contexts (floectl config)\n"
           ".SH SEE ALSO\nfloe-scheduler(8), floe-worker(8)\n");
    return CTL_OK;
}
