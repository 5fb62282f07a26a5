// shard: token files for training, compatible with llm.c / nanoGPT.
//
// Layout: a header of 256 little-endian int32, then the tokens.
//   [0] 20240520 (magic)      [1] version: 1 = uint16 tokens, 2 = uint32 tokens (V > 65536)
//   [2] number of tokens      -- llm.c reads only these three --
//   [3] 0x49424E4D ("MNBI") when the fields below are present (manabi's extension)
//   [4] vocabulary size       [5] end-of-text token id
//   [6..7] tokenizer hash (low, high 32 bits)
//   [8..9] FNV-1a 64 checksum of the token bytes (low, high)
// Documents are separated by the end-of-text token.  A shard without the extension (written
// by llm.c or nanoGPT) is accepted; its tokens are then only checked against the model's
// vocabulary.  Writing is atomic.
#ifndef MANABI_DATA_SHARD_H
#define MANABI_DATA_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SHARD_MAGIC 20240520
#define SHARD_EXT 0x49424E4D

typedef struct shard {
    char path[4096];
    void *map;
    size_t map_size;
    const void *tokens;   // uint16_t or uint32_t
    int width;            // 2 or 4 bytes
    int64_t n;            // number of tokens
    int has_meta;         // the MNBI extension is present
    int vocab_size, eot;  // 0, -1 when unknown
    uint64_t tok_hash;
} shard_t;

// Maps and validates a shard (magic, version, size, checksum).  Close with shard_close.
int shard_open(shard_t *s, const char *path, err_t *e);
void shard_close(shard_t *s);
static inline uint32_t shard_token(const shard_t *s, int64_t i) {
    return s->width == 2 ? ((const uint16_t *)s->tokens)[i] : ((const uint32_t *)s->tokens)[i];
}
// Writes tokens[0..n) atomically, as version 1 when vocab_size <= 65536, else version 2.
int shard_write(const char *path, const int32_t *tokens, int64_t n, int vocab_size, int eot, uint64_t tok_hash,
                err_t *e);

#endif
