// generate: continuing prompts through the KV cache, token by token, for one sequence or many
// at once, with stop tokens, stop strings, a length limit and streamed text.
//
//     gen_t *g = gen_new(&m, tok, 8, &e);                  // up to 8 sequences at a time
//     gen_config_t gc;
//     gen_config_default(&gc);                             // llama.cpp's sampler defaults
//     gc.max_new = 100, gc.stop_strings = (const char *[]){"\n\n"}, gc.n_stop_strings = 1;
//     gen_output_t out[4];
//     gen_run(g, &gc, prompts, lens, 2, 2, &rng, print, ctx, out, &e);  // 2 answers to each of 2
//     ... out[i].text, out[i].tokens, out[i].finish ...
//     gen_output_free(out, 4);
//     gen_free(g);
//
// Each prompt is prefilled once, in chunks, and its samples start from copies of that cache
// slot; then every step runs one row per unfinished sequence through the model together (the
// weights are read once for all of them).  A slot keeps what it last held, so a prompt that
// extends the previous one (a chat's history) only prefills the new tokens.
//
// Determinism: the same model, prompts, settings and seed give the same tokens (random numbers
// are drawn in sequence order at every step).  The kernels' threads may change the last bits
// of the logits between thread counts, and so, rarely, a sampled token.
#ifndef MANABI_INFER_GENERATE_H
#define MANABI_INFER_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "infer/sample.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"

// Why a sequence ended.
typedef enum {
    GEN_LENGTH,       // max_new tokens written
    GEN_STOP_TOKEN,   // wrote one of the stop tokens (the last of its tokens)
    GEN_STOP_STRING,  // its text reached a stop string (cut off from the text)
    GEN_CONTEXT,      // the context is full (and slide is off)
    GEN_CALLER,       // the stream callback asked to stop
} gen_finish_t;
// "length", "stop_token", "stop_string", "context", "caller".
const char *gen_finish_name(gen_finish_t f);

typedef struct gen_config {
    sample_config_t sample;          // the sampler chain (sample.h)
    int max_new;                     // most new tokens per sequence, >= 0
    const int32_t *stop_tokens;      // (n_stop_tokens) ids that end a sequence
    int n_stop_tokens;
    const char *const *stop_strings; // (n_stop_strings) non-empty texts that end a sequence; need a tokenizer
    int n_stop_strings;
    int slide;  // when a sequence fills the context: 1 = run its most recent half again and go on, 0 = stop
} gen_config_t;

// sample_config_default, 256 new tokens, no stops, slide off.
void gen_config_default(gen_config_t *c);

typedef struct gen_output {
    int32_t *tokens;     // (n) the new tokens, a stop token included
    int n;
    char *text;          // (len + 1) their bytes, NUL-terminated, a stop string and what follows cut;
    size_t len;          //   special tokens other than stop tokens appear as their strings.  Raw bytes:
                         //   invalid UTF-8 stays as the model wrote it.  NULL without a tokenizer.
    gen_finish_t finish;
} gen_output_t;
void gen_output_free(gen_output_t *o, int n);  // frees n outputs' buffers (o may be NULL)

// Streams text as it becomes final: bytes of output seq that end on a whole UTF-8 character
// and can no longer turn into a stop string.  The pieces of a sequence add up to its text.
// Return non-zero to end that sequence (GEN_CALLER).
typedef int (*gen_stream_fn)(int seq, const char *text, size_t len, void *ctx);

typedef struct gen gen_t;

// Work done since gen_new: positions prefilled and their time, decode steps (one row per
// running sequence) and theirs.  Sampling is counted in the decode time.
typedef struct gen_stats {
    int64_t prefill_tokens, decode_tokens;
    double prefill_s, decode_s;
} gen_stats_t;
const gen_stats_t *gen_stats(const gen_t *g);

// A generator for m (read only, shared) with room for max_seqs sequences at once; tok may be
// NULL (then there is no text and no stop strings).  NULL with e on failure.
gen_t *gen_new(const gpt_t *m, const tok_t *tok, int max_seqs, err_t *e);
void gen_free(gen_t *g);  // NULL-safe
// Forgets what every slot holds (after the model's weights changed: the cached keys and values
// are stale).
void gen_reset(gen_t *g);

// Continues n_prompts prompts (prompts[j], lens[j] tokens, 1 <= lens[j] <= context) with
// n_samples sequences each: out[j * n_samples + q] is sample q of prompt j (the caller's
// array; gen_output_free it).  Prompts go through in groups that fit max_seqs (n_samples must
// be <= max_seqs).  cb may be NULL.  -1 with e for bad settings or prompts (checked before
// any work) or out of memory; out is then empty.
int gen_run(gen_t *g, const gen_config_t *c, const int32_t *const *prompts, const int *lens, int n_prompts,
            int n_samples, rng_t *rng, gen_stream_fn cb, void *ctx, gen_output_t *out, err_t *e);

#endif
