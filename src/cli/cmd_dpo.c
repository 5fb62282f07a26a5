// manabi dpo: Direct Preference Optimization of a (fine-tuned) checkpoint on preference pairs.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align/dpo.h"
#include "cli/cli.h"
#include "core/io.h"

typedef struct {
    FILE *metrics;
    int every;
} progress_t;

static void print_stats(const char *what, const dpo_stats_t *s) {
    printf("%s loss %.4f | reward accuracy %.1f%% | rewards chosen %+.3f rejected %+.3f | margin %+.3f", what, s->loss,
           100 * s->accuracy, s->chosen_reward, s->rejected_reward, s->margin);
}

static void progress(const dpo_progress_t *p, void *ctx) {
    progress_t *pr = ctx;
    if (p->step == 1 || p->step % pr->every == 0 || p->step == p->steps || p->has_val) {
        printf("step %5d/%d | ", p->step, p->steps);
        print_stats("", &p->train);
        printf(" | lr %.2e\n", p->lr);
        if (p->has_val) {
            printf("step %5d/%d | ", p->step, p->steps);
            print_stats("held-out", &p->val);
            printf("\n");
        }
    }
    if (pr->metrics) {
        fprintf(pr->metrics, "{\"step\":%d,\"loss\":%.6f,\"accuracy\":%.4f,\"margin\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6f",
                p->step, p->train.loss, p->train.accuracy, p->train.margin, p->lr, p->grad_norm);
        if (p->has_val)
            fprintf(pr->metrics, ",\"val_loss\":%.6f,\"val_accuracy\":%.4f,\"val_margin\":%.6f", p->val.loss,
                    p->val.accuracy, p->val.margin);
        fprintf(pr->metrics, "}\n");
        fflush(pr->metrics);
    }
    fflush(stdout);
}

int cmd_dpo(int argc, char **argv) {
    const char *base = NULL, *sft_lora = NULL, *data = NULL, *val = NULL, *out = NULL, *targets = "q,v";
    const char *tokenizer = NULL;
    int full = 0, strict = 0, seed = 1337;
    dpo_opts_t o;
    dpo_defaults(&o);
    arg_opt_t opts[] = {
        {"base", ARG_STR, &base, "the checkpoint to improve (and the reference it is held to)"},
        {"sft-lora", ARG_STR, &sft_lora, "a fine-tuning adapter of the base, merged into it first"},
        {"data", ARG_STR, &data, "preference pairs (JSONL: prompt, chosen, rejected)"},
        {"val", ARG_STR, &val, "held-out pairs"},
        {"out", ARG_STR, &out, "output directory: base.safetensors + adapter.safetensors, or model.safetensors"},
        {"beta", ARG_FLOAT, &o.beta, "how strongly the policy is held to the reference (smaller: freer)"},
        {"full", ARG_BOOL, &full, "train every weight instead of LoRA adapters"},
        CLI_LORA_OPTS(&o.lora_cfg, targets),
        {"steps", ARG_INT, &o.steps, "optimizer steps"},
        {"batch", ARG_INT, &o.batch, "pairs per step (at most 256)"},
        {"lr", ARG_FLOAT, &o.lr, "peak learning rate"},
        {"warmup", ARG_INT, &o.warmup, "warmup steps"},
        {"eval-every", ARG_INT, &o.eval_every, "held-out pairs every this many steps (0: at the end)"},
        {"strict", ARG_BOOL, &strict, "stop at the first unusable pair instead of skipping it"},
        {"seed", ARG_INT, &seed, "data order and adapter initialisation"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("dpo", "--base CKPT [--sft-lora ADAPTER] --data PAIRS --out DIR [options]", opts, argc,
                             argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!base || !data || !out) return cli_fail("dpo: --base, --data and --out are required");
    if (o.batch > 256) return cli_fail("--batch: at most 256 pairs");
    o.lora = !full, o.seed = (uint64_t)seed;
    err_t e = {0};
    gpt_t m;
    tok_t *tok = NULL;
    pref_data_t train, held;
    pref_init(&train), pref_init(&held);
    lora_t *adapter = NULL;
    FILE *metrics = NULL;
    char path[4200];
    rc = 1;
    if (cli_load_start(base, tokenizer, sft_lora, &m, &tok, &e) != 0) return cli_fail(e.msg);
    if (o.lora && lora_targets_parse(targets, m.cfg.family, &o.lora_cfg.targets, &e) != 0) goto done;
    if (cli_load_pairs(&train, tok, data, m.cfg.context, strict, &e) != 0) goto done;
    if (val && cli_load_pairs(&held, tok, val, m.cfg.context, strict, &e) != 0) goto done;
    if (io_mkdir_p(out, &e) != 0) goto done;
    snprintf(path, sizeof path, "%s/metrics.jsonl", out);
    if (!(metrics = fopen(path, "w"))) {
        err_set(&e, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    ckpt_meta_t meta;
    if (cli_checkpoint_meta(base, tokenizer, tok, &meta, &e) != 0) goto done;
    if (o.lora) {  // the adapter's base: the model as DPO found it
        snprintf(path, sizeof path, "%s/base.safetensors", out);
        if (ckpt_save_model(path, &m, &meta, &e) != 0) goto done;
    }
    printf("DPO (%s, beta %g) of %s%s%s: %d steps of %d pairs\n", o.lora ? "LoRA" : "every weight", o.beta, base,
           sft_lora ? " + " : "", sft_lora ? sft_lora : "", o.steps, o.batch);
    progress_t pr = {.metrics = metrics, .every = o.steps >= 20 ? o.steps / 20 : 1};
    cli_catch_signals();
    o.stop = (volatile int *)&cli_stop;
    if (dpo_train(&m, &adapter, &train, val ? &held : NULL, &o, progress, &pr, &e) != 0) goto done;
    if (adapter) {
        snprintf(path, sizeof path, "%s/adapter.safetensors", out);
        char json[4200];
        snprintf(json, sizeof json, "%s/adapter_config.json", out);
        if (lora_save(adapter, &m, path, json, &e) != 0) goto done;
        printf("wrote %s/base.safetensors and %s (use both: --ckpt %s/base.safetensors --lora %s)\n", out, path, out,
               path);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", out);
        if (ckpt_save_model(path, &m, &meta, &e) != 0) goto done;
        printf("wrote %s\n", path);
    }
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    if (metrics) fclose(metrics);
    if (adapter) m.lora = NULL;
    lora_free(adapter);
    pref_free(&train), pref_free(&held);
    cli_free_model(&m, tok);
    return rc;
}
