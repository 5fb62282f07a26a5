// The reward model (align/reward.h): the Bradley-Terry loss by hand, the gradients of the head
// and of the trunk's adapters against finite differences, a toy preference learnt, the head's file.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align/reward.h"
#include "core/rng.h"
#include "test.h"

TEST(rm_pair_loss_by_hand) {
    double dc, dr;  // z = 1 - 0.5 - 0.2 = 0.3: loss = log(1 + e^-0.3), d/dsc = -sigmoid(-0.3)
    CHECK_NEAR(rm_pair_loss(1.0, 0.5, 0.2f, &dc, &dr), 0.554355244, 1e-8);
    CHECK_NEAR(dc, -0.425557483, 1e-8);
    CHECK_NEAR(dr, 0.425557483, 1e-8);
    CHECK_NEAR(rm_pair_loss(2, 2, 0, NULL, NULL), log(2.0), 1e-12);
}

// Pairs whose chosen answer ends in "!" and whose rejected one ends in "?": the preferred ending.
static const char pairs[] =
    "{\"prompt\": \"a\", \"chosen\": \"ok!\", \"rejected\": \"ok?\"}\n"
    "{\"prompt\": \"b\", \"chosen\": \"no!\", \"rejected\": \"no?\"}\n"
    "{\"prompt\": \"c\", \"chosen\": \"hm?!\", \"rejected\": \"hm!?\"}\n"
    "{\"prompt\": \"d\", \"chosen\": \"yes!\", \"rejected\": \"yes?\"}\n";

static int setup(gpt_t *m, tok_t **tok, pref_data_t *d, rm_t *rm, uint64_t seed) {
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
    pref_init(d);
    if (test_write_file(test_path("rm.jsonl"), pairs, sizeof pairs - 1) != 0 ||
        pref_load(d, *tok, test_path("rm.jsonl"), 24, 1, &e) != 0 || rm_init(rm, m, &e) != 0)
        return test_fail(__FILE__, __LINE__, "%s", e.msg), -1;
    return 0;
}

static double mean_loss(rm_t *rm, const pref_data_t *d) {
    double s[8];
    err_t e = {{0}};
    if (rm_scores(rm, d, 4, s, &e) != 0) return NAN;
    double l = 0;
    for (size_t i = 0; i < d->n; i++) l += rm_pair_loss(s[2 * i], s[2 * i + 1], 0.1f, NULL, NULL);
    return l / (double)d->n;
}

static double fd_worst(rm_t *rm, const pref_data_t *d, float *p, const float *g, size_t n, size_t stride) {
    double worst = 0;
    for (size_t i = 0; i < n; i += stride) {
        float keep = p[i], h = 1e-2f;
        p[i] = keep + h;
        double lp = mean_loss(rm, d);
        p[i] = keep - h;
        double lm = mean_loss(rm, d);
        p[i] = keep;
        double fd = (lp - lm) / ((double)(keep + h) - (double)(keep - h));
        worst = fmax(worst, fabs(fd - g[i]) / (2e-4 + 2e-2 * fmax(fabs(fd), fabs(g[i]))));
    }
    return worst;
}

TEST(rm_gradcheck_head_and_adapters) {
    gpt_t m;
    tok_t *tok;
    pref_data_t d;
    rm_t rm;
    if (setup(&m, &tok, &d, &rm, 3) != 0) return;
    err_t e = {{0}};
    rng_t r;
    rng_seed(&r, 5);
    for (int c = 0; c <= rm.C; c++) rm.head[c] = 0.3f * rng_normal(&r);
    lora_config_t lc = {.rank = 2, .alpha = 4, .targets = LORA_Q | LORA_V | LORA_DOWN};
    lora_t *l = lora_new(&m, &lc, &r, &e);
    for (size_t j = 0; j < l->total; j++) l->params[j] += 0.1f * rng_normal(&r);
    m.lora = l;
    gpt_freeze(&m, 0, 0, 1);
    CHECK(lora_alloc_grads(l, &e) == 0);
    lora_zero_grad(l);
    memset(rm.dhead, 0, (rm.C + 1) * sizeof(float));
    size_t idx[4] = {0, 1, 2, 3};
    double loss;
    CHECK(rm_gradient(&rm, &d, idx, 4, 0.1f, &loss, &e) == 0);
    CHECK_NEAR(loss, mean_loss(&rm, &d), 1e-6);
    double wh = fd_worst(&rm, &d, rm.head, rm.dhead, rm.C + 1, 1);
    double wl = fd_worst(&rm, &d, l->params, l->grads, l->total, 1 + l->total / 40);
    CHECK_MSG(wh <= 1 && wl <= 1, "reward gradients off by %.2fx (head), %.2fx (adapters) of the tolerance", wh, wl);
    m.lora = NULL;
    lora_free(l);
    rm_free(&rm);
    pref_free(&d);
    gpt_free(&m);
    tok_free(tok);
}

// Within 80 steps the model ranks every pair by its ending; the head round-trips through its file.
TEST(rm_learns_the_preferred_ending) {
    gpt_t m;
    tok_t *tok;
    pref_data_t d;
    rm_t rm;
    if (setup(&m, &tok, &d, &rm, 7) != 0) return;
    err_t e = {{0}};
    rm_opts_t o;
    rm_defaults(&o);
    o.steps = 80, o.batch = 4, o.lr = 1e-2f, o.warmup = 2, o.lora_cfg.targets = LORA_Q | LORA_V | LORA_UP | LORA_DOWN;
    lora_t *l = NULL;
    double before;
    CHECK(rm_accuracy(&rm, &d, 4, &before, &e) == 0 && before == 0);  // all scores equal at the start
    CHECK(rm_train(&rm, &l, &d, &d, &o, NULL, NULL, &e) == 0 && l);
    double acc;
    CHECK(rm_accuracy(&rm, &d, 4, &acc, &e) == 0);
    CHECK_MSG(acc == 1, "accuracy %.2f after 80 steps", acc);
    CHECK(rm_save_head(&rm, test_path("head.safetensors"), &e) == 0);
    rm_t back;
    CHECK(rm_init(&back, &m, &e) == 0 && rm_load_head(&back, test_path("head.safetensors"), &e) == 0);
    CHECK(memcmp(back.head, rm.head, (rm.C + 1) * sizeof(float)) == 0);
    rm_free(&back);
    m.lora = NULL;
    lora_free(l);
    rm_free(&rm), rm_free(&rm);
    pref_free(&d);
    gpt_free(&m);
    tok_free(tok);
}
