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

// Runs tokens[0..n) through the emptied cache, in chunks; the logits of the last stay.
static int prefill(const gpt_t *m, kv_cache_t *c, const int32_t *tokens, int n, err_t *e) {
    kv_reset(c);
    for (int at = 0; at < n; at += c->chunk) {
        int k = n - at < c->chunk ? n - at : c->chunk;
        if (kv_forward(c, m, tokens + at, k, 0, e) != 0) return -1;
    }
    return 0;
}

int generate(const gpt_t *m, kv_cache_t *c, int32_t *tokens, int n, int cap, int max_new, float temperature,
             rng_t *rng, generate_cb cb, void *ctx, err_t *e) {
    int V = m->cfg.vocab_size, start = n > c->T ? n - c->T : 0;
    if (n < 1) return err_set(e, "generate: the sequence is empty (give at least one token)");
    if (prefill(m, c, tokens + start, n - start, e) != 0) return -1;
    for (int k = 0; k < max_new && n < cap; k++) {
        const float *last = kv_logits(c, c->n_logits - 1);
        int32_t next = temperature > 0 ? sample_temperature(last, V, temperature, rng_uniform(rng)) : sample_argmax(last, V);
        tokens[n++] = next;
        if (cb && cb(next, ctx)) break;
        if (k + 1 == max_new || n == cap) break;
        if (c->pos == c->T) {  // full: keep the most recent half in view
            int keep = c->T / 2 > 0 ? c->T / 2 : 1;
            if (prefill(m, c, tokens + n - keep, keep, e) != 0) return -1;
        } else if (kv_forward(c, m, &next, 1, 0, e) != 0) {
            return -1;
        }
    }
    return n;
}
