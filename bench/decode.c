// manabi generation benchmark, the counterpart of bench/torch_decode.py.
//
//   build/bench_decode --family llama|gpt2 --config tiny|small [--prompt-tokens P] [--new-tokens N]
//                      [--dtype f32|bf16] [--reps R] [--seed S] [--weight-scale K] [--ckpt PATH] [--json]
//
// Makes a randomly initialised model of the configuration (gpt_init_weights, then the blocks'
// matrices times K = 4: see scale_block_matrices) and a random prompt of P tokens,
// writes them to PATH (the checkpoint, as `manabi train` writes one) and PATH.prompt.json (so
// that PyTorch reads the same weights and prompt), then loads the checkpoint back as `manabi
// generate` does (memory-mapped; --dtype bf16: gpt_to_bf16) and times single-stream greedy
// generation of N tokens through the public API (gen_new / gen_run / gen_stats): prefill of
// the prompt, then N - 1 decode steps (the first new token comes from the prefill's logits).
// One warm-up run, then R timed runs, each with a fresh generator (a generator reuses a cached
// prefix, which would skip the prefill); medians of prefill and decode tokens/s.
//
// The bound: a decode step reads every weight matrix once (and the keys and values cached so
// far), so tokens/s <= memory bandwidth / bytes per token.  The bandwidth is measured here, on
// all threads, by summing a 1 GiB buffer (far beyond the caches): the best of 5 passes.  A
// model whose weights fit in the last-level cache can beat this bound; the bandwidth of a
// buffer the size of one token's reads is printed beside it (bandwidth_ws_gbs).
//
// Memory: resident memory after the runs and its peak from loading the checkpoint on (the
// writing before is not counted: the peak is reset through /proc/self/clear_refs).
//
// Letters: V vocabulary, T context, L layers, NH / NKV query / key-value heads, HS head size,
// C width, P prompt tokens, N new tokens.
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/cpu.h"
#include "core/io.h"
#include "core/mem.h"
#include "core/timing.h"
#include "infer/generate.h"
#include "model/gpt.h"
#include "train/checkpoint.h"

enum { SHOW_TOKENS = 32 };  // greedy tokens printed, for the comparison with PyTorch

// The read loop for every vector width the CPU may have (as src/kernels does it).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define READ_CLONES __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define READ_CLONES
#endif

// Sum of p[0..n): 64 independent partial sums, so the loop vectorises without reordering a
// dependent chain and the additions keep up with memory.
static READ_CLONES float sum_floats(const float *p, size_t n) {
    enum { W = 64 };
    float acc[W] = {0}, s = 0;
    size_t i = 0;
    for (; i + W <= n; i += W)
        for (int k = 0; k < W; k++) acc[k] += p[i + k];
    for (; i < n; i++) s += p[i];
    for (int k = 0; k < W; k++) s += acc[k];
    return s;
}

static volatile float sink;  // keeps the sums, so the reads cannot be optimised away

// Best read bandwidth (bytes/s) over `passes` passes, each reading buf[0..n) `repeat` times,
// every thread its own contiguous share.
static double read_bandwidth(const float *buf, size_t n, int repeat, int passes) {
    double best = 0;
    for (int p = 0; p < passes; p++) {
        double t0 = timing_now();
        float total = 0;
#pragma omp parallel reduction(+ : total)
        {
            size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
            size_t lo = n * id / nt, hi = n * (id + 1) / nt;
            for (int r = 0; r < repeat; r++) total += sum_floats(buf + lo, hi - lo);
        }
        double dt = timing_now() - t0;
        sink = total;
        double bw = (double)n * sizeof(float) * repeat / dt;
        if (bw > best) best = bw;
    }
    return best;
}

// Bytes one decode step reads: every weight matrix (wsize bytes per weight; with tied
// embeddings the embedding matrix is read once, as the head; the token's own embedding row is
// left out), the norms and biases (float32), and the cached keys and values of layers x
// positions (float32).
static double decode_bytes(const gpt_t *m, int wsize, double positions, double *kv_bytes) {
    gpt_dims_t d = gpt_dims(&m->cfg);
    double w = 0;
    for (int i = 0; i < m->table.n; i++) {
        const gpt_tensor_t *t = &m->table.t[i];
        switch (t->role) {
        case P_EMBED:
            if (m->cfg.tie_embeddings) w += (double)t->numel * wsize;
            break;
        case P_POS: break;  // one row per token
        case P_QKV_W: case P_K_W: case P_V_W: case P_ATTO_W: case P_FC_W: case P_UP_W: case P_PROJ_W:
        case P_LM_HEAD: w += (double)t->numel * wsize; break;
        default: w += (double)t->numel * sizeof(float); break;  // norms and biases
        }
    }
    *kv_bytes = (double)d.L * positions * 2.0 * d.NKV * d.HS * sizeof(float);
    return w + *kv_bytes;
}

