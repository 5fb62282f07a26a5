// bpe_train: learning byte-level BPE merges from counted pre-tokens.
//
//     bpe_word_t words[] = {{(const uint8_t *)"low", 3, 5}, {(const uint8_t *)"lower", 5, 2}};
//     bpe_merge_t merges[1000];
//     int n;
//     err_t e = {0};
//     if (bpe_train(words, 2, 1000, 2, merges, &n, &e) != 0) { ...e.msg... }
//     // merges[0] = {'l', 'o', 7}: token 256 is "lo"; merges[1] = {256, 'w', 7}: token 257 is "low"
//
// Pre-tokenization and counting happen before this step: the input is a multiset of pre-tokens
// (byte strings) with 64-bit counts.  Pairs never cross pre-token boundaries.
//
// Token ids: 0..255 are the bytes; merge i creates token 256 + i, whose bytes are those of its
// left token followed by those of its right token.
//
// What a pair's count means.  The count of pair (l, r) is the sum, over pre-tokens, of
// count x (number of places where applying the merge (l, r) -> z to the pre-token would replace
// l r by z).  The merge replaces occurrences greedily from left to right without overlap, so for
// l != r this is simply the number of adjacent occurrences, while a run of k equal symbols
// contributes floor(k / 2) occurrences of (x, x): "aaaaa" holds (a, a) twice and becomes
// [aa, aa, a].  A pair's count is therefore exactly the number of symbols its merge removes.
//
// Which pair is merged.  Each step merges the pair with the largest count; among pairs with equal
// counts, the one with the smaller left id, then the smaller right id.  This total order makes
// training deterministic: the merges do not depend on the order of the words, on hash-table
// layout or on the platform.
//
// Cost: one pass to count every adjacent pair, then each merge touches only the pre-tokens that
// contain its pair (an index pair -> pre-tokens) and updates the counts of the neighbouring pairs
// in place; a max-heap with lazy invalidation finds the next pair.  Memory is proportional to the
// total length of the distinct pre-tokens (15 to 25 bytes per byte of pre-token measured), not to
// the size of the text they were counted from.  About 1.3 s for 30,000 merges over 500,000
// distinct pre-tokens (8.5 MB) on one core: see bench/bpe_train.c.
#ifndef MANABI_TOKENIZER_BPE_TRAIN_H
#define MANABI_TOKENIZER_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

// One pre-token and the number of times it occurs.  The pre-tokens need not be distinct
// (duplicates simply add up), and those of length 0 or 1 or count 0 contribute no pairs.
typedef struct bpe_word {
    const uint8_t *bytes;  // len bytes, borrowed
    uint32_t len;
    uint64_t count;
} bpe_word_t;

// One learned merge: tokens left and right become a new token.
typedef struct bpe_merge {
    int32_t left, right;  // token ids
    uint64_t count;       // the pair's count (see above) when it was merged
} bpe_merge_t;

// Learns up to n_merges merges (0 <= n_merges <= INT32_MAX - 256) from words[0..n_words) into
// out[0..*n_out), out having room for n_merges entries.  Stops early, with *n_out < n_merges,
// when no pair has a count of at least min_count (min_count >= 1).  The sum over words of
// count x (len - 1) must fit in 64 bits, so that no count can overflow.
// Returns 0, or -1 with e set (bad arguments, out of memory); out and *n_out are then undefined.
// Reads words only during the call; holds no state between calls.
int bpe_train(const bpe_word_t *words, size_t n_words, int n_merges, uint64_t min_count,
              bpe_merge_t *out, int *n_out, err_t *e);

#endif
