// manabi winrate: model A against model B on held-out prompts, judged by a reward model; and
// how far A has moved from B (a KL estimate on A's own answers).
//
// Both models answer each prompt (sampled at --temperature, by default 1 with no truncation, so
// that A's answers are draws from A); the reward model scores every answer; A wins a prompt when
// its answer scores higher (a tie counts half).  KL(A || B) per answer is estimated as the mean
// of log A(a) - log B(a) over A's answers a.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align/dpo.h"
#include "align/reward.h"
#include "cli/cli.h"
#include "finetune/sftdata.h"
#include "infer/generate.h"

// The prompts of ds (each example up to the <|assistant|> opening its last answer), n of them
// spread over the set.
static int prompts_of(const sft_data_t *ds, const tok_t *tok, size_t n, const int32_t **p, int *len, err_t *e) {
    int32_t asst = tok_special(tok, TOK_ASSISTANT);
    for (size_t i = 0; i < n; i++) {
        const sft_example_t *x = &ds->ex[n == ds->n_ex ? i : (size_t)((double)i * ds->n_ex / n)];
        int k = x->len - 1;
        while (k >= 0 && ds->ids[x->off + k] != asst) k--;
        if (k < 0) return err_set(e, "%s:%zu: no answer turn to prompt for", ds->files[x->file], x->line);
        p[i] = ds->ids + x->off, len[i] = k + 1;
    }
    return 0;
}

// Appends pair (prompt, a, b) to d; each answer closed by <|end|> when it was cut short.
static int add_pair(pref_data_t *d, const int32_t *prompt, int np, const gen_output_t *a, const gen_output_t *b,
                    int32_t end) {
    size_t need = (size_t)np + a->n + b->n + 2;
    if (d->n_ids + need > d->cap_ids) {
        size_t c = (d->n_ids + need) * 2;
        int32_t *q = realloc(d->ids, c * sizeof *q);
        if (!q) return -1;
        d->ids = q, d->cap_ids = c;
    }
    if (d->n == d->cap) {
        size_t c = d->cap ? 2 * d->cap : 64;
        pref_pair_t *q = realloc(d->p, c * sizeof *q);
        if (!q) return -1;
        d->p = q, d->cap = c;
    }
    pref_pair_t *p = &d->p[d->n++];
    p->off = d->n_ids, p->n_prompt = np, p->line = d->n;
    memcpy(d->ids + d->n_ids, prompt, (size_t)np * sizeof(int32_t));
    d->n_ids += (size_t)np;
    const gen_output_t *ans[2] = {a, b};
    for (int s = 0; s < 2; s++) {
        memcpy(d->ids + d->n_ids, ans[s]->tokens, (size_t)ans[s]->n * sizeof(int32_t));
        d->n_ids += (size_t)ans[s]->n;
        int n = ans[s]->n;
        if (n == 0 || ans[s]->tokens[n - 1] != end) d->ids[d->n_ids++] = end, n++;
        if (s == 0) p->n_chosen = n;
        else p->n_rejected = n;
    }
    return 0;
}

static int answer(gpt_t *m, const tok_t *tok, const int32_t **prompts, const int *lens, size_t n, const gen_config_t *gc,
                  uint64_t seed, gen_output_t *out, err_t *e) {
    gen_t *g = gen_new(m, tok, 16, e);
    if (!g) return -1;
    rng_t rng;
    rng_seed(&rng, seed);
    int rc = 0;
    for (size_t first = 0; rc == 0 && first < n; first += 16) {
        int nb = (int)(n - first < 16 ? n - first : 16);
        rc = gen_run(g, gc, prompts + first, lens + first, nb, 1, &rng, NULL, NULL, out + first, e);
    }
    gen_free(g);
    return rc;
}

