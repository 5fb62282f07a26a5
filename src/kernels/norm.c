// LayerNorm (GPT-2) and RMSNorm (Llama), forward and backward.
#include <math.h>

#include "kernels/kernels.h"

enum { COLBLK = 64 };

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C;
        float *y = out + (size_t)r * C;
        float m = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        float v = 0;
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        float s = 1.0f / sqrtf(v / C + eps);
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * s * w[i] + b[i];
        mean[r] = m;
        rstd[r] = s;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    // Input gradient, row by row:  dx = rstd * (dn - mean(dn) - n * mean(dn * n)),  dn = dy * w.
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C, *dy = dout + (size_t)r * C;
        float *dx = dinp + (size_t)r * C;
        float m = mean[r], s = rstd[r], a = 0, bsum = 0;
        for (int i = 0; i < C; i++) {
            float dn = dy[i] * w[i];
            a += dn;
            bsum += dn * (x[i] - m) * s;
        }
        a /= C;
        bsum /= C;
        for (int i = 0; i < C; i++) dx[i] += s * (dy[i] * w[i] - a - (x[i] - m) * s * bsum);
    }
    if (!dw && !db) return;  // frozen
    // Weight gradients: column sums, parallel over column blocks (fixed summation order).
    int nblk = (C + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * COLBLK, c1 = c0 + COLBLK < C ? c0 + COLBLK : C;
        float aw[COLBLK] = {0}, ab[COLBLK] = {0};
        for (int r = 0; r < N; r++) {
            const float *x = inp + (size_t)r * C, *dy = dout + (size_t)r * C;
            float m = mean[r], s = rstd[r];
            for (int i = c0; i < c1; i++) {
                aw[i - c0] += dy[i] * (x[i] - m) * s;
                ab[i - c0] += dy[i];
            }
        }
        for (int i = c0; i < c1; i++) {
            if (dw) dw[i] += aw[i - c0];
            if (db) db[i] += ab[i - c0];
        }
    }
}

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C >= PARALLEL_MIN)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C;
        float *y = out + (size_t)r * C;
        float ss = 0;
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        float s = 1.0f / sqrtf(ss / C + eps);
        for (int i = 0; i < C; i++) y[i] = x[i] * s * w[i];
        rstd[r] = s;
    }
}

void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                      const float *rstd, int N, int C) {
    // n = x * rstd;  dx = rstd * (dn - n * mean(dn * n)),  dn = dy * w.
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C, *dy = dout + (size_t)r * C;
        float *dx = dinp + (size_t)r * C;
        float s = rstd[r], a = 0;
        for (int i = 0; i < C; i++) a += dy[i] * w[i] * x[i] * s;
        a /= C;
        for (int i = 0; i < C; i++) dx[i] += s * (dy[i] * w[i] - x[i] * s * a);
    }
    if (!dw) return;  // frozen
    int nblk = (C + COLBLK - 1) / COLBLK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * COLBLK, c1 = c0 + COLBLK < C ? c0 + COLBLK : C;
        float aw[COLBLK] = {0};
        for (int r = 0; r < N; r++) {
            const float *x = inp + (size_t)r * C, *dy = dout + (size_t)r * C;
            float s = rstd[r];
            for (int i = c0; i < c1; i++) aw[i - c0] += dy[i] * x[i] * s;
        }
        for (int i = c0; i < c1; i++) dw[i] += aw[i - c0];
    }
}
