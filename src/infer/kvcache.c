#include "infer/kvcache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/lora.h"

void kv_free(kv_cache_t *c) {
    if (!c) return;
    float **bufs[] = {&c->k,   &c->v,    &c->x,   &c->xmid,   &c->norm, &c->rstd, &c->mean, &c->qkv,
                      &c->atty, &c->fch, &c->fca, &c->scores, &c->wbuf, &c->lora_scratch, &c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(*bufs[i]);
    free(c->pos);
    free(c->row_slot);
    free(c->row_pos);
    memset(c, 0, sizeof *c);
}

int kv_init(kv_cache_t *c, const gpt_t *m, int S, int T, int chunk, err_t *e) {
    memset(c, 0, sizeof *c);
    gpt_dims_t d = gpt_dims(&m->cfg);
    if (S < 1) return err_set(e, "KV cache of %d sequences: give at least 1", S);
    if (T < 1 || T > m->cfg.context)
        return err_set(e, "KV cache of %d positions: give 1 to the model's context (%d)", T, m->cfg.context);
    if (chunk < 1) return err_set(e, "KV cache chunk %d: give at least 1", chunk);
    size_t kv = (size_t)S * d.L * T * d.NKV * d.HS, n = (size_t)chunk;
    c->S = S, c->T = T, c->chunk = chunk, c->V = d.V, c->L = d.L, c->kvrow = d.NKV * d.HS;
    c->pos = calloc((size_t)S, sizeof(int));
    c->row_slot = malloc(n * sizeof(int)), c->row_pos = malloc(n * sizeof(int));
    c->k = malloc(kv * sizeof(float)), c->v = malloc(kv * sizeof(float));
    c->x = malloc(n * d.C * sizeof(float)), c->xmid = malloc(n * d.C * sizeof(float));
    c->norm = malloc(n * d.C * sizeof(float)), c->atty = malloc(n * d.C * sizeof(float));
    c->rstd = malloc(n * sizeof(float)), c->mean = malloc(n * sizeof(float));
    c->qkv = malloc(n * d.QKV * sizeof(float));
    c->fch = malloc(n * d.FH * sizeof(float)), c->fca = malloc(n * d.F * sizeof(float));
    c->scores = malloc(n * d.NH * (size_t)T * sizeof(float));
    c->logits = malloc(n * d.V * sizeof(float));
    int ok = c->pos && c->row_slot && c->row_pos && c->k && c->v && c->x && c->xmid && c->norm && c->atty &&
             c->rstd && c->mean && c->qkv && c->fch && c->fca && c->scores && c->logits;
    if (ok && m->params_bf16) {
        size_t w = BF16_SCRATCH;
        int dims[] = {d.C, d.FH, d.F, d.QKV, d.V};
        for (size_t i = 0; i < sizeof dims / sizeof *dims; i++) w = (size_t)dims[i] > w ? (size_t)dims[i] : w;
        ok = (c->wbuf = malloc(w * sizeof(float))) != NULL;
    }
    if (ok && m->lora) ok = (c->lora_scratch = malloc(lora_scratch_floats(m->lora, chunk) * sizeof(float))) != NULL;
    if (!ok) {
        kv_free(c);
        return err_set(e, "out of memory for a KV cache of %d x %d positions (%.1f MiB of keys and values)", S, T,
                       2.0 * kv * sizeof(float) / (1 << 20));
    }
    return 0;
}

void kv_keep(kv_cache_t *c, int slot, int n) {
    if (n >= 0 && n < c->pos[slot]) c->pos[slot] = n;
}

// Keys (or values) of slot s, layer l, from position t on: (NKV, HS) floats per position.
static float *kv_at(const kv_cache_t *c, float *base, int s, int l, int t) {
    return base + (((size_t)s * c->L + l) * c->T + t) * c->kvrow;
}

void kv_copy(kv_cache_t *c, int dst, int src) {
    if (dst == src) return;
    size_t bytes = (size_t)c->pos[src] * c->kvrow * sizeof(float);
    for (int l = 0; l < c->L; l++) {
        memcpy(kv_at(c, c->k, dst, l, 0), kv_at(c, c->k, src, l, 0), bytes);
        memcpy(kv_at(c, c->v, dst, l, 0), kv_at(c, c->v, src, l, 0), bytes);
    }
    c->pos[dst] = c->pos[src];
}

const float *kv_logits(const kv_cache_t *c, int i) { return c->logits + (size_t)i * c->V; }

// Attention of the n new rows (row i at row_pos[i] of slot row_slot[i], queries in qkv) over
// the cached keys and values of positions 0 .. their own, into atty (n, C).  Rows of one slot
// (a prefill) go a head at a time through the products of BLAS; rows of different slots (a
// decode step) one (row, head) at a time.
static void attend(kv_cache_t *c, const gpt_dims_t *d, int l, int n) {
    int G = d->NH / d->NKV, one_slot = 1;
    for (int i = 1; i < n; i++) one_slot &= c->row_slot[i] == c->row_slot[0] && c->row_pos[i] == c->row_pos[0] + i;
    size_t work = (size_t)n * d->NH * (c->row_pos[n - 1] + 1) * d->HS;
    if (one_slot && n >= 4) {
        float *K = kv_at(c, c->k, c->row_slot[0], l, 0), *V = kv_at(c, c->v, c->row_slot[0], l, 0);
#pragma omp parallel for schedule(static)
        for (int h = 0; h < d->NH; h++)
            attention_cached_forward(c->atty + (size_t)h * d->HS, d->C, c->scores + (size_t)h * n * c->T,
                                     c->qkv + (size_t)h * d->HS, d->QKV, K + (size_t)(h / G) * d->HS,
                                     V + (size_t)(h / G) * d->HS, c->kvrow, c->row_pos, n, d->HS);
        return;
    }
#pragma omp parallel for schedule(static) if (work >= PARALLEL_MIN)
    for (int ih = 0; ih < n * d->NH; ih++) {
        int i = ih / d->NH, h = ih % d->NH, kvh = h / G;
        const float *K = kv_at(c, c->k, c->row_slot[i], l, 0), *V = kv_at(c, c->v, c->row_slot[i], l, 0);
        attention_cached_forward(c->atty + (size_t)i * d->C + (size_t)h * d->HS, d->C, c->scores + (size_t)ih * c->T,
                                 c->qkv + (size_t)i * d->QKV + (size_t)h * d->HS, d->QKV, K + (size_t)kvh * d->HS,
                                 V + (size_t)kvh * d->HS, c->kvrow, &c->row_pos[i], 1, d->HS);
    }
}

// out (n, OC) = inp (n, IC) . W + b, from the bf16 copy of W when the model has one, plus
// the model's adapters on that weight (role of layer l), if any.
static void linear(const kv_cache_t *c, const gpt_t *m, int l, gpt_role_t role, float *out, const float *inp,
                   const float *w, const float *b, int n, int IC, int OC, wlayout_t layout) {
    if (m->params_bf16)
        matmul_forward_bf16(out, inp, m->params_bf16 + (w - m->params), b, n, IC, OC, layout, c->wbuf);
    else
        matmul_forward(out, inp, w, b, n, IC, OC, layout);
    if (m->lora) lora_forward(m->lora, l, role, out, inp, n, OC, c->lora_scratch);
}

// The forward pass of n rows placed by row_slot / row_pos (already checked); logits of rows
// first .. n - 1.
static void run_rows(kv_cache_t *c, const gpt_t *m, const int32_t *tokens, int n, int first) {
    gpt_dims_t d = gpt_dims(&m->cfg);
    float eps = m->cfg.norm_eps;
    for (int i = 0; i < n; i++)
        embed_forward(c->x + (size_t)i * d.C, tokens + i, m->w.embed,
                      d.llama ? NULL : m->w.pos + (size_t)c->row_pos[i] * d.C, 1, 1, d.C);
    for (int l = 0; l < d.L; l++) {
        const gpt_layer_t *w = &m->w.layers[l];
        if (d.llama) rmsnorm_forward(c->norm, c->rstd, c->x, w->norm1_w, n, d.C, eps);
        else layernorm_forward(c->norm, c->mean, c->rstd, c->x, w->norm1_w, w->norm1_b, n, d.C, eps);
        linear(c, m, l, P_QKV_W, c->qkv, c->norm, w->qkv_w, w->qkv_b, n, d.C, d.QKV, d.layout);
        for (int i = 0; i < n; i++) {
            float *row = c->qkv + (size_t)i * d.QKV;
            if (d.llama) {
                size_t off = (size_t)c->row_pos[i] * (d.HS / 2);
                rope_forward(row, m->rope_cos + off, m->rope_sin + off, 1, 1, d.NH, d.NKV, d.HS);
            }
            size_t bytes = (size_t)c->kvrow * sizeof(float);  // append this layer's key and value
            memcpy(kv_at(c, c->k, c->row_slot[i], l, c->row_pos[i]), row + (size_t)d.NH * d.HS, bytes);
            memcpy(kv_at(c, c->v, c->row_slot[i], l, c->row_pos[i]), row + (size_t)(d.NH + d.NKV) * d.HS, bytes);
        }
        attend(c, &d, l, n);
        linear(c, m, l, P_ATTO_W, c->xmid, c->atty, w->atto_w, w->atto_b, n, d.C, d.C, d.layout);
        residual_forward(c->xmid, c->xmid, c->x, (size_t)n * d.C);
        if (d.llama) rmsnorm_forward(c->norm, c->rstd, c->xmid, w->norm2_w, n, d.C, eps);
        else layernorm_forward(c->norm, c->mean, c->rstd, c->xmid, w->norm2_w, w->norm2_b, n, d.C, eps);
        linear(c, m, l, P_FC_W, c->fch, c->norm, w->fc_w, w->fc_b, n, d.C, d.FH, d.layout);
        if (d.llama) swiglu_forward(c->fca, c->fch, n, d.F);
        else gelu_forward(c->fca, c->fch, (size_t)n * d.F);
        linear(c, m, l, P_PROJ_W, c->x, c->fca, w->proj_w, w->proj_b, n, d.F, d.C, d.layout);
        residual_forward(c->x, c->x, c->xmid, (size_t)n * d.C);
    }
    int rows = n - first;
    const float *xf = c->x + (size_t)first * d.C;
    if (d.llama) rmsnorm_forward(c->norm, c->rstd, xf, m->w.normf_w, rows, d.C, eps);
    else layernorm_forward(c->norm, c->mean, c->rstd, xf, m->w.normf_w, m->w.normf_b, rows, d.C, eps);
    linear(c, m, -1, P_LM_HEAD, c->logits, c->norm, m->w.lm_head, NULL, rows, d.C, d.V, W_OUT_IN);
    c->n_logits = rows;
}

static int check_tokens(const kv_cache_t *c, const int32_t *tokens, int n, err_t *e) {
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->V)
            return err_set(e, "token id %d is not in the model's vocabulary (0..%d)", tokens[i], c->V - 1);
    return 0;
}

