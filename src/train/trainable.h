// trainable: what a fine-tuning loop updates: new LoRA adapters on the frozen model, or the
// model's own weights (less any it froze).  One place for the set-up SFT, DPO and the reward
// model share.
//
//     trainable_t tr;
//     if (trainable_init(&tr, &m, use_lora ? &lora_cfg : NULL, &rng, &e) != 0) ...
//     if (gpt_alloc_train(&m, B, T, &e) != 0 || trainable_grads(&tr, &m, &e) != 0) ...
//     ... adamw_update(&opt, tr.tab, tr.params, tr.grads, lr, scale) ...
//     trainable_free(&tr, &m);   // drops the adapters unless the caller took them (tr.lora = NULL)
#ifndef MANABI_TRAIN_TRAINABLE_H
#define MANABI_TRAIN_TRAINABLE_H

#include <stddef.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/gpt.h"
#include "model/lora.h"

typedef struct trainable {
    lora_t *lora;              // the adapters (m->lora), or NULL
    float *params, *grads;     // (n) the values the optimizer updates and their gradients
    size_t n;
    const gpt_table_t *tab;    // m's table (decay, frozen tensors), or NULL for the adapters
    size_t count;              // parameters actually trained (frozen tensors left out)
} trainable_t;

// With lora_cfg: adapters initialised from rng, set as m->lora, and m frozen whole; without:
// m's weights (freeze with gpt_freeze first).  Call before gpt_alloc_train.
int trainable_init(trainable_t *t, gpt_t *m, const lora_config_t *lora_cfg, rng_t *rng, err_t *e);
// After gpt_alloc_train: points grads at the gradients; -1 when nothing is trainable.
int trainable_grads(trainable_t *t, gpt_t *m, err_t *e);
// Frees adapters still held (and unsets m->lora); safe twice.
void trainable_free(trainable_t *t, gpt_t *m);

#endif
