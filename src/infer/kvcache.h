// kvcache: incremental forward passes for generation.  Keys and values of every position seen
// are kept per layer, so each new token costs one row through the model instead of a forward
// pass over the whole sequence.
//
//     kv_cache_t c;
//     if (kv_init(&c, &m, T, 256, &e) != 0) ...                 // up to T positions, 256 at a time
//     kv_forward(&c, &m, prompt, n, 0, &e);                      // prefill: logits of the last only
//     int next = sample_argmax(kv_logits(&c, 0), V);
//     kv_forward(&c, &m, &next, 1, 0, &e);                       // one more position
//     kv_free(&c);
//
// The model is read only (any number of caches may share one gpt_t).  Same kernels as
// gpt_forward for the norms, matrix products, RoPE and MLP; the attention of the new rows over
// the cached ones is its own loop.  Logits agree with gpt_forward over the whole sequence to
// float rounding (tests/test_infer.c checks every position, both families, GQA).
//
// Shapes: L layers, T capacity (<= the model's context), NKV key/value heads of HS, C width,
// V vocabulary, n new positions (<= chunk).
#ifndef MANABI_INFER_KVCACHE_H
#define MANABI_INFER_KVCACHE_H

#include <stdint.h>

#include "core/err.h"
#include "model/gpt.h"

typedef struct kv_cache {
    int T, chunk;            // capacity in positions; most new positions per kv_forward
    int pos;                 // positions filled so far
    int V;                   // vocabulary (the length of a logits row)
    float *k, *v;            // (L, T, NKV, HS) after RoPE (Llama)
    // scratch for up to chunk new positions
    float *x, *xmid, *norm, *rstd, *mean;  // (chunk, C) x3, (chunk) x2
    float *qkv;              // (chunk, QKV)
    float *atty;             // (chunk, C)
    float *fch, *fca;        // (chunk, FH), (chunk, F)
    float *scores;           // (chunk, NH, T)
    float *logits;           // (chunk, V): the last kv_forward's logits
    int n_logits;            // rows of logits the last kv_forward wrote
} kv_cache_t;

// A cache of T positions (1 <= T <= context) taking up to chunk positions per call.  On failure
// c is zeroed (kv_free-safe) and e says why.
int kv_init(kv_cache_t *c, const gpt_t *m, int T, int chunk, err_t *e);
void kv_free(kv_cache_t *c);  // NULL-safe, and safe twice
// Forgets every position (the buffers stay).
void kv_reset(kv_cache_t *c);

// Runs tokens[0..n) at positions pos .. pos + n - 1, appends their keys and values and
// advances pos.  Writes the logits of every new position (all_logits) or of the last only into
// the cache's logits.  -1 with e when n is not in [1, chunk], the cache would overflow (the
// caller decides to stop or to start over: nothing is read past T) or a token is out of
// [0, V).  The token ids are checked before anything changes.
int kv_forward(kv_cache_t *c, const gpt_t *m, const int32_t *tokens, int n, int all_logits, err_t *e);

// Logits row i (0 <= i < n_logits) of the last kv_forward, (V).
const float *kv_logits(const kv_cache_t *c, int i);

#endif