// Multiplies the weight matrices of every block by k.  At the N(0, 0.02) init the residual
// stream is dominated by the token's own embedding, which the tied head then picks again: greedy
// decoding repeats the last prompt token forever, and the comparison of manabi's tokens with
// PyTorch's would test almost nothing.  With the blocks' matrices 4x larger the model's output
// follows the blocks and the greedy tokens vary.  The speed does not depend on the values.
static void scale_block_matrices(gpt_t *m, float k) {
    for (int i = 0; i < m->table.n; i++) {
        const gpt_tensor_t *t = &m->table.t[i];
        gpt_role_t r = t->role;
        if (r == P_QKV_W || r == P_K_W || r == P_V_W || r == P_ATTO_W || r == P_FC_W || r == P_UP_W || r == P_PROJ_W)
            for (size_t j = 0; j < t->numel; j++) m->params[t->offset + j] *= k;
    }
}

// Writes {"family":..,"config":..,"seed":..,"prompt":[...]} to path.
static int write_prompt(const char *path, const char *family, const char *config, int seed, const int32_t *p, int n,
                        err_t *e) {
    FILE *f = fopen(path, "w");
    if (!f) return err_set(e, "cannot write %s: check that its folder exists and is writable", path);
    fprintf(f, "{\"family\":\"%s\",\"config\":\"%s\",\"seed\":%d,\"prompt\":[", family, config, seed);
    for (int i = 0; i < n; i++) fprintf(f, "%s%d", i ? "," : "", p[i]);
    fprintf(f, "]}\n");
    if (ferror(f) | fclose(f)) return err_set(e, "writing %s failed (disk full?)", path);
    return 0;
}

