// Sampling and text output.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
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

TEST(sample_argmax_and_chain) {
    const float logits[4] = {0.5f, 2.0f, 2.0f, -1.0f};
    float copy[4];
    memcpy(copy, logits, sizeof copy);
    CHECK(sample_argmax(logits, 4) == 1);  // the first of the ties
    sampler_t *s = sampler_new(4);
    sample_config_t c = {.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0, .repeat_penalty = 1};
    // Candidates by logit, ties by id: 1, 2, 0, 3 with softmax 0.440, 0.440, 0.098, 0.022:
    // cumulative 0.440, 0.880, 0.978, 1.
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.05f) == 1);
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.5f) == 2);
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.9f) == 0);
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.99f) == 3);
    c.temperature = 0.01f;  // a low temperature concentrates on the maxima
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.49f) == 1 && sample_next(s, &c, logits, 4, NULL, 0, 0.51f) == 2);
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.999f) == 2);
    c.temperature = 1;
    c.top_k = 1;  // only the first candidate
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.99f) == 1);
    c.top_k = 0, c.top_p = 0.5f;  // 0.440 < 0.5 <= 0.880: ids 1 and 2
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.99f) == 2);
    c.top_p = 0.4f;  // the first alone reaches it
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.99f) == 1);
    c.top_p = 1, c.min_p = 0.1f;  // p / p_max: 1, 1, 0.223, 0.050 -> ids 1, 2, 0
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.999f) == 0);
    c.min_p = 0.3f;  // ids 1, 2
    CHECK(sample_next(s, &c, logits, 4, NULL, 0, 0.999f) == 2);
    // Penalties, greedy.
    sample_config_t g = {.temperature = 0, .top_p = 1, .repeat_penalty = 1.5f, .repeat_last_n = 64};
    int32_t h1[2] = {1, 1}, h2[3] = {2, 2, 2}, h3[2] = {1, 3};
    CHECK(sample_next(s, &g, logits, 4, h1, 2, 0) == 2);  // 2 / 1.5 < 2
    g.repeat_penalty = 1, g.frequency_penalty = 0.3f;      // 2 - 3 * 0.3 = 1.1 < 2
    CHECK(sample_next(s, &g, logits, 4, h2, 3, 0) == 1);
    g.frequency_penalty = 0, g.presence_penalty = 0.1f;    // once, not per occurrence: 1.9
    CHECK(sample_next(s, &g, logits, 4, h2, 3, 0) == 1);
    g.presence_penalty = 5, g.repeat_last_n = 1;           // only the last token (3) is seen
    CHECK(sample_next(s, &g, logits, 4, h3, 2, 0) == 1);
    g.repeat_last_n = 2;                                    // now 1 as well
    CHECK(sample_next(s, &g, logits, 4, h3, 2, 0) == 2);
    CHECK(memcmp(copy, logits, sizeof copy) == 0);  // pure
    sampler_free(s);
    sampler_free(NULL);
}

TEST(sample_config_ranges) {
    sample_config_t c;
    sample_config_default(&c);
    err_t e = {{0}};
    CHECK(sample_config_check(&c, &e) == 0 && c.top_k == 40 && c.top_p == 0.95f && c.min_p == 0.05f);
    c.temperature = -0.1f;
    CHECK(sample_config_check(&c, &e) == -1 && strstr(e.msg, "temperature"));
    sample_config_default(&c), c.top_p = 0;
    CHECK(sample_config_check(&c, &e) == -1 && strstr(e.msg, "top-p"));
    sample_config_default(&c), c.top_p = 1.01f;
    CHECK(sample_config_check(&c, &e) == -1 && strstr(e.msg, "top-p"));
    sample_config_default(&c), c.min_p = 1;
    CHECK(sample_config_check(&c, &e) == -1 && strstr(e.msg, "min-p"));
    sample_config_default(&c), c.top_k = -1;
    CHECK(sample_config_check(&c, &e) == -1 && strstr(e.msg, "top-k"));
    sample_config_default(&c), c.repeat_penalty = 0;
    CHECK(sample_config_check(&c, &e) == -1 && strstr(e.msg, "repeat-penalty"));
    sample_config_default(&c), c.repeat_last_n = -1;
    CHECK(sample_config_check(&c, &e) == -1 && strstr(e.msg, "repeat-last-n"));
}

// top-k by one-pass selection draws exactly what sorting the whole vocabulary does: the
// reference keeps the same k (largest logits, ties by id) and gives the rest -inf.
static const float *g_logits;
static int by_logit_then_id(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return g_logits[x] < g_logits[y] ? 1 : g_logits[x] > g_logits[y] ? -1 : x - y;
}

TEST(sample_top_k_selection_matches_sort) {
    enum { V = 500, K = 40 };
    static float logits[V], masked[V];
    static int idx[V];
    rng_t r;
    rng_seed(&r, 9);
    for (int i = 0; i < V; i++) logits[i] = (float)(int)(rng_normal(&r) * 4) / 2, idx[i] = i;  // many ties
    g_logits = logits;
    qsort(idx, V, sizeof *idx, by_logit_then_id);
    for (int i = 0; i < V; i++) masked[i] = -INFINITY;
    for (int i = 0; i < K; i++) masked[idx[i]] = logits[idx[i]];
    sampler_t *s = sampler_new(V);
    sample_config_t a = {.temperature = 1.3f, .top_k = K, .top_p = 1, .min_p = 1e-30f, .repeat_penalty = 1};  // min-p drops -inf
    sample_config_t b = a;
    b.top_k = 0;
    for (int t = 0; t < 200; t++) {
        float coin = (float)t / 200;
        int x = sample_next(s, &a, logits, V, NULL, 0, coin), y = sample_next(s, &b, masked, V, NULL, 0, coin);
        CHECK_MSG(x == y, "coin %.3f: selection %d, sort %d", coin, x, y);
    }
    sampler_free(s);
}
