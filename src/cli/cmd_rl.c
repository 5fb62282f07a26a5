// manabi rl: reinforcement learning with GRPO or PPO (align/rl.h) on the questions of a
// fine-tuning file, rewarded by a program (exact or contained match with the reference answers)
// or by a reward model (manabi rm).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align/rl.h"
#include "align/reward.h"
#include "cli/cli.h"
#include "core/io.h"
#include "finetune/evaluate.h"
#include "finetune/sftdata.h"

typedef struct reward_ctx {
    int kind;               // 0 exact, 1 contained, 2 reward model
    qa_key_t *key;
    rm_t *rm;
    const int32_t *const *prompts;
    const int *lens;
    int32_t end;
    int32_t *buf;           // (context) a prompt and its answer for the reward model
    int context;
} reward_ctx_t;

static double reward(size_t prompt, const char *text, const int32_t *tokens, int n, void *ctx) {
    reward_ctx_t *c = ctx;
    if (c->kind < 2) {
        int exact, contained;
        qa_key_match(c->key, prompt, text, &exact, &contained);
        return c->kind == 0 ? exact : contained;
    }
    int np = c->lens[prompt], len = np + n;
    memcpy(c->buf, c->prompts[prompt], (size_t)np * sizeof(int32_t));
    memcpy(c->buf + np, tokens, (size_t)n * sizeof(int32_t));
    if ((n == 0 || tokens[n - 1] != c->end) && len < c->context) c->buf[len++] = c->end;
    double s = 0;
    err_t e = {0};
    return rm_score_one(c->rm, c->buf, len, &s, &e) == 0 ? s : 0;
}

static void progress(const rl_progress_t *p, void *ctx) {
    int every = *(int *)ctx;
    if (p->step == 1 || p->step % every == 0 || p->step == p->steps)
        printf("step %5d/%d | reward %.4f (spread %.4f) | KL %.4f per token | answer %.1f tokens | loss %+.4f\n", p->step,
               p->steps, p->reward, p->reward_std, p->kl, p->answer_tokens, p->loss);
    fflush(stdout);
}

