#include "finetune/sft.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/timing.h"
#include "train/optim.h"
#include "train/trainable.h"

void sft_train_defaults(sft_train_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->lora = 1;
    o->lora_cfg = (lora_config_t){.rank = 8, .alpha = 16, .dropout = 0.05f, .targets = LORA_Q | LORA_V};
    o->batch = 8, o->accum = 1, o->steps = 200;
    o->lr = 1e-3f, o->min_lr_frac = 0.1f, o->weight_decay = 0.0f, o->grad_clip = 1.0f;
    o->warmup = 10;
    o->seed = 1337;
}

// The longest example of ds (the row length a padded batch needs).
static int longest(const sft_data_t *ds) {
    int T = 2;
    for (size_t i = 0; i < ds->n_ex; i++) T = ds->ex[i].len > T ? ds->ex[i].len : T;
    return T;
}

// Rows of one micro-batch, with the step's weights: 1 / (trained positions of the whole step)
// where the target is trained, else 0 (the target is then replaced by a valid id).
typedef struct rows {
    int B, T;
    int32_t *tokens, *targets, *pos;  // (B, T)
    float *weights;                   // (B, T)
} rows_t;

static void rows_free(rows_t *r) {
    free(r->tokens), free(r->targets), free(r->pos), free(r->weights);
    memset(r, 0, sizeof *r);
}

static int rows_init(rows_t *r, int B, int T, err_t *e) {
    size_t n = (size_t)B * T;
    r->B = B, r->T = T;
    r->tokens = malloc(n * sizeof(int32_t)), r->targets = malloc(n * sizeof(int32_t));
    r->pos = malloc(n * sizeof(int32_t)), r->weights = malloc(n * sizeof(float));
    if (!r->tokens || !r->targets || !r->pos || !r->weights) {
        rows_free(r);
        return err_set(e, "out of memory for %d x %d rows", B, T);
    }
    return 0;
}

// Fills rows from plan rows [first, first + B) (past the end: padding rows that train nothing),
// weighting trained positions by w.  The rows are cut to the longest of them (*Tb <= T), so a
// micro-batch of short examples runs short rows: rows are written Tb apart.  Returns the
// trained positions filled.
static int fill(rows_t *r, const sft_epoch_t *ep, const sft_data_t *ds, size_t first, float w, int32_t pad, int *Tb) {
    int trained = 0, Tm = 2;
    for (int b = 0; b < r->B && first + b < ep->n_rows; b++) {
        int len = 0;
        for (size_t k = ep->row_first[first + b]; k < ep->row_first[first + b + 1]; k++) len += ds->ex[ep->ex[k]].len;
        Tm = len > Tm ? len : Tm;
    }
    for (int b = 0; b < r->B; b++) {
        size_t at = (size_t)b * Tm;  // row b of the short layout; its full row is written past it first
        if (first + b < ep->n_rows) {
            int32_t *tk = r->tokens + (size_t)b * r->T, *tg = r->targets + (size_t)b * r->T, *ps = r->pos + (size_t)b * r->T;
            sft_epoch_row(ep, ds, first + b, tk, tg, ps);  // rows b' > b are not written yet: no overlap
            memmove(r->tokens + at, tk, (size_t)Tm * sizeof(int32_t));
            memmove(r->targets + at, tg, (size_t)Tm * sizeof(int32_t));
        } else {
            for (int t = 0; t < Tm; t++) r->tokens[at + t] = pad, r->targets[at + t] = -1;
        }
        for (int t = 0; t < Tm; t++) {
            int ok = r->targets[at + t] >= 0;
            r->weights[at + t] = ok ? w : 0.0f;
            if (!ok) r->targets[at + t] = 0;  // any valid id: its weight is 0
            trained += ok;
        }
    }
    *Tb = Tm;
    return trained;
}

double sft_eval_loss(gpt_t *m, const sft_data_t *ds, int batch, err_t *e) {
    int T = longest(ds);
    if (ds->n_ex == 0) return err_set(e, "the held-out set is empty"), -1;
    if (T > m->cfg.context)
        return err_set(e, "a held-out example has %d tokens, more than the model's context of %d", T, m->cfg.context), -1;
    if ((m->acts.B < batch || m->acts.T < T) && gpt_alloc_acts(m, batch, T, e) != 0) return -1;
    sft_epoch_t ep;
    sft_batch_opts_t bo = {.T = T, .layout = SFT_PADDED, .shuffle = 0};
    if (sft_epoch_plan(&ep, ds, &bo, 0, e) != 0) return -1;
    rows_t r;
    if (rows_init(&r, batch, T, e) != 0) {
        sft_epoch_free(&ep);
        return -1;
    }
    int training = m->lora ? m->lora->training : 0;
    if (m->lora) m->lora->training = 0;
    double sum = 0;
    int64_t n = 0;
    for (size_t first = 0; first < ep.n_rows; first += (size_t)batch) {
        int Tb;
        n += fill(&r, &ep, ds, first, 1.0f, ds->eot, &Tb);
        sum += gpt_forward(m, r.tokens, r.targets, r.weights, batch, Tb);
    }
    if (m->lora) m->lora->training = training;
    rows_free(&r);
    sft_epoch_free(&ep);
    return n > 0 ? sum / (double)n : 0.0;
}

