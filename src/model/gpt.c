#include "model/gpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "kernels/kernels.h"
#include "model/lora.h"
#include "model/safetensors.h"

gpt_dims_t gpt_dims(const gpt_config_t *c) {
    gpt_dims_t d;
    d.V = c->vocab_size;
    d.C = c->d_model;
    d.L = c->n_layer;
    d.NH = c->n_head;
    d.NKV = c->n_kv_head;
    d.HS = c->d_model / c->n_head;
    d.F = c->d_ff;
    d.QKV = (d.NH + 2 * d.NKV) * d.HS;
    d.llama = c->family == GPT_LLAMA;
    d.FH = d.llama ? 2 * d.F : d.F;
    d.layout = d.llama ? W_OUT_IN : W_IN_OUT;
    return d;
}

// Points the views of one arena (parameters or gradients) at their tensors.  For gradients
// (grads set) a frozen tensor, or every tensor when base is NULL, gets a NULL view.
static int bind(gpt_weights_t *v, const gpt_table_t *tab, float *base, int L, int tied, int grads, err_t *e) {
    v->layers = calloc((size_t)L, sizeof *v->layers);
    if (!v->layers) return err_set(e, "out of memory");
    for (int i = 0; i < tab->n; i++) {
        const gpt_tensor_t *t = &tab->t[i];
        float *p = !base || (grads && t->frozen) ? NULL : base + t->offset;
        gpt_layer_t *ly = t->layer >= 0 ? &v->layers[t->layer] : NULL;
        switch (t->role) {
        case P_EMBED: v->embed = p; break;
        case P_POS: v->pos = p; break;
        case P_NORM1_W: ly->norm1_w = p; break;
        case P_NORM1_B: ly->norm1_b = p; break;
        case P_QKV_W: ly->qkv_w = p; break;
        case P_QKV_B: ly->qkv_b = p; break;
        case P_ATTO_W: ly->atto_w = p; break;
        case P_ATTO_B: ly->atto_b = p; break;
        case P_NORM2_W: ly->norm2_w = p; break;
        case P_NORM2_B: ly->norm2_b = p; break;
        case P_FC_W: ly->fc_w = p; break;
        case P_FC_B: ly->fc_b = p; break;
        case P_PROJ_W: ly->proj_w = p; break;
        case P_PROJ_B: ly->proj_b = p; break;
        case P_NORMF_W: v->normf_w = p; break;
        case P_NORMF_B: v->normf_b = p; break;
        case P_LM_HEAD: v->lm_head = p; break;
        case P_K_W: case P_V_W: case P_UP_W: break;  // contiguous with q_proj / gate_proj
        }
    }
    if (tied) v->lm_head = v->embed;
    return 0;
}

static void free_acts(gpt_acts_t *a) {
    // Every activation buffer lives in one allocation that starts at a->x.
    mem_free(a->x);
    memset(a, 0, sizeof *a);
}

// Everything but the parameter arena, which the caller has set (m->params, m->file).
static int init_with(gpt_t *m, const gpt_config_t *cfg, err_t *e) {
    if (bind(&m->w, &m->table, m->params, cfg->n_layer, cfg->tie_embeddings, 0, e) != 0) {
        gpt_free(m);
        return -1;
    }
    if (cfg->family == GPT_LLAMA) {
        int HS = gpt_config_head_size(cfg);
        size_t n = (size_t)cfg->context * (HS / 2);
        m->rope_cos = malloc(n * sizeof(float));
        m->rope_sin = malloc(n * sizeof(float));
        if (!m->rope_cos || !m->rope_sin) {
            gpt_free(m);
            return err_set(e, "out of memory");
        }
        rope_table(m->rope_cos, m->rope_sin, cfg->context, HS, cfg->rope_theta);
    }
    return 0;
}

int gpt_init(gpt_t *m, const gpt_config_t *cfg, err_t *e) {
    memset(m, 0, sizeof *m);
    if (gpt_config_validate(cfg, e) != 0) return -1;
    m->cfg = *cfg;
    if (gpt_table_build(&m->table, cfg, e) != 0) return -1;
    m->params = mem_alloc(m->table.total * sizeof(float));
    if (!m->params) {
        gpt_free(m);
        return err_set(e, "out of memory allocating %zu parameters", m->table.total);
    }
    return init_with(m, cfg, e);
}

