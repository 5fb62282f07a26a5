// sft: supervised fine-tuning, the loop that teaches a pre-trained model a task from examples
// (finetune/sftdata.h), all its weights or LoRA adapters (model/lora.h) on a frozen base.
//
//     sft_train_opts_t o;
//     sft_train_defaults(&o);                       // LoRA rank 8 on q and v, 200 steps
//     lora_t *adapter = NULL;
//     if (sft_train(&m, &adapter, &train, &heldout, &o, progress, ctx, &e) != 0) ...
//     lora_save(adapter, &m, "run/adapter.safetensors", "run/adapter_config.json", &e);
//
// One optimizer step: `accum` micro-batches of `batch` rows (padded, one example per row;
// sftdata.h), forward and backward, the loss being the cross-entropy summed over the step's
// trained positions and divided by their count (so every trained token weighs the same
// whatever the micro-batch it is in), then clipping and AdamW on the trainable parameters
// only: the adapters' (LoRA), or the model's minus the frozen ones (full).  Warmup then cosine
// decay to min_lr_frac of lr.  Deterministic for a given seed and thread count.
#ifndef MANABI_FINETUNE_SFT_H
#define MANABI_FINETUNE_SFT_H

#include <stdint.h>

#include "core/err.h"
#include "finetune/sftdata.h"
#include "model/gpt.h"
#include "model/lora.h"

typedef struct sft_train_opts {
    int lora;                 // 1: train adapters on the frozen model; 0: the model itself
    lora_config_t lora_cfg;   // rank 8, alpha 16, dropout 0.05, q and v
    int freeze_embeddings;    // full fine-tuning: keep the embeddings (and a tied head) fixed
    int freeze_layers;        // full fine-tuning: keep the first k blocks fixed
    int batch, accum;         // rows per micro-batch; micro-batches per step
    int steps;                // optimizer steps
    float lr, min_lr_frac, weight_decay, grad_clip;
    int warmup;               // steps of linear warmup
    int eval_every;           // held-out loss every this many steps (0: at the end only)
    uint64_t seed;            // data order and adapter initialisation
    volatile int *stop;       // set asynchronously to end after the current step (may be NULL)
} sft_train_opts_t;

void sft_train_defaults(sft_train_opts_t *o);

// What the loop reports: a step (val_loss < 0), or a held-out evaluation (val_loss >= 0).
typedef struct sft_progress {
    int step, steps;
    double loss;              // the step's training loss per trained token
    double val_loss;          // held-out loss per trained token, or -1
    float lr;
    double grad_norm;
    int64_t trained_tokens;   // trained positions so far
    double tokens_per_s;      // row positions (trained or not) per second in this step
    size_t trainable;         // parameters the optimizer updates
} sft_progress_t;
typedef void (*sft_progress_fn)(const sft_progress_t *p, void *ctx);

// Trains m on train (the held-out set val may be NULL).  With o->lora, makes the adapters
// (*lora_out, the caller frees them with lora_free; m->lora points at them on return) and
// leaves m's weights as they were (m may be memory-mapped); otherwise changes m's weights.
// Returns 0, or -1 with e (empty data, examples longer than the context, a non-finite loss,
// out of memory).
int sft_train(gpt_t *m, lora_t **lora_out, const sft_data_t *train, const sft_data_t *val,
              const sft_train_opts_t *o, sft_progress_fn fn, void *ctx, err_t *e);

// Mean cross-entropy per trained token of m (with m->lora if set) over ds, in padded rows of
// batch.  -1 (and e) on failure.  Allocates m's activations as it needs them.
double sft_eval_loss(gpt_t *m, const sft_data_t *ds, int batch, err_t *e);

#endif
