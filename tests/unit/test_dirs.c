/*
 * Attempt directories reused (wrk_dirs): a directory a task littered comes back as a new
 * one (inputs/, outputs/ and tmp/ empty with their modes, stdout and stderr empty,
 * inputs.json kept for the next attempt to overwrite, nothing else) and what its
 * symlinks named is untouched; a directory with a link where an entry was, or an entry
 * missing, is refused (the worker then removes it); the idle list holds at most its room.
 * Removal (wrk_io_rmtree) goes by descriptors (review L3): a tree deeper than PATH_MAX, as
 * a task can make one, is removed with a bounded number of them, links in it not followed.
 * Runs on any machine: no cgroup is needed to reset a directory.
 */
#include "wrk_dirs.h"
#include "wrk_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char root[64], att[96], victim[96];

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
sub(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", att, name);
}

/* A directory as wrk_io_inputs and the executor make it. */
static int
setup(void **state)
{
    (void)state;
    char path[256];
    snprintf(root, sizeof(root), "/tmp/floe-dirs-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(att, sizeof(att), "%s/att", root);
    snprintf(victim, sizeof(victim), "%s/victim", root);
    assert_int_equal(mkdir(att, 0700), 0);
    assert_int_equal(mkdir(victim, 0755), 0);
    write_file(victim, "file", "keep");
    static const char *const dirs[] = {"inputs", "outputs", "tmp"};
    for (int i = 0; i < 3; i++) {
        sub(path, sizeof(path), dirs[i]);
        assert_int_equal(mkdir(path, 0755), 0);
        if (i > 0)
            assert_int_equal(chmod(path, 01777), 0);
    }
    write_file(att, "stdout", "");
    write_file(att, "stderr", "");
    write_file(att, "inputs.json", "{}");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    wrk_io_rmtree(root);
    return 0;
}

/* The names in dir, sorted, space-separated. */
static void
names(const char *dir, char *out, size_t size)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    out[0] = '\0';
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") != 0 && strcmp(list[i]->d_name, "..") != 0) {
            strncat(out, list[i]->d_name, size - strlen(out) - 2);
            strcat(out, " ");
        }
        free(list[i]);
    }
    free(list);
}

static struct stat
stat_of(const char *name)
{
    char path[256];
    struct stat st;
    sub(path, sizeof(path), name);
    assert_int_equal(lstat(path, &st), 0);
    return st;
}

static void
test_littered_directory_comes_back_new(void **state)
{
    (void)state;
    char path[256], seen[512], link_to[256];
    write_file(att, "stdout", "task output");
    write_file(att, "stderr", "task errors");
    write_file(att, "junk", "x");
    sub(path, sizeof(path), "deep");
    assert_int_equal(mkdir(path, 0755), 0);
    write_file(path, "f", "x");
    /* A directory the task took every permission from: only root (as a worker is in
     * production) removes what is in it; as another user the reset is refused. */
    if (geteuid() == 0)
        assert_int_equal(chmod(path, 0), 0);
    sub(path, sizeof(path), "tmp/t");
    assert_int_equal(mkdir(path, 0755), 0);
    write_file(path, "y", "x");
    sub(path, sizeof(path), "tmp");
    write_file(path, "x", "x");
    assert_int_equal(chmod(path, 0700), 0);
    sub(path, sizeof(path), "outputs");
    write_file(path, "sum", "3");
    sub(path, sizeof(path), "inputs");
    write_file(path, "a", "1");
    sub(path, sizeof(path), "out");
    assert_int_equal(symlink(victim, path), 0);
    sub(path, sizeof(path), "tmp/into");
    assert_int_equal(symlink(victim, path), 0);
    snprintf(link_to, sizeof(link_to), "%s/file", victim);
    sub(path, sizeof(path), "outputs/vf");
    assert_int_equal(symlink(link_to, path), 0);

    assert_int_equal(wrk_dirs_reset(att), FLOE_OK);
    names(att, seen, sizeof(seen));
    assert_string_equal(seen, "inputs inputs.json outputs stderr stdout tmp ");
    static const char *const dirs[] = {"inputs", "outputs", "tmp"};
    for (int i = 0; i < 3; i++) {
        sub(path, sizeof(path), dirs[i]);
        names(path, seen, sizeof(seen));
        assert_string_equal(seen, "");
    }
    assert_int_equal(stat_of("tmp").st_mode & 07777, 01777);
    assert_int_equal(stat_of("outputs").st_mode & 07777, 01777);
    assert_int_equal(stat_of("inputs").st_mode & 07777, 0755);
    assert_int_equal(stat_of("stdout").st_size, 0);
    assert_int_equal(stat_of("stderr").st_size, 0);
    assert_int_equal(stat_of("inputs.json").st_size, 2); /* overwritten by the next attempt */
    names(victim, seen, sizeof(seen));
    assert_string_equal(seen, "file ");
    assert_int_equal(access(link_to, R_OK), 0);
}

