// A small test harness: TEST(name) registers a test; CHECK* record failures without
// stopping the test, so one run reports every broken assertion.  A failing check always
// makes the run exit non-zero.
#ifndef MANABI_TESTS_TEST_H
#define MANABI_TESTS_TEST_H

#include <math.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn, const char *file);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// A scratch directory for this test run (created on first use, removed at the end).
const char *test_tmpdir(void);
// test_tmpdir()/name, in one of 16 rotating buffers (valid for the next 15 calls).
const char *test_path(const char *name);
// Writes n bytes to path; 0 on success, -1 on failure.
int test_write_file(const char *path, const void *p, size_t n);

// A growable, NUL-terminated byte buffer for building inputs; start from {0}, free(b.p).
// Aborts when out of memory (a test cannot go on without its input).
typedef struct sb {
    char *p;
    size_t n, cap;
} sb_t;
void sb_add(sb_t *b, const char *s, size_t n);
void sb_str(sb_t *b, const char *s);

#define TEST(name)                                                                     \
    static void name(void);                                                            \
    __attribute__((constructor)) static void register_##name(void) {                   \
        test_register(#name, name, __FILE__);                                          \
    }                                                                                  \
    static void name(void)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                           \
    do {                                                                               \
        if (!(cond)) test_fail(__FILE__, __LINE__, __VA_ARGS__);                       \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double a_ = (a), b_ = (b);                                                     \
        if (!(fabs(a_ - b_) <= (tol)))                                                 \
            test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, |diff| %.3g > %.3g", \
                      #a, a_, #b, b_, fabs(a_ - b_), (double)(tol));                   \
    } while (0)

#endif
