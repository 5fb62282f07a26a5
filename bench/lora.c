// manabi LoRA benchmark: a fine-tuning step with LoRA adapters against one of full fine-tuning.
//
//   build/bench_lora --mode lora|full [--steps N] [--warmup K] [--batch B] [--row R] [--examples E] [--json]
//
// The small configuration (Llama, V=32768, context 512, L=8, NH=8, C=512, d_ff from
// gpt_config_preset), random weights (seed 1), trained by sft_train (finetune/sft.h) on
// synthetic conversations loaded with sft_load_text and the byte tokenizer: a user question
// and an assistant answer of words from a fixed list, every example exactly R tokens long
// (the split between question and answer varies), so every step runs the same B x R rows.
// lora: sft_train_defaults (rank 8, alpha 16, dropout 0.05, on q_proj and v_proj), the base
// frozen; full: every weight trained.  One mode per process, so the peak memory is that
// mode's alone (bench/lora.sh runs both).
//
// Step time: the interval between consecutive progress callbacks of one sft_train run (a
// whole optimizer step: rows, forward, backward, clipping, AdamW), the median over the steps
// after the warm-up.  Memory: the gradients and AdamW moments the trainable parameters need
// (4 bytes x (1 gradient + 2 moments) each), and the measured peak resident memory, also as
// an increase over the resident memory before training (the model's weights, the tokenizer
// and the data).
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/cpu.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/timing.h"
#include "finetune/sft.h"
#include "finetune/sftdata.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"

#define MIB (1024.0 * 1024.0)

// Tokens of the chat template around the two messages: <|endoftext|> <|user|> ... <|end|>
// <|assistant|> ... <|end|>.
enum { TEMPLATE_TOKENS = 5, MIN_MSG = 40, MAX_QUESTION = 200 };

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

// Appends exactly n bytes of words (n >= 2) ending in `end` to *buf (grown as needed).  Plain
// ASCII without quotes or backslashes: as JSON it needs no escaping, and with the byte
// tokenizer it is n tokens.
static int put_words(char **buf, size_t *len, size_t *cap, size_t n, char end, rng_t *rng) {
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 1 << 16) + n;
        char *p = realloc(*buf, c);
        if (!p) return -1;
        *buf = p, *cap = c;
    }
    char *out = *buf + *len;
    size_t k = 0;
    while (k < n - 1) {
        const char *w = WORDS[rng_below(rng, NWORDS)];
        if (k > 0) out[k++] = ' ';
        for (size_t i = 0; w[i] && k < n - 1; i++) out[k++] = w[i];
    }
    if (out[k - 1] == ' ') out[k - 1] = 'a';  // a word cut right after its space
    out[0] = (char)(out[0] - 'a' + 'A');
    out[k++] = end;
    *len += k;
    return 0;
}

static int put_str(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t c = (*cap ? *cap * 2 : 1 << 16) + n;
        char *p = realloc(*buf, c);
        if (!p) return -1;
        *buf = p, *cap = c;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    return 0;
}

// JSONL of n conversations, each of row tokens with the byte tokenizer: a question of
// MIN_MSG..MAX_QUESTION bytes (fewer when the row is short) and the answer taking the rest.
// malloc'ed (the caller frees), *len its bytes; NULL when out of memory.
static char *make_jsonl(int n, int row, uint64_t seed, size_t *len) {
    rng_t rng;
    rng_seed(&rng, seed);
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    int body = row - TEMPLATE_TOKENS, qmax = body - MIN_MSG < MAX_QUESTION ? body - MIN_MSG : MAX_QUESTION;
    for (int i = 0; i < n; i++) {
        int q = MIN_MSG + (int)rng_below(&rng, (uint64_t)(qmax - MIN_MSG + 1));
        if (put_str(&buf, len, &cap, "{\"messages\":[{\"role\":\"user\",\"content\":\"") ||
            put_words(&buf, len, &cap, (size_t)q, '?', &rng) ||
            put_str(&buf, len, &cap, "\"},{\"role\":\"assistant\",\"content\":\"") ||
            put_words(&buf, len, &cap, (size_t)(body - q), '.', &rng) || put_str(&buf, len, &cap, "\"}]}\n")) {
            free(buf);
            return NULL;
        }
    }
    return buf;
}

