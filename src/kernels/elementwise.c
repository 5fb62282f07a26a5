// Embeddings, residual additions, reductions and the AdamW update.
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"

void embed_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T, int C) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= PARALLEL_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        const float *e = wte + (size_t)tokens[bt] * C;
        float *o = out + (size_t)bt * C;
        if (wpe) {
            const float *p = wpe + (size_t)(bt % T) * C;
            for (int i = 0; i < C; i++) o[i] = e[i] + p[i];
        } else {
            memcpy(o, e, sizeof(float) * C);
        }
    }
}

void embed_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T, int C) {
    // Parallel over channel blocks: rows that share a token never race, and every sum runs
    // over bt in the same order.
    enum { BLK = 64 };
    int nblk = (C + BLK - 1) / BLK;
#pragma omp parallel for schedule(static)
    for (int blk = 0; blk < nblk; blk++) {
        int c0 = blk * BLK, c1 = c0 + BLK < C ? c0 + BLK : C;
        for (int bt = 0; bt < B * T; bt++) {
            const float *d = dout + (size_t)bt * C;
            if (dwte) {
                float *w = dwte + (size_t)tokens[bt] * C;
                for (int i = c0; i < c1; i++) w[i] += d[i];
            }
            if (dwpe) {
                float *p = dwpe + (size_t)(bt % T) * C;
                for (int i = c0; i < c1; i++) p[i] += d[i];
            }
        }
    }
}

void residual_forward(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

double sumsq(const float *x, size_t n) {
    // Fixed 64K-element chunks, summed in order: the result does not depend on thread count.
    enum { CHUNK = 1 << 16 };
    size_t nchunk = (n + CHUNK - 1) / CHUNK;
    double total = 0;
    // Chunks are computed in parallel; `ordered` adds their sums in chunk order.
#pragma omp parallel for schedule(static) ordered
    for (size_t c = 0; c < nchunk; c++) {
        size_t i0 = c * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)x[i] * x[i];
#pragma omp ordered
        total += s;
    }
    return total;
}

void adamw_step(float *p, const float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
                float wd, float bc1, float bc2, float gscale) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= lr * ((mi / bc1) / (sqrtf(vi / bc2) + eps) + wd * p[i]);
    }
}
