#include "train/optim.h"

#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "kernels/kernels.h"

int adamw_init(adamw_t *o, size_t n, float beta1, float beta2, float eps, float weight_decay, err_t *e) {
    memset(o, 0, sizeof *o);
    o->m = mem_alloc(n * sizeof(float));
    o->v = mem_alloc(n * sizeof(float));
    if (!o->m || !o->v) {
        adamw_free(o);
        return err_set(e, "out of memory allocating optimizer state for %zu parameters", n);
    }
    o->n = n;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    return 0;
}

void adamw_free(adamw_t *o) {
    if (!o) return;
    mem_free(o->m);
    mem_free(o->v);
    memset(o, 0, sizeof *o);
}

void adamw_update(adamw_t *o, const gpt_table_t *tab, float *params, const float *grads, float lr, float gscale) {
    o->t++;
    float bc1 = 1.0f - powf(o->beta1, (float)o->t), bc2 = 1.0f - powf(o->beta2, (float)o->t);
    if (!tab) {  // one flat tensor (adapters): every value decays
        adamw_step(params, grads, o->m, o->v, o->n, lr, o->beta1, o->beta2, o->eps, o->weight_decay, bc1, bc2, gscale);
        return;
    }
    for (int i = 0; i < tab->n; i++) {
        const gpt_tensor_t *t = &tab->t[i];
        size_t k = t->offset;
        if (t->frozen) continue;
        adamw_step(params + k, grads + k, o->m + k, o->v + k, t->numel, lr, o->beta1, o->beta2, o->eps,
                   t->decay ? o->weight_decay : 0.0f, bc1, bc2, gscale);
    }
}

double grad_norm(const float *grads, size_t n) { return sqrt(sumsq(grads, n)); }

float clip_scale(double norm, float max_norm) {
    if (max_norm <= 0 || !(norm > max_norm)) return 1.0f;
    return (float)(max_norm / (norm + 1e-6));
}

int lr_kind_parse(const char *s, lr_kind_t *out, err_t *e) {
    if (strcmp(s, "cosine") == 0) *out = LR_COSINE;
    else if (strcmp(s, "linear") == 0) *out = LR_LINEAR;
    else if (strcmp(s, "wsd") == 0) *out = LR_WSD;
    else if (strcmp(s, "constant") == 0) *out = LR_CONSTANT;
    else return err_set(e, "--schedule: unknown schedule '%s' (cosine, linear, wsd or constant)", s);
    return 0;
}

float lr_at(const lr_schedule_t *s, int64_t step) {
    if (step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    int64_t span = s->total - s->warmup;
    float p = span > 0 ? (float)(step - s->warmup) / (float)span : 1.0f;  // progress after warmup, 0..1
    if (p > 1) p = 1;
    switch (s->kind) {
    case LR_COSINE: return s->min_lr + 0.5f * (s->lr - s->min_lr) * (1.0f + cosf((float)M_PI * p));
    case LR_LINEAR: return s->lr + (s->min_lr - s->lr) * p;
    case LR_WSD: {
        float start = 1.0f - s->decay_frac;  // stable until here, then linear decay
        if (p <= start || s->decay_frac <= 0) return s->lr;
        return s->lr + (s->min_lr - s->lr) * (p - start) / s->decay_frac;
    }
    case LR_CONSTANT: default: return s->lr;
    }
}
