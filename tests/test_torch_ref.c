// manabi against PyTorch: the same weights and tokens must give the same logits, loss and
// parameter gradients.  The oracle is tests/ref_torch.py (an independent implementation of
// Hugging Face's LlamaForCausalLM / GPT2LMHeadModel in plain PyTorch, run in float64).
//
// Tolerances: manabi computes in float32, so results differ from the float64 oracle by float32
// rounding accumulated over a few layers.  Observed: logits within 4e-7 x max|logit|, every
// gradient tensor within 1e-6 relative L2.  Required, with margin: |logit diff| <= 2e-6 x
// max(1, max|logit|); loss within 1e-5 relative; each gradient tensor within 1e-5 relative L2
// (||g - g_ref|| / ||g_ref||).  Changing GELU's 0.044715 to 0.04 fails by two orders of magnitude.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt.h"
#include "model/safetensors.h"
#include "test.h"
#include "train/checkpoint.h"

#define PYTHON "/usr/bin/python3"

static void compare_with_torch(gpt_config_t c, const char *tag) {
    int B = 2, T = 9;
    char model_path[512], batch_path[512], out_path[512], cmd[2048];
    snprintf(model_path, sizeof model_path, "%s/ref_%s_model.safetensors", test_tmpdir(), tag);
    snprintf(batch_path, sizeof batch_path, "%s/ref_%s_batch.safetensors", test_tmpdir(), tag);
    snprintf(out_path, sizeof out_path, "%s/ref_%s_out.safetensors", test_tmpdir(), tag);
    gpt_t m;
    err_t e = {0};
    if (gpt_init(&m, &c, &e) != 0 || gpt_alloc_train(&m, B, T, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    rng_t r;
    rng_seed(&r, 99);
    gpt_init_weights(&m, &r);
    // Larger random weights than at initialisation, so every term matters.
    for (size_t i = 0; i < m.table.total; i++) m.params[i] += 0.1f * rng_normal(&r);
    int32_t tok[18], tgt[18];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)rng_below(&r, c.vocab_size);
        tgt[i] = (int32_t)rng_below(&r, c.vocab_size);
    }
    ckpt_meta_t meta = {.tokenizer = "byte"};
    st_entry_t batch[2] = {{.name = "inputs", .dtype = ST_I32, .ndim = 2, .shape = {B, T}, .data = tok},
                           {.name = "targets", .dtype = ST_I32, .ndim = 2, .shape = {B, T}, .data = tgt}};
    CHECK(ckpt_save_model(model_path, &m, &meta, &e) == 0);
    CHECK(st_write(batch_path, batch, 2, NULL, 0, &e) == 0);
    snprintf(cmd, sizeof cmd, "%s tests/ref_torch.py %s %s %s", PYTHON, model_path, batch_path, out_path);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "'%s' failed (exit %d): is python3-torch installed?", cmd, rc);
    st_file_t f;
    if (rc != 0 || st_open(&f, out_path, &e) != 0) {
        test_fail(__FILE__, __LINE__, "no reference output: %s", e.msg);
        gpt_free(&m);
        return;
    }
    gpt_zero_grad(&m);
    double loss = gpt_forward(&m, tok, tgt, NULL, B, T);
    const st_tensor_t *lt = st_find(&f, "loss");
    CHECK(lt && lt->dtype == ST_F64);
    if (lt) {
        double ref;
        memcpy(&ref, st_data(&f, lt), sizeof ref);
        CHECK_NEAR(loss, ref, 1e-5 * ref);
    }
    size_t nl = (size_t)B * T * c.vocab_size;
    float *ref_logits = malloc(nl * sizeof(float)), maxabs = 1, maxdiff = 0;
    int64_t lshape[3] = {B, T, c.vocab_size};
    CHECK(st_read_f32(&f, "logits", ref_logits, 3, lshape, &e) == 0);
    for (size_t i = 0; i < nl; i++) {
        float d = fabsf(m.acts.logits[i] - ref_logits[i]);
        maxdiff = d > maxdiff ? d : maxdiff;
        maxabs = fabsf(ref_logits[i]) > maxabs ? fabsf(ref_logits[i]) : maxabs;
    }
    CHECK_MSG(maxdiff <= 2e-6f * maxabs, "%s: logits differ by %g (max |logit| %g)", tag, maxdiff, maxabs);
    free(ref_logits);
    gpt_backward(&m);
    for (int i = 0; i < m.table.n; i++) {
        const gpt_tensor_t *t = &m.table.t[i];
        char name[128];
        snprintf(name, sizeof name, "grad.%s", t->name);
        float *g = malloc(t->numel * sizeof(float));
        if (st_read_f32(&f, name, g, t->ndim, t->shape, &e) != 0) {
            test_fail(__FILE__, __LINE__, "%s", e.msg);
            free(g);
            continue;
        }
        double num = 0, den = 0;
        for (size_t k = 0; k < t->numel; k++) {
            double d = (double)m.grads[t->offset + k] - g[k];
            num += d * d;
            den += (double)g[k] * g[k];
        }
        double rel = sqrt(num / (den + 1e-30));
        CHECK_MSG(rel < 1e-5, "%s: gradient of %s differs from PyTorch's by %.3g (relative L2)", tag, t->name, rel);
        free(g);
    }
    st_close(&f);
    gpt_free(&m);
}

static gpt_config_t cfg(gpt_family_t fam, int nkv, int tied) {
    gpt_config_t c;
    gpt_config_preset(&c, fam, 2, 37, 9);
    c.d_model = 32;
    c.n_head = 4;
    c.n_kv_head = nkv;
    c.d_ff = fam == GPT_GPT2 ? 128 : 96;
    c.tie_embeddings = tied;
    return c;
}

TEST(torch_ref_llama) { compare_with_torch(cfg(GPT_LLAMA, 4, 1), "llama"); }
TEST(torch_ref_llama_gqa_untied) { compare_with_torch(cfg(GPT_LLAMA, 2, 0), "llama_gqa"); }
TEST(torch_ref_gpt2) { compare_with_torch(cfg(GPT_GPT2, 4, 1), "gpt2"); }
