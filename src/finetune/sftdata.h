// sftdata: supervised fine-tuning examples, from JSONL files to tokens, loss masks and rows.
//
//     sft_opts_t o;
//     sft_opts_default(&o);
//     o.max_len = 256;                                   // the model's context
//     sft_data_t ds;
//     sft_init(&ds);
//     err_t e = {0};
//     if (sft_load(&ds, tok, "data/sft/train.jsonl", &o, &e) != 0) { fprintf(stderr, "manabi: %s\n", e.msg); ... }
//     char *rep = sft_report(&ds, 0);                    // counts, skips by reason, first bad lines
//     fputs(rep, stdout);
//     free(rep);
//
//     sft_epoch_t ep;
//     sft_batch_opts_t b = {.T = 256, .layout = SFT_PACKED, .shuffle = 1, .seed = 1337};
//     if (sft_epoch_plan(&ep, &ds, &b, epoch, &e) != 0) ...
//     for (size_t r = 0; r < ep.n_rows; r++)             // B rows per micro-batch, in order
//         sft_epoch_row(&ep, &ds, r, tokens + r % B * T, targets + r % B * T, pos + r % B * T);
//     sft_epoch_free(&ep);
//     sft_free(&ds);
//
// ---- Input -------------------------------------------------------------------------------
// A JSONL file (plain, gzip or zstd, by content: data/reader.h), one example per line; blank
// lines are ignored.  Each line is a JSON object in one of three formats, told apart by its
// keys (other keys, such as "id" or "task", are ignored):
//   conversation        {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
//                       (TRL's and OpenAI's format; parsed by chat_from_json, tokenizer/chat.h)
//   prompt/completion   {"prompt": "...", "completion": "..."} [, "system": "..."]
//                       -> [system,] user = prompt, assistant = completion
//   instruction         {"instruction": "...", "input": "...", "output": "..."} [, "system": "..."]
//                       (Alpaca's) -> [system,] user = instruction, or instruction + "\n\n" +
//                       input when the input is not empty; assistant = output
// "input" and "system" are optional (absent or null: none); every other field named above is
// required and must be a string.  A line with keys of two formats ("prompt" and "output"), or a
// "system" key beside "messages", is refused rather than guessed at.
//
// Each line is checked, and a line that fails is skipped and counted by reason (sft_skip_t),
// the first SFT_MAX_NOTES with their file:line message kept for the report; with strict, the
// first one is instead an error "FILE:LINE: FIELD: what is wrong".  The checks:
//   - malformed JSON, or not an object                                    SFT_SKIP_BAD_JSON
//   - keys of no format, or of two                                        SFT_SKIP_FORMAT
//   - a required field missing                                            SFT_SKIP_MISSING
//   - a field of the wrong type (content not a string, messages not an
//     array, a message not an object, ...)                                SFT_SKIP_TYPE
//   - a role other than system, user, assistant                           SFT_SKIP_ROLE
//   - a message (system prompt included) empty or only whitespace         SFT_SKIP_EMPTY
//   - no assistant message: nothing to train on                           SFT_SKIP_NO_ASSISTANT
// Messages after the last assistant message (a conversation ending with a user turn) train
// nothing and only take room in the context: they are dropped, the example kept, and the
// conversation counted in stats.trimmed (with a note); with strict this too is an error.
//
// ---- Tokens and the loss mask --------------------------------------------------------------
// An example is chat_encode's ids (no generation prompt):
//     <|endoftext|> <|role|> content <|end|> <|role|> content <|end|> ...
// and a mask byte per id: 1 where the loss trains on predicting that token.  By default that
// is the content of every assistant message and the <|end|> closing it (chat_encode's mask),
// so the model learns to answer and to stop.  With train_on_prompt, every token but the first
// is trained: role tokens, system and user content and every <|end|> too (the leading
// <|endoftext|> has nothing before it in the example to be predicted from).
// An example of more than max_len tokens is, by too_long:
//   SFT_LONG_TRUNCATE  cut to its first max_len tokens and counted in truncated; when the cut
//                      leaves no trained token it is dropped instead, counted in dropped_long
//   SFT_LONG_DROP      dropped, counted in dropped_long
//   SFT_LONG_ERROR     an error naming file:line and the length (strict or not)
// Every dataset needs one tokenizer with the chat tokens (chat_check_tokenizer): an OpenAI rank
// file (only <|endoftext|>) is refused with a message saying what to use instead.
//
// ---- Rows ----------------------------------------------------------------------------------
// sft_epoch_plan arranges the kept examples into rows of T tokens for one epoch: each example
// exactly once, whole (never split across rows: load with max_len <= T), in an order shuffled
// by (seed, epoch), or in file order.  SFT_PACKED puts several examples in a row, one after
// another (first fit among the last SFT_PACK_WINDOW rows still open, so rows stay nearly full
// while the order stays close to the shuffled one); SFT_PADDED puts one example per row.  The
// rest of a row is padding.  sft_epoch_row writes row r as three arrays of T values:
//   tokens[t]   the token at position t: an example's token, or <|endoftext|> for padding
//   targets[t]  the token at t + 1 of the same example when that token is trained (mask 1),
//               else -1: at an example's last position, at untrained tokens, in padding.
//               Targets never cross from one example to the next.
//   pos[t]      t's position within its segment: 0 at an example's first token (its
//               <|endoftext|>), counting up; padding is a segment of its own, starting at 0.
//               The segment holding t begins at t - pos[t]: attention from query t may read
//               keys t - pos[t] .. t only (so it never crosses examples), and RoPE or learned
//               position embeddings use pos[t], exactly as if the example were alone.
// The loss of an optimizer step is the sum of the cross-entropies at positions whose target is
// not -1, divided by the count of such positions over all of that step's rows
// (ep.row_trained[] gives the count per row before any forward pass).
#ifndef MANABI_FINETUNE_SFTDATA_H
#define MANABI_FINETUNE_SFTDATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "tokenizer/tokenizer.h"

