#include "align/reward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/safetensors.h"
#include "train/optim.h"
#include "train/trainable.h"

void rm_defaults(rm_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->lora = 1;
    o->lora_cfg = (lora_config_t){.rank = 8, .alpha = 16, .dropout = 0.0f, .targets = LORA_Q | LORA_V};
    o->batch = 8, o->steps = 100, o->warmup = 10;
    o->lr = 1e-3f, o->head_lr = 1e-2f, o->min_lr_frac = 0.1f, o->grad_clip = 1.0f;
    o->seed = 1337;
}

int rm_init(rm_t *rm, gpt_t *m, err_t *e) {
    memset(rm, 0, sizeof *rm);
    rm->m = m, rm->C = m->cfg.d_model;
    rm->head = calloc((size_t)rm->C + 1, sizeof(float));
    rm->dhead = calloc((size_t)rm->C + 1, sizeof(float));
    if (!rm->head || !rm->dhead) {
        rm_free(rm);
        return err_set(e, "out of memory");
    }
    return 0;
}

void rm_free(rm_t *rm) {
    free(rm->head), free(rm->dhead);
    rm->head = rm->dhead = NULL;
}

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

double rm_pair_loss(double sc, double sr, float margin, double *dsc, double *dsr) {
    double z = sc - sr - margin, g = 1.0 / (1.0 + exp(z));  // sigmoid(-z)
    if (dsc) *dsc = -g;
    if (dsr) *dsr = g;
    return softplus(-z);
}

static int ensure_acts(gpt_t *m, int B, int T, int train, err_t *e) {
    if (m->acts.B >= B && m->acts.T >= T && (!train || m->acts.dres)) return 0;
    return train ? gpt_alloc_train(m, B, T, e) : gpt_alloc_acts(m, B, T, e);
}

// Forward over the rows and the score of each: w . hidden[last] + b.
static void score_rows(rm_t *rm, const pref_rows_t *r, double *s) {
    gpt_forward(rm->m, r->tokens, NULL, NULL, r->B, r->T);
    const float *h = gpt_hidden(rm->m);
    for (int row = 0; row < r->B; row++) {
        const float *x = h + ((size_t)row * r->T + r->last[row]) * rm->C;
        double acc = rm->head[rm->C];
        for (int c = 0; c < rm->C; c++) acc += (double)rm->head[c] * x[c];
        s[row] = acc;
    }
}

int rm_scores(rm_t *rm, const pref_data_t *d, int batch, double *scores, err_t *e) {
    if (d->n == 0) return 0;
    int T = pref_longest(d, 0, d->n);
    if (T > rm->m->cfg.context) return err_set(e, "a pair has %d tokens, more than the context of %d", T, rm->m->cfg.context);
    pref_rows_t r;
    size_t *idx = malloc((size_t)batch * sizeof *idx);
    if (!idx) return err_set(e, "out of memory");
    if (pref_rows_init(&r, batch, T, e) != 0) {
        free(idx);
        return -1;
    }
    int rc = 0, training = rm->m->lora ? rm->m->lora->training : 0;
    if (rm->m->lora) rm->m->lora->training = 0;
    for (size_t first = 0; rc == 0 && first < d->n; first += (size_t)batch) {
        int count = (int)(d->n - first < (size_t)batch ? d->n - first : (size_t)batch);
        for (int i = 0; i < count; i++) idx[i] = first + i;
        pref_rows_fill(&r, d, idx, count);
        if ((rc = ensure_acts(rm->m, r.B, r.T, 0, e)) == 0) score_rows(rm, &r, scores + 2 * first);
    }
    if (rm->m->lora) rm->m->lora->training = training;
    free(idx);
    pref_rows_free(&r);
    return rc;
}

int rm_score_one(rm_t *rm, const int32_t *ids, int n, double *score, err_t *e) {
    if (n < 1 || n > rm->m->cfg.context)
        return err_set(e, "%d tokens to score: give 1 to the context of %d", n, rm->m->cfg.context);
    if (ensure_acts(rm->m, 1, n, 0, e) != 0) return -1;
    int last = n - 1;
    pref_rows_t r = {.B = 1, .T = n, .tokens = (int32_t *)ids, .last = &last};
    score_rows(rm, &r, score);
    return 0;
}

