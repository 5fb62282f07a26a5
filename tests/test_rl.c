// GRPO and PPO (align/rl.h): a programmatic reward for particular characters (a to m) in the answer; the
// policy's share of them grows at least fourfold (to 30% or more) within 100 steps while its
// KL from the reference stays under 5 nats per token, and the base model's weights never move.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align/rl.h"
#include "core/rng.h"
#include "test.h"

// The share of the answer's tokens that are the letters a to m (about 5% for a random model).
static double bangs(size_t prompt, const char *text, const int32_t *tokens, int n, void *ctx) {
    (void)prompt, (void)text, (void)ctx;
    double c = 0;
    for (int i = 0; i < n; i++) c += tokens[i] >= 'a' && tokens[i] <= 'm';
    return n ? c / n : 0;
}

typedef struct {
    double first, last, kl_last;
} seen_t;

static void seen(const rl_progress_t *p, void *ctx) {
    seen_t *s = ctx;
    if (p->step <= 10) s->first += p->reward / 10;                // the mean of the first ten steps
    if (p->step > p->steps - 10) s->last += p->reward / 10, s->kl_last = p->kl;  // and of the last ten
}

static void learns(rl_algo_t algo) {
    tok_t *tok;
    err_t e = {{0}};
    CHECK(tok_load(&tok, "byte", NULL, &e) == 0);
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 1, tok_vocab_size(tok), 32);
    cfg.d_model = 32, cfg.n_head = 2, cfg.n_kv_head = 2, cfg.d_ff = 64;
    gpt_t m;
    CHECK(gpt_init(&m, &cfg, &e) == 0);
    rng_t r;
    rng_seed(&r, 3);
    gpt_init_weights(&m, &r);
    // Embeddings (and the tied head) 8x the usual scale, so that the logits can move: with
    // N(0, 0.02) a model this narrow spreads its probability almost evenly whatever adapters do.
    for (size_t i = 0; i < (size_t)cfg.vocab_size * cfg.d_model; i++) m.w.embed[i] *= 8;
    size_t np = gpt_num_params(&m);
    float *before = malloc(np * sizeof(float));
    memcpy(before, m.params, np * sizeof(float));
    int32_t eot = tok_special(tok, TOK_EOT), user = tok_special(tok, TOK_USER), end = tok_special(tok, TOK_END),
            asst = tok_special(tok, TOK_ASSISTANT);
    int32_t p0[] = {eot, user, 'a', end, asst}, p1[] = {eot, user, 'b', end, asst};
    const int32_t *prompts[2] = {p0, p1};
    int lens[2] = {5, 5};
    rl_opts_t o;
    rl_defaults(&o);
    o.algo = algo, o.group = 8, o.prompts = 2, o.steps = 100, o.max_new = 8, o.lr = 2e-2f, o.beta = 0.02f;
    o.lora_cfg.targets = LORA_Q | LORA_V | LORA_UP | LORA_DOWN;
    seen_t s = {0};
    lora_t *l = NULL;
    CHECK(rl_train(&m, tok, &l, prompts, lens, 2, &end, 1, bangs, NULL, &o, seen, &s, &e) == 0 && l);
    CHECK_MSG(s.last > 0.3 && s.last > 4 * s.first, "%s: share of a-m %.3f over the first 10 steps, %.3f over the last 10",
              algo == RL_PPO ? "PPO" : "GRPO", s.first, s.last);
    CHECK_MSG(s.kl_last < 5, "KL from the reference %.3f per token", s.kl_last);
    CHECK(memcmp(before, m.params, np * sizeof(float)) == 0);
    m.lora = NULL;
    lora_free(l);
    free(before);
    gpt_free(&m);
    tok_free(tok);
}

TEST(rl_grpo_learns_a_programmatic_reward) { learns(RL_GRPO); }
TEST(rl_ppo_learns_a_programmatic_reward) { learns(RL_PPO); }

TEST(rl_bad_settings) {
    tok_t *tok;
    err_t e = {{0}};
    CHECK(tok_load(&tok, "byte", NULL, &e) == 0);
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 1, tok_vocab_size(tok), 16);
    gpt_t m;
    CHECK(gpt_init(&m, &cfg, &e) == 0);
    int32_t p[12] = {0};
    const int32_t *pp = p;
    int len = 12;
    rl_opts_t o;
    rl_defaults(&o);
    lora_t *l;
    CHECK(rl_train(&m, tok, &l, &pp, &len, 1, NULL, 0, bangs, NULL, &o, NULL, NULL, &e) == -1 &&
          strstr(e.msg, "context of 16"));
    o.group = 1;
    CHECK(rl_train(&m, tok, &l, &pp, &len, 1, NULL, 0, bangs, NULL, &o, NULL, NULL, &e) == -1 && strstr(e.msg, "group 1"));
    CHECK(rl_train(&m, tok, &l, &pp, &len, 0, NULL, 0, bangs, NULL, &o, NULL, NULL, &e) == -1);
    gpt_free(&m);
    tok_free(tok);
}

