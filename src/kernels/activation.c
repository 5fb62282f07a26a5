// GELU (tanh approximation) and SwiGLU, forward and backward.
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"

#define GELU_K 0.7978845608028654f  // sqrt(2 / pi)

// tanh(u) = 1 - 2 / (exp(2u) + 1): exact at both tails, and vectorisable through exp_approx.
static inline float tanh_approx(float u) { return 1.0f - 2.0f / (exp_approx(2.0f * u) + 1.0f); }

enum { CHUNK = 4096 };  // elements per call of the per-CPU loops below

KERNEL_CLONES static void gelu_chunk(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanh_approx(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

KERNEL_CLONES static void gelu_backward_chunk(float *dinp, const float *inp, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = tanh_approx(GELU_K * (x + 0.044715f * x * x * x));
        float sech2 = 1.0f - t * t;
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * x * sech2 * du);
    }
}

void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (size_t c = 0; c < (n + CHUNK - 1) / CHUNK; c++) {
        size_t i0 = c * CHUNK;
        gelu_chunk(out + i0, inp + i0, n - i0 < CHUNK ? n - i0 : CHUNK);
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < (n + CHUNK - 1) / CHUNK; c++) {
        size_t i0 = c * CHUNK;
        gelu_backward_chunk(dinp + i0, inp + i0, dout + i0, n - i0 < CHUNK ? n - i0 : CHUNK);
    }
}

KERNEL_CLONES static void swiglu_row(float *y, const float *g, const float *u, int F) {
    for (int i = 0; i < F; i++) y[i] = g[i] / (1.0f + exp_approx(-g[i])) * u[i];
}

// d/dg [g sigma(g)] = sigma(g) (1 + g (1 - sigma(g)))
KERNEL_CLONES static void swiglu_backward_row(float *dg, float *du, const float *g, const float *u, const float *dy,
                                              int F) {
    for (int i = 0; i < F; i++) {
        float sg = 1.0f / (1.0f + exp_approx(-g[i]));
        du[i] = dy[i] * g[i] * sg;
        dg[i] = dy[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
    }
}

void swiglu_forward(float *out, const float *inp, int N, int F) {
#pragma omp parallel for schedule(static) if ((size_t)N * F >= PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        const float *g = inp + (size_t)r * 2 * F;
        swiglu_row(out + (size_t)r * F, g, g + F, F);
    }
}

void swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int F) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *g = inp + (size_t)r * 2 * F;
        float *dg = dinp + (size_t)r * 2 * F;
        swiglu_backward_row(dg, dg + F, g, g + F, dout + (size_t)r * F, F);
    }
}
