// manabi sft: supervised fine-tuning of a checkpoint on examples (LoRA by default, or full).
// manabi lora merge: fold an adapter into its base, giving a plain checkpoint.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/io.h"
#include "finetune/sft.h"
#include "model/lora.h"

typedef struct {
    FILE *metrics;
    int every;
} progress_t;

static void progress(const sft_progress_t *p, void *ctx) {
    progress_t *pr = ctx;
    if (p->val_loss >= 0) {
        printf("step %5d/%d | held-out loss %.4f\n", p->step, p->steps, p->val_loss);
        if (pr->metrics) fprintf(pr->metrics, "{\"step\":%d,\"val_loss\":%.6f}\n", p->step, p->val_loss);
    } else {
        if (p->step == 1 || p->step % pr->every == 0 || p->step == p->steps)
            printf("step %5d/%d | loss %.4f | lr %.2e | grad norm %.3f | %.0f tok/s\n", p->step, p->steps, p->loss,
                   p->lr, p->grad_norm, p->tokens_per_s);
        if (pr->metrics)
            fprintf(pr->metrics, "{\"step\":%d,\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6f,\"trained_tokens\":%lld}\n",
                    p->step, p->loss, p->lr, p->grad_norm, (long long)p->trained_tokens);
    }
    fflush(stdout);
    if (pr->metrics) fflush(pr->metrics);
}

static int load_data(sft_data_t *ds, const tok_t *tok, const char *path, const sft_opts_t *so, const char *what,
                     err_t *e) {
    sft_init(ds);
    if (sft_load(ds, tok, path, so, e) != 0) return -1;
    char *rep = sft_report(ds, 0);
    if (rep) printf("%s%s", what, rep);
    free(rep);
    if (ds->n_ex == 0) return err_set(e, "%s: no usable example (see the report above)", path);
    return 0;
}

