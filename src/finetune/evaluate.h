// evaluate: how well a fine-tuned model answers held-out questions.
//
//     qa_opts_t o = {.max_new = 32, .batch = 16};
//     qa_result_t r;
//     if (qa_eval(&m, tok, &heldout, &o, &r, NULL, NULL, &e) != 0) ...
//     printf("exact %.3f, contained %.3f\n", (double)r.exact / r.n, (double)r.contained / r.n);
//
// Each example's prompt is its conversation up to and including the <|assistant|> that opens
// its last answer; the model answers greedily (stopping at <|end|>, another turn or max_new
// tokens), and the answer is compared with the reference: that last answer, and also every
// string of the example's "answers" array when its JSONL line has one (several correct
// answers, as the default task's translations have).  Both sides are normalised first:
// surrounding white space and a final period removed, runs of white space made one space, ASCII
// letters lower-cased.  exact: equal to a reference; contained: a reference appears in it.
#ifndef MANABI_FINETUNE_EVALUATE_H
#define MANABI_FINETUNE_EVALUATE_H

#include <stddef.h>

#include "core/err.h"
#include "finetune/sftdata.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"

typedef struct qa_opts {
    int max_new;  // most tokens per answer
    int batch;    // questions answered together
    size_t limit; // answer only `limit` examples, spread evenly over the set (0: all)
} qa_opts_t;

enum { QA_MAX_TASKS = 16 };
typedef struct qa_task {
    char name[48];       // the "task" field of the examples' lines ("" when they have none)
    size_t n, exact, contained;
} qa_task_t;

typedef struct qa_result {
    size_t n, exact, contained;
    qa_task_t task[QA_MAX_TASKS];  // the same per task, in order of first appearance (further tasks
    int n_tasks;                   // are counted under the last)
} qa_result_t;

// Called for every example answered: its index in ds, the answer, the reference, the scores.
typedef void (*qa_example_fn)(size_t i, const char *answer, const char *reference, int exact, int contained,
                              void *ctx);

// Answers every example of ds (see above).  m may have an adapter (m->lora) and bf16 weights.
// -1 with e when an example has no answer turn to compare with, the data's files cannot be
// read again (for "answers"), or out of memory.
int qa_eval(const gpt_t *m, const tok_t *tok, const sft_data_t *ds, const qa_opts_t *o, qa_result_t *r,
            qa_example_fn fn, void *ctx, err_t *e);

// The answer key of a dataset: every example's normalised references (its last answer, and the
// "answers" of its line) and task, for scoring answers as qa_eval does (a programmatic reward).
typedef struct qa_key qa_key_t;
qa_key_t *qa_key_new(const sft_data_t *ds, const tok_t *tok, err_t *e);
void qa_key_free(qa_key_t *k);  // NULL-safe
// Whether answer (normalised here) matches example i's references exactly, or contains one.
void qa_key_match(const qa_key_t *k, size_t i, const char *answer, int *exact, int *contained);
const char *qa_key_reference(const qa_key_t *k, size_t i);
const char *qa_key_task(const qa_key_t *k, size_t i);

// Lower-cases ASCII, trims, drops a final period and collapses white space, in place.
void qa_normalize(char *s);

#endif
