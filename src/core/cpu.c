#include "core/cpu.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "core/timing.h"

const char *cpu_fma_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
    return "scalar";
}

// Enough independent accumulator chains to cover FMA latency x two FMA ports (24 of the 32
// AVX-512 registers; AVX2 has 16 registers, so 12 chains there).
#define CHAINS 24
#define CHAINS2 12

__attribute__((target("avx512f"))) static double fma_avx512(long iters) {
    __m512 acc[CHAINS], a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
#pragma GCC unroll 24
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    float sink = 0;
    for (int i = 0; i < CHAINS; i++) sink += _mm512_reduce_add_ps(acc[i]);
    return (double)iters * CHAINS * 16 * 2 + (sink == 12345.0f);  // keep the result alive
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters) {
    __m256 acc[CHAINS2], a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS2; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long k = 0; k < iters; k++)
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS2; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    float lanes[8], sink = 0;
    for (int i = 0; i < CHAINS2; i++) {
        _mm256_storeu_ps(lanes, acc[i]);
        for (int j = 0; j < 8; j++) sink += lanes[j];
    }
    return (double)iters * CHAINS2 * 8 * 2 + (sink == 12345.0f);
}

static double fma_scalar(long iters) {
    float acc[CHAINS2];
    for (int i = 0; i < CHAINS2; i++) acc[i] = (float)i;
    for (long k = 0; k < iters; k++)
        for (int i = 0; i < CHAINS2; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
    float sink = 0;
    for (int i = 0; i < CHAINS2; i++) sink += acc[i];
    return (double)iters * CHAINS2 * 2 + (sink == 12345.0f);
}

double cpu_measure_peak_flops(int threads) {
    const char *isa = cpu_fma_isa();
    double (*kernel)(long) = strcmp(isa, "avx512") == 0 ? fma_avx512 : strcmp(isa, "avx2") == 0 ? fma_avx2 : fma_scalar;
    // The clock takes a few milliseconds to settle after vector work starts, so warm up first,
    // then keep the best of several ~25 ms runs.
    long iters = 6000000;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double flops = 0, t0 = timing_now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += kernel(rep == 0 ? iters / 2 : iters);
        double rate = flops / (timing_now() - t0);
        if (rep > 0 && rate > best) best = rate;
    }
    return best;
}

const char *cpu_blas_core(void) { return openblas_get_corename(); }

const char *cpu_blas_better_core(void) {
    static const char *const avx512_cores[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    static const char *const avx2_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    const char *core = openblas_get_corename();
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *const *good = avx512 ? avx512_cores : avx2 ? avx2_cores : NULL;
    if (!good) return NULL;
    for (int i = 0; good[i]; i++)
        if (strcasecmp(core, good[i]) == 0) return NULL;
    return avx512 ? "SkylakeX" : "Haswell";
}
