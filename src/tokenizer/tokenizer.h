// tokenizer: text <-> token ids, behind one interface.
//
// Two kinds, one engine (byte-level BPE, see bpe.h, after a regex split, see pretok.h):
//   "byte"             ids 0..255 are the bytes themselves, then manabi's special tokens;
//                      no merges and no split.  Exact for every byte sequence.
//   FILE.tiktoken      OpenAI's rank files (gpt2, cl100k_base, o200k_base): ids exactly as
//                      tiktoken gives them, with the encoding's split pattern and specials.
//   .../encoder.json   GPT-2's original files (encoder.json, and vocab.bpe beside it, whose
//                      merges are checked against the ids): the gpt2 encoding again.
//   FILE (any other)   manabi's own tokenizer file, written by 'manabi tokenizer train'
//                      (train.h): JSON {"format": "manabi-tokenizer", "version": 1,
//                      "pattern": REGEX, "merges": [[left, right], ...], "specials":
//                      [[STRING, ID], ...]}; merge i makes token 256 + i.
//
// Special tokens have roles (tok_special): end of text (also the beginning of a sequence),
// and the chat roles system, user, assistant and end of turn.  Text that happens to contain a
// special token's string is encoded as plain text unless the caller allows specials.
#ifndef MANABI_TOKENIZER_TOKENIZER_H
#define MANABI_TOKENIZER_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct tok tok_t;

typedef enum { TOK_EOT = 0, TOK_SYSTEM, TOK_USER, TOK_ASSISTANT, TOK_END, TOK_NSPECIAL } tok_special_t;

// Loads a tokenizer: "byte", a manabi tokenizer file, or a .tiktoken rank file.  pattern names the split and the
// specials of a rank file ("gpt2", "cl100k", "o200k"); NULL infers it from the file name
// (gpt2.tiktoken, cl100k_base.tiktoken, o200k_base.tiktoken).  *out is freed with tok_free.
int tok_load(tok_t **out, const char *spec, const char *pattern, err_t *e);
void tok_free(tok_t *t);
// Ids run from 0 to tok_vocab_size - 1 (specials included).
int tok_vocab_size(const tok_t *t);
// The id of a special token, or -1 if this tokenizer has none for that role.
int tok_special(const tok_t *t, tok_special_t which);
// A short name recorded in checkpoints and shards ("byte", "cl100k_base").
const char *tok_name(const tok_t *t);
// The split regex, or "" for none.
const char *tok_pattern(const tok_t *t);
// A hash of everything that decides the ids of a text; checkpoints and shards record it and
// refuse to mix tokenizers.
uint64_t tok_hash(const tok_t *t);

// Appends the ids of text[0..len) to *ids (a growing malloc'ed array of capacity *cap holding
// *n ids).  With allow_special, special-token strings in the text become their ids; without,
// they are plain text.
int tok_encode(const tok_t *t, const char *text, size_t len, int allow_special, int32_t **ids, size_t *n,
               size_t *cap, err_t *e);
// Writes the regular tokens as a .tiktoken rank file ("<base64 bytes> <rank>" per line),
// atomically.  The split pattern and the specials are not part of that format.
int tok_export_tiktoken(const tok_t *t, const char *path, err_t *e);
// The bytes of one token (for specials, their string); NULL for an id out of range.
const char *tok_token_bytes(const tok_t *t, int32_t id, size_t *len);
// Number of text bytes the token stands for (0 for special tokens); used for bits per byte.
int tok_token_nbytes(const tok_t *t, int32_t id);

#endif
