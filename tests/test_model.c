// Whole-model checks: finite-difference gradients for both families, table layout.
#include <stdlib.h>
#include <string.h>

#include "model/gpt.h"
#include "test.h"

static gpt_config_t small_config(gpt_family_t fam, int gqa, int tied) {
    gpt_config_t c;
    gpt_config_preset(&c, fam, 2, 23, 7);
    c.d_model = 16;
    c.n_head = 4;
    c.n_kv_head = gqa ? 2 : 4;
    c.d_ff = 24;
    c.tie_embeddings = tied;
    return c;
}

// Central differences of the loss w.r.t. sampled parameters against the analytic gradient.
// Weights are drawn with a larger spread than training uses so the gradients are not tiny.
static void gradcheck_model(gpt_family_t fam, int gqa, int tied) {
    gpt_config_t c = small_config(fam, gqa, tied);
    gpt_t m;
    err_t e = {0};
    if (gpt_init(&m, &c, &e) != 0 || gpt_alloc_train(&m, 2, 7, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    rng_t r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < m.table.total; i++) m.params[i] = 0.3f * rng_normal(&r);
    for (int i = 0; i < m.table.n; i++)  // norms near 1 so that layers stay well conditioned
        if (m.table.t[i].ndim == 1 && strstr(m.table.t[i].name, "bias") == NULL)
            for (size_t k = 0; k < m.table.t[i].numel; k++) m.params[m.table.t[i].offset + k] += 1.0f;
    int B = 2, T = 7, tok[14], tgt[14];
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int)rng_below(&r, c.vocab_size);
        tgt[i] = (int)rng_below(&r, c.vocab_size);
    }
    gpt_zero_grad(&m);
    gpt_forward(&m, tok, tgt, NULL, B, T);
    gpt_backward(&m);
    // Every tensor: check up to 6 coordinates.
    double num = 0, den = 0, worst = 0;
    const char *worst_name = "";
    for (int ti = 0; ti < m.table.n; ti++) {
        const gpt_tensor_t *t = &m.table.t[ti];
        double tnum = 0, tden = 0;
        for (int s = 0; s < 6; s++) {
            size_t k = t->offset + rng_below(&r, t->numel);
            float save = m.params[k], h = 1e-2f;
            m.params[k] = save + h;
            double lp = gpt_forward(&m, tok, tgt, NULL, B, T);
            m.params[k] = save - h;
            double lm = gpt_forward(&m, tok, tgt, NULL, B, T);
            m.params[k] = save;
            double fd = (lp - lm) / (2.0 * h), an = m.grads[k];
            tnum += (fd - an) * (fd - an);
            tden += fd * fd + an * an;
        }
        double rel = sqrt(tnum / (tden + 1e-12));
        if (tden > 1e-10 && rel > worst) {
            worst = rel;
            worst_name = t->name;
        }
        num += tnum;
        den += tden;
    }
    CHECK_MSG(worst < 2e-2, "%s (gqa %d tied %d): worst relative gradient error %.3g in %s", gpt_family_name(fam),
              gqa, tied, worst, worst_name);
    CHECK_MSG(sqrt(num / den) < 1e-2, "overall relative gradient error %.3g", sqrt(num / den));
    gpt_free(&m);
}

TEST(model_gradcheck_llama) { gradcheck_model(GPT_LLAMA, 0, 1); }
TEST(model_gradcheck_llama_gqa_untied) { gradcheck_model(GPT_LLAMA, 1, 0); }
TEST(model_gradcheck_gpt2) { gradcheck_model(GPT_GPT2, 0, 1); }

TEST(model_table_names_and_layout) {
    gpt_config_t c = small_config(GPT_LLAMA, 1, 0);
    gpt_table_t tab;
    err_t e = {0};
    CHECK(gpt_table_build(&tab, &c, &e) == 0);
    CHECK(strcmp(tab.t[0].name, "model.embed_tokens.weight") == 0);
    const gpt_tensor_t *q = gpt_table_find_name(&tab, "model.layers.1.self_attn.q_proj.weight");
    const gpt_tensor_t *k = gpt_table_find_name(&tab, "model.layers.1.self_attn.k_proj.weight");
    const gpt_tensor_t *v = gpt_table_find_name(&tab, "model.layers.1.self_attn.v_proj.weight");
    CHECK(q && k && v);
    if (q && k && v) {
        CHECK(k->offset == q->offset + q->numel && v->offset == k->offset + k->numel);
        CHECK(q->shape[0] == 16 && q->shape[1] == 16 && k->shape[0] == 8);
    }
    CHECK(gpt_table_find_name(&tab, "lm_head.weight") != NULL);
    size_t sum = 0;
    for (int i = 0; i < tab.n; i++) sum += tab.t[i].numel;
    CHECK(sum == tab.total);
    gpt_table_free(&tab);
}