int gpt_init_mapped(gpt_t *m, const gpt_config_t *cfg, struct st_file *file, const float *params, err_t *e) {
    memset(m, 0, sizeof *m);
    m->file = file;  // owned from here on, whatever happens
    if (gpt_config_validate(cfg, e) != 0 || gpt_table_build(&m->table, cfg, e) != 0) {
        gpt_free(m);
        return -1;
    }
    m->cfg = *cfg;
    m->params = (float *)params;  // read only: the mapping is PROT_READ
    return init_with(m, cfg, e);
}

void gpt_free(gpt_t *m) {
    if (!m) return;
    if (m->file) {
        st_close(m->file);
        free(m->file);
    } else {
        mem_free(m->params);
    }
    mem_free(m->params_bf16);
    mem_free(m->lora_scratch);
    mem_free(m->grads);
    free(m->w.layers);
    free(m->g.layers);
    free(m->rope_cos);
    free(m->rope_sin);
    free_acts(&m->acts);
    gpt_table_free(&m->table);
    memset(m, 0, sizeof *m);
}

size_t gpt_num_params(const gpt_t *m) { return m->table.total; }

int gpt_to_bf16(gpt_t *m, err_t *e) {
    if (m->params_bf16) return 0;
    size_t n = m->table.total;
    m->params_bf16 = mem_alloc(n * sizeof(bf16_t));
    if (!m->params_bf16) return err_set(e, "out of memory for %zu bf16 weights", n);
    enum { BLK = 1 << 16 };
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i += BLK) bf16_from_f32(m->params_bf16 + i, m->params + i, n - i < BLK ? n - i : BLK);
    if (m->file) st_release(m->file);
    return 0;
}

void gpt_init_weights(gpt_t *m, rng_t *rng) {
    float resid_std = 0.02f / sqrtf(2.0f * m->cfg.n_layer);
    for (int i = 0; i < m->table.n; i++) {
        const gpt_tensor_t *t = &m->table.t[i];
        float *p = m->params + t->offset;
        float std = 0.02f;
        switch (t->role) {
        case P_NORM1_W: case P_NORM2_W: case P_NORMF_W:
            for (size_t k = 0; k < t->numel; k++) p[k] = 1.0f;
            continue;
        case P_NORM1_B: case P_NORM2_B: case P_NORMF_B: case P_QKV_B: case P_ATTO_B: case P_FC_B: case P_PROJ_B:
            memset(p, 0, t->numel * sizeof(float));
            continue;
        case P_ATTO_W: case P_PROJ_W: std = resid_std; break;
        default: break;
        }
        for (size_t k = 0; k < t->numel; k++) p[k] = std * rng_normal(rng);
    }
}

// Carves the activation arena.  With `count` set, only sums the sizes.
static size_t carve(gpt_acts_t *a, const gpt_dims_t *d, int B, int T, float *base, int with_grads) {
    size_t off = 0, N = (size_t)B * T, L = (size_t)d->L;
#define TAKE(field, n)                                     \
    do {                                                   \
        if (base) a->field = (void *)(base + off);         \
        off += ((size_t)(n) + 15) / 16 * 16;               \
    } while (0)
    TAKE(x, (L + 1) * N * d->C);
    TAKE(xmid, L * N * d->C);
    TAKE(norm1, L * N * d->C);
    TAKE(norm1_mean, L * N);
    TAKE(norm1_rstd, L * N);
    TAKE(qkv, L * N * d->QKV);
    TAKE(att, L * B * d->NH * (size_t)T * T);
    TAKE(atty, L * N * d->C);
    TAKE(norm2, L * N * d->C);
    TAKE(norm2_mean, L * N);
    TAKE(norm2_rstd, L * N);
    TAKE(fch, L * N * d->FH);
    TAKE(fca, L * N * d->F);
    TAKE(normf, N * d->C);
    TAKE(normf_mean, N);
    TAKE(normf_rstd, N);
    TAKE(logits, N * d->V);
    TAKE(lse, N);
    TAKE(losses, N);
    TAKE(dloss, N);
    TAKE(tokens, N);  // int32 and float have the same size
    TAKE(targets, N);
    if (with_grads) {
        TAKE(dres, N * d->C);
        TAKE(dnorm, N * d->C);
        TAKE(datty, N * d->C);
        TAKE(dqkv, N * d->QKV);
        TAKE(dfch, N * d->FH);
        TAKE(dfca, N * d->F);
        TAKE(att_scratch, attention_scratch_floats(T));
    }
#undef TAKE
    return off;
}

