// The KV cache against the full forward pass: same logits at every position, whether the
// sequence arrives at once, a token at a time or in uneven chunks; both families and GQA.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "infer/kvcache.h"
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
        if (kv_init(&c, &m, 1, 16, KV_T, &e) != 0) {
            test_fail(__FILE__, __LINE__, "%s", e.msg);
            break;
        }
        double worst = 0;
        for (int k = 0, at = 0; plans[p][k]; at += plans[p][k], k++) {
            int n = plans[p][k];
            if (kv_forward(&c, &m, 0, tok + at, n, 1, &e) != 0) {
                test_fail(__FILE__, __LINE__, "%s", e.msg);
                break;
            }
            CHECK(c.n_logits == n && c.pos[0] == at + n);
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

// Last-only logits equal the last row of all (to rounding); a full cache refuses more without
// reading past it; a bad token, slot or chunk is an error that changes nothing.
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
    CHECK(kv_init(&a, &m, 1, 8, 4, &e) == 0 && kv_init(&b, &m, 2, 8, 4, &e) == 0);
    int32_t tok[4] = {1, 2, 3, 4};
    CHECK(kv_forward(&a, &m, 0, tok, 4, 1, &e) == 0 && kv_forward(&b, &m, 0, tok, 4, 0, &e) == 0);
    CHECK(b.n_logits == 1);
    for (int v = 0; v < 19; v++) CHECK_NEAR(kv_logits(&a, 3)[v], kv_logits(&b, 0)[v], 1e-5);
    CHECK(kv_forward(&b, &m, 0, tok, 4, 0, &e) == 0 && b.pos[0] == 8);
    CHECK(kv_forward(&b, &m, 0, tok, 1, 0, &e) == -1 && strstr(e.msg, "context is full") && b.pos[0] == 8);
    int one = 0;
    CHECK(kv_step(&b, &m, &one, tok, 1, &e) == -1 && strstr(e.msg, "context is full") && b.pos[0] == 8);
    kv_keep(&b, 0, 0);
    CHECK(b.pos[0] == 0 && kv_forward(&b, &m, 0, tok, 1, 0, &e) == 0 && b.pos[0] == 1);
    int32_t bad[2] = {3, 19};
    CHECK(kv_forward(&b, &m, 0, bad, 2, 0, &e) == -1 && strstr(e.msg, "token id 19") && b.pos[0] == 1);
    CHECK(kv_forward(&b, &m, 0, tok, 5, 0, &e) == -1 && b.pos[0] == 1);  // more than the chunk
    CHECK(kv_forward(&b, &m, 0, tok, 0, 0, &e) == -1);
    CHECK(kv_forward(&b, &m, 2, tok, 1, 0, &e) == -1 && strstr(e.msg, "slot 2"));
    int twice[2] = {1, 1}, out_of_range[2] = {0, 5};
    CHECK(kv_step(&b, &m, twice, tok, 2, &e) == -1 && strstr(e.msg, "twice") && b.pos[1] == 0);
    CHECK(kv_step(&b, &m, out_of_range, tok, 2, &e) == -1 && b.pos[0] == 1);
    kv_free(&a);
    CHECK(kv_init(&a, &m, 1, 9, 4, &e) == -1);  // beyond the context; a is zeroed, kv_free-safe
    CHECK(kv_init(&a, &m, 0, 8, 4, &e) == -1);
    kv_free(&a), kv_free(&a), kv_free(&b);
    gpt_free(&m);
}

