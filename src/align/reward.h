// reward: a reward model learns to score answers as people prefer them (Ouyang et al. 2022): the
// language model's trunk, and a scalar head on the hidden state of an answer's last token (its
// <|end|>), trained on preference pairs with the Bradley-Terry loss
//
//     loss = -log sigmoid(s(chosen) - s(rejected) - margin)
//
//     rm_t rm;
//     rm_init(&rm, &m, &e);                          // head w = 0, b = 0: every answer scores 0
//     rm_train(&rm, &train, &heldout, &o, progress, ctx, &e);
//     rm_accuracy(&rm, &heldout, 16, &acc, &e);       // pairs whose chosen answer scores higher
//     rm_save_head(&rm, "rm/head.safetensors", &e);  // the trunk: ckpt_save_model (or its adapter)
//
// The head is stored as Hugging Face's sequence classifiers store theirs: "score.weight" (1, C)
// and here also "score.bias" (1), float32.
#ifndef MANABI_ALIGN_REWARD_H
#define MANABI_ALIGN_REWARD_H

#include <stdint.h>

#include "align/prefs.h"
#include "core/err.h"
#include "model/gpt.h"
#include "model/lora.h"

typedef struct rm {
    gpt_t *m;              // the trunk (not owned); m->lora if its adapters train
    float *head, *dhead;   // (C + 1): w then b; gradients
    int C;
} rm_t;

int rm_init(rm_t *rm, gpt_t *m, err_t *e);
void rm_free(rm_t *rm);  // the head only; safe twice

// One pair: the loss and its derivatives by the two scores.
double rm_pair_loss(double sc, double sr, float margin, double *dsc, double *dsr);

// scores[2 i], scores[2 i + 1]: the chosen and rejected answers of pair i.
int rm_scores(rm_t *rm, const pref_data_t *d, int batch, double *scores, err_t *e);
// The score of one sequence ids[0..n) (a prompt and its answer, closed by <|end|>).
int rm_score_one(rm_t *rm, const int32_t *ids, int n, double *score, err_t *e);
// The share of pairs whose chosen answer scores higher.
int rm_accuracy(rm_t *rm, const pref_data_t *d, int batch, double *accuracy, err_t *e);

typedef struct rm_opts {
    float margin;        // 0
    int lora;            // 1: the trunk trains through adapters (rm->m->lora made here); 0: every weight
    lora_config_t lora_cfg;
    int batch, steps, warmup, eval_every;
    float lr, head_lr, min_lr_frac, grad_clip;
    uint64_t seed;
} rm_opts_t;
void rm_defaults(rm_opts_t *o);

typedef struct rm_progress {
    int step, steps;
    double loss, accuracy;   // this step's pairs
    double val_accuracy;     // held-out pairs, or -1
    double grad_norm;
} rm_progress_t;
typedef void (*rm_progress_fn)(const rm_progress_t *p, void *ctx);

// The gradient of the mean loss over pairs idx[0..count), added to dhead and the trunk's
// (or its adapters') gradients, which must be allocated.  *loss is that mean loss.
int rm_gradient(rm_t *rm, const pref_data_t *d, const size_t *idx, int count, float margin, double *loss, err_t *e);

// Trains the head and the trunk (or adapters on it: *lora_out, set as rm->m->lora).
int rm_train(rm_t *rm, lora_t **lora_out, const pref_data_t *train, const pref_data_t *val, const rm_opts_t *o,
             rm_progress_fn fn, void *ctx, err_t *e);

int rm_save_head(const rm_t *rm, const char *path, err_t *e);
// Reads the head of a model of width rm->C into rm (rm_init first).
int rm_load_head(rm_t *rm, const char *path, err_t *e);

#endif
