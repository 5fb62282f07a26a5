// Preference pairs (align/prefs.h) and DPO (align/dpo.h): the loss against a hand-computed pair,
// the whole objective's gradient against finite differences (LoRA and full), bad pairs counted,
// and a toy preference the policy learns within a stated number of steps.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align/dpo.h"
#include "align/prefs.h"
#include "core/rng.h"
#include "model/gpt.h"
#include "model/lora.h"
#include "test.h"

TEST(dpo_pair_loss_by_hand) {
    // z = 0.5 ((-2 - -2.5) - (-3 - -2.5)) = 0.5; loss = log(1 + e^-0.5); d/dpc = -0.5 sigmoid(-0.5)
    double dpc, dpr, loss = dpo_pair_loss(-2, -3, -2.5, -2.5, 0.5f, &dpc, &dpr);
    CHECK_NEAR(loss, 0.474076984, 1e-8);
    CHECK_NEAR(dpc, -0.5 * 0.377540669, 1e-8);
    CHECK_NEAR(dpr, 0.5 * 0.377540669, 1e-8);
    CHECK_NEAR(dpo_pair_loss(-1, -1, -1, -1, 0.1f, NULL, NULL), log(2.0), 1e-12);  // policy = reference
    CHECK_NEAR(dpo_pair_loss(0, -1e4, 0, 0, 1.0f, &dpc, &dpr), 0.0, 1e-12);         // no overflow either way
    CHECK(isfinite(dpo_pair_loss(-1e4, 0, 0, 0, 1.0f, &dpc, &dpr)));
}

static const char pairs[] =
    "{\"prompt\": \"a\", \"chosen\": \"xq\", \"rejected\": \"yr\"}\n"
    "{\"prompt\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"b\"}], "
    "\"chosen\": \"zs\", \"rejected\": \"wt\"}\n"
    "{\"prompt\": \"c\", \"chosen\": \"wt\", \"rejected\": \"xq\"}\n"
    "\n"
    "{\"prompt\": \"d\", \"chosen\": \"same\", \"rejected\": \"same\"}\n"
    "{\"prompt\": \"e\", \"chosen\": \"\", \"rejected\": \"x\"}\n"
    "{\"prompt\": \"f\", \"chosen\": 3, \"rejected\": \"x\"}\n"
    "not json\n"
    "{\"prompt\": \"g\", \"chosen\": \"a very long answer that does not fit\", \"rejected\": \"x\"}\n";

static int setup(gpt_t *m, tok_t **tok, pref_data_t *d, uint64_t seed) {
    err_t e = {{0}};
    if (tok_load(tok, "byte", NULL, &e) != 0) return test_fail(__FILE__, __LINE__, "%s", e.msg), -1;
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 1, tok_vocab_size(*tok), 24);
    cfg.d_model = 32, cfg.n_head = 2, cfg.n_kv_head = 2, cfg.d_ff = 64;
    if (gpt_init(m, &cfg, &e) != 0) return test_fail(__FILE__, __LINE__, "%s", e.msg), -1;
    rng_t r;
    rng_seed(&r, seed);
    gpt_init_weights(m, &r);
    for (size_t i = 0; i < gpt_num_params(m); i++) m->params[i] += 0.05f * rng_normal(&r);
    const char *path = test_path("pairs.jsonl");
    pref_init(d);
    if (test_write_file(path, pairs, sizeof pairs - 1) != 0 || pref_load(d, *tok, path, 24, 0, &e) != 0)
        return test_fail(__FILE__, __LINE__, "%s", e.msg), -1;
    return 0;
}

TEST(dpo_pairs_loaded_and_counted) {
    gpt_t m;
    tok_t *tok;
    pref_data_t d;
    if (setup(&m, &tok, &d, 1) != 0) return;
    CHECK(d.lines == 8 && d.n == 3);
    CHECK(d.skipped[PREF_SKIP_IDENTICAL] == 1 && d.skipped[PREF_SKIP_EMPTY] == 1 && d.skipped[PREF_SKIP_BAD] == 2 &&
          d.skipped[PREF_SKIP_LONG] == 1);
    CHECK(d.n_notes == 4 && strstr(d.notes[0], "pairs.jsonl:5:") && strstr(d.notes[0], "the same"));
    int32_t ids[64];
    int n, start;
    pref_row(&d, 0, 1, ids, &n, &start);  // <|endoftext|> <|user|> a <|end|> <|assistant|> x q <|end|>
    CHECK(n == 8 && start == 5 && ids[5] == 'x' && ids[6] == 'q' && ids[7] == tok_special(tok, TOK_END));
    pref_row(&d, 0, 0, ids, &n, &start);
    CHECK(n == 8 && ids[5] == 'y' && ids[6] == 'r');
    pref_row(&d, 1, 1, ids, &n, &start);  // the system message comes first
    CHECK(ids[1] == tok_special(tok, TOK_SYSTEM) && ids[2] == 's' && start == 8);
    pref_data_t strict;
    pref_init(&strict);
    err_t e = {{0}};
    CHECK(pref_load(&strict, tok, test_path("pairs.jsonl"), 24, 1, &e) == -1 && strstr(e.msg, "pairs.jsonl:5:"));
    pref_free(&strict), pref_free(&d), pref_free(&d);
    gpt_free(&m);
    tok_free(tok);
}