// The peak resident memory starts again from what is resident now (Linux >= 4.0); 0 if done.
static int reset_peak_resident(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int bad = fputs("5", f) < 0;
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

static void print_doubles(const double *v, int n) {
    for (int i = 0; i < n; i++) printf("%s%.1f", i ? "," : "", v[i]);
}

int main(int argc, char **argv) {
    const char *family = "llama", *config = "tiny", *dtype = "f32", *ckpt = NULL;
    int P = 128, N = 128, reps = 5, seed = 1, json = 0;
    float wscale = 4;
    arg_opt_t opts[] = {
        {"family", ARG_STR, &family, "llama or gpt2"},
        {"config", ARG_STR, &config, "tiny or small"},
        {"prompt-tokens", ARG_INT, &P, "prompt length P"},
        {"new-tokens", ARG_INT, &N, "tokens generated N (N - 1 decode steps)"},
        {"dtype", ARG_STR, &dtype, "weights for inference: f32 or bf16"},
        {"reps", ARG_INT, &reps, "timed runs (after one warm-up)"},
        {"seed", ARG_INT, &seed, "seed of the weights and the prompt"},
        {"weight-scale", ARG_FLOAT, &wscale, "the blocks' weight matrices times this after the N(0, 0.02) init"},
        {"ckpt", ARG_STR, &ckpt, "checkpoint to write (default data/bench/decode/FAMILY-CONFIG.safetensors)"},
        {"json", ARG_BOOL, &json, "one JSON line"},
        {0},
    };
    char *pos[1];
    int npos;
    err_t e = {0};
    if (args_parse(opts, argc - 1, argv + 1, pos, 0, &npos, &e) != 0) {
        fprintf(stderr, "bench_decode: %s\n", e.msg);
        args_print(stderr, opts);
        return 2;
    }
    gpt_family_t fam;
    if (gpt_family_parse(family, &fam, &e) != 0) {
        fprintf(stderr, "bench_decode: %s\n", e.msg);
        return 2;
    }
    // The shapes of the pre-training issue: tiny V=8192 T=256 L=4 NH=4 C=256, small V=32768
    // T=512 L=8 NH=8 C=512; d_ff from the preset (4C, or 8C/3 rounded up to 64).
    int small = strcmp(config, "small") == 0, bf16 = strcmp(dtype, "bf16") == 0;
    if (!small && strcmp(config, "tiny") != 0) {
        fprintf(stderr, "bench_decode: --config %s: give tiny or small\n", config);
        return 2;
    }
    if (!bf16 && strcmp(dtype, "f32") != 0) {
        fprintf(stderr, "bench_decode: --dtype %s: give f32 or bf16\n", dtype);
        return 2;
    }
    int V = small ? 32768 : 8192, T = small ? 512 : 256, L = small ? 8 : 4;
    if (P < 1 || N < 2 || reps < 1 || P + N - 1 > T) {
        fprintf(stderr, "bench_decode: need --prompt-tokens >= 1, --new-tokens >= 2, --reps >= 1 and "
                        "prompt + new - 1 <= the context (%d)\n", T);
        return 2;
    }
    char defpath[512], prompt_path[1024];
    if (!ckpt) {
        if (io_mkdir_p("data/bench/decode", &e) != 0) {
            fprintf(stderr, "bench_decode: %s\n", e.msg);
            return 1;
        }
        snprintf(defpath, sizeof defpath, "data/bench/decode/%s-%s.safetensors", family, config);
        ckpt = defpath;
    }
    snprintf(prompt_path, sizeof prompt_path, "%s.prompt.json", ckpt);

    // 1. The random model and prompt, written for both sides.
    gpt_config_t c;
    gpt_config_preset(&c, fam, L, V, T);
    gpt_t m = {0};
    float *buf = NULL;
    int rc = 1;
    int32_t *prompt = malloc(sizeof(int32_t) * P), shown[SHOW_TOKENS];
    double *pre = malloc(sizeof(double) * reps), *dec = malloc(sizeof(double) * reps);
    double *sorted = malloc(sizeof(double) * reps);  // pre and dec keep the order of the runs for the JSON
    if (!prompt || !pre || !dec || !sorted) {
        err_set(&e, "out of memory");
        goto done;
    }
    if (gpt_init(&m, &c, &e) != 0) goto done;
    rng_t rng;
    rng_seed(&rng, (uint64_t)seed);
    gpt_init_weights(&m, &rng);
    scale_block_matrices(&m, wscale);
    for (int i = 0; i < P; i++) prompt[i] = (int32_t)rng_below(&rng, (uint64_t)V);
    ckpt_meta_t meta = {.tokenizer = "byte"};
    if (ckpt_save_model(ckpt, &m, &meta, &e) != 0 ||
        write_prompt(prompt_path, family, config, seed, prompt, P, &e) != 0)
        goto done;
    gpt_free(&m);
    int peak_reset = reset_peak_resident() == 0;

    // 2. Loaded as `manabi generate` loads it.
    if (ckpt_map_model(ckpt, &m, &meta, &e) != 0 || (bf16 && gpt_to_bf16(&m, &e) != 0)) goto done;
    gen_config_t gc;
    gen_config_default(&gc);
    gc.sample.temperature = 0;  // greedy: the argmax, no filters
    gc.sample.top_k = 0, gc.sample.top_p = 1, gc.sample.min_p = 0;
    gc.max_new = N;
    const int32_t *prompts[1] = {prompt};
    int lens[1] = {P}, nshown = N < SHOW_TOKENS ? N : SHOW_TOKENS, deterministic = 1;
    int64_t prefill_tokens = 0, decode_tokens = 0;
    for (int r = -1; r < reps; r++) {  // r = -1: the warm-up
        gen_t *g = gen_new(&m, NULL, 1, &e);
        gen_output_t out;
        if (!g || gen_run(g, &gc, prompts, lens, 1, 1, &rng, NULL, NULL, &out, &e) != 0) {
            gen_free(g);
            goto done;
        }
        const gen_stats_t *s = gen_stats(g);
        if (out.n != N || s->prefill_tokens != P || s->decode_tokens != N - 1) {
            err_set(&e, "expected %d prefilled and %d decoded tokens, got %lld and %lld (%d new)", P, N - 1,
                    (long long)s->prefill_tokens, (long long)s->decode_tokens, out.n);
            gen_output_free(&out, 1);
            gen_free(g);
            goto done;
        }
        if (r < 0) memcpy(shown, out.tokens, sizeof(int32_t) * nshown);
        else deterministic &= memcmp(shown, out.tokens, sizeof(int32_t) * nshown) == 0;
        if (r >= 0) {
            pre[r] = s->prefill_tokens / s->prefill_s;
            dec[r] = s->decode_tokens / s->decode_s;
        }
        prefill_tokens = s->prefill_tokens, decode_tokens = s->decode_tokens;
        gen_output_free(&out, 1);
        gen_free(g);
    }
    double resident = mem_resident() / 1048576.0, peak = mem_peak_resident() / 1048576.0;
    memcpy(sorted, pre, sizeof(double) * reps);
    double pre_med = timing_median(sorted, reps);
    memcpy(sorted, dec, sizeof(double) * reps);
    double dec_med = timing_median(sorted, reps);

    // 3. The bound.
    int wsize = bf16 ? 2 : 4;
    double kv_bytes, bytes = decode_bytes(&m, wsize, P + N / 2.0, &kv_bytes);
    double weight_bytes = (double)gpt_num_params(&m) * wsize;
    int threads = omp_get_max_threads();
    size_t nbuf = ((size_t)1 << 30) / sizeof(float), nws = (size_t)(bytes / sizeof(float));
    if (!(buf = mem_alloc(nbuf * sizeof(float)))) {
        err_set(&e, "out of memory for the 1 GiB bandwidth buffer");
        goto done;
    }
#pragma omp parallel for schedule(static)  // touched first by the threads that read it
    for (size_t i = 0; i < nbuf; i++) buf[i] = 1.0f / (float)(1 + (i & 1023));
    double bw = read_bandwidth(buf, nbuf, 1, 5) / 1e9;
    if (nws > nbuf) nws = nbuf;
    double bw_ws = read_bandwidth(buf, nws, (int)(nbuf / nws > 1 ? nbuf / nws : 1), 5) / 1e9;
    double bound = bw * 1e9 / bytes, frac = dec_med / bound;

    if (json) {
        printf("{\"impl\":\"manabi\",\"family\":\"%s\",\"config\":\"%s\",\"dtype\":\"%s\",\"threads\":%d,"
               "\"weight_scale\":%g,\"prompt_tokens\":%d,\"new_tokens\":%d,\"reps\":%d,\"prefill_tps\":%.1f,"
               "\"prefill_tps_runs\":[",
               family, config, dtype, threads, wscale, P, N, reps, pre_med);
        print_doubles(pre, reps);
        printf("],\"decode_tps\":%.1f,\"decode_tps_runs\":[", dec_med);
        print_doubles(dec, reps);
        printf("],\"prefill_tokens\":%lld,\"decode_tokens\":%lld,\"tokens\":[", (long long)prefill_tokens,
               (long long)decode_tokens);
        for (int i = 0; i < nshown; i++) printf("%s%d", i ? "," : "", shown[i]);
        printf("],\"deterministic\":%s,\"resident_mib\":%.1f,\"peak_rss_mib\":%.1f,\"peak_from_load\":%s,"
               "\"params\":%zu,\"weight_bytes\":%.0f,\"bytes_per_token\":%.0f,\"kv_bytes_per_token\":%.0f,"
               "\"bandwidth_gbs\":%.2f,\"bandwidth_ws_gbs\":%.2f,\"bound_tps\":%.1f,\"bound_fraction\":%.4f,"
               "\"blas\":\"OpenBLAS %s\",\"fma\":\"%s\",\"ckpt\":\"%s\"}\n",
               deterministic ? "true" : "false", resident, peak, peak_reset ? "true" : "false", gpt_num_params(&m),
               weight_bytes, bytes, kv_bytes, bw, bw_ws, bound, frac, cpu_blas_core(), cpu_fma_isa(), ckpt);
    } else {
        printf("manabi %s %s %s: %zu params (%.1f MiB of weights), P=%d N=%d, %d threads, BLAS OpenBLAS %s, %s\n",
               family, config, dtype, gpt_num_params(&m), weight_bytes / 1048576.0, P, N, threads, cpu_blas_core(),
               cpu_fma_isa());
        printf("prefill %.0f tokens/s | decode %.1f tokens/s (medians of %d runs)\n", pre_med, dec_med, reps);
        printf("bound: %.1f MiB per token (KV %.2f MiB) / %.1f GB/s = %.0f tokens/s; decode at %.0f%% "
               "(bandwidth of a token-sized buffer %.1f GB/s)\n",
               bytes / 1048576.0, kv_bytes / 1048576.0, bw, bound, 100 * frac, bw_ws);
        printf("resident %.0f MiB, peak %.0f MiB%s; greedy tokens%s:", resident, peak,
               peak_reset ? " (from loading on)" : "", deterministic ? "" : " (NOT the same in every run)");
        for (int i = 0; i < nshown; i++) printf(" %d", shown[i]);
        printf("\n");
    }
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "bench_decode: %s\n", e.msg);
    mem_free(buf);
    free(prompt);
    free(pre);
    free(dec);
    free(sorted);
    gpt_free(&m);
    return rc;
}
