// manabi pretrain: next-token prediction on token shards.
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "train/pretrain.h"

int cmd_pretrain(int argc, char **argv) {
    pretrain_opts_t o;
    pretrain_defaults(&o);
    const char *family = "llama", *schedule = "cosine", *out = "runs/pretrain";
    int depth = 4, layers = 0, heads = 0, kv_heads = 0, width = 0, mlp = 0, context = 0, vocab = 0, tie = 1;
    int sequential = 0, threads = 0, seed = (int)o.seed;
    int64_t warmup = o.lr.warmup;
    float min_lr_frac = o.lr.min_lr / o.lr.lr;
    arg_opt_t opts[] = {
        {"train", ARG_STR, &o.train_data, "training shards (glob pattern, comma-separated)"},
        {"val", ARG_STR, &o.val_data, "validation shards (glob pattern)"},
        {"out", ARG_STR, &out, "run directory: checkpoints, metrics.jsonl, config.json"},
        {"tokenizer", ARG_STR, &o.tokenizer, "tokenizer the shards were made with"},
        {"resume", ARG_BOOL, &o.resume, "continue from the newest checkpoint in --out"},
        {"init-from", ARG_STR, &o.init_from, "start from these weights (fresh optimizer)"},
        {"family", ARG_STR, &family, "model family: llama or gpt2"},
        {"depth", ARG_INT, &depth, "size preset: layers = depth, width = 64 depth, heads = depth"},
        {"layers", ARG_INT, &layers, "override: number of layers"},
        {"heads", ARG_INT, &heads, "override: attention heads"},
        {"kv-heads", ARG_INT, &kv_heads, "override: key/value heads (llama; grouped-query attention)"},
        {"width", ARG_INT, &width, "override: model width"},
        {"mlp-width", ARG_INT, &mlp, "override: MLP width"},
        {"context", ARG_INT, &context, "context length the model is built for (default: --seq-len)"},
        {"vocab", ARG_INT, &vocab, "vocabulary size (default: the tokenizer's)"},
        {"tie", ARG_BOOL, &tie, "tie the output head to the token embedding (--no-tie: untied, llama)"},
        {"batch", ARG_INT, &o.B, "sequences per micro-batch"},
        {"seq-len", ARG_INT, &o.T, "tokens per sequence"},
        {"batch-tokens", ARG_I64, &o.batch_tokens, "tokens per optimizer step (gradient accumulation)"},
        {"steps", ARG_I64, &o.steps, "optimizer steps"},
        {"stop-after", ARG_I64, &o.stop_after, "leave after this many steps of this invocation (resume later)"},
        {"lr", ARG_FLOAT, &o.lr.lr, "peak learning rate"},
        {"min-lr-frac", ARG_FLOAT, &min_lr_frac, "final learning rate as a fraction of --lr"},
        {"warmup", ARG_I64, &warmup, "linear warmup steps"},
        {"schedule", ARG_STR, &schedule, "learning-rate schedule: cosine, linear, wsd, constant"},
        {"decay-frac", ARG_FLOAT, &o.lr.decay_frac, "wsd: fraction of steps spent decaying"},
        {"beta1", ARG_FLOAT, &o.beta1, "AdamW beta1"},
        {"beta2", ARG_FLOAT, &o.beta2, "AdamW beta2"},
        {"weight-decay", ARG_FLOAT, &o.weight_decay, "AdamW decoupled weight decay (matrices only)"},
        {"grad-clip", ARG_FLOAT, &o.grad_clip, "clip the global gradient norm to this (0: off)"},
        {"seed", ARG_INT, &seed, "random seed (initialisation and batches)"},
        {"sequential", ARG_BOOL, &sequential, "read training windows in order instead of at random"},
        {"val-every", ARG_INT, &o.val_every, "validate every N steps (0: only at the end)"},
        {"val-batches", ARG_INT, &o.val_batches, "validation batches (0: the whole validation set)"},
        {"ckpt-every", ARG_INT, &o.ckpt_every, "checkpoint every N steps (and at the end)"},
        {"keep", ARG_INT, &o.keep, "checkpoints to keep"},
        {"threads", ARG_INT, &threads, "threads (default: all cores)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("pretrain", "--train PATTERN [--val PATTERN] [--out DIR] [options]", opts, argc, argv,
                             pos, 0, &npos);
    if (rc >= 0) return rc;
    err_t e = {0};
    if (!o.train_data) return cli_fail("pretrain: --train is required (token shards from 'manabi data shards')");
    gpt_family_t fam;
    if (gpt_family_parse(family, &fam, &e) != 0) {
        err_wrap(&e, "--family");
        return cli_fail(e.msg);
    }
    if (lr_kind_parse(schedule, &o.lr.kind, &e) != 0) return cli_fail(e.msg);
    if (depth < 1) return cli_fail("--depth must be at least 1");
    if (o.B < 1 || o.T < 1) return cli_fail("--batch and --seq-len must be positive");
    if (o.steps < 1) return cli_fail("--steps must be at least 1");
    if (!(o.lr.lr > 0)) return cli_fail("--lr must be positive");
    gpt_config_preset(&o.model, fam, depth, vocab, context ? context : o.T);
    if (layers) o.model.n_layer = layers;
    if (width) o.model.d_model = width;
    if (heads) o.model.n_head = o.model.n_kv_head = heads;
    if (kv_heads) o.model.n_kv_head = kv_heads;
    if (mlp) o.model.d_ff = mlp;
    else if (width) o.model.d_ff = fam == GPT_GPT2 ? 4 * width : (8 * width / 3 + 63) / 64 * 64;
    o.model.tie_embeddings = tie;
    if (vocab == 0) o.model.vocab_size = 0;  // filled from the tokenizer
    else if (gpt_config_validate(&o.model, &e) != 0) return cli_fail(e.msg);
    o.out_dir = out;
    o.lr.warmup = warmup;
    o.lr.min_lr = o.lr.lr * min_lr_frac;
    o.seed = (uint64_t)seed;
    o.random_batches = !sequential;
    if (threads > 0) {
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
    }
    o.threads = omp_get_max_threads();
    o.stop = &cli_stop;
    cli_catch_signals();
    rc = pretrain_run(&o, &e);
    if (rc < 0) return cli_fail(e.msg);
    return rc == PRETRAIN_STOPPED && cli_stop ? 130 : 0;
}
