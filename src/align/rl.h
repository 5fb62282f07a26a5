// rl: reinforcement learning of a language model from rewards, two ways.  The policy is LoRA
// adapters on the frozen model, which is also the reference it is held to (its log-probabilities
// come from the same weights without the adapters).  Rewards come from a function: a reward
// model's score, or a program's (exact match with a reference, say).
//
// GRPO (Shao et al. 2024, DeepSeekMath), no value model: for each prompt the policy samples a
// group of answers; each answer's reward becomes an advantage relative to its group,
// A_i = (r_i - mean) / (std + 1e-4), and
//     loss = -1/G sum_i 1/|a_i| sum_t ( A_i log pi(a_i,t) - beta KL_t ),
//     KL_t = ref/pi - log(ref/pi) - 1           (the k3 estimator, always >= 0)
// with one update per batch of samples (on-policy: PPO's ratio is 1 and its clip does not act).
//
// PPO (Schulman et al. 2017, as InstructGPT uses it): a value head on the policy's hidden states;
// per-token rewards -beta (log pi_old - log ref) with the answer's reward added at its last
// token; advantages by GAE (gamma, lambda) from the values, whitened over the batch; then
// `epochs` passes of the clipped objective
//     -min(rho A, clip(rho, 1 - eps, 1 + eps) A) + vf_coef (V - R)^2,  rho = pi / pi_old
// averaged over the answer tokens.
#ifndef MANABI_ALIGN_RL_H
#define MANABI_ALIGN_RL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "model/gpt.h"
#include "model/lora.h"
#include "tokenizer/tokenizer.h"

// The reward of an answer (its text and tokens, a stop token included) to prompt `prompt`.
typedef double (*rl_reward_fn)(size_t prompt, const char *text, const int32_t *tokens, int n, void *ctx);

typedef enum { RL_GRPO = 0, RL_PPO = 1 } rl_algo_t;

typedef struct rl_opts {
    rl_algo_t algo;       // RL_GRPO
    int group;            // answers per prompt (4; PPO treats each on its own)
    int prompts;          // prompts per step (4)
    int steps, max_new, warmup;
    float beta;           // the KL term's weight (0.04)
    float clip, gamma, lambda, vf_coef;  // PPO: 0.2, 1, 0.95, 0.1
    int epochs;           // PPO: passes over each batch of samples (2)
    float temperature;    // sampling (1)
    float lr, grad_clip;
    lora_config_t lora_cfg;
    uint64_t seed;
    volatile int *stop;
} rl_opts_t;

void rl_defaults(rl_opts_t *o);

typedef struct rl_progress {
    int step, steps;
    double reward, reward_std;  // mean and spread of this step's rewards
    double kl;                  // mean KL_t per answer token from the reference
    double loss;
    double answer_tokens;       // mean answer length
    double gen_s, train_s;      // this step's seconds sampling (and scoring) / computing the update
} rl_progress_t;
typedef void (*rl_progress_fn)(const rl_progress_t *p, void *ctx);

// The per-token terms, with their derivatives by log pi (pure, for tests and for rl.c).
// GRPO: -(A log pi - beta KL) with KL = e^(ref - log pi) - (ref - log pi) - 1.
double rl_grpo_token(double logp, double ref, double adv, float beta, double *dlogp);
// PPO: -min(rho A, clip(rho, 1 - clip, 1 + clip) A), rho = e^(log pi - old).
double rl_ppo_token(double logp, double old, double adv, float clip, double *dlogp);
// GAE over one answer's tokens: rewards r[0..n), values v[0..n) (0 after the last):
// adv[t] = sum_k (gamma lambda)^k delta_{t+k}, delta_t = r_t + gamma v_{t+1} - v_t; ret = adv + v.
void rl_gae(const double *r, const double *v, int n, float gamma, float lambda, double *adv, double *ret);

// Trains new adapters (*lora_out, set as m->lora) on prompts[0..n) (token ids ending where the
// answer starts, e.g. with <|assistant|>), with stop tokens stops[0..n_stops).  m may be mapped.
int rl_train(gpt_t *m, const tok_t *tok, lora_t **lora_out, const int32_t *const *prompts, const int *lens,
               size_t n, const int32_t *stops, int n_stops, rl_reward_fn reward, void *rctx, const rl_opts_t *o,
               rl_progress_fn fn, void *ctx, err_t *e);

#endif
