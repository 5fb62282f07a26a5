// manabi rm: train a reward model on preference pairs (the trunk of a checkpoint + a scalar head).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align/reward.h"
#include "cli/cli.h"
#include "core/io.h"

static void progress(const rm_progress_t *p, void *ctx) {
    int every = *(int *)ctx;
    if (p->step == 1 || p->step % every == 0 || p->step == p->steps || p->val_accuracy >= 0) {
        printf("step %5d/%d | loss %.4f | pairs right %.1f%% | grad norm %.3f", p->step, p->steps, p->loss,
               100 * p->accuracy, p->grad_norm);
        if (p->val_accuracy >= 0) printf(" | held-out pairs right %.1f%%", 100 * p->val_accuracy);
        printf("\n");
        fflush(stdout);
    }
}

int cmd_rm(int argc, char **argv) {
    const char *base = NULL, *sft_lora = NULL, *data = NULL, *val = NULL, *out = NULL, *targets = "q,v";
    const char *tokenizer = NULL;
    int full = 0, strict = 0, seed = 1337;
    rm_opts_t o;
    rm_defaults(&o);
    arg_opt_t opts[] = {
        {"base", ARG_STR, &base, "the checkpoint whose trunk scores answers"},
        {"sft-lora", ARG_STR, &sft_lora, "a fine-tuning adapter of the base, merged into it first"},
        {"data", ARG_STR, &data, "preference pairs (JSONL: prompt, chosen, rejected)"},
        {"val", ARG_STR, &val, "held-out pairs"},
        {"out", ARG_STR, &out, "output directory: base.safetensors, adapter.safetensors (or model.safetensors), head.safetensors"},
        {"margin", ARG_FLOAT, &o.margin, "the Bradley-Terry loss's margin"},
        {"full", ARG_BOOL, &full, "train every weight of the trunk instead of LoRA adapters"},
        CLI_LORA_OPTS(&o.lora_cfg, targets),
        {"steps", ARG_INT, &o.steps, "optimizer steps"},
        {"batch", ARG_INT, &o.batch, "pairs per step (at most 256)"},
        {"lr", ARG_FLOAT, &o.lr, "peak learning rate of the trunk (or adapters)"},
        {"head-lr", ARG_FLOAT, &o.head_lr, "peak learning rate of the head"},
        {"warmup", ARG_INT, &o.warmup, "warmup steps"},
        {"eval-every", ARG_INT, &o.eval_every, "held-out pairs every this many steps (0: at the end)"},
        {"strict", ARG_BOOL, &strict, "stop at the first unusable pair instead of skipping it"},
        {"seed", ARG_INT, &seed, "data order and adapter initialisation"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("rm", "--base CKPT [--sft-lora ADAPTER] --data PAIRS --out DIR [options]", opts, argc, argv,
                             pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!base || !data || !out) return cli_fail("rm: --base, --data and --out are required");
    o.lora = !full, o.seed = (uint64_t)seed;
    err_t e = {0};
    gpt_t m;
    tok_t *tok = NULL;
    pref_data_t train, held;
    pref_init(&train), pref_init(&held);
    rm_t rm = {0};
    lora_t *adapter = NULL;
    char path[4200];
    rc = 1;
    if (cli_load_start(base, tokenizer, sft_lora, &m, &tok, &e) != 0) return cli_fail(e.msg);
    if (o.lora && lora_targets_parse(targets, m.cfg.family, &o.lora_cfg.targets, &e) != 0) goto done;
    if (cli_load_pairs(&train, tok, data, m.cfg.context, strict, &e) != 0) goto done;
    if (val && cli_load_pairs(&held, tok, val, m.cfg.context, strict, &e) != 0) goto done;
    if (io_mkdir_p(out, &e) != 0 || rm_init(&rm, &m, &e) != 0) goto done;
    ckpt_meta_t meta;
    if (cli_checkpoint_meta(base, tokenizer, tok, &meta, &e) != 0) goto done;
    snprintf(path, sizeof path, "%s/%s.safetensors", out, o.lora ? "base" : "model");
    if (o.lora && ckpt_save_model(path, &m, &meta, &e) != 0) goto done;
    printf("reward model (%s) on %s: %d steps of %d pairs\n", o.lora ? "LoRA" : "every weight", base, o.steps, o.batch);
    int every = o.steps >= 20 ? o.steps / 20 : 1;
    if (rm_train(&rm, &adapter, &train, val ? &held : NULL, &o, progress, &every, &e) != 0) goto done;
    if (adapter) {
        snprintf(path, sizeof path, "%s/adapter.safetensors", out);
        if (lora_save(adapter, &m, path, NULL, &e) != 0) goto done;
    } else if (ckpt_save_model(path, &m, &meta, &e) != 0) {
        goto done;
    }
    snprintf(path, sizeof path, "%s/head.safetensors", out);
    if (rm_save_head(&rm, path, &e) != 0) goto done;
    printf("wrote %s (use it with manabi winrate --rm %s)\n", path, out);
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    if (adapter) m.lora = NULL;
    lora_free(adapter);
    rm_free(&rm);
    pref_free(&train), pref_free(&held);
    cli_free_model(&m, tok);
    return rc;
}
