// Tests for training: learning-rate schedules, clipping and AdamW (train/optim), a short
// training run through the library on a learnable task, and checkpoints (train/checkpoint).
// Each test notes the mutation of the code it catches.
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt.h"
#include "model/safetensors.h"
#include "test.h"
#include "train/checkpoint.h"
#include "train/optim.h"

// ---- learning-rate schedules ----------------------------------------------------------------

// lr 1, min_lr 0.1, warmup 10, total 110: warmup is lr (step+1)/10 for steps 0..9; afterwards
// p = (step - 10) / 100.  The expected values are worked out by hand:
//   cosine  0.1 + 0.45 (1 + cos(pi p));  linear  1 - 0.9 p;
//   wsd (decay_frac 0.2)  1 until p = 0.8, then 1 - 0.9 (p - 0.8) / 0.2;  constant 1.
// Mutation: warmup from step/warmup (0 at step 0), cosine over the whole run instead of after
// warmup, or WSD decaying from the start, each fails a row below.
TEST(optim_lr_schedules) {
    struct {
        int64_t step;
        double cosine, linear, wsd, constant;
    } rows[] = {
        {0, 0.1, 0.1, 0.1, 0.1},                       // warmup start
        {4, 0.5, 0.5, 0.5, 0.5},                       // inside warmup
        {9, 1.0, 1.0, 1.0, 1.0},                       // end of warmup
        {10, 1.0, 1.0, 1.0, 1.0},                      // p = 0
        {35, 0.868198052, 0.775, 1.0, 1.0},            // p = 0.25: cos(pi/4) = 0.70710678
        {60, 0.55, 0.55, 1.0, 1.0},                    // p = 0.5, the middle
        {100, 0.122024457, 0.19, 0.55, 1.0},           // p = 0.9: cos(0.9 pi) = -0.95105652
        {109, 0.100222052, 0.109, 0.145, 1.0},         // the last step, p = 0.99
        {110, 0.1, 0.1, 0.1, 1.0},                     // p = 1: the floor
        {500, 0.1, 0.1, 0.1, 1.0},                     // past the end: stays at the floor
    };
    lr_kind_t kinds[4] = {LR_COSINE, LR_LINEAR, LR_WSD, LR_CONSTANT};
    const char *names[4] = {"cosine", "linear", "wsd", "constant"};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        double want[4] = {rows[r].cosine, rows[r].linear, rows[r].wsd, rows[r].constant};
        for (int k = 0; k < 4; k++) {
            lr_schedule_t s = {.kind = kinds[k], .lr = 1.0f, .min_lr = 0.1f, .warmup = 10, .total = 110,
                               .decay_frac = 0.2f};
            double got = lr_at(&s, rows[r].step);
            CHECK_MSG(fabs(got - want[k]) < 2e-6, "%s at step %lld: %.9g, expected %.9g", names[k],
                      (long long)rows[r].step, got, want[k]);
        }
    }
    // No warmup: the first step already runs at the peak.
    lr_schedule_t s = {.kind = LR_COSINE, .lr = 0.5f, .min_lr = 0.0f, .warmup = 0, .total = 100};
    CHECK_NEAR(lr_at(&s, 0), 0.5, 1e-7);
    CHECK_NEAR(lr_at(&s, 50), 0.25, 1e-6);
    lr_kind_t k;
    err_t e = {{0}};
    CHECK(lr_kind_parse("wsd", &k, &e) == 0 && k == LR_WSD);
    CHECK(lr_kind_parse("cosin", &k, &e) != 0 && strstr(e.msg, "cosin"));
}

// Mutation: clipping when norm == max, or returning max/norm for small norms, fails this.
TEST(optim_clip_scale) {
    CHECK_NEAR(clip_scale(2.0, 1.0f), 0.5, 1e-6);
    CHECK_NEAR(clip_scale(10.0, 2.5f), 0.25, 1e-6);
    CHECK(clip_scale(2.0, 1.0f) * 2.0 <= 1.0);    // the clipped norm never exceeds the bound
    CHECK(clip_scale(0.5, 1.0f) == 1.0f);          // below the bound: untouched
    CHECK(clip_scale(1.0, 1.0f) == 1.0f);          // at the bound: untouched
    CHECK(clip_scale(100.0, 0.0f) == 1.0f);        // 0: clipping off
    CHECK(clip_scale(100.0, -1.0f) == 1.0f);
    float g[4] = {3, 0, -4, 0};
    CHECK_NEAR(grad_norm(g, 4), 5.0, 1e-12);
}

