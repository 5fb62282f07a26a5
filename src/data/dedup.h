// dedup: exact and line-level (boilerplate) deduplication, and the small binary tables the
// pipeline's stages hand to each other.  Near duplicates are minhash.h's job.
//
//     uint64_t h[2];
//     dd_text_hash(text, len, h);                         // exact: 128-bit XXH3 of the text
//
//     dd_lines_t t; dd_lines_init(&t);                    // boilerplate: in how many documents
//     uint64_t *hs = NULL; size_t n, cap = 0;             // does each line occur?
//     dd_line_hashes(text, len, DD_LINE_MIN_CHARS, &hs, &n, &cap);
//     dd_lines_add(&t, hs, n, order);                     // once per document, in any order
//     ...
//     size_t m = dd_lines_sorted(&t);                     // t.e[0..m) sorted by hash
//
// Documents are identified by an "order": a 64-bit number that is the same whatever the
// machine, the thread count or the number of shards (the pipeline uses the input file's index
// and the document's index in it, see pipeline.h); where a choice is needed (which copy of a
// line or a document to keep) the lowest order wins, so results are deterministic.
//
// Lines.  A line is a run between '\n's with surrounding whitespace stripped; it takes part
// only when it has at least min_chars code points (short lines such as "Examples" or "1." are
// common in good documents and are never boilerplate by themselves).  Lines are compared by
// 64-bit XXH3 hash: two different lines collide with probability 2^-64 per pair.
#ifndef MANABI_DATA_DEDUP_H
#define MANABI_DATA_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum { DD_LINE_MIN_CHARS = 16, DD_LINE_MIN_DOCS = 3 };

// The 128-bit XXH3 hash of text[0..len) into h[0] (low) and h[1] (high).
void dd_text_hash(const char *text, size_t len, uint64_t h[2]);
// The 64-bit hash of one stripped line as dd_line_hashes computes it.
uint64_t dd_line_hash(const char *line, size_t len);

// Hashes of the distinct lines of text with >= min_chars code points, sorted, into *hs (grown
// with realloc as needed; *cap is its capacity, 0 for a NULL *hs; the caller frees *hs).
// Returns 0, or -1 when out of memory.  Thread-safe.
int dd_line_hashes(const char *text, size_t len, int min_chars, uint64_t **hs, size_t *n, size_t *cap);

// Calls fn(line, len, ctx) for each line of text (stripped of surrounding whitespace, empty
// lines included), in order, and returns how many lines there were.
typedef void (*dd_line_fn)(const char *line, size_t len, void *ctx);
size_t dd_each_line(const char *text, size_t len, dd_line_fn fn, void *ctx);

// One line's counts: in how many documents it occurs and the lowest order among them.
typedef struct dd_line {
    uint64_t hash;
    uint64_t first;  // lowest order of a document containing the line
    uint64_t docs;   // documents containing it
} dd_line_t;

// An open-addressing table of dd_line_t, keyed by hash.
typedef struct dd_lines {
    dd_line_t *e;
    size_t n, cap;  // cap is a power of two; slots with docs == 0 are empty
} dd_lines_t;

void dd_lines_init(dd_lines_t *t);
void dd_lines_free(dd_lines_t *t);  // NULL-safe, and safe twice
// Counts one document (its distinct line hashes hs[0..n)) of the given order.  -1: out of memory.
int dd_lines_add(dd_lines_t *t, const uint64_t *hs, size_t n, uint64_t order);
// Adds a whole entry (merging tables from several parts).  -1: out of memory.
int dd_lines_add_entry(dd_lines_t *t, const dd_line_t *x);
// Compacts the table into t->e[0..n) sorted by hash and returns n.  The table is then a sorted
// array: only dd_lines_find and dd_lines_free may be used on it.
size_t dd_lines_sorted(dd_lines_t *t);
// In a sorted table: the entry for hash, or NULL.
const dd_line_t *dd_lines_find(const dd_lines_t *t, uint64_t hash);

// Sorted tables on disk: "MNBLINE1", uint64 n, then n dd_line_t (little-endian hosts only, as
// the shards).  Written atomically.
int dd_lines_save(const dd_lines_t *t, const char *path, err_t *e);
// Reads a file dd_lines_save wrote into a sorted table.
int dd_lines_load(dd_lines_t *t, const char *path, err_t *e);

#endif
