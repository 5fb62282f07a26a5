// eval: mean next-token loss and bits per byte of a model over token shards.
#ifndef MANABI_TRAIN_EVAL_H
#define MANABI_TRAIN_EVAL_H

#include <stdint.h>

#include "data/loader.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"

typedef struct eval_result {
    double loss;      // mean cross-entropy (nats) over every target token
    double bpb;       // bits per byte: summed loss / ln 2 / bytes, over tokens that stand for text
    int64_t tokens;   // target tokens evaluated
    int64_t bytes;    // text bytes those tokens stand for
} eval_result_t;

// Evaluates up to max_batches batches of B windows from l (sequential order, rewound first);
// max_batches <= 0 means one pass over all the data.  The model needs activations for B x T.
// inputs/targets are caller scratch of B*T ids each.
eval_result_t eval_loss(gpt_t *m, loader_t *l, const tok_t *tok, int B, int max_batches, int32_t *inputs,
                        int32_t *targets);

#endif
