/*
 * Blobs from the command line: `floectl blob put FILE...` stores files in the blob store
 * the workers use (blob.backend: a directory or an S3 bucket) and prints their uris;
 * `floectl launch --input NAME=@FILE` does the same for a blob input; `floectl blob get
 * URI [FILE]` fetches one, its digest checked. Content-addressed, so putting the same
 * file twice stores it once.
 */
#include "ctl.h"

#include "store_blob.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Where the store is, for messages: its directory or its bucket. */
static void
store_where(const floe_config *cfg, char *buf, size_t size)
{
    if (cfg->blob_backend == FLOE_BLOB_S3)
        snprintf(buf, size, "s3 bucket %s at %s", cfg->blob_s3_bucket, cfg->blob_s3_endpoint);
    else
        snprintf(buf, size, "%s", cfg->blob_root);
}

int
ctl_blob_put_json(const ctl_ctx *ctx, const char *path, json_t **out)
{
    floe_err err = {0};
    store_blob *bs = store_blob_open_config(ctx->cfg, &err);
    store_blob_ref ref;
    if (bs == NULL || store_blob_put_file(bs, path, &ref, &err) != FLOE_OK) {
        char where[400];
        store_where(ctx->cfg, where, sizeof(where));
        fprintf(stderr, "floectl: cannot store %s in the blob store (%s): %s\n", path, where,
                err.msg);
        store_blob_free(bs);
        return err.cls == FLOE_ERR_USER ? CTL_USAGE : CTL_FAILED;
    }
    store_blob_free(bs);
    *out = json_pack("{s:s,s:s,s:I}", "uri", ref.uri, "digest", ref.digest, "size",
                     (json_int_t)ref.size);
    return *out != NULL ? CTL_OK : CTL_FAILED;
}

/* Fetches blob uri into dest (which must not exist). */
static int
blob_fetch(const ctl_ctx *ctx, const char *uri, const char *dest)
{
    floe_err err = {0};
    char where[400];
    store_blob *bs = store_blob_open_config(ctx->cfg, &err);
    int rc = CTL_OK;
    if (bs == NULL || store_blob_get_file(bs, uri, NULL, dest, &err) != FLOE_OK) {
        store_where(ctx->cfg, where, sizeof(where));
        fprintf(stderr, "floectl: cannot fetch %s from the blob store (%s): %s\n", uri, where,
                err.msg);
        rc = err.cls == FLOE_ERR_USER ? CTL_USAGE : CTL_FAILED;
    }
    store_blob_free(bs);
    return rc;
}

int
ctl_blob_cat(const ctl_ctx *ctx, const char *uri)
{
    char dir[] = "/tmp/floectl-blob-XXXXXX", path[sizeof(dir) + 8];
    if (mkdtemp(dir) == NULL) {
        perror("floectl: a temporary directory");
        return CTL_FAILED;
    }
    snprintf(path, sizeof(path), "%s/blob", dir);
    int rc = blob_fetch(ctx, uri, path);
    if (rc == CTL_OK) {
        char buf[65536];
        ssize_t n = 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        while (fd != -1 && ((n = read(fd, buf, sizeof(buf))) > 0 || (n == -1 && errno == EINTR)))
            if (n > 0 && fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
                break;
        if (fd == -1 || n != 0 || fflush(stdout) != 0)
            rc = CTL_FAILED;
        if (fd != -1)
            close(fd);
    }
    unlink(path);
    rmdir(dir);
    return rc;
}

int
ctl_blob(const ctl_ctx *ctx, int argc, char **argv)
{
    if (argc >= 3 && argc <= 4 && strcmp(argv[1], "get") == 0)
        return argc == 3 || strcmp(argv[3], "-") == 0 ? ctl_blob_cat(ctx, argv[2])
                                                      : blob_fetch(ctx, argv[2], argv[3]);
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