int rm_accuracy(rm_t *rm, const pref_data_t *d, int batch, double *accuracy, err_t *e) {
    double *s = malloc((2 * d->n + 1) * sizeof *s);
    if (!s) return err_set(e, "out of memory");
    int rc = rm_scores(rm, d, batch, s, e);
    size_t right = 0;
    for (size_t i = 0; rc == 0 && i < d->n; i++) right += s[2 * i] > s[2 * i + 1];
    *accuracy = d->n ? (double)right / (double)d->n : 0;
    free(s);
    return rc;
}

// One batch: scores, the loss, d loss / d hidden at each row's last token, backward.
static double gradient(rm_t *rm, pref_rows_t *r, const pref_data_t *d, const size_t *idx, int count, float margin,
                       double *s, float *dh, double *accuracy) {
    pref_rows_fill(r, d, idx, count);
    score_rows(rm, r, s);
    const float *h = gpt_hidden(rm->m);
    size_t n = (size_t)r->B * r->T * rm->C;
    memset(dh, 0, n * sizeof(float));
    double loss = 0;
    int right = 0;
    for (int i = 0; i < count; i++) {
        double g[2];
        loss += rm_pair_loss(s[2 * i], s[2 * i + 1], margin, &g[0], &g[1]) / count;
        right += s[2 * i] > s[2 * i + 1];
        for (int side = 0; side < 2; side++) {
            int row = 2 * i + side;
            size_t at = ((size_t)row * r->T + r->last[row]) * rm->C;
            float gs = (float)(g[side] / count);
            for (int c = 0; c < rm->C; c++) {
                rm->dhead[c] += gs * h[at + c];
                dh[at + c] = gs * rm->head[c];
            }
            rm->dhead[rm->C] += gs;
        }
    }
    gpt_backward_hidden(rm->m, dh);
    if (accuracy) *accuracy = (double)right / count;
    return loss;
}

int rm_gradient(rm_t *rm, const pref_data_t *d, const size_t *idx, int count, float margin, double *loss, err_t *e) {
    int T = pref_longest(d, 0, d->n);
    pref_rows_t r;
    double *s = malloc((size_t)2 * count * sizeof *s);
    float *dh = malloc((size_t)2 * count * T * rm->C * sizeof *dh);
    int rc = s && dh ? pref_rows_init(&r, count, T, e) : err_set(e, "out of memory");
    if (rc == 0) {
        if ((rc = ensure_acts(rm->m, 2 * count, T, 1, e)) == 0) *loss = gradient(rm, &r, d, idx, count, margin, s, dh, NULL);
        pref_rows_free(&r);
    }
    free(s), free(dh);
    return rc;
}