// What the progress callback records: when each step ended, and its loss.
typedef struct run {
    int n, cap;
    double *t_end;  // (cap) timing_now() at the end of step i
    double *loss;   // (cap)
    size_t trainable;
} run_t;

static void on_step(const sft_progress_t *p, void *ctx) {
    run_t *r = ctx;
    if (p->val_loss >= 0 || r->n >= r->cap) return;
    r->t_end[r->n] = timing_now();
    r->loss[r->n] = p->loss;
    r->trainable = p->trainable;
    r->n++;
}

int main(int argc, char **argv) {
    const char *mode = "lora";
    int steps = 5, warmup = 2, batch = 8, row = 256, examples = 64, json = 0;
    arg_opt_t opts[] = {
        {"mode", ARG_STR, &mode, "lora (rank 8 on q and v) or full (every weight)"},
        {"steps", ARG_INT, &steps, "timed steps"},
        {"warmup", ARG_INT, &warmup, "untimed steps first (>= 1: the first step also sets up)"},
        {"batch", ARG_INT, &batch, "rows per step"},
        {"row", ARG_INT, &row, "tokens per example and per row (85..512)"},
        {"examples", ARG_INT, &examples, "synthetic examples (epochs repeat them)"},
        {"json", ARG_BOOL, &json, "one JSON line"},
        {0},
    };
    char *pos[1];
    int npos;
    err_t e = {0};
    if (args_parse(opts, argc - 1, argv + 1, pos, 0, &npos, &e) != 0) {
        fprintf(stderr, "bench_lora: %s\n", e.msg);
        args_print(stderr, opts);
        return 2;
    }
    int lora = strcmp(mode, "lora") == 0;
    if (!lora && strcmp(mode, "full") != 0) {
        fprintf(stderr, "bench_lora: --mode must be lora or full, not '%s'\n", mode);
        return 2;
    }
    const int V = 32768, context = 512, L = 8;
    if (steps < 1 || warmup < 1 || batch < 1 || examples < 1 || row < TEMPLATE_TOKENS + 2 * MIN_MSG ||
        row > context) {
        fprintf(stderr, "bench_lora: give --steps >= 1, --warmup >= 1, --batch >= 1, --examples >= 1 and --row "
                        "in %d..%d\n", TEMPLATE_TOKENS + 2 * MIN_MSG, context);
        return 2;
    }

    int rc = 1;
    tok_t *tok = NULL;
    char *text = NULL;
    sft_data_t ds;
    sft_init(&ds);
    gpt_t m;
    memset(&m, 0, sizeof m);
    lora_t *adapter = NULL;
    run_t r = {.cap = warmup + steps};
    r.t_end = malloc(sizeof(double) * r.cap), r.loss = malloc(sizeof(double) * r.cap);
    double *ms = malloc(sizeof(double) * steps), *sorted = malloc(sizeof(double) * steps);
    if (!r.t_end || !r.loss || !ms || !sorted) {
        fprintf(stderr, "bench_lora: out of memory\n");
        goto done;
    }

    // The data: examples of exactly `row` tokens each.
    size_t text_len;
    sft_opts_t so;
    sft_opts_default(&so);
    so.max_len = context, so.strict = 1;
    if (tok_load(&tok, "byte", NULL, &e) != 0) goto fail;
    if (!(text = make_jsonl(examples, row, 7, &text_len))) {
        err_set(&e, "out of memory for the synthetic data");
        goto fail;
    }
    if (sft_load_text(&ds, tok, "synthetic.jsonl", text, text_len, &so, &e) != 0) goto fail;
    for (size_t i = 0; i < ds.n_ex; i++)
        if (ds.ex[i].len != row) {
            err_set(&e, "synthetic example %zu has %d tokens, not %d", i + 1, ds.ex[i].len, row);
            goto fail;
        }
    if (ds.n_ex != (size_t)examples) {
        err_set(&e, "%zu of %d synthetic examples loaded", ds.n_ex, examples);
        goto fail;
    }

    // The model: the small configuration, random weights.
    gpt_config_t c;
    gpt_config_preset(&c, GPT_LLAMA, L, V, context);
    if (tok_vocab_size(tok) > V) {
        err_set(&e, "the tokenizer has %d tokens, more than V=%d", tok_vocab_size(tok), V);
        goto fail;
    }
    if (gpt_init(&m, &c, &e) != 0) goto fail;
    rng_t rng;
    rng_seed(&rng, 1);
    gpt_init_weights(&m, &rng);
    size_t base_rss = mem_resident();

    sft_train_opts_t o;
    sft_train_defaults(&o);
    o.lora = lora;
    o.batch = batch, o.accum = 1, o.steps = warmup + steps;
    double t0 = timing_now();
    if (sft_train(&m, &adapter, &ds, NULL, &o, on_step, &r, &e) != 0) goto fail;
    size_t peak_rss = mem_peak_resident();
    if (r.n != warmup + steps) {
        err_set(&e, "sft_train reported %d steps, not %d", r.n, warmup + steps);
        goto fail;
    }
    for (int s = 0; s < steps; s++) {
        int i = warmup + s;
        ms[s] = (r.t_end[i] - (i ? r.t_end[i - 1] : t0)) * 1e3;
    }
    memcpy(sorted, ms, sizeof(double) * steps);  // ms keeps the order of the steps for the JSON
    double med = timing_median(sorted, steps);
    size_t params = gpt_num_params(&m);
    double tps = (double)batch * row / (med / 1e3), pct = 100.0 * (double)r.trainable / (double)params;
    double grad_opt = (double)r.trainable * sizeof(float) * 3 / MIB, weights = (double)params * sizeof(float) / MIB;
    double peak = peak_rss / MIB, base = base_rss / MIB;
    int threads = omp_get_max_threads();
    if (json) {
        printf("{\"impl\":\"manabi\",\"mode\":\"%s\",\"config\":\"small\",\"family\":\"llama\",\"threads\":%d,"
               "\"batch\":%d,\"row\":%d,\"step_ms_median\":%.3f,\"step_ms\":[",
               mode, threads, batch, row, med);
        for (int s = 0; s < steps; s++) printf("%s%.3f", s ? "," : "", ms[s]);
        printf("],\"tokens_per_s\":%.1f,\"params\":%zu,\"trainable\":%zu,\"trainable_pct\":%.4f,"
               "\"grad_opt_mib\":%.2f,\"weights_mib\":%.2f,\"base_rss_mib\":%.1f,\"peak_rss_mib\":%.1f,"
               "\"rss_increase_mib\":%.1f,\"loss_first\":%.4f,\"loss_last\":%.4f,\"blas\":\"OpenBLAS %s\"}\n",
               tps, params, r.trainable, pct, grad_opt, weights, base, peak, peak - base, r.loss[0],
               r.loss[r.n - 1], cpu_blas_core());
    } else {
        printf("manabi %s fine-tuning, small llama: %zu params, B=%d rows of %d tokens, %d threads, OpenBLAS %s\n",
               mode, params, batch, row, threads, cpu_blas_core());
        printf("median step %.1f ms | %.0f tokens/s | trainable %zu (%.3f%%) | gradients + AdamW %.2f MiB\n", med,
               tps, r.trainable, pct, grad_opt);
        printf("resident: %.0f MiB before training (weights %.0f MiB), peak %.0f MiB (+%.0f MiB) | loss %.3f -> %.3f\n",
               base, weights, peak, peak - base, r.loss[0], r.loss[r.n - 1]);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_lora: %s\n", e.msg);
done:
    m.lora = NULL;
    gpt_free(&m);
    lora_free(adapter);
    sft_free(&ds);
    free(text);
    tok_free(tok);
    free(r.t_end);
    free(r.loss);
    free(ms);
    free(sorted);
    return rc;
}
