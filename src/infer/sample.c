#include "infer/sample.h"

#include <math.h>

int sample_argmax(const float *logits, int V) {
    int best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int sample_temperature(const float *logits, int V, float temperature, float coin) {
    float mx = logits[sample_argmax(logits, V)];
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((logits[i] - mx) / temperature);
    double target = coin * sum, acc = 0;
    for (int i = 0; i < V; i++) {
        acc += exp((logits[i] - mx) / temperature);
        if (acc > target) return i;
    }
    return V - 1;  // rounding: coin * sum landed at the very top
}

int generate_simple(gpt_t *m, int32_t *tokens, int n, int cap, int max_new, float temperature, rng_t *rng,
                    generate_cb cb, void *ctx) {
    int ctxlen = m->cfg.context, V = m->cfg.vocab_size;
    for (int k = 0; k < max_new && n < cap; k++) {
        int start = n > ctxlen ? n - ctxlen : 0, T = n - start;
        gpt_forward(m, tokens + start, NULL, NULL, 1, T);
        const float *last = gpt_logits(m) + (size_t)(T - 1) * V;
        int next = temperature > 0 ? sample_temperature(last, V, temperature, rng_uniform(rng)) : sample_argmax(last, V);
        tokens[n++] = next;
        if (cb && cb(next, ctx)) break;
    }
    return n;
}
