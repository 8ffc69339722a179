/*
 * `floectl blob put FILE...` stores files in the blob store the workers use and prints
 * their uris; `floectl blob get URI [FILE]` fetches one, its digest checked. Both go
 * through the API (ctl_transfer.c); `floectl launch --input NAME=@FILE` stores a blob
 * input the same way. Content-addressed, so putting the same file twice stores it once.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int
ctl_blob_cat(const ctl_ctx *ctx, const char *uri)
{
    int rc = ctl_blob_fetch(ctx, uri, -1, stdout, 0);
    return fflush(stdout) == 0 ? rc : CTL_FAILED;
}

/* floectl blob get URI FILE: FILE must not exist, and is removed when the fetch fails. */
static int
blob_fetch_file(const ctl_ctx *ctx, const char *uri, const char *dest)
{
    int fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1) {
        fprintf(stderr, "floectl: cannot create %s: %s\n", dest, strerror(errno));
        return CTL_FAILED;
    }
    int rc = ctl_blob_fetch(ctx, uri, fd, NULL, 0);
    if (close(fd) == -1 && rc == CTL_OK)
        rc = CTL_FAILED;
    if (rc != CTL_OK)
        unlink(dest);
    return rc;
}

int
ctl_blob(const ctl_ctx *ctx, int argc, char **argv)
{
    if (argc >= 3 && argc <= 4 && strcmp(argv[1], "get") == 0)
        return argc == 3 || strcmp(argv[3], "-") == 0 ? ctl_blob_cat(ctx, argv[2])
                                                      : blob_fetch_file(ctx, argv[2], argv[3]);
    if (argc < 3 || strcmp(argv[1], "put") != 0) {
        fprintf(stderr, "usage: floectl blob put FILE...\n       floectl blob get URI [FILE]\n");
        return CTL_USAGE;
    }
    json_t *items = json_array();
    int rc = items != NULL ? CTL_OK : CTL_FAILED;
    for (int i = 2; rc == CTL_OK && i < argc; i++) {
        json_t *one;
        if ((rc = ctl_blob_put_json(ctx, argv[i], &one)) != CTL_OK)
            break;
        json_object_set_new(one, "file", json_string(argv[i]));
        json_array_append_new(items, one);
    }
    if (rc == CTL_OK) {
        static const char *const cols[] = {"file", "uri", "size", NULL};
        json_t *wrap = json_pack("{s:O}", "items", items);
        ctl_print(ctx, wrap, cols);
        json_decref(wrap);
    }
    json_decref(items);
    return rc;
}
