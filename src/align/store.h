// store: people's comparisons of two answers, in SQLite, so that none is ever lost.
//
//     store_t *s = store_open("data/prefs/compare.db", &e);       // created with its schema
//     store_add(s, &(store_item_t){.prompt = q, .answer_a = a, .answer_b = b, .model_a = "sft",
//               .model_b = "dpo", .choice = STORE_A, .rater = "kenji"}, &e);
//     store_export(s, "data/prefs/people.jsonl", &n, &e);          // TRL pairs: A or B chosen
//     store_close(s);
//
// One table, comparisons(id, created, prompt, answer_a, answer_b, model_a, model_b, choice,
// rater); each comparison is written in its own transaction (a crash keeps every one before
// it), with WAL journaling and a 5 s busy timeout so that the web server and the terminal can
// write to one file.  A locked, corrupt or foreign file is an error naming the file.
#ifndef MANABI_ALIGN_STORE_H
#define MANABI_ALIGN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum { STORE_A = 0, STORE_B, STORE_TIE, STORE_BOTH_BAD } store_choice_t;
// "a", "b", "tie", "both_bad".
const char *store_choice_name(store_choice_t c);

typedef struct store_item {
    const char *prompt, *answer_a, *answer_b;
    const char *model_a, *model_b;  // which models wrote them (never shown to the rater)
    store_choice_t choice;
    const char *rater;              // who chose
} store_item_t;

typedef struct store store_t;

store_t *store_open(const char *path, err_t *e);
void store_close(store_t *s);  // NULL-safe
// Appends a comparison (its time is now, UTC); its id in *id when id is not NULL.
int store_add(store_t *s, const store_item_t *it, int64_t *id, err_t *e);
// Comparisons stored, by choice (counts[4]).
int store_counts(store_t *s, int64_t counts[4], err_t *e);
// Writes the comparisons with a winner as JSONL pairs {"prompt", "chosen", "rejected", "id",
// "rater"} to path, atomically; *n pairs.
int store_export(store_t *s, const char *path, size_t *n, err_t *e);

#endif
