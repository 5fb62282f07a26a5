// Test runner: `test_manabi [SUBSTRING...]` runs the tests whose name or file contains one of
// the substrings (all tests without arguments) and ends with "N passed, N failed".
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

typedef struct {
    const char *name, *file;
    test_fn fn;
} entry_t;

static entry_t tests[1024];
static int ntests, current_failures;
static char tmpdir[256];

void test_register(const char *name, test_fn fn, const char *file) {
    if (ntests < (int)(sizeof tests / sizeof tests[0])) tests[ntests++] = (entry_t){name, file, fn};
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    if (current_failures++ < 10) {
        fprintf(stdout, "    %s:%d: ", file, line);
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
    }
}

const char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/manabi-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    return tmpdir;
}

const char *test_path(const char *name) {
    static char buf[16][1024];
    static int slot;
    char *p = buf[slot++ % 16];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    return p;
}

int test_write_file(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int ok = fwrite(p, 1, n, fp) == n;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

static int selected(const entry_t *t, int argc, char **argv) {
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(t->name, argv[i]) || strstr(t->file, argv[i])) return 1;
    return 0;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (!selected(&tests[i], argc, argv)) continue;
        current_failures = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("%s %s (%s, %.0f ms)\n", current_failures ? "FAIL" : "ok  ", tests[i].name, tests[i].file, ms);
        fflush(stdout);
        if (current_failures) failed++;
        else passed++;
    }
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

void sb_add(sb_t *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sb_str(sb_t *b, const char *s) { sb_add(b, s, strlen(s)); }
