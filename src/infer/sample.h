// sample: choosing the next token from logits.  Samplers are pure functions: the random
// number is an argument, so a test can drive them exactly.
#ifndef MANABI_INFER_SAMPLE_H
#define MANABI_INFER_SAMPLE_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "model/gpt.h"

// Index of the largest logit (the first on ties).
int sample_argmax(const float *logits, int V);
// Samples from softmax(logits / temperature) with coin uniform in [0, 1); temperature > 0.
int sample_temperature(const float *logits, int V, float temperature, float coin);

// Called with each new token; return non-zero to stop.
typedef int (*generate_cb)(int32_t token, void *ctx);

// Extends tokens[0..n) (capacity cap) by up to max_new tokens, greedy when temperature == 0.
// The model needs activations for 1 x context; when the sequence outgrows the context the
// window slides (the oldest tokens are dropped from view).  Recomputes the whole window each
// step (the inference engine with a KV cache is separate).  Returns the new length.
int generate_simple(gpt_t *m, int32_t *tokens, int n, int cap, int max_new, float temperature, rng_t *rng,
                    generate_cb cb, void *ctx);

#endif
