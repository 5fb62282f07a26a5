// gpt: a decoder-only transformer (GPT-2 or Llama family) with hand-written forward and
// backward passes over float32 parameters held in one arena.
//
//     gpt_t m;
//     if (gpt_init(&m, &cfg, &e) != 0) ...          // parameters, from the generated table
//     gpt_init_weights(&m, &rng);                   // or gpt_load (train/checkpoint.h)
//     if (gpt_alloc_train(&m, B, T, &e) != 0) ...   // gradients and activations for B x T
//     gpt_zero_grad(&m);
//     double loss = gpt_forward(&m, tokens, targets, NULL, B, T);
//     gpt_backward(&m);                             // grads += d loss / d params
//     gpt_free(&m);
//
// The model = config + parameter table + parameters (+ gradients + activations).
#ifndef MANABI_MODEL_GPT_H
#define MANABI_MODEL_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "model/config.h"
#include "model/params.h"

// Pointers into an arena (parameters or gradients) for one block.  Shapes follow params.h;
// GPT-2 weights are (in, out), Llama weights (out, in).  Bias pointers are NULL for Llama.
// Sizes derived from the config, named as in the shape comments: V vocabulary, C width, L
// layers, NH query heads, NKV key/value heads, HS head size, F MLP width, QKV = (NH + 2 NKV) HS,
// FH = 2F (Llama: gate|up) or F; the weight layout and the family.
typedef struct gpt_dims {
    int V, C, L, NH, NKV, HS, F, QKV, FH;
    wlayout_t layout;
    int llama;
} gpt_dims_t;
gpt_dims_t gpt_dims(const gpt_config_t *c);

typedef struct gpt_layer {
    float *norm1_w, *norm1_b;  // (C)
    float *qkv_w, *qkv_b;      // Llama q|k|v rows ((NH + 2 NKV) HS, C); GPT-2 (C, 3C), (3C)
    float *atto_w, *atto_b;    // (C, C)
    float *norm2_w, *norm2_b;  // (C)
    float *fc_w, *fc_b;        // Llama gate|up rows (2F, C); GPT-2 (C, F), (F)
    float *proj_w, *proj_b;    // Llama (C, F); GPT-2 (F, C), (C)
} gpt_layer_t;

typedef struct gpt_weights {
    float *embed;             // (V, C)
    float *pos;               // (T, C), GPT-2 only
    gpt_layer_t *layers;      // (L)
    float *normf_w, *normf_b; // (C)
    float *lm_head;           // (V, C); == embed when tied
} gpt_weights_t;

// Activations saved by the forward pass for the backward pass, for up to B x T tokens.
typedef struct gpt_acts {
    int B, T;                 // capacity
    float *x;                 // (L+1, B, T, C) residual stream entering each block; x[L] leaves the last
    float *xmid;              // (L, B, T, C) residual after attention
    float *norm1, *norm1_mean, *norm1_rstd;  // (L, B, T, C), (L, B, T), (L, B, T)
    float *qkv;               // (L, B, T, QKV) after RoPE
    float *att;               // (L, B, NH, T, T) attention probabilities
    float *atty;              // (L, B, T, C) attention output before o_proj
    float *norm2, *norm2_mean, *norm2_rstd;
    float *fch;               // (L, B, T, FH) MLP hidden before the activation; FH = 2F (Llama) or F
    float *fca;               // (L, B, T, F) after the activation
    float *normf, *normf_mean, *normf_rstd;  // (B, T, C), (B, T), (B, T)
    float *logits;            // (B, T, V); holds dlogits after backward
    float *lse, *losses;      // (B, T)
    float *dloss;             // (B, T) weight of each position's loss
    int32_t *tokens, *targets;// (B, T) copies of the last forward's inputs
    // backward scratch, one block at a time
    float *dres, *dnorm, *datty, *dqkv, *dfch, *dfca, *att_scratch;
} gpt_acts_t;

