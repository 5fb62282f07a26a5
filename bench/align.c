// manabi alignment benchmark: a step of DPO, GRPO or PPO on the small configuration.
//
//   build/bench_align --mode dpo|grpo|ppo [--steps N] [--warmup K] [--batch B] [--pairs P] [--json]
//
// The small configuration (Llama, V=32768, context 512, L=8, NH=8, C=512, d_ff from
// gpt_config_preset), random weights (seed 1), the byte tokenizer, LoRA rank 8 on q_proj and
// v_proj (dpo_defaults / rl_defaults), the base frozen.  One mode per process, so the peak
// memory is that mode's alone (bench/align.sh runs all three).
//
// dpo: P synthetic preference pairs (a user prompt of 40..80 bytes, a chosen and a rejected
// answer of 40..100 bytes each, words from a fixed list, seed 7), written as JSONL to a
// temporary directory and read back with pref_load; dpo_train with B pairs per step (2 B rows).
// Per step: dpo_progress_t's step_s (forward, backward, clipping, AdamW; the reference
// log-probabilities are computed once before the first step and are not in it) and tokens
// (row positions, padding to the batch's longest row included); tokens/s = tokens / step_s.
//
// grpo, ppo: rl_train (algo RL_GRPO or RL_PPO, rl_defaults: 4 prompts x group 4 = 16 rows,
// max_new 32) on 16 synthetic user prompts (40..80 bytes, chat template with the generation
// prompt), stopping at <|end|> or <|endoftext|>; reward: the share of the answer's tokens
// that are lowercase ASCII letters.  Per step: rl_progress_t's gen_s (sampling 16 answers
// with the KV cache, and scoring them) and train_s (the rows, the reference forward, the
// policy's forward and backward and the update; for PPO also the old policy's forward and
// two epochs).  Generation tokens/s = answer tokens generated (16 x the mean answer length)
// / gen_s; training positions/s = the rows' positions (prompt + answer of each of the 16
// rows, without the padding to the longest row, counted by the reward callback) / train_s.
//
// Every reported time is the median over the N steps after K warm-up steps.  Memory: the
// measured peak resident memory, and the model's own weights (parameters x 4 bytes) beside
// it; the reference model is the same weights with the adapters unset (no second copy), so
// the increase over the resident memory before training (weights, tokenizer, data) stays
// well below the size of the weights.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "align/dpo.h"
#include "align/prefs.h"
#include "align/rl.h"
#include "core/args.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/timing.h"
#include "model/gpt.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

#define MIB (1024.0 * 1024.0)

enum { N_PROMPTS = 16 };

static const char *const WORDS[] = {
    "the",      "model",   "learns",  "from",     "examples", "a",       "token",   "of",      "text",
    "how",      "does",    "one",     "train",    "small",    "network", "with",    "data",    "and",
    "what",     "is",      "loss",    "step",     "gradient", "weight",  "layer",   "attention",
    "head",     "value",   "query",   "key",      "matrix",   "product", "memory",  "time",    "per",
    "batch",    "row",     "answer",  "question", "user",     "assistant", "please", "explain", "why",
    "when",     "it",      "can",     "be",       "faster",   "than",    "before",  "we",      "use",
    "rank",     "adapter", "frozen",  "base",     "optimizer", "state",  "moment",  "update",  "rate",
    "schedule", "warmup",  "cosine",  "decay",    "example",  "context", "length",  "vocabulary",
};
enum { NWORDS = sizeof WORDS / sizeof WORDS[0] };

// Exactly n bytes (n >= 2) of words ending in `end`, NUL-terminated, into out (n + 1 bytes).
// Plain ASCII without quotes or backslashes: as JSON it needs no escaping, and with the byte
// tokenizer it is n tokens.
static void words(char *out, int n, char end, rng_t *rng) {
    int k = 0;
    while (k < n - 1) {
        const char *w = WORDS[rng_below(rng, NWORDS)];
        if (k > 0) out[k++] = ' ';
        for (int i = 0; w[i] && k < n - 1; i++) out[k++] = w[i];
    }
    if (out[k - 1] == ' ') out[k - 1] = 'a';  // a word cut right after its space
    out[0] = (char)(out[0] - 'a' + 'A');
    out[k++] = end;
    out[k] = 0;
}

static int between(rng_t *rng, int lo, int hi) { return lo + (int)rng_below(rng, (uint64_t)(hi - lo + 1)); }

