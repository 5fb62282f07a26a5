// textshards: plain-text documents -> tokenized train/validation shards.
//
// Input files are read by reader.h (plain, gzip or zstd): UTF-8 text whose documents are
// separated by a line that is exactly the delimiter (default "<|endoftext|>"; "": each file is
// one document), or JSONL with the text in text_field (what `manabi data pipeline` writes).
// Any skipped line, binary file or broken file is an error: shards are not built from a
// corpus with holes in it.
// Every document is written as <|endoftext|> followed by its tokens, so documents are
// separated (and begun) by the end-of-text token.  A document goes to validation when a hash
// of its text falls below val_fraction: the split is deterministic and does not depend on
// the order of the files.  Documents are encoded on all cores, in batches, and written in
// input order, so the shards are the same whatever the thread count.
#ifndef MANABI_DATA_TEXTSHARDS_H
#define MANABI_DATA_TEXTSHARDS_H

#include <stdint.h>

#include "core/err.h"
#include "tokenizer/tokenizer.h"

typedef struct textshards_opts {
    const char *const *inputs;
    int n_inputs;
    const char *out_dir;
    const char *delimiter;  // text files: the line between documents
    const char *text_field; // JSONL files: the field holding the text (NULL: "text")
    double val_fraction;
    int64_t shard_tokens;   // tokens per shard file
    int64_t max_bytes;      // read at most this many bytes of each file (0: no limit)
} textshards_opts_t;

typedef struct textshards_report {
    int64_t docs[2], tokens[2], bytes[2];  // [0] train, [1] validation
    int shards[2];
    int64_t empty_docs;
} textshards_report_t;

int textshards_build(const textshards_opts_t *o, const tok_t *tok, textshards_report_t *rep, err_t *e);

#endif