// Whether AdamW should decay this tensor, decided from its name here (not from the table's flag,
// which is what is under test): 2-D weights decay, except the embeddings.
static int expect_decay(const gpt_tensor_t *t) {
    return t->ndim == 2 && !strstr(t->name, "embed_tokens") && !strstr(t->name, "wte") && !strstr(t->name, "wpe");
}

// With parameters 1, the first AdamW step with gradient g moves each parameter by
// lr (sign(g) + wd * 1) (m-hat / sqrt(v-hat) = sign(g) on step 1): lr 0.1, wd 0.5 gives
// 1 - 0.1 * 0.5 = 0.95 for a decayed tensor without gradient and 1 for one that is not decayed.
// Mutation: decaying every tensor (ignoring the table's flag), or none, fails this.
static void check_decay(gpt_family_t fam, int tied) {
    gpt_config_t c;
    gpt_config_preset(&c, fam, 1, 11, 8);
    c.d_model = 8;
    c.n_head = c.n_kv_head = 2;
    c.d_ff = 16;
    c.tie_embeddings = tied;
    gpt_t m;
    adamw_t o;
    err_t e = {{0}};
    if (gpt_init(&m, &c, &e) != 0 || gpt_alloc_train(&m, 1, 8, &e) != 0 ||
        adamw_init(&o, gpt_num_params(&m), 0.9f, 0.95f, 1e-8f, 0.5f, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    size_t n = gpt_num_params(&m);
    for (size_t i = 0; i < n; i++) m.params[i] = 1.0f, m.grads[i] = 0.0f;
    // A gradient on the first element of every tensor: -2 (moves it up by lr).
    for (int i = 0; i < m.table.n; i++) m.grads[m.table.t[i].offset] = -2.0f;
    adamw_update(&o, &m.table, m.params, m.grads, 0.1f, 1.0f);
    int decayed = 0, kept = 0;
    for (int i = 0; i < m.table.n; i++) {
        const gpt_tensor_t *t = &m.table.t[i];
        int d = expect_decay(t);
        decayed += d, kept += !d;
        float want_rest = d ? 0.95f : 1.0f, want_first = d ? 1.0f + 0.1f - 0.05f : 1.1f;
        CHECK_MSG(fabsf(m.params[t->offset] - want_first) < 1e-6f, "%s %s[0]: %.9g, expected %.9g",
                  gpt_family_name(fam), t->name, m.params[t->offset], want_first);
        if (t->numel > 1)
            CHECK_MSG(fabsf(m.params[t->offset + t->numel - 1] - want_rest) < 1e-6f, "%s %s: %.9g, expected %.9g (%s)",
                      gpt_family_name(fam), t->name, m.params[t->offset + t->numel - 1], want_rest,
                      d ? "weight decay" : "no weight decay");
    }
    CHECK(decayed > 0 && kept > 0);
    CHECK(o.t == 1);
    adamw_free(&o);
    gpt_free(&m);
}

TEST(optim_adamw_weight_decay) {
    check_decay(GPT_LLAMA, 0);
    check_decay(GPT_LLAMA, 1);
    check_decay(GPT_GPT2, 1);
}

// ---- a short training run -------------------------------------------------------------------

// Each sequence repeats a random 2-token pattern "a b a b ...", drawn afresh per sequence
// (16 tokens).  The current token alone says nothing about the next one (loss ln 16 ~ 2.77 for
// any model without attention), but attending to the token before it gives it exactly: a
// model whose forward, backward (attention included) and optimizer work drives the loss on the
// predictable positions to ~0.  Observed after 150 steps (seeds 1-4): llama 0.003-0.004, gpt2
// 0.004-0.008; the bound 0.05 leaves an order of magnitude of margin, and a broken gradient
// or update (e.g. a flipped sign in adamw_step, a missing attention backward) stays > 1.
enum { TR_V = 16, TR_T = 32, TR_B = 8 };

static void make_batch(rng_t *r, int32_t *tok, int32_t *tgt) {
    for (int b = 0; b < TR_B; b++) {
        int pat[2] = {(int)rng_below(r, TR_V), (int)rng_below(r, TR_V)};
        for (int t = 0; t <= TR_T; t++) {
            int v = pat[t % 2];
            if (t < TR_T) tok[b * TR_T + t] = v;
            if (t > 0) tgt[b * TR_T + t - 1] = v;
        }
    }
}

static void train_pattern(gpt_family_t fam, double bound) {
    // One thread: the model is so small that a team of threads only waits on itself (and,
    // on a busy machine, on the other processes), which made this test 20x slower.
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    gpt_config_t c;
    gpt_config_preset(&c, fam, 1, TR_V, TR_T);
    c.d_model = 32;
    c.n_head = c.n_kv_head = 2;
    c.d_ff = fam == GPT_GPT2 ? 128 : 64;
    gpt_t m;
    adamw_t o;
    err_t e = {{0}};
    if (gpt_init(&m, &c, &e) != 0 || gpt_alloc_train(&m, TR_B, TR_T, &e) != 0 ||
        adamw_init(&o, gpt_num_params(&m), 0.9f, 0.95f, 1e-8f, 0.0f, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        omp_set_num_threads(threads);
        return;
    }
    rng_t r;
    rng_seed(&r, 1);
    gpt_init_weights(&m, &r);
    // The first target (position 0 predicts b from a) is a coin toss: weight it 0.
    static float w[TR_B * TR_T];
    for (int i = 0; i < TR_B * TR_T; i++) w[i] = i % TR_T == 0 ? 0.0f : 1.0f / (TR_B * (TR_T - 1));
    static int32_t tok[TR_B * TR_T], tgt[TR_B * TR_T];
    const int steps = 150;
    lr_schedule_t sched = {.kind = LR_COSINE, .lr = 1e-2f, .min_lr = 1e-3f, .warmup = 20, .total = steps};
    double first = 0;
    for (int s = 0; s < steps; s++) {
        make_batch(&r, tok, tgt);
        gpt_zero_grad(&m);
        double loss = gpt_forward(&m, tok, tgt, w, TR_B, TR_T);
        gpt_backward(&m);
        if (s == 0) first = loss;
        double norm = grad_norm(m.grads, gpt_num_params(&m));
        if (!isfinite(loss) || !isfinite(norm)) {
            test_fail(__FILE__, __LINE__, "%s: step %d loss %g norm %g", gpt_family_name(fam), s, loss, norm);
            break;
        }
        adamw_update(&o, &m.table, m.params, m.grads, lr_at(&sched, s), clip_scale(norm, 1.0f));
    }
    // Held-out sequences (fresh patterns).
    make_batch(&r, tok, tgt);
    double held = gpt_forward(&m, tok, tgt, w, TR_B, TR_T);
    CHECK_MSG(first > 2.0, "%s: initial loss %.4f, expected about ln 16 = 2.77", gpt_family_name(fam), first);
    CHECK_MSG(held < bound, "%s: loss %.4f on held-out sequences after %d steps, expected < %g",
              gpt_family_name(fam), held, steps, bound);
    adamw_free(&o);
    gpt_free(&m);
    omp_set_num_threads(threads);
}

TEST(train_learns_pattern_llama) { train_pattern(GPT_LLAMA, 0.05); }
TEST(train_learns_pattern_gpt2) { train_pattern(GPT_GPT2, 0.05); }

// ---- checkpoints ----------------------------------------------------------------------------

static int small_model(gpt_t *m, gpt_family_t fam, int tied, int gqa, uint64_t seed) {
    gpt_config_t c;
    gpt_config_preset(&c, fam, 2, 37, 12);
    c.d_model = 16;
    c.n_head = 4;
    c.n_kv_head = gqa ? 2 : 4;
    c.d_ff = 24;
    c.tie_embeddings = tied;
    err_t e = {{0}};
    if (gpt_init(m, &c, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return -1;
    }
    rng_t r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < m->table.total; i++) m->params[i] = rng_normal(&r);  // every bit pattern counts
    return 0;
}

// Mutation: saving through a lossy format (e.g. %g text or bf16), dropping a metadata key, or
// loading tensors into the wrong offsets fails this.
static void check_model_round_trip(gpt_family_t fam, int tied, int gqa) {
    gpt_t m, m2;
    if (small_model(&m, fam, tied, gqa, 3) != 0) return;
    m.params[5] = -0.0f;
    m.params[6] = 1e-38f;  // subnormal-adjacent values survive too
    ckpt_meta_t meta = {.tok_hash = 0xfedcba9876543210ULL, .step = 1234567, .has_loss = 1, .loss = 2.71828182};
    snprintf(meta.tokenizer, sizeof meta.tokenizer, "byte");
    const char *path = test_path(fam == GPT_GPT2 ? "rt_gpt2.safetensors"
                                : tied          ? "rt_llama.safetensors"
                                                : "rt_llama_untied.safetensors");
    err_t e = {{0}};
    if (ckpt_save_model(path, &m, &meta, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        gpt_free(&m);
        return;
    }
    ckpt_meta_t got;
    if (ckpt_load_model(path, &m2, &got, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        gpt_free(&m);
        return;
    }
    CHECK_MSG(gpt_config_equal(&m.cfg, &m2.cfg), "%s: config changed in the round trip", gpt_family_name(fam));
    CHECK(m2.cfg.family == fam && m2.cfg.n_kv_head == m.cfg.n_kv_head && m2.cfg.tie_embeddings == tied);
    CHECK(m2.table.total == m.table.total);
    if (m2.table.total == m.table.total)
        CHECK_MSG(memcmp(m.params, m2.params, m.table.total * sizeof(float)) == 0, "%s: weights not bit-exact",
                  gpt_family_name(fam));
    CHECK(strcmp(got.tokenizer, "byte") == 0);
    CHECK(got.tok_hash == meta.tok_hash);
    CHECK(got.step == 1234567);
    CHECK(got.has_loss == 1);
    CHECK_NEAR(got.loss, meta.loss, 1e-8);
    gpt_free(&m2);
    // Mapped: the parameters are the file's data section itself.
    if (ckpt_map_model(path, &m2, &got, &e) == 0) {
        CHECK(m2.file != NULL && (const void *)m2.params == (const void *)m2.file->data);
        CHECK(memcmp(m.params, m2.params, m.table.total * sizeof(float)) == 0 && got.step == 1234567);
        CHECK(m2.w.lm_head == (tied ? m2.w.embed : m2.params + gpt_table_find(&m2.table, P_LM_HEAD, -1)->offset));
        gpt_free(&m2);
    } else test_fail(__FILE__, __LINE__, "%s", e.msg);
    // Without a loss.
    meta.has_loss = 0;
    CHECK(ckpt_save_model(path, &m, &meta, &e) == 0);
    if (ckpt_load_model(path, &m2, &got, &e) == 0) {
        CHECK(got.has_loss == 0);
        gpt_free(&m2);
    } else test_fail(__FILE__, __LINE__, "%s", e.msg);
    gpt_free(&m);
}

TEST(ckpt_model_round_trip) {
    check_model_round_trip(GPT_LLAMA, 1, 0);
    check_model_round_trip(GPT_LLAMA, 0, 1);
    check_model_round_trip(GPT_GPT2, 1, 0);
}

// Mutation: not saving or not restoring any one field (moments, adamw t, step, tokens, loader
// RNG / shard / position / epoch) fails this.
TEST(ckpt_state_round_trip) {
    adamw_t o, o2;
    err_t e = {{0}};
    const size_t n = 1001;
    if (adamw_init(&o, n, 0.9f, 0.95f, 1e-8f, 0.1f, &e) != 0 || adamw_init(&o2, n, 0.9f, 0.95f, 1e-8f, 0.1f, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    rng_t r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++) o.m[i] = rng_normal(&r), o.v[i] = rng_uniform(&r) * 1e-3f;
    o.t = 4321;
    train_state_t s = {.step = 4000, .tokens = 123456789012LL}, s2;
    rng_seed(&s.loader.rng, 99);
    for (int i = 0; i < 5; i++) rng_u64(&s.loader.rng);
    s.loader.rng.s[3] = 0xffffffffffffffffULL;  // all 64 bits of each word
    s.loader.shard = 3;
    s.loader.pos = 987654;
    s.loader.epoch = 2;
    const char *path = test_path("state.st");
    CHECK_MSG(ckpt_save_state(path, &o, &s, &e) == 0, "%s", e.msg);
    if (ckpt_load_state(path, &o2, &s2, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
    } else {
        CHECK(memcmp(o.m, o2.m, n * sizeof(float)) == 0);
        CHECK(memcmp(o.v, o2.v, n * sizeof(float)) == 0);
        CHECK(o2.t == 4321);
        CHECK(s2.step == 4000 && s2.tokens == 123456789012LL);
        CHECK(memcmp(&s.loader.rng, &s2.loader.rng, sizeof(rng_t)) == 0);
        CHECK(s2.loader.shard == 3 && s2.loader.pos == 987654 && s2.loader.epoch == 2);
    }
    // A state made for a model of another size is refused.
    adamw_t o3;
    if (adamw_init(&o3, n + 1, 0.9f, 0.95f, 1e-8f, 0.1f, &e) == 0) {
        CHECK(ckpt_load_state(path, &o3, &s2, &e) != 0 && strstr(e.msg, "adamw.m"));
        adamw_free(&o3);
    }
    adamw_free(&o);
    adamw_free(&o2);
}

// Writes the model's tensors as a safetensors file with its config, leaving out row `drop`,
// giving row `reshape` another shape of the same size, or adding an unknown tensor, and
// expects ckpt_load_model to fail with a message naming `want` and the file.
static void expect_load_fail(int line, const char *name, int drop, int reshape, int extra, const char *want) {
    gpt_t m;
    if (small_model(&m, GPT_LLAMA, 0, 0, 5) != 0) return;
    const gpt_table_t *tab = &m.table;
    st_entry_t ents[64];
    int n = 0;
    static float extra_data[16];
    for (int i = 0; i < tab->n && n < 60; i++) {
        const gpt_tensor_t *t = &tab->t[i];
        if (i == drop) continue;
        ents[n] = (st_entry_t){.name = t->name, .dtype = ST_F32, .ndim = t->ndim, .data = m.params + t->offset};
        ents[n].shape[0] = t->shape[0];
        ents[n].shape[1] = t->shape[1];
        if (i == reshape) {  // same number of elements, other shape
            ents[n].ndim = 2;
            ents[n].shape[0] = t->shape[1] ? t->shape[1] : 1;
            ents[n].shape[1] = t->shape[0];
        }
        n++;
    }
    if (extra) ents[n++] = (st_entry_t){.name = "model.layers.0.mystery.weight", .dtype = ST_F32, .ndim = 1,
                                        .shape = {16}, .data = extra_data};
    char *cfg = gpt_config_to_json(&m.cfg);
    const char *kv[] = {"format", "pt", "manabi.config", cfg};
    const char *path = test_path(name);
    err_t e = {{0}};
    if (st_write(path, ents, n, kv, 2, &e) != 0) test_fail(__FILE__, line, "%s", e.msg);
    free(cfg);
    gpt_free(&m);
    gpt_t m2;
    ckpt_meta_t meta;
    memset(&e, 0, sizeof e);
    if (ckpt_load_model(path, &m2, &meta, &e) == 0) {
        test_fail(__FILE__, line, "%s: a damaged checkpoint loaded", name);
        gpt_free(&m2);
        return;
    }
    if (!strstr(e.msg, want)) test_fail(__FILE__, line, "message does not name '%s': %s", want, e.msg);
    if (!strstr(e.msg, path)) test_fail(__FILE__, line, "message does not name the file: %s", e.msg);
    memset(&e, 0, sizeof e);
    if (ckpt_map_model(path, &m2, &meta, &e) == 0) {
        test_fail(__FILE__, line, "%s: a damaged checkpoint was mapped", name);
        gpt_free(&m2);
    } else if (!strstr(e.msg, want)) {
        test_fail(__FILE__, line, "mapping: message does not name '%s': %s", want, e.msg);
    }
}

// A file in another order (as other writers may lay it out) is read into memory instead of
// mapped, with the same weights.
TEST(ckpt_map_falls_back_to_reading) {
    gpt_t m, m2;
    if (small_model(&m, GPT_LLAMA, 0, 1, 8) != 0) return;
    const gpt_table_t *tab = &m.table;
    st_entry_t ents[64];
    for (int i = 0; i < tab->n; i++) {
        const gpt_tensor_t *t = &tab->t[tab->n - 1 - i];
        ents[i] = (st_entry_t){.name = t->name, .dtype = ST_F32, .ndim = t->ndim, .data = m.params + t->offset};
        ents[i].shape[0] = t->shape[0];
        ents[i].shape[1] = t->shape[1];
    }
    char *cfg = gpt_config_to_json(&m.cfg);
    const char *kv[] = {"format", "pt", "manabi.config", cfg};
    const char *path = test_path("reversed.safetensors");
    err_t e = {{0}};
    CHECK(st_write(path, ents, tab->n, kv, 2, &e) == 0);
    free(cfg);
    ckpt_meta_t meta;
    if (ckpt_map_model(path, &m2, &meta, &e) == 0) {
        CHECK(m2.file == NULL && memcmp(m.params, m2.params, tab->total * sizeof(float)) == 0);
        gpt_free(&m2);
    } else test_fail(__FILE__, __LINE__, "%s", e.msg);
    gpt_free(&m);
}

// Mutation: skipping tensors absent from the file, not comparing shapes, or not looking for
// unknown tensors fails the matching case.
TEST(ckpt_load_rejects_mismatch) {
    gpt_t m;
    if (small_model(&m, GPT_LLAMA, 0, 0, 5) != 0) return;
    int k = (int)(gpt_table_find(&m.table, P_K_W, 0) - m.table.t);        // (16, 16)
    int gate = (int)(gpt_table_find(&m.table, P_FC_W, 1) - m.table.t);    // (24, 16): reshaped (16, 24)
    int norm = (int)(gpt_table_find(&m.table, P_NORM2_W, 0) - m.table.t); // (16): reshaped (1, 16)
    int head = (int)(gpt_table_find(&m.table, P_LM_HEAD, -1) - m.table.t);
    char k_name[96], gate_name[96], norm_name[96];
    snprintf(k_name, sizeof k_name, "%s", m.table.t[k].name);
    snprintf(gate_name, sizeof gate_name, "%s", m.table.t[gate].name);
    snprintf(norm_name, sizeof norm_name, "%s", m.table.t[norm].name);
    gpt_free(&m);
    expect_load_fail(__LINE__, "missing.safetensors", k, -1, 0, k_name);
    expect_load_fail(__LINE__, "missing_head.safetensors", head, -1, 0, "lm_head.weight");
    expect_load_fail(__LINE__, "shape.safetensors", -1, gate, 0, gate_name);
    expect_load_fail(__LINE__, "shape1d.safetensors", -1, norm, 0, norm_name);
    expect_load_fail(__LINE__, "extra.safetensors", -1, -1, 1, "model.layers.0.mystery.weight");
}

// A file without manabi's config is not a checkpoint; the message says so.
TEST(ckpt_load_rejects_foreign_file) {
    const char *path = test_path("foreign.safetensors");
    float x[2] = {1, 2};
    st_entry_t ent = {.name = "w", .dtype = ST_F32, .ndim = 1, .shape = {2}, .data = x};
    err_t e = {{0}};
    CHECK(st_write(path, &ent, 1, NULL, 0, &e) == 0);
    gpt_t m;
    ckpt_meta_t meta;
    CHECK(ckpt_load_model(path, &m, &meta, &e) != 0);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "manabi.config"), "message: %s", e.msg);
}