// Writes n preference pairs as JSONL to path.  0, or -1 when the file cannot be written.
static int write_pairs(const char *path, int n, uint64_t seed) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    rng_t rng;
    rng_seed(&rng, seed);
    char q[128], c[128], r[128];
    for (int i = 0; i < n; i++) {
        words(q, between(&rng, 40, 80), '?', &rng);
        words(c, between(&rng, 40, 100), '.', &rng);
        do words(r, between(&rng, 40, 100), '.', &rng);
        while (strcmp(c, r) == 0);
        fprintf(f, "{\"prompt\":\"%s\",\"chosen\":\"%s\",\"rejected\":\"%s\"}\n", q, c, r);
    }
    int bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}

// What the progress and reward callbacks record per step.
typedef struct run {
    int n, cap;
    double *a, *b;      // (cap) dpo: step_s, tokens; rl: gen_s, train_s
    double *c, *d;      // (cap) rl: answer tokens generated, row positions
    double *loss;       // (cap) dpo: loss; rl: mean reward
    const int *lens;    // rl: prompt lengths
    double gen_tokens, positions;  // this step's so far (reward callback)
} run_t;

static void on_dpo(const dpo_progress_t *p, void *ctx) {
    run_t *r = ctx;
    if (r->n >= r->cap) return;
    r->a[r->n] = p->step_s, r->b[r->n] = (double)p->tokens, r->loss[r->n] = p->train.loss;
    r->n++;
}

static double reward(size_t prompt, const char *text, const int32_t *tokens, int n, void *ctx) {
    (void)text;
    run_t *r = ctx;
    r->gen_tokens += n;
    r->positions += r->lens[prompt] + n;
    if (n == 0) return 0;
    int lower = 0;
    for (int i = 0; i < n; i++) lower += tokens[i] >= 'a' && tokens[i] <= 'z';
    return (double)lower / n;
}

static void on_rl(const rl_progress_t *p, void *ctx) {
    run_t *r = ctx;
    if (r->n < r->cap) {
        r->a[r->n] = p->gen_s, r->b[r->n] = p->train_s, r->c[r->n] = r->gen_tokens, r->d[r->n] = r->positions;
        r->loss[r->n] = p->reward;
        r->n++;
    }
    r->gen_tokens = r->positions = 0;
}

// The median of v[from..to) (copied into scratch).
static double median(const double *v, int from, int to, double *scratch) {
    memcpy(scratch, v + from, sizeof(double) * (size_t)(to - from));
    return timing_median(scratch, to - from);
}