int sft_train(gpt_t *m, lora_t **lora_out, const sft_data_t *train, const sft_data_t *val,
              const sft_train_opts_t *o, sft_progress_fn fn, void *ctx, err_t *e) {
    *lora_out = NULL;
    if (train->n_ex == 0) return err_set(e, "no training examples");
    if (o->batch < 1 || o->accum < 1 || o->accum > 64 || o->steps < 1)
        return err_set(e, "batch %d, accum %d, steps %d: give positive numbers (accum at most 64)", o->batch, o->accum,
                       o->steps);
    int T = longest(train);
    if (val && val->n_ex && longest(val) > T) T = longest(val);
    if (T > m->cfg.context)
        return err_set(e, "an example has %d tokens, more than the model's context of %d: load the data with "
                          "max_len = the context", T, m->cfg.context);
    trainable_t tr = {0};
    adamw_t opt = {0};
    rows_t r = {0};
    sft_epoch_t ep = {0};
    int rc = -1;
    rng_t rng;
    rng_seed(&rng, o->seed);
    if (!o->lora) gpt_freeze(m, o->freeze_embeddings, o->freeze_layers, 0);
    if (trainable_init(&tr, m, o->lora ? &o->lora_cfg : NULL, &rng, e) != 0) goto done;
    lora_t *l = tr.lora;
    if (gpt_alloc_train(m, o->batch, T, e) != 0 || trainable_grads(&tr, m, e) != 0) goto done;
    if (adamw_init(&opt, tr.n, 0.9f, 0.999f, 1e-8f, o->weight_decay, e) != 0 || rows_init(&r, o->batch, T, e) != 0)
        goto done;
    lr_schedule_t sched = {.kind = LR_COSINE, .lr = o->lr, .min_lr = o->lr * o->min_lr_frac, .warmup = o->warmup,
                           .total = o->steps};
    sft_batch_opts_t bo = {.T = T, .layout = SFT_PADDED, .shuffle = 1, .seed = o->seed};
    uint64_t epoch = 0;
    size_t next = 0;  // the next plan row
    if (sft_epoch_plan(&ep, train, &bo, epoch, e) != 0) goto done;
    int64_t trained_total = 0;
    for (int step = 0; step < o->steps; step++) {
        double t0 = timing_now();
        // the step's rows, first counted so that every trained token weighs 1 / total
        size_t firsts[64];
        int micro = o->accum, step_trained = 0;
        for (int k = 0; k < micro; k++) {
            if (next >= ep.n_rows) {  // the next epoch, in a new order
                sft_epoch_free(&ep);
                if (sft_epoch_plan(&ep, train, &bo, ++epoch, e) != 0) goto done;
                next = 0;
            }
            firsts[k] = next;
            for (int b = 0; b < o->batch && next + b < ep.n_rows; b++) step_trained += ep.row_trained[next + b];
            next += (size_t)o->batch;
        }
        float w = step_trained > 0 ? 1.0f / (float)step_trained : 0.0f;
        if (l) l->training = 1, lora_zero_grad(l);
        gpt_zero_grad(m);
        double loss = 0;
        int64_t positions = 0;
        for (int k = 0; k < micro; k++) {
            int Tb;
            fill(&r, &ep, train, firsts[k], w, train->eot, &Tb);
            if (l) l->seed = o->seed ^ ((uint64_t)step << 20) ^ (uint64_t)k;
            loss += gpt_forward(m, r.tokens, r.targets, r.weights, o->batch, Tb);
            gpt_backward(m);
            positions += (int64_t)o->batch * Tb;
        }
        if (!isfinite(loss)) {
            err_set(e, "the loss is %g at step %d: lower the learning rate", loss, step + 1);
            goto done;
        }
        double norm = grad_norm(tr.grads, tr.n);
        if (!isfinite(norm)) {
            err_set(e, "the gradient norm is %g at step %d: lower the learning rate", norm, step + 1);
            goto done;
        }
        float lr = lr_at(&sched, step);
        adamw_update(&opt, tr.tab, tr.params, tr.grads, lr, clip_scale(norm, o->grad_clip));
        trained_total += step_trained;
        double dt = timing_now() - t0;
        sft_progress_t p = {.step = step + 1, .steps = o->steps, .loss = loss, .val_loss = -1, .lr = lr,
                            .grad_norm = norm, .trained_tokens = trained_total,
                            .tokens_per_s = (double)positions / (dt > 0 ? dt : 1e-9), .trainable = tr.count};
        if (fn) fn(&p, ctx);
        int last = step + 1 == o->steps || (o->stop && *o->stop);
        if (val && val->n_ex && (last || (o->eval_every > 0 && (step + 1) % o->eval_every == 0))) {
            p.val_loss = sft_eval_loss(m, val, o->batch, e);
            if (p.val_loss < 0) goto done;
            if (fn) fn(&p, ctx);
        }
        if (last) break;
    }
    if (l) l->training = 0;
    *lora_out = l;
    tr.lora = NULL;  // the caller's now
    rc = 0;
done:
    trainable_free(&tr, m);
    adamw_free(&opt);
    rows_free(&r);
    sft_epoch_free(&ep);
    return rc;
}
