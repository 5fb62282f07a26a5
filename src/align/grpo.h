// grpo: Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath): reinforcement
// learning without a value model.  For each prompt the policy samples a group of N answers; each
// answer's reward (a reward model's score, or a program's: exact match with a reference, say)
// becomes an advantage relative to its group, A_i = (r_i - mean) / (std + 1e-4); the policy
// learns to make the better answers likelier, held to the reference model by a KL term:
//
//     loss = -1/G sum_i 1/|a_i| sum_t ( A_i log pi(a_i,t) - beta KL_t )
//     KL_t = ref/pi - log(ref/pi) - 1           (the k3 estimator, always >= 0)
//
// One update per batch of samples (on-policy: the clipped ratio of PPO is 1, so the clip does
// not act).  The policy is LoRA adapters on the frozen model, which is also the reference: its
// log-probabilities come from the same weights without the adapters.
#ifndef MANABI_ALIGN_GRPO_H
#define MANABI_ALIGN_GRPO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/gpt.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"

// The reward of an answer (its text and tokens, a stop token included) to prompt `prompt`.
typedef double (*grpo_reward_fn)(size_t prompt, const char *text, const int32_t *tokens, int n, void *ctx);

typedef struct grpo_opts {
    int group;            // answers per prompt (4)
    int prompts;          // prompts per step (4)
    int steps, max_new, warmup;
    float beta;           // the KL term's weight (0.04)
    float temperature;    // sampling (1)
    float lr, grad_clip;
    lora_config_t lora_cfg;
    uint64_t seed;
    volatile int *stop;
} grpo_opts_t;

void grpo_defaults(grpo_opts_t *o);

typedef struct grpo_progress {
    int step, steps;
    double reward, reward_std;  // mean and spread of this step's rewards
    double kl;                  // mean KL_t per answer token from the reference
    double loss;
    double answer_tokens;       // mean answer length
} grpo_progress_t;
typedef void (*grpo_progress_fn)(const grpo_progress_t *p, void *ctx);

// Trains new adapters (*lora_out, set as m->lora) on prompts[0..n) (token ids ending where the
// answer starts, e.g. with <|assistant|>), with stop tokens stops[0..n_stops).  m may be mapped.
int grpo_train(gpt_t *m, const tok_t *tok, lora_t **lora_out, const int32_t *const *prompts, const int *lens,
               size_t n, const int32_t *stops, int n_stops, grpo_reward_fn reward, void *rctx, const grpo_opts_t *o,
               grpo_progress_fn fn, void *ctx, err_t *e);

#endif
