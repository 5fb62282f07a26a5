#include "align/rl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timing.h"
#include "infer/generate.h"
#include "train/optim.h"
#include "train/trainable.h"

void rl_defaults(rl_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->algo = RL_GRPO;
    o->group = 4, o->prompts = 4, o->steps = 50, o->max_new = 32, o->warmup = 5;
    o->beta = 0.04f, o->temperature = 1.0f, o->lr = 1e-3f, o->grad_clip = 1.0f;
    o->clip = 0.2f, o->gamma = 1.0f, o->lambda = 0.95f, o->vf_coef = 0.1f, o->epochs = 2;
    o->lora_cfg = (lora_config_t){.rank = 8, .alpha = 16, .dropout = 0.0f, .targets = LORA_Q | LORA_V};
    o->seed = 1337;
}

double rl_grpo_token(double logp, double ref, double adv, float beta, double *dlogp) {
    double d = ref - logp, kl = exp(d) - d - 1;
    if (dlogp) *dlogp = -adv + beta * (1 - exp(d));  // dKL/dlog pi = 1 - e^(ref - log pi)
    return -(adv * logp - beta * kl);
}

double rl_ppo_token(double logp, double old, double adv, float clip, double *dlogp) {
    double rho = exp(logp - old), lo = 1 - clip, hi = 1 + clip, c = rho < lo ? lo : rho > hi ? hi : rho;
    int unclipped = rho * adv <= c * adv;  // the min picks the unclipped term (its gradient flows)
    if (dlogp) *dlogp = unclipped ? -rho * adv : 0;
    return -(unclipped ? rho : c) * adv;
}

void rl_gae(const double *r, const double *v, int n, float gamma, float lambda, double *adv, double *ret) {
    double gae = 0;
    for (int t = n - 1; t >= 0; t--) {
        double next = t + 1 < n ? v[t + 1] : 0;
        gae = r[t] + gamma * next - v[t] + gamma * lambda * gae;
        adv[t] = gae, ret[t] = gae + v[t];
    }
}

// The value head's estimate at every position of the last forward: w . hidden_t + b.
static void values(const gpt_t *m, const float *vhead, int R, int Tb, float *v) {
    int C = m->cfg.d_model;
    const float *h = gpt_hidden(m);
    for (size_t k = 0; k < (size_t)R * Tb; k++) {
        double s = vhead[C];
        for (int c = 0; c < C; c++) s += (double)vhead[c] * h[k * C + c];
        v[k] = (float)s;
    }
}

