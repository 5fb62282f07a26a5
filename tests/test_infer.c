// Sampling and text output.
#include <string.h>

#include "infer/sample.h"
#include "infer/utf8out.h"
#include "test.h"

typedef struct {
    char s[256];
    size_t n;
} sink_t;

static void to_sink(const char *s, size_t n, void *ctx) {
    sink_t *k = ctx;
    memcpy(k->s + k->n, s, n);
    k->n += n;
    k->s[k->n] = 0;
}

static const char *stream(const char *in, size_t n, sink_t *k) {
    utf8out_t u;
    memset(k, 0, sizeof *k);
    utf8out_init(&u, to_sink, k);
    for (size_t i = 0; i < n; i++) utf8out_push(&u, in + i, 1);  // one byte at a time
    utf8out_flush(&u);
    return k->s;
}

TEST(utf8out_holds_partial_characters) {
    sink_t k;
    const char *ja = "学び";  // 3 bytes each
    utf8out_t u;
    memset(&k, 0, sizeof k);
    utf8out_init(&u, to_sink, &k);
    utf8out_push(&u, ja, 2);
    CHECK(k.n == 0);  // nothing printed for an unfinished character
    utf8out_push(&u, ja + 2, 1);
    CHECK(k.n == 3 && memcmp(k.s, ja, 3) == 0);
    CHECK(strcmp(stream(ja, strlen(ja), &k), ja) == 0);
    CHECK(strcmp(stream("a\xF0\x9F\x98\x80z", 6, &k), "a\xF0\x9F\x98\x80z") == 0);
}

TEST(utf8out_replaces_invalid_bytes) {
    sink_t k;
    CHECK(strcmp(stream("a\x80z", 3, &k), "a\xEF\xBF\xBDz") == 0);              // stray continuation
    CHECK(strcmp(stream("\xE5\x85z", 3, &k), "\xEF\xBF\xBDz") == 0);            // truncated, then ASCII
    CHECK(strcmp(stream("\xC0\xAF", 2, &k), "\xEF\xBF\xBD\xEF\xBF\xBD") == 0);  // overlong
    CHECK(strcmp(stream("\xED\xA0\x80", 3, &k), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") == 0);  // surrogate
    CHECK(strcmp(stream("\xE5\x85", 2, &k), "\xEF\xBF\xBD") == 0);              // unfinished at the end
}

TEST(sample_argmax_and_temperature) {
    float logits[4] = {0.5f, 2.0f, 2.0f, -1.0f};
    CHECK(sample_argmax(logits, 4) == 1);  // the first of the ties
    // softmax(logits): e^.5, e^2, e^2, e^-1 over 16.796 -> cumulative 0.098, 0.538, 0.978, 1.
    CHECK(sample_temperature(logits, 4, 1.0f, 0.05f) == 0);
    CHECK(sample_temperature(logits, 4, 1.0f, 0.2f) == 1);
    CHECK(sample_temperature(logits, 4, 1.0f, 0.6f) == 2);
    CHECK(sample_temperature(logits, 4, 1.0f, 0.97f) == 2);
    CHECK(sample_temperature(logits, 4, 1.0f, 0.99f) == 3);
    // A low temperature concentrates on the maxima.
    CHECK(sample_temperature(logits, 4, 0.01f, 0.49f) == 1);
    CHECK(sample_temperature(logits, 4, 0.01f, 0.51f) == 2);
}