int cmd_sft(int argc, char **argv) {
    const char *base = NULL, *data = NULL, *val = NULL, *out = NULL, *targets = "q,v", *too_long = "truncate";
    const char *tokenizer = NULL;
    int full = 0, strict = 0, train_on_prompt = 0, from_scratch = 0, seed = 1337;
    float fraction = 1.0f;
    sft_train_opts_t o;
    sft_train_defaults(&o);
    arg_opt_t opts[] = {
        {"base", ARG_STR, &base, "the pre-trained checkpoint"},
        {"data", ARG_STR, &data, "training examples (JSONL: messages, prompt/completion or instruction)"},
        {"val", ARG_STR, &val, "held-out examples for the held-out loss"},
        {"out", ARG_STR, &out, "output directory: adapter.safetensors + adapter_config.json, or model.safetensors"},
        {"full", ARG_BOOL, &full, "train every weight instead of LoRA adapters"},
        CLI_LORA_OPTS(&o.lora_cfg, targets),
        {"lora-dropout", ARG_FLOAT, &o.lora_cfg.dropout, "dropout on the adapters' input while training"},
        {"freeze-embeddings", ARG_BOOL, &o.freeze_embeddings, "full: keep the embeddings fixed"},
        {"freeze-layers", ARG_INT, &o.freeze_layers, "full: keep the first k blocks fixed"},
        {"steps", ARG_INT, &o.steps, "optimizer steps"},
        {"batch", ARG_INT, &o.batch, "examples per micro-batch"},
        {"accum", ARG_INT, &o.accum, "micro-batches per optimizer step"},
        {"lr", ARG_FLOAT, &o.lr, "peak learning rate"},
        {"min-lr-frac", ARG_FLOAT, &o.min_lr_frac, "the cosine decay ends at this fraction of lr"},
        {"warmup", ARG_INT, &o.warmup, "warmup steps"},
        {"weight-decay", ARG_FLOAT, &o.weight_decay, "AdamW weight decay"},
        {"grad-clip", ARG_FLOAT, &o.grad_clip, "clip the gradient's global norm to this (0: off)"},
        {"eval-every", ARG_INT, &o.eval_every, "held-out loss every this many steps (0: at the end)"},
        {"train-on-prompt", ARG_BOOL, &train_on_prompt, "also train on the prompts, not only the answers"},
        {"too-long", ARG_STR, &too_long, "examples over the context: truncate, drop or error"},
        {"strict", ARG_BOOL, &strict, "stop at the first bad example instead of skipping and counting it"},
        {"data-fraction", ARG_FLOAT, &fraction, "train on this random fraction of the examples, in (0, 1]"},
        {"from-scratch", ARG_BOOL, &from_scratch, "random weights of the base's shape instead of its weights"},
        {"seed", ARG_INT, &seed, "data order, adapter initialisation, subset"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("sft", "--base CKPT --data FILE --out DIR [--val FILE] [--full] [options]", opts, argc,
                             argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!base || !data || !out) return cli_fail("sft: --base, --data and --out are required");
    if (!(fraction > 0 && fraction <= 1)) return cli_fail("--data-fraction must be in (0, 1]");
    if (from_scratch && !full) return cli_fail("--from-scratch trains random weights: give --full too (LoRA needs a trained base)");
    sft_opts_t so;
    sft_opts_default(&so);
    so.train_on_prompt = train_on_prompt, so.strict = strict;
    if (strcmp(too_long, "truncate") == 0) so.too_long = SFT_LONG_TRUNCATE;
    else if (strcmp(too_long, "drop") == 0) so.too_long = SFT_LONG_DROP;
    else if (strcmp(too_long, "error") == 0) so.too_long = SFT_LONG_ERROR;
    else return cli_fail("--too-long: give truncate, drop or error");
    o.lora = !full;
    o.seed = (uint64_t)seed;
    err_t e = {0};
    gpt_t m;
    tok_t *tok = NULL;
    sft_data_t train, heldout;
    sft_init(&train), sft_init(&heldout);
    lora_t *adapter = NULL;
    FILE *metrics = NULL;
    char path[4200], json[4200];
    rc = 1;
    if (cli_load_model(base, tokenizer, NULL, full ? CLI_WRITABLE : 0, &m, &tok, &e) != 0) return cli_fail(e.msg);
    if (o.lora && lora_targets_parse(targets, m.cfg.family, &o.lora_cfg.targets, &e) != 0) goto done;
    if (from_scratch) {  // the same shape, random weights: the baseline of the transfer experiment
        rng_t r;
        rng_seed(&r, (uint64_t)seed);
        gpt_init_weights(&m, &r);
    }
    so.max_len = m.cfg.context;
    if (load_data(&train, tok, data, &so, "", &e) != 0) goto done;
    if (val && load_data(&heldout, tok, val, &so, "held-out set, ", &e) != 0) goto done;
    if (fraction < 1) {
        sft_keep_fraction(&train, fraction, (uint64_t)seed);
        printf("training on %zu examples (%.0f%%)\n", train.n_ex, 100.0 * fraction);
    }
    if (io_mkdir_p(out, &e) != 0) goto done;
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    if (!(metrics = fopen(path, "w"))) {
        err_set(&e, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    printf("%s fine-tuning of %s: %d steps of %d x %d examples\n", o.lora ? "LoRA" : "full", base, o.steps, o.accum,
           o.batch);
    progress_t pr = {.metrics = metrics, .every = o.steps >= 20 ? o.steps / 20 : 1};
    cli_catch_signals();
    o.stop = (volatile int *)&cli_stop;
    if (sft_train(&m, &adapter, &train, val ? &heldout : NULL, &o, progress, &pr, &e) != 0) goto done;
    if (adapter) {
        snprintf(path, sizeof path, "%s/adapter.safetensors", out);
        snprintf(json, sizeof json, "%s/adapter_config.json", out);
        if (lora_save(adapter, &m, path, json, &e) != 0) goto done;
        printf("wrote %s (%zu trainable parameters, %.2f%% of the model's %zu) and %s\n", path, adapter->total,
               100.0 * adapter->total / gpt_num_params(&m), gpt_num_params(&m), json);
    } else {
        ckpt_meta_t meta;
        if (cli_checkpoint_meta(base, tokenizer, tok, &meta, &e) != 0) goto done;
        meta.step = o.steps;
        snprintf(path, sizeof path, "%s/model.safetensors", out);
        if (ckpt_save_model(path, &m, &meta, &e) != 0) goto done;
        printf("wrote %s\n", path);
    }
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    if (metrics) fclose(metrics);
    m.lora = NULL;
    lora_free(adapter);
    sft_free(&train), sft_free(&heldout);
    cli_free_model(&m, tok);
    return rc;
}

static int lora_merge_cmd(int argc, char **argv) {
    const char *base = NULL, *adapter = NULL, *out = NULL;
    arg_opt_t opts[] = {
        {"base", ARG_STR, &base, "the checkpoint the adapter was trained on"},
        {"adapter", ARG_STR, &adapter, "adapter.safetensors from manabi sft"},
        {"out", ARG_STR, &out, "the merged checkpoint to write"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("lora merge", "--base CKPT --adapter FILE --out FILE", opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!base || !adapter || !out) return cli_fail("lora merge: --base, --adapter and --out are required");
    err_t e = {0};
    gpt_t m;
    ckpt_meta_t meta;
    if (ckpt_load_model(base, &m, &meta, &e) != 0) return cli_fail(e.msg);
    lora_t *l = lora_load(adapter, &m, &e);
    rc = !l || lora_merge(l, &m, &e) != 0 || ckpt_save_model(out, &m, &meta, &e) != 0;
    if (rc) cli_fail(e.msg);
    else printf("merged %s into %s: wrote %s\n", adapter, base, out);
    lora_free(l);
    gpt_free(&m);
    return rc;
}

int cmd_lora(int argc, char **argv) {
    if (argc >= 1 && strcmp(argv[0], "merge") == 0) return lora_merge_cmd(argc - 1, argv + 1);
    fprintf(stderr, "usage: manabi lora merge --base CKPT --adapter FILE --out FILE\n");
    return 2;
}
