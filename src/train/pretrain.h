// pretrain: the training loop for next-token prediction over token shards.
//
// One step: (accumulate over micro-batches: next_batch, forward, backward), clip by global
// norm, AdamW update with the scheduled learning rate.  Around it: a progress line per step,
// validation loss and bits per byte every val_every steps, metrics.jsonl in the run directory,
// atomic checkpoints every ckpt_every steps (keeping the last `keep`), exact resume, a clean
// stop on SIGINT/SIGTERM (the caller's handler sets *stop), and a hard stop on a non-finite
// loss or gradient that never overwrites a good checkpoint.
#ifndef MANABI_TRAIN_PRETRAIN_H
#define MANABI_TRAIN_PRETRAIN_H

#include <signal.h>
#include <stdint.h>

#include "core/err.h"
#include "model/config.h"
#include "train/optim.h"

typedef struct pretrain_opts {
    const char *out_dir;        // run directory: checkpoints, metrics.jsonl, config.json
    const char *train_data;     // glob pattern(s) of training shards
    const char *val_data;       // glob pattern(s) of validation shards, or NULL
    const char *tokenizer;      // tokenizer spec (see tokenizer.h)
    gpt_config_t model;         // architecture of a new model (vocab_size 0: the tokenizer's)
    const char *init_from;      // start from these weights instead of a random init, or NULL
    int resume;                 // continue from the newest checkpoint in out_dir
    int B, T;                   // micro-batch
    int64_t batch_tokens;       // tokens per optimizer step (a multiple of B*T; 0 = B*T)
    int64_t steps;              // total optimizer steps
    int64_t stop_after;         // leave after this many steps of this invocation (0 = run to the end)
    lr_schedule_t lr;           // lr.total is set from steps
    float beta1, beta2, eps, weight_decay, grad_clip;
    uint64_t seed;
    int random_batches;         // random windows (1) or sequential (0)
    int val_every, val_batches;
    int ckpt_every, keep;
    int threads;                // for the MFU denominator
    volatile sig_atomic_t *stop;  // set asynchronously to request a checkpoint and a clean exit
} pretrain_opts_t;

// Defaults for every field except the paths.
void pretrain_defaults(pretrain_opts_t *o);

typedef enum { PRETRAIN_DONE = 0, PRETRAIN_STOPPED = 1 } pretrain_end_t;

// Runs the loop.  Returns -1 on error (e filled), else how it ended.
int pretrain_run(const pretrain_opts_t *o, err_t *e);

#endif