static int alloc_acts(gpt_t *m, int B, int T, int with_grads, err_t *e) {
    if (B < 1 || T < 1) return err_set(e, "batch size and sequence length must be positive (got B=%d T=%d)", B, T);
    if (T > m->cfg.context)
        return err_set(e, "sequence length %d is longer than the model's context %d", T, m->cfg.context);
    free_acts(&m->acts);
    gpt_dims_t d = gpt_dims(&m->cfg);
    size_t n = carve(&m->acts, &d, B, T, NULL, with_grads);
    float *base = mem_alloc(n * sizeof(float));
    if (!base) return err_set(e, "out of memory allocating %.1f MiB of activations", n * 4.0 / (1 << 20));
    carve(&m->acts, &d, B, T, base, with_grads);
    m->acts.B = B;
    m->acts.T = T;
    mem_free(m->lora_scratch);
    m->lora_scratch = NULL;
    if (m->lora && !(m->lora_scratch = mem_alloc(lora_scratch_floats(m->lora, B * T) * sizeof(float))))
        return err_set(e, "out of memory for the LoRA adapters' scratch");
    return 0;
}

int gpt_alloc_acts(gpt_t *m, int B, int T, err_t *e) { return alloc_acts(m, B, T, 0, e); }

int gpt_alloc_train(gpt_t *m, int B, int T, err_t *e) {
    if (!m->g.layers) {
        int trainable = 0;
        for (int i = 0; i < m->table.n; i++) trainable |= !m->table.t[i].frozen;
        if (trainable && !(m->grads = mem_alloc(m->table.total * sizeof(float))))
            return err_set(e, "out of memory allocating gradients");
        if (bind(&m->g, &m->table, m->grads, m->cfg.n_layer, m->cfg.tie_embeddings, 1, e) != 0) return -1;
    }
    return alloc_acts(m, B, T, 1, e);
}

void gpt_freeze(gpt_t *m, int embeddings, int layers, int all) {
    for (int i = 0; i < m->table.n; i++) {
        gpt_tensor_t *t = &m->table.t[i];
        int emb = t->role == P_EMBED || t->role == P_POS || (t->role == P_LM_HEAD && m->cfg.tie_embeddings);
        if (all || (embeddings && emb) || (t->layer >= 0 && t->layer < layers)) t->frozen = 1;
    }
}

void gpt_zero_grad(gpt_t *m) {
    if (m->grads) memset(m->grads, 0, m->table.total * sizeof(float));
}

const float *gpt_logits(const gpt_t *m) { return m->acts.logits; }
const float *gpt_hidden(const gpt_t *m) { return m->acts.normf; }

// Per-layer strides of the activation arena use its capacity, not the current B x T.
#define LAYER(ptr, l, per) ((ptr) + (size_t)(l) * (per))

// The adapters' part of a linear layer (model/lora.h), when the model has adapters.
#define ADAPT(layer, role, out, inp, OC) \
    if (m->lora) lora_forward(m->lora, layer, role, out, inp, (int)N, OC, m->lora_scratch)
#define ADAPT_BACK(layer, role, dinp, dout, inp, OC) \
    if (m->lora) lora_backward(m->lora, layer, role, dinp, dout, inp, (int)N, OC, m->lora_scratch)