// PPO on one batch of samples (rows already filled, ref holding the reference's log-probs).
static int ppo_update(gpt_t *m, trainable_t *tr, adamw_t *opt, adamw_t *vopt, float *vhead, float *dvhead,
                      const rl_opts_t *o, const int32_t *tokens, const int32_t *targets, const float *weights,
                      const float *ref, float *old, float *adv, float *ret, float *dh, const double *r,
                      const int *ans_len, int R, int Tb, float lr, rl_progress_t *p, err_t *e) {
    int C = m->cfg.d_model;
    size_t n = (size_t)R * Tb;
    // the policy as it sampled: log-probabilities and values
    tr->lora->training = 0;
    gpt_forward(m, tokens, targets, weights, R, Tb);
    for (size_t k = 0; k < n; k++) old[k] = -m->acts.losses[k];
    values(m, vhead, R, Tb, ret);  // ret holds the values for now
    // per-token rewards (the KL penalty, and the answer's reward at its last token), GAE
    double mean = 0, sq = 0;
    int count = 0;
    double *rw = malloc((size_t)Tb * sizeof *rw), *vv = malloc((size_t)Tb * sizeof *vv);
    double *ga = malloc((size_t)Tb * sizeof *ga), *gr = malloc((size_t)Tb * sizeof *gr);
    if (!rw || !vv || !ga || !gr) {
        free(rw), free(vv), free(ga), free(gr);
        return err_set(e, "out of memory");
    }
    for (int i = 0; i < R; i++) {
        size_t row = (size_t)i * Tb;
        int t0 = 0, nt = 0;  // the answer's positions are one run: t0 .. t0 + nt - 1
        while (t0 < Tb && weights[row + t0] == 0) t0++;
        while (t0 + nt < Tb && weights[row + t0 + nt] != 0) nt++;
        for (int j = 0; j < nt; j++) {
            size_t k = row + t0 + j;
            double d = ref[k] - old[k];
            rw[j] = o->beta * d + (j == nt - 1 ? r[i] : 0);  // -beta (log pi_old - log ref)
            vv[j] = ret[k];
            p->kl += (exp(d) - d - 1) / ans_len[i] / R;
        }
        rl_gae(rw, vv, nt, o->gamma, o->lambda, ga, gr);
        for (int j = 0; j < nt; j++) {
            adv[row + t0 + j] = (float)ga[j], ret[row + t0 + j] = (float)gr[j];
            mean += ga[j], sq += ga[j] * ga[j], count++;
        }
    }
    free(rw), free(vv), free(ga), free(gr);
    if (count == 0) return 0;
    mean /= count;
    double var = sq / count - mean * mean, sd = sqrt(var > 0 ? var : 0) + 1e-8;  // rounding can make var < 0
    for (size_t k = 0; k < n; k++)
        if (weights[k] != 0) adv[k] = (float)((adv[k] - mean) / sd);
    for (int epoch = 0; epoch < o->epochs; epoch++) {
        lora_zero_grad(tr->lora);
        memset(dvhead, 0, ((size_t)C + 1) * sizeof *dvhead);
        tr->lora->training = 1;
        gpt_forward(m, tokens, targets, weights, R, Tb);
        const float *h = gpt_hidden(m);
        memset(dh, 0, n * C * sizeof *dh);
        double loss = 0;
        for (size_t k = 0; k < n; k++) {
            m->acts.dloss[k] = 0;
            if (weights[k] == 0) continue;
            double logp = -m->acts.losses[k], dlogp;
            double pg = rl_ppo_token(logp, old[k], adv[k], o->clip, &dlogp);
            double v = vhead[C];
            for (int c = 0; c < C; c++) v += (double)vhead[c] * h[k * C + c];
            double dv = 2 * o->vf_coef * (v - ret[k]) / count;
            loss += (pg + o->vf_coef * (v - ret[k]) * (v - ret[k])) / count;
            m->acts.dloss[k] = (float)(-dlogp / count);  // CE = -log pi
            for (int c = 0; c < C; c++) {
                dvhead[c] += (float)(dv * h[k * C + c]);
                dh[k * C + c] = (float)(dv * vhead[c]);
            }
            dvhead[C] += (float)dv;
        }
        gpt_backward_plus(m, dh);
        double g1 = grad_norm(tr->grads, tr->n), g2 = grad_norm(dvhead, (size_t)C + 1), norm = sqrt(g1 * g1 + g2 * g2);
        if (!isfinite(norm)) return err_set(e, "the gradient is not finite: lower the learning rate");
        float scale = clip_scale(norm, o->grad_clip);
        adamw_update(opt, NULL, tr->params, tr->grads, lr, scale);
        adamw_update(vopt, NULL, vhead, dvhead, lr, scale);
        if (epoch == 0) p->loss = loss;
    }
    return 0;
}

