#include "align/dpo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timing.h"
#include "train/optim.h"
#include "train/trainable.h"

void dpo_defaults(dpo_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->beta = 0.1f;
    o->lora = 1;
    o->lora_cfg = (lora_config_t){.rank = 8, .alpha = 16, .dropout = 0.0f, .targets = LORA_Q | LORA_V};
    o->batch = 8, o->steps = 100;
    o->lr = 5e-4f, o->min_lr_frac = 0.1f, o->grad_clip = 1.0f, o->warmup = 10;
    o->seed = 1337;
}

// log(1 + e^x) without overflow.
static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double dpo_pair_loss(double pc, double pr, double rc, double rr, float beta, double *dpc, double *dpr) {
    double z = beta * ((pc - rc) - (pr - rr));
    double g = beta * sigmoid(-z);  // -d loss / d pc
    if (dpc) *dpc = -g;
    if (dpr) *dpr = g;
    return softplus(-z);
}

// Sums of log p over each row's answer from the last forward's per-position losses.
static void row_logprobs(const gpt_t *m, const pref_rows_t *r, double *logp) {
    for (int row = 0; row < r->B; row++) {
        double s = 0;
        for (int t = 0; t < r->T; t++)
            if (r->weights[(size_t)row * r->T + t] != 0) s -= m->acts.losses[(size_t)row * r->T + t];
        logp[row] = s;
    }
}

static int ensure_acts(gpt_t *m, int B, int T, int train, err_t *e) {
    if (m->acts.B >= B && m->acts.T >= T && (!train || m->acts.dres)) return 0;
    return train ? gpt_alloc_train(m, B, T, e) : gpt_alloc_acts(m, B, T, e);
}

int dpo_logprobs(gpt_t *m, const pref_data_t *d, int batch, double *logp, err_t *e) {
    if (d->n == 0) return 0;
    int T = pref_longest(d, 0, d->n);
    if (T > m->cfg.context) return err_set(e, "a pair has %d tokens, more than the context of %d", T, m->cfg.context);
    pref_rows_t r;
    if (pref_rows_init(&r, batch, T, e) != 0) return -1;
    size_t *idx = malloc((size_t)batch * sizeof *idx);
    int rc = idx ? 0 : err_set(e, "out of memory");
    int training = m->lora ? m->lora->training : 0;
    if (m->lora) m->lora->training = 0;
    for (size_t first = 0; rc == 0 && first < d->n; first += (size_t)batch) {
        int count = (int)(d->n - first < (size_t)batch ? d->n - first : (size_t)batch);
        for (int i = 0; i < count; i++) idx[i] = first + i;
        pref_rows_fill(&r, d, idx, count);
        if ((rc = ensure_acts(m, r.B, r.T, 0, e)) != 0) break;
        gpt_forward(m, r.tokens, r.targets, r.weights, r.B, r.T);
        row_logprobs(m, &r, logp + 2 * first);
    }
    if (m->lora) m->lora->training = training;
    free(idx);
    pref_rows_free(&r);
    return rc;
}

static void add_stats(dpo_stats_t *s, double pc, double pr, double rc, double rr, float beta) {
    double z = beta * ((pc - rc) - (pr - rr));
    s->loss += softplus(-z);
    s->accuracy += z > 0;
    s->chosen_reward += beta * (pc - rc);
    s->rejected_reward += beta * (pr - rr);
    s->margin += z;
    s->pairs++;
}

static void mean_stats(dpo_stats_t *s) {
    if (!s->pairs) return;
    double n = (double)s->pairs;
    s->loss /= n, s->accuracy /= n, s->chosen_reward /= n, s->rejected_reward /= n, s->margin /= n;
}

int dpo_evaluate(gpt_t *m, const pref_data_t *d, const double *ref, float beta, int batch, dpo_stats_t *s, err_t *e) {
    memset(s, 0, sizeof *s);
    double *lp = malloc((2 * d->n + 1) * sizeof *lp);
    if (!lp) return err_set(e, "out of memory");
    int rc = dpo_logprobs(m, d, batch, lp, e);
    for (size_t i = 0; rc == 0 && i < d->n; i++) add_stats(s, lp[2 * i], lp[2 * i + 1], ref[2 * i], ref[2 * i + 1], beta);
    mean_stats(s);
    free(lp);
    return rc;
}

// One batch: forward, the DPO loss of each pair, its derivative by each answer token's
// cross-entropy set as that position's loss weight, backward (gradients accumulate).
static void gradient(gpt_t *m, pref_rows_t *r, const pref_data_t *d, const size_t *idx, int count, const double *ref,
                     float beta, double *lp, dpo_stats_t *s) {
    pref_rows_fill(r, d, idx, count);
    gpt_forward(m, r->tokens, r->targets, r->weights, r->B, r->T);
    row_logprobs(m, r, lp);
    memset(s, 0, sizeof *s);
    for (int i = 0; i < count; i++) {
        double dpc, dpr;
        size_t k = idx[i];
        dpo_pair_loss(lp[2 * i], lp[2 * i + 1], ref[2 * k], ref[2 * k + 1], beta, &dpc, &dpr);
        add_stats(s, lp[2 * i], lp[2 * i + 1], ref[2 * k], ref[2 * k + 1], beta);
        for (int side = 0; side < 2; side++) {  // d loss / d CE_t = -d loss / d log p
            size_t row = (size_t)(2 * i + side) * r->T;
            float w = (float)(-(side ? dpr : dpc) / count);
            for (int t = 0; t < r->T; t++) m->acts.dloss[row + t] = r->weights[row + t] != 0 ? w : 0.0f;
        }
    }
    mean_stats(s);
    gpt_backward(m);
}