int cmd_winrate(int argc, char **argv) {
    const char *rm_dir = NULL, *ckpt = NULL, *lora = NULL, *vs = NULL, *vs_lora = NULL, *data = NULL;
    int limit = 200, max_new = 48, seed = 7, json = 0;
    gen_config_t gc;
    gen_config_default(&gc);
    gc.sample.temperature = 1, gc.sample.top_k = 0, gc.sample.top_p = 1, gc.sample.min_p = 0;
    arg_opt_t opts[] = {
        {"rm", ARG_STR, &rm_dir, "the reward model's directory (from manabi rm)"},
        {"ckpt", ARG_STR, &ckpt, "model A"},
        {"lora", ARG_STR, &lora, "model A's adapter"},
        {"vs", ARG_STR, &vs, "model B"},
        {"vs-lora", ARG_STR, &vs_lora, "model B's adapter"},
        {"prompts", ARG_STR, &data, "held-out examples (JSONL as manabi sft reads): their questions are the prompts"},
        {"limit", ARG_INT, &limit, "prompts, spread over the file (0: all)"},
        {"max-tokens", ARG_INT, &max_new, "most tokens per answer"},
        {"temperature", ARG_FLOAT, &gc.sample.temperature, "sampling temperature of both models (1: their own distribution)"},
        {"seed", ARG_INT, &seed, "random seed"},
        {"json", ARG_BOOL, &json, "one JSON object"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("winrate", "--rm DIR --ckpt A [--lora ADAPTER] --vs B [--vs-lora ADAPTER] --prompts FILE",
                             opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!rm_dir || !ckpt || !vs || !data) return cli_fail("winrate: --rm, --ckpt, --vs and --prompts are required");
    if (max_new < 1 || limit < 0) return cli_fail("winrate: --max-tokens must be >= 1 and --limit >= 0");
    gc.max_new = max_new;
    err_t e = {0};
    gpt_t ma = {0}, mb = {0}, mr = {0};
    tok_t *ta = NULL, *tb = NULL, *tr = NULL;
    sft_data_t ds;
    sft_init(&ds);
    pref_data_t pd;
    pref_init(&pd);
    rm_t rm = {0};
    gen_output_t *oa = NULL, *ob = NULL;
    const int32_t **prompts = NULL;
    int *lens = NULL;
    double *score = NULL, *la = NULL, *lb = NULL;
    size_t n = 0;
    char base[4200], adapter[4200], head[4200];
    rc = 1;
    snprintf(adapter, sizeof adapter, "%s/adapter.safetensors", rm_dir);
    int rm_lora = access(adapter, F_OK) == 0;
    snprintf(base, sizeof base, "%s/%s.safetensors", rm_dir, rm_lora ? "base" : "model");
    snprintf(head, sizeof head, "%s/head.safetensors", rm_dir);
    if (cli_load_model(base, NULL, rm_lora ? adapter : NULL, 0, &mr, &tr, &e) != 0 || rm_init(&rm, &mr, &e) != 0 ||
        rm_load_head(&rm, head, &e) != 0)
        goto done;
    if (cli_load_model(ckpt, NULL, lora, 0, &ma, &ta, &e) != 0 || cli_load_model(vs, NULL, vs_lora, 0, &mb, &tb, &e) != 0)
        goto done;
    if (tok_hash(ta) != tok_hash(tb) || tok_hash(ta) != tok_hash(tr)) {
        err_set(&e, "the two models and the reward model must share one tokenizer");
        goto done;
    }
    sft_opts_t so;
    sft_opts_default(&so);
    so.max_len = ma.cfg.context;
    if (sft_load(&ds, ta, data, &so, &e) != 0) goto done;
    n = limit && (size_t)limit < ds.n_ex ? (size_t)limit : ds.n_ex;
    if (n == 0) {
        err_set(&e, "%s: no usable prompt", data);
        goto done;
    }
    prompts = malloc(n * sizeof *prompts), lens = malloc(n * sizeof *lens);
    oa = calloc(n, sizeof *oa), ob = calloc(n, sizeof *ob);
    score = malloc(2 * n * sizeof *score), la = malloc(2 * n * sizeof *la), lb = malloc(2 * n * sizeof *lb);
    if (!prompts || !lens || !oa || !ob || !score || !la || !lb) {
        err_set(&e, "out of memory");
        goto done;
    }
    if (prompts_of(&ds, ta, n, prompts, lens, &e) != 0) goto done;
    int32_t stops[] = {tok_special(ta, TOK_END), tok_special(ta, TOK_EOT), tok_special(ta, TOK_USER),
                       tok_special(ta, TOK_SYSTEM), tok_special(ta, TOK_ASSISTANT)};
    gc.stop_tokens = stops, gc.n_stop_tokens = 5;
    if (answer(&ma, ta, prompts, lens, n, &gc, (uint64_t)seed, oa, &e) != 0 ||
        answer(&mb, tb, prompts, lens, n, &gc, (uint64_t)seed + 1, ob, &e) != 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (add_pair(&pd, prompts[i], lens[i], &oa[i], &ob[i], stops[0]) != 0) {
            err_set(&e, "out of memory");
            goto done;
        }
    int too_long = pref_longest(&pd, 0, pd.n) > mr.cfg.context;
    if (too_long) {
        err_set(&e, "an answer runs past the reward model's context of %d: lower --max-tokens", mr.cfg.context);
        goto done;
    }
    if (rm_scores(&rm, &pd, 8, score, &e) != 0 || dpo_logprobs(&ma, &pd, 8, la, &e) != 0 ||
        dpo_logprobs(&mb, &pd, 8, lb, &e) != 0)
        goto done;
    double wins = 0, sa = 0, sb = 0, kl = 0;
    for (size_t i = 0; i < n; i++) {
        wins += score[2 * i] > score[2 * i + 1] ? 1 : score[2 * i] == score[2 * i + 1] ? 0.5 : 0;
        sa += score[2 * i], sb += score[2 * i + 1];
        kl += la[2 * i] - lb[2 * i];  // A's answer under A and under B
    }
    if (json)
        printf("{\"prompts\":%zu,\"win_rate\":%.6f,\"reward_a\":%.6f,\"reward_b\":%.6f,\"kl_a_b\":%.6f}\n", n, wins / n,
               sa / n, sb / n, kl / n);
    else
        printf("%zu prompts: A wins %.1f%% (ties count half) | mean reward A %.3f, B %.3f | KL(A || B) %.3f nats per "
               "answer\n",
               n, 100 * wins / n, sa / n, sb / n, kl / n);
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    gen_output_free(oa, (int)n), gen_output_free(ob, (int)n);
    free(oa), free(ob), free(prompts), free(lens), free(score), free(la), free(lb);
    pref_free(&pd);
    sft_free(&ds);
    rm_free(&rm);
    cli_free_model(&ma, ta), cli_free_model(&mb, tb), cli_free_model(&mr, tr);
    return rc;
}
