// kvcache: incremental forward passes for generation.  Keys and values of every position seen
// are kept per layer and per sequence slot, so each new token costs one row through the model
// instead of a forward pass over the whole sequence, and the rows of several sequences share
// every weight read (batched generation).
//
//     kv_cache_t c;
//     if (kv_init(&c, &m, 4, T, 256, &e) != 0) ...            // 4 sequences of up to T positions
//     kv_forward(&c, &m, 0, prompt, n, 0, &e);                  // prefill slot 0: logits of the last
//     kv_copy(&c, 1, 0);                                        // slot 1 starts from the same prompt
//     int next[2] = {sample(kv_logits(&c, 0)), ...}, slots[2] = {0, 1};
//     kv_step(&c, &m, slots, next, 2, &e);                      // one more position in each slot
//     kv_free(&c);
//
// The model is read only (any number of caches may share one gpt_t); with m->params_bf16 set
// (gpt_to_bf16) the matrix products read the bf16 copy of the weights, and with m->lora its
// adapters add to them unmerged.  Same kernels as
// gpt_forward for the norms, products, RoPE and MLP; the attention of the new rows over the
// cached ones is its own loop.  Logits agree with gpt_forward over the whole sequence to float
// rounding (tests/test_kvcache.c checks every position, both families, GQA, batches).
//
// Shapes: S slots, L layers, T capacity (<= the model's context), NKV key/value heads of HS,
// C width, V vocabulary, n new rows (<= chunk).
#ifndef MANABI_INFER_KVCACHE_H
#define MANABI_INFER_KVCACHE_H

#include <stdint.h>

#include "core/err.h"
#include "model/gpt.h"

typedef struct kv_cache {
    int S, T, chunk;         // slots; capacity in positions per slot; most new rows per call
    int *pos;                // (S) positions filled so far in each slot
    int V;                   // vocabulary (the length of a logits row)
    int L, kvrow;            // layers; NKV * HS floats per position
    float *k, *v;            // (S, L, T, NKV, HS) after RoPE (Llama)
    // scratch for up to chunk new rows
    int *row_slot, *row_pos; // (chunk) where each new row goes
    float *x, *xmid, *norm, *rstd, *mean;  // (chunk, C) x3, (chunk) x2
    float *qkv;              // (chunk, QKV)
    float *atty;             // (chunk, C)
    float *fch, *fca;        // (chunk, FH), (chunk, F)
    float *scores;           // (chunk, NH, T)
    float *wbuf;             // bf16 weights converted for a prefill (max(BF16_SCRATCH, C, FH, V))
    float *lora_scratch;     // the model's adapters' scratch for chunk rows (model/lora.h), or NULL
    float *logits;           // (chunk, V): the last call's logits
    int n_logits;            // rows of logits the last call wrote
} kv_cache_t;

// A cache of S slots of T positions (1 <= T <= context) taking up to chunk new rows per call
// (chunk >= 1; a kv_step over all slots needs chunk >= S).  On failure c is zeroed
// (kv_free-safe) and e says why.
int kv_init(kv_cache_t *c, const gpt_t *m, int S, int T, int chunk, err_t *e);
void kv_free(kv_cache_t *c);  // NULL-safe, and safe twice
// Keeps the first n positions of slot (0 <= n <= its pos): kv_keep(c, s, 0) empties it.
void kv_keep(kv_cache_t *c, int slot, int n);
// Slot dst holds the same positions as src afterwards (a shared prompt is prefilled once).
void kv_copy(kv_cache_t *c, int dst, int src);

// Runs tokens[0..n) at positions pos .. pos + n - 1 of slot, appends their keys and values and
// advances its pos.  Writes the logits of every new row (all_logits) or of the last only.
// -1 with e when n is not in [1, chunk], the slot would overflow (the caller decides to stop
// or to start over: nothing is read past T) or a token is out of [0, V).  Everything is
// checked before anything changes.
int kv_forward(kv_cache_t *c, const gpt_t *m, int slot, const int32_t *tokens, int n, int all_logits, err_t *e);
// One new token for each of n distinct slots (n <= chunk), in one pass: logits row i belongs
// to slots[i].  Errors as kv_forward's, and for a slot out of range or given twice.
int kv_step(kv_cache_t *c, const gpt_t *m, const int *slots, const int32_t *tokens, int n, err_t *e);

// Logits row i (0 <= i < n_logits) of the last kv_forward or kv_step, (V).
const float *kv_logits(const kv_cache_t *c, int i);

#endif
