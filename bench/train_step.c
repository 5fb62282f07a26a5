// manabi training-step benchmark, the counterpart of bench/torch_train.py.
//
//   build/bench_train_step --family llama|gpt2 --config tiny|small [--steps N] [--warmup K] [--json]
//
// One step = zero_grad + forward + backward + global-norm clip (1.0) + AdamW, float32, on a
// fresh random token batch.  Prints the median step time, tokens/s, MFU against the fp32 FMA
// peak measured here, peak resident memory, and the BLAS kernels in use.
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/args.h"
#include "core/cpu.h"
#include "core/timing.h"
#include "model/gpt.h"
#include "train/optim.h"

int main(int argc, char **argv) {
    const char *family = "llama", *config = "tiny";
    int steps = 10, warmup = 3, json = 0;
    arg_opt_t opts[] = {
        {"family", ARG_STR, &family, "llama or gpt2"},
        {"config", ARG_STR, &config, "tiny or small"},
        {"steps", ARG_INT, &steps, "timed steps"},
        {"warmup", ARG_INT, &warmup, "untimed steps first"},
        {"json", ARG_BOOL, &json, "one JSON line"},
        {0},
    };
    char *pos[1];
    int npos;
    err_t e = {0};
    if (args_parse(opts, argc - 1, argv + 1, pos, 0, &npos, &e) != 0 || steps < 1) {
        fprintf(stderr, "bench_train_step: %s\n", e.msg[0] ? e.msg : "--steps must be >= 1");
        args_print(stderr, opts);
        return 2;
    }
    gpt_family_t fam;
    if (gpt_family_parse(family, &fam, &e) != 0) {
        fprintf(stderr, "bench_train_step: %s\n", e.msg);
        return 2;
    }
    // The shapes of the pre-training issue: tiny V=8192 T=256 L=4 H=4 C=256 B=8,
    // small V=32768 T=512 L=8 H=8 C=512 B=4.  d_ff from the preset (4C, or 8C/3 rounded to 64).
    int small = strcmp(config, "small") == 0;
    if (!small && strcmp(config, "tiny") != 0) {
        fprintf(stderr, "bench_train_step: --config must be tiny or small\n");
        return 2;
    }
    int V = small ? 32768 : 8192, T = small ? 512 : 256, L = small ? 8 : 4, B = small ? 4 : 8;
    gpt_config_t c;
    gpt_config_preset(&c, fam, L, V, T);
    gpt_t m;
    adamw_t opt;
    if (gpt_init(&m, &c, &e) != 0 || gpt_alloc_train(&m, B, T, &e) != 0 ||
        adamw_init(&opt, gpt_num_params(&m), 0.9f, 0.95f, 1e-8f, 0.1f, &e) != 0) {
        fprintf(stderr, "bench_train_step: %s\n", e.msg);
        return 1;
    }
    rng_t rng;
    rng_seed(&rng, 1);
    gpt_init_weights(&m, &rng);
    int32_t *tok = malloc(sizeof(int32_t) * B * T), *tgt = malloc(sizeof(int32_t) * B * T);
    double *ms = malloc(sizeof(double) * steps);
    if (!tok || !tgt || !ms) return 1;
    int threads = omp_get_max_threads();
    double peak = cpu_measure_peak_flops(threads);
    for (int s = 0; s < warmup + steps; s++) {
        for (int i = 0; i < B * T; i++) {
            tok[i] = (int32_t)rng_below(&rng, V);
            tgt[i] = (int32_t)rng_below(&rng, V);
        }
        double t0 = timing_now();
        gpt_zero_grad(&m);
        gpt_forward(&m, tok, tgt, NULL, B, T);
        gpt_backward(&m);
        double norm = grad_norm(m.grads, gpt_num_params(&m));
        adamw_update(&opt, &m.table, m.params, m.grads, 3e-4f, clip_scale(norm, 1.0f));
        double dt = timing_now() - t0;
        if (s >= warmup) ms[s - warmup] = dt * 1e3;
    }
    double sorted[steps];
    memcpy(sorted, ms, sizeof sorted);  // ms keeps the order of the steps for the JSON
    double med = timing_median(sorted, steps);
    double tps = B * T / (med / 1e3), mfu = gpt_flops_per_token(&c, T) * tps / peak;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double rss = ru.ru_maxrss / 1024.0;
    if (json) {
        printf("{\"impl\":\"manabi\",\"family\":\"%s\",\"config\":\"%s\",\"threads\":%d,\"step_ms_median\":%.3f,"
               "\"step_ms\":[",
               family, config, threads, med);
        for (int s = 0; s < steps; s++) printf("%s%.3f", s ? "," : "", ms[s]);
        printf("],\"tokens_per_s\":%.1f,\"mfu\":%.4f,\"peak_gflops\":%.1f,\"peak_rss_mib\":%.1f,\"params\":%zu,"
               "\"blas\":\"OpenBLAS %s\",\"fma\":\"%s\"}\n",
               tps, mfu, peak / 1e9, rss, gpt_num_params(&m), cpu_blas_core(), cpu_fma_isa());
    } else {
        printf("manabi %s %s: %zu params, B=%d T=%d, %d threads, BLAS OpenBLAS %s\n", family, config,
               gpt_num_params(&m), B, T, threads, cpu_blas_core());
        printf("median step %.1f ms | %.0f tokens/s | MFU %.1f%% of %.0f GFLOP/s (%s) | peak RSS %.0f MiB\n", med, tps,
               100 * mfu, peak / 1e9, cpu_fma_isa(), rss);
    }
    free(tok);
    free(tgt);
    free(ms);
    adamw_free(&opt);
    gpt_free(&m);
    return 0;
}