// The mean DPO loss over the pairs as a function of the parameters, by forward passes.
static double objective(gpt_t *m, const pref_data_t *d, const double *ref, float beta) {
    double lp[6];
    err_t e = {{0}};
    if (dpo_logprobs(m, d, 3, lp, &e) != 0) return NAN;
    double s = 0;
    for (size_t i = 0; i < d->n; i++) s += dpo_pair_loss(lp[2 * i], lp[2 * i + 1], ref[2 * i], ref[2 * i + 1], beta, NULL, NULL);
    return s / (double)d->n;
}

static void gradcheck(int use_lora) {
    gpt_t m;
    tok_t *tok;
    pref_data_t d;
    if (setup(&m, &tok, &d, 3 + (uint64_t)use_lora) != 0) return;
    err_t e = {{0}};
    double ref[6];
    CHECK(dpo_logprobs(&m, &d, 3, ref, &e) == 0);
    lora_t *l = NULL;
    float *params, *grads;
    size_t n;
    if (use_lora) {
        lora_config_t lc = {.rank = 2, .alpha = 4, .targets = LORA_Q | LORA_V | LORA_DOWN};
        rng_t r;
        rng_seed(&r, 7);
        l = lora_new(&m, &lc, &r, &e);
        for (size_t j = 0; j < l->total; j++) l->params[j] += 0.1f * rng_normal(&r);  // B != 0
        m.lora = l;
        gpt_freeze(&m, 0, 0, 1);
        CHECK(lora_alloc_grads(l, &e) == 0);
        params = l->params, grads = l->grads, n = l->total;
    } else {
        for (size_t j = 0; j < gpt_num_params(&m); j++) m.params[j] *= 1.5f;  // move away from the reference
        params = m.params, n = gpt_num_params(&m);
    }
    CHECK(gpt_alloc_train(&m, 6, 24, &e) == 0);
    if (!use_lora) grads = m.grads;
    size_t idx[3] = {0, 1, 2};
    dpo_stats_t s;
    if (l) lora_zero_grad(l);
    gpt_zero_grad(&m);
    CHECK(dpo_gradient(&m, &d, idx, 3, ref, 0.5f, &s, &e) == 0);
    CHECK_NEAR(s.loss, objective(&m, &d, ref, 0.5f), 1e-5);
    double worst = 0;
    int checked = 0;
    for (size_t i = 0; i < n; i += 1 + n / 50, checked++) {
        float keep = params[i], h = 1e-2f;
        params[i] = keep + h;
        double lp = objective(&m, &d, ref, 0.5f);
        params[i] = keep - h;
        double lm = objective(&m, &d, ref, 0.5f);
        params[i] = keep;
        double fd = (lp - lm) / ((double)(keep + h) - (double)(keep - h)), an = grads[i];
        worst = fmax(worst, fabs(fd - an) / (2e-4 + 2e-2 * fmax(fabs(fd), fabs(an))));
    }
    CHECK_MSG(worst <= 1, "DPO gradient (%s) off by %.2fx its tolerance over %d coordinates", use_lora ? "LoRA" : "full",
              worst, checked);
    m.lora = NULL;
    lora_free(l);
    pref_free(&d);
    gpt_free(&m);
    tok_free(tok);
}

TEST(dpo_gradcheck_lora) { gradcheck(1); }
TEST(dpo_gradcheck_full) { gradcheck(0); }

// A known preference: the policy moves to the chosen answers within 100 steps (every held-out
// pair ranked right, the loss well under log 2), while the implicit rewards stay bounded by what
// beta allows (beta 0.5: each implicit reward within +-5).
TEST(dpo_learns_a_preference) {
    gpt_t m;
    tok_t *tok;
    pref_data_t d;
    if (setup(&m, &tok, &d, 9) != 0) return;
    dpo_opts_t o;
    dpo_defaults(&o);
    o.beta = 0.5f, o.steps = 100, o.batch = 3, o.lr = 1e-2f, o.warmup = 2, o.lora_cfg.targets = LORA_Q | LORA_V | LORA_UP | LORA_DOWN;
    lora_t *l = NULL;
    err_t e = {{0}};
    double ref[6];
    CHECK(dpo_logprobs(&m, &d, 3, ref, &e) == 0);
    CHECK(dpo_train(&m, &l, &d, &d, &o, NULL, NULL, &e) == 0 && l && m.lora == l);
    dpo_stats_t s;
    CHECK(dpo_evaluate(&m, &d, ref, o.beta, 3, &s, &e) == 0);
    CHECK_MSG(s.accuracy == 1 && s.loss < 0.3 && s.margin > 1, "after 100 steps: loss %.3f, accuracy %.2f, margin %.3f",
              s.loss, s.accuracy, s.margin);
    CHECK_MSG(s.chosen_reward > 0 && s.rejected_reward < 0 && s.chosen_reward < 5 && s.rejected_reward > -5,
              "rewards chosen %.3f rejected %.3f", s.chosen_reward, s.rejected_reward);
    m.lora = NULL;
    lora_free(l);
    pref_free(&d);
    gpt_free(&m);
    tok_free(tok);
}
