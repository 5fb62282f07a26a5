// checkpoint: model weights and training state on disk.
//
// Weights: one safetensors file, float32, one entry per row of the parameter table (Hugging
// Face names and shapes), with __metadata__:
//   format            "pt" (what Hugging Face loaders expect)
//   manabi.config     the config.json text (see model/config.h)
//   manabi.tokenizer  the tokenizer: "byte" or its file's path;  manabi.tokenizer_hash  its hash
//   manabi.step       optimizer steps taken; manabi.loss  the last training loss ("" if none)
// Training state (a second safetensors file, "<weights>.state"): the AdamW moments as two
// flat float32 tensors `adamw.m`, `adamw.v` in arena order, and in __metadata__ the step,
// AdamW's step count, and the data loader's position and RNG, so a resumed run continues
// bit for bit.  Both files are written atomically.
#ifndef MANABI_TRAIN_CHECKPOINT_H
#define MANABI_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "core/err.h"
#include "data/loader.h"
#include "model/gpt.h"
#include "train/optim.h"

typedef struct ckpt_meta {
    char tokenizer[1024];  // how to load it: "byte", or the tokenizer file's absolute path
    uint64_t tok_hash;
    int64_t step;
    int has_loss;
    double loss;
} ckpt_meta_t;

int ckpt_save_model(const char *path, const gpt_t *m, const ckpt_meta_t *meta, err_t *e);
// Reads the config and weights of path into m (which it initialises; gpt_free it).
int ckpt_load_model(const char *path, gpt_t *m, ckpt_meta_t *meta, err_t *e);
// The same for inference: a file laid out as manabi writes it (float32 tensors in table order)
// is memory-mapped and the parameters point into it (m->file set; read only; pages are read
// when first used and shared between processes); any other file is read as ckpt_load_model.
int ckpt_map_model(const char *path, gpt_t *m, ckpt_meta_t *meta, err_t *e);

typedef struct train_state {
    int64_t step;
    int64_t tokens;          // training tokens consumed
    loader_state_t loader;
} train_state_t;

int ckpt_save_state(const char *path, const adamw_t *o, const train_state_t *s, err_t *e);
// Restores moments into o (already sized for the model) and fills s.
int ckpt_load_state(const char *path, adamw_t *o, train_state_t *s, err_t *e);

#endif
