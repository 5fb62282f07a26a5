// tokenizer: text <-> token ids, behind one interface.
//
// For now manabi has the byte-level tokenizer ("byte"): ids 0..255 are the bytes themselves,
// followed by the special tokens below.  It trains on any text, needs no file, and is exact
// for every byte sequence.  The BPE tokenizer fills the same interface.
//
// Special tokens (same names in every manabi tokenizer):
//   <|endoftext|>  separates documents; also the beginning-of-sequence token
//   <|system|> <|user|> <|assistant|> <|end|>   chat roles and end of turn
#ifndef MANABI_TOKENIZER_TOKENIZER_H
#define MANABI_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct tok tok_t;

typedef enum { TOK_EOT = 0, TOK_SYSTEM, TOK_USER, TOK_ASSISTANT, TOK_END, TOK_NSPECIAL } tok_special_t;

// Loads a tokenizer: "byte" names the built-in byte-level tokenizer.  *out is freed with tok_free.
int tok_load(tok_t **out, const char *spec, err_t *e);
void tok_free(tok_t *t);
int tok_vocab_size(const tok_t *t);
int tok_special(const tok_t *t, tok_special_t which);
// A short name recorded in checkpoints and shards ("byte").
const char *tok_name(const tok_t *t);
// A hash of everything that decides the id of a piece of text; checkpoints and shards record
// it and refuse to mix tokenizers.
uint64_t tok_hash(const tok_t *t);

// Appends the ids of text[0..len) to *ids (a growing malloc'ed array of capacity *cap holding
// *n ids).  Special-token strings in the text are encoded as plain text.
int tok_encode(const tok_t *t, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap, err_t *e);
// The bytes of one token (for specials, their name); *len receives the length.
const char *tok_token_bytes(const tok_t *t, int32_t id, size_t *len);
// Number of text bytes the token stands for (0 for special tokens); used for bits per byte.
int tok_token_nbytes(const tok_t *t, int32_t id);

#endif
