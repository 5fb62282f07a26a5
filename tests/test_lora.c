// LoRA adapters (model/lora.h): gradients against finite differences with the base frozen,
// a zero B leaves the model as it was, merging equals the unmerged adapter, the KV cache uses
// the adapter, files round-trip in PEFT's names and refuse another base.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/rng.h"
#include "infer/kvcache.h"
#include "model/gpt.h"
#include "model/lora.h"
#include "model/safetensors.h"
#include "test.h"
#include "train/checkpoint.h"

enum { LB = 2, LT = 7, LV = 23 };

static int base_model(gpt_t *m, gpt_family_t fam, uint64_t seed) {
    gpt_config_t cfg;
    gpt_config_preset(&cfg, fam, 2, LV, 16);
    cfg.d_model = 32, cfg.n_head = 4, cfg.n_kv_head = fam == GPT_LLAMA ? 2 : 4, cfg.d_ff = 48;
    err_t e = {{0}};
    if (gpt_init(m, &cfg, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return -1;
    }
    rng_t r;
    rng_seed(&r, seed);
    gpt_init_weights(m, &r);
    for (size_t i = 0; i < gpt_num_params(m); i++) m->params[i] += 0.05f * rng_normal(&r);
    return 0;
}

static lora_t *adapter(gpt_t *m, unsigned targets, float dropout, uint64_t seed) {
    lora_config_t lc = {.rank = 3, .alpha = 6, .dropout = dropout, .targets = targets};
    rng_t r;
    rng_seed(&r, seed);
    err_t e = {{0}};
    lora_t *l = lora_new(m, &lc, &r, &e);
    if (!l) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return NULL;
    }
    for (int k = 0; k < l->n; k++)  // a trained-looking B, so that A's gradient is not zero
        for (size_t j = 0; j < (size_t)l->ad[k].rows * 3; j++) l->params[l->ad[k].b + j] = 0.1f * rng_normal(&r);
    return l;
}

static void gradcheck(gpt_family_t fam, unsigned targets, float dropout) {
    gpt_t m;
    if (base_model(&m, fam, 3) != 0) return;
    lora_t *l = adapter(&m, targets, dropout, 5);
    if (!l) return;
    err_t e = {{0}};
    m.lora = l;
    gpt_freeze(&m, 0, 0, 1);
    CHECK(gpt_alloc_train(&m, LB, LT, &e) == 0 && lora_alloc_grads(l, &e) == 0);
    CHECK(m.grads == NULL);  // a frozen base has no gradient arena
    rng_t r;
    rng_seed(&r, 9);
    int32_t tok[LB * LT], tgt[LB * LT];
    for (int i = 0; i < LB * LT; i++) tok[i] = (int32_t)rng_below(&r, LV), tgt[i] = (int32_t)rng_below(&r, LV);
    l->training = 1, l->seed = 77;
    lora_zero_grad(l);
    gpt_forward(&m, tok, tgt, NULL, LB, LT);
    gpt_backward(&m);
    double worst = 0;
    int checked = 0;
    for (size_t i = 0; i < l->total; i += 1 + l->total / 60, checked++) {  // ~60 coordinates, A and B
        float keep = l->params[i], h = 1e-2f;
        l->params[i] = keep + h;
        double lp = gpt_forward(&m, tok, tgt, NULL, LB, LT);
        l->params[i] = keep - h;
        double lm = gpt_forward(&m, tok, tgt, NULL, LB, LT);
        l->params[i] = keep;
        double fd = (lp - lm) / ((double)(keep + h) - (double)(keep - h)), an = l->grads[i];
        double ratio = fabs(fd - an) / (2e-4 + 2e-2 * fmax(fabs(fd), fabs(an)));
        worst = fmax(worst, ratio);
    }
    CHECK_MSG(worst <= 1, "%s targets 0x%x dropout %g: LoRA gradient off by %.2fx its tolerance (%d checked)",
              gpt_family_name(fam), targets, dropout, worst, checked);
    lora_free(l);
    gpt_free(&m);
}

TEST(lora_gradcheck_llama) { gradcheck(GPT_LLAMA, LORA_Q | LORA_K | LORA_V | LORA_O | LORA_GATE | LORA_UP | LORA_DOWN, 0); }
TEST(lora_gradcheck_llama_dropout) { gradcheck(GPT_LLAMA, LORA_Q | LORA_V | LORA_DOWN, 0.3f); }
TEST(lora_gradcheck_gpt2) { gradcheck(GPT_GPT2, LORA_Q | LORA_O | LORA_UP | LORA_DOWN, 0); }