// The formats of a line.
typedef enum { SFT_FMT_MESSAGES = 0, SFT_FMT_PROMPT, SFT_FMT_INSTRUCTION, SFT_NFORMATS } sft_format_t;

// Why a line was skipped (see above).
typedef enum {
    SFT_SKIP_BAD_JSON = 0,
    SFT_SKIP_FORMAT,
    SFT_SKIP_MISSING,
    SFT_SKIP_TYPE,
    SFT_SKIP_ROLE,
    SFT_SKIP_EMPTY,
    SFT_SKIP_NO_ASSISTANT,
    SFT_NSKIP
} sft_skip_t;

// What an example longer than max_len becomes.
typedef enum { SFT_LONG_TRUNCATE = 0, SFT_LONG_DROP, SFT_LONG_ERROR } sft_long_t;

typedef struct sft_opts {
    int max_len;          // 2048: tokens per example at most (>= 2); the model's context
    sft_long_t too_long;  // SFT_LONG_TRUNCATE
    int train_on_prompt;  // 0: train on assistant content and its <|end|> only; 1: on every token but the first
    int strict;           // 0: skip and count bad lines; 1: the first bad line is an error
} sft_opts_t;

void sft_opts_default(sft_opts_t *o);

// "messages", "prompt/completion", "instruction".
const char *sft_format_name(sft_format_t f);
// A skip reason in words ("no assistant message") and as a JSON key ("no_assistant").
const char *sft_skip_name(sft_skip_t k);
const char *sft_skip_key(sft_skip_t k);

#define SFT_MAX_NOTES 8

// One skipped or trimmed line.
typedef struct sft_note {
    const char *file;  // the dataset's copy of the path (valid until sft_free)
    size_t line;       // 1-based
    int reason;        // sft_skip_t, or -1 for a trimmed conversation
    char msg[240];     // "messages[2].role: 'bot' is not a role (system, user, assistant)"
} sft_note_t;

// Counts over every file loaded into a dataset.
typedef struct sft_stats {
    size_t files;                    // files loaded
    size_t lines;                    // non-blank lines read
    size_t format[SFT_NFORMATS];     // lines recognised as each format (kept or not)
    size_t skipped[SFT_NSKIP];       // lines skipped, by reason
    size_t n_skipped;                // their sum
    size_t trimmed;                  // conversations kept without the messages after their last assistant one
    size_t truncated;                // examples cut to max_len tokens (and kept)
    size_t dropped_long;             // examples over max_len dropped
    size_t kept;                     // examples in the dataset (= lines - n_skipped - dropped_long)
    size_t tokens, trained;          // tokens of the kept examples (after cuts), and those with mask 1
    size_t longest;                  // the most tokens of any example before a cut
    size_t n_notes;                  // notes kept (at most SFT_MAX_NOTES): the first skipped or trimmed lines
    sft_note_t notes[SFT_MAX_NOTES];
    const char *long_file;           // the first example over max_len (NULL when none) ...
    size_t long_line, long_tokens;   // ... its line and its tokens before the cut
} sft_stats_t;

// One kept example: ids[off .. off + len) and mask[off .. off + len) of its dataset.
typedef struct sft_example {
    size_t off;
    int32_t len;      // tokens, 2 .. max_len
    int32_t trained;  // mask bytes that are 1 (>= 1)
    int32_t file;     // index into the dataset's files[]
    size_t line;      // 1-based line of its file
} sft_example_t;

