// sample: choosing the next token from logits.  Samplers are pure functions: the random
// number is an argument, so a test can drive them exactly.
#ifndef MANABI_INFER_SAMPLE_H
#define MANABI_INFER_SAMPLE_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "infer/kvcache.h"
#include "model/gpt.h"

// Index of the largest logit (the first on ties).
int sample_argmax(const float *logits, int V);
// Samples from softmax(logits / temperature) with coin uniform in [0, 1); temperature > 0.
int sample_temperature(const float *logits, int V, float temperature, float coin);

// Called with each new token; return non-zero to stop.
typedef int (*generate_cb)(int32_t token, void *ctx);

// Extends tokens[0..n) (capacity cap) by up to max_new tokens, greedy when temperature == 0,
// through the KV cache c (kvcache.h), which it resets and fills with the prompt first (in
// chunks of c->chunk).  When the cache is full the most recent half of the sequence is run
// through it again and generation goes on (the oldest tokens drop out of view); nothing is
// read past the cache.  Returns the new length, or -1 with e (a token outside the vocabulary).
int generate(const gpt_t *m, kv_cache_t *c, int32_t *tokens, int n, int cap, int max_new, float temperature,
             rng_t *rng, generate_cb cb, void *ctx, err_t *e);

#endif
