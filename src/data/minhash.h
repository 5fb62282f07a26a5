// minhash: near-duplicate documents by MinHash signatures and LSH banding.
//
//     mh_t m;
//     if (mh_init(&m, MH_BANDS, MH_ROWS, 1234, &e) != 0) return -1;
//     uint64_t *sigs = malloc(n * mh_k(&m) * sizeof *sigs);        // (N, K)
//     for (size_t i = 0; i < n; i++)                                 // safe to run in parallel
//         mh_signature(&m, text[i], len[i], ja[i] ? MH_CHARS : MH_WORDS, sigs + i * mh_k(&m), &e);
//     mh_dedup(&m, sigs, n, MH_VERIFY_DEFAULT, rep, &e);            // rep[i] == i: keep document i
//     mh_free(&m);
//
// Shapes: N documents, K = bands * rows hash functions.
//
// Shingles.  A document is a sequence of tokens and its shingles are the runs of MH_SHINGLE
// (5) consecutive tokens; a document with fewer tokens than that is one shingle of all of
// them, and a document with no tokens has no shingles (its signature is all UINT64_MAX, so
// empty documents are duplicates of one another).
//   MH_WORDS: tokens are maximal runs of non-whitespace bytes, ASCII lower-cased.
//   MH_CHARS: tokens are Unicode code points (UTF-8 decoded; an invalid byte is one token of
//             its own), ASCII lower-cased; a run of whitespace is one space token and leading
//             and trailing whitespace is dropped.  For Japanese, Chinese, text without spaces.
//
// Signature.  Each shingle is hashed to 64 bits once (FNV-1a of each word or the code point,
// mixed, then the tokens of the shingle combined) and put through K hash functions
// h_k(x) = splitmix64-finaliser(x ^ a_k), with the seeds a_k drawn from the seed; entry k is the
// minimum of h_k over the shingles.  Each h_k is a bijection on 64 bits with full avalanche,
// so the K minima act as K independent random orders of the shingles (the tests check the
// estimate against exact Jaccard similarity); unlike (a x + b) mod p, the K functions
// vectorise (8 lanes of AVX-512), which makes the signature about 5x faster.  Same text,
// same seed: same signature, on any machine.  Entries are 64 bits: with 32-bit truncation two
// different minima would be equal with probability 2^-32, harmless for the estimate, but the
// full value keeps the band keys and the estimate exact and the API one type; it costs 8 * K
// bytes per document (896 for K = 112) where 32 bits would cost half.
//
// LSH.  The K entries are cut into `bands` bands of `rows` entries; two documents whose band
// b agrees in all rows (detected through a 64-bit hash of the rows, bucketed by sorting) are
// a candidate pair.  P(candidate) = 1 - (1 - J^rows)^bands for Jaccard similarity J: for the
// default 14 x 8 that is 0.57 at J = 0.7, 0.92 at J = 0.8, 0.99 at J = 0.85 and 0.05 at 0.5.
// Candidates are then verified: kept only if the estimated Jaccard (fraction of equal
// signature entries) is >= verify_threshold.  That sharpens the soft S-curve (centred near
// (1/14)^(1/8) = 0.72) to the 0.8 we mean by "near duplicate", and stops a chance band match
// from chaining unrelated clusters together; the estimate's standard deviation at K = 112 is
// sqrt(J(1-J)/112) <= 0.047, so a pair at J <= 0.5 passes 0.8 with probability ~1e-10.
// Verified pairs are merged by union-find; each cluster's representative, the document kept,
// is its lowest index.
//
// Memory per million documents: signatures 8 * K bytes each = 896 MB (the caller's), rep
// 4 MB (the caller's), and inside mh_dedup 24 MB (one band's (hash, index) table at 16 bytes
// a document, reused for each band, plus union-find at 8 bytes a document).
#ifndef MANABI_DATA_MINHASH_H
#define MANABI_DATA_MINHASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum { MH_BANDS = 14, MH_ROWS = 8, MH_SHINGLE = 5, MH_MAX_K = 4096 };
#define MH_VERIFY_DEFAULT 0.8

typedef enum mh_shingling { MH_WORDS = 0, MH_CHARS = 1 } mh_shingling_t;

typedef struct mh {
    int bands, rows, k;  // k = bands * rows
    uint64_t seed;
    uint64_t *a;         // (K,) the seeds of the K hash functions
} mh_t;

// bands >= 1, rows >= 1, bands * rows <= MH_MAX_K.  On failure m is left zeroed (mh_free-safe).
int mh_init(mh_t *m, int bands, int rows, uint64_t seed, err_t *e);
// Safe on a zeroed or already freed mh_t and on NULL.
void mh_free(mh_t *m);
static inline int mh_k(const mh_t *m) { return m->k; }

// Writes the K = bands * rows signature of text[0..len) into sig.  Allocates nothing and
// reads m only, so threads may share one mh_t.  Fails only on a bad `how` or text == NULL
// with len > 0.
int mh_signature(const mh_t *m, const char *text, size_t len, mh_shingling_t how, uint64_t *sig, err_t *e);

// Fraction of the k entries where a and b agree: an unbiased estimate of the Jaccard
// similarity of the two shingle sets, standard deviation sqrt(J(1-J)/k).
double mh_jaccard_estimate(const uint64_t *a, const uint64_t *b, int k);

// Clusters n_docs documents from their signatures sigs (N, K) and writes rep (N,): rep[i] is
// the lowest index in i's cluster, so rep[i] == i means "keep i" and rep[i] < i "drop i".
// verify_threshold in (0, 1] verifies candidates (MH_VERIFY_DEFAULT); <= 0 unions every
// candidate pair unverified.  Clusters are the connected components of the verified candidate
// pairs, whatever the document order; the one approximation is a bucket of more than 64
// documents (mass duplicates), where each document is verified against at most 64 cluster
// leaders of the bucket so the time stays linear.  n_docs < 2^32.
int mh_dedup(const mh_t *m, const uint64_t *sigs, size_t n_docs, double verify_threshold, uint32_t *rep, err_t *e);

#endif
