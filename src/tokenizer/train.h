// train: learning a byte-level BPE tokenizer from text files.
//
//   1. Count: the files stream through in blocks; each block is cut at line ends into one
//      slice per thread, each thread splits its slice with the pattern and counts the distinct
//      pieces in its own table; the tables are then added up.  Memory grows with the number
//      of distinct pieces, not with the input.
//   2. Merge: bpe_train (bpe_train.h) learns vocab_size - 256 - specials merges.
//   3. Write the tokenizer file (tokfile.h): the pattern, the merges, and the special tokens
//      <|endoftext|> <|system|> <|user|> <|assistant|> <|end|> (plus any extra ones) after
//      the merged tokens.
#ifndef MANABI_TOKENIZER_TRAIN_H
#define MANABI_TOKENIZER_TRAIN_H

#include <stdint.h>

#include "core/err.h"

typedef struct tok_train_opts {
    const char *const *inputs;
    int n_inputs;
    int vocab_size;              // total, specials included
    const char *pattern;         // a built-in name (gpt2, cl100k, o200k) or a regex
    const char *const *extra_specials;
    int n_extra_specials;
    const char *out;             // tokenizer file to write
    int threads;                 // counting threads (0: all cores)
    int verbose;                 // progress to stdout
} tok_train_opts_t;

typedef struct tok_train_report {
    int64_t bytes, pieces, distinct;
    int merges;                  // learned (fewer than asked when the text runs out of pairs)
    double count_s, merge_s;
} tok_train_report_t;

int tok_train(const tok_train_opts_t *o, tok_train_report_t *r, err_t *e);

#endif