// A dataset: every kept example's tokens in one arena.  A zeroed struct is an empty dataset.
typedef struct sft_data {
    int32_t *ids;        // (N) tokens of every example, one after another
    uint8_t *mask;       // (N) 1: the loss trains on predicting this token
    size_t n_tokens, cap;
    sft_example_t *ex;   // (n_ex) in the order read
    size_t n_ex, ex_cap;
    char **files;        // (n_files) the paths loaded, in order
    int n_files;
    int32_t eot;         // <|endoftext|>, which also pads rows
    uint64_t tok_hash;   // the tokenizer every file was encoded with (set by the first load)
    int have_tok;        // 1 once tok_hash is set
    sft_stats_t st;
} sft_data_t;

void sft_init(sft_data_t *ds);
// Frees everything and leaves ds empty (as after sft_init); safe on a zeroed dataset and twice.
void sft_free(sft_data_t *ds);

// Reads path and appends its examples to ds (several files may be loaded into one dataset, all
// with the same tokenizer).  The file is decompressed whole into memory while it is read.
// Returns 0, also when lines were skipped (see ds->st; a file of only bad lines adds no
// example, and the caller decides whether an empty dataset is an error); -1 with e when the
// file cannot be read, is binary or truncated, the tokenizer lacks the chat tokens or differs
// from the one used before, an example is over max_len with SFT_LONG_ERROR, with strict at the
// first bad line, or when out of memory.  On -1 ds is as on entry, counts included.
int sft_load(sft_data_t *ds, const tok_t *t, const char *path, const sft_opts_t *o, err_t *e);
// The same for JSONL text[0..len) already in memory; name stands for the file in messages.
int sft_load_text(sft_data_t *ds, const tok_t *t, const char *name, const char *text, size_t len,
                  const sft_opts_t *o, err_t *e);

// Keeps a random fraction (0, 1) of the examples (at least one), chosen by seed, in their
// order; the arena keeps every token (the counts in st still describe what was loaded).  For
// learning curves over the amount of data.
void sft_keep_fraction(sft_data_t *ds, double fraction, uint64_t seed);

// The report: with json 0, a few lines of text; with json 1, one JSON object
// {"files", "lines", "formats": {...}, "kept", "skipped": {"total", <sft_skip_key>: n, ...},
//  "trimmed", "truncated", "dropped_long", "tokens", "trained_tokens", "longest",
//  "notes": ["FILE:LINE: message", ...]} without a newline.  malloc'ed, the caller frees;
// NULL when out of memory.
char *sft_report(const sft_data_t *ds, int json);

// ---- Rows ----------------------------------------------------------------------------------

typedef enum { SFT_PACKED = 0, SFT_PADDED = 1 } sft_layout_t;

// Rows still open to examples while packing: more fills rows better and moves examples further
// from their shuffled order.
#define SFT_PACK_WINDOW 32

typedef struct sft_batch_opts {
    int T;                // row length in tokens (>= every example's len)
    sft_layout_t layout;  // SFT_PACKED or SFT_PADDED
    int shuffle;          // 1: an order drawn from (seed, epoch); 0: the dataset's order
    uint64_t seed;
} sft_batch_opts_t;

// One epoch's rows.  Row r holds the examples ex[row_first[r] .. row_first[r + 1]), in the
// order they sit in the row.
typedef struct sft_epoch {
    int T;
    sft_layout_t layout;
    size_t n_rows;
    size_t *row_first;     // (n_rows + 1)
    int32_t *ex;           // (number of examples) indices into the dataset's ex[]
    int32_t *row_trained;  // (n_rows) positions of row r whose target is not -1
    size_t trained;        // their sum: every trained token of the dataset, once
    size_t tokens;         // example tokens in all rows (the rest, n_rows * T - tokens, is padding)
} sft_epoch_t;

// Plans epoch number epoch (0, 1, ...) of ds into *ep, which is freed with sft_epoch_free.
// -1 with e when T < 2, the dataset is empty, an example is longer than T (naming its file and
// line), or out of memory; *ep is then zeroed.
int sft_epoch_plan(sft_epoch_t *ep, const sft_data_t *ds, const sft_batch_opts_t *b, uint64_t epoch, err_t *e);
// Writes row r (< ep->n_rows) into tokens, targets and pos, T values each (see "Rows" above),
// and returns the count of targets that are not -1 (ep->row_trained[r]).
int sft_epoch_row(const sft_epoch_t *ep, const sft_data_t *ds, size_t r, int32_t *tokens, int32_t *targets,
                  int32_t *pos);
// Frees the plan; safe on a zeroed one and twice.
void sft_epoch_free(sft_epoch_t *ep);

#endif