double gpt_forward(gpt_t *m, const int32_t *tokens, const int32_t *targets, const float *weights, int B, int T) {
    gpt_dims_t d = gpt_dims(&m->cfg);
    gpt_acts_t *a = &m->acts;
    size_t cap = (size_t)a->B * a->T, N = (size_t)B * T;
    size_t capC = cap * d.C, capQKV = cap * d.QKV, capFH = cap * d.FH, capF = cap * d.F;
    size_t capAtt = (size_t)a->B * d.NH * a->T * a->T;
    float eps = m->cfg.norm_eps;
    m->B = B;
    m->T = T;
    memcpy(a->tokens, tokens, N * sizeof(int32_t));

    embed_forward(a->x, tokens, m->w.embed, m->w.pos, B, T, d.C);
    for (int l = 0; l < d.L; l++) {
        const gpt_layer_t *w = &m->w.layers[l];
        float *x = LAYER(a->x, l, capC), *xmid = LAYER(a->xmid, l, capC), *xout = LAYER(a->x, l + 1, capC);
        float *n1 = LAYER(a->norm1, l, capC), *n2 = LAYER(a->norm2, l, capC);
        float *qkv = LAYER(a->qkv, l, capQKV), *att = LAYER(a->att, l, capAtt), *atty = LAYER(a->atty, l, capC);
        float *fch = LAYER(a->fch, l, capFH), *fca = LAYER(a->fca, l, capF);
        if (d.llama) rmsnorm_forward(n1, LAYER(a->norm1_rstd, l, cap), x, w->norm1_w, N, d.C, eps);
        else layernorm_forward(n1, LAYER(a->norm1_mean, l, cap), LAYER(a->norm1_rstd, l, cap), x, w->norm1_w,
                               w->norm1_b, N, d.C, eps);
        matmul_forward(qkv, n1, w->qkv_w, w->qkv_b, N, d.C, d.QKV, d.layout);
        ADAPT(l, P_QKV_W, qkv, n1, d.QKV);
        if (d.llama) rope_forward(qkv, m->rope_cos, m->rope_sin, B, T, d.NH, d.NKV, d.HS);
        attention_forward(atty, att, qkv, B, T, d.NH, d.NKV, d.HS);
        matmul_forward(xmid, atty, w->atto_w, w->atto_b, N, d.C, d.C, d.layout);
        ADAPT(l, P_ATTO_W, xmid, atty, d.C);
        residual_forward(xmid, xmid, x, N * d.C);
        if (d.llama) rmsnorm_forward(n2, LAYER(a->norm2_rstd, l, cap), xmid, w->norm2_w, N, d.C, eps);
        else layernorm_forward(n2, LAYER(a->norm2_mean, l, cap), LAYER(a->norm2_rstd, l, cap), xmid, w->norm2_w,
                               w->norm2_b, N, d.C, eps);
        matmul_forward(fch, n2, w->fc_w, w->fc_b, N, d.C, d.FH, d.layout);
        ADAPT(l, P_FC_W, fch, n2, d.FH);
        if (d.llama) swiglu_forward(fca, fch, N, d.F);
        else gelu_forward(fca, fch, N * d.F);
        matmul_forward(xout, fca, w->proj_w, w->proj_b, N, d.F, d.C, d.layout);
        ADAPT(l, P_PROJ_W, xout, fca, d.C);
        residual_forward(xout, xout, xmid, N * d.C);
    }
    float *xL = LAYER(a->x, d.L, capC);
    if (d.llama) rmsnorm_forward(a->normf, a->normf_rstd, xL, m->w.normf_w, N, d.C, eps);
    else layernorm_forward(a->normf, a->normf_mean, a->normf_rstd, xL, m->w.normf_w, m->w.normf_b, N, d.C, eps);
    matmul_forward(a->logits, a->normf, m->w.lm_head, NULL, N, d.C, d.V, W_OUT_IN);

    m->has_targets = targets != NULL;
    if (!targets) return 0.0;
    memcpy(a->targets, targets, N * sizeof(int32_t));
    xent_forward(a->losses, a->lse, a->logits, targets, N, d.V);
    double loss = 0;
    for (size_t i = 0; i < N; i++) {
        a->dloss[i] = weights ? weights[i] : 1.0f / (float)N;
        loss += (double)a->dloss[i] * a->losses[i];
    }
    return loss;
}

static void trunk_backward(gpt_t *m);

void gpt_backward(gpt_t *m) { gpt_backward_plus(m, NULL); }

void gpt_backward_plus(gpt_t *m, const float *dnormf) {
    gpt_dims_t d = gpt_dims(&m->cfg);
    gpt_acts_t *a = &m->acts;
    size_t N = (size_t)m->B * m->T;
    xent_backward(a->logits, a->lse, a->targets, a->dloss, N, d.V);  // logits now hold dlogits
    matmul_backward(a->dnorm, m->g.lm_head, NULL, a->logits, a->normf, m->w.lm_head, N, d.C, d.V, W_OUT_IN);
    if (dnormf) residual_forward(a->dnorm, a->dnorm, dnormf, N * d.C);
    trunk_backward(m);
}

void gpt_backward_hidden(gpt_t *m, const float *dnormf) {
    memcpy(m->acts.dnorm, dnormf, (size_t)m->B * m->T * m->cfg.d_model * sizeof(float));
    trunk_backward(m);
}

