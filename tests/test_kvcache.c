// The KV cache against the full forward pass: same logits at every position, whether the
// sequence arrives at once, a token at a time or in uneven chunks; both families and GQA.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "infer/kvcache.h"
#include "infer/sample.h"
#include "model/gpt.h"
#include "test.h"

enum { KV_T = 13 };

static void check_family(gpt_family_t fam, int gqa, int tied) {
    gpt_config_t cfg;
    gpt_config_preset(&cfg, fam, 2, 37, 16);
    if (fam == GPT_LLAMA && gqa) cfg.n_kv_head = cfg.n_head / 2;
    if (fam == GPT_LLAMA) cfg.tie_embeddings = tied;
    gpt_t m;
    err_t e = {{0}};
    if (gpt_init(&m, &cfg, &e) != 0 || gpt_alloc_acts(&m, 1, KV_T, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    rng_t r;
    rng_seed(&r, 11 + (uint64_t)fam * 3 + (uint64_t)gqa);
    gpt_init_weights(&m, &r);
    for (size_t i = 0; i < gpt_num_params(&m); i++) m.params[i] += 0.05f * rng_normal(&r);  // less uniform logits
    int32_t tok[KV_T];
    for (int t = 0; t < KV_T; t++) tok[t] = (int32_t)rng_below(&r, (uint64_t)cfg.vocab_size);
    gpt_forward(&m, tok, NULL, NULL, 1, KV_T);
    const float *full = gpt_logits(&m);
    float scale = 0;
    for (size_t i = 0; i < (size_t)KV_T * cfg.vocab_size; i++) scale = fmaxf(scale, fabsf(full[i]));
    double tol = 1e-5 * scale + 1e-6;
    // Three ways in: all at once, one at a time after a prefill of 4, chunks of 1, 5, 3, 4.
    static const int plans[3][KV_T + 1] = {{KV_T, 0}, {4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {1, 5, 3, 4, 0}};
    for (int p = 0; p < 3; p++) {
        kv_cache_t c;
        if (kv_init(&c, &m, 16, KV_T, &e) != 0) {
            test_fail(__FILE__, __LINE__, "%s", e.msg);
            break;
        }
        double worst = 0;
        for (int k = 0, at = 0; plans[p][k]; at += plans[p][k], k++) {
            int n = plans[p][k];
            if (kv_forward(&c, &m, tok + at, n, 1, &e) != 0) {
                test_fail(__FILE__, __LINE__, "%s", e.msg);
                break;
            }
            CHECK(c.n_logits == n && c.pos == at + n);
            for (int i = 0; i < n; i++)
                for (int v = 0; v < cfg.vocab_size; v++)
                    worst = fmax(worst, fabs(kv_logits(&c, i)[v] - full[(size_t)(at + i) * cfg.vocab_size + v]));
        }
        CHECK_MSG(worst <= tol, "%s gqa=%d plan %d: max |cached - full| = %.3g > %.3g", gpt_family_name(fam), gqa, p,
                  worst, tol);
        kv_free(&c);
    }
    gpt_free(&m);
}

TEST(kvcache_matches_full_forward_llama) { check_family(GPT_LLAMA, 0, 1); }
TEST(kvcache_matches_full_forward_llama_gqa_untied) { check_family(GPT_LLAMA, 1, 0); }
TEST(kvcache_matches_full_forward_gpt2) { check_family(GPT_GPT2, 0, 1); }

// Last-only logits equal the last row of all (to rounding: BLAS takes other paths for one row); a full cache refuses more without reading past
// it; a bad token or chunk is an error that changes nothing.
TEST(kvcache_limits_and_errors) {
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 1, 19, 8);
    gpt_t m;
    err_t e = {{0}};
    CHECK(gpt_init(&m, &cfg, &e) == 0);
    rng_t r;
    rng_seed(&r, 5);
    gpt_init_weights(&m, &r);
    kv_cache_t a, b;
    CHECK(kv_init(&a, &m, 8, 4, &e) == 0 && kv_init(&b, &m, 8, 4, &e) == 0);
    int32_t tok[4] = {1, 2, 3, 4};
    CHECK(kv_forward(&a, &m, tok, 4, 1, &e) == 0 && kv_forward(&b, &m, tok, 4, 0, &e) == 0);
    CHECK(b.n_logits == 1);
    for (int v = 0; v < 19; v++) CHECK_NEAR(kv_logits(&a, 3)[v], kv_logits(&b, 0)[v], 1e-5);
    CHECK(kv_forward(&b, &m, tok, 4, 0, &e) == 0 && b.pos == 8);
    CHECK(kv_forward(&b, &m, tok, 1, 0, &e) == -1 && strstr(e.msg, "context is full") && b.pos == 8);
    kv_reset(&b);
    CHECK(b.pos == 0 && kv_forward(&b, &m, tok, 1, 0, &e) == 0 && b.pos == 1);
    int32_t bad[2] = {3, 19};
    CHECK(kv_forward(&b, &m, bad, 2, 0, &e) == -1 && strstr(e.msg, "token id 19") && b.pos == 1);
    CHECK(kv_forward(&b, &m, tok, 5, 0, &e) == -1 && b.pos == 1);  // more than the chunk
    CHECK(kv_forward(&b, &m, tok, 0, 0, &e) == -1);
    kv_free(&a);
    CHECK(kv_init(&a, &m, 9, 4, &e) == -1);  // beyond the context; a is zeroed, kv_free-safe
    kv_free(&a), kv_free(&a), kv_free(&b);
    gpt_free(&m);
}

// Greedy generation through the cache picks what a full forward pass over the whole sequence
// picks at every step; past the context it keeps going on the most recent half.
TEST(kvcache_generate_matches_full_recompute) {
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 2, 29, 16);
    gpt_t m;
    err_t e = {{0}};
    CHECK(gpt_init(&m, &cfg, &e) == 0 && gpt_alloc_acts(&m, 1, 16, &e) == 0);
    rng_t r;
    rng_seed(&r, 3);
    gpt_init_weights(&m, &r);
    for (size_t i = 0; i < gpt_num_params(&m); i++) m.params[i] += 0.1f * rng_normal(&r);
    int32_t want[16] = {1, 7, 3}, got[64] = {1, 7, 3};
    for (int n = 3; n < 16; n++) {
        gpt_forward(&m, want, NULL, NULL, 1, n);
        want[n] = sample_argmax(gpt_logits(&m) + (size_t)(n - 1) * cfg.vocab_size, cfg.vocab_size);
    }
    kv_cache_t c;
    CHECK(kv_init(&c, &m, 16, 4, &e) == 0);  // chunks of 4: the prompt and re-prefills in pieces
    sample_config_t greedy;
    sample_config_default(&greedy);
    greedy.temperature = 0;
    CHECK(generate(&m, &c, got, 3, 16, 13, &greedy, &r, NULL, NULL, &e) == 16);
    CHECK(memcmp(got, want, sizeof want) == 0);
    CHECK(generate(&m, &c, got, 3, 64, 61, &greedy, &r, NULL, NULL, &e) == 64);  // 4x the context
    CHECK(memcmp(got, want, sizeof want) == 0 && c.pos <= c.T);
    for (int i = 0; i < 64; i++) CHECK(got[i] >= 0 && got[i] < cfg.vocab_size);
    CHECK(generate(&m, &c, got, 0, 64, 1, &greedy, &r, NULL, NULL, &e) == -1);
    kv_free(&c);
    gpt_free(&m);
}
