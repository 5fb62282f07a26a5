// dpo: Direct Preference Optimization (Rafailov et al. 2023): the policy learns the preferred
// answers of preference pairs without a reward model, held to the reference model it starts
// from.  For a pair with chosen answer c and rejected answer r to prompt x,
//
//     z    = beta * ((log pi(c|x) - log ref(c|x)) - (log pi(r|x) - log ref(r|x)))
//     loss = -log sigmoid(z)
//
// log p(a|x) summed over the answer's tokens only (its <|end|> included).  The reference
// log-probabilities are computed once, before the first step, with the starting weights (the
// SFT model).  The gradient goes through the per-token cross-entropy weights of one forward and
// backward pass: d loss / d CE_t = +beta sigmoid(-z) / P on the chosen tokens and the negative on
// the rejected ones (P pairs per step).
//
//     dpo_opts_t o;
//     dpo_defaults(&o);                              // beta 0.1, LoRA rank 8 on q, v
//     lora_t *adapter;
//     if (dpo_train(&m, &adapter, &train, &heldout, &o, progress, ctx, &e) != 0) ...
#ifndef MANABI_ALIGN_DPO_H
#define MANABI_ALIGN_DPO_H

#include <stdint.h>

#include "align/prefs.h"
#include "core/err.h"
#include "model/gpt.h"
#include "model/lora.h"

typedef struct dpo_opts {
    float beta;               // 0.1: how far from the reference the policy may move
    int lora;                 // 1: adapters on the frozen starting model; 0: every weight
    lora_config_t lora_cfg;
    int batch;                // pairs per step
    int steps;
    float lr, min_lr_frac, weight_decay, grad_clip;
    int warmup, eval_every;
    uint64_t seed;
    volatile int *stop;       // set asynchronously to end after the current step (may be NULL)
} dpo_opts_t;

void dpo_defaults(dpo_opts_t *o);

// Averages over pairs: the loss, the share with z > 0 (the policy prefers the chosen answer
// more than the reference does), the implicit rewards beta (log pi - log ref) of both answers
// and their margin.
typedef struct dpo_stats {
    double loss, accuracy, chosen_reward, rejected_reward, margin;
    size_t pairs;
} dpo_stats_t;

typedef struct dpo_progress {
    int step, steps;
    dpo_stats_t train;        // this step's pairs
    int has_val;
    dpo_stats_t val;          // the held-out pairs (has_val)
    float lr;
    double grad_norm;
    double step_s;            // this step's seconds (the held-out pairs excluded)
    int64_t tokens;           // row positions of this step (chosen and rejected rows)
} dpo_progress_t;
typedef void (*dpo_progress_fn)(const dpo_progress_t *p, void *ctx);

// One pair: the loss and its derivatives by the policy's log-probabilities of the chosen (pc)
// and rejected (pr) answers, given the reference's (rc, rr).
double dpo_pair_loss(double pc, double pr, double rc, double rr, float beta, double *dpc, double *dpr);

// logp[2 i] and logp[2 i + 1]: log p of pair i's chosen and rejected answers under m (with
// m->lora if set), in batches of `batch` pairs.  -1 with e on failure.
int dpo_logprobs(gpt_t *m, const pref_data_t *d, int batch, double *logp, err_t *e);

// The stats of m on d against reference log-probabilities ref (as dpo_logprobs writes them).
int dpo_evaluate(gpt_t *m, const pref_data_t *d, const double *ref, float beta, int batch, dpo_stats_t *s, err_t *e);

// The gradient of the mean DPO loss over pairs idx[0..count) of d (reference log-probabilities
// ref, as dpo_logprobs writes them) added to m's gradients (its adapters' with m->lora), which
// must be allocated; the stats in s.  The step dpo_train takes, without the update.
int dpo_gradient(gpt_t *m, const pref_data_t *d, const size_t *idx, int count, const double *ref, float beta,
                 dpo_stats_t *s, err_t *e);

// Trains m (with o->lora: new adapters, *lora_out, m->lora set on return; else its weights) on
// the pairs of train; val may be NULL.
int dpo_train(gpt_t *m, lora_t **lora_out, const pref_data_t *train, const pref_data_t *val, const dpo_opts_t *o,
              dpo_progress_fn fn, void *ctx, err_t *e);

#endif
