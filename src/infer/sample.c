#include "infer/sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sample_argmax(const float *logits, int V) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

void sample_config_default(sample_config_t *c) {
    *c = (sample_config_t){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .repeat_penalty = 1.0f,
                           .repeat_last_n = 64};
}

int sample_config_check(const sample_config_t *c, err_t *e) {
    if (!(c->temperature >= 0)) return err_set(e, "temperature %g: give a value >= 0 (0: greedy)", c->temperature);
    if (c->top_k < 0) return err_set(e, "top-k %d: give 0 (off) or a positive count", c->top_k);
    if (!(c->top_p > 0 && c->top_p <= 1)) return err_set(e, "top-p %g: give a value in (0, 1]", c->top_p);
    if (!(c->min_p >= 0 && c->min_p < 1)) return err_set(e, "min-p %g: give a value in [0, 1)", c->min_p);
    if (!(c->repeat_penalty > 0)) return err_set(e, "repeat-penalty %g: give a value > 0 (1: off)", c->repeat_penalty);
    if (!isfinite(c->frequency_penalty) || !isfinite(c->presence_penalty))
        return err_set(e, "frequency-penalty %g, presence-penalty %g: give finite numbers", c->frequency_penalty,
                       c->presence_penalty);
    if (c->repeat_last_n < 0) return err_set(e, "repeat-last-n %d: give a count >= 0", c->repeat_last_n);
    return 0;
}

typedef struct cand {
    float logit;
    int id;
} cand_t;

struct sampler {
    int V;
    cand_t *c;       // (V) candidates
    int32_t *count;  // (V) occurrences in the penalty window
};

sampler_t *sampler_new(int V) {
    sampler_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->V = V;
    s->c = malloc((size_t)V * sizeof *s->c);
    s->count = calloc((size_t)V, sizeof *s->count);
    if (!s->c || !s->count) {
        sampler_free(s);
        return NULL;
    }
    return s;
}

void sampler_free(sampler_t *s) {
    if (!s) return;
    free(s->c), free(s->count);
    free(s);
}

static int by_logit_desc(const void *a, const void *b) {
    const cand_t *x = a, *y = b;
    return x->logit < y->logit ? 1 : x->logit > y->logit ? -1 : x->id - y->id;
}

int sample_next(sampler_t *s, const sample_config_t *c, const float *logits, int V, const int32_t *history, int n,
                float coin) {
    cand_t *cd = s->c;
    for (int i = 0; i < V; i++) cd[i] = (cand_t){logits[i], i};
    // penalties over the last repeat_last_n tokens
    int from = n - c->repeat_last_n > 0 ? n - c->repeat_last_n : 0;
    for (int i = from; i < n; i++) s->count[history[i]]++;
    for (int i = from; i < n; i++) {
        int t = history[i];
        if (!s->count[t]) continue;  // done already
        float *l = &cd[t].logit;
        *l = *l > 0 ? *l / c->repeat_penalty : *l * c->repeat_penalty;
        *l -= (float)s->count[t] * c->frequency_penalty + c->presence_penalty;
        s->count[t] = 0;
    }
    if (c->temperature == 0) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (cd[i].logit > cd[best].logit) best = i;
        return best;
    }
    int k = c->top_k > 0 && c->top_k < V ? c->top_k : V;
    if (k < V) {
        // The k best into cd[0..k) by insertion, one pass (k is small: 40 by default), so a
        // token does not pay for sorting the whole vocabulary.  cd[0..k) holds the best so far,
        // sorted; a candidate enters only when it beats the last of them.
        for (int i = 1; i < V; i++) {
            cand_t x = cd[i];
            int j = i;  // the free slot: x's own while the prefix grows to k
            if (i >= k) {
                if (by_logit_desc(&x, &cd[k - 1]) >= 0) continue;
                j = k - 1;  // the last of the k drops out
            }
            while (j > 0 && by_logit_desc(&x, &cd[j - 1]) < 0) cd[j] = cd[j - 1], j--;
            cd[j] = x;
        }
    } else {
        qsort(cd, (size_t)V, sizeof *cd, by_logit_desc);
    }
    // probabilities at temperature 1 for top-p and min-p
    float mx = cd[0].logit;
    double sum = 0;
    for (int i = 0; i < k; i++) sum += exp(cd[i].logit - mx);
    double acc = 0;
    int keep = k;
    for (int i = 0; i < k; i++) {  // top-p: the smallest prefix reaching top_p
        acc += exp(cd[i].logit - mx) / sum;
        if (acc >= c->top_p) {
            keep = i + 1;
            break;
        }
    }
    int m = 1;  // min-p: p_i / p_max = exp(logit_i - max) >= min_p
    while (m < keep && exp(cd[m].logit - mx) >= c->min_p) m++;
    keep = m;
    // temperature, then the draw
    double total = 0;
    for (int i = 0; i < keep; i++) total += exp((cd[i].logit - mx) / c->temperature);
    double target = coin * total, run = 0;
    for (int i = 0; i < keep; i++) {
        run += exp((cd[i].logit - mx) / c->temperature);
        if (run > target) return cd[i].id;
    }
    return cd[keep - 1].id;
}