int rl_train(gpt_t *m, const tok_t *tok, lora_t **lora_out, const int32_t *const *prompts, const int *lens,
               size_t n, const int32_t *stops, int n_stops, rl_reward_fn reward, void *rctx, const rl_opts_t *o,
               rl_progress_fn fn, void *ctx, err_t *e) {
    *lora_out = NULL;
    if (n == 0) return err_set(e, "no prompts");
    if ((o->algo == RL_GRPO && o->group < 2) || o->group < 1 || o->prompts < 1 || o->prompts > 256 || o->steps < 1 || o->max_new < 1 || !(o->beta >= 0))
        return err_set(e, "group %d (>= 2), prompts %d (<= 256), steps %d, max new %d, beta %g: give positive values", o->group,
                       o->prompts, o->steps, o->max_new, o->beta);
    int P = o->prompts < (int)n ? o->prompts : (int)n, G = o->group, R = P * G, T = 2;
    for (size_t i = 0; i < n; i++) T = lens[i] + o->max_new > T ? lens[i] + o->max_new : T;
    if (T > m->cfg.context)
        return err_set(e, "a prompt and %d answer tokens make %d, more than the context of %d: shorten them", o->max_new, T,
                       m->cfg.context);
    trainable_t tr = {0};
    adamw_t opt = {0};
    gen_t *g = NULL;
    gen_output_t *out = calloc((size_t)R, sizeof *out);
    size_t *order = malloc(n * sizeof *order), nr = (size_t)R * T;
    const int32_t **pp = malloc((size_t)P * sizeof *pp);
    int *pl = malloc((size_t)P * sizeof *pl), *ans_len = malloc((size_t)R * sizeof(int));
    int32_t *tokens = malloc(nr * sizeof *tokens), *targets = malloc(nr * sizeof *targets);
    float *weights = malloc(nr * sizeof *weights), *ref = malloc(nr * sizeof *ref);
    double *r = malloc((size_t)R * sizeof *r), *adv = malloc((size_t)R * sizeof *adv);
    int ppo = o->algo == RL_PPO, C = m->cfg.d_model;
    float *old = ppo ? malloc(nr * sizeof *old) : NULL, *tadv = ppo ? malloc(nr * sizeof *tadv) : NULL;
    float *ret = ppo ? malloc(nr * sizeof *ret) : NULL, *dh = ppo ? malloc(nr * C * sizeof *dh) : NULL;
    float *vhead = ppo ? calloc((size_t)C + 1, sizeof *vhead) : NULL, *dvhead = ppo ? calloc((size_t)C + 1, sizeof *dvhead) : NULL;
    adamw_t vopt = {0};
    int rc = -1;
    rng_t rng;
    rng_seed(&rng, o->seed);
    if (!out || !order || !pp || !pl || !ans_len || !tokens || !targets || !weights || !ref || !r || !adv ||
        (ppo && (!old || !tadv || !ret || !dh || !vhead || !dvhead))) {
        err_set(e, "out of memory");
        goto done;
    }
    if (trainable_init(&tr, m, &o->lora_cfg, &rng, e) != 0) goto done;
    if (gpt_alloc_train(m, R, T, e) != 0 || trainable_grads(&tr, m, e) != 0) goto done;
    if (adamw_init(&opt, tr.n, 0.9f, 0.999f, 1e-8f, 0.0f, e) != 0 || !(g = gen_new(m, tok, R, e))) goto done;
    if (ppo && adamw_init(&vopt, (size_t)C + 1, 0.9f, 0.999f, 1e-8f, 0.0f, e) != 0) goto done;
    gen_config_t gc;
    gen_config_default(&gc);
    gc.sample = (sample_config_t){.temperature = o->temperature, .top_k = 0, .top_p = 1, .min_p = 0,
                                  .repeat_penalty = 1, .repeat_last_n = 0};
    gc.max_new = o->max_new, gc.stop_tokens = stops, gc.n_stop_tokens = n_stops;
    lr_schedule_t sched = {.kind = LR_COSINE, .lr = o->lr, .min_lr = 0.1f * o->lr, .warmup = o->warmup,
                           .total = o->steps};
    for (size_t i = 0; i < n; i++) order[i] = i;
    size_t next = n, picked[256];
    for (int step = 0; step < o->steps; step++) {
        for (int j = 0; j < P; j++) {
            if (next == n) rng_shuffle(&rng, order, n), next = 0;
            picked[j] = order[next++];
            pp[j] = prompts[picked[j]], pl[j] = lens[picked[j]];
        }
        // sample the groups with the current policy
        double t0 = timing_now();
        tr.lora->training = 0;
        gen_reset(g);  // the weights moved: cached keys and values are stale
        if (gen_run(g, &gc, pp, pl, P, G, &rng, NULL, NULL, out, e) != 0) goto done;
        rl_progress_t p = {.step = step + 1, .steps = o->steps};
        for (int i = 0; i < R; i++) {
            r[i] = reward(picked[i / G], out[i].text ? out[i].text : "", out[i].tokens, out[i].n, rctx);
            p.reward += r[i] / R;
        }
        for (int j = 0; j < P; j++) {  // advantages within each group
            double mean = 0, var = 0;
            for (int k = 0; k < G; k++) mean += r[j * G + k] / G;
            for (int k = 0; k < G; k++) var += (r[j * G + k] - mean) * (r[j * G + k] - mean) / G;
            for (int k = 0; k < G; k++) adv[j * G + k] = (r[j * G + k] - mean) / (sqrt(var) + 1e-4);
        }
        for (int i = 0; i < R; i++) p.reward_std += (r[i] - p.reward) * (r[i] - p.reward) / R;
        p.reward_std = sqrt(p.reward_std);
        double t1 = timing_now();
        // rows: prompt + answer; trained positions predict the answer's tokens
        int Tb = 2;
        for (int i = 0; i < R; i++) Tb = pl[i / G] + out[i].n > Tb ? pl[i / G] + out[i].n : Tb;
        for (int i = 0; i < R; i++) {
            int np = pl[i / G], len = np + out[i].n;
            int32_t *tk = tokens + (size_t)i * Tb, *tg = targets + (size_t)i * Tb;
            float *w = weights + (size_t)i * Tb;
            memcpy(tk, pp[i / G], (size_t)np * sizeof(int32_t));
            memcpy(tk + np, out[i].tokens, (size_t)out[i].n * sizeof(int32_t));
            for (int t = len; t < Tb; t++) tk[t] = tk[0];
            for (int t = 0; t < Tb; t++) {
                int on = t >= np - 1 && t < len - 1;
                tg[t] = on ? tk[t + 1] : 0, w[t] = on ? 1.0f : 0.0f;
            }
            ans_len[i] = out[i].n;
            p.answer_tokens += (double)out[i].n / R;
        }
        // the reference: the same weights without the adapters
        m->lora = NULL;
        gpt_forward(m, tokens, targets, weights, R, Tb);
        for (size_t k = 0; k < (size_t)R * Tb; k++) ref[k] = -m->acts.losses[k];
        m->lora = tr.lora;
        if (ppo) {
            if (ppo_update(m, &tr, &opt, &vopt, vhead, dvhead, o, tokens, targets, weights, ref, old, tadv, ret, dh, r, ans_len,
                           R, Tb, lr_at(&sched, step), &p, e) != 0)
                goto done;
            gen_output_free(out, R);
        } else {
            // the policy, then d loss / d CE_t as each position's weight
            lora_zero_grad(tr.lora);
            gpt_forward(m, tokens, targets, weights, R, Tb);
            int counted = 0;
            for (int i = 0; i < R; i++) {
                if (ans_len[i] == 0) continue;
                counted++;
                for (int t = 0; t < Tb; t++) {
                    size_t k = (size_t)i * Tb + t;
                    if (weights[k] == 0) {
                        m->acts.dloss[k] = 0;
                        continue;
                    }
                    double logp = -m->acts.losses[k], d = ref[k] - logp, kl = exp(d) - d - 1, dlogp;
                    double term = rl_grpo_token(logp, ref[k], adv[i], o->beta, &dlogp);
                    m->acts.dloss[k] = (float)(-dlogp / ans_len[i] / R);  // CE = -log pi
                    p.kl += kl / ans_len[i] / R;
                    p.loss += term / ans_len[i] / R;
                }
            }
            if (counted == 0) memset(m->acts.dloss, 0, (size_t)R * Tb * sizeof(float));
            gen_output_free(out, R);
            gpt_backward(m);
            double norm = grad_norm(tr.grads, tr.n);
            if (!isfinite(norm)) {
                err_set(e, "the gradient is not finite at step %d: lower the learning rate", step + 1);
                goto done;
            }
            adamw_update(&opt, NULL, tr.params, tr.grads, lr_at(&sched, step), clip_scale(norm, o->grad_clip));
        }
        p.gen_s = t1 - t0, p.train_s = timing_now() - t1;
        if (fn) fn(&p, ctx);
        if (o->stop && *o->stop) break;
    }
    *lora_out = tr.lora;
    tr.lora = NULL;
    rc = 0;
done:
    trainable_free(&tr, m);
    adamw_free(&opt);
    gen_free(g);
    gen_output_free(out, R);
    free(out), free(order), free(pp), free(pl), free(ans_len), free(tokens), free(targets), free(weights), free(ref);
    free(r), free(adv), free(old), free(tadv), free(ret), free(dh), free(vhead), free(dvhead);
    adamw_free(&vopt);
    return rc;
}
