// sample: choosing the next token from logits.  Samplers are pure functions: the random
// number is an argument, so a test can drive them exactly.
#ifndef MANABI_INFER_SAMPLE_H
#define MANABI_INFER_SAMPLE_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"

// Index of the largest logit (the first on ties).
int sample_argmax(const float *logits, int V);

// The sampler chain, in llama.cpp's order: penalties over the last repeat_last_n tokens, top-k,
// top-p, min-p (these three on the probabilities at temperature 1), then temperature, then the
// draw.  Defaults (sample_config_default) are llama.cpp's: temperature 0.8, top_k 40,
// top_p 0.95, min_p 0.05, repeat_penalty 1 (off), repeat_last_n 64, frequency and presence
// penalties 0.  temperature 0 is greedy (argmax after the penalties).
typedef struct sample_config {
    float temperature;       // >= 0
    int top_k;               // 0: off; else keep the k most likely
    float top_p;             // (0, 1]: keep the smallest set whose probability reaches top_p
    float min_p;             // [0, 1): keep tokens with p >= min_p * the top p
    float repeat_penalty;    // > 0: seen tokens' logits divided by it (multiplied when negative)
    float frequency_penalty; // logit -= frequency_penalty * count in the window
    float presence_penalty;  // logit -= presence_penalty once a token is in the window
    int repeat_last_n;       // >= 0: the window the penalties look at
} sample_config_t;

void sample_config_default(sample_config_t *c);
// -1 with e naming the field and its range when a value is out of range; the message starts
// with the field's name as a command-line flag has it ("top-p 1.5: ...").
int sample_config_check(const sample_config_t *c, err_t *e);

// A sampler's scratch for vocabularies of up to V tokens; sample_free(NULL) is safe.
typedef struct sampler sampler_t;
sampler_t *sampler_new(int V);
void sampler_free(sampler_t *s);

// The next token after history[0..n) given logits (V), with coin uniform in [0, 1).  Pure:
// logits are not modified and the same inputs give the same token.
int sample_next(sampler_t *s, const sample_config_t *c, const float *logits, int V, const int32_t *history, int n,
                float coin);

#endif
