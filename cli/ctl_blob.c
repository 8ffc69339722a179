/*
 * Blobs from the command line: `floectl blob put FILE...` stores files in the blob store
 * (blob.root, the store the workers use) and prints their uris; `floectl launch --input
 * NAME=@FILE` does the same for a blob input. Content-addressed, so putting the same file
 * twice stores it once.
 */
#include "ctl.h"

#include "store_blob.h"

#include <string.h>

int
ctl_blob_put_json(const ctl_ctx *ctx, const char *path, json_t **out)
{
    floe_err err = {0};
    store_blob *bs = store_blob_open(ctx->cfg->blob_root, (uint64_t)ctx->cfg->blob_max_bytes, &err);
    store_blob_ref ref;
    if (bs == NULL || store_blob_put_file(bs, path, &ref, &err) != FLOE_OK) {
        fprintf(stderr, "floectl: cannot store %s in the blob store (%s): %s\n", path,
                ctx->cfg->blob_root, err.msg);
        store_blob_free(bs);
        return err.cls == FLOE_ERR_USER ? CTL_USAGE : CTL_FAILED;
    }
    store_blob_free(bs);
    *out = json_pack("{s:s,s:s,s:I}", "uri", ref.uri, "digest", ref.digest, "size",
                     (json_int_t)ref.size);
    return *out != NULL ? CTL_OK : CTL_FAILED;
}

int
ctl_blob(const ctl_ctx *ctx, int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[1], "put") != 0) {
        fprintf(stderr, "usage: floectl blob put FILE...\n");
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