// B = 0 changes nothing; merged weights give the unmerged adapter's logits; so does the KV cache.
TEST(lora_merge_and_cache_agree) {
    for (int fam = 0; fam < 2; fam++) {
        gpt_t m, plain;
        if (base_model(&m, fam ? GPT_GPT2 : GPT_LLAMA, 11) != 0 || base_model(&plain, fam ? GPT_GPT2 : GPT_LLAMA, 11) != 0)
            return;
        err_t e = {{0}};
        lora_config_t lc = {.rank = 4, .alpha = 8, .targets = fam ? LORA_Q | LORA_DOWN : LORA_Q | LORA_V | LORA_UP};
        rng_t r;
        rng_seed(&r, 2);
        lora_t *l = lora_new(&m, &lc, &r, &e);
        CHECK(l != NULL);
        if (!l) return;
        int32_t tok[LT];
        for (int t = 0; t < LT; t++) tok[t] = (int32_t)rng_below(&r, LV);
        CHECK(gpt_alloc_acts(&plain, 1, LT, &e) == 0);
        gpt_forward(&plain, tok, NULL, NULL, 1, LT);
        m.lora = l;
        CHECK(gpt_alloc_acts(&m, 1, LT, &e) == 0);
        gpt_forward(&m, tok, NULL, NULL, 1, LT);
        CHECK(memcmp(gpt_logits(&m), gpt_logits(&plain), sizeof(float) * LT * LV) == 0);  // B starts at 0
        for (size_t j = 0; j < l->total; j++) l->params[j] += 0.2f * rng_normal(&r);
        gpt_forward(&m, tok, NULL, NULL, 1, LT);
        float *with = malloc(sizeof(float) * LT * LV);
        memcpy(with, gpt_logits(&m), sizeof(float) * LT * LV);
        double scale = 0, moved = 0;
        for (int i = 0; i < LT * LV; i++) {
            scale = fmax(scale, fabs(with[i]));
            moved = fmax(moved, fabs(with[i] - gpt_logits(&plain)[i]));
        }
        CHECK(moved > 1e-3);  // the adapter does something
        kv_cache_t c;  // the cache, adapter unmerged
        CHECK(kv_init(&c, &m, 1, 16, 16, &e) == 0 && kv_forward(&c, &m, 0, tok, LT, 1, &e) == 0);
        double worst = 0;
        for (int i = 0; i < LT * LV; i++) worst = fmax(worst, fabs(kv_logits(&c, i / LV)[i % LV] - with[i]));
        CHECK_MSG(worst <= 1e-5 * scale, "%s: cache with adapter differs by %.3g", gpt_family_name(m.cfg.family), worst);
        kv_free(&c);
        CHECK(lora_merge(l, &plain, &e) == 0);  // merged into the plain model
        gpt_forward(&plain, tok, NULL, NULL, 1, LT);
        worst = 0;
        for (int i = 0; i < LT * LV; i++) worst = fmax(worst, fabs(gpt_logits(&plain)[i] - with[i]));
        CHECK_MSG(worst <= 1e-5 * scale, "%s: merged differs by %.3g", gpt_family_name(m.cfg.family), worst);
        free(with);
        lora_free(l);
        gpt_free(&m), gpt_free(&plain);
    }
}

TEST(lora_files) {
    gpt_t m, other;
    if (base_model(&m, GPT_LLAMA, 21) != 0 || base_model(&other, GPT_LLAMA, 22) != 0) return;
    err_t e = {{0}};
    lora_t *l = adapter(&m, LORA_Q | LORA_V, 0.1f, 4);
    if (!l) return;
    const char *path = test_path("adapter.safetensors"), *json = test_path("adapter_config.json");
    CHECK(lora_save(l, &m, path, json, &e) == 0);
    st_file_t f;
    CHECK(st_open(&f, path, &e) == 0);
    const st_tensor_t *t = st_find(&f, "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 16 && t->shape[1] == 3);  // v rows = NKV * HS = 2 * 8
    CHECK(st_find(&f, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight") && f.n_tensors == 8);
    st_close(&f);
    char *cfg;
    size_t n;
    CHECK(io_read_file(json, &cfg, &n, &e) == 0 && strstr(cfg, "\"peft_type\": \"LORA\"") &&
          strstr(cfg, "\"q_proj\"") && strstr(cfg, "\"r\": 3"));
    free(cfg);
    lora_t *back = lora_load(path, &m, &e);
    CHECK(back && back->total == l->total && back->cfg.rank == 3 && back->cfg.targets == (LORA_Q | LORA_V));
    if (back) CHECK(memcmp(back->params, l->params, l->total * sizeof(float)) == 0);
    lora_free(back);
    CHECK(lora_load(path, &other, &e) == NULL && strstr(e.msg, "other weights"));
    gpt_t wide;
    gpt_config_t wc = m.cfg;
    wc.d_ff = 64;
    CHECK(gpt_init(&wide, &wc, &e) == 0);
    CHECK(lora_load(path, &wide, &e) == NULL && strstr(e.msg, "another model"));
    gpt_free(&wide);
    unsigned bits;
    CHECK(lora_targets_parse("q_proj,v", GPT_LLAMA, &bits, &e) == 0 && bits == (LORA_Q | LORA_V));
    CHECK(lora_targets_parse("c_proj", GPT_GPT2, &bits, &e) == 0 && bits == (LORA_O | LORA_DOWN));
    CHECK(lora_targets_parse("all", GPT_GPT2, &bits, &e) == 0 && bits == (LORA_Q | LORA_O | LORA_UP | LORA_DOWN));
    CHECK(lora_targets_parse("q,zz", GPT_LLAMA, &bits, &e) == -1 && strstr(e.msg, "'zz'") && strstr(e.msg, "gate"));
    CHECK(lora_targets_parse("k", GPT_GPT2, &bits, &e) == -1);
    lora_config_t bad = {.rank = 0, .alpha = 1, .targets = LORA_Q};
    CHECK(lora_new(&m, &bad, NULL, &e) == NULL && strstr(e.msg, "rank"));
    lora_free(l);
    lora_free(NULL);
    gpt_free(&m), gpt_free(&other);
}
