/*
 * floe_map's hash (review L1): SipHash as its authors published it (their test vectors,
 * for SipHash-2-4), and the maps' string hash keyed at random a process, so two processes
 * hash the same id differently and which ids collide cannot be worked out from outside.
 * The map itself under many keys, deletions included.
 */
#include "floe_map.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static void
test_siphash_vectors(void **state)
{
    (void)state;
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    /* The paper's Appendix A, and the first and sixteenth of the reference vectors. */
    assert_true(floe_siphash(key, msg, 15, 2, 4) == 0xa129ca6149be45e5ULL);
    assert_true(floe_siphash(key, msg, 0, 2, 4) == 0x726fdb47dd0e0e31ULL);
    /* 1-3, the maps', differs from 2-4 and depends on every byte. */
    uint64_t h = floe_siphash(key, msg, 15, 1, 3);
    assert_true(h != floe_siphash(key, msg, 15, 2, 4));
    msg[14] ^= 1;
    assert_true(h != floe_siphash(key, msg, 15, 1, 3));
}

static void
test_hash_keyed_per_process(void **state)
{
    (void)state;
    const char *id = "0193a5c2-7e4b-7cc1-9d2e-5f6a7b8c9d0e";
    uint64_t mine = floe_hash_str(id);
    assert_true(mine == floe_hash_str(id)); /* stable within the process */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A new process image (a fork keeps the parent's key) prints its hash of id. */
        char arg[64];
        snprintf(arg, sizeof(arg), "--hash=%s", id);
        dup2(fds[1], 1);
        execl("/proc/self/exe", "test_map", arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = "";
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    assert_true(n > 0);
    unsigned long long theirs = strtoull(buf, NULL, 16);
    assert_true(theirs != mine);
}

static void
test_many_keys(void **state)
{
    (void)state;
    enum { N = 20000 };
    static char keys[N][24];
    floe_map *m = floe_map_new(4);
    assert_non_null(m);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "exec-%d", i);
        assert_int_equal(floe_map_put(m, keys[i], keys[i]), FLOE_OK);
    }
    assert_int_equal(floe_map_count(m), N);
    for (int i = 0; i < N; i += 2)
        assert_ptr_equal(floe_map_del(m, keys[i]), keys[i]);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(floe_map_get(m, keys[i]), i % 2 ? keys[i] : NULL);
    floe_map_free(m);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strncmp(argv[1], "--hash=", 7) == 0) {
        printf("%llx\n", (unsigned long long)floe_hash_str(argv[1] + 7));
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_hash_keyed_per_process),
        cmocka_unit_test(test_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