typedef struct gpt {
    gpt_config_t cfg;
    gpt_table_t table;
    float *params;            // the arena: table.total floats
    float *grads;             // same layout; NULL until gpt_alloc_train
    gpt_weights_t w, g;       // views of params and grads
    gpt_acts_t acts;
    float *rope_cos, *rope_sin;  // (T, HS/2), Llama only
    bf16_t *params_bf16;      // (table.total) bf16 copy of params for inference (gpt_to_bf16), or NULL
    struct lora *lora;        // adapters added to the linear layers (model/lora.h), or NULL; not owned.
                              // Set it before gpt_alloc_train / gpt_alloc_acts / kv_init.
    float *lora_scratch;      // (lora_scratch_floats(lora, B T)) for the adapters' products
    struct st_file *file;     // the mapped checkpoint params point into (ckpt_map_model), or NULL
    int B, T;                 // shape of the last forward
    int has_targets;
} gpt_t;

// Allocates the parameters (zeroed) for a valid config.  gpt_free releases everything.
int gpt_init(gpt_t *m, const gpt_config_t *cfg, err_t *e);
void gpt_free(gpt_t *m);
// A model whose parameters are params, inside the mapped file (safetensors.h), which it owns
// from then on (gpt_free closes it, also when this fails).  Read only: for inference.
int gpt_init_mapped(gpt_t *m, const gpt_config_t *cfg, struct st_file *file, const float *params, err_t *e);
// Initialises weights: normal(0, 0.02), the residual output projections scaled by
// 1/sqrt(2L) (GPT-2 paper), norms to 1, biases to 0.
void gpt_init_weights(gpt_t *m, rng_t *rng);
// Allocates gradients (zeroed) and activations for batches up to B x T (T <= context).
int gpt_alloc_train(gpt_t *m, int B, int T, err_t *e);
// Freezes (no gradient, no AdamW update) the token and position embeddings (embeddings; the
// output head too when it is tied), the blocks of layers [0, layers), or every tensor (all).
// Call before gpt_alloc_train, whose gradient views are then NULL for frozen tensors; with
// everything frozen no gradient arena exists (LoRA trains its own parameters).
void gpt_freeze(gpt_t *m, int embeddings, int layers, int all);
// Allocates activations only (inference).
int gpt_alloc_acts(gpt_t *m, int B, int T, err_t *e);
size_t gpt_num_params(const gpt_t *m);
// Makes params_bf16, the weights rounded to bfloat16, which inference's matrix products then
// read (half the bytes per token).  Norms, biases and embedding rows stay float32.  For a
// mapped checkpoint the float32 pages are given back to the kernel (resident memory falls to
// the bf16 copy; pages still read come back on demand).
int gpt_to_bf16(gpt_t *m, err_t *e);

// Forward pass over tokens (B, T).  With targets (B, T), returns the loss
//   sum_i w_i * -log p(targets_i), w_i = weights[i] (or 1 / (B T) when weights is NULL),
// and keeps what backward needs.  Without targets returns 0 and leaves logits (B, T, V).
// Token ids must be in [0, V): the caller validates them.
double gpt_forward(gpt_t *m, const int32_t *tokens, const int32_t *targets, const float *weights, int B, int T);
// Backward pass of the last forward (which had targets): grads += d loss / d params.
void gpt_backward(gpt_t *m);
// The backward pass of the last forward from a gradient on the final norm's output instead of
// the logits (a head of its own on the hidden states, such as a reward model's): dnormf (B, T,
// C); grads += d loss / d params (the output head's untouched).
void gpt_backward_hidden(gpt_t *m, const float *dnormf);
// Both: the weighted cross-entropy's gradient plus dnormf (B, T, C) on the hidden states (a
// value head beside the language model's, as PPO has); dnormf NULL is gpt_backward.
void gpt_backward_plus(gpt_t *m, const float *dnormf);
// The final norm's output of the last forward, (B, T, C): the hidden states the head reads.
const float *gpt_hidden(const gpt_t *m);
void gpt_zero_grad(gpt_t *m);
// Logits of the last forward, (B, T, V).
const float *gpt_logits(const gpt_t *m);
// Floating-point operations of one training step (forward + backward) per token, counting
// matrix products (2 per multiply-add) including attention; used for MFU.
double gpt_flops_per_token(const gpt_config_t *c, int T);

#endif