// The backward pass PPO uses: the weighted cross-entropy plus a gradient on the hidden states (a
// value head's), against finite differences of J = sum_t w_t CE_t + sum u . hidden.
static double plus_objective(gpt_t *m, const int32_t *tok, const int32_t *tgt, const float *w, const float *u, int n) {
    double j = gpt_forward(m, tok, tgt, w, 1, n);
    const float *h = gpt_hidden(m);
    for (size_t k = 0; k < (size_t)n * m->cfg.d_model; k++) j += (double)u[k] * h[k];
    return j;
}

TEST(rl_backward_plus_gradcheck) {
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 1, 23, 8);
    cfg.d_model = 16, cfg.n_head = 2, cfg.n_kv_head = 2, cfg.d_ff = 32;
    gpt_t m;
    err_t e = {{0}};
    CHECK(gpt_init(&m, &cfg, &e) == 0 && gpt_alloc_train(&m, 1, 8, &e) == 0);
    rng_t r;
    rng_seed(&r, 4);
    gpt_init_weights(&m, &r);
    for (size_t i = 0; i < gpt_num_params(&m); i++) m.params[i] += 0.1f * rng_normal(&r);
    int32_t tok[8], tgt[8];
    float w[8], u[8 * 16];
    for (int t = 0; t < 8; t++) tok[t] = (int32_t)rng_below(&r, 23), tgt[t] = (int32_t)rng_below(&r, 23), w[t] = t % 3 ? 0.2f : 0;
    for (int k = 0; k < 8 * 16; k++) u[k] = 0.1f * rng_normal(&r);
    gpt_zero_grad(&m);
    plus_objective(&m, tok, tgt, w, u, 8);
    gpt_backward_plus(&m, u);
    double worst = 0;
    size_t n = gpt_num_params(&m);
    for (size_t i = 0; i < n; i += 1 + n / 60) {
        float keep = m.params[i], h = 1e-2f;
        m.params[i] = keep + h;
        double jp = plus_objective(&m, tok, tgt, w, u, 8);
        m.params[i] = keep - h;
        double jm = plus_objective(&m, tok, tgt, w, u, 8);
        m.params[i] = keep;
        double fd = (jp - jm) / ((double)(keep + h) - (double)(keep - h)), an = m.grads[i];
        worst = fmax(worst, fabs(fd - an) / (2e-4 + 2e-2 * fmax(fabs(fd), fabs(an))));
    }
    CHECK_MSG(worst <= 1, "gpt_backward_plus off by %.2fx its tolerance", worst);
    gpt_free(&m);
}

// The per-token terms and GAE by hand.
TEST(rl_terms_by_hand) {
    double d;
    // GRPO: logp -1, ref -1.5, A 2, beta 0.1: KL = e^-0.5 + 0.5 - 1 = 0.106531; term = -(2 (-1) - 0.1 KL)
    CHECK_NEAR(rl_grpo_token(-1, -1.5, 2, 0.1f, &d), 2.0106531, 1e-6);
    CHECK_NEAR(d, -2 + 0.1 * (1 - exp(-0.5)), 1e-9);
    // PPO: rho = e^0.5 = 1.6487 > 1.2 with A > 0: clipped, no gradient; with A < 0 the min keeps rho
    CHECK_NEAR(rl_ppo_token(-1, -1.5, 1, 0.2f, &d), -1.2, 1e-6);
    CHECK(d == 0);
    CHECK_NEAR(rl_ppo_token(-1, -1.5, -1, 0.2f, &d), exp(0.5), 1e-9);
    CHECK_NEAR(d, exp(0.5), 1e-9);
    CHECK_NEAR(rl_ppo_token(-1, -1, 3, 0.2f, &d), -3, 1e-12);  // rho = 1: the policy gradient
    CHECK_NEAR(d, -3, 1e-12);
    // GAE, gamma 1, lambda 0.5: r = (0, 0, 1), v = (0.2, 0.4, 0.6)
    double r[3] = {0, 0, 1}, v[3] = {0.2, 0.4, 0.6}, adv[3], ret[3];
    rl_gae(r, v, 3, 1.0f, 0.5f, adv, ret);
    // delta = (0.2, 0.2, 0.4); adv2 = 0.4, adv1 = 0.2 + 0.5 * 0.4 = 0.4, adv0 = 0.2 + 0.5 * 0.4 = 0.4
    CHECK_NEAR(adv[2], 0.4, 1e-12);
    CHECK_NEAR(adv[1], 0.4, 1e-12);
    CHECK_NEAR(adv[0], 0.4, 1e-12);
    CHECK_NEAR(ret[0], 0.6, 1e-12);
}
