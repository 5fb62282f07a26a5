// loader: batches of (inputs, targets) windows from a set of token shards.
//
// A window is T+1 consecutive tokens of one shard: inputs are the first T, targets the last T.
// Two orders:
//   random      each window starts at a uniformly random position (shards weighted by size);
//   sequential  windows follow each other through the shards, in file order, wrapping
//               around (the epoch counter counts wraps).
// The loader's whole state (RNG, shard, position, epoch) is a plain struct so a checkpoint
// can save it and a resumed run continues with exactly the same batches.
#ifndef MANABI_DATA_LOADER_H
#define MANABI_DATA_LOADER_H

#include <stdint.h>

#include "core/err.h"
#include "core/rng.h"
#include "data/shard.h"

typedef struct loader_state {
    rng_t rng;
    int64_t shard, pos, epoch;
} loader_state_t;

typedef struct loader {
    shard_t *shards;
    int n_shards;
    int64_t total;        // tokens over all shards
    int T;
    int random;
    loader_state_t st;
} loader_t;

// Opens every file matching the glob pattern(s) (comma-separated), sorted by name.  Each shard
// must hold at least T+1 tokens, have ids below vocab_size and, when it records one, the same
// tokenizer hash (pass 0 to skip that check).
int loader_open(loader_t *l, const char *patterns, int T, int random, uint64_t seed, int vocab_size,
                uint64_t tok_hash, err_t *e);
void loader_close(loader_t *l);
// Fills inputs (B, T) and targets (B, T).
void loader_next(loader_t *l, int32_t *inputs, int32_t *targets, int B);
// Back to the first window (sequential order), keeping the RNG.
void loader_rewind(loader_t *l);

#endif