// From a->dnorm = d loss / d (the final norm's output) down to the embeddings.
static void trunk_backward(gpt_t *m) {
    gpt_dims_t d = gpt_dims(&m->cfg);
    gpt_acts_t *a = &m->acts;
    int B = m->B, T = m->T;
    size_t cap = (size_t)a->B * a->T, N = (size_t)B * T;
    size_t capC = cap * d.C, capQKV = cap * d.QKV, capFH = cap * d.FH, capF = cap * d.F;
    size_t capAtt = (size_t)a->B * d.NH * a->T * a->T;
    float *dres = a->dres;  // d loss / d residual stream, carried down through the blocks
    memset(dres, 0, N * d.C * sizeof(float));
    float *xL = LAYER(a->x, d.L, capC);
    if (d.llama) rmsnorm_backward(dres, m->g.normf_w, a->dnorm, xL, m->w.normf_w, a->normf_rstd, N, d.C);
    else layernorm_backward(dres, m->g.normf_w, m->g.normf_b, a->dnorm, xL, m->w.normf_w, a->normf_mean,
                            a->normf_rstd, N, d.C);

    for (int l = d.L - 1; l >= 0; l--) {
        const gpt_layer_t *w = &m->w.layers[l];
        gpt_layer_t *g = &m->g.layers[l];
        float *x = LAYER(a->x, l, capC), *xmid = LAYER(a->xmid, l, capC);
        float *n1 = LAYER(a->norm1, l, capC), *n2 = LAYER(a->norm2, l, capC);
        float *qkv = LAYER(a->qkv, l, capQKV), *att = LAYER(a->att, l, capAtt), *atty = LAYER(a->atty, l, capC);
        float *fch = LAYER(a->fch, l, capFH), *fca = LAYER(a->fca, l, capF);
        // MLP branch: x_{l+1} = xmid + proj(act(fc(norm2(xmid)))); dres is d x_{l+1}.
        matmul_backward(a->dfca, g->proj_w, g->proj_b, dres, fca, w->proj_w, N, d.F, d.C, d.layout);
        ADAPT_BACK(l, P_PROJ_W, a->dfca, dres, fca, d.C);
        if (d.llama) swiglu_backward(a->dfch, fch, a->dfca, N, d.F);
        else gelu_backward(a->dfch, fch, a->dfca, N * d.F);
        matmul_backward(a->dnorm, g->fc_w, g->fc_b, a->dfch, n2, w->fc_w, N, d.C, d.FH, d.layout);
        ADAPT_BACK(l, P_FC_W, a->dnorm, a->dfch, n2, d.FH);
        if (d.llama) rmsnorm_backward(dres, g->norm2_w, a->dnorm, xmid, w->norm2_w, LAYER(a->norm2_rstd, l, cap), N, d.C);
        else layernorm_backward(dres, g->norm2_w, g->norm2_b, a->dnorm, xmid, w->norm2_w,
                                LAYER(a->norm2_mean, l, cap), LAYER(a->norm2_rstd, l, cap), N, d.C);
        // Attention branch: xmid = x + o_proj(attention(qkv(norm1(x)))); dres is now d xmid.
        matmul_backward(a->datty, g->atto_w, g->atto_b, dres, atty, w->atto_w, N, d.C, d.C, d.layout);
        ADAPT_BACK(l, P_ATTO_W, a->datty, dres, atty, d.C);
        attention_backward(a->dqkv, a->att_scratch, a->datty, att, qkv, B, T, d.NH, d.NKV, d.HS);
        if (d.llama) rope_backward(a->dqkv, m->rope_cos, m->rope_sin, B, T, d.NH, d.NKV, d.HS);
        matmul_backward(a->dnorm, g->qkv_w, g->qkv_b, a->dqkv, n1, w->qkv_w, N, d.C, d.QKV, d.layout);
        ADAPT_BACK(l, P_QKV_W, a->dnorm, a->dqkv, n1, d.QKV);
        if (d.llama) rmsnorm_backward(dres, g->norm1_w, a->dnorm, x, w->norm1_w, LAYER(a->norm1_rstd, l, cap), N, d.C);
        else layernorm_backward(dres, g->norm1_w, g->norm1_b, a->dnorm, x, w->norm1_w,
                                LAYER(a->norm1_mean, l, cap), LAYER(a->norm1_rstd, l, cap), N, d.C);
    }
    embed_backward(m->g.embed, m->g.pos, dres, a->tokens, B, T, d.C);
}

double gpt_flops_per_token(const gpt_config_t *c, int T) {
    gpt_dims_t d = gpt_dims(c);
    double per_layer = (double)d.C * d.QKV + (double)d.C * d.C + (double)d.C * d.FH + (double)d.F * d.C;
    double matmul_params = d.L * per_layer + (double)d.V * d.C;
    // 6 flops per parameter per token (2 forward, 4 backward), plus attention's two T x T
    // products per layer: 2 * 2 * T * C forward, twice that backward (PaLM's 12 L C T).
    return 6.0 * matmul_params + 12.0 * d.L * (double)d.NH * d.HS * T;
}