int dpo_gradient(gpt_t *m, const pref_data_t *d, const size_t *idx, int count, const double *ref, float beta,
                 dpo_stats_t *s, err_t *e) {
    pref_rows_t r;
    double *lp = malloc((size_t)2 * count * sizeof *lp);
    if (!lp) return err_set(e, "out of memory");
    if (pref_rows_init(&r, count, pref_longest(d, 0, d->n), e) != 0) {
        free(lp);
        return -1;
    }
    int rc = ensure_acts(m, 2 * count, r.cap_T, 1, e);
    if (rc == 0) gradient(m, &r, d, idx, count, ref, beta, lp, s);
    pref_rows_free(&r);
    free(lp);
    return rc;
}

int dpo_train(gpt_t *m, lora_t **lora_out, const pref_data_t *train, const pref_data_t *val, const dpo_opts_t *o,
              dpo_progress_fn fn, void *ctx, err_t *e) {
    *lora_out = NULL;
    if (train->n == 0) return err_set(e, "no preference pairs to train on");
    if (o->batch < 1 || o->batch > 256 || o->steps < 1 || !(o->beta > 0))
        return err_set(e, "batch %d, steps %d, beta %g: give positive values (batch at most 256)", o->batch, o->steps,
                       o->beta);
    int T = pref_longest(train, 0, train->n);
    if (val && val->n && pref_longest(val, 0, val->n) > T) T = pref_longest(val, 0, val->n);
    if (T > m->cfg.context) return err_set(e, "a pair has %d tokens, more than the context of %d", T, m->cfg.context);
    double *ref = malloc((2 * train->n + 1) * sizeof *ref), *ref_val = malloc((2 * (val ? val->n : 0) + 1) * sizeof *ref);
    double *lp = malloc((size_t)2 * o->batch * sizeof *lp);
    size_t *order = malloc(train->n * sizeof *order);
    trainable_t tr = {0};
    lora_t *l = NULL;
    adamw_t opt = {0};
    pref_rows_t r = {0};
    int rc = -1;
    if (!ref || !ref_val || !lp || !order) {
        err_set(e, "out of memory");
        goto done;
    }
    // The reference: the starting model, once.
    if (dpo_logprobs(m, train, o->batch, ref, e) != 0 || (val && dpo_logprobs(m, val, o->batch, ref_val, e) != 0))
        goto done;
    rng_t rng;
    rng_seed(&rng, o->seed);
    if (trainable_init(&tr, m, o->lora ? &o->lora_cfg : NULL, &rng, e) != 0) goto done;
    l = tr.lora;
    if (gpt_alloc_train(m, 2 * o->batch, T, e) != 0 || trainable_grads(&tr, m, e) != 0 ||
        pref_rows_init(&r, o->batch, T, e) != 0)
        goto done;
    if (adamw_init(&opt, tr.n, 0.9f, 0.999f, 1e-8f, o->weight_decay, e) != 0) goto done;
    lr_schedule_t sched = {.kind = LR_COSINE, .lr = o->lr, .min_lr = o->lr * o->min_lr_frac, .warmup = o->warmup,
                           .total = o->steps};
    for (size_t i = 0; i < train->n; i++) order[i] = i;
    size_t next = train->n;  // reshuffle at the start
    for (int step = 0; step < o->steps; step++) {
        size_t idx[256];
        int count = o->batch;
        for (int k = 0; k < count; k++) {
            if (next == train->n) {  // a new epoch in a new order
                rng_shuffle(&rng, order, train->n);
                next = 0;
            }
            idx[k] = order[next++];
        }
        double t0 = timing_now();
        if (l) lora_zero_grad(l), l->training = 1, l->seed = o->seed ^ ((uint64_t)step << 20);
        gpt_zero_grad(m);
        dpo_progress_t p = {.step = step + 1, .steps = o->steps};
        gradient(m, &r, train, idx, count, ref, o->beta, lp, &p.train);
        double norm = grad_norm(tr.grads, tr.n);
        if (!isfinite(norm) || !isfinite(p.train.loss)) {
            err_set(e, "the loss or gradient is not finite at step %d: lower the learning rate", step + 1);
            goto done;
        }
        p.lr = lr_at(&sched, step), p.grad_norm = norm;
        adamw_update(&opt, tr.tab, tr.params, tr.grads, p.lr, clip_scale(norm, o->grad_clip));
        p.step_s = timing_now() - t0, p.tokens = (int64_t)r.B * r.T;
        int last = step + 1 == o->steps || (o->stop && *o->stop);
        if (val && val->n && (last || (o->eval_every > 0 && (step + 1) % o->eval_every == 0))) {
            if (dpo_evaluate(m, val, ref_val, o->beta, o->batch, &p.val, e) != 0) goto done;
            p.has_val = 1;
        }
        if (fn) fn(&p, ctx);
        if (last) break;
    }
    if (l) l->training = 0;
    *lora_out = l;
    tr.lora = NULL;  // the caller's now
    rc = 0;
done:
    trainable_free(&tr, m);
    adamw_free(&opt);
    pref_rows_free(&r);
    free(ref), free(ref_val), free(lp), free(order);
    return rc;
}
