// prefs: preference pairs, a prompt with a chosen and a rejected answer, as DPO and reward
// models learn from them.
//
//     pref_data_t pd;
//     pref_init(&pd);
//     if (pref_load(&pd, tok, "data/prefs/train.jsonl", 256, 0, &e) != 0) ...
//     for (size_t i = 0; i < pd.n; i++) ... pref_row(&pd, i, 1, ids, &n, &answer_start) ...
//     pref_free(&pd);
//
// JSONL, one pair a line, as TRL reads it: {"prompt": "...", "chosen": "...", "rejected": "..."},
// where the prompt may also be a conversation ({"prompt": [{"role": "user", "content": ...}]}, or
// the TRL field name "messages" in its place).  Each side is tokenized with the chat template
// (tokenizer/chat.h): the prompt's messages then <|assistant|>, then the answer and <|end|>.
//
// A line that cannot be used is skipped and counted by reason, the first few with file:line
// kept (with strict, the first is an error naming file:line): malformed JSON or a missing field,
// an empty answer, a chosen answer identical to the rejected one, or a pair longer than max_len
// tokens (prompt + the longer answer).
#ifndef MANABI_ALIGN_PREFS_H
#define MANABI_ALIGN_PREFS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "tokenizer/tokenizer.h"

typedef enum { PREF_SKIP_BAD = 0, PREF_SKIP_EMPTY, PREF_SKIP_IDENTICAL, PREF_SKIP_LONG, PREF_NSKIP } pref_skip_t;

// One pair: ids[off .. off + n_prompt) the prompt (ending with <|assistant|>), then the chosen
// answer (n_chosen ids, its <|end|> included), then the rejected one (n_rejected).
typedef struct pref_pair {
    size_t off;
    int32_t n_prompt, n_chosen, n_rejected;
    size_t line;
} pref_pair_t;

typedef struct pref_data {
    int32_t *ids;
    size_t n_ids, cap_ids;
    pref_pair_t *p;
    size_t n, cap;
    size_t lines, skipped[PREF_NSKIP];
    char notes[4][240];  // the first skipped lines, "FILE:LINE: why"
    int n_notes;
} pref_data_t;

void pref_init(pref_data_t *d);
void pref_free(pref_data_t *d);  // safe on a zeroed one, twice
// Appends the pairs of path.  -1 with e when the file cannot be read, the tokenizer lacks the
// chat tokens, out of memory, or (strict) at the first unusable line.
int pref_load(pref_data_t *d, const tok_t *t, const char *path, int max_len, int strict, err_t *e);
// "bad", "empty", "identical", "too_long".
const char *pref_skip_name(pref_skip_t k);
// Writes the prompt and one answer of pair i (chosen or not) into ids (capacity >= its length);
// *n is the length and *start the first answer position.
void pref_row(const pref_data_t *d, size_t i, int chosen, int32_t *ids, int *n, int *start);

// The rows of a batch of pairs, for one forward pass: pair idx[i]'s chosen answer in row 2 i,
// its rejected one in row 2 i + 1, cut to the batch's longest row (T); targets and weights (1)
// mark the positions that predict answer tokens (weight 0 elsewhere, padding included); last[r]
// is row r's last token (the answer's <|end|>).
typedef struct pref_rows {
    int cap_pairs, cap_T;     // capacity
    int B, T;                 // the last fill: 2 x pairs rows of T
    int32_t *tokens, *targets;  // (B, T)
    float *weights;           // (B, T)
    int *last;                // (B)
    int32_t *row;             // scratch (cap_T)
} pref_rows_t;

int pref_rows_init(pref_rows_t *r, int pairs, int T, err_t *e);
void pref_rows_free(pref_rows_t *r);  // safe on a zeroed one, twice
// pairs idx[0..count) (count <= cap_pairs, each no longer than cap_T).
void pref_rows_fill(pref_rows_t *r, const pref_data_t *d, const size_t *idx, int count);
// The longest pair (prompt + longer answer) among pairs [first, first + count).
int pref_longest(const pref_data_t *d, size_t first, size_t count);

#endif
