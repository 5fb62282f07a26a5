// bpe: a byte-level BPE vocabulary and the tiktoken encoding algorithm.
//
// A vocabulary is a list of distinct byte strings; a token's id is its rank.  Encoding a
// piece (one pre-token) follows tiktoken exactly: a piece that is itself a token is that
// token; otherwise start from single bytes and repeatedly merge the adjacent pair whose
// concatenation is a token of lowest rank (the leftmost on ties), until no pair is a token.
// For vocabularies learned by BPE training, where every merge result ranks after its parts,
// this reproduces the learned merges.  Every single byte must be a token, so any byte string
// encodes.
//
// Short pieces use the direct O(n^2) scan (fastest for the few bytes of typical pieces);
// long ones a heap over a linked list, O(n log n), so 100,000 identical bytes do not blow up.
#ifndef MANABI_TOKENIZER_BPE_H
#define MANABI_TOKENIZER_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct bpe {
    int32_t n;            // tokens; ids 0..n-1
    uint8_t *blob;        // the bytes of every token, concatenated
    uint64_t *off;        // (n + 1): token i is blob[off[i], off[i+1])
    uint64_t *slots;      // open-addressing hash table: (hash tag << 32) | (id + 1); 0 = empty
    uint64_t mask;        // table size - 1
    int32_t byte_id[256]; // the id of each single byte
    uint64_t *pairs;      // open addressing: left << 40 | right << 20 | token (20 bits each); ~0 = empty
    uint64_t pair_mask, pair_n;
    int32_t *byte_pair;   // (256 * 256): the same for two single-byte tokens, by their bytes
} bpe_t;

// Builds the vocabulary from tokens[i] (len[i] bytes) with id i.  Fails on a duplicate token,
// an empty token, a missing single byte (naming the id), or more than BPE_MAX_TOKENS tokens.
#define BPE_MAX_TOKENS ((1 << 20) - 1)
int bpe_init(bpe_t *b, const uint8_t *const *tokens, const uint32_t *len, int32_t n, err_t *e);
void bpe_free(bpe_t *b);
// The id of the token with these bytes, or -1.
int32_t bpe_lookup(const bpe_t *b, const uint8_t *s, size_t n);
// The token whose bytes are those of left followed by those of right, or -1.
int32_t bpe_pair(const bpe_t *b, int32_t left, int32_t right);
static inline const uint8_t *bpe_token(const bpe_t *b, int32_t id, size_t *len) {
    *len = (size_t)(b->off[id + 1] - b->off[id]);
    return b->blob + b->off[id];
}

// A remembered encoding of one piece (real text repeats its pieces, Japanese especially).
enum { BPE_CACHE_BYTES = 48, BPE_CACHE_IDS = 24, BPE_CACHE_SLOTS = 2048, BPE_PAIR_CACHE_BITS = 13 };
typedef struct bpe_cache_entry {
    uint64_t hash;
    uint16_t len, nids;  // len 0: empty
    uint8_t bytes[BPE_CACHE_BYTES];
    int32_t ids[BPE_CACHE_IDS];
} bpe_cache_entry_t;

// Scratch space for encoding, one per thread; zero-initialise, free with bpe_scratch_free.
typedef struct bpe_scratch {
    bpe_cache_entry_t *cache;  // BPE_CACHE_SLOTS entries, direct-mapped by hash, or NULL
    uint64_t *pair_cache;      // 2^BPE_PAIR_CACHE_BITS recent pair lookups (see bpe.c)
    size_t cap;
    uint32_t *start;   // part token ids (long pieces)
    int32_t *rank;     // rank of the pair starting at each part
    int32_t *prev, *next;
    uint64_t *heap;
    size_t heap_n;
} bpe_scratch_t;
void bpe_scratch_free(bpe_scratch_t *s);

// Encodes one piece, appending its ids to out (capacity >= n).  Returns the number of ids,
// or -1 when out of memory.
int64_t bpe_encode_piece(const bpe_t *b, bpe_scratch_t *s, const uint8_t *piece, size_t n, int32_t *out);

#endif