int main(int argc, char **argv) {
    const char *mode = "dpo";
    int steps = 4, warmup = 1, batch = 8, pairs = 16, json = 0;
    arg_opt_t opts[] = {
        {"mode", ARG_STR, &mode, "dpo, grpo or ppo"},
        {"steps", ARG_INT, &steps, "timed steps"},
        {"warmup", ARG_INT, &warmup, "untimed steps first"},
        {"batch", ARG_INT, &batch, "dpo: pairs per step"},
        {"pairs", ARG_INT, &pairs, "dpo: synthetic pairs (epochs repeat them)"},
        {"json", ARG_BOOL, &json, "one JSON line"},
        {0},
    };
    char *pos[1];
    int npos;
    err_t e = {0};
    if (args_parse(opts, argc - 1, argv + 1, pos, 0, &npos, &e) != 0) {
        fprintf(stderr, "bench_align: %s\n", e.msg);
        args_print(stderr, opts);
        return 2;
    }
    int dpo = strcmp(mode, "dpo") == 0, grpo = strcmp(mode, "grpo") == 0, ppo = strcmp(mode, "ppo") == 0;
    if (!dpo && !grpo && !ppo) {
        fprintf(stderr, "bench_align: --mode must be dpo, grpo or ppo, not '%s'\n", mode);
        return 2;
    }
    if (steps < 1 || warmup < 0 || batch < 1 || batch > 256 || pairs < 1) {
        fprintf(stderr, "bench_align: give --steps >= 1, --warmup >= 0, --batch in 1..256 and --pairs >= 1\n");
        return 2;
    }
    const int V = 32768, context = 512, L = 8;

    int rc = 1, total = warmup + steps;
    tok_t *tok = NULL;
    pref_data_t pd;
    pref_init(&pd);
    gpt_t m;
    memset(&m, 0, sizeof m);
    lora_t *adapter = NULL;
    chat_t chat;
    chat_init(&chat);
    int32_t *prompt_ids[N_PROMPTS] = {0};
    int prompt_lens[N_PROMPTS] = {0};
    char dir[] = "/tmp/bench_align.XXXXXX", path[sizeof dir + 16] = "";
    int have_dir = 0;
    run_t r = {.cap = total, .lens = prompt_lens};
    r.a = calloc((size_t)total, sizeof(double)), r.b = calloc((size_t)total, sizeof(double));
    r.c = calloc((size_t)total, sizeof(double)), r.d = calloc((size_t)total, sizeof(double));
    r.loss = calloc((size_t)total, sizeof(double));
    double *scratch = calloc((size_t)total, sizeof(double)), *rate = calloc((size_t)total, sizeof(double));
    if (!r.a || !r.b || !r.c || !r.d || !r.loss || !scratch || !rate) {
        fprintf(stderr, "bench_align: out of memory\n");
        goto done;
    }
    if (tok_load(&tok, "byte", NULL, &e) != 0) goto fail;
    if (tok_vocab_size(tok) > V) {
        err_set(&e, "the tokenizer has %d tokens, more than V=%d", tok_vocab_size(tok), V);
        goto fail;
    }

    // The data: pairs through a JSONL file, or prompts through the chat template.
    int prompt_min = 0, prompt_max = 0;
    if (dpo) {
        if (!mkdtemp(dir)) {
            err_set(&e, "cannot make a temporary directory %s", dir);
            goto fail;
        }
        have_dir = 1;
        snprintf(path, sizeof path, "%s/pairs.jsonl", dir);
        if (write_pairs(path, pairs, 7) != 0) {
            err_set(&e, "cannot write %s", path);
            goto fail;
        }
        if (pref_load(&pd, tok, path, context, 1, &e) != 0) goto fail;
        if (pd.n != (size_t)pairs) {
            err_set(&e, "%zu of %d synthetic pairs loaded", pd.n, pairs);
            goto fail;
        }
    } else {
        rng_t rng;
        rng_seed(&rng, 7);
        char q[128];
        for (int i = 0; i < N_PROMPTS; i++) {
            words(q, between(&rng, 40, 80), '?', &rng);
            chat_truncate(&chat, 0);
            size_t n = 0, cap = 0;
            if (chat_add(&chat, CHAT_USER, q, strlen(q), &e) != 0 ||
                chat_encode(tok, &chat, 1, &prompt_ids[i], NULL, &n, &cap, &e) != 0)
                goto fail;
            prompt_lens[i] = (int)n;
            if (!prompt_min || (int)n < prompt_min) prompt_min = (int)n;
            if ((int)n > prompt_max) prompt_max = (int)n;
        }
    }

    // The model: the small configuration, random weights.
    gpt_config_t c;
    gpt_config_preset(&c, GPT_LLAMA, L, V, context);
    if (gpt_init(&m, &c, &e) != 0) goto fail;
    rng_t rng;
    rng_seed(&rng, 1);
    gpt_init_weights(&m, &rng);
    size_t base_rss = mem_resident();

    int R = 0;
    if (dpo) {
        dpo_opts_t o;
        dpo_defaults(&o);
        o.batch = batch, o.steps = total;
        if (dpo_train(&m, &adapter, &pd, NULL, &o, on_dpo, &r, &e) != 0) goto fail;
    } else {
        rl_opts_t o;
        rl_defaults(&o);
        o.algo = ppo ? RL_PPO : RL_GRPO, o.steps = total;
        R = o.prompts * o.group;
        int32_t stops[2] = {tok_special(tok, TOK_END), tok_special(tok, TOK_EOT)};
        const int32_t *const *pp = (const int32_t *const *)prompt_ids;
        if (rl_train(&m, tok, &adapter, pp, prompt_lens, N_PROMPTS, stops, 2, reward, &r, &o, on_rl, &r, &e) != 0)
            goto fail;
    }
    size_t peak_rss = mem_peak_resident();
    if (r.n != total) {
        err_set(&e, "%s reported %d steps, not %d", dpo ? "dpo_train" : "rl_train", r.n, total);
        goto fail;
    }
    size_t params = gpt_num_params(&m);
    double weights = (double)params * sizeof(float) / MIB, peak = peak_rss / MIB, base = base_rss / MIB;
    int threads = omp_get_max_threads();
    // The logits alone, (rows, longest row, V) floats: the largest activation, not a copy of the weights.
    int rows = dpo ? 2 * batch : R, longest = dpo ? pref_longest(&pd, 0, pd.n) : prompt_max + 32;
    double logits = (double)rows * longest * V * sizeof(float) / MIB;
    double a_med = median(r.a, warmup, total, scratch), b_med = median(r.b, warmup, total, scratch);
    if (json)
        printf("{\"impl\":\"manabi\",\"mode\":\"%s\",\"config\":\"small\",\"family\":\"llama\",\"threads\":%d,"
               "\"steps\":%d,\"warmup\":%d,",
               mode, threads, steps, warmup);
    if (dpo) {
        for (int s = warmup; s < total; s++) rate[s] = r.b[s] / r.a[s];
        double tps = median(rate, warmup, total, scratch);
        int pmin = 1 << 30, pmax = 0, amin = 1 << 30, amax = 0;
        for (size_t i = 0; i < pd.n; i++) {
            const pref_pair_t *q = &pd.p[i];
            pmin = q->n_prompt < pmin ? q->n_prompt : pmin, pmax = q->n_prompt > pmax ? q->n_prompt : pmax;
            int lo = q->n_chosen < q->n_rejected ? q->n_chosen : q->n_rejected;
            int hi = q->n_chosen > q->n_rejected ? q->n_chosen : q->n_rejected;
            amin = lo < amin ? lo : amin, amax = hi > amax ? hi : amax;
        }
        if (json) {
            printf("\"pairs\":%d,\"batch\":%d,\"rows\":%d,\"prompt_tokens\":[%d,%d],\"answer_tokens\":[%d,%d],"
                   "\"step_s_median\":%.4f,\"step_s\":[",
                   pairs, batch, 2 * batch, pmin, pmax, amin, amax, a_med);
            for (int s = warmup; s < total; s++) printf("%s%.4f", s > warmup ? "," : "", r.a[s]);
            printf("],\"tokens_median\":%.0f,\"tokens_per_s\":%.1f,", b_med, tps);
        } else {
            printf("manabi DPO, small llama: %zu params, %d pairs per step (%d rows), prompts %d..%d tokens, answers "
                   "%d..%d, %d threads, OpenBLAS %s\n",
                   params, batch, 2 * batch, pmin, pmax, amin, amax, threads, cpu_blas_core());
            printf("median step %.3f s | %.0f row positions per step | %.0f tokens/s | loss %.4f -> %.4f\n", a_med,
                   b_med, tps, r.loss[0], r.loss[total - 1]);
        }
    } else {
        for (int s = warmup; s < total; s++) rate[s] = r.c[s] / r.a[s];
        double gen_tps = median(rate, warmup, total, scratch);
        for (int s = warmup; s < total; s++) rate[s] = r.d[s] / r.b[s];
        double train_tps = median(rate, warmup, total, scratch);
        double ans = median(r.c, warmup, total, scratch) / R, rows_pos = median(r.d, warmup, total, scratch);
        if (json) {
            printf("\"rows\":%d,\"prompt_tokens\":[%d,%d],\"answer_tokens_median\":%.2f,\"gen_s_median\":%.4f,"
                   "\"train_s_median\":%.4f,\"gen_s\":[",
                   R, prompt_min, prompt_max, ans, a_med, b_med);
            for (int s = warmup; s < total; s++) printf("%s%.4f", s > warmup ? "," : "", r.a[s]);
            printf("],\"train_s\":[");
            for (int s = warmup; s < total; s++) printf("%s%.4f", s > warmup ? "," : "", r.b[s]);
            printf("],\"gen_tokens_per_s\":%.1f,\"train_positions_median\":%.0f,\"train_positions_per_s\":%.1f,",
                   gen_tps, rows_pos, train_tps);
        } else {
            printf("manabi %s, small llama: %zu params, %d rows (4 prompts x group 4), prompts %d..%d tokens, max_new "
                   "32, %d threads, OpenBLAS %s\n",
                   ppo ? "PPO" : "GRPO", params, R, prompt_min, prompt_max, threads, cpu_blas_core());
            printf("median generation %.3f s (%.0f answer tokens/s, %.1f per answer) | training %.3f s (%.0f row "
                   "positions/s, %.0f per step) | reward %.3f -> %.3f\n",
                   a_med, gen_tps, ans, b_med, train_tps, rows_pos, r.loss[0], r.loss[total - 1]);
        }
    }
    if (json)
        printf("\"params\":%zu,\"weights_mib\":%.2f,\"base_rss_mib\":%.1f,\"peak_rss_mib\":%.1f,"
               "\"rss_increase_mib\":%.1f,\"peak_over_weights\":%.3f,\"logits_mib\":%.1f,\"first\":%.4f,\"last\":%.4f,"
               "\"blas\":\"OpenBLAS %s\"}\n",
               params, weights, base, peak, peak - base, peak / weights, logits, r.loss[0], r.loss[total - 1],
               cpu_blas_core());
    else
        printf("resident: %.0f MiB before training (weights %.0f MiB), peak %.0f MiB (+%.0f MiB, %.2f x the weights; "
               "the logits alone %.0f MiB)\n",
               base, weights, peak, peak - base, peak / weights, logits);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_align: %s\n", e.msg);
done:
    m.lora = NULL;
    gpt_free(&m);
    lora_free(adapter);
    pref_free(&pd);
    chat_free(&chat);
    for (int i = 0; i < N_PROMPTS; i++) free(prompt_ids[i]);
    if (path[0]) unlink(path);
    if (have_dir) rmdir(dir);
    tok_free(tok);
    free(r.a), free(r.b), free(r.c), free(r.d), free(r.loss), free(scratch), free(rate);
    return rc;
}
