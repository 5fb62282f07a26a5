// config: the shape of a decoder-only transformer, in two families.
//
//   GPT-2 style: LayerNorm, learned positions, GELU (tanh) MLP, biases, tied embeddings.
//   Llama style: RMSNorm, RoPE (rotate-half), SwiGLU MLP, no biases, grouped-query
//                attention, tied or untied embeddings.  The default for new models.
//
// Letters used for sizes throughout manabi:
//   V vocabulary, T context (sequence) length, L layers, NH query heads, NKV key/value heads,
//   HS head size (= C / NH), C model width, F MLP width, B batch size.
//
// A config serialises to the JSON that Hugging Face's config.json holds for
// LlamaForCausalLM / GPT2LMHeadModel, so a checkpoint's metadata reads the same everywhere.
#ifndef MANABI_MODEL_CONFIG_H
#define MANABI_MODEL_CONFIG_H

#include <stddef.h>

#include "core/err.h"

typedef enum { GPT_LLAMA = 0, GPT_GPT2 = 1 } gpt_family_t;

typedef struct gpt_config {
    gpt_family_t family;
    int vocab_size;      // V
    int context;         // T, the longest sequence the model is built for
    int n_layer;         // L
    int n_head;          // NH
    int n_kv_head;       // NKV (== NH for GPT-2)
    int d_model;         // C
    int d_ff;            // F
    int tie_embeddings;  // lm_head shares model.embed_tokens / transformer.wte (always for GPT-2)
    float rope_theta;    // Llama only
    float norm_eps;
} gpt_config_t;

// Fills c from one knob, depth = L: C = 64 L, NH = NKV = L (head size 64),
// F = 4 C (GPT-2) or 8C/3 rounded up to a multiple of 64 (Llama).
void gpt_config_preset(gpt_config_t *c, gpt_family_t family, int depth, int vocab_size, int context);
// Checks every field for consistency; the message names the field.
int gpt_config_validate(const gpt_config_t *c, err_t *e);
int gpt_config_head_size(const gpt_config_t *c);
// Parses "llama" / "gpt2".
int gpt_family_parse(const char *s, gpt_family_t *out, err_t *e);
const char *gpt_family_name(gpt_family_t f);

// Hugging Face config.json text.  Returns a malloc'ed string the caller frees, or NULL.
char *gpt_config_to_json(const gpt_config_t *c);
int gpt_config_from_json(gpt_config_t *c, const char *json, err_t *e);
// Non-zero when a and b describe the same architecture.
int gpt_config_equal(const gpt_config_t *a, const gpt_config_t *b);
// The name of the first field in which a and b differ, or NULL when they are equal.
const char *gpt_config_difference(const gpt_config_t *a, const gpt_config_t *b);

#endif
