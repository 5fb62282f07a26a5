// GELU (tanh approximation) and SwiGLU, forward and backward.
#include <math.h>

#include "kernels/kernels.h"

#define GELU_K 0.7978845608028654f  // sqrt(2 / pi)

void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float t = tanhf(u);
        float sech2 = 1.0f - t * t;
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * x * sech2 * du);
    }
}

void swiglu_forward(float *out, const float *inp, int N, int F) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *g = inp + (size_t)r * 2 * F, *u = g + F;
        float *y = out + (size_t)r * F;
        for (int i = 0; i < F; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void swiglu_backward(float *dinp, const float *inp, const float *dout, int N, int F) {
    // d/dg [g sigma(g)] = sigma(g) (1 + g (1 - sigma(g)))
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *g = inp + (size_t)r * 2 * F, *u = g + F, *dy = dout + (size_t)r * F;
        float *dg = dinp + (size_t)r * 2 * F, *du = dg + F;
        for (int i = 0; i < F; i++) {
            float sg = 1.0f / (1.0f + expf(-g[i]));
            du[i] = dy[i] * g[i] * sg;
            dg[i] = dy[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
        }
    }
}