int rm_train(rm_t *rm, lora_t **lora_out, const pref_data_t *train, const pref_data_t *val, const rm_opts_t *o,
             rm_progress_fn fn, void *ctx, err_t *e) {
    *lora_out = NULL;
    gpt_t *m = rm->m;
    if (train->n == 0) return err_set(e, "no preference pairs to train on");
    if (o->batch < 1 || o->batch > 256 || o->steps < 1)
        return err_set(e, "batch %d, steps %d: give positive values (batch at most 256)", o->batch, o->steps);
    int T = pref_longest(train, 0, train->n);
    if (val && val->n && pref_longest(val, 0, val->n) > T) T = pref_longest(val, 0, val->n);
    if (T > m->cfg.context) return err_set(e, "a pair has %d tokens, more than the context of %d", T, m->cfg.context);
    trainable_t tr = {0};
    lora_t *l = NULL;
    adamw_t opt = {0}, hopt = {0};
    pref_rows_t r = {0};
    double *s = malloc((size_t)2 * o->batch * sizeof *s);
    float *dh = malloc((size_t)2 * o->batch * T * rm->C * sizeof *dh);
    size_t *order = malloc(train->n * sizeof *order);
    int rc = -1;
    rng_t rng;
    rng_seed(&rng, o->seed);
    if (!s || !dh || !order) {
        err_set(e, "out of memory");
        goto done;
    }
    if (trainable_init(&tr, m, o->lora ? &o->lora_cfg : NULL, &rng, e) != 0) goto done;
    l = tr.lora;
    if (gpt_alloc_train(m, 2 * o->batch, T, e) != 0 || trainable_grads(&tr, m, e) != 0 ||
        pref_rows_init(&r, o->batch, T, e) != 0)
        goto done;
    if (adamw_init(&opt, tr.n, 0.9f, 0.999f, 1e-8f, 0.0f, e) != 0 ||
        adamw_init(&hopt, (size_t)rm->C + 1, 0.9f, 0.999f, 1e-8f, 0.0f, e) != 0)
        goto done;
    lr_schedule_t sched = {.kind = LR_COSINE, .lr = 1.0f, .min_lr = o->min_lr_frac, .warmup = o->warmup,
                           .total = o->steps};  // a factor on lr and head_lr
    for (size_t i = 0; i < train->n; i++) order[i] = i;
    size_t next = train->n;
    for (int step = 0; step < o->steps; step++) {
        size_t idx[256];
        for (int k = 0; k < o->batch; k++) {
            if (next == train->n) {  // a new epoch in a new order
                rng_shuffle(&rng, order, train->n);
                next = 0;
            }
            idx[k] = order[next++];
        }
        if (l) lora_zero_grad(l);
        gpt_zero_grad(m);
        memset(rm->dhead, 0, ((size_t)rm->C + 1) * sizeof(float));
        rm_progress_t p = {.step = step + 1, .steps = o->steps, .val_accuracy = -1};
        p.loss = gradient(rm, &r, train, idx, o->batch, o->margin, s, dh, &p.accuracy);
        double n2 = grad_norm(tr.grads, tr.n), nh = grad_norm(rm->dhead, (size_t)rm->C + 1);
        p.grad_norm = sqrt(n2 * n2 + nh * nh);
        if (!isfinite(p.grad_norm) || !isfinite(p.loss)) {
            err_set(e, "the loss or gradient is not finite at step %d: lower the learning rate", step + 1);
            goto done;
        }
        float f = lr_at(&sched, step), clip = clip_scale(p.grad_norm, o->grad_clip);
        adamw_update(&opt, tr.tab, tr.params, tr.grads, o->lr * f, clip);
        adamw_update(&hopt, NULL, rm->head, rm->dhead, o->head_lr * f, clip);
        if (val && val->n && (step + 1 == o->steps || (o->eval_every > 0 && (step + 1) % o->eval_every == 0)) &&
            rm_accuracy(rm, val, o->batch, &p.val_accuracy, e) != 0)
            goto done;
        if (fn) fn(&p, ctx);
    }
    *lora_out = l;
    tr.lora = NULL;  // the caller's now
    rc = 0;
done:
    trainable_free(&tr, m);
    adamw_free(&opt), adamw_free(&hopt);
    pref_rows_free(&r);
    free(s), free(dh), free(order);
    return rc;
}

int rm_save_head(const rm_t *rm, const char *path, err_t *e) {
    st_entry_t ents[2] = {
        {.name = "score.weight", .dtype = ST_F32, .ndim = 2, .shape = {1, rm->C}, .data = rm->head},
        {.name = "score.bias", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = rm->head + rm->C},
    };
    const char *kv[] = {"format", "pt", "manabi.kind", "reward-head"};
    return st_write(path, ents, 2, kv, 2, e);
}

int rm_load_head(rm_t *rm, const char *path, err_t *e) {
    st_file_t f;
    if (st_open(&f, path, e) != 0) return -1;
    int64_t sw[2] = {1, rm->C}, sb[1] = {1};
    int rc = st_read_f32(&f, "score.weight", rm->head, 2, sw, e) == 0 && st_read_f32(&f, "score.bias", rm->head + rm->C, 1, sb, e) == 0
                 ? 0
                 : -1;
    st_close(&f);
    return rc;
}
