// pretok: pre-tokenization, the regex split of text into pieces before BPE.
//
// The split patterns are those of OpenAI's tiktoken encodings (gpt2, cl100k_base,
// o200k_base), or any regular expression, run by PCRE2 with Unicode properties (\p{L},
// \p{N}, ...), possessive quantifiers and look-ahead, JIT-compiled.  PCRE2 is used because
// it implements exactly the regex dialect these patterns are written in (backtracking,
// (?i:...), \s+(?!\S)), with Unicode tables maintained upstream.
//
// Text that is not valid UTF-8 is accepted: invalid bytes never match (PCRE2's
// MATCH_INVALID_UTF), and every run of text between two matches is emitted as a piece of its
// own, so the pieces always cover the input exactly, in order.
#ifndef MANABI_TOKENIZER_PRETOK_H
#define MANABI_TOKENIZER_PRETOK_H

#include <stddef.h>

#include "core/err.h"

typedef struct pretok pretok_t;

// The regex of a named pattern ("gpt2", "cl100k", "o200k"), or NULL for an unknown name.
const char *pretok_builtin(const char *name);
// Compiles a pattern: a built-in name, or a regular expression.  Free with pretok_free.
int pretok_new(pretok_t **out, const char *pattern, err_t *e);
void pretok_free(pretok_t *p);
// The regex this pre-tokenizer runs.
const char *pretok_regex(const pretok_t *p);

// Called for each piece text[start, end); return non-zero to stop.
typedef int (*pretok_cb)(const char *text, size_t start, size_t end, void *ctx);
// Splits text[0..len) into pieces in order.  Returns 0, or -1 if the regex engine failed
// (resource limits), with e filled.  Safe to call from several threads on one pretok_t.
int pretok_split(const pretok_t *p, const char *text, size_t len, pretok_cb cb, void *ctx, err_t *e);

#endif
