// params: the table of named parameter tensors, generated from a config in one place.
//
// All parameters live in one contiguous float32 arena; the table says where each named
// tensor sits.  The same table drives initialisation, the optimizer (which tensors get
// weight decay), checkpoints (one safetensors entry per row, Hugging Face names) and, later,
// export and distributed reduction.  Names and shapes are exactly those of Hugging Face's
// LlamaForCausalLM / GPT2LMHeadModel, so a checkpoint maps 1:1 onto the ecosystem:
//
//   Llama:  model.embed_tokens.weight (V, C)
//           model.layers.{i}.input_layernorm.weight (C)
//           model.layers.{i}.self_attn.{q,k,v}_proj.weight (NH HS | NKV HS | NKV HS, C)
//           model.layers.{i}.self_attn.o_proj.weight (C, NH HS)
//           model.layers.{i}.post_attention_layernorm.weight (C)
//           model.layers.{i}.mlp.{gate,up}_proj.weight (F, C), mlp.down_proj.weight (C, F)
//           model.norm.weight (C), lm_head.weight (V, C) unless tied
//   GPT-2:  transformer.wte.weight (V, C), transformer.wpe.weight (T, C)
//           transformer.h.{i}.ln_1.{weight,bias} (C)
//           transformer.h.{i}.attn.c_attn.{weight (C, 3C), bias (3C)}
//           transformer.h.{i}.attn.c_proj.{weight (C, C), bias (C)}
//           transformer.h.{i}.ln_2.{weight,bias} (C)
//           transformer.h.{i}.mlp.c_fc.{weight (C, F), bias (F)}
//           transformer.h.{i}.mlp.c_proj.{weight (F, C), bias (C)}
//           transformer.ln_f.{weight,bias} (C); the head is tied to wte.
//   GPT-2's linear weights are Conv1D, stored (in, out): manabi keeps them in that layout and
//   the matmul kernel reads them transposed (W_IN_OUT), so no copy or transpose is ever made.
//
// Within a Llama layer q, k, v are adjacent in the arena, as are gate and up, so each group
// is computed by one matrix product.
#ifndef MANABI_MODEL_PARAMS_H
#define MANABI_MODEL_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "model/config.h"

typedef enum {
    P_EMBED,     // token embedding
    P_POS,       // learned positions (GPT-2)
    P_NORM1_W, P_NORM1_B,
    P_QKV_W,     // GPT-2 c_attn / Llama q_proj (k_proj, v_proj follow as P_K_W, P_V_W)
    P_K_W, P_V_W,
    P_QKV_B,
    P_ATTO_W, P_ATTO_B,
    P_NORM2_W, P_NORM2_B,
    P_FC_W,      // GPT-2 c_fc / Llama gate_proj (up_proj follows as P_UP_W)
    P_UP_W,
    P_FC_B,
    P_PROJ_W, P_PROJ_B,
    P_NORMF_W, P_NORMF_B,
    P_LM_HEAD,
} gpt_role_t;

typedef struct gpt_tensor {
    char name[96];
    gpt_role_t role;
    int layer;          // -1 outside the blocks
    int ndim;
    int64_t shape[2];
    size_t offset;      // in floats, from the start of the arena
    size_t numel;
    int decay;          // AdamW applies weight decay (matrices other than embeddings)
    int frozen;         // no gradient, no update (gpt_freeze); 0 as built
} gpt_tensor_t;

typedef struct gpt_table {
    gpt_tensor_t *t;
    int n;
    size_t total;       // floats in the arena
} gpt_table_t;

// Builds the table for c (assumed valid).  The caller frees with gpt_table_free.
int gpt_table_build(gpt_table_t *tab, const gpt_config_t *c, err_t *e);
void gpt_table_free(gpt_table_t *tab);
// The row for (role, layer), or NULL.
const gpt_tensor_t *gpt_table_find(const gpt_table_t *tab, gpt_role_t role, int layer);
const gpt_tensor_t *gpt_table_find_name(const gpt_table_t *tab, const char *name);

#endif