static int check_model(const kv_cache_t *c, const gpt_t *m, err_t *e) {
    if (m->cfg.vocab_size != c->V || m->cfg.n_layer != c->L)
        return err_set(e, "this KV cache was made for another model");
    if (m->params_bf16 && !c->wbuf)
        return err_set(e, "the model's weights were converted to bf16 after this KV cache was made; make it again");
    if (m->lora && !c->lora_scratch)
        return err_set(e, "the model was given adapters after this KV cache was made; make it again");
    return 0;
}

int kv_forward(kv_cache_t *c, const gpt_t *m, int slot, const int32_t *tokens, int n, int all_logits, err_t *e) {
    if (check_model(c, m, e) != 0) return -1;
    if (slot < 0 || slot >= c->S) return err_set(e, "KV cache slot %d: give 0 to %d", slot, c->S - 1);
    if (n < 1 || n > c->chunk) return err_set(e, "kv_forward: %d new positions, give 1 to %d", n, c->chunk);
    if (c->pos[slot] + n > c->T)
        return err_set(e, "the context is full: %d positions cached, %d more do not fit in %d", c->pos[slot], n,
                       c->T);
    if (check_tokens(c, tokens, n, e) != 0) return -1;
    for (int i = 0; i < n; i++) c->row_slot[i] = slot, c->row_pos[i] = c->pos[slot] + i;
    run_rows(c, m, tokens, n, all_logits ? 0 : n - 1);
    c->pos[slot] += n;
    return 0;
}

int kv_step(kv_cache_t *c, const gpt_t *m, const int *slots, const int32_t *tokens, int n, err_t *e) {
    if (check_model(c, m, e) != 0) return -1;
    if (n < 1 || n > c->chunk) return err_set(e, "kv_step: %d sequences, give 1 to %d", n, c->chunk);
    for (int i = 0; i < n; i++) {
        int s = slots[i];
        if (s < 0 || s >= c->S) return err_set(e, "KV cache slot %d: give 0 to %d", s, c->S - 1);
        for (int j = 0; j < i; j++)
            if (slots[j] == s) return err_set(e, "kv_step: slot %d is given twice", s);
        if (c->pos[s] >= c->T)
            return err_set(e, "the context is full: slot %d holds %d positions of %d", s, c->pos[s], c->T);
    }
    if (check_tokens(c, tokens, n, e) != 0) return -1;
    for (int i = 0; i < n; i++) c->row_slot[i] = slots[i], c->row_pos[i] = c->pos[slots[i]];
    run_rows(c, m, tokens, n, 0);
    for (int i = 0; i < n; i++) c->pos[slots[i]]++;
    return 0;
}