// Several sequences at different positions stepped together give each its own logits, as if
// run alone; a copied slot continues like the original.
TEST(kvcache_batched_steps_match_single_sequences) {
    for (int fam = 0; fam < 2; fam++) {
        gpt_config_t cfg;
        gpt_config_preset(&cfg, fam ? GPT_GPT2 : GPT_LLAMA, 2, 31, 16);
        if (!fam) cfg.n_kv_head = cfg.n_head / 2;
        gpt_t m;
        err_t e = {{0}};
        CHECK(gpt_init(&m, &cfg, &e) == 0);
        rng_t r;
        rng_seed(&r, 17 + (uint64_t)fam);
        gpt_init_weights(&m, &r);
        for (size_t i = 0; i < gpt_num_params(&m); i++) m.params[i] += 0.05f * rng_normal(&r);
        enum { S = 3 };
        int32_t seq[S][10];
        for (int s = 0; s < S; s++)
            for (int t = 0; t < 10; t++) seq[s][t] = (int32_t)rng_below(&r, 31);
        kv_cache_t one, many;
        CHECK(kv_init(&one, &m, 1, 16, 16, &e) == 0 && kv_init(&many, &m, S + 1, 16, 16, &e) == 0);
        int plen[S] = {2, 5, 3};
        for (int s = 0; s < S; s++) CHECK(kv_forward(&many, &m, s, seq[s], plen[s], 0, &e) == 0);
        kv_copy(&many, S, 1);  // slot 3 continues sequence 1 too
        double worst = 0;
        for (int step = 0; step < 4; step++) {
            int slots[S + 1] = {0, 1, 2, 3};
            int32_t next[S + 1];
            for (int s = 0; s < S; s++) next[s] = seq[s][plen[s] + step];
            next[S] = next[1];
            CHECK(kv_step(&many, &m, slots, next, S + 1, &e) == 0 && many.n_logits == S + 1);
            for (int s = 0; s <= S; s++) {
                int q = s == S ? 1 : s, n = plen[q] + step + 1;
                kv_keep(&one, 0, 0);
                CHECK(kv_forward(&one, &m, 0, seq[q], n, 0, &e) == 0);
                for (int v = 0; v < 31; v++) worst = fmax(worst, fabs(kv_logits(&many, s)[v] - kv_logits(&one, 0)[v]));
            }
        }
        CHECK_MSG(worst < 1e-4, "%s: batched vs single max |diff| %.3g", gpt_family_name(cfg.family), worst);
        CHECK(many.pos[0] == 6 && many.pos[1] == 9 && many.pos[3] == 9);
        kv_free(&one), kv_free(&many);
        gpt_free(&m);
    }
}

// With bf16 weights the cache computes what a float32 model whose weights were rounded to bf16
// computes (only the summation order differs).
TEST(kvcache_bf16_weights) {
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 2, 37, 16);
    gpt_t m, ref;
    err_t e = {{0}};
    CHECK(gpt_init(&m, &cfg, &e) == 0 && gpt_init(&ref, &cfg, &e) == 0 && gpt_alloc_acts(&ref, 1, KV_T, &e) == 0);
    rng_t r;
    rng_seed(&r, 23);
    gpt_init_weights(&m, &r);
    for (size_t i = 0; i < gpt_num_params(&m); i++) m.params[i] += 0.05f * rng_normal(&r);
    size_t np = gpt_num_params(&m);
    bf16_t *h = malloc(np * sizeof *h);
    bf16_from_f32(h, m.params, np);  // every weight made exactly representable in bf16
    bf16_to_f32(m.params, h, np);
    free(h);
    memcpy(ref.params, m.params, np * sizeof(float));
    CHECK(gpt_to_bf16(&m, &e) == 0 && m.params_bf16);
    int32_t tok[KV_T];
    for (int t = 0; t < KV_T; t++) tok[t] = (int32_t)rng_below(&r, 37);
    gpt_forward(&ref, tok, NULL, NULL, 1, KV_T);
    kv_cache_t c;
    CHECK(kv_init(&c, &m, 1, 16, 16, &e) == 0);
    double worst = 0, scale = 0;
    for (int at = 0; at < KV_T; at++) {
        CHECK(kv_forward(&c, &m, 0, tok + at, 1, 0, &e) == 0);
        for (int v = 0; v < 37; v++) {
            double want = gpt_logits(&ref)[(size_t)at * 37 + v];
            worst = fmax(worst, fabs(kv_logits(&c, 0)[v] - want));
            scale = fmax(scale, fabs(want));
        }
    }
    CHECK_MSG(worst <= 1e-5 * scale + 1e-6, "bf16 cache vs rounded model: %.3g (scale %.3g)", worst, scale);
    kv_free(&c);
    gpt_free(&m), gpt_free(&ref);
}
