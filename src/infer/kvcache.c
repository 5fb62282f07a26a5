#include "infer/kvcache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

void kv_free(kv_cache_t *c) {
    if (!c) return;
    float **bufs[] = {&c->k, &c->v, &c->x, &c->xmid, &c->norm, &c->rstd, &c->mean, &c->qkv,
                      &c->atty, &c->fch, &c->fca, &c->scores, &c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(*bufs[i]);
    memset(c, 0, sizeof *c);
}

int kv_init(kv_cache_t *c, const gpt_t *m, int T, int chunk, err_t *e) {
    memset(c, 0, sizeof *c);
    gpt_dims_t d = gpt_dims(&m->cfg);
    if (T < 1 || T > m->cfg.context)
        return err_set(e, "KV cache of %d positions: give 1 to the model's context (%d)", T, m->cfg.context);
    if (chunk < 1 || chunk > T) return err_set(e, "KV cache chunk %d: give 1 to %d", chunk, T);
    size_t kv = (size_t)d.L * T * d.NKV * d.HS, n = (size_t)chunk;
    c->T = T, c->chunk = chunk, c->V = d.V;
    c->k = malloc(kv * sizeof(float)), c->v = malloc(kv * sizeof(float));
    c->x = malloc(n * d.C * sizeof(float)), c->xmid = malloc(n * d.C * sizeof(float));
    c->norm = malloc(n * d.C * sizeof(float)), c->atty = malloc(n * d.C * sizeof(float));
    c->rstd = malloc(n * sizeof(float)), c->mean = malloc(n * sizeof(float));
    c->qkv = malloc(n * d.QKV * sizeof(float));
    c->fch = malloc(n * d.FH * sizeof(float)), c->fca = malloc(n * d.F * sizeof(float));
    c->scores = malloc(n * d.NH * (size_t)T * sizeof(float));
    c->logits = malloc(n * d.V * sizeof(float));
    if (!c->k || !c->v || !c->x || !c->xmid || !c->norm || !c->atty || !c->rstd || !c->mean || !c->qkv || !c->fch ||
        !c->fca || !c->scores || !c->logits) {
        kv_free(c);
        return err_set(e, "out of memory for a KV cache of %d positions (%.1f MiB of keys and values)", T,
                       2.0 * kv * sizeof(float) / (1 << 20));
    }
    return 0;
}

void kv_reset(kv_cache_t *c) { c->pos = 0; }

const float *kv_logits(const kv_cache_t *c, int i) { return c->logits + (size_t)i * c->V; }

// Attention of the n new rows (positions pos .. pos + n - 1, queries in qkv) over the cached
// keys and values of positions 0 .. their own, into atty (n, C).
static void attend(kv_cache_t *c, const gpt_dims_t *d, int l, int n) {
    int G = d->NH / d->NKV, T = c->T;
    float scale = 1.0f / sqrtf((float)d->HS);
    const float *K = c->k + (size_t)l * T * d->NKV * d->HS, *Vv = c->v + (size_t)l * T * d->NKV * d->HS;
#pragma omp parallel for schedule(static)
    for (int ih = 0; ih < n * d->NH; ih++) {
        int i = ih / d->NH, h = ih % d->NH, kvh = h / G, last = c->pos + i;  // attends to 0..last
        const float *q = c->qkv + (size_t)i * d->QKV + (size_t)h * d->HS;
        float *s = c->scores + (size_t)ih * T, mx = -INFINITY;
        for (int t = 0; t <= last; t++) {
            const float *k = K + ((size_t)t * d->NKV + kvh) * d->HS;
            float dot = 0;
            for (int j = 0; j < d->HS; j++) dot += q[j] * k[j];
            s[t] = dot * scale;
            mx = s[t] > mx ? s[t] : mx;
        }
        float sum = 0;
        for (int t = 0; t <= last; t++) sum += s[t] = expf(s[t] - mx);
        float *o = c->atty + (size_t)i * d->C + (size_t)h * d->HS;
        memset(o, 0, (size_t)d->HS * sizeof(float));
        for (int t = 0; t <= last; t++) {
            const float *v = Vv + ((size_t)t * d->NKV + kvh) * d->HS;
            float p = s[t] / sum;
            for (int j = 0; j < d->HS; j++) o[j] += p * v[j];
        }
    }
}

int kv_forward(kv_cache_t *c, const gpt_t *m, const int32_t *tokens, int n, int all_logits, err_t *e) {
    gpt_dims_t d = gpt_dims(&m->cfg);
    if (n < 1 || n > c->chunk) return err_set(e, "kv_forward: %d new positions, give 1 to %d", n, c->chunk);
    if (c->pos + n > c->T)
        return err_set(e, "the context is full: %d positions cached, %d more do not fit in %d", c->pos, n, c->T);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= d.V)
            return err_set(e, "token id %d at position %d is not in the model's vocabulary (0..%d)", tokens[i],
                           c->pos + i, d.V - 1);
    float eps = m->cfg.norm_eps;
    size_t kvrow = (size_t)d.NKV * d.HS;
    embed_forward(c->x, tokens, m->w.embed, d.llama ? NULL : m->w.pos + (size_t)c->pos * d.C, 1, n, d.C);
    for (int l = 0; l < d.L; l++) {
        const gpt_layer_t *w = &m->w.layers[l];
        if (d.llama) rmsnorm_forward(c->norm, c->rstd, c->x, w->norm1_w, n, d.C, eps);
        else layernorm_forward(c->norm, c->mean, c->rstd, c->x, w->norm1_w, w->norm1_b, n, d.C, eps);
        matmul_forward(c->qkv, c->norm, w->qkv_w, w->qkv_b, n, d.C, d.QKV, d.layout);
        if (d.llama) {
            size_t off = (size_t)c->pos * (d.HS / 2);
            rope_forward(c->qkv, m->rope_cos + off, m->rope_sin + off, 1, n, d.NH, d.NKV, d.HS);
        }
        for (int i = 0; i < n; i++) {  // append this layer's keys and values
            size_t at = ((size_t)l * c->T + c->pos + i) * kvrow;
            const float *row = c->qkv + (size_t)i * d.QKV;
            memcpy(c->k + at, row + (size_t)d.NH * d.HS, kvrow * sizeof(float));
            memcpy(c->v + at, row + (size_t)(d.NH + d.NKV) * d.HS, kvrow * sizeof(float));
        }
        attend(c, &d, l, n);
        matmul_forward(c->xmid, c->atty, w->atto_w, w->atto_b, n, d.C, d.C, d.layout);
        residual_forward(c->xmid, c->xmid, c->x, (size_t)n * d.C);
        if (d.llama) rmsnorm_forward(c->norm, c->rstd, c->xmid, w->norm2_w, n, d.C, eps);
        else layernorm_forward(c->norm, c->mean, c->rstd, c->xmid, w->norm2_w, w->norm2_b, n, d.C, eps);
        matmul_forward(c->fch, c->norm, w->fc_w, w->fc_b, n, d.C, d.FH, d.layout);
        if (d.llama) swiglu_forward(c->fca, c->fch, n, d.F);
        else gelu_forward(c->fca, c->fch, (size_t)n * d.F);
        matmul_forward(c->x, c->fca, w->proj_w, w->proj_b, n, d.F, d.C, d.layout);
        residual_forward(c->x, c->x, c->xmid, (size_t)n * d.C);
    }
    int first = all_logits ? 0 : n - 1, rows = n - first;  // the rows whose logits are wanted
    const float *xf = c->x + (size_t)first * d.C;
    if (d.llama) rmsnorm_forward(c->norm, c->rstd, xf, m->w.normf_w, rows, d.C, eps);
    else layernorm_forward(c->norm, c->mean, c->rstd, xf, m->w.normf_w, m->w.normf_b, rows, d.C, eps);
    matmul_forward(c->logits, c->norm, m->w.lm_head, NULL, rows, d.C, d.V, W_OUT_IN);
    c->n_logits = rows;
    c->pos += n;
    return 0;
}
