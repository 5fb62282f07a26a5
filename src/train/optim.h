// optim: AdamW over the parameter arena, global-norm clipping, learning-rate schedules.
//
// Weight decay follows the parameter table: matrices decay, norms, biases and embeddings do
// not (the table's `decay` flag), as in GPT-2 / nanoGPT practice.
#ifndef MANABI_TRAIN_OPTIM_H
#define MANABI_TRAIN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/params.h"

typedef struct adamw {
    float beta1, beta2, eps, weight_decay;
    float *m, *v;       // first and second moments, one per parameter
    size_t n;
    int64_t t;          // steps taken
} adamw_t;

int adamw_init(adamw_t *o, size_t n, float beta1, float beta2, float eps, float weight_decay, err_t *e);
void adamw_free(adamw_t *o);
// One step over the whole arena with learning rate lr; gradients are multiplied by gscale.
// The table decides weight decay and skips frozen tensors; tab NULL: the arena is one tensor
// of o->n values that all decay (LoRA's).
void adamw_update(adamw_t *o, const gpt_table_t *tab, float *params, const float *grads, float lr, float gscale);

// The global L2 norm of the gradients (thread-count independent).
double grad_norm(const float *grads, size_t n);
// The factor that clips a gradient of norm `norm` to max_norm (1 when max_norm <= 0 or smaller).
float clip_scale(double norm, float max_norm);

typedef enum { LR_COSINE, LR_LINEAR, LR_WSD, LR_CONSTANT } lr_kind_t;

typedef struct lr_schedule {
    lr_kind_t kind;
    float lr, min_lr;   // peak and floor
    int64_t warmup;     // linear warmup steps from 0
    int64_t total;      // total steps
    float decay_frac;   // WSD: the final fraction of steps that decays linearly to min_lr
} lr_schedule_t;

int lr_kind_parse(const char *s, lr_kind_t *out, err_t *e);
// Learning rate at step (0-based).
float lr_at(const lr_schedule_t *s, int64_t step);

#endif