int cmd_rl(int argc, char **argv) {
    const char *base = NULL, *sft_lora = NULL, *data = NULL, *out = NULL, *kind = "exact", *rm_dir = NULL;
    const char *algo = "grpo";
    const char *targets = "q,v", *tokenizer = NULL;
    int seed = 1337;
    rl_opts_t o;
    rl_defaults(&o);
    arg_opt_t opts[] = {
        {"base", ARG_STR, &base, "the checkpoint the policy starts from (and the reference it is held to)"},
        {"sft-lora", ARG_STR, &sft_lora, "a fine-tuning adapter of the base, merged into it first"},
        {"prompts", ARG_STR, &data, "questions (JSONL as manabi sft reads; their answers are the references)"},
        {"out", ARG_STR, &out, "output directory: base.safetensors + adapter.safetensors"},
        {"algo", ARG_STR, &algo, "grpo (group-relative advantages) or ppo (value head, GAE, clipped ratio)"},
        {"reward", ARG_STR, &kind, "exact, contained (match with the references) or rm (a reward model)"},
        {"rm", ARG_STR, &rm_dir, "the reward model's directory (manabi rm), for --reward rm"},
        {"group", ARG_INT, &o.group, "answers sampled per prompt"},
        {"batch", ARG_INT, &o.prompts, "prompts per step"},
        {"steps", ARG_INT, &o.steps, "optimizer steps"},
        {"max-tokens", ARG_INT, &o.max_new, "most tokens per answer"},
        {"beta", ARG_FLOAT, &o.beta, "weight of the KL term to the reference"},
        {"clip", ARG_FLOAT, &o.clip, "PPO: the ratio's clip range"},
        {"epochs", ARG_INT, &o.epochs, "PPO: passes over each batch of samples"},
        {"vf-coef", ARG_FLOAT, &o.vf_coef, "PPO: weight of the value loss"},
        {"gamma", ARG_FLOAT, &o.gamma, "PPO: discount"},
        {"lambda", ARG_FLOAT, &o.lambda, "PPO: GAE's lambda"},
        {"temperature", ARG_FLOAT, &o.temperature, "sampling temperature"},
        {"lr", ARG_FLOAT, &o.lr, "peak learning rate"},
        CLI_LORA_OPTS(&o.lora_cfg, targets),
        {"seed", ARG_INT, &seed, "sampling, prompt order, adapter initialisation"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("rl", "--base CKPT [--sft-lora ADAPTER] --prompts FILE --out DIR [--reward exact|contained|rm]",
                             opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!base || !data || !out) return cli_fail("rl: --base, --prompts and --out are required");
    reward_ctx_t rc_ = {0};
    rc_.kind = !strcmp(kind, "exact") ? 0 : !strcmp(kind, "contained") ? 1 : !strcmp(kind, "rm") ? 2 : -1;
    if (rc_.kind < 0) return cli_fail("--reward: give exact, contained or rm");
    if (strcmp(algo, "grpo") && strcmp(algo, "ppo")) return cli_fail("--algo: give grpo or ppo");
    o.algo = strcmp(algo, "ppo") == 0 ? RL_PPO : RL_GRPO;
    if (rc_.kind == 2 && !rm_dir) return cli_fail("--reward rm needs --rm DIR (from manabi rm)");
    o.seed = (uint64_t)seed;
    err_t e = {0};
    gpt_t m, mr = {0};
    tok_t *tok = NULL, *tr = NULL;
    sft_data_t ds;
    sft_init(&ds);
    rm_t rm = {0};
    lora_t *adapter = NULL;
    const int32_t **prompts = NULL;
    int *lens = NULL;
    char path[4200];
    rc = 1;
    if (cli_load_start(base, tokenizer, sft_lora, &m, &tok, &e) != 0) return cli_fail(e.msg);
    if (lora_targets_parse(targets, m.cfg.family, &o.lora_cfg.targets, &e) != 0) goto done;
    sft_opts_t so;
    sft_opts_default(&so);
    so.max_len = m.cfg.context;
    if (sft_load(&ds, tok, data, &so, &e) != 0) goto done;
    if (ds.n_ex == 0) {
        err_set(&e, "%s: no usable question", data);
        goto done;
    }
    prompts = malloc(ds.n_ex * sizeof *prompts), lens = malloc(ds.n_ex * sizeof *lens);
    if (!prompts || !lens) {
        err_set(&e, "out of memory");
        goto done;
    }
    int32_t asst = tok_special(tok, TOK_ASSISTANT), end = tok_special(tok, TOK_END);
    for (size_t i = 0; i < ds.n_ex; i++) {
        const sft_example_t *x = &ds.ex[i];
        int k = x->len - 1;
        while (k >= 0 && ds.ids[x->off + k] != asst) k--;
        prompts[i] = ds.ids + x->off, lens[i] = k + 1;
    }
    rc_.prompts = prompts, rc_.lens = lens, rc_.end = end;
    if (rc_.kind < 2 && !(rc_.key = qa_key_new(&ds, tok, &e))) goto done;
    if (rc_.kind == 2) {
        char adapter_path[4200], head[4200];
        snprintf(adapter_path, sizeof adapter_path, "%s/adapter.safetensors", rm_dir);
        int rm_lora = access(adapter_path, F_OK) == 0;
        snprintf(path, sizeof path, "%s/%s.safetensors", rm_dir, rm_lora ? "base" : "model");
        snprintf(head, sizeof head, "%s/head.safetensors", rm_dir);
        if (cli_load_model(path, NULL, rm_lora ? adapter_path : NULL, 0, &mr, &tr, &e) != 0 ||
            rm_init(&rm, &mr, &e) != 0 || rm_load_head(&rm, head, &e) != 0)
            goto done;
        if (tok_hash(tr) != tok_hash(tok)) {
            err_set(&e, "the reward model in %s uses another tokenizer than %s", rm_dir, base);
            goto done;
        }
        rc_.rm = &rm, rc_.context = mr.cfg.context;
        if (!(rc_.buf = malloc((size_t)mr.cfg.context * sizeof(int32_t)))) {
            err_set(&e, "out of memory");
            goto done;
        }
    }
    ckpt_meta_t meta;
    if (io_mkdir_p(out, &e) != 0 || cli_checkpoint_meta(base, tokenizer, tok, &meta, &e) != 0) goto done;
    snprintf(path, sizeof path, "%s/base.safetensors", out);
    if (ckpt_save_model(path, &m, &meta, &e) != 0) goto done;
    printf("%s of %s%s%s on %zu prompts: %d steps of %d prompts x %d answers, reward %s, beta %g\n",
           o.algo == RL_PPO ? "PPO" : "GRPO", base,
           sft_lora ? " + " : "", sft_lora ? sft_lora : "", ds.n_ex, o.steps, o.prompts, o.group, kind, o.beta);
    int every = o.steps >= 20 ? o.steps / 20 : 1;
    cli_catch_signals();
    o.stop = (volatile int *)&cli_stop;
    int32_t stops[] = {end, tok_special(tok, TOK_EOT), tok_special(tok, TOK_USER), tok_special(tok, TOK_SYSTEM), asst};
    if (rl_train(&m, tok, &adapter, prompts, lens, ds.n_ex, stops, 5, reward, &rc_, &o, progress, &every, &e) != 0)
        goto done;
    snprintf(path, sizeof path, "%s/adapter.safetensors", out);
    if (lora_save(adapter, &m, path, NULL, &e) != 0) goto done;
    printf("wrote %s/base.safetensors and %s\n", out, path);
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    if (adapter) m.lora = NULL;
    lora_free(adapter);
    qa_key_free(rc_.key);
    free(rc_.buf), free(prompts), free(lens);
    rm_free(&rm);
    sft_free(&ds);
    cli_free_model(&mr, tr);
    cli_free_model(&m, tok);
    return rc;
}
