// vecmath: an exp that compilers can vectorise, and the per-CPU dispatch of hot loops.
// Internal to src/kernels.
//
// libm's expf is a function call per element, which keeps softmax, cross-entropy, SwiGLU and
// GELU loops scalar.  exp_approx is branch-free arithmetic the compiler turns into vector
// code, and KERNEL_CLONES compiles a row function for AVX-512, AVX2 and baseline x86-64,
// picked at load time from what the CPU supports (GCC function multi-versioning).
#ifndef MANABI_KERNELS_VECMATH_H
#define MANABI_KERNELS_VECMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define KERNEL_CLONES __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define KERNEL_CLONES
#endif

// e^x for x in float range; relative error below 3e-7 (Cephes' expf polynomial).  Inputs
// below -87.3 give about 1e-38 instead of 0 and inputs above 88 are clamped (2^k must stay finite).
static inline float exp_approx(float x) {
    x = x < -87.3f ? -87.3f : x > 88.0f ? 88.0f : x;
    // x = k ln2 + r with k an integer (rounded by the 1.5 * 2^23 trick) and |r| <= ln2 / 2.
    float k = (x * 1.44269504089f + 12582912.0f) - 12582912.0f;
    float r = x - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;  // 2^k
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

// Reductions written with 16 independent partial results, so that they vectorise without
// reassociating floating point (which the compiler may not do on its own).
enum { VLANES = 16 };

static inline float max_of(const float *x, int n) {
    float m[VLANES];
    for (int k = 0; k < VLANES; k++) m[k] = -3.4e38f;
    int j = 0;
    for (; j + VLANES <= n; j += VLANES)
        for (int k = 0; k < VLANES; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    float r = -3.4e38f;
    for (int k = 0; k < VLANES; k++) r = m[k] > r ? m[k] : r;
    for (; j < n; j++) r = x[j] > r ? x[j] : r;
    return r;
}

// sum_j exp(x_j - shift); with out != NULL also stores each term in out (which may be x).
static inline float sum_exp(float *out, const float *x, int n, float shift) {
    float s[VLANES] = {0};
    int j = 0;
    for (; j + VLANES <= n; j += VLANES)
        for (int k = 0; k < VLANES; k++) {
            float v = exp_approx(x[j + k] - shift);
            if (out) out[j + k] = v;
            s[k] += v;
        }
    float r = 0;
    for (; j < n; j++) {
        float v = exp_approx(x[j] - shift);
        if (out) out[j] = v;
        r += v;
    }
    for (int k = 0; k < VLANES; k++) r += s[k];
    return r;
}

#endif