static void
test_links_and_missing_entries_are_refused(void **state)
{
    (void)state;
    char path[256], hard[256], seen[64];
    /* stderr a hard link to a file out of the directory: never emptied through it */
    snprintf(hard, sizeof(hard), "%s/file", victim);
    sub(path, sizeof(path), "stderr");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(link(hard, path), 0);
    assert_int_equal(wrk_dirs_reset(att), FLOE_EIO);
    FILE *f = fopen(hard, "r");
    assert_non_null(f);
    assert_non_null(fgets(seen, sizeof(seen), f));
    fclose(f);
    assert_string_equal(seen, "keep");

    /* tmp/ a symlink out: removed, not followed, and the directory refused */
    teardown(NULL);
    setup(NULL);
    sub(path, sizeof(path), "tmp");
    assert_int_equal(rmdir(path), 0);
    assert_int_equal(symlink(victim, path), 0);
    assert_int_equal(wrk_dirs_reset(att), FLOE_EIO);
    names(victim, seen, sizeof(seen));
    assert_string_equal(seen, "file ");

    /* an entry gone */
    teardown(NULL);
    setup(NULL);
    sub(path, sizeof(path), "stdout");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(wrk_dirs_reset(att), FLOE_EIO);
}

static void
test_idle_list_holds_its_room(void **state)
{
    (void)state;
    char dir[128];
    wrk_dirs *d = wrk_dirs_new(2);
    assert_non_null(d);
    assert_false(wrk_dirs_take(d, dir, sizeof(dir)));
    assert_true(wrk_dirs_give(d, "/nonexistent/a"));
    assert_true(wrk_dirs_give(d, "/nonexistent/b"));
    assert_false(wrk_dirs_give(d, "/nonexistent/c")); /* full: the caller removes it */
    assert_true(wrk_dirs_take(d, dir, sizeof(dir)));
    assert_string_equal(dir, "/nonexistent/b");
    assert_false(wrk_dirs_take(d, dir, 8)); /* does not fit: dropped, not cut */
    assert_false(wrk_dirs_take(d, dir, sizeof(dir)));
    wrk_dirs_free(d);
}

static int
open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and d's own */
}

/* A task can nest directories deeper than any path can name (mkdir, chdir, again): by path
 * (nftw) they could not be removed. With few descriptors to spare, the whole tree goes, a
 * link in it is removed and not followed, and the names the removal uses to move deep
 * directories up do not clash with the task's. */
static void
test_rmtree_any_depth_few_descriptors(void **state)
{
    (void)state;
    enum { DEPTH = 2100 }; /* "d/" a level: 4,200 bytes, past PATH_MAX */
    char path[256], seen[64];
    write_file(att, ".floe-rm-0", "the task's");
    sub(path, sizeof(path), ".floe-rm-1");
    assert_int_equal(mkdir(path, 0755), 0);
    int fd = open(att, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    for (int i = 0; i < DEPTH; i++) {
        assert_int_equal(mkdirat(fd, "d", 0755), 0);
        if (i % 64 == 0) {
            int f = openat(fd, "f", O_WRONLY | O_CREAT, 0644);
            assert_true(f >= 0);
            close(f);
        }
        if (i == DEPTH / 2)
            assert_int_equal(symlinkat(victim, fd, "out"), 0);
        int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        assert_true(next >= 0);
        close(fd);
        fd = next;
    }
    close(fd);
    int before = open_fds();
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)before + 48;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    floe_rc rc = wrk_io_rmtree(att);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_int_equal(rc, FLOE_OK);
    assert_int_equal(access(att, F_OK), -1);
    assert_int_equal(open_fds(), before);
    names(victim, seen, sizeof(seen));
    assert_string_equal(seen, "file ");
    /* Gone already: nothing to do. */
    assert_int_equal(wrk_io_rmtree(att), FLOE_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_littered_directory_comes_back_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_and_missing_entries_are_refused, setup,
                                        teardown),
        cmocka_unit_test(test_idle_list_holds_its_room),
        cmocka_unit_test_setup_teardown(test_rmtree_any_depth_few_descriptors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
